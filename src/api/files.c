/* /api/v1/files: photos attached to reports and actions, and the saver the residents' upload
 * uses too (files.h). The body is the image itself (Content-Type image/jpeg, image/png,
 * image/gif or image/webp, at most 1 MiB); its first bytes must match the type. The bytes go
 * to DATA/files/<id> (written, synced, renamed into place) before the store records them, so a
 * recorded file always exists. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/files.h"

#include "api/api.h"
#include "util/alloc.h"
#include "util/csv.h"
#include "util/log.h"

static const struct image_type {
	const char *mime;
	size_t offset;          /* where the signature starts */
	const char *signature;  /* magic bytes */
	size_t len;
} image_types[] = {
	{"image/jpeg", 0, "\xFF\xD8\xFF", 3},
	{"image/png", 0, "\x89PNG\r\n\x1A\n", 8},
	{"image/gif", 0, "GIF8", 4},
	{"image/webp", 8, "WEBP", 4},
};

static const struct image_type *image_type_of(const char *content_type)
{
	if (!content_type)
		return NULL;
	for (size_t i = 0; i < sizeof image_types / sizeof image_types[0]; i++) {
		size_t n = strlen(image_types[i].mime);
		if (strncasecmp(content_type, image_types[i].mime, n) == 0 &&
		    (content_type[n] == '\0' || content_type[n] == ';'))
			return &image_types[i];
	}
	return NULL;
}

/* Writes the bytes durably to dir/id. */
static enum cd_err write_file(const char *dir, const char *id, const char *data, size_t len)
{
	char path[4200], tmp[4300];
	if (mkdir(dir, 0750) != 0 && errno != EEXIST)
		return CD_ERR_IO;
	snprintf(path, sizeof path, "%.4000s/%.64s", dir, id);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return CD_ERR_IO;
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, data + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			unlink(tmp);
			return CD_ERR_IO;
		}
		done += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return CD_ERR_IO;
	}
	return CD_OK;
}

bool api_files_save(struct http_request *req, struct http_response *res, struct app *app,
		    const struct store_actor *actor, const char *creator, struct store_file *out)
{
	const struct image_type *type = image_type_of(http_header(req, "Content-Type"));
	if (!type) {
		http_error(res, 415, "unsupported_media_type",
			   "只接受图片 (images only: image/jpeg, image/png, image/gif, image/webp)", "Content-Type");
		return false;
	}
	if (req->body_len < type->offset + type->len ||
	    memcmp(req->body + type->offset, type->signature, type->len) != 0) {
		http_error(res, 422, "invalid_image", "the bytes are not the image type the request says", "body");
		return false;
	}
	struct store_file *f = out;
	uint8_t raw[16], digest[crypto_hash_sha256_BYTES];
	memset(f, 0, sizeof *f);
	randombytes_buf(raw, sizeof raw);
	sodium_bin2hex(f->id, sizeof f->id, raw, sizeof raw);
	crypto_hash_sha256(digest, (const unsigned char *)req->body, req->body_len);
	sodium_bin2hex(f->sha256, sizeof f->sha256, digest, sizeof digest);
	snprintf(f->mime, sizeof f->mime, "%s", type->mime);
	snprintf(f->created_by, sizeof f->created_by, "%s", creator);
	f->bytes = (int64_t)req->body_len;
	char dir[4096];
	snprintf(dir, sizeof dir, "%.4000s/files", config_get(&app->cfg, CFG_DATA));
	if (write_file(dir, f->id, req->body, req->body_len)) {
		log_error("file write failed", "\"errno\":%d", errno);
		http_error(res, 500, "internal", "could not save the file", NULL);
		return false;
	}
	enum cd_err rc = store_file_add(app->st, actor, f);
	if (rc) {
		api_store_failed(req, res, rc);
		return false;
	}
	return true;
}

void api_files_create(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct api_caller *who = api_require(req, res, app, API_ANY_ROLE & ~API_ROLE(ROLE_AUDITOR));
	struct store_file f;
	if (!who || !api_files_save(req, res, app, &who->actor, who->user.username, &f))
		return;
	json_t *reply = json_pack("{s:s, s:s, s:I, s:s}", "id", f.id, "mime", f.mime, "bytes", (json_int_t)f.bytes,
				  "sha256", f.sha256);
	http_respond_json(res, 201, reply);
	json_decref(reply);
}

void api_files_get(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct store_file f;
	if (!api_authenticate(req, res, app))
		return;
	const char *id = http_param(req, "id");
	if (!id || store_file_get(app->st, id, &f)) {
		http_error(res, 404, "not_found", "no such file", NULL);
		return;
	}
	char path[4200], *data = NULL;
	size_t len = 0;
	snprintf(path, sizeof path, "%.4000s/files/%.64s", config_get(&app->cfg, CFG_DATA), f.id);
	if (file_read_all(path, 64u << 20, &data, &len)) {
		http_error(res, 404, "not_found", "the file's bytes are missing", NULL);
		return;
	}
	char *type = http_strdup(req, f.mime);
	res->status = 200;
	res->content_type = type ? type : "application/octet-stream";
	if (buf_append(&res->body, data, len))
		http_error(res, 500, "internal", "out of memory", NULL);
	xfree(data);
}
