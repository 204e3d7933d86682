/* Automatic merging of duplicates; see automerge.h. One process-wide worker thread takes the
 * offers from a bounded ring, so the intake writer only copies ~150 bytes under a mutex and the
 * merge's store writes (the case, its event, the audit entry, the master's support count)
 * happen beside intake, never in front of its acknowledgement. */
#include "app/automerge.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "app/casework.h"
#include "core/workflow.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

/* One case waiting for the worker. */
struct offer {
	int64_t case_id;	/* the new, committed case */
	int64_t master_id;	/* its best candidate at intake (duplicate_of) */
	struct similar_case sig; /* its signature, place and time, to score it again */
};

/* The worker's state: one per process, like the server it serves. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;	     /* signalled on an offer and on stop */
	pthread_cond_t idle;	     /* signalled when the ring empties and the worker rests */
	bool configured;	     /* the setting was read (on the first offer) */
	bool on;		     /* auto-merge is on and the worker runs (or will) */
	bool started, stopping;	     /* the thread exists; it was told to stop */
	bool busy;		     /* the worker holds an offer it took from the ring */
	double threshold;	     /* score from which a case is merged */
	struct app *app;	     /* the server's state (one per process) */
	pthread_t thread;
	struct offer *ring;	     /* AUTOMERGE_QUEUE_MAX entries once started */
	size_t head, n;		     /* first waiting entry, entries waiting */
	struct automerge_stats stats;
} am = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER};

enum cd_err automerge_parse(const char *value, bool *on, double *threshold)
{
	*on = false;
	*threshold = 0;
	if (!value || !*value || strcasecmp(value, "off") == 0)
		return CD_OK;
	char *end = NULL;
	errno = 0;
	double t = strtod(value, &end);
	if (errno || end == value || *end || !(t > 0 && t <= 1))
		return CD_ERR_RANGE;
	*on = true;
	*threshold = t;
	return CD_OK;
}

/* Whether two category codes agree: both set, and equal or one under the other (codes are
 * hierarchical by prefix: H01 > H0101 > H010101). An unclassified case never agrees. */
static bool categories_agree(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (!la || !lb)
		return false;
	return strncmp(a, b, la < lb ? la : lb) == 0;
}

/* The role the merge is decided with: the system's own when the workflow lets it merge,
 * else a district dispatcher's (the rights a person merging by hand has). The event and the
 * audit name "system" either way. */
static enum auth_role merge_role(const struct store_case *c)
{
	struct workflow_case facts = casework_facts(c);
	if (workflow_allowed(&facts, ROLE_SYSTEM) & WF_ACTION_BIT(WF_ACTION_MERGE))
		return ROLE_SYSTEM;
	return ROLE_DISTRICT_DISPATCHER;
}

/* The score of master_id among sig's candidates now, or -1 when it is not one. */
static double candidate_score(struct app *app, const struct similar_case *sig, int64_t master_id)
{
	struct similar_hit hits[16];
	size_t n = similar_query(app->similar, sig, hits, sizeof hits / sizeof hits[0]);
	for (size_t i = 0; i < n; i++)
		if (hits[i].id == master_id)
			return hits[i].score;
	return -1;
}

enum cd_err automerge_case(struct app *app, double threshold, int64_t case_id, int64_t master_id,
			   const struct similar_case *sig, bool *merged)
{
	struct store_case *c = xmalloc(sizeof *c), *master = xmalloc(sizeof *master);
	enum cd_err rc = CD_OK;
	bool done = false;
	if (merged)
		*merged = false;
	if (!app->similar || !master_id || master_id == case_id)
		goto out;
	double score = candidate_score(app, sig, master_id);
	if (score < threshold)
		goto out;
	rc = store_case_get_by_id(app->st, case_id, c);
	if (!rc)
		rc = store_case_get_by_id(app->st, master_id, master);
	if (rc == CD_ERR_NOTFOUND)
		rc = CD_OK;
	if (rc)
		goto out;
	/* The same checks as a dispatcher's merge (api/cases.c), and the category must agree. */
	if (master->merged_into || c->merged_into || !categories_agree(c->category_code, master->category_code))
		goto out;
	struct casework_actor who = {"system", merge_role(c), {"system", ""}};
	char comment[160];
	snprintf(comment, sizeof comment, "自动合并：与 %s 重复 (automatic merge, similarity %.2f)", master->ref, score);
	struct casework_action a;
	memset(&a, 0, sizeof a);
	a.action = WF_ACTION_MERGE;
	a.comment = comment;
	a.into_id = master->id;
	a.approved = true;
	for (int attempt = 0; attempt < 2 && !done; attempt++) {
		uint32_t allowed = 0;
		const char *why = NULL;
		struct json_problem p;
		memset(&p, 0, sizeof p);
		rc = casework_apply(app, &who, c, &a, &allowed, &why, &p);
		if (rc == CD_OK) {
			done = true;
		} else if (rc == CD_ERR_CONFLICT && !allowed && attempt == 0) {
			/* changed meanwhile (a dispatcher acted): read it again and decide again */
			rc = store_case_get_by_id(app->st, case_id, c);
			if (rc || c->merged_into)
				break;
			who.role = merge_role(c);
		} else {
			break; /* the workflow refuses it in this state: a person decides */
		}
	}
	if (done) {
		log_info("duplicate merged automatically", "\"case\":\"%s\",\"into\":\"%s\",\"score\":%.3f", c->ref,
			 master->ref, score);
		struct similar_case gone = *sig;
		gone.id = case_id;
		if (similar_remove(app->similar, &gone)) /* later reports find the master instead */
			log_warn("merged case not in the duplicate finder", "\"case\":\"%s\"", c->ref);
	} else if (rc == CD_ERR_CONFLICT) {
		rc = CD_OK; /* not merged, and that is a decision, not a failure */
	}
out:
	if (merged)
		*merged = done;
	xfree(c);
	xfree(master);
	return rc;
}

static void *worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&am.lock);
	for (;;) {
		while (!am.n && !am.stopping)
			pthread_cond_wait(&am.wake, &am.lock);
		if (!am.n)
			break; /* stopping, and nothing left */
		struct offer o = am.ring[am.head];
		am.head = (am.head + 1) % AUTOMERGE_QUEUE_MAX;
		am.n--;
		am.busy = true;
		pthread_mutex_unlock(&am.lock);

		bool merged = false;
		enum cd_err rc = automerge_case(am.app, am.threshold, o.case_id, o.master_id, &o.sig, &merged);
		if (rc)
			log_warn("automatic merge failed", "\"case\":%lld,\"into\":%lld,\"error\":\"%s\"",
				 (long long)o.case_id, (long long)o.master_id, cd_err_name(rc));

		pthread_mutex_lock(&am.lock);
		am.busy = false;
		if (rc)
			am.stats.failed++;
		else if (merged)
			am.stats.merged++;
		else
			am.stats.skipped++;
		if (!am.n)
			pthread_cond_broadcast(&am.idle);
	}
	am.busy = false;
	pthread_cond_broadcast(&am.idle);
	pthread_mutex_unlock(&am.lock);
	return NULL;
}

/* Reads the setting and starts the worker when it is on; with am.lock held. */
static void configure_locked(struct app *app)
{
	am.configured = true;
	if (automerge_parse(config_get(&app->cfg, CFG_DUP_AUTO_MERGE), &am.on, &am.threshold)) {
		log_warn("dup-auto-merge: not off and not a score in (0, 1]; automatic merging is off",
			 "\"value\":\"%.40s\"", config_get(&app->cfg, CFG_DUP_AUTO_MERGE));
		return;
	}
	if (!am.on)
		return;
	am.app = app;
	am.ring = xcalloc(AUTOMERGE_QUEUE_MAX, sizeof *am.ring);
	if (pthread_create(&am.thread, NULL, worker, NULL)) {
		log_error("dup-auto-merge: cannot start its thread; automatic merging is off", NULL);
		am.on = false;
		xfree(am.ring);
		am.ring = NULL;
		return;
	}
	am.started = true;
	log_info("duplicates merge automatically", "\"threshold\":%.3f", am.threshold);
}

void automerge_offer(struct app *app, const struct store_case *c, const struct similar_case *sig)
{
	if (!c->duplicate_of || !c->category_code[0] || !sig || !app->similar)
		return; /* no candidate, or no category to agree with: nothing to decide */
	pthread_mutex_lock(&am.lock);
	if (!am.configured && !am.stopping)
		configure_locked(app);
	if (!am.on || am.stopping) {
		pthread_mutex_unlock(&am.lock);
		return;
	}
	if (am.n == AUTOMERGE_QUEUE_MAX) {
		am.stats.dropped++;
		pthread_mutex_unlock(&am.lock);
		return;
	}
	struct offer *o = &am.ring[(am.head + am.n) % AUTOMERGE_QUEUE_MAX];
	o->case_id = c->id;
	o->master_id = c->duplicate_of;
	o->sig = *sig;
	o->sig.id = c->id;
	am.n++;
	am.stats.offered++;
	pthread_cond_signal(&am.wake);
	pthread_mutex_unlock(&am.lock);
}

void automerge_stop(void)
{
	pthread_mutex_lock(&am.lock);
	am.stopping = true;
	bool started = am.started;
	am.started = false;
	pthread_cond_broadcast(&am.wake);
	pthread_mutex_unlock(&am.lock);
	if (started)
		pthread_join(am.thread, NULL);
	pthread_mutex_lock(&am.lock);
	xfree(am.ring);
	am.ring = NULL;
	am.on = false;
	pthread_mutex_unlock(&am.lock);
}

bool automerge_drain(int timeout_ms)
{
	struct timespec until;
	clock_deadline_in(&until, timeout_ms);
	pthread_mutex_lock(&am.lock);
	int wait_rc = 0;
	while ((am.n || am.busy) && wait_rc == 0)
		wait_rc = pthread_cond_timedwait(&am.idle, &am.lock, &until);
	bool empty = !am.n && !am.busy;
	pthread_mutex_unlock(&am.lock);
	return empty;
}

void automerge_get_stats(struct automerge_stats *out)
{
	pthread_mutex_lock(&am.lock);
	*out = am.stats;
	pthread_mutex_unlock(&am.lock);
}
