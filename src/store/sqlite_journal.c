/* The intake journal: journal-mode case intake appends each batch of new cases to an
 * append-only file beside the database and fdatasyncs it once (the durability point that
 * acknowledges them); a background thread applies journalled cases to SQLite in large
 * transactions on its own connection, recording the applied journal position in the same
 * transaction, so a restart replays exactly what was not applied. docs/internals/store.md
 * ("The intake journal") has the file format, the recovery rules and the read guarantees. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "store/sqlite_int.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/fileio.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/str.h"
#include "util/u64set.h"

#define J_MAGIC "CDJ1"
#define J_HEADER 16		  /* magic (4), version/zero (4), journal id (8, little-endian) */
#define J_FRAME 8		  /* per record: payload length (4), CRC-32 of the payload (4) */
#define J_RECORD_MAX (64u * 1024) /* a case with every text at its maximum is ~25 KB */
#define J_BUCKETS (1u << 16)	  /* hash buckets per index of pending cases */
#ifndef J_APPLY_MAX
#define J_APPLY_MAX 2000 /* cases per apply transaction */
#endif
#define J_PENDING_MAX 200000	     /* journalled but unapplied cases before intake waits */
#define J_PENDING_BYTES (192u << 20) /* ... or payload bytes */
#define J_ROTATE_BYTES (64u << 20)   /* restart the file once everything in it is applied */
#define J_GROW (1u << 20)	     /* zeroes the writer adds when it runs out */
#define J_AHEAD (16u << 20)	     /* zeroes the applier keeps ahead of the records */
#define J_AHEAD_CHUNK (256u << 10)   /* ... written and synced this much at a time */
#define J_DAYS 4096		     /* daily ref counters kept in memory */
#define J_PAYLOAD_VERSION 1
#define J_KNOWN 65536 /* ids remembered to exist (a power of two; cases are never deleted) */
#define J_FAILING 25 /* failed apply tries (200 ms apart) before intake stops waiting */
/* The applier waits for this many pending cases, at most J_APPLY_GATHER_MS, before a
 * transaction, unless someone waits for it (a barrier) or it is stopping. Each commit rewrites
 * the b-tree pages its cases touched and fsyncs the WAL: under intake a transaction held ~60
 * cases, and gathered ~250 the applier's CPU per case fell by 2-3 us. Gathering 1,000 for up
 * to 20 ms saved a little more but raised the intake p99 from 7-9 to 10-14 ms (a larger WAL
 * fsync delays the journal's fdatasync behind it on the disk). */
#define J_APPLY_GATHER 250
#define J_APPLY_GATHER_MS 5
#ifndef J_APPLIER_NICE
#define J_APPLIER_NICE 10 /* the applier's nice value (0: same as the server) */
#endif

/* One journalled case not yet in the database: its record and the keys readers look it up by. */
struct jrec {
	struct jrec *next;			    /* FIFO, oldest first */
	struct jrec *next_id, *next_ref, *next_ext; /* bucket chains */
	int64_t id;
	uint64_t seq; /* 1, 2, 3 ... in journal order */
	uint64_t end; /* journal offset just past this record */
	char ref[STORE_CASE_REF_MAX];
	char *ext;	      /* "channel\x1f" "external id", or NULL; same allocation */
	uint32_t len;	      /* payload bytes */
	unsigned char data[]; /* the payload */
};

struct jday {
	char day[9];  /* YYYYMMDD */
	int64_t last; /* last sequence number handed out */
};

struct store__journal {
	struct store *st;  /* the store whose intake this is */
	struct store *ast; /* the applier's own connection */
	int fd;		   /* the journal file, flock()ed for the life of the journal */
	char *path;
	pthread_mutex_t wlock;	/* one writer at a time (appends, rotation, counters) */
	pthread_mutex_t lock;	/* pending list and indexes, counters below */
	pthread_cond_t work;	/* pending cases arrived, or stop */
	pthread_cond_t applied; /* the applier committed some */
	pthread_cond_t room;	/* the pending backlog shrank */
	pthread_t applier;
	int applier_alive;
	int gathering; /* the applier waits for J_APPLY_GATHER cases: the writer need not wake it */
	int waiters;   /* threads in wait_applied: the applier stops gathering for them */
	int stopping;
	int broken;		  /* an append failed: the file's tail is unknown, intake refused */
	int failing;		  /* the applier's last J_FAILING tries failed: a full backlog refuses */
	uint64_t jid;		  /* journal id in the header */
	uint64_t end;		  /* end of the durable records */
	uint64_t zeroed;	  /* the file's size: [end, zeroed) is zeroes or stale records */
	pthread_mutex_t xlock;	  /* held while the file is extended; guards zeroed */
	struct jrec *head, *tail; /* pending, oldest first */
	size_t npending, pending_bytes;
	uint64_t seq_written, seq_applied;
	struct jrec **by_id, **by_ref, **by_ext;
	/* Writer-only. */
	int64_t next_id;
	/* Hashes of every (channel, external id) stored or journalled: a new report's external id
	 * not among them needs no database read (find_ext). Filled at start, then by the writer. */
	struct u64set ext_seen;
	struct jday days[J_DAYS];
	int ndays;
	/* Under lock: direct-mapped, ids in the database (id_known; drop_head fills it). */
	int64_t known[J_KNOWN];
	/* Statistics. */
	int64_t batches, apply_tx, max_pending;
	int64_t gathered; /* apply transactions that waited and found more cases than they had */
};

static void extend_ahead(struct store__journal *j);

/* ---- CRC-32 (IEEE) ----------------------------------------------------------------------- */

/* CRC-32 of the journal id (8 bytes LE) followed by the payload: a record left over from an
 * earlier generation of the file (it is reused, not truncated) never checks out. zlib's crc32
 * is the same CRC as the byte-at-a-time table this file used to carry (so journals written
 * before still replay), ~9x faster: 0.47 against 4.1 us for 1,500 bytes here, which was 15 %
 * of the intake writer's time. */
static uint32_t record_crc(uint64_t jid, const unsigned char *p, size_t n)
{
	unsigned char id[8];
	fileio_put_le(id, jid, 8);
	uLong c = crc32(crc32(0L, Z_NULL, 0), id, sizeof id);
	return (uint32_t)crc32_z(c, p, n);
}

/* ---- the record codec ----------------------------------------------------------------- */

struct wbuf {
	unsigned char *p;
	size_t len, cap;
};

static void w_bytes(struct wbuf *w, const void *src, size_t n)
{
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 65536;
		while (cap < w->len + n)
			cap *= 2;
		w->p = xrealloc(w->p, cap);
		w->cap = cap;
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void w_uint(struct wbuf *w, uint64_t v, int bytes)
{
	unsigned char b[8];
	fileio_put_le(b, v, bytes);
	w_bytes(w, b, (size_t)bytes);
}

static void w_f64(struct wbuf *w, double d)
{
	uint64_t v;
	memcpy(&v, &d, sizeof v);
	w_uint(w, v, 8);
}

/* Strings come from fixed arrays of at most 12,001 bytes: a 2-byte length suffices. */
static void w_str(struct wbuf *w, const char *s)
{
	size_t n = strlen(s);
	w_uint(w, n, 2);
	w_bytes(w, s, n);
}

struct rbuf {
	const unsigned char *p;
	size_t len, pos;
	int bad; /* a read went past the end or a string did not fit */
};

static uint64_t r_uint(struct rbuf *r, int bytes)
{
	if (r->bad || r->len - r->pos < (size_t)bytes) {
		r->bad = 1;
		return 0;
	}
	uint64_t v = fileio_get_le(r->p + r->pos, bytes);
	r->pos += (size_t)bytes;
	return v;
}

static double r_f64(struct rbuf *r)
{
	uint64_t v = r_uint(r, 8);
	double d;
	memcpy(&d, &v, sizeof d);
	return d;
}

/* Copies a string into dst[0..cap) (NUL-terminated); dst NULL skips it. */
static void r_str(struct rbuf *r, char *dst, size_t cap)
{
	size_t n = (size_t)r_uint(r, 2);
	if (r->bad || r->len - r->pos < n || (dst && n >= cap)) {
		r->bad = 1;
		if (dst && cap)
			dst[0] = '\0';
		return;
	}
	if (dst) {
		memcpy(dst, r->p + r->pos, n);
		dst[n] = '\0';
	}
	r->pos += n;
}

static void encode(struct wbuf *w, const struct store_actor *actor, const struct store_case *c,
		   const struct store_case_event *ev)
{
	w_uint(w, J_PAYLOAD_VERSION, 1);
	w_str(w, actor && actor->name ? actor->name : "system");
	w_str(w, actor && actor->client ? actor->client : "");
	for (size_t k = 0; k < STORE__CASE_NFIELDS; k++) {
		const struct store__field *f = &store__case_fields[k];
		const char *p = (const char *)c + f->off;
		switch (f->type) {
		case STORE__F_TEXT:
		case STORE__F_OTEXT:
			w_str(w, p);
			break;
		case STORE__F_I64:
		case STORE__F_OI64: {
			int64_t v;
			memcpy(&v, p, sizeof v);
			w_uint(w, (uint64_t)v, 8);
			break;
		}
		case STORE__F_INT: {
			int v;
			memcpy(&v, p, sizeof v);
			w_uint(w, (uint32_t)v, 4);
			break;
		}
		case STORE__F_REAL:
		case STORE__F_POINT: {
			double v;
			memcpy(&v, p, sizeof v);
			w_f64(w, v);
			break;
		}
		}
	}
	w_uint(w, (uint64_t)(c->has_point ? 1 : 0), 1);
	w_uint(w, (uint64_t)ev->at, 8);
	w_str(w, ev->actor);
	w_str(w, ev->role);
	w_str(w, ev->action);
	w_str(w, ev->from_status);
	w_str(w, ev->to_status);
	w_str(w, ev->comment);
	w_str(w, ev->data);
}

/* Decodes a payload; ev, actor_name and actor_client may be NULL (skipped). 0 when the
 * payload is malformed. */
static int decode(const unsigned char *p, size_t len, struct store_case *c, struct store_case_event *ev,
		  char *actor_name, size_t name_cap, char *actor_client, size_t client_cap)
{
	struct rbuf r = {p, len, 0, 0};
	if (r_uint(&r, 1) != J_PAYLOAD_VERSION)
		return 0;
	r_str(&r, actor_name, name_cap);
	r_str(&r, actor_client, client_cap);
	for (size_t k = 0; k < STORE__CASE_NFIELDS && !r.bad; k++) {
		const struct store__field *f = &store__case_fields[k];
		char *q = (char *)c + f->off;
		switch (f->type) {
		case STORE__F_TEXT:
		case STORE__F_OTEXT:
			r_str(&r, q, f->size);
			break;
		case STORE__F_I64:
		case STORE__F_OI64: {
			int64_t v = (int64_t)r_uint(&r, 8);
			memcpy(q, &v, sizeof v);
			break;
		}
		case STORE__F_INT: {
			int v = (int)(int32_t)(uint32_t)r_uint(&r, 4);
			memcpy(q, &v, sizeof v);
			break;
		}
		case STORE__F_REAL:
		case STORE__F_POINT: {
			double v = r_f64(&r);
			memcpy(q, &v, sizeof v);
			break;
		}
		}
	}
	c->has_point = (int)r_uint(&r, 1);
	if (ev) {
		memset(ev, 0, offsetof(struct store_case_event, comment));
		ev->case_id = c->id;
		ev->at = (int64_t)r_uint(&r, 8);
		r_str(&r, ev->actor, sizeof ev->actor);
		r_str(&r, ev->role, sizeof ev->role);
		r_str(&r, ev->action, sizeof ev->action);
		r_str(&r, ev->from_status, sizeof ev->from_status);
		r_str(&r, ev->to_status, sizeof ev->to_status);
		r_str(&r, ev->comment, sizeof ev->comment);
		r_str(&r, ev->data, sizeof ev->data);
	}
	return !r.bad;
}

/* ---- the pending index ---------------------------------------------------------------- */

static uint32_t hash_str(const char *s)
{
	return str_fnv1a(STR_FNV_SEED, s) & (J_BUCKETS - 1);
}

static uint32_t hash_ext(const char *channel, const char *ext)
{
	return str_fnv1a(str_fnv1a(str_fnv1a(STR_FNV_SEED, channel), "\x1f"), ext) & (J_BUCKETS - 1);
}

static uint32_t hash_id(int64_t id)
{
	return (uint32_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 40) & (J_BUCKETS - 1);
}

/* "channel\x1fext" equals (channel, ext). */
static int ext_equals(const char *key, const char *channel, const char *ext)
{
	size_t cl = strlen(channel);
	return strncmp(key, channel, cl) == 0 && key[cl] == 0x1f && strcmp(key + cl + 1, ext) == 0;
}

/* Journal locked. */
static struct jrec *find_pending(struct store__journal *j, int64_t id, const char *ref, const char *channel,
				 const char *ext)
{
	if (id) {
		for (struct jrec *r = j->by_id[hash_id(id)]; r; r = r->next_id)
			if (r->id == id)
				return r;
	} else if (ref) {
		for (struct jrec *r = j->by_ref[hash_str(ref)]; r; r = r->next_ref)
			if (strcmp(r->ref, ref) == 0)
				return r;
	} else if (channel && ext) {
		for (struct jrec *r = j->by_ext[hash_ext(channel, ext)]; r; r = r->next_ext)
			if (r->ext && ext_equals(r->ext, channel, ext))
				return r;
	}
	return NULL;
}

static void unlink_chain(struct jrec **slot, struct jrec *rec, size_t link_off)
{
	while (*slot) {
		if (*slot == rec) {
			struct jrec **next = (struct jrec **)((char *)rec + link_off);
			*slot = *next;
			return;
		}
		slot = (struct jrec **)((char *)*slot + link_off);
	}
}

/* Takes the oldest pending record out of the list and the indexes. Journal locked. */
static void drop_head(struct store__journal *j)
{
	struct jrec *r = j->head;
	j->head = r->next;
	if (!j->head)
		j->tail = NULL;
	unlink_chain(&j->by_id[hash_id(r->id)], r, offsetof(struct jrec, next_id));
	unlink_chain(&j->by_ref[hash_str(r->ref)], r, offsetof(struct jrec, next_ref));
	if (r->ext) {
		const char *sep = strchr(r->ext, 0x1f);
		char channel[STORE_CASE_WORD_MAX];
		snprintf(channel, sizeof channel, "%.*s", (int)(sep - r->ext), r->ext);
		unlink_chain(&j->by_ext[hash_ext(channel, sep + 1)], r, offsetof(struct jrec, next_ext));
	}
	j->npending--;
	j->pending_bytes -= r->len;
	/* Applied now: duplicates point at recent cases, and id_known finds them here instead of
	 * probing the database. (A record the database refused is dropped too; that only happens
	 * to a database changed behind the store's back, and is logged by the apply.) */
	j->known[(uint64_t)r->id & (J_KNOWN - 1)] = r->id;
	xfree(r);
}

enum cd_err store__journal_get(struct store *st, int64_t id, const char *ref, const char *channel,
			       const char *ext, struct store_case *out)
{
	struct store__journal *j = st->journal;
	if (!j)
		return CD_ERR_NOTFOUND;
	enum cd_err rc = CD_ERR_NOTFOUND;
	pthread_mutex_lock(&j->lock);
	struct jrec *r = j->npending ? find_pending(j, id, ref, channel, ext) : NULL;
	if (r)
		rc = decode(r->data, r->len, out, NULL, NULL, 0, NULL, 0) ? CD_OK : CD_ERR_CORRUPT;
	pthread_mutex_unlock(&j->lock);
	return rc;
}

/* Waits until the applier has passed `target` (journal locked); gives up after max_ms when
 * max_ms > 0. 1 when it got there. */
static int wait_applied(struct store__journal *j, uint64_t target, int max_ms)
{
	if (j->seq_applied >= target)
		return 1;
	struct timespec until;
	clock_deadline_in(&until, max_ms > 0 ? max_ms : 0);
	j->waiters++;
	pthread_cond_signal(&j->work); /* a gathering applier goes now */
	while (j->seq_applied < target && j->applier_alive) {
		if (max_ms <= 0)
			pthread_cond_wait(&j->applied, &j->lock);
		else if (pthread_cond_timedwait(&j->applied, &j->lock, &until) == ETIMEDOUT)
			break;
	}
	j->waiters--;
	return j->seq_applied >= target;
}

void store__journal_barrier(struct store *st, int max_ms)
{
	struct store__journal *j = st->journal;
	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	uint64_t target = j->seq_written, behind = target - j->seq_applied;
	int done = wait_applied(j, target, max_ms);
	pthread_mutex_unlock(&j->lock);
	if (!done)
		log_msg(LOG_WARN, "store: read answered before the applier caught up",
			"\"waited_ms\":%d,\"behind\":%" PRIu64, max_ms, behind);
}

void store__journal_wait_case(struct store *st, int64_t id)
{
	struct store__journal *j = st->journal;
	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	struct jrec *r = j->npending ? find_pending(j, id, NULL, NULL, NULL) : NULL;
	if (r)
		(void)wait_applied(j, r->seq, 0);
	pthread_mutex_unlock(&j->lock);
}

enum cd_err store__journal_first_event(struct store *st, int64_t id, struct store_case_event *ev)
{
	struct store__journal *j = st->journal;
	if (!j)
		return CD_ERR_NOTFOUND;
	struct store_case *c = xmalloc(sizeof *c);
	enum cd_err rc = CD_ERR_NOTFOUND;
	pthread_mutex_lock(&j->lock);
	struct jrec *r = j->npending ? find_pending(j, id, NULL, NULL, NULL) : NULL;
	if (r)
		rc = decode(r->data, r->len, c, ev, NULL, 0, NULL, 0) ? CD_OK : CD_ERR_CORRUPT;
	pthread_mutex_unlock(&j->lock);
	xfree(c);
	return rc;
}

/* ---- the file --------------------------------------------------------------------------- */

static char *journal_path(const struct store *st)
{
	size_t n = strlen(st->path) + sizeof "-intake";
	char *p = xmalloc(n);
	snprintf(p, n, "%s-intake", st->path);
	return p;
}

/* Starts the file again under a new journal id, only when everything in it is in the database.
 * The file is not truncated: its blocks are reused, and overwriting allocated blocks makes each
 * fdatasync a data flush without a metadata update (~130 instead of ~245 us here). The old
 * records stay behind but fail their CRC under the new id. */
static enum cd_err reset_file(int fd, uint64_t *jid)
{
	unsigned char h[J_HEADER + J_FRAME]; /* the header and a zero frame: the (empty) end */
	uint64_t id;
	randombytes_buf(&id, sizeof id);
	memset(h, 0, sizeof h);
	memcpy(h, J_MAGIC, 4);
	fileio_put_le(h + 8, id, 8);
	if (fileio_pwrite_all(fd, h, sizeof h, 0) != 0 || fdatasync(fd) != 0) {
		log_msg(LOG_ERROR, "store: cannot reset the intake journal", "\"errno\":%d", errno);
		return CD_ERR_IO;
	}
	*jid = id;
	return CD_OK;
}

/* Reading journalled records back for a replay, one transaction's worth at a time. */
struct replay {
	int fd;
	uint64_t off, size;
	size_t count, max; /* records handed out in this transaction, and its limit */
	int torn;	   /* stopped at a record that is not whole (or of an older generation) */
	uint64_t jid;
	char mark[64];	    /* "<jid>:<offset past the last record handed out>" */
	unsigned char *buf; /* J_RECORD_MAX bytes */
	char name[STORE_USERNAME_MAX], client[64];
};

static int replay_next(void *ctx, struct store_case *c, struct store_case_event *ev,
		       struct store_actor *actor)
{
	struct replay *rp = ctx;
	unsigned char fr[J_FRAME];
	if (rp->count == rp->max || rp->torn || rp->size - rp->off < J_FRAME)
		return 0;
	if (fileio_pread_all(rp->fd, fr, J_FRAME, rp->off) != 0) {
		rp->torn = 1;
		return 0;
	}
	uint32_t len = (uint32_t)fileio_get_le(fr, 4), crc = (uint32_t)fileio_get_le(fr + 4, 4);
	if (len == 0 && crc == 0)
		return 0; /* the zeroes written ahead: the end */
	if (len == 0 || len > J_RECORD_MAX || rp->size - rp->off - J_FRAME < len ||
	    fileio_pread_all(rp->fd, rp->buf, len, rp->off + J_FRAME) != 0 ||
	    record_crc(rp->jid, rp->buf, len) != crc ||
	    !decode(rp->buf, len, c, ev, rp->name, sizeof rp->name, rp->client, sizeof rp->client)) {
		rp->torn = 1; /* written but never acknowledged: the fdatasync did not return */
		return 0;
	}
	rp->off += J_FRAME + len;
	rp->count++;
	snprintf(rp->mark, sizeof rp->mark, "%016" PRIx64 ":%" PRIu64, rp->jid, rp->off);
	actor->name = rp->name;
	actor->client = rp->client;
	return 1;
}

/* Applies every whole record of the journal that the database has not got, then resets the
 * file. The applied position comes from meta[STORE__JOURNAL_MARK] when it names this file's
 * journal id; otherwise every record is replayed (the apply skips ids already stored). */
static enum cd_err replay(struct store *st, int fd, uint64_t *jid_out)
{
	struct stat sb;
	unsigned char h[J_HEADER];
	if (fstat(fd, &sb) != 0)
		return CD_ERR_IO;
	if (sb.st_size < J_HEADER)
		return reset_file(fd, jid_out); /* new, or its creation was cut short */
	if (fileio_pread_all(fd, h, sizeof h, 0) != 0)
		return CD_ERR_IO;
	if (memcmp(h, J_MAGIC, 4) != 0) {
		log_msg(LOG_ERROR, "store: the intake journal has no valid header; refusing to guess", NULL);
		return CD_ERR_CORRUPT;
	}
	struct replay rp;
	memset(&rp, 0, sizeof rp);
	rp.fd = fd;
	rp.size = (uint64_t)sb.st_size;
	rp.jid = fileio_get_le(h + 8, 8);
	rp.off = J_HEADER;
	rp.max = J_APPLY_MAX;
	char mark[64];
	if (store_meta_get(st, STORE__JOURNAL_MARK, mark, sizeof mark) == CD_OK) {
		char *colon = strchr(mark, ':');
		if (colon) {
			*colon = '\0';
			char *e1 = NULL, *e2 = NULL;
			uint64_t id = strtoull(mark, &e1, 16), pos = strtoull(colon + 1, &e2, 10);
			if (*e1 == '\0' && *e2 == '\0' && id == rp.jid && pos >= J_HEADER)
				rp.off = pos;
		}
	}
	snprintf(rp.mark, sizeof rp.mark, "%016" PRIx64 ":%" PRIu64, rp.jid, rp.off);
	rp.buf = xmalloc(J_RECORD_MAX);
	enum cd_err rc = CD_OK;
	size_t total = 0;
	uint64_t from = rp.off;
	for (;;) {
		size_t applied = 0;
		rp.count = 0;
		if (rp.off >= rp.size)
			break;
		rc = store__cases_apply(st, replay_next, &rp, rp.mark, &applied);
		if (rc)
			break;
		total += applied;
		if (rp.count < rp.max)
			break;
	}
	xfree(rp.buf);
	if (rc) {
		log_msg(LOG_ERROR, "store: intake journal replay failed", "\"error\":\"%s\"",
			cd_err_name(rc));
		return rc;
	}
	if (rp.torn)
		log_msg(LOG_WARN,
			"store: intake journal ends at a record that is torn or from an earlier "
			"generation of the file (never acknowledged); dropped",
			"\"offset\":%" PRIu64, rp.off);
	if (rp.off > from || total)
		log_msg(LOG_INFO, "store: intake journal replayed", "\"cases\":%zu,\"bytes\":%" PRIu64, total,
			rp.off - from);
	return reset_file(fd, jid_out);
}

/* Opens and locks the journal file; -1 (errno EWOULDBLOCK) when another process holds it. */
static int open_locked(const char *path, int create)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

enum cd_err store__journal_recover(struct store *st)
{
	char *path = journal_path(st);
	int fd = open_locked(path, 0);
	enum cd_err rc = CD_OK;
	if (fd < 0) {
		if (errno == EWOULDBLOCK)
			log_msg(LOG_INFO,
				"store: intake journal held by another process (the server); not replaying",
				NULL);
		else if (errno != ENOENT)
			rc = CD_ERR_IO;
		xfree(path);
		return rc;
	}
	uint64_t jid = 0;
	rc = replay(st, fd, &jid);
	close(fd);
	xfree(path);
	return rc;
}

/* ---- the applier ------------------------------------------------------------------------- */

struct apply_batch {
	struct jrec **recs;
	size_t n, i;
	uint64_t jid;
	char mark[64];
	char name[STORE_USERNAME_MAX], client[64];
};

static int apply_next(void *ctx, struct store_case *c, struct store_case_event *ev, struct store_actor *actor)
{
	struct apply_batch *b = ctx;
	if (b->i == b->n)
		return 0;
	struct jrec *r = b->recs[b->i++];
	if (!decode(r->data, r->len, c, ev, b->name, sizeof b->name, b->client, sizeof b->client))
		return -1;
	actor->name = b->name;
	actor->client = b->client;
	return 1;
}

static void *applier_main(void *arg)
{
	struct store__journal *j = arg;
	struct apply_batch b;
	memset(&b, 0, sizeof b);
	pthread_setname_np(pthread_self(), "intake-apply"); /* for top -H and perf */
	/* Acknowledging comes first: under a burst the request threads get the CPU and the
	 * applier catches up after it (the backlog is bounded by J_PENDING_MAX). Linux applies a
	 * nice value to the calling thread alone. */
	if (J_APPLIER_NICE && setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), J_APPLIER_NICE) != 0)
		log_msg(LOG_WARN, "store: cannot lower the journal applier's priority", "\"errno\":%d",
			errno);
	b.recs = xcalloc(J_APPLY_MAX, sizeof *b.recs);
	int failures = 0;
	pthread_mutex_lock(&j->lock);
	for (;;) {
		while (!j->head && !j->stopping)
			pthread_cond_wait(&j->work, &j->lock);
		if (!j->head)
			break;
		if (j->npending < J_APPLY_GATHER && !j->stopping && !j->waiters) {
			struct timespec until;
			clock_deadline_in(&until, J_APPLY_GATHER_MS);
			size_t had = j->npending;
			j->gathering = 1;
			while (j->npending < J_APPLY_GATHER && !j->stopping && !j->waiters &&
			       pthread_cond_timedwait(&j->work, &j->lock, &until) == 0)
				;
			j->gathering = 0;
			j->gathered += j->npending > had;
		}
		b.n = 0;
		b.i = 0;
		for (struct jrec *r = j->head; r && b.n < J_APPLY_MAX; r = r->next)
			b.recs[b.n++] = r;
		b.jid = j->jid;
		snprintf(b.mark, sizeof b.mark, "%016" PRIx64 ":%" PRIu64, b.jid, b.recs[b.n - 1]->end);
		pthread_mutex_unlock(&j->lock);

		size_t applied = 0;
		enum cd_err rc = store__cases_apply(j->ast, apply_next, &b, b.mark, &applied);

		pthread_mutex_lock(&j->lock);
		if (rc) {
			/* The cases stay pending (and in the file): try again, unless we are stopping
			 * and it keeps failing, in which case the next start replays them. */
			log_msg(LOG_ERROR, "store: applying journalled cases failed",
				"\"cases\":%zu,\"error\":\"%s\"", b.n, cd_err_name(rc));
			failures++;
			if (failures >= J_FAILING && !j->failing) {
				j->failing = 1;
				pthread_cond_broadcast(&j->room);
			}
			if (j->stopping && failures >= 3)
				break;
			pthread_mutex_unlock(&j->lock);
			struct timespec ts = {0, 200 * 1000 * 1000};
			nanosleep(&ts, NULL);
			pthread_mutex_lock(&j->lock);
			continue;
		}
		failures = 0;
		j->failing = 0;
		for (size_t i = 0; i < b.n; i++)
			drop_head(j);
		j->seq_applied += b.n;
		j->apply_tx++;
		pthread_cond_broadcast(&j->applied);
		pthread_cond_broadcast(&j->room);
		pthread_mutex_unlock(&j->lock);
		extend_ahead(j);
		pthread_mutex_lock(&j->lock);
	}
	j->applier_alive = 0;
	pthread_cond_broadcast(&j->applied);
	pthread_cond_broadcast(&j->room);
	pthread_mutex_unlock(&j->lock);
	xfree(b.recs);
	return NULL;
}

/* ---- start, stop ---------------------------------------------------------------------- */

static void journal_free(struct store__journal *j)
{
	while (j->head)
		drop_head(j);
	xfree(j->by_id);
	xfree(j->by_ref);
	xfree(j->by_ext);
	u64set_free(&j->ext_seen);
	xfree(j->path);
	pthread_mutex_destroy(&j->wlock);
	pthread_mutex_destroy(&j->xlock);
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->work);
	pthread_cond_destroy(&j->applied);
	pthread_cond_destroy(&j->room);
	xfree(j);
}

/* The hashes of every stored (channel, external id), read from the cases_external index.
 * Store locked. */
static enum cd_err ext_seen_fill(struct store *st, struct u64set *set)
{
	double t0 = (double)clock_mono_ms();
	sqlite3_stmt *s = NULL;
	int src = sqlite3_prepare_v2(st->db, "SELECT channel, external_id FROM cases WHERE external_id IS NOT NULL",
				     -1, &s, NULL);
	if (src != SQLITE_OK)
		return store__err(st, src, "external ids");
	while ((src = sqlite3_step(s)) == SQLITE_ROW)
		u64set_add(set, u64set_hash_pair((const char *)sqlite3_column_text(s, 0),
						 (const char *)sqlite3_column_text(s, 1)));
	sqlite3_finalize(s);
	if (src != SQLITE_DONE)
		return store__err(st, src, "external ids");
	log_msg(LOG_INFO, "store: external ids read", "\"cases\":%zu,\"ms\":%.0f", set->n,
		(double)clock_mono_ms() - t0);
	return CD_OK;
}

enum cd_err store_case_journal_start(struct store *st)
{
	if (st->journal)
		return CD_OK;
	char *path = journal_path(st);
	int fd = open_locked(path, 1);
	if (fd < 0) {
		enum cd_err rc = errno == EWOULDBLOCK ? CD_ERR_BUSY : CD_ERR_IO;
		log_msg(LOG_ERROR, "store: cannot open the intake journal", "\"errno\":%d", errno);
		xfree(path);
		return rc;
	}
	fileio_sync_dir(path);
	struct store__journal *j = xcalloc(1, sizeof *j);
	j->st = st;
	j->fd = fd;
	j->path = path;
	pthread_mutex_init(&j->wlock, NULL);
	pthread_mutex_init(&j->xlock, NULL);
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->work, NULL);
	pthread_cond_init(&j->applied, NULL);
	pthread_cond_init(&j->room, NULL);
	j->by_id = xcalloc(J_BUCKETS, sizeof *j->by_id);
	j->by_ref = xcalloc(J_BUCKETS, sizeof *j->by_ref);
	j->by_ext = xcalloc(J_BUCKETS, sizeof *j->by_ext);
	enum cd_err rc = replay(st, fd, &j->jid);
	j->end = J_HEADER;
	struct stat sb;
	if (!rc && fstat(fd, &sb) != 0)
		rc = CD_ERR_IO;
	j->zeroed = rc ? J_HEADER : (uint64_t)sb.st_size;
	int64_t max_id = 0;
	if (!rc) {
		store__lock(st);
		rc = store__case_max_id(st, &max_id);
		if (!rc)
			rc = store__cindex_ready(st); /* before the applier, which shares it */
		if (!rc)
			rc = ext_seen_fill(st, &j->ext_seen);
		store__unlock(st);
		j->next_id = max_id + 1;
	}
	if (!rc)
		rc = store__open_conn(st->path, &j->ast);
	if (!rc)
		j->ast->cindex = st->cindex; /* the applier's cases go into the lists' index */
	/* The applier only inserts journalled cases, and the writer refused any case that breaks
	 * a CHECK of the cases table before journalling it (store__case_prepare_new: the same sets,
	 * in C). SQLite evaluates each IN-list CHECK by building a temporary b-tree per row, about
	 * a third of the applier's time; the journal's CRC guards the checked bytes since. */
	if (!rc && sqlite3_exec(j->ast->db, "PRAGMA ignore_check_constraints = ON", NULL, NULL, NULL) != SQLITE_OK)
		rc = CD_ERR_STORE;
	if (!rc) {
		j->applier_alive = 1;
		if (pthread_create(&j->applier, NULL, applier_main, j) != 0) {
			j->applier_alive = 0;
			rc = CD_ERR_IO;
		}
	}
	if (rc) {
		store_close(j->ast);
		close(fd);
		journal_free(j);
		return rc;
	}
	st->journal = j;
	log_msg(LOG_INFO, "store: intake journal on", "\"next_id\":%lld", (long long)j->next_id);
	return CD_OK;
}

void store__journal_close(struct store *st)
{
	struct store__journal *j = st->journal;
	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	j->stopping = 1;
	pthread_cond_signal(&j->work);
	pthread_mutex_unlock(&j->lock);
	pthread_join(j->applier, NULL);
	log_msg(LOG_INFO, "store: intake journal closed",
		"\"journalled\":%" PRIu64 ",\"applied\":%" PRIu64
		",\"batches\":%lld,\"apply_transactions\":%lld,"
		"\"max_pending\":%lld",
		j->seq_written, j->seq_applied, (long long)j->batches, (long long)j->apply_tx,
		(long long)j->max_pending);
	uint64_t jid = 0;
	if (!j->head && !j->broken && reset_file(j->fd, &jid) != CD_OK)
		log_msg(LOG_WARN, "store: intake journal left for replay at the next start", NULL);
	else if (j->head)
		log_msg(LOG_WARN, "store: unapplied journalled cases left for replay at the next start",
			"\"cases\":%zu", j->npending);
	close(j->fd); /* releases the flock */
	store_close(j->ast);
	st->journal = NULL;
	journal_free(j);
}

void store_case_journal_stats(struct store *st, struct store_journal_stats *out)
{
	memset(out, 0, sizeof *out);
	struct store__journal *j = st->journal;
	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	out->on = 1;
	out->journalled = (int64_t)j->seq_written;
	out->applied = (int64_t)j->seq_applied;
	out->pending = (int64_t)j->npending;
	out->max_pending = j->max_pending;
	out->batches = j->batches;
	out->apply_transactions = j->apply_tx;
	out->apply_gathered = j->gathered;
	out->file_bytes = (int64_t)j->end;
	pthread_mutex_unlock(&j->lock);
}

/* ---- the writer ------------------------------------------------------------------------ */

/* The slot of a day's counter, loading it from the database on first use. Writer lock held. */
static enum cd_err day_slot(struct store__journal *j, const char day[9], int *slot)
{
	for (int i = j->ndays - 1; i >= 0; i--) {
		if (memcmp(j->days[i].day, day, 9) == 0) {
			*slot = i;
			return CD_OK;
		}
	}
	if (j->ndays == J_DAYS)
		return CD_ERR_BUSY; /* the caller makes room between batches */
	int64_t last = 0;
	store__lock(j->st);
	enum cd_err rc = store__case_seq_load(j->st, day, &last);
	store__unlock(j->st);
	if (rc)
		return rc;
	memcpy(j->days[j->ndays].day, day, 9);
	j->days[j->ndays].last = last;
	*slot = j->ndays++;
	return CD_OK;
}

/* Whether a case id that a new case points to (duplicate_of, merged_into) exists: earlier in
 * this batch, pending, or stored. */
static enum cd_err id_known(struct store__journal *j, int64_t id, int64_t batch_next, int *known)
{
	*known = 0;
	if (id == 0) {
		*known = 1;
		return CD_OK;
	}
	if (id < 0 || id >= batch_next)
		return CD_OK;
	if (id >= j->next_id) {
		*known = 1; /* assigned earlier in this batch */
		return CD_OK;
	}
	/* Pending, or remembered as in the database: cases are never deleted, so a case once
	 * there stays, and a probe costs ~5 us (every applier commit empties this connection's
	 * page cache). drop_head remembers each applied case; probes remember hot old masters. */
	int64_t *memo = &j->known[(uint64_t)id & (J_KNOWN - 1)];
	pthread_mutex_lock(&j->lock);
	*known = *memo == id || find_pending(j, id, NULL, NULL, NULL) != NULL;
	pthread_mutex_unlock(&j->lock);
	if (*known)
		return CD_OK;
	store__lock(j->st);
	enum cd_err rc = store__case_exists(j->st, id, known);
	store__unlock(j->st);
	if (!rc && *known) {
		pthread_mutex_lock(&j->lock);
		*memo = id;
		pthread_mutex_unlock(&j->lock);
	}
	return rc;
}

/* Looks (channel, external_id) up among earlier cases of this batch, the pending ones and the
 * stored ones; CD_OK and *out filled when found. */
static enum cd_err find_ext(struct store__journal *j, struct store_case *const *cases,
			    const enum cd_err *results, size_t before, const char *channel, const char *ext,
			    struct store_case *out)
{
	for (size_t k = 0; k < before; k++) {
		if (results[k] == CD_OK && cases[k]->external_id[0] &&
		    strcmp(cases[k]->external_id, ext) == 0 && strcmp(cases[k]->channel, channel) == 0) {
			memmove(out, cases[k], sizeof *out);
			return CD_OK;
		}
	}
	enum cd_err rc = store__journal_get(j->st, 0, NULL, channel, ext, out);
	if (rc != CD_ERR_NOTFOUND || !u64set_has(&j->ext_seen, u64set_hash_pair(channel, ext)))
		return rc;
	store__lock(j->st);
	rc = store__case_find_external_locked(j->st, channel, ext, out);
	store__unlock(j->st);
	return rc;
}

/* Makes sure the file has zeroes up to `need`, so that the records land in allocated blocks (one
 * fdatasync then flushes data only, no metadata). Normally the applier keeps J_AHEAD of them
 * ready (extend_ahead); if the writer runs out it adds J_GROW itself, made durable by its own
 * fdatasync with the records. Writer lock held. */
static int extend(struct store__journal *j, uint64_t need)
{
	int rc = 0;
	pthread_mutex_lock(&j->xlock);
	if (need > j->zeroed) {
		rc = fileio_write_zeros(j->fd, j->zeroed, need + J_GROW);
		if (!rc)
			j->zeroed = need + J_GROW;
	}
	pthread_mutex_unlock(&j->xlock);
	return rc;
}

/* The applier's side: zeroes ahead of the writer in small synced steps, so that the writer's
 * fdatasync never carries megabytes of them (a 4 MB extension inside an intake batch was a
 * ~20 ms stall). Writes only past `zeroed`, where the writer never writes. */
static void extend_ahead(struct store__journal *j)
{
	for (;;) {
		pthread_mutex_lock(&j->lock);
		uint64_t end = j->end;
		int stop = j->stopping || j->broken;
		pthread_mutex_unlock(&j->lock);
		pthread_mutex_lock(&j->xlock);
		uint64_t from = j->zeroed;
		if (stop || from >= end + J_AHEAD || fileio_write_zeros(j->fd, from, from + J_AHEAD_CHUNK) != 0 ||
		    fdatasync(j->fd) != 0) {
			pthread_mutex_unlock(&j->xlock);
			return;
		}
		j->zeroed = from + J_AHEAD_CHUNK;
		pthread_mutex_unlock(&j->xlock);
	}
}

struct day_undo {
	int slot;
	int64_t last;
};

enum cd_err store__journal_insert(struct store *st, const struct store_actor *actor,
				  struct store_case *const *cases, struct store_case_event *const *evs,
				  size_t n, enum cd_err *results)
{
	struct store__journal *j = st->journal;
	int64_t now = (int64_t)time(NULL);
	struct wbuf w = {NULL, 0, 0};
	size_t *starts = xcalloc(n + 1, sizeof *starts);
	struct day_undo *undo = xcalloc(n, sizeof *undo);
	struct store_case_event *dflt = xmalloc(sizeof *dflt);
	size_t nundo = 0, accepted = 0;
	enum cd_err rc = CD_OK;

	pthread_mutex_lock(&j->wlock);
	/* Backpressure: the applier must keep up on average; bursts wait here, not in memory. */
	pthread_mutex_lock(&j->lock);
	while ((j->npending >= J_PENDING_MAX || j->pending_bytes >= J_PENDING_BYTES) && j->applier_alive &&
	       !j->failing)
		pthread_cond_wait(&j->room, &j->lock);
	int full = j->npending >= J_PENDING_MAX || j->pending_bytes >= J_PENDING_BYTES;
	if (full) {
		/* The database has refused the backlog for seconds (logged by the applier): answer
		 * "busy" rather than hold the requests; the journalled cases are safe. */
		pthread_mutex_unlock(&j->lock);
		rc = CD_ERR_BUSY;
		goto out;
	}
	int alive = j->applier_alive;
	int empty = j->head == NULL;
	pthread_mutex_unlock(&j->lock);
	if (!alive || j->broken) {
		rc = CD_ERR_IO;
		goto out;
	}
	if (j->ndays + (int)n > J_DAYS) {
		store__journal_barrier(st, 0); /* the database has every ref: the counters can reload */
		j->ndays = 0;
	}
	if (empty && j->end >= J_ROTATE_BYTES) {
		uint64_t jid = 0;
		rc = reset_file(j->fd, &jid);
		pthread_mutex_lock(&j->lock);
		if (rc) {
			j->broken = 1;
		} else {
			j->jid = jid;
			j->end = J_HEADER;
		}
		pthread_mutex_unlock(&j->lock);
		if (rc)
			goto out;
	}

	int64_t next_id = j->next_id;
	for (size_t i = 0; i < n && !rc; i++) {
		struct store_case *c = cases[i];
		struct store_case_event *ev = evs && evs[i] ? evs[i] : dflt;
		if (ev == dflt) { /* the default "report" event: zero only what is read */
			memset(ev, 0, offsetof(struct store_case_event, comment));
			ev->comment[0] = '\0';
			ev->data[0] = '\0';
		}
		starts[i] = w.len;
		results[i] = store__case_prepare_new(c, ev, actor, now);
		if (results[i])
			continue;
		if (c->external_id[0]) {
			enum cd_err found = find_ext(j, cases, results, i, c->channel, c->external_id, c);
			if (found == CD_OK) {
				results[i] = CD_ERR_EXISTS;
				continue;
			}
			if (found != CD_ERR_NOTFOUND) {
				rc = found;
				break;
			}
		}
		int known_dup = 0, known_master = 0;
		rc = id_known(j, c->duplicate_of, next_id, &known_dup);
		if (!rc)
			rc = id_known(j, c->merged_into, next_id, &known_master);
		if (rc)
			break;
		if (!known_dup || !known_master) {
			results[i] = CD_ERR_INVALID;
			continue;
		}
		char day[9];
		int slot = 0;
		store__case_ymd(c->reported_at, day);
		rc = day_slot(j, day, &slot);
		if (rc)
			break;
		if (j->days[slot].last >= 999999) {
			results[i] = CD_ERR_RANGE;
			continue;
		}
		undo[nundo].slot = slot;
		undo[nundo].last = j->days[slot].last;
		nundo++;
		j->days[slot].last++;
		store__case_ref(c->ref, day, j->days[slot].last);
		c->id = next_id++;
		c->version = 1;
		c->created_at = now;
		c->updated_at = now;
		ev->case_id = c->id;
		ev->id = 0;
		unsigned char frame[J_FRAME];
		memset(frame, 0, sizeof frame);
		w_bytes(&w, frame, sizeof frame);
		size_t payload = w.len;
		encode(&w, actor, c, ev);
		size_t len = w.len - payload;
		if (len > J_RECORD_MAX) {
			/* Cannot happen with terminated fixed-size fields; refuse rather than write a
			 * record the replay would take for a torn one. */
			w.len = starts[i];
			j->days[slot].last--;
			nundo--;
			next_id--;
			results[i] = CD_ERR_TOOBIG;
			continue;
		}
		fileio_put_le(w.p + starts[i], len, 4);
		fileio_put_le(w.p + starts[i] + 4, record_crc(j->jid, w.p + payload, len), 4);
		if (c->external_id[0]) /* also if the append fails: a needless probe, no harm */
			u64set_add(&j->ext_seen, u64set_hash_pair(c->channel, c->external_id));
		accepted++;
	}
	starts[n] = w.len;
	if (!rc && accepted) {
		/* A zero frame after the records marks the end for a replay (what follows may be a
		 * stale record of an earlier generation); the next batch overwrites it. */
		unsigned char zero[J_FRAME];
		memset(zero, 0, sizeof zero);
		w_bytes(&w, zero, sizeof zero);
		w.len -= sizeof zero;
	}
	if (!rc && accepted) {
		if (extend(j, j->end + w.len + J_FRAME) != 0 ||
		    fileio_pwrite_all(j->fd, w.p, w.len + J_FRAME, j->end) != 0 || fdatasync(j->fd) != 0) {
			log_msg(LOG_ERROR, "store: intake journal write failed; intake stops", "\"errno\":%d",
				errno);
			pthread_mutex_lock(&j->lock);
			j->broken = 1; /* what reached the disk is unknown: take no more */
			pthread_mutex_unlock(&j->lock);
			rc = CD_ERR_IO;
		}
	}
	if (rc) {
		for (size_t k = nundo; k-- > 0;)
			j->days[undo[k].slot].last = undo[k].last;
		goto out;
	}
	/* Durable: index the new cases for readers and hand them to the applier. */
	pthread_mutex_lock(&j->lock);
	for (size_t i = 0; i < n; i++) {
		if (results[i] != CD_OK)
			continue;
		struct store_case *c = cases[i];
		size_t len = (size_t)fileio_get_le(w.p + starts[i], 4);
		size_t extlen = c->external_id[0] ? strlen(c->channel) + 1 + strlen(c->external_id) + 1 : 0;
		struct jrec *r = xmalloc(sizeof *r + len + extlen);
		memset(r, 0, sizeof *r);
		r->id = c->id;
		r->seq = ++j->seq_written;
		r->end = j->end + starts[i] + J_FRAME + len;
		memcpy(r->ref, c->ref, sizeof r->ref);
		r->len = (uint32_t)len;
		memcpy(r->data, w.p + starts[i] + J_FRAME, len);
		if (extlen) {
			r->ext = (char *)r->data + len;
			snprintf(r->ext, extlen, "%s\x1f%s", c->channel, c->external_id);
			uint32_t he = hash_ext(c->channel, c->external_id);
			r->next_ext = j->by_ext[he];
			j->by_ext[he] = r;
		}
		uint32_t hi = hash_id(r->id), hr = hash_str(r->ref);
		r->next_id = j->by_id[hi];
		j->by_id[hi] = r;
		r->next_ref = j->by_ref[hr];
		j->by_ref[hr] = r;
		if (j->tail)
			j->tail->next = r;
		else
			j->head = r;
		j->tail = r;
		j->npending++;
		j->pending_bytes += len;
	}
	if ((int64_t)j->npending > j->max_pending)
		j->max_pending = (int64_t)j->npending;
	j->end += w.len;
	j->batches++;
	j->next_id = next_id;
	if (!j->gathering || j->npending >= J_APPLY_GATHER)
		pthread_cond_signal(&j->work);
	pthread_mutex_unlock(&j->lock);
out:
	pthread_mutex_unlock(&j->wlock);
	if (rc) {
		for (size_t i = 0; i < n; i++) {
			results[i] = rc;
			cases[i]->id = 0;
			cases[i]->ref[0] = '\0';
		}
	}
	xfree(w.p);
	xfree(starts);
	xfree(undo);
	xfree(dflt);
	return rc;
}
