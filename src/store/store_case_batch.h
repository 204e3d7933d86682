/* Many workflow steps on stored cases written in one transaction: what store_case_apply does
 * for one step, for a list of them (the demo's year of history; imports of past cases), with
 * one commit instead of one per step. */
#ifndef CD_STORE_CASE_BATCH_H
#define CD_STORE_CASE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* One step: the arguments of store_case_apply. */
struct store_case_step {
	int64_t case_id;
	int64_t expected_version;               /* the stored version the step was decided on; a later
						 * step of the same case expects this one's + 1 */
	struct store_case *after;               /* the new row; version and updated_at are filled in */
	const struct store_case_event *ev;      /* its event, or NULL */
	const struct store_stats_delta *deltas; /* score deltas (ndeltas of them; NULL when none) */
	size_t ndeltas;
	const struct store_actor *actor;        /* who took it: event default actor, audit entry */
};

#define STORE_CASE_STEPS_MAX 100000 /* steps in one call: one transaction holds the store */

/* Writes steps[0..n) in order in ONE transaction, each recorded as store_case_apply records one
 * step: the row (version expected_version + 1, updated_at now), its event, the score deltas
 * and one audit entry "case.<ev->action>" (or "case.update") with before/after JSON of the
 * fields that changed. The tables end up exactly as after n store_case_apply calls; on the way,
 * consecutive steps of one case UPDATE its row once (as the last leaves it) and deltas are
 * summed per unit/street/category and day before they are added. Intermediate rows are checked
 * for well-formed fields, the schema's CHECKs see the last one. All or nothing: CD_OK when every step committed; otherwise nothing
 * was written, *failed (may be NULL) is the index of the step that failed (n when the commit
 * itself did) and the error is store_case_apply's: CD_ERR_CONFLICT (stored version differs),
 * CD_ERR_NOTFOUND, CD_ERR_INVALID (a row or event the schema refuses). CD_ERR_RANGE when
 * n > STORE_CASE_STEPS_MAX. Waits for journalled intake first, like store_case_apply. The
 * store is held for the whole transaction: keep batches to a few thousand steps so that
 * readers wait at most a fraction of a second. */
enum cd_err store_case_apply_steps(struct store *st, struct store_case_step *steps, size_t n,
				   size_t *failed) CD_MUST_CHECK;

#endif
