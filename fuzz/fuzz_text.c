/* PENDING: moves to fuzz/fuzz_text.c (git mv) once fuzz/Makefile's PKGS names
 * `opencc libutf8proc`; until then the replay in `make test` could not link it.
 *
 * Fuzz target for the text module: normalize (every flag set, small and large output buffers),
 * then tokens, MinHash and SimHash of the result, and PII spans and masking of both the raw
 * input and the result. Aborts when the output is not valid UTF-8, overruns its length, is not
 * stable under a second normalization, or when spans or masks break their promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/minhash.h"
#include "core/pii.h"
#include "core/text.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_CAP 8192

static void check_pii(const char *s, size_t len)
{
	struct pii_span sp[16];
	size_t n = pii_find(s, len, PII_ALL, sp, 16);
	size_t have = n < 16 ? n : 16, end = 0;
	for (size_t k = 0; k < have; k++) {
		if (sp[k].start < end || sp[k].len == 0 || sp[k].start + sp[k].len > len)
			abort(); /* out of order, overlapping, empty or past the end */
		end = sp[k].start + sp[k].len;
	}
	char *copy = xmalloc(len + 1);
	memcpy(copy, s, len);
	size_t masked = pii_mask_inplace(copy, len, PII_ALL);
	if (masked != n)
		abort();
	for (size_t i = 0; i < len; i++) {
		if (copy[i] != s[i] && !(copy[i] == '*' && (unsigned char)s[i] > ' ' &&
					  (unsigned char)s[i] < 0x7F))
			abort(); /* masking touched something other than a visible ASCII character */
	}
	xfree(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct text_norm *tn;
	if (!tn && text_norm_shared(&tn))
		abort();
	if (size < 1)
		return 0;
	unsigned flags = data[0] & TEXT_ALL;
	size_t cap = (data[0] & 0x80) ? (size_t)(data[0] & 0x1F) : OUT_CAP;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;

	char *out = xmalloc(OUT_CAP), *again = xmalloc(OUT_CAP);
	size_t ol = 0, al = 0;
	enum cd_err rc = text_normalize(tn, in, len, flags, out, cap, &ol);
	if (rc != CD_OK && rc != CD_ERR_TOOBIG)
		abort();
	if (cap > 0 && (ol >= cap || strlen(out) != ol || !text_utf8_valid(out, ol)))
		abort();
	if (rc == CD_OK && cap == OUT_CAP && flags == TEXT_ALL) {
		/* normalized text is a fixed point */
		if (text_normalize(tn, out, ol, flags, again, OUT_CAP, &al) != CD_OK)
			abort();
		if (al != ol || memcmp(out, again, ol) != 0)
			abort();
	}
	if (cap > 0) {
		uint64_t toks[512];
		size_t n = text_tokens_array(out, ol, TEXT_TOK_UNI | TEXT_TOK_BI | TEXT_TOK_TRI, toks,
					     512);
		if (n != text_tokens(out, ol, TEXT_TOK_UNI | TEXT_TOK_BI | TEXT_TOK_TRI, NULL, NULL))
			abort();
		struct minhash_sig sig;
		minhash_sign(toks, n < 512 ? n : 512, &sig);
		if (minhash_similarity(&sig, &sig) != 1.0)
			abort();
		(void)simhash_sign(toks, n < 512 ? n : 512);
		check_pii(out, ol);
	}
	/* the raw bytes too: tokens and PII must cope with anything */
	(void)text_tokens(in, len, TEXT_TOK_UNI | TEXT_TOK_BI, NULL, NULL);
	check_pii(in, len);
	xfree(out);
	xfree(again);
	return 0;
}
