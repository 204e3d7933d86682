/* Open311's two formats from one document: the JSON GeoReport v2 clients read, and the XML the
 * specification makes mandatory, rendered from the same jansson tree so the two never differ;
 * plus the form-encoded parameters POSTs arrive in. */
#include "api/open311_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "util/buf.h"
#include "util/hex.h"

#define O311_MAX_PARAMS 256

static const char json_type_utf8[] = "application/json; charset=utf-8";
static const char xml_type_utf8[] = "text/xml; charset=utf-8";

bool o311_split(const char *name, char *base, size_t cap, enum o311_fmt *fmt)
{
	const char *dot = strrchr(name, '.');
	if (!dot || dot == name)
		return false;
	if (strcmp(dot, ".json") == 0)
		*fmt = O311_JSON;
	else if (strcmp(dot, ".xml") == 0)
		*fmt = O311_XML;
	else
		return false;
	size_t n = (size_t)(dot - name);
	if (n >= cap)
		return false;
	memcpy(base, name, n);
	base[n] = '\0';
	return true;
}

/* The element name of one item in an array called `container`. */
static const char *item_name(const char *container)
{
	static const char *const names[][2] = {
		{"services", "service"},   {"service_requests", "request"}, {"attributes", "attribute"},
		{"values", "value"},       {"endpoints", "endpoint"},        {"formats", "format"},
		{"errors", "error"},       {"notes", "note"},                {"service_request_updates", "request_update"},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(container, names[i][0]) == 0)
			return names[i][1];
	return "item";
}

static enum cd_err xml_text(struct buf *b, const char *s)
{
	enum cd_err rc = CD_OK;
	for (; *s && !rc; s++) {
		switch (*s) {
		case '<': rc = buf_append(b, "&lt;", 4); break;
		case '>': rc = buf_append(b, "&gt;", 4); break;
		case '&': rc = buf_append(b, "&amp;", 5); break;
		case '"': rc = buf_append(b, "&quot;", 6); break;
		case '\'': rc = buf_append(b, "&apos;", 6); break;
		default: rc = buf_append(b, s, 1);
		}
	}
	return rc;
}

static enum cd_err xml_value(struct buf *b, const char *name, json_t *v);

static enum cd_err xml_items(struct buf *b, const char *item, json_t *arr)
{
	size_t i;
	json_t *x;
	enum cd_err rc = CD_OK;
	json_array_foreach(arr, i, x)
	{
		if ((rc = xml_value(b, item, x)))
			break;
	}
	return rc;
}

/* <name>value</name>; objects nest, arrays hold one element per item, null is <name/>. */
static enum cd_err xml_value(struct buf *b, const char *name, json_t *v)
{
	if (json_is_null(v))
		return buf_printf(b, "<%s/>", name);
	enum cd_err rc = buf_printf(b, "<%s>", name);
	if (rc)
		return rc;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *x;
		json_object_foreach(v, key, x)
		{
			if ((rc = xml_value(b, key, x)))
				return rc;
		}
		break;
	}
	case JSON_ARRAY:
		rc = xml_items(b, item_name(name), v);
		break;
	case JSON_STRING:
		rc = xml_text(b, json_string_value(v));
		break;
	case JSON_INTEGER:
		rc = buf_printf(b, "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		rc = buf_printf(b, "%.7f", json_real_value(v));
		break;
	case JSON_TRUE:
		rc = buf_append(b, "true", 4);
		break;
	case JSON_FALSE:
		rc = buf_append(b, "false", 5);
		break;
	case JSON_NULL:
		break;
	}
	return rc ? rc : buf_printf(b, "</%s>", name);
}

void o311_send(struct http_response *res, enum o311_fmt fmt, int status, const char *root, const char *item,
	       json_t *doc)
{
	if (fmt == O311_JSON) {
		/* Nine significant digits: coordinates to about 10 cm, without 22.547999999999998. */
		char *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(9));
		json_decref(doc);
		buf_reset(&res->body);
		if (!text || buf_puts(&res->body, text)) {
			free(text);
			http_error(res, 500, "internal", "the answer is too large", NULL);
			return;
		}
		free(text); /* jansson's allocation */
		res->status = status;
		res->content_type = json_type_utf8;
		return;
	}
	res->status = status;
	res->content_type = xml_type_utf8;
	buf_reset(&res->body);
	static const char decl[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";
	enum cd_err rc = buf_append(&res->body, decl, sizeof decl - 1);
	if (!rc && json_is_array(doc)) {
		rc = buf_printf(&res->body, "<%s>", root);
		if (!rc)
			rc = xml_items(&res->body, item, doc);
		if (!rc)
			rc = buf_printf(&res->body, "</%s>", root);
	} else if (!rc) {
		rc = xml_value(&res->body, root, doc);
	}
	json_decref(doc);
	if (rc)
		http_error(res, 500, "internal", "the answer is too large", NULL);
}

void o311_error(struct http_response *res, enum o311_fmt fmt, int status, const char *description)
{
	json_t *e = json_pack("[{s:i, s:s}]", "code", status, "description", description);
	o311_send(res, fmt, status, "errors", "error", e);
}

/* Percent-decodes s[0..n) ('+' is a space) into per-request memory; NULL when malformed. */
static char *form_decode(struct http_request *req, const char *s, size_t n)
{
	char *out = http_alloc(req, n + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			out[o++] = ' ';
		} else if (s[i] == '%') {
			int hi = i + 1 < n ? hex_digit(s[i + 1]) : -1;
			int lo = i + 2 < n ? hex_digit(s[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return NULL;
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	if (memchr(out, '\0', o) || !text_utf8_valid(out, o))
		return NULL;
	return out;
}

bool o311_params_read(struct http_request *req, struct o311_params *p, const char **why)
{
	memset(p, 0, sizeof *p);
	if (req->body_len == 0)
		return true;
	const char *ct = http_header(req, "Content-Type");
	if (ct && strncmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
		*why = "the body must be application/x-www-form-urlencoded";
		return false;
	}
	p->keys = http_alloc(req, O311_MAX_PARAMS * sizeof *p->keys);
	p->values = http_alloc(req, O311_MAX_PARAMS * sizeof *p->values);
	if (!p->keys || !p->values) {
		*why = "out of memory";
		return false;
	}
	const char *s = req->body, *end = req->body + req->body_len;
	while (s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		const char *stop = amp ? amp : end;
		if (stop > s) {
			const char *eq = memchr(s, '=', (size_t)(stop - s));
			const char *kend = eq ? eq : stop;
			if (p->n == O311_MAX_PARAMS) {
				*why = "too many parameters";
				return false;
			}
			p->keys[p->n] = form_decode(req, s, (size_t)(kend - s));
			p->values[p->n] = eq ? form_decode(req, eq + 1, (size_t)(stop - eq - 1)) : http_strdup(req, "");
			if (!p->keys[p->n] || !p->values[p->n]) {
				*why = "a parameter is not well-formed percent-encoded UTF-8";
				return false;
			}
			p->n++;
		}
		s = stop + 1;
	}
	return true;
}

const char *o311_param(struct http_request *req, const struct o311_params *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->keys[i], name) == 0)
			return p->values[i][0] ? p->values[i] : NULL;
	const char *q = http_query_get(req, name);
	return q && *q ? q : NULL;
}
