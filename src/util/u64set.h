/* A set of 64-bit values (hashes, ids) in one open-addressed table: add and look up in a few
 * nanoseconds, 8 to 16 bytes per value. For "surely not seen" answers in front of a slower
 * exact lookup: the intake journal keeps the hash of every stored (channel, external id) in
 * one, so a new report's external id costs no database read. Not thread-safe: one owner. */
#ifndef CD_UTIL_U64SET_H
#define CD_UTIL_U64SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct u64set {
	uint64_t *slots; /* cap of them, 0 = empty; a 0 added is kept as 0x9e3779b97f4a7c15, so
			  * those two values count as one (harmless for hashes, the intended use) */
	size_t cap;      /* a power of two, or 0 before the first add */
	size_t n;        /* values held */
};

/* An empty set; nothing allocated until the first add. */
void u64set_init(struct u64set *s);
/* Frees the table; the set is empty again. */
void u64set_free(struct u64set *s);
/* Adds v (a no-op when it is there). The table doubles when half full (aborts on OOM, as
 * xmalloc does). */
void u64set_add(struct u64set *s, uint64_t v);
/* Whether v was added. */
bool u64set_has(const struct u64set *s, uint64_t v);

/* 64-bit FNV-1a of a, a 0x1f separator, then b (b may be NULL): the key of a pair of strings,
 * e.g. a channel and an external id. */
uint64_t u64set_hash_pair(const char *a, const char *b);

#endif
