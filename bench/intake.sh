#!/bin/sh
# Intake through the whole pipeline, durable (group commit, synchronous=FULL): POST
# /api/v1/cases from 64 keep-alive connections under wrk for 10 s, beside raw SQLite inserts of
# the same kind of rows measured in the same run (1 row per synced transaction, 100 per
# transaction). Prints figures and ratios; asserts nothing.
set -u
cd "$(dirname "$0")/.."
DURATION=${WRK_DURATION:-10s}
CONNS=${WRK_CONNECTIONS:-64}
BIN=${BENCH_CITYDESK_BIN:-build/citydesk}
for tool in wrk curl; do
	command -v "$tool" >/dev/null 2>&1 || { echo "intake: skipped ($tool not installed)"; exit 0; }
done
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

cc -O2 -o "$tmp/raw" bench/bench_sqlite_raw.c $(pkg-config --cflags --libs sqlite3) || exit 1
raw=$("$tmp/raw" "$tmp" 2000 50000) || { echo "intake: raw sqlite failed"; exit 1; }
raw1=${raw% *}
raw100=${raw#* }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export CITYDESK_DATA="$tmp/data" CITYDESK_LISTEN="127.0.0.1:$port" CITYDESK_ACCESS_LOG=errors
printf 'bench-password\n' | "$BIN" user add --username bench --role system --password-stdin >/dev/null || exit 1
"$BIN" serve >"$tmp/server.log" 2>&1 &
pid=$!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; do
	i=$((i + 1))
	[ $i -gt 600 ] && { echo "intake: server did not start"; cat "$tmp/server.log"; exit 1; }
	sleep 0.1
done
CITYDESK_TOKEN=$(curl -s -X POST "http://127.0.0.1:$port/api/v1/sessions" \
	-d '{"username":"bench","password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
export CITYDESK_TOKEN
out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s bench/intake.lua "http://127.0.0.1:$port/api/v1/cases" 2>&1)
line=$(printf '%s\n' "$out" | grep '^INTAKE ')
set -- $line
requests=$2 rps=$3 p50=$4 p99=$5 errors=$6
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
stored=$(curl -s "http://127.0.0.1:$port/api/v1/cases?page_size=1" -H "Authorization: Bearer $CITYDESK_TOKEN" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
echo "intake: citydesk $rps cases/s (p50 $p50 ms, p99 $p99 ms, $requests requests, $errors errors, $stored stored, RSS $((rss / 1024)) MB)"
echo "        raw sqlite $raw1 rows/s at 1 row/tx, $raw100 rows/s at 100 rows/tx (same run)"
awk -v c="$rps" -v a="$raw1" -v b="$raw100" 'BEGIN { printf "        ratio %.2fx raw 1/tx, %.2fx raw 100/tx (goal >= 20,000 cases/s, p99 <= 20 ms)\n", c / a, c / b }'
