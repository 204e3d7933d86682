/* Uploaded images (src/api/files.c): the checks and the durable save shared by
 * POST /api/v1/files (staff) and POST /api/v1/public/files (residents). */
#ifndef CD_API_FILES_H
#define CD_API_FILES_H

#include <stdbool.h>

#include "app/app.h"
#include "net/http.h"
#include "store/store.h"

/* Saves the request body as an image: the Content-Type must be image/jpeg, png, gif or webp
 * and the first bytes must match it; the bytes are written to DATA/files/<new random id>
 * (temporary file, fsync, rename) and then recorded in the store by `actor`, with created_by
 * `creator`. Returns true with *out filled (id, mime, bytes, sha256); otherwise false with the
 * error response already in res (415 unsupported type, 422 bytes not of that type, 500 when
 * the bytes could not be written, or the store's error). */
bool api_files_save(struct http_request *req, struct http_response *res, struct app *app,
		    const struct store_actor *actor, const char *creator, struct store_file *out);

#endif
