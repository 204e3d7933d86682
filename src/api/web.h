/* The browser side's static files: the command-centre console at /, the residents' app at /app
 * and their scripts, styles and images at /static/{file}, read from the web folder (CFG_WEB). */
#ifndef CD_API_WEB_H
#define CD_API_WEB_H

#include <stdbool.h>
#include <stddef.h>

#include "net/http.h"

/* GET /: the console page (WEB/index.html). app_ctx is struct app. */
void web_index(struct http_request *req, struct http_response *res, void *app);
/* GET /app: the residents' app page (WEB/app.html). */
void web_app(struct http_request *req, struct http_response *res, void *app);
/* GET /static/{file}: one flat file of the web folder (no slashes, no leading dot), with its
 * content type, an ETag and Cache-Control: no-cache (so a changed file is seen at once and an
 * unchanged one costs a 304). A missing file answers a plain-text 404. */
void web_static(struct http_request *req, struct http_response *res, void *app);

/* True when name is a file name the handler serves: 1..128 bytes of [A-Za-z0-9._-], not
 * starting with a dot, so it can never leave the folder. Exposed for tests. */
bool web_name_ok(const char *name);
/* The Content-Type for a file name by its extension ("application/octet-stream" if unknown).
 * A static string. */
const char *web_content_type(const char *name);

#endif
