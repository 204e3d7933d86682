/* GET /api/v1/stream: authenticates, opens an HTTP stream (net/http.h), subscribes it to the
 * event bus with the caller's scope and returns; from then on the bus's dispatcher writes the
 * pre-rendered SSE frames into the stream, and the stream's end unsubscribes. Nothing here
 * blocks: a console that stops reading is dropped by the stream's 256 KiB bound and counted. */
#include <stdlib.h>
#include <string.h>

#include "api/stream.h"
#include "util/alloc.h"

#define SSE_TYPE "text/event-stream; charset=utf-8"

/* One connected console: the stream and its subscription. Freed by sse_release. */
struct sse_client {
	struct events *bus;         /* where it is subscribed */
	struct http_stream *stream; /* our reference, given back in sse_release */
	struct events_sub *sub;     /* NULL until (or unless) subscribed */
};

/* The bus hands over an item: copy it into the stream. Non-zero when the stream refused it
 * (client gone or too slow); the bus then stops delivering and the stream's close follows. */
static int sse_deliver(void *ctx, const struct events_item *it)
{
	struct sse_client *cl = ctx;
	return http_stream_write(cl->stream, it->sse, it->sse_len) != CD_OK;
}

/* The bus is done with the subscriber (after unsubscribe): nothing will touch it any more. */
static void sse_release(void *ctx)
{
	struct sse_client *cl = ctx;
	http_stream_release(cl->stream);
	xfree(cl);
}

/* The HTTP response is over (client gone, dropped, server stopping). */
static void sse_closed(void *ctx)
{
	struct sse_client *cl = ctx;
	if (cl->sub)
		events_unsubscribe(cl->bus, cl->sub); /* sse_release follows from the dispatcher */
	else
		sse_release(cl);
}

/* Parses a whole decimal number; false when s is not one. */
static bool parse_id(const char *s, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return false;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end || v == 0 || v == ~0ULL)
		return false;
	*out = v;
	return true;
}

/* The id the client saw last: the Last-Event-ID header that EventSource sends on reconnect
 * (ignored when malformed, as the SSE spec lets a client send anything), else ?last_event_id=
 * for a first connection that resumes from a stored id (422 when malformed). 0 = none. */
static bool last_event_id(struct http_request *req, struct http_response *res, uint64_t *out)
{
	*out = 0;
	const char *h = http_header(req, "Last-Event-ID");
	if (h && *h) {
		if (!parse_id(h, out))
			*out = 0;
		return true;
	}
	const char *q = http_query_get(req, "last_event_id");
	if (q && *q && !parse_id(q, out)) {
		http_error(res, 422, "invalid_parameter", "last_event_id must be an event id (a positive whole number)",
			   "last_event_id");
		return false;
	}
	return true;
}

void api_stream(struct http_request *req, struct http_response *res, void *app)
{
	api_stream_serve(req, res, app, ((struct app *)app)->events);
}

void api_stream_serve(struct http_request *req, struct http_response *res, struct app *app, struct events *bus)
{
	struct api_caller *caller = api_authenticate(req, res, app);
	if (!caller)
		return;
	if (!bus) {
		http_error(res, 503, "unavailable", "事件推送暂不可用 (the event stream is not available)", NULL);
		return;
	}
	uint64_t last = 0;
	if (!last_event_id(req, res, &last))
		return;
	struct events_scope scope = {.role = caller->role, .user_id = caller->user.id};
	memcpy(scope.street_code, caller->user.street_code, sizeof scope.street_code);
	memcpy(scope.unit_code, caller->user.unit_code, sizeof scope.unit_code);
	scope.street_code[sizeof scope.street_code - 1] = '\0';
	scope.unit_code[sizeof scope.unit_code - 1] = '\0';
	/* no caching, and no buffering by a reverse proxy (nginx honours X-Accel-Buffering) */
	if (http_header_add(req, res, "Cache-Control", "no-store") ||
	    http_header_add(req, res, "X-Accel-Buffering", "no")) {
		http_error(res, 500, "internal", "out of memory", NULL);
		return;
	}
	struct sse_client *cl = xcalloc(1, sizeof *cl);
	cl->bus = bus;
	res->status = 200;
	cl->stream = http_stream_open(req, res, SSE_TYPE, sse_closed, cl);
	if (!cl->stream) {
		xfree(cl);
		http_error(res, 500, "internal", "the stream could not be opened", NULL);
		return;
	}
	/* retry: reconnect after 3 s; the comment starts the body so clients see the stream open */
	static const char hello[] = "retry: 3000\n: connected\n\n";
	if (http_stream_write(cl->stream, hello, sizeof hello - 1) ||
	    events_subscribe(bus, &scope, last, sse_deliver, sse_release, cl, &cl->sub))
		http_stream_end(cl->stream); /* sse_closed then frees cl (no subscription) */
}
