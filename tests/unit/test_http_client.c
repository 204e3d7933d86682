/* net/http_client against a real listener: a thread in the test on 127.0.0.1 (port 0) reads one
 * request and sends a canned answer; the tests check what the server received and what the
 * client reports (status, error, snippet), and the URL check. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/http_client.h"
#include "test.h"
#include "util/alloc.h"

#define REQ_MAX 16384

/* A one-request server. */
struct server {
	int fd; /* listening socket */
	int port;
	pthread_t thread;
	const char *answer;    /* sent whole after the request is read; NULL = never answer */
	char req[REQ_MAX + 1]; /* the request as received (head and body) */
	size_t len;
	const char *body;    /* into req: the body, after the blank line */
	long content_length; /* from the head; -1 when missing */
};

/* Reads from c until the head and Content-Length bytes of body are in s->req (or REQ_MAX). */
static void server_read(struct server *s, int c)
{
	s->content_length = -1;
	for (;;) {
		struct pollfd p = {c, POLLIN, 0};
		if (s->len == REQ_MAX || poll(&p, 1, 5000) <= 0)
			return;
		ssize_t n = read(c, s->req + s->len, REQ_MAX - s->len);
		if (n <= 0)
			return;
		s->len += (size_t)n;
		s->req[s->len] = '\0';
		char *end = strstr(s->req, "\r\n\r\n");
		if (!end)
			continue;
		s->body = end + 4;
		const char *cl = strcasestr(s->req, "\r\nContent-Length:");
		if (cl && cl < end) {
			char *e;
			s->content_length = strtol(cl + 17, &e, 10);
		}
		if (s->content_length >= 0 &&
		    (size_t)(s->req + s->len - s->body) >= (size_t)s->content_length)
			return;
	}
}

static void *server_main(void *arg)
{
	struct server *s = arg;
	int c = accept(s->fd, NULL, NULL);
	if (c < 0)
		return NULL;
	server_read(s, c);
	if (s->answer) {
		ssize_t w = send(c, s->answer, strlen(s->answer), MSG_NOSIGNAL);
		(void)w;
	} else {
		struct pollfd p = {c, POLLIN, 0};
		(void)poll(&p, 1, 5000); /* until the client hangs up */
	}
	close(c);
	return NULL;
}

/* Listens on 127.0.0.1, port 0 (the kernel picks one). */
static void server_listen(struct server *s)
{
	memset(s, 0, sizeof *s);
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) || listen(s->fd, 8) ||
	    getsockname(s->fd, (struct sockaddr *)&a, &al)) {
		perror("server");
		exit(2);
	}
	s->port = ntohs(a.sin_port);
}

static void server_start(struct server *s, const char *answer)
{
	server_listen(s);
	s->answer = answer;
	pthread_create(&s->thread, NULL, server_main, s);
}

static void server_stop(struct server *s)
{
	pthread_join(s->thread, NULL);
	close(s->fd);
}

/* What the done callback saw. */
struct outcome {
	int done;
	void *user;
	long status;
	char error[256]; /* "" when res->error was NULL */
	char snippet[HTTP_CLIENT_SNIPPET + 1];
};

static void on_done(void *ctx, struct http_request *r, void *user, const struct http_client_result *res)
{
	struct outcome *o = ctx;
	o->done++;
	o->user = user;
	o->status = res->status;
	snprintf(o->error, sizeof o->error, "%s", res->error ? res->error : "");
	snprintf(o->snippet, sizeof o->snippet, "%s", res->snippet);
	(void)r; /* freed by the test after the loop */
}

/* Runs the client until the one request finished (at most ~10 s of waiting). */
static void run_one(struct http_client *c, struct outcome *o)
{
	for (int i = 0; i < 100 && !o->done; i++) {
		http_client_run(c, on_done, o);
		if (!o->done)
			http_client_wait(c, -1, 100);
	}
}

/* Posts body to the test server on port with no extra headers and runs the client until the
 * request is done; *o gets the outcome. */
static void post_once(struct http_client *c, int port, const char *body, size_t len, struct outcome *o)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
	struct http_request *r = http_client_post(c, url, NULL, 0, body, len, NULL);
	run_one(c, o);
	http_request_free(c, r);
}

static struct http_client *client_new(size_t response_max)
{
	struct http_client_config cfg = {8, 2000, 5000, response_max, "test-agent/1"};
	struct http_client *c = NULL;
	enum cd_err rc = http_client_new(&cfg, &c);
	if (rc || !c) {
		fprintf(stderr, "http_client_new: %d\n", (int)rc);
		exit(2);
	}
	return c;
}

static void test_post_status_and_body(void)
{
	struct server s;
	server_start(&s, "HTTP/1.1 201 Created\r\nContent-Length: 8\r\nConnection: close\r\n\r\ncreated!");
	struct http_client *c = client_new(64 * 1024);
	/* over 1 KiB: a libcurl default would send "Expect: 100-continue" and wait for it */
	char *body = xmalloc(3001);
	for (int i = 0; i < 3000; i++)
		body[i] = (char)('a' + i % 26);
	body[3000] = '\0';
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", s.port);
	const char *headers[] = {"Content-Type: application/json", "X-Test: yes"};
	int tag = 7;
	struct outcome o = {0};
	struct http_request *r = http_client_post(c, url, headers, 2, body, 3000, &tag);
	CHECK(r != NULL);
	run_one(c, &o);
	http_request_free(c, r);
	server_stop(&s);
	CHECK_INT_EQ(o.done, 1);
	CHECK(o.user == &tag);
	CHECK_INT_EQ(o.status, 201);
	CHECK_STR_EQ(o.error, "");
	CHECK_STR_EQ(o.snippet, "created!");
	CHECK(strncmp(s.req, "POST /hook HTTP/1.1\r\n", 21) == 0);
	CHECK(strstr(s.req, "\r\nX-Test: yes\r\n") != NULL);
	CHECK(strstr(s.req, "\r\nUser-Agent: test-agent/1\r\n") != NULL);
	CHECK(strstr(s.req, "\r\nContent-Type: application/json\r\n") != NULL);
	CHECK(strcasestr(s.req, "\r\nExpect:") == NULL);
	CHECK_INT_EQ(s.content_length, 3000);
	CHECK(s.body != NULL);
	if (s.body) {
		CHECK_INT_EQ(strlen(s.body), 3000);
		CHECK(strcmp(s.body, body) == 0);
	}
	xfree(body);
	http_client_free(c);
}

static void test_error_status_snippet(void)
{
	static char answer[512];
	char text[201];
	for (int i = 0; i < 200; i++)
		text[i] = (char)('0' + i % 10);
	text[200] = '\0';
	snprintf(answer, sizeof answer,
		 "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 200\r\nConnection: close\r\n\r\n%s",
		 text);
	struct server s;
	server_start(&s, answer);
	struct http_client *c = client_new(64 * 1024);
	struct outcome o = {0};
	post_once(c, s.port, "{}", 2, &o);
	server_stop(&s);
	CHECK_INT_EQ(o.done, 1);
	CHECK_INT_EQ(o.status, 500);
	CHECK_STR_EQ(o.error, ""); /* an answer was read: the status tells the rest */
	CHECK_INT_EQ(strlen(o.snippet), HTTP_CLIENT_SNIPPET);
	CHECK(strncmp(o.snippet, text, HTTP_CLIENT_SNIPPET) == 0);
	CHECK_STR_EQ(s.body, "{}");
	http_client_free(c);
}

static void test_answer_too_big(void)
{
	static char answer[4200];
	int n = snprintf(answer, sizeof answer,
			 "HTTP/1.1 200 OK\r\nContent-Length: 4000\r\nConnection: close\r\n\r\n");
	memset(answer + n, 'x', 4000);
	answer[n + 4000] = '\0';
	struct server s;
	server_start(&s, answer);
	struct http_client *c = client_new(1024);
	struct outcome o = {0};
	post_once(c, s.port, "x", 1, &o);
	server_stop(&s);
	CHECK_INT_EQ(o.done, 1);
	CHECK(o.error[0] != '\0'); /* aborted: more than response_max */
	http_client_free(c);
}

static void test_connection_refused(void)
{
	struct server s;
	server_listen(&s);
	close(s.fd); /* the port is free again: nobody listens */
	struct http_client *c = client_new(1024);
	struct outcome o = {0};
	post_once(c, s.port, "x", 1, &o);
	CHECK_INT_EQ(o.done, 1);
	CHECK_INT_EQ(o.status, 0);
	CHECK(o.error[0] != '\0');
	http_client_free(c);
}

/* A request abandoned while the server holds it, and the wait's extra descriptor. */
static void test_abandon_and_wait_fd(void)
{
	struct server s;
	server_start(&s, NULL);
	struct http_client *c = client_new(1024);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
	struct outcome o = {0};
	struct http_request *r = http_client_post(c, url, NULL, 0, "x", 1, NULL);
	int p[2];
	CHECK(pipe(p) == 0);
	http_client_run(c, on_done, &o);
	CHECK_INT_EQ(http_client_wait(c, p[0], 0), 0);
	CHECK(write(p[1], "!", 1) == 1);
	CHECK_INT_EQ(http_client_wait(c, p[0], 5000), 1);
	http_client_run(c, on_done, &o);
	CHECK_INT_EQ(o.done, 0); /* the server never answers */
	http_request_free(c, r);
	server_stop(&s); /* returns once the client has hung up */
	close(p[0]);
	close(p[1]);
	http_client_free(c);
}

static void test_check_url(void)
{
	static const struct {
		const char *url;
		enum cd_err want;
	} cases[] = {
	    {"http://127.0.0.1:8080/hook", CD_OK},
	    {"https://12345.example.gov.cn/citydesk?x=1", CD_OK},
	    {"HTTP://example.org/", CD_ERR_INVALID}, /* the scheme as written must be lowercase */
	    {"ftp://example.org/", CD_ERR_INVALID},
	    {"file:///etc/passwd", CD_ERR_INVALID},
	    {"http://", CD_ERR_INVALID},
	    {"http://exa mple.org/", CD_ERR_INVALID},
	    {"http://example.org/\n", CD_ERR_INVALID},
	    {"example.org/hook", CD_ERR_INVALID},
	    {"", CD_ERR_INVALID},
	    {NULL, CD_ERR_INVALID},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum cd_err rc = http_client_check_url(cases[i].url);
		if (rc != cases[i].want)
			fprintf(stderr, "  url \"%s\"\n", cases[i].url ? cases[i].url : "(null)");
		CHECK_INT_EQ(rc, cases[i].want);
	}
}

static const struct test_case tests[] = {
    {"post_status_and_body", test_post_status_and_body},
    {"error_status_snippet", test_error_status_snippet},
    {"answer_too_big", test_answer_too_big},
    {"connection_refused", test_connection_refused},
    {"abandon_and_wait_fd", test_abandon_and_wait_fd},
    {"check_url", test_check_url},
};

TEST_MAIN(tests)
