/* The 64-bit value set; see u64set.h. Linear probing from a mixed hash of the value. */
#include "util/u64set.h"

#include "util/alloc.h"

/* What a 0 is stored as, since a 0 slot means empty: any fixed value that is not 0. */
#define U64SET_ZERO 0x9e3779b97f4a7c15ULL

/* Values may be ids (1, 2, 3 ...): mixed, so that neighbours do not crowd one run of slots. */
static size_t slot_of(uint64_t v, size_t cap)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return (size_t)v & (cap - 1);
}

void u64set_init(struct u64set *s)
{
	s->slots = NULL;
	s->cap = 0;
	s->n = 0;
}

void u64set_free(struct u64set *s)
{
	xfree(s->slots);
	u64set_init(s);
}

static void place(uint64_t *slots, size_t cap, uint64_t v)
{
	size_t i = slot_of(v, cap);
	while (slots[i] && slots[i] != v)
		i = (i + 1) & (cap - 1);
	slots[i] = v;
}

void u64set_add(struct u64set *s, uint64_t v)
{
	if (!v)
		v = U64SET_ZERO;
	if (u64set_has(s, v))
		return;
	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		uint64_t *slots = xcalloc(cap, sizeof *slots);
		for (size_t i = 0; i < s->cap; i++)
			if (s->slots[i])
				place(slots, cap, s->slots[i]);
		xfree(s->slots);
		s->slots = slots;
		s->cap = cap;
	}
	place(s->slots, s->cap, v);
	s->n++;
}

bool u64set_has(const struct u64set *s, uint64_t v)
{
	if (!s->cap)
		return false;
	if (!v)
		v = U64SET_ZERO;
	for (size_t i = slot_of(v, s->cap);; i = (i + 1) & (s->cap - 1)) {
		if (s->slots[i] == v)
			return true;
		if (!s->slots[i])
			return false; /* never full: at most half the slots are used */
	}
}

uint64_t u64set_hash_pair(const char *a, const char *b)
{
	uint64_t h = 14695981039346656037ULL;
	for (const char *p = a; p && *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0x1f) * 1099511628211ULL;
	for (const char *p = b; p && *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}
