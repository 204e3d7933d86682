#!/bin/sh
# End-to-end MQTT telemetry (publisher → Mosquitto → citydesk → hub → rules → stored in the
# time series) beside Mosquitto's own pub→sub rate, both measured in this run on this machine
# with the same publisher (bench/mqtt_bench.c, libmosquitto) and the same Mosquitto binary and
# queue settings, in alternating rounds (BENCH_MQTT_ROUNDS, default 3) so that each pair meets
# the same load on this shared machine. Prints a line per round, then
#   mqtt: citydesk N msg/s stored (median)  mosquitto pub→sub M msg/s  ratio R (median; goal >= 0.6)
#   mqtt: alarms under load: K of K fire alarms raised as alerts (QoS 1)
#   mqtt: memory: citydesk VmHWM ... mosquitto VmHWM ...
# citydesk counts a message when its value is in DATA/series.db (sqlite3 count of raw rows).
# BENCH_MQTT_N (default 200000) messages at BENCH_MQTT_QOS (default 0, as the peer figure in
# the issue); BENCH_CITYDESK_BIN names the binary (default build/citydesk). Figures are printed,
# never asserted: the machine is shared and noisy.
set -u
cd "$(dirname "$0")/.."

N=${BENCH_MQTT_N:-200000}
QOS=${BENCH_MQTT_QOS:-0}
ALARMS=${BENCH_MQTT_ALARMS:-20}
ROUNDS=${BENCH_MQTT_ROUNDS:-3}
BIN=${BENCH_CITYDESK_BIN:-build/citydesk}
MOSQ=/usr/sbin/mosquitto
for tool in "$MOSQ" sqlite3 curl mosquitto_pub; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "mqtt: skipped ($tool not installed; apt-get install mosquitto mosquitto-clients sqlite3 curl)"
		exit 0
	fi
done
if [ ! -x "$BIN" ]; then
	echo "mqtt: skipped ($BIN not built; make)"
	exit 0
fi

tmp=$(mktemp -d)
peer_pid=
server_pid=
cleanup() {
	[ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
now_ms() {
	python3 -c 'import time; print(int(time.time() * 1000))'
}
hwm() { # peak resident memory of a pid, in MiB
	awk '/^VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$1/status" 2>/dev/null
}

cc -O2 -o "$tmp/mqtt_bench" bench/mqtt_bench.c $(pkg-config --cflags --libs libmosquitto) || exit 1
B=$tmp/mqtt_bench

# ---- the peer: Mosquitto alone, the same queue settings as citydesk's generated config ----
pport=$(free_port)
cat >"$tmp/peer.conf" <<EOF
user $(id -un)
listener $pport 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
max_queued_messages 1000000
max_queued_bytes 536870912
queue_qos0_messages true
max_inflight_messages 1000
persistence false
log_dest none
EOF
"$MOSQ" -c "$tmp/peer.conf" 2>/dev/null &
peer_pid=$!
python3 -c 'import socket, sys, time
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close(); break
    except OSError:
        time.sleep(0.05)' "$pport"
# One peer round: prints "rate count".
peer_round() {
	rm -f "$tmp/peer.sub"
	"$B" sub 127.0.0.1 "$pport" - - bench/peer "$N" 1 >"$tmp/peer.sub" &
	sub_pid=$!
	while ! grep -q READY "$tmp/peer.sub" 2>/dev/null; do sleep 0.05; done
	set -- $("$B" pub 127.0.0.1 "$pport" - - bench/peer "$N" "$QOS")
	p_start=$1
	wait $sub_pid
	set -- $(tail -1 "$tmp/peer.sub")
	awk -v n="$1" -v a="$p_start" -v b="$3" 'BEGIN { printf "%d %d", (b > a) ? n * 1000 / (b - a) : 0, n }'
}

# ---- citydesk: registered devices, the supervised broker, the same publisher ----
data=$tmp/data
mkdir -p "$data"
export CITYDESK_DATA="$data"
{
	echo "id,type,lat,lng,tags"
	echo "bench-1,energy_meter,22.5453,114.1157,bench"
	k=0
	while [ $k -lt "$ALARMS" ]; do
		printf 'alarm-%02d,smoke_detector,22.5453,114.1157,fire\n' $k
		k=$((k + 1))
	done
} >"$tmp/devices.csv"
hport=$(free_port)
mport=$(free_port)
gport=$(free_port)
CITYDESK_LISTEN=127.0.0.1:$hport CITYDESK_IOT=on CITYDESK_MQTT_LISTEN=127.0.0.1:$mport \
	CITYDESK_GB26875_LISTEN=127.0.0.1:$gport CITYDESK_ACCESS_LOG=off "$BIN" serve 2>"$tmp/server.log" &
server_pid=$!
i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/healthz")" = 200 ]; do
	i=$((i + 1))
	if [ $i -gt 600 ]; then
		echo "mqtt: citydesk did not start: $(tail -3 "$tmp/server.log")"
		exit 1
	fi
	sleep 0.1
done
printf 'bench-password-1\n' | "$BIN" user add --username bench --role admin --password-stdin >/dev/null 2>&1
tok=$(curl -s -X POST "http://127.0.0.1:$hport/api/v1/sessions" -H 'Content-Type: application/json' \
	-d '{"username":"bench","password":"bench-password-1"}' | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
curl -s -X POST "http://127.0.0.1:$hport/api/v1/devices/import?format=csv" -H "Authorization: Bearer $tok" \
	-H 'Content-Type: text/csv' --data-binary "@$tmp/devices.csv" >"$tmp/secrets.csv"
secret() { tr -d '\r' <"$tmp/secrets.csv" | awk -F, -v id="$1" '$1 == id {print $2}'; }
s1=$(secret bench-1)
if [ -z "$s1" ]; then
	echo "mqtt: device import failed: $(head -c 300 "$tmp/secrets.csv")"
	exit 1
fi
# the registry's logins reach the broker within a second or two
i=0
until mosquitto_pub -h 127.0.0.1 -p "$mport" -u bench-1 -P "$s1" -q 1 -t citydesk/v1/bench-1/status \
	-m '{"status":"online"}' 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "mqtt: bench-1 could not log in: $(tail -3 "$tmp/server.log")"
		exit 1
	fi
	sleep 0.1
done
count_stored() { # rows of bench-1's metric v with ts in [$1, $2)
	sqlite3 "file:$data/series.db?mode=ro" "PRAGMA busy_timeout=2000; SELECT count(*) FROM raw r JOIN series_keys k ON k.id = r.key WHERE k.device = 'bench-1' AND k.metric = 'v' AND r.ts >= $1 AND r.ts < $2;" 2>/dev/null | tail -1
}
# One citydesk round, its messages' ts from $1: prints "rate stored publisher_rate".
citydesk_round() {
	set -- $("$B" pub 127.0.0.1 "$mport" bench-1 "$s1" citydesk/v1/bench-1/telemetry "$N" "$QOS" "$1") "$1"
	c_start=$1
	c_pub_end=$2
	c_ts=$4
	stored=0
	last=-1
	idle=0
	while [ "$stored" -lt "$N" ] && [ $idle -lt 150 ]; do
		stored=$(count_stored "$c_ts" $((c_ts + N)))
		stored=${stored:-0}
		if [ "$stored" = "$last" ]; then idle=$((idle + 1)); else idle=0; fi
		last=$stored
		[ "$stored" -lt "$N" ] && sleep 0.1
	done
	c_end=$(now_ms)
	awk -v n="$stored" -v a="$c_start" -v b="$c_end" -v e="$c_pub_end" -v total="$N" \
		'BEGIN { printf "%d %d %d", (b > a) ? n * 1000 / (b - a) : 0, n, (e > a) ? total * 1000 / (e - a) : 0 }'
}

# Rounds alternate peer and citydesk, so each pair meets the same load on this shared machine;
# the ratio reported is the median of the pairs' ratios.
ts0=$(($(now_ms) - ROUNDS * (N + 1000) - 600000))
# the fire alarms, QoS 1, sent while the first round's telemetry flood runs
(
	sleep 0.3
	k=0
	while [ $k -lt "$ALARMS" ]; do
		id=$(printf 'alarm-%02d' $k)
		mosquitto_pub -h 127.0.0.1 -p "$mport" -u "$id" -P "$(secret "$id")" -q 1 \
			-t "citydesk/v1/$id/event" -m '{"type":"fire_alarm","level":"red","detail":"bench"}' &
		k=$((k + 1))
	done
	wait
) >/dev/null 2>&1 &
alarm_pid=$!
r=0
: >"$tmp/rounds"
while [ $r -lt "$ROUNDS" ]; do
	cd_res=$(citydesk_round $((ts0 + r * (N + 1000))))
	[ $r -eq 0 ] && wait $alarm_pid
	peer_res=$(peer_round)
	set -- $cd_res $peer_res
	echo "$1 $2 $3 $4 $5" >>"$tmp/rounds"
	printf 'mqtt: round %d: citydesk %d msg/s (%d of %d; publisher alone %d msg/s)  mosquitto pub→sub %d msg/s (%d of %d)\n' \
		$((r + 1)) "$1" "$2" "$N" "$3" "$4" "$5" "$N"
	r=$((r + 1))
done
# medians (and the lowest stored count) over the rounds
summary=$(awk '{ c[NR] = $1; s[NR] = $2; p[NR] = $4; q[NR] = ($4 > 0) ? $1 / $4 : 0; if (NR == 1 || $2 < minst) minst = $2 }
function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
END { printf "%d %d %.2f %d", med(c, NR), med(p, NR), med(q, NR), minst }' "$tmp/rounds")
set -- $summary
cd_rate=$1
peer_rate=$2
ratio=$3
stored=$4

raised=0
i=0
while [ $i -lt 100 ]; do
	raised=$(curl -s -H "Authorization: Bearer $tok" "http://127.0.0.1:$hport/api/v1/alerts?level=red&limit=500" |
		grep -o '"device":"alarm-[0-9]*"' | sort -u | wc -l)
	[ "$raised" -ge "$ALARMS" ] && break
	sleep 0.1
	i=$((i + 1))
done
metrics=$(curl -s "http://127.0.0.1:$hport/metrics")
malformed=$(echo "$metrics" | awk '/^citydesk_mqtt_malformed_total/ {s += $2} END {print s + 0}')
broker_pid=$(pgrep -P "$server_pid" mosquitto | head -1)

echo "mqtt: citydesk $cd_rate msg/s stored (median of $ROUNDS rounds; every round stored at least $stored of $N, QoS $QOS)  mosquitto pub→sub $peer_rate msg/s  ratio $ratio (median of the rounds' ratios; goal >= 0.6)"
echo "mqtt: alarms under load: $raised of $ALARMS fire alarms raised as alerts (QoS 1); malformed $malformed"
echo "mqtt: memory: citydesk VmHWM $(hwm "$server_pid")  its mosquitto VmHWM $(hwm "$broker_pid")"
