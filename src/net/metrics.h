/* Request counters and latency histograms for Prometheus, cheap enough for the hot path:
 * each thread adds into its own shard with relaxed atomics (no locks, no shared cache lines
 * between the server's threads), and the shards are summed only when /metrics is scraped. */
#ifndef CD_NET_METRICS_H
#define CD_NET_METRICS_H

#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

struct metrics;

/* Creates counters for `n_labels` route labels (the route patterns, each distinct) plus one
 * more, index n_labels, labelled "unmatched" for requests no route matched. The label strings
 * must outlive the metrics. Never returns NULL (aborts on OOM: sizes are internal). */
struct metrics *metrics_new(const char *const *labels, size_t n_labels);
/* Frees everything; NULL is fine. */
void metrics_free(struct metrics *m);

/* Counts one finished request: label index (n_labels for unmatched), the request method
 * (unknown methods count as "OTHER"), the status sent, and its duration in seconds.
 * Thread-safe and lock-free. */
void metrics_observe(struct metrics *m, size_t label, const char *method, int status, double seconds);

/* Appends the Prometheus text exposition of
 *   citydesk_http_requests_total{route,method,status}        counter
 *   citydesk_http_request_duration_seconds{route} histogram   (0.0005 .. 5 s)
 *   citydesk_uptime_seconds                                    gauge
 * to out. Returns CD_ERR_TOOBIG/CD_ERR_NOMEM when out cannot hold it. */
enum cd_err metrics_render(struct metrics *m, struct buf *out) CD_MUST_CHECK;

#endif
