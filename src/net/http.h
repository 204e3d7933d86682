/* citydesk's HTTP layer: a route table on top of libmicrohttpd (epoll thread pool), with
 * request bodies read in full under a hard cap, JSON errors in one shape, per-request memory
 * freed after the response, Prometheus metrics and one JSON access-log line per request.
 * It knows nothing of cases or auth: handlers get a request and fill in a response. */
#ifndef CD_NET_HTTP_H
#define CD_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/json.h"

#define HTTP_BODY_MAX (1024u * 1024u)            /* request bodies above this get 413 */
#define HTTP_RESPONSE_MAX (256u * 1024u * 1024u) /* cap on a generated response body */
#define HTTP_MAX_PARAMS 8                        /* {param} segments per route pattern */
#define HTTP_MAX_EXTRA_HEADERS 8                 /* headers a handler may add */
#define HTTP_JSON_TYPE "application/json; charset=utf-8"

struct http_request;
struct http_response;
struct http_server;

/* A route handler. It runs on one of the server's threads, possibly at the same time as
 * other handlers, and must fill in `res` before returning (the status defaults to 200 with
 * an empty JSON-typed body). `app_ctx` is http_config.app_ctx. */
typedef void (*http_handler_fn)(struct http_request *req, struct http_response *res, void *app_ctx);

/* Appends Prometheus text (with # HELP / # TYPE lines) for the application's own gauges to
 * `out` while GET /metrics is served. Runs on a server thread; must be thread-safe. */
typedef enum cd_err (*http_metrics_fn)(struct buf *out, void *app_ctx);

/* One row of the route table. `pattern` is an absolute path whose segments are literals or
 * `{name}` parameters matching exactly one non-empty segment, e.g. /api/v1/cases/{id}.
 * A GET route also answers HEAD. The table must outlive the server. */
struct http_route {
	const char *method;      /* "GET", "POST", ... exact, upper case */
	const char *pattern;     /* path pattern, also the metrics/log "route" label */
	http_handler_fn handler; /* fills the response */
	const char *name;        /* short name for docs and logs, e.g. "cases_list" */
};

/* Which requests get an access-log line. */
enum http_access_log {
	HTTP_LOG_ALL,    /* one line per request (default) */
	HTTP_LOG_ERRORS, /* only status >= 400 */
	HTTP_LOG_OFF,    /* none */
};

struct http_config {
	const char *listen;               /* "HOST:PORT" (IPv4, or [v6]:port); NULL = 127.0.0.1:8080; port 0 = any free port */
	const struct http_route *routes;  /* the route table, outlives the server */
	size_t n_routes;                  /* rows in routes */
	void *app_ctx;                    /* handed to every handler and to metrics_hook */
	unsigned threads;                 /* worker threads; 0 = number of cores */
	unsigned max_connections;         /* 0 = 1024 */
	unsigned timeout_s;               /* idle connection timeout; 0 = 30 s */
	unsigned stop_wait_ms;            /* how long http_server_stop waits for requests in flight; 0 = 5000 */
	int access_log;                   /* enum http_access_log (0 = all); -1 = from CITYDESK_ACCESS_LOG=all|errors|off.
					     Lines are buffered per thread and reach stderr within 100 ms */
	http_metrics_fn metrics_hook;     /* app gauges for /metrics (e.g. citydesk_store_bytes); may be NULL */
};

/* ---- server ---- */

/* Starts listening and serving on cfg->listen. On success *out is the running server and
 * http_server_port() tells the bound port. Returns CD_ERR_INVALID for a bad listen string or
 * route pattern, CD_ERR_IO when the socket cannot be bound (errno logged). */
enum cd_err http_server_start(const struct http_config *cfg, struct http_server **out) CD_MUST_CHECK;
/* The TCP port actually bound (useful when cfg->listen asked for port 0). */
unsigned http_server_port(const struct http_server *srv);
/* Graceful stop: stops accepting, ends every open stream (after what it has queued), lets
 * requests in flight and deferred ones finish (up to cfg->stop_wait_ms), answers deferred
 * requests still pending then with 503 `shutting_down`, closes every connection, joins the
 * threads and frees the server. NULL is fine. Call it from a normal thread (e.g. the main
 * loop after SIGTERM), never from a handler. */
void http_server_stop(struct http_server *srv);
/* Requests currently between their first byte of headers and their completion. */
unsigned http_server_in_flight(const struct http_server *srv);

/* ---- request ---- */

/* The request as a handler sees it. Strings are NUL-terminated and live until the response
 * has been sent; do not free them. */
struct http_request {
	const char *method;       /* "GET", "POST", ... as sent */
	const char *path;         /* percent-decoded path without the query string */
	const char *route;        /* the matched route's pattern, e.g. /api/v1/cases/{id} */
	const char *route_name;   /* the matched route's name */
	const char *body;         /* the whole request body, NUL-terminated; "" when none */
	size_t body_len;          /* bytes in body, not counting the NUL */
	const char *remote;       /* client address as text ("127.0.0.1", "::1") */
	void *user;               /* free for the app (e.g. the authenticated account); NULL at start */
};

/* The value of route parameter `name` ({name} in the pattern), or NULL if the pattern has none. */
const char *http_param(const struct http_request *req, const char *name);
/* The decoded query parameter `name`: NULL when absent, "" when present but empty
 * ("?a" or "?a="). When a name repeats, the first one wins. */
const char *http_query_get(const struct http_request *req, const char *name);
/* Request header `name` (case-insensitive), or NULL. */
const char *http_header(const struct http_request *req, const char *name);
/* The server serving this request (for http_handle_metrics-like helpers). */
struct http_server *http_request_server(const struct http_request *req);

/* Per-request memory, freed in one go after the response has been sent. Returns NULL when
 * the request's arena would exceed its cap (16 MiB) or memory runs out: n may come from input.
 * The memory is aligned for any type. */
void *http_alloc(struct http_request *req, size_t n);
/* Copies s (or its first n bytes) into per-request memory; NULL on failure as http_alloc. */
char *http_strdup(struct http_request *req, const char *s);
char *http_strndup(struct http_request *req, const char *s, size_t n);

/* ---- response ---- */

/* What the handler sends back. Set fields directly or use the helpers below. */
struct http_response {
	int status;               /* HTTP status, 200 unless set */
	const char *content_type; /* must outlive the request (static or http_alloc'd); default JSON */
	struct buf body;          /* the body (capped at HTTP_RESPONSE_MAX); ignored if static_body is set */
	const char *static_body;  /* body that outlives the server (string literal); avoids a copy */
	size_t static_len;        /* bytes in static_body */
	const char *headers[HTTP_MAX_EXTRA_HEADERS][2]; /* extra name/value pairs, see http_header_add */
	unsigned n_headers;       /* pairs used in headers */
};

/* Adds a response header (e.g. Retry-After, Content-Disposition). name and value are copied
 * into per-request memory. Returns CD_ERR_TOOBIG past HTTP_MAX_EXTRA_HEADERS, CD_ERR_INVALID
 * when either contains CR or LF (header injection), CD_ERR_NOMEM when memory runs out. */
enum cd_err http_header_add(struct http_request *req, struct http_response *res,
			    const char *name, const char *value) CD_MUST_CHECK;

/* Replaces the response with the JSON error
 *   {"error":{"code":"<code>","message":"<message>","field":null|"<field>"}}
 * and the given status. code is snake_case; message and field are escaped. */
void http_error(struct http_response *res, int status, const char *code, const char *message,
		const char *field);
/* The same, from a problem filled in by the util/json.h helpers. */
void http_error_json(struct http_response *res, const struct json_problem *p);
/* Sets status and the body to the compact serialisation of v (which stays the caller's).
 * On failure (too big, no memory) the response becomes a 500 error. */
void http_respond_json(struct http_response *res, int status, const json_t *v);
/* Sets status and a body that must outlive the server (a string literal), sent without copying. */
void http_respond_static(struct http_response *res, int status, const char *content_type,
			 const char *body, size_t len);

/* Parses the request body as a JSON object (json_parse_request: strict UTF-8, no duplicate
 * keys, depth cap). On success returns true and *out is a new reference the caller decrefs.
 * On failure returns false with `res` already holding the 400/422 error naming the position. */
bool http_read_json(struct http_request *req, struct http_response *res, json_t **out);

/* ---- streaming responses ---- */

#define HTTP_STREAM_BUF_MAX (256u * 1024u) /* bytes a stream may hold unsent; past it the client is dropped */

struct http_stream;

/* Turns the current request's response into a long-lived stream (Server-Sent Events, long
 * downloads): once the handler returns, the status and headers in `res` go out at once and the
 * body is whatever http_stream_write() adds, chunked, until the stream ends. Call it from the
 * handler, at most once, and not together with http_defer. `content_type` must outlive the
 * request (static). Returns the stream, or NULL when one is already open or a deferral is
 * pending (res untouched).
 * Ownership: the caller holds one reference and must give it back with http_stream_release()
 * exactly once, from any thread. `on_close(ctx)` (may be NULL) is called exactly once, on a
 * server thread, when the response is over for any reason: the client went away, it overflowed
 * HTTP_STREAM_BUF_MAX, the server is stopping, or the stream was ended by the caller. The
 * caller's reference stays valid after on_close until it is released, so a writer racing with
 * the close is safe; writes after the end just fail. */
struct http_stream *http_stream_open(struct http_request *req, struct http_response *res,
				     const char *content_type, void (*on_close)(void *ctx), void *ctx);
/* Queues len bytes on the stream; from any thread, never blocks on the network (a short mutex
 * and a copy). CD_OK when queued; CD_ERR_CONFLICT when the stream has ended (client gone,
 * server stopping); CD_ERR_TOOBIG when the bytes would take the unsent backlog past
 * HTTP_STREAM_BUF_MAX: then the client is too slow, the backlog is dropped, the connection is
 * closed and citydesk_http_stream_drops_total counts it. */
enum cd_err http_stream_write(struct http_stream *s, const char *data, size_t len) CD_MUST_CHECK;
/* Ends the stream after what is already queued (the chunked body is terminated properly).
 * Any thread; idempotent. The reference is still to be released. */
void http_stream_end(struct http_stream *s);
/* Gives back the caller's reference (ending the stream if it is still open). Any thread,
 * exactly once; s must not be used afterwards. NULL is fine. */
void http_stream_release(struct http_stream *s);

/* ---- deferred responses ---- */

struct http_deferred;

/* Lets the handler return without answering: the connection is parked (suspended, costing no
 * thread) until http_deferred_finish(). Call it from the handler, at most once, not together
 * with http_stream_open. The request and response stay valid, as does the request's memory
 * (http_alloc), until the deferred response has been sent. After http_defer, only the response
 * (http_deferred_response), http_alloc/http_strdup on the request and the strings already read
 * may be used from other threads: read headers, query and params before deferring.
 * Returns NULL when a stream or deferral is already in place. */
struct http_deferred *http_defer(struct http_request *req, struct http_response *res);
/* The response to fill in before finishing (the same struct the handler got). */
struct http_response *http_deferred_response(struct http_deferred *d);
/* The request (for http_alloc/http_strdup into its memory). */
struct http_request *http_deferred_request(struct http_deferred *d);
/* Sends the response as it stands now and gives back the handle; from any thread, exactly
 * once (also when the server answered 503 meanwhile, see http_server_stop). d must not be
 * used afterwards. */
void http_deferred_finish(struct http_deferred *d);
/* Fills a deferred response later, on the connection's own server thread. */
typedef void (*http_fill_fn)(struct http_request *req, struct http_response *res, void *ctx);
/* Like http_deferred_finish, but the response is filled by fill(req, res, ctx) on the server
 * thread that sends it, so the finishing thread (e.g. a single writer) does no response work.
 * fill does not run when a stop already answered 503; ctx must live as long as the request. */
void http_deferred_finish_with(struct http_deferred *d, http_fill_fn fill, void *ctx);

/* A ready-made handler for GET /metrics: Prometheus text for the server's requests,
 * latencies, uptime and the app's metrics_hook. Put it in the route table. */
void http_handle_metrics(struct http_request *req, struct http_response *res, void *app_ctx);

/* Parses "HOST:PORT", "[V6]:PORT" or ":PORT" (host defaults to 127.0.0.1) into host (a
 * buffer of hostcap bytes) and *port. Returns CD_ERR_INVALID on anything else. Exposed for tests. */
enum cd_err http_parse_listen(const char *s, char *host, size_t hostcap, unsigned *port) CD_MUST_CHECK;

#endif
