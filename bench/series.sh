#!/bin/sh
# Telemetry into the time series (bench/bench_series.c): values/s stored with rollups through
# series_append, beside plain SQLite inserts of the same rows into the raw table alone.
# BENCH_SERIES_VALUES (default 2,000,000), BENCH_SERIES_DEVICES (default 1,000).
set -u
cd "$(dirname "$0")/.."
[ -f build/libcitydesk.a ] || make -s build/libcitydesk.a || exit 1
cc -D_DEFAULT_SOURCE -D_GNU_SOURCE -Isrc -O2 -pthread -o build/bench_series bench/bench_series.c \
	build/libcitydesk.a $(pkg-config --libs libmicrohttpd jansson sqlite3 libsodium libcrypto) -lm || exit 1
dir=$(mktemp -d /tmp/citydesk-bench-series-XXXXXX)
build/bench_series "$dir" "${BENCH_SERIES_VALUES:-2000000}" "${BENCH_SERIES_DEVICES:-1000}"
status=$?
rm -rf "$dir"
exit $status
