/* A small MQTT load tool for bench/mqtt.sh, on libmosquitto with its own poll loop (as citydesk's
 * client): `pub` sends N telemetry messages as fast as the connection takes them, `sub` counts
 * them. Times are unix milliseconds so the shell can compare across processes.
 *   mqtt_bench pub HOST PORT USER PASS TOPIC N QOS TS_BASE  → "start_ms end_ms published"
 *   mqtt_bench sub HOST PORT USER PASS TOPIC N QOS          → "READY" then "count first_ms last_ms"
 * USER "-" means anonymous. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct state {
	int connack;	     /* -1 until CONNACK */
	int subscribed;	     /* SUBACK seen */
	long long published; /* on_publish calls (QoS 0: written; QoS 1: acknowledged) */
	long long count;     /* messages received */
	long long first_ms, last_ms;
};

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
	(void)m;
	((struct state *)ud)->connack = rc;
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *g)
{
	(void)m, (void)mid, (void)n, (void)g;
	((struct state *)ud)->subscribed = 1;
}

static void on_publish(struct mosquitto *m, void *ud, int mid)
{
	(void)m, (void)mid;
	((struct state *)ud)->published++;
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	(void)m, (void)msg;
	struct state *s = ud;
	long long t = now_ms();
	if (!s->count)
		s->first_ms = t;
	s->last_ms = t;
	s->count++;
}

/* One round of our own loop: wait up to ms for the socket, then read all, write what is due. */
static int pump(struct mosquitto *m, int ms)
{
	int fd = mosquitto_socket(m);
	if (fd < 0)
		return -1;
	struct pollfd p = {.fd = fd, .events = (short)(POLLIN | (mosquitto_want_write(m) ? POLLOUT : 0))};
	int n = poll(&p, 1, ms);
	int rc = MOSQ_ERR_SUCCESS;
	if (n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)))
		rc = mosquitto_loop_read(m, 1024);
	if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(m))
		rc = mosquitto_loop_write(m, 1024);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_loop_misc(m);
	return rc == MOSQ_ERR_SUCCESS ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc < 9 || (strcmp(argv[1], "pub") && strcmp(argv[1], "sub"))) {
		fprintf(stderr, "usage: mqtt_bench pub|sub HOST PORT USER PASS TOPIC N QOS [TS_BASE]\n");
		return 2;
	}
	int is_pub = strcmp(argv[1], "pub") == 0;
	const char *host = argv[2], *user = argv[4], *pass = argv[5], *topic = argv[6];
	int port = (int)strtol(argv[3], NULL, 10), qos = (int)strtol(argv[8], NULL, 10);
	long long n = strtoll(argv[7], NULL, 10);
	long long ts_base = argc > 9 ? strtoll(argv[9], NULL, 10) : now_ms();
	struct state s = {.connack = -1};
	mosquitto_lib_init();
	struct mosquitto *m = mosquitto_new(NULL, true, &s);
	if (!m)
		return 1;
	if (strcmp(user, "-") != 0)
		mosquitto_username_pw_set(m, user, pass);
	mosquitto_max_inflight_messages_set(m, 1000);
	mosquitto_connect_callback_set(m, on_connect);
	mosquitto_subscribe_callback_set(m, on_subscribe);
	mosquitto_publish_callback_set(m, on_publish);
	mosquitto_message_callback_set(m, on_message);
	if (mosquitto_connect(m, host, port, 60) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "mqtt_bench: cannot connect to %s:%d\n", host, port);
		return 1;
	}
	long long deadline = now_ms() + 10000;
	while (s.connack < 0 && now_ms() < deadline)
		if (pump(m, 50))
			break;
	if (s.connack != 0) {
		fprintf(stderr, "mqtt_bench: login refused (%d)\n", s.connack);
		return 1;
	}
	if (!is_pub) {
		mosquitto_subscribe(m, NULL, topic, qos);
		while (!s.subscribed && now_ms() < deadline)
			if (pump(m, 50))
				return 1;
		printf("READY\n");
		fflush(stdout);
		long long idle_since = now_ms();
		while (s.count < n) {
			long long before = s.count;
			if (pump(m, 100))
				break;
			if (s.count != before)
				idle_since = now_ms();
			else if (now_ms() - idle_since > (s.count ? 10000 : 120000))
				break; /* nothing for a while: report what arrived */
		}
		printf("%lld %lld %lld\n", s.count, s.first_ms, s.last_ms);
		mosquitto_disconnect(m);
		mosquitto_destroy(m);
		mosquitto_lib_cleanup();
		return 0;
	}
	char payload[128];
	long long start = now_ms();
	for (long long i = 0; i < n; i++) {
		int len = snprintf(payload, sizeof payload, "{\"ts\":%lld,\"values\":{\"v\":%lld}}",
				   ts_base + i, i);
		if (mosquitto_publish(m, NULL, topic, len, payload, qos, false) != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "mqtt_bench: publish failed at %lld\n", i);
			return 1;
		}
		/* keep the queue short: let the socket drain and acknowledgements come back */
		if ((i & 255) == 255 || mosquitto_want_write(m))
			if (pump(m, 0))
				return 1;
	}
	while (s.published < n && now_ms() - start < 600000)
		if (pump(m, 50))
			break;
	long long end = now_ms();
	mosquitto_disconnect(m);
	pump(m, 10);
	printf("%lld %lld %lld\n", start, end, s.published);
	mosquitto_destroy(m);
	mosquitto_lib_cleanup();
	return 0;
}
