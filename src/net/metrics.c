/* Sharded lock-free request metrics and their Prometheus rendering; see metrics.h. */
#include "net/metrics.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/alloc.h"

#define SHARDS 8 /* threads hash onto shards; more threads than shards just share */

/* Upper bounds of the latency buckets in seconds; +Inf is implicit. */
static const double bucket_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				   0.1,    0.25,  0.5,    1,     2.5,  5};
#define N_BUCKETS (sizeof bucket_le / sizeof bucket_le[0])

/* Methods get their own series; anything else is OTHER. */
static const char *const method_names[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"};
#define N_METHODS (sizeof method_names / sizeof method_names[0])

/* Statuses we expect to send; others fold into their class ("2xx" .. "5xx"). */
static const int status_codes[] = {200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308,
				   400, 401, 403, 404, 405, 406, 408, 409, 410, 411, 412,
				   413, 414, 415, 416, 422, 429, 431, 500, 501, 502, 503, 504};
#define N_CODES (sizeof status_codes / sizeof status_codes[0])
#define N_STATUS (N_CODES + 5) /* + 1xx..5xx classes */

/* One thread's counters. Cells are laid out [label][method][status]. */
struct shard {
	_Atomic uint64_t *count;    /* requests by label, method, status */
	_Atomic uint64_t *bucket;   /* [label][N_BUCKETS + 1] non-cumulative histogram counts */
	_Atomic uint64_t *sum_ns;   /* [label] total duration in nanoseconds */
};

struct metrics {
	const char *const *labels; /* route patterns, n_labels of them */
	size_t n_labels;           /* distinct route labels; index n_labels = unmatched */
	struct timespec started;   /* for citydesk_uptime_seconds */
	_Atomic unsigned next_shard; /* hands shards to threads round robin */
	struct shard shards[SHARDS];
};

struct metrics *metrics_new(const char *const *labels, size_t n_labels)
{
	struct metrics *m = xcalloc(1, sizeof *m);
	m->labels = labels;
	m->n_labels = n_labels;
	size_t nl = n_labels + 1;
	for (size_t i = 0; i < SHARDS; i++) {
		m->shards[i].count = xcalloc(nl * N_METHODS * N_STATUS, sizeof(_Atomic uint64_t));
		m->shards[i].bucket = xcalloc(nl * (N_BUCKETS + 1), sizeof(_Atomic uint64_t));
		m->shards[i].sum_ns = xcalloc(nl, sizeof(_Atomic uint64_t));
	}
	clock_gettime(CLOCK_MONOTONIC, &m->started);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < SHARDS; i++) {
		xfree(m->shards[i].count);
		xfree(m->shards[i].bucket);
		xfree(m->shards[i].sum_ns);
	}
	xfree(m);
}

static size_t method_index(const char *method)
{
	for (size_t i = 0; i < N_METHODS - 1; i++)
		if (strcmp(method, method_names[i]) == 0)
			return i;
	return N_METHODS - 1;
}

static size_t status_index(int status)
{
	for (size_t i = 0; i < N_CODES; i++)
		if (status_codes[i] == status)
			return i;
	int cls = status / 100;
	if (cls < 1 || cls > 5)
		cls = 5;
	return N_CODES + (size_t)(cls - 1);
}

/* The calling thread's shard, picked once per thread. Which metrics object the index is
 * used with does not matter: it is only a spreading hint. */
static size_t my_shard(struct metrics *m)
{
	static _Thread_local unsigned idx; /* 0 = not picked yet, else shard + 1 */
	if (!idx)
		idx = atomic_fetch_add_explicit(&m->next_shard, 1, memory_order_relaxed) % SHARDS + 1;
	return idx - 1;
}

void metrics_observe(struct metrics *m, size_t label, const char *method, int status, double seconds)
{
	if (label > m->n_labels)
		label = m->n_labels;
	struct shard *s = &m->shards[my_shard(m)];
	size_t cell = (label * N_METHODS + method_index(method)) * N_STATUS + status_index(status);
	atomic_fetch_add_explicit(&s->count[cell], 1, memory_order_relaxed);
	size_t b = 0;
	while (b < N_BUCKETS && seconds > bucket_le[b])
		b++;
	atomic_fetch_add_explicit(&s->bucket[label * (N_BUCKETS + 1) + b], 1, memory_order_relaxed);
	uint64_t ns = seconds > 0 ? (uint64_t)(seconds * 1e9) : 0;
	atomic_fetch_add_explicit(&s->sum_ns[label], ns, memory_order_relaxed);
}

static uint64_t sum_cells(_Atomic uint64_t *const *cells_by_shard, size_t cell)
{
	uint64_t total = 0;
	for (size_t i = 0; i < SHARDS; i++)
		total += atomic_load_explicit(&cells_by_shard[i][cell], memory_order_relaxed);
	return total;
}

/* Appends a label value with Prometheus escaping (backslash, quote, newline). */
static enum cd_err put_label(struct buf *out, const char *s)
{
	enum cd_err rc = CD_OK;
	for (; *s && !rc; s++) {
		if (*s == '\\' || *s == '"') {
			rc = buf_putc(out, '\\');
			if (!rc)
				rc = buf_putc(out, *s);
		} else if (*s == '\n')
			rc = buf_puts(out, "\\n");
		else
			rc = buf_putc(out, *s);
	}
	return rc;
}

static const char *label_name(const struct metrics *m, size_t l)
{
	return l < m->n_labels ? m->labels[l] : "unmatched";
}

static enum cd_err render_counts(struct metrics *m, struct buf *out, _Atomic uint64_t *const *count)
{
	enum cd_err rc = buf_puts(out, "# HELP citydesk_http_requests_total HTTP requests by route, method and status.\n"
				       "# TYPE citydesk_http_requests_total counter\n");
	for (size_t l = 0; l <= m->n_labels && !rc; l++)
		for (size_t me = 0; me < N_METHODS && !rc; me++)
			for (size_t st = 0; st < N_STATUS && !rc; st++) {
				size_t cell = (l * N_METHODS + me) * N_STATUS + st;
				uint64_t n = sum_cells(count, cell);
				if (!n)
					continue;
				char status[8];
				if (st < N_CODES)
					snprintf(status, sizeof status, "%d", status_codes[st]);
				else
					snprintf(status, sizeof status, "%zuxx", st - N_CODES + 1);
				rc = buf_puts(out, "citydesk_http_requests_total{route=\"");
				if (!rc)
					rc = put_label(out, label_name(m, l));
				if (!rc)
					rc = buf_printf(out, "\",method=\"%s\",status=\"%s\"} %llu\n",
							method_names[me], status, (unsigned long long)n);
			}
	return rc;
}

static enum cd_err render_histograms(struct metrics *m, struct buf *out,
				     _Atomic uint64_t *const *bucket, _Atomic uint64_t *const *sum_ns)
{
	enum cd_err rc = buf_puts(out, "# HELP citydesk_http_request_duration_seconds Time from request headers to response sent.\n"
				       "# TYPE citydesk_http_request_duration_seconds histogram\n");
	for (size_t l = 0; l <= m->n_labels && !rc; l++) {
		uint64_t cum = 0;
		uint64_t counts[N_BUCKETS + 1];
		for (size_t b = 0; b <= N_BUCKETS; b++) {
			counts[b] = sum_cells(bucket, l * (N_BUCKETS + 1) + b);
			cum += counts[b];
		}
		if (!cum)
			continue; /* never-hit routes stay out of the output */
		uint64_t total = cum;
		cum = 0;
		for (size_t b = 0; b <= N_BUCKETS && !rc; b++) {
			cum += counts[b];
			rc = buf_puts(out, "citydesk_http_request_duration_seconds_bucket{route=\"");
			if (!rc)
				rc = put_label(out, label_name(m, l));
			if (!rc && b < N_BUCKETS)
				rc = buf_printf(out, "\",le=\"%g\"} %llu\n", bucket_le[b], (unsigned long long)cum);
			else if (!rc)
				rc = buf_printf(out, "\",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
		}
		if (!rc)
			rc = buf_puts(out, "citydesk_http_request_duration_seconds_sum{route=\"");
		if (!rc)
			rc = put_label(out, label_name(m, l));
		if (!rc)
			rc = buf_printf(out, "\"} %.9f\n", (double)sum_cells(sum_ns, l) / 1e9);
		if (!rc)
			rc = buf_puts(out, "citydesk_http_request_duration_seconds_count{route=\"");
		if (!rc)
			rc = put_label(out, label_name(m, l));
		if (!rc)
			rc = buf_printf(out, "\"} %llu\n", (unsigned long long)total);
	}
	return rc;
}

enum cd_err metrics_render(struct metrics *m, struct buf *out)
{
	_Atomic uint64_t *count[SHARDS], *bucket[SHARDS], *sum_ns[SHARDS];
	for (size_t i = 0; i < SHARDS; i++) {
		count[i] = m->shards[i].count;
		bucket[i] = m->shards[i].bucket;
		sum_ns[i] = m->shards[i].sum_ns;
	}
	enum cd_err rc = render_counts(m, out, count);
	if (!rc)
		rc = render_histograms(m, out, bucket, sum_ns);
	if (!rc) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double up = (double)(now.tv_sec - m->started.tv_sec) +
			    (double)(now.tv_nsec - m->started.tv_nsec) / 1e9;
		rc = buf_printf(out, "# HELP citydesk_uptime_seconds Seconds since the server started.\n"
				     "# TYPE citydesk_uptime_seconds gauge\n"
				     "citydesk_uptime_seconds %.3f\n", up);
	}
	return rc;
}
