/*
 * http.h - cloudletd's HTTP server (libmicrohttpd) and its route table.
 *
 * http.c owns the connection: it accumulates a body up to REQ_BODY_MAX
 * (larger: 413 before reading it), matches the route, authenticates the
 * bearer token and checks the route's role, then calls the handler (api.c).
 * Every error is JSON: {"error": {"code", "message"}}.
 */
#ifndef CLOUDLET_HTTP_H
#define CLOUDLET_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"

struct MHD_Connection;

enum http_auth { AUTH_NONE, AUTH_ANY, AUTH_OPERATOR, AUTH_TENANT };

struct http_req {
	struct MHD_Connection *conn;
	const char *method;
	const char *url;
	const char *body;
	size_t len;
	const char *id; /* the {id} path segment, if the route has one */
	const char *id2; /* the {id2} segment: a sub-resource's id */
	struct principal who;
	uint64_t t_start_us; /* when its headers had arrived (CLOCK_MONOTONIC, µs) */
	/* POST /v1/images: the body went to this file (api_images.h) */
	const char *upload_path;
	uint64_t upload_len, upload_limit;
	int upload_too_large;
};

struct http_resp {
	int status;
	json_t *json;   /* the body (consumed), or */
	char *text;     /* a text/plain body (malloc'd, consumed) */
	int text_is_json; /* text holds JSON already (sent as application/json) */
	size_t textlen;
	char header_name[32], header_value[64]; /* one extra header, optional */
	/* No body and this set: answer later. The handler runs again after
	 * http_wake() or once CLOCK_MONOTONIC (µs) reaches it. */
	uint64_t wait_until_us;
};

typedef void (*http_handler)(struct http_req *req, struct http_resp *resp);

struct http_route {
	const char *method;
	const char *path; /* "{id}" (and "{id2}") match one segment */
	enum http_auth auth;
	http_handler fn;
	int any_site; /* a write served also where writes are refused (site.h) */
};

/*
 * May requests other than GET be served now? NULL: always. cloudletd sets
 * it to site_writable (site.h): a standby, a fenced or demoted primary
 * answer 503 read_only with why, except on routes marked any_site.
 */
extern int (*http_write_gate)(char *why, size_t len);

/* api.c's table. */
extern const struct http_route api_routes[];
extern const size_t api_nroutes;

/* Fill resp with an error. */
void http_error(struct http_resp *resp, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Query-string argument (NULL if absent). */
const char *http_query(struct http_req *req, const char *key);

/* Something a waiting request may wait for has changed (an operation). */
void http_wake(void);

/* Start serving on addr ("127.0.0.1:8470"), threads in a pool; HTTPS
 * with the key and certificate in tls_dir (key.pem, cert.pem) unless it is
 * NULL. */
int http_start(const char *addr, unsigned threads, const char *tls_dir);

#endif
