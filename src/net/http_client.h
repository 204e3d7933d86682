/* Outgoing HTTP POSTs (the webhooks' sender): many requests at once on the calling thread through
 * libcurl's multi interface, so a receiver that hangs costs a socket, not a thread. A client is
 * used by one thread at a time; separate clients are independent. */
#ifndef CD_NET_HTTP_CLIENT_H
#define CD_NET_HTTP_CLIENT_H

#include <stddef.h>

#include "util/err.h"

#define HTTP_CLIENT_SNIPPET 96 /* bytes of an answer kept for error messages */

struct http_client;
struct http_request;

/* The policy every request of a client follows. Besides these: only http and https, redirects
 * not followed, no "Expect: 100-continue" round trip, no signals (safe in threaded programs). */
struct http_client_config {
	unsigned max_host_connections; /* open connections per host at most (0: no limit) */
	unsigned connect_timeout_ms;   /* connecting, per request */
	unsigned timeout_ms;	       /* a whole request */
	size_t response_max;	       /* bytes of an answer read; more aborts the request */
	const char *user_agent;	       /* User-Agent (copied) */
};

/* How a request ended, handed to http_client_done_fn; valid during the call only. */
struct http_client_result {
	long status;	     /* the HTTP status; 0 when no answer was read */
	const char *error;   /* NULL when an answer (any status) was read completely, else why not
				(libcurl's message: refused, timed out, too big...) */
	const char *snippet; /* the answer's first HTTP_CLIENT_SNIPPET bytes, NUL-terminated (as
				received: may hold any byte) */
};

/* Initialises libcurl (curl_global_init, paired with the cleanup in http_client_free; libcurl
 * counts the pairs) and a multi handle with cfg's policy. CD_ERR_IO when libcurl cannot start.
 * *out is freed by http_client_free. */
enum cd_err http_client_new(const struct http_client_config *cfg, struct http_client **out) CD_MUST_CHECK;
/* Frees the client and undoes its curl_global_init. Free every request first. NULL is fine. */
void http_client_free(struct http_client *c);

/* Starts POSTing body[0..len) to url with the extra header lines ("Name: value", copied). The body
 * is borrowed: it must stay unchanged until the request is freed. `user` comes back with the
 * result. The request makes progress only inside http_client_run; it is freed by
 * http_request_free (after its result, or before to abandon it). Never NULL: running out of
 * memory aborts, as xmalloc does. */
struct http_request *http_client_post(struct http_client *c, const char *url, const char *const *headers,
				      size_t nheaders, const char *body, size_t len, void *user);
/* Ends r (abandoning it when still running: nothing more is sent or read) and frees it. */
void http_request_free(struct http_client *c, struct http_request *r);

/* Called by http_client_run once for each finished request, with the user pointer given to
 * http_client_post; it may free r (http_request_free), and should. */
typedef void (*http_client_done_fn)(void *ctx, struct http_request *r, void *user,
				    const struct http_client_result *res);
/* Moves every request as far as it can go without waiting, then reports the finished ones. */
void http_client_run(struct http_client *c, http_client_done_fn done, void *ctx);
/* Waits at most timeout_ms for any request's socket, or for fd (another descriptor to watch,
 * e.g. an eventfd; -1 for none) to become readable. Returns 1 when fd is readable (the caller
 * drains it), else 0. */
int http_client_wait(struct http_client *c, int fd, int timeout_ms);

/* CD_OK for an absolute http:// or https:// URL with a host and no spaces or control bytes,
 * CD_ERR_INVALID otherwise (other schemes are refused), CD_ERR_NOMEM when libcurl cannot
 * allocate its parser. Needs no client. */
enum cd_err http_client_check_url(const char *url) CD_MUST_CHECK;

#endif
