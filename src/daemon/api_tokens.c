/* api_tokens.c - see api_tokens.h */
#define _GNU_SOURCE
#include "api_tokens.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "auth.h"
#include "http.h"
#include "jsonv.h"
#include "request.h"
#include "store.h"

#define TOKEN_TTL_MAX (366 * 24 * 3600)

/* Whose tokens: the tenant's own; the operator's ?tenant=ID, or its own. */
static const char *
owner(struct http_req *req, const char *asked)
{
	return req->who.is_operator ? asked : req->who.tenant_id;
}

void
api_token_list(struct http_req *req, struct http_resp *resp)
{
	const char *t = owner(req, http_query(req, "tenant"));

	if (t != NULL && strlen(t) >= STORE_ID_LEN) {
		http_error(resp, 400, "bad_request", "tenant must be a tenant id");
		return;
	}
	resp->json = store_token_list(t);
}

void
api_token_create(struct http_req *req, struct http_resp *resp)
{
	static const char *const fields[] = {"name", "ttl_s", "tenant", NULL};
	char token[AUTH_TOKEN_LEN + 1], id[STORE_ID_LEN], err[256];
	unsigned char hash[32];
	const json_t *ttl;
	const char *name, *t;
	json_t *j;
	int r;

	if (api_body(req, resp, &j) < 0)
		return;
	name = json_string_value(json_object_get(j, "name"));
	ttl = json_object_get(j, "ttl_s");
	t = owner(req, json_string_value(json_object_get(j, "tenant")));
	if (jsonv_only_fields(j, fields, err, sizeof(err)) < 0 || name == NULL ||
	    req_check_name("name", name, err, sizeof(err)) < 0 ||
	    (ttl != NULL && (!json_is_integer(ttl) || json_integer_value(ttl) < 1 ||
			     json_integer_value(ttl) > TOKEN_TTL_MAX)) ||
	    (!req->who.is_operator && json_object_get(j, "tenant") != NULL) ||
	    (json_object_get(j, "tenant") != NULL && t == NULL)) {
		http_error(resp, 400, "bad_request",
			   "{\"name\": the token's name, \"ttl_s\": 1..%d (default: no expiry)%s}",
			   TOKEN_TTL_MAX,
			   req->who.is_operator ? ", \"tenant\": a tenant id (default: the operator)"
						: "");
		goto out;
	}
	auth_token_new(token, hash);
	r = store_token_add_named(t, hash, name,
				  ttl ? (int64_t)time(NULL) + json_integer_value(ttl) : 0, id,
				  &resp->json);
	if (r < 0) {
		if (r == -ENOENT)
			http_error(resp, 404, "not_found", "no such tenant");
		else
			http_error(resp, 500, "internal", "the state store failed");
		goto out;
	}
	/* The only time the token is seen. */
	json_object_set_new(resp->json, "token", json_string(token));
	resp->status = 201;
	store_event(req->who.actor, t, "token.create", id, "succeeded", name);
out:
	explicit_bzero(token, sizeof(token));
	json_decref(j);
}

void
api_token_revoke(struct http_req *req, struct http_resp *resp)
{
	const char *t = req->who.is_operator ? NULL : req->who.tenant_id;
	json_t *ops = store_token_list(NULL), *o;
	size_t i;
	int last = 0;

	/* The operator's last token stays: without it no one administers. */
	json_array_foreach(ops, i, o) last |= json_array_size(ops) == 1 &&
		strcmp(json_string_value(json_object_get(o, "id")) ?: "", req->id) == 0;
	json_decref(ops);
	if (last) {
		http_error(resp, 409, "conflict", "this is the operator's last token: make another first");
		return;
	}
	if (store_token_revoke(t, req->id) < 0) {
		http_error(resp, 404, "not_found", "no such token");
		return;
	}
	resp->status = 204;
	store_event(req->who.actor, t, "token.revoke", req->id, "succeeded", "");
}
