/* Static files for the browser: the console (/), the residents' app (/app) and their assets
 * (/static/{file}), read from the web folder on every request so an edited file shows at once.
 * Names are flat (one path segment, checked character by character), so nothing outside the
 * folder can be reached. Every answer carries an ETag from the file's size and modification
 * time and Cache-Control: no-cache: the browser revalidates and gets a bodiless 304 when the
 * file has not changed, which keeps the console's first paint cheap on a reload. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/web.h"
#include "app/app.h"
#include "util/log.h"

#define WEB_NAME_MAX 128		   /* longest file name served */
#define WEB_FILE_MAX (32u * 1024u * 1024u) /* larger files are refused (a misplaced dump, not an asset) */

/* The policy for our own pages: everything from this origin, inline styles (SVG charts set
 * style attributes), images also from blob: (photos fetched with the bearer token) and data:. */
#define WEB_CSP                                                                                              \
	"default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; "                 \
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

static const struct web_type {
	const char *ext;  /* extension with its dot */
	const char *type; /* the Content-Type sent */
} web_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json; charset=utf-8"},
    {".webmanifest", "application/manifest+json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},
    {".webp", "image/webp"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
    {".map", "application/json; charset=utf-8"},
};

bool web_name_ok(const char *name)
{
	if (!name || !name[0] || name[0] == '.')
		return false;
	size_t n = 0;
	for (const char *p = name; *p; p++, n++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '_' || c == '-';
		if (!ok || n >= WEB_NAME_MAX)
			return false;
	}
	return true;
}

const char *web_content_type(const char *name)
{
	const char *dot = name ? strrchr(name, '.') : NULL;
	if (dot) {
		for (size_t i = 0; i < sizeof web_types / sizeof web_types[0]; i++)
			if (strcmp(dot, web_types[i].ext) == 0)
				return web_types[i].type;
	}
	return "application/octet-stream";
}

/* A plain-text 404: these are pages, not API resources, so a browser shows the text. */
static void not_found(struct http_response *res)
{
	static const char msg[] = "404 not found\n";
	http_respond_static(res, 404, "text/plain; charset=utf-8", msg, sizeof msg - 1);
}

/* True when the If-None-Match header names etag (a list, possibly weak, or *). */
static bool etag_matches(const char *inm, const char *etag)
{
	if (!inm)
		return false;
	if (strcmp(inm, "*") == 0)
		return true;
	size_t el = strlen(etag);
	for (const char *p = inm; (p = strstr(p, etag)) != NULL; p += el) {
		char after = p[el];
		if (after == '\0' || after == ',' || after == ' ')
			return true;
	}
	return false;
}

/* Reads fd (of size bytes) into the response body. */
static enum cd_err read_body(int fd, size_t size, struct http_response *res)
{
	char chunk[65536];
	size_t done = 0;
	while (done < size) {
		size_t want = size - done < sizeof chunk ? size - done : sizeof chunk;
		ssize_t r = read(fd, chunk, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return CD_ERR_IO; /* shrank under us, or a read error */
		enum cd_err rc = buf_append(&res->body, chunk, (size_t)r);
		if (rc)
			return rc;
		done += (size_t)r;
	}
	return CD_OK;
}

/* Serves WEB/name with its type, validators and security headers. */
static void serve_file(struct http_request *req, struct http_response *res, struct app *app, const char *name)
{
	if (!web_name_ok(name)) {
		not_found(res);
		return;
	}
	const char *dir = config_get(&app->cfg, CFG_WEB);
	char path[4352];
	int n = snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "web", name);
	if (n < 0 || (size_t)n >= sizeof path) {
		not_found(res);
		return;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		not_found(res);
		return;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > WEB_FILE_MAX) {
		close(fd);
		not_found(res);
		return;
	}
	char etag[64];
	snprintf(etag, sizeof etag, "\"%" PRIx64 "-%" PRIx64 "-%lx\"", (uint64_t)st.st_size,
		 (uint64_t)st.st_mtim.tv_sec, (unsigned long)st.st_mtim.tv_nsec);
	const char *type = web_content_type(name);
	bool html = strncmp(type, "text/html", 9) == 0;
	if (http_header_add(req, res, "ETag", etag) ||
	    http_header_add(req, res, "Cache-Control", "no-cache") ||
	    http_header_add(req, res, "X-Content-Type-Options", "nosniff") ||
	    (html && (http_header_add(req, res, "Content-Security-Policy", WEB_CSP) ||
		      http_header_add(req, res, "Referrer-Policy", "same-origin")))) {
		close(fd);
		http_error(res, 500, "internal", "out of memory", NULL);
		return;
	}
	res->content_type = type;
	if (etag_matches(http_header(req, "If-None-Match"), etag)) {
		close(fd);
		res->status = 304;
		return;
	}
	enum cd_err rc = read_body(fd, (size_t)st.st_size, res);
	close(fd);
	if (rc) {
		buf_reset(&res->body);
		log_warn("web file unreadable", "\"file\":\"%s\",\"error\":\"%s\"", name, cd_err_name(rc));
		http_error(res, 500, "internal", "the file could not be read", NULL);
		return;
	}
	res->status = 200;
}

void web_index(struct http_request *req, struct http_response *res, void *app)
{
	serve_file(req, res, app, "index.html");
}

void web_app(struct http_request *req, struct http_response *res, void *app)
{
	serve_file(req, res, app, "app.html");
}

void web_static(struct http_request *req, struct http_response *res, void *app)
{
	serve_file(req, res, app, http_param(req, "file"));
}
