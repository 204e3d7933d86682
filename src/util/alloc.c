/* Allocation wrappers: abort-on-OOM for bookkeeping, NULL-on-failure for input-sized data,
 * with a failure-injection hook for tests. */
#include "util/alloc.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown = -1;

static void oom(size_t n)
{
	fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"out of memory\",\"bytes\":%zu}\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (!p)
		oom(count * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = xmalloc(len + 1);
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

/* True when an injected failure is due. */
static int injected_failure(void)
{
	long left = atomic_load(&fail_countdown);
	while (left >= 0) {
		if (left == 0)
			return 1;
		if (atomic_compare_exchange_weak(&fail_countdown, &left, left - 1))
			return 0;
	}
	return 0;
}

void *try_malloc(size_t n)
{
	return injected_failure() ? NULL : malloc(n ? n : 1);
}

void *try_calloc(size_t count, size_t size)
{
	return injected_failure() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *try_realloc(void *p, size_t n)
{
	return injected_failure() ? NULL : realloc(p, n ? n : 1);
}

void xfree(void *p)
{
	free(p);
}

void alloc_fail_after(long after)
{
	atomic_store(&fail_countdown, after);
}
