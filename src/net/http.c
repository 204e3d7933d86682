/* The server: libmicrohttpd in epoll thread-pool mode, one reusable `struct http_conn` per TCP
 * connection, bodies read under a hard cap, dispatch through the route table, and per request
 * one metrics update and one access-log line. See docs/internals/http.md for the why. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/http_int.h"
#include "util/alloc.h"
#include "util/log.h"

static double seconds_since(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* ---- access log ---- */

/* Appends s (at most max bytes of it) to dst as the inside of a JSON string. Control bytes are
 * escaped and bytes that are not valid UTF-8 become U+FFFD, so a hostile path cannot break
 * the line. Returns the new length; never writes past cap. */
static size_t put_json_str(char *dst, size_t n, size_t cap, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (p[i] && i < max && n + 12 < cap) {
		unsigned char ch = p[i];
		if (ch == '"' || ch == '\\') {
			dst[n++] = '\\';
			dst[n++] = (char)ch;
			i++;
		} else if (ch < 0x20 || ch == 0x7f) {
			memcpy(dst + n, "\\u00", 4);
			dst[n + 4] = hex[ch >> 4];
			dst[n + 5] = hex[ch & 15];
			n += 6;
			i++;
		} else if (ch < 0x80) {
			dst[n++] = (char)ch;
			i++;
		} else {
			size_t want = (ch & 0xE0) == 0xC0 ? 2 : (ch & 0xF0) == 0xE0 ? 3 : (ch & 0xF8) == 0xF0 ? 4 : 0;
			size_t k = 1;
			while (want && k < want && i + k < max && (p[i + k] & 0xC0) == 0x80)
				k++;
			if (want && k == want && ch >= 0xC2 && ch <= 0xF4) {
				memcpy(dst + n, p + i, want);
				n += want;
				i += want;
			} else {
				memcpy(dst + n, "\\ufffd", 6);
				n += 6;
				i++;
			}
		}
	}
	return n;
}

/* Formats the ISO 8601 UTC timestamp with milliseconds; the date part is cached per thread
 * and rebuilt once a second. */
static size_t put_timestamp(char *dst)
{
	static _Thread_local time_t cached_sec = -1;
	static _Thread_local char cached[24]; /* "2026-01-02T03:04:05." */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != cached_sec) {
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		if (strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S.", &tm) != 20)
			memcpy(cached, "0000-00-00T00:00:00.", 21); /* year out of 4 digits */
		cached_sec = ts.tv_sec;
	}
	memcpy(dst, cached, 20);
	long ms = ts.tv_nsec / 1000000;
	dst[20] = (char)('0' + ms / 100);
	dst[21] = (char)('0' + ms / 10 % 10);
	dst[22] = (char)('0' + ms % 10);
	dst[23] = 'Z';
	return 24;
}

/* Writes v in decimal; returns the digits written (at most 20). */
static size_t put_uint(char *dst, unsigned long long v)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	return n;
}

#define PUT_LIT(dst, n, lit) (memcpy((dst) + (n), lit, sizeof lit - 1), (n) += sizeof lit - 1)

/* One JSON line: ts, method, route, path, status, duration_ms, bytes, remote. Built by hand:
 * snprintf's float formatting alone showed up in profiles at 100k lines/s. */
static void access_log(struct http_log *lg, const struct http_conn *c, double seconds)
{
	char line[1536];
	const size_t strings_cap = sizeof line - 200; /* room for the fixed tail below */
	size_t n = 0;
	PUT_LIT(line, n, "{\"ts\":\"");
	n += put_timestamp(line + n);
	PUT_LIT(line, n, "\",\"method\":\"");
	n = put_json_str(line, n, strings_cap, c->req.method, 16);
	PUT_LIT(line, n, "\",\"route\":\"");
	n = put_json_str(line, n, strings_cap, c->req.route, 256);
	PUT_LIT(line, n, "\",\"path\":\"");
	n = put_json_str(line, n, strings_cap, c->req.path, 512);
	PUT_LIT(line, n, "\",\"status\":");
	n += put_uint(line + n, (unsigned)c->status);
	PUT_LIT(line, n, ",\"duration_ms\":");
	unsigned long long us = seconds > 0 ? (unsigned long long)(seconds * 1e6 + 0.5) : 0;
	n += put_uint(line + n, us / 1000);
	line[n++] = '.';
	line[n++] = (char)('0' + us / 100 % 10);
	line[n++] = (char)('0' + us / 10 % 10);
	line[n++] = (char)('0' + us % 10);
	PUT_LIT(line, n, ",\"bytes\":");
	n += put_uint(line + n, c->bytes);
	PUT_LIT(line, n, ",\"remote\":\"");
	size_t rl = strnlen(c->remote, sizeof c->remote);
	memcpy(line + n, c->remote, rl); /* inet_ntop output or "unknown": no escaping needed */
	n += rl;
	PUT_LIT(line, n, "\"}\n");
	http_log_line(lg, line, n);
}

/* ---- responses ---- */

enum MHD_Result http_queue(struct http_conn *c)
{
	struct http_response *res = &c->res;
	const char *data = res->static_body ? res->static_body : res->body.data;
	size_t len = res->static_body ? res->static_len : res->body.len;
	if (!data)
		data = "";
	/* PERSISTENT: MHD does not copy. The bytes are static or live in c->res.body, which is
	 * untouched until this request completes and the connection's next request begins. */
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)data,
								 MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	enum MHD_Result ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
						     res->content_type ? res->content_type : HTTP_JSON_TYPE);
	for (unsigned i = 0; ok == MHD_YES && i < res->n_headers; i++)
		ok = MHD_add_response_header(r, res->headers[i][0], res->headers[i][1]);
	if (ok == MHD_YES && atomic_load_explicit(&c->srv->stopping, memory_order_relaxed))
		ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	if (ok == MHD_YES)
		ok = MHD_queue_response(c->mhd, (unsigned)res->status, r);
	MHD_destroy_response(r);
	c->responded = 1;
	c->status = res->status;
	c->bytes = len;
	return ok;
}

/* ---- the request cycle ---- */

/* Resets the connection's state for a new request on it. */
static void begin_request(struct http_conn *c, const char *url, const char *method)
{
	clock_gettime(CLOCK_MONOTONIC, &c->start);
	atomic_fetch_add_explicit(&c->srv->in_flight, 1, memory_order_relaxed);
	http_arena_reset(c);
	if (c->body.alloc > HTTP_BODY_KEEP)
		buf_release(&c->body);
	buf_reset(&c->body);
	if (c->res.body.alloc > HTTP_BODY_KEEP)
		buf_release(&c->res.body);
	buf_reset(&c->res.body);
	c->req.method = method;
	c->req.path = url;
	c->req.route = "unmatched";
	c->req.route_name = NULL;
	c->req.body = "";
	c->req.body_len = 0;
	c->req.remote = c->remote;
	c->req.user = NULL;
	c->res.status = 200;
	c->res.content_type = HTTP_JSON_TYPE;
	c->res.static_body = NULL;
	c->res.static_len = 0;
	c->res.n_headers = 0;
	c->rt = NULL;
	c->n_params = 0;
	c->stream = NULL;
	c->responded = 0;
	c->reject = 0;
	c->discarded = 0;
	c->status = 0;
	c->bytes = 0;
}

/* Runs the handler (or writes the 404/405) and queues the response. */
static enum MHD_Result dispatch(struct http_conn *c, int match, const char *allow)
{
	if (match == 404) {
		http_error(&c->res, 404, "not_found", "no such resource", NULL);
	} else if (match == 405) {
		http_error(&c->res, 405, "method_not_allowed", "method not allowed on this resource", NULL);
		if (http_header_add(&c->req, &c->res, MHD_HTTP_HEADER_ALLOW, allow))
			return MHD_NO;
	} else if (match != 200) {
		http_error(&c->res, 500, "internal", "out of memory", NULL);
	} else {
		c->req.body = c->body.data ? c->body.data : "";
		c->req.body_len = c->body.len;
		c->rt->route->handler(&c->req, &c->res, c->srv->cfg.app_ctx);
		if (c->stream)
			return http_stream_queue(c);
		if (c->deferred)
			return http_deferred_answer(c);
	}
	return http_queue(c);
}

/* True when the request announces no body at all, so it can be answered on the first call. */
static int has_no_body(struct MHD_Connection *mhd)
{
	const char *te = MHD_lookup_connection_value(mhd, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	const char *cl = MHD_lookup_connection_value(mhd, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	return !te && (!cl || strcmp(cl, "0") == 0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mhd, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	(void)cls;
	(void)version;
	struct http_conn *c = *req_cls;
	if (!c) {
		/* First call: the headers are complete. Match the route now so 404/405 and 413 go
		 * out before any body is read. */
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		if (!ci || !ci->socket_context)
			return MHD_NO;
		c = ci->socket_context;
		*req_cls = c;
		begin_request(c, url, method);
		c->match = http_routes_match(c, url, c->allow, sizeof c->allow);
		if (c->rt) {
			c->req.route = c->rt->route->pattern;
			c->req.route_name = c->rt->route->name;
		} else if (c->label < c->srv->n_labels) {
			c->req.route = c->srv->labels[c->label];
		}
		if (has_no_body(mhd))
			return MHD_YES; /* answer on the next call: answering now would cost keep-alive */
		if (c->match != 200)
			return dispatch(c, c->match, c->allow); /* early: MHD discards the body */
		const char *cl = MHD_lookup_connection_value(mhd, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(cl, &end, 10);
			if (errno || end == cl || *end || v > HTTP_BODY_MAX) {
				http_error(&c->res, 413, "body_too_large", "the request body is larger than 1 MiB", NULL);
				return http_queue(c);
			}
		}
		return MHD_YES;
	}
	if (c->deferred && !c->responded)
		return http_deferred_answer(c); /* resumed: the app finished (or a stop aborted it) */
	if (c->responded) {
		*upload_data_size = 0; /* answered early (413): drop whatever still arrives */
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (c->reject) {
			/* MHD 0.9.75 cannot queue a response in the middle of a body, so the rest of an
			 * oversized chunked body is read and dropped, up to a bound; past it we hang up */
			c->discarded += n;
			return c->discarded > HTTP_DISCARD_MAX ? MHD_NO : MHD_YES;
		}
		enum cd_err rc = buf_append(&c->body, upload_data, n);
		if (rc) {
			c->reject = rc == CD_ERR_TOOBIG ? 413 : 503;
			c->discarded = n;
			buf_release(&c->body); /* never hold more than the cap */
		}
		return MHD_YES;
	}
	if (c->reject == 413) {
		http_error(&c->res, 413, "body_too_large", "the request body is larger than 1 MiB", NULL);
		return http_queue(c);
	}
	if (c->reject) {
		http_error(&c->res, 503, "overloaded", "out of memory reading the request body", NULL);
		return http_queue(c);
	}
	return dispatch(c, c->match, c->allow);
}

static void on_completed(void *cls, struct MHD_Connection *mhd, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)mhd;
	(void)toe;
	struct http_server *srv = cls;
	struct http_conn *c = *req_cls;
	if (!c)
		return;
	*req_cls = NULL;
	double secs = seconds_since(&c->start);
	if (c->status)
		metrics_observe(srv->metrics, c->label, c->req.method, c->status, secs);
	if (srv->access_log == HTTP_LOG_ALL || (srv->access_log == HTTP_LOG_ERRORS && (c->status >= 400 || !c->status)))
		access_log(srv->log, c, secs);
	if (http_deferred_request_done(c)) /* else a stopped deferral: the app still owns the arena */
		http_arena_reset(c);
	c->req.user = NULL;
	atomic_fetch_sub_explicit(&srv->in_flight, 1, memory_order_release);
}

static void on_connection(void *cls, struct MHD_Connection *mhd, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *srv = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		struct http_conn *c = xmalloc(sizeof *c);
		memset(c, 0, offsetof(struct http_conn, arena_inline)); /* the arena needs no zeroing */
		c->srv = srv;
		c->mhd = mhd;
		buf_init(&c->body, HTTP_BODY_MAX);
		buf_init(&c->res.body, HTTP_RESPONSE_MAX);
		snprintf(c->remote, sizeof c->remote, "unknown");
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci && ci->client_addr) {
			const struct sockaddr *sa = ci->client_addr;
			if (sa->sa_family == AF_INET)
				inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
					  c->remote, sizeof c->remote);
			else if (sa->sa_family == AF_INET6)
				inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
					  c->remote, sizeof c->remote);
		}
		*socket_context = c;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		struct http_conn *c = *socket_context;
		if (!c)
			return;
		*socket_context = NULL;
		if (http_deferred_conn_closed(c))
			return; /* the app still holds a deferral: http_deferred_finish frees c */
		http_conn_free(c);
	}
}

void http_conn_free(struct http_conn *c)
{
	http_arena_reset(c);
	while (c->blocks) { /* the block a reset keeps for the next request */
		struct http_arena_block *next = c->blocks->next;
		xfree(c->blocks);
		c->blocks = next;
	}
	buf_release(&c->body);
	buf_release(&c->res.body);
	xfree(c);
}

__attribute__((format(printf, 2, 0)))
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	char esc[1100];
	size_t e = put_json_str(esc, 0, sizeof esc, msg, sizeof msg);
	esc[e] = '\0';
	log_warn("libmicrohttpd", "\"detail\":\"%s\"", esc);
}

/* ---- server lifecycle ---- */

static int access_log_from_env(void)
{
	static const struct {
		const char *name;
		enum http_access_log mode;
	} modes[] = {{"all", HTTP_LOG_ALL}, {"errors", HTTP_LOG_ERRORS}, {"off", HTTP_LOG_OFF}};
	const char *v = getenv("CITYDESK_ACCESS_LOG");
	if (!v || !*v)
		return HTTP_LOG_ALL;
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
		if (strcmp(v, modes[i].name) == 0)
			return modes[i].mode;
	log_warn("unknown CITYDESK_ACCESS_LOG, logging all requests", "\"value\":\"%s\"",
		 strpbrk(v, "\"\\") ? "?" : v);
	return HTTP_LOG_ALL;
}

static void server_free(struct http_server *srv)
{
	http_log_stop(srv->log);
	metrics_free(srv->metrics);
	xfree(srv->routes);
	xfree(srv->labels);
	xfree(srv);
}

enum cd_err http_server_start(const struct http_config *cfg, struct http_server **out)
{
	enum cd_err rc = CD_ERR_INVALID;
	struct addrinfo *ai = NULL;
	*out = NULL;
	struct http_server *srv = xcalloc(1, sizeof *srv);
	srv->cfg = *cfg;
	if (!srv->cfg.listen)
		srv->cfg.listen = "127.0.0.1:8080";
	if (!srv->cfg.threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		srv->cfg.threads = n > 0 ? (unsigned)n : 1;
	}
	if (!srv->cfg.max_connections)
		srv->cfg.max_connections = 1024;
	if (!srv->cfg.timeout_s)
		srv->cfg.timeout_s = 30;
	if (!srv->cfg.stop_wait_ms)
		srv->cfg.stop_wait_ms = 5000;
	srv->access_log = cfg->access_log >= 0 ? cfg->access_log : access_log_from_env();

	char host[256];
	unsigned port;
	if (http_parse_listen(srv->cfg.listen, host, sizeof host, &port)) {
		log_error("bad listen address, expected HOST:PORT", "\"listen\":\"%s\"",
			  strpbrk(srv->cfg.listen, "\"\\") ? "?" : srv->cfg.listen);
		goto fail;
	}
	rc = http_routes_compile(srv);
	if (rc)
		goto fail;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	char portstr[8];
	snprintf(portstr, sizeof portstr, "%u", port);
	int gai = getaddrinfo(host, portstr, &hints, &ai);
	if (gai) {
		log_error("cannot resolve listen host", "\"host\":\"%s\",\"reason\":\"%s\"",
			  strpbrk(host, "\"\\") ? "?" : host, gai_strerror(gai));
		rc = CD_ERR_INVALID;
		goto fail;
	}
	srv->metrics = metrics_new(srv->labels, srv->n_labels);
	if (srv->access_log != HTTP_LOG_OFF)
		srv->log = http_log_start(srv->cfg.threads);

	/* Each connection's memory pool holds its request line and headers, the read buffer and
	 * the answer's headers; bodies are copied out as they arrive (on_request) and answers are
	 * handed over whole. libmicrohttpd zeroes the whole pool after every request: at its
	 * default 32 KB that memset was ~2 % of an HTTP worker's time under intake. At 16 KB a
	 * request's headers may take about 7.5 KB (Tomcat allows 8 KB); more gets 431. */
	enum { HTTP_CONN_POOL = 16 * 1024 };
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_USE_ITC | MHD_USE_ERROR_LOG |
			 MHD_ALLOW_SUSPEND_RESUME; /* streams and deferred responses park connections */
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	struct MHD_OptionItem opts[] = {
		{MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr},
		{MHD_OPTION_CONNECTION_LIMIT, (intptr_t)srv->cfg.max_connections, NULL},
		{MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)srv->cfg.timeout_s, NULL},
		{MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv},
		{MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, srv},
		{MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
		{MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_CONN_POOL, NULL},
		{srv->cfg.threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
		 (intptr_t)srv->cfg.threads, NULL},
		{MHD_OPTION_END, 0, NULL},
	};
	srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
				       MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, /* first, as MHD asks */
				       MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!srv->daemon) {
		int e = errno;
		log_error("cannot start HTTP server", "\"listen\":\"%s\",\"errno\":%d,\"reason\":\"%s\"",
			  strpbrk(srv->cfg.listen, "\"\\") ? "?" : srv->cfg.listen, e, strerror(e));
		rc = CD_ERR_IO;
		goto fail;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di ? di->port : port;
	freeaddrinfo(ai);
	*out = srv;
	return CD_OK;
fail:
	if (ai)
		freeaddrinfo(ai);
	server_free(srv);
	return rc;
}

unsigned http_server_port(const struct http_server *srv)
{
	return srv->port;
}

unsigned http_server_in_flight(const struct http_server *srv)
{
	return atomic_load_explicit(&srv->in_flight, memory_order_acquire);
}

/* Waits until no request is in flight, at most ms milliseconds. */
static void wait_in_flight(const struct http_server *srv, unsigned ms)
{
	for (unsigned waited = 0; waited < ms; waited += 5) {
		if (http_server_in_flight(srv) == 0)
			return;
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

void http_server_stop(struct http_server *srv)
{
	if (!srv)
		return;
	atomic_store(&srv->stopping, 1);
	MHD_socket lfd = MHD_quiesce_daemon(srv->daemon);
	/* streams never end by themselves: end them now, after what they have queued */
	http_park_close_streams(srv);
	/* wait for requests in flight, deferred ones included; responses now carry Connection: close */
	wait_in_flight(srv, srv->cfg.stop_wait_ms);
	/* deferrals the app has not finished get a 503; MHD must not stop with parked connections */
	unsigned aborted = http_park_abort_deferred(srv);
	if (aborted) {
		log_warn("stopping: deferred requests answered 503", "\"deferred\":%u", aborted);
		wait_in_flight(srv, 1000);
	}
	unsigned left = http_server_in_flight(srv);
	if (left)
		log_warn("stopping with requests still in flight", "\"in_flight\":%u", left);
	MHD_stop_daemon(srv->daemon);
	srv->daemon = NULL;
	http_park_detach(srv);
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
	server_free(srv);
}
