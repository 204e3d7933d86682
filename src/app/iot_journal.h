/* The IoT hub's write-ahead journal: a device message is appended here, and only acknowledged
 * (GB/T 26875.3 ACK, HTTP 202) once its record is on disk, so a kill -9 or a power cut loses
 * nothing acknowledged. One flusher thread writes what many producers queued and fdatasyncs once
 * per batch (group commit). A restart replays what the hub had not yet handed safely to its
 * stores. File format, recovery and compaction: docs/internals/iot-journal.md. */
#ifndef CD_IOT_JOURNAL_H
#define CD_IOT_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/iot.h"
#include "util/err.h"

struct iot_journal;
struct alerts_ingest;

#define IOT_JOURNAL_RECORD_MAX (64u * 1024) /* payload bytes of one record, at most */
#define IOT_JOURNAL_KIND_MAX 254            /* record kinds are 1..254 (0 and 255 are the journal's) */

/* Record kinds the hub uses (the journal itself takes any 1..IOT_JOURNAL_KIND_MAX). */
enum iot_journal_kind {
	IOT_JOURNAL_TELEMETRY = 1, /* payload: iot_journal_pack_telemetry */
	IOT_JOURNAL_EVENT = 2,     /* payload: iot_journal_pack_event */
	IOT_JOURNAL_STATUS = 3,    /* payload: iot_journal_pack_status */
	IOT_JOURNAL_INGEST = 4,    /* payload: iot_journal_pack_ingest (POST /api/v1/ingest items) */
};

/* Settings; zero fields take the defaults. */
struct iot_journal_options {
	size_t segment_bytes; /* start a new segment file past this size (default 16 MiB) */
	size_t pending_bytes; /* records queued for the flusher before appends wait (default 4 MiB) */
	bool no_sync;         /* skip fdatasync (benchmarks only: durability is gone) */
	long retry_ms;        /* after a failed write, first wait before a new segment is tried
	                         (default 100 ms; doubles up to 5 s while it keeps failing) */
};

/* Opens the journal whose segment files are `path`.NNNNNNNN (e.g. DATA/iot.journal.00000003),
 * creating the first one, and locks it against a second process (CD_ERR_BUSY). Every segment is
 * scanned: a torn or corrupt record ends the last one (the tail is cut off: it was never
 * acknowledged); fully handled segments are deleted; a new segment is started for this run and
 * the flusher thread starts. Records found and not yet handled wait for iot_journal_replay.
 * *out is owned by the caller (iot_journal_close). */
enum cd_err iot_journal_open(const char *path, struct iot_journal **out) CD_MUST_CHECK;
/* The same with settings (o may be NULL). */
enum cd_err iot_journal_open_with(const char *path, const struct iot_journal_options *o,
				  struct iot_journal **out) CD_MUST_CHECK;

/* Writes what is queued (and the last handled mark), stops the flusher, closes. NULL is fine.
 * Appends still waiting get CD_ERR_IO if the final write fails. */
void iot_journal_close(struct iot_journal *j);

/* Appends one record and returns once it is durable (or the journal failed: CD_ERR_IO, and the
 * record must not be acknowledged). A failed write (ENOSPC, EIO) refuses the records not yet on
 * disk and every append (CD_ERR_IO at once) until the flusher, after a backoff, has started a
 * new segment; appends are then taken again (the refused records' seqs are never used). kind 1..IOT_JOURNAL_KIND_MAX, src any byte (the hub passes
 * enum iot_source); msg[0..len) is copied, len <= IOT_JOURNAL_RECORD_MAX (else CD_ERR_TOOBIG).
 * *seq (may be NULL) gets the record's sequence number: 1, 2, 3 ... in file order, never reused,
 * also across restarts and compaction. Thread-safe; many producers share each fdatasync. */
enum cd_err iot_journal_append(struct iot_journal *j, unsigned kind, unsigned src, const void *msg, size_t len,
			       uint64_t *seq) CD_MUST_CHECK;
/* The same without waiting for the disk (for threads that must not block on it, such as the MQTT
 * loop): *seq gets the number to pass to iot_journal_wait. May still wait briefly when the
 * flusher is more than pending_bytes behind (backpressure). */
enum cd_err iot_journal_append_nowait(struct iot_journal *j, unsigned kind, unsigned src, const void *msg,
				      size_t len, uint64_t *seq) CD_MUST_CHECK;
/* Waits until the record `seq` is durable: CD_OK, or CD_ERR_IO when a failed write refused it.
 * (Records before it that were taken before a failure may have been refused by it: a caller
 * that appended several with _nowait waits for the range.) */
enum cd_err iot_journal_wait(struct iot_journal *j, uint64_t seq) CD_MUST_CHECK;
/* The same for every record in [first, last]: CD_OK only when all of them are durable. */
enum cd_err iot_journal_wait_range(struct iot_journal *j, uint64_t first, uint64_t last) CD_MUST_CHECK;

/* Notes that every record with a sequence number <= seq is safe in the stores it feeds and need
 * not be replayed. Cheap and non-blocking: a mark record rides the next group commit (one is
 * written promptly even when nothing else is). Segments whose records are all handled are
 * deleted once the mark is durable. Values above the last appended seq are clamped; lower ones
 * than an earlier mark are ignored. */
void iot_journal_mark_handled(struct iot_journal *j, uint64_t seq);

/* Called by iot_journal_replay for each record; return CD_OK to go on, anything else stops the
 * replay with that value. payload is valid during the call only. */
typedef enum cd_err (*iot_journal_replay_fn)(void *ctx, uint64_t seq, unsigned kind, unsigned src,
					     const void *payload, size_t len);

/* Hands every record that was in the journal at open and after its handled mark to fn, in
 * sequence order. Safe while appends go on (records appended in this run are not replayed); call
 * it once, before the sources start. A record fn has seen is handled only once
 * iot_journal_mark_handled covers it. */
enum cd_err iot_journal_replay(struct iot_journal *j, iot_journal_replay_fn fn, void *ctx) CD_MUST_CHECK;

/* Counters since open, for /metrics and benchmarks. */
struct iot_journal_stats {
	uint64_t appended;     /* records appended in this run */
	uint64_t batches;      /* group commits (each one write + one fdatasync) */
	uint64_t bytes;        /* bytes written in this run, records and marks */
	uint64_t last_seq;     /* last sequence number handed out */
	uint64_t durable_seq;  /* last sequence number on disk */
	uint64_t handled_seq;  /* the durable handled mark */
	uint64_t replayable;   /* records found at open after the handled mark */
	uint64_t torn;         /* records cut off at open (torn tail or corrupt) */
	uint64_t rotations;    /* new segments started in this run (besides the one at open) */
	uint64_t deleted;      /* handled segments deleted in this run */
	uint64_t segments;     /* segment files now */
	uint64_t waits;        /* appends that waited for room (backpressure) */
	uint64_t failures;     /* writes or fdatasyncs that failed (each refused the records in flight) */
	uint64_t recoveries;   /* new segments started after a failure (appends taken again) */
	bool failed;           /* failed and not recovered yet: appends are refused */
};
void iot_journal_get_stats(struct iot_journal *j, struct iot_journal_stats *out);

/* ---- the hub's payloads: a compact, versioned encoding of its messages ----
 * Only the used part of each struct is written (a telemetry with 3 values is ~120 bytes, not
 * the struct's 1,360), and a payload survives a rebuild that changes the structs' sizes. */

#define IOT_JOURNAL_PACK_MAX 4096 /* the largest payload the hub's messages pack into */

/* Encodes into out[0..IOT_JOURNAL_PACK_MAX); *len gets the size. CD_ERR_INVALID when a string
 * is not NUL-terminated within its array or t->n > IOT_MAX_VALUES. */
enum cd_err iot_journal_pack_telemetry(const struct iot_telemetry *t, unsigned char out[IOT_JOURNAL_PACK_MAX],
				       size_t *len) CD_MUST_CHECK;
enum cd_err iot_journal_pack_event(const struct iot_event *e, unsigned char out[IOT_JOURNAL_PACK_MAX],
				   size_t *len) CD_MUST_CHECK;
enum cd_err iot_journal_pack_status(const struct iot_status *s, unsigned char out[IOT_JOURNAL_PACK_MAX],
				    size_t *len) CD_MUST_CHECK;
enum cd_err iot_journal_pack_ingest(const struct alerts_ingest *in, unsigned char out[IOT_JOURNAL_PACK_MAX],
				    size_t *len) CD_MUST_CHECK;
/* Decodes a payload into *out (zeroed first); CD_ERR_CORRUPT when it is malformed or of another
 * version. Every read is bounds-checked: p[0..len) may be anything. */
enum cd_err iot_journal_unpack_telemetry(const void *p, size_t len, struct iot_telemetry *out) CD_MUST_CHECK;
enum cd_err iot_journal_unpack_event(const void *p, size_t len, struct iot_event *out) CD_MUST_CHECK;
enum cd_err iot_journal_unpack_status(const void *p, size_t len, struct iot_status *out) CD_MUST_CHECK;
enum cd_err iot_journal_unpack_ingest(const void *p, size_t len, struct alerts_ingest *out) CD_MUST_CHECK;

#endif
