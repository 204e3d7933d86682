/* Private structures shared by http.c (server, MHD glue), http_req.c (request and response
 * helpers) and http_route.c (route matching). Not for use outside src/net/http*.c. */
#ifndef CD_NET_HTTP_INT_H
#define CD_NET_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include <microhttpd.h>

#include "net/http.h"
#include "net/metrics.h"

#define HTTP_MAX_SEGMENTS 16               /* path segments a pattern may have */
#define HTTP_ARENA_INLINE 2048             /* per-connection arena bytes kept between requests */
#define HTTP_ARENA_MAX (16u * 1024u * 1024u) /* cap on one request's arena */
#define HTTP_BODY_KEEP (64u * 1024u)       /* buffers bigger than this are freed after a request */
#define HTTP_DISCARD_MAX (8u * 1024u * 1024u) /* oversized chunked bytes read (and dropped) before we hang up */

/* One segment of a compiled pattern. */
struct http_seg {
	const char *text; /* literal text, or the parameter name for {name} */
	size_t len;       /* bytes in text */
	int is_param;     /* 1 for {name} */
};

/* A route with its pattern split into segments, compiled once at start. */
struct http_route_rt {
	const struct http_route *route; /* the caller's row */
	struct http_seg seg[HTTP_MAX_SEGMENTS];
	unsigned n_seg;                 /* segments used */
	unsigned n_params;              /* how many are {name} */
	size_t label;                   /* metrics label index (first route with the same pattern) */
};

struct http_log;

struct http_server {
	struct MHD_Daemon *daemon;       /* NULL once stopped */
	struct http_config cfg;          /* copy of the caller's config, defaults filled in */
	struct http_route_rt *routes;    /* compiled table, cfg.n_routes rows */
	const char **labels;             /* distinct route patterns for metrics */
	size_t n_labels;                 /* entries in labels; n_labels = unmatched */
	struct metrics *metrics;         /* request counters and histograms */
	unsigned port;                   /* bound port */
	int access_log;                  /* enum http_access_log in effect */
	struct http_log *log;            /* buffered access-log writer, NULL when off */
	_Atomic unsigned in_flight;      /* requests begun and not yet completed */
	_Atomic int stopping;            /* set by http_server_stop: responses say Connection: close */
	struct http_stream *streams;     /* open streams (http_stream.c; the lists and `closing` are
					    guarded by http_stream.c's process-wide park lock) */
	struct http_deferred *deferreds; /* deferrals not yet freed (http_stream.c) */
	int closing;                     /* stop has begun: new streams end at once, new deferrals get 503 */
	_Atomic unsigned streams_open;   /* streams whose response is not over */
	_Atomic unsigned deferred_pending; /* deferrals not yet finished by the app */
	_Atomic unsigned long streams_total; /* streams ever opened */
	_Atomic unsigned long stream_drops;  /* streams closed because the client was too slow */
};

/* A block of per-request memory beyond the inline one. */
struct http_arena_block {
	struct http_arena_block *next; /* older block */
	size_t size;                   /* usable bytes in data */
	size_t used;                   /* bytes handed out */
	max_align_t data[];            /* the memory */
};

/* State for one TCP connection, reused by every request on it so the hot path does not
 * allocate; `req` and `res` are what handlers see (container_of gets back here). */
struct http_conn {
	struct http_request req;        /* public view; first so the cast is trivial */
	struct http_response res;       /* response being built */
	struct http_server *srv;        /* owner */
	struct MHD_Connection *mhd;     /* MHD's handle for the connection */
	const struct http_route_rt *rt; /* matched route, NULL for 404/405 */
	const char *param_name[HTTP_MAX_PARAMS];  /* route params of the current request */
	const char *param_value[HTTP_MAX_PARAMS];
	unsigned n_params;              /* params used */
	size_t label;                   /* metrics label of the current request */
	int match;                      /* http_routes_match result: 200, 404, 405 or 500 */
	char allow[96];                 /* Allow header for a 405 */
	struct buf body;                /* request body, capped at HTTP_BODY_MAX */
	int responded;                  /* a response has been queued for the current request */
	int reject;                     /* 413/503 decided while reading the body, sent at its end */
	size_t discarded;               /* body bytes dropped after the cap was reached */
	int status;                     /* status queued, 0 if none */
	size_t bytes;                   /* response body bytes queued */
	struct http_stream *stream;     /* opened by the handler, not yet handed to MHD */
	struct http_deferred *deferred; /* the current request's deferral, until it is freed */
	struct timespec start;          /* when the request's headers were complete */
	char remote[64];                /* client address as text */
	size_t arena_used;              /* bytes used in arena_inline */
	size_t arena_total;             /* bytes handed out this request, for HTTP_ARENA_MAX */
	struct http_arena_block *blocks;/* extra blocks for this request */
	max_align_t arena_inline[HTTP_ARENA_INLINE / sizeof(max_align_t)]; /* first arena bytes */
};

static inline struct http_conn *http_conn_of(const struct http_request *req)
{
	return (struct http_conn *)(uintptr_t)req; /* req is the first member */
}

/* http_route.c: compiles cfg routes into srv->routes and srv->labels. */
enum cd_err http_routes_compile(struct http_server *srv) CD_MUST_CHECK;
/* http_route.c: matches c->req.method and path. Sets c->rt and params and returns 200; or
 * returns 404, or 405 with the allowed methods written to allow (comma separated). */
int http_routes_match(struct http_conn *c, const char *path, char *allow, size_t allow_cap);

/* http_log.c: starts the buffered access-log writer for a server with `threads` threads. */
struct http_log *http_log_start(unsigned threads);
/* http_log.c: queues one complete line (ending in \n); written within 100 ms. Thread-safe. */
void http_log_line(struct http_log *lg, const char *line, size_t len);
/* http_log.c: writes everything still buffered, stops the flusher, frees. NULL is fine. */
void http_log_stop(struct http_log *lg);

/* http_req.c: frees the request's extra arena blocks and resets the inline one. */
void http_arena_reset(struct http_conn *c);

/* http.c: frees a connection's state (arena, buffers, the struct). */
void http_conn_free(struct http_conn *c);
/* http.c: queues c->res as the response. */
enum MHD_Result http_queue(struct http_conn *c);

/* http_stream.c: after MHD has stopped: detaches deferrals the app still holds from srv. */
void http_park_detach(struct http_server *srv);
/* http_stream.c: after the handler opened a stream: queues it as the response. */
enum MHD_Result http_stream_queue(struct http_conn *c);
/* http_stream.c: after the handler deferred, and when MHD calls again after a resume:
 * parks (suspends) the connection while the deferral is pending, else queues the answer
 * (the app's response, or 503 when a stop aborted it). */
enum MHD_Result http_deferred_answer(struct http_conn *c);
/* http_stream.c: the deferred request completed. Returns 1 when the deferral is freed and the
 * arena may be reset, 0 while the app still holds it (it owns the arena until it finishes). */
int http_deferred_request_done(struct http_conn *c);
/* http_stream.c: the connection closed. Returns 1 when the app still holds the deferral: the
 * connection's state is then freed by http_deferred_finish, not by the caller. */
int http_deferred_conn_closed(struct http_conn *c);
/* http_stream.c: stop, step 1: no new parking, every open stream ends after its backlog. */
void http_park_close_streams(struct http_server *srv);
/* http_stream.c: stop, step 2: deferrals the app has not finished are answered 503. Returns
 * how many. */
unsigned http_park_abort_deferred(struct http_server *srv);

#endif
