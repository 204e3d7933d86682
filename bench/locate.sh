#!/bin/sh
# The locate benchmark: builds bench_locate (citydesk, links build/libcitydesk.a) and
# bench_locate_geos (GEOS C API, prepared geometries + STRtree) with gcc -O2, runs both over the
# same polygons and the same random points (default 1,000,000), single thread, and prints
#   locate streets: citydesk 12.3 M/s  GEOS 3.1 M/s  ratio 3.97x (goal >= 10x, >= 5 M/s)
# Polygons: data/luohu/{streets,communities}.approximate.geojson when present, else a synthetic
# partition written by `bench_locate --make-synthetic`.
# Usage: sh bench/locate.sh [POINTS [SEED]]
set -eu
cd "$(dirname "$0")/.."
POINTS=${1:-1000000}
SEED=${2:-20261127}
BUILD=${BUILD:-build}
OUT=$BUILD/bench
mkdir -p "$OUT"

CFLAGS="-std=c11 -O2 -g -D_DEFAULT_SOURCE -D_GNU_SOURCE -Isrc $(pkg-config --cflags jansson)"
LIBS="$(pkg-config --libs jansson) -lm"
# The library: the normal build if it works; if another module is mid-edit, just the modules
# locate needs, compiled here the same way.
LIB=$BUILD/libcitydesk.a
if ! make -s BUILD="$BUILD" "$LIB" >"$OUT/make.log" 2>&1; then
	echo "note: make $LIB failed (see $OUT/make.log); compiling the locate modules directly" >&2
	LIB=$OUT/liblocate.a
	rm -f "$LIB"
	for f in src/util/alloc.c src/util/buf.c src/util/err.c src/util/log.c \
		src/core/geo.c src/core/gcj02.c src/core/geojson.c src/core/locate.c; do
		gcc $CFLAGS -c "$f" -o "$OUT/$(basename "$f" .c).o"
		ar rcs "$LIB" "$OUT/$(basename "$f" .c).o"
	done
else
	LIBS="$LIBS $(pkg-config --libs libmicrohttpd sqlite3 libsodium 2>/dev/null) -pthread"
fi
gcc $CFLAGS -o "$OUT/bench_locate" bench/bench_locate.c "$LIB" $LIBS
gcc $CFLAGS $(geos-config --cflags) -o "$OUT/bench_locate_geos" bench/bench_locate_geos.c "$LIB" \
	$(geos-config --clibs) $LIBS

if [ -f data/luohu/streets.approximate.geojson ] && [ -f data/luohu/communities.approximate.geojson ]; then
	OUTLINE=data/luohu/district-outline.wgs84.geojson
	[ -f "$OUTLINE" ] || OUTLINE=../shared/data/luohu/district-outline.wgs84.geojson
	STREETS=data/luohu/streets.approximate.geojson
	COMMS=data/luohu/communities.approximate.geojson
	echo "polygons: $STREETS, $COMMS (approximate Luohu partition)"
else
	"$OUT/bench_locate" --make-synthetic "$OUT"
	OUTLINE=$OUT/outline.geojson
	STREETS=$OUT/streets.geojson
	COMMS=$OUT/communities.geojson
	echo "polygons: synthetic partition in $OUT (no data/luohu/*.approximate.geojson yet)"
fi

"$OUT/bench_locate" "$OUTLINE" "$STREETS" "$COMMS" "$POINTS" "$SEED" >"$OUT/locate.citydesk"
"$OUT/bench_locate_geos" "$OUTLINE" "$STREETS" "$COMMS" "$POINTS" "$SEED" >"$OUT/locate.geos"
head -n 1 "$OUT/locate.citydesk"
head -n 1 "$OUT/locate.geos"

# field <file> <line label> <key>: the value after "key" on the line starting "<tool> <label> ".
field() {
	awk -v lbl="$2" -v key="$3" '$2 == lbl { for (i = 3; i < NF; i++) if ($i == key) print $(i + 1) }' "$1"
}
status=0
for what in streets grid; do
	cd_rate=$(awk -v l="$what" '$2 == l { print $3 }' "$OUT/locate.citydesk")
	geos_rate=$(awk -v l="$what" '$2 == l { print $3 }' "$OUT/locate.geos")
	cd_sum=$(field "$OUT/locate.citydesk" "$what" checksum)
	geos_sum=$(field "$OUT/locate.geos" "$what" checksum)
	cd_found=$(field "$OUT/locate.citydesk" "$what" found)
	geos_found=$(field "$OUT/locate.geos" "$what" found)
	ratio=$(awk -v a="$cd_rate" -v b="$geos_rate" 'BEGIN { printf "%.2f", a / b }')
	printf 'locate %s: citydesk %.1f M/s  GEOS %.2f M/s  ratio %sx (goal >= 10x, >= 5 M/s)\n' \
		"$what" "$cd_rate" "$geos_rate" "$ratio"
	if [ "$cd_sum" = "$geos_sum" ] && [ "$cd_found" = "$geos_found" ]; then
		echo "  answers agree: checksum $cd_sum, $cd_found of $POINTS points found"
	else
		echo "  answers DIFFER: citydesk checksum $cd_sum found $cd_found, GEOS checksum $geos_sum found $geos_found"
		status=1
	fi
done
exit $status
