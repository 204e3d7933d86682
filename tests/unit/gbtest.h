/* What the GB/T 26875.3 tests share: the reference's vectors and addresses, and a frame builder. */
#ifndef CD_GBTEST_H
#define CD_GBTEST_H

#include <stdint.h>
#include <string.h>

#include "net/gb26875.h"
#include "test.h"

/* The reference's building-fire-system power-on message from the UITD (shared/reference). */
static const uint8_t V_POWER[] = {0x40, 0x40, 0x01, 0x00, 0x01, 0x01, 0x02, 0x3A, 0x09, 0x1A,
				  0x09, 0x0C, 0x79, 0x03, 0x00, 0x00, 0x00, 0x00, 0x38, 0x5B,
				  0x01, 0x00, 0x00, 0x00, 0x09, 0x00, 0x02, 0x15, 0x01, 0x08,
				  0x02, 0x3A, 0x09, 0x1A, 0x09, 0x0C, 0x24, 0x23, 0x23};
/* The reference's ACK to serial 1, but for its 6 time bytes and the checksum. */
static const uint8_t V_ACK[] = {0x40, 0x40, 0x01, 0x00, 0x01, 0x01, 0x23, 0x3A, 0x09, 0x1A,
				0x09, 0x0C, 0x38, 0x5B, 0x01, 0x00, 0x00, 0x00, 0x79, 0x03,
				0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xAB, 0x23, 0x23};
static const uint8_t UITD[GB_ADDR_LEN] = {0x79, 0x03, 0, 0, 0, 0};
static const uint8_t CENTRE[GB_ADDR_LEN] = {0x38, 0x5B, 0x01, 0, 0, 0};
static const uint8_t T_DEVICE[GB_TIME_LEN] = {0x02, 0x3A, 0x09, 0x1A, 0x09, 0x0C}; /* 2012-09-26 09:58:02 */
#define T_DEVICE_MS 1348624682000LL

/* Encodes a version 1.1 frame from src to the centre stamped T_DEVICE into out[0..cap); returns
 * its length (a failed CHECK and 0 when it does not encode). */
static inline size_t gbtest_frame(uint8_t *out, size_t cap, uint16_t serial, uint8_t cmd,
				  const uint8_t src[GB_ADDR_LEN], const uint8_t *data, size_t n)
{
	static struct gb_frame f;
	memset(&f, 0, sizeof f);
	f.serial = serial;
	f.version[0] = 1;
	f.version[1] = 1;
	memcpy(f.time, T_DEVICE, GB_TIME_LEN);
	memcpy(f.src, src, GB_ADDR_LEN);
	memcpy(f.dst, CENTRE, GB_ADDR_LEN);
	f.cmd = cmd;
	f.len = (uint16_t)n;
	if (n)
		memcpy(f.data, data, n);
	size_t len = 0;
	CHECK_INT_EQ(gb_frame_encode(&f, out, cap, &len), CD_OK);
	return len;
}

#endif
