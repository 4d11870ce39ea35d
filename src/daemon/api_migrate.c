/* api_migrate.c - see api_migrate.h */
#define _GNU_SOURCE
#include "api_migrate.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "http.h"
#include "jsonv.h"
#include "ops.h"
#include "store.h"
#include "store_host.h"
#include "store_volume.h"
#include "agentc.h"
#include "util.h"

static const char *
str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/*
 * Begin the move of one VM: its arguments {host (destination id or "" to
 * place it), live, downtime_ms}. 0 with the operation in *op, or -1 with
 * why in err (and the HTTP status in *status).
 */
static int
begin_move(const char *actor, const char *vm_id, const char *host, int live, int64_t downtime,
	   int64_t bw_mib, json_t **op, int *status, char *err, size_t errlen)
{
	char op_id[STORE_ID_LEN], hex[17], cur[STORE_ID_LEN] = "";
	json_t *vm = NULL, *args;
	int r;

	if (store_vm_get(NULL, vm_id, &vm) < 0) {
		*status = 404;
		snprintf(err, errlen, "no such VM");
		return -1;
	}
	store_vm_host(vm_id, cur, sizeof(cur));
	r = -1;
	*status = 409;
	if (host[0] != '\0' && strcmp(host, cur) == 0)
		snprintf(err, errlen, "VM %s already runs on that host", vm_id);
	else if (strcmp(str(vm, "state") ?: "", "running") != 0 &&
		 strcmp(str(vm, "state") ?: "", "stopped") != 0)
		snprintf(err, errlen, "VM %s is %s: only a running (live) or stopped (cold) VM moves",
			 vm_id, str(vm, "state") ?: "?");
	else
		r = 0;
	if (r < 0) {
		json_decref(vm);
		return -1;
	}
	/* A stopped VM moves cold whatever was asked. */
	if (strcmp(str(vm, "state"), "stopped") == 0)
		live = 0;
	args = json_pack("{s:s, s:b, s:I}", "host", host, "live", live, "downtime_ms",
			 (json_int_t)downtime);
	if (bw_mib > 0)
		json_object_set_new(args, "max_bandwidth_mib", json_integer(bw_mib));
	if (util_random_hex(hex, 8) < 0 || util_fmt(op_id, sizeof(op_id), "op-%s", hex) < 0) {
		*status = 500;
		snprintf(err, errlen, "no randomness");
		r = -1;
	} else if ((r = store_vm_op_begin(NULL, vm_id, "migrate", op_id, args, NULL, op)) < 0) {
		*status = r == -EBUSY ? 409 : r == -ENOENT ? 404 : 500;
		snprintf(err, errlen, "%s", r == -EBUSY ? "the VM has another operation in progress"
					    : r == -ENOENT ? "no such VM"
							   : "the state store failed");
		r = -1;
	} else {
		ops_submit(op_id, 0);
		store_event(actor, str(vm, "tenant_id"), "vm.migrate", vm_id, "accepted",
			    host[0] ? host : "placed");
	}
	json_decref(args);
	json_decref(vm);
	return r;
}

/* The destination named in a request: "" (placement) or a host that is up
 * and not draining. -1 with the answer made otherwise. */
static int
destination(struct http_resp *resp, const char *name, char *id, size_t len)
{
	json_t *h = NULL;
	int ok;

	id[0] = '\0';
	if (name == NULL)
		return 0;
	if (store_host_resolve(name, id, len) < 0) {
		http_error(resp, 404, "not_found", "no such host: %s", name);
		return -1;
	}
	store_host_get(id, &h);
	ok = strcmp(str(h, "state") ?: "", "up") == 0 &&
	     !json_is_true(json_object_get(h, "draining"));
	if (!ok)
		http_error(resp, 409, "conflict", "host %s is %s: it takes no VMs", name,
			   json_is_true(json_object_get(h, "draining")) ? "draining" : "down");
	json_decref(h);
	return ok ? 0 : -1;
}

void
api_vm_migrate(struct http_req *req, struct http_resp *resp)
{
	static const char *const fields[] = {"host", "live", "downtime_ms", "max_bandwidth_mib",
					     NULL};
	char err[300], host[STORE_ID_LEN];
	const json_t *live, *dt, *bw;
	json_t *j;
	int status;

	if (api_body(req, resp, &j) < 0)
		return;
	live = json_object_get(j, "live");
	dt = json_object_get(j, "downtime_ms");
	bw = json_object_get(j, "max_bandwidth_mib");
	if (jsonv_only_fields(j, fields, err, sizeof(err)) < 0 ||
	    (bw && (!json_is_integer(bw) || json_integer_value(bw) < 1 ||
		    json_integer_value(bw) > 100000)) ||
	    (json_object_get(j, "host") && !json_is_string(json_object_get(j, "host"))) ||
	    (live && !json_is_boolean(live)) ||
	    (dt && (!json_is_integer(dt) || json_integer_value(dt) < 1 ||
		    json_integer_value(dt) > 60000))) {
		http_error(resp, 400, "bad_request",
			   "{\"host\": a host's name or id (default: placement), \"live\": "
			   "bool (default true for a running VM), \"downtime_ms\": 1..60000 "
			   "(default 100), \"max_bandwidth_mib\": 1..100000 (MiB/s of RAM, "
			   "default 128)}");
		goto out;
	}
	if (destination(resp, str(j, "host"), host, sizeof(host)) < 0)
		goto out;
	if (begin_move(req->who.actor, req->id, host, live ? json_is_true(live) : 1,
		       dt ? json_integer_value(dt) : 100, bw ? json_integer_value(bw) : 0,
		       &resp->json, &status, err,
		       sizeof(err)) < 0) {
		http_error(resp, status, status == 404 ? "not_found" : "conflict", "%s", err);
		goto out;
	}
	resp->status = 202;
out:
	json_decref(j);
}

void
api_host_evacuate(struct http_req *req, struct http_resp *resp)
{
	char id[STORE_ID_LEN], err[300];
	json_t *vms, *vm, *ops = json_array(), *refused = json_array();
	size_t i;

	if (store_host_resolve(req->id, id, sizeof(id)) < 0) {
		http_error(resp, 404, "not_found", "no such host");
		json_decref(ops);
		json_decref(refused);
		return;
	}
	/* No new VM goes there meanwhile. */
	store_host_set_draining(id, 1);
	vms = store_vm_list_host(id);
	json_array_foreach(vms, i, vm) {
		json_t *op = NULL;
		int status;

		if (begin_move(req->who.actor, str(vm, "id"), "", 1, 100, 0, &op, &status, err,
			       sizeof(err)) == 0)
			json_array_append_new(ops, op);
		else
			json_array_append_new(refused,
					      json_pack("{s:s, s:s}", "vm_id", str(vm, "id"), "error", err));
	}
	json_decref(vms);
	store_event(req->who.actor, NULL, "host.evacuate", id, "accepted", "");
	resp->status = 202;
	resp->json = json_pack("{s:s, s:o, s:o}", "host_id", id, "operations", ops, "refused",
			       refused);
}

#define CANCEL_TRIES 25 /* 5 s of 200 ms */

void
api_vm_migrate_cancel(struct http_req *req, struct http_resp *resp)
{
	char to[STORE_ID_LEN] = "", src[STORE_ID_LEN] = "", code[32], err[300];
	json_t *vm = NULL;
	int r;

	if (store_vm_get(NULL, req->id, &vm) < 0) {
		http_error(resp, 404, "not_found", "no such VM");
		return;
	}
	store_vm_migrating_to(req->id, to, sizeof(to));
	store_vm_host(req->id, src, sizeof(src));
	if (to[0] == '\0') {
		http_error(resp, 409, "conflict", "VM %s is not moving", req->id);
		goto out;
	}
	/* The source stops sending; the move's worker then aborts the
	 * destination and the VM stays where it runs. A move still preparing
	 * the destination is not sending yet: asked again for a few seconds
	 * while the record says it moves. */
	for (int i = 0;; i++) {
		r = agentc_call(src, "vm.migrate.cancel", json_pack("{s:s}", "name", req->id), NULL,
				code, err, sizeof(err));
		if (r == 0 || strcmp(code, "conflict") != 0 || i >= CANCEL_TRIES)
			break;
		usleep(200000);
		if (store_vm_migrating_to(req->id, to, sizeof(to)) < 0 || to[0] == '\0')
			break;
	}
	if (r < 0) {
		http_error(resp, 409, "conflict",
			   "the move cannot be cancelled now (%s): it has ended, or did not "
			   "start sending within 5 s",
			   err);
		goto out;
	}
	store_event(req->who.actor, str(vm, "tenant_id"), "vm.migrate.cancel", req->id, "accepted",
		    to);
	resp->status = 202;
	resp->json = json_pack("{s:s, s:s, s:b}", "vm_id", req->id, "host_id", to, "cancelled", 1);
out:
	json_decref(vm);
}
