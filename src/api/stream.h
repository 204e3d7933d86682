/* GET /api/v1/stream: Server-Sent Events of case and alert events within the caller's scope. */
#ifndef CD_API_STREAM_H
#define CD_API_STREAM_H

#include "api/api.h"
#include "app/events.h"

/* Serves GET /api/v1/stream from `bus`: authenticates like every handler (401 without a valid
 * token), then answers 200 text/event-stream and keeps the connection open; every event the
 * caller's role and scope allow arrives as "id: N / event: TYPE / data: JSON" with a
 * ": heartbeat" comment every 15 s. A Last-Event-ID header (or ?last_event_id=, 422 when not a
 * whole number) replays the missed events still in the bus's ring, or sends `event: resync`
 * when that is not possible. 503 `unavailable` when bus is NULL.
 * The route handler passes the app's bus (api_stream in the route table). */
void api_stream_serve(struct http_request *req, struct http_response *res, struct app *app, struct events *bus);

#endif
