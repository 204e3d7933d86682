/* The route table: patterns are split into segments once at start, then every request's path
 * is compared segment by segment against each row (a linear scan over a few dozen routes costs
 * less than one system call). Also parses the "HOST:PORT" listen string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_int.h"
#include "util/alloc.h"
#include "util/log.h"

static enum cd_err compile_one(struct http_route_rt *rt, const struct http_route *r)
{
	const char *p = r->pattern;
	rt->route = r;
	rt->n_seg = 0;
	rt->n_params = 0;
	if (!p || p[0] != '/' || !r->method || !r->handler)
		return CD_ERR_INVALID;
	if (strcmp(p, "/") == 0)
		return CD_OK; /* the root has no segments */
	while (*p == '/') {
		p++;
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 0 || rt->n_seg == HTTP_MAX_SEGMENTS)
			return CD_ERR_INVALID;
		struct http_seg *s = &rt->seg[rt->n_seg++];
		if (p[0] == '{') {
			if (len < 3 || p[len - 1] != '}' || rt->n_params == HTTP_MAX_PARAMS)
				return CD_ERR_INVALID;
			s->text = p + 1;
			s->len = len - 2;
			s->is_param = 1;
			rt->n_params++;
		} else {
			s->text = p;
			s->len = len;
			s->is_param = 0;
		}
		p += len;
	}
	return *p ? CD_ERR_INVALID : CD_OK;
}

enum cd_err http_routes_compile(struct http_server *srv)
{
	size_t n = srv->cfg.n_routes;
	srv->routes = xcalloc(n ? n : 1, sizeof *srv->routes);
	srv->labels = xcalloc(n ? n : 1, sizeof *srv->labels);
	srv->n_labels = 0;
	for (size_t i = 0; i < n; i++) {
		const struct http_route *r = &srv->cfg.routes[i];
		if (compile_one(&srv->routes[i], r)) {
			log_error("bad route", "\"pattern\":\"%s\"", r->pattern ? r->pattern : "(null)");
			return CD_ERR_INVALID;
		}
		size_t l = 0;
		while (l < srv->n_labels && strcmp(srv->labels[l], r->pattern) != 0)
			l++;
		if (l == srv->n_labels)
			srv->labels[srv->n_labels++] = r->pattern;
		srv->routes[i].label = l;
	}
	return CD_OK;
}

/* Splits path into segments (pointers into path, not NUL-terminated). Returns the count, or
 * -1 when there are too many or the path is not absolute. "/" has zero segments; a trailing
 * slash or an empty segment ("//") makes an empty segment, which no pattern matches. */
static int split_path(const char *path, const char **seg, size_t *len)
{
	if (path[0] != '/')
		return -1;
	if (path[1] == '\0')
		return 0;
	int n = 0;
	const char *p = path;
	while (*p == '/') {
		p++;
		if (n == HTTP_MAX_SEGMENTS)
			return -1;
		const char *end = strchr(p, '/');
		size_t l = end ? (size_t)(end - p) : strlen(p);
		seg[n] = p;
		len[n] = l;
		n++;
		p += l;
	}
	return n;
}

static int path_matches(const struct http_route_rt *rt, int n, const char *const *seg, const size_t *len)
{
	if ((unsigned)n != rt->n_seg)
		return 0;
	for (int i = 0; i < n; i++) {
		const struct http_seg *s = &rt->seg[i];
		if (s->is_param) {
			if (len[i] == 0)
				return 0;
		} else if (s->len != len[i] || memcmp(s->text, seg[i], len[i]) != 0) {
			return 0;
		}
	}
	return 1;
}

static int method_matches(const char *route_method, const char *method)
{
	return strcmp(route_method, method) == 0 ||
	       (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

/* Adds method to the comma-separated allow list unless it is there already. */
static void allow_add(char *allow, size_t cap, const char *method)
{
	size_t ml = strlen(method), used = strlen(allow);
	for (const char *p = allow; *p;) {
		const char *end = strchr(p, ',');
		size_t l = end ? (size_t)(end - p) : strlen(p);
		if (l == ml && memcmp(p, method, ml) == 0)
			return;
		p += l;
		while (*p == ',' || *p == ' ')
			p++;
	}
	if (used + ml + 3 > cap)
		return;
	if (used) {
		memcpy(allow + used, ", ", 2);
		used += 2;
	}
	memcpy(allow + used, method, ml + 1);
}

int http_routes_match(struct http_conn *c, const char *path, char *allow, size_t allow_cap)
{
	struct http_server *srv = c->srv;
	const char *seg[HTTP_MAX_SEGMENTS];
	size_t len[HTTP_MAX_SEGMENTS];
	c->rt = NULL;
	c->n_params = 0;
	c->label = srv->n_labels;
	allow[0] = '\0';
	int n = split_path(path, seg, len);
	if (n < 0)
		return 404;
	const struct http_route_rt *path_hit = NULL;
	for (size_t i = 0; i < srv->cfg.n_routes; i++) {
		const struct http_route_rt *rt = &srv->routes[i];
		if (!path_matches(rt, n, seg, len))
			continue;
		if (!path_hit)
			path_hit = rt;
		if (method_matches(rt->route->method, c->req.method)) {
			c->rt = rt;
			break;
		}
		allow_add(allow, allow_cap, rt->route->method);
		if (strcmp(rt->route->method, "GET") == 0)
			allow_add(allow, allow_cap, "HEAD");
	}
	if (!path_hit)
		return 404;
	c->label = path_hit->label;
	if (!c->rt)
		return 405;
	c->label = c->rt->label;
	for (int i = 0; i < n; i++) {
		const struct http_seg *s = &c->rt->seg[i];
		if (!s->is_param)
			continue;
		char *v = http_strndup(&c->req, seg[i], len[i]);
		char *name = http_strndup(&c->req, s->text, s->len);
		if (!v || !name)
			return 500;
		c->param_name[c->n_params] = name;
		c->param_value[c->n_params] = v;
		c->n_params++;
	}
	return 200;
}

enum cd_err http_parse_listen(const char *s, char *host, size_t hostcap, unsigned *port)
{
	const char *colon;
	const char *h = s;
	size_t hl;
	if (!s || !*s)
		return CD_ERR_INVALID;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return CD_ERR_INVALID;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return CD_ERR_INVALID; /* bare IPv6 needs brackets */
		hl = (size_t)(colon - s);
	}
	if (hl == 0) {
		h = "127.0.0.1";
		hl = strlen(h);
	}
	if (hl + 1 > hostcap)
		return CD_ERR_INVALID;
	const char *digits = colon + 1;
	if (*digits < '0' || *digits > '9')
		return CD_ERR_INVALID;
	char *end;
	long v = strtol(digits, &end, 10);
	if (*end || v < 0 || v > 65535)
		return CD_ERR_INVALID;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (unsigned)v;
	return CD_OK;
}
