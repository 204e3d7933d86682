#!/bin/sh
# The cases store at scale: bench/bench_store_cases.c inserts BENCH_CASES (default 1,000,000)
# cases by group commit, then times filtered pages, a month of scores and point reads, and the
# process's memory, beside raw SQLite inserts of the same rows in the same run.
set -u
cd "$(dirname "$0")/.."
[ -f build/libcitydesk.a ] || make -s build/libcitydesk.a || exit 1
cc -D_DEFAULT_SOURCE -D_GNU_SOURCE -Isrc -O2 -pthread -o build/bench_store_cases bench/bench_store_cases.c \
	build/libcitydesk.a $(pkg-config --libs libmicrohttpd jansson sqlite3 libsodium xlsxwriter) -lm || exit 1
exec build/bench_store_cases "${BENCH_CASES:-1000000}"
