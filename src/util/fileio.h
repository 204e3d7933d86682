/* Durable-file helpers shared by the two write-ahead journals (store/sqlite_journal.c and
 * app/iot_journal.c): whole positioned reads and writes, zero-filling ahead of the records (so
 * an fdatasync flushes data only), syncing a directory entry, and little-endian fields. */
#ifndef CD_UTIL_FILEIO_H
#define CD_UTIL_FILEIO_H

#include <stddef.h>
#include <stdint.h>

/* Writes all n bytes at off, retrying short writes and EINTR. 0, or -1 with errno set. */
int fileio_pwrite_all(int fd, const void *p, size_t n, uint64_t off);
/* Reads exactly n bytes at off. 0, or -1 (errno set, or 0 at an early end of file). */
int fileio_pread_all(int fd, void *p, size_t n, uint64_t off);
/* Writes zeroes over [from, to). 0, or -1 with errno set. */
int fileio_write_zeros(int fd, uint64_t from, uint64_t to);
/* fsyncs the directory holding `path`, so a file created or removed there survives a power cut.
 * Best effort: failures are ignored (the caller has nothing better to do). */
void fileio_sync_dir(const char *path);

/* The low `bytes` bytes of v into p, least significant first. */
static inline void fileio_put_le(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* A little-endian unsigned field of `bytes` bytes. */
static inline uint64_t fileio_get_le(const unsigned char *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#endif
