/* Automatic merging of duplicates (issue 4): with CFG_DUP_AUTO_MERGE set to a score, a new
 * case whose best duplicate candidate (intake's duplicate_of) scores at or above it, in an
 * agreeing category, is merged into that master as a dispatcher's `merge` action would, by
 * "system", on a thread of its own after the case is committed. Off by default. */
#ifndef CD_AUTOMERGE_H
#define CD_AUTOMERGE_H

#include <stdbool.h>
#include <stdint.h>

#include "app/app.h"
#include "core/similar.h"
#include "store/store.h"
#include "util/err.h"

#define AUTOMERGE_QUEUE_MAX 4096 /* cases waiting for the worker; beyond, offers are dropped */

/* What the worker has done since start-up (for logs, /metrics and tests). */
struct automerge_stats {
	uint64_t offered; /* cases with a candidate handed to the worker */
	uint64_t merged;  /* merged into their master */
	uint64_t skipped; /* looked at and left alone (score, category, master or state) */
	uint64_t dropped; /* not looked at: the queue was full */
	uint64_t failed;  /* the store or the workflow refused the merge */
};

/* Reads a CFG_DUP_AUTO_MERGE value: "off" or "" (or NULL) gives *on = false; a number in
 * (0, 1] gives *on = true and *threshold. CD_ERR_RANGE for anything else (*on = false). */
enum cd_err automerge_parse(const char *value, bool *on, double *threshold) CD_MUST_CHECK;

/* Hands a just-committed case (with its id) and its duplicate-finder signature to the worker,
 * when auto-merge is on and the case has a candidate (c->duplicate_of) and a category; does
 * nothing otherwise. Copies what it needs, never touches the store and never waits: the
 * intake notifier calls it. The worker thread starts on the first offer that needs it. */
void automerge_offer(struct app *app, const struct store_case *c, const struct similar_case *sig);

/* What the worker does for one case, synchronously: re-scores the case's signature against
 * its candidate master_id through app->similar, and merges case_id into master_id when the
 * score is >= threshold, both cases have categories that agree (the same code, or one under
 * the other), the master is not merged itself and the workflow allows the merge now. *merged
 * (may be NULL) says whether it did; the merged case leaves the duplicate finder. CD_OK also
 * when it decided not to merge; store errors otherwise. Blocks on the store. */
enum cd_err automerge_case(struct app *app, double threshold, int64_t case_id, int64_t master_id,
			   const struct similar_case *sig, bool *merged) CD_MUST_CHECK;

/* Lets the worker finish the queued cases and stops it; offers after this are ignored. Call
 * after the intake writer has stopped and before the store and the finder are freed.
 * Harmless when the worker never started. */
void automerge_stop(void);

/* Waits until the queue is empty and the worker idle, at most timeout_ms; true if it is. */
bool automerge_drain(int timeout_ms);

/* A copy of the counters. */
void automerge_get_stats(struct automerge_stats *out);

#endif
