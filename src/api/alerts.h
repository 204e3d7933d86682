/* /api/v1/alerts: alerts within the caller's scope (like cases: a street's staff see their
 * street, a unit's staff their unit's), one alert, and the people's actions on it
 * (acknowledge, clear). */
#ifndef CD_API_ALERTS_H
#define CD_API_ALERTS_H

#include "net/http.h"

void api_alerts_list(struct http_request *req, struct http_response *res, void *app);
void api_alerts_get(struct http_request *req, struct http_response *res, void *app);
void api_alerts_action(struct http_request *req, struct http_response *res, void *app);

#endif
