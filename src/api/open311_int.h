/* Private to the Open311 endpoints (src/api/open311*.c): the two output formats, the error
 * form, and form-encoded parameters. */
#ifndef CD_API_OPEN311_INT_H
#define CD_API_OPEN311_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "net/http.h"

enum o311_fmt { O311_JSON, O311_XML };

/* Splits "services.json" into base "services" and the format; false when the name does not
 * end in .json or .xml (or the base does not fit in cap). */
bool o311_split(const char *name, char *base, size_t cap, enum o311_fmt *fmt);

/* Answers with doc (stolen) in the format: JSON as is; XML with `root` as the root element,
 * array items named after their container (services → service, service_requests → request,
 * attributes → attribute ...), or `item` for a top-level array. null becomes an empty element. */
void o311_send(struct http_response *res, enum o311_fmt fmt, int status, const char *root, const char *item,
	       json_t *doc);
/* The Open311 error list [{"code": status, "description": ...}] (XML <errors><error>). */
void o311_error(struct http_response *res, enum o311_fmt fmt, int status, const char *description);

/* Parameters of a request: the form-encoded body (POST) first, then the query string. */
struct o311_params {
	size_t n;
	char **keys, **values; /* percent-decoded, in per-request memory */
};

/* Reads an application/x-www-form-urlencoded body into p. False with *why when it is
 * malformed (bad percent escape, not UTF-8, too many pairs). */
bool o311_params_read(struct http_request *req, struct o311_params *p, const char **why);
/* The value of `name`, or NULL when absent or empty (an empty parameter counts as absent). */
const char *o311_param(struct http_request *req, const struct o311_params *p, const char *name);

#endif
