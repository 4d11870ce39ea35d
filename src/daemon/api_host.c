/*
 * api_host.c - /v1/hosts (operator only): the hosts behind this control
 * plane (docs/hosts.md, store_host.h).
 */
#define _GNU_SOURCE
#include "api_host.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "http.h"
#include "store_host.h"

static const char *
s(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Operator-only routes: the socket paths and underlay addresses are shown. */
void
api_host_list(struct http_req *req, struct http_resp *resp)
{
	(void)req;
	resp->json = store_host_list();
}

void
api_host_get(struct http_req *req, struct http_resp *resp)
{
	if (store_host_get(req->id, &resp->json) < 0)
		http_error(resp, 404, "not_found", "no such host");
}

static int
valid_name(const char *n)
{
	size_t i, len = n ? strlen(n) : 0;

	if (len == 0 || len > 32 || n[0] == '-')
		return 0;
	for (i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '-'))
			return 0;
	return 1;
}

void
api_host_add(struct http_req *req, struct http_resp *resp)
{
	const char *name, *sock, *underlay, *key;
	struct in_addr a;
	json_t *j, *v;
	int r;

	if (api_body(req, resp, &j) < 0)
		return;
	json_object_foreach(j, key, v) {
		if (strcmp(key, "name") != 0 && strcmp(key, "socket") != 0 &&
		    strcmp(key, "underlay_address") != 0) {
			http_error(resp, 400, "bad_request", "unknown field '%.64s'", key);
			goto out;
		}
		if (!json_is_string(v)) {
			http_error(resp, 400, "bad_request", "%s must be a string", key);
			goto out;
		}
	}
	name = s(j, "name");
	sock = s(j, "socket");
	underlay = s(j, "underlay_address");
	if (!valid_name(name) || strcmp(name, HOST_LOCAL) == 0) {
		http_error(resp, 400, "bad_request",
			   "name: 1-32 of a-z 0-9 -, not starting with -, not 'local'");
		goto out;
	}
	if (sock == NULL || sock[0] != '/' || strlen(sock) > 107) {
		http_error(resp, 400, "bad_request",
			   "socket: the absolute path of the host agent's unix socket (at most "
			   "107 bytes)");
		goto out;
	}
	if (underlay != NULL && underlay[0] != '\0' && inet_pton(AF_INET, underlay, &a) != 1) {
		http_error(resp, 400, "bad_request", "underlay_address: an IPv4 address");
		goto out;
	}
	r = store_host_add(name, sock, underlay, &resp->json);
	if (r == -EEXIST)
		http_error(resp, 409, "conflict", "a host with that name already exists");
	else if (r < 0)
		http_error(resp, 500, "internal", "the state store failed");
	else {
		resp->status = 201;
		store_event(req->who.actor, NULL, "host.add", s(resp->json, "id"), "succeeded",
			    name);
	}
out:
	json_decref(j);
}

void
api_host_action(struct http_req *req, struct http_resp *resp)
{
	char id[STORE_ID_LEN];
	const char *action;
	json_t *j;
	int drain;

	if (api_body(req, resp, &j) < 0)
		return;
	action = s(j, "action");
	if (json_object_size(j) != 1 || action == NULL ||
	    (strcmp(action, "drain") != 0 && strcmp(action, "undrain") != 0)) {
		http_error(resp, 400, "bad_request", "{\"action\": \"drain\" | \"undrain\"}");
		json_decref(j);
		return;
	}
	drain = strcmp(action, "drain") == 0;
	if (store_host_resolve(req->id, id, sizeof(id)) < 0) {
		http_error(resp, 404, "not_found", "no such host");
	} else if (store_host_set_draining(id, drain) < 0 || store_host_get(id, &resp->json) < 0) {
		http_error(resp, 500, "internal", "the state store failed");
	} else
		store_event(req->who.actor, NULL, drain ? "host.drain" : "host.undrain", id,
			    "succeeded", "");
	json_decref(j);
}

void
api_host_remove(struct http_req *req, struct http_resp *resp)
{
	char id[STORE_ID_LEN];
	int r;

	if (store_host_resolve(req->id, id, sizeof(id)) < 0) {
		http_error(resp, 404, "not_found", "no such host");
		return;
	}
	r = store_host_remove(id);
	if (r == -ENOTEMPTY)
		http_error(resp, 409, "conflict", "the host still holds VMs");
	else if (r < 0)
		http_error(resp, 500, "internal", "the state store failed");
	else {
		resp->status = 204;
		store_event(req->who.actor, NULL, "host.remove", id, "succeeded", "");
	}
}
