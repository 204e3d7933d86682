/* /api/v1/rules: the alert rules (监测预警) as data. Everyone but residents reads them; admins
 * write. A write is in force in the running engine when the answer comes (the API waits for
 * the reload). The JSON form is core/rules.h's (docs/internals/rules.md). */
#ifndef CD_API_RULES_H
#define CD_API_RULES_H

#include "net/http.h"

void api_rules_list(struct http_request *req, struct http_response *res, void *app);
void api_rules_create(struct http_request *req, struct http_response *res, void *app);
void api_rules_get(struct http_request *req, struct http_response *res, void *app);
void api_rules_update(struct http_request *req, struct http_response *res, void *app);
void api_rules_delete(struct http_request *req, struct http_response *res, void *app);

#endif
