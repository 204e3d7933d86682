/* The OpenAPI document covers the route table exactly: every /api/v1 route has its row in
 * src/api/openapi.c (summary in both languages, a tag) and every row names a route. */
#include <string.h>

#include "api/api.h"
#include "api/openapi.h"

#include "test.h"

static void test_every_route_documented(void)
{
	size_t api_routes_seen = 0;
	for (size_t i = 0; i < api_routes_count; i++) {
		const struct http_route *r = &api_routes[i];
		if (strncmp(r->pattern, "/api/v1/", 8) != 0)
			continue;
		api_routes_seen++;
		const struct api_doc *d = api_openapi_doc(r->name);
		if (!d)
			fprintf(stderr, "  route %s %s (%s) has no row in src/api/openapi.c\n", r->method, r->pattern, r->name);
		CHECK(d != NULL);
		if (d) {
			CHECK(d->summary && d->summary[0]);
			CHECK(d->summary_zh && d->summary_zh[0]);
			CHECK(d->tag && d->tag[0]);
		}
	}
	CHECK(api_routes_seen >= 20);
}

static void test_every_row_has_a_route(void)
{
	for (size_t k = 0; api_openapi_doc_at(k); k++) {
		const struct api_doc *d = api_openapi_doc_at(k);
		bool found = false;
		for (size_t i = 0; i < api_routes_count && !found; i++)
			found = strcmp(api_routes[i].name, d->name) == 0;
		if (!found)
			fprintf(stderr, "  row %s in src/api/openapi.c names no route\n", d->name);
		CHECK(found);
	}
}

static const struct test_case tests[] = {
	{"every /api/v1 route is documented", test_every_route_documented},
	{"every documented row is a route", test_every_row_has_a_route},
};

TEST_MAIN(tests)
