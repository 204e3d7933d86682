/* POST /api/v1/classify {"text"}: the category the intake would propose for a text, with its
 * confidence and the next alternatives (for the console's triage and the residents' picker). */
#include <string.h>

#include "api/cases.h"
#include "app/intake.h"
#include "core/category.h"

void api_classify(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	static const char *const allowed[] = {"text", "title", NULL};
	json_t *body = NULL;
	struct json_problem p;
	const char *text = NULL, *title = NULL;
	if (!api_authenticate(req, res, app) || !http_read_json(req, res, &body))
		return;
	if (json_check_fields(body, allowed, &p) ||
	    json_get_string(body, "text", JSON_REQUIRED | JSON_NONEMPTY, 4000, &text, &p) ||
	    json_get_string(body, "title", JSON_OPTIONAL, 200, &title, &p)) {
		http_error_json(res, &p);
		goto out;
	}
	struct classify_result top[3];
	double auto_min;
	size_t n = intake_classify(app, title, text, 3, top, &auto_min);
	json_t *alternatives = json_array();
	for (size_t i = 1; i < n; i++)
		json_array_append_new(alternatives, json_pack("{s:o, s:f}", "category",
							      cases_category_json(app, top[i].code, top[i].confidence,
										  top[i].source),
							      "confidence", top[i].confidence));
	json_t *reply = json_pack("{s:o, s:f, s:b, s:f, s:o}", "category",
				  n ? cases_category_json(app, top[0].code, top[0].confidence, top[0].source)
				    : json_null(),
				  "confidence", n ? top[0].confidence : 0.0, "automatic", n && top[0].confidence >= auto_min,
				  "threshold", auto_min, "alternatives", alternatives);
	http_respond_json(res, 200, reply);
	json_decref(reply);
out:
	json_decref(body);
}
