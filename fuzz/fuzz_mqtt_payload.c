/* Fuzz target for the MQTT/HTTP device payloads (src/app/payload.c) and the topic splitter
 * (src/app/mqtt_topics.c). The first byte picks the message kind; the rest is the payload, as a
 * device would send it (not NUL-terminated). Whatever is accepted must satisfy the limits the
 * hub relies on; whatever is refused must carry a 400/422 problem naming a code. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/iot.h"
#include "app/mqtt_topics.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TS_MIN_MS 946684800000LL
#define TS_MAX_MS 4102444800000LL

static void check_problem(const struct json_problem *p)
{
	if ((p->status != 400 && p->status != 422) || !p->code[0] || !memchr(p->field, 0, sizeof p->field))
		abort();
}

static void check_ts(int64_t ts)
{
	if (ts != 1 && (ts < TS_MIN_MS || ts >= TS_MAX_MS))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned kind = data[0] % 4;
	const char *json = (const char *)data + 1;
	size_t len = size - 1;
	struct json_problem p;
	memset(&p, 0, sizeof p);
	if (kind == 0) {
		struct iot_telemetry *t = xmalloc(sizeof *t);
		if (iot_parse_telemetry("dev-1", json, len, 1, t, &p) == CD_OK) {
			check_ts(t->ts_ms);
			if (t->n < 1 || t->n > IOT_MAX_VALUES)
				abort();
			for (size_t i = 0; i < t->n; i++)
				if (!iot_valid_id(t->v[i].metric) || strlen(t->v[i].metric) >= IOT_METRIC_MAX ||
				    !isfinite(t->v[i].value))
					abort();
		} else {
			check_problem(&p);
		}
		xfree(t);
	} else if (kind == 1) {
		struct iot_event *e = xmalloc(sizeof *e);
		if (iot_parse_event("dev-1", json, len, 1, e, &p) == CD_OK) {
			check_ts(e->ts_ms);
			if (!e->type[0] || !memchr(e->detail, 0, sizeof e->detail) || !memchr(e->level, 0, sizeof e->level))
				abort();
		} else {
			check_problem(&p);
		}
		xfree(e);
	} else if (kind == 2) {
		struct iot_status s;
		if (iot_parse_status("dev-1", json, len, 1, &s, &p) == CD_OK)
			check_ts(s.ts_ms);
		else
			check_problem(&p);
	} else {
		/* the payload as a topic name */
		char *topic = xstrndup(json, len);
		char dev[IOT_ID_MAX];
		enum mqtt_kind k;
		if (mqtt_topic_parse(topic, dev, &k) && (!iot_valid_id(dev) || (int)k < 0 || k >= MQTT_KIND_COUNT))
			abort();
		xfree(topic);
	}
	return 0;
}
