/* Request-body parsing: jansson's json_loadb (the old path of json_parse_request, less its
 * too_deep pre-scan) against json_fast_parse and json_parse_request as it now is, on the
 * intake benchmark's ~200-byte case body. Prints ns per parse; not wired into make.
 * Build and run from the repo root after `make`:
 *   gcc -std=c11 -O2 -D_DEFAULT_SOURCE -D_GNU_SOURCE -Isrc bench/bench_json_parse.c \
 *       build/libcitydesk.a $(pkg-config --cflags --libs jansson) -lm -pthread -o build/bench_json_parse
 *   build/bench_json_parse [iterations]   (default 1,000,000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/json.h"
#include "util/json_fast.h"

static const char body[] =
	"{\"channel\":\"system\",\"external_id\":\"bench-1764300000-1-42\",\"description\":"
	"\"东门老街路口井盖缺失，很危险\",\"lat\":22.583520,\"lng\":114.108051,\"category\":\"UM06010\"}";

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
	if (iters <= 0)
		iters = 1000000;
	size_t len = sizeof body - 1;
	long sink = 0;

	double t0 = now_s();
	for (long i = 0; i < iters; i++) {
		json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
		sink += (long)json_object_size(v);
		json_decref(v);
	}
	double t_old = now_s() - t0;

	t0 = now_s();
	for (long i = 0; i < iters; i++) {
		json_t *v;
		if (json_fast_parse(body, len, &v))
			sink += (long)json_object_size(v);
		json_decref(v);
	}
	double t_fast = now_s() - t0;

	t0 = now_s();
	for (long i = 0; i < iters; i++) {
		json_t *v;
		struct json_problem p;
		if (json_parse_request(body, len, &v, &p) == CD_OK)
			sink += (long)json_object_size(v);
		json_decref(v);
	}
	double t_req = now_s() - t0;

	printf("body %zu bytes, %ld parses each\n", len, iters);
	printf("  json_loadb (old path)      %7.1f ns/parse\n", t_old * 1e9 / (double)iters);
	printf("  json_fast_parse            %7.1f ns/parse\n", t_fast * 1e9 / (double)iters);
	printf("  json_parse_request (new)   %7.1f ns/parse\n", t_req * 1e9 / (double)iters);
	printf("  speed-up (loadb / fast)    %7.2fx   (checksum %ld)\n", t_old / t_fast, sink);
	return 0;
}
