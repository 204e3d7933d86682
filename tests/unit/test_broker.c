/* The supervised Mosquitto: a real broker in a temporary directory, logins from the registry,
 * the ACL that keeps each device to its own topics, restarts after a crash, reload of changed
 * credentials, and no broker left behind when its parent is killed with SIGKILL. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "app/iot.h"
#include "app/mqtt_topics.h"
#include "net/broker.h"
#include "net/mqtt_client.h"
#include "test.h"

#include <stdatomic.h>

static char tmpdir[] = "/tmp/citydesk-broker-XXXXXX";

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
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

/* A test client: what it was told at CONNACK and what it received. */
struct cli {
	struct mosquitto *m;
	int connack;	      /* -1 until CONNACK arrives */
	int got;	      /* messages received */
	int subacks;	      /* SUBACKs received */
	int acked;	      /* our QoS 1 publishes the broker acknowledged */
	char last[128];	      /* the topic of the last one */
	char topics[32][128]; /* the first 32 topics received */
};

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
	(void)m;
	((struct cli *)ud)->connack = rc;
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	(void)m;
	struct cli *c = ud;
	if (c->got < 32)
		snprintf(c->topics[c->got], sizeof c->topics[0], "%s", msg->topic);
	snprintf(c->last, sizeof c->last, "%s", msg->topic);
	c->got++;
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
	(void)m, (void)mid, (void)n, (void)granted;
	((struct cli *)ud)->subacks++;
}

static void on_publish(struct mosquitto *m, void *ud, int mid)
{
	(void)m, (void)mid;
	((struct cli *)ud)->acked++;
}

/* Connects with client id `id` (NULL: a random one) and a clean session, and waits for
 * CONNACK; returns its code (0 = accepted), -1 if none came. */
static int cli_open_as(struct cli *c, int port, const char *id, const char *user, const char *pass)
{
	memset(c, 0, sizeof *c);
	c->connack = -1;
	c->m = mosquitto_new(id, true, c);
	mosquitto_username_pw_set(c->m, user, pass);
	mosquitto_connect_callback_set(c->m, on_connect);
	mosquitto_message_callback_set(c->m, on_message);
	mosquitto_subscribe_callback_set(c->m, on_subscribe);
	mosquitto_publish_callback_set(c->m, on_publish);
	if (mosquitto_connect(c->m, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS)
		return -1;
	int64_t until = mono_ms() + 5000;
	while (c->connack < 0 && mono_ms() < until)
		if (mosquitto_loop(c->m, 20, 1) != MOSQ_ERR_SUCCESS)
			break;
	return c->connack;
}

static int cli_open(struct cli *c, int port, const char *user, const char *pass)
{
	return cli_open_as(c, port, NULL, user, pass);
}

static void cli_close(struct cli *c)
{
	if (c->m) {
		mosquitto_disconnect(c->m);
		mosquitto_loop(c->m, 10, 1);
		mosquitto_destroy(c->m);
	}
	c->m = NULL;
}

/* Runs both clients' loops until `sub` has received a message on `topic` (or 5 s). */
static bool pump_until(struct cli *a, struct cli *sub, const char *topic)
{
	int64_t until = mono_ms() + 5000;
	while (mono_ms() < until) {
		if (a && a->m)
			mosquitto_loop(a->m, 5, 1);
		mosquitto_loop(sub->m, 5, 1);
		if (strcmp(sub->last, topic) == 0)
			return true;
	}
	return false;
}

/* Subscribes and waits for the SUBACK. */
static bool cli_sub(struct cli *c, const char *pattern)
{
	int before = c->subacks;
	if (mosquitto_subscribe(c->m, NULL, pattern, 1) != MOSQ_ERR_SUCCESS)
		return false;
	int64_t until = mono_ms() + 5000;
	while (c->subacks == before && mono_ms() < until)
		mosquitto_loop(c->m, 5, 1);
	return c->subacks > before;
}

/* Keeps trying to log in until the answer is `want_ok` (the broker reloads asynchronously). */
static bool login_becomes(int port, const char *user, const char *pass, bool want_ok)
{
	int64_t until = mono_ms() + 8000;
	while (mono_ms() < until) {
		struct cli c;
		int rc = cli_open(&c, port, user, pass);
		cli_close(&c);
		if ((rc == 0) == want_ok)
			return true;
		nap(100);
	}
	return false;
}

static void test_broker_acl_and_credentials(void)
{
	char dir[128];
	snprintf(dir, sizeof dir, "%s/mq1", tmpdir);
	struct broker_options o = {.dir = dir, .listen = "127.0.0.1:0"};
	struct broker *b;
	CHECK_INT_EQ(broker_start(&o, &b), CD_OK);
	if (!b)
		return;
	int port = broker_port(b);
	CHECK(port > 0);
	CHECK(broker_pid(b) > 0);
	CHECK_STR_EQ(broker_host(b), "127.0.0.1");
	struct stat st;
	char path[192];
	snprintf(path, sizeof path, "%s/passwd", dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);

	/* a second broker on the same port is refused before anything is spawned */
	char listen[32], dir2[128];
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	snprintf(dir2, sizeof dir2, "%s/mq2", tmpdir);
	struct broker_options o2 = {.dir = dir2, .listen = listen};
	struct broker *b2;
	CHECK_INT_EQ(broker_start(&o2, &b2), CD_ERR_BUSY);
	CHECK(b2 == NULL);

	char ha[BROKER_HASH_MAX], hb[BROKER_HASH_MAX];
	CHECK_INT_EQ(broker_password_hash("secret-a", ha), CD_OK);
	CHECK_INT_EQ(broker_password_hash("secret-b", hb), CD_OK);
	const char *ids[] = {"dev-a", "dev-b", "bad/id", "dev-c"};
	const char *hashes[] = {ha, hb, ha, "plaintext"};
	CHECK_INT_EQ(broker_set_credentials(b, ids, hashes, 4), CD_OK);
	CHECK(login_becomes(port, "dev-a", "secret-a", true));
	CHECK(login_becomes(port, "dev-b", "secret-b", true));

	struct cli svc, a;
	CHECK_INT_EQ(cli_open(&svc, port, BROKER_SERVICE_USER, broker_service_password(b)), 0);
	cli_close(&svc);
	CHECK(cli_open(&svc, port, BROKER_SERVICE_USER, "guess") != 0);
	cli_close(&svc);
	CHECK_INT_EQ(cli_open(&svc, port, BROKER_SERVICE_USER, broker_service_password(b)), 0);
	CHECK(cli_open(&a, port, "dev-a", "secret-b") != 0);
	cli_close(&a);
	CHECK(cli_open(&a, port, "anyone", "") != 0);
	cli_close(&a);
	CHECK_INT_EQ(cli_open(&a, port, "dev-a", "secret-a"), 0);
	CHECK(cli_sub(&svc, "citydesk/v1/#"));
	/* dev-a tries its own topics, another device's, and topics outside the scheme; the last
	 * message (on its own topic) marks the end: one connection keeps order. */
	static const char *const tries[] = {
	    "citydesk/v1/dev-b/telemetry",
	    "citydesk/v1/dev-a/telemetry",
	    "citydesk/v1/dev-a/command",
	    "citydesk/v1/dev-b/event",
	    "citydesk/v1/dev-a/event",
	    "citydesk/v1/dev-a/extra",
	    "elsewhere/x",
	    "citydesk/v1/dev-a/status",
	};
	for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++)
		CHECK_INT_EQ(mosquitto_publish(a.m, NULL, tries[i], 2, "{}", 1, false), MOSQ_ERR_SUCCESS);
	CHECK(pump_until(&a, &svc, "citydesk/v1/dev-a/status"));
	CHECK_INT_EQ(svc.got, 3);
	CHECK_STR_EQ(svc.topics[0], "citydesk/v1/dev-a/telemetry");
	CHECK_STR_EQ(svc.topics[1], "citydesk/v1/dev-a/event");
	CHECK_STR_EQ(svc.topics[2], "citydesk/v1/dev-a/status");

	/* commands: the service writes them; a device reads only its own */
	CHECK(cli_sub(&a, "citydesk/v1/+/command"));
	CHECK_INT_EQ(mosquitto_publish(svc.m, NULL, "citydesk/v1/dev-b/command", 2, "{}", 1, false),
		     MOSQ_ERR_SUCCESS);
	CHECK_INT_EQ(mosquitto_publish(svc.m, NULL, "citydesk/v1/dev-a/command", 2, "{}", 1, false),
		     MOSQ_ERR_SUCCESS);
	CHECK(pump_until(&svc, &a, "citydesk/v1/dev-a/command"));
	CHECK_INT_EQ(a.got, 1);
	cli_close(&a);
	cli_close(&svc);

	/* dev-b is withdrawn and dev-c added: the broker reloads without a restart */
	int pid = broker_pid(b);
	char hc[BROKER_HASH_MAX];
	CHECK_INT_EQ(broker_password_hash("secret-c", hc), CD_OK);
	const char *ids2[] = {"dev-a", "dev-c"};
	const char *hashes2[] = {ha, hc};
	CHECK_INT_EQ(broker_set_credentials(b, ids2, hashes2, 2), CD_OK);
	CHECK(login_becomes(port, "dev-b", "secret-b", false));
	CHECK(login_becomes(port, "dev-c", "secret-c", true));
	CHECK(login_becomes(port, "dev-a", "secret-a", true));
	CHECK_INT_EQ(broker_pid(b), pid);
	CHECK_INT_EQ(broker_restarts(b), 0);

	/* a crash: the supervisor starts it again, with the same logins */
	kill(pid, SIGKILL);
	int64_t until = mono_ms() + 10000;
	while (mono_ms() < until && (broker_restarts(b) < 1 || !port_open(port)))
		nap(50);
	CHECK_INT_EQ(broker_restarts(b), 1);
	CHECK(broker_pid(b) > 0 && broker_pid(b) != pid);
	CHECK(login_becomes(port, "dev-c", "secret-c", true));
	CHECK(login_becomes(port, "dev-b", "secret-b", false));

	pid = broker_pid(b);
	broker_stop(b);
	CHECK(!port_open(port));
	CHECK(kill(pid, 0) == -1 && errno == ESRCH); /* stopped and reaped */
}

/* 1 when process pid has exited (gone, a zombie, or its pid already taken by another program)
 * within max_ms. */
static int broker_process_gone(int pid, int max_ms)
{
	char stat_path[64];
	snprintf(stat_path, sizeof stat_path, "/proc/%d/stat", pid);
	int64_t until = mono_ms() + max_ms;
	for (;;) {
		char buf[256] = "";
		FILE *f = fopen(stat_path, "r");
		if (!f)
			return 1;
		if (!fgets(buf, sizeof buf, f))
			buf[0] = '\0';
		fclose(f);
		const char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
		if (!open_paren || !close_paren || strncmp(open_paren, "(mosquitto)", 11) != 0 ||
		    (close_paren[1] == ' ' && close_paren[2] == 'Z'))
			return 1;
		if (mono_ms() >= until)
			return 0;
		nap(50);
	}
}

/* A child process starts a broker and is killed with SIGKILL: the broker must go too. */
static void test_no_orphan_after_sigkill(void)
{
	int fds[2];
	CHECK(pipe(fds) == 0);
	pid_t child = fork();
	if (child == 0) {
		close(fds[0]);
		char dir[128];
		snprintf(dir, sizeof dir, "%s/mq3", tmpdir);
		struct broker_options o = {.dir = dir, .listen = "127.0.0.1:0"};
		struct broker *b;
		int v[2] = {0, 0};
		if (broker_start(&o, &b) == CD_OK) {
			v[0] = broker_port(b);
			v[1] = broker_pid(b);
		}
		if (write(fds[1], v, sizeof v) != (ssize_t)sizeof v)
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	int v[2] = {0, 0};
	CHECK(read(fds[0], v, sizeof v) == (ssize_t)sizeof v);
	close(fds[0]);
	CHECK(v[0] > 0 && v[1] > 0);
	CHECK(port_open(v[0]));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	int64_t until = mono_ms() + 10000;
	while (mono_ms() < until && port_open(v[0]))
		nap(50);
	CHECK(!port_open(v[0]));
	/* the broker itself goes (or at worst stays a zombie waiting for init to reap it). It
	 * closes its listener before it exits, so the port alone is not the end: wait for the
	 * process too, a while, as the port above. */
	CHECK(broker_process_gone(v[1], 10000));
}

/* What the bridge handed on, as the hub would get it. */
struct recorder {
	atomic_int telemetry, events, status;
	atomic_int burst_seen[2000]; /* telemetry with values.seq = i */
	atomic_int dup;		     /* a seq seen twice (allowed at QoS 1, counted) */
	bool flaky;		     /* refuse every 50th seq three times, as a failing hub would */
	atomic_int tries[2000];	     /* offers of each seq (flaky only) */
	atomic_int refusals;	     /* CD_ERR_IO answers given */
	char last_event_type[IOT_WORD_MAX];
	char last_event_device[IOT_ID_MAX];
};

static enum cd_err rec_telemetry(void *ctx, const struct iot_telemetry *t)
{
	struct recorder *r = ctx;
	bool seq = t->n == 1 && strcmp(t->v[0].metric, "seq") == 0 && t->v[0].value >= 0 && t->v[0].value < 2000;
	if (seq && r->flaky && (int)t->v[0].value % 50 == 25 &&
	    atomic_fetch_add(&r->tries[(int)t->v[0].value], 1) < 3) {
		atomic_fetch_add(&r->refusals, 1);
		return CD_ERR_IO;
	}
	atomic_fetch_add(&r->telemetry, 1);
	if (seq)
		if (atomic_fetch_add(&r->burst_seen[(int)t->v[0].value], 1))
			atomic_fetch_add(&r->dup, 1);
	return CD_OK;
}

static enum cd_err rec_event(void *ctx, const struct iot_event *e)
{
	struct recorder *r = ctx;
	snprintf(r->last_event_type, sizeof r->last_event_type, "%s", e->type);
	snprintf(r->last_event_device, sizeof r->last_event_device, "%s", e->device);
	atomic_fetch_add(&r->events, 1);
	return CD_OK;
}

static enum cd_err rec_status(void *ctx, const struct iot_status *s)
{
	(void)s;
	atomic_fetch_add(&((struct recorder *)ctx)->status, 1);
	return CD_OK;
}

static void test_topic_parse(void)
{
	char dev[IOT_ID_MAX];
	enum mqtt_kind k;
	CHECK(mqtt_topic_parse("citydesk/v1/smoke-01/telemetry", dev, &k));
	CHECK_STR_EQ(dev, "smoke-01");
	CHECK_INT_EQ(k, MQTT_KIND_TELEMETRY);
	CHECK(mqtt_topic_parse("citydesk/v1/u.7/event", dev, &k) && k == MQTT_KIND_EVENT);
	CHECK(mqtt_topic_parse("citydesk/v1/u_7/status", dev, &k) && k == MQTT_KIND_STATUS);
	CHECK(mqtt_topic_parse("citydesk/v1/u_7/command", dev, &k) && k == MQTT_KIND_COMMAND);
	static const char *const bad[] = {
	    "citydesk/v1//telemetry",
	    "citydesk/v1/a/telemetry/x",
	    "citydesk/v1/a/b/telemetry",
	    "citydesk/v2/a/telemetry",
	    "citydesk/v1/a",
	    "citydesk/v1/a/",
	    "citydesk/v1/a/Telemetry",
	    "citydesk/v1/a b/event",
	    "x/citydesk/v1/a/event",
	    "citydesk/v1/1234567890123456789012345678901234567890123456789012345678901234/event",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (mqtt_topic_parse(bad[i], dev, &k)) {
			fprintf(stderr, "  accepted %s\n", bad[i]);
			CHECK(0);
		}
}

/* Publishes from a device connection and waits until the broker has acknowledged all of it
 * (QoS 1 PUBACKs), so "sent" means "the broker has it". */
static bool device_publish_all(struct cli *d, const char *topic, const char *const *payloads, size_t n)
{
	int want = d->acked + (int)n;
	for (size_t i = 0; i < n; i++)
		if (mosquitto_publish(d->m, NULL, topic, (int)strlen(payloads[i]), payloads[i], 1, false) !=
		    MOSQ_ERR_SUCCESS)
			return false;
	int64_t until = mono_ms() + 20000;
	while (mono_ms() < until && d->acked < want)
		mosquitto_loop(d->m, 5, 1);
	return d->acked >= want;
}

static bool wait_for(atomic_int *v, int want)
{
	int64_t until = mono_ms() + 15000;
	while (mono_ms() < until && atomic_load(v) < want)
		nap(10);
	return atomic_load(v) >= want;
}

/* A bridge with its own local broker in tmpdir/sub handing what it receives to rec; *st gets
 * its first statistics (the broker's port). NULL (and a failed check) when it cannot open. */
static struct mqtt_bridge *bridge_open(const char *sub, const char *client_id, struct recorder *rec,
				       struct mqtt_bridge_stats *st)
{
	char dir[128];
	snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub);
	struct mqtt_bridge_options o = {
	    .listen = "127.0.0.1:0",
	    .url = "",
	    .dir = dir,
	    .client_id = client_id,
	    .sink = {rec_telemetry, rec_event, rec_status, rec},
	};
	struct mqtt_bridge *b = NULL;
	CHECK_INT_EQ(mqtt_bridge_open(&o, &b), CD_OK);
	if (b)
		mqtt_bridge_get_stats(b, st);
	return b;
}

static void test_bridge(void)
{
	static struct recorder rec;
	struct mqtt_bridge_stats st;
	struct mqtt_bridge *b = bridge_open("mq4", "citydesk-test", &rec, &st);
	if (!b)
		return;
	CHECK(st.connected);
	CHECK(st.broker_pid > 0);
	int port = st.port;
	char ha[BROKER_HASH_MAX], hb[BROKER_HASH_MAX];
	CHECK_INT_EQ(broker_password_hash("sa", ha), CD_OK);
	CHECK_INT_EQ(broker_password_hash("sb", hb), CD_OK);
	const char *ids[] = {"dev-a", "dev-b"};
	const char *hashes[] = {ha, hb};
	mqtt_bridge_set_credentials(b, ids, hashes, 2);
	CHECK(login_becomes(port, "dev-a", "sa", true));

	struct cli a;
	CHECK_INT_EQ(cli_open(&a, port, "dev-a", "sa"), 0);
	/* good, malformed, good again: the stream keeps going after bad payloads */
	static const char *const mixed[] = {
	    "{\"values\":{\"t\":1}}",
	    "not json",
	    "{\"values\":{\"t\":\"hot\"}}",
	    "",
	    "{\"values\":{\"t\":2},\"extra\":1}",
	    "{\"values\":{\"t\":3}}",
	};
	CHECK(device_publish_all(&a, "citydesk/v1/dev-a/telemetry", mixed, 6));
	static const char *const ev[] = {"{\"type\":\"fire_alarm\",\"level\":\"red\"}"};
	CHECK(device_publish_all(&a, "citydesk/v1/dev-b/event", ev, 1)); /* not its topic: dropped */
	CHECK(device_publish_all(&a, "citydesk/v1/dev-a/event", ev, 1));
	static const char *const stat[] = {"{\"status\":\"online\"}", "{\"status\":\"asleep\"}"};
	CHECK(device_publish_all(&a, "citydesk/v1/dev-a/status", stat, 2));
	CHECK(wait_for(&rec.status, 1));
	int64_t until = mono_ms() + 5000;
	do {
		mqtt_bridge_get_stats(b, &st);
	} while (st.malformed[MQTT_KIND_STATUS] < 1 && mono_ms() < until && (nap(10), 1));
	CHECK_INT_EQ(atomic_load(&rec.telemetry), 2);
	CHECK_INT_EQ(atomic_load(&rec.events), 1);
	CHECK_STR_EQ(rec.last_event_device, "dev-a");
	CHECK_STR_EQ(rec.last_event_type, "fire_alarm");
	CHECK_INT_EQ(st.handled[MQTT_KIND_TELEMETRY], 2);
	CHECK_INT_EQ(st.malformed[MQTT_KIND_TELEMETRY], 4);
	CHECK_INT_EQ(st.handled[MQTT_KIND_EVENT], 1);
	CHECK_INT_EQ(st.handled[MQTT_KIND_STATUS], 1);
	CHECK_INT_EQ(st.malformed[MQTT_KIND_STATUS], 1);
	CHECK_INT_EQ(st.received, 9);

	/* a burst at QoS 1: every one arrives */
	enum { BURST = 2000 };
	static char payloads[BURST][48];
	static const char *pp[BURST];
	for (int i = 0; i < BURST; i++) {
		snprintf(payloads[i], sizeof payloads[i], "{\"values\":{\"seq\":%d}}", i);
		pp[i] = payloads[i];
	}
	atomic_store(&rec.telemetry, 0);
	CHECK(device_publish_all(&a, "citydesk/v1/dev-a/telemetry", pp, BURST));
	CHECK(wait_for(&rec.telemetry, BURST));
	int missing = 0;
	for (int i = 0; i < BURST; i++)
		missing += atomic_load(&rec.burst_seen[i]) == 0;
	CHECK_INT_EQ(missing, 0);
	CHECK_INT_EQ(atomic_load(&rec.dup), 0);

	/* commands go out to the device's own command topic */
	CHECK(cli_sub(&a, "citydesk/v1/dev-a/command"));
	CHECK_INT_EQ(mqtt_bridge_command(b, "dev-a", "{\"command\":\"ping\"}", 18), CD_OK);
	CHECK(pump_until(NULL, &a, "citydesk/v1/dev-a/command"));
	CHECK_INT_EQ(mqtt_bridge_command(b, "a/b", "{}", 2), CD_ERR_INVALID);
	cli_close(&a);

	struct buf m;
	buf_init(&m, 1 << 16);
	CHECK_INT_EQ(mqtt_bridge_metrics(b, &m), CD_OK);
	CHECK(m.data && strstr(m.data, "citydesk_mqtt_malformed_total{kind=\"telemetry\"} 4\n"));
	CHECK(m.data && strstr(m.data, "citydesk_mqtt_connected 1\n"));
	buf_release(&m);
	mqtt_bridge_stop(b);
	CHECK(!port_open(port));
}

/* A device that logs in with citydesk's client id (the old fixed one, or the login the
 * broker now uses for it) gets its own session instead of taking over citydesk's: the bridge
 * stays connected on its first connection and another device's QoS 1 messages all arrive. */
static void test_client_id_hijack(void)
{
	static struct recorder rec;
	struct mqtt_bridge_stats st;
	struct mqtt_bridge *b = bridge_open("mq6", NULL, &rec, &st);
	if (!b)
		return;
	int port = st.port;
	char hx[BROKER_HASH_MAX], hy[BROKER_HASH_MAX];
	CHECK_INT_EQ(broker_password_hash("sx", hx), CD_OK);
	CHECK_INT_EQ(broker_password_hash("sy", hy), CD_OK);
	const char *ids[] = {"dev-x", "dev-y"};
	const char *hashes[] = {hx, hy};
	mqtt_bridge_set_credentials(b, ids, hashes, 2);
	CHECK(login_becomes(port, "dev-x", "sx", true));
	CHECK(login_becomes(port, "dev-y", "sy", true));

	/* the hijackers connect (as themselves) and stay connected while the other device sends */
	struct cli h1, h2, y;
	CHECK_INT_EQ(cli_open_as(&h1, port, MQTT_CLIENT_ID, "dev-x", "sx"), 0);
	CHECK_INT_EQ(cli_open_as(&h2, port, BROKER_SERVICE_USER, "dev-x", "sx"), 0);
	CHECK_INT_EQ(cli_open(&y, port, "dev-y", "sy"), 0);
	enum { N = 20 };
	static char payloads[N][48];
	static const char *pp[N];
	for (int i = 0; i < N; i++) {
		snprintf(payloads[i], sizeof payloads[i], "{\"values\":{\"seq\":%d}}", i);
		pp[i] = payloads[i];
	}
	CHECK(device_publish_all(&y, "citydesk/v1/dev-y/telemetry", pp, N));
	CHECK(wait_for(&rec.telemetry, N));
	int missing = 0;
	for (int i = 0; i < N; i++)
		missing += atomic_load(&rec.burst_seen[i]) == 0;
	CHECK_INT_EQ(missing, 0);
	mosquitto_loop(h1.m, 5, 1);
	mosquitto_loop(h2.m, 5, 1);
	cli_close(&h1);
	cli_close(&h2);
	cli_close(&y);
	mqtt_bridge_get_stats(b, &st);
	CHECK(st.connected);
	CHECK_INT_EQ(st.connects, 1); /* never kicked off */
	mqtt_bridge_stop(b);
}

/* The hub refuses now and then (its journal failed): the bridge stops reading, holds what it
 * was refused (and what was read with it), offers it again with backoff and reads on once it
 * is taken. Every message is eventually handed on, none lost. */
static void test_sink_refuses(void)
{
	static struct recorder rec;
	rec.flaky = true;
	struct mqtt_bridge_stats st;
	struct mqtt_bridge *b = bridge_open("mq8", NULL, &rec, &st);
	if (!b)
		return;
	int port = st.port;
	char hf[BROKER_HASH_MAX];
	CHECK_INT_EQ(broker_password_hash("sf", hf), CD_OK);
	const char *ids[] = {"dev-f"};
	const char *hashes[] = {hf};
	mqtt_bridge_set_credentials(b, ids, hashes, 1);
	CHECK(login_becomes(port, "dev-f", "sf", true));
	struct cli d;
	CHECK_INT_EQ(cli_open(&d, port, "dev-f", "sf"), 0);
	enum { N = 300 };
	static char payloads[N][48];
	static const char *pp[N];
	for (int i = 0; i < N; i++) {
		snprintf(payloads[i], sizeof payloads[i], "{\"values\":{\"seq\":%d}}", i);
		pp[i] = payloads[i];
	}
	CHECK(device_publish_all(&d, "citydesk/v1/dev-f/telemetry", pp, N));
	cli_close(&d);
	int64_t until = mono_ms() + 60000;
	int missing = N;
	while (missing && mono_ms() < until) {
		nap(20);
		missing = 0;
		for (int i = 0; i < N; i++)
			missing += atomic_load(&rec.burst_seen[i]) == 0;
	}
	CHECK_INT_EQ(missing, 0);
	CHECK_INT_EQ(atomic_load(&rec.refusals), 3 * (N / 50));
	mqtt_bridge_get_stats(b, &st);
	CHECK(st.pauses >= 1);
	CHECK_INT_EQ(st.refused, 3 * (N / 50));
	CHECK_INT_EQ(st.held, 0);
	CHECK_INT_EQ(st.handled[MQTT_KIND_TELEMETRY], atomic_load(&rec.telemetry));
	printf("  sink refusing %d times: %d messages all handed on, %llu pauses, %d duplicates\n",
	       3 * (N / 50), N, (unsigned long long)st.pauses, atomic_load(&rec.dup));
	mqtt_bridge_stop(b);
}

/* Credentials set right after the supervisor restarted a crashed broker: the reload waits
 * until the new broker catches SIGHUP instead of killing it. */
static void test_reload_right_after_restart(void)
{
	char dir[128];
	snprintf(dir, sizeof dir, "%s/mq7", tmpdir);
	struct broker_options o = {.dir = dir, .listen = "127.0.0.1:0"};
	struct broker *b;
	CHECK_INT_EQ(broker_start(&o, &b), CD_OK);
	if (!b)
		return;
	int port = broker_port(b);
	char h[BROKER_HASH_MAX];
	CHECK_INT_EQ(broker_password_hash("sr", h), CD_OK);
	const char *ids[] = {"dev-r"};
	const char *hashes[] = {h};
	for (int round = 1; round <= 3; round++) {
		int pid = broker_pid(b);
		kill(pid, SIGKILL);
		int64_t until = mono_ms() + 15000;
		while (mono_ms() < until && (broker_pid(b) == 0 || broker_pid(b) == pid))
			nap(1);
		CHECK(broker_pid(b) > 0 && broker_pid(b) != pid);
		/* at once, while it may still be starting */
		for (int k = 0; k < 3; k++)
			CHECK_INT_EQ(broker_set_credentials(b, ids, hashes, 1), CD_OK);
		CHECK(login_becomes(port, "dev-r", "sr", true));
		CHECK_INT_EQ(broker_restarts(b), (uint64_t)round); /* only the kills, no SIGHUP deaths */
	}
	broker_stop(b);
}

static atomic_int queued_got;

static bool count_message(void *ctx, const char *topic, const void *payload, size_t len)
{
	(void)ctx, (void)topic, (void)payload, (void)len;
	atomic_fetch_add(&queued_got, 1);
	return true;
}

/* The client's session outlives it: what devices sent at QoS 1 while citydesk was away is
 * delivered when it comes back with the same client id. */
static void test_persistent_session(void)
{
	char dir[128];
	snprintf(dir, sizeof dir, "%s/mq5", tmpdir);
	struct broker_options bo = {.dir = dir, .listen = "127.0.0.1:0"};
	struct broker *br;
	CHECK_INT_EQ(broker_start(&bo, &br), CD_OK);
	if (!br)
		return;
	char h[BROKER_HASH_MAX];
	CHECK_INT_EQ(broker_password_hash("sd", h), CD_OK);
	const char *ids[] = {"dev-d"};
	const char *hashes[] = {h};
	CHECK_INT_EQ(broker_set_credentials(br, ids, hashes, 1), CD_OK);
	int port = broker_port(br);
	CHECK(login_becomes(port, "dev-d", "sd", true));
	static const char *const subs[] = {"citydesk/v1/+/telemetry"};
	struct mqtt_client_options co = {
	    .host = "127.0.0.1",
	    .port = port,
	    .user = BROKER_SERVICE_USER,
	    .password = broker_service_password(br),
	    .client_id = "citydesk-session-test",
	    .subscriptions = subs,
	    .n_subscriptions = 1,
	    .on_message = count_message,
	};
	struct mqtt_client *c;
	CHECK_INT_EQ(mqtt_client_start(&co, 10000, &c), CD_OK);
	mqtt_client_stop(c);
	struct cli d;
	CHECK_INT_EQ(cli_open(&d, port, "dev-d", "sd"), 0);
	static const char *const msgs[] = {"{\"values\":{\"x\":1}}", "{\"values\":{\"x\":2}}",
					   "{\"values\":{\"x\":3}}"};
	CHECK(device_publish_all(&d, "citydesk/v1/dev-d/telemetry", msgs, 3));
	cli_close(&d);
	CHECK_INT_EQ(atomic_load(&queued_got), 0);
	CHECK_INT_EQ(mqtt_client_start(&co, 10000, &c), CD_OK);
	CHECK(wait_for(&queued_got, 3));
	CHECK_INT_EQ(atomic_load(&queued_got), 3);
	mqtt_client_stop(c);
	/* a wrong password is refused, not retried forever */
	co.password = "wrong";
	CHECK_INT_EQ(mqtt_client_start(&co, 10000, &c), CD_ERR_DENIED);
	CHECK(c == NULL);
	broker_stop(br);
}

static void test_bad_options(void)
{
	struct broker *b;
	struct broker_options o = {.dir = "/tmp/has space", .listen = "127.0.0.1:0"};
	CHECK_INT_EQ(broker_start(&o, &b), CD_ERR_INVALID);
	o.dir = tmpdir;
	o.listen = "nonsense";
	CHECK_INT_EQ(broker_start(&o, &b), CD_ERR_INVALID);
	o.listen = "127.0.0.1:0";
	o.exe = "/nonexistent/mosquitto";
	CHECK_INT_EQ(broker_start(&o, &b), CD_ERR_NOTFOUND);
	/* a broker that refuses to start (its binary exits at once) is reported, not waited on */
	o.exe = "/bin/false";
	CHECK_INT_EQ(broker_start(&o, &b), CD_ERR_IO);
	CHECK(b == NULL);
}

static void cleanup(void)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", tmpdir);
}

static void test_setup(void)
{
	CHECK(mkdtemp(tmpdir) != NULL);
	mosquitto_lib_init();
}

static void test_teardown(void)
{
	mosquitto_lib_cleanup();
	cleanup();
}

static const struct test_case tests[] = {
    {"setup", test_setup},
    {"no_orphan_after_sigkill", test_no_orphan_after_sigkill},
    {"bad_options", test_bad_options},
    {"broker_acl_and_credentials", test_broker_acl_and_credentials},
    {"topic_parse", test_topic_parse},
    {"bridge", test_bridge},
    {"persistent_session", test_persistent_session},
    {"client_id_hijack", test_client_id_hijack},
    {"sink_refuses", test_sink_refuses},
    {"reload_right_after_restart", test_reload_right_after_restart},
    {"teardown", test_teardown},
};

TEST_MAIN(tests)
