/* The OpenAPI 3.1 document of /api/v1 (GET /api/v1/openapi.json), built from the route table. */
#ifndef CD_API_OPENAPI_H
#define CD_API_OPENAPI_H

#include <stdbool.h>
#include <stddef.h>

#include "net/http.h"

/* What the document says of one route, by its name in the route table. */
struct api_doc {
	const char *name;       /* the route's name, e.g. "cases_list" */
	const char *tag;        /* group in the document, e.g. "cases" */
	const char *summary;    /* English */
	const char *summary_zh; /* Simplified Chinese (the description) */
	const char *query;      /* comma-separated query parameters, or NULL */
	const char *body;       /* request body: "json", "form", "csv", "image", or NULL */
	bool public_route;      /* answers without a bearer token */
};

/* The row for a route name, or NULL when it has none. */
const struct api_doc *api_openapi_doc(const char *route_name);
/* The i-th row, or NULL past the last (for the test that checks every row has its route). */
const struct api_doc *api_openapi_doc_at(size_t i);
/* GET /api/v1/openapi.json */
void api_openapi(struct http_request *req, struct http_response *res, void *app);

#endif
