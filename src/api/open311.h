/* Open311 GeoReport v2 endpoints under /open311/v2 (docs/open311.md). */
#ifndef CD_API_OPEN311_H
#define CD_API_OPEN311_H

#include "net/http.h"

/* GET /open311/v2/{doc}: discovery, services, requests, servicerequestupdates (.json|.xml). */
void api_open311_get(struct http_request *req, struct http_response *res, void *app);
/* POST /open311/v2/{doc}: requests, servicerequestupdates (.json|.xml), form-encoded. */
void api_open311_post(struct http_request *req, struct http_response *res, void *app);
/* GET /open311/v2/services/{code}: a service definition. */
void api_open311_service(struct http_request *req, struct http_response *res, void *app);
/* GET /open311/v2/requests/{id}: one request. */
void api_open311_request(struct http_request *req, struct http_response *res, void *app);
/* GET /open311/v2/tokens/{token}: the request a token stands for. */
void api_open311_token(struct http_request *req, struct http_response *res, void *app);
/* Where the attributes file (open311-attributes.csv) is: the categories folder. Call before
 * serving. */
void api_open311_configure(const char *categories_dir);

#endif
