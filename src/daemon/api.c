/* api.c - see api.h */
#define _GNU_SOURCE
#include "api.h"
#include "api_host.h"
#include "api_ids.h"
#include "api_site.h"
#include "api_keys.h"
#include "api_vpn.h"
#include "api_tokens.h"
#include "api_migrate.h"
#include "api_net.h"
#include "api_volume.h"
#include "store_volume.h"
#include "netplan.h"
#include "store_net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentc.h"
#include "catalog.h"
#include "http.h"
#include "api_images.h"
#include "images.h"
#include "store_images.h"
#include "ops.h"
#include "request.h"
#include "store_host.h"
#include "store_keys.h"
#include "store_vpn.h"
#include "util.h"

struct quota api_default_quota = {8, 8192, 100, 10};

/* The tenant a request may see: NULL (everything) for the operator. */
static const char *
scope(const struct http_req *req)
{
	return req->who.is_operator ? NULL : req->who.tenant_id;
}

int
api_body(struct http_req *req, struct http_resp *resp, json_t **j)
{
	char err[256];

	if (req_object(req->body, req->len, j, err, sizeof(err)) < 0) {
		http_error(resp, 400, "bad_request", "%s", err);
		return -1;
	}
	return 0;
}

static void
store_failed(struct http_resp *resp, int r, const char *what)
{
	switch (r) {
	case -ENOENT:
		http_error(resp, 404, "not_found", "no such %s", what);
		break;
	case -EEXIST:
		http_error(resp, 409, "conflict", "a %s with that name already exists", what);
		break;
	case -EBUSY:
		http_error(resp, 409, "conflict",
			   "the %s has another operation in progress", what);
		break;
	case -ENOTEMPTY:
		http_error(resp, 409, "conflict", "the %s still has VMs", what);
		break;
	default:
		http_error(resp, 500, "internal", "the state store failed (%s)", strerror(-r));
	}
}

static int
new_id(const char *prefix, char *out)
{
	char hex[17];
	int r = util_random_hex(hex, 8);

	if (r == 0)
		snprintf(out, STORE_ID_LEN, "%s%s", prefix, hex);
	return r;
}

/* ---- health, catalog, images ----------------------------------------- */

static void
h_health(struct http_req *req, struct http_resp *resp)
{
	(void)req;
	resp->json = json_pack("{s:s, s:i}", "status", "ok", "schema", store_schema_version());
}

static void
h_services(struct http_req *req, struct http_resp *resp)
{
	(void)req;
	resp->json = catalog_json();
}

/*
 * May a VM use this image? From the list the reconciliation keeps
 * (images.h), never a synchronous call to the agent for a valid create. An
 * image missing from that list is asked for once more (it may just have
 * been installed); with no list at all (the agent has not answered since
 * cloudletd started) the create goes ahead and the agent checks the image
 * (an unknown one fails the operation, "invalid", and nothing is left).
 */
static int
image_available(const char *name)
{
	char err[256];
	int r = images_has(name);

	if (r == 0 && images_refresh(NULL, err, sizeof(err)) == 0)
		r = images_has(name);
	return r != 0;
}

static void
h_images(struct http_req *req, struct http_resp *resp)
{
	char err[256];
	json_t *list = images_list(), *im, *out = json_array();
	size_t i;

	if (list == NULL && images_refresh(NULL, err, sizeof(err)) == 0)
		list = images_list();
	if (list == NULL) {
		json_decref(out);
		http_error(resp, 503, "unavailable", "%s", err);
		return;
	}
	json_array_foreach(list, i, im) {
		json_array_append_new(
			out, json_pack("{s:O, s:O, s:O, s:O}", "name", json_object_get(im, "name"),
				       "description", json_object_get(im, "description"), "ports",
				       json_object_get(im, "ports"), "min_disk_mib",
				       json_object_get(im, "min_disk_mib")));
	}
	json_decref(list);
	if (!req->who.is_operator) {
		/* the tenant's own uploads (api_images.h) */
		json_t *mine = api_image_entries(req->who.tenant_id);

		json_array_extend(out, mine);
		json_decref(mine);
	}
	resp->json = out;
}

/* ---- tenants, tokens, quotas ------------------------------------------ */

static void
h_tenant_list(struct http_req *req, struct http_resp *resp)
{
	(void)req;
	resp->json = store_tenant_list();
}

static void
h_tenant_create(struct http_req *req, struct http_resp *resp)
{
	char name[64], err[256];
	json_t *j;
	int r;

	if (api_body(req, resp, &j) < 0)
		return;
	r = req_tenant_create(j, name, sizeof(name), err, sizeof(err));
	json_decref(j);
	if (r < 0) {
		http_error(resp, 400, "bad_request", "%s", err);
		return;
	}
	r = store_tenant_create(name, &api_default_quota, &resp->json);
	if (r < 0) {
		store_failed(resp, r, "tenant");
		return;
	}
	{
		/* Its default network, external address and firewall, on the
		 * host now: a tenant without them is not made at all. */
		char id[STORE_ID_LEN], why[512], ignored[256];

		snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(resp->json, "id")));
		if (netplan_tenant_init(id, why, sizeof(why)) < 0) {
			netplan_tenant_delete(id, ignored, sizeof(ignored));
			store_tenant_delete(id);
			json_decref(resp->json);
			resp->json = NULL;
			http_error(resp, 502, "host_error", "cannot set up the tenant's network: %s",
				   why);
			return;
		}
	}
	resp->status = 201;
	store_event(req->who.actor, json_string_value(json_object_get(resp->json, "id")),
		    "tenant.create", name, "succeeded", "");
}

static void
h_tenant_get(struct http_req *req, struct http_resp *resp)
{
	int r = store_tenant_get(req->id, &resp->json);

	if (r < 0)
		store_failed(resp, r, "tenant");
}

static void
h_tenant_delete(struct http_req *req, struct http_resp *resp)
{
	json_t *vms = store_vm_list(req->id), *t;
	char err[512];
	int r;

	if (store_tenant_get(req->id, &t) < 0) {
		json_decref(vms);
		store_failed(resp, -ENOENT, "tenant");
		return;
	}
	json_decref(t);
	r = json_array_size(vms) > 0 ? -ENOTEMPTY : 0;
	json_decref(vms);
	if (r < 0) {
		store_failed(resp, r, "tenant");
		return;
	}
	/* Volumes hold data on the host: the operator deletes them first. */
	vms = store_volume_list(req->id);
	r = json_array_size(vms) > 0 ? -ENOTEMPTY : 0;
	json_decref(vms);
	if (r < 0) {
		http_error(resp, 409, "conflict", "the tenant still has volumes");
		return;
	}
	/* The host's namespaces, firewall and DHCP first: nothing is left
	 * behind in the kernel. */
	if (netplan_tenant_delete(req->id, err, sizeof(err)) < 0) {
		http_error(resp, 502, "host_error", "cannot remove the tenant's network: %s", err);
		return;
	}
	r = store_tenant_delete(req->id);

	if (r < 0) {
		store_failed(resp, r, "tenant");
		return;
	}
	store_vpn_gateway_forget(req->id); /* its rows went with the tenant */
	resp->status = 204;
	store_event(req->who.actor, req->id, "tenant.delete", req->id, "succeeded", "");
}

static void
h_token_create(struct http_req *req, struct http_resp *resp)
{
	char token[AUTH_TOKEN_LEN + 1], id[STORE_ID_LEN];
	unsigned char hash[32];
	json_t *t;
	int r;

	if (store_tenant_get(req->id, &t) < 0) {
		http_error(resp, 404, "not_found", "no such tenant");
		return;
	}
	json_decref(t);
	auth_token_new(token, hash);
	r = store_token_add(req->id, hash, id, &resp->json);
	if (r < 0) {
		store_failed(resp, r, "tenant");
		return;
	}
	json_object_set_new(resp->json, "token", json_string(token));
	resp->status = 201;
	store_event(req->who.actor, req->id, "token.create", id, "succeeded", "");
}

static void
h_quota_get(struct http_req *req, struct http_resp *resp)
{
	int r = store_quota_get(req->id, &resp->json);

	if (r < 0)
		store_failed(resp, r, "tenant");
}

static void
h_quota_put(struct http_req *req, struct http_resp *resp)
{
	struct quota q;
	char err[256], detail[128];
	json_t *j;
	int r;

	if (api_body(req, resp, &j) < 0)
		return;
	r = req_quota(j, &q, err, sizeof(err));
	json_decref(j);
	if (r < 0) {
		http_error(resp, 400, "bad_request", "%s", err);
		return;
	}
	r = store_quota_set(req->id, &q, &resp->json);
	if (r < 0) {
		store_failed(resp, r, "tenant");
		return;
	}
	snprintf(detail, sizeof(detail), "vcpus %lld, memory %lld MiB, disk %lld GiB, vms %lld",
		 (long long)q.max_vcpus, (long long)q.max_memory_mib,
		 (long long)q.max_disk_gib, (long long)q.max_vms);
	store_event(req->who.actor, req->id, "quota.set", req->id, "succeeded", detail);
}

/* ---- VMs ---------------------------------------------------------------- */

static void
h_vm_list(struct http_req *req, struct http_resp *resp)
{
	resp->text = store_vm_list_text(scope(req));
	if (resp->text == NULL) {
		http_error(resp, 500, "internal", "the state store failed");
		return;
	}
	resp->textlen = strlen(resp->text);
	resp->text_is_json = 1;
}

static void
h_vm_get(struct http_req *req, struct http_resp *resp)
{
	int r = store_vm_get(scope(req), req->id, &resp->json);

	if (r < 0)
		store_failed(resp, r, "VM");
	else
		json_object_set_new(resp->json, "nics", store_vm_nics(req->id));
}

static void
h_vm_create(struct http_req *req, struct http_resp *resp)
{
	struct vm_request vr;
	struct vm_row row;
	const struct service *sv;
	char err[300], op_id[STORE_ID_LEN];
	json_t *j;
	int r;

	memset(&row, 0, sizeof(row));
	if (api_body(req, resp, &j) < 0)
		return;
	if ((r = req_vm_create(j, &vr, err, sizeof(err))) < 0) {
		/* -E2BIG: user_data over its limit (userdata.h) */
		if (r == -E2BIG)
			http_error(resp, 413, "payload_too_large", "%s", err);
		else
			http_error(resp, 400, "bad_request", "%s", err);
		goto out;
	}
	sv = catalog_find(vr.service);
	if (sv == NULL) {
		http_error(resp, 400, "bad_request", "unknown service '%s' (see GET /v1/services)",
			   vr.service);
		goto out;
	}
	if (req_vm_resolve(&vr, sv, &row, err, sizeof(err)) < 0) {
		http_error(resp, 400, "bad_request", "%s", err);
		goto out;
	}
	{
		/* An image the tenant uploaded (docs/images.md), by name or id:
		 * the VM names it by its id, the agent boots it with firmware. */
		json_t *up = NULL;

		if (vr.image[0] != '\0' &&
		    store_image_get(req->who.tenant_id, vr.image, &up) == 0) {
			snprintf(row.image, sizeof(row.image), "%s",
				 json_string_value(json_object_get(up, "id")) ?: "");
			json_decref(up);
		} else if (strncmp(row.image, "img-", 4) == 0 || !image_available(row.image)) {
			/* "img-": another tenant's upload is never an image here,
			 * even before the agent's list is known */
			http_error(resp, 409, "conflict", "image '%s' is not available on this host",
				   row.image);
			goto out;
		}
	}
	snprintf(row.tenant_id, sizeof(row.tenant_id), "%s", req->who.tenant_id);
	row.user_data = (char *)(uintptr_t)vr.user_data;
	if (vr.keys != NULL && json_array_size(vr.keys) > 0) {
		char missing[64];
		json_t *lines = NULL;

		if (store_keys_lines(row.tenant_id, vr.keys, &lines, missing) < 0) {
			http_error(resp, 400, "bad_request", "no SSH key '%s' (see GET /v1/keys)",
				   missing);
			goto out;
		}
		row.ssh_keys = json_dumps(lines, JSON_COMPACT);
		json_decref(lines);
	}
	if (new_id("vm-", row.id) < 0 || new_id("op-", op_id) < 0) {
		http_error(resp, 500, "internal", "no randomness");
		goto out;
	}
	r = store_vm_create(&row, op_id, &resp->json);
	if (r == 0 &&
	    (r = netplan_vm_attach(row.tenant_id, row.id, vr.networks, sv, err, sizeof(err))) < 0) {
		/* No NIC, no VM: undo the record (its operation ends failed). */
		store_op_update(op_id, "failed", 0, "", err);
		store_vm_delete(row.id);
		json_decref(resp->json);
		resp->json = NULL;
		if (r == -ENOENT)
			http_error(resp, 400, "bad_request", "%s", err);
		else
			http_error(resp, 409, "conflict", "%s", err);
		goto out;
	}
	if (r == -ENOSPC) {
		/* Nothing was made: the record and its operation were rolled back. */
		http_error(resp, 409, "no_host", "no host can take this VM: %s",
			   store_host_place_why());
		store_event(req->who.actor, req->who.tenant_id, "vm.create", vr.name, "denied",
			    store_host_place_why());
		goto out;
	}
	if (r == -EDQUOT) {
		http_error(resp, 403, "quota_exceeded",
			   "this VM (%lld vCPU, %lld MiB, %lld GiB) would exceed the tenant's "
			   "quota",
			   (long long)row.vcpus, (long long)row.memory_mib,
			   (long long)row.disk_gib);
		store_event(req->who.actor, req->who.tenant_id, "vm.create", vr.name, "denied",
			    "quota exceeded");
		goto out;
	}
	if (r < 0) {
		store_failed(resp, r, "VM");
		goto out;
	}
	resp->status = 202;
	/* To a worker at once; the audit event is written meanwhile. */
	ops_submit(op_id, req->t_start_us);
	snprintf(err, sizeof(err), "%s: service %s, %lld vCPU, %lld MiB, %lld GiB, image %s",
		 row.id, row.service, (long long)row.vcpus, (long long)row.memory_mib,
		 (long long)row.disk_gib, row.image);
	store_event(req->who.actor, req->who.tenant_id, "vm.create", vr.name, "accepted", err);
out:
	free(row.ssh_keys); /* user_data is the request's */
	json_decref(j);
}

/* Begin an operation on req->id and answer 202 (or the error). */
static void
begin(struct http_req *req, struct http_resp *resp, const char *kind, const json_t *args,
      const int64_t *new_spec, const char *detail)
{
	char op_id[STORE_ID_LEN], action[32];
	int r;

	if (new_id("op-", op_id) < 0) {
		http_error(resp, 500, "internal", "no randomness");
		return;
	}
	snprintf(action, sizeof(action), "vm.%s", kind);
	r = store_vm_op_begin(scope(req), req->id, kind, op_id, args, new_spec, &resp->json);
	if (r == -EDQUOT) {
		http_error(resp, 403, "quota_exceeded", "the change would exceed the quota");
		store_event(req->who.actor, scope(req), action, req->id, "denied",
			    "quota exceeded");
		return;
	}
	if (r < 0) {
		store_failed(resp, r, "VM");
		return;
	}
	resp->status = 202;
	ops_submit(op_id, req->t_start_us);
	store_event(req->who.actor, json_string_value(json_object_get(resp->json, "tenant_id")),
		    action, req->id, "accepted", detail ? detail : "");
}

static void
h_vm_patch(struct http_req *req, struct http_resp *resp)
{
	struct vm_row row;
	int64_t cur[3], next[3];
	char err[300];
	json_t *j, *args;

	/* Visibility first: another tenant's VM is a 404 whatever the body. */
	if (store_vm_row(req->id, &row) < 0 ||
	    (scope(req) != NULL && strcmp(row.tenant_id, scope(req)) != 0)) {
		store_vm_row_free(&row);
		http_error(resp, 404, "not_found", "no such VM");
		return;
	}
	store_vm_row_free(&row);
	if (api_body(req, resp, &j) < 0)
		return;
	cur[0] = row.vcpus;
	cur[1] = row.memory_mib;
	cur[2] = row.disk_gib;
	if (req_vm_patch(j, catalog_find(row.service), cur, next, err, sizeof(err)) < 0) {
		http_error(resp, 400, "bad_request", "%s", err);
		json_decref(j);
		return;
	}
	json_decref(j);
	args = json_pack("{s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}}", "new", "vcpus",
			 (json_int_t)next[0], "memory_mib", (json_int_t)next[1], "disk_gib",
			 (json_int_t)next[2], "old", "vcpus", (json_int_t)cur[0], "memory_mib",
			 (json_int_t)cur[1], "disk_gib", (json_int_t)cur[2]);
	snprintf(err, sizeof(err), "%lld vCPU, %lld MiB, %lld GiB", (long long)next[0],
		 (long long)next[1], (long long)next[2]);
	begin(req, resp, "reconfigure", args, next, err);
	json_decref(args);
}

static void
h_vm_delete(struct http_req *req, struct http_resp *resp)
{
	begin(req, resp, "delete", NULL, NULL, NULL);
}

static void
h_vm_action(struct http_req *req, struct http_resp *resp)
{
	const char *action, *state;
	char err[256];
	json_t *j, *vm, *args;
	int force;

	if (store_vm_get(scope(req), req->id, &vm) < 0) {
		http_error(resp, 404, "not_found", "no such VM");
		return;
	}
	if (api_body(req, resp, &j) < 0) {
		json_decref(vm);
		return;
	}
	if (req_vm_action(j, &action, &force, err, sizeof(err)) < 0) {
		http_error(resp, 400, "bad_request", "%s", err);
		json_decref(j);
		json_decref(vm);
		return;
	}
	json_decref(j);
	state = json_string_value(json_object_get(vm, "state"));
	if (strcmp(action, "start") == 0 ? !(strcmp(state, "stopped") == 0 ||
					     strcmp(state, "crashed") == 0)
					 : !(strcmp(state, "running") == 0 ||
					     strcmp(state, "paused") == 0)) {
		http_error(resp, 409, "conflict", "cannot %s a VM that is %s", action, state);
		json_decref(vm);
		return;
	}
	json_decref(vm);
	args = json_pack("{s:b}", "force", force);
	begin(req, resp, action, args, NULL, force ? "forced" : NULL);
	json_decref(args);
}

static void
h_console(struct http_req *req, struct http_resp *resp)
{
	char code[32], err[256], host[STORE_ID_LEN] = "";
	int64_t bytes, offset;
	const char *off = http_query(req, "offset");
	json_t *vm, *args, *out = NULL;
	const char *text;

	if (store_vm_get(scope(req), req->id, &vm) < 0) {
		http_error(resp, 404, "not_found", "no such VM");
		return;
	}
	json_decref(vm);
	if (req_query_int(http_query(req, "bytes"), 1, 1 << 20, 16384, &bytes) < 0 ||
	    req_query_int(off, 0, INT64_MAX / 2, 0, &offset) < 0) {
		http_error(resp, 400, "bad_request",
			   "bytes must be 1..1048576 and offset a non-negative integer");
		return;
	}
	args = json_pack("{s:s, s:I}", "name", req->id, "bytes", (json_int_t)bytes);
	if (off != NULL)
		json_object_set_new(args, "offset", json_integer(offset));
	store_vm_host(req->id, host, sizeof(host));
	if (agentc_call(host, "vm.console", args, &out, code, err, sizeof(err)) < 0) {
		http_error(resp, 503, "unavailable", "%s", err);
		return;
	}
	text = json_string_value(json_object_get(out, "output"));
	resp->textlen = text ? strlen(text) : 0;
	resp->text = strdup(text ? text : "");
	snprintf(resp->header_name, sizeof(resp->header_name), "X-Console-Offset");
	snprintf(resp->header_value, sizeof(resp->header_value), "%lld",
		 (long long)json_integer_value(json_object_get(out, "offset")));
	json_decref(out);
}

static void
h_console_input(struct http_req *req, struct http_resp *resp)
{
	static const char *const allowed = "data";
	char code[32], err[256], host[STORE_ID_LEN] = "";
	json_t *j, *vm, *data;
	const char *key;
	json_t *v;

	if (store_vm_get(scope(req), req->id, &vm) < 0) {
		http_error(resp, 404, "not_found", "no such VM");
		return;
	}
	json_decref(vm);
	if (api_body(req, resp, &j) < 0)
		return;
	json_object_foreach(j, key, v) if (strcmp(key, allowed) != 0) {
		http_error(resp, 400, "bad_request", "unknown field '%.64s'", key);
		json_decref(j);
		return;
	}
	data = json_object_get(j, "data");
	if (!json_is_string(data) || json_string_length(data) > 4096) {
		http_error(resp, 400, "bad_request", "data must be a string of at most 4096 bytes");
		json_decref(j);
		return;
	}
	store_vm_host(req->id, host, sizeof(host));
	if (agentc_call(host, "vm.console.input",
			json_pack("{s:s, s:O}", "name", req->id, "data", data), NULL, code, err,
			sizeof(err)) < 0) {
		if (strcmp(code, "conflict") == 0)
			http_error(resp, 409, "conflict", "%s", err);
		else
			http_error(resp, 503, "unavailable", "%s", err);
	} else
		resp->status = 204;
	json_decref(j);
}

/* ---- operations, events ------------------------------------------------ */

/*
 * ?wait=S (1-60): answer once the operation has ended, or its progress is
 * no longer ?progress=P (when given), or after S seconds, whichever comes
 * first; no polling on either side (the connection waits, http.c).
 */
static void
h_op_get(struct http_req *req, struct http_resp *resp)
{
	const char *seen_q = http_query(req, "progress");
	const char *state;
	int64_t wait_s, seen;
	int r;

	if (req_query_int(http_query(req, "wait"), 0, 60, 0, &wait_s) < 0 ||
	    req_query_int(seen_q, 0, 100, 0, &seen) < 0) {
		http_error(resp, 400, "bad_request",
			   "wait must be 0..60 (seconds) and progress 0..100");
		return;
	}
	r = store_op_get(scope(req), req->id, &resp->json);
	if (r < 0) {
		store_failed(resp, r, "operation");
		return;
	}
	state = json_string_value(json_object_get(resp->json, "state"));
	if (wait_s > 0 && state != NULL &&
	    (strcmp(state, "pending") == 0 || strcmp(state, "running") == 0) &&
	    (seen_q == NULL ||
	     json_integer_value(json_object_get(resp->json, "progress")) == seen)) {
		uint64_t deadline = req->t_start_us + (uint64_t)wait_s * 1000000;

		if (ops_now_us() < deadline) {
			json_decref(resp->json);
			resp->json = NULL;
			resp->wait_until_us = deadline;
		}
	}
}

static void
h_events(struct http_req *req, struct http_resp *resp)
{
	int64_t limit;

	if (req_query_int(http_query(req, "limit"), 1, 1000, 100, &limit) < 0) {
		http_error(resp, 400, "bad_request", "limit must be an integer from 1 to 1000");
		return;
	}
	resp->json = store_event_list(scope(req), (int)limit);
}

const struct http_route api_routes[] = {
	{"GET", "/v1/health", AUTH_NONE, h_health},
	{"GET", "/v1/tenants", AUTH_OPERATOR, h_tenant_list},
	{"POST", "/v1/tenants", AUTH_OPERATOR, h_tenant_create},
	{"GET", "/v1/tenants/{id}", AUTH_OPERATOR, h_tenant_get},
	{"DELETE", "/v1/tenants/{id}", AUTH_OPERATOR, h_tenant_delete},
	{"POST", "/v1/tenants/{id}/tokens", AUTH_OPERATOR, h_token_create},
	{"GET", "/v1/tenants/{id}/quota", AUTH_OPERATOR, h_quota_get},
	{"PUT", "/v1/tenants/{id}/quota", AUTH_OPERATOR, h_quota_put},
	{"GET", "/v1/services", AUTH_ANY, h_services},
	{"GET", "/v1/images", AUTH_ANY, h_images},
	{"POST", "/v1/images", AUTH_TENANT, api_image_upload},
	{"GET", "/v1/images/{id}", AUTH_ANY, api_image_get},
	{"DELETE", "/v1/images/{id}", AUTH_ANY, api_image_delete},
	{"GET", "/v1/vms", AUTH_ANY, h_vm_list},
	{"POST", "/v1/vms", AUTH_TENANT, h_vm_create},
	{"GET", "/v1/vms/{id}", AUTH_ANY, h_vm_get},
	{"PATCH", "/v1/vms/{id}", AUTH_ANY, h_vm_patch},
	{"DELETE", "/v1/vms/{id}", AUTH_ANY, h_vm_delete},
	{"POST", "/v1/vms/{id}/actions", AUTH_ANY, h_vm_action},
	{"GET", "/v1/vms/{id}/console", AUTH_ANY, h_console},
	{"POST", "/v1/vms/{id}/console/input", AUTH_ANY, h_console_input},
	{"GET", "/v1/operations/{id}", AUTH_ANY, h_op_get},
	{"GET", "/v1/networks", AUTH_TENANT, api_net_list},
	{"POST", "/v1/networks", AUTH_TENANT, api_net_create},
	{"GET", "/v1/networks/{id}", AUTH_TENANT, api_net_get},
	{"DELETE", "/v1/networks/{id}", AUTH_TENANT, api_net_delete},
	{"GET", "/v1/firewall", AUTH_TENANT, api_fw_get},
	{"PUT", "/v1/firewall", AUTH_TENANT, api_fw_put},
	{"GET", "/v1/firewall/rules", AUTH_TENANT, api_rule_list},
	{"POST", "/v1/firewall/rules", AUTH_TENANT, api_rule_create},
	{"DELETE", "/v1/firewall/rules/{id}", AUTH_TENANT, api_rule_delete},
	{"GET", "/v1/addresses", AUTH_TENANT, api_addr_list},
	{"POST", "/v1/addresses", AUTH_TENANT, api_addr_create},
	{"GET", "/v1/addresses/{id}", AUTH_TENANT, api_addr_get},
	{"PUT", "/v1/addresses/{id}", AUTH_TENANT, api_addr_put},
	{"DELETE", "/v1/addresses/{id}", AUTH_TENANT, api_addr_delete},
	{"GET", "/v1/forwards", AUTH_TENANT, api_fwd_list},
	{"POST", "/v1/forwards", AUTH_TENANT, api_fwd_create},
	{"DELETE", "/v1/forwards/{id}", AUTH_TENANT, api_fwd_delete},
	{"GET", "/v1/events", AUTH_ANY, h_events},
	{"GET", "/v1/volumes", AUTH_ANY, api_volume_list},
	{"POST", "/v1/volumes", AUTH_TENANT, api_volume_create},
	{"GET", "/v1/volumes/{id}", AUTH_ANY, api_volume_get},
	{"DELETE", "/v1/volumes/{id}", AUTH_ANY, api_volume_delete},
	{"POST", "/v1/volumes/{id}/actions", AUTH_ANY, api_volume_action},
	{"GET", "/v1/alerts", AUTH_ANY, api_alert_list},
	{"POST", "/v1/vms/{id}/migrate", AUTH_OPERATOR, api_vm_migrate},
	{"DELETE", "/v1/vms/{id}/migrate", AUTH_OPERATOR, api_vm_migrate_cancel},
	{"POST", "/v1/hosts/{id}/evacuate", AUTH_OPERATOR, api_host_evacuate},
	{"GET", "/v1/tokens", AUTH_ANY, api_token_list},
	{"POST", "/v1/tokens", AUTH_ANY, api_token_create},
	{"DELETE", "/v1/tokens/{id}", AUTH_ANY, api_token_revoke},
	{"GET", "/v1/keys", AUTH_TENANT, api_key_list},
	{"POST", "/v1/keys", AUTH_TENANT, api_key_add},
	{"GET", "/v1/keys/{id}", AUTH_TENANT, api_key_get},
	{"DELETE", "/v1/keys/{id}", AUTH_TENANT, api_key_delete},
	{"GET", "/v1/vpn", AUTH_TENANT, api_vpn_list},
	{"POST", "/v1/vpn", AUTH_TENANT, api_vpn_create},
	{"GET", "/v1/vpn/{id}", AUTH_TENANT, api_vpn_get},
	{"DELETE", "/v1/vpn/{id}", AUTH_TENANT, api_vpn_delete},
	{"GET", "/v1/vpn/{id}/peers", AUTH_TENANT, api_vpn_peer_list},
	{"POST", "/v1/vpn/{id}/peers", AUTH_TENANT, api_vpn_peer_add},
	{"GET", "/v1/vpn/{id}/peers/{id2}", AUTH_TENANT, api_vpn_peer_get},
	{"DELETE", "/v1/vpn/{id}/peers/{id2}", AUTH_TENANT, api_vpn_peer_delete},
	{"GET", "/v1/vpn/{id}/peers/{id2}/config", AUTH_TENANT, api_vpn_peer_config},
	{"GET", "/v1/ids", AUTH_ANY, api_ids_get},
	{"PUT", "/v1/ids", AUTH_TENANT, api_ids_put},
	{"GET", "/v1/ids/status", AUTH_ANY, api_ids_status},
	{"GET", "/v1/ids/alerts", AUTH_ANY, api_ids_alerts},
	{"GET", "/v1/ids/skipped", AUTH_ANY, api_ids_skipped},
	{"GET", "/v1/ids/suppressions", AUTH_ANY, api_ids_sup_list},
	{"POST", "/v1/ids/suppressions", AUTH_ANY, api_ids_sup_add},
	{"DELETE", "/v1/ids/suppressions/{id}", AUTH_ANY, api_ids_sup_delete},
	/* Before /v1/hosts/{id}: the first route whose path matches wins. */
	{"GET", "/v1/hosts/tokens", AUTH_OPERATOR, api_host_token_list},
	{"POST", "/v1/hosts/tokens", AUTH_OPERATOR, api_host_token_create},
	{"DELETE", "/v1/hosts/tokens/{id}", AUTH_OPERATOR, api_host_token_delete},
	{"POST", "/v1/hosts/join", AUTH_NONE, api_host_join},
	{"GET", "/v1/hosts", AUTH_OPERATOR, api_host_list},
	{"POST", "/v1/hosts", AUTH_OPERATOR, api_host_add},
	{"GET", "/v1/hosts/{id}", AUTH_OPERATOR, api_host_get},
	{"DELETE", "/v1/hosts/{id}", AUTH_OPERATOR, api_host_remove},
	{"POST", "/v1/hosts/{id}/actions", AUTH_OPERATOR, api_host_action},
	{"GET", "/v1/site", AUTH_OPERATOR, api_site_get},
	{"POST", "/v1/site/failover", AUTH_OPERATOR, api_site_failover, 1},
};
const size_t api_nroutes = ARRAY_LEN(api_routes);
