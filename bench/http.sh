#!/bin/sh
# GET /healthz requests/s of citydesk beside nginx serving a static file of the same size, both
# on free loopback ports of this machine, measured with `wrk -t2 -c64 -d10s` (keep-alive) in the
# same run. Prints
#   healthz: citydesk N req/s  nginx M req/s  ratio R (goal >= 0.7)
# Both servers keep their default logging: nginx writes its access log, citydesk one JSON line
# per request on stderr; both go to files in a temp dir. The server under test is
# build/citydesk serve when it exists (BENCH_CITYDESK_BIN names another binary), else
# bench/bench_http_server.c (the http module alone), built here; BENCH_HTTP_SERVER=bench forces
# the latter. WRK_DURATION (default 10s) and
# WRK_CONNECTIONS (default 64) change the load. Figures are printed, never asserted.
set -u
cd "$(dirname "$0")/.."

DURATION=${WRK_DURATION:-10s}
CONNS=${WRK_CONNECTIONS:-64}
for tool in wrk nginx curl; do
	if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
		echo "healthz: skipped ($tool not installed; apt-get install wrk nginx-light curl)"
		exit 0
	fi
done
NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)

tmp=$(mktemp -d)
nginx_pid=
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	[ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + $$ % 20000 + $1))
}

# Waits until URL answers 200, up to 60 s.
wait_up() {
	i=0
	while [ $i -lt 600 ]; do
		code=$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null)
		[ "$code" = 200 ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# Requests/s from wrk's output.
rps() {
	wrk -t2 -c"$CONNS" -d"$DURATION" "$1" >"$tmp/wrk.out" 2>&1
	awk '/^Requests\/sec:/ {printf "%d", $2}' "$tmp/wrk.out"
}

# ---- nginx: minimal config, current user, 2 workers, static file, pid and logs in tmp ----
nport=$(free_port 1)
mkdir -p "$tmp/www" "$tmp/nginx"
printf '{"status":"ok"}' >"$tmp/www/healthz"
# when run as root nginx's workers drop to an unprivileged user: let them read the file
chmod 755 "$tmp" "$tmp/www"
chmod 644 "$tmp/www/healthz"
cat >"$tmp/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log $tmp/nginx/access.log;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$nport;
        root $tmp/www;
        default_type application/json;
    }
}
EOF
"$NGINX" -p "$tmp/nginx" -c "$tmp/nginx.conf" -e "$tmp/nginx/error.log" 2>"$tmp/nginx/stderr" &
nginx_pid=$!

# ---- citydesk (or the http module's bench server) ----
cport=$(free_port 2)
mode=${BENCH_HTTP_SERVER:-auto}
bin=${BENCH_CITYDESK_BIN:-build/citydesk}
if [ "$mode" = auto ] && [ -x "$bin" ] && "$bin" serve --help >/dev/null 2>&1; then
	mode=citydesk
elif [ "$mode" = auto ]; then
	mode=bench
fi
if [ "$mode" = citydesk ]; then
	"$bin" serve --listen "127.0.0.1:$cport" --data "$tmp/var" >"$tmp/server.out" 2>"$tmp/server.log" &
	server_pid=$!
	label="$bin serve"
else
	# the http module alone; compiled from source so it does not depend on the Makefile's state
	if ! cc -std=c11 -O2 -pthread -D_DEFAULT_SOURCE -D_GNU_SOURCE -Isrc \
		$(pkg-config --cflags libmicrohttpd jansson) -o "$tmp/bench_http_server" \
		bench/bench_http_server.c src/net/http.c src/net/http_req.c src/net/http_stream.c src/net/http_route.c src/net/http_log.c \
		src/net/metrics.c src/util/alloc.c src/util/buf.c src/util/err.c src/util/log.c \
		src/util/json.c $(pkg-config --libs libmicrohttpd jansson) -lm 2>"$tmp/cc.log"; then
		cat "$tmp/cc.log"
		echo "healthz: skipped (bench server did not build)"
		exit 1
	fi
	"$tmp/bench_http_server" "127.0.0.1:$cport" >"$tmp/server.out" 2>"$tmp/server.log" &
	server_pid=$!
	label="bench_http_server (http module alone)"
fi

if ! wait_up "http://127.0.0.1:$nport/healthz"; then
	tail -5 "$tmp/nginx/error.log" "$tmp/nginx/stderr" 2>/dev/null
	echo "healthz: nginx did not start"
	exit 1
fi
if ! wait_up "http://127.0.0.1:$cport/healthz"; then
	tail -5 "$tmp/server.log"
	echo "healthz: $label did not start"
	exit 1
fi

n=$(rps "http://127.0.0.1:$nport/healthz")
c=$(rps "http://127.0.0.1:$cport/healthz")
lines=$(wc -l <"$tmp/server.log")
echo "server: $label, wrk -t2 -c$CONNS -d$DURATION, access log: ${CITYDESK_ACCESS_LOG:-all} ($lines lines written)"
if [ -z "$n" ] || [ -z "$c" ] || [ "$n" -eq 0 ]; then
	cat "$tmp/wrk.out"
	echo "healthz: measurement failed (citydesk '$c', nginx '$n')"
	exit 1
fi
awk -v c="$c" -v n="$n" 'BEGIN {printf "healthz: citydesk %d req/s  nginx %d req/s  ratio %.2f (goal >= 0.7)\n", c, n, c / n}'
