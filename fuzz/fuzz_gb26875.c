/* Fuzz target for the GB/T 26875.3 codec: the input is a byte stream from a transmitter, fed
 * to a frame reader in pieces whose sizes come from the input itself; every frame is decoded
 * down to its objects and mapped for the hub, and every bad result's header is turned into a
 * NAK. Aborts when the reader grows past one frame, reports an impossible frame, loses bytes
 * (frames + bad + garbage must account for what went in), or a decoded description is not
 * terminated inside its field. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/gb26875_bridge.h"
#include "app/iot.h"
#include "net/gb26875.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sink_t(void *ctx, const struct iot_telemetry *t)
{
	(void)ctx;
	if (t->n == 0 || t->n > IOT_MAX_VALUES)
		abort();
	for (size_t i = 0; i < t->n; i++)
		if (!memchr(t->v[i].metric, 0, sizeof t->v[i].metric))
			abort();
}

static void sink_e(void *ctx, const struct iot_event *e)
{
	(void)ctx;
	if (!memchr(e->detail, 0, sizeof e->detail) || !memchr(e->type, 0, sizeof e->type))
		abort();
}

static void sink_s(void *ctx, const struct iot_status *s)
{
	(void)ctx;
	(void)s;
}

static struct gb_reader rd;
static struct gb_frame f, reply;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct gb_bridge_sink sink = {sink_t, sink_e, sink_s, NULL};
	static const uint8_t now[GB_TIME_LEN] = {0, 0, 12, 1, 1, 26};
	gb_reader_init(&rd);
	size_t off = 0, step = size ? 1 + data[0] % 64 : 1;
	while (off < size) {
		size_t want = size - off < step ? size - off : step;
		off += gb_reader_feed(&rd, data + off, want);
		enum gb_status st;
		while ((st = gb_reader_next(&rd, &f)) != GB_NEED_MORE) {
			if (rd.len > GB_FRAME_MAX || f.len > GB_DATA_MAX)
				abort();
			uint8_t out[GB_FRAME_MAX];
			size_t n = 0;
			if (st == GB_FRAME_OK) {
				if (gb_frame_encode(&f, out, sizeof out, &n) != CD_OK || n != GB_OVERHEAD + f.len)
					abort();
				struct gb_message m = {.kind = GB_MSG_DATA, .recv_ms = 1767196800000LL, .frame = &f};
				memcpy(m.addr, "790300000000", GB_ADDR_HEX);
				gb26875_bridge_map("fuzz", &m, &sink);
				gb_frame_ack(&f, now, &reply);
			} else {
				gb_frame_nak(&f, now, &reply);
			}
			if (gb_frame_encode(&reply, out, sizeof out, &n) != CD_OK || n != GB_OVERHEAD)
				abort();
		}
		if (off < size && rd.len == GB_FRAME_MAX)
			abort(); /* a full buffer must always yield a result */
	}
	while (gb_reader_expire(&rd, &f) != GB_NEED_MORE)
		while (gb_reader_next(&rd, &f) != GB_NEED_MORE) {
		}
	if (rd.len)
		abort();
	return 0;
}
