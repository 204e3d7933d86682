/* The IoT hub's write-ahead journal (app/iot_journal.h): producers encode their record into a
 * shared pending buffer under one short lock; one flusher thread swaps that buffer out, writes it
 * with one pwrite and makes it durable with one fdatasync, then wakes the producers of that batch.
 * The file is a series of segments, each started fresh and pre-zeroed ahead of the records so a
 * commit rewrites allocated blocks (data only, no metadata); handled segments are deleted.
 * Format and the recovery argument: docs/internals/iot-journal.md. */
#include "app/iot_journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/alerts.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/fileio.h"
#include "util/log.h"

#define J_MAGIC "CDIJ"
#define J_VERSION 1
#define J_HEADER 40          /* magic 4, version 4, gen 8, base seq 8, handled 8, crc 4, zero 4 */
#define J_FRAME 20           /* length 4, crc 4, seq 8, kind 1, source 1, zero 2 */
#define J_KIND_MARK 255      /* a handled mark: seq holds the mark, no payload */
#define J_GROW (256u << 10)  /* zeroes written ahead of the records at a time */
#define J_GEN_DIGITS 8       /* segment names: <path>.00000001 */
#define J_SEGMENT_DEFAULT (16u << 20)
#define J_PENDING_DEFAULT (4u << 20)
#define J_PACK_VERSION 1
#define J_RETRY_DEFAULT_MS 100 /* first wait after a failed write before a new segment */
#define J_RETRY_MAX_MS 5000
#define J_LOST_KEEP 32 /* refused seq ranges remembered for late waiters */

/* A closed segment: the flusher's list of files it may delete once handled. */
struct jseg {
	uint64_t gen;      /* its number (the file name) */
	uint64_t last_seq; /* the last data record's seq in it (its base seq when it has none) */
};

/* A growable byte buffer for the pending records (sizes bounded by pending_bytes). */
struct jbuf {
	unsigned char *p;
	size_t len, cap;
};

struct iot_journal {
	char *path;                     /* the base path; segments are <path>.NNNNNNNN */
	int lock_fd;                    /* <path>.lock, flock()ed while open */
	struct iot_journal_options opt; /* defaults filled in */
	pthread_mutex_t mu;             /* everything under "mu" below */
	pthread_cond_t work;            /* mu: records or a mark queued, or stop: wakes the flusher */
	pthread_cond_t room;            /* mu: the pending buffer was taken: wakes waiting producers */
	pthread_cond_t done[2];         /* mu: a batch of this parity is durable (or the journal failed) */
	/* mu */
	struct jbuf pend;       /* encoded records waiting for the flusher */
	struct jbuf spare;      /* the other buffer (swapped with pend at each batch) */
	uint64_t last_seq;      /* last seq handed out */
	uint64_t taken_seq;     /* last seq the flusher has taken (written or being written) */
	uint64_t durable_seq;   /* last seq on disk */
	uint64_t batch_open;    /* number of the batch pend belongs to */
	uint64_t want_handled;  /* the highest mark asked for */
	uint64_t mark_taken;    /* the highest mark handed to the flusher */
	uint64_t handled_seq;   /* the highest mark on disk */
	bool flusher_idle;      /* waiting on work: producers signal it */
	bool stopping;          /* close was called */
	bool failed;            /* a write failed and no new segment yet: refuse appends */
	struct { uint64_t from, to; } lost[J_LOST_KEEP]; /* seqs refused by failures, (from, to] */
	size_t nlost;           /* entries used in lost (a ring: the oldest is overwritten) */
	size_t lost_next;       /* where the next one goes */
	uint64_t lost_forgot;   /* the highest seq of a range overwritten: at or below, refuse */
	bool replaying;         /* iot_journal_replay runs: deleting segments waits */
	struct iot_journal_stats st; /* counters (segments, failed filled in on read) */
	/* The flusher's own (and open/close's before and after it runs). */
	pthread_t flusher;
	bool flusher_started;
	pthread_mutex_t seg_mu; /* held while segments are deleted; replay waits for it */
	int fd;                 /* the active segment */
	uint64_t gen;           /* its number */
	uint64_t end;           /* end of its records */
	uint64_t zeroed;        /* its size: [end, zeroed) is zeroes */
	uint64_t active_last;   /* last data seq written to it (its base seq before any) */
	struct jseg *segs;      /* closed segments, oldest first */
	size_t nsegs, segs_cap;
	/* Fixed at open, for replay. */
	uint64_t replay_from, replay_to; /* replay seqs in (from, to] */
	struct jseg *rsegs;              /* segments holding them */
	size_t nrsegs;
	bool replayed;
};

/* ---- CRC-32C (Castagnoli) ------------------------------------------------------------------ */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

/* Continues a running CRC (start from 0xFFFFFFFF, finish with ~). */
static uint32_t crc_update(uint32_t c, const void *data, size_t n)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++)
		c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
	return c;
}

/* A record's CRC: over the payload first (so producers compute it outside the lock), then the
 * frame's seq, kind, source and zero bytes, then its length. */
static uint32_t record_crc(uint32_t payload_state, const unsigned char frame[J_FRAME])
{
	uint32_t c = crc_update(payload_state, frame + 8, J_FRAME - 8);
	return ~crc_update(c, frame, 4);
}

static void jbuf_append(struct jbuf *b, const void *src, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		while (cap < b->len + n)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, src, n);
	b->len += n;
}

/* ---- files ----------------------------------------------------------------------------------- */

/* The file name of segment `gen` (a new string). */
static char *seg_path(const struct iot_journal *j, uint64_t gen)
{
	size_t n = strlen(j->path) + 2 + 20;
	char *p = xmalloc(n);
	snprintf(p, n, "%s.%0*" PRIu64, j->path, J_GEN_DIGITS, gen);
	return p;
}

/* Reads a whole file into a new buffer (*out, *size; xfree it). */
static enum cd_err read_file(const char *path, unsigned char **out, size_t *size)
{
	*out = NULL;
	*size = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? CD_ERR_NOTFOUND : CD_ERR_IO;
	enum cd_err rc = CD_ERR_IO;
	unsigned char *p = NULL;
	struct stat sb;
	if (fstat(fd, &sb) != 0 || sb.st_size < 0)
		goto out;
	size_t n = (size_t)sb.st_size;
	p = try_malloc(n ? n : 1);
	if (!p) {
		rc = CD_ERR_NOMEM;
		goto out;
	}
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, p + got, n - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	*out = p;
	*size = got; /* a file that shrank under us reads as shorter: the scan copes */
	p = NULL;
	rc = CD_OK;
out:
	xfree(p);
	close(fd);
	return rc;
}

/* ---- scanning a segment ---------------------------------------------------------------------- */

/* What a scan found in one segment. */
struct scan {
	bool header_ok;    /* magic, version, gen and CRC check out */
	uint64_t base;     /* seq of the last record before this segment */
	uint64_t handled;  /* the highest handled mark (header or mark records) */
	uint64_t last;     /* last whole data record's seq (base when none) */
	uint64_t end;      /* offset just past the last whole record */
	uint64_t size;     /* file size read */
	uint64_t records;  /* whole data records */
	bool torn;         /* stopped at bytes that are not a whole, valid record */
};

typedef enum cd_err (*scan_fn)(void *ctx, uint64_t seq, unsigned kind, unsigned src, const unsigned char *p,
			       size_t len);

static void header_encode(unsigned char h[J_HEADER], uint64_t gen, uint64_t base, uint64_t handled)
{
	memset(h, 0, J_HEADER);
	memcpy(h, J_MAGIC, 4);
	fileio_put_le(h + 4, J_VERSION, 4);
	fileio_put_le(h + 8, gen, 8);
	fileio_put_le(h + 16, base, 8);
	fileio_put_le(h + 24, handled, 8);
	fileio_put_le(h + 32, ~crc_update(0xFFFFFFFFu, h, 32), 4);
}

/* Walks the records of a segment's bytes; fn (may be NULL) gets each whole data record. */
static enum cd_err scan_bytes(const unsigned char *d, size_t size, uint64_t gen, struct scan *s, scan_fn fn,
			      void *ctx)
{
	pthread_once(&crc_once, crc_init);
	memset(s, 0, sizeof *s);
	s->size = size;
	if (size < J_HEADER || memcmp(d, J_MAGIC, 4) != 0 || fileio_get_le(d + 4, 4) != J_VERSION ||
	    fileio_get_le(d + 8, 8) != gen || fileio_get_le(d + 32, 4) != (uint32_t)~crc_update(0xFFFFFFFFu, d, 32))
		return CD_OK; /* header_ok false */
	s->header_ok = true;
	s->base = fileio_get_le(d + 16, 8);
	s->handled = fileio_get_le(d + 24, 8);
	if (s->handled > s->base)
		s->handled = s->base; /* cannot be: a mark never passes the records before it */
	s->last = s->base;
	size_t off = J_HEADER;
	for (;;) {
		size_t left = size - off;
		if (left < J_FRAME) {
			for (size_t i = off; i < size; i++)
				if (d[i]) {
					s->torn = true;
					break;
				}
			break;
		}
		const unsigned char *f = d + off;
		uint32_t len = (uint32_t)fileio_get_le(f, 4), crc = (uint32_t)fileio_get_le(f + 4, 4);
		uint64_t seq = fileio_get_le(f + 8, 8);
		unsigned kind = f[16], src = f[17];
		if (len == 0 && crc == 0 && seq == 0 && kind == 0)
			break; /* the zeroes ahead of the records: the end */
		if (kind == 0 || len > IOT_JOURNAL_RECORD_MAX || left - J_FRAME < len || fileio_get_le(f + 18, 2) != 0 ||
		    record_crc(crc_update(0xFFFFFFFFu, f + J_FRAME, len), f) != crc) {
			s->torn = true;
			break;
		}
		if (kind == J_KIND_MARK) {
			if (len != 0 || seq > s->last) {
				s->torn = true;
				break;
			}
			if (seq > s->handled)
				s->handled = seq;
		} else {
			if (seq != s->last + 1) {
				s->torn = true; /* out of order: not written by this journal as it stands */
				break;
			}
			if (fn) {
				enum cd_err rc = fn(ctx, seq, kind, src, f + J_FRAME, len);
				if (rc) {
					s->end = off;
					return rc;
				}
			}
			s->last = seq;
			s->records++;
		}
		off += J_FRAME + len;
	}
	s->end = off;
	return CD_OK;
}

/* ---- the flusher ----------------------------------------------------------------------------- */

/* Writes p[0..n) at the end of the active segment, zeroes ahead of it, and syncs. 0 or -1. */
static int write_batch(struct iot_journal *j, const unsigned char *p, size_t n)
{
	uint64_t need = j->end + n;
	if (fileio_pwrite_all(j->fd, p, n, j->end) != 0)
		return -1;
	if (need > j->zeroed) {
		/* New blocks: written zeroes (not a hole, not fallocate's unwritten extents) so later
		 * commits overwrite allocated blocks and fdatasync flushes data only. */
		if (fileio_write_zeros(j->fd, need, need + J_GROW) != 0)
			return -1;
		j->zeroed = need + J_GROW;
	}
	if (!j->opt.no_sync && fdatasync(j->fd) != 0)
		return -1;
	j->end = need;
	return 0;
}

/* Creates segment `gen` (header, zeroes, synced, directory synced) and makes it the active one;
 * the previous active segment, if any, joins the closed list. */
static enum cd_err start_segment(struct iot_journal *j, uint64_t gen, uint64_t base, uint64_t handled)
{
	char *path = seg_path(j, gen);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_msg(LOG_ERROR, "iot journal: cannot create a segment", "\"errno\":%d,\"gen\":%" PRIu64, errno, gen);
		xfree(path);
		return CD_ERR_IO;
	}
	unsigned char h[J_HEADER];
	header_encode(h, gen, base, handled);
	if (fileio_pwrite_all(fd, h, sizeof h, 0) != 0 || fileio_write_zeros(fd, J_HEADER, J_HEADER + J_GROW) != 0 ||
	    (!j->opt.no_sync && fdatasync(fd) != 0)) {
		log_msg(LOG_ERROR, "iot journal: cannot write a segment header", "\"errno\":%d", errno);
		close(fd);
		(void)unlink(path);
		xfree(path);
		return CD_ERR_IO;
	}
	if (!j->opt.no_sync)
		fileio_sync_dir(path);
	xfree(path);
	if (j->fd >= 0) {
		close(j->fd);
		pthread_mutex_lock(&j->seg_mu);
		if (j->nsegs == j->segs_cap) {
			j->segs_cap = j->segs_cap ? j->segs_cap * 2 : 16;
			j->segs = xrealloc(j->segs, j->segs_cap * sizeof *j->segs);
		}
		j->segs[j->nsegs++] = (struct jseg){j->gen, j->active_last};
		pthread_mutex_unlock(&j->seg_mu);
	}
	j->fd = fd;
	j->gen = gen;
	j->end = J_HEADER;
	j->zeroed = J_HEADER + J_GROW;
	j->active_last = base;
	return CD_OK;
}

/* Deletes closed segments whose every record is handled (the mark that says so is durable in a
 * later segment), unless a replay is reading them. */
static void prune_segments(struct iot_journal *j)
{
	pthread_mutex_lock(&j->seg_mu);
	pthread_mutex_lock(&j->mu);
	uint64_t handled = j->handled_seq;
	bool replaying = j->replaying;
	pthread_mutex_unlock(&j->mu);
	size_t kept = 0, deleted = 0;
	for (size_t i = 0; i < j->nsegs; i++) {
		if (!replaying && j->segs[i].last_seq <= handled) {
			char *path = seg_path(j, j->segs[i].gen);
			if (unlink(path) == 0 || errno == ENOENT) {
				deleted++;
				xfree(path);
				continue;
			}
			log_msg(LOG_WARN, "iot journal: cannot delete a handled segment", "\"errno\":%d", errno);
			xfree(path);
		}
		j->segs[kept++] = j->segs[i];
	}
	j->nsegs = kept;
	pthread_mutex_unlock(&j->seg_mu);
	if (deleted) {
		/* Not needed for safety (a resurrected segment holds only handled records), only tidy. */
		if (!j->opt.no_sync)
			fileio_sync_dir(j->path);
		pthread_mutex_lock(&j->mu);
		j->st.deleted += deleted;
		pthread_mutex_unlock(&j->mu);
	}
}

/* Refuses every record not on disk yet (written or queued: what reached the disk of the failed
 * batch is unknown, so none of it is acknowledged) and every append until a new segment is
 * started, and wakes every waiter. mu held. */
static void fail_locked(struct iot_journal *j)
{
	if (!j->failed)
		j->st.failures++;
	j->failed = true;
	if (j->last_seq > j->durable_seq) {
		if (j->nlost == J_LOST_KEEP && j->lost[j->lost_next].to > j->lost_forgot)
			j->lost_forgot = j->lost[j->lost_next].to;
		j->lost[j->lost_next].from = j->durable_seq;
		j->lost[j->lost_next].to = j->last_seq;
		j->lost_next = (j->lost_next + 1) % J_LOST_KEEP;
		if (j->nlost < J_LOST_KEEP)
			j->nlost++;
	}
	j->pend.len = 0;            /* queued records: refused with the rest */
	j->mark_taken = j->handled_seq; /* a mark in the failed batch is written again */
	pthread_cond_broadcast(&j->done[0]);
	pthread_cond_broadcast(&j->done[1]);
	pthread_cond_broadcast(&j->room);
}

/* Whether any seq in [first, last] was refused by a failure. mu held. */
static bool lost_locked(const struct iot_journal *j, uint64_t first, uint64_t last)
{
	if (first <= j->lost_forgot)
		return true; /* too old to tell: refusing is safe (the source sends it again) */
	for (size_t i = 0; i < j->nlost; i++)
		if (first <= j->lost[i].to && last > j->lost[i].from)
			return true;
	return false;
}

/* After a failure: waits (backing off, unless close wakes it), cuts the failed segment back to
 * its durable end (so the refused records are not replayed) and starts a new segment whose base
 * is the last seq handed out, so the refused seqs are never used. Returns with mu held; false
 * when stopping. */
static bool recover_locked(struct iot_journal *j)
{
	long backoff = j->opt.retry_ms;
	for (;;) {
		struct timespec until;
		clock_deadline_in(&until, backoff);
		while (!j->stopping && pthread_cond_timedwait(&j->work, &j->mu, &until) == 0)
			;
		if (j->stopping)
			return false;
		uint64_t base = j->last_seq, handled = j->handled_seq;
		pthread_mutex_unlock(&j->mu);
		if (ftruncate(j->fd, (off_t)j->end) == 0)
			j->zeroed = j->end;
		enum cd_err rc = start_segment(j, j->gen + 1, base, handled);
		pthread_mutex_lock(&j->mu);
		if (!rc) {
			j->failed = false;
			j->durable_seq = j->taken_seq = base;
			j->st.recoveries++;
			j->st.rotations++;
			log_msg(LOG_WARN, "iot journal: writing again in a new segment after a failed write",
				"\"gen\":%" PRIu64 ",\"base\":%" PRIu64, j->gen, base);
			return true;
		}
		backoff = backoff * 2 > J_RETRY_MAX_MS ? J_RETRY_MAX_MS : backoff * 2;
	}
}

static void *flusher_main(void *arg)
{
	struct iot_journal *j = arg;
	pthread_mutex_lock(&j->mu);
	for (;;) {
		if (j->failed) {
			if (!recover_locked(j))
				break; /* stopping */
			continue;
		}
		while (!j->pend.len && j->want_handled <= j->mark_taken && !j->stopping) {
			j->flusher_idle = true;
			pthread_cond_wait(&j->work, &j->mu);
			j->flusher_idle = false;
		}
		if (!j->pend.len && j->want_handled <= j->mark_taken)
			break; /* stopping with nothing left */
		struct jbuf batch = j->pend;
		j->pend = j->spare;
		j->pend.len = 0;
		j->spare = (struct jbuf){NULL, 0, 0};
		uint64_t last = j->last_seq, no = j->batch_open++;
		j->taken_seq = last;
		uint64_t mark = 0;
		if (j->want_handled > j->mark_taken)
			mark = j->mark_taken = j->want_handled;
		pthread_cond_broadcast(&j->room);
		pthread_mutex_unlock(&j->mu);

		if (mark) {
			/* Every record <= mark was taken in this batch or an earlier one: the mark lands after
			 * them in the file, so a durable mark never covers a record that is not. */
			unsigned char f[J_FRAME];
			memset(f, 0, sizeof f);
			fileio_put_le(f + 8, mark, 8);
			f[16] = J_KIND_MARK;
			fileio_put_le(f + 4, record_crc(0xFFFFFFFFu, f), 4);
			jbuf_append(&batch, f, sizeof f);
		}
		int werr = write_batch(j, batch.p, batch.len);
		int e = errno;
		size_t bytes = batch.len;
		if (!werr && last > j->active_last)
			j->active_last = last;
		bool rotate = !werr && j->end >= j->opt.segment_bytes;

		pthread_mutex_lock(&j->mu);
		batch.len = 0;
		j->spare = batch;
		if (werr) {
			log_msg(LOG_ERROR, "iot journal: write failed; appends are refused until a new segment is started",
				"\"errno\":%d,\"retry_ms\":%ld", e, j->opt.retry_ms);
			fail_locked(j);
			continue;
		}
		j->durable_seq = last;
		if (mark > j->handled_seq)
			j->handled_seq = mark;
		j->st.batches++;
		j->st.bytes += bytes;
		pthread_cond_broadcast(&j->done[no & 1]);
		pthread_mutex_unlock(&j->mu);

		if (mark && j->nsegs)
			prune_segments(j);
		enum cd_err rc = CD_OK;
		if (rotate) {
			pthread_mutex_lock(&j->mu);
			uint64_t handled = j->handled_seq;
			pthread_mutex_unlock(&j->mu);
			rc = start_segment(j, j->gen + 1, j->active_last, handled);
		}
		pthread_mutex_lock(&j->mu);
		if (rotate && !rc)
			j->st.rotations++;
		if (rc)
			fail_locked(j); /* nothing was lost (the batch is durable): a new segment is tried */
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

/* ---- open, close ----------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The segment numbers present for j->path, sorted (*out; xfree it). */
static enum cd_err list_segments(const struct iot_journal *j, uint64_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	char *dir = xstrdup(j->path);
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : j->path;
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, strlen(dir) + 1, ".");
	DIR *d = opendir(dir);
	if (!d) {
		log_msg(LOG_ERROR, "iot journal: cannot read its directory", "\"errno\":%d", errno);
		xfree(dir);
		return CD_ERR_IO;
	}
	size_t blen = strlen(base), cap = 0;
	uint64_t *gens = NULL;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		if (strlen(name) != blen + 1 + J_GEN_DIGITS || strncmp(name, base, blen) != 0 || name[blen] != '.')
			continue;
		uint64_t g = 0;
		bool digits = true;
		for (int i = 0; i < J_GEN_DIGITS; i++) {
			char c = name[blen + 1 + i];
			if (c < '0' || c > '9') {
				digits = false;
				break;
			}
			g = g * 10 + (uint64_t)(c - '0');
		}
		if (!digits || g == 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			gens = xrealloc(gens, cap * sizeof *gens);
		}
		gens[(*n)++] = g;
	}
	closedir(d);
	xfree(dir);
	if (*n)
		qsort(gens, *n, sizeof *gens, cmp_u64);
	*out = gens;
	return CD_OK;
}

/* Sets a corrupt segment aside as <name>.corrupt (kept for a person to look at). */
static void set_aside(const char *path)
{
	size_t n = strlen(path) + sizeof ".corrupt";
	char *to = xmalloc(n);
	snprintf(to, n, "%s.corrupt", path);
	if (rename(path, to) != 0)
		log_msg(LOG_ERROR, "iot journal: cannot set a corrupt segment aside", "\"errno\":%d", errno);
	xfree(to);
}

/* Cuts a segment's file at `end` (torn bytes, unused zeroes) and syncs it. */
static enum cd_err cut_tail(const char *path, uint64_t end, bool sync)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)end) != 0 || (sync && fdatasync(fd) != 0)) {
		log_msg(LOG_ERROR, "iot journal: cannot cut a segment's tail", "\"errno\":%d", errno);
		if (fd >= 0)
			close(fd);
		return CD_ERR_IO;
	}
	close(fd);
	return CD_OK;
}

/* Scans every segment at open: fills the closed list, the last seq, the handled mark, the
 * replay range; cuts a torn tail; sets corrupt segments aside. *max_gen gets the highest number. */
static enum cd_err recover(struct iot_journal *j, uint64_t *max_gen)
{
	uint64_t *gens = NULL;
	size_t n = 0;
	enum cd_err rc = list_segments(j, &gens, &n);
	if (rc)
		return rc;
	*max_gen = n ? gens[n - 1] : 0;
	uint64_t last = 0, handled = 0, last_record = 0; /* last_record: the last seq a record has */
	for (size_t i = 0; i < n && !rc; i++) {
		bool newest = i + 1 == n;
		char *path = seg_path(j, gens[i]);
		unsigned char *d = NULL;
		size_t size = 0;
		rc = read_file(path, &d, &size);
		struct scan s;
		if (!rc)
			rc = scan_bytes(d, size, gens[i], &s, NULL, NULL);
		xfree(d);
		if (rc) {
			log_msg(LOG_ERROR, "iot journal: cannot read a segment", "\"error\":\"%s\",\"gen\":%" PRIu64,
				cd_err_name(rc), gens[i]);
			xfree(path);
			break;
		}
		if (!s.header_ok) {
			if (newest) {
				/* Its creation was cut short: records go in only after the header is synced. */
				(void)unlink(path);
			} else {
				log_msg(LOG_ERROR, "iot journal: a segment has no valid header; set aside",
					"\"gen\":%" PRIu64, gens[i]);
				set_aside(path);
			}
			xfree(path);
			continue;
		}
		if (s.base < last)
			log_msg(LOG_WARN, "iot journal: a segment overlaps the one before it",
				"\"gen\":%" PRIu64 ",\"base\":%" PRIu64 ",\"before\":%" PRIu64, gens[i], s.base, last);
		else if (s.base > last && i > 0)
			/* after a failed write, the refused seqs are skipped (never acknowledged); else a
			 * segment went missing */
			log_msg(LOG_WARN, "iot journal: seqs missing between segments (refused after a failed write, or a segment lost)",
				"\"gen\":%" PRIu64 ",\"from\":%" PRIu64 ",\"to\":%" PRIu64, gens[i], last + 1, s.base);
		if (s.torn) {
			j->st.torn++;
			log_msg(newest ? LOG_WARN : LOG_ERROR,
				newest ? "iot journal: torn tail cut off (never acknowledged)"
				       : "iot journal: corrupt record inside an older segment; the rest of it is lost",
				"\"gen\":%" PRIu64 ",\"offset\":%" PRIu64 ",\"last_seq\":%" PRIu64, gens[i], s.end, s.last);
		}
		if (s.size > s.end && (newest || s.torn)) {
			rc = cut_tail(path, s.end, !j->opt.no_sync);
			if (rc) {
				xfree(path);
				break;
			}
		}
		xfree(path);
		if (s.last > last)
			last = s.last;
		if (s.records && s.last > last_record)
			last_record = s.last;
		if (s.handled > handled)
			handled = s.handled;
		if (j->nsegs == j->segs_cap) {
			j->segs_cap = j->segs_cap ? j->segs_cap * 2 : 16;
			j->segs = xrealloc(j->segs, j->segs_cap * sizeof *j->segs);
		}
		j->segs[j->nsegs++] = (struct jseg){gens[i], s.last};
	}
	xfree(gens);
	if (rc)
		return rc;
	if (handled > last)
		handled = last;
	j->last_seq = j->taken_seq = j->durable_seq = last;
	j->want_handled = j->mark_taken = j->handled_seq = handled;
	j->replay_from = handled;
	/* seqs skipped after a failed write end some segments without records */
	j->replay_to = last_record > handled ? last_record : handled;
	j->st.replayable = j->replay_to - handled;
	j->rsegs = xcalloc(j->nsegs ? j->nsegs : 1, sizeof *j->rsegs);
	for (size_t i = 0; i < j->nsegs; i++)
		if (j->segs[i].last_seq > handled)
			j->rsegs[j->nrsegs++] = j->segs[i];
	return CD_OK;
}

static void journal_free(struct iot_journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	if (j->lock_fd >= 0)
		close(j->lock_fd); /* releases the flock */
	pthread_cond_destroy(&j->work);
	pthread_cond_destroy(&j->room);
	pthread_cond_destroy(&j->done[0]);
	pthread_cond_destroy(&j->done[1]);
	pthread_mutex_destroy(&j->mu);
	pthread_mutex_destroy(&j->seg_mu);
	xfree(j->pend.p);
	xfree(j->spare.p);
	xfree(j->segs);
	xfree(j->rsegs);
	xfree(j->path);
	xfree(j);
}

enum cd_err iot_journal_open(const char *path, struct iot_journal **out)
{
	return iot_journal_open_with(path, NULL, out);
}

enum cd_err iot_journal_open_with(const char *path, const struct iot_journal_options *o, struct iot_journal **out)
{
	*out = NULL;
	if (!path || !*path)
		return CD_ERR_INVALID;
	pthread_once(&crc_once, crc_init);
	struct iot_journal *j = xcalloc(1, sizeof *j);
	if (o)
		j->opt = *o;
	if (!j->opt.segment_bytes)
		j->opt.segment_bytes = J_SEGMENT_DEFAULT;
	if (!j->opt.pending_bytes)
		j->opt.pending_bytes = J_PENDING_DEFAULT;
	if (j->opt.retry_ms <= 0)
		j->opt.retry_ms = J_RETRY_DEFAULT_MS;
	j->path = xstrdup(path);
	j->fd = -1;
	pthread_mutex_init(&j->mu, NULL);
	pthread_mutex_init(&j->seg_mu, NULL);
	pthread_cond_init(&j->work, NULL);
	pthread_cond_init(&j->room, NULL);
	pthread_cond_init(&j->done[0], NULL);
	pthread_cond_init(&j->done[1], NULL);
	j->batch_open = 1;

	enum cd_err rc = CD_ERR_IO;
	size_t ln = strlen(path) + sizeof ".lock";
	char *lock_path = xmalloc(ln);
	snprintf(lock_path, ln, "%s.lock", path);
	j->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	xfree(lock_path);
	if (j->lock_fd < 0) {
		log_msg(LOG_ERROR, "iot journal: cannot open its lock file", "\"errno\":%d", errno);
		goto fail;
	}
	if (flock(j->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? CD_ERR_BUSY : CD_ERR_IO;
		log_msg(LOG_ERROR, "iot journal: held by another process", "\"errno\":%d", errno);
		goto fail;
	}
	uint64_t max_gen = 0;
	rc = recover(j, &max_gen);
	if (rc)
		goto fail;
	/* A fresh segment for this run, carrying the last seq and the mark: the old ones can then
	 * all go once handled, and seqs never restart. Only after it exists are handled ones deleted. */
	rc = start_segment(j, max_gen + 1, j->last_seq, j->handled_seq);
	if (rc)
		goto fail;
	prune_segments(j);
	if (pthread_create(&j->flusher, NULL, flusher_main, j) != 0) {
		rc = CD_ERR_IO;
		goto fail;
	}
	j->flusher_started = true;
	if (j->st.replayable)
		log_msg(LOG_INFO, "iot journal: records to replay",
			"\"from\":%" PRIu64 ",\"to\":%" PRIu64, j->replay_from + 1, j->replay_to);
	*out = j;
	return CD_OK;
fail:
	journal_free(j);
	return rc;
}

void iot_journal_close(struct iot_journal *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	j->stopping = true;
	pthread_cond_signal(&j->work);
	pthread_cond_broadcast(&j->room);
	pthread_mutex_unlock(&j->mu);
	if (j->flusher_started)
		pthread_join(j->flusher, NULL);
	pthread_mutex_lock(&j->mu);
	if (j->durable_seq < j->last_seq)
		fail_locked(j); /* nothing will write them now: their waiters must not hang */
	pthread_mutex_unlock(&j->mu);
	journal_free(j);
}

/* ---- appends --------------------------------------------------------------------------------- */

enum cd_err iot_journal_append_nowait(struct iot_journal *j, unsigned kind, unsigned src, const void *msg,
				      size_t len, uint64_t *seq)
{
	if (seq)
		*seq = 0;
	if (kind == 0 || kind > IOT_JOURNAL_KIND_MAX || src > 255 || (len && !msg))
		return CD_ERR_INVALID;
	if (len > IOT_JOURNAL_RECORD_MAX)
		return CD_ERR_TOOBIG;
	uint32_t pcrc = crc_update(0xFFFFFFFFu, msg, len);
	pthread_mutex_lock(&j->mu);
	bool waited = false;
	while (!j->failed && !j->stopping && j->pend.len && j->pend.len + J_FRAME + len > j->opt.pending_bytes) {
		waited = true;
		pthread_cond_wait(&j->room, &j->mu);
	}
	if (j->failed || j->stopping) {
		pthread_mutex_unlock(&j->mu);
		return CD_ERR_IO;
	}
	uint64_t s = ++j->last_seq;
	unsigned char f[J_FRAME];
	memset(f, 0, sizeof f);
	fileio_put_le(f, len, 4);
	fileio_put_le(f + 8, s, 8);
	f[16] = (unsigned char)kind;
	f[17] = (unsigned char)src;
	fileio_put_le(f + 4, record_crc(pcrc, f), 4);
	jbuf_append(&j->pend, f, sizeof f);
	jbuf_append(&j->pend, msg, len);
	j->st.appended++;
	if (waited)
		j->st.waits++;
	if (j->flusher_idle)
		pthread_cond_signal(&j->work);
	pthread_mutex_unlock(&j->mu);
	if (seq)
		*seq = s;
	return CD_OK;
}

enum cd_err iot_journal_wait_range(struct iot_journal *j, uint64_t first, uint64_t seq)
{
	pthread_mutex_lock(&j->mu);
	if (seq > j->last_seq)
		seq = j->last_seq; /* nothing past the last record to wait for */
	if (first == 0)
		first = 1;
	/* A refused record never becomes durable; durable_seq passes it once writing resumes. */
	while (j->durable_seq < seq && !j->failed && !lost_locked(j, first, seq)) {
		/* Sleep on the parity of the batch that holds seq: the one being written when the
		 * flusher has taken it, else the open one; other batches' commits do not wake us. */
		uint64_t b = seq <= j->taken_seq ? j->batch_open - 1 : j->batch_open;
		pthread_cond_wait(&j->done[b & 1], &j->mu);
	}
	enum cd_err rc = j->durable_seq >= seq && (first > seq || !lost_locked(j, first, seq)) ? CD_OK : CD_ERR_IO;
	pthread_mutex_unlock(&j->mu);
	return rc;
}

enum cd_err iot_journal_wait(struct iot_journal *j, uint64_t seq)
{
	return iot_journal_wait_range(j, seq, seq);
}

enum cd_err iot_journal_append(struct iot_journal *j, unsigned kind, unsigned src, const void *msg, size_t len,
			       uint64_t *seq)
{
	uint64_t s = 0;
	enum cd_err rc = iot_journal_append_nowait(j, kind, src, msg, len, &s);
	if (!rc)
		rc = iot_journal_wait(j, s);
	if (seq)
		*seq = rc ? 0 : s;
	return rc;
}

void iot_journal_mark_handled(struct iot_journal *j, uint64_t seq)
{
	pthread_mutex_lock(&j->mu);
	if (seq > j->last_seq)
		seq = j->last_seq;
	if (seq > j->want_handled) {
		j->want_handled = seq;
		if (j->flusher_idle)
			pthread_cond_signal(&j->work);
	}
	pthread_mutex_unlock(&j->mu);
}

/* ---- replay ---------------------------------------------------------------------------------- */

struct replay_ctx {
	iot_journal_replay_fn fn;
	void *ctx;
	uint64_t from, to; /* hand out seqs in (from, to] */
	uint64_t next;     /* the lowest seq not handed out yet */
};

static enum cd_err replay_one(void *ctx, uint64_t seq, unsigned kind, unsigned src, const unsigned char *p,
			      size_t len)
{
	struct replay_ctx *r = ctx;
	if (seq <= r->from || seq > r->to || seq < r->next)
		return CD_OK;
	r->next = seq + 1;
	return r->fn(r->ctx, seq, kind, src, p, len);
}

enum cd_err iot_journal_replay(struct iot_journal *j, iot_journal_replay_fn fn, void *ctx)
{
	if (!fn)
		return CD_ERR_INVALID;
	pthread_mutex_lock(&j->mu);
	if (j->replaying || j->replayed) {
		pthread_mutex_unlock(&j->mu);
		return CD_ERR_CONFLICT;
	}
	j->replaying = true;
	pthread_mutex_unlock(&j->mu);
	/* A deletion that started before the flag was set finishes first; later ones see the flag. */
	pthread_mutex_lock(&j->seg_mu);
	pthread_mutex_unlock(&j->seg_mu);

	struct replay_ctx r = {fn, ctx, j->replay_from, j->replay_to, j->replay_from + 1};
	enum cd_err rc = CD_OK;
	for (size_t i = 0; i < j->nrsegs && !rc; i++) {
		char *path = seg_path(j, j->rsegs[i].gen);
		unsigned char *d = NULL;
		size_t size = 0;
		rc = read_file(path, &d, &size);
		if (rc == CD_ERR_NOTFOUND) {
			/* Deleted before the replay began, so every record in it was handled. */
			rc = CD_OK;
		} else if (!rc) {
			struct scan s;
			rc = scan_bytes(d, size, j->rsegs[i].gen, &s, replay_one, &r);
		}
		xfree(d);
		xfree(path);
	}
	if (!rc && r.next <= r.to)
		log_msg(LOG_ERROR, "iot journal: replay found fewer records than the scan at open",
			"\"next\":%" PRIu64 ",\"to\":%" PRIu64, r.next, r.to);
	pthread_mutex_lock(&j->mu);
	j->replaying = false;
	j->replayed = true;
	pthread_mutex_unlock(&j->mu);
	return rc;
}

void iot_journal_get_stats(struct iot_journal *j, struct iot_journal_stats *out)
{
	pthread_mutex_lock(&j->mu);
	*out = j->st;
	out->last_seq = j->last_seq;
	out->durable_seq = j->durable_seq;
	out->handled_seq = j->handled_seq;
	out->failed = j->failed;
	pthread_mutex_unlock(&j->mu);
	pthread_mutex_lock(&j->seg_mu);
	out->segments = j->nsegs + 1;
	pthread_mutex_unlock(&j->seg_mu);
}

/* ---- the hub's payloads ---------------------------------------------------------------------- */

struct pk {
	unsigned char *p;
	size_t len, cap;
	bool bad; /* a string without its NUL, or out of room */
};

static void pk_bytes(struct pk *w, const void *src, size_t n)
{
	if (w->bad || w->cap - w->len < n) {
		w->bad = true;
		return;
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void pk_uint(struct pk *w, uint64_t v, int bytes)
{
	unsigned char b[8];
	fileio_put_le(b, v, bytes);
	pk_bytes(w, b, (size_t)bytes);
}

static void pk_f64(struct pk *w, double d)
{
	uint64_t v;
	memcpy(&v, &d, sizeof v);
	pk_uint(w, v, 8);
}

/* A string from a fixed array of `cap` bytes (at most 65,535). */
static void pk_str(struct pk *w, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	if (n == cap) {
		w->bad = true;
		return;
	}
	pk_uint(w, n, 2);
	pk_bytes(w, s, n);
}

struct upk {
	const unsigned char *p;
	size_t len, pos;
	bool bad; /* read past the end, or a string that does not fit */
};

static uint64_t upk_uint(struct upk *r, int bytes)
{
	if (r->bad || r->len - r->pos < (size_t)bytes) {
		r->bad = true;
		return 0;
	}
	uint64_t v = fileio_get_le(r->p + r->pos, bytes);
	r->pos += (size_t)bytes;
	return v;
}

static double upk_f64(struct upk *r)
{
	uint64_t v = upk_uint(r, 8);
	double d;
	memcpy(&d, &v, sizeof d);
	return d;
}

static void upk_str(struct upk *r, char *dst, size_t cap)
{
	size_t n = (size_t)upk_uint(r, 2);
	if (r->bad || r->len - r->pos < n || n >= cap || memchr(r->p + r->pos, 0, n)) {
		r->bad = true;
		dst[0] = '\0';
		return;
	}
	memcpy(dst, r->p + r->pos, n);
	dst[n] = '\0';
	r->pos += n;
}

static enum cd_err pk_done(const struct pk *w, size_t *len)
{
	*len = w->bad ? 0 : w->len;
	return w->bad ? CD_ERR_INVALID : CD_OK;
}

static enum cd_err upk_done(const struct upk *r)
{
	return !r->bad && r->pos == r->len ? CD_OK : CD_ERR_CORRUPT;
}

enum cd_err iot_journal_pack_telemetry(const struct iot_telemetry *t, unsigned char out[IOT_JOURNAL_PACK_MAX],
				       size_t *len)
{
	struct pk w = {out, 0, IOT_JOURNAL_PACK_MAX, false};
	if (t->n > IOT_MAX_VALUES)
		w.bad = true;
	pk_uint(&w, J_PACK_VERSION, 1);
	pk_str(&w, t->device, sizeof t->device);
	pk_uint(&w, (uint64_t)t->ts_ms, 8);
	pk_uint(&w, w.bad ? 0 : t->n, 1);
	for (size_t i = 0; i < t->n && !w.bad; i++) {
		pk_str(&w, t->v[i].metric, sizeof t->v[i].metric);
		pk_f64(&w, t->v[i].value);
	}
	return pk_done(&w, len);
}

enum cd_err iot_journal_unpack_telemetry(const void *p, size_t len, struct iot_telemetry *out)
{
	memset(out, 0, sizeof *out);
	struct upk r = {p, len, 0, false};
	if (upk_uint(&r, 1) != J_PACK_VERSION)
		return CD_ERR_CORRUPT;
	upk_str(&r, out->device, sizeof out->device);
	out->ts_ms = (int64_t)upk_uint(&r, 8);
	size_t n = (size_t)upk_uint(&r, 1);
	if (n > IOT_MAX_VALUES)
		return CD_ERR_CORRUPT;
	for (size_t i = 0; i < n && !r.bad; i++) {
		upk_str(&r, out->v[i].metric, sizeof out->v[i].metric);
		out->v[i].value = upk_f64(&r);
	}
	out->n = n;
	return upk_done(&r);
}

enum cd_err iot_journal_pack_event(const struct iot_event *e, unsigned char out[IOT_JOURNAL_PACK_MAX], size_t *len)
{
	struct pk w = {out, 0, IOT_JOURNAL_PACK_MAX, false};
	pk_uint(&w, J_PACK_VERSION, 1);
	pk_str(&w, e->device, sizeof e->device);
	pk_uint(&w, (uint64_t)e->ts_ms, 8);
	pk_str(&w, e->type, sizeof e->type);
	pk_str(&w, e->level, sizeof e->level);
	pk_str(&w, e->detail, sizeof e->detail);
	return pk_done(&w, len);
}

enum cd_err iot_journal_unpack_event(const void *p, size_t len, struct iot_event *out)
{
	memset(out, 0, sizeof *out);
	struct upk r = {p, len, 0, false};
	if (upk_uint(&r, 1) != J_PACK_VERSION)
		return CD_ERR_CORRUPT;
	upk_str(&r, out->device, sizeof out->device);
	out->ts_ms = (int64_t)upk_uint(&r, 8);
	upk_str(&r, out->type, sizeof out->type);
	upk_str(&r, out->level, sizeof out->level);
	upk_str(&r, out->detail, sizeof out->detail);
	return upk_done(&r);
}

enum cd_err iot_journal_pack_status(const struct iot_status *s, unsigned char out[IOT_JOURNAL_PACK_MAX],
				    size_t *len)
{
	struct pk w = {out, 0, IOT_JOURNAL_PACK_MAX, false};
	pk_uint(&w, J_PACK_VERSION, 1);
	pk_str(&w, s->device, sizeof s->device);
	pk_uint(&w, (uint64_t)s->ts_ms, 8);
	pk_uint(&w, s->online ? 1 : 0, 1);
	return pk_done(&w, len);
}

enum cd_err iot_journal_unpack_status(const void *p, size_t len, struct iot_status *out)
{
	memset(out, 0, sizeof *out);
	struct upk r = {p, len, 0, false};
	if (upk_uint(&r, 1) != J_PACK_VERSION)
		return CD_ERR_CORRUPT;
	upk_str(&r, out->device, sizeof out->device);
	out->ts_ms = (int64_t)upk_uint(&r, 8);
	uint64_t on = upk_uint(&r, 1);
	if (on > 1)
		return CD_ERR_CORRUPT;
	out->online = on == 1;
	return upk_done(&r);
}

/* Every packed form is its struct's strings without their unused bytes plus 2 bytes of length
 * each and a version byte: it fits when the struct does, with room to spare. */
_Static_assert(sizeof(struct iot_telemetry) + 128 <= IOT_JOURNAL_PACK_MAX, "telemetry fits");
_Static_assert(sizeof(struct iot_event) + 64 <= IOT_JOURNAL_PACK_MAX, "event fits");
_Static_assert(sizeof(struct alerts_ingest) + 64 <= IOT_JOURNAL_PACK_MAX, "ingest fits");

enum cd_err iot_journal_pack_ingest(const struct alerts_ingest *in, unsigned char out[IOT_JOURNAL_PACK_MAX],
				    size_t *len)
{
	struct pk w = {out, 0, IOT_JOURNAL_PACK_MAX, false};
	pk_uint(&w, J_PACK_VERSION, 1);
	pk_str(&w, in->system, sizeof in->system);
	pk_str(&w, in->id, sizeof in->id);
	pk_str(&w, in->device, sizeof in->device);
	pk_str(&w, in->type, sizeof in->type);
	pk_str(&w, in->level, sizeof in->level);
	pk_uint(&w, in->cleared ? 1 : 0, 1);
	pk_uint(&w, (uint64_t)in->ts_ms, 8);
	pk_str(&w, in->title, sizeof in->title);
	pk_str(&w, in->detail, sizeof in->detail);
	pk_uint(&w, in->has_point ? 1 : 0, 1);
	pk_f64(&w, in->lat);
	pk_f64(&w, in->lng);
	pk_str(&w, in->address, sizeof in->address);
	pk_str(&w, in->category, sizeof in->category);
	return pk_done(&w, len);
}

enum cd_err iot_journal_unpack_ingest(const void *p, size_t len, struct alerts_ingest *out)
{
	memset(out, 0, sizeof *out);
	struct upk r = {p, len, 0, false};
	if (upk_uint(&r, 1) != J_PACK_VERSION)
		return CD_ERR_CORRUPT;
	upk_str(&r, out->system, sizeof out->system);
	upk_str(&r, out->id, sizeof out->id);
	upk_str(&r, out->device, sizeof out->device);
	upk_str(&r, out->type, sizeof out->type);
	upk_str(&r, out->level, sizeof out->level);
	uint64_t cleared = upk_uint(&r, 1);
	out->ts_ms = (int64_t)upk_uint(&r, 8);
	upk_str(&r, out->title, sizeof out->title);
	upk_str(&r, out->detail, sizeof out->detail);
	uint64_t has_point = upk_uint(&r, 1);
	out->lat = upk_f64(&r);
	out->lng = upk_f64(&r);
	upk_str(&r, out->address, sizeof out->address);
	upk_str(&r, out->category, sizeof out->category);
	if (cleared > 1 || has_point > 1)
		return CD_ERR_CORRUPT;
	out->cleared = cleared == 1;
	out->has_point = has_point == 1;
	return upk_done(&r);
}
