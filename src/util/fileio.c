/* Durable-file helpers; see fileio.h. */
#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "util/alloc.h"

int fileio_pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
	const unsigned char *b = p;
	while (n) {
		ssize_t w = pwrite(fd, b, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

int fileio_pread_all(int fd, void *p, size_t n, uint64_t off)
{
	unsigned char *b = p;
	while (n) {
		ssize_t r = pread(fd, b, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static const unsigned char zeros[1 << 16];

int fileio_write_zeros(int fd, uint64_t from, uint64_t to)
{
	for (uint64_t off = from; off < to;) {
		size_t n = to - off < sizeof zeros ? (size_t)(to - off) : sizeof zeros;
		if (fileio_pwrite_all(fd, zeros, n, off) != 0)
			return -1;
		off += n;
	}
	return 0;
}

void fileio_sync_dir(const char *path)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, strlen(dir) + 1, ".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	xfree(dir);
}
