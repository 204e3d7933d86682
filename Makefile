# citydesk build. `make` builds build/citydesk (optimised); `make test` builds everything
# under ASan + UBSan in build/asan and runs the whole suite; `make bench` runs the
# benchmarks beside their peers; `make fuzz` builds the libFuzzer targets (clang).

BUILD    ?= build
CC       ?= cc
SANITIZE ?=
PKGS     := libmicrohttpd jansson sqlite3 libsodium xlsxwriter opencc libutf8proc libcurl libmosquitto libcrypto zlib

WARN := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wvla -Wcast-qual -Wwrite-strings -Wundef -Werror
CPPFLAGS += -D_DEFAULT_SOURCE -D_GNU_SOURCE -Isrc -I$(BUILD)/gen
OPT      ?= -O2 -g
CFLAGS   += $(WARN) $(OPT) -pthread $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -pthread
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

LIB_SRC  := $(shell find src -name '*.c' ! -name main.c | sort)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/migrations.o
MIGRATIONS := $(sort $(wildcard src/store/migrations/*.sql))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all run test check bench fuzz clean deps format
all: $(BUILD)/citydesk

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# Migrations are plain .sql files, embedded into the binary as C strings.
$(BUILD)/gen/migrations.c: $(MIGRATIONS) scripts/embed-sql.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-sql.sh $(MIGRATIONS) > $@

$(BUILD)/gen/migrations.o: $(BUILD)/gen/migrations.c
	@$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libcitydesk.a: $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/citydesk: $(BUILD)/src/main.o $(BUILD)/libcitydesk.a
	@echo "  LINK    $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libcitydesk.a tests/unit/test.h
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	@$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $< $(BUILD)/libcitydesk.a $(LDLIBS)

# Everything a test run needs, built with sanitizers.
check: $(BUILD)/citydesk $(UNIT_BIN)

run: deps all
	sh scripts/run.sh

test: deps
	$(MAKE) BUILD=build/asan SANITIZE=address,undefined OPT="-O1 -g" check
	sh tests/run.sh build/asan

bench: deps all
	sh bench/run.sh

fuzz:
	$(MAKE) -f fuzz/Makefile

deps:
	sh scripts/deps.sh

format:
	clang-format -i $(shell find src tests bench fuzz tools -name '*.[ch]')

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
