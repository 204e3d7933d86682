/* GET /api/v1/categories: the category tree, flat in tree order, for pickers and filters.
 * Public: it holds no personal data and residents pick a category before they log in. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/category.h"

void api_categories_list(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	const char *root = http_query_get(req, "root");
	const char *depth_s = http_query_get(req, "max_depth");
	long max_depth = CATEGORY_MAX_DEPTH;
	if (depth_s && *depth_s) {
		char *end;
		max_depth = strtol(depth_s, &end, 10);
		if (*end || max_depth < 0 || max_depth > CATEGORY_MAX_DEPTH) {
			http_error(res, 422, "invalid_parameter", "max_depth is 0 to 16", "max_depth");
			return;
		}
	}
	if (root && *root && !category_get(app->cats, root)) {
		http_error(res, 422, "unknown_category", "unknown root category", "root");
		return;
	}
	json_t *items = json_array();
	size_t n = category_count(app->cats);
	for (size_t i = 0; i < n; i++) {
		const struct category *c = category_at(app->cats, i);
		if ((root && *root && !category_in_subtree(app->cats, c->code, root)) || c->depth > max_depth)
			continue;
		json_t *limit = c->limit.kind == CATEGORY_LIMIT_NONE
					? json_null()
					: json_pack("{s:i}", category_limit_kind_name(c->limit.kind), c->limit.value);
		json_array_append_new(items, json_pack("{s:s, s:s, s:s?, s:i, s:o, s:s}", "code", c->code, "name",
						       c->name, "parent", c->parent_code[0] ? c->parent_code : NULL,
						       "depth", c->depth, "time_limit", limit, "urgency",
						       category_urgency_name(c->urgency)));
	}
	api_respond_page(res, items, (long long)json_array_size(items), 1, (long)json_array_size(items));
}
