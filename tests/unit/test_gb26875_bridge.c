/* Unit tests of what GB/T 26875.3 messages become for the IoT hub (gb26875_bridge_map):
 * events with levels, telemetry metrics per sensor, status from heartbeats and silence; and
 * the bridge over a real device registry and socket: only active registered transmitters are
 * ACKed, the others NAKed byte for byte and listed in the listener's stats. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/app.h"
#include "app/config.h"
#include "app/devices.h"
#include "app/gb26875_bridge.h"
#include "app/iot.h"
#include "gbtest.h"
#include "net/gb26875.h"
#include "test.h"
#include "tmpstore.h"

/* Everything the mapping produced, in order. */
static struct {
	char kind[64]; /* 't' telemetry, 'e' event, 's' status, in order */
	struct iot_event e[64];
	struct iot_telemetry t[8];
	struct iot_status s[8];
	size_t ne, nt, ns, n;
} out;

static void on_t(void *ctx, const struct iot_telemetry *t)
{
	(void)ctx;
	if (out.nt < 8)
		out.t[out.nt++] = *t;
	if (out.n < 64)
		out.kind[out.n++] = 't';
}

static void on_e(void *ctx, const struct iot_event *e)
{
	(void)ctx;
	if (out.ne < 64)
		out.e[out.ne++] = *e;
	if (out.n < 64)
		out.kind[out.n++] = 'e';
}

static void on_s(void *ctx, const struct iot_status *s)
{
	(void)ctx;
	if (out.ns < 8)
		out.s[out.ns++] = *s;
	if (out.n < 64)
		out.kind[out.n++] = 's';
}

static const struct gb_bridge_sink sink = {on_t, on_e, on_s, NULL};

static struct gb_frame fr;

/* Maps a send-data frame with this data unit, received 5 s after the device's clock. */
static size_t map_unit(const uint8_t *unit, size_t n)
{
	memset(&out, 0, sizeof out);
	memset(&fr, 0, sizeof fr);
	fr.serial = 77;
	fr.cmd = GB_CMD_SEND;
	if (n)
		memcpy(fr.data, unit, n);
	fr.len = (uint16_t)n;
	struct gb_message m = {.kind = GB_MSG_DATA, .recv_ms = T_DEVICE_MS + 5000, .frame = &fr};
	memcpy(m.addr, "790300000000", GB_ADDR_HEX);
	return gb26875_bridge_map("uitd-1", &m, &sink);
}

/* The detail's member `key` as a string ("" when absent), or as an integer (-1 when absent). */
static json_t *detail(size_t i)
{
	json_error_t err;
	json_t *d = json_loads(out.e[i].detail, 0, &err);
	CHECK(d != NULL);
	if (!d)
		fprintf(stderr, "  detail: %s (%s)\n", out.e[i].detail, err.text);
	return d;
}

static void check_str(json_t *d, const char *key, const char *want)
{
	const char *v = json_string_value(json_object_get(d, key));
	CHECK_STR_EQ(v ? v : "(absent)", want);
}

static void check_int(json_t *d, const char *key, long long want)
{
	json_t *v = json_object_get(d, key);
	CHECK(json_is_integer(v));
	CHECK_INT_EQ(json_integer_value(v), want);
}

static bool valid_metric(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 31)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static void test_uitd_state_vector(void)
{
	CHECK_INT_EQ(map_unit(V_POWER + 27, 9), 1);
	CHECK_INT_EQ(out.ne, 1);
	CHECK_STR_EQ(out.e[0].device, "uitd-1");
	CHECK_STR_EQ(out.e[0].type, "main_power_fault");
	CHECK_STR_EQ(out.e[0].level, "yellow");
	CHECK_INT_EQ(out.e[0].ts_ms, T_DEVICE_MS);
	json_t *d = detail(0);
	check_str(d, "source", "gb26875");
	check_str(d, "address", "790300000000");
	check_str(d, "object", "transmitter");
	check_str(d, "device_time", "2012-09-26T09:58:02+08:00");
	check_int(d, "status", 8);
	check_int(d, "serial", 77);
	json_decref(d);

	/* Fire and a link fault together: two events; normal alone: restore. */
	uint8_t u[2 + 7] = {GB_T_UITD_STATE, 1, GB_UITD_FIRE | GB_UITD_LINK_FAULT};
	memcpy(u + 3, T_DEVICE, GB_TIME_LEN);
	CHECK_INT_EQ(map_unit(u, sizeof u), 2);
	CHECK_STR_EQ(out.e[0].type, "fire_alarm");
	CHECK_STR_EQ(out.e[0].level, "red");
	CHECK_STR_EQ(out.e[1].type, "link_fault");
	CHECK_STR_EQ(out.e[1].level, "yellow");
	u[2] = GB_UITD_NORMAL;
	CHECK_INT_EQ(map_unit(u, sizeof u), 1);
	CHECK_STR_EQ(out.e[0].type, "restore");
	CHECK_STR_EQ(out.e[0].level, "");
}

static size_t comp(uint8_t *p, uint16_t status, const char *desc)
{
	p[0] = 1;
	p[1] = 2;
	p[2] = 42;
	p[3] = 3;
	p[4] = 0;
	p[5] = 0x2c;
	p[6] = 0x01;
	p[7] = (uint8_t)(status & 0xff);
	p[8] = (uint8_t)(status >> 8);
	memset(p + 9, 0, GB_DESC_RAW);
	memcpy(p + 9, desc, strlen(desc));
	memcpy(p + 9 + GB_DESC_RAW, T_DEVICE, GB_TIME_LEN);
	return 46;
}

static void test_component_fire(void)
{
	uint8_t u[2 + 2 * 46] = {GB_T_COMP_STATE, 2};
	comp(u + 2, GB_ST_NORMAL | GB_ST_FIRE, "\xc8\xfd\xc2\xa5\xd1\xcc\xb8\xd0"); /* 三楼烟感 */
	comp(u + 2 + 46, GB_ST_NORMAL | GB_ST_FAULT | GB_ST_MAIN_POWER, "\"quote\\ 1F");
	CHECK_INT_EQ(map_unit(u, sizeof u), 3);
	CHECK_STR_EQ(out.e[0].type, "fire_alarm");
	CHECK_STR_EQ(out.e[0].level, "red");
	CHECK_INT_EQ(out.e[0].ts_ms, T_DEVICE_MS);
	json_t *d = detail(0);
	check_str(d, "object", "component");
	check_str(d, "description", "三楼烟感");
	check_str(d, "system", "fire_alarm_system");
	check_str(d, "component", "photoelectric_smoke_detector");
	check_int(d, "system_type", 1);
	check_int(d, "system_address", 2);
	check_int(d, "component_type", 42);
	check_int(d, "zone", 3);
	check_int(d, "position", 300);
	CHECK(json_object_get(d, "test") == NULL);
	json_decref(d);
	CHECK_STR_EQ(out.e[1].type, "fault");
	CHECK_STR_EQ(out.e[1].level, "yellow");
	CHECK_STR_EQ(out.e[2].type, "power_fault");
	d = detail(2);
	check_str(d, "description", "\"quote\\ 1F"); /* escaped in the JSON, whole after parsing */
	json_decref(d);

	/* A fire in test mode (bit 0 clear) is still red, marked as a test. */
	uint8_t t[2 + 46] = {GB_T_COMP_STATE, 1};
	comp(t + 2, GB_ST_FIRE, "T");
	CHECK_INT_EQ(map_unit(t, sizeof t), 1);
	CHECK_STR_EQ(out.e[0].level, "red");
	d = detail(0);
	check_int(d, "test", 1);
	json_decref(d);

	/* Back to normal: restore, no level. Disabled: information, and restore (no alarm bit). */
	comp(t + 2, GB_ST_NORMAL, "T");
	CHECK_INT_EQ(map_unit(t, sizeof t), 1);
	CHECK_STR_EQ(out.e[0].type, "restore");
	comp(t + 2, GB_ST_NORMAL | GB_ST_DISABLED, "T");
	CHECK_INT_EQ(map_unit(t, sizeof t), 2);
	CHECK_STR_EQ(out.e[0].type, "disabled");
	CHECK_STR_EQ(out.e[0].level, "");
	CHECK_STR_EQ(out.e[1].type, "restore");

	/* A device clock far from ours: the arrival time is used. */
	comp(t + 2, GB_ST_NORMAL | GB_ST_FIRE, "T");
	t[2 + 9 + GB_DESC_RAW + 5] = 0; /* year 2000 */
	CHECK_INT_EQ(map_unit(t, sizeof t), 1);
	CHECK_INT_EQ(out.e[0].ts_ms, T_DEVICE_MS + 5000);
	/* An impossible one too, and then no device_time in the detail. */
	t[2 + 9 + GB_DESC_RAW + 4] = 0; /* month 0 */
	CHECK_INT_EQ(map_unit(t, sizeof t), 1);
	CHECK_INT_EQ(out.e[0].ts_ms, T_DEVICE_MS + 5000);
	d = detail(0);
	CHECK(json_object_get(d, "device_time") == NULL);
	json_decref(d);
}

static void test_system_state(void)
{
	uint8_t u[2 + 10] = {GB_T_SYS_STATE, 1, 11, 1, 0x07, 0x05}; /* hydrant system */
	memcpy(u + 6, T_DEVICE, GB_TIME_LEN);
	/* status 0x0507: normal, fire, fault, main power (8), backup power (10 is bus) */
	CHECK_INT_EQ(map_unit(u, sizeof u), 4);
	CHECK_STR_EQ(out.e[0].type, "fire_alarm");
	CHECK_STR_EQ(out.e[1].type, "fault");
	CHECK_STR_EQ(out.e[2].type, "main_power_fault");
	CHECK_STR_EQ(out.e[3].type, "bus_fault");
	json_t *d = detail(0);
	check_str(d, "object", "system");
	check_str(d, "system", "hydrant_system");
	check_int(d, "status", 0x0507);
	json_decref(d);
}

static void analog(uint8_t *p, uint8_t kind, int16_t raw, uint16_t zone, const uint8_t t[GB_TIME_LEN])
{
	p[0] = 11;
	p[1] = 1;
	p[2] = 99;
	p[3] = (uint8_t)(zone & 0xff);
	p[4] = (uint8_t)(zone >> 8);
	p[5] = 7;
	p[6] = 0;
	p[7] = kind;
	p[8] = (uint8_t)((uint16_t)raw & 0xff);
	p[9] = (uint8_t)((uint16_t)raw >> 8);
	memcpy(p + 10, t, GB_TIME_LEN);
}

static void test_analog_telemetry(void)
{
	uint8_t u[2 + 4 * 16] = {GB_T_ANALOG, 4};
	analog(u + 2, 3, 253, 0, T_DEVICE);
	analog(u + 18, 4, 3, 1, T_DEVICE);
	analog(u + 34, 6, -50, 2, T_DEVICE);
	analog(u + 50, 200, 9, 3, T_DEVICE);
	CHECK_INT_EQ(map_unit(u, sizeof u), 1);
	CHECK_INT_EQ(out.nt, 1);
	CHECK_STR_EQ(out.t[0].device, "uitd-1");
	CHECK_INT_EQ(out.t[0].ts_ms, T_DEVICE_MS);
	CHECK_INT_EQ(out.t[0].n, 4);
	CHECK_STR_EQ(out.t[0].v[0].metric, "temperature_c.1.0.7");
	CHECK_NEAR(out.t[0].v[0].value, 25.3, 1e-9);
	CHECK_STR_EQ(out.t[0].v[1].metric, "pressure_mpa.1.1.7");
	CHECK_NEAR(out.t[0].v[1].value, 0.3, 1e-9);
	CHECK_STR_EQ(out.t[0].v[2].metric, "gas_lel.1.2.7");
	CHECK_NEAR(out.t[0].v[2].value, -5.0, 1e-9);
	CHECK_STR_EQ(out.t[0].v[3].metric, "analog_200.1.3.7");
	CHECK_NEAR(out.t[0].v[3].value, 9, 1e-9);
	for (size_t i = 0; i < out.t[0].n; i++)
		CHECK(valid_metric(out.t[0].v[i].metric));

	/* The longest names still fit a metric. */
	uint8_t big[2 + 16] = {GB_T_ANALOG, 1};
	analog(big + 2, 11, 1, 65535, T_DEVICE);
	big[2 + 1] = 255;
	big[2 + 5] = 0xff;
	big[2 + 6] = 0xff;
	CHECK_INT_EQ(map_unit(big, sizeof big), 1);
	CHECK_STR_EQ(out.t[0].v[0].metric, "airflow_m3min.255.65535.65535");
	CHECK(valid_metric(out.t[0].v[0].metric));

	/* 40 values at one time: 32 + 8. */
	static uint8_t many[2 + 40 * 16];
	many[0] = GB_T_ANALOG;
	many[1] = 40;
	for (size_t i = 0; i < 40; i++)
		analog(many + 2 + i * 16, 3, (int16_t)i, (uint16_t)i, T_DEVICE);
	CHECK_INT_EQ(map_unit(many, sizeof many), 2);
	CHECK_INT_EQ(out.t[0].n, IOT_MAX_VALUES);
	CHECK_INT_EQ(out.t[1].n, 8);
	CHECK_STR_EQ(out.t[1].v[7].metric, "temperature_c.1.39.7");
	uint8_t later[GB_TIME_LEN];
	memcpy(later, T_DEVICE, GB_TIME_LEN);
	later[0] = 3;
	analog(u + 18, 4, 3, 1, later);
	/* Consecutive values share a message while their time is the same: 1, 1, 2. */
	CHECK_INT_EQ(map_unit(u, sizeof u), 3);
	CHECK_INT_EQ(out.t[0].n, 1);
	CHECK_INT_EQ(out.t[1].n, 1);
	CHECK_INT_EQ(out.t[1].ts_ms, T_DEVICE_MS + 1000);
	CHECK_INT_EQ(out.t[2].n, 2);
	CHECK_INT_EQ(out.t[2].ts_ms, T_DEVICE_MS);
}

static void test_status_and_replies(void)
{
	/* Heartbeat: online. */
	CHECK_INT_EQ(map_unit(NULL, 0), 1);
	CHECK_INT_EQ(out.ns, 1);
	CHECK(out.s[0].online);
	CHECK_STR_EQ(out.s[0].device, "uitd-1");
	CHECK_INT_EQ(out.s[0].ts_ms, T_DEVICE_MS + 5000);

	/* Silence: offline. */
	memset(&out, 0, sizeof out);
	struct gb_message m = {.kind = GB_MSG_OFFLINE, .recv_ms = 42, .frame = NULL};
	memcpy(m.addr, "790300000000", GB_ADDR_HEX);
	CHECK_INT_EQ(gb26875_bridge_map("uitd-1", &m, &sink), 1);
	CHECK(!out.s[0].online);
	CHECK_INT_EQ(out.s[0].ts_ms, 42);

	/* The device's ACK of a duty check: an information event. */
	memset(&out, 0, sizeof out);
	memset(&fr, 0, sizeof fr);
	fr.cmd = GB_CMD_ACK;
	fr.serial = 5;
	m.kind = GB_MSG_REPLY;
	m.frame = &fr;
	CHECK_INT_EQ(gb26875_bridge_map("uitd-1", &m, &sink), 1);
	CHECK_STR_EQ(out.e[0].type, "command_reply");
	CHECK_STR_EQ(out.e[0].level, "");
	json_t *d = detail(0);
	check_str(d, "reply", "ack");
	check_int(d, "serial", 5);
	json_decref(d);

	/* Operator answered the duty check (type 24, flag bit 5). */
	uint8_t op[2 + 8] = {GB_T_UITD_OPERATION, 1, 0x20, 3};
	memcpy(op + 4, T_DEVICE, GB_TIME_LEN);
	CHECK_INT_EQ(map_unit(op, sizeof op), 1);
	CHECK_STR_EQ(out.e[0].type, "duty_check_answered");
	d = detail(0);
	check_int(d, "operator", 3);
	CHECK(json_is_array(json_object_get(d, "actions")));
	const char *a0 = json_string_value(json_array_get(json_object_get(d, "actions"), 0));
	CHECK_STR_EQ(a0 ? a0 : "", "duty_check_answer");
	json_decref(d);
	op[2] = 0x01;
	CHECK_INT_EQ(map_unit(op, sizeof op), 1);
	CHECK_STR_EQ(out.e[0].type, "operation");

	/* The transmitter's clock: an information event with the drift. */
	uint8_t t28[2 + 6] = {GB_T_UITD_TIME, 1};
	memcpy(t28 + 2, T_DEVICE, GB_TIME_LEN);
	CHECK_INT_EQ(map_unit(t28, sizeof t28), 1);
	CHECK_STR_EQ(out.e[0].type, "clock");
	d = detail(0);
	check_int(d, "drift_s", -5);
	json_decref(d);

	/* Types not decoded, and empty units: nothing. */
	static const uint8_t t5[] = {5, 1, 1, 1, 2, 3};
	CHECK_INT_EQ(map_unit(t5, sizeof t5), 0);
	static const uint8_t empty[] = {GB_T_COMP_STATE, 0};
	CHECK_INT_EQ(map_unit(empty, sizeof empty), 0);
	/* A sink without callbacks is fine. */
	struct gb_bridge_sink none = {NULL, NULL, NULL, NULL};
	m.kind = GB_MSG_OFFLINE;
	m.frame = NULL;
	CHECK_INT_EQ(gb26875_bridge_map("uitd-1", &m, &none), 1);
}

/* ---- The bridge over a registry ---- */

static void send_frame(int fd, uint16_t serial, const char *src_hex, const uint8_t *data, size_t n)
{
	struct gb_frame f;
	memset(&f, 0, sizeof f);
	f.serial = serial;
	f.version[0] = f.version[1] = 1;
	memcpy(f.time, T_DEVICE, GB_TIME_LEN);
	CHECK(gb_addr_parse(src_hex, f.src));
	memcpy(f.dst, CENTRE, GB_ADDR_LEN);
	f.cmd = GB_CMD_SEND;
	f.len = (uint16_t)n;
	if (n)
		memcpy(f.data, data, n);
	uint8_t buf[GB_FRAME_MAX];
	size_t len = 0;
	CHECK_INT_EQ(gb_frame_encode(&f, buf, sizeof buf, &len), CD_OK);
	CHECK_INT_EQ(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Reads one 30-byte reply and checks every byte but the centre's time: serial, version 1.1,
 * source the centre, destination the device, no data, cmd (3 ACK, 6 NAK), checksum, "##". */
static void expect_reply(int fd, uint16_t serial, const char *dst_hex, uint8_t cmd)
{
	uint8_t r[30], want[30] = {'@', '@', (uint8_t)(serial & 0xff), (uint8_t)(serial >> 8), 1, 1};
	size_t got = 0;
	while (got < sizeof r) {
		ssize_t k = recv(fd, r + got, sizeof r - got, 0);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	CHECK_INT_EQ(got, sizeof r);
	if (got != sizeof r)
		return;
	memcpy(want + 6, r + 6, GB_TIME_LEN);
	memcpy(want + 12, CENTRE, GB_ADDR_LEN);
	CHECK(gb_addr_parse(dst_hex, want + 18));
	want[26] = cmd;
	want[27] = gb_checksum(want + 2, 25);
	want[28] = want[29] = '#';
	CHECK(memcmp(r, want, sizeof r) == 0);
}

static void test_bridge_admits_active_registered_only(void)
{
	static const struct store_actor admin = {"admin", "127.0.0.1"};
	struct tmpdb db;
	tmpdb_make(&db);
	struct app app;
	memset(&app, 0, sizeof app);
	config_init(&app.cfg);
	app.cfg.values[CFG_GB26875_LISTEN] = "127.0.0.1:0";
	app.st = open_ok(&db);
	pthread_rwlock_init(&app.map_lock, NULL);
	CHECK_INT_EQ(devices_load(&app, &app.devices), CD_OK);
	static const char *const ids[] = {"uitd-1", "uitd-2"}, *const addrs[] = {"790300000001", "790300000002"};
	for (size_t i = 0; i < 2; i++) {
		struct iot_device d;
		memset(&d, 0, sizeof d);
		snprintf(d.id, sizeof d.id, "%s", ids[i]);
		snprintf(d.type, sizeof d.type, "%s", "uitd");
		snprintf(d.address_hex, sizeof d.address_hex, "%s", addrs[i]);
		char secret[65];
		struct json_problem p;
		CHECK_INT_EQ(devices_create(&app, &admin, &d, secret, &p), CD_OK);
	}
	struct json_problem p;
	CHECK_INT_EQ(devices_decommission(&app, &admin, "uitd-2", NULL, &p), CD_OK);

	struct gb_listener *l = NULL;
	CHECK_INT_EQ(gb26875_bridge_start(&app, &l), CD_OK);
	CHECK(l != NULL && gb26875_bridge_listener(&app) == l);
	if (!l)
		goto out;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)gb_listener_port(l))};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_INT_EQ(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

	/* The registered transmitter's alarm (the reference's type 21 unit) is admitted, but no
	 * hub runs in this test (iot_*_in answers CD_ERR_BUSY): not taken, so NAK, and the
	 * transmitter will send it again. (With a hub: ACK once journalled, tests/api/test_gb26875.py.) */
	send_frame(fd, 1, "790300000001", V_POWER + 27, 9);
	expect_reply(fd, 1, "790300000001", GB_CMD_NAK);
	/* Nobody registered this address (say, a transmitter entered with a typo): NAK. */
	send_frame(fd, 2, "790300000009", V_POWER + 27, 9);
	expect_reply(fd, 2, "790300000009", GB_CMD_NAK);
	/* Decommissioned: its alarms would be dropped by the hub, so NAK too. */
	send_frame(fd, 3, "790300000002", V_POWER + 27, 9);
	expect_reply(fd, 3, "790300000002", GB_CMD_NAK);
	/* Its heartbeat, still its first frame (the alarm was not taken): the online status is
	 * not taken either. */
	send_frame(fd, 4, "790300000001", NULL, 0);
	expect_reply(fd, 4, "790300000001", GB_CMD_NAK);

	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	CHECK_INT_EQ(st.acks, 0);
	CHECK_INT_EQ(st.naks, 4);
	CHECK_INT_EQ(st.not_taken, 2);
	CHECK_INT_EQ(st.unknown, 2);
	CHECK_STR_EQ(st.unknown_addrs[0], "790300000002");
	CHECK_STR_EQ(st.unknown_addrs[1], "790300000009");
	CHECK(gb_listener_connected(l, "790300000001", NULL));
	CHECK(!gb_listener_connected(l, "790300000009", NULL));
	CHECK(!gb_listener_connected(l, "790300000002", NULL));
	close(fd);
	gb26875_bridge_stop(l);
	CHECK(gb26875_bridge_listener(&app) == NULL);
out:
	devices_free(app.devices);
	store_close(app.st);
	pthread_rwlock_destroy(&app.map_lock);
	tmpdb_remove(&db);
}

static const struct test_case tests[] = {
    {"uitd_state_vector", test_uitd_state_vector},
    {"component_fire", test_component_fire},
    {"system_state", test_system_state},
    {"analog_telemetry", test_analog_telemetry},
    {"status_and_replies", test_status_and_replies},
    {"bridge_admits_active_registered_only", test_bridge_admits_active_registered_only},
};

TEST_MAIN(tests)
