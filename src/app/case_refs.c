/* The recent-refs table; see case_refs.h. */
#include "app/case_refs.h"

#include <pthread.h>
#include <string.h>

#define SLOTS 65536 /* a power of two; ~3 MB, a few seconds of peak intake or days of normal */

static struct {
	pthread_mutex_t lock;
	const struct store *st[SLOTS]; /* ids are per store (tests open several) */
	int64_t id[SLOTS];
	char ref[SLOTS][STORE_CASE_REF_MAX];
} table = {PTHREAD_MUTEX_INITIALIZER, {0}, {0}, {{0}}};

void case_refs_note(const struct store *st, int64_t id, const char *ref)
{
	size_t len = ref ? strnlen(ref, STORE_CASE_REF_MAX) : 0;
	if (id <= 0 || len == 0 || len == STORE_CASE_REF_MAX)
		return;
	size_t k = (size_t)id & (SLOTS - 1);
	pthread_mutex_lock(&table.lock);
	table.st[k] = st;
	table.id[k] = id;
	memcpy(table.ref[k], ref, len + 1);
	pthread_mutex_unlock(&table.lock);
}

bool case_refs_get(const struct store *st, int64_t id, char out[STORE_CASE_REF_MAX])
{
	size_t k = (size_t)id & (SLOTS - 1);
	pthread_mutex_lock(&table.lock);
	bool hit = id > 0 && table.id[k] == id && table.st[k] == st;
	if (hit)
		memcpy(out, table.ref[k], STORE_CASE_REF_MAX);
	pthread_mutex_unlock(&table.lock);
	return hit;
}
