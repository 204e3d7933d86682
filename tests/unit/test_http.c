/* Tests for net/http: a real server on 127.0.0.1 port 0 with a small route table, spoken to
 * over raw sockets (no client library) so every byte on the wire is under the test's control. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "net/http.h"
#include "test.h"
#include "util/alloc.h"

/* ---- the routes under test ---- */

static atomic_int slow_started;

static void h_hello(struct http_request *req, struct http_response *res, void *ctx)
{
	(void)req;
	(void)ctx;
	static const char body[] = "{\"hello\":\"world\"}";
	http_respond_static(res, 200, HTTP_JSON_TYPE, body, sizeof body - 1);
}

static void h_item(struct http_request *req, struct http_response *res, void *ctx)
{
	(void)ctx;
	json_t *v = json_pack("{s:s?, s:s}", "id", http_param(req, "id"), "route", req->route);
	http_respond_json(res, 200, v);
	json_decref(v);
}

static void h_item_delete(struct http_request *req, struct http_response *res, void *ctx)
{
	(void)req;
	(void)ctx;
	res->status = 204;
}

static void h_action(struct http_request *req, struct http_response *res, void *ctx)
{
	(void)ctx;
	json_t *v = json_pack("{s:s?, s:s?, s:I}", "id", http_param(req, "id"), "action",
			      http_param(req, "action"), "body_len", (json_int_t)req->body_len);
	http_respond_json(res, 201, v);
	json_decref(v);
}

/* Echoes query parameters a and b as "absent", "empty" or their value. */
static void h_query(struct http_request *req, struct http_response *res, void *ctx)
{
	(void)ctx;
	const char *names[] = {"a", "b"};
	res->content_type = "text/plain; charset=utf-8";
	for (size_t i = 0; i < 2; i++) {
		const char *v = http_query_get(req, names[i]);
		if (buf_printf(&res->body, "%s=%s;", names[i], !v ? "(absent)" : !*v ? "(empty)" : v))
			http_error(res, 500, "internal", "too big", NULL);
	}
}

static void h_json(struct http_request *req, struct http_response *res, void *ctx)
{
	(void)ctx;
	static const char *const allowed[] = {"name", "count", NULL};
	json_t *body;
	if (!http_read_json(req, res, &body))
		return;
	struct json_problem p;
	const char *name = NULL;
	long long count = 1;
	if (json_check_fields(body, allowed, &p) ||
	    json_get_string(body, "name", JSON_REQUIRED | JSON_NONEMPTY, 10, &name, &p) ||
	    json_get_int(body, "count", JSON_OPTIONAL, 0, 100, &count, &p)) {
		http_error_json(res, &p);
	} else {
		json_t *v = json_pack("{s:s, s:I}", "name", name, "count", (json_int_t)count);
		http_respond_json(res, 200, v);
		json_decref(v);
	}
	json_decref(body);
}

static void h_slow(struct http_request *req, struct http_response *res, void *ctx)
{
	(void)req;
	(void)ctx;
	atomic_store(&slow_started, 1);
	struct timespec ts = {0, 300 * 1000 * 1000};
	nanosleep(&ts, NULL);
	http_respond_static(res, 200, "text/plain", "slow done", 9);
}

static void h_headers(struct http_request *req, struct http_response *res, void *ctx)
{
	(void)ctx;
	const char *auth = http_header(req, "authorization");
	int bad = http_header_add(req, res, "X-Evil", "a\r\nSet-Cookie: x=1") == CD_ERR_INVALID;
	if (http_header_add(req, res, "Retry-After", "7") ||
	    http_header_add(req, res, "Content-Disposition", "attachment; filename=\"x.csv\"")) {
		http_error(res, 500, "internal", "header_add failed", NULL);
		return;
	}
	json_t *v = json_pack("{s:s?, s:s, s:b}", "auth", auth, "remote", req->remote, "injection_refused", bad);
	http_respond_json(res, 200, v);
	json_decref(v);
}

/* Allocates a lot from the request arena and checks nothing overlaps. */
static void h_arena(struct http_request *req, struct http_response *res, void *ctx)
{
	(void)ctx;
	char *p[500];
	int ok = 1;
	for (int i = 0; i < 500; i++) {
		p[i] = http_alloc(req, 100 + (size_t)i);
		if (!p[i] || ((uintptr_t)p[i] % _Alignof(max_align_t)) != 0) {
			ok = 0;
			break;
		}
		memset(p[i], i & 0xff, 100 + (size_t)i);
	}
	for (int i = 0; ok && i < 500; i++)
		for (int k = 0; k < 100 + i; k++)
			if ((unsigned char)p[i][k] != (i & 0xff))
				ok = 0;
	char *s = http_strdup(req, "copy me");
	ok = ok && s && strcmp(s, "copy me") == 0;
	ok = ok && http_alloc(req, 64u * 1024 * 1024) == NULL; /* over the per-request cap */
	json_t *v = json_pack("{s:b}", "ok", ok);
	http_respond_json(res, 200, v);
	json_decref(v);
}

static enum cd_err store_bytes_hook(struct buf *out, void *ctx)
{
	(void)ctx;
	return buf_puts(out, "# TYPE citydesk_store_bytes gauge\ncitydesk_store_bytes 42\n");
}

static const struct http_route routes[] = {
	{"GET", "/hello", h_hello, "hello"},
	{"GET", "/items/{id}", h_item, "item_get"},
	{"DELETE", "/items/{id}", h_item_delete, "item_delete"},
	{"POST", "/items/{id}/actions/{action}", h_action, "item_action"},
	{"GET", "/query", h_query, "query"},
	{"POST", "/json", h_json, "json"},
	{"GET", "/slow", h_slow, "slow"},
	{"GET", "/headers", h_headers, "headers"},
	{"GET", "/arena", h_arena, "arena"},
	{"GET", "/metrics", http_handle_metrics, "metrics"},
};

static struct http_server *start_server(int access_log)
{
	struct http_config cfg = {
		.listen = "127.0.0.1:0",
		.routes = routes,
		.n_routes = sizeof routes / sizeof routes[0],
		.threads = 2,
		.timeout_s = 10,
		.stop_wait_ms = 3000,
		.access_log = access_log,
		.metrics_hook = store_bytes_hook,
	};
	struct http_server *srv = NULL;
	if (http_server_start(&cfg, &srv))
		return NULL;
	return srv;
}

/* ---- a tiny raw HTTP client ---- */

#define REPLY_MAX (2u * 1024 * 1024)

struct reply {
	int status;      /* -1 when nothing parseable came back */
	char head[8192]; /* status line and headers, NUL-terminated */
	char *body;      /* NUL-terminated body */
	size_t body_len;
};

static char reply_store[REPLY_MAX + 1];

static int connect_to(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Finds header `name` (case-insensitive) in r->head and copies its value into out. */
static const char *reply_header(const struct reply *r, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2;
		if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;
			while (*v == ' ')
				v++;
			const char *end = strstr(v, "\r\n");
			size_t l = end ? (size_t)(end - v) : strlen(v);
			if (l >= cap)
				l = cap - 1;
			memcpy(out, v, l);
			out[l] = '\0';
			return out;
		}
	}
	return NULL;
}

/* Reads one response from fd. A HEAD response has headers only. */
static int read_reply(int fd, struct reply *r, int head_only)
{
	size_t have = 0;
	char *end = NULL;
	r->status = -1;
	r->body = reply_store;
	r->body_len = 0;
	reply_store[0] = '\0';
	r->head[0] = '\0';
	while (!end) {
		if (have == REPLY_MAX)
			return -1;
		ssize_t n = recv(fd, reply_store + have, REPLY_MAX - have, 0);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		reply_store[have] = '\0';
		end = strstr(reply_store, "\r\n\r\n");
	}
	size_t head_len = (size_t)(end - reply_store) + 2;
	if (head_len >= sizeof r->head)
		return -1;
	memcpy(r->head, reply_store, head_len);
	r->head[head_len] = '\0';
	if (strncmp(r->head, "HTTP/1.", 7) != 0)
		return -1;
	r->status = (int)strtol(r->head + 9, NULL, 10);
	size_t body_start = head_len + 2;
	char cl[32];
	long want = -1;
	if (reply_header(r, "Content-Length", cl, sizeof cl))
		want = strtol(cl, NULL, 10);
	if (head_only)
		want = 0;
	memmove(reply_store, reply_store + body_start, have - body_start);
	have -= body_start;
	while (want < 0 || have < (size_t)want) {
		if (have == REPLY_MAX)
			break;
		ssize_t n = recv(fd, reply_store + have, REPLY_MAX - have, 0);
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	if (want >= 0 && have > (size_t)want)
		have = (size_t)want;
	reply_store[have] = '\0';
	r->body_len = have;
	return want >= 0 && have < (size_t)want ? -1 : 0;
}

/* Sends one raw request on a new connection and reads the reply. */
static int exchange(unsigned port, const char *raw, size_t len, struct reply *r)
{
	int fd = connect_to(port);
	if (fd < 0)
		return -1;
	int rc = send_all(fd, raw, len);
	if (!rc)
		rc = read_reply(fd, r, strncmp(raw, "HEAD ", 5) == 0);
	close(fd);
	return rc;
}

static int get(unsigned port, const char *path, struct reply *r)
{
	char req[1024];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
	return exchange(port, req, (size_t)n, r);
}

static int post(unsigned port, const char *path, const char *body, size_t len, struct reply *r)
{
	char *req = xmalloc(len + 256);
	int n = snprintf(req, 256, "POST %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", path, len);
	memcpy(req + n, body, len);
	int rc = exchange(port, req, (size_t)n + len, r);
	xfree(req);
	return rc;
}

/* The JSON error body as its parts; 0 when the body has exactly the documented shape. */
static int error_parts(const struct reply *r, char *code, char *field, char *message, size_t cap)
{
	json_error_t e;
	json_t *v = json_loadb(r->body, r->body_len, 0, &e);
	if (!v)
		return -1;
	json_t *err = json_object_get(v, "error");
	int rc = -1;
	if (json_is_object(v) && json_object_size(v) == 1 && json_is_object(err) && json_object_size(err) == 3 &&
	    json_is_string(json_object_get(err, "code")) && json_is_string(json_object_get(err, "message"))) {
		json_t *f = json_object_get(err, "field");
		snprintf(code, cap, "%s", json_string_value(json_object_get(err, "code")));
		snprintf(message, cap, "%s", json_string_value(json_object_get(err, "message")));
		if (json_is_null(f)) {
			snprintf(field, cap, "(null)");
			rc = 0;
		} else if (json_is_string(f)) {
			snprintf(field, cap, "%s", json_string_value(f));
			rc = 0;
		}
	}
	json_decref(v);
	return rc;
}

/* ---- tests ---- */

static struct http_server *shared;
static unsigned port;

static void test_start(void)
{
	shared = start_server(HTTP_LOG_OFF);
	CHECK(shared != NULL);
	port = shared ? http_server_port(shared) : 0;
	CHECK(port > 0);
}

static void test_not_found(void)
{
	struct reply r;
	char code[64], field[64], msg[256], ct[128];
	CHECK_INT_EQ(get(port, "/nope", &r), 0);
	CHECK_INT_EQ(r.status, 404);
	CHECK_STR_EQ(reply_header(&r, "Content-Type", ct, sizeof ct), "application/json; charset=utf-8");
	CHECK_STR_EQ(r.body, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such resource\",\"field\":null}}");
	CHECK_INT_EQ(error_parts(&r, code, field, msg, 64), 0);
	/* a trailing slash or an empty segment is a different path */
	CHECK_INT_EQ(get(port, "/hello/", &r), 0);
	CHECK_INT_EQ(r.status, 404);
	CHECK_INT_EQ(get(port, "/items//", &r), 0);
	CHECK_INT_EQ(r.status, 404);
}

static void test_method_not_allowed(void)
{
	struct reply r;
	char allow[128], code[64], field[64], msg[256];
	const char req[] = "PUT /items/5 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
	CHECK_INT_EQ(exchange(port, req, sizeof req - 1, &r), 0);
	CHECK_INT_EQ(r.status, 405);
	CHECK_STR_EQ(reply_header(&r, "Allow", allow, sizeof allow), "GET, HEAD, DELETE");
	CHECK_INT_EQ(error_parts(&r, code, field, msg, 64), 0);
	CHECK_STR_EQ(code, "method_not_allowed");
	/* a 405 with a body is answered early and the body discarded */
	const char req2[] = "POST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello";
	CHECK_INT_EQ(exchange(port, req2, sizeof req2 - 1, &r), 0);
	CHECK_INT_EQ(r.status, 405);
	CHECK_STR_EQ(reply_header(&r, "Allow", allow, sizeof allow), "GET, HEAD");
}

static void test_head_and_keep_alive(void)
{
	struct reply r;
	char cl[32];
	const char head[] = "HEAD /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	CHECK_INT_EQ(exchange(port, head, sizeof head - 1, &r), 0);
	CHECK_INT_EQ(r.status, 200);
	CHECK_STR_EQ(reply_header(&r, "Content-Length", cl, sizeof cl), "17");
	/* three requests on one connection */
	int fd = connect_to(port);
	CHECK(fd >= 0);
	const char one[] = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
	for (int i = 0; fd >= 0 && i < 3; i++) {
		CHECK_INT_EQ(send_all(fd, one, sizeof one - 1), 0);
		CHECK_INT_EQ(read_reply(fd, &r, 0), 0);
		CHECK_INT_EQ(r.status, 200);
		CHECK_STR_EQ(r.body, "{\"hello\":\"world\"}");
	}
	if (fd >= 0)
		close(fd);
}

static void test_route_params(void)
{
	struct reply r;
	CHECK_INT_EQ(get(port, "/items/abc%20d%C3%A9", &r), 0);
	CHECK_INT_EQ(r.status, 200);
	CHECK_STR_EQ(r.body, "{\"id\":\"abc d\xc3\xa9\",\"route\":\"/items/{id}\"}");
	CHECK_INT_EQ(post(port, "/items/42/actions/close", "{}", 2, &r), 0);
	CHECK_INT_EQ(r.status, 201);
	CHECK_STR_EQ(r.body, "{\"id\":\"42\",\"action\":\"close\",\"body_len\":2}");
	const char del[] = "DELETE /items/9 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	CHECK_INT_EQ(exchange(port, del, sizeof del - 1, &r), 0);
	CHECK_INT_EQ(r.status, 204);
}

static void test_query_decoding(void)
{
	struct reply r;
	CHECK_INT_EQ(get(port, "/query?a=hello%20w%C3%B6rld%26x&b=", &r), 0);
	CHECK_INT_EQ(r.status, 200);
	CHECK_STR_EQ(r.body, "a=hello w\xc3\xb6rld&x;b=(empty);");
	CHECK_INT_EQ(get(port, "/query?b", &r), 0);
	CHECK_STR_EQ(r.body, "a=(absent);b=(empty);");
	CHECK_INT_EQ(get(port, "/query", &r), 0);
	CHECK_STR_EQ(r.body, "a=(absent);b=(absent);");
	CHECK_INT_EQ(get(port, "/query?a=1&a=2", &r), 0);
	CHECK_STR_EQ(r.body, "a=1;b=(absent);");
	/* form encoding: + is a space, %2B a plus */
	CHECK_INT_EQ(get(port, "/query?a=x+y%2Bz&b=%E7%BD%97", &r), 0);
	CHECK_STR_EQ(r.body, "a=x y+z;b=\xe7\xbd\x97;");
}

static void test_json_ok_and_field_errors(void)
{
	static const struct {
		const char *body;
		int status;
		const char *code;  /* NULL for success */
		const char *field; /* "(null)" for none */
	} cases[] = {
		{"{\"name\":\"abc\",\"count\":3}", 200, NULL, NULL},
		{"{\"name\":\"\xe7\xbd\x97\xe6\xb9\x96\"}", 200, NULL, NULL},
		{"{\"name\":5}", 422, "invalid_field", "name"},
		{"{}", 422, "missing_field", "name"},
		{"{\"name\":null}", 422, "missing_field", "name"},
		{"{\"name\":\"   \"}", 422, "invalid_field", "name"},
		{"{\"name\":\"abcdefghijk\"}", 422, "invalid_field", "name"},
		{"{\"name\":\"a\",\"count\":101}", 422, "invalid_field", "count"},
		{"{\"name\":\"a\",\"count\":1.5}", 422, "invalid_field", "count"},
		{"{\"name\":\"a\",\"colour\":1}", 422, "unknown_field", "colour"},
		{"[1,2]", 422, "not_an_object", "(null)"},
		{"", 400, "invalid_json", "(null)"},
		{"{\"name\":\"a\",\"name\":\"b\"}", 400, "duplicate_key", "(null)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct reply r;
		char code[64], field[64], msg[256];
		CHECK_INT_EQ(post(port, "/json", cases[i].body, strlen(cases[i].body), &r), 0);
		CHECK_INT_EQ(r.status, cases[i].status);
		if (!cases[i].code)
			continue;
		CHECK_INT_EQ(error_parts(&r, code, field, msg, 64), 0);
		CHECK_STR_EQ(code, cases[i].code);
		CHECK_STR_EQ(field, cases[i].field);
	}
}

static void test_bad_json_names_position(void)
{
	struct reply r;
	char code[64], field[64], msg[256];
	const char bad[] = "{\"name\": \"x\",\n  \"count\": }";
	CHECK_INT_EQ(post(port, "/json", bad, sizeof bad - 1, &r), 0);
	CHECK_INT_EQ(r.status, 400);
	CHECK_INT_EQ(error_parts(&r, code, field, msg, sizeof msg), 0);
	CHECK_STR_EQ(code, "invalid_json");
	CHECK(strstr(msg, "line 2 column") != NULL);
	CHECK(strstr(msg, "(byte ") != NULL);

	const char utf8[] = "{\"name\": \"ab\xff\"}";
	CHECK_INT_EQ(post(port, "/json", utf8, sizeof utf8 - 1, &r), 0);
	CHECK_INT_EQ(r.status, 400);
	CHECK_INT_EQ(error_parts(&r, code, field, msg, sizeof msg), 0);
	CHECK_STR_EQ(code, "invalid_utf8");
	CHECK(strstr(msg, "line 1 column") != NULL);

	char deep[200];
	size_t n = 0;
	deep[n++] = '{';
	memcpy(deep + n, "\"a\":", 4);
	n += 4;
	for (int i = 0; i < 40; i++)
		deep[n++] = '[';
	CHECK_INT_EQ(post(port, "/json", deep, n, &r), 0);
	CHECK_INT_EQ(r.status, 400);
	CHECK_INT_EQ(error_parts(&r, code, field, msg, sizeof msg), 0);
	CHECK_STR_EQ(code, "too_deep");
}

static void test_body_too_large_content_length(void)
{
	struct reply r;
	char code[64], field[64], msg[256];
	/* only the headers are sent: the 413 must come back without the body being read */
	const char req[] = "POST /json HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\n";
	CHECK_INT_EQ(exchange(port, req, sizeof req - 1, &r), 0);
	CHECK_INT_EQ(r.status, 413);
	CHECK_INT_EQ(error_parts(&r, code, field, msg, 64), 0);
	CHECK_STR_EQ(code, "body_too_large");
	const char huge[] = "POST /json HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n";
	CHECK_INT_EQ(exchange(port, huge, sizeof huge - 1, &r), 0);
	CHECK(r.status == 413 || r.status == 400);
}

static void test_body_at_limit_is_read(void)
{
	/* exactly 1 MiB of valid JSON: not a 413; the unknown field proves it was parsed */
	size_t len = HTTP_BODY_MAX;
	char *body = xmalloc(len);
	const char head[] = "{\"name\":\"a\",\"pad\":\"";
	memcpy(body, head, sizeof head - 1);
	memset(body + sizeof head - 1, 'x', len - (sizeof head - 1) - 2);
	memcpy(body + len - 2, "\"}", 2);
	struct reply r;
	char code[64], field[64], msg[256];
	CHECK_INT_EQ(post(port, "/json", body, len, &r), 0);
	CHECK_INT_EQ(r.status, 422);
	CHECK_INT_EQ(error_parts(&r, code, field, msg, 64), 0);
	CHECK_STR_EQ(field, "pad");
	xfree(body);
}

static void test_body_too_large_chunked(void)
{
	int fd = connect_to(port);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	const char head[] = "POST /json HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
	CHECK_INT_EQ(send_all(fd, head, sizeof head - 1), 0);
	static char chunk[64 * 1024 + 16];
	int n = snprintf(chunk, sizeof chunk, "%x\r\n", 64 * 1024);
	memset(chunk + n, ' ', 64 * 1024);
	memcpy(chunk + n + 64 * 1024, "\r\n", 2);
	/* 20 x 64 KiB = 1.25 MiB; the server may answer and close before we are done */
	for (int i = 0; i < 20; i++)
		if (send_all(fd, chunk, (size_t)n + 64 * 1024 + 2))
			break;
	(void)send_all(fd, "0\r\n\r\n", 5);
	struct reply r;
	char code[64], field[64], msg[256];
	CHECK_INT_EQ(read_reply(fd, &r, 0), 0);
	CHECK_INT_EQ(r.status, 413);
	CHECK_INT_EQ(error_parts(&r, code, field, msg, 64), 0);
	CHECK_STR_EQ(code, "body_too_large");
	close(fd);

	/* a small chunked body is read in full */
	const char small[] = "POST /json HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
			     "5\r\n{\"nam\r\n9\r\ne\":\"abc\"}\r\n0\r\n\r\n";
	CHECK_INT_EQ(exchange(port, small, sizeof small - 1, &r), 0);
	CHECK_INT_EQ(r.status, 200);
	CHECK_STR_EQ(r.body, "{\"name\":\"abc\",\"count\":1}");
}

static void test_still_serves_after_bad_requests(void)
{
	static const char *const bad[] = {
		"GARBAGE\r\n\r\n",
		"GET /hello HTTP/9.9\r\n\r\n",
		"GET /hello HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n",
		"POST /json HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n{\"a\"",
		"\x01\x02\x03\xff\xfe\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int fd = connect_to(port);
		CHECK(fd >= 0);
		if (fd < 0)
			continue;
		(void)send_all(fd, bad[i], strlen(bad[i]));
		shutdown(fd, SHUT_WR);
		struct reply r;
		(void)read_reply(fd, &r, 0); /* whatever MHD answers, if anything */
		close(fd);
	}
	struct reply r;
	CHECK_INT_EQ(get(port, "/hello", &r), 0);
	CHECK_INT_EQ(r.status, 200);
}

static void test_headers_and_remote(void)
{
	struct reply r;
	char v[128];
	const char req[] = "GET /headers HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer abc123\r\nConnection: close\r\n\r\n";
	CHECK_INT_EQ(exchange(port, req, sizeof req - 1, &r), 0);
	CHECK_INT_EQ(r.status, 200);
	CHECK_STR_EQ(r.body, "{\"auth\":\"Bearer abc123\",\"remote\":\"127.0.0.1\",\"injection_refused\":true}");
	CHECK_STR_EQ(reply_header(&r, "Retry-After", v, sizeof v), "7");
	CHECK_STR_EQ(reply_header(&r, "Content-Disposition", v, sizeof v), "attachment; filename=\"x.csv\"");
	CHECK(reply_header(&r, "X-Evil", v, sizeof v) == NULL);
}

static void test_arena(void)
{
	struct reply r;
	for (int i = 0; i < 3; i++) { /* the connection's arena is reused and reset */
		CHECK_INT_EQ(get(port, "/arena", &r), 0);
		CHECK_STR_EQ(r.body, "{\"ok\":true}");
	}
}

static void test_metrics(void)
{
	struct reply r;
	CHECK_INT_EQ(get(port, "/items/1", &r), 0);
	CHECK_INT_EQ(get(port, "/no/such/thing", &r), 0);
	CHECK_INT_EQ(get(port, "/metrics", &r), 0);
	CHECK_INT_EQ(r.status, 200);
	char ct[128];
	CHECK_STR_EQ(reply_header(&r, "Content-Type", ct, sizeof ct), "text/plain; version=0.0.4; charset=utf-8");
	CHECK(strstr(r.body, "citydesk_http_requests_total{route=\"/items/{id}\",method=\"GET\",status=\"200\"}") != NULL);
	CHECK(strstr(r.body, "citydesk_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}") != NULL);
	CHECK(strstr(r.body, "citydesk_http_requests_total{route=\"/items/{id}\",method=\"PUT\",status=\"405\"} 1") != NULL);
	CHECK(strstr(r.body, "citydesk_http_requests_total{route=\"/json\",method=\"POST\",status=\"413\"}") != NULL);
	CHECK(strstr(r.body, "citydesk_http_request_duration_seconds_bucket{route=\"/items/{id}\",le=\"0.0005\"}") != NULL);
	CHECK(strstr(r.body, "citydesk_http_request_duration_seconds_bucket{route=\"/items/{id}\",le=\"+Inf\"}") != NULL);
	CHECK(strstr(r.body, "citydesk_http_request_duration_seconds_count{route=\"/items/{id}\"}") != NULL);
	CHECK(strstr(r.body, "\ncitydesk_uptime_seconds ") != NULL);
	CHECK(strstr(r.body, "\ncitydesk_store_bytes 42\n") != NULL);
	/* raw paths never become labels */
	CHECK(strstr(r.body, "/no/such/thing") == NULL);
}

static void test_stop_shared(void)
{
	http_server_stop(shared);
	shared = NULL;
	CHECK(connect_to(port) < 0);
}

struct slow_client {
	unsigned port;
	int rc;
	int status;
	char body[64];
};

static void *slow_client_main(void *arg)
{
	struct slow_client *sc = arg;
	static struct reply r; /* only this thread uses the reply buffers meanwhile */
	sc->rc = get(sc->port, "/slow", &r);
	sc->status = r.status;
	snprintf(sc->body, sizeof sc->body, "%s", r.body ? r.body : "");
	return NULL;
}

static void test_graceful_stop_finishes_in_flight(void)
{
	struct http_server *srv = start_server(HTTP_LOG_OFF);
	CHECK(srv != NULL);
	if (!srv)
		return;
	atomic_store(&slow_started, 0);
	struct slow_client sc = {.port = http_server_port(srv), .rc = -1};
	pthread_t t;
	CHECK_INT_EQ(pthread_create(&t, NULL, slow_client_main, &sc), 0);
	for (int i = 0; i < 500 && !atomic_load(&slow_started); i++) {
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	CHECK(atomic_load(&slow_started));
	CHECK_INT_EQ(http_server_in_flight(srv), 1);
	http_server_stop(srv); /* returns only after the slow request has been answered */
	pthread_join(t, NULL);
	CHECK_INT_EQ(sc.rc, 0);
	CHECK_INT_EQ(sc.status, 200);
	CHECK_STR_EQ(sc.body, "slow done");
	CHECK(connect_to(sc.port) < 0);
}

static void test_access_log_line(void)
{
	int pipefd[2];
	CHECK_INT_EQ(pipe(pipefd), 0);
	int saved = dup(STDERR_FILENO);
	dup2(pipefd[1], STDERR_FILENO);
	struct http_server *srv = start_server(HTTP_LOG_ALL);
	struct reply r;
	int rc = srv ? get(http_server_port(srv), "/items/%22x%0A?q=1", &r) : -1;
	http_server_stop(srv);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(pipefd[1]);
	static char log[8192];
	ssize_t n = read(pipefd[0], log, sizeof log - 1);
	close(pipefd[0]);
	log[n > 0 ? n : 0] = '\0';
	CHECK_INT_EQ(rc, 0);
	const char *line = strstr(log, "{\"ts\":\"");
	CHECK(line != NULL);
	if (!line)
		return;
	const char *eol = strchr(line, '\n');
	json_error_t e;
	json_t *v = json_loadb(line, eol ? (size_t)(eol - line) : strlen(line), 0, &e);
	CHECK(v != NULL);
	if (!v)
		return;
	CHECK_STR_EQ(json_string_value(json_object_get(v, "method")), "GET");
	CHECK_STR_EQ(json_string_value(json_object_get(v, "route")), "/items/{id}");
	CHECK_STR_EQ(json_string_value(json_object_get(v, "path")), "/items/\"x\n");
	CHECK_INT_EQ(json_integer_value(json_object_get(v, "status")), 200);
	CHECK(json_is_number(json_object_get(v, "duration_ms")));
	CHECK(json_integer_value(json_object_get(v, "bytes")) > 0);
	CHECK_STR_EQ(json_string_value(json_object_get(v, "remote")), "127.0.0.1");
	CHECK_INT_EQ(strlen(json_string_value(json_object_get(v, "ts"))), 24);
	json_decref(v);
}

static void test_access_log_errors_only(void)
{
	int pipefd[2];
	CHECK_INT_EQ(pipe(pipefd), 0);
	int saved = dup(STDERR_FILENO);
	dup2(pipefd[1], STDERR_FILENO);
	struct http_server *srv = start_server(HTTP_LOG_ERRORS);
	struct reply r;
	int rc1 = srv ? get(http_server_port(srv), "/hello", &r) : -1;
	int rc2 = srv ? get(http_server_port(srv), "/missing-page", &r) : -1;
	http_server_stop(srv);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(pipefd[1]);
	static char log[8192];
	ssize_t n = read(pipefd[0], log, sizeof log - 1);
	close(pipefd[0]);
	log[n > 0 ? n : 0] = '\0';
	CHECK_INT_EQ(rc1, 0);
	CHECK_INT_EQ(rc2, 0);
	CHECK(strstr(log, "\"path\":\"/missing-page\",\"status\":404") != NULL);
	CHECK(strstr(log, "\"path\":\"/hello\"") == NULL);
}

static void test_bad_config(void)
{
	static const struct http_route bad_routes[] = {{"GET", "no-slash", h_hello, "x"}};
	static const struct http_route bad_param[] = {{"GET", "/a/{}", h_hello, "x"}};
	struct http_server *srv = NULL;
	struct http_config cfg = {.listen = "127.0.0.1:0", .routes = bad_routes, .n_routes = 1, .access_log = HTTP_LOG_OFF};
	CHECK_INT_EQ(http_server_start(&cfg, &srv), CD_ERR_INVALID);
	cfg.routes = bad_param;
	CHECK_INT_EQ(http_server_start(&cfg, &srv), CD_ERR_INVALID);
	cfg.routes = routes;
	cfg.listen = "127.0.0.1";
	CHECK_INT_EQ(http_server_start(&cfg, &srv), CD_ERR_INVALID);
	CHECK(srv == NULL);
}

static void test_parse_listen(void)
{
	static const struct {
		const char *in;
		int ok;
		const char *host;
		unsigned port;
	} cases[] = {
		{"127.0.0.1:8080", 1, "127.0.0.1", 8080},
		{"0.0.0.0:0", 1, "0.0.0.0", 0},
		{":9000", 1, "127.0.0.1", 9000},
		{"localhost:80", 1, "localhost", 80},
		{"[::1]:8080", 1, "::1", 8080},
		{"127.0.0.1", 0, NULL, 0},
		{"127.0.0.1:", 0, NULL, 0},
		{"127.0.0.1:65536", 0, NULL, 0},
		{"127.0.0.1:-1", 0, NULL, 0},
		{"127.0.0.1:80x", 0, NULL, 0},
		{"::1:80", 0, NULL, 0},
		{"", 0, NULL, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char host[64] = "";
		unsigned p = 12345;
		enum cd_err rc = http_parse_listen(cases[i].in, host, sizeof host, &p);
		CHECK_INT_EQ(rc == CD_OK, cases[i].ok);
		if (cases[i].ok && rc == CD_OK) {
			CHECK_STR_EQ(host, cases[i].host);
			CHECK_INT_EQ(p, cases[i].port);
		}
	}
}

static const struct test_case tests[] = {
	{"parse_listen", test_parse_listen},
	{"bad_config", test_bad_config},
	{"start", test_start},
	{"not_found", test_not_found},
	{"method_not_allowed", test_method_not_allowed},
	{"head_and_keep_alive", test_head_and_keep_alive},
	{"route_params", test_route_params},
	{"query_decoding", test_query_decoding},
	{"json_ok_and_field_errors", test_json_ok_and_field_errors},
	{"bad_json_names_position", test_bad_json_names_position},
	{"body_too_large_content_length", test_body_too_large_content_length},
	{"body_at_limit_is_read", test_body_at_limit_is_read},
	{"body_too_large_chunked", test_body_too_large_chunked},
	{"still_serves_after_bad_requests", test_still_serves_after_bad_requests},
	{"headers_and_remote", test_headers_and_remote},
	{"arena", test_arena},
	{"metrics", test_metrics},
	{"stop_shared", test_stop_shared},
	{"graceful_stop_finishes_in_flight", test_graceful_stop_finishes_in_flight},
	{"access_log_line", test_access_log_line},
	{"access_log_errors_only", test_access_log_errors_only},
};

TEST_MAIN(tests)
