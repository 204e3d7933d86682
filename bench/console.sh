#!/bin/sh
# The console's first paint with 100,000 cases stored: fills a fresh citydesk through the real
# intake (wrk + bench/intake.lua, as bench/intake.sh) until 100,000 cases are listed, then opens
# the console in headless chromium (bench/console.mjs, playwright-core) logged in as a district
# dispatcher, who sees every case, five times from a cold cache. Prints the median first
# contentful paint and time to the queue's rows beside the 1 s limit, and the live map's first
# 2,000 markers. Asserts nothing.
set -u
cd "$(dirname "$0")/.."
BIN=${BENCH_CITYDESK_BIN:-build/citydesk}
CASES=${BENCH_CONSOLE_CASES:-100000}
for tool in wrk curl node; do
	command -v "$tool" >/dev/null 2>&1 || { echo "console: skipped ($tool not installed)"; exit 0; }
done
[ -x /usr/bin/chromium ] && [ -d node_modules/playwright-core ] ||
	{ echo "console: skipped (chromium or playwright-core missing: scripts/deps.sh)"; exit 0; }
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
export CITYDESK_DATA="$tmp/data" CITYDESK_LISTEN="127.0.0.1:$port" CITYDESK_ACCESS_LOG=errors CITYDESK_IOT=off
"$BIN" serve >"$tmp/server.log" 2>&1 &
pid=$!
i=0
until curl -s -o /dev/null "$base/healthz"; do
	i=$((i + 1))
	[ $i -gt 600 ] && { echo "console: server did not start"; cat "$tmp/server.log"; exit 1; }
	sleep 0.1
done
if [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/")" != 200 ]; then
	echo "console: skipped (GET / is not served: the web routes are not wired)"
	exit 0
fi
printf 'bench-password\n' | "$BIN" user add --username bench --role system --password-stdin >/dev/null 2>&1 || exit 1
printf 'bench-password\n' | "$BIN" user add --username disp --role district_dispatcher --password-stdin >/dev/null 2>&1 || exit 1
CITYDESK_TOKEN=$(curl -s -X POST "$base/api/v1/sessions" \
	-d '{"username":"bench","password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
export CITYDESK_TOKEN
# Cases taken since start (list totals stop counting at 10,000).
total() {
	curl -s "$base/metrics" | awk '$1 == "citydesk_intake_journal_cases_total" {print int($2)}'
}
t0=$(date +%s)
n=0
rounds=0
while [ "$n" -lt "$CASES" ] && [ $rounds -lt 40 ]; do
	wrk -t2 -c32 -d10s -s bench/intake.lua "$base/api/v1/cases" >/dev/null 2>&1
	n=$(total)
	rounds=$((rounds + 1))
done
echo "console: $n cases stored in $(($(date +%s) - t0)) s"
out=$(node bench/console.mjs "$base" 2>&1) || { echo "console: browser run failed: $out"; exit 1; }
set -- $(printf '%s\n' "$out" | grep '^CONSOLE ')
echo "console: first contentful paint $2 ms, queue rows on screen $3 ms (limit 1000 ms; median of 5, cold cache, $n cases)"
echo "console: live map, first 2,000 markers drawn $4 ms after the click"
