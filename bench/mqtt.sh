#!/bin/sh
# End-to-end MQTT telemetry (publisher → Mosquitto → citydesk → hub → rules → stored in the
# time series) beside Mosquitto's own pub→sub rate, both measured in this run on this machine
# with the same publisher (bench/mqtt_bench.c, libmosquitto) and the same Mosquitto binary and
# queue settings. Prints
#   mqtt: citydesk N msg/s stored  mosquitto pub→sub M msg/s  ratio R (goal >= 0.6)
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
"$B" sub 127.0.0.1 "$pport" - - bench/peer "$N" 1 >"$tmp/peer.sub" &
sub_pid=$!
while ! grep -q READY "$tmp/peer.sub" 2>/dev/null; do sleep 0.05; done
set -- $("$B" pub 127.0.0.1 "$pport" - - bench/peer "$N" "$QOS")
peer_start=$1
wait $sub_pid
set -- $(tail -1 "$tmp/peer.sub")
peer_count=$1
peer_last=$3
kill "$peer_pid" 2>/dev/null
wait "$peer_pid" 2>/dev/null
peer_pid=
peer_rate=$(awk -v n="$peer_count" -v a="$peer_start" -v b="$peer_last" 'BEGIN { printf "%d", (b > a) ? n * 1000 / (b - a) : 0 }')

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
count_stored() {
	sqlite3 "file:$data/series.db?mode=ro" "PRAGMA busy_timeout=2000; SELECT count(*) FROM raw r JOIN series_keys k ON k.id = r.key WHERE k.device = 'bench-1' AND k.metric = 'v';" 2>/dev/null | tail -1
}
ts_base=$(($(now_ms) - N - 600000))
# the fire alarms, QoS 1, sent while the telemetry flood runs
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
) &
alarm_pid=$!
set -- $("$B" pub 127.0.0.1 "$mport" bench-1 "$s1" citydesk/v1/bench-1/telemetry "$N" "$QOS" "$ts_base")
cd_start=$1
cd_pub_end=$2
wait $alarm_pid
stored=0
last=-1
idle=0
while [ "$stored" -lt "$N" ] && [ $idle -lt 150 ]; do
	stored=$(count_stored)
	stored=${stored:-0}
	if [ "$stored" = "$last" ]; then idle=$((idle + 1)); else idle=0; fi
	last=$stored
	[ "$stored" -lt "$N" ] && sleep 0.1
done
cd_end=$(now_ms)
cd_rate=$(awk -v n="$stored" -v a="$cd_start" -v b="$cd_end" 'BEGIN { printf "%d", (b > a) ? n * 1000 / (b - a) : 0 }')
pub_rate=$(awk -v n="$N" -v a="$cd_start" -v b="$cd_pub_end" 'BEGIN { printf "%d", (b > a) ? n * 1000 / (b - a) : 0 }')
ratio=$(awk -v a="$cd_rate" -v b="$peer_rate" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')

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

echo "mqtt: citydesk $cd_rate msg/s stored ($stored of $N, QoS $QOS; publisher alone $pub_rate msg/s)  mosquitto pub→sub $peer_rate msg/s ($peer_count of $N)  ratio $ratio (goal >= 0.6)"
echo "mqtt: alarms under load: $raised of $ALARMS fire alarms raised as alerts (QoS 1); malformed $malformed"
echo "mqtt: memory: citydesk VmHWM $(hwm "$server_pid")  its mosquitto VmHWM $(hwm "$broker_pid")"
