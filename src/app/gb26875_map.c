/* What one GB/T 26875.3 message means to the IoT hub: fire and fault bits become events with
 * a level, analog values become telemetry, heartbeats and silence become status. Pure (no hub,
 * no registry) so it is unit tested alone; gb26875_bridge.c feeds its output to the hub. */
#include <stdio.h>
#include <string.h>

#include "app/gb26875_bridge.h"
#include "app/iot.h"
#include "net/gb26875.h"
#include "util/buf.h"

/* A device clock further than this from ours is not believed: the arrival time is used. */
#define CLOCK_TRUST_MS (24LL * 3600 * 1000)

/* One status bit and what it means as an event. */
struct bit_event {
	unsigned bit;	   /* the GB_ST_* or GB_UITD_* mask */
	const char *type;  /* iot_event.type */
	const char *level; /* "red", "yellow", or "" (information) */
	bool alarm;	   /* an abnormal condition (its absence means "restore") */
};

/* Systems (type 1) and components (type 2); bit 8 is a component's power fault. */
static const struct bit_event sys_bits[] = {
    {GB_ST_FIRE, "fire_alarm", "red", true},
    {GB_ST_FAULT, "fault", "yellow", true},
    {GB_ST_SUPERVISORY, "supervisory", "yellow", true},
    {GB_ST_MAIN_POWER, "main_power_fault", "yellow", true},
    {GB_ST_BACKUP_POWER, "backup_power_fault", "yellow", true},
    {GB_ST_BUS_FAULT, "bus_fault", "yellow", true},
    {GB_ST_DISABLED, "disabled", "", false},
    {GB_ST_STARTED, "started", "", false},
    {GB_ST_FEEDBACK, "feedback", "", false},
    {GB_ST_DELAY, "delay", "", false},
    {GB_ST_MANUAL, "manual", "", false},
    {GB_ST_CONFIG_CHANGED, "config_changed", "", false},
    {GB_ST_RESET, "reset", "", false},
};

static const struct bit_event comp_bits[] = {
    {GB_ST_FIRE, "fire_alarm", "red", true},
    {GB_ST_FAULT, "fault", "yellow", true},
    {GB_ST_SUPERVISORY, "supervisory", "yellow", true},
    {GB_ST_MAIN_POWER, "power_fault", "yellow", true},
    {GB_ST_DISABLED, "disabled", "", false},
    {GB_ST_STARTED, "started", "", false},
    {GB_ST_FEEDBACK, "feedback", "", false},
    {GB_ST_DELAY, "delay", "", false},
};

static const struct bit_event uitd_bits[] = {
    {GB_UITD_FIRE, "fire_alarm", "red", true},
    {GB_UITD_FAULT, "fault", "yellow", true},
    {GB_UITD_MAIN_POWER, "main_power_fault", "yellow", true},
    {GB_UITD_BACKUP_POWER, "backup_power_fault", "yellow", true},
    {GB_UITD_LINK_FAULT, "link_fault", "yellow", true},
    {GB_UITD_LINE_FAULT, "line_fault", "yellow", true},
};

/* Names for the detail, from the reference's lists; others appear as numbers only. */
static const char *system_name(uint8_t t)
{
	switch (t) {
	case 1:
		return "fire_alarm_system";
	case 10:
		return "linkage_controller";
	case 11:
		return "hydrant_system";
	case 12:
		return "sprinklers";
	case 13:
		return "gas_extinguishing";
	case 18:
		return "smoke_control";
	case 19:
		return "fire_doors_shutters";
	case 20:
		return "fire_lift";
	case 21:
		return "emergency_broadcast";
	case 22:
		return "emergency_lighting";
	case 23:
		return "fire_power_supply";
	case 24:
		return "fire_telephone";
	default:
		return NULL;
	}
}

static const char *component_name(uint8_t t)
{
	switch (t) {
	case 16:
		return "electrical_fire_monitor";
	case 17:
		return "residual_current_detector";
	case 18:
		return "temperature_electrical_fire_detector";
	case 23:
		return "manual_call_point";
	case 24:
		return "hydrant_button";
	case 40:
		return "smoke_detector";
	case 42:
		return "photoelectric_smoke_detector";
	case 91:
		return "fire_pump";
	case 92:
		return "water_tank";
	case 95:
		return "sprinkler_pump";
	case 99:
		return "pressure_switch";
	default:
		return NULL;
	}
}

/* The time to report: the device's when it has a believable one, else the arrival. */
static int64_t pick_ts(int64_t device_ms, int64_t recv_ms)
{
	if (device_ms <= 0)
		return recv_ms;
	int64_t d = device_ms - recv_ms;
	return d > CLOCK_TRUST_MS || d < -CLOCK_TRUST_MS ? recv_ms : device_ms;
}

static void iso_time(int64_t ms, char out[32])
{
	/* Beijing time, as the device and the district see it. */
	uint8_t t[GB_TIME_LEN];
	gb_time_from_ms(ms, t);
	snprintf(out, 32, "20%02u-%02u-%02uT%02u:%02u:%02u+08:00", t[5], t[4], t[3], t[2], t[1], t[0]);
}

/* Writes the detail members every event shares: where it came from and which frame. */
static void detail_begin(struct buf *b, const struct gb_message *m, const char *object)
{
	buf_reset(b);
	enum cd_err rc =
	    buf_printf(b, "{\"source\":\"gb26875\",\"address\":\"%s\",\"object\":\"%s\"", m->addr, object);
	if (!rc && m->frame)
		rc = buf_printf(b, ",\"serial\":%u", (unsigned)m->frame->serial);
	(void)rc; /* a detail cut short by the cap is still delivered; the cap is far above need */
}

static void detail_str(struct buf *b, const char *key, const char *val)
{
	if (!val)
		return;
	enum cd_err rc = buf_printf(b, ",\"%s\":\"", key);
	if (!rc)
		rc = buf_json_escape(b, val);
	if (!rc)
		rc = buf_putc(b, '"');
	(void)rc;
}

static void detail_int(struct buf *b, const char *key, long long v)
{
	enum cd_err rc = buf_printf(b, ",\"%s\":%lld", key, v);
	(void)rc;
}

static void detail_time(struct buf *b, int64_t device_ms)
{
	if (device_ms > 0) {
		char iso[32];
		iso_time(device_ms, iso);
		detail_str(b, "device_time", iso);
	}
}

struct emitter {
	const char *device;
	const struct gb_message *m;
	const struct gb_bridge_sink *sink;
	size_t count;
	struct buf detail; /* the current object's detail members, without the closing brace */
};

static void emit_event(struct emitter *em, const char *type, const char *level, int64_t ts_ms)
{
	static struct iot_event zero;
	struct iot_event e = zero;
	snprintf(e.device, sizeof e.device, "%s", em->device);
	e.ts_ms = ts_ms;
	snprintf(e.type, sizeof e.type, "%s", type);
	snprintf(e.level, sizeof e.level, "%s", level);
	size_t n = em->detail.len;
	if (n + 2 > sizeof e.detail)
		n = 0; /* cannot happen with these members; never send broken JSON */
	if (n) {
		memcpy(e.detail, em->detail.data, n);
		e.detail[n] = '}';
		e.detail[n + 1] = '\0';
	}
	if (em->sink->event)
		em->sink->event(em->sink->ctx, &e);
	em->count++;
}

/* One event per bit of `table` set in status, and "restore" when no alarm bit is set. */
static void emit_bits(struct emitter *em, const struct bit_event *table, size_t n, unsigned status,
		      int64_t ts)
{
	bool alarm = false;
	for (size_t i = 0; i < n; i++) {
		if (!(status & table[i].bit))
			continue;
		alarm |= table[i].alarm;
		emit_event(em, table[i].type, table[i].level, ts);
	}
	if (!alarm)
		emit_event(em, "restore", "", ts);
}

static void emit_status(struct emitter *em, bool online)
{
	struct iot_status s;
	memset(&s, 0, sizeof s);
	snprintf(s.device, sizeof s.device, "%s", em->device);
	s.ts_ms = em->m->recv_ms;
	s.online = online;
	if (em->sink->status)
		em->sink->status(em->sink->ctx, &s);
	em->count++;
}

/* Analog values: consecutive objects with the same time go into one telemetry message. */
struct tele {
	struct iot_telemetry t;
	bool open;
};

static void tele_flush(struct emitter *em, struct tele *tl)
{
	if (!tl->open)
		return;
	if (tl->t.n && em->sink->telemetry)
		em->sink->telemetry(em->sink->ctx, &tl->t);
	if (tl->t.n)
		em->count++;
	tl->open = false;
}

static void tele_add(struct emitter *em, struct tele *tl, const struct gb_object *o, int64_t ts)
{
	if (tl->open && (tl->t.ts_ms != ts || tl->t.n == IOT_MAX_VALUES))
		tele_flush(em, tl);
	if (!tl->open) {
		memset(&tl->t, 0, sizeof tl->t);
		snprintf(tl->t.device, sizeof tl->t.device, "%s", em->device);
		tl->t.ts_ms = ts;
		tl->open = true;
	}
	struct iot_value *v = &tl->t.v[tl->t.n];
	/* metric.system_address.zone.position: one series per sensor of the transmitter. */
	if (strcmp(o->u.analog.metric, "analog") == 0)
		snprintf(v->metric, sizeof v->metric, "analog_%u.%u.%u.%u", o->u.analog.kind,
			 o->u.analog.sys_addr, o->u.analog.zone, o->u.analog.position);
	else
		snprintf(v->metric, sizeof v->metric, "%s.%u.%u.%u", o->u.analog.metric, o->u.analog.sys_addr,
			 o->u.analog.zone, o->u.analog.position);
	v->value = o->u.analog.value;
	tl->t.n++;
}

/* The GB/T 26875.3 operation flags of a transmitter (type 24), as far as the reference and
 * public summaries name them. */
static void detail_op_flags(struct buf *b, uint8_t flags)
{
	static const char *const names[8] = {"reset",	      "silence",   "manual_alarm",
					     "alarm_cleared", "self_test", "duty_check_answer",
					     "test",	      NULL};
	enum cd_err rc = buf_puts(b, ",\"actions\":[");
	bool first = true;
	for (unsigned i = 0; i < 8 && !rc; i++) {
		if (!(flags & (1u << i)) || !names[i])
			continue;
		rc = buf_printf(b, "%s\"%s\"", first ? "" : ",", names[i]);
		first = false;
	}
	if (!rc)
		rc = buf_putc(b, ']');
	(void)rc;
}

static void map_object(struct emitter *em, struct tele *tl, const struct gb_object *o)
{
	const struct gb_message *m = em->m;
	int64_t ts = pick_ts(o->ts_ms, m->recv_ms);
	if (o->type != GB_T_ANALOG)
		tele_flush(em, tl); /* keep the order of events and values */
	switch (o->type) {
	case GB_T_SYS_STATE:
		detail_begin(&em->detail, m, "system");
		detail_int(&em->detail, "system_type", o->u.sys.sys_type);
		detail_str(&em->detail, "system", system_name(o->u.sys.sys_type));
		detail_int(&em->detail, "system_address", o->u.sys.sys_addr);
		detail_int(&em->detail, "status", o->u.sys.status);
		if (!(o->u.sys.status & GB_ST_NORMAL))
			detail_int(&em->detail, "test", 1);
		detail_time(&em->detail, o->ts_ms);
		emit_bits(em, sys_bits, sizeof sys_bits / sizeof sys_bits[0], o->u.sys.status, ts);
		break;
	case GB_T_COMP_STATE:
		detail_begin(&em->detail, m, "component");
		detail_int(&em->detail, "system_type", o->u.comp.sys_type);
		detail_str(&em->detail, "system", system_name(o->u.comp.sys_type));
		detail_int(&em->detail, "system_address", o->u.comp.sys_addr);
		detail_int(&em->detail, "component_type", o->u.comp.comp_type);
		detail_str(&em->detail, "component", component_name(o->u.comp.comp_type));
		detail_int(&em->detail, "zone", o->u.comp.zone);
		detail_int(&em->detail, "position", o->u.comp.position);
		detail_int(&em->detail, "status", o->u.comp.status);
		if (!(o->u.comp.status & GB_ST_NORMAL))
			detail_int(&em->detail, "test", 1);
		detail_str(&em->detail, "description", o->u.comp.desc);
		detail_time(&em->detail, o->ts_ms);
		emit_bits(em, comp_bits, sizeof comp_bits / sizeof comp_bits[0], o->u.comp.status, ts);
		break;
	case GB_T_ANALOG:
		tele_add(em, tl, o, ts);
		break;
	case GB_T_UITD_STATE:
		detail_begin(&em->detail, m, "transmitter");
		detail_int(&em->detail, "status", o->u.uitd.status);
		detail_time(&em->detail, o->ts_ms);
		emit_bits(em, uitd_bits, sizeof uitd_bits / sizeof uitd_bits[0], o->u.uitd.status, ts);
		break;
	case GB_T_SYS_OPERATION:
	case GB_T_UITD_OPERATION:
		detail_begin(&em->detail, m, o->type == GB_T_SYS_OPERATION ? "system" : "transmitter");
		if (o->type == GB_T_SYS_OPERATION) {
			detail_int(&em->detail, "system_type", o->u.op.sys_type);
			detail_int(&em->detail, "system_address", o->u.op.sys_addr);
		}
		detail_int(&em->detail, "flags", o->u.op.flags);
		if (o->type == GB_T_UITD_OPERATION)
			detail_op_flags(&em->detail, o->u.op.flags);
		detail_int(&em->detail, "operator", o->u.op.operator_id);
		detail_time(&em->detail, o->ts_ms);
		emit_event(em,
			   o->type == GB_T_UITD_OPERATION && (o->u.op.flags & 0x20) ? "duty_check_answered"
										    : "operation",
			   "", ts);
		break;
	case GB_T_SYS_TIME:
	case GB_T_UITD_TIME:
		detail_begin(&em->detail, m, o->type == GB_T_SYS_TIME ? "system" : "transmitter");
		if (o->type == GB_T_SYS_TIME) {
			detail_int(&em->detail, "system_type", o->u.time.sys_type);
			detail_int(&em->detail, "system_address", o->u.time.sys_addr);
		}
		detail_time(&em->detail, o->ts_ms);
		if (o->ts_ms > 0)
			detail_int(&em->detail, "drift_s", (o->ts_ms - m->recv_ms) / 1000);
		emit_event(em, "clock", "", m->recv_ms);
		break;
	default:
		break; /* downstream types (90, 91) coming upstream: nothing to report */
	}
}

size_t gb26875_bridge_map(const char *device, const struct gb_message *m, const struct gb_bridge_sink *sink)
{
	struct emitter em = {.device = device, .m = m, .sink = sink};
	buf_init(&em.detail, IOT_DETAIL_MAX - 2);
	switch (m->kind) {
	case GB_MSG_OFFLINE:
		emit_status(&em, false);
		break;
	case GB_MSG_REPLY: {
		static const char *const what[] = {
		    [GB_CMD_ACK] = "ack", [GB_CMD_RESPONSE] = "response", [GB_CMD_NAK] = "nak"};
		uint8_t cmd = m->frame->cmd;
		detail_begin(&em.detail, m, "transmitter");
		detail_str(&em.detail, "reply", cmd <= GB_CMD_NAK && what[cmd] ? what[cmd] : "other");
		emit_event(&em, "command_reply", "", m->recv_ms);
		break;
	}
	case GB_MSG_DATA: {
		if (m->frame->len == 0) { /* a heartbeat */
			emit_status(&em, true);
			break;
		}
		struct gb_unit u;
		if (gb_unit_parse(m->frame->data, m->frame->len, &u) != CD_OK)
			break; /* a type not decoded, or (with NAKs off) a malformed unit */
		struct tele tl = {.open = false};
		for (size_t i = 0; i < u.count; i++) {
			struct gb_object o;
			if (gb_unit_object(&u, i, &o) == CD_OK)
				map_object(&em, &tl, &o);
		}
		tele_flush(&em, &tl);
		break;
	}
	}
	buf_release(&em.detail);
	return em.count;
}
