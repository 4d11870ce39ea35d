/* http.c - see http.h */
#define _GNU_SOURCE
#include "http.h"

#include "api_images.h"
#include "auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "request.h"
#include "util.h"

struct conn_ctx {
	char *body;
	size_t len;
	int too_large;
	/* an upload (POST /v1/images): streamed to upfd, never in memory */
	int upload, upfd, up_too_large;
	uint64_t uplen, uplimit;
	char uppath[600];
	struct principal upwho;
	uint64_t t_start_us; /* its headers were read (CLOCK_MONOTONIC) */
};

int (*http_write_gate)(char *why, size_t len);

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * Requests that wait (resp->wait_until_us): their connection is suspended
 * (the HTTP thread goes on with others) and resumed, to run the handler
 * again, when something they wait for may have changed (http_wake) or at
 * their deadline. A change between the handler's look and the suspension
 * is seen through the version: such a request is resumed at once.
 */
struct waiter {
	struct MHD_Connection *conn;
	uint64_t deadline;
	struct waiter *next;
};
static pthread_mutex_t w_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t w_cond;
static struct waiter *waiters;
static unsigned long w_version;

static unsigned long
wake_version(void)
{
	unsigned long v;

	pthread_mutex_lock(&w_mtx);
	v = w_version;
	pthread_mutex_unlock(&w_mtx);
	return v;
}

void
http_wake(void)
{
	struct waiter *w, *next;

	pthread_mutex_lock(&w_mtx);
	w_version++;
	for (w = waiters; w != NULL; w = next) {
		next = w->next;
		MHD_resume_connection(w->conn);
		free(w);
	}
	waiters = NULL;
	pthread_mutex_unlock(&w_mtx);
}

/* Called from the access handler, right after MHD_suspend_connection. */
static void
wait_for_wake(struct MHD_Connection *conn, uint64_t deadline, unsigned long seen)
{
	struct waiter *w = malloc(sizeof(*w));

	pthread_mutex_lock(&w_mtx);
	if (w == NULL || w_version != seen) {
		MHD_resume_connection(conn);
		free(w);
	} else {
		w->conn = conn;
		w->deadline = deadline;
		w->next = waiters;
		waiters = w;
		pthread_cond_signal(&w_cond);
	}
	pthread_mutex_unlock(&w_mtx);
}

/* Resumes the waiters whose deadline has come. */
static void *
deadlines(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&w_mtx);
	for (;;) {
		struct waiter **pw = &waiters, *w;
		uint64_t now = now_us(), next = 0;

		while ((w = *pw) != NULL) {
			if (w->deadline <= now) {
				*pw = w->next;
				MHD_resume_connection(w->conn);
				free(w);
				continue;
			}
			if (next == 0 || w->deadline < next)
				next = w->deadline;
			pw = &w->next;
		}
		if (next == 0) {
			pthread_cond_wait(&w_cond, &w_mtx);
		} else {
			struct timespec ts = {.tv_sec = (time_t)(next / 1000000),
					      .tv_nsec = (long)(next % 1000000) * 1000};

			pthread_cond_timedwait(&w_cond, &w_mtx, &ts);
		}
	}
	return NULL;
}

void
http_error(struct http_resp *resp, int status, const char *code, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(resp->json);
	resp->status = status;
	resp->json = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}

const char *
http_query(struct http_req *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

/* An {id} segment: short, and only characters our ids use. */
static int
id_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

/* Match url against pattern; the {id} segment goes into id, a second
 * one ({id2}, a sub-resource) into id2 (65 bytes each). */
static int
match(const char *pattern, const char *url, char *id, char *id2)
{
	const char *p = pattern, *u = url;

	while (*p != '\0' && *u != '\0') {
		int two = strncmp(p, "{id2}", 5) == 0;

		if (two || strncmp(p, "{id}", 4) == 0) {
			size_t n = strcspn(u, "/");
			char *dst = two ? id2 : id;

			if (!id_ok(u, n))
				return 0;
			memcpy(dst, u, n);
			dst[n] = '\0';
			p += two ? 5 : 4;
			u += n;
			continue;
		}
		if (*p != *u)
			return 0;
		p++;
		u++;
	}
	return *p == '\0' && *u == '\0';
}

static enum MHD_Result
send_resp(struct MHD_Connection *conn, struct http_resp *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *body;
	size_t len;
	const char *type = "application/json";

	if (resp->text != NULL) {
		body = resp->text;
		len = resp->textlen;
		if (!resp->text_is_json)
			type = "text/plain; charset=utf-8";
		resp->text = NULL;
	} else if (resp->json != NULL) {
		body = json_dumps(resp->json, JSON_COMPACT | JSON_ENCODE_ANY);
		if (body == NULL) {
			body = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}");
			resp->status = 500;
		}
		len = body ? strlen(body) : 0;
	} else {
		body = NULL;
		len = 0;
	}
	json_decref(resp->json);
	resp->json = NULL;
	r = MHD_create_response_from_buffer(len, body ? body : (char *)"",
					    body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	if (len > 0 || resp->status != 204)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (resp->header_name[0] != '\0')
		MHD_add_response_header(r, resp->header_name, resp->header_value);
	ret = MHD_queue_response(conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

static void
dispatch(struct MHD_Connection *conn, const char *method, const char *url,
	 struct conn_ctx *ctx, struct http_resp *resp)
{
	struct http_req req;
	char id[65] = "", id2[65] = "";
	const struct http_route *rt = NULL;
	int path_known = 0;
	size_t i;

	memset(&req, 0, sizeof(req));
	for (i = 0; i < api_nroutes; i++) {
		if (!match(api_routes[i].path, url, id, id2))
			continue;
		path_known = 1;
		if (strcmp(api_routes[i].method, method) == 0) {
			rt = &api_routes[i];
			break;
		}
	}
	if (rt == NULL) {
		if (path_known)
			http_error(resp, 405, "method_not_allowed", "%s is not allowed on %s",
				   method, url);
		else
			http_error(resp, 404, "not_found", "no such resource");
		return;
	}
	if (rt->auth != AUTH_NONE) {
		const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							    MHD_HTTP_HEADER_AUTHORIZATION);

		if (auth_check(h, &req.who) < 0) {
			http_error(resp, 401, "unauthorized",
				   "a valid token is required (Authorization: Bearer <token>)");
			return;
		}
		if (rt->auth == AUTH_OPERATOR && !req.who.is_operator) {
			http_error(resp, 403, "forbidden", "this needs the operator's token");
			return;
		}
		if (rt->auth == AUTH_TENANT && req.who.is_operator) {
			http_error(resp, 403, "forbidden",
				   "this needs a tenant's token: the tenant comes from the token");
			return;
		}
	}
	if (http_write_gate != NULL && strcmp(method, "GET") != 0 && !rt->any_site) {
		char why[400] = "";

		if (!http_write_gate(why, sizeof(why))) {
			http_error(resp, 503, "read_only", "%s", why);
			return;
		}
	}
	if (ctx->too_large) {
		http_error(resp, 413, "payload_too_large", "the body is larger than %d bytes",
			   REQ_BODY_MAX);
		return;
	}
	if (ctx->upload) {
		if (ctx->upfd >= 0) {
			close(ctx->upfd);
			ctx->upfd = -1;
		}
		req.upload_path = ctx->uppath;
		req.upload_len = ctx->uplen;
		req.upload_limit = ctx->uplimit;
		req.upload_too_large = ctx->up_too_large;
	}
	req.conn = conn;
	req.method = method;
	req.url = url;
	req.body = ctx->body;
	req.len = ctx->len;
	req.id = id[0] ? id : NULL;
	req.id2 = id2[0] ? id2 : NULL;
	req.t_start_us = ctx->t_start_us;
	resp->status = 200;
	rt->fn(&req, resp);
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* POST /v1/images: the token and the room are checked before any of the
 * body is read (api_images.h); then the body goes to a file. */
static enum MHD_Result
upload_begin(struct MHD_Connection *conn, struct conn_ctx *ctx, const char *cl)
{
	struct http_resp resp;
	const char *h =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *name = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "name");
	enum MHD_Result ret;

	char why[400] = "";

	memset(&resp, 0, sizeof(resp));
	ctx->upload = 1;
	if (auth_check(h, &ctx->upwho) < 0) {
		http_error(&resp, 401, "unauthorized",
			   "a valid token is required (Authorization: Bearer <token>)");
	} else if (http_write_gate != NULL && !http_write_gate(why, sizeof(why))) {
		/* a standby site, or a primary without its lease (docs/dr.md) */
		http_error(&resp, 503, "read_only", "%s", why);
	} else {
		ctx->upfd = api_image_begin(&ctx->upwho, name, cl ? strtoull(cl, NULL, 10) : 0,
					    cl != NULL, ctx->uppath, sizeof(ctx->uppath),
					    &ctx->uplimit, &resp);
		if (ctx->upfd >= 0)
			return MHD_YES;
		ctx->uppath[0] = '\0';
	}
	ctx->upload = 0;
	ctx->too_large = 1; /* what follows is drained, never dispatched */
	ret = send_resp(conn, &resp);
	free(resp.text);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct conn_ctx *ctx = *con_cls;
	struct http_resp resp;
	enum MHD_Result ret;

	(void)cls;
	(void)version;
	if (ctx == NULL) {
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);

		ctx = calloc(1, sizeof(*ctx));
		if (ctx == NULL)
			return MHD_NO;
		ctx->t_start_us = now_us();
		ctx->upfd = -1;
		*con_cls = ctx;
		if (strcmp(method, "POST") == 0 && strcmp(url, "/v1/images") == 0)
			return upload_begin(conn, ctx, cl);
		/* Refuse an announced oversized body before reading any of it. */
		if (cl != NULL && strtoull(cl, NULL, 10) > REQ_BODY_MAX) {
			ctx->too_large = 1;
			memset(&resp, 0, sizeof(resp));
			http_error(&resp, 413, "payload_too_large",
				   "the body is larger than %d bytes", REQ_BODY_MAX);
			return send_resp(conn, &resp);
		}
		return MHD_YES;
	}
	if (*upload_size > 0 && ctx->upload) {
		/* Written as it arrives; beyond the limit only drained. */
		if (!ctx->up_too_large && ctx->uplen + *upload_size > ctx->uplimit)
			ctx->up_too_large = 1;
		if (!ctx->up_too_large &&
		    write_all(ctx->upfd, upload, *upload_size) < 0)
			ctx->up_too_large = 1; /* XXX: a full disk reads as too large */
		ctx->uplen += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!ctx->too_large) {
			if (ctx->len + *upload_size > REQ_BODY_MAX) {
				ctx->too_large = 1;
			} else {
				char *nb = realloc(ctx->body, ctx->len + *upload_size + 1);

				if (nb == NULL)
					return MHD_NO;
				ctx->body = nb;
				memcpy(ctx->body + ctx->len, upload, *upload_size);
				ctx->len += *upload_size;
				ctx->body[ctx->len] = '\0';
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}
	memset(&resp, 0, sizeof(resp));
	{
		unsigned long seen = wake_version();

		dispatch(conn, method, url, ctx, &resp);
		if (resp.wait_until_us != 0 && resp.json == NULL && resp.text == NULL) {
			MHD_suspend_connection(conn);
			wait_for_wake(conn, resp.wait_until_us, seen);
			return MHD_YES;
		}
	}
	ret = send_resp(conn, &resp);
	free(resp.text);
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
	     enum MHD_RequestTerminationCode toe)
{
	struct conn_ctx *ctx = *con_cls;

	(void)cls, (void)conn, (void)toe;
	if (ctx != NULL) {
		/* An upload the handler did not keep (or a client that went
		 * away) leaves no file. */
		if (ctx->upfd >= 0)
			close(ctx->upfd);
		if (ctx->uppath[0] != '\0')
			unlink(ctx->uppath);
		free(ctx->body);
		free(ctx);
		*con_cls = NULL;
	}
}

/* The PEM key and certificate of tls_dir (docs/hosts.md: cloudletd's
 * identity), kept for the daemon's life. */
static int
tls_load(const char *tls_dir, char **key, char **cert)
{
	char path[600];
	size_t n;
	int r;

	if (util_fmt(path, sizeof(path), "%s/key.pem", tls_dir) < 0 ||
	    (r = util_read_file(path, 64 * 1024, key, &n)) < 0)
		return -ENOENT;
	if (util_fmt(path, sizeof(path), "%s/cert.pem", tls_dir) < 0 ||
	    (r = util_read_file(path, 64 * 1024, cert, &n)) < 0)
		return -ENOENT;
	return 0;
}

int
http_start(const char *addr, unsigned threads, const char *tls_dir)
{
	static struct sockaddr_in sin;
	static char *key, *cert;
	char host[64];
	const char *colon = strrchr(addr, ':');
	struct MHD_Daemon *d;
	unsigned long port;
	char *end;

	if (colon == NULL || (size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535)
		return -EINVAL;
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		return -EINVAL;
	{
		pthread_condattr_t ca;
		pthread_t t;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&w_cond, &ca);
		if (pthread_create(&t, NULL, deadlines, NULL) != 0)
			return -EAGAIN;
		pthread_detach(t);
	}
	if (tls_dir != NULL && tls_load(tls_dir, &key, &cert) < 0)
		return -ENOENT;
	/* With TLS the options end early for plain HTTP (MHD_OPTION_END in
	 * place of the HTTPS ones). TLS 1.3 and 1.2 only. */
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
				     MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME |
				     (tls_dir ? MHD_USE_TLS : 0),
			     (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
			     (struct sockaddr *)&sin, MHD_OPTION_THREAD_POOL_SIZE, threads,
			     MHD_OPTION_CONNECTION_LIMIT, 1000, MHD_OPTION_CONNECTION_TIMEOUT,
			     (unsigned)60, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
			     tls_dir ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, key,
			     MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_PRIORITIES,
			     "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_END);
	if (d == NULL)
		return -EADDRINUSE;
	log_info("listening on %s://%s", tls_dir ? "https" : "http", addr);
	return 0;
}
