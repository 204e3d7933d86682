/* 8-bit MinHash and SimHash signatures over 64-bit shingle hashes, and a banded LSH index for
 * MinHash candidates. The permutations are multiply-xor bijections of the (already well-mixed)
 * shingle hashes, with constants drawn once from a fixed seed, so signatures are stable across
 * runs and can be stored. */
#include "core/minhash.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "core/text.h"
#include "util/alloc.h"

#define ROWS (MINHASH_PERM / MINHASH_BANDS) /* bytes per band: 4 */

/* Murmur3's 64-bit finalizer. */
static inline uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* Permutation i maps x to (x ^ xor_[i]) * mul_[i]: a bijection of 64-bit values (mul_ odd)
 * whose high bits, which decide the minimum, depend on every bit of x. */
static uint64_t mul_[MINHASH_PERM], xor_[MINHASH_PERM];
static pthread_once_t perm_once = PTHREAD_ONCE_INIT;

static void perm_init(void)
{
	uint64_t state = 0x243f6a8885a308d3ULL; /* fixed: signatures are stored */
	for (int i = 0; i < MINHASH_PERM; i++) {
		state += 0x9e3779b97f4a7c15ULL;
		mul_[i] = mix64(state) | 1;
		state += 0x9e3779b97f4a7c15ULL;
		xor_[i] = mix64(state);
	}
}

void minhash_sign(const uint64_t *shingles, size_t n, struct minhash_sig *out)
{
	uint64_t mins[MINHASH_PERM];
	pthread_once(&perm_once, perm_init);
	for (int i = 0; i < MINHASH_PERM; i++)
		mins[i] = UINT64_MAX;
	for (size_t k = 0; k < n; k++) {
		uint64_t x = shingles[k];
		for (int i = 0; i < MINHASH_PERM; i++) {
			uint64_t h = (x ^ xor_[i]) * mul_[i];
			mins[i] = h < mins[i] ? h : mins[i];
		}
	}
	/* b-bit MinHash: any fixed function of the minimum works; mixing first makes the 8 bits
	 * kept uniform even though the minimum's own high bits are small by construction. */
	for (int i = 0; i < MINHASH_PERM; i++)
		out->v[i] = (uint8_t)mix64(mins[i] + (uint64_t)i);
}

/* Running minima while tokens arrive. */
struct sign_state {
	uint64_t mins[MINHASH_PERM];
};

static void sign_token(void *ctx, uint64_t x, const char *s, size_t n, int order)
{
	struct sign_state *st = ctx;
	(void)s, (void)n, (void)order;
	for (int i = 0; i < MINHASH_PERM; i++) {
		uint64_t h = (x ^ xor_[i]) * mul_[i];
		st->mins[i] = h < st->mins[i] ? h : st->mins[i];
	}
}

size_t minhash_sign_text(const char *norm, size_t len, struct minhash_sig *out)
{
	struct sign_state st;
	pthread_once(&perm_once, perm_init);
	for (int i = 0; i < MINHASH_PERM; i++)
		st.mins[i] = UINT64_MAX;
	size_t n = text_tokens(norm, len, MINHASH_SHINGLES, sign_token, &st);
	for (int i = 0; i < MINHASH_PERM; i++)
		out->v[i] = (uint8_t)mix64(st.mins[i] + (uint64_t)i);
	return n;
}

double minhash_similarity(const struct minhash_sig *a, const struct minhash_sig *b)
{
	int same = 0;
	for (int i = 0; i < MINHASH_PERM; i++)
		same += a->v[i] == b->v[i];
	/* P(equal byte) = J + (1 - J) / 256: solve for J */
	double p = (double)same / MINHASH_PERM;
	double j = (p - 1.0 / 256) / (1.0 - 1.0 / 256);
	return j < 0 ? 0 : j > 1 ? 1 : j;
}

static uint32_t band_bytes(const struct minhash_sig *s, unsigned band)
{
	const uint8_t *p = s->v + band * ROWS;
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t minhash_band_key(const struct minhash_sig *s, unsigned band)
{
	return mix64((uint64_t)band_bytes(s, band) | (uint64_t)band << 32);
}

uint64_t simhash_sign(const uint64_t *shingles, size_t n)
{
	int32_t votes[64] = {0};
	for (size_t k = 0; k < n; k++) {
		uint64_t x = shingles[k];
		for (int b = 0; b < 64; b++)
			votes[b] += (int32_t)((x >> b) & 1) * 2 - 1;
	}
	uint64_t h = 0;
	for (int b = 0; b < 64; b++)
		if (votes[b] > 0)
			h |= 1ULL << b;
	return h;
}

double simhash_similarity(uint64_t a, uint64_t b)
{
	return 1.0 - (double)__builtin_popcountll(a ^ b) / 64.0;
}

/* ---- the LSH index -------------------------------------------------------------------- */

/* One slot of a band's table; id_plus1 == 0 marks an empty slot. */
struct slot {
	uint32_t key;      /* the band's 4 signature bytes */
	uint32_t id_plus1; /* the id added, plus one */
};

struct minhash_index {
	struct slot *t[MINHASH_BANDS]; /* one open-addressing multi-map per band */
	size_t mask;                   /* table size - 1 (a power of two), same for every band */
	size_t used;                   /* signatures added */
};

static size_t slot_of(uint32_t key, size_t mask)
{
	return (size_t)mix64(key) & mask;
}

struct minhash_index *minhash_index_new(size_t expect)
{
	struct minhash_index *ix = xcalloc(1, sizeof *ix);
	size_t size = 1024;
	while (size < expect + expect / 2)
		size <<= 1;
	ix->mask = size - 1;
	for (int b = 0; b < MINHASH_BANDS; b++)
		ix->t[b] = xcalloc(size, sizeof(struct slot));
	return ix;
}

void minhash_index_free(struct minhash_index *ix)
{
	if (!ix)
		return;
	for (int b = 0; b < MINHASH_BANDS; b++)
		xfree(ix->t[b]);
	xfree(ix);
}

static void put(struct slot *t, size_t mask, uint32_t key, uint32_t id_plus1)
{
	size_t i = slot_of(key, mask);
	while (t[i].id_plus1)
		i = (i + 1) & mask;
	t[i].key = key;
	t[i].id_plus1 = id_plus1;
}

/* Doubles every band's table; leaves the index as it was when memory runs out. */
static enum cd_err grow(struct minhash_index *ix)
{
	size_t size = (ix->mask + 1) * 2;
	struct slot *nt[MINHASH_BANDS];
	for (int b = 0; b < MINHASH_BANDS; b++) {
		nt[b] = try_calloc(size, sizeof(struct slot));
		if (!nt[b]) {
			while (b-- > 0)
				xfree(nt[b]);
			return CD_ERR_NOMEM;
		}
	}
	for (int b = 0; b < MINHASH_BANDS; b++) {
		for (size_t i = 0; i <= ix->mask; i++)
			if (ix->t[b][i].id_plus1)
				put(nt[b], size - 1, ix->t[b][i].key, ix->t[b][i].id_plus1);
		xfree(ix->t[b]);
		ix->t[b] = nt[b];
	}
	ix->mask = size - 1;
	return CD_OK;
}

enum cd_err minhash_index_add(struct minhash_index *ix, uint32_t id, const struct minhash_sig *s)
{
	if (id == UINT32_MAX)
		return CD_ERR_RANGE; /* id + 1 must fit */
	if ((ix->used + 1) * 10 > (ix->mask + 1) * 7) {
		enum cd_err rc = grow(ix);
		if (rc)
			return rc;
	}
	for (unsigned b = 0; b < MINHASH_BANDS; b++)
		put(ix->t[b], ix->mask, band_bytes(s, b), id + 1);
	ix->used++;
	return CD_OK;
}

size_t minhash_index_query(const struct minhash_index *ix, const struct minhash_sig *s,
			   uint32_t *ids, size_t cap)
{
	size_t n = 0;
	for (unsigned b = 0; b < MINHASH_BANDS; b++) {
		uint32_t key = band_bytes(s, b);
		const struct slot *t = ix->t[b];
		for (size_t i = slot_of(key, ix->mask); t[i].id_plus1; i = (i + 1) & ix->mask) {
			if (t[i].key != key)
				continue;
			uint32_t id = t[i].id_plus1 - 1;
			bool seen = false;
			for (size_t k = 0; k < n && !seen; k++)
				seen = ids[k] == id;
			if (seen)
				continue;
			if (n == cap)
				return n;
			ids[n++] = id;
		}
	}
	return n;
}
