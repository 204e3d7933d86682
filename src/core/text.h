/* Chinese text normalization and tokens for the models: Traditional (Hong Kong) to Simplified
 * through OpenCC, NFKC and full-width to half-width through utf8proc, noise in whitespace and
 * punctuation folded away; then character n-grams with ASCII words kept whole, as 64-bit hashes.
 * Links against OpenCC and utf8proc: pkg-config names `opencc libutf8proc`. */
#ifndef CD_TEXT_H
#define CD_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* The most bytes text_normalize accepts; longer input gets CD_ERR_TOOBIG. */
#define TEXT_MAX_INPUT (1u << 20)

/* What text_normalize does beyond cleaning. Cleaning always happens: invalid UTF-8 becomes
 * U+FFFD, control and zero-width characters go, every run of whitespace (newlines too) becomes
 * one space, and the ends are trimmed. */
enum text_norm_flags {
	TEXT_FOLD = 1u << 0,     /* NFKC: full-width ASCII and ideographic space to half-width */
	TEXT_SIMPLIFY = 1u << 1, /* Traditional (incl. Hong Kong forms) to Simplified, OpenCC */
	TEXT_PUNCT = 1u << 2,    /* runs of one punctuation mark to one; no space between CJK */
	TEXT_ALL = TEXT_FOLD | TEXT_SIMPLIFY | TEXT_PUNCT, /* what the models and signatures use */
};

/* An OpenCC converter plus settings. Immutable once open: one may be shared by any number of
 * threads (OpenCC's conversion is const; see docs/internals/text.md). */
struct text_norm;

/* Opens a normalizer. opencc_config: a file name under OpenCC's data directory or a path;
 * NULL means "hk2s.json" (Hong Kong Traditional to Simplified; handles Taiwan and standard
 * Traditional as well). Takes ~100 ms: it loads the dictionaries and finds, once, which
 * characters OpenCC changes, so that text without them skips OpenCC later. CD_ERR_NOTFOUND
 * when OpenCC cannot load the configuration. Free with text_norm_free. */
enum cd_err text_norm_open(const char *opencc_config, struct text_norm **out) CD_MUST_CHECK;
/* NULL is fine. */
void text_norm_free(struct text_norm *tn);

/* The process-wide normalizer (hk2s.json), opened on first use exactly once (thread-safe),
 * never freed. The same error on every call if it could not be opened. */
enum cd_err text_norm_shared(struct text_norm **out) CD_MUST_CHECK;

/* Normalizes in[0..len) (need not be NUL-terminated) into out, always NUL-terminated, at most
 * cap - 1 bytes, cut only between whole characters. flags: enum text_norm_flags; TEXT_SIMPLIFY
 * needs tn, the others accept tn == NULL. *out_len (may be NULL) gets the bytes written.
 * Returns CD_OK; CD_ERR_TOOBIG when the result was cut to fit (out still holds the valid
 * prefix) or when len > TEXT_MAX_INPUT (out is ""); CD_ERR_NOMEM. Thread-safe. */
enum cd_err text_normalize(const struct text_norm *tn, const char *in, size_t len, unsigned flags,
			   char *out, size_t cap, size_t *out_len) CD_MUST_CHECK;

/* NFKC of in[0..n) into out (room for n + 1 bytes) when every character of it is one whose
 * NFKC is known alone (ASCII, CJK Unified Ideographs, common Chinese punctuation, full-width
 * ASCII): true, with the length in *out_len. False, out unspecified, for any other text:
 * text_normalize then asks utf8proc. */
bool text_nfkc_simple(const char *in, size_t n, char *out, size_t *out_len);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
 * For callers that refuse bad bytes instead of letting text_normalize replace them. */
bool text_utf8_valid(const char *s, size_t len);

/* Which n-grams text_tokens emits. A unit is one CJK (or other non-ASCII letter) character or
 * one ASCII word ([A-Za-z0-9]+, lower-cased); n-grams never span punctuation or spaces. */
enum text_tok_kinds {
	TEXT_TOK_UNI = 1u << 0, /* single units */
	TEXT_TOK_BI = 1u << 1,  /* two adjacent units */
	TEXT_TOK_TRI = 1u << 2, /* three adjacent units */
};

/* Called once per token: its 64-bit hash (unigram, bigram and trigram hashes live in separate
 * spaces), its bytes in the input (s, n: for showing a term; ASCII not lower-cased there) and its
 * order (1..3). */
typedef void (*text_token_fn)(void *ctx, uint64_t hash, const char *s, size_t n, int order);

/* Splits normalized text (the output of text_normalize with TEXT_ALL) into tokens of the kinds
 * asked for, in text order, calling fn for each. Returns the number of tokens. Bad UTF-8 bytes
 * count as separators. Pure: no allocation, thread-safe. */
size_t text_tokens(const char *s, size_t len, unsigned kinds, text_token_fn fn, void *ctx);

/* Same, into an array: writes the first min(count, cap) hashes to out and returns the count
 * (as snprintf does, so a caller can size the array and call again). */
size_t text_tokens_array(const char *s, size_t len, unsigned kinds, uint64_t *out, size_t cap);

/* A fast, well-mixed 64-bit hash of bytes (FNV-1a with a final avalanche). Stable across runs
 * and machines: models and signatures store these values. */
uint64_t text_hash64(const void *data, size_t len);

#endif
