/* POST /api/v1/ingest/{system}: events and alerts pushed in by other district systems (the 119
 * fire system, gas, elderly-care platforms ...), authenticated by the system's own key in
 * X-Api-Key (`citydesk ingest add --system NAME` makes one). The JSON form is in
 * docs/internals/rules.md ("Ingest"). */
#ifndef CD_API_INGEST_H
#define CD_API_INGEST_H

#include "net/http.h"

#define INGEST_ITEMS_MAX 100 /* events in one request */

void api_ingest(struct http_request *req, struct http_response *res, void *app);

#endif
