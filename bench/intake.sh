#!/bin/sh
# Intake through the whole pipeline, durable: POST /api/v1/cases from 64 keep-alive connections
# under wrk for 10 s, beside raw SQLite inserts of the same kind of rows measured in the same run
# (WAL, synchronous=FULL; 1 row per transaction and 100 per transaction; into a lean table and
# into citydesk's own cases schema with its indexes). A 201 means the case is in the intake
# journal (fdatasync'd); the database catches up behind it, so the script also prints how long
# the backlog took to drain after the run (the pending gauge on /metrics), the rate through the
# database (requests over run + drain) and the journal's batch figures.
# Prints figures and ratios; asserts nothing.
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
now_ms() { python3 -c 'import time; print(int(time.time() * 1000))'; }
# CPU ticks used so far by the server's threads, summed by thread name ("MHD-worker 812").
cpu_by_thread() {
	for t in /proc/"$pid"/task/*; do
		n=$(cat "$t/comm" 2>/dev/null) || continue
		st=$(cut -d')' -f2 "$t/stat" 2>/dev/null) || continue
		set -- $st
		echo "$n $((${12} + ${13}))"
	done | awk '{ sub(/[-_ ]?[0-9]+$/, "", $1); a[$1] += $NF } END { for (k in a) print k, a[k] }'
}

cc -O2 -o "$tmp/raw" bench/bench_sqlite_raw.c $(pkg-config --cflags --libs sqlite3) || exit 1
raw=$("$tmp/raw" "$tmp" 2000 50000) || { echo "intake: raw sqlite failed"; exit 1; }
raw1=${raw% *}
raw100=${raw#* }
raws=$("$tmp/raw" "$tmp" 1000 20000 src/store/migrations/0003_cases.sql) || { echo "intake: raw sqlite (schema) failed"; exit 1; }
raws1=${raws% *}
raws100=${raws#* }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export CITYDESK_DATA="$tmp/data" CITYDESK_LISTEN="127.0.0.1:$port" CITYDESK_ACCESS_LOG=errors
printf 'bench-password\n' | "$BIN" user add --username bench --role system --password-stdin >/dev/null 2>&1 || exit 1
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
cpu0=$(cpu_by_thread)
out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s bench/intake.lua "http://127.0.0.1:$port/api/v1/cases" 2>&1)
t0=$(now_ms)
line=$(printf '%s\n' "$out" | grep '^INTAKE ')
set -- $line
requests=$2 rps=$3 p50=$4 p99=$5 errors=$6
# The drain: until every acknowledged case is in the database (the journal's pending gauge is 0).
# (A list waits for the applier at most 1 s, so its answer time is no measure of this.)
pending() {
	curl -s "http://127.0.0.1:$port/metrics" | awk '/^citydesk_intake_journal_pending / {print $2}'
}
i=0
while [ "$(pending)" != 0 ] && [ $i -lt 6000 ]; do
	sleep 0.02
	i=$((i + 1))
done
drain=$(($(now_ms) - t0))
cpu1=$(cpu_by_thread)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
kill "$pid" && wait "$pid"
pid=
stored=$(sqlite3 "$tmp/data/citydesk.db" 'SELECT count(*) FROM cases' 2>/dev/null || echo '?')
jline=$(grep '"store: intake journal closed"' "$tmp/server.log" | tail -1)
jnum() { printf '%s\n' "$jline" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
batches=$(jnum batches) applytx=$(jnum apply_transactions) maxpend=$(jnum max_pending)
echo "intake: citydesk $rps cases/s (p50 $p50 ms, p99 $p99 ms, $requests requests, $errors errors, $stored stored, RSS $((rss / 1024)) MB)"
# Acknowledged means durable in the intake journal; the database catches up behind it. Through
# the database, the same requests took the run plus the drain.
awk -v r="$requests" -v d="$drain" -v dur="${DURATION%s}" 'BEGIN {
	printf "        through the database: %d cases in %.2f s = %.0f cases/s (the run, then %.2f s until the last acknowledged case was in the database)\n",
		r, dur + d / 1000, r / (dur + d / 1000), d / 1000 }'
awk -v r="$requests" -v b="${batches:-0}" -v t="${applytx:-0}" -v m="${maxpend:-0}" -v d="$drain" 'BEGIN {
	printf "        journal: %d appends (%.1f cases per fdatasync), %d apply transactions (%.0f cases each), backlog max %d, drained %d ms after the run\n",
		b, b ? r / b : 0, t, t ? r / t : 0, m, d }'
# Server CPU per acknowledged case by thread (the applier's share includes the drain).
printf '%s\n%s\n' "$cpu0" "$cpu1" | awk -v r="$requests" -v hz="$(getconf CLK_TCK)" '
	{ if ($1 in b) d[$1] = $2 - b[$1]; else b[$1] = $2 }
	END { if (!r) exit; s = "        CPU per case:"; t = 0
	      for (k in d) if (d[k] > 0) { s = s sprintf(" %s %.0f us,", k, d[k] * 1e6 / hz / r); t += d[k] }
	      printf "%s all threads %.0f us\n", s, t * 1e6 / hz / r }'
echo "        raw sqlite, lean table: $raw1 rows/s at 1 row/tx, $raw100 rows/s at 100 rows/tx (same run)"
echo "        raw sqlite, citydesk schema (row + event): $raws1 rows/s at 1 row/tx, $raws100 rows/s at 100 rows/tx (same run)"
awk -v c="$rps" -v a="$raw1" -v b="$raw100" -v d="$raws1" -v e="$raws100" 'BEGIN {
	printf "        ratio %.2fx raw 1/tx, %.2fx raw 100/tx (lean); %.2fx raw 1/tx, %.2fx raw 100/tx (same schema)\n", c / a, c / b, c / d, c / e
	printf "        goal >= 20,000 cases/s, p99 <= 20 ms\n" }'
