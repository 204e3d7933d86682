/* /api/v1/public: what residents use from the app (/app) without a staff account: report a
 * case, track it by its number and their phone, rate it once it is closed, upload photos, and
 * read community news and activities. Every route here is unauthenticated, so each is limited
 * per client address and never shows personal data unmasked. Design: docs/residents-app.md. */
#ifndef CD_API_PUBLIC_H
#define CD_API_PUBLIC_H

#include "net/http.h"

#define PUBLIC_DESC_MAX 2000		 /* characters of a resident's description */
#define PUBLIC_PHOTOS_MAX 3		 /* photos on one report */
#define PUBLIC_NEWS_FILE "app.news.json" /* in the web folder (CFG_WEB) */

/* POST /api/v1/public/reports {"description", "phone", "name"?, "title"?, "category"?,
 * "lat"/"lng" (+ "crs": wgs84|gcj02) and/or "address", "attachments"?: [file ids]} → 201
 * {"ref", "status", "status_label", "reported_at", "phone": masked, "category", "street",
 * "community"}. Channel "app"; 429 past 5 reports a minute from one address. */
void api_public_report(struct http_request *req, struct http_response *res, void *app);
/* POST /api/v1/public/track {"ref", "phone"} → the case as its reporter may see it: state,
 * place names, masked reporter, texts with personal data masked, the public history (what was
 * done and when, never by whom), whether it can be rated. A wrong phone is the same 404 as an
 * unknown number; 429 past 5 misses a minute from one address. POST, so the phone number stays
 * out of URLs and access logs. */
void api_public_track(struct http_request *req, struct http_response *res, void *app);
/* POST /api/v1/public/reports/{ref}/rating {"phone", "satisfaction": satisfied |
 * basically_satisfied | dissatisfied (or 满意 | 基本满意 | 不满意), "comment"?}: the rate action
 * of the workflow, as the reporter (role citizen); dissatisfied reopens the case to its unit.
 * 409 when the case is not waiting for a rating. Answers like track. */
void api_public_rate(struct http_request *req, struct http_response *res, void *app);
/* POST /api/v1/public/files: a photo (body = the image; Content-Type image/jpeg, png, gif or
 * webp; magic bytes checked; at most 1 MiB) → 201 {"id", "mime", "bytes"}; the rules of
 * POST /api/v1/files, limited to 5 a minute per address. */
void api_public_file(struct http_request *req, struct http_response *res, void *app);
/* GET /api/v1/public/news?kind=news|activity&community=CODE&page=&page_size= → community news
 * and activities from WEB/app.news.json (district-wide items and the community's), news
 * newest first, activities soonest first; dates given as "days_ago"/"in_days" are counted from
 * today (Asia/Shanghai) so the demo data set never goes stale. */
void api_public_news(struct http_request *req, struct http_response *res, void *app);

#endif
