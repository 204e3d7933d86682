/* app/commit_queue: group commit through the intake journal, with the stored batches told by
 * the notifier thread. Every submission is told exactly once, in the order the cases were
 * stored, on the notifier (not the writer, not the submitter), and stopping tells everything
 * handed in before it returns. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app/commit_queue.h"
#include "test.h"
#include "tmpstore.h"
#include "util/alloc.h"

#define DAY0 ((int64_t)1795708800) /* 2026-11-27 00:00:00 +08:00 */
#define THREADS 4
#define PER_THREAD 300

static void fill_case(struct store_case *c, struct store_case_event *ev, const char *ext, int64_t t)
{
	memset(c, 0, sizeof *c);
	memset(ev, 0, sizeof *ev);
	snprintf(c->channel, sizeof c->channel, "system");
	snprintf(c->external_id, sizeof c->external_id, "%s", ext);
	snprintf(c->description, sizeof c->description, "东门路口井盖缺失，行人易跌落。%s", ext);
	snprintf(c->street_code, sizeof c->street_code, "440303001");
	snprintf(c->category_code, sizeof c->category_code, "UM06010");
	c->reported_at = t;
}

/* One asynchronous submission and what its callback saw. */
struct sub {
	struct store_case c;
	struct store_case_event ev;
	struct commit_slot slot;
	atomic_int told;  /* how many times on_done ran */
	enum cd_err rc;
	char thread[16];  /* the name of the thread on_done ran on */
	int64_t order;    /* its position among all callbacks */
};

static atomic_llong told_total;

static void on_done(void *ctx, enum cd_err rc)
{
	struct sub *s = ctx;
	s->rc = rc;
	pthread_getname_np(pthread_self(), s->thread, sizeof s->thread);
	s->order = atomic_fetch_add(&told_total, 1);
	atomic_fetch_add(&s->told, 1);
}

struct producer {
	struct commit_queue *q;
	struct sub *subs; /* PER_THREAD of them */
	int k;
	int sync_ok;      /* synchronous submissions that returned CD_OK with an id */
};

/* Submits PER_THREAD cases asynchronously, and every tenth also one synchronously. */
static void *produce(void *arg)
{
	struct producer *p = arg;
	struct store_case *c = xmalloc(sizeof *c);
	struct store_case_event *ev = xmalloc(sizeof *ev);
	for (int i = 0; i < PER_THREAD; i++) {
		char ext[32];
		struct sub *s = &p->subs[i];
		snprintf(ext, sizeof ext, "q-%d-%d", p->k, i);
		fill_case(&s->c, &s->ev, ext, DAY0 + 3600 + i);
		if (commit_queue_submit_async(p->q, &s->c, &s->ev, &s->slot, on_done, s) != CD_OK)
			break;
		if (i % 10 == 0) {
			snprintf(ext, sizeof ext, "sync-%d-%d", p->k, i);
			fill_case(c, ev, ext, DAY0 + 7200 + i);
			if (commit_queue_submit(p->q, c, ev) == CD_OK && c->id > 0)
				p->sync_ok++;
		}
	}
	xfree(c);
	xfree(ev);
	return NULL;
}

/* A fresh store in a temporary directory and a queue started on it. */
static struct commit_queue *open_queue(struct tmpdb *t, struct store **st)
{
	struct commit_queue *q = NULL;
	tmpdb_make(t);
	CHECK_INT_EQ(store_open(t->path, st), CD_OK);
	CHECK_INT_EQ(commit_queue_start(*st, &q), CD_OK);
	return q;
}

static void test_every_case_told_once_in_order(void)
{
	struct tmpdb t;
	struct store *st = NULL;
	struct commit_queue *q = open_queue(&t, &st);
	struct sub *subs = xcalloc(THREADS * PER_THREAD, sizeof *subs);
	struct producer p[THREADS];
	pthread_t th[THREADS];
	for (int k = 0; k < THREADS; k++) {
		p[k] = (struct producer){q, subs + k * PER_THREAD, k, 0};
		CHECK_INT_EQ(pthread_create(&th[k], NULL, produce, &p[k]), 0);
	}
	for (int k = 0; k < THREADS; k++)
		pthread_join(th[k], NULL);
	/* Stopping tells every case handed in before it returns. */
	commit_queue_stop(q);
	int once = 0, ok = 0, on_notifier = 0, in_order = 1;
	for (int i = 0; i < THREADS * PER_THREAD; i++) {
		struct sub *s = &subs[i];
		once += atomic_load(&s->told) == 1;
		ok += s->rc == CD_OK && s->c.id > 0 && s->c.ref[0] == 'L';
		on_notifier += strcmp(s->thread, "intake-notify") == 0;
	}
	/* Callbacks come in the order the cases were stored: ids ascend with the callback order. */
	for (int i = 0; i < THREADS * PER_THREAD; i++)
		for (int j = 0; j < THREADS * PER_THREAD; j++)
			if (subs[i].order < subs[j].order && subs[i].c.id > subs[j].c.id)
				in_order = 0;
	CHECK_INT_EQ(once, THREADS * PER_THREAD);
	CHECK_INT_EQ(ok, THREADS * PER_THREAD);
	CHECK_INT_EQ(on_notifier, THREADS * PER_THREAD);
	CHECK(in_order);
	int sync_ok = 0;
	for (int k = 0; k < THREADS; k++)
		sync_ok += p[k].sync_ok;
	CHECK_INT_EQ(sync_ok, THREADS * (PER_THREAD / 10));
	xfree(subs);
	store_close(st);
	tmpdb_remove(&t);
}

/* A queue stopped at once (nothing handed in) and one stopped right after a lone case. */
static void test_stop_empty_and_after_one(void)
{
	struct tmpdb t;
	struct store *st = NULL;
	struct commit_queue *q = open_queue(&t, &st);
	commit_queue_stop(q);
	CHECK_INT_EQ(commit_queue_start(st, &q), CD_OK);
	struct sub *s = xcalloc(1, sizeof *s);
	fill_case(&s->c, &s->ev, "lone", DAY0 + 60);
	CHECK_INT_EQ(commit_queue_submit_async(q, &s->c, &s->ev, &s->slot, on_done, s), CD_OK);
	commit_queue_stop(q);
	CHECK_INT_EQ(atomic_load(&s->told), 1);
	CHECK_INT_EQ(s->rc, CD_OK);
	struct store_case *back = xmalloc(sizeof *back);
	CHECK_INT_EQ(store_case_find_external(st, "system", "lone", back), CD_OK);
	CHECK_STR_EQ(back->ref, s->c.ref);
	xfree(back);
	xfree(s);
	store_close(st);
	tmpdb_remove(&t);
}

/* Hands in subs[from..to) asynchronously, then waits until told_total - told0 reaches to. */
static void submit_and_wait(struct commit_queue *q, struct sub *subs, int from, int to, long long told0)
{
	for (int i = from; i < to; i++) {
		char ext[32];
		snprintf(ext, sizeof ext, "burst-%d", i);
		fill_case(&subs[i].c, &subs[i].ev, ext, DAY0 + 60 + i);
		CHECK_INT_EQ(commit_queue_submit_async(q, &subs[i].c, &subs[i].ev, &subs[i].slot, on_done, &subs[i]),
			     CD_OK);
	}
	while (atomic_load(&told_total) - told0 < to)
		usleep(1000);
}

/* Under load the writer waits for a batch as large as the last one: the cases after a burst
 * (twenty at once, then a lone one) are still stored, the wait ending after a millisecond
 * when no more come, and so is a case handed in while the queue stops. alarm() turns a
 * writer that waits for ever into a failure. */
static void test_lone_case_after_burst(void)
{
	enum { BURST = 200, AFTER = 20 };
	struct tmpdb t;
	struct store *st = NULL;
	struct commit_queue *q = open_queue(&t, &st);
	struct sub *subs = xcalloc(BURST + AFTER + 1, sizeof *subs);
	alarm(20);
	long long told0 = atomic_load(&told_total);
	submit_and_wait(q, subs, 0, BURST, told0);
	submit_and_wait(q, subs, BURST, BURST + AFTER, told0);
	struct store_case *c = xmalloc(sizeof *c);
	struct store_case_event *ev = xmalloc(sizeof *ev);
	fill_case(c, ev, "after-burst", DAY0 + 600);
	CHECK_INT_EQ(commit_queue_submit(q, c, ev), CD_OK);
	CHECK(c->id > 0);
	struct sub *last = &subs[BURST + AFTER];
	fill_case(&last->c, &last->ev, "at-stop", DAY0 + 700);
	CHECK_INT_EQ(commit_queue_submit_async(q, &last->c, &last->ev, &last->slot, on_done, last), CD_OK);
	commit_queue_stop(q);
	alarm(0);
	CHECK_INT_EQ(atomic_load(&last->told), 1);
	CHECK_INT_EQ(last->rc, CD_OK);
	CHECK(store_case_find_external(st, "system", "at-stop", c) == CD_OK);
	xfree(c);
	xfree(ev);
	xfree(subs);
	store_close(st);
	tmpdb_remove(&t);
}

static const struct test_case tests[] = {
    {"every_case_told_once_in_order", test_every_case_told_once_in_order},
    {"stop_empty_and_after_one", test_stop_empty_and_after_one},
    {"lone_case_after_burst", test_lone_case_after_burst},
};
TEST_MAIN(tests)
