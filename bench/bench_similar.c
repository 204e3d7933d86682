/* The duplicate finder and the clusters at scale: 1,000,000 stored cases over Luohu in one
 * week (half spread evenly, half around 50 busy spots), then the duplicate check of new cases
 * (sign the text + query) with its p50/p99 against the 1 ms goal, a query against one dense
 * cell; and clustering 100,000 cases (edited copies of the labelled messages) against the 10 s
 * goal. Prints figures only.
 * Build and run from the repo root (after `make`):
 *   gcc -std=c11 -O2 -D_DEFAULT_SOURCE -D_GNU_SOURCE -Isrc bench/bench_similar.c build/libcitydesk.a \
 *       $(pkg-config --cflags --libs opencc libutf8proc jansson sqlite3 libsodium libmicrohttpd) \
 *       -pthread -lm -o build/bench_similar
 *   build/bench_similar [stored [clustered]]     (defaults 1000000 100000) */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tests/unit/messages.h"
#include "core/insights.h"
#include "core/similar.h"
#include "util/alloc.h"
#include "util/csv.h"

#define TRAIN_CSV "../shared/data/complaints/taidi2020C_train.csv"
#define T0 1795000000
#define WEEK (7 * 86400)

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}
static double rnd01(void)
{
	return (double)(rnd64() >> 11) / 9007199254740992.0;
}
static double gauss(void)
{
	return sqrt(-2 * log(rnd01() + 1e-12)) * cos(6.283185307 * rnd01());
}

/* A point in Luohu's box: evenly, or around one of 50 busy spots (sigma 400 m). */
static void place(double *lat, double *lng)
{
	static double spot[50][2];
	static bool init;
	if (!init) {
		for (int i = 0; i < 50; i++)
			spot[i][0] = 22.53 + rnd01() * 0.06, spot[i][1] = 114.09 + rnd01() * 0.09;
		init = true;
	}
	if (rnd64() & 1) {
		*lat = 22.52 + rnd01() * 0.08;
		*lng = 114.08 + rnd01() * 0.11;
	} else {
		int s = (int)(rnd64() % 50);
		*lat = spot[s][0] + gauss() * 400 / 111320.0;
		*lng = spot[s][1] + gauss() * 400 / 102800.0;
	}
}

static size_t load(const char *path, char ***titles, char ***details)
{
	struct message *m;
	size_t n = messages_load(path, 1024, &m);
	*titles = xcalloc(1024, sizeof **titles);
	*details = xcalloc(1024, sizeof **details);
	for (size_t i = 0; i < n; i++) {
		(*titles)[i] = m[i].title;
		(*details)[i] = m[i].detail;
		xfree(m[i].label);
	}
	xfree(m);
	return n;
}

/* A copy of s with about 8 % of its characters dropped (xfree it). */
static char *edited(const char *s, size_t max_bytes)
{
	size_t len = strlen(s), o = 0;
	char *out = xmalloc(len + 1);
	for (size_t i = 0; i < len && o < max_bytes;) {
		unsigned char b = (unsigned char)s[i];
		size_t n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
		if (i + n > len)
			n = len - i;
		if (rnd64() % 100 >= 8) {
			memcpy(out + o, s + i, n);
			o += n;
		}
		i += n;
	}
	out[o] = '\0';
	return out;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	size_t stored = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	size_t clustered = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
	char **titles = NULL, **details = NULL;
	size_t nm = load(TRAIN_CSV, &titles, &details);
	if (!nm) {
		fprintf(stderr, "bench_similar: cannot read %s (run from the repo root)\n", TRAIN_CSV);
		return 1;
	}

	/* ---- the duplicate finder ---- */
	struct similar_index *ix = similar_new(NULL);
	struct similar_case *real = xcalloc(nm, sizeof *real);
	for (size_t i = 0; i < nm; i++)
		if (similar_sign(NULL, titles[i], details[i], &real[i]))
			return 1;
	double t = now_s();
	for (size_t i = 0; i < stored; i++) {
		struct similar_case c;
		memset(&c, 0, sizeof c);
		c.id = (int64_t)i + 1;
		c.reported_at = T0 + (int64_t)(rnd01() * WEEK);
		c.has_point = 1;
		place(&c.lat, &c.lng);
		snprintf(c.category, sizeof c.category, "H0%d", (int)(rnd64() % 7) + 1);
		if (i % 20 == 0) { /* 5 % carry real signatures: some candidates really score */
			c.sig = real[rnd64() % nm].sig;
			c.shingles = 100;
		} else {
			for (int k = 0; k < MINHASH_PERM; k += 8) {
				uint64_t r = rnd64();
				memcpy(c.sig.v + k, &r, 8);
			}
			c.shingles = 100;
		}
		if (similar_add(ix, &c))
			return 1;
	}
	double add_s = now_s() - t;
	printf("similar: %zu cases added in %.2f s (%.0f/s), %zu held\n", stored, add_s, stored / add_s,
	       similar_count(ix));
	enum { Q = 20000 };
	double *lat_sign = xmalloc(Q * sizeof *lat_sign), *lat_query = xmalloc(Q * sizeof *lat_query);
	size_t hits = 0;
	for (size_t q = 0; q < Q; q++) {
		size_t m = rnd64() % nm;
		struct similar_case c;
		double lat, lng;
		place(&lat, &lng);
		double t0 = now_s();
		if (similar_case_make(&c, 0, T0 + (int64_t)(rnd01() * WEEK), 1, lat, lng, "H01", NULL,
				      titles[m], details[m]))
			return 1;
		double t1 = now_s();
		struct similar_hit h[8];
		hits += similar_query(ix, &c, h, 8) > 0;
		double t2 = now_s();
		lat_sign[q] = (t2 - t0) * 1e6;
		lat_query[q] = (t2 - t1) * 1e6;
	}
	qsort(lat_sign, Q, sizeof *lat_sign, dcmp);
	qsort(lat_query, Q, sizeof *lat_query, dcmp);
	printf("similar: duplicate check per new case (sign + query), %d new cases against %zu stored:\n", Q,
	       stored);
	printf("  sign+query p50 %.1f us  p99 %.1f us  max %.1f us   (goal p99 <= 1000 us: ratio %.2f)\n",
	       lat_sign[Q / 2], lat_sign[Q * 99 / 100], lat_sign[Q - 1], lat_sign[Q * 99 / 100] / 1000.0);
	printf("  query alone p50 %.1f us  p99 %.1f us; %zu of %d found a candidate\n", lat_query[Q / 2],
	       lat_query[Q * 99 / 100], hits, Q);
	similar_free(ix);

	/* A dense cell, as bench/intake.sh makes one: 2,500 cases within 100 m of one point and
	 * 10 s, five texts in turn (so a fifth of them are copies of any new one); each query is a
	 * new case there with one of the five texts. */
	enum { DENSE = 2500, DQ = 5000 };
	ix = similar_new(NULL);
	for (size_t i = 0; i < DENSE; i++) {
		struct similar_case c = real[i % 5];
		c.id = (int64_t)i + 1;
		c.reported_at = T0 + (int64_t)(i * 10 / DENSE);
		c.has_point = 1;
		c.lat = 22.5480 + (rnd01() - 0.5) * 0.0018;
		c.lng = 114.1180 + (rnd01() - 0.5) * 0.0018;
		snprintf(c.category, sizeof c.category, "UM06010");
		if (similar_add(ix, &c))
			return 1;
	}
	hits = 0;
	for (size_t q = 0; q < DQ; q++) {
		struct similar_case c = real[q % 5];
		c.id = 0;
		c.reported_at = T0 + 10;
		c.has_point = 1;
		c.lat = 22.5480 + (rnd01() - 0.5) * 0.0018;
		c.lng = 114.1180 + (rnd01() - 0.5) * 0.0018;
		snprintf(c.category, sizeof c.category, "UM06010");
		struct similar_hit h[1];
		double t1 = now_s();
		hits += similar_query(ix, &c, h, 1);
		lat_query[q] = (now_s() - t1) * 1e6;
	}
	qsort(lat_query, DQ, sizeof *lat_query, dcmp);
	printf("similar: dense cell (%d cases within 100 m and 10 s, a fifth copies): query (cap 1) p50 %.1f us  "
	       "p99 %.1f us  max %.1f us; %zu of %d found a candidate\n",
	       DENSE, lat_query[DQ / 2], lat_query[DQ * 99 / 100], lat_query[DQ - 1], hits, DQ);
	similar_free(ix);
	xfree(real);
	xfree(lat_sign);
	xfree(lat_query);

	/* ---- clusters ---- */
	struct insights_doc *docs = xcalloc(clustered, sizeof *docs);
	char **own = xcalloc(2 * clustered, sizeof *own);
	static const char *const streets[] = {"440303001", "440303002", "440303003", "440303004",
					      "440303005"};
	for (size_t i = 0; i < clustered; i++) {
		size_t m = rnd64() % nm;
		own[2 * i] = edited(titles[m], 200);
		own[2 * i + 1] = edited(details[m], 600);
		docs[i] = (struct insights_doc){(int64_t)i + 1,
						T0 + (int64_t)(rnd01() * 2 * WEEK),
						own[2 * i],
						own[2 * i + 1],
						"",
						streets[i % 5],
						"",
						""};
	}
	struct insights_cluster_opts o;
	insights_cluster_opts_default(&o);
	o.from = T0 + WEEK;
	o.to = T0 + 2 * WEEK;
	struct insights_clusters cl;
	t = now_s();
	if (insights_cluster(NULL, docs, clustered, &o, &cl))
		return 1;
	double cl_s = now_s() - t;
	printf(
	    "insights: %zu cases clustered in %.2f s (goal <= 10 s: ratio %.2f); %zu clusters reported, the "
	    "biggest %zu cases \"%s\"\n",
	    clustered, cl_s, cl_s / 10.0, cl.n, cl.n ? cl.items[0].count : 0, cl.n ? cl.items[0].label : "");
	insights_clusters_release(&cl);
	struct insights_hotspot hs[10];
	size_t w;
	t = now_s();
	if (insights_hotspots(docs, clustered, o.from, o.to, INSIGHTS_STREET, hs, 10, &w))
		return 1;
	printf("insights: hot spots over %zu cases in %.3f s\n", clustered, now_s() - t);
	for (size_t i = 0; i < 2 * clustered; i++)
		xfree(own[i]);
	xfree(own);
	xfree(docs);
	for (size_t i = 0; i < nm; i++) {
		xfree(titles[i]);
		xfree(details[i]);
	}
	xfree(titles);
	xfree(details);
	return 0;
}
