/* The GB/T 26875.3-2011 codec: a streaming frame reader that never trusts a length it has not
 * checked, the frame encoder and its ACK/NAK/control builders, and decoders for the data
 * units the centre acts on. Pure: no sockets, no clocks, no globals. */
#include "net/gb26875.h"
#include "util/clock.h"
#include "util/hex.h"

#include <errno.h>
#include <iconv.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v & 0xff);
	p[1] = (uint8_t)(v >> 8);
}

/* ---- Frames ---- */

void gb_reader_init(struct gb_reader *r)
{
	memset(r, 0, sizeof *r);
}

size_t gb_reader_feed(struct gb_reader *r, const uint8_t *in, size_t n)
{
	size_t room = sizeof r->buf - r->len;
	size_t take = n < room ? n : room;
	if (take) {
		memcpy(r->buf + r->len, in, take);
		r->len += take;
	}
	return take;
}

static void reader_drop(struct gb_reader *r, size_t n)
{
	if (n >= r->len) {
		r->len = 0;
		return;
	}
	memmove(r->buf, r->buf + n, r->len - n);
	r->len -= n;
}

/* Drops bytes up to the first "@@" (or a lone '@' at the very end, which may be half of one). */
static void reader_resync(struct gb_reader *r)
{
	size_t i = 0;
	while (i < r->len) {
		if (r->buf[i] == '@' && (i + 1 == r->len || r->buf[i + 1] == '@'))
			break;
		i++;
	}
	if (i) {
		r->garbage += i;
		reader_drop(r, i);
	}
}

static void header_decode(const uint8_t *b, struct gb_frame *out)
{
	out->serial = le16(b + 2);
	memcpy(out->version, b + 4, 2);
	memcpy(out->time, b + 6, GB_TIME_LEN);
	memcpy(out->src, b + 12, GB_ADDR_LEN);
	memcpy(out->dst, b + 18, GB_ADDR_LEN);
	out->cmd = b[26];
	out->len = 0;
}

static bool cmd_known(uint8_t cmd)
{
	return (cmd >= GB_CMD_CONTROL && cmd <= GB_CMD_NAK) || cmd >= 128;
}

enum gb_status gb_reader_next(struct gb_reader *r, struct gb_frame *out)
{
	reader_resync(r);
	if (r->len < GB_HEADER_LEN)
		return GB_NEED_MORE;
	const uint8_t *b = r->buf;
	header_decode(b, out);
	size_t n = le16(b + 24);
	if (n > GB_DATA_MAX) {
		/* Drop one byte only: a real "@@" may start at the next byte ("@@@..."). */
		reader_drop(r, 1);
		r->bad++;
		return GB_BAD_LENGTH;
	}
	if (r->len < GB_OVERHEAD + n)
		return GB_NEED_MORE;
	if (b[28 + n] != '#' || b[29 + n] != '#') {
		reader_drop(r, 1);
		r->bad++;
		return GB_BAD_END;
	}
	if (gb_checksum(b + 2, 25 + n) != b[27 + n]) {
		reader_drop(r, GB_OVERHEAD + n);
		r->bad++;
		return GB_BAD_CHECKSUM;
	}
	if (!cmd_known(out->cmd)) {
		reader_drop(r, GB_OVERHEAD + n);
		r->bad++;
		return GB_BAD_COMMAND;
	}
	memcpy(out->data, b + GB_HEADER_LEN, n);
	out->len = (uint16_t)n;
	reader_drop(r, GB_OVERHEAD + n);
	r->frames++;
	return GB_FRAME_OK;
}

bool gb_reader_pending(const struct gb_reader *r)
{
	return r->len > 0;
}

enum gb_status gb_reader_expire(struct gb_reader *r, struct gb_frame *out)
{
	reader_resync(r);
	if (!r->len)
		return GB_NEED_MORE;
	if (r->len >= GB_HEADER_LEN)
		header_decode(r->buf, out);
	else
		memset(out, 0, offsetof(struct gb_frame, data));
	reader_drop(r, 1);
	r->bad++;
	return GB_BAD_TRUNCATED;
}

const char *gb_status_name(enum gb_status st)
{
	switch (st) {
	case GB_NEED_MORE:
		return "need_more";
	case GB_FRAME_OK:
		return "ok";
	case GB_BAD_CHECKSUM:
		return "bad_checksum";
	case GB_BAD_END:
		return "bad_end";
	case GB_BAD_LENGTH:
		return "bad_length";
	case GB_BAD_COMMAND:
		return "bad_command";
	case GB_BAD_TRUNCATED:
		return "truncated";
	}
	return "unknown";
}

uint8_t gb_checksum(const uint8_t *p, size_t n)
{
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += p[i];
	return (uint8_t)(sum & 0xff);
}

enum cd_err gb_frame_encode(const struct gb_frame *f, uint8_t *out, size_t cap, size_t *n)
{
	if (f->len > GB_DATA_MAX)
		return CD_ERR_RANGE;
	size_t total = GB_OVERHEAD + (size_t)f->len;
	if (cap < total)
		return CD_ERR_TOOBIG;
	out[0] = '@';
	out[1] = '@';
	put_le16(out + 2, f->serial);
	memcpy(out + 4, f->version, 2);
	memcpy(out + 6, f->time, GB_TIME_LEN);
	memcpy(out + 12, f->src, GB_ADDR_LEN);
	memcpy(out + 18, f->dst, GB_ADDR_LEN);
	put_le16(out + 24, f->len);
	out[26] = f->cmd;
	if (f->len)
		memcpy(out + GB_HEADER_LEN, f->data, f->len);
	out[27 + f->len] = gb_checksum(out + 2, 25 + (size_t)f->len);
	out[28 + f->len] = '#';
	out[29 + f->len] = '#';
	*n = total;
	return CD_OK;
}

static void frame_reply(const struct gb_frame *in, const uint8_t time[GB_TIME_LEN], uint8_t cmd,
			struct gb_frame *out)
{
	out->serial = in->serial;
	memcpy(out->version, in->version, 2);
	memcpy(out->time, time, GB_TIME_LEN);
	/* in and out may be the same frame: copy the addresses through a temporary. */
	uint8_t src[GB_ADDR_LEN];
	memcpy(src, in->src, GB_ADDR_LEN);
	memcpy(out->src, in->dst, GB_ADDR_LEN);
	memcpy(out->dst, src, GB_ADDR_LEN);
	out->cmd = cmd;
	out->len = 0;
}

void gb_frame_ack(const struct gb_frame *in, const uint8_t time[GB_TIME_LEN], struct gb_frame *out)
{
	frame_reply(in, time, GB_CMD_ACK, out);
}

void gb_frame_nak(const struct gb_frame *in, const uint8_t time[GB_TIME_LEN], struct gb_frame *out)
{
	frame_reply(in, time, GB_CMD_NAK, out);
}

static void frame_control(uint16_t serial, const uint8_t src[GB_ADDR_LEN], const uint8_t dst[GB_ADDR_LEN],
			  const uint8_t time[GB_TIME_LEN], struct gb_frame *out)
{
	out->serial = serial;
	out->version[0] = 1;
	out->version[1] = 1;
	memcpy(out->time, time, GB_TIME_LEN);
	memcpy(out->src, src, GB_ADDR_LEN);
	memcpy(out->dst, dst, GB_ADDR_LEN);
	out->cmd = GB_CMD_CONTROL;
}

void gb_frame_duty_check(uint16_t serial, const uint8_t src[GB_ADDR_LEN], const uint8_t dst[GB_ADDR_LEN],
			 const uint8_t time[GB_TIME_LEN], uint8_t minutes, struct gb_frame *out)
{
	frame_control(serial, src, dst, time, out);
	out->data[0] = GB_T_DUTY_CHECK;
	out->data[1] = 1;
	out->data[2] = minutes;
	out->len = 3;
}

void gb_frame_clock_sync(uint16_t serial, const uint8_t src[GB_ADDR_LEN], const uint8_t dst[GB_ADDR_LEN],
			 const uint8_t time[GB_TIME_LEN], const uint8_t set_to[GB_TIME_LEN],
			 struct gb_frame *out)
{
	frame_control(serial, src, dst, time, out);
	out->data[0] = GB_T_CLOCK_SYNC;
	out->data[1] = 1;
	memcpy(out->data + 2, set_to, GB_TIME_LEN);
	out->len = 2 + GB_TIME_LEN;
}

/* ---- Time and addresses ---- */

#define BEIJING_OFFSET_S (8 * 3600)

static unsigned days_in_month(unsigned year, unsigned month)
{
	static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
		return 29;
	return days[month - 1];
}

bool gb_time_to_ms(const uint8_t t[GB_TIME_LEN], int64_t *out_ms)
{
	unsigned sec = t[0], min = t[1], hour = t[2], day = t[3], month = t[4], year = 2000u + t[5];
	if (sec > 59 || min > 59 || hour > 23 || month < 1 || month > 12 || t[5] > 99 || day < 1 ||
	    day > days_in_month(year, month))
		return false;
	int64_t s = clock_days_from_civil(year, (int)month, (int)day) * 86400 + hour * 3600 + min * 60 + sec;
	*out_ms = (s - BEIJING_OFFSET_S) * 1000;
	return true;
}

void gb_time_from_ms(int64_t ms, uint8_t out[GB_TIME_LEN])
{
	int64_t s = (ms >= 0 ? ms / 1000 : (ms - 999) / 1000) + BEIJING_OFFSET_S;
	int64_t lo = clock_days_from_civil(2000, 1, 1) * 86400;
	int64_t hi = clock_days_from_civil(2100, 1, 1) * 86400 - 1;
	if (s < lo)
		s = lo;
	if (s > hi)
		s = hi;
	int64_t days = s / 86400, rest = s % 86400, y;
	int m, d;
	clock_civil_from_days(days, &y, &m, &d);
	out[0] = (uint8_t)(rest % 60);
	out[1] = (uint8_t)(rest / 60 % 60);
	out[2] = (uint8_t)(rest / 3600);
	out[3] = (uint8_t)d;
	out[4] = (uint8_t)m;
	out[5] = (uint8_t)(y - 2000);
}

void gb_addr_hex(const uint8_t a[GB_ADDR_LEN], char out[GB_ADDR_HEX])
{
	hex_encode(a, GB_ADDR_LEN, out);
}

bool gb_addr_parse(const char *hex, uint8_t out[GB_ADDR_LEN])
{
	if (!hex)
		return false;
	for (size_t i = 0; i < 2 * GB_ADDR_LEN; i++)
		if (hex_digit(hex[i]) < 0)
			return false; /* also stops at a NUL, so a short string never reads past it */
	if (hex[2 * GB_ADDR_LEN] != '\0')
		return false;
	for (size_t i = 0; i < GB_ADDR_LEN; i++)
		out[i] = (uint8_t)(hex_digit(hex[2 * i]) << 4 | hex_digit(hex[2 * i + 1]));
	return true;
}

/* ---- Data units ---- */

/* Bytes per object of each type this codec decodes (time tags included); 0 = not decoded. */
static size_t object_size(uint8_t type)
{
	switch (type) {
	case GB_T_SYS_STATE:
		return 1 + 1 + 2 + GB_TIME_LEN;
	case GB_T_COMP_STATE:
		return 1 + 1 + 1 + 4 + 2 + GB_DESC_RAW + GB_TIME_LEN;
	case GB_T_ANALOG:
		return 1 + 1 + 1 + 4 + 1 + 2 + GB_TIME_LEN;
	case GB_T_SYS_OPERATION:
		return 1 + 1 + 1 + 1 + GB_TIME_LEN;
	case GB_T_SYS_TIME:
		return 1 + 1 + GB_TIME_LEN;
	case GB_T_UITD_STATE:
		return 1 + GB_TIME_LEN;
	case GB_T_UITD_OPERATION:
		return 1 + 1 + GB_TIME_LEN;
	case GB_T_UITD_TIME:
		return GB_TIME_LEN;
	case GB_T_CLOCK_SYNC:
		return GB_TIME_LEN;
	case GB_T_DUTY_CHECK:
		return 1;
	default:
		return 0;
	}
}

enum cd_err gb_unit_parse(const uint8_t *data, size_t len, struct gb_unit *out)
{
	memset(out, 0, sizeof *out);
	if (len < 2)
		return CD_ERR_INVALID;
	out->type = data[0];
	out->count = data[1];
	out->data = data + 2;
	out->len = len - 2;
	size_t size = object_size(out->type);
	if (!size)
		return CD_ERR_NOTFOUND;
	if (out->len != (size_t)out->count * size)
		return CD_ERR_INVALID;
	out->obj_size = size;
	return CD_OK;
}

static int64_t time_tag(const uint8_t *t)
{
	int64_t ms;
	return gb_time_to_ms(t, &ms) ? ms : 0;
}

bool gb_analog_metric(uint8_t kind, const char **metric, double *scale)
{
	/* GB/T 26875.3 table of analog types: name and resolution of one step. */
	static const struct {
		uint8_t kind;
		const char *metric;
		double scale;
	} kinds[] = {
	    {1, "event_count", 1},    {2, "height_m", 0.01},	  {3, "temperature_c", 0.1},
	    {4, "pressure_mpa", 0.1}, {5, "pressure_kpa", 0.1},	  {6, "gas_lel", 0.1},
	    {7, "duration_s", 1},     {8, "voltage_v", 0.1},	  {9, "current_a", 0.1},
	    {10, "flow_lps", 0.1},    {11, "airflow_m3min", 0.1}, {12, "wind_mps", 1},
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		if (kinds[i].kind == kind) {
			*metric = kinds[i].metric;
			*scale = kinds[i].scale;
			return true;
		}
	}
	*metric = "analog";
	*scale = 1;
	return false;
}

enum cd_err gb_unit_object(const struct gb_unit *u, size_t i, struct gb_object *out)
{
	memset(out, 0, sizeof *out);
	if (!u->obj_size || i >= u->count || (i + 1) * u->obj_size > u->len)
		return CD_ERR_RANGE;
	const uint8_t *p = u->data + i * u->obj_size;
	out->type = u->type;
	switch (u->type) {
	case GB_T_SYS_STATE:
		out->u.sys.sys_type = p[0];
		out->u.sys.sys_addr = p[1];
		out->u.sys.status = le16(p + 2);
		out->ts_ms = time_tag(p + 4);
		break;
	case GB_T_COMP_STATE:
		out->u.comp.sys_type = p[0];
		out->u.comp.sys_addr = p[1];
		out->u.comp.comp_type = p[2];
		out->u.comp.zone = le16(p + 3);
		out->u.comp.position = le16(p + 5);
		out->u.comp.status = le16(p + 7);
		gb_gb18030_to_utf8(p + 9, GB_DESC_RAW, out->u.comp.desc, sizeof out->u.comp.desc);
		out->ts_ms = time_tag(p + 9 + GB_DESC_RAW);
		break;
	case GB_T_ANALOG: {
		out->u.analog.sys_type = p[0];
		out->u.analog.sys_addr = p[1];
		out->u.analog.comp_type = p[2];
		out->u.analog.zone = le16(p + 3);
		out->u.analog.position = le16(p + 5);
		out->u.analog.kind = p[7];
		out->u.analog.raw = (int16_t)le16(p + 8);
		double scale;
		gb_analog_metric(p[7], &out->u.analog.metric, &scale);
		out->u.analog.value = out->u.analog.raw * scale;
		out->ts_ms = time_tag(p + 10);
		break;
	}
	case GB_T_SYS_OPERATION:
		out->u.op.sys_type = p[0];
		out->u.op.sys_addr = p[1];
		out->u.op.flags = p[2];
		out->u.op.operator_id = p[3];
		out->ts_ms = time_tag(p + 4);
		break;
	case GB_T_UITD_OPERATION:
		out->u.op.flags = p[0];
		out->u.op.operator_id = p[1];
		out->ts_ms = time_tag(p + 2);
		break;
	case GB_T_SYS_TIME:
		out->u.time.sys_type = p[0];
		out->u.time.sys_addr = p[1];
		memcpy(out->u.time.clock, p + 2, GB_TIME_LEN);
		out->ts_ms = time_tag(p + 2);
		break;
	case GB_T_UITD_STATE:
		out->u.uitd.status = p[0];
		out->ts_ms = time_tag(p + 1);
		break;
	case GB_T_UITD_TIME:
	case GB_T_CLOCK_SYNC:
		memcpy(out->u.time.clock, p, GB_TIME_LEN);
		out->ts_ms = time_tag(p);
		break;
	case GB_T_DUTY_CHECK:
		out->u.duty.minutes = p[0];
		break;
	default:
		return CD_ERR_RANGE;
	}
	return CD_OK;
}

/* Appends U+FFFD if it fits (with room left for the NUL). */
static void put_replacement(char **outp, size_t *left)
{
	if (*left >= 4) {
		memcpy(*outp, "\xef\xbf\xbd", 3);
		*outp += 3;
		*left -= 3;
	}
}

void gb_gb18030_to_utf8(const uint8_t *in, size_t n, char *out, size_t cap)
{
	if (!cap)
		return;
	out[0] = '\0';
	size_t len = 0;
	while (len < n && in[len] != 0)
		len++;
	while (len && in[len - 1] == ' ')
		len--;
	if (!len)
		return;
	char *outp = out;
	size_t left = cap - 1; /* the NUL */
	iconv_t cd = iconv_open("UTF-8", "GB18030");
	if (cd == (iconv_t)-1) {
		/* No converter installed: keep ASCII, mark the rest. */
		for (size_t i = 0; i < len && left; i++) {
			if (in[i] < 0x80) {
				*outp++ = (char)in[i];
				left--;
			} else {
				put_replacement(&outp, &left);
				if (left < 4)
					break;
			}
		}
		*outp = '\0';
		return;
	}
	/* iconv's prototype takes char ** for input it does not modify; copy to stay -Wcast-qual clean. */
	char tmp[256];
	size_t inleft = len < sizeof tmp ? len : sizeof tmp;
	memcpy(tmp, in, inleft);
	char *inp = tmp;
	while (inleft) {
		size_t r = iconv(cd, &inp, &inleft, &outp, &left);
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			break;
		/* EILSEQ or EINVAL (a truncated character at the end): mark one byte, go on. */
		put_replacement(&outp, &left);
		inp++;
		inleft--;
		if (left < 4 && inleft)
			break;
	}
	*outp = '\0';
	iconv_close(cd);
}
