/* Unit tests for outgoing webhooks: the signature (a vector computed with Python's hmac), its
 * verification (stale, tampered, malformed), backoff with jitter, event filters, URL and events
 * checks, the body; the store's subscriptions (audited without the secret) and delivery queue
 * (due list, retries, dead letters, manual retry, cascade on removal); and the running module
 * against a tiny in-test HTTP receiver: a signed POST arrives, failures are retried and then
 * dead-lettered, and publishing stays quick while the receiver hangs. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "app/events.h"
#include "app/webhooks.h"
#include "store/store.h"
#include "test.h"
#include "tmpstore.h"
#include "util/alloc.h"

static const struct store_actor admin = {"admin", "10.0.0.7"};
static const char secret16[] = "secret-0123456789";

/* ---- pure helpers ---- */

static void test_sign_vector(void)
{
	char sig[WEBHOOKS_SIG_MAX];
	webhooks_sign(secret16, 1700000000, "{\"a\":1}", 7, sig);
	CHECK_STR_EQ(sig, "t=1700000000,v1=692511b180bbcd561410894fd2bedac27a99690e45169490ea808f433b5d0097");
}

static void test_verify(void)
{
	const char *body = "{\"type\":\"case.created\"}";
	size_t len = strlen(body);
	char sig[WEBHOOKS_SIG_MAX];
	webhooks_sign(secret16, 1000, body, len, sig);
	CHECK_INT_EQ(webhooks_verify(secret16, sig, body, len, 1000, 300), CD_OK);
	CHECK_INT_EQ(webhooks_verify(secret16, sig, body, len, 1300, 300), CD_OK);
	CHECK_INT_EQ(webhooks_verify(secret16, sig, body, len, 1301, 300), CD_ERR_RANGE);
	CHECK_INT_EQ(webhooks_verify(secret16, sig, body, len, 699, 300), CD_ERR_RANGE);
	CHECK_INT_EQ(webhooks_verify(secret16, sig, "{\"type\":\"case.closed\"}", len, 1000, 300),
		     CD_ERR_DENIED);
	CHECK_INT_EQ(webhooks_verify("another-secret-xx", sig, body, len, 1000, 300), CD_ERR_DENIED);
	/* the timestamp is signed: moving it breaks the signature */
	char moved[WEBHOOKS_SIG_MAX];
	snprintf(moved, sizeof moved, "t=1001%s", strchr(sig, ','));
	CHECK_INT_EQ(webhooks_verify(secret16, moved, body, len, 1000, 300), CD_ERR_DENIED);
	static const char *const bad[] = {"", "v1=ab", "t=,v1=00", "t=12", "t=12,v1=abc", "t=x,v1=00", NULL};
	for (int i = 0; bad[i]; i++)
		CHECK_INT_EQ(webhooks_verify(secret16, bad[i], body, len, 1000, 300), CD_ERR_INVALID);
	CHECK_INT_EQ(webhooks_verify(secret16, NULL, body, len, 1000, 300), CD_ERR_INVALID);
}

static void test_backoff(void)
{
	struct webhooks_config c;
	webhooks_config_init(&c);
	c.backoff_ms = 1000;
	c.backoff_max_ms = 300000;
	static const struct {
		int attempt;
		int64_t lo, hi; /* rnd = 0 and rnd = max */
	} rows[] = {
	    {1, 500, 1000},	 {2, 1000, 2000},      {3, 2000, 4000},	     {8, 64000, 128000},
	    {9, 128000, 256000}, {10, 150000, 300000}, {40, 150000, 300000},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		CHECK_INT_EQ(webhooks_backoff_ms(&c, rows[i].attempt, 0), rows[i].lo);
		CHECK_INT_EQ(webhooks_backoff_ms(&c, rows[i].attempt, UINT32_MAX), rows[i].hi);
		int64_t mid = webhooks_backoff_ms(&c, rows[i].attempt, UINT32_MAX / 2);
		CHECK(mid > rows[i].lo && mid < rows[i].hi);
	}
	c.backoff_ms = 20;
	CHECK_INT_EQ(webhooks_backoff_ms(&c, 1, UINT32_MAX), 20);
	CHECK_INT_EQ(webhooks_backoff_ms(&c, 3, UINT32_MAX), 80);
}

static void test_event_match(void)
{
	static const struct {
		const char *events, *type;
		bool want;
	} rows[] = {
	    {"", "case.created", true},
	    {"*", "alert.raised", true},
	    {"case.created", "case.created", true},
	    {"case.created", "case.created2", false},
	    {"case.created", "case.create", false},
	    {"case.created,case.overdue", "case.overdue", true},
	    {"case.created,case.overdue", "case.closed", false},
	    {"case.*", "case.closed", true},
	    {"case.*", "alert.raised", false},
	    {"case.*", "casex.y", false},
	    {"alert.*,case.overdue", "case.overdue", true},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		if (webhooks_event_match(rows[i].events, rows[i].type) != rows[i].want) {
			fprintf(stderr, "  row %zu: \"%s\" vs \"%s\"\n", i, rows[i].events, rows[i].type);
			CHECK(0);
		}
}

static void test_checks(void)
{
	static const char *const good_events[] = {
	    "", "*", "case.created", "case.*", "case.created,case.overdue", "alert.raised,case.*", NULL};
	static const char *const bad_events[] = {",",	  "case.created,", ",case.created", "case created",
						 "ca*se", "case.*x",	   "case;drop",	    "*.x",
						 NULL};
	for (int i = 0; good_events[i]; i++)
		CHECK_INT_EQ(webhooks_check_events(good_events[i]), CD_OK);
	for (int i = 0; bad_events[i]; i++)
		if (webhooks_check_events(bad_events[i]) != CD_ERR_INVALID) {
			fprintf(stderr, "  accepted events \"%s\"\n", bad_events[i]);
			CHECK(0);
		}
	static const char *const good_urls[] = {"http://127.0.0.1:8080/hook", "https://example.org/x?y=1",
						"http://[::1]:9/", NULL};
	static const char *const bad_urls[] = {
	    "",	       "ftp://example.org/",   "file:///etc/passwd", "example.org/x",
	    "http://", "http://exa mple.org/", "gopher://x/",	     "HTTP//x",
	    NULL};
	for (int i = 0; good_urls[i]; i++)
		CHECK_INT_EQ(webhooks_check_url(good_urls[i]), CD_OK);
	for (int i = 0; bad_urls[i]; i++)
		if (webhooks_check_url(bad_urls[i]) != CD_ERR_INVALID) {
			fprintf(stderr, "  accepted url \"%s\"\n", bad_urls[i]);
			CHECK(0);
		}
	char a[WEBHOOKS_SECRET_LEN + 1], b[WEBHOOKS_SECRET_LEN + 1];
	webhooks_secret_new(a);
	webhooks_secret_new(b);
	CHECK_INT_EQ(strlen(a), WEBHOOKS_SECRET_LEN);
	CHECK(strcmp(a, b) != 0);
	CHECK(strspn(a, "0123456789abcdef") == WEBHOOKS_SECRET_LEN);
}

static void test_body(void)
{
	char *body = NULL;
	const char *payload = "{\"id\":\"LH1\",\"street\":\"440303003\"}";
	CHECK_INT_EQ(webhooks_body(17, "case.created", "LH1", payload, strlen(payload), &body), CD_OK);
	CHECK_STR_EQ(body,
		     "{\"event_id\":17,\"type\":\"case.created\",\"ref\":\"LH1\",\"data\":{\"id\":\"LH1\","
		     "\"street\":\"440303003\"}}");
	xfree(body);
	CHECK_INT_EQ(webhooks_body(1, "x", "", "{nope", 5, &body), CD_ERR_INVALID);
	CHECK(body == NULL);
}

/* ---- the store ---- */

static struct store *tmpdb_open(struct tmpdb *t)
{
	tmpdb_make(t);
	return open_ok(t);
}

static void tmpdb_close(struct tmpdb *t, struct store *st)
{
	store_close(st);
	tmpdb_remove(t);
}

static int64_t add_hook(struct store *st, const char *name, const char *url, const char *events)
{
	struct store_webhook w;
	memset(&w, 0, sizeof w);
	snprintf(w.name, sizeof w.name, "%s", name);
	snprintf(w.url, sizeof w.url, "%s", url);
	snprintf(w.secret, sizeof w.secret, "%s", secret16);
	snprintf(w.events, sizeof w.events, "%s", events);
	int64_t id = 0;
	CHECK_INT_EQ(store_webhook_add(st, &admin, &w, &id), CD_OK);
	return id;
}

static void test_store_subscriptions(void)
{
	struct tmpdb t;
	struct store *st = tmpdb_open(&t);
	int64_t id = add_hook(st, "fire", "http://127.0.0.1:9/x", "case.created");
	CHECK(id > 0);
	struct store_webhook w;
	memset(&w, 0, sizeof w);
	snprintf(w.name, sizeof w.name, "fire");
	snprintf(w.url, sizeof w.url, "http://127.0.0.1:9/y");
	snprintf(w.secret, sizeof w.secret, "%s", secret16);
	CHECK_INT_EQ(store_webhook_add(st, &admin, &w, NULL), CD_ERR_EXISTS);
	snprintf(w.name, sizeof w.name, "ftp");
	snprintf(w.url, sizeof w.url, "ftp://x/");
	CHECK_INT_EQ(store_webhook_add(st, &admin, &w, NULL), CD_ERR_INVALID);
	snprintf(w.url, sizeof w.url, "https://x/");
	snprintf(w.secret, sizeof w.secret, "short");
	CHECK_INT_EQ(store_webhook_add(st, &admin, &w, NULL), CD_ERR_INVALID);

	struct store_webhook got;
	CHECK_INT_EQ(store_webhook_get(st, "fire", &got), CD_OK);
	CHECK_STR_EQ(got.secret, secret16);
	CHECK_STR_EQ(got.events, "case.created");
	CHECK_INT_EQ(store_webhook_get(st, "nope", &got), CD_ERR_NOTFOUND);
	add_hook(st, "water", "https://example.org/h", "");
	struct store_webhook *v = NULL;
	size_t n = 0;
	CHECK_INT_EQ(store_webhooks_list(st, &v, &n), CD_OK);
	CHECK_INT_EQ(n, 2);
	if (n == 2) {
		CHECK_STR_EQ(v[0].name, "fire");
		CHECK_STR_EQ(v[1].name, "water");
	}
	xfree(v);
	CHECK_INT_EQ(store_webhook_remove(st, &admin, "water"), CD_OK);
	CHECK_INT_EQ(store_webhook_remove(st, &admin, "water"), CD_ERR_NOTFOUND);

	/* audited, never with the secret */
	struct store_audit_entry *e = NULL;
	CHECK_INT_EQ(store_audit_list(st, 0, 3, &e, &n), CD_OK);
	CHECK_INT_EQ(n, 3);
	if (n == 3) {
		CHECK_STR_EQ(e[0].action, "webhook.remove");
		CHECK(e[0].before && strstr(e[0].before, "\"water\""));
		CHECK(e[0].after && strstr(e[0].after, "dropped_pending"));
		CHECK_STR_EQ(e[1].action, "webhook.add");
		CHECK_STR_EQ(e[2].action, "webhook.add");
		CHECK_STR_EQ(e[2].actor, "admin");
		for (size_t i = 0; i < n; i++) {
			CHECK(!e[i].before || !strstr(e[i].before, secret16));
			CHECK(!e[i].after || !strstr(e[i].after, secret16));
		}
	}
	store_audit_list_free(e, n);
	int64_t bad = 0;
	CHECK_INT_EQ(store_audit_verify(st, &bad, NULL, 0), CD_OK);
	tmpdb_close(&t, st);
}

static struct store_webhook_delivery new_delivery(int64_t hook, int64_t event_id, char *body, int64_t next_at)
{
	struct store_webhook_delivery d;
	memset(&d, 0, sizeof d);
	d.webhook_id = hook;
	d.event_id = event_id;
	snprintf(d.type, sizeof d.type, "case.created");
	snprintf(d.ref, sizeof d.ref, "LH%lld", (long long)event_id);
	d.body = body;
	d.next_at_ms = next_at;
	return d;
}

static void test_store_deliveries(void)
{
	struct tmpdb t;
	struct store *st = tmpdb_open(&t);
	int64_t h1 = add_hook(st, "one", "http://127.0.0.1:9/1", "");
	int64_t h2 = add_hook(st, "two", "http://127.0.0.1:9/2", "");
	char body[] = "{\"event_id\":1}";
	struct store_webhook_delivery add[4] = {
	    new_delivery(h1, 1, body, 1000),
	    new_delivery(h1, 2, body, 1000),
	    new_delivery(h1, 3, body, 5000),
	    new_delivery(h2, 1, body, 1000),
	};
	CHECK_INT_EQ(store_webhook_deliveries_commit(st, add, 4, NULL, 0), CD_OK);
	CHECK(add[0].id > 0 && add[1].id > add[0].id && add[3].id > add[2].id);
	/* an unknown subscription refuses the whole batch */
	struct store_webhook_delivery stray = new_delivery(999, 1, body, 0);
	CHECK_INT_EQ(store_webhook_deliveries_commit(st, &stray, 1, NULL, 0), CD_ERR_INVALID);
	int64_t pending = -1, dead = -1;
	CHECK_INT_EQ(store_webhook_counts(st, 0, &pending, &dead), CD_OK);
	CHECK_INT_EQ(pending, 4);
	CHECK_INT_EQ(dead, 0);

	struct store_webhook_delivery *v = NULL;
	size_t n = 0;
	CHECK_INT_EQ(store_webhook_deliveries_due(st, h1, 2000, NULL, 0, 10, &v, &n), CD_OK);
	CHECK_INT_EQ(n, 2);
	if (n == 2) {
		CHECK_INT_EQ(v[0].id, add[0].id);
		CHECK_STR_EQ(v[0].body, body);
		CHECK_STR_EQ(v[0].webhook_name, "one");
		CHECK_STR_EQ(v[0].status, "pending");
	}
	store_webhook_deliveries_free(v, n);
	int64_t skip[1] = {add[0].id}; /* in flight */
	CHECK_INT_EQ(store_webhook_deliveries_due(st, h1, 9000, skip, 1, 10, &v, &n), CD_OK);
	CHECK_INT_EQ(n, 2);
	if (n == 2) {
		CHECK_INT_EQ(v[0].id, add[1].id);
		CHECK_INT_EQ(v[1].id, add[2].id);
	}
	store_webhook_deliveries_free(v, n);

	/* delivered: gone; retry: later; dead: in the dead-letter list */
	struct store_webhook_outcome done[3];
	memset(done, 0, sizeof done);
	done[0] = (struct store_webhook_outcome){add[0].id, STORE_WEBHOOK_DELIVERED, 0, 1, 200, ""};
	done[1] =
	    (struct store_webhook_outcome){add[1].id, STORE_WEBHOOK_RETRY, 8000, 1, 503, "HTTP 503: busy"};
	done[2] =
	    (struct store_webhook_outcome){add[3].id, STORE_WEBHOOK_DEAD, 0, 2, 0, "Connection refused"};
	CHECK_INT_EQ(store_webhook_deliveries_commit(st, NULL, 0, done, 3), CD_OK);
	CHECK_INT_EQ(store_webhook_deliveries_due(st, h1, 7999, NULL, 0, 10, &v, &n), CD_OK);
	CHECK_INT_EQ(n, 1); /* only event 3; event 2 waits for 8000 */
	store_webhook_deliveries_free(v, n);
	CHECK_INT_EQ(store_webhook_deliveries_due(st, h1, 8000, NULL, 0, 10, &v, &n), CD_OK);
	CHECK_INT_EQ(n, 2);
	if (n == 2) {
		CHECK_INT_EQ(v[0].id, add[2].id); /* due at 5000: first */
		CHECK_INT_EQ(v[1].attempts, 1);
		CHECK_INT_EQ(v[1].last_status, 503);
		CHECK_STR_EQ(v[1].last_error, "HTTP 503: busy");
	}
	store_webhook_deliveries_free(v, n);
	CHECK_INT_EQ(store_webhook_deliveries_due(st, h2, 99999, NULL, 0, 10, &v, &n), CD_OK);
	CHECK_INT_EQ(n, 0);
	store_webhook_deliveries_free(v, n);
	CHECK_INT_EQ(store_webhook_deadletters(st, 0, 10, &v, &n), CD_OK);
	CHECK_INT_EQ(n, 1);
	if (n == 1) {
		CHECK_INT_EQ(v[0].id, add[3].id);
		CHECK_STR_EQ(v[0].status, "dead");
		CHECK_STR_EQ(v[0].webhook_name, "two");
		CHECK_INT_EQ(v[0].attempts, 1);
		CHECK_STR_EQ(v[0].last_error, "Connection refused");
	}
	store_webhook_deliveries_free(v, n);
	CHECK_INT_EQ(store_webhook_deadletters(st, h1, 10, &v, &n), CD_OK);
	CHECK_INT_EQ(n, 0);
	store_webhook_deliveries_free(v, n);
	/* an outcome for a delivery that is gone is skipped */
	CHECK_INT_EQ(store_webhook_deliveries_commit(st, NULL, 0, done, 1), CD_OK);
	CHECK_INT_EQ(store_webhook_counts(st, h1, &pending, &dead), CD_OK);
	CHECK_INT_EQ(pending, 2);
	CHECK_INT_EQ(store_webhook_counts(st, h2, &pending, &dead), CD_OK);
	CHECK_INT_EQ(pending, 0);
	CHECK_INT_EQ(dead, 1);

	/* manual retry: dead -> pending, audited; twice is NOTFOUND */
	CHECK_INT_EQ(store_webhook_retry(st, &admin, add[3].id, 123), CD_OK);
	CHECK_INT_EQ(store_webhook_retry(st, &admin, add[3].id, 123), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(store_webhook_retry(st, &admin, add[0].id, 123), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(store_webhook_deliveries_due(st, h2, 123, NULL, 0, 10, &v, &n), CD_OK);
	CHECK_INT_EQ(n, 1);
	if (n == 1)
		CHECK_INT_EQ(v[0].attempts, 0);
	store_webhook_deliveries_free(v, n);
	struct store_audit_entry *e = NULL;
	CHECK_INT_EQ(store_audit_list(st, 0, 1, &e, &n), CD_OK);
	if (n == 1) {
		CHECK_STR_EQ(e[0].action, "webhook.retry");
		CHECK(e[0].before && strstr(e[0].before, "\"dead\""));
		CHECK(e[0].after && strstr(e[0].after, "\"pending\""));
	}
	store_audit_list_free(e, n);

	/* removing a subscription drops its deliveries */
	CHECK_INT_EQ(store_webhook_remove(st, &admin, "one"), CD_OK);
	CHECK_INT_EQ(store_webhook_counts(st, 0, &pending, &dead), CD_OK);
	CHECK_INT_EQ(pending, 1);
	static struct store_webhook_delivery big[STORE_WEBHOOK_BATCH_MAX + 1];
	CHECK_INT_EQ(store_webhook_deliveries_commit(st, big, STORE_WEBHOOK_BATCH_MAX + 1, NULL, 0),
		     CD_ERR_RANGE);
	tmpdb_close(&t, st);
}

/* ---- a tiny HTTP receiver ---- */

enum rx_mode { RX_OK, RX_FAIL_THEN_OK, RX_ALWAYS_500, RX_HANG };

struct rx_req {
	char sig[WEBHOOKS_SIG_MAX + 8];
	char event[64];
	char delivery[32];
	char agent[64];
	char *body;
};

struct receiver {
	int fd;
	int port;
	enum rx_mode mode;
	int fail_first; /* RX_FAIL_THEN_OK: answer 500 this many times */
	atomic_int stop;
	pthread_t thread;
	pthread_mutex_t mu;
	struct rx_req reqs[64]; /* the first 64 requests */
	int nreq;		/* all requests seen */
	int hung[256];		/* RX_HANG: connections held open */
	int nhung;
};

static void header_value(const char *head, const char *name, char *out, size_t cap)
{
	out[0] = '\0';
	const char *p = strcasestr(head, name);
	if (!p)
		return;
	p += strlen(name);
	while (*p == ' ')
		p++;
	size_t n = strcspn(p, "\r\n");
	snprintf(out, cap, "%.*s", (int)n, p);
}

/* Reads one request from fd; answers according to the mode. */
static void rx_serve(struct receiver *rx, int fd)
{
	char buf[65536];
	size_t len = 0;
	char *end = NULL;
	while (!end && len < sizeof buf - 1) {
		ssize_t r = recv(fd, buf + len, sizeof buf - 1 - len, 0);
		if (r <= 0) {
			close(fd);
			return;
		}
		len += (size_t)r;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (!end) {
		close(fd);
		return;
	}
	char cl[32];
	header_value(buf, "Content-Length:", cl, sizeof cl);
	size_t want = (size_t)strtoul(cl, NULL, 10);
	size_t head = (size_t)(end + 4 - buf);
	while (len < head + want && len < sizeof buf - 1) {
		ssize_t r = recv(fd, buf + len, sizeof buf - 1 - len, 0);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	pthread_mutex_lock(&rx->mu);
	int k = rx->nreq++;
	if (k < 64) {
		struct rx_req *q = &rx->reqs[k];
		header_value(buf, "X-Citydesk-Signature:", q->sig, sizeof q->sig);
		header_value(buf, "X-Citydesk-Event:", q->event, sizeof q->event);
		header_value(buf, "X-Citydesk-Delivery:", q->delivery, sizeof q->delivery);
		header_value(buf, "User-Agent:", q->agent, sizeof q->agent);
		q->body = xstrndup(buf + head, len - head);
	}
	int fail = rx->mode == RX_ALWAYS_500 || (rx->mode == RX_FAIL_THEN_OK && k < rx->fail_first);
	if (rx->mode == RX_HANG && rx->nhung < 256) {
		rx->hung[rx->nhung++] = fd;
		pthread_mutex_unlock(&rx->mu);
		return;
	}
	pthread_mutex_unlock(&rx->mu);
	const char *answer =
	    fail ? "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\nboom"
		 : "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
	ssize_t w = send(fd, answer, strlen(answer), MSG_NOSIGNAL);
	(void)w;
	close(fd);
}

static void *rx_main(void *arg)
{
	struct receiver *rx = arg;
	while (!atomic_load(&rx->stop)) {
		struct pollfd p = {rx->fd, POLLIN, 0};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int c = accept(rx->fd, NULL, NULL);
		if (c >= 0)
			rx_serve(rx, c);
	}
	return NULL;
}

static void rx_start(struct receiver *rx, enum rx_mode mode, int fail_first)
{
	memset(rx, 0, sizeof *rx);
	rx->mode = mode;
	rx->fail_first = fail_first;
	pthread_mutex_init(&rx->mu, NULL);
	rx->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	if (rx->fd < 0 || bind(rx->fd, (struct sockaddr *)&a, sizeof a) || listen(rx->fd, 512) ||
	    getsockname(rx->fd, (struct sockaddr *)&a, &al)) {
		perror("receiver");
		exit(2);
	}
	rx->port = ntohs(a.sin_port);
	pthread_create(&rx->thread, NULL, rx_main, rx);
}

static void rx_stop(struct receiver *rx)
{
	atomic_store(&rx->stop, 1);
	pthread_join(rx->thread, NULL);
	close(rx->fd);
	for (int i = 0; i < rx->nhung; i++)
		close(rx->hung[i]);
	for (int i = 0; i < rx->nreq && i < 64; i++)
		xfree(rx->reqs[i].body);
	pthread_mutex_destroy(&rx->mu);
}

static int rx_count(struct receiver *rx)
{
	pthread_mutex_lock(&rx->mu);
	int n = rx->nreq;
	pthread_mutex_unlock(&rx->mu);
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void publish(struct events *bus, const char *type, const char *ref, const char *street)
{
	char payload[256];
	snprintf(payload, sizeof payload, "{\"type\":\"%s\",\"id\":\"%s\",\"street\":\"%s\",\"unit\":\"U1\"}",
		 type, ref, street);
	struct event_msg m = {"case", type, ref, street, "U1", 0, payload};
	CHECK_INT_EQ(events_publish(bus, &m, NULL), CD_OK);
}

static struct webhooks_config fast_config(void)
{
	struct webhooks_config c;
	webhooks_config_init(&c);
	c.backoff_ms = 20;
	c.backoff_max_ms = 200;
	c.max_attempts = 3;
	c.timeout_ms = 400;
	c.connect_timeout_ms = 400;
	c.reload_ms = 50;
	return c;
}

/* Waits up to 15 s for cond(ctx). */
static int wait_for(int (*cond)(void *), void *ctx)
{
	for (int i = 0; i < 1500; i++) {
		if (cond(ctx))
			return 1;
		sleep_ms(10);
	}
	return 0;
}

struct wait_ctx {
	struct receiver *rx;
	struct store *st;
	int n;
};

static int rx_reached(void *p)
{
	struct wait_ctx *w = p;
	return rx_count(w->rx) >= w->n;
}

static int store_settled(void *p)
{
	struct wait_ctx *w = p;
	int64_t pending = -1, dead = -1;
	return store_webhook_counts(w->st, 0, &pending, &dead) == CD_OK && pending == 0 && dead == w->n;
}

/* What every module test starts from: a store, a receiver answering in `mode`, its URL. */
struct module_env {
	struct tmpdb t;
	struct store *st;
	struct receiver rx;
	char url[64];
};

static void env_open(struct module_env *e, enum rx_mode mode, int fail_first)
{
	e->st = tmpdb_open(&e->t);
	rx_start(&e->rx, mode, fail_first);
	snprintf(e->url, sizeof e->url, "http://127.0.0.1:%d/hook", e->rx.port);
}

static void env_close(struct module_env *e)
{
	rx_stop(&e->rx);
	tmpdb_close(&e->t, e->st);
}

static void test_module_delivers_signed(void)
{
	struct module_env e;
	env_open(&e, RX_FAIL_THEN_OK, 2);
	add_hook(e.st, "all", e.url, "case.created,case.overdue");
	/* filtered out: another street, another type */
	struct store_webhook w;
	memset(&w, 0, sizeof w);
	snprintf(w.name, sizeof w.name, "other-street");
	snprintf(w.url, sizeof w.url, "%s", e.url);
	snprintf(w.secret, sizeof w.secret, "%s", secret16);
	snprintf(w.street_code, sizeof w.street_code, "440303999");
	CHECK_INT_EQ(store_webhook_add(e.st, &admin, &w, NULL), CD_OK);
	struct events *bus = events_new(NULL);
	struct webhooks *wh = NULL;
	struct webhooks_config c = fast_config();
	CHECK_INT_EQ(webhooks_start(e.t.path, bus, &c, &wh), CD_OK);
	publish(bus, "case.dispatched", "LH0", "440303003"); /* no subscription wants it */
	publish(bus, "case.created", "LH1", "440303003");
	struct wait_ctx wc = {&e.rx, e.st, 3};
	CHECK(wait_for(rx_reached, &wc)); /* 500, 500, then 204 */
	struct webhooks_stats s;
	for (int i = 0; i < 1500; i++) { /* the 204 is being read */
		webhooks_get_stats(wh, &s);
		if (s.delivered)
			break;
		sleep_ms(10);
	}
	sleep_ms(100);
	CHECK_INT_EQ(rx_count(&e.rx), 3);
	wc.n = 0;
	CHECK(wait_for(store_settled, &wc)); /* the outcome is stored within COMMIT_MS */
	webhooks_get_stats(wh, &s);
	CHECK_INT_EQ(s.delivered, 1);
	CHECK_INT_EQ(s.failed, 2);
	CHECK_INT_EQ(s.queued, 1);
	CHECK_INT_EQ(s.subscriptions, 2);
	for (int i = 0; i < 3 && i < e.rx.nreq; i++) {
		struct rx_req *q = &e.rx.reqs[i];
		CHECK_STR_EQ(q->event, "case.created");
		CHECK_STR_EQ(q->agent, WEBHOOKS_USER_AGENT);
		CHECK_STR_EQ(q->delivery, e.rx.reqs[0].delivery); /* the same delivery each attempt */
		CHECK(q->body && strstr(q->body, "\"type\":\"case.created\"") &&
		      strstr(q->body, "\"ref\":\"LH1\""));
		CHECK_INT_EQ(
		    webhooks_verify(secret16, q->sig, q->body, strlen(q->body), (int64_t)time(NULL), 300),
		    CD_OK);
		CHECK_INT_EQ(webhooks_verify("wrong-secret-123456", q->sig, q->body, strlen(q->body),
					     (int64_t)time(NULL), 300),
			     CD_ERR_DENIED);
	}
	struct buf m;
	buf_init(&m, 8192);
	CHECK_INT_EQ(webhooks_metrics(wh, &m), CD_OK);
	CHECK(m.data && strstr(m.data, "citydesk_webhooks_delivered_total 1\n"));
	buf_release(&m);
	webhooks_stop(wh);
	events_free(bus);
	env_close(&e);
}

/* The bus has no subscriber while no webhook exists (a subscriber that keeps nothing still has
 * the dispatcher woken for every event): one appears within a reload of the first webhook,
 * delivers, and goes when the last webhook is removed. */
static int subscribers_are(struct events *bus, uint64_t n)
{
	struct events_stats es;
	for (int i = 0; i < 1500; i++) {
		events_get_stats(bus, &es);
		if (es.subscribers == n)
			return 1;
		sleep_ms(10);
	}
	return 0;
}

static void test_module_follows_the_bus_only_with_webhooks(void)
{
	struct module_env e;
	env_open(&e, RX_OK, 0);
	struct events *bus = events_new(NULL);
	struct webhooks *wh = NULL;
	struct webhooks_config c = fast_config();
	CHECK_INT_EQ(webhooks_start(e.t.path, bus, &c, &wh), CD_OK);
	CHECK(subscribers_are(bus, 0));
	publish(bus, "case.created", "LH0", "440303003"); /* before any webhook: not delivered */
	add_hook(e.st, "late", e.url, "case.created");
	CHECK(subscribers_are(bus, 1)); /* within a reload (50 ms here) */
	publish(bus, "case.created", "LH1", "440303003");
	struct wait_ctx wc = {&e.rx, e.st, 1};
	CHECK(wait_for(rx_reached, &wc));
	CHECK_INT_EQ(rx_count(&e.rx), 1);
	CHECK(e.rx.nreq >= 1 && e.rx.reqs[0].body && strstr(e.rx.reqs[0].body, "\"ref\":\"LH1\""));
	CHECK_INT_EQ(store_webhook_remove(e.st, &admin, "late"), CD_OK);
	CHECK(subscribers_are(bus, 0));
	webhooks_stop(wh);
	events_free(bus);
	env_close(&e);
}

static void test_module_dead_letters_and_retry(void)
{
	struct module_env e;
	env_open(&e, RX_ALWAYS_500, 0);
	add_hook(e.st, "sink", e.url, "case.*");
	struct events *bus = events_new(NULL);
	struct webhooks *wh = NULL;
	struct webhooks_config c = fast_config();
	CHECK_INT_EQ(webhooks_start(e.t.path, bus, &c, &wh), CD_OK);
	publish(bus, "case.overdue", "LH7", "440303003");
	struct wait_ctx wc = {&e.rx, e.st, 1};
	CHECK(wait_for(store_settled, &wc)); /* pending 0, dead 1 */
	CHECK_INT_EQ(rx_count(&e.rx), 3);	     /* max_attempts */
	struct store_webhook_delivery *v = NULL;
	size_t n = 0;
	CHECK_INT_EQ(store_webhook_deadletters(e.st, 0, 10, &v, &n), CD_OK);
	CHECK_INT_EQ(n, 1);
	int64_t id = n ? v[0].id : 0;
	if (n == 1) {
		CHECK_INT_EQ(v[0].attempts, 3);
		CHECK_INT_EQ(v[0].last_status, 500);
		CHECK_STR_EQ(v[0].last_error, "HTTP 500: boom");
		CHECK_STR_EQ(v[0].type, "case.overdue");
	}
	store_webhook_deliveries_free(v, n);
	/* a manual retry sends it again (three more attempts, then dead again) */
	CHECK_INT_EQ(store_webhook_retry(e.st, &admin, id, 0), CD_OK);
	wc.n = 6;
	CHECK(wait_for(rx_reached, &wc));
	wc.n = 1;
	CHECK(wait_for(store_settled, &wc));
	webhooks_stop(wh);
	events_free(bus);
	env_close(&e);
}

/* A receiver that never answers: publishing stays quick and every event is still queued. */
static void test_module_hanging_receiver(void)
{
	struct module_env e;
	env_open(&e, RX_HANG, 0);
	add_hook(e.st, "slow", e.url, "");
	struct events *bus = events_new(NULL);
	struct webhooks *wh = NULL;
	struct webhooks_config c = fast_config();
	c.timeout_ms = 10000;
	CHECK_INT_EQ(webhooks_start(e.t.path, bus, &c, &wh), CD_OK);
	enum { N = 5000 };
	double t0 = mono();
	for (int i = 0; i < N; i++) {
		char ref[32];
		snprintf(ref, sizeof ref, "LH%06d", i);
		publish(bus, "case.created", ref, "440303003");
		if (i % 20 == 19)
			sleep_ms(1); /* 20 events a millisecond, as at the intake goal */
	}
	double took = mono() - t0;
	struct webhooks_stats s;
	for (int i = 0; i < 1000; i++) {
		webhooks_get_stats(wh, &s);
		if (s.queued == N)
			break;
		sleep_ms(10);
	}
	CHECK_INT_EQ(s.queued, N);
	CHECK_INT_EQ(s.dropped, 0);
	CHECK_INT_EQ(s.delivered, 0);
	CHECK(s.in_flight <= c.per_hook_in_flight);
	int64_t pending = 0;
	CHECK_INT_EQ(store_webhook_counts(e.st, 0, &pending, NULL), CD_OK);
	CHECK_INT_EQ(pending, N);
	printf("  hanging receiver: %d publishes in %.1f ms (incl. 1 ms pauses every 20), all %d queued, "
	       "%llu in flight\n",
	       N, took * 1e3, N, (unsigned long long)s.in_flight);
	double s0 = mono();
	webhooks_stop(wh); /* abandons the hanging requests: deliveries stay pending */
	printf("  stop with %u requests hanging: %.1f ms\n", c.per_hook_in_flight, (mono() - s0) * 1e3);
	CHECK_INT_EQ(store_webhook_counts(e.st, 0, &pending, NULL), CD_OK);
	CHECK_INT_EQ(pending, N);
	events_free(bus);
	env_close(&e);
}

/* Deliveries stored by an earlier process are sent after a restart (at least once). */
static void test_module_sends_stored_after_restart(void)
{
	struct module_env e;
	env_open(&e, RX_OK, 0);
	int64_t h = add_hook(e.st, "later", e.url, "");
	char body[] = "{\"event_id\":5,\"type\":\"case.created\",\"ref\":\"LH5\",\"data\":{}}";
	struct store_webhook_delivery d[20];
	for (int i = 0; i < 20; i++)
		d[i] = new_delivery(h, 5 + i, body, 0);
	CHECK_INT_EQ(store_webhook_deliveries_commit(e.st, d, 20, NULL, 0), CD_OK);
	struct webhooks *wh = NULL;
	struct webhooks_config c = fast_config();
	CHECK_INT_EQ(webhooks_start(e.t.path, NULL, &c, &wh), CD_OK);
	struct wait_ctx wc = {&e.rx, e.st, 20};
	CHECK(wait_for(rx_reached, &wc));
	wc.n = 0;
	CHECK(wait_for(store_settled, &wc));
	webhooks_stop(wh);
	CHECK_INT_EQ(rx_count(&e.rx), 20);
	env_close(&e);
}

/* Figure: deliveries per second to a local receiver (printed, not asserted). */
static void test_module_throughput(void)
{
	struct module_env e;
	env_open(&e, RX_OK, 0);
	add_hook(e.st, "fast", e.url, "");
	struct events *bus = events_new(NULL);
	struct webhooks *wh = NULL;
	struct webhooks_config c = fast_config();
	CHECK_INT_EQ(webhooks_start(e.t.path, bus, &c, &wh), CD_OK);
	enum { N = 2000 };
	double t0 = mono();
	for (int i = 0; i < N; i++) {
		char ref[32];
		snprintf(ref, sizeof ref, "LH%06d", i);
		publish(bus, "case.created", ref, "440303003");
		if (i % 20 == 19)
			sleep_ms(1); /* the bus's ring holds 1,024: do not outrun its dispatcher */
	}
	struct wait_ctx wc = {&e.rx, e.st, N};
	CHECK(wait_for(rx_reached, &wc));
	double took = mono() - t0;
	wc.n = 0;
	CHECK(wait_for(store_settled, &wc));
	struct webhooks_stats s;
	webhooks_get_stats(wh, &s);
	CHECK_INT_EQ(s.lost, 0);
	CHECK_INT_EQ(s.delivered, N);
	printf("  %d deliveries to a one-connection-at-a-time local receiver: %.0f per second\n", N,
	       N / took);
	webhooks_stop(wh);
	events_free(bus);
	env_close(&e);
}

static const struct test_case tests[] = {
    {"sign: HMAC-SHA256 vector", test_sign_vector},
    {"verify: fresh, stale, tampered, malformed", test_verify},
    {"backoff: doubling, cap, jitter bounds", test_backoff},
    {"event filters", test_event_match},
    {"checks: events lists, URLs, secrets", test_checks},
    {"body", test_body},
    {"store: subscriptions audited without the secret", test_store_subscriptions},
    {"store: due, retry, dead letters, manual retry, cascade", test_store_deliveries},
    {"module: signed delivery after two failures, filters", test_module_delivers_signed},
    {"module: subscribed to the bus only while a webhook exists", test_module_follows_the_bus_only_with_webhooks},
    {"module: dead letter after the last attempt, manual retry", test_module_dead_letters_and_retry},
    {"module: hanging receiver does not hold publishers", test_module_hanging_receiver},
    {"module: stored deliveries sent after a restart", test_module_sends_stored_after_restart},
    {"module: throughput to a local receiver", test_module_throughput},
};

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	return test_run_all(__FILE__, tests, sizeof tests / sizeof tests[0]);
}
