/* Shared by the files of the /api/v1/cases resource. */
#ifndef CD_API_CASES_H
#define CD_API_CASES_H

#include <stdbool.h>

#include "api/api.h"

/* The case as JSON for this caller (personal data masked when the role does not need it). */
json_t *cases_case_json(struct app *app, const struct store_case *c, const struct api_caller *who);
/* Appends the case as JSON for this caller to b (the text cases_case_json parses): what the
 * 201 of intake sends without building a json_t. CD_ERR_TOOBIG past b's cap. */
enum cd_err cases_case_write(struct buf *b, struct app *app, const struct store_case *c,
			     const struct api_caller *who) CD_MUST_CHECK;
/* The case's events, oldest first, as a JSON array. */
json_t *cases_history_json(struct app *app, const struct store_case *c);
/* {"code","name","path":[...],"confidence","source"} or null. */
json_t *cases_category_json(struct app *app, const char *code, double confidence, const char *source);
/* Whether the caller sees the reporter's name and phone unmasked. */
bool cases_sees_personal_data(const struct api_caller *who, const struct store_case *c);
/* 13812341234 -> 138****1234. */
void cases_mask_phone(const char *in, char *out, size_t cap);

#endif
