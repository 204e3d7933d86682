/* Exports for people who live in Excel: case lists and score tables as CSV or XLSX, with
 * personal data masked as on screen, and every export written to the audit trail. */
#ifndef CD_API_EXPORT_H
#define CD_API_EXPORT_H

#include "api/api.h"
#include "util/table.h"

#define EXPORT_MAX_ROWS 20000 /* synchronous exports stop here; narrow the filter for more */

enum export_format { EXPORT_NONE, EXPORT_CSV, EXPORT_XLSX };

/* Reads ?format= (json = none, csv, xlsx); false with 422 in res for anything else. */
bool export_format_of(struct http_request *req, struct http_response *res, enum export_format *out);
/* Sends the table as the file `name` (without extension) in the format asked, audited as
 * `action` by the caller. Frees nothing: the caller frees the table. */
void export_send(struct http_request *req, struct http_response *res, struct app *app,
		 const struct api_caller *who, struct table *t, enum export_format f, const char *name,
		 const char *action);

#endif
