/* The group-commit writer; see commit_queue.h. Each waiting request owns a slot (on its stack,
 * or in the request's memory); the writer hands the slots' own cases to store_case_insert_each
 * (no copies of the ~24 KB case and event), then passes the batch to the notifier, which runs
 * the slots' callbacks and wakes the waiting submitters in batch order while the writer is
 * already journalling the next batch: the callbacks (announcing, indexing for the duplicate
 * finder, answering) were ~20 % of every writer cycle, and the next fdatasync waited for them. */
#include "app/commit_queue.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

/* Under load the writer waits for a batch about as large as the last one (at most
 * GATHER_MAX cases, at most GATHER_WAIT_MS) before it writes: each journal append has a fixed
 * cost whatever its size (the fdatasync, the disk's doorbell, waking the writer, the notifier
 * and the HTTP threads). Taken as soon as possible, a batch under 64 clients held ~6 cases;
 * gathered, 14-22, and the writer's CPU per case fell from 14-17 to 10-13 us (bench/intake.sh
 * conditions, docs/internals/intake.md). "Under load" is GATHER_LOAD cases handed in and not
 * yet told: with a few clients every one of them is already in the batch, and waiting for more
 * would only slow each of them down (8 clients: 8,500 -> 6,800 cases/s when it always waited). */
#define GATHER_MAX 32
#define GATHER_LOAD 16
#define GATHER_WAIT_MS 1

/* A stored batch on its way to the notifier. */
struct settled_batch {
	struct settled_batch *next;
	size_t n;
	struct commit_slot *slots[]; /* their rc set by the writer */
};

struct commit_queue {
	struct store *st;
	pthread_t writer, notifier;
	pthread_mutex_t lock;
	pthread_cond_t work;    /* signalled when a slot arrives or on stop */
	pthread_cond_t settled; /* broadcast when a batch's slots are done */
	struct commit_slot *head, *tail;
	struct settled_batch *stored_head, *stored_tail; /* for the notifier, oldest first */
	pthread_cond_t stored;                             /* a batch arrived there, or stop */
	int stopping, writer_done;
	size_t queued;    /* slots from head to tail */
	size_t unsettled; /* slots handed in and not yet told: queued, being written or told */
	size_t wake_at;   /* enqueue signals `work` once queued reaches this (SIZE_MAX: writer busy) */
	long long batches, cases; /* counters for /metrics */
	/* Writer-only scratch space. */
	struct store_case *cs[COMMIT_QUEUE_BATCH];
	struct store_case_event *events[COMMIT_QUEUE_BATCH];
	enum cd_err results[COMMIT_QUEUE_BATCH];
	struct commit_slot *taken[COMMIT_QUEUE_BATCH];
};

static void *writer_main(void *arg)
{
	struct commit_queue *q = arg;
	struct store_actor actor = {"system", ""};
	pthread_setname_np(pthread_self(), "intake-writer"); /* for top -H and perf */
	size_t last = 0; /* the previous batch's size */
	pthread_mutex_lock(&q->lock);
	for (;;) {
		q->wake_at = 1;
		while (!q->head && !q->stopping)
			pthread_cond_wait(&q->work, &q->lock);
		if (!q->head && q->stopping)
			break;
		size_t want = q->unsettled < GATHER_LOAD ? 0 : last < GATHER_MAX ? last : GATHER_MAX;
		if (q->queued < want && !q->stopping) {
			struct timespec until;
			clock_deadline_in(&until, GATHER_WAIT_MS);
			q->wake_at = want;
			while (q->queued < want && !q->stopping &&
			       pthread_cond_timedwait(&q->work, &q->lock, &until) == 0)
				;
		}
		q->wake_at = SIZE_MAX;
		size_t n = 0;
		while (q->head && n < COMMIT_QUEUE_BATCH) {
			struct commit_slot *s = q->head;
			q->head = s->next;
			q->taken[n++] = s;
		}
		q->queued -= n;
		last = n;
		if (!q->head)
			q->tail = NULL;
		pthread_mutex_unlock(&q->lock);

		for (size_t i = 0; i < n; i++) {
			q->cs[i] = q->taken[i]->c;
			q->events[i] = q->taken[i]->ev;
		}
		enum cd_err rc = store_case_insert_each(q->st, &actor, q->cs, q->events, n, q->results);
		if (rc)
			log_error("intake batch failed", "\"cases\":%zu,\"error\":\"%s\"", n, cd_err_name(rc));

		struct settled_batch *sb = xmalloc(sizeof *sb + n * sizeof sb->slots[0]);
		sb->next = NULL;
		sb->n = n;
		for (size_t i = 0; i < n; i++) {
			q->taken[i]->rc = rc ? rc : q->results[i];
			sb->slots[i] = q->taken[i];
		}
		pthread_mutex_lock(&q->lock);
		if (q->stored_tail)
			q->stored_tail->next = sb;
		else
			q->stored_head = sb;
		q->stored_tail = sb;
		pthread_cond_signal(&q->stored);
		q->batches++;
		q->cases += (long long)n;
	}
	q->writer_done = 1;
	pthread_cond_signal(&q->stored);
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Tells each slot of each stored batch, in order: asynchronous ones through their callback
 * (outside the lock), then the waiting ones. */
static void *notifier_main(void *arg)
{
	struct commit_queue *q = arg;
	pthread_setname_np(pthread_self(), "intake-notify");
	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->stored_head && !q->writer_done)
			pthread_cond_wait(&q->stored, &q->lock);
		struct settled_batch *sb = q->stored_head;
		if (!sb)
			break; /* the writer has stopped and everything is told */
		q->stored_head = sb->next;
		if (!q->stored_head)
			q->stored_tail = NULL;
		pthread_mutex_unlock(&q->lock);
		for (size_t i = 0; i < sb->n; i++) {
			struct commit_slot *s = sb->slots[i];
			if (s->on_done) {
				sb->slots[i] = NULL; /* its memory may be gone once on_done returns */
				s->on_done(s->ctx, s->rc);
			}
		}
		pthread_mutex_lock(&q->lock);
		q->unsettled -= sb->n;
		for (size_t i = 0; i < sb->n; i++)
			if (sb->slots[i])
				sb->slots[i]->done = 1; /* a waiting slot may vanish right after this */
		pthread_cond_broadcast(&q->settled);
		xfree(sb);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Frees a queue whose threads have ended (or never started). */
static void queue_free(struct commit_queue *q)
{
	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->settled);
	pthread_cond_destroy(&q->stored);
	pthread_mutex_destroy(&q->lock);
	xfree(q);
}

enum cd_err commit_queue_start(struct store *st, struct commit_queue **out)
{
	/* The journal makes a batch durable with one sequential fdatasync; the database catches up
	 * in the background (store.h, store_case_journal_start). */
	enum cd_err jrc = store_case_journal_start(st);
	if (jrc) {
		log_error("intake journal unavailable", "\"error\":\"%s\"", cd_err_name(jrc));
		return jrc;
	}
	struct commit_queue *q = xcalloc(1, sizeof *q);
	q->st = st;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->settled, NULL);
	pthread_cond_init(&q->stored, NULL);
	if (pthread_create(&q->notifier, NULL, notifier_main, q) != 0) {
		queue_free(q);
		return CD_ERR_IO;
	}
	if (pthread_create(&q->writer, NULL, writer_main, q) != 0) {
		pthread_mutex_lock(&q->lock);
		q->writer_done = 1;
		pthread_cond_signal(&q->stored);
		pthread_mutex_unlock(&q->lock);
		pthread_join(q->notifier, NULL);
		queue_free(q);
		return CD_ERR_IO;
	}
	*out = q;
	return CD_OK;
}

void commit_queue_stop(struct commit_queue *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = 1;
	pthread_cond_signal(&q->work); /* whatever it waits for */
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->writer, NULL);
	pthread_join(q->notifier, NULL); /* after telling every stored batch */
	queue_free(q);
}

/* Appends a slot under the lock; CD_ERR_BUSY when stopping. *wake: the writer waits for this
 * one, signal `work` (after unlocking: signalled under the lock, the writer woke only to block
 * on it, a futex wait and wake more per batch). */
static enum cd_err enqueue(struct commit_queue *q, struct commit_slot *s, bool *wake)
{
	*wake = false;
	if (q->stopping)
		return CD_ERR_BUSY;
	s->next = NULL;
	if (q->tail)
		q->tail->next = s;
	else
		q->head = s;
	q->tail = s;
	q->unsettled++;
	if (++q->queued >= q->wake_at) {
		*wake = true;
		q->wake_at = SIZE_MAX; /* one signal is enough: the writer takes the whole queue */
	}
	return CD_OK;
}

enum cd_err commit_queue_submit(struct commit_queue *q, struct store_case *c, struct store_case_event *ev)
{
	struct commit_slot s = {c, ev, CD_OK, 0, NULL, NULL, NULL};
	bool wake;
	pthread_mutex_lock(&q->lock);
	enum cd_err rc = enqueue(q, &s, &wake);
	if (wake)
		pthread_cond_signal(&q->work); /* this one waits here anyway: no point unlocking first */
	while (!rc && !s.done)
		pthread_cond_wait(&q->settled, &q->lock);
	pthread_mutex_unlock(&q->lock);
	return rc ? rc : s.rc;
}

enum cd_err commit_queue_submit_async(struct commit_queue *q, struct store_case *c, struct store_case_event *ev,
				      struct commit_slot *slot, commit_done_fn done, void *ctx)
{
	*slot = (struct commit_slot){c, ev, CD_OK, 0, done, ctx, NULL};
	bool wake;
	pthread_mutex_lock(&q->lock);
	enum cd_err rc = enqueue(q, slot, &wake);
	pthread_mutex_unlock(&q->lock);
	if (wake)
		pthread_cond_signal(&q->work);
	return rc;
}

void commit_queue_stats(struct commit_queue *q, long long *batches, long long *cases)
{
	pthread_mutex_lock(&q->lock);
	*batches = q->batches;
	*cases = q->cases;
	pthread_mutex_unlock(&q->lock);
}
