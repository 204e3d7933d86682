/* Unit tests of the GB/T 26875.3 codec: every vector of shared/reference/gb26875-3.md, frames
 * built here, and broken ones (bad checksum, bad end, oversize, truncated, unknown command,
 * garbage between frames), split in every way, plus a random-bytes robustness loop. */
#include <stdint.h>
#include <stdlib.h>

#include "gbtest.h"
#include "net/gb26875.h"
#include "test.h"

/* Vectors from the reference (checksums verified there). */
static const uint8_t V_DUTY[] = {0x40, 0x40, 0x01, 0x00, 0x01, 0x01, 0x23, 0x3A, 0x09, 0x1A, 0x09,
				 0x0C, 0x38, 0x5B, 0x01, 0x00, 0x00, 0x00, 0x79, 0x03, 0x00, 0x00,
				 0x00, 0x00, 0x03, 0x00, 0x01, 0x5B, 0x01, 0x0A, 0x12, 0x23, 0x23};

static const uint8_t T_CENTRE[GB_TIME_LEN] = {0x23, 0x3A, 0x09, 0x1A, 0x09, 0x0C}; /* 09:58:35 */

/* Encodes a frame from the UITD to the centre into out; returns its length. */
static size_t mk(uint8_t *out, size_t cap, uint16_t serial, uint8_t cmd, const uint8_t *data, size_t n)
{
	return gbtest_frame(out, cap, serial, cmd, UITD, data, n);
}

/* Feeds n bytes in pieces of `step` (0 = all at once) and records every result. */
struct results {
	enum gb_status st[64];
	uint16_t serial[64];
	uint16_t len[64];
	size_t n;
};

static struct gb_frame scratch;

static void run(struct gb_reader *r, const uint8_t *in, size_t n, size_t step, struct results *res)
{
	size_t off = 0;
	while (off < n) {
		size_t want = step ? step : n - off;
		if (want > n - off)
			want = n - off;
		size_t took = gb_reader_feed(r, in + off, want);
		off += took;
		for (;;) {
			enum gb_status st = gb_reader_next(r, &scratch);
			if (st == GB_NEED_MORE)
				break;
			if (res->n < 64) {
				res->st[res->n] = st;
				res->serial[res->n] = scratch.serial;
				res->len[res->n] = scratch.len;
				res->n++;
			}
		}
		CHECK(r->len <= sizeof r->buf);
	}
}

static void test_vectors_decode(void)
{
	struct gb_reader r;
	struct gb_frame f;
	gb_reader_init(&r);
	CHECK_INT_EQ(gb_reader_feed(&r, V_POWER, sizeof V_POWER), sizeof V_POWER);
	CHECK_INT_EQ(gb_reader_next(&r, &f), GB_FRAME_OK);
	CHECK_INT_EQ(f.serial, 1);
	CHECK_INT_EQ(f.version[0], 1);
	CHECK_INT_EQ(f.version[1], 1);
	CHECK(memcmp(f.time, T_DEVICE, GB_TIME_LEN) == 0);
	CHECK(memcmp(f.src, UITD, GB_ADDR_LEN) == 0);
	CHECK(memcmp(f.dst, CENTRE, GB_ADDR_LEN) == 0);
	CHECK_INT_EQ(f.cmd, GB_CMD_SEND);
	CHECK_INT_EQ(f.len, 9);
	CHECK_INT_EQ(gb_reader_next(&r, &f), GB_NEED_MORE);
	CHECK_INT_EQ(r.len, 0);

	struct gb_unit u;
	struct gb_object o;
	CHECK_INT_EQ(gb_unit_parse(f.data, f.len, &u), CD_OK);
	CHECK_INT_EQ(u.type, GB_T_UITD_STATE);
	CHECK_INT_EQ(u.count, 1);
	CHECK_INT_EQ(gb_unit_object(&u, 0, &o), CD_OK);
	CHECK_INT_EQ(o.u.uitd.status, GB_UITD_MAIN_POWER);
	CHECK_INT_EQ(o.ts_ms, T_DEVICE_MS);
	CHECK_INT_EQ(gb_unit_object(&u, 1, &o), CD_ERR_RANGE);

	/* The centre's ACK and duty check decode too. */
	CHECK_INT_EQ(gb_reader_feed(&r, V_ACK, sizeof V_ACK), sizeof V_ACK);
	CHECK_INT_EQ(gb_reader_next(&r, &f), GB_FRAME_OK);
	CHECK_INT_EQ(f.cmd, GB_CMD_ACK);
	CHECK_INT_EQ(f.len, 0);
	CHECK(memcmp(f.src, CENTRE, GB_ADDR_LEN) == 0);
	CHECK_INT_EQ(gb_reader_feed(&r, V_DUTY, sizeof V_DUTY), sizeof V_DUTY);
	CHECK_INT_EQ(gb_reader_next(&r, &f), GB_FRAME_OK);
	CHECK_INT_EQ(f.cmd, GB_CMD_CONTROL);
	CHECK_INT_EQ(gb_unit_parse(f.data, f.len, &u), CD_OK);
	CHECK_INT_EQ(u.type, GB_T_DUTY_CHECK);
	CHECK_INT_EQ(gb_unit_object(&u, 0, &o), CD_OK);
	CHECK_INT_EQ(o.u.duty.minutes, 10);
	CHECK_INT_EQ(r.frames, 3);
	CHECK_INT_EQ(r.bad, 0);
	CHECK_INT_EQ(r.garbage, 0);
}

static void test_vectors_encode(void)
{
	struct gb_reader r;
	struct gb_frame in, out;
	uint8_t buf[GB_FRAME_MAX];
	size_t n = 0;

	gb_reader_init(&r);
	CHECK_INT_EQ(gb_reader_feed(&r, V_POWER, sizeof V_POWER), sizeof V_POWER);
	CHECK_INT_EQ(gb_reader_next(&r, &in), GB_FRAME_OK);
	/* Re-encoding what was decoded gives the same bytes. */
	CHECK_INT_EQ(gb_frame_encode(&in, buf, sizeof buf, &n), CD_OK);
	CHECK_INT_EQ(n, sizeof V_POWER);
	CHECK(memcmp(buf, V_POWER, n) == 0);

	/* The ACK of that frame at the centre's 09:58:35 is the reference's ACK, byte for byte. */
	gb_frame_ack(&in, T_CENTRE, &out);
	CHECK_INT_EQ(gb_frame_encode(&out, buf, sizeof buf, &n), CD_OK);
	CHECK_INT_EQ(n, sizeof V_ACK);
	CHECK(memcmp(buf, V_ACK, sizeof V_ACK) == 0);

	/* The same with the ACK built in place (in == out). */
	struct gb_frame same = in;
	gb_frame_ack(&same, T_CENTRE, &same);
	CHECK(memcmp(same.src, CENTRE, GB_ADDR_LEN) == 0);
	CHECK(memcmp(same.dst, UITD, GB_ADDR_LEN) == 0);

	/* NAK: identical but for the command and the checksum. */
	gb_frame_nak(&in, T_CENTRE, &out);
	CHECK_INT_EQ(gb_frame_encode(&out, buf, sizeof buf, &n), CD_OK);
	CHECK_INT_EQ(n, 30);
	CHECK_INT_EQ(buf[26], GB_CMD_NAK);
	CHECK_INT_EQ(buf[27], (V_ACK[27] + 3) & 0xff);
	CHECK(memcmp(buf, V_ACK, 26) == 0);

	/* Duty check within 10 minutes, serial 1: the reference's frame. */
	gb_frame_duty_check(1, CENTRE, UITD, T_CENTRE, 10, &out);
	CHECK_INT_EQ(gb_frame_encode(&out, buf, sizeof buf, &n), CD_OK);
	CHECK_INT_EQ(n, sizeof V_DUTY);
	CHECK(memcmp(buf, V_DUTY, sizeof V_DUTY) == 0);

	/* Clock sync: type 90, one object, the time to set. */
	uint8_t set_to[GB_TIME_LEN] = {0, 0, 12, 1, 10, 26};
	gb_frame_clock_sync(0x1234, CENTRE, UITD, T_CENTRE, set_to, &out);
	CHECK_INT_EQ(gb_frame_encode(&out, buf, sizeof buf, &n), CD_OK);
	CHECK_INT_EQ(n, 38);
	CHECK_INT_EQ(buf[2], 0x34);
	CHECK_INT_EQ(buf[3], 0x12);
	CHECK_INT_EQ(buf[24], 8);
	CHECK_INT_EQ(buf[26], GB_CMD_CONTROL);
	CHECK_INT_EQ(buf[27], 90);
	CHECK_INT_EQ(buf[28], 1);
	CHECK(memcmp(buf + 29, set_to, GB_TIME_LEN) == 0);
	CHECK_INT_EQ(buf[35], gb_checksum(buf + 2, 33));
	struct gb_unit u;
	struct gb_object o;
	CHECK_INT_EQ(gb_unit_parse(out.data, out.len, &u), CD_OK);
	CHECK_INT_EQ(gb_unit_object(&u, 0, &o), CD_OK);
	CHECK(memcmp(o.u.time.clock, set_to, GB_TIME_LEN) == 0);
	int64_t ms = 0;
	CHECK(gb_time_to_ms(set_to, &ms));
	CHECK_INT_EQ(o.ts_ms, ms);
}

static void test_encode_limits(void)
{
	static struct gb_frame f;
	uint8_t buf[GB_FRAME_MAX];
	size_t n = 0;
	memset(&f, 0, sizeof f);
	f.cmd = GB_CMD_SEND;
	f.len = GB_DATA_MAX + 1;
	CHECK_INT_EQ(gb_frame_encode(&f, buf, sizeof buf, &n), CD_ERR_RANGE);
	f.len = 10;
	CHECK_INT_EQ(gb_frame_encode(&f, buf, 39, &n), CD_ERR_TOOBIG);
	CHECK_INT_EQ(gb_frame_encode(&f, buf, 40, &n), CD_OK);
	CHECK_INT_EQ(n, 40);

	/* The largest data unit there is goes through. */
	static uint8_t data[GB_DATA_MAX];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 7);
	n = mk(buf, sizeof buf, 9, GB_CMD_SEND, data, GB_DATA_MAX);
	CHECK_INT_EQ(n, GB_FRAME_MAX);
	struct gb_reader r;
	struct gb_frame g;
	gb_reader_init(&r);
	CHECK_INT_EQ(gb_reader_feed(&r, buf, n), n);
	CHECK_INT_EQ(gb_reader_next(&r, &g), GB_FRAME_OK);
	CHECK_INT_EQ(g.len, GB_DATA_MAX);
	CHECK(memcmp(g.data, data, GB_DATA_MAX) == 0);
}

static void test_split_every_way(void)
{
	/* Three frames back to back, fed in every piece size from 1 byte to all at once. */
	uint8_t all[sizeof V_POWER + sizeof V_ACK + sizeof V_DUTY];
	memcpy(all, V_POWER, sizeof V_POWER);
	memcpy(all + sizeof V_POWER, V_ACK, sizeof V_ACK);
	memcpy(all + sizeof V_POWER + sizeof V_ACK, V_DUTY, sizeof V_DUTY);
	for (size_t step = 0; step <= sizeof all; step++) {
		struct gb_reader r;
		struct results res = {0};
		gb_reader_init(&r);
		run(&r, all, sizeof all, step, &res);
		CHECK_INT_EQ(res.n, 3);
		CHECK_INT_EQ(res.st[0], GB_FRAME_OK);
		CHECK_INT_EQ(res.st[1], GB_FRAME_OK);
		CHECK_INT_EQ(res.st[2], GB_FRAME_OK);
		CHECK_INT_EQ(res.len[0], 9);
		CHECK_INT_EQ(res.len[2], 3);
		CHECK_INT_EQ(r.len, 0);
	}
}

static void test_garbage_between(void)
{
	uint8_t buf[512];
	size_t n = 0;
	static const char g1[] = "GET / HTTP/1.1\r\n@x"; /* a lone '@' is no start */
	static const char g2[] = "#@x@#\x00\xff##";
	memcpy(buf + n, g1, sizeof g1 - 1);
	n += sizeof g1 - 1;
	n += mk(buf + n, sizeof buf - n, 7, GB_CMD_SEND, NULL, 0);
	memcpy(buf + n, g2, sizeof g2 - 1);
	n += sizeof g2 - 1;
	n += mk(buf + n, sizeof buf - n, 8, GB_CMD_SEND, NULL, 0);
	for (size_t step = 0; step <= 7; step++) {
		struct gb_reader r;
		struct results res = {0};
		gb_reader_init(&r);
		run(&r, buf, n, step, &res);
		CHECK_INT_EQ(res.n, 2);
		CHECK_INT_EQ(res.st[0], GB_FRAME_OK);
		CHECK_INT_EQ(res.serial[0], 7);
		CHECK_INT_EQ(res.st[1], GB_FRAME_OK);
		CHECK_INT_EQ(res.serial[1], 8);
		CHECK_INT_EQ(r.garbage, sizeof g1 - 1 + sizeof g2 - 1);
	}

	/* "@@@" before a frame: the first '@' is garbage, the frame is found. */
	uint8_t b2[64];
	b2[0] = '@';
	size_t m = 1 + mk(b2 + 1, sizeof b2 - 1, 5, GB_CMD_SEND, NULL, 0);
	struct gb_reader r;
	struct results res = {0};
	gb_reader_init(&r);
	run(&r, b2, m, 0, &res);
	CHECK(res.n >= 1);
	CHECK_INT_EQ(res.st[res.n - 1], GB_FRAME_OK);
	CHECK_INT_EQ(res.serial[res.n - 1], 5);
	CHECK_INT_EQ(r.frames, 1);
}

static void test_bad_checksum(void)
{
	uint8_t buf[128];
	size_t n = mk(buf, sizeof buf, 21, GB_CMD_SEND, V_POWER + 27, 9);
	buf[n - 3] ^= 0x01; /* the checksum */
	size_t n2 = n + mk(buf + n, sizeof buf - n, 22, GB_CMD_SEND, NULL, 0);
	struct gb_reader r;
	struct gb_frame f;
	gb_reader_init(&r);
	CHECK_INT_EQ(gb_reader_feed(&r, buf, n2), n2);
	CHECK_INT_EQ(gb_reader_next(&r, &f), GB_BAD_CHECKSUM);
	/* The header is there for the NAK. */
	CHECK_INT_EQ(f.serial, 21);
	CHECK(memcmp(f.src, UITD, GB_ADDR_LEN) == 0);
	CHECK(memcmp(f.dst, CENTRE, GB_ADDR_LEN) == 0);
	CHECK_INT_EQ(f.len, 0);
	CHECK_INT_EQ(gb_reader_next(&r, &f), GB_FRAME_OK);
	CHECK_INT_EQ(f.serial, 22);
	CHECK_INT_EQ(gb_reader_next(&r, &f), GB_NEED_MORE);
	CHECK_INT_EQ(r.bad, 1);
	CHECK_INT_EQ(r.frames, 1);

	/* A flipped data byte is a checksum failure too. */
	n = mk(buf, sizeof buf, 23, GB_CMD_SEND, V_POWER + 27, 9);
	buf[30] ^= 0x80;
	gb_reader_init(&r);
	gb_reader_feed(&r, buf, n);
	CHECK_INT_EQ(gb_reader_next(&r, &f), GB_BAD_CHECKSUM);
	CHECK_INT_EQ(r.len, 0);
}

static void test_bad_end(void)
{
	uint8_t buf[128];
	size_t n = mk(buf, sizeof buf, 31, GB_CMD_SEND, NULL, 0);
	buf[n - 1] = '$';
	size_t n2 = n + mk(buf + n, sizeof buf - n, 32, GB_CMD_SEND, NULL, 0);
	struct gb_reader r;
	struct results res = {0};
	gb_reader_init(&r);
	run(&r, buf, n2, 0, &res);
	CHECK_INT_EQ(res.n, 2);
	CHECK_INT_EQ(res.st[0], GB_BAD_END);
	CHECK_INT_EQ(res.serial[0], 31);
	CHECK_INT_EQ(res.st[1], GB_FRAME_OK);
	CHECK_INT_EQ(res.serial[1], 32);
}

static void test_oversize(void)
{
	/* A header claiming 1025 bytes is refused as soon as the header is in, without waiting. */
	uint8_t buf[128];
	size_t n = mk(buf, sizeof buf, 41, GB_CMD_SEND, NULL, 0);
	buf[24] = 0x01;
	buf[25] = 0x04; /* 1025 */
	struct gb_reader r;
	struct gb_frame f;
	gb_reader_init(&r);
	CHECK_INT_EQ(gb_reader_feed(&r, buf, GB_HEADER_LEN - 1), GB_HEADER_LEN - 1);
	CHECK_INT_EQ(gb_reader_next(&r, &f), GB_NEED_MORE);
	CHECK_INT_EQ(gb_reader_feed(&r, buf + GB_HEADER_LEN - 1, 1), 1);
	CHECK_INT_EQ(gb_reader_next(&r, &f), GB_BAD_LENGTH);
	CHECK_INT_EQ(f.serial, 41);
	/* 0xFFFF too, and the good frame after it is found. */
	buf[24] = 0xff;
	buf[25] = 0xff;
	size_t n2 = n + mk(buf + n, sizeof buf - n, 42, GB_CMD_SEND, NULL, 0);
	struct results res = {0};
	gb_reader_init(&r);
	run(&r, buf, n2, 3, &res);
	CHECK(res.n >= 2);
	CHECK_INT_EQ(res.st[0], GB_BAD_LENGTH);
	CHECK_INT_EQ(res.st[res.n - 1], GB_FRAME_OK);
	CHECK_INT_EQ(res.serial[res.n - 1], 42);
	CHECK_INT_EQ(r.frames, 1);
}

static void test_truncated(void)
{
	/* Half a frame, then whole ones: the half frame's length (read from the next frame's
	 * bytes) swallows them until enough bytes are in, its end is wrong, and the reader
	 * resyncs one byte on, finding every whole frame still in its buffer. */
	uint8_t buf[512];
	size_t n = mk(buf, sizeof buf, 51, GB_CMD_SEND, V_POWER + 27, 9);
	size_t half = 20;
	n = half;
	for (uint16_t s = 52; s < 62; s++)
		n += mk(buf + n, sizeof buf - n, s, GB_CMD_SEND, NULL, 0);
	/* The false header's length: bytes 24-25 are the next frame's version 01 01 = 257. */
	CHECK_INT_EQ(buf[24] | buf[25] << 8, 257);
	CHECK(n >= GB_OVERHEAD + 257);
	for (size_t step = 0; step <= 5; step++) {
		struct gb_reader r;
		struct results res = {0};
		gb_reader_init(&r);
		run(&r, buf, n, step, &res);
		CHECK_INT_EQ(res.n, 11);
		CHECK_INT_EQ(res.st[0], GB_BAD_END);
		CHECK_INT_EQ(res.serial[0], 51);
		for (size_t i = 1; i < res.n && i < 11; i++) {
			CHECK_INT_EQ(res.st[i], GB_FRAME_OK);
			CHECK_INT_EQ(res.serial[i], 51 + i);
		}
		CHECK_INT_EQ(r.frames, 10);
	}

	/* A truncated frame alone stays pending until the rest comes. */
	struct gb_reader r;
	struct gb_frame f;
	gb_reader_init(&r);
	CHECK(!gb_reader_pending(&r));
	gb_reader_feed(&r, V_POWER, sizeof V_POWER - 1);
	CHECK_INT_EQ(gb_reader_next(&r, &f), GB_NEED_MORE);
	CHECK(gb_reader_pending(&r));
	CHECK_INT_EQ(r.len, sizeof V_POWER - 1);
	gb_reader_feed(&r, V_POWER + sizeof V_POWER - 1, 1);
	CHECK_INT_EQ(gb_reader_next(&r, &f), GB_FRAME_OK);
	CHECK(!gb_reader_pending(&r));
}

static void test_expire(void)
{
	/* The listener's way out when the rest never comes: a half frame then one whole frame
	 * (too few bytes to prove the half one bad) -> expire -> the whole frame comes out. */
	uint8_t buf[128];
	size_t half = 20;
	mk(buf, sizeof buf, 81, GB_CMD_SEND, NULL, 0);
	size_t n = half + mk(buf + half, sizeof buf - half, 82, GB_CMD_SEND, NULL, 0);
	struct gb_reader r;
	struct gb_frame f;
	gb_reader_init(&r);
	CHECK_INT_EQ(gb_reader_feed(&r, buf, n), n);
	CHECK_INT_EQ(gb_reader_next(&r, &f), GB_NEED_MORE);
	CHECK_INT_EQ(gb_reader_expire(&r, &f), GB_BAD_TRUNCATED);
	CHECK_INT_EQ(f.serial, 81);
	CHECK_INT_EQ(gb_reader_next(&r, &f), GB_FRAME_OK);
	CHECK_INT_EQ(f.serial, 82);
	CHECK_INT_EQ(gb_reader_expire(&r, &f), GB_NEED_MORE);
	/* Fewer than a header's bytes: expired without a header. */
	gb_reader_init(&r);
	gb_reader_feed(&r, V_ACK, 10);
	CHECK_INT_EQ(gb_reader_next(&r, &f), GB_NEED_MORE);
	CHECK_INT_EQ(gb_reader_expire(&r, &f), GB_BAD_TRUNCATED);
	CHECK_INT_EQ(f.serial, 0);
	CHECK_INT_EQ(gb_reader_next(&r, &f), GB_NEED_MORE);
	CHECK_INT_EQ(r.len, 0);
	CHECK_STR_EQ(gb_status_name(GB_BAD_TRUNCATED), "truncated");
}

static void test_commands(void)
{
	uint8_t buf[64];
	struct gb_reader r;
	struct gb_frame f;
	static const uint8_t cmds[] = {0, 7, 100, 127};
	for (size_t i = 0; i < sizeof cmds; i++) {
		size_t n = mk(buf, sizeof buf, 60, cmds[i], NULL, 0);
		gb_reader_init(&r);
		gb_reader_feed(&r, buf, n);
		CHECK_INT_EQ(gb_reader_next(&r, &f), GB_BAD_COMMAND);
		CHECK_INT_EQ(f.cmd, cmds[i]);
		CHECK_INT_EQ(r.len, 0);
	}
	static const uint8_t ok[] = {1, 2, 3, 4, 5, 6, 128, 200, 255};
	for (size_t i = 0; i < sizeof ok; i++) {
		size_t n = mk(buf, sizeof buf, 61, ok[i], NULL, 0);
		gb_reader_init(&r);
		gb_reader_feed(&r, buf, n);
		CHECK_INT_EQ(gb_reader_next(&r, &f), GB_FRAME_OK);
		CHECK_INT_EQ(f.cmd, ok[i]);
	}
	/* Any protocol version is accepted. */
	static const uint8_t versions[][2] = {{1, 1}, {0x10, 0}, {0, 1}, {0xff, 0xff}};
	for (size_t i = 0; i < 4; i++) {
		size_t n = mk(buf, sizeof buf, 62, GB_CMD_SEND, NULL, 0);
		buf[4] = versions[i][0];
		buf[5] = versions[i][1];
		buf[27] = gb_checksum(buf + 2, 25);
		gb_reader_init(&r);
		gb_reader_feed(&r, buf, n);
		CHECK_INT_EQ(gb_reader_next(&r, &f), GB_FRAME_OK);
		CHECK_INT_EQ(f.version[0], versions[i][0]);
	}
	CHECK_STR_EQ(gb_status_name(GB_BAD_CHECKSUM), "bad_checksum");
	CHECK_STR_EQ(gb_status_name(GB_FRAME_OK), "ok");
}

static void test_feed_bounded(void)
{
	/* 5,000 bytes of noise without '@': feed never takes more than the buffer holds, next
	 * drains it, nothing comes out. */
	uint8_t noise[5000];
	for (size_t i = 0; i < sizeof noise; i++)
		noise[i] = (uint8_t)('A' + i % 26);
	struct gb_reader r;
	struct gb_frame f;
	gb_reader_init(&r);
	size_t off = 0, rounds = 0;
	while (off < sizeof noise) {
		size_t took = gb_reader_feed(&r, noise + off, sizeof noise - off);
		CHECK(took <= GB_FRAME_MAX);
		CHECK(took > 0);
		off += took;
		CHECK_INT_EQ(gb_reader_next(&r, &f), GB_NEED_MORE);
		rounds++;
	}
	CHECK(rounds >= 5);
	CHECK_INT_EQ(r.garbage, sizeof noise);
	CHECK_INT_EQ(r.len, 0);
	/* A full buffer holding a complete largest frame: feed takes nothing until next runs. */
	static uint8_t big[GB_FRAME_MAX + 10];
	static uint8_t data[GB_DATA_MAX];
	size_t n = mk(big, sizeof big, 70, GB_CMD_SEND, data, GB_DATA_MAX);
	gb_reader_init(&r);
	CHECK_INT_EQ(gb_reader_feed(&r, big, n), n);
	CHECK_INT_EQ(gb_reader_feed(&r, V_ACK, sizeof V_ACK), 0);
	CHECK_INT_EQ(gb_reader_next(&r, &f), GB_FRAME_OK);
	CHECK_INT_EQ(gb_reader_feed(&r, V_ACK, sizeof V_ACK), sizeof V_ACK);
}

/* A unit of one type-2 object with the given GB 18030 description. */
static size_t comp_unit(uint8_t *u, uint16_t status, const char *desc, size_t desc_len)
{
	u[0] = GB_T_COMP_STATE;
	u[1] = 1;
	uint8_t *p = u + 2;
	p[0] = 1;  /* fire alarm system */
	p[1] = 2;  /* its address */
	p[2] = 42; /* photoelectric smoke detector */
	p[3] = 3;  /* zone 3 */
	p[4] = 0;
	p[5] = 0x2c; /* position 300 */
	p[6] = 0x01;
	p[7] = (uint8_t)(status & 0xff);
	p[8] = (uint8_t)(status >> 8);
	memset(p + 9, 0, GB_DESC_RAW);
	memcpy(p + 9, desc, desc_len > GB_DESC_RAW ? GB_DESC_RAW : desc_len);
	memcpy(p + 9 + GB_DESC_RAW, T_DEVICE, GB_TIME_LEN);
	return 2 + 46;
}

static void test_component_state(void)
{
	uint8_t u8[64];
	size_t n =
	    comp_unit(u8, GB_ST_NORMAL | GB_ST_FIRE, "\xc8\xfd\xc2\xa5\xd1\xcc\xb8\xd0", 8); /* 三楼烟感 */
	struct gb_unit u;
	struct gb_object o;
	CHECK_INT_EQ(n, 48);
	CHECK_INT_EQ(gb_unit_parse(u8, n, &u), CD_OK);
	CHECK_INT_EQ(u.obj_size, 46);
	CHECK_INT_EQ(gb_unit_object(&u, 0, &o), CD_OK);
	CHECK_INT_EQ(o.type, GB_T_COMP_STATE);
	CHECK_INT_EQ(o.u.comp.sys_type, 1);
	CHECK_INT_EQ(o.u.comp.sys_addr, 2);
	CHECK_INT_EQ(o.u.comp.comp_type, 42);
	CHECK_INT_EQ(o.u.comp.zone, 3);
	CHECK_INT_EQ(o.u.comp.position, 300);
	CHECK_INT_EQ(o.u.comp.status, GB_ST_NORMAL | GB_ST_FIRE);
	CHECK_STR_EQ(o.u.comp.desc, "三楼烟感");
	CHECK_INT_EQ(o.ts_ms, T_DEVICE_MS);

	/* Mixed ASCII, trailing spaces trimmed. */
	static const char mixed[] = "\xd1\xcc\xb8\xd0\xcc\xbd\xb2\xe2\xc6\xf7 3F-12   ";
	comp_unit(u8, GB_ST_FAULT, mixed, sizeof mixed - 1);
	CHECK_INT_EQ(gb_unit_parse(u8, n, &u), CD_OK);
	CHECK_INT_EQ(gb_unit_object(&u, 0, &o), CD_OK);
	CHECK_STR_EQ(o.u.comp.desc, "烟感探测器 3F-12");

	/* All 31 bytes used, no NUL: 15 characters and a half; the dangling lead byte is U+FFFD. */
	char full[GB_DESC_RAW];
	for (size_t i = 0; i + 1 < GB_DESC_RAW; i += 2) {
		full[i] = (char)0xd2;
		full[i + 1] = (char)0xbb; /* 一 */
	}
	full[30] = (char)0xd2;
	comp_unit(u8, GB_ST_NORMAL, full, GB_DESC_RAW);
	CHECK_INT_EQ(gb_unit_parse(u8, n, &u), CD_OK);
	CHECK_INT_EQ(gb_unit_object(&u, 0, &o), CD_OK);
	CHECK_STR_EQ(o.u.comp.desc, "一一一一一一一一一一一一一一一\xef\xbf\xbd");

	/* An impossible time tag gives ts 0, not a wrong time. */
	comp_unit(u8, GB_ST_FIRE, "A", 1);
	u8[2 + 9 + GB_DESC_RAW + 4] = 13; /* month 13 */
	CHECK_INT_EQ(gb_unit_parse(u8, n, &u), CD_OK);
	CHECK_INT_EQ(gb_unit_object(&u, 0, &o), CD_OK);
	CHECK_INT_EQ(o.ts_ms, 0);
	CHECK_STR_EQ(o.u.comp.desc, "A");
}

static void test_gb18030(void)
{
	char out[GB_DESC_MAX];
	/* A four-byte sequence (U+20000). */
	gb_gb18030_to_utf8((const uint8_t *)"\x95\x32\x82\x36", 4, out, sizeof out);
	CHECK_STR_EQ(out, "\xf0\xa0\x80\x80");
	/* 0xFF is never valid: U+FFFD, then the rest converts. */
	gb_gb18030_to_utf8((const uint8_t *)"a\xff"
					    "b",
			   3, out, sizeof out);
	CHECK_STR_EQ(out, "a\xef\xbf\xbd"
			  "b");
	/* Stops at NUL. */
	gb_gb18030_to_utf8((const uint8_t *)"ab\0cd", 5, out, sizeof out);
	CHECK_STR_EQ(out, "ab");
	/* Empty and all-space. */
	gb_gb18030_to_utf8((const uint8_t *)"   ", 3, out, sizeof out);
	CHECK_STR_EQ(out, "");
	gb_gb18030_to_utf8((const uint8_t *)"", 0, out, sizeof out);
	CHECK_STR_EQ(out, "");
	/* 31 invalid bytes fit (31 x 3 bytes < 128). */
	uint8_t bad[GB_DESC_RAW];
	memset(bad, 0xff, sizeof bad);
	gb_gb18030_to_utf8(bad, sizeof bad, out, sizeof out);
	CHECK_INT_EQ(strlen(out), 93);
	/* A small output is truncated on a character boundary and stays terminated. */
	char small[8];
	gb_gb18030_to_utf8((const uint8_t *)"\xc8\xfd\xc2\xa5\xd1\xcc\xb8\xd0", 8, small, sizeof small);
	CHECK_STR_EQ(small, "三楼");
	char tiny[1];
	gb_gb18030_to_utf8((const uint8_t *)"abc", 3, tiny, sizeof tiny);
	CHECK_STR_EQ(tiny, "");
}

static void test_analog(void)
{
	uint8_t u8[2 + 3 * 16];
	u8[0] = GB_T_ANALOG;
	u8[1] = 3;
	static const uint8_t kinds[3] = {3, 4, 6};
	static const int16_t raws[3] = {253, 3, -50};
	for (size_t i = 0; i < 3; i++) {
		uint8_t *p = u8 + 2 + i * 16;
		p[0] = 11; /* hydrant system */
		p[1] = 1;
		p[2] = 99; /* pressure switch */
		p[3] = (uint8_t)i;
		p[4] = 0;
		p[5] = 7;
		p[6] = 0;
		p[7] = kinds[i];
		p[8] = (uint8_t)((uint16_t)raws[i] & 0xff);
		p[9] = (uint8_t)((uint16_t)raws[i] >> 8);
		memcpy(p + 10, T_DEVICE, GB_TIME_LEN);
	}
	struct gb_unit u;
	struct gb_object o;
	CHECK_INT_EQ(gb_unit_parse(u8, sizeof u8, &u), CD_OK);
	CHECK_INT_EQ(u.count, 3);
	CHECK_INT_EQ(gb_unit_object(&u, 0, &o), CD_OK);
	CHECK_STR_EQ(o.u.analog.metric, "temperature_c");
	CHECK_NEAR(o.u.analog.value, 25.3, 1e-9);
	CHECK_INT_EQ(o.u.analog.sys_type, 11);
	CHECK_INT_EQ(o.u.analog.comp_type, 99);
	CHECK_INT_EQ(o.u.analog.zone, 0);
	CHECK_INT_EQ(o.u.analog.position, 7);
	CHECK_INT_EQ(o.ts_ms, T_DEVICE_MS);
	CHECK_INT_EQ(gb_unit_object(&u, 1, &o), CD_OK);
	CHECK_STR_EQ(o.u.analog.metric, "pressure_mpa");
	CHECK_NEAR(o.u.analog.value, 0.3, 1e-9);
	CHECK_INT_EQ(o.u.analog.zone, 1);
	CHECK_INT_EQ(gb_unit_object(&u, 2, &o), CD_OK);
	CHECK_STR_EQ(o.u.analog.metric, "gas_lel");
	CHECK_INT_EQ(o.u.analog.raw, -50);
	CHECK_NEAR(o.u.analog.value, -5.0, 1e-9);
	CHECK_INT_EQ(gb_unit_object(&u, 3, &o), CD_ERR_RANGE);

	const char *metric = NULL;
	double scale = 0;
	CHECK(gb_analog_metric(8, &metric, &scale));
	CHECK_STR_EQ(metric, "voltage_v");
	CHECK_NEAR(scale, 0.1, 1e-12);
	CHECK(!gb_analog_metric(200, &metric, &scale));
	CHECK_STR_EQ(metric, "analog");
	CHECK_NEAR(scale, 1, 0);
}

static void test_unit_shapes(void)
{
	struct gb_unit u;
	uint8_t d[64] = {0};
	/* Too short. */
	CHECK_INT_EQ(gb_unit_parse(d, 0, &u), CD_ERR_INVALID);
	CHECK_INT_EQ(gb_unit_parse(d, 1, &u), CD_ERR_INVALID);
	/* Known type, wrong length: one byte short, one byte long, count lies. */
	d[0] = GB_T_UITD_STATE;
	d[1] = 1;
	CHECK_INT_EQ(gb_unit_parse(d, 2 + 7, &u), CD_OK);
	CHECK_INT_EQ(gb_unit_parse(d, 2 + 6, &u), CD_ERR_INVALID);
	CHECK_INT_EQ(gb_unit_parse(d, 2 + 8, &u), CD_ERR_INVALID);
	d[1] = 2;
	CHECK_INT_EQ(gb_unit_parse(d, 2 + 7, &u), CD_ERR_INVALID);
	d[1] = 255; /* a count claiming far more than is there */
	CHECK_INT_EQ(gb_unit_parse(d, 2 + 7, &u), CD_ERR_INVALID);
	/* Count 0 is an empty, valid unit. */
	d[1] = 0;
	CHECK_INT_EQ(gb_unit_parse(d, 2, &u), CD_OK);
	CHECK_INT_EQ(u.count, 0);
	struct gb_object o;
	CHECK_INT_EQ(gb_unit_object(&u, 0, &o), CD_ERR_RANGE);
	/* Types not decoded: NOTFOUND with type and count. */
	d[0] = 5;
	d[1] = 1;
	CHECK_INT_EQ(gb_unit_parse(d, 10, &u), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(u.type, 5);
	CHECK_INT_EQ(u.count, 1);
	CHECK_INT_EQ(u.obj_size, 0);
	CHECK_INT_EQ(gb_unit_object(&u, 0, &o), CD_ERR_RANGE);

	/* System state (1), operation records (4, 24), times (8, 28). */
	uint8_t s[2 + 10] = {GB_T_SYS_STATE, 1, 1, 5, 0x03, 0x01};
	memcpy(s + 6, T_DEVICE, GB_TIME_LEN);
	CHECK_INT_EQ(gb_unit_parse(s, sizeof s, &u), CD_OK);
	CHECK_INT_EQ(gb_unit_object(&u, 0, &o), CD_OK);
	CHECK_INT_EQ(o.u.sys.sys_type, 1);
	CHECK_INT_EQ(o.u.sys.sys_addr, 5);
	CHECK_INT_EQ(o.u.sys.status, GB_ST_NORMAL | GB_ST_FIRE | GB_ST_MAIN_POWER);
	CHECK_INT_EQ(o.ts_ms, T_DEVICE_MS);

	uint8_t op[2 + 8] = {GB_T_UITD_OPERATION, 1, 0x04, 9};
	memcpy(op + 4, T_DEVICE, GB_TIME_LEN);
	CHECK_INT_EQ(gb_unit_parse(op, sizeof op, &u), CD_OK);
	CHECK_INT_EQ(gb_unit_object(&u, 0, &o), CD_OK);
	CHECK_INT_EQ(o.u.op.flags, 4);
	CHECK_INT_EQ(o.u.op.operator_id, 9);
	CHECK_INT_EQ(o.ts_ms, T_DEVICE_MS);

	uint8_t sop[2 + 10] = {GB_T_SYS_OPERATION, 1, 1, 2, 0x10, 3};
	memcpy(sop + 6, T_DEVICE, GB_TIME_LEN);
	CHECK_INT_EQ(gb_unit_parse(sop, sizeof sop, &u), CD_OK);
	CHECK_INT_EQ(gb_unit_object(&u, 0, &o), CD_OK);
	CHECK_INT_EQ(o.u.op.sys_addr, 2);
	CHECK_INT_EQ(o.u.op.flags, 0x10);

	uint8_t t28[2 + 6] = {GB_T_UITD_TIME, 1};
	memcpy(t28 + 2, T_DEVICE, GB_TIME_LEN);
	CHECK_INT_EQ(gb_unit_parse(t28, sizeof t28, &u), CD_OK);
	CHECK_INT_EQ(gb_unit_object(&u, 0, &o), CD_OK);
	CHECK_INT_EQ(o.ts_ms, T_DEVICE_MS);

	uint8_t t8[2 + 8] = {GB_T_SYS_TIME, 1, 1, 4};
	memcpy(t8 + 4, T_DEVICE, GB_TIME_LEN);
	CHECK_INT_EQ(gb_unit_parse(t8, sizeof t8, &u), CD_OK);
	CHECK_INT_EQ(gb_unit_object(&u, 0, &o), CD_OK);
	CHECK_INT_EQ(o.u.time.sys_addr, 4);
	CHECK(memcmp(o.u.time.clock, T_DEVICE, GB_TIME_LEN) == 0);
	CHECK_INT_EQ(o.ts_ms, T_DEVICE_MS);

	/* Several UITD states in one unit. */
	uint8_t us[2 + 2 * 7] = {GB_T_UITD_STATE, 2, GB_UITD_FIRE};
	memcpy(us + 3, T_DEVICE, GB_TIME_LEN);
	us[9] = GB_UITD_NORMAL;
	memcpy(us + 10, T_DEVICE, GB_TIME_LEN);
	CHECK_INT_EQ(gb_unit_parse(us, sizeof us, &u), CD_OK);
	CHECK_INT_EQ(gb_unit_object(&u, 1, &o), CD_OK);
	CHECK_INT_EQ(o.u.uitd.status, GB_UITD_NORMAL);
}

static void test_time(void)
{
	int64_t ms = 0;
	CHECK(gb_time_to_ms(T_DEVICE, &ms));
	CHECK_INT_EQ(ms, T_DEVICE_MS);
	uint8_t t[GB_TIME_LEN];
	gb_time_from_ms(T_DEVICE_MS + 999, t);
	CHECK(memcmp(t, T_DEVICE, GB_TIME_LEN) == 0);
	/* Midnight Beijing is 16:00 UTC the day before. */
	static const uint8_t midnight[GB_TIME_LEN] = {0, 0, 0, 1, 1, 26};
	CHECK(gb_time_to_ms(midnight, &ms));
	CHECK_INT_EQ(ms, 1767196800000LL);
	/* Leap days. */
	static const uint8_t leap[GB_TIME_LEN] = {0, 0, 0, 29, 2, 12};
	static const uint8_t noleap[GB_TIME_LEN] = {0, 0, 0, 29, 2, 13};
	static const uint8_t y2000[GB_TIME_LEN] = {0, 0, 0, 29, 2, 0};
	CHECK(gb_time_to_ms(leap, &ms));
	CHECK(!gb_time_to_ms(noleap, &ms));
	CHECK(gb_time_to_ms(y2000, &ms));
	/* Out of range fields. */
	static const uint8_t bad[][GB_TIME_LEN] = {
	    {60, 0, 0, 1, 1, 20}, {0, 60, 0, 1, 1, 20},
	    {0, 0, 24, 1, 1, 20}, {0, 0, 0, 0, 1, 20},
	    {0, 0, 0, 32, 1, 20}, {0, 0, 0, 31, 4, 20},
	    {0, 0, 0, 1, 0, 20},  {0, 0, 0, 1, 13, 20},
	    {0, 0, 0, 1, 1, 100}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(!gb_time_to_ms(bad[i], &ms));
	/* Round trips over the century, and clamping outside it. */
	for (int64_t s = 946656000LL; s < 4102444800LL - 28800; s += 86400LL * 37 + 3607) {
		gb_time_from_ms(s * 1000, t);
		CHECK(gb_time_to_ms(t, &ms));
		CHECK_INT_EQ(ms, s * 1000);
	}
	gb_time_from_ms(0, t);
	static const uint8_t first[GB_TIME_LEN] = {0, 0, 0, 1, 1, 0};
	CHECK(memcmp(t, first, GB_TIME_LEN) == 0);
	gb_time_from_ms(INT64_MAX / 2, t);
	static const uint8_t last[GB_TIME_LEN] = {59, 59, 23, 31, 12, 99};
	CHECK(memcmp(t, last, GB_TIME_LEN) == 0);
	gb_time_from_ms(-5000, t);
	CHECK(memcmp(t, first, GB_TIME_LEN) == 0);
}

static void test_addr(void)
{
	char hex[GB_ADDR_HEX];
	gb_addr_hex(UITD, hex);
	CHECK_STR_EQ(hex, "790300000000");
	gb_addr_hex(CENTRE, hex);
	CHECK_STR_EQ(hex, "385b01000000");
	uint8_t a[GB_ADDR_LEN];
	CHECK(gb_addr_parse("385B01000000", a));
	CHECK(memcmp(a, CENTRE, GB_ADDR_LEN) == 0);
	CHECK(gb_addr_parse("abcdefABCDEF", a));
	CHECK_INT_EQ(a[0], 0xab);
	CHECK_INT_EQ(a[5], 0xef);
	CHECK(!gb_addr_parse("79030000000", a));   /* 11 */
	CHECK(!gb_addr_parse("7903000000000", a)); /* 13 */
	CHECK(!gb_addr_parse("79030000000g", a));
	CHECK(!gb_addr_parse("", a));
	CHECK(!gb_addr_parse(NULL, a));
	CHECK(!gb_addr_parse(" 90300000000", a));
}

/* xorshift64*: deterministic pseudo-random bytes. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static void test_random_robustness(void)
{
	/* Pure noise (biased towards the bytes that matter) in random splits: the reader never
	 * grows, never reads out of bounds (ASan), and every byte is accounted for. */
	static uint8_t noise[1 << 18];
	static const uint8_t hot[] = {'@', '#', 0x00, 0x04, 0xff};
	for (size_t i = 0; i < sizeof noise; i++) {
		uint64_t x = rng();
		noise[i] = (x & 3) == 0 ? hot[(x >> 8) % sizeof hot] : (uint8_t)(x >> 16);
	}
	struct gb_reader r;
	struct gb_frame f;
	gb_reader_init(&r);
	size_t off = 0;
	uint64_t results = 0;
	while (off < sizeof noise) {
		size_t want = 1 + (size_t)(rng() % 2000);
		if (want > sizeof noise - off)
			want = sizeof noise - off;
		off += gb_reader_feed(&r, noise + off, want);
		enum gb_status st;
		while ((st = gb_reader_next(&r, &f)) != GB_NEED_MORE) {
			CHECK(f.len <= GB_DATA_MAX);
			results++;
		}
		CHECK(r.len <= GB_FRAME_MAX);
	}
	CHECK_INT_EQ(results, r.frames + r.bad);

	/* Good frames hidden in noise without '@' (so no false start) are all found, in order,
	 * whatever the split. */
	static uint8_t stream[1 << 16];
	size_t n = 0;
	uint16_t serial = 0, expected = 0;
	while (n + GB_FRAME_MAX + 64 < sizeof stream) {
		size_t junk = (size_t)(rng() % 40);
		for (size_t i = 0; i < junk; i++) {
			uint8_t b = (uint8_t)rng();
			stream[n++] = b == '@' ? 'A' : b;
		}
		uint8_t data[200];
		size_t dl = (size_t)(rng() % sizeof data);
		for (size_t i = 0; i < dl; i++)
			data[i] = (uint8_t)rng(); /* data may hold "@@" and "##": lengths decide */
		n += mk(stream + n, sizeof stream - n, serial++, GB_CMD_SEND, data, dl);
	}
	gb_reader_init(&r);
	off = 0;
	while (off < n) {
		size_t want = 1 + (size_t)(rng() % 97);
		if (want > n - off)
			want = n - off;
		off += gb_reader_feed(&r, stream + off, want);
		enum gb_status st;
		while ((st = gb_reader_next(&r, &f)) != GB_NEED_MORE) {
			CHECK_INT_EQ(st, GB_FRAME_OK);
			CHECK_INT_EQ(f.serial, expected);
			expected++;
		}
	}
	CHECK_INT_EQ(expected, serial);
	CHECK_INT_EQ(r.bad, 0);

	/* Random data units never break the decoders. */
	for (int round = 0; round < 20000; round++) {
		uint8_t d[128];
		size_t len = (size_t)(rng() % sizeof d);
		for (size_t i = 0; i < len; i++)
			d[i] = (uint8_t)rng();
		if (len >= 2 && (round & 1)) {
			static const uint8_t types[] = {1, 2, 3, 4, 8, 21, 24, 28, 90, 91};
			d[0] = types[rng() % sizeof types];
			d[1] = (uint8_t)(rng() % 4);
		}
		struct gb_unit u;
		if (gb_unit_parse(d, len, &u) != CD_OK)
			continue;
		for (size_t i = 0; i < u.count; i++) {
			struct gb_object o;
			CHECK_INT_EQ(gb_unit_object(&u, i, &o), CD_OK);
			if (o.type == GB_T_COMP_STATE)
				CHECK(strlen(o.u.comp.desc) < GB_DESC_MAX);
		}
	}
}

static const struct test_case tests[] = {
    {"vectors_decode", test_vectors_decode},
    {"vectors_encode", test_vectors_encode},
    {"encode_limits", test_encode_limits},
    {"split_every_way", test_split_every_way},
    {"garbage_between", test_garbage_between},
    {"bad_checksum", test_bad_checksum},
    {"bad_end", test_bad_end},
    {"oversize", test_oversize},
    {"truncated", test_truncated},
    {"expire", test_expire},
    {"commands", test_commands},
    {"feed_bounded", test_feed_bounded},
    {"component_state", test_component_state},
    {"gb18030", test_gb18030},
    {"analog", test_analog},
    {"unit_shapes", test_unit_shapes},
    {"time", test_time},
    {"addr", test_addr},
    {"random_robustness", test_random_robustness},
};

TEST_MAIN(tests)
