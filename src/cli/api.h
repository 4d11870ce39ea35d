/*
 * api.h - the CLI's HTTP client for cloudletd (api/openapi.yaml is the
 * contract). One libcurl handle per process, so that polling reuses its
 * connection.
 *
 * Every request: Authorization: Bearer <token> when a token is set, JSON
 * bodies, a 30 s limit per request, no redirects, http and https only.
 * Responses have a hard maximum of API_BODY_MAX bytes.
 *
 * Return values: 0 when the server answered 2xx; -EPROTO when it answered
 * with an error (already printed as "error: <code>: <message>"); -EIO when
 * it could not be reached or the answer was unusable (already printed).
 */
#ifndef CLOUDLET_CLI_API_H
#define CLOUDLET_CLI_API_H

#include <jansson.h>
#include <stddef.h>

#define API_BODY_MAX (8 * 1024 * 1024)
#define API_PATH_MAX 1024

struct api {
	void *curl;	/* CURL * */
	void *headers;	/* struct curl_slist *: auth and content type */
	char url[1024]; /* base URL without the trailing '/' */
	int have_token;
	char errbuf[256]; /* libcurl's last error text */
	char pin[128];    /* "" or the API's key pin: sha256//<base64> (config.h) */
	void *upload;	  /* FILE *: the next call sends it as the body (api_upload) */
	long long upload_size;
};

struct api_resp {
	long status;
	char *body; /* NUL-terminated (caller frees with api_resp_free) */
	size_t len;
	int has_offset;
	long long console_offset; /* X-Console-Offset */
};

/* url and token are copied; token may be NULL or "". 0 or -ENOMEM/-EINVAL. */
int api_init(struct api *a, const char *url, const char *token);
void api_free(struct api *a);

/*
 * One request: method "GET", "POST", "PUT", "PATCH" or "DELETE"; path
 * starts with '/' and is already escaped (api_path); body may be NULL.
 * On 0 and -EPROTO, resp holds the answer (free it either way).
 */
int api_call(struct api *a, const char *method, const char *path, const json_t *body,
	     struct api_resp *resp);
void api_resp_free(struct api_resp *resp);

/*
 * api_call for JSON answers: *out is the parsed body (a new reference),
 * NULL for an empty body (204).
 */
int api_json(struct api *a, const char *method, const char *path, const json_t *body,
	     json_t **out);

/*
 * POST the file's size bytes to path as the body (application/octet-stream,
 * read as it is sent, no time limit: the server checks the upload before it
 * answers), then api_json's answer.
 */
int api_upload(struct api *a, const char *path, void *file, long long size, json_t **out);

/*
 * prefix + escaped id + suffix into buf ("/v1/vms/", id, "/actions").
 * Ids come from the command line, so every byte that is not unreserved is
 * percent-encoded; "", "." and ".." are refused (-EINVAL) because they
 * would name another route. 0 or -EINVAL/-ENAMETOOLONG/-ENOMEM.
 */
int api_path(struct api *a, char *buf, size_t len, const char *prefix, const char *id,
	     const char *suffix);

/*
 * Print the error an answer carries: "error: <code>: <message>", or the
 * HTTP status when the body is not the API's error object.
 */
void api_print_error(const struct api *a, const struct api_resp *resp);

#endif
