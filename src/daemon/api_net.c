/* api_net.c - see api_net.h */
#define _GNU_SOURCE
#include "api_net.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "jsonv.h"
#include "netplan.h"
#include "netstate.h"
#include "request.h"
#include "store.h"
#include "store_net.h"
#include "store_vpn.h"
#include "vpnplan.h"

static void
failed(struct http_resp *resp, int r, const char *what)
{
	switch (r) {
	case -ENOENT:
		http_error(resp, 404, "not_found", "no such %s", what);
		break;
	case -EEXIST:
		http_error(resp, 409, "conflict", "that %s already exists", what);
		break;
	case -EADDRINUSE:
		http_error(resp, 409, "conflict", "the %s overlaps another of the tenant's", what);
		break;
	case -ENOTEMPTY:
		http_error(resp, 409, "conflict", "the %s still has VMs", what);
		break;
	case -EDQUOT:
		http_error(resp, 403, "quota_exceeded", "the tenant has the most %ss it may have",
			   what);
		break;
	case -ENOSPC:
		http_error(resp, 409, "conflict", "no free %s left", what);
		break;
	case -EPERM:
		http_error(resp, 409, "conflict",
			   "the tenant's default %s goes only with the tenant", what);
		break;
	default:
		http_error(resp, 500, "internal", "the state store failed (%s)", strerror(-r));
	}
}

/* After a stored change: the host must follow. 0, or a 502 was set. */
static int
sync_or_fail(struct http_req *req, struct http_resp *resp)
{
	char err[512];

	if (netplan_sync(req->who.tenant_id, err, sizeof(err)) == 0)
		return 0;
	json_decref(resp->json);
	resp->json = NULL;
	http_error(resp, 502, "host_error", "the host did not apply the change: %s", err);
	return -1;
}

static const char *
s(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* ---- networks -------------------------------------------------------- */

void
api_net_list(struct http_req *req, struct http_resp *resp)
{
	resp->json = store_net_list(req->who.tenant_id);
}

void
api_net_create(struct http_req *req, struct http_resp *resp)
{
	static const char *const fields[] = {"name", "cidr", NULL};
	char err[256];
	const char *name, *cidr;
	struct net_cidr c;
	json_t *j;
	int r;

	if (api_body(req, resp, &j) < 0)
		return;
	if (jsonv_only_fields(j, fields, err, sizeof(err)) < 0) {
		http_error(resp, 400, "bad_request", "%s", err);
		goto out;
	}
	name = s(j, "name");
	if (name == NULL || req_check_name("name", name, err, sizeof(err)) < 0) {
		http_error(resp, 400, "bad_request", "%s", name ? err : "name is required");
		goto out;
	}
	cidr = s(j, "cidr");
	if (json_object_get(j, "cidr") && !json_is_null(json_object_get(j, "cidr")) &&
	    (cidr == NULL || netstate_parse_cidr(cidr, 1, 1, &c) < 0 || c.prefix < 16 ||
	     c.prefix > 28)) {
		http_error(resp, 400, "bad_request",
			   "cidr must be a network from /16 to /28 with host bits zero, like "
			   "10.5.0.0/24");
		goto out;
	}
	if (store_vpn_net_clash(req->who.tenant_id, cidr) < 0) {
		http_error(resp, 409, "conflict",
			   "cidr overlaps the tenant's VPN tunnel pool or a VPN channel's remote "
			   "networks");
		goto out;
	}
	r = store_net_create(req->who.tenant_id, name, cidr, &resp->json);
	if (r < 0) {
		failed(resp, r, "network");
		goto out;
	}
	if (sync_or_fail(req, resp) < 0) {
		store_net_delete(req->who.tenant_id, name);
		goto out;
	}
	resp->status = 201;
	store_event(req->who.actor, req->who.tenant_id, "network.create", name, "succeeded", "");
out:
	json_decref(j);
}

void
api_net_get(struct http_req *req, struct http_resp *resp)
{
	int r = store_net_get(req->who.tenant_id, req->id, &resp->json);

	if (r < 0)
		failed(resp, r, "network");
}

void
api_net_delete(struct http_req *req, struct http_resp *resp)
{
	json_t *n;
	int r;

	if ((r = store_net_get(req->who.tenant_id, req->id, &n)) < 0) {
		failed(resp, r, "network");
		return;
	}
	if (strcmp(s(n, "name"), "default") == 0) {
		json_decref(n);
		http_error(resp, 409, "conflict", "the default network goes only with the tenant");
		return;
	}
	if (store_vpn_net_users(req->who.tenant_id, s(n, "id")) > 0) {
		json_decref(n);
		http_error(resp, 409, "conflict", "a VPN channel uses the network: delete it first");
		return;
	}
	r = store_net_delete(req->who.tenant_id, s(n, "id"));
	json_decref(n);
	if (r < 0) {
		failed(resp, r, "network");
		return;
	}
	if (sync_or_fail(req, resp) < 0)
		return;
	resp->status = 204;
	store_event(req->who.actor, req->who.tenant_id, "network.delete", req->id, "succeeded",
		    "");
}

/* ---- firewall rules -------------------------------------------------- */

void
api_rule_list(struct http_req *req, struct http_resp *resp)
{
	json_t *vpn = vpnplan_rule(req->who.tenant_id);

	resp->json = store_rule_list(req->who.tenant_id);
	/* The VPN gateway's port: the platform's rule, shown, not deletable. */
	if (vpn != NULL)
		json_array_insert_new(resp->json, 0, vpn);
}

static int
port(const json_t *j, const char *k, int *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(j, k);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535) {
		snprintf(err, errlen, "%s must be a port number from 1 to 65535", k);
		return -1;
	}
	*out = (int)json_integer_value(v);
	return 0;
}

/* Validates a rule request into rr; the agent checks it again. */
static int
parse_rule(struct http_req *req, const json_t *j, struct rule_row *rr, char *err, size_t errlen)
{
	static const char *const fields[] = {"direction", "action",   "protocol", "port_min",
					     "port_max",  "port",     "source",   "destination",
					     "target_vm", "target_network", "priority", NULL};
	const char *dir = s(j, "direction"), *act = s(j, "action"), *proto = s(j, "protocol");
	const char *remote, *tvm = s(j, "target_vm"), *tnet = s(j, "target_network");
	const json_t *prio = json_object_get(j, "priority");
	struct net_cidr c;
	int p;

	memset(rr, 0, sizeof(*rr));
	if (jsonv_only_fields(j, fields, err, errlen) < 0)
		return -1;
	if (dir == NULL)
		dir = "ingress";
	if (strcmp(dir, "ingress") != 0 && strcmp(dir, "egress") != 0)
		return snprintf(err, errlen, "direction must be ingress or egress"), -1;
	if (act == NULL)
		act = "allow";
	if (strcmp(act, "allow") != 0 && strcmp(act, "deny") != 0)
		return snprintf(err, errlen, "action must be allow or deny"), -1;
	if (proto == NULL || (strcmp(proto, "tcp") && strcmp(proto, "udp") &&
			      strcmp(proto, "icmp") && strcmp(proto, "any")))
		return snprintf(err, errlen, "protocol must be tcp, udp, icmp or any"), -1;
	snprintf(rr->direction, sizeof(rr->direction), "%s", dir);
	snprintf(rr->action, sizeof(rr->action), "%s", act);
	snprintf(rr->protocol, sizeof(rr->protocol), "%s", proto);
	if (port(j, "port", &p, err, errlen) < 0 || port(j, "port_min", &rr->port_min, err, errlen) < 0 ||
	    port(j, "port_max", &rr->port_max, err, errlen) < 0)
		return -1;
	if (p) {
		if (rr->port_min || rr->port_max)
			return snprintf(err, errlen, "give port, or port_min and port_max"), -1;
		rr->port_min = rr->port_max = p;
	}
	if (rr->port_max == 0)
		rr->port_max = rr->port_min;
	if (rr->port_min == 0 && rr->port_max)
		return snprintf(err, errlen, "port_max needs port_min"), -1;
	if (rr->port_min > rr->port_max)
		return snprintf(err, errlen, "port_min is above port_max"), -1;
	if (rr->port_min && strcmp(proto, "tcp") && strcmp(proto, "udp"))
		return snprintf(err, errlen, "ports need protocol tcp or udp"), -1;
	/* The remote side: source of ingress, destination of egress. */
	remote = s(j, strcmp(dir, "ingress") == 0 ? "source" : "destination");
	if (json_object_get(j, strcmp(dir, "ingress") == 0 ? "destination" : "source"))
		return snprintf(err, errlen, "%s rules take %s", dir,
				strcmp(dir, "ingress") == 0 ? "source" : "destination"), -1;
	if (remote == NULL)
		remote = "0.0.0.0/0";
	if (netstate_parse_cidr(remote, 1, 1, &c) < 0)
		return snprintf(err, errlen,
				"%s must be a network in CIDR form with host bits zero, like "
				"203.0.113.0/24",
				strcmp(dir, "ingress") == 0 ? "source" : "destination"), -1;
	snprintf(rr->remote, sizeof(rr->remote), "%s", remote);
	if (tvm && tnet)
		return snprintf(err, errlen, "give target_vm or target_network, not both"), -1;
	if ((json_object_get(j, "target_vm") && !tvm) ||
	    (json_object_get(j, "target_network") && !tnet))
		return snprintf(err, errlen, "targets are ids (strings)"), -1;
	if (tvm) {
		if (strlen(tvm) >= sizeof(rr->target_vm))
			return snprintf(err, errlen, "no such VM"), -2;
		snprintf(rr->target_vm, sizeof(rr->target_vm), "%s", tvm);
	}
	if (tnet) {
		json_t *n;

		if (store_net_get(req->who.tenant_id, tnet, &n) < 0)
			return snprintf(err, errlen, "no such network"), -2;
		snprintf(rr->target_network, sizeof(rr->target_network), "%s", s(n, "id"));
		json_decref(n);
	}
	rr->priority = 100;
	if (prio != NULL) {
		if (!json_is_integer(prio) || json_integer_value(prio) < 1 ||
		    json_integer_value(prio) > 65535)
			return snprintf(err, errlen, "priority must be 1 to 65535 (lower first)"), -1;
		rr->priority = (int)json_integer_value(prio);
	}
	snprintf(rr->origin, sizeof(rr->origin), "user");
	return 0;
}

void
api_rule_create(struct http_req *req, struct http_resp *resp)
{
	struct rule_row rr;
	char err[256];
	json_t *j;
	int r;

	if (api_body(req, resp, &j) < 0)
		return;
	r = parse_rule(req, j, &rr, err, sizeof(err));
	if (r == -2) {
		http_error(resp, 404, "not_found", "%s", err);
		goto out;
	}
	if (r < 0) {
		http_error(resp, 400, "bad_request", "%s", err);
		goto out;
	}
	if ((r = store_rule_add(req->who.tenant_id, &rr, &resp->json)) < 0) {
		failed(resp, r, r == -ENOENT ? "VM" : "rule");
		goto out;
	}
	snprintf(err, sizeof(err), "%s", s(resp->json, "id"));
	if (sync_or_fail(req, resp) < 0) {
		store_rule_delete(req->who.tenant_id, err);
		goto out;
	}
	resp->status = 201;
	store_event(req->who.actor, req->who.tenant_id, "firewall.rule.create", err, "succeeded",
		    "");
out:
	json_decref(j);
}

void
api_rule_delete(struct http_req *req, struct http_resp *resp)
{
	int r = store_rule_delete(req->who.tenant_id, req->id);

	if (r < 0) {
		failed(resp, r, "rule");
		return;
	}
	if (sync_or_fail(req, resp) < 0)
		return;
	resp->status = 204;
	store_event(req->who.actor, req->who.tenant_id, "firewall.rule.delete", req->id,
		    "succeeded", "");
}

void
api_fw_get(struct http_req *req, struct http_resp *resp)
{
	char mode[16] = "";
	json_t *addrs = store_addr_list(req->who.tenant_id), *a;
	json_t *rules = store_rule_list(req->who.tenant_id);
	size_t i;

	store_fw_mode(req->who.tenant_id, mode, sizeof(mode));
	resp->json = json_pack("{s:s, s:n, s:I}", "mode", mode, "external_address", "rules",
			       (json_int_t)json_array_size(rules));
	json_decref(rules);
	json_array_foreach(addrs, i, a) if (json_integer_value(json_object_get(a, "is_default")))
		json_object_set(resp->json, "external_address", json_object_get(a, "address"));
	json_decref(addrs);
}

void
api_fw_put(struct http_req *req, struct http_resp *resp)
{
	static const char *const fields[] = {"mode", NULL};
	char err[256], old[16] = "namespace";
	const char *mode;
	json_t *j;

	if (api_body(req, resp, &j) < 0)
		return;
	mode = s(j, "mode");
	if (jsonv_only_fields(j, fields, err, sizeof(err)) < 0 || mode == NULL ||
	    (strcmp(mode, "namespace") != 0 && strcmp(mode, "vm") != 0)) {
		http_error(resp, 400, "bad_request", "mode must be namespace or vm");
		goto out;
	}
	store_fw_mode(req->who.tenant_id, old, sizeof(old));
	store_fw_set_mode(req->who.tenant_id, mode);
	if (sync_or_fail(req, resp) < 0) {
		store_fw_set_mode(req->who.tenant_id, old);
		goto out;
	}
	store_event(req->who.actor, req->who.tenant_id, "firewall.mode", mode, "succeeded", "");
	api_fw_get(req, resp);
out:
	json_decref(j);
}

/* ---- external addresses and port forwards ---------------------------- */

void
api_addr_list(struct http_req *req, struct http_resp *resp)
{
	resp->json = store_addr_list(req->who.tenant_id);
}

void
api_addr_get(struct http_req *req, struct http_resp *resp)
{
	int r = store_addr_get(req->who.tenant_id, req->id, &resp->json);

	if (r < 0)
		failed(resp, r, "address");
}

/* {vm: id|null}: map the address 1:1 to a VM (or to none). */
static int
set_vm(struct http_req *req, struct http_resp *resp, const char *id, const json_t *j)
{
	static const char *const fields[] = {"vm", NULL};
	const json_t *vm = json_object_get(j, "vm");
	char err[256];
	int r;

	if (jsonv_only_fields(j, fields, err, sizeof(err)) < 0 ||
	    (vm != NULL && !json_is_null(vm) && !json_is_string(vm))) {
		http_error(resp, 400, "bad_request", "vm must be a VM id or null");
		return -1;
	}
	if (vm == NULL)
		return 0;
	r = store_addr_set_vm(req->who.tenant_id, id, json_string_value(vm));
	if (r == -EEXIST) {
		http_error(resp, 409, "conflict", "that VM already has an external address");
		return -1;
	}
	if (r < 0) {
		failed(resp, r, r == -ENOENT ? "VM or address" : "address");
		return -1;
	}
	return 0;
}

void
api_addr_create(struct http_req *req, struct http_resp *resp)
{
	json_t *j, *a = NULL;
	char id[STORE_ID_LEN];
	int r;

	if (api_body(req, resp, &j) < 0)
		return;
	if ((r = store_addr_alloc(req->who.tenant_id, 0, &a)) < 0) {
		failed(resp, r, "address");
		goto out;
	}
	snprintf(id, sizeof(id), "%s", s(a, "id"));
	json_decref(a);
	if (set_vm(req, resp, id, j) < 0 || sync_or_fail(req, resp) < 0) {
		store_addr_delete(req->who.tenant_id, id);
		goto out;
	}
	store_addr_get(req->who.tenant_id, id, &resp->json);
	resp->status = 201;
	store_event(req->who.actor, req->who.tenant_id, "address.create", id, "succeeded", "");
out:
	json_decref(j);
}

void
api_addr_put(struct http_req *req, struct http_resp *resp)
{
	json_t *j, *a;
	int r;

	if ((r = store_addr_get(req->who.tenant_id, req->id, &a)) < 0) {
		failed(resp, r, "address");
		return;
	}
	json_decref(a);
	if (api_body(req, resp, &j) < 0)
		return;
	if (set_vm(req, resp, req->id, j) == 0 && sync_or_fail(req, resp) == 0)
		store_addr_get(req->who.tenant_id, req->id, &resp->json);
	json_decref(j);
}

void
api_addr_delete(struct http_req *req, struct http_resp *resp)
{
	int r = store_addr_delete(req->who.tenant_id, req->id);

	if (r < 0) {
		failed(resp, r, "address");
		return;
	}
	if (sync_or_fail(req, resp) < 0)
		return;
	resp->status = 204;
	store_event(req->who.actor, req->who.tenant_id, "address.delete", req->id, "succeeded",
		    "");
}

void
api_fwd_list(struct http_req *req, struct http_resp *resp)
{
	resp->json = store_fwd_list(req->who.tenant_id);
}

void
api_fwd_create(struct http_req *req, struct http_resp *resp)
{
	static const char *const fields[] = {"address", "protocol", "port", "vm", "to_port", NULL};
	const char *addr, *proto, *vm;
	char err[256];
	int p, to;
	json_t *j;
	int r;

	if (api_body(req, resp, &j) < 0)
		return;
	addr = s(j, "address"), proto = s(j, "protocol"), vm = s(j, "vm");
	if (jsonv_only_fields(j, fields, err, sizeof(err)) < 0 || addr == NULL || vm == NULL ||
	    proto == NULL || (strcmp(proto, "tcp") && strcmp(proto, "udp")) ||
	    port(j, "port", &p, err, sizeof(err)) < 0 || port(j, "to_port", &to, err, sizeof(err)) < 0 ||
	    p == 0) {
		http_error(resp, 400, "bad_request",
			   "a forward needs address (id or address), protocol (tcp or udp), port "
			   "(1 to 65535), vm (id) and optionally to_port");
		goto out;
	}
	if (to == 0)
		to = p;
	if (strlen(vm) >= STORE_ID_LEN || strlen(addr) >= 20) {
		http_error(resp, 404, "not_found", "no such VM or address");
		goto out;
	}
	r = store_fwd_add(req->who.tenant_id, addr, proto, p, vm, to, &resp->json);
	if (r < 0) {
		failed(resp, r, r == -ENOENT ? "VM or address" : "forward");
		goto out;
	}
	if (sync_or_fail(req, resp) < 0)
		goto out;
	resp->status = 201;
	store_event(req->who.actor, req->who.tenant_id, "forward.create", addr, "succeeded", "");
out:
	json_decref(j);
}

void
api_fwd_delete(struct http_req *req, struct http_resp *resp)
{
	int r = store_fwd_delete(req->who.tenant_id, req->id);

	if (r < 0) {
		failed(resp, r, "forward");
		return;
	}
	if (sync_or_fail(req, resp) < 0)
		return;
	resp->status = 204;
}
