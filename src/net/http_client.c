/* Outgoing HTTP POSTs on libcurl's multi interface: one easy handle per request, all driven by
 * the thread that calls http_client_run/http_client_wait. See http_client.h. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "net/http_client.h"
#include "util/alloc.h"

struct http_client {
	CURLM *multi;
	unsigned connect_timeout_ms; /* copied from the config */
	unsigned timeout_ms;
	size_t response_max;
	char *user_agent; /* owned */
};

struct http_request {
	CURL *easy;
	struct curl_slist *headers;
	void *user;			       /* handed back with the result */
	size_t response_max;		       /* the client's, for the sink */
	size_t got;			       /* bytes of the answer seen */
	char snippet[HTTP_CLIENT_SNIPPET + 1]; /* its first bytes */
	char errbuf[CURL_ERROR_SIZE];	       /* libcurl's detailed message */
};

enum cd_err http_client_new(const struct http_client_config *cfg, struct http_client **out)
{
	*out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return CD_ERR_IO;
	CURLM *multi = curl_multi_init();
	if (!multi) {
		curl_global_cleanup();
		return CD_ERR_IO;
	}
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)cfg->max_host_connections);
	struct http_client *c = xcalloc(1, sizeof *c);
	c->multi = multi;
	c->connect_timeout_ms = cfg->connect_timeout_ms;
	c->timeout_ms = cfg->timeout_ms;
	c->response_max = cfg->response_max;
	c->user_agent = xstrdup(cfg->user_agent ? cfg->user_agent : "");
	*out = c;
	return CD_OK;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	curl_multi_cleanup(c->multi);
	xfree(c->user_agent);
	xfree(c);
	curl_global_cleanup();
}

/* Keeps the answer's first bytes; refuses (aborting the request) past response_max. */
static size_t sink(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct http_request *r = ctx;
	size_t n = size * nmemb;
	if (r->got < HTTP_CLIENT_SNIPPET) {
		size_t k = n < HTTP_CLIENT_SNIPPET - r->got ? n : HTTP_CLIENT_SNIPPET - r->got;
		memcpy(r->snippet + r->got, data, k);
		r->snippet[r->got + k] = '\0';
	}
	r->got += n;
	return r->got > r->response_max ? 0 : n; /* 0 aborts the transfer: too big */
}

struct http_request *http_client_post(struct http_client *c, const char *url, const char *const *headers,
				      size_t nheaders, const char *body, size_t len, void *user)
{
	struct http_request *r = xcalloc(1, sizeof *r);
	r->user = user;
	r->response_max = c->response_max;
	int ok = 1;
	for (size_t i = 0; i < nheaders; i++) {
		struct curl_slist *l = curl_slist_append(r->headers, headers[i]);
		ok &= l != NULL;
		if (l)
			r->headers = l;
	}
	struct curl_slist *l = curl_slist_append(r->headers, "Expect:"); /* no 100-continue round trip */
	if (l)
		r->headers = l;
	r->easy = curl_easy_init();
	if (!r->easy || !l || !ok)
		abort(); /* only out of memory gets here, as with xmalloc */
	CURL *e = r->easy;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->response_max);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_multi_add_handle(c->multi, e);
	return r;
}

void http_request_free(struct http_client *c, struct http_request *r)
{
	if (!r)
		return;
	curl_multi_remove_handle(c->multi, r->easy);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	xfree(r);
}

void http_client_run(struct http_client *c, http_client_done_fn done, void *ctx)
{
	int running = 0;
	curl_multi_perform(c->multi, &running);
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(c->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct http_request *r = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		CURLcode cc = m->data.result;
		if (!r)
			continue;
		struct http_client_result res = {0, NULL, r->snippet};
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
		if (cc != CURLE_OK)
			res.error = r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc);
		done(ctx, r, r->user, &res); /* may free r: m is not used after this */
	}
}

int http_client_wait(struct http_client *c, int fd, int timeout_ms)
{
	struct curl_waitfd w = {fd, CURL_WAIT_POLLIN, 0};
	curl_multi_poll(c->multi, fd >= 0 ? &w : NULL, fd >= 0 ? 1 : 0, timeout_ms, NULL);
	return fd >= 0 && w.revents != 0;
}

enum cd_err http_client_check_url(const char *url)
{
	if (!url || !*url)
		return CD_ERR_INVALID;
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return CD_ERR_INVALID;
	CURLU *u = curl_url();
	if (!u)
		return CD_ERR_NOMEM;
	char *scheme = NULL, *host = NULL;
	enum cd_err rc = CD_ERR_INVALID;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] &&
	    (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
	    (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0))
		rc = CD_OK;
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}
