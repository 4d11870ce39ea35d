/* api_volume.c - see api_volume.h */
#define _GNU_SOURCE
#include "api_volume.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agentc.h"
#include "api.h"
#include "jsonv.h"
#include "log.h"
#include "pull.h"
#include "request.h"
#include "store.h"
#include "store_host.h"
#include "store_volume.h"
#include "util.h"

#define VOLUME_GIB_MAX 4096 /* the same bound as a VM disk */

static const char *
scope(const struct http_req *req)
{
	return req->who.is_operator ? NULL : req->who.tenant_id;
}

static const char *
s(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int
new_volume_id(char *out)
{
	char hex[17];
	int r = util_random_hex(hex, 8);

	if (r == 0)
		snprintf(out, STORE_ID_LEN, "v-%s", hex);
	return r;
}

static void
store_failed(struct http_resp *resp, int r)
{
	switch (r) {
	case -ENOENT:
		http_error(resp, 404, "not_found", "no such volume");
		break;
	case -EEXIST:
		http_error(resp, 409, "conflict", "the tenant has a volume of that name");
		break;
	case -EDQUOT:
		http_error(resp, 403, "quota_exceeded",
			   "the tenant's disk quota (VM disks and volumes) would be exceeded");
		break;
	case -EBUSY:
		http_error(resp, 409, "conflict", "the volume is attached to a VM");
		break;
	case -E2BIG:
		http_error(resp, 409, "conflict", "the VM has %d volumes already",
			   VOLUMES_PER_VM_MAX);
		break;
	case -EINVAL:
		http_error(resp, 400, "bad_request", "size_gib must be larger than now");
		break;
	default:
		http_error(resp, 500, "internal", "the state store failed (%s)", strerror(-r));
	}
}

/* The host refused or could not be reached: rc from agentc_call. */
static void
host_failed(struct http_resp *resp, int rc, const char *code, const char *err)
{
	json_decref(resp->json);
	resp->json = NULL;
	if (rc != -EREMOTEIO)
		http_error(resp, 502, "host_error", "the host agent is unreachable: %s", err);
	else if (strcmp(code, "conflict") == 0 || strcmp(code, "insufficient_resources") == 0)
		http_error(resp, 409, "conflict", "%s", err);
	else if (strcmp(code, "invalid") == 0)
		http_error(resp, 400, "bad_request", "%s", err);
	else
		http_error(resp, 502, "host_error", "the host failed: %s", err);
}

/* A positive integer no larger than max (JSON booleans, reals and strings
 * are not integers). */
static int
get_gib(const json_t *j, const char *key, int64_t *out)
{
	json_t *v = json_object_get(j, key);

	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > VOLUME_GIB_MAX)
		return -EINVAL;
	*out = json_integer_value(v);
	return 0;
}

/* ---- volumes ---------------------------------------------------------- */

/* A tenant never sees host names: drop host_id from a volume or a list. */
static void
hide_host(const struct http_req *req, json_t *j)
{
	json_t *v;
	size_t i;

	if (scope(req) == NULL || j == NULL)
		return;
	if (json_is_array(j))
		json_array_foreach(j, i, v) json_object_del(v, "host_id");
	else
		json_object_del(j, "host_id");
}

/* A volume's agent calls go to the host whose pool holds it. */
static const char *
vhost(const json_t *vol)
{
	return s(vol, "host_id") ?: HOST_LOCAL;
}

void
api_volume_list(struct http_req *req, struct http_resp *resp)
{
	resp->json = store_volume_list(scope(req));
	hide_host(req, resp->json);
}

/* Make the record, then the host volume (op: volume.create, .snapshot or
 * .clone with args, consumed); undo the record if the host refuses. */
static int
make(struct http_req *req, struct http_resp *resp, const struct volume_row *row,
     const char *op, json_t *args)
{
	char code[32], err[512];
	int r;

	if ((r = store_volume_create(row)) < 0) {
		json_decref(args);
		store_failed(resp, r);
		return r;
	}
	r = agentc_call(row->host_id, op, args, NULL, code, err, sizeof(err));
	if (r < 0) {
		store_volume_delete(row->id);
		host_failed(resp, r, code, err);
		store_event(req->who.actor, row->tenant_id, op, row->id, "failed", err);
		return r;
	}
	store_volume_set_state(row->id, "ready");
	store_volume_get(NULL, row->id, &resp->json);
	hide_host(req, resp->json);
	resp->status = 201;
	store_event(req->who.actor, row->tenant_id, op, row->id, "succeeded", row->name);
	return 0;
}

/*
 * Which host's pool a new volume goes to: the host of the tenant's VM named
 * in "vm" (so it can be attached there), else the tenant's home host, else
 * the host placement would pick for a VM of no CPU and memory and the
 * volume's size. -1 with the answer made if none.
 */
static int
volume_place(struct http_resp *resp, const char *vm, const json_t *jvm, struct volume_row *row)
{
	char why[256];
	json_t *v = NULL;

	if (jvm != NULL && (vm == NULL || strlen(vm) >= STORE_ID_LEN)) {
		http_error(resp, 400, "bad_request", "vm must be a VM id (the volume goes to its host)");
		return -1;
	}
	if (vm != NULL) {
		if (store_vm_get(row->tenant_id, vm, &v) < 0) {
			http_error(resp, 404, "not_found", "no such VM");
			return -1;
		}
		json_decref(v);
		store_vm_host(vm, row->host_id, sizeof(row->host_id));
		return 0;
	}
	if (store_tenant_home(row->tenant_id, row->host_id, sizeof(row->host_id)) == 0 &&
	    row->host_id[0] != '\0')
		return 0;
	if (store_host_place(&(struct place_req){0, 0, row->size_gib, NULL, NULL, 0, NULL}, row->host_id,
			     sizeof(row->host_id), why, sizeof(why)) < 0) {
		http_error(resp, 409, "no_host", "no host can take this volume: %s", why);
		return -1;
	}
	return 0;
}

void
api_volume_create(struct http_req *req, struct http_resp *resp)
{
	static const char *const fields[] = {"name", "size_gib", "redundancy", "vm", NULL};
	struct volume_row row;
	char err[256];
	json_t *j, *red;

	if (api_body(req, resp, &j) < 0)
		return;
	memset(&row, 0, sizeof(row));
	red = json_object_get(j, "redundancy");
	if (jsonv_only_fields(j, fields, err, sizeof(err)) < 0) {
		http_error(resp, 400, "bad_request", "%s", err);
		goto out;
	}
	if (s(j, "name") == NULL || req_check_name("name", s(j, "name"), err, sizeof(err)) < 0) {
		http_error(resp, 400, "bad_request", "%s",
			   s(j, "name") ? err : "name is required and must be a string");
		goto out;
	}
	if (get_gib(j, "size_gib", &row.size_gib) < 0) {
		http_error(resp, 400, "bad_request",
			   "size_gib is required and must be an integer from 1 to %d",
			   VOLUME_GIB_MAX);
		goto out;
	}
	if (red != NULL && (!json_is_string(red) || (strcmp(s(j, "redundancy"), "mirror") != 0 &&
						     strcmp(s(j, "redundancy"), "stripe") != 0))) {
		http_error(resp, 400, "bad_request", "redundancy must be \"mirror\" or \"stripe\"");
		goto out;
	}
	snprintf(row.redundancy, sizeof(row.redundancy), "%s", red ? s(j, "redundancy") : "mirror");
	snprintf(row.name, sizeof(row.name), "%s", s(j, "name"));
	snprintf(row.tenant_id, sizeof(row.tenant_id), "%s", req->who.tenant_id);
	if (volume_place(resp, s(j, "vm"), json_object_get(j, "vm"), &row) < 0)
		goto out;
	if (new_volume_id(row.id) < 0) {
		http_error(resp, 500, "internal", "no randomness");
		goto out;
	}
	make(req, resp, &row, "volume.create",
	     json_pack("{s:s, s:s, s:I, s:s}", "tenant", row.tenant_id, "name", row.id, "size",
		       (json_int_t)row.size_gib << 30, "redundancy", row.redundancy));
out:
	json_decref(j);
}

void
api_volume_get(struct http_req *req, struct http_resp *resp)
{
	char code[32], err[256];
	json_t *host = NULL;
	int r = store_volume_get(scope(req), req->id, &resp->json);

	if (r < 0) {
		store_failed(resp, r);
		return;
	}
	/* What the pool really holds for it (thin: written data only). */
	if (agentc_call(vhost(resp->json), "volume.show",
			json_pack("{s:s, s:s}", "tenant", s(resp->json, "tenant_id"), "name", req->id),
			&host, code, err, sizeof(err)) == 0) {
		json_object_set(resp->json, "allocated_bytes", json_object_get(host, "allocated_bytes"));
		json_object_set(resp->json, "shared_bytes", json_object_get(host, "shared_bytes"));
	}
	json_decref(host);
	hide_host(req, resp->json);
}

void
api_volume_delete(struct http_req *req, struct http_resp *resp)
{
	char code[32], err[512];
	json_t *v;
	int r;

	if ((r = store_volume_get(scope(req), req->id, &v)) < 0) {
		store_failed(resp, r);
		return;
	}
	if (s(v, "vm_id") != NULL) {
		http_error(resp, 409, "conflict", "the volume is attached to VM %s: detach it first",
			   s(v, "vm_id"));
		goto out;
	}
	r = agentc_call(vhost(v), "volume.delete",
			json_pack("{s:s, s:s}", "tenant", s(v, "tenant_id"), "name", req->id), NULL,
			code, err, sizeof(err));
	/* Gone on the host already: the record follows. */
	if (r < 0 && !(r == -EREMOTEIO && strcmp(code, "not_found") == 0)) {
		host_failed(resp, r, code, err);
		goto out;
	}
	if ((r = store_volume_delete(req->id)) < 0) {
		store_failed(resp, r);
		goto out;
	}
	resp->status = 204;
	store_event(req->who.actor, s(v, "tenant_id"), "volume.delete", req->id, "succeeded", "");
out:
	json_decref(v);
}

/* Tell the host the VM's volumes now (the store already says so). */
static int
push_vm_volumes(const char *tenant, const char *vm_id, json_t **view, char *code, char *err,
		size_t errlen)
{
	char host[STORE_ID_LEN] = "";

	store_vm_host(vm_id, host, sizeof(host));
	return agentc_call(host, "vm.reconfigure",
			   json_pack("{s:s, s:s, s:o}", "name", vm_id, "tenant", tenant, "volumes",
				     store_volume_of_vm(vm_id)),
			   view, code, err, errlen);
}

static void
attach(struct http_req *req, struct http_resp *resp, json_t *vol, const char *vm_id)
{
	const char *tenant = s(vol, "tenant_id");
	const char *cur = s(vol, "vm_id");
	char code[32], err[512], target[STORE_ID_LEN];
	json_t *vm = NULL, *view = NULL;
	int r;

	if (vm_id == NULL && cur == NULL) {
		http_error(resp, 409, "conflict", "the volume is not attached");
		return;
	}
	if (json_is_true(json_object_get(vol, "readonly"))) {
		http_error(resp, 400, "bad_request",
			   "a snapshot is read-only: clone it to attach it to a VM");
		return;
	}
	snprintf(target, sizeof(target), "%s", vm_id ? vm_id : cur);
	/* The VM must be the volume's tenant's: another tenant's is a 404. */
	if (store_vm_get(tenant, target, &vm) < 0) {
		http_error(resp, 404, "not_found", "no such VM");
		return;
	}
	if (strcmp(s(vm, "state"), "creating") == 0 || strcmp(s(vm, "state"), "deleting") == 0 ||
	    store_vm_has_active_op(target)) {
		http_error(resp, 409, "conflict", "the VM has an operation in progress");
		goto out;
	}
	if (vm_id != NULL) {
		/* A volume is in its host's pool: only a VM there can take it
		 * (moving either is a migration). */
		char host[STORE_ID_LEN] = "";

		store_vm_host(target, host, sizeof(host));
		if (strcmp(host, vhost(vol)) != 0) {
			http_error(resp, 409, "conflict",
				   "the volume is on another host than the VM: create volumes "
				   "for this VM with \"vm\": \"%s\"",
				   target);
			goto out;
		}
	}
	if ((r = store_volume_attach(req->id, vm_id)) < 0) {
		store_failed(resp, r);
		goto out;
	}
	r = push_vm_volumes(tenant, target, &view, code, err, sizeof(err));
	if (r < 0) {
		store_volume_attach(req->id, NULL);
		if (vm_id == NULL)
			store_volume_attach(req->id, cur);
		host_failed(resp, r, code, err);
		goto out;
	}
	store_volume_get(NULL, req->id, &resp->json);
	hide_host(req, resp->json);
	/* A running VM gets its new disk list at its next start. */
	json_object_set_new(resp->json, "restart_required",
			    json_boolean(json_is_true(json_object_get(view, "restart_required"))));
	store_event(req->who.actor, tenant, vm_id ? "volume.attach" : "volume.detach", req->id,
		    "succeeded", target);
out:
	json_decref(view);
	json_decref(vm);
}

/* snapshot or clone: a new volume of the same tenant. */
static void
copy(struct http_req *req, struct http_resp *resp, json_t *vol, const char *name,
     int snapshot)
{
	struct volume_row row;
	char err[256];

	if (name == NULL || req_check_name("name", name, err, sizeof(err)) < 0) {
		http_error(resp, 400, "bad_request", "%s",
			   name ? err : "name is required and must be a string");
		return;
	}
	memset(&row, 0, sizeof(row));
	snprintf(row.tenant_id, sizeof(row.tenant_id), "%s", s(vol, "tenant_id"));
	snprintf(row.name, sizeof(row.name), "%s", name);
	snprintf(row.redundancy, sizeof(row.redundancy), "%s", s(vol, "redundancy"));
	snprintf(row.origin, sizeof(row.origin), "%s", req->id);
	row.size_gib = json_integer_value(json_object_get(vol, "size_gib"));
	row.readonly = snapshot;
	snprintf(row.host_id, sizeof(row.host_id), "%s", vhost(vol)); /* the same pool */
	if (new_volume_id(row.id) < 0) {
		http_error(resp, 500, "internal", "no randomness");
		return;
	}
	if (snapshot)
		make(req, resp, &row, "volume.snapshot",
		     json_pack("{s:s, s:s, s:s}", "tenant", row.tenant_id, "name", req->id,
			       "snapshot", row.id));
	else
		make(req, resp, &row, "volume.clone",
		     json_pack("{s:s, s:s, s:s}", "tenant", row.tenant_id, "name", req->id, "clone",
			       row.id));
}

static void
grow(struct http_req *req, struct http_resp *resp, json_t *vol, int64_t gib)
{
	int64_t old = json_integer_value(json_object_get(vol, "size_gib"));
	char code[32], err[512];
	int r;

	if ((r = store_volume_resize(req->id, gib)) < 0) {
		if (r == -EINVAL)
			http_error(resp, 400, "bad_request",
				   "size_gib must be larger than now (%lld): volumes do not shrink",
				   (long long)old);
		else
			store_failed(resp, r);
		return;
	}
	r = agentc_call(vhost(vol), "volume.grow",
			json_pack("{s:s, s:s, s:I}", "tenant", s(vol, "tenant_id"), "name", req->id,
				  "size", (json_int_t)gib << 30),
			NULL, code, err, sizeof(err));
	if (r < 0) {
		/* The host kept the old size: so does the record. */
		store_volume_set_size(req->id, old);
		host_failed(resp, r, code, err);
		return;
	}
	store_volume_get(NULL, req->id, &resp->json);
	hide_host(req, resp->json);
	/* NBD gives the size at connect: a running VM sees it after a restart. */
	store_event(req->who.actor, s(vol, "tenant_id"), "volume.grow", req->id, "succeeded", "");
}

static void
scan(struct http_req *req, struct http_resp *resp, json_t *vol)
{
	char code[32], err[512];
	json_t *rep = NULL, *f;
	size_t i;
	int r;

	r = agentc_call(vhost(vol), "volume.scan",
			json_pack("{s:s, s:s}", "tenant", s(vol, "tenant_id"), "name", req->id),
			&rep, code, err, sizeof(err));
	if (r < 0) {
		host_failed(resp, r, code, err);
		return;
	}
	/* The host's tenant and volume names are cloudletd's ids already. */
	json_array_foreach(json_object_get(rep, "findings"), i, f) {
		json_object_del(f, "quarantine");
		json_object_del(f, "seq");
	}
	json_object_del(rep, "snapshot");
	resp->json = rep;
	store_event(req->who.actor, s(vol, "tenant_id"), "volume.scan", req->id, "succeeded",
		    json_array_size(json_object_get(rep, "findings")) ? "findings" : "clean");
}

void
api_volume_action(struct http_req *req, struct http_resp *resp)
{
	static const char *const f_grow[] = {"action", "size_gib", NULL};
	static const char *const f_name[] = {"action", "name", NULL};
	static const char *const f_vm[] = {"action", "vm", NULL};
	static const char *const f_none[] = {"action", NULL};
	const char *action;
	const char *const *fields;
	char err[256];
	json_t *j = NULL, *vol;
	int64_t gib = 0;
	int r;

	if ((r = store_volume_get(scope(req), req->id, &vol)) < 0) {
		store_failed(resp, r);
		return;
	}
	if (api_body(req, resp, &j) < 0)
		goto out;
	action = s(j, "action");
	if (action == NULL) {
		http_error(resp, 400, "bad_request",
			   "action is required: grow, snapshot, clone, attach, detach or scan");
		goto out;
	}
	if (strcmp(action, "grow") == 0)
		fields = f_grow;
	else if (strcmp(action, "snapshot") == 0 || strcmp(action, "clone") == 0)
		fields = f_name;
	else if (strcmp(action, "attach") == 0)
		fields = f_vm;
	else if (strcmp(action, "detach") == 0 || strcmp(action, "scan") == 0)
		fields = f_none;
	else {
		http_error(resp, 400, "bad_request",
			   "unknown action: grow, snapshot, clone, attach, detach or scan");
		goto out;
	}
	if (jsonv_only_fields(j, fields, err, sizeof(err)) < 0) {
		http_error(resp, 400, "bad_request", "%s", err);
		goto out;
	}
	if (fields == f_grow) {
		if (get_gib(j, "size_gib", &gib) < 0)
			http_error(resp, 400, "bad_request",
				   "size_gib is required and must be an integer from 1 to %d",
				   VOLUME_GIB_MAX);
		else
			grow(req, resp, vol, gib);
	} else if (fields == f_name)
		copy(req, resp, vol, s(j, "name"), strcmp(action, "snapshot") == 0);
	else if (fields == f_vm) {
		if (s(j, "vm") == NULL || strlen(s(j, "vm")) >= STORE_ID_LEN)
			http_error(resp, 400, "bad_request", "vm is required: a VM id");
		else
			attach(req, resp, vol, s(j, "vm"));
	} else if (strcmp(action, "detach") == 0)
		attach(req, resp, vol, NULL);
	else
		scan(req, resp, vol);
out:
	json_decref(j);
	json_decref(vol);
}

/* ---- alerts ------------------------------------------------------------ */

void
api_alert_list(struct http_req *req, struct http_resp *resp)
{
	const char *vol = http_query(req, "volume");
	int64_t limit;

	if (req_query_int(http_query(req, "limit"), 1, 1000, 100, &limit) < 0) {
		http_error(resp, 400, "bad_request", "limit must be an integer from 1 to 1000");
		return;
	}
	if (vol != NULL && strlen(vol) >= STORE_ID_LEN) {
		http_error(resp, 400, "bad_request", "volume must be a volume id");
		return;
	}
	resp->json = store_alert_list(scope(req), vol, limit);
}

/* One storage alert of a host into the store (pull.h). */
static void
add_alert(const char *host, int64_t seq, const json_t *a)
{
	const char *volume = s(a, "volume");
	json_t *v = NULL;

	/* The tenant is the one cloudletd recorded for the volume; device
	 * alerts (no volume) are the operator's. */
	if (volume != NULL && store_volume_get(NULL, volume, &v) == 0)
		store_alert_add(host, seq, s(v, "tenant_id"), volume, a);
	else
		store_alert_add(host, seq, NULL, volume, a);
	if (s(a, "kind") && strcmp(s(a, "kind"), "malware") == 0)
		log_info("alert %s/%lld: %s in volume %s at %lld (%s)", host, (long long)seq,
			 s(a, "signature") ?: "?", volume ?: "?",
			 (long long)json_integer_value(json_object_get(a, "offset")),
			 v ? s(v, "tenant_id") : "no tenant");
	json_decref(v);
}

void
api_volume_pull_alerts(void)
{
	/* Each host numbers its alerts itself: they are kept per (host, seq),
	 * so no host's alert hides another's. */
	static const struct pull_src src = {"alert.list", 0, store_alert_last, add_alert};

	pull_all_hosts(&src);
}
