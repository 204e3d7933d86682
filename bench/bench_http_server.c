/* A minimal server on the http module alone (GET /healthz, GET /metrics), for bench/http.sh to
 * measure the HTTP layer until `citydesk serve` exists, and to compare against it afterwards.
 * Usage: bench_http_server [HOST:PORT]   (default 127.0.0.1:0; prints "listening on PORT"). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net/http.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void healthz(struct http_request *req, struct http_response *res, void *app_ctx)
{
	static const char ok[] = "{\"status\":\"ok\"}";
	(void)req;
	(void)app_ctx;
	http_respond_static(res, 200, HTTP_JSON_TYPE, ok, sizeof ok - 1);
}

static const struct http_route routes[] = {
	{"GET", "/healthz", healthz, "healthz"},
	{"GET", "/metrics", http_handle_metrics, "metrics"},
};

int main(int argc, char **argv)
{
	struct http_config cfg = {
		.listen = argc > 1 ? argv[1] : "127.0.0.1:0",
		.routes = routes,
		.n_routes = sizeof routes / sizeof routes[0],
		.access_log = -1,
	};
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	struct http_server *srv;
	if (http_server_start(&cfg, &srv))
		return 1;
	printf("listening on %u\n", http_server_port(srv));
	fflush(stdout);
	while (!stop_requested)
		pause();
	http_server_stop(srv);
	return 0;
}
