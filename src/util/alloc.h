/* The only allocator entry points. xmalloc and friends abort on exhaustion and are for
 * internal bookkeeping whose size the program controls; try_malloc and friends return NULL
 * and are for sizes that come from input. Tests can make the try_ family fail on purpose. */
#ifndef CD_ALLOC_H
#define CD_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

void *try_malloc(size_t n);
void *try_calloc(size_t count, size_t size);
void *try_realloc(void *p, size_t n);

/* Frees memory from either family; NULL is fine. */
void xfree(void *p);

/* Test hook: the next `after` try_ calls succeed, every later one fails, until reset with -1. */
void alloc_fail_after(long after);

#endif
