/* Fuzz target for the JSON request reader (util/json.c): strict parsing with positions and the
 * depth cap, then every field getter and the unknown-field check on whatever parsed, and the
 * HTTP error body built from any problem (which must itself be valid JSON). */
#include <stdint.h>
#include <stdlib.h>

#include "util/buf.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Renders the problem the way net/http does and checks the result parses back. */
static void check_problem(const struct json_problem *p)
{
	if (p->status != 400 && p->status != 422)
		abort();
	struct buf b;
	buf_init(&b, 4096);
	enum cd_err rc = buf_puts(&b, "{\"code\":\"");
	if (!rc)
		rc = buf_json_escape(&b, p->code);
	if (!rc)
		rc = buf_puts(&b, "\",\"message\":\"");
	if (!rc)
		rc = buf_json_escape(&b, p->message);
	if (!rc)
		rc = buf_puts(&b, "\",\"field\":\"");
	if (!rc)
		rc = buf_json_escape(&b, p->field);
	if (!rc)
		rc = buf_puts(&b, "\"}");
	if (!rc) {
		json_error_t e;
		json_t *v = json_loadb(b.data, b.len, 0, &e);
		if (!v)
			abort(); /* our error body would not be valid JSON (bad UTF-8 or escaping) */
		json_decref(v);
	}
	buf_release(&b);
}

static int dump_to_buf(const char *chunk, size_t n, void *ctx)
{
	return buf_append(ctx, chunk, n) ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const allowed[] = {"title", "description", "lat", "lng", "count", "urgent", "tags", NULL};
	json_t *v = NULL;
	struct json_problem p;
	if (json_parse_request((const char *)data, size, &v, &p)) {
		check_problem(&p);
		return 0;
	}
	const char *s = NULL;
	long long i = 0;
	double d = 0;
	bool b = false;
	const json_t *sub = NULL;
	if (json_check_fields(v, allowed, &p))
		check_problem(&p);
	if (json_get_string(v, "title", JSON_REQUIRED | JSON_NONEMPTY, 5, &s, &p))
		check_problem(&p);
	if (json_get_string(v, "description", JSON_OPTIONAL, 0, &s, &p))
		check_problem(&p);
	if (json_get_double(v, "lat", JSON_REQUIRED, -90, 90, &d, &p))
		check_problem(&p);
	if (json_get_double(v, "lng", JSON_OPTIONAL, -180, 180, &d, &p))
		check_problem(&p);
	if (json_get_int(v, "count", JSON_OPTIONAL, 0, 1000, &i, &p))
		check_problem(&p);
	if (json_get_bool(v, "urgent", JSON_OPTIONAL, &b, &p))
		check_problem(&p);
	if (json_get_value(v, "tags", JSON_OPTIONAL, JSON_ARRAY, &sub, &p))
		check_problem(&p);
	/* every key must be found by the getters' lookup and survive a round trip */
	const char *key;
	json_t *val;
	json_object_foreach(v, key, val) {
		(void)val;
		if (json_get_value(v, key, JSON_OPTIONAL, JSON_OBJECT, &sub, &p))
			check_problem(&p);
	}
	struct buf text;
	buf_init(&text, 8u * 1024 * 1024);
	if (json_dump_callback(v, dump_to_buf, &text, JSON_COMPACT) == 0) {
		json_t *again = NULL;
		if (json_parse_request(text.data ? text.data : "", text.len, &again, &p))
			abort(); /* what we accepted and re-serialised must be accepted again */
		json_decref(again);
	}
	buf_release(&text);
	json_decref(v);
	return 0;
}
