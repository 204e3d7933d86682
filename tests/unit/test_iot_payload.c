/* The device payloads (telemetry, event, status) read strictly, and device secrets hashed the
 * way Mosquitto's password file wants them: checked against a real /usr/sbin/mosquitto. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "app/iot.h"
#include "net/broker.h"
#include "util/alloc.h"
#include "test.h"

#define NOW 1714523400000LL /* 2024-05-01T00:30:00Z */

static struct json_problem prob;

static enum cd_err tele(const char *json, struct iot_telemetry *t)
{
	memset(&prob, 0, sizeof prob);
	return iot_parse_telemetry("smoke-01", json, strlen(json), NOW, t, &prob);
}

static enum cd_err event(const char *json, struct iot_event *e)
{
	memset(&prob, 0, sizeof prob);
	return iot_parse_event("uitd.7", json, strlen(json), NOW, e, &prob);
}

static enum cd_err status(const char *json, struct iot_status *s)
{
	memset(&prob, 0, sizeof prob);
	return iot_parse_status("wm_3", json, strlen(json), NOW, s, &prob);
}

static void test_valid_id(void)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
	    {"smoke-01", true},
	    {"A.b_c-9", true},
	    {"x", true},
	    {"", false},
	    {"a b", false},
	    {"a/b", false},
	    {"a+", false},
	    {"a#", false},
	    {"烟感1", false},
	    {"123456789012345678901234567890123456789012345678901234567890123", true},	 /* 63 */
	    {"1234567890123456789012345678901234567890123456789012345678901234", false}, /* 64 */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (iot_valid_id(cases[i].s) != cases[i].ok) {
			fprintf(stderr, "  id \"%s\"\n", cases[i].s);
			CHECK(iot_valid_id(cases[i].s) == cases[i].ok);
		}
	CHECK(!iot_valid_id(NULL));
}

static void test_telemetry_ok(void)
{
	struct iot_telemetry t;
	CHECK_INT_EQ(
	    tele("{\"ts\":\"2024-05-01T08:30:00+08:00\",\"values\":{\"temp_c\":21.5,\"smoke\":0}}", &t),
	    CD_OK);
	CHECK_STR_EQ(t.device, "smoke-01");
	CHECK_INT_EQ(t.ts_ms, NOW);
	CHECK_INT_EQ(t.n, 2);
	CHECK_STR_EQ(t.v[0].metric, "temp_c");
	CHECK_NEAR(t.v[0].value, 21.5, 1e-12);
	CHECK_STR_EQ(t.v[1].metric, "smoke");
	CHECK_NEAR(t.v[1].value, 0, 0);
	/* the same moment written four ways, and a missing ts becomes now */
	static const char *const forms[] = {
	    "{\"ts\":\"2024-05-01T00:30:00Z\",\"values\":{\"a\":1}}",
	    "{\"ts\":\"2024-05-01T08:30:00\",\"values\":{\"a\":1}}",
	    "{\"ts\":\"2024-04-30T19:30:00-05:00\",\"values\":{\"a\":1}}",
	    "{\"ts\":1714523400000,\"values\":{\"a\":1}}",
	    "{\"values\":{\"a\":1}}",
	    "{\"ts\":null,\"values\":{\"a\":1}}",
	};
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		CHECK_INT_EQ(tele(forms[i], &t), CD_OK);
		CHECK_INT_EQ(t.ts_ms, NOW);
	}
	CHECK_INT_EQ(tele("{\"ts\":\"2024-05-01T00:30:00.25Z\",\"values\":{\"a\":-1e3}}", &t), CD_OK);
	CHECK_INT_EQ(t.ts_ms, NOW + 250);
	CHECK_NEAR(t.v[0].value, -1000, 0);
	CHECK_INT_EQ(tele("{\"ts\":\"2024-05-01T00:30:00.123456Z\",\"values\":{\"a\":1}}", &t), CD_OK);
	CHECK_INT_EQ(t.ts_ms, NOW + 123);
	/* exactly IOT_MAX_VALUES is fine */
	char big[2048];
	size_t pos = (size_t)snprintf(big, sizeof big, "{\"values\":{");
	for (int i = 0; i < IOT_MAX_VALUES; i++)
		pos += (size_t)snprintf(big + pos, sizeof big - pos, "%s\"m%d\":%d", i ? "," : "", i, i);
	snprintf(big + pos, sizeof big - pos, "}}");
	CHECK_INT_EQ(tele(big, &t), CD_OK);
	CHECK_INT_EQ(t.n, IOT_MAX_VALUES);
	CHECK_STR_EQ(t.v[IOT_MAX_VALUES - 1].metric, "m31");
}

/* Each bad payload gives CD_ERR_INVALID with this status, code and field. */
static void test_telemetry_bad(void)
{
	static const struct {
		const char *json;
		int status;
		const char *code, *field;
	} cases[] = {
	    {"{\"values\":{\"a\":1},\"battery\":3}", 422, "unknown_field", "battery"},
	    {"{\"values\":{\"a\":\"1\"}}", 422, "invalid_field", "values.a"},
	    {"{\"values\":{\"a\":true}}", 422, "invalid_field", "values.a"},
	    {"{\"values\":{\"a\":null}}", 422, "invalid_field", "values.a"},
	    {"{\"values\":{\"a\":[1]}}", 422, "invalid_field", "values.a"},
	    {"{\"values\":{}}", 422, "invalid_field", "values"},
	    {"{\"values\":[1,2]}", 422, "invalid_field", "values"},
	    {"{\"values\":{\"a b\":1}}", 422, "invalid_field", "values"},
	    {"{\"values\":{\"abcdefghijabcdefghijabcdefghij12\":1}}", 422, "invalid_field", "values"},
	    {"{\"ts\":1714523400,\"values\":{\"a\":1}}", 422, "invalid_field", "ts"}, /* seconds */
	    {"{\"ts\":\"yesterday\",\"values\":{\"a\":1}}", 422, "invalid_field", "ts"},
	    {"{\"ts\":\"2024-02-30T00:00:00Z\",\"values\":{\"a\":1}}", 422, "invalid_field", "ts"},
	    {"{\"ts\":\"2024-05-01T00:30:00+0800\",\"values\":{\"a\":1}}", 422, "invalid_field", "ts"},
	    {"{\"ts\":true,\"values\":{\"a\":1}}", 422, "invalid_field", "ts"},
	    {"{\"ts\":1e300,\"values\":{\"a\":1}}", 422, "invalid_field", "ts"},
	    {"{}", 422, "missing_field", "values"},
	    {"[1]", 422, "not_an_object", ""},
	    {"{\"values\":{\"a\":1}", 400, "invalid_json", ""},
	    {"", 400, "invalid_json", ""},
	    {"{\"values\":{\"a\":1,\"a\":2}}", 400, "duplicate_key", ""},
	    {"{\"values\":{\"a\":NaN}}", 400, "invalid_json", ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct iot_telemetry t;
		enum cd_err rc = tele(cases[i].json, &t);
		if (rc != CD_ERR_INVALID || prob.status != cases[i].status ||
		    strcmp(prob.code, cases[i].code) || strcmp(prob.field, cases[i].field)) {
			fprintf(stderr, "  payload %s -> rc %d %d %s \"%s\": %s\n", cases[i].json, rc,
				prob.status, prob.code, prob.field, prob.message);
			CHECK(0);
		}
		CHECK_INT_EQ(t.n, 0);
	}
	/* one value too many */
	char big[2048];
	size_t pos = (size_t)snprintf(big, sizeof big, "{\"values\":{");
	for (int i = 0; i <= IOT_MAX_VALUES; i++)
		pos += (size_t)snprintf(big + pos, sizeof big - pos, "%s\"m%d\":%d", i ? "," : "", i, i);
	snprintf(big + pos, sizeof big - pos, "}}");
	struct iot_telemetry t;
	CHECK_INT_EQ(tele(big, &t), CD_ERR_INVALID);
	CHECK_STR_EQ(prob.field, "values");
	/* a bad device id (from a topic or a URL) */
	memset(&prob, 0, sizeof prob);
	CHECK_INT_EQ(iot_parse_telemetry("a/b", "{\"values\":{\"a\":1}}", 18, NOW, &t, &prob),
		     CD_ERR_INVALID);
	CHECK_STR_EQ(prob.field, "device");
	/* not NUL-terminated input is read only up to len */
	const char raw[] = "{\"values\":{\"a\":7}}garbage";
	memset(&prob, 0, sizeof prob);
	CHECK_INT_EQ(iot_parse_telemetry("d", raw, 18, NOW, &t, &prob), CD_OK);
	CHECK_NEAR(t.v[0].value, 7, 0);
}

static void test_event(void)
{
	struct iot_event e;
	CHECK_INT_EQ(event("{\"ts\":\"2024-05-01T08:30:00+08:00\",\"type\":\"fire_alarm\",\"level\":\"red\","
			   "\"detail\":{\"zone\":3,\"text\":\"3楼烟感\"}}",
			   &e),
		     CD_OK);
	CHECK_STR_EQ(e.device, "uitd.7");
	CHECK_INT_EQ(e.ts_ms, NOW);
	CHECK_STR_EQ(e.type, "fire_alarm");
	CHECK_STR_EQ(e.level, "red");
	CHECK_STR_EQ(e.detail, "{\"zone\":3,\"text\":\"3楼烟感\"}");
	CHECK_INT_EQ(event("{\"type\":\"door_open\"}", &e), CD_OK);
	CHECK_STR_EQ(e.level, "");
	CHECK_STR_EQ(e.detail, "");
	CHECK_INT_EQ(e.ts_ms, NOW);
	CHECK_INT_EQ(event("{\"type\":\"tamper\",\"level\":\"info\",\"detail\":\"lid opened\"}", &e), CD_OK);
	CHECK_STR_EQ(e.level, "");
	CHECK_STR_EQ(e.detail, "lid opened");
	static const struct {
		const char *json, *code, *field;
	} bad[] = {
	    {"{\"level\":\"red\"}", "missing_field", "type"},
	    {"{\"type\":\"Fire Alarm\"}", "invalid_field", "type"},
	    {"{\"type\":\"\"}", "invalid_field", "type"},
	    {"{\"type\":\"fire\",\"level\":\"purple\"}", "invalid_field", "level"},
	    {"{\"type\":\"fire\",\"level\":3}", "invalid_field", "level"},
	    {"{\"type\":\"fire\",\"detail\":5}", "invalid_field", "detail"},
	    {"{\"type\":\"fire\",\"where\":\"here\"}", "unknown_field", "where"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		enum cd_err rc = event(bad[i].json, &e);
		if (rc != CD_ERR_INVALID || strcmp(prob.code, bad[i].code) ||
		    strcmp(prob.field, bad[i].field)) {
			fprintf(stderr, "  event %s -> %d %s \"%s\"\n", bad[i].json, rc, prob.code,
				prob.field);
			CHECK(0);
		}
	}
	/* detail at the limit, and one byte over, as a string and as JSON */
	char *js = xmalloc(IOT_DETAIL_MAX + 64);
	char *fill = xmalloc(IOT_DETAIL_MAX + 1);
	memset(fill, 'x', IOT_DETAIL_MAX - 1);
	fill[IOT_DETAIL_MAX - 1] = '\0';
	snprintf(js, IOT_DETAIL_MAX + 64, "{\"type\":\"t\",\"detail\":\"%s\"}", fill);
	CHECK_INT_EQ(event(js, &e), CD_OK);
	CHECK_INT_EQ(strlen(e.detail), IOT_DETAIL_MAX - 1);
	fill[IOT_DETAIL_MAX - 1] = 'x';
	fill[IOT_DETAIL_MAX] = '\0';
	snprintf(js, IOT_DETAIL_MAX + 64, "{\"type\":\"t\",\"detail\":\"%s\"}", fill);
	CHECK_INT_EQ(event(js, &e), CD_ERR_INVALID);
	CHECK_STR_EQ(prob.field, "detail");
	snprintf(js, IOT_DETAIL_MAX + 64, "{\"type\":\"t\",\"detail\":[\"%s\"]}", fill);
	CHECK_INT_EQ(event(js, &e), CD_ERR_INVALID);
	CHECK_STR_EQ(prob.field, "detail");
	xfree(js);
	xfree(fill);
}

static void test_status(void)
{
	struct iot_status s;
	CHECK_INT_EQ(status("{\"status\":\"online\"}", &s), CD_OK);
	CHECK(s.online);
	CHECK_STR_EQ(s.device, "wm_3");
	CHECK_INT_EQ(s.ts_ms, NOW);
	CHECK_INT_EQ(status("{\"ts\":1714523401000,\"status\":\"offline\"}", &s), CD_OK);
	CHECK(!s.online);
	CHECK_INT_EQ(s.ts_ms, NOW + 1000);
	CHECK_INT_EQ(status("{\"status\":\"sleeping\"}", &s), CD_ERR_INVALID);
	CHECK_STR_EQ(prob.field, "status");
	CHECK_INT_EQ(status("{}", &s), CD_ERR_INVALID);
	CHECK_STR_EQ(prob.code, "missing_field");
	CHECK_INT_EQ(status("{\"status\":\"online\",\"battery\":80}", &s), CD_ERR_INVALID);
	CHECK_STR_EQ(prob.code, "unknown_field");
	CHECK_STR_EQ(prob.field, "battery");
}

/* Checks a "$7$101$salt$hash" line the way the broker does: decode the salt, run PBKDF2-SHA512
 * with the secret, compare with the stored hash. */
static bool verify_hash(const char *stored, const char *secret)
{
	if (strncmp(stored, "$7$101$", 7) != 0)
		return false;
	const char *salt64 = stored + 7, *dollar = strchr(salt64, '$');
	if (!dollar)
		return false;
	unsigned char salt[64], want[128], got[64];
	char tmp[256];
	size_t sl = (size_t)(dollar - salt64);
	if (sl >= sizeof tmp || sl % 4)
		return false;
	memcpy(tmp, salt64, sl);
	tmp[sl] = '\0';
	int n = EVP_DecodeBlock(salt, (const unsigned char *)tmp, (int)sl);
	n -= (sl >= 1 && tmp[sl - 1] == '=') + (sl >= 2 && tmp[sl - 2] == '=');
	int w = EVP_DecodeBlock(want, (const unsigned char *)dollar + 1, (int)strlen(dollar + 1));
	if (n <= 0 || w < 64)
		return false;
	PKCS5_PBKDF2_HMAC(secret, (int)strlen(secret), salt, n, 101, EVP_sha512(), 64, got);
	return memcmp(got, want, 64) == 0;
}

static void test_hash_format(void)
{
	char a[BROKER_HASH_MAX], b[BROKER_HASH_MAX];
	CHECK_INT_EQ(broker_password_hash("s3cret-Ω", a), CD_OK);
	CHECK_INT_EQ(broker_password_hash("s3cret-Ω", b), CD_OK);
	CHECK_INT_EQ(strlen(a), 7 + 16 + 1 + 88);
	CHECK(strncmp(a, "$7$101$", 7) == 0);
	CHECK(a[23] == '$');
	CHECK(strcmp(a, b) != 0); /* a fresh salt each time */
	CHECK(verify_hash(a, "s3cret-Ω"));
	CHECK(verify_hash(b, "s3cret-Ω"));
	CHECK(!verify_hash(a, "s3cret-O"));
	CHECK_INT_EQ(broker_password_hash("", a), CD_ERR_INVALID);
	/* the checker above agrees with mosquitto_passwd itself */
	char dir[] = "/tmp/citydesk-pw-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[128], cmd[512], line[512] = "";
	snprintf(path, sizeof path, "%s/pw", dir);
	snprintf(cmd, sizeof cmd, "mosquitto_passwd -c -b %s dev1 'pa ss' >/dev/null 2>&1", path);
	if (system(cmd) == 0) {
		FILE *f = fopen(path, "r");
		CHECK(f && fgets(line, sizeof line, f));
		if (f)
			fclose(f);
		line[strcspn(line, "\n")] = '\0';
		CHECK(strncmp(line, "dev1:", 5) == 0);
		CHECK(verify_hash(line + 5, "pa ss"));
		CHECK(!verify_hash(line + 5, "pass"));
		CHECK_INT_EQ(strlen(line + 5), strlen(b));
	} else {
		fprintf(stderr, "  mosquitto_passwd not found: skipped the cross-check\n");
	}
	unlink(path);
	rmdir(dir);
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
	    getsockname(fd, (struct sockaddr *)&a, &al)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return ntohs(a.sin_port);
}

static bool port_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Runs mosquitto_pub once; returns its exit status (0 = connected and published). */
static int pub(int port, const char *user, const char *pass)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd,
		 "mosquitto_pub -h 127.0.0.1 -p %d -u '%s' -P '%s' -q 1 -t citydesk/v1/%s/status "
		 "-m '{\"status\":\"online\"}' >/dev/null 2>&1",
		 port, user, pass, user);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_hash_with_real_mosquitto(void)
{
	if (access("/usr/sbin/mosquitto", X_OK) != 0) {
		fprintf(stderr, "  /usr/sbin/mosquitto not installed: skipped\n");
		return;
	}
	char dir[] = "/tmp/citydesk-mq-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char pw[128], conf[128], hash[BROKER_HASH_MAX], hash2[BROKER_HASH_MAX];
	snprintf(pw, sizeof pw, "%s/passwd", dir);
	snprintf(conf, sizeof conf, "%s/mosquitto.conf", dir);
	CHECK_INT_EQ(broker_password_hash("right-secret", hash), CD_OK);
	CHECK_INT_EQ(broker_password_hash("其他-secret", hash2), CD_OK);
	FILE *f = fopen(pw, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fprintf(f, "smoke-01:%s\nuitd.7:%s\n", hash, hash2);
	fclose(f);
	chmod(pw, 0600);
	int port = free_port();
	CHECK(port > 0);
	struct passwd *me = getpwuid(geteuid());
	f = fopen(conf, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fprintf(f,
		"user %s\nlistener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\n"
		"persistence false\nlog_dest none\n",
		me ? me->pw_name : "root", port, pw);
	fclose(f);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/usr/sbin/mosquitto", "mosquitto", "-c", conf, (char *)NULL);
		_exit(127);
	}
	CHECK(pid > 0);
	bool up = false;
	for (int i = 0; i < 200 && !up; i++) {
		up = port_open(port);
		if (!up) {
			struct timespec ts = {0, 20 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	CHECK(up);
	if (up) {
		CHECK_INT_EQ(pub(port, "smoke-01", "right-secret"), 0);
		CHECK(pub(port, "smoke-01", "wrong-secret") != 0);
		CHECK(pub(port, "smoke-01", "其他-secret") != 0);
		CHECK_INT_EQ(pub(port, "uitd.7", "其他-secret"), 0);
		CHECK(pub(port, "nobody", "right-secret") != 0);
	}
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	unlink(pw);
	unlink(conf);
	rmdir(dir);
}

static const struct test_case tests[] = {
    {"valid_id", test_valid_id},
    {"telemetry_ok", test_telemetry_ok},
    {"telemetry_bad", test_telemetry_bad},
    {"event", test_event},
    {"status", test_status},
    {"hash_format", test_hash_format},
    {"hash_with_real_mosquitto", test_hash_with_real_mosquitto},
};

TEST_MAIN(tests)
