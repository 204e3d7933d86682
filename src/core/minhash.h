/* Near-duplicate signatures for complaint texts: 8-bit MinHash (64 bytes a case) with an LSH
 * band index for candidate lookup, and 64-bit SimHash for comparison. Both take the 64-bit
 * shingle hashes from text_tokens (core/text.h); minhash_sign_text does it all:
 *   text_normalize(tn, text, len, TEXT_ALL, norm, cap, &nl);
 *   minhash_sign_text(norm, nl, &sig);
 * Measurements and the choice between them: docs/internals/text.md. */
#ifndef CD_MINHASH_H
#define CD_MINHASH_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Permutations; one byte each, so a signature is 64 bytes. */
#define MINHASH_PERM 64
/* The shingles to sign: character bigrams of normalized text (text_tokens kind TEXT_TOK_BI).
 * Measured against trigrams, bi+tri and uni+bi (bench/bench_text.c): all separate edited
 * copies of full messages perfectly; on titles alone (~19 characters) bigrams keep the most
 * recall at 0.1 % false positives. */
#define MINHASH_SHINGLES (1u << 1)
/* LSH: MINHASH_BANDS bands of MINHASH_PERM / MINHASH_BANDS bytes. With 16 bands of 4, a pair
 * of Jaccard J becomes a candidate with probability 1 - (1 - J'^4)^16, J' = J + (1 - J) / 256:
 * 0.50 -> 0.65, 0.60 -> 0.89, 0.70 -> 0.99, 0.30 -> 0.12, 0.10 -> 0.002. */
#define MINHASH_BANDS 16

/* A b-bit MinHash signature: byte i is the low 8 bits of (a hash of) the minimum of the i-th
 * permutation over the shingle set. Two texts agree on a byte with probability J + (1-J)/256. */
struct minhash_sig {
	uint8_t v[MINHASH_PERM]; /* one byte per permutation */
};

/* Signs a set of shingle hashes (duplicates are fine: a set is what counts). n == 0 gives the
 * empty signature, equal to every other empty one; callers should not match texts with only a
 * handful of shingles. Pure, thread-safe. */
void minhash_sign(const uint64_t *shingles, size_t n, struct minhash_sig *out);

/* The signature of normalized text (text_normalize with TEXT_ALL): minhash_sign over its
 * MINHASH_SHINGLES tokens, computed as they come, without an array. Returns how many tokens
 * there were (text_tokens' count). Pure, thread-safe. */
size_t minhash_sign_text(const char *norm, size_t len, struct minhash_sig *out);

/* Estimated Jaccard similarity of the two shingle sets, in [0, 1]. Standard error about
 * sqrt(J(1-J)/64): 0.06 at J = 0.5. */
double minhash_similarity(const struct minhash_sig *a, const struct minhash_sig *b);

/* The key of band `band` (< MINHASH_BANDS) of s: equal keys for a pair are what makes it a
 * candidate. The band number is mixed in, so keys of different bands never meet. */
uint64_t minhash_band_key(const struct minhash_sig *s, unsigned band);

/* Charikar's SimHash of the shingle multiset: bit b is set when more shingles have bit b set
 * than clear. */
uint64_t simhash_sign(const uint64_t *shingles, size_t n);

/* 1 - Hamming distance / 64: 1 for equal, about 0.5 for unrelated texts. */
double simhash_similarity(uint64_t a, uint64_t b);

/* A candidate index over MinHash signatures: one open-addressing table per band maps the
 * band's 4 bytes to the ids that have them, 8 bytes a slot, load at most 0.7, sizes powers of
 * two: 180 to 370 bytes per signature added, 268 MB for 1,000,000 (the signatures themselves
 * are not kept: the caller stores them and checks candidates with minhash_similarity). Not
 * thread-safe: one writer, or readers only. */
struct minhash_index;

/* An empty index sized for about `expect` signatures (it grows past that). */
struct minhash_index *minhash_index_new(size_t expect);
/* NULL is fine. */
void minhash_index_free(struct minhash_index *ix);
/* Adds signature s under id. CD_ERR_NOMEM when a table cannot grow. */
enum cd_err minhash_index_add(struct minhash_index *ix, uint32_t id, const struct minhash_sig *s)
	CD_MUST_CHECK;
/* Ids sharing at least one band with s, each once, in no particular order: writes at most cap
 * and returns how many it wrote (cap means there may be more). */
size_t minhash_index_query(const struct minhash_index *ix, const struct minhash_sig *s,
			   uint32_t *ids, size_t cap);

#endif
