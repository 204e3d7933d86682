/* What handlers call: request accessors, per-request memory, and response helpers including the
 * one JSON error shape. The arena's first 2 KiB live inside the connection and are reused by
 * every request on it, so typical requests allocate nothing. */
#include <stdint.h>
#include <string.h>

#include "net/http_int.h"
#include "util/alloc.h"

const char *http_param(const struct http_request *req, const char *name)
{
	const struct http_conn *c = http_conn_of(req);
	for (unsigned i = 0; i < c->n_params; i++)
		if (strcmp(c->param_name[i], name) == 0)
			return c->param_value[i];
	return NULL;
}

const char *http_query_get(const struct http_request *req, const char *name)
{
	const struct http_conn *c = http_conn_of(req);
	const char *value = NULL;
	size_t value_len = 0;
	if (MHD_lookup_connection_value_n(c->mhd, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
					  &value_len) != MHD_YES)
		return NULL;
	return value ? value : ""; /* "?a" comes back with a NULL value: present but empty */
}

const char *http_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(http_conn_of(req)->mhd, MHD_HEADER_KIND, name);
}

struct http_server *http_request_server(const struct http_request *req)
{
	return http_conn_of(req)->srv;
}

void *http_alloc(struct http_request *req, size_t n)
{
	struct http_conn *c = http_conn_of(req);
	const size_t align = _Alignof(max_align_t);
	if (n == 0)
		n = 1;
	if (n > HTTP_ARENA_MAX || c->arena_total > HTTP_ARENA_MAX - n)
		return NULL;
	size_t rounded = (n + align - 1) / align * align;
	if (rounded <= sizeof c->arena_inline - c->arena_used) {
		void *p = (char *)c->arena_inline + c->arena_used;
		c->arena_used += rounded;
		c->arena_total += rounded;
		return p;
	}
	struct http_arena_block *b = c->blocks;
	if (!b || b->size - b->used < rounded) {
		size_t size = rounded > 8192 ? rounded : 8192;
		b = try_malloc(sizeof *b + size);
		if (!b)
			return NULL;
		b->size = size;
		b->used = 0;
		b->next = c->blocks;
		c->blocks = b;
	}
	void *p = (char *)b->data + b->used;
	b->used += rounded;
	c->arena_total += rounded;
	return p;
}

/* A block up to this size is kept for the connection's next request: every report on a
 * keep-alive connection allocates the same ~25 KB (the case on its way to the store), and a
 * malloc and free of it per request showed in the HTTP workers' profile. */
#define ARENA_KEEP (64u * 1024u)

void http_arena_reset(struct http_conn *c)
{
	struct http_arena_block *keep = NULL;
	while (c->blocks) {
		struct http_arena_block *next = c->blocks->next;
		if (!next && c->blocks->size <= ARENA_KEEP)
			keep = c->blocks; /* the oldest: the request's first big allocation fits it again */
		else
			xfree(c->blocks);
		c->blocks = next;
	}
	if (keep) {
		keep->used = 0;
		keep->next = NULL;
		c->blocks = keep;
	}
	c->arena_used = 0;
	c->arena_total = 0;
}

char *http_strndup(struct http_request *req, const char *s, size_t n)
{
	char *p = http_alloc(req, n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *http_strdup(struct http_request *req, const char *s)
{
	return http_strndup(req, s, strlen(s));
}

enum cd_err http_header_add(struct http_request *req, struct http_response *res, const char *name,
			    const char *value)
{
	if (res->n_headers >= HTTP_MAX_EXTRA_HEADERS)
		return CD_ERR_TOOBIG;
	if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n") || !*name)
		return CD_ERR_INVALID;
	char *n = http_strdup(req, name);
	char *v = http_strdup(req, value);
	if (!n || !v)
		return CD_ERR_NOMEM;
	res->headers[res->n_headers][0] = n;
	res->headers[res->n_headers][1] = v;
	res->n_headers++;
	return CD_OK;
}

/* Builds the error body into res->body; falls back to a fixed body if even that fails. */
void http_error(struct http_response *res, int status, const char *code, const char *message,
		const char *field)
{
	static const char fallback[] =
		"{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\",\"field\":null}}";
	res->status = status;
	res->content_type = HTTP_JSON_TYPE;
	res->static_body = NULL;
	res->static_len = 0;
	buf_reset(&res->body);
	enum cd_err rc = buf_puts(&res->body, "{\"error\":{\"code\":\"");
	if (!rc)
		rc = buf_json_escape(&res->body, code);
	if (!rc)
		rc = buf_puts(&res->body, "\",\"message\":\"");
	if (!rc)
		rc = buf_json_escape(&res->body, message ? message : "");
	if (!rc && field) {
		rc = buf_puts(&res->body, "\",\"field\":\"");
		if (!rc)
			rc = buf_json_escape(&res->body, field);
		if (!rc)
			rc = buf_puts(&res->body, "\"}}");
	} else if (!rc) {
		rc = buf_puts(&res->body, "\",\"field\":null}}");
	}
	if (rc) {
		buf_reset(&res->body);
		res->status = 500;
		res->static_body = fallback;
		res->static_len = sizeof fallback - 1;
	}
}

void http_error_json(struct http_response *res, const struct json_problem *p)
{
	http_error(res, p->status, p->code, p->message, p->field[0] ? p->field : NULL);
}

/* jansson's callback for json_dump_callback: appends to the response buffer. */
static int dump_to_buf(const char *data, size_t size, void *ctx)
{
	return buf_append(ctx, data, size) ? -1 : 0;
}

void http_respond_json(struct http_response *res, int status, const json_t *v)
{
	buf_reset(&res->body);
	res->static_body = NULL;
	res->static_len = 0;
	if (json_dump_callback(v, dump_to_buf, &res->body, JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
		http_error(res, 500, "internal", "the response could not be built", NULL);
		return;
	}
	res->status = status;
	res->content_type = HTTP_JSON_TYPE;
}

void http_respond_static(struct http_response *res, int status, const char *content_type,
			 const char *body, size_t len)
{
	buf_reset(&res->body);
	res->status = status;
	res->content_type = content_type;
	res->static_body = body;
	res->static_len = len;
}

bool http_read_json(struct http_request *req, struct http_response *res, json_t **out)
{
	struct json_problem p;
	if (json_parse_request(req->body, req->body_len, out, &p)) {
		http_error_json(res, &p);
		return false;
	}
	return true;
}

void http_handle_metrics(struct http_request *req, struct http_response *res, void *app_ctx)
{
	struct http_server *srv = http_request_server(req);
	buf_reset(&res->body);
	enum cd_err rc = metrics_render(srv->metrics, &res->body);
	if (!rc)
		rc = buf_printf(&res->body,
				"# HELP citydesk_http_streams_open Streaming responses (SSE) open now.\n"
				"# TYPE citydesk_http_streams_open gauge\n"
				"citydesk_http_streams_open %u\n"
				"# HELP citydesk_http_streams_total Streaming responses opened since start.\n"
				"# TYPE citydesk_http_streams_total counter\n"
				"citydesk_http_streams_total %lu\n"
				"# HELP citydesk_http_stream_drops_total Streams closed because the client read too slowly.\n"
				"# TYPE citydesk_http_stream_drops_total counter\n"
				"citydesk_http_stream_drops_total %lu\n"
				"# HELP citydesk_http_deferred_pending Deferred requests the app has not finished yet.\n"
				"# TYPE citydesk_http_deferred_pending gauge\n"
				"citydesk_http_deferred_pending %u\n",
				atomic_load_explicit(&srv->streams_open, memory_order_relaxed),
				atomic_load_explicit(&srv->streams_total, memory_order_relaxed),
				atomic_load_explicit(&srv->stream_drops, memory_order_relaxed),
				atomic_load_explicit(&srv->deferred_pending, memory_order_relaxed));
	if (!rc && srv->cfg.metrics_hook)
		rc = srv->cfg.metrics_hook(&res->body, app_ctx);
	if (rc) {
		http_error(res, 500, "internal", "metrics could not be rendered", NULL);
		return;
	}
	res->status = 200;
	res->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
