/* Hexadecimal digits, for the decoders that read them (percent-encoding, transmitter addresses). */
#ifndef CD_HEX_H
#define CD_HEX_H

#include <stddef.h>

/* The value of one hex digit (either case), or -1 when c is not one. */
static inline int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Writes in[0..n) as 2n lowercase hex digits and a NUL into out (room for 2n + 1). */
static inline void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

#endif
