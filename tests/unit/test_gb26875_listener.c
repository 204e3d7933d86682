/* Unit tests of the GB/T 26875.3 TCP listener over real loopback sockets: frames split byte
 * by byte, several frames in one write, garbage, broken frames (ACK/NAK bytes checked
 * exactly), duty check and clock sync from the centre, timeouts, limits, back-pressure and
 * random bytes from many connections; running out of file descriptors (a forked child with a
 * low RLIMIT_NOFILE), the per-host cap, addresses pinned to their connection, and unregistered
 * addresses NAKed. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <stdatomic.h>
#include <unistd.h>

#include "gbtest.h"
#include "net/gb26875.h"
#include "test.h"
#include "util/alloc.h"
#include "util/clock.h"

/* ---- What the listener reported ---- */

struct seen {
	enum gb_msg_kind kind;
	char addr[GB_ADDR_HEX];
	uint8_t cmd;
	uint16_t serial, len;
	bool first;
};

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct seen seen[4096];
static size_t nseen;

static atomic_int refuse_data; /* data messages still to refuse (as a failing hub would) */

static enum cd_err on_message(void *ctx, const struct gb_message *m)
{
	(void)ctx;
	enum cd_err rc = CD_OK;
	if (m->kind == GB_MSG_DATA && atomic_load(&refuse_data) > 0) {
		atomic_fetch_sub(&refuse_data, 1);
		rc = CD_ERR_IO;
	}
	pthread_mutex_lock(&seen_lock);
	if (nseen < sizeof seen / sizeof seen[0]) {
		struct seen *s = &seen[nseen++];
		s->kind = m->kind;
		memcpy(s->addr, m->addr, GB_ADDR_HEX);
		s->cmd = m->frame ? m->frame->cmd : 0;
		s->serial = m->frame ? m->frame->serial : 0;
		s->len = m->frame ? m->frame->len : 0;
		s->first = m->first;
	}
	pthread_mutex_unlock(&seen_lock);
	return rc;
}

static void seen_reset(void)
{
	pthread_mutex_lock(&seen_lock);
	nseen = 0;
	pthread_mutex_unlock(&seen_lock);
}

static size_t seen_count(void)
{
	pthread_mutex_lock(&seen_lock);
	size_t n = nseen;
	pthread_mutex_unlock(&seen_lock);
	return n;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Waits (up to 10 s, never asserted on) until at least n messages were reported. */
static size_t wait_seen(size_t n)
{
	for (int i = 0; i < 2000 && seen_count() < n; i++)
		sleep_ms(5);
	return seen_count();
}

/* ---- Sockets ---- */

/* Starts a listener on a free loopback port with cfg (listen and on_message are set here). */
static struct gb_listener *start_with(struct gb_listener_config *cfg)
{
	cfg->listen = "127.0.0.1:0";
	cfg->on_message = on_message;
	struct gb_listener *l = NULL;
	enum cd_err rc = gb_listener_start(cfg, &l);
	CHECK_INT_EQ(rc, CD_OK);
	CHECK(l != NULL);
	if (l)
		CHECK(gb_listener_port(l) > 0);
	seen_reset();
	return l;
}

static struct gb_listener *start(int idle_ms, int frame_ms, size_t max_conns)
{
	struct gb_listener_config cfg;
	gb_listener_config_init(&cfg);
	if (idle_ms)
		cfg.idle_timeout_ms = idle_ms;
	if (frame_ms)
		cfg.frame_timeout_ms = frame_ms;
	if (max_conns)
		cfg.max_connections = max_conns;
	return start_with(&cfg);
}

/* Connects to port from the loopback address `from` ("127.0.0.1", "127.0.0.2" ...: Linux
 * answers on all of 127/8, so each is another remote host to the listener). */
static int dial_port_from(int port, const char *from)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in me = {.sin_family = AF_INET};
	CHECK_INT_EQ(inet_pton(AF_INET, from, &me.sin_addr), 1);
	CHECK_INT_EQ(bind(fd, (struct sockaddr *)&me, sizeof me), 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	CHECK_INT_EQ(rc, 0);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct timeval tv = {10, 0}; /* a safety net: a read never hangs the suite */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

static int dial_from(struct gb_listener *l, const char *from)
{
	return dial_port_from(gb_listener_port(l), from);
}

static int dial(struct gb_listener *l)
{
	return dial_from(l, "127.0.0.1");
}

static void put(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			CHECK(w > 0);
			return;
		}
		b += w;
		n -= (size_t)w;
	}
}

/* Reads exactly n bytes; false on EOF, error or the 10 s safety timeout. */
static bool get(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = recv(fd, p, n, 0);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return false;
		}
		p += r;
		n -= (size_t)r;
	}
	return true;
}

/* True when the server closed the connection (recv returns 0 or a reset) within 10 s. */
static bool closed_by_server(int fd)
{
	uint8_t b[4096];
	for (;;) {
		ssize_t r = recv(fd, b, sizeof b, 0);
		if (r == 0)
			return true;
		if (r < 0)
			return errno == ECONNRESET;
	}
}

static size_t frame(uint8_t *out, uint16_t serial, uint8_t cmd, const uint8_t src[GB_ADDR_LEN],
		    const uint8_t *data, size_t n)
{
	return gbtest_frame(out, GB_FRAME_MAX, serial, cmd, src, data, n);
}

/* Checks that r is exactly the reply (ACK 3 / NAK 6) to serial from the UITD: the reference
 * ACK with its serial, command, time and checksum put right; the time is the centre's now. */
static void check_reply(const uint8_t r[30], uint16_t serial, uint8_t cmd, const uint8_t src[GB_ADDR_LEN])
{
	uint8_t want[30];
	memcpy(want, V_ACK, sizeof want);
	want[2] = (uint8_t)(serial & 0xff);
	want[3] = (uint8_t)(serial >> 8);
	memcpy(want + 6, r + 6, GB_TIME_LEN);
	memcpy(want + 18, src, GB_ADDR_LEN);
	want[26] = cmd;
	want[27] = gb_checksum(want + 2, 25);
	for (size_t i = 0; i < 30; i++)
		if (r[i] != want[i]) {
			fprintf(stderr, "  reply byte %zu: %02x, want %02x\n", i, r[i], want[i]);
			CHECK(r[i] == want[i]);
			break;
		}
	int64_t t = 0;
	CHECK(gb_time_to_ms(r + 6, &t));
	int64_t now = clock_wall_ms();
	CHECK(t > now - 60000 && t < now + 60000); /* the centre's clock, not the device's */
}

/* Sends a heartbeat (empty send-data frame) from src and checks the reply is exactly the
 * ACK or NAK (want) of that serial. */
static void beat(int fd, uint16_t serial, const uint8_t src[GB_ADDR_LEN], uint8_t want)
{
	uint8_t buf[GB_FRAME_MAX], r[30];
	size_t n = frame(buf, serial, GB_CMD_SEND, src, NULL, 0);
	put(fd, buf, n);
	bool got = get(fd, r, sizeof r);
	CHECK(got);
	if (got)
		check_reply(r, serial, want, src);
}

/* ---- Tests ---- */

static void test_byte_by_byte(void)
{
	struct gb_listener *l = start(0, 0, 0);
	int fd = dial(l);
	for (size_t i = 0; i < sizeof V_POWER; i++) {
		put(fd, V_POWER + i, 1);
		sleep_ms(2); /* let each byte arrive in its own read */
	}
	uint8_t r[30];
	CHECK(get(fd, r, sizeof r));
	check_reply(r, 1, GB_CMD_ACK, UITD);
	CHECK_INT_EQ(wait_seen(1), 1);
	CHECK_INT_EQ(seen[0].kind, GB_MSG_DATA);
	CHECK_STR_EQ(seen[0].addr, "790300000000");
	CHECK_INT_EQ(seen[0].len, 9);
	CHECK_INT_EQ(seen[0].serial, 1);
	CHECK(seen[0].first);
	int64_t last = 0;
	CHECK(gb_listener_connected(l, "790300000000", &last));
	CHECK(last > 0);
	CHECK(!gb_listener_connected(l, "790300000001", NULL));
	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	CHECK_INT_EQ(st.frames, 1);
	CHECK_INT_EQ(st.acks, 1);
	CHECK_INT_EQ(st.naks, 0);
	CHECK_INT_EQ(st.open, 1);
	close(fd);
	gb_listener_stop(l);
}

static void test_many_in_one_write(void)
{
	struct gb_listener *l = start(0, 0, 0);
	int fd = dial(l);
	uint8_t buf[8 * GB_FRAME_MAX];
	size_t n = 0;
	for (uint16_t s = 100; s < 108; s++)
		n += frame(buf + n, s, GB_CMD_SEND, UITD, s % 2 ? V_POWER + 27 : NULL, s % 2 ? 9 : 0);
	put(fd, buf, n);
	for (uint16_t s = 100; s < 108; s++) {
		uint8_t r[30];
		CHECK(get(fd, r, sizeof r));
		check_reply(r, s, GB_CMD_ACK, UITD);
	}
	CHECK_INT_EQ(wait_seen(8), 8);
	CHECK(seen[0].first);
	CHECK(!seen[1].first);
	CHECK_INT_EQ(seen[7].serial, 107);
	CHECK_INT_EQ(seen[1].len, 9);
	CHECK_INT_EQ(seen[2].len, 0);
	close(fd);
	gb_listener_stop(l);
}

static void test_garbage_and_bad_frames(void)
{
	struct gb_listener *l = start(0, 0, 0);
	int fd = dial(l);
	uint8_t buf[4 * GB_FRAME_MAX], r[30];
	size_t n;

	/* Garbage, then a frame: only its ACK comes back (the next reply is the next ACK). */
	put(fd, "GET / HTTP/1.0\r\n\r\n", 18);
	n = frame(buf, 200, GB_CMD_SEND, UITD, NULL, 0);
	put(fd, buf, n);
	CHECK(get(fd, r, sizeof r));
	check_reply(r, 200, GB_CMD_ACK, UITD);

	/* Bad checksum: NAK with the same serial and the addresses swapped. */
	n = frame(buf, 201, GB_CMD_SEND, UITD, V_POWER + 27, 9);
	buf[n - 3] ^= 0x55;
	put(fd, buf, n);
	CHECK(get(fd, r, sizeof r));
	check_reply(r, 201, GB_CMD_NAK, UITD);

	/* Oversize length: NAK as soon as the header is in. */
	n = frame(buf, 202, GB_CMD_SEND, UITD, NULL, 0);
	buf[24] = 0x01;
	buf[25] = 0x04;
	put(fd, buf, GB_HEADER_LEN);
	CHECK(get(fd, r, sizeof r));
	check_reply(r, 202, GB_CMD_NAK, UITD);

	/* Unknown command 9: NAK. */
	n = frame(buf, 203, 9, UITD, NULL, 0);
	put(fd, buf, n);
	CHECK(get(fd, r, sizeof r));
	check_reply(r, 203, GB_CMD_NAK, UITD);

	/* A known data unit with the wrong length (type 21, one object, 6 bytes): NAK, not passed on. */
	size_t before = seen_count();
	static const uint8_t short21[] = {21, 1, 8, 2, 0x3A, 9, 0x1A, 9};
	n = frame(buf, 204, GB_CMD_SEND, UITD, short21, sizeof short21);
	put(fd, buf, n);
	CHECK(get(fd, r, sizeof r));
	check_reply(r, 204, GB_CMD_NAK, UITD);

	/* A type this codec does not decode (5, software version) is ACKed and passed on. */
	static const uint8_t t5[] = {5, 1, 1, 1, 2, 3};
	n = frame(buf, 205, GB_CMD_SEND, UITD, t5, sizeof t5);
	put(fd, buf, n);
	CHECK(get(fd, r, sizeof r));
	check_reply(r, 205, GB_CMD_ACK, UITD);

	/* Bad end, then a good frame in the same write: NAK then ACK. */
	n = frame(buf, 206, GB_CMD_SEND, UITD, NULL, 0);
	buf[n - 1] = 'X';
	n += frame(buf + n, 207, GB_CMD_SEND, UITD, NULL, 0);
	put(fd, buf, n);
	CHECK(get(fd, r, sizeof r));
	check_reply(r, 206, GB_CMD_NAK, UITD);
	CHECK(get(fd, r, sizeof r));
	check_reply(r, 207, GB_CMD_ACK, UITD);

	CHECK_INT_EQ(wait_seen(before + 2), before + 2);
	pthread_mutex_lock(&seen_lock);
	CHECK_INT_EQ(seen[before].serial, 205);
	CHECK_INT_EQ(seen[before + 1].serial, 207);
	pthread_mutex_unlock(&seen_lock);

	/* A device's ACK is passed on as a reply and not answered. */
	n = frame(buf, 208, GB_CMD_ACK, UITD, NULL, 0);
	put(fd, buf, n);
	n = frame(buf, 209, GB_CMD_SEND, UITD, NULL, 0);
	put(fd, buf, n);
	CHECK(get(fd, r, sizeof r));
	check_reply(r, 209, GB_CMD_ACK, UITD);
	CHECK_INT_EQ(wait_seen(before + 4), before + 4);
	CHECK_INT_EQ(seen[before + 2].kind, GB_MSG_REPLY);
	CHECK_INT_EQ(seen[before + 2].cmd, GB_CMD_ACK);

	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	CHECK_INT_EQ(st.naks, 5);
	CHECK_INT_EQ(st.bad_frames, 4);
	CHECK_INT_EQ(st.undecodable, 1);
	CHECK(st.garbage_bytes >= 18);
	close(fd);
	gb_listener_stop(l);
}

static void test_duty_check_and_clock_sync(void)
{
	struct gb_listener *l = start(0, 0, 0);
	uint16_t serial = 0;
	CHECK_INT_EQ(gb_listener_duty_check(l, "790300000000", 10, &serial), CD_ERR_NOTFOUND);
	int fd = dial(l);
	uint8_t buf[GB_FRAME_MAX], r[64];
	size_t n = frame(buf, 1, GB_CMD_SEND, UITD, NULL, 0); /* a heartbeat makes it known */
	put(fd, buf, n);
	CHECK(get(fd, r, 30));
	CHECK_INT_EQ(gb_listener_duty_check(l, "790300000000", 0, &serial), CD_ERR_INVALID);
	CHECK_INT_EQ(gb_listener_duty_check(l, "790300000000", 256, &serial), CD_ERR_INVALID);
	CHECK_INT_EQ(gb_listener_duty_check(l, "7903", 10, &serial), CD_ERR_INVALID);
	CHECK_INT_EQ(gb_listener_duty_check(l, "790300000001", 10, &serial), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(gb_listener_duty_check(l, "790300000000", 10, &serial), CD_OK);

	/* The reference's duty check frame, but for serial, time and checksum. */
	CHECK(get(fd, r, 33));
	struct gb_reader rd;
	struct gb_frame f;
	gb_reader_init(&rd);
	gb_reader_feed(&rd, r, 33);
	CHECK_INT_EQ(gb_reader_next(&rd, &f), GB_FRAME_OK);
	CHECK_INT_EQ(f.serial, serial);
	CHECK_INT_EQ(f.cmd, GB_CMD_CONTROL);
	CHECK(memcmp(f.src, CENTRE, GB_ADDR_LEN) == 0); /* the centre address the device uses */
	CHECK(memcmp(f.dst, UITD, GB_ADDR_LEN) == 0);
	CHECK_INT_EQ(f.len, 3);
	CHECK_INT_EQ(f.data[0], 91);
	CHECK_INT_EQ(f.data[1], 1);
	CHECK_INT_EQ(f.data[2], 10);
	CHECK_INT_EQ(r[4], 1);
	CHECK_INT_EQ(r[5], 1);

	/* The device confirms with an ACK of that serial: reported as a reply. */
	size_t before = seen_count();
	gb_frame_ack(&f, T_DEVICE, &f);
	n = 0;
	CHECK_INT_EQ(gb_frame_encode(&f, buf, sizeof buf, &n), CD_OK);
	put(fd, buf, n);
	CHECK_INT_EQ(wait_seen(before + 1), before + 1);
	CHECK_INT_EQ(seen[before].kind, GB_MSG_REPLY);
	CHECK_INT_EQ(seen[before].serial, serial);
	CHECK_STR_EQ(seen[before].addr, "790300000000");

	/* Clock sync: type 90 with the centre's time, a new serial. */
	uint16_t serial2 = 0;
	CHECK_INT_EQ(gb_listener_clock_sync(l, "790300000000", &serial2), CD_OK);
	CHECK(serial2 != serial);
	CHECK(get(fd, r, 38));
	gb_reader_feed(&rd, r, 38);
	CHECK_INT_EQ(gb_reader_next(&rd, &f), GB_FRAME_OK);
	CHECK_INT_EQ(f.serial, serial2);
	CHECK_INT_EQ(f.cmd, GB_CMD_CONTROL);
	struct gb_unit u;
	struct gb_object o;
	CHECK_INT_EQ(gb_unit_parse(f.data, f.len, &u), CD_OK);
	CHECK_INT_EQ(u.type, GB_T_CLOCK_SYNC);
	CHECK_INT_EQ(gb_unit_object(&u, 0, &o), CD_OK);
	int64_t now = clock_wall_ms();
	CHECK(o.ts_ms > now - 60000 && o.ts_ms < now + 60000);

	/* Once the connection is gone the transmitter is not reachable. */
	close(fd);
	for (int i = 0; i < 2000 && gb_listener_connected(l, "790300000000", NULL); i++)
		sleep_ms(5);
	CHECK(!gb_listener_connected(l, "790300000000", NULL));
	CHECK_INT_EQ(gb_listener_clock_sync(l, "790300000000", NULL), CD_ERR_NOTFOUND);
	gb_listener_stop(l);
}

static void test_gateway_two_addresses(void)
{
	struct gb_listener *l = start(0, 0, 0);
	int fd = dial(l);
	static const uint8_t other[GB_ADDR_LEN] = {1, 2, 3, 4, 5, 6};
	uint8_t buf[2 * GB_FRAME_MAX], r[30];
	size_t n = frame(buf, 1, GB_CMD_SEND, UITD, NULL, 0);
	n += frame(buf + n, 1, GB_CMD_SEND, other, NULL, 0);
	put(fd, buf, n);
	CHECK(get(fd, r, 30));
	check_reply(r, 1, GB_CMD_ACK, UITD);
	CHECK(get(fd, r, 30));
	check_reply(r, 1, GB_CMD_ACK, other);
	CHECK(gb_listener_connected(l, "790300000000", NULL));
	CHECK(gb_listener_connected(l, "010203040506", NULL));
	CHECK_INT_EQ(gb_listener_duty_check(l, "010203040506", 5, NULL), CD_OK);
	CHECK(get(fd, r, 33 - 3));
	CHECK(memcmp(r + 18, other, GB_ADDR_LEN) == 0);
	CHECK(get(fd, r, 3));
	close(fd);
	for (int i = 0; i < 2000 && gb_listener_connected(l, "010203040506", NULL); i++)
		sleep_ms(5);
	CHECK(!gb_listener_connected(l, "010203040506", NULL));
	CHECK(!gb_listener_connected(l, "790300000000", NULL));
	gb_listener_stop(l);
}

static void test_idle_timeout_and_offline(void)
{
	struct gb_listener *l = start(300, 0, 0);
	int fd = dial(l);
	uint8_t buf[GB_FRAME_MAX], r[30];
	size_t n = frame(buf, 1, GB_CMD_SEND, UITD, NULL, 0);
	put(fd, buf, n);
	CHECK(get(fd, r, 30));
	CHECK(closed_by_server(fd));
	CHECK_INT_EQ(wait_seen(2), 2);
	CHECK_INT_EQ(seen[1].kind, GB_MSG_OFFLINE);
	CHECK_STR_EQ(seen[1].addr, "790300000000");
	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	CHECK_INT_EQ(st.timeouts, 1);
	CHECK_INT_EQ(st.offline, 1);
	close(fd);
	/* Back again: first is set once more. */
	fd = dial(l);
	put(fd, buf, n);
	CHECK(get(fd, r, 30));
	CHECK_INT_EQ(wait_seen(3), 3);
	CHECK(seen[2].first);
	close(fd);
	gb_listener_stop(l);
}

static void test_truncated_frame_expires(void)
{
	struct gb_listener *l = start(0, 200, 0);
	int fd = dial(l);
	uint8_t buf[2 * GB_FRAME_MAX], r[30];
	size_t n = frame(buf, 300, GB_CMD_SEND, UITD, V_POWER + 27, 9);
	put(fd, buf, n - 5);   /* cut off mid-frame */
	CHECK(get(fd, r, 30)); /* after frame_timeout_ms: NAK (the header was complete) */
	check_reply(r, 300, GB_CMD_NAK, UITD);
	n = frame(buf, 301, GB_CMD_SEND, UITD, NULL, 0);
	put(fd, buf, n);
	CHECK(get(fd, r, 30));
	check_reply(r, 301, GB_CMD_ACK, UITD);
	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	CHECK_INT_EQ(st.truncated, 1);
	close(fd);
	gb_listener_stop(l);
}

static void test_max_connections(void)
{
	struct gb_listener *l = start(0, 0, 2);
	static const uint8_t other[GB_ADDR_LEN] = {1, 2, 3, 4, 5, 6};
	int a = dial(l), b = dial(l);
	beat(a, 1, UITD, GB_CMD_ACK);
	beat(b, 1, other, GB_CMD_ACK);
	int c = dial(l);
	CHECK(closed_by_server(c));
	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	CHECK_INT_EQ(st.refused, 1);
	CHECK_INT_EQ(st.open, 2);
	close(a);
	close(b);
	close(c);
	gb_listener_stop(l);
}

static void test_garbage_only_closes(void)
{
	struct gb_listener *l = start(0, 0, 0);
	int fd = dial(l);
	uint8_t junk[4096];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)('a' + i % 26);
	for (int i = 0; i < 8; i++)
		if (send(fd, junk, sizeof junk, MSG_NOSIGNAL) < 0)
			break;
	CHECK(closed_by_server(fd));
	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	CHECK_INT_EQ(st.closed_garbage, 1);
	close(fd);
	gb_listener_stop(l);
}

static void test_back_pressure(void)
{
	/* 20,000 heartbeats written while reading hardly any ACK: the listener stops reading
	 * while its queue is full, and in the end every ACK arrives, in order. */
	struct gb_listener *l = start(0, 0, 0);
	int fd = dial(l);
	enum { N = 20000 };
	size_t total = (size_t)N * 30;
	uint8_t *out = xmalloc(total), *in = xmalloc(total);
	for (uint16_t s = 0; s < N; s++)
		frame(out + (size_t)s * 30, s, GB_CMD_SEND, UITD, NULL, 0);
	size_t sent = 0, got = 0;
	long rounds = 0;
	while (got < total && rounds < 10000000) {
		rounds++;
		struct pollfd p = {.fd = fd, .events = POLLIN | (sent < total ? POLLOUT : 0)};
		if (poll(&p, 1, 10000) <= 0)
			break;
		if ((p.revents & POLLOUT) && sent < total) {
			ssize_t w = send(fd, out + sent, total - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				sent += (size_t)w;
		}
		/* Read rarely until everything is written, so the listener's queue really fills. */
		if ((p.revents & POLLIN) && (sent == total || rounds % 50 == 0)) {
			ssize_t k = recv(fd, in + got, total - got, MSG_DONTWAIT);
			if (k <= 0)
				break;
			got += (size_t)k;
		}
	}
	CHECK_INT_EQ(got, total);
	for (size_t i = 0; i + 30 <= got; i += 30) {
		uint16_t serial = (uint16_t)(in[i + 2] | in[i + 3] << 8);
		if (in[i + 26] != GB_CMD_ACK || serial != i / 30) {
			CHECK_INT_EQ(serial, i / 30);
			CHECK_INT_EQ(in[i + 26], GB_CMD_ACK);
			break;
		}
	}
	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	CHECK_INT_EQ(st.acks, N);
	xfree(out);
	xfree(in);
	close(fd);
	gb_listener_stop(l);
}

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static void test_random_bytes(void)
{
	/* Random bytes (with many '@' and '#') and fragments of real frames from 16 connections
	 * at once; then the listener still answers a clean connection correctly. */
	struct gb_listener *l = start(0, 100, 0);
	int fds[16];
	for (size_t i = 0; i < 16; i++)
		fds[i] = dial(l);
	uint8_t buf[4096], fr[GB_FRAME_MAX];
	static const uint8_t hot[] = {'@', '#', 0, 1, 2, 0x04, 0xff};
	unsigned redials = 0;
	for (int round = 0; round < 2000; round++) {
		size_t n = 1 + (size_t)(rng() % sizeof buf);
		for (size_t i = 0; i < n; i++) {
			uint64_t x = rng();
			buf[i] = (x & 1) ? hot[(x >> 8) % sizeof hot] : (uint8_t)(x >> 16);
		}
		if (round % 3 == 0) { /* splice in a real frame, maybe cut */
			size_t fl = frame(fr, (uint16_t)round, GB_CMD_SEND, UITD, V_POWER + 27, 9);
			size_t at = (size_t)(rng() % n), take = 1 + (size_t)(rng() % fl);
			if (take > n - at)
				take = n - at;
			memcpy(buf + at, fr, take);
		}
		size_t k = (size_t)(rng() % 16);
		if (send(fds[k], buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN) {
			close(fds[k]); /* closed for garbage: a new connection takes its place */
			fds[k] = dial(l);
			redials++;
		}
		uint8_t sink[8192];
		for (size_t i = 0; i < 16; i++)
			while (recv(fds[i], sink, sizeof sink, MSG_DONTWAIT) > 0) {
			}
	}
	for (size_t i = 0; i < 16; i++)
		close(fds[i]);
	int fd = dial(l);
	size_t n = frame(buf, 4242, GB_CMD_SEND, UITD, V_POWER + 27, 9);
	put(fd, buf, n);
	uint8_t r[30];
	CHECK(get(fd, r, sizeof r));
	check_reply(r, 4242, GB_CMD_ACK, UITD);
	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	CHECK(st.bad_frames > 0);
	CHECK(st.garbage_bytes > 0);
	fprintf(stderr,
		"  random: %llu frames, %llu bad, %llu garbage bytes, %llu naks, %llu closed for garbage, %u "
		"redials\n",
		(unsigned long long)st.frames, (unsigned long long)st.bad_frames,
		(unsigned long long)st.garbage_bytes, (unsigned long long)st.naks,
		(unsigned long long)st.closed_garbage, redials);
	close(fd);
	gb_listener_stop(l);
}

static void test_fd_cap_rule(void)
{
	CHECK_INT_EQ(gb_listener_fd_cap(1024), 384);
	CHECK_INT_EQ(gb_listener_fd_cap(65536), 24576);
	CHECK_INT_EQ(gb_listener_fd_cap(64), 24);
	CHECK_INT_EQ(gb_listener_fd_cap(1), 1);
	CHECK_INT_EQ(gb_listener_fd_cap(0), 1);
	CHECK(gb_listener_fd_cap(UINT64_MAX) > (size_t)1 << 30); /* no overflow */
	/* The limit in force is reported; this process's limit is far above the default. */
	struct rlimit rl;
	CHECK_INT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
	struct gb_listener *l = start(0, 0, 0);
	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	size_t want = GB_MAX_CONNECTIONS;
	if (rl.rlim_cur != RLIM_INFINITY && gb_listener_fd_cap(rl.rlim_cur) < want)
		want = gb_listener_fd_cap(rl.rlim_cur);
	CHECK_INT_EQ(st.max_connections, want);
	gb_listener_stop(l);
}

static void test_per_host_cap(void)
{
	/* Three connections in all, two from one host: a third from that host is refused, while
	 * another host still gets the last slot; a closed slot is taken again. */
	struct gb_listener_config cfg;
	gb_listener_config_init(&cfg);
	cfg.max_connections = 3;
	cfg.max_per_host = 2;
	struct gb_listener *l = start_with(&cfg);
	static const uint8_t a1[GB_ADDR_LEN] = {0x79, 3, 0, 0, 0, 1}, a2[GB_ADDR_LEN] = {0x79, 3, 0, 0, 0, 2},
			     a3[GB_ADDR_LEN] = {0x79, 3, 0, 0, 0, 3}, a4[GB_ADDR_LEN] = {0x79, 3, 0, 0, 0, 4};
	int a = dial(l), b = dial(l);
	beat(a, 1, a1, GB_CMD_ACK);
	beat(b, 1, a2, GB_CMD_ACK);
	int c = dial(l);
	CHECK(closed_by_server(c));
	int g = dial_from(l, "127.0.0.2");
	beat(g, 1, a3, GB_CMD_ACK);
	int d = dial_from(l, "127.0.0.3");
	CHECK(closed_by_server(d));
	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	CHECK_INT_EQ(st.refused_host, 1);
	CHECK_INT_EQ(st.refused, 1);
	CHECK_INT_EQ(st.open, 3);
	close(a);
	close(c);
	close(d);
	for (int i = 0; i < 2000; i++) {
		gb_listener_stats(l, &st);
		if (st.open == 2)
			break;
		sleep_ms(5);
	}
	CHECK_INT_EQ(st.open, 2);
	int e = dial(l);
	beat(e, 1, a4, GB_CMD_ACK);
	beat(g, 2, a3, GB_CMD_ACK);
	close(b);
	close(e);
	close(g);
	gb_listener_stop(l);
}

static void test_anonymous_evicted_when_full(void)
{
	/* Full of connections: one that never had a frame accepted (idle, junk, or only refused
	 * addresses) for anon_evict_ms makes room for a newcomer; transmitters' do not. */
	struct gb_listener_config cfg;
	gb_listener_config_init(&cfg);
	cfg.max_connections = 2;
	cfg.anon_evict_ms = 200;
	struct gb_listener *l = start_with(&cfg);
	static const uint8_t other[GB_ADDR_LEN] = {1, 2, 3, 4, 5, 6};
	int idle = dial(l), a = dial(l);
	beat(a, 1, UITD, GB_CMD_ACK);
	sleep_ms(300);
	int b = dial(l);
	beat(b, 1, other, GB_CMD_ACK); /* got the idle one's slot */
	CHECK(closed_by_server(idle));
	int c = dial(l); /* both are transmitters now: refused */
	CHECK(closed_by_server(c));
	beat(a, 2, UITD, GB_CMD_ACK);
	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	CHECK_INT_EQ(st.evicted, 1);
	CHECK_INT_EQ(st.refused, 1);
	CHECK_INT_EQ(st.open, 2);
	close(idle);
	close(a);
	close(b);
	close(c);
	gb_listener_stop(l);
}

/* ---- Out of file descriptors: a forked child runs a listener under RLIMIT_NOFILE 64 ---- */

#define CHILD_NOFILE 64
#define CHILD_FREE 6 /* descriptors the child leaves free after filling the rest */

struct child_hello {
	int port;
	uint64_t max_connections;
};

struct child_bye {
	int log_lines; /* "gb26875 accept failed" lines it logged */
	long cpu_ms;   /* user + system CPU of the whole child */
};

static bool read_full(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	while (n) {
		ssize_t r = read(fd, b, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		b += r;
		n -= (size_t)r;
	}
	return true;
}

static void write_full(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(5);
		b += w;
		n -= (size_t)w;
	}
}

static int count_in_file(const char *path, const char *needle)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	static char text[1 << 20];
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n < 0)
		return -1;
	text[n] = '\0';
	int count = 0;
	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		count++;
	return count;
}

/* The child: a default listener under a low descriptor limit, then every other descriptor
 * taken but CHILD_FREE (as if HTTP and SQLite had them); answers 's' with its stats and 'q'
 * with its log line count and CPU time. */
static void fd_child(int cmd_fd, int rep_fd, const char *log_path)
{
	int lf = open(log_path, O_WRONLY | O_TRUNC);
	if (lf < 0 || dup2(lf, 2) < 0)
		_exit(3);
	close(lf);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = CHILD_NOFILE;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		_exit(3);
	struct gb_listener_config cfg;
	gb_listener_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	struct gb_listener *l = NULL;
	if (gb_listener_start(&cfg, &l) != CD_OK)
		_exit(3);
	int eaten[CHILD_NOFILE];
	size_t n = 0;
	while (n < CHILD_NOFILE) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0)
			break;
		eaten[n++] = fd;
	}
	for (size_t i = 0; i < CHILD_FREE && n; i++)
		close(eaten[--n]);
	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	struct child_hello hello = {gb_listener_port(l), st.max_connections};
	write_full(rep_fd, &hello, sizeof hello);
	for (;;) {
		char cmd;
		if (!read_full(cmd_fd, &cmd, 1))
			_exit(4);
		if (cmd == 's') {
			gb_listener_stats(l, &st);
			write_full(rep_fd, &st, sizeof st);
		} else if (cmd == 'q') {
			gb_listener_stop(l);
			struct rusage ru;
			getrusage(RUSAGE_SELF, &ru);
			struct child_bye bye = {count_in_file(log_path, "gb26875 accept failed"),
						(long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
						    (long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000};
			write_full(rep_fd, &bye, sizeof bye);
			_exit(0);
		}
	}
}

static bool child_stats(int cmd_fd, int rep_fd, struct gb_listener_stats *st)
{
	char cmd = 's';
	return write(cmd_fd, &cmd, 1) == 1 && read_full(rep_fd, st, sizeof *st);
}

static void test_fd_exhaustion(void)
{
	/* 30 idle connections against a process with 6 descriptors left: the listener takes what
	 * it can, stops accepting instead of spinning on EMFILE (a bounded number of failed
	 * accepts and log lines), keeps answering the transmitter it has, and accepts again
	 * once the idle connections close. */
	char log_path[] = "/tmp/citydesk-gbfd-XXXXXX";
	int lf = mkstemp(log_path);
	CHECK(lf >= 0);
	if (lf < 0)
		return;
	close(lf);
	int to_child[2], from_child[2];
	CHECK_INT_EQ(pipe(to_child), 0);
	CHECK_INT_EQ(pipe(from_child), 0);
	int64_t t0 = clock_wall_ms();
	pid_t pid = fork();
	if (pid == 0) {
		close(to_child[1]);
		close(from_child[0]);
		fd_child(to_child[0], from_child[1], log_path);
		_exit(6);
	}
	CHECK(pid > 0);
	close(to_child[0]);
	close(from_child[1]);
	int cmd = to_child[1], rep = from_child[0];
	struct child_hello hello = {0, 0};
	CHECK(read_full(rep, &hello, sizeof hello));
	CHECK_INT_EQ(hello.max_connections, gb_listener_fd_cap(CHILD_NOFILE)); /* 24, not 4,096 */

	static const uint8_t good[GB_ADDR_LEN] = {0x79, 3, 0, 0, 0, 0x10};
	static const uint8_t late[GB_ADDR_LEN] = {0x79, 3, 0, 0, 0, 0x11};
	int g = dial_port_from(hello.port, "127.0.0.1");
	beat(g, 1, good, GB_CMD_ACK);
	enum { IDLE = 30 };
	int idle[IDLE];
	for (size_t i = 0; i < IDLE; i++)
		idle[i] = dial_port_from(hello.port, "127.0.0.1");
	struct gb_listener_stats st;
	memset(&st, 0, sizeof st);
	for (int i = 0; i < 200 && child_stats(cmd, rep, &st) && st.accept_pauses == 0; i++)
		sleep_ms(50);
	CHECK(st.accept_pauses >= 1); /* it did run out */
	for (uint16_t s = 2; s < 10; s++) { /* two seconds of service while it is out */
		beat(g, s, good, GB_CMD_ACK);
		sleep_ms(250);
	}
	CHECK(child_stats(cmd, rep, &st));
	int64_t secs = (clock_wall_ms() - t0) / 1000 + 1;
	CHECK(st.open >= 1 && st.open <= CHILD_FREE);
	CHECK(st.accept_pauses >= 1 && st.accept_pauses <= (uint64_t)secs + 2); /* one a second, not a spin */
	uint64_t pauses_before = st.accept_pauses;

	for (size_t i = 0; i < IDLE; i++)
		close(idle[i]);
	int n = dial_port_from(hello.port, "127.0.0.1");
	beat(n, 1, late, GB_CMD_ACK); /* accepted again once descriptors are free */
	beat(g, 10, good, GB_CMD_ACK);
	CHECK(child_stats(cmd, rep, &st));
	CHECK(st.connections >= 2);
	close(n);
	close(g);

	char q = 'q';
	CHECK_INT_EQ(write(cmd, &q, 1), 1);
	struct child_bye bye = {-1, -1};
	CHECK(read_full(rep, &bye, sizeof bye));
	int status = 0;
	CHECK_INT_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	int64_t elapsed = clock_wall_ms() - t0;
	CHECK(bye.log_lines >= 1 && bye.log_lines <= (int)(elapsed / 10000) + 2); /* rate-limited */
	fprintf(stderr, "  fd limit %d: %llu accept pauses before the idle ones closed, %llu in all, %d log lines, "
			"child CPU %ld ms over %lld ms\n",
		CHILD_NOFILE, (unsigned long long)pauses_before, (unsigned long long)st.accept_pauses, bye.log_lines,
		bye.cpu_ms, (long long)elapsed);
	close(cmd);
	close(rep);
	unlink(log_path);
}

/* ---- Addresses pinned to their connection ---- */

static void test_address_pinned(void)
{
	struct gb_listener *l = start(0, 0, 0);
	uint8_t buf[GB_FRAME_MAX], r[64];
	int a = dial(l);
	beat(a, 1, UITD, GB_CMD_ACK);
	CHECK_INT_EQ(wait_seen(1), 1);

	/* A second connection claims the address with a fire frame: NAK, nothing reported. */
	int b = dial(l);
	size_t n = frame(buf, 2, GB_CMD_SEND, UITD, V_POWER + 27, 9);
	put(b, buf, n);
	CHECK(get(b, r, 30));
	check_reply(r, 2, GB_CMD_NAK, UITD);
	CHECK_INT_EQ(seen_count(), 1);
	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	CHECK_INT_EQ(st.conflicts, 1);
	CHECK_INT_EQ(st.acks, 1);
	CHECK_INT_EQ(st.naks, 1);

	/* The mapping stayed: the duty check goes to the first connection ... */
	uint16_t serial = 0;
	CHECK_INT_EQ(gb_listener_duty_check(l, "790300000000", 10, &serial), CD_OK);
	CHECK(get(a, r, 33));
	CHECK(memcmp(r + 18, UITD, GB_ADDR_LEN) == 0);
	CHECK_INT_EQ(r[2] | r[3] << 8, serial);
	CHECK_INT_EQ(r[26], GB_CMD_CONTROL);
	/* ... and not to the second, whose next reply is the NAK of its next frame. */
	beat(b, 3, UITD, GB_CMD_NAK);
	beat(a, 4, UITD, GB_CMD_ACK);

	/* Once the first closes, the address is free for the second. */
	close(a);
	for (int i = 0; i < 2000 && gb_listener_connected(l, "790300000000", NULL); i++)
		sleep_ms(5);
	CHECK(!gb_listener_connected(l, "790300000000", NULL));
	size_t before = seen_count();
	n = frame(buf, 5, GB_CMD_SEND, UITD, V_POWER + 27, 9);
	put(b, buf, n);
	CHECK(get(b, r, 30));
	check_reply(r, 5, GB_CMD_ACK, UITD);
	CHECK_INT_EQ(wait_seen(before + 1), before + 1);
	CHECK_INT_EQ(seen[before].serial, 5);
	CHECK_INT_EQ(gb_listener_clock_sync(l, "790300000000", &serial), CD_OK);
	CHECK(get(b, r, 38));
	CHECK_INT_EQ(r[2] | r[3] << 8, serial);
	close(b);
	gb_listener_stop(l);
}

static void test_takeover_after_silence(void)
{
	/* A device that rebooted leaves a half-open socket: once its address has been silent for
	 * takeover_ms, a new connection may take it; the old one is refused from then on. */
	struct gb_listener_config cfg;
	gb_listener_config_init(&cfg);
	cfg.takeover_ms = 300;
	struct gb_listener *l = start_with(&cfg);
	int a = dial(l), b = dial(l);
	beat(a, 1, UITD, GB_CMD_ACK);
	beat(b, 2, UITD, GB_CMD_NAK); /* a heard from just now */
	sleep_ms(400);
	beat(b, 3, UITD, GB_CMD_ACK);
	beat(a, 4, UITD, GB_CMD_NAK);
	uint8_t r[33];
	CHECK_INT_EQ(gb_listener_duty_check(l, "790300000000", 1, NULL), CD_OK);
	CHECK(get(b, r, 33));
	CHECK_INT_EQ(r[26], GB_CMD_CONTROL);
	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	CHECK_INT_EQ(st.conflicts, 2);
	close(a);
	close(b);
	gb_listener_stop(l);
}

static void test_reconnect_right_after_hangup(void)
{
	/* A device sends a fire frame, hangs up without waiting and reconnects at once: the new
	 * connection is not refused, and both frames are reported, in order. */
	struct gb_listener *l = start(0, 0, 0);
	uint8_t buf[GB_FRAME_MAX], r[30];
	for (uint16_t round = 0; round < 20; round++) {
		int a = dial(l);
		uint16_t s1 = (uint16_t)(100 + 2 * round), s2 = (uint16_t)(s1 + 1);
		if (round == 0)
			beat(a, 99, UITD, GB_CMD_ACK);
		size_t before = seen_count();
		size_t n = frame(buf, s1, GB_CMD_SEND, UITD, V_POWER + 27, 9);
		put(a, buf, n);
		close(a);
		int b = dial(l);
		n = frame(buf, s2, GB_CMD_SEND, UITD, V_POWER + 27, 9);
		put(b, buf, n);
		CHECK(get(b, r, 30));
		check_reply(r, s2, GB_CMD_ACK, UITD);
		CHECK_INT_EQ(wait_seen(before + 2), before + 2);
		pthread_mutex_lock(&seen_lock);
		CHECK_INT_EQ(seen[before].serial, s1);
		CHECK_INT_EQ(seen[before + 1].serial, s2);
		pthread_mutex_unlock(&seen_lock);
		close(b);
	}
	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	CHECK_INT_EQ(st.conflicts, 0);
	gb_listener_stop(l);
}

/* ---- Unregistered addresses ---- */

static bool admit_uitd_only(void *ctx, const char *addr)
{
	(void)ctx;
	return strcmp(addr, "790300000000") == 0;
}

static void test_unregistered_nak(void)
{
	struct gb_listener_config cfg;
	gb_listener_config_init(&cfg);
	cfg.admit = admit_uitd_only;
	struct gb_listener *l = start_with(&cfg);
	static const uint8_t stranger[GB_ADDR_LEN] = {0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
	uint8_t buf[GB_FRAME_MAX], r[30];
	int fd = dial(l);
	/* Its fire frame: NAK byte for byte, nothing reported, not tracked, not reachable. */
	size_t n = frame(buf, 7, GB_CMD_SEND, stranger, V_POWER + 27, 9);
	put(fd, buf, n);
	CHECK(get(fd, r, 30));
	check_reply(r, 7, GB_CMD_NAK, stranger);
	beat(fd, 8, stranger, GB_CMD_NAK);
	/* Its ACK is dropped unanswered: the next reply is the registered one's ACK. */
	n = frame(buf, 9, GB_CMD_ACK, stranger, NULL, 0);
	put(fd, buf, n);
	beat(fd, 10, UITD, GB_CMD_ACK);
	CHECK_INT_EQ(wait_seen(1), 1);
	CHECK_STR_EQ(seen[0].addr, "790300000000");
	CHECK_INT_EQ(seen[0].serial, 10);
	CHECK(!gb_listener_connected(l, "0a0b0c0d0e0f", NULL));
	CHECK_INT_EQ(gb_listener_duty_check(l, "0a0b0c0d0e0f", 5, NULL), CD_ERR_NOTFOUND);
	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	CHECK_INT_EQ(st.unknown, 3);
	CHECK_INT_EQ(st.naks, 2);
	CHECK_INT_EQ(st.acks, 1);
	CHECK_STR_EQ(st.unknown_addrs[0], "0a0b0c0d0e0f");
	CHECK_STR_EQ(st.unknown_addrs[1], "");

	/* The latest GB_UNKNOWN_KEEP distinct addresses, newest first (one connection each, as
	 * NAKs to one connection are limited to 8 a second). */
	for (uint8_t i = 1; i <= GB_UNKNOWN_KEEP + 2; i++) {
		uint8_t a[GB_ADDR_LEN] = {0x0a, 0, 0, 0, 0, i};
		int c = dial(l);
		beat(c, i, a, GB_CMD_NAK);
		close(c);
	}
	beat(fd, 11, stranger, GB_CMD_NAK); /* seen before: moves to the front */
	gb_listener_stats(l, &st);
	CHECK_INT_EQ(st.unknown, 3 + GB_UNKNOWN_KEEP + 2 + 1);
	CHECK_STR_EQ(st.unknown_addrs[0], "0a0b0c0d0e0f");
	CHECK_STR_EQ(st.unknown_addrs[1], "0a000000000a");
	CHECK_STR_EQ(st.unknown_addrs[2], "0a0000000009");
	CHECK_STR_EQ(st.unknown_addrs[GB_UNKNOWN_KEEP - 1], "0a0000000004");
	close(fd);
	gb_listener_stop(l);
}

/* A frame the owner does not take (the hub's journal failed) is NAKed, not ACKed, so the
 * transmitter sends it again; the resent frame is ACKed once taken and is still the first
 * from its address. More refusals than the NAK rate limit are all answered. */
static void test_not_taken_nak(void)
{
	struct gb_listener *l = start(0, 0, 0);
	int fd = dial(l);
	atomic_store(&refuse_data, 12);
	for (uint16_t serial = 1; serial <= 12; serial++)
		beat(fd, serial, UITD, GB_CMD_NAK);
	beat(fd, 13, UITD, GB_CMD_ACK);
	CHECK_INT_EQ(wait_seen(13), 13);
	CHECK(seen[0].first);
	CHECK(seen[11].first); /* every refused one stays "first" */
	CHECK(seen[12].first); /* the one taken is the first */
	beat(fd, 14, UITD, GB_CMD_ACK);
	CHECK_INT_EQ(wait_seen(14), 14);
	CHECK(!seen[13].first);
	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	CHECK_INT_EQ(st.not_taken, 12);
	CHECK_INT_EQ(st.naks, 12);
	CHECK_INT_EQ(st.acks, 2);
	close(fd);
	gb_listener_stop(l);
}

static void test_bad_listen(void)
{
	struct gb_listener_config cfg;
	gb_listener_config_init(&cfg);
	struct gb_listener *l = NULL;
	static const char *const bad[] = {"", "nocolon", "127.0.0.1:", "127.0.0.1:x1", "[::1", "[::1]9"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cfg.listen = bad[i];
		CHECK_INT_EQ(gb_listener_start(&cfg, &l), CD_ERR_INVALID);
		CHECK(l == NULL);
	}
	/* A port in use. */
	struct gb_listener *a = start(0, 0, 0);
	char where[32];
	snprintf(where, sizeof where, "127.0.0.1:%d", gb_listener_port(a));
	cfg.listen = where;
	CHECK_INT_EQ(gb_listener_start(&cfg, &l), CD_ERR_IO);
	gb_listener_stop(a);
	gb_listener_stop(NULL);
	/* IPv6 loopback, when the machine has it. */
	cfg.listen = "[::1]:0";
	if (gb_listener_start(&cfg, &l) == CD_OK) {
		CHECK(gb_listener_port(l) > 0);
		gb_listener_stop(l);
	}
}

static const struct test_case tests[] = {
    {"byte_by_byte", test_byte_by_byte},
    {"many_in_one_write", test_many_in_one_write},
    {"garbage_and_bad_frames", test_garbage_and_bad_frames},
    {"duty_check_and_clock_sync", test_duty_check_and_clock_sync},
    {"gateway_two_addresses", test_gateway_two_addresses},
    {"idle_timeout_and_offline", test_idle_timeout_and_offline},
    {"truncated_frame_expires", test_truncated_frame_expires},
    {"max_connections", test_max_connections},
    {"garbage_only_closes", test_garbage_only_closes},
    {"back_pressure", test_back_pressure},
    {"random_bytes", test_random_bytes},
    {"not_taken_nak", test_not_taken_nak},
    {"bad_listen", test_bad_listen},
    {"fd_cap_rule", test_fd_cap_rule},
    {"per_host_cap", test_per_host_cap},
    {"anonymous_evicted_when_full", test_anonymous_evicted_when_full},
    {"fd_exhaustion", test_fd_exhaustion},
    {"address_pinned", test_address_pinned},
    {"takeover_after_silence", test_takeover_after_silence},
    {"reconnect_right_after_hangup", test_reconnect_right_after_hangup},
    {"unregistered_nak", test_unregistered_nak},
};

TEST_MAIN(tests)
