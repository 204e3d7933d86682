/* Group commit for case intake: request threads hand in new cases and wait; one writer thread
 * stores whatever has gathered in one transaction (one fsync for the lot) and wakes them.
 * Under load a batch holds as many cases as arrived during the previous commit, so the
 * disk's sync rate stops being the limit on cases per second. */
#ifndef CD_COMMIT_QUEUE_H
#define CD_COMMIT_QUEUE_H

#include "store/store.h"

#define COMMIT_QUEUE_BATCH 256 /* cases per transaction at most */

struct commit_queue;

/* Starts the writer thread. The queue uses `st` from that thread only for inserts. */
enum cd_err commit_queue_start(struct store *st, struct commit_queue **out) CD_MUST_CHECK;
/* Stores every case already handed in, then stops the writer. NULL is fine. */
void commit_queue_stop(struct commit_queue *q);

/* Hands in one new case and its first event and waits until they are stored (or refused).
 * On return *c and *ev hold what the store filled in (id, ref, version; or, for CD_ERR_EXISTS,
 * the case already stored under the same channel and external id). Returns the case's own
 * result (CD_OK, CD_ERR_EXISTS, CD_ERR_INVALID) or the batch's error. The actor is recorded
 * in the batch's audit entry through the event's actor. Thread-safe. */
enum cd_err commit_queue_submit(struct commit_queue *q, struct store_case *c,
				struct store_case_event *ev) CD_MUST_CHECK;

/* Called on the notifier thread once the case is stored (or refused), with the case's result;
 * the case and event handed in hold what the store filled in. Callbacks run one at a time, in
 * the order the cases were stored; the writer goes on journalling meanwhile. */
typedef void (*commit_done_fn)(void *ctx, enum cd_err rc);

/* The caller's memory for one asynchronous submission; it must stay valid until done runs. */
struct commit_slot {
	struct store_case *c;
	struct store_case_event *ev;
	enum cd_err rc;
	int done;
	commit_done_fn on_done; /* NULL for a waiting (synchronous) submission */
	void *ctx;
	struct commit_slot *next;
};

/* Hands in one new case without waiting: `done(ctx, rc)` runs on the notifier thread when it
 * is stored. Returns CD_ERR_BUSY (and never calls done) when the queue is stopping. */
enum cd_err commit_queue_submit_async(struct commit_queue *q, struct store_case *c, struct store_case_event *ev,
				      struct commit_slot *slot, commit_done_fn done, void *ctx) CD_MUST_CHECK;

/* Batches committed and cases stored since start, for /metrics. */
void commit_queue_stats(struct commit_queue *q, long long *batches, long long *cases);

#endif
