/* Tests for net/http streaming and deferred responses: a real server on 127.0.0.1 port 0,
 * raw sockets, chunked bodies decoded here, writers and finishers on other threads, and stops
 * with streams open and deferrals pending (under ASan these also check nothing is used after
 * it is freed). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "net/http.h"
#include "test.h"
#include "util/alloc.h"

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Polls until *flag >= want, up to 10 s (a bound against hanging, not a timing assert). */
static int wait_for(atomic_int *flag, int want)
{
	for (int i = 0; i < 5000; i++) {
		if (atomic_load(flag) >= want)
			return 1;
		sleep_ms(2);
	}
	return 0;
}

/* ---- streams opened by the handler ---- */

#define MAX_SLOTS 64

struct slot {
	struct http_stream *s; /* the handle, until the test releases it */
	atomic_int ready;      /* the handler opened it */
	atomic_int closed;     /* on_close calls */
};

static struct slot slots[MAX_SLOTS];
static atomic_int n_slots;

static void reset_slots(void)
{
	for (int i = 0; i < MAX_SLOTS; i++) {
		slots[i].s = NULL;
		atomic_store(&slots[i].ready, 0);
		atomic_store(&slots[i].closed, 0);
	}
	atomic_store(&n_slots, 0);
}

static void on_close_cb(void *ctx)
{
	struct slot *sl = ctx;
	atomic_fetch_add(&sl->closed, 1);
}

static void h_stream(struct http_request *req, struct http_response *res, void *ctx)
{
	(void)ctx;
	int i = atomic_fetch_add(&n_slots, 1);
	if (i >= MAX_SLOTS) {
		http_error(res, 503, "full", "too many streams in this test", NULL);
		return;
	}
	struct slot *sl = &slots[i];
	if (http_header_add(req, res, "Cache-Control", "no-store"))
		return;
	sl->s = http_stream_open(req, res, "text/event-stream", on_close_cb, sl);
	if (!sl->s) {
		http_error(res, 500, "internal", "no stream", NULL);
		return;
	}
	/* a second open, or a deferral, on the same request is refused */
	int refused = http_stream_open(req, res, "text/plain", NULL, NULL) == NULL && http_defer(req, res) == NULL;
	if (http_stream_write(sl->s, refused ? "hello\n" : "WRONG\n", 6))
		return;
	atomic_store(&sl->ready, 1);
}

/* ---- deferred responses ---- */

#define QUEUE_MAX 1024

/* Deferrals waiting for the finisher thread. */
struct dqueue {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct http_deferred *items[QUEUE_MAX];
	const char *ids[QUEUE_MAX]; /* copied into request memory before deferring */
	size_t n;
	atomic_int deferred; /* handler deferrals so far */
};

static struct dqueue dq = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void h_deferred(struct http_request *req, struct http_response *res, void *ctx)
{
	(void)ctx;
	const char *id = http_strdup(req, http_param(req, "id")); /* read before deferring */
	struct http_deferred *d = http_defer(req, res);
	if (!d || !id) {
		http_error(res, 500, "internal", "defer failed", NULL);
		return;
	}
	if (http_defer(req, res) != NULL || http_stream_open(req, res, "text/plain", NULL, NULL) != NULL) {
		/* refused as documented; nothing else to check here */
	}
	pthread_mutex_lock(&dq.mu);
	dq.items[dq.n] = d;
	dq.ids[dq.n] = id;
	dq.n++;
	pthread_cond_signal(&dq.cond);
	pthread_mutex_unlock(&dq.mu);
	atomic_fetch_add(&dq.deferred, 1);
}

/* Defers and finishes at once, inside the handler. */
static void h_deferred_inline(struct http_request *req, struct http_response *res, void *ctx)
{
	(void)ctx;
	struct http_deferred *d = http_defer(req, res);
	if (!d) {
		http_error(res, 500, "internal", "defer failed", NULL);
		return;
	}
	http_respond_static(http_deferred_response(d), 202, "text/plain", "inline", 6);
	http_deferred_finish(d);
}

/* Fills a deferred response with {"id":..,"len":body_len} using request memory. */
static void fill(struct http_deferred *d, const char *id)
{
	struct http_request *req = http_deferred_request(d);
	struct http_response *res = http_deferred_response(d);
	char *copy = http_strdup(req, id); /* the arena is still usable */
	json_t *v = json_pack("{s:s, s:I}", "id", copy ? copy : "?", "len", (json_int_t)req->body_len);
	http_respond_json(res, 201, v);
	json_decref(v);
}

struct finisher {
	pthread_t t;
	int delay_ms;   /* wait before each finish */
	int stop;       /* set under dq.mu to end the thread */
	atomic_int finished;
};

static void *finisher_main(void *arg)
{
	struct finisher *f = arg;
	pthread_mutex_lock(&dq.mu);
	for (;;) {
		while (!dq.n && !f->stop)
			pthread_cond_wait(&dq.cond, &dq.mu);
		if (!dq.n && f->stop)
			break;
		struct http_deferred *d = dq.items[0];
		const char *id = dq.ids[0];
		memmove(dq.items, dq.items + 1, (dq.n - 1) * sizeof dq.items[0]);
		memmove(dq.ids, dq.ids + 1, (dq.n - 1) * sizeof dq.ids[0]);
		dq.n--;
		pthread_mutex_unlock(&dq.mu);
		if (f->delay_ms)
			sleep_ms(f->delay_ms);
		fill(d, id);
		http_deferred_finish(d);
		atomic_fetch_add(&f->finished, 1);
		pthread_mutex_lock(&dq.mu);
	}
	pthread_mutex_unlock(&dq.mu);
	return NULL;
}

static void finisher_start(struct finisher *f, int delay_ms)
{
	f->delay_ms = delay_ms;
	f->stop = 0;
	atomic_store(&f->finished, 0);
	pthread_create(&f->t, NULL, finisher_main, f);
}

static void finisher_stop(struct finisher *f)
{
	pthread_mutex_lock(&dq.mu);
	f->stop = 1;
	pthread_cond_broadcast(&dq.cond);
	pthread_mutex_unlock(&dq.mu);
	pthread_join(f->t, NULL);
}

static void h_hello(struct http_request *req, struct http_response *res, void *ctx)
{
	(void)req;
	(void)ctx;
	http_respond_static(res, 200, "text/plain", "hi", 2);
}

static const struct http_route routes[] = {
	{"GET", "/stream", h_stream, "stream"},
	{"GET", "/deferred/{id}", h_deferred, "deferred"},
	{"POST", "/deferred/{id}", h_deferred, "deferred_post"},
	{"GET", "/inline", h_deferred_inline, "inline"},
	{"GET", "/hello", h_hello, "hello"},
	{"GET", "/metrics", http_handle_metrics, "metrics"},
};

static struct http_server *start_server(unsigned stop_wait_ms)
{
	struct http_config cfg = {
		.listen = "127.0.0.1:0",
		.routes = routes,
		.n_routes = sizeof routes / sizeof routes[0],
		.threads = 2,
		.timeout_s = 10,
		.stop_wait_ms = stop_wait_ms,
		.access_log = HTTP_LOG_OFF,
	};
	struct http_server *srv = NULL;
	if (http_server_start(&cfg, &srv))
		return NULL;
	return srv;
}

/* ---- a raw client that decodes chunked bodies ---- */

#define RAW_MAX (1u << 20)

struct client {
	int fd;
	char raw[RAW_MAX];  /* bytes received and not yet decoded */
	size_t raw_len;
	char body[RAW_MAX]; /* decoded body */
	size_t body_len;
	char head[4096];    /* status line and headers */
	int status;         /* -1 until the head arrived */
	int chunked;        /* Transfer-Encoding: chunked */
	long content_length;/* -1 when none */
	int ended;          /* the last chunk (or Content-Length, or EOF) arrived */
	int eof;            /* the server closed */
};

static int connect_to(unsigned port, int rcvbuf)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static struct client *client_new(unsigned port, const char *request, int rcvbuf)
{
	struct client *c = xcalloc(1, sizeof *c);
	c->status = -1;
	c->content_length = -1;
	c->fd = connect_to(port, rcvbuf);
	if (c->fd < 0 || send_all(c->fd, request, strlen(request))) {
		if (c->fd >= 0)
			close(c->fd);
		xfree(c);
		return NULL;
	}
	return c;
}

static void client_free(struct client *c)
{
	if (!c)
		return;
	close(c->fd);
	xfree(c);
}

/* Gets ready to read the next response on the same connection. */
static void client_next(struct client *c)
{
	c->status = -1;
	c->ended = 0;
	c->chunked = 0;
	c->content_length = -1;
	c->body_len = 0;
	c->body[0] = '\0';
}

/* Decodes what raw holds: the head, then chunks or a sized body. */
static void decode(struct client *c)
{
	if (c->status < 0) {
		char *end = memmem(c->raw, c->raw_len, "\r\n\r\n", 4);
		if (!end)
			return;
		size_t hl = (size_t)(end - c->raw) + 4;
		size_t copy = hl < sizeof c->head ? hl : sizeof c->head - 1;
		memcpy(c->head, c->raw, copy);
		c->head[copy] = '\0';
		c->status = strncmp(c->head, "HTTP/1.", 7) == 0 ? (int)strtol(c->head + 9, NULL, 10) : 0;
		c->chunked = strcasestr(c->head, "\r\nTransfer-Encoding: chunked") != NULL;
		const char *cl = strcasestr(c->head, "\r\nContent-Length:");
		if (cl)
			c->content_length = strtol(cl + 17, NULL, 10);
		memmove(c->raw, c->raw + hl, c->raw_len - hl);
		c->raw_len -= hl;
	}
	if (c->chunked) {
		while (!c->ended) {
			char *crlf = memmem(c->raw, c->raw_len, "\r\n", 2);
			if (!crlf)
				return;
			size_t size = (size_t)strtoul(c->raw, NULL, 16);
			size_t hdr = (size_t)(crlf - c->raw) + 2;
			if (size == 0) {
				if (c->raw_len < hdr + 2)
					return;
				memmove(c->raw, c->raw + hdr + 2, c->raw_len - hdr - 2);
				c->raw_len -= hdr + 2;
				c->ended = 1;
				return;
			}
			if (c->raw_len < hdr + size + 2)
				return;
			if (c->body_len + size < sizeof c->body) {
				memcpy(c->body + c->body_len, c->raw + hdr, size);
				c->body_len += size;
				c->body[c->body_len] = '\0';
			}
			memmove(c->raw, c->raw + hdr + size + 2, c->raw_len - hdr - size - 2);
			c->raw_len -= hdr + size + 2;
		}
	} else if (c->status >= 0) {
		size_t n = c->raw_len;
		if (c->body_len + n >= sizeof c->body)
			n = sizeof c->body - 1 - c->body_len;
		memcpy(c->body + c->body_len, c->raw, n);
		c->body_len += n;
		c->body[c->body_len] = '\0';
		c->raw_len = 0;
		if (c->content_length >= 0 && c->body_len >= (size_t)c->content_length)
			c->ended = 1;
	}
}

/* Receives once (blocking, up to the socket timeout). Returns bytes read, 0 at EOF, -1 on error. */
static ssize_t pump(struct client *c)
{
	if (c->raw_len == sizeof c->raw)
		return -1;
	ssize_t n = recv(c->fd, c->raw + c->raw_len, sizeof c->raw - c->raw_len, 0);
	if (n > 0) {
		c->raw_len += (size_t)n;
		decode(c);
	} else if (n == 0) {
		c->eof = 1;
		if (!c->chunked && c->content_length < 0)
			c->ended = 1;
	}
	return n;
}

/* Reads until the body holds `needle` (or, with needle NULL, until the body ended or EOF). */
static int read_until(struct client *c, const char *needle)
{
	for (;;) {
		if (needle ? strstr(c->body, needle) != NULL : (c->ended || c->eof))
			return 0;
		if (c->eof)
			return -1;
		if (pump(c) < 0)
			return -1;
	}
}

/* ---- stream tests ---- */

static void test_stream_write_from_another_thread_then_end(void)
{
	reset_slots();
	struct http_server *srv = start_server(2000);
	CHECK(srv != NULL);
	if (!srv)
		return;
	struct client *c = client_new(http_server_port(srv), "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	CHECK(c != NULL);
	CHECK(wait_for(&slots[0].ready, 1));
	CHECK_INT_EQ(read_until(c, "hello\n"), 0);
	CHECK_INT_EQ(c->status, 200);
	CHECK(c->chunked);
	CHECK(strcasestr(c->head, "\r\nContent-Type: text/event-stream") != NULL);
	CHECK(strcasestr(c->head, "\r\nCache-Control: no-store") != NULL);
	/* the connection is parked now; each write wakes it */
	for (int i = 0; i < 3; i++) {
		char line[32];
		int n = snprintf(line, sizeof line, "data: %d\n\n", i);
		CHECK_INT_EQ(http_stream_write(slots[0].s, line, (size_t)n), CD_OK);
		CHECK_INT_EQ(read_until(c, line), 0);
		sleep_ms(20);
	}
	CHECK_INT_EQ(atomic_load(&slots[0].closed), 0);
	CHECK_INT_EQ(http_stream_write(slots[0].s, "last\n", 5), CD_OK);
	http_stream_end(slots[0].s);
	CHECK_INT_EQ(read_until(c, NULL), 0);
	CHECK(c->ended);
	CHECK_STR_EQ(c->body, "hello\ndata: 0\n\ndata: 1\n\ndata: 2\n\nlast\n");
	CHECK(wait_for(&slots[0].closed, 1));
	CHECK_INT_EQ(http_stream_write(slots[0].s, "x", 1), CD_ERR_CONFLICT);
	/* the connection is kept alive and serves the next request */
	CHECK_INT_EQ(send_all(c->fd, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", 32), 0);
	client_next(c);
	CHECK_INT_EQ(read_until(c, "hi"), 0);
	CHECK_INT_EQ(c->status, 200);
	http_stream_release(slots[0].s);
	client_free(c);
	http_server_stop(srv);
	CHECK_INT_EQ(atomic_load(&slots[0].closed), 1);
}

struct writer_arg {
	struct http_stream *s;
	int id;
	int lines;
	int failures;
};

static void *writer_main(void *arg)
{
	struct writer_arg *w = arg;
	for (int i = 0; i < w->lines; i++) {
		char line[64];
		int n = snprintf(line, sizeof line, "w%d-%04d|", w->id, i);
		if (http_stream_write(w->s, line, (size_t)n))
			w->failures++;
	}
	return NULL;
}

static void test_stream_concurrent_writers(void)
{
	reset_slots();
	struct http_server *srv = start_server(2000);
	CHECK(srv != NULL);
	if (!srv)
		return;
	struct client *c = client_new(http_server_port(srv), "GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
	CHECK(c != NULL && wait_for(&slots[0].ready, 1));
	if (!c)
		return;
	enum { WRITERS = 4, LINES = 1000 }; /* 4 x 1000 x 8 bytes: well under the backlog cap */
	struct writer_arg w[WRITERS];
	pthread_t t[WRITERS];
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer_arg){.s = slots[0].s, .id = i, .lines = LINES};
		pthread_create(&t[i], NULL, writer_main, &w[i]);
	}
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT_EQ(w[i].failures, 0);
	}
	http_stream_end(slots[0].s);
	CHECK_INT_EQ(read_until(c, NULL), 0);
	CHECK(c->ended);
	/* every write arrived whole, and each writer's lines in its order */
	CHECK_INT_EQ(c->body_len, 6 + WRITERS * LINES * 8);
	int next[WRITERS] = {0};
	int bad = 0;
	for (const char *p = c->body + 6; *p; p += 8) {
		int id = p[1] - '0';
		int seq = (int)strtol(p + 3, NULL, 10);
		if (p[0] != 'w' || id < 0 || id >= WRITERS || p[7] != '|' || seq != next[id])
			bad++;
		else
			next[id]++;
	}
	CHECK_INT_EQ(bad, 0);
	for (int i = 0; i < WRITERS; i++)
		CHECK_INT_EQ(next[i], LINES);
	client_free(c);
	CHECK(wait_for(&slots[0].closed, 1));
	http_stream_release(slots[0].s);
	http_server_stop(srv);
}

static void test_stream_client_gone(void)
{
	reset_slots();
	struct http_server *srv = start_server(2000);
	CHECK(srv != NULL);
	if (!srv)
		return;
	struct client *c = client_new(http_server_port(srv), "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	CHECK(c != NULL && wait_for(&slots[0].ready, 1));
	if (!c)
		return;
	CHECK_INT_EQ(read_until(c, "hello\n"), 0);
	client_free(c);
	/* a parked connection notices the close only when woken: writes (heartbeats) do that */
	int writes = 0;
	for (int i = 0; i < 2000 && !atomic_load(&slots[0].closed); i++) {
		if (http_stream_write(slots[0].s, ": ping\n\n", 8) == CD_OK)
			writes++;
		sleep_ms(5);
	}
	CHECK_INT_EQ(atomic_load(&slots[0].closed), 1);
	CHECK(writes >= 1);
	CHECK_INT_EQ(http_stream_write(slots[0].s, "x", 1), CD_ERR_CONFLICT);
	http_stream_release(slots[0].s);
	/* the server goes on serving */
	struct client *h = client_new(http_server_port(srv), "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
	CHECK(h != NULL);
	if (h) {
		CHECK_INT_EQ(read_until(h, "hi"), 0);
		client_free(h);
	}
	http_server_stop(srv);
}

/* Reads the metrics page and returns the value of `name` (a line "name value"), -1 if absent. */
static long metric(unsigned port, const char *name)
{
	struct client *c = client_new(port, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
	if (!c)
		return -1;
	long v = -1;
	if (read_until(c, NULL) == 0) {
		char key[128];
		snprintf(key, sizeof key, "\n%s ", name);
		const char *p = strstr(c->body, key);
		if (p)
			v = strtol(p + strlen(key), NULL, 10);
	}
	client_free(c);
	return v;
}

static void test_stream_slow_client_dropped(void)
{
	reset_slots();
	struct http_server *srv = start_server(2000);
	CHECK(srv != NULL);
	if (!srv)
		return;
	unsigned port = http_server_port(srv);
	CHECK_INT_EQ(metric(port, "citydesk_http_stream_drops_total"), 0);
	/* a client that never reads, with a small receive buffer */
	struct client *c = client_new(port, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n", 4096);
	CHECK(c != NULL && wait_for(&slots[0].ready, 1));
	if (!c)
		return;
	static char chunk[16384];
	memset(chunk, 'x', sizeof chunk);
	enum cd_err rc = CD_OK;
	size_t written = 0;
	double t0 = now_s();
	/* the kernel's socket buffers take some first, then the backlog fills to its cap */
	for (int i = 0; i < 100000 && rc == CD_OK; i++) {
		rc = http_stream_write(slots[0].s, chunk, sizeof chunk);
		if (rc == CD_OK)
			written += sizeof chunk;
		else
			break;
		if (i % 16 == 15)
			sleep_ms(1); /* let MHD move bytes into the socket */
	}
	double took = now_s() - t0;
	CHECK_INT_EQ(rc, CD_ERR_TOOBIG);
	CHECK(written >= HTTP_STREAM_BUF_MAX - sizeof chunk);
	printf("  slow client dropped after %zu KiB written in %.0f ms (writer never blocked)\n", written / 1024,
	       took * 1000);
	CHECK(wait_for(&slots[0].closed, 1));
	CHECK_INT_EQ(http_stream_write(slots[0].s, "x", 1), CD_ERR_CONFLICT);
	http_stream_release(slots[0].s);
	CHECK_INT_EQ(metric(port, "citydesk_http_stream_drops_total"), 1);
	CHECK_INT_EQ(metric(port, "citydesk_http_streams_total"), 1);
	CHECK_INT_EQ(metric(port, "citydesk_http_streams_open"), 0);
	client_free(c);
	http_server_stop(srv);
}

static void test_stream_head_request(void)
{
	reset_slots();
	struct http_server *srv = start_server(2000);
	CHECK(srv != NULL);
	if (!srv)
		return;
	struct client *c = client_new(http_server_port(srv), "HEAD /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
	CHECK(c != NULL);
	CHECK(wait_for(&slots[0].closed, 1)); /* no body to send: the response is over at once */
	if (c) {
		while (c->status < 0 && pump(c) > 0)
			;
		CHECK_INT_EQ(c->status, 200);
	}
	http_stream_release(slots[0].s);
	client_free(c);
	http_server_stop(srv);
}

static void test_stop_with_open_streams(void)
{
	reset_slots();
	struct http_server *srv = start_server(5000);
	CHECK(srv != NULL);
	if (!srv)
		return;
	enum { N = 5 };
	struct client *c[N];
	for (int i = 0; i < N; i++) {
		c[i] = client_new(http_server_port(srv), "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n", 0);
		CHECK(c[i] != NULL);
	}
	CHECK(wait_for(&n_slots, N));
	for (int i = 0; i < N; i++) {
		CHECK(wait_for(&slots[i].ready, 1));
		if (c[i])
			CHECK_INT_EQ(read_until(c[i], "hello\n"), 0);
	}
	/* one stream keeps a little backlog: it is flushed before the end */
	CHECK_INT_EQ(http_stream_write(slots[0].s, "bye\n", 4), CD_OK);
	double t0 = now_s();
	http_server_stop(srv); /* must not wait for streams that never end by themselves */
	double took = now_s() - t0;
	printf("  stop with %d open streams took %.0f ms (stop_wait_ms 5000)\n", N, took * 1000);
	for (int i = 0; i < N; i++) {
		CHECK_INT_EQ(atomic_load(&slots[i].closed), 1);
		CHECK_INT_EQ(http_stream_write(slots[i].s, "x", 1), CD_ERR_CONFLICT);
		http_stream_release(slots[i].s);
		if (!c[i])
			continue;
		CHECK_INT_EQ(read_until(c[i], NULL), 0);
		CHECK(c[i]->ended); /* a properly terminated chunked body */
		client_free(c[i]);
	}
}

/* ---- deferred tests ---- */

static void test_deferred_finished_later(void)
{
	struct http_server *srv = start_server(2000);
	CHECK(srv != NULL);
	if (!srv)
		return;
	struct finisher f;
	finisher_start(&f, 50);
	atomic_store(&dq.deferred, 0);
	struct client *c = client_new(http_server_port(srv), "GET /deferred/abc HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	CHECK(c != NULL);
	if (c) {
		CHECK_INT_EQ(read_until(c, NULL), 0);
		CHECK_INT_EQ(c->status, 201);
		CHECK_STR_EQ(c->body, "{\"id\":\"abc\",\"len\":0}");
		/* the same connection carries the next request, with a body this time */
		const char post[] = "POST /deferred/second HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello";
		CHECK_INT_EQ(send_all(c->fd, post, sizeof post - 1), 0);
		client_next(c);
		CHECK_INT_EQ(read_until(c, NULL), 0);
		CHECK_INT_EQ(c->status, 201);
		CHECK_STR_EQ(c->body, "{\"id\":\"second\",\"len\":5}");
		client_free(c);
	}
	struct client *i = client_new(http_server_port(srv), "GET /inline HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
	CHECK(i != NULL);
	if (i) {
		CHECK_INT_EQ(read_until(i, NULL), 0);
		CHECK_INT_EQ(i->status, 202);
		CHECK_STR_EQ(i->body, "inline");
		client_free(i);
	}
	finisher_stop(&f);
	CHECK_INT_EQ(atomic_load(&f.finished), 2);
	http_server_stop(srv);
}

struct many_arg {
	unsigned port;
	int first, count; /* ids first..first+count-1, one keep-alive connection */
	int ok;
};

static void *many_main(void *arg)
{
	struct many_arg *m = arg;
	struct client *c = client_new(m->port, "", 0);
	if (!c)
		return NULL;
	for (int i = 0; i < m->count; i++) {
		char req[128], want[64];
		int id = m->first + i;
		snprintf(req, sizeof req, "GET /deferred/%d HTTP/1.1\r\nHost: t\r\n\r\n", id);
		snprintf(want, sizeof want, "{\"id\":\"%d\",\"len\":0}", id);
		if (send_all(c->fd, req, strlen(req)))
			break;
		client_next(c);
		if (read_until(c, NULL) || c->status != 201 || strcmp(c->body, want) != 0)
			break;
		m->ok++;
	}
	client_free(c);
	return NULL;
}

static void test_deferred_many_concurrent(void)
{
	struct http_server *srv = start_server(2000);
	CHECK(srv != NULL);
	if (!srv)
		return;
	struct finisher f[2];
	finisher_start(&f[0], 1);
	finisher_start(&f[1], 0);
	enum { CLIENTS = 64, EACH = 20 };
	static struct many_arg m[CLIENTS];
	pthread_t t[CLIENTS];
	double t0 = now_s();
	for (int i = 0; i < CLIENTS; i++) {
		m[i] = (struct many_arg){.port = http_server_port(srv), .first = i * 1000, .count = EACH};
		pthread_create(&t[i], NULL, many_main, &m[i]);
	}
	int ok = 0;
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(t[i], NULL);
		ok += m[i].ok;
	}
	double took = now_s() - t0;
	CHECK_INT_EQ(ok, CLIENTS * EACH);
	printf("  %d deferred requests from %d keep-alive clients, 2 finisher threads: %.0f ms\n", ok, CLIENTS,
	       took * 1000);
	finisher_stop(&f[0]);
	finisher_stop(&f[1]);
	CHECK_INT_EQ(metric(http_server_port(srv), "citydesk_http_deferred_pending"), 0);
	http_server_stop(srv);
}

static void *get_status_main(void *arg)
{
	struct many_arg *m = arg;
	char req[128];
	snprintf(req, sizeof req, "GET /deferred/%d HTTP/1.1\r\nHost: t\r\n\r\n", m->first);
	struct client *c = client_new(m->port, req, 0);
	if (!c)
		return NULL;
	if (read_until(c, NULL) == 0)
		m->ok = c->status;
	client_free(c);
	return NULL;
}

static void test_stop_with_pending_deferred(void)
{
	struct http_server *srv = start_server(300);
	CHECK(srv != NULL);
	if (!srv)
		return;
	atomic_store(&dq.deferred, 0);
	enum { N = 6 };
	struct many_arg m[N];
	pthread_t t[N];
	for (int i = 0; i < N; i++) {
		m[i] = (struct many_arg){.port = http_server_port(srv), .first = i};
		pthread_create(&t[i], NULL, get_status_main, &m[i]);
	}
	CHECK(wait_for(&dq.deferred, N));
	CHECK_INT_EQ(metric(http_server_port(srv), "citydesk_http_deferred_pending"), N);
	/* nobody finishes them: after stop_wait_ms they are answered 503 */
	http_server_stop(srv);
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT_EQ(m[i].ok, 503);
	}
	/* the app finishes late, after the server is gone: allowed, and frees what is left */
	struct finisher f;
	finisher_start(&f, 0);
	finisher_stop(&f);
	CHECK_INT_EQ(atomic_load(&f.finished), N);
}

static void test_stop_lets_deferred_finish(void)
{
	struct http_server *srv = start_server(3000);
	CHECK(srv != NULL);
	if (!srv)
		return;
	atomic_store(&dq.deferred, 0);
	enum { N = 4 };
	struct many_arg m[N];
	pthread_t t[N];
	for (int i = 0; i < N; i++) {
		m[i] = (struct many_arg){.port = http_server_port(srv), .first = 100 + i};
		pthread_create(&t[i], NULL, get_status_main, &m[i]);
	}
	CHECK(wait_for(&dq.deferred, N));
	struct finisher f;
	finisher_start(&f, 100); /* finishes during the stop's wait */
	http_server_stop(srv);
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT_EQ(m[i].ok, 201);
	}
	finisher_stop(&f);
	CHECK_INT_EQ(atomic_load(&f.finished), N);
}

static const struct test_case tests[] = {
	{"stream_write_from_another_thread_then_end", test_stream_write_from_another_thread_then_end},
	{"stream_concurrent_writers", test_stream_concurrent_writers},
	{"stream_client_gone", test_stream_client_gone},
	{"stream_slow_client_dropped", test_stream_slow_client_dropped},
	{"stream_head_request", test_stream_head_request},
	{"stop_with_open_streams", test_stop_with_open_streams},
	{"deferred_finished_later", test_deferred_finished_later},
	{"deferred_many_concurrent", test_deferred_many_concurrent},
	{"stop_with_pending_deferred", test_stop_with_pending_deferred},
	{"stop_lets_deferred_finish", test_stop_lets_deferred_finish},
};

TEST_MAIN(tests)
