/* Streaming and deferred responses, built on MHD's suspend/resume: a connection with nothing
 * to send is parked (suspended, costing no thread and no polling) and woken from any thread
 * when bytes or the answer arrive. The threading rules are in docs/internals/http.md.
 *
 * Locks: each stream has its own mutex for its backlog (the hot path); everything else here
 * (the servers' lists, `closing`, and all deferral state) is guarded by one process-wide
 * `park_mu`, which never dies, so a deferral the app finishes after its server was freed is
 * still safe. Order: park_mu before a stream's mutex. A stream's reader calls
 * MHD_suspend_connection with the stream's lock held (so a wake-up cannot slip between
 * "nothing to do" and the suspend). A deferral is parked without park_mu held (the suspend is
 * an epoll_ctl, and every intake answer and finish takes park_mu): it is marked `parking`
 * first, and a finish that comes meanwhile leaves the resume to the parking thread, which
 * looks again once suspended. MHD_resume_connection is always called after our locks are
 * released. Whoever clears `suspended` under the lock (or finds the state changed after
 * parking) owns the one resume, so a parked connection (which MHD cannot close) is resumed
 * exactly once and is still alive when it is. */
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>

#include "net/http_int.h"
#include "util/alloc.h"
#include "util/log.h"

#define STREAM_BLOCK 8192          /* bytes MHD asks the reader for at a time */
#define STREAM_KEEP (64u * 1024u)  /* a drained backlog buffer larger than this is freed */

static pthread_mutex_t park_mu = PTHREAD_MUTEX_INITIALIZER;

struct http_stream {
	pthread_mutex_t mu;          /* guards the fields up to `refs` */
	struct http_server *srv;     /* the server; only touched while !gone */
	struct MHD_Connection *mhd;  /* resumed only by whoever clears `suspended` */
	int fd;                      /* the socket (MHD's; open while !gone), -1 if unknown */
	char *data;                  /* backlog: data[off..len) not yet handed to MHD */
	size_t off, len, alloc;      /* backlog bounds and buffer size */
	int suspended;               /* the reader parked the connection */
	int ended;                   /* no more writes; the body ends after the backlog */
	int failed;                  /* dropped as too slow: the body ends with an error (close) */
	int gone;                    /* MHD destroyed the response; on_close has been called */
	int refs;                    /* the caller's and the response's */
	void (*on_close)(void *ctx); /* called once when the response is over */
	void *ctx;                   /* for on_close */
	struct http_stream *prev, *next; /* srv->streams, under park_mu */
};

enum deferred_state {
	DEFERRED_PENDING, /* the app is working on it */
	DEFERRED_DONE,    /* the app finished: send c->res */
	DEFERRED_ABORTED, /* the server is stopping: send 503 (c->res is the app's until it finishes) */
};

/* All fields under park_mu. */
struct http_deferred {
	struct http_conn *conn;      /* the connection (its res, arena) */
	struct http_server *srv;     /* NULL once the server stopped (detached) */
	struct MHD_Connection *mhd;  /* resumed only by whoever clears `suspended` */
	enum deferred_state state;
	int suspended;               /* the connection is parked */
	int parking;                 /* its thread is parking it: a finish leaves the resume to it */
	int app_holds;               /* http_deferred_finish not yet called */
	int request_holds;           /* the request has not completed */
	int orphan;                  /* the connection closed while the app held it: finish frees it */
	http_fill_fn fill;           /* fills the response on the connection's thread, or NULL */
	void *fill_ctx;
	struct http_deferred *prev, *next; /* srv->deferreds */
};

/* ---- streams ---- */

/* Clears `suspended` and returns the connection to resume, or NULL. Under s->mu. */
static struct MHD_Connection *stream_claim(struct http_stream *s)
{
	if (!s->suspended)
		return NULL;
	s->suspended = 0;
	return s->mhd;
}

static void stream_unref(struct http_stream *s)
{
	pthread_mutex_lock(&s->mu);
	int last = --s->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (!last)
		return;
	pthread_mutex_destroy(&s->mu);
	xfree(s->data);
	xfree(s);
}

struct http_stream *http_stream_open(struct http_request *req, struct http_response *res,
				     const char *content_type, void (*on_close)(void *ctx), void *ctx)
{
	struct http_conn *c = http_conn_of(req);
	if (c->stream || c->deferred)
		return NULL;
	struct http_stream *s = xcalloc(1, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	s->srv = c->srv;
	s->mhd = c->mhd;
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c->mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
	s->fd = ci ? ci->connect_fd : -1;
	s->refs = 2;
	s->on_close = on_close;
	s->ctx = ctx;
	res->content_type = content_type;
	pthread_mutex_lock(&park_mu);
	s->ended = c->srv->closing; /* opened while stopping: ends at once */
	s->next = c->srv->streams;
	if (s->next)
		s->next->prev = s;
	c->srv->streams = s;
	pthread_mutex_unlock(&park_mu);
	atomic_fetch_add_explicit(&c->srv->streams_open, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->srv->streams_total, 1, memory_order_relaxed);
	c->stream = s;
	return s;
}

enum cd_err http_stream_write(struct http_stream *s, const char *data, size_t len)
{
	pthread_mutex_lock(&s->mu);
	if (s->ended || s->failed || s->gone) {
		pthread_mutex_unlock(&s->mu);
		return CD_ERR_CONFLICT;
	}
	size_t pending = s->len - s->off;
	if (len > HTTP_STREAM_BUF_MAX - pending) {
		/* too slow: never block the writer and never grow past the cap; drop the client */
		s->failed = 1;
		s->off = s->len = 0;
		atomic_fetch_add_explicit(&s->srv->stream_drops, 1, memory_order_relaxed);
		/* MHD may be waiting for the socket to drain, which a stalled client never does:
		 * shutting it down makes that wait fail now instead of at the idle timeout. The fd
		 * is still open: MHD closes it only after destroying the response (gone). */
		if (s->fd >= 0)
			shutdown(s->fd, SHUT_RDWR);
		struct MHD_Connection *wake = stream_claim(s);
		pthread_mutex_unlock(&s->mu);
		if (wake)
			MHD_resume_connection(wake);
		log_warn("stream dropped: the client reads too slowly", "\"backlog\":%zu", pending);
		return CD_ERR_TOOBIG;
	}
	if (s->alloc - s->len < len) {
		if (s->off) {
			memmove(s->data, s->data + s->off, pending);
			s->len = pending;
			s->off = 0;
		}
		if (s->alloc - s->len < len) {
			size_t want = s->alloc ? s->alloc : 4096;
			while (want < s->len + len)
				want *= 2;
			if (want > HTTP_STREAM_BUF_MAX)
				want = HTTP_STREAM_BUF_MAX;
			s->data = xrealloc(s->data, want);
			s->alloc = want;
		}
	}
	if (len)
		memcpy(s->data + s->len, data, len);
	s->len += len;
	struct MHD_Connection *wake = stream_claim(s);
	pthread_mutex_unlock(&s->mu);
	if (wake)
		MHD_resume_connection(wake);
	return CD_OK;
}

void http_stream_end(struct http_stream *s)
{
	pthread_mutex_lock(&s->mu);
	s->ended = 1;
	struct MHD_Connection *wake = stream_claim(s);
	pthread_mutex_unlock(&s->mu);
	if (wake)
		MHD_resume_connection(wake);
}

void http_stream_release(struct http_stream *s)
{
	if (!s)
		return;
	http_stream_end(s);
	stream_unref(s);
}

/* MHD's content reader: hands out the backlog; with none, ends or parks the connection. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct http_stream *s = cls;
	pthread_mutex_lock(&s->mu);
	size_t pending = s->len - s->off;
	if (pending && !s->failed) {
		size_t n = pending < max ? pending : max;
		memcpy(buf, s->data + s->off, n);
		s->off += n;
		if (s->off == s->len) {
			s->off = s->len = 0;
			if (s->alloc > STREAM_KEEP) { /* a burst is over: give the memory back */
				xfree(s->data);
				s->data = NULL;
				s->alloc = 0;
			}
		}
		pthread_mutex_unlock(&s->mu);
		return (ssize_t)n;
	}
	ssize_t rc;
	if (s->failed) {
		rc = MHD_CONTENT_READER_END_WITH_ERROR;
	} else if (s->ended) {
		rc = MHD_CONTENT_READER_END_OF_STREAM;
	} else {
		/* under s->mu: a writer either ran before (and we saw its bytes) or will see
		 * `suspended` and resume us */
		s->suspended = 1;
		MHD_suspend_connection(s->mhd);
		rc = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* MHD destroyed the response: the stream is over. */
static void stream_gone(void *cls)
{
	struct http_stream *s = cls;
	struct http_server *srv = s->srv;
	pthread_mutex_lock(&park_mu);
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	pthread_mutex_unlock(&park_mu);
	atomic_fetch_sub_explicit(&srv->streams_open, 1, memory_order_relaxed);
	pthread_mutex_lock(&s->mu);
	s->gone = 1;
	s->ended = 1;
	s->suspended = 0; /* MHD never destroys the response of a parked connection */
	xfree(s->data);
	s->data = NULL;
	s->off = s->len = s->alloc = 0;
	pthread_mutex_unlock(&s->mu);
	if (s->on_close)
		s->on_close(s->ctx);
	stream_unref(s);
}

enum MHD_Result http_stream_queue(struct http_conn *c)
{
	struct http_stream *s = c->stream;
	struct http_response *res = &c->res;
	c->stream = NULL;
	c->responded = 1;
	c->status = res->status;
	c->bytes = 0;
	/* MHD_SIZE_UNKNOWN: HTTP/1.1 clients get a chunked body, HTTP/1.0 ones a body ended by close */
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, s,
								   stream_gone);
	if (!r) {
		stream_gone(s);
		return MHD_NO;
	}
	enum MHD_Result ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
						     res->content_type ? res->content_type : HTTP_JSON_TYPE);
	for (unsigned i = 0; ok == MHD_YES && i < res->n_headers; i++)
		ok = MHD_add_response_header(r, res->headers[i][0], res->headers[i][1]);
	if (ok == MHD_YES)
		ok = MHD_queue_response(c->mhd, (unsigned)res->status, r);
	MHD_destroy_response(r); /* MHD keeps its own reference; on failure this ends the stream */
	return ok;
}

/* ---- deferred responses ---- */

/* Removes d from its server's list. Under park_mu. */
static void deferred_unlink(struct http_deferred *d)
{
	if (!d->srv)
		return;
	if (d->prev)
		d->prev->next = d->next;
	else
		d->srv->deferreds = d->next;
	if (d->next)
		d->next->prev = d->prev;
	d->prev = d->next = NULL;
}

struct http_deferred *http_defer(struct http_request *req, struct http_response *res)
{
	(void)res;
	struct http_conn *c = http_conn_of(req);
	if (c->stream || c->deferred)
		return NULL;
	struct http_deferred *d = xcalloc(1, sizeof *d);
	d->conn = c;
	d->srv = c->srv;
	d->mhd = c->mhd;
	d->app_holds = 1;
	d->request_holds = 1;
	pthread_mutex_lock(&park_mu);
	d->state = c->srv->closing ? DEFERRED_ABORTED : DEFERRED_PENDING;
	d->next = c->srv->deferreds;
	if (d->next)
		d->next->prev = d;
	c->srv->deferreds = d;
	atomic_fetch_add_explicit(&c->srv->deferred_pending, 1, memory_order_relaxed);
	pthread_mutex_unlock(&park_mu);
	c->deferred = d;
	return d;
}

struct http_response *http_deferred_response(struct http_deferred *d)
{
	return &d->conn->res;
}

struct http_request *http_deferred_request(struct http_deferred *d)
{
	return &d->conn->req;
}

void http_deferred_finish(struct http_deferred *d)
{
	http_deferred_finish_with(d, NULL, NULL);
}

void http_deferred_finish_with(struct http_deferred *d, http_fill_fn fill, void *ctx)
{
	struct MHD_Connection *wake = NULL;
	pthread_mutex_lock(&park_mu);
	if (d->state == DEFERRED_PENDING) {
		d->fill = fill;
		d->fill_ctx = ctx;
		d->state = DEFERRED_DONE;
		if (d->suspended) {
			d->suspended = 0;
			wake = d->mhd;
		}
	}
	d->app_holds = 0;
	if (d->srv)
		atomic_fetch_sub_explicit(&d->srv->deferred_pending, 1, memory_order_relaxed);
	/* the request is over and its connection closed (only after a stop's 503): ours to free */
	int free_all = !d->request_holds && d->orphan;
	if (free_all)
		deferred_unlink(d);
	pthread_mutex_unlock(&park_mu);
	if (wake)
		MHD_resume_connection(wake);
	if (free_all) {
		http_conn_free(d->conn);
		xfree(d);
	}
}

/* The 503 of a deferral the app did not finish before the server stopped. Does not touch
 * c->res, which the app may still be writing. */
static enum MHD_Result queue_aborted(struct http_conn *c)
{
	static const char body[] =
		"{\"error\":{\"code\":\"shutting_down\",\"message\":\"the server is stopping; try again\",\"field\":null}}";
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)(uintptr_t)body,
								 MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	enum MHD_Result ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, HTTP_JSON_TYPE);
	/* close: the connection state stays the app's until it finishes, so no next request on it */
	if (ok == MHD_YES)
		ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	if (ok == MHD_YES)
		ok = MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (ok == MHD_YES)
		ok = MHD_queue_response(c->mhd, 503, r);
	MHD_destroy_response(r);
	c->responded = 1;
	c->status = 503;
	c->bytes = sizeof body - 1;
	return ok;
}

enum MHD_Result http_deferred_answer(struct http_conn *c)
{
	struct http_deferred *d = c->deferred;
	pthread_mutex_lock(&park_mu);
	enum deferred_state st = d->state;
	if (st == DEFERRED_PENDING)
		d->parking = 1;
	pthread_mutex_unlock(&park_mu);
	if (st == DEFERRED_PENDING) {
		MHD_suspend_connection(c->mhd);
		pthread_mutex_lock(&park_mu);
		d->parking = 0;
		int finished = d->state != DEFERRED_PENDING; /* while we parked: nobody resumed it */
		if (!finished)
			d->suspended = 1;
		pthread_mutex_unlock(&park_mu);
		if (finished)
			MHD_resume_connection(c->mhd); /* answered at the next turn of MHD's loop */
		return MHD_YES;
	}
	if (st == DEFERRED_DONE && d->fill) {
		d->fill(&c->req, &c->res, d->fill_ctx); /* on this connection's own thread */
		d->fill = NULL;
	}
	return st == DEFERRED_DONE ? http_queue(c) : queue_aborted(c);
}


int http_deferred_request_done(struct http_conn *c)
{
	struct http_deferred *d = c->deferred;
	if (!d)
		return 1;
	pthread_mutex_lock(&park_mu);
	d->request_holds = 0;
	int app = d->app_holds;
	if (!app) {
		deferred_unlink(d);
		c->deferred = NULL;
	}
	pthread_mutex_unlock(&park_mu);
	if (app)
		return 0; /* aborted by a stop: the app may still write into the arena */
	xfree(d);
	return 1;
}

int http_deferred_conn_closed(struct http_conn *c)
{
	struct http_deferred *d = c->deferred;
	if (!d)
		return 0;
	pthread_mutex_lock(&park_mu);
	int app = d->app_holds;
	d->request_holds = 0;
	if (app) {
		d->orphan = 1;
	} else {
		deferred_unlink(d);
		c->deferred = NULL;
	}
	pthread_mutex_unlock(&park_mu);
	if (!app)
		xfree(d);
	return app;
}

/* ---- stop ---- */

/* Resumes n connections and frees the array. */
static void resume_all(struct MHD_Connection **wake, size_t n)
{
	for (size_t i = 0; i < n; i++)
		MHD_resume_connection(wake[i]);
	xfree(wake);
}

void http_park_close_streams(struct http_server *srv)
{
	pthread_mutex_lock(&park_mu);
	srv->closing = 1;
	size_t n = 0, cap = 0;
	for (struct http_stream *s = srv->streams; s; s = s->next)
		cap++;
	struct MHD_Connection **wake = xcalloc(cap ? cap : 1, sizeof *wake);
	for (struct http_stream *s = srv->streams; s; s = s->next) {
		pthread_mutex_lock(&s->mu);
		s->ended = 1;
		struct MHD_Connection *m = stream_claim(s);
		pthread_mutex_unlock(&s->mu);
		if (m)
			wake[n++] = m;
	}
	pthread_mutex_unlock(&park_mu);
	resume_all(wake, n);
}

unsigned http_park_abort_deferred(struct http_server *srv)
{
	pthread_mutex_lock(&park_mu);
	srv->closing = 1;
	size_t n = 0, cap = 0, aborted = 0;
	for (struct http_deferred *d = srv->deferreds; d; d = d->next)
		cap++;
	struct MHD_Connection **wake = xcalloc(cap ? cap : 1, sizeof *wake);
	for (struct http_deferred *d = srv->deferreds; d; d = d->next) {
		if (d->state != DEFERRED_PENDING)
			continue;
		d->state = DEFERRED_ABORTED;
		aborted++;
		if (d->suspended) {
			d->suspended = 0;
			wake[n++] = d->mhd;
		}
	}
	pthread_mutex_unlock(&park_mu);
	resume_all(wake, n);
	return (unsigned)aborted;
}

void http_park_detach(struct http_server *srv)
{
	pthread_mutex_lock(&park_mu);
	for (struct http_deferred *d = srv->deferreds, *next; d; d = next) {
		next = d->next;
		d->srv = NULL;
		d->prev = d->next = NULL;
	}
	srv->deferreds = NULL;
	srv->streams = NULL; /* MHD destroyed every response, so this is empty already */
	pthread_mutex_unlock(&park_mu);
}
