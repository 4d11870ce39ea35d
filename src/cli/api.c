/* api.c - see api.h */
#define _GNU_SOURCE
#include "api.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "table.h"
#include "util.h"

#define API_TIMEOUT_S 30
#define API_CONNECT_TIMEOUT_S 10

/* What the callbacks fill in during one transfer. */
struct sink {
	struct api_resp *resp;
	size_t cap;
	int too_big;
};

int
api_init(struct api *a, const char *url, const char *token)
{
	struct curl_slist *h = NULL, *n;
	char line[CURL_MAX_HTTP_HEADER];
	size_t len;

	memset(a, 0, sizeof(*a));
	if (util_fmt(a->url, sizeof(a->url), "%s", url) < 0)
		return -EINVAL;
	len = strlen(a->url);
	while (len > 0 && a->url[len - 1] == '/')
		a->url[--len] = '\0';
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -ENOMEM;
	a->curl = curl_easy_init();
	if (a->curl == NULL)
		goto fail;
	if (token != NULL && *token != '\0') {
		if (util_fmt(line, sizeof(line), "Authorization: Bearer %s", token) < 0)
			goto fail;
		if ((n = curl_slist_append(h, line)) == NULL)
			goto fail;
		h = n;
		a->have_token = 1;
	}
	/* "Expect:" keeps libcurl from waiting for a 100 Continue on big bodies. */
	if ((n = curl_slist_append(h, "Accept: application/json, text/plain")) == NULL)
		goto fail;
	h = n;
	if ((n = curl_slist_append(h, "Expect:")) == NULL)
		goto fail;
	h = n;
	a->headers = h;
	explicit_bzero(line, sizeof(line));
	return 0;
fail:
	explicit_bzero(line, sizeof(line));
	curl_slist_free_all(h);
	if (a->curl != NULL)
		curl_easy_cleanup(a->curl);
	a->curl = NULL;
	curl_global_cleanup();
	return -ENOMEM;
}

void
api_free(struct api *a)
{
	struct curl_slist *h;

	if (a == NULL || a->curl == NULL)
		return;
	/* The list holds the token: wipe it before giving the memory back. */
	for (h = a->headers; h != NULL; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(a->headers);
	curl_easy_cleanup(a->curl);
	curl_global_cleanup();
	a->curl = NULL;
	a->headers = NULL;
}

void
api_resp_free(struct api_resp *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	struct api_resp *r = s->resp;
	size_t n = size * nmemb;

	if (n > API_BODY_MAX - r->len) {
		s->too_big = 1;
		return 0; /* aborts the transfer */
	}
	if (r->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *nb;

		while (cap < r->len + n + 1)
			cap *= 2;
		nb = realloc(r->body, cap);
		if (nb == NULL)
			return 0;
		r->body = nb;
		s->cap = cap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	static const char name[] = "X-Console-Offset:";
	struct sink *s = arg;
	size_t n = size * nmemb;
	char val[32];
	long long off;
	char *end;

	/* A new status line (after a 1xx) starts a new set of headers. */
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
		s->resp->has_offset = 0;
	if (n <= sizeof(name) - 1 || strncasecmp(data, name, sizeof(name) - 1) != 0)
		return n;
	if (n - (sizeof(name) - 1) >= sizeof(val))
		return n; /* nonsense; has_offset stays 0 */
	memcpy(val, data + sizeof(name) - 1, n - (sizeof(name) - 1));
	val[n - (sizeof(name) - 1)] = '\0';
	errno = 0;
	off = strtoll(val, &end, 10);
	while (*end == ' ' || *end == '\r' || *end == '\n' || *end == '\t')
		end++;
	if (errno == 0 && end != val && *end == '\0' && off >= 0) {
		s->resp->console_offset = off;
		s->resp->has_offset = 1;
	}
	return n;
}

void
api_print_error(const struct api *a, const struct api_resp *resp)
{
	json_t *j = NULL, *err;
	const char *code = NULL, *msg = NULL;
	char *c = NULL, *m = NULL;

	if (resp->body != NULL && resp->len > 0)
		j = json_loadb(resp->body, resp->len, 0, NULL);
	err = json_object_get(j, "error");
	code = json_string_value(json_object_get(err, "code"));
	msg = json_string_value(json_object_get(err, "message"));
	if (code != NULL) {
		c = strdup(code);
		m = strdup(msg ? msg : "");
		fprintf(stderr, "error: %s: %s\n", c ? table_clean(c) : "?",
			m ? table_clean(m) : "?");
	} else
		fprintf(stderr, "error: HTTP %ld from %s (no error body)\n", resp->status,
			a->url);
	if (resp->status == 401 && !a->have_token)
		fprintf(stderr,
			"hint: no token configured: set CLOUDLET_TOKEN, --token, or "
			"token= in the config file\n");
	free(c);
	free(m);
	json_decref(j);
}

int
api_call(struct api *a, const char *method, const char *path, const json_t *body,
	 struct api_resp *resp)
{
	struct curl_slist *hdrs = a->headers, *bh = NULL;
	struct sink sink = {.resp = resp};
	char url[sizeof(a->url) + API_PATH_MAX];
	char *payload = NULL;
	CURL *c = a->curl;
	CURLcode cr;
	int r = -EIO;

	memset(resp, 0, sizeof(*resp));
	if (util_fmt(url, sizeof(url), "%s%s", a->url, path) < 0) {
		fprintf(stderr, "error: URL too long\n");
		return -EIO;
	}
	/* Reset keeps the connection cache: polls reuse one connection. */
	curl_easy_reset(c);
	if (a->upload != NULL) {
		bh = curl_slist_append(NULL, "Content-Type: application/octet-stream");
		if (bh == NULL)
			return -EIO;
		bh->next = a->headers;
		hdrs = bh;
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READDATA, a->upload);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)a->upload_size);
		method = "POST"; /* CURLOPT_UPLOAD alone would send PUT */
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	} else if (body != NULL || strcmp(method, "POST") == 0) {
		payload = body ? json_dumps(body, JSON_COMPACT) : strdup("");
		if (payload == NULL) {
			fprintf(stderr, "error: out of memory\n");
			return -EIO;
		}
		bh = curl_slist_append(NULL, "Content-Type: application/json");
		if (bh == NULL) {
			free(payload);
			return -EIO;
		}
		/* The shared list stays untouched; the body header goes in front. */
		bh->next = a->headers;
		hdrs = bh;
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)strlen(payload));
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)API_CONNECT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, a->upload != NULL ? 0L : (long)API_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "cloudlet-cli/1");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &sink);
	a->errbuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, a->errbuf);
	/* An API with its own certificate: exactly the pinned key, checked in
	 * the handshake before the token goes out. */
	if (a->pin[0] != '\0') {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
		curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, a->pin);
	}

	cr = curl_easy_perform(c);
	if (cr != CURLE_OK) {
		if (sink.too_big)
			fprintf(stderr,
				"error: the answer from %s is larger than %d bytes\n",
				a->url, API_BODY_MAX);
		else
			fprintf(stderr, "error: cannot reach cloudletd at %s: %s\n",
				a->url,
				a->errbuf[0] ? a->errbuf : curl_easy_strerror(cr));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (resp->body == NULL) {
		resp->body = calloc(1, 1);
		if (resp->body == NULL)
			goto out;
	}
	if (resp->status >= 200 && resp->status < 300)
		r = 0;
	else {
		api_print_error(a, resp);
		r = -EPROTO;
	}
out:
	if (bh != NULL) {
		bh->next = NULL;
		curl_slist_free_all(bh);
	}
	free(payload);
	if (r == -EIO)
		api_resp_free(resp);
	return r;
}

int
api_json(struct api *a, const char *method, const char *path, const json_t *body,
	 json_t **out)
{
	struct api_resp resp;
	json_error_t jerr;
	int r;

	*out = NULL;
	r = api_call(a, method, path, body, &resp);
	if (r < 0) {
		api_resp_free(&resp);
		return r;
	}
	if (resp.len > 0) {
		*out = json_loadb(resp.body, resp.len, 0, &jerr);
		if (*out == NULL) {
			fprintf(stderr,
				"error: cloudletd at %s sent an answer that is not JSON "
				"(%s)\n",
				a->url, jerr.text);
			r = -EIO;
		}
	}
	api_resp_free(&resp);
	return r;
}

int
api_path(struct api *a, char *buf, size_t len, const char *prefix, const char *id,
	 const char *suffix)
{
	char *esc;
	int r;

	/*
	 * "", "." and ".." would name another route once the URL is
	 * normalised ("/v1/tenants/" lists them all): never a valid id.
	 */
	if (*id == '\0' || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return -EINVAL;
	esc = curl_easy_escape(a->curl, id, 0);
	if (esc == NULL)
		return -ENOMEM;
	r = util_fmt(buf, len, "%s%s%s", prefix, esc, suffix ? suffix : "");
	curl_free(esc);
	return r;
}

int
api_upload(struct api *a, const char *path, void *file, long long size, json_t **out)
{
	int r;

	a->upload = file;
	a->upload_size = size;
	r = api_json(a, "POST", path, NULL, out);
	a->upload = NULL;
	return r;
}
