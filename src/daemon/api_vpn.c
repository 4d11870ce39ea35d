/* api_vpn.c - see api_vpn.h */
#define _GNU_SOURCE
#include "api_vpn.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "http.h"
#include "jsonv.h"
#include "netplan.h"
#include "netstate.h"
#include "request.h"
#include "store.h"
#include "store_net.h"
#include "store_vpn.h"
#include "util.h"
#include "vpnplan.h"
#include "wgkey.h"

static const char *
str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
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

/* The channel with its gateway's endpoint and key (public only). */
static void
add_gateway(const char *tenant_id, json_t *c)
{
	json_t *gw = NULL, *rule;

	json_object_del(c, "network_id");
	if (strcmp(str(c, "kind"), "vm-vm") == 0)
		return; /* its ends are the hosts, not the gateway */
	rule = vpnplan_rule(tenant_id);
	if (store_vpn_gateway_get(tenant_id, &gw) == 0) {
		json_object_set_new(c, "gateway",
				    json_pack("{s:O, s:O, s:O, s:s}", "public_key",
					      json_object_get(gw, "public_key"), "listen_port",
					      json_object_get(gw, "listen_port"), "pool",
					      json_object_get(gw, "pool"), "address",
					      rule ? str(rule, "local") : ""));
		json_decref(gw);
	}
	json_decref(rule);
	json_object_del(c, "network_id");
}

static int
overlaps(const struct net_cidr *a, const struct net_cidr *b)
{
	return netstate_in(a, b->addr) || netstate_in(b, a->addr);
}

/* The remote CIDRs of a site-to-site channel: outside the tenant's
 * networks, its tunnel pool, the external network and every other
 * channel's. 0, or a 400/409 was set. */
static int
check_cidrs(const char *tenant_id, const json_t *cidrs, struct http_resp *resp)
{
	json_t *nets = store_net_list(tenant_id), *chans = store_vpn_channel_list(tenant_id);
	json_t *gw = NULL, *e, *n, *c, *o;
	struct net_cidr x, y;
	size_t i, k, m;
	int rc = -1;

	store_vpn_gateway_get(tenant_id, &gw);
	if (!json_is_array(cidrs) || json_array_size(cidrs) < 1 ||
	    json_array_size(cidrs) > VPN_LIST_MAX) {
		http_error(resp, 400, "bad_request", "remote.cidrs: an array of 1 to %d CIDRs",
			   VPN_LIST_MAX);
		goto out;
	}
	json_array_foreach(cidrs, i, e) {
		const char *s = json_string_value(e);

		if (s == NULL || netstate_parse_cidr(s, 1, 1, &x) < 0 || x.prefix < 8) {
			http_error(resp, 400, "bad_request",
				   "remote.cidrs[%zu]: a network with host bits zero and a prefix of "
				   "/8 or longer, like 192.168.10.0/24",
				   i);
			goto out;
		}
		json_array_foreach(nets, k, n) {
			if (netstate_parse_cidr(str(n, "cidr"), 1, 0, &y) == 0 && overlaps(&x, &y)) {
				http_error(resp, 409, "conflict",
					   "remote.cidrs[%zu] overlaps the tenant's network '%s'", i,
					   str(n, "name"));
				goto out;
			}
		}
		if ((gw && netstate_parse_cidr(str(gw, "pool"), 1, 0, &y) == 0 && overlaps(&x, &y)) ||
		    (netstate_parse_cidr(store_net_pool(), 1, 0, &y) == 0 && overlaps(&x, &y))) {
			http_error(resp, 409, "conflict",
				   "remote.cidrs[%zu] overlaps the VPN tunnel pool or the external "
				   "network",
				   i);
			goto out;
		}
		json_array_foreach(chans, k, c) json_array_foreach(json_object_get(c, "remote_cidrs"), m, o) {
			if (netstate_parse_cidr(json_string_value(o), 1, 0, &y) == 0 &&
			    overlaps(&x, &y)) {
				http_error(resp, 409, "conflict",
					   "remote.cidrs[%zu] overlaps channel '%s''s", i,
					   str(c, "name"));
				goto out;
			}
		}
		for (k = 0; k < i; k++)
			if (netstate_parse_cidr(json_string_value(json_array_get(cidrs, k)), 1, 0,
						&y) == 0 &&
			    overlaps(&x, &y)) {
				http_error(resp, 400, "bad_request",
					   "remote.cidrs[%zu] overlaps remote.cidrs[%zu]", i, k);
				goto out;
			}
	}
	rc = 0;
out:
	json_decref(gw);
	json_decref(nets);
	json_decref(chans);
	return rc;
}

/* "a.b.c.d:port"; 0 or -1. */
static int
endpoint_ok(const char *s)
{
	char ip[16];
	const char *colon = strrchr(s, ':');
	struct net_cidr c;
	unsigned v;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(ip))
		return -1;
	memcpy(ip, s, (size_t)(colon - s));
	ip[colon - s] = '\0';
	return netstate_parse_cidr(ip, 0, 0, &c) == 0 && c.addr != 0 &&
			       util_parse_uint(colon + 1, 65535, &v) == 0 && v > 0
		       ? 0
		       : -1;
}

/* The VM ids of a vm-client (1 or more) or vm-vm (min 2, distinct)
 * channel: ids or names of the tenant's VMs. 0, or a 400/404 was set. */
static int
resolve_vms(const char *tenant_id, const json_t *vms, size_t min, json_t *ids,
	    struct http_resp *resp)
{
	json_t *all = store_vm_list(tenant_id), *v, *w;
	size_t i, k;
	int rc = -1;

	if (!json_is_array(vms) || json_array_size(vms) < min || json_array_size(vms) > VPN_LIST_MAX) {
		http_error(resp, 400, "bad_request", "vms: an array of %zu to %d VM ids or names",
			   min, VPN_LIST_MAX);
		goto out;
	}
	json_array_foreach(vms, i, v) {
		const char *ref = json_string_value(v), *found = NULL;

		if (ref == NULL) {
			http_error(resp, 400, "bad_request", "vms[%zu]: a VM id or name (a string)", i);
			goto out;
		}
		json_array_foreach(all, k, w) if (strcmp(str(w, "id"), ref) == 0 ||
						  strcmp(str(w, "name"), ref) == 0)
			found = str(w, "id");
		if (found == NULL) {
			http_error(resp, 404, "not_found", "vms[%zu]: no such VM", i);
			goto out;
		}
		json_array_foreach(ids, k, w) if (strcmp(json_string_value(w), found) == 0) {
			http_error(resp, 400, "bad_request", "vms[%zu]: the same VM as vms[%zu]", i,
				   k);
			goto out;
		}
		json_array_append_new(ids, json_string(found));
	}
	rc = 0;
out:
	json_decref(all);
	return rc;
}

/* ---- channels ------------------------------------------------------- */

void
api_vpn_list(struct http_req *req, struct http_resp *resp)
{
	json_t *l = store_vpn_channel_list(req->who.tenant_id), *c;
	size_t i;

	json_array_foreach(l, i, c) add_gateway(req->who.tenant_id, c);
	resp->json = l;
}

void
api_vpn_get(struct http_req *req, struct http_resp *resp)
{
	if (store_vpn_channel_get(req->who.tenant_id, req->id, &resp->json) < 0) {
		http_error(resp, 404, "not_found", "no such VPN channel");
		return;
	}
	add_gateway(req->who.tenant_id, resp->json);
}

/* The site-to-site channel's one peer: the remote router. */
static int
add_remote_peer(const char *tenant_id, const json_t *ch, const json_t *remote,
		struct http_resp *resp);

/*
 * A vm-vm channel (docs/networks.md, "VM to VM"): 2 to VPN_LIST_MAX
 * distinct VMs of the tenant; the traffic between their hosts goes
 * through the tenant's host-to-host tunnel (vmvmplan.h). No gateway, no
 * peers.
 */
/* The channel's record: 0, or -1 with the error answered. */
static int
channel_add(const struct vpn_channel_row *row, struct http_resp *resp)
{
	int r = store_vpn_channel_add(row, &resp->json);

	if (r == -EEXIST)
		http_error(resp, 409, "conflict", "a VPN channel with that name already exists");
	else if (r < 0)
		http_error(resp, 500, "internal", "the state store failed");
	return r < 0 ? -1 : 0;
}

static void
vmvm_create(struct http_req *req, struct http_resp *resp, const json_t *j, const char *name)
{
	const char *t = req->who.tenant_id;
	struct vpn_channel_row row;
	json_t *ids = json_array(), *tmp = NULL;
	char *vms_text = NULL;
	int r;

	if (json_object_get(j, "network") || json_object_get(j, "remote") ||
	    json_object_get(j, "dns")) {
		http_error(resp, 400, "bad_request",
			   "a vm-vm channel takes vms only (not network, remote or dns)");
		goto out;
	}
	if (resolve_vms(t, json_object_get(j, "vms"), 2, ids, resp) < 0)
		goto out;
	if ((r = store_vpn_vmvm_slot(t, 1)) < 0) {
		http_error(resp, r == -ENOSPC ? 409 : 500, r == -ENOSPC ? "conflict" : "internal",
			   "cannot make the tenant's host-to-host tunnel (%s)",
			   r == -ENOSPC ? "no free slot" : strerror(-r));
		goto out;
	}
	memset(&row, 0, sizeof(row));
	snprintf(row.tenant_id, sizeof(row.tenant_id), "%s", t);
	snprintf(row.name, sizeof(row.name), "%s", name);
	snprintf(row.kind, sizeof(row.kind), "vm-vm");
	vms_text = json_dumps(ids, JSON_COMPACT);
	row.vms = vms_text;
	row.remote_cidrs = "[]";
	row.dns = "";
	if (channel_add(&row, resp) < 0)
		goto out;
	if (sync_or_fail(req, resp) < 0) {
		if (store_vpn_channel_get(t, name, &tmp) == 0)
			store_vpn_channel_delete(t, str(tmp, "id"));
		goto out;
	}
	json_decref(resp->json);
	resp->json = NULL;
	store_vpn_channel_get(t, name, &resp->json);
	add_gateway(t, resp->json);
	resp->status = 201;
	store_event(req->who.actor, t, "vpn.create", name, "succeeded", "vm-vm");
out:
	free(vms_text);
	json_decref(tmp);
	json_decref(ids);
}

void
api_vpn_create(struct http_req *req, struct http_resp *resp)
{
	static const char *const fields[] = {"name", "kind", "network", "vms", "remote", "dns",
					     NULL};
	static const char *const rfields[] = {"public_key", "endpoint", "cidrs", NULL};
	const char *t = req->who.tenant_id, *name, *kind, *dns;
	struct vpn_channel_row row;
	json_t *j, *net = NULL, *ids = json_array(), *gw = NULL, *remote, *nets = NULL, *avoid;
	char err[256], mode[16] = "", *vms_text = NULL, *cidrs_text = NULL;
	struct net_cidr c;
	size_t i;
	int r;

	if (api_body(req, resp, &j) < 0) {
		json_decref(ids);
		return;
	}
	memset(&row, 0, sizeof(row));
	name = json_string_value(json_object_get(j, "name"));
	kind = json_string_value(json_object_get(j, "kind"));
	remote = json_object_get(j, "remote");
	dns = json_string_value(json_object_get(j, "dns"));
	if (jsonv_only_fields(j, fields, err, sizeof(err)) < 0) {
		http_error(resp, 400, "bad_request", "%s", err);
		goto out;
	}
	if (name == NULL || req_check_name("name", name, err, sizeof(err)) < 0) {
		http_error(resp, 400, "bad_request", "%s", name ? err : "name is required");
		goto out;
	}
	if (kind == NULL || (strcmp(kind, "network-client") != 0 && strcmp(kind, "vm-client") != 0 &&
			     strcmp(kind, "network-network") != 0 && strcmp(kind, "vm-vm") != 0)) {
		http_error(resp, 400, "bad_request",
			   "kind: network-client, vm-client, network-network or vm-vm");
		goto out;
	}
	if (strcmp(kind, "vm-vm") == 0) {
		vmvm_create(req, resp, j, name);
		goto out;
	}
	if (json_object_get(j, "dns") &&
	    (dns == NULL || netstate_parse_cidr(dns, 0, 0, &c) < 0)) {
		http_error(resp, 400, "bad_request", "dns: an IPv4 address");
		goto out;
	}
	if (strcmp(kind, "vm-client") == 0) {
		if (json_object_get(j, "network") || remote) {
			http_error(resp, 400, "bad_request",
				   "a vm-client channel takes vms, not network or remote");
			goto out;
		}
		if (resolve_vms(t, json_object_get(j, "vms"), 1, ids, resp) < 0)
			goto out;
	} else {
		const char *nn = json_string_value(json_object_get(j, "network"));

		if (json_object_get(j, "vms") ||
		    (json_object_get(j, "network") && nn == NULL)) {
			http_error(resp, 400, "bad_request",
				   "a %s channel takes network (a name or id), not vms", kind);
			goto out;
		}
		if (store_net_get(t, nn ? nn : "default", &net) < 0) {
			http_error(resp, 404, "not_found", "no network '%s'", nn ? nn : "default");
			goto out;
		}
	}
	if (strcmp(kind, "network-network") == 0) {
		const char *pk = json_string_value(json_object_get(remote, "public_key"));
		const char *ep = json_string_value(json_object_get(remote, "endpoint"));

		if (!json_is_object(remote) ||
		    jsonv_only_fields(remote, rfields, err, sizeof(err)) < 0) {
			http_error(resp, 400, "bad_request",
				   "remote: {\"public_key\", \"cidrs\": [...], \"endpoint\" (optional)}");
			goto out;
		}
		if (!wgkey_valid(pk)) {
			http_error(resp, 400, "bad_request",
				   "remote.public_key: a WireGuard public key (44 characters of base64)");
			goto out;
		}
		if (json_object_get(remote, "endpoint") && (ep == NULL || endpoint_ok(ep) < 0)) {
			http_error(resp, 400, "bad_request",
				   "remote.endpoint: an IPv4 address and port, like 203.0.113.7:51820");
			goto out;
		}
		if (check_cidrs(t, json_object_get(remote, "cidrs"), resp) < 0)
			goto out;
	} else if (remote) {
		http_error(resp, 400, "bad_request", "only a network-network channel takes remote");
		goto out;
	}
	if (store_fw_mode(t, mode, sizeof(mode)) < 0 || strcmp(mode, "namespace") != 0) {
		http_error(resp, 409, "conflict",
			   "the VPN gateway runs in the tenant's firewall namespace: firewall mode "
			   "must be namespace");
		goto out;
	}
	/* The gateway: its tunnel pool avoids the tenant's networks. */
	nets = store_net_list(t);
	avoid = json_array();
	{
		json_t *n;

		json_array_foreach(nets, i, n) json_array_append(avoid, json_object_get(n, "cidr"));
	}
	json_array_append_new(avoid, json_string(store_net_pool()));
	r = store_vpn_gateway_ensure(t, avoid, &gw);
	json_decref(avoid);
	if (r < 0) {
		http_error(resp, r == -ENOSPC ? 409 : 500, r == -ENOSPC ? "conflict" : "internal",
			   "cannot make the VPN gateway (%s)",
			   r == -ENOSPC ? "no free tunnel pool" : strerror(-r));
		goto out;
	}
	snprintf(row.tenant_id, sizeof(row.tenant_id), "%s", t);
	snprintf(row.name, sizeof(row.name), "%s", name);
	snprintf(row.kind, sizeof(row.kind), "%s", kind);
	row.network_id = net ? str(net, "id") : NULL;
	vms_text = json_dumps(ids, JSON_COMPACT);
	cidrs_text = json_dumps(remote ? json_object_get(remote, "cidrs") : json_array(),
				JSON_COMPACT);
	row.vms = vms_text;
	row.remote_cidrs = cidrs_text;
	row.dns = dns ? dns : "";
	if (channel_add(&row, resp) < 0)
		goto out;
	if (strcmp(kind, "network-network") == 0 &&
	    add_remote_peer(t, resp->json, remote, resp) < 0) {
		store_vpn_channel_delete(t, str(resp->json, "id"));
		goto out;
	}
	if (sync_or_fail(req, resp) < 0) {
		json_t *tmp = NULL;

		if (store_vpn_channel_get(t, name, &tmp) == 0)
			store_vpn_channel_delete(t, str(tmp, "id"));
		json_decref(tmp);
		goto out;
	}
	json_decref(resp->json);
	resp->json = NULL;
	store_vpn_channel_get(t, name, &resp->json);
	add_gateway(t, resp->json);
	resp->status = 201;
	store_event(req->who.actor, t, "vpn.create", name, "succeeded", kind);
out:
	free(vms_text);
	free(cidrs_text);
	json_decref(gw);
	json_decref(nets);
	json_decref(net);
	json_decref(ids);
	json_decref(j);
}

void
api_vpn_delete(struct http_req *req, struct http_resp *resp)
{
	json_t *c, *peers, *p;
	size_t i;

	if (store_vpn_channel_get(req->who.tenant_id, req->id, &c) < 0) {
		http_error(resp, 404, "not_found", "no such VPN channel");
		return;
	}
	peers = store_vpn_peer_list(req->who.tenant_id, str(c, "id"));
	json_array_foreach(peers, i, p) store_vpn_psk_forget(req->who.tenant_id, str(p, "id"));
	json_decref(peers);
	if (store_vpn_channel_delete(req->who.tenant_id, str(c, "id")) < 0) {
		json_decref(c);
		http_error(resp, 500, "internal", "the state store failed");
		return;
	}
	if (sync_or_fail(req, resp) == 0) {
		resp->status = 204;
		store_event(req->who.actor, req->who.tenant_id, "vpn.delete", str(c, "name"),
			    "succeeded", "");
	}
	json_decref(c);
}

/* ---- peers ---------------------------------------------------------- */

/* The first free address of the pool (.2 to .254). */
static int
free_address(const char *tenant_id, char *out, size_t len)
{
	json_t *gw = NULL, *peers, *p;
	struct net_cidr pool;
	char ip[16];
	size_t i;
	int rc = -ENOSPC;

	if (store_vpn_gateway_get(tenant_id, &gw) < 0 ||
	    netstate_parse_cidr(str(gw, "pool"), 1, 1, &pool) < 0) {
		json_decref(gw);
		return -ENOENT;
	}
	peers = store_vpn_peer_list(tenant_id, NULL);
	for (uint32_t h = 2; h < 255 && rc < 0; h++) {
		int used = 0;

		netstate_ip(pool.addr + h, ip, sizeof(ip));
		json_array_foreach(peers, i, p) if (strcmp(str(p, "address"), ip) == 0) used = 1;
		if (!used) {
			snprintf(out, len, "%s", ip);
			rc = 0;
		}
	}
	json_decref(peers);
	json_decref(gw);
	return rc;
}

/* Store a peer of channel ch; 0, or an error was set. */
static int
store_peer(const char *tenant_id, const json_t *ch, const char *name, const char *pub,
	   const char *endpoint, int64_t expires, json_t **out, struct http_resp *resp)
{
	struct vpn_peer_row p;
	int r;

	if (store_vpn_peer_count(tenant_id) >= VPN_PEERS_MAX) {
		http_error(resp, 403, "quota_exceeded", "the tenant has %d VPN peers, the most it may",
			   VPN_PEERS_MAX);
		return -1;
	}
	memset(&p, 0, sizeof(p));
	snprintf(p.tenant_id, sizeof(p.tenant_id), "%s", tenant_id);
	snprintf(p.channel_id, sizeof(p.channel_id), "%s", str(ch, "id"));
	snprintf(p.name, sizeof(p.name), "%s", name);
	snprintf(p.public_key, sizeof(p.public_key), "%s", pub);
	p.endpoint = endpoint;
	p.expires_at = expires;
	if ((r = free_address(tenant_id, p.address, sizeof(p.address))) < 0) {
		http_error(resp, 409, "conflict", "the tenant's VPN address pool is full");
		return -1;
	}
	r = store_vpn_peer_add(&p, out);
	if (r == -EEXIST) {
		http_error(resp, 409, "conflict",
			   "that public key is already a peer of the tenant, or the channel has a "
			   "peer with that name");
		return -1;
	}
	if (r < 0) {
		http_error(resp, 500, "internal", "the state store failed");
		return -1;
	}
	return 0;
}

static int
add_remote_peer(const char *tenant_id, const json_t *ch, const json_t *remote,
		struct http_resp *resp)
{
	json_t *p = NULL;
	const char *ep = json_string_value(json_object_get(remote, "endpoint"));
	int r = store_peer(tenant_id, ch, "remote",
			   json_string_value(json_object_get(remote, "public_key")), ep ? ep : "",
			   0, &p, resp);

	json_decref(p);
	return r;
}

/* The gateway's counters for each peer, from the agent's view. */
static void
add_status(const char *tenant_id, json_t *peers, const json_t *status)
{
	json_t *p, *s;
	size_t i, k;

	json_array_foreach(peers, i, p) {
		char psk[45];

		json_object_set_new(p, "preshared_key",
				    json_boolean(store_vpn_psk_get(tenant_id, str(p, "id"), psk) == 0));
		sodium_memzero(psk, sizeof(psk));
		json_object_set_new(p, "last_handshake", json_null());
		json_object_set_new(p, "rx_bytes", json_integer(0));
		json_object_set_new(p, "tx_bytes", json_integer(0));
		json_array_foreach(json_object_get(status, "peers"), k, s) {
			if (strcmp(str(s, "public_key"), str(p, "public_key")) != 0)
				continue;
			if (json_integer_value(json_object_get(s, "last_handshake")) > 0)
				json_object_set(p, "last_handshake", json_object_get(s, "last_handshake"));
			json_object_set(p, "rx_bytes", json_object_get(s, "rx_bytes"));
			json_object_set(p, "tx_bytes", json_object_get(s, "tx_bytes"));
			json_object_set(p, "endpoint_seen", json_object_get(s, "endpoint"));
		}
		if (json_is_integer(json_object_get(p, "expires_at")))
			json_object_set_new(p, "expired",
					    json_boolean(json_integer_value(json_object_get(
								 p, "expires_at")) <= time(NULL)));
	}
}

static int
channel_of(struct http_req *req, struct http_resp *resp, json_t **ch)
{
	if (store_vpn_channel_get(req->who.tenant_id, req->id, ch) < 0) {
		http_error(resp, 404, "not_found", "no such VPN channel");
		return -1;
	}
	return 0;
}

void
api_vpn_peer_list(struct http_req *req, struct http_resp *resp)
{
	json_t *ch, *st;

	if (channel_of(req, resp, &ch) < 0)
		return;
	resp->json = store_vpn_peer_list(req->who.tenant_id, str(ch, "id"));
	st = vpnplan_status(req->who.tenant_id);
	add_status(req->who.tenant_id, resp->json, st);
	json_decref(st);
	json_decref(ch);
}

void
api_vpn_peer_get(struct http_req *req, struct http_resp *resp)
{
	json_t *ch, *p = NULL, *st, *a;

	if (channel_of(req, resp, &ch) < 0)
		return;
	if (store_vpn_peer_get(req->who.tenant_id, str(ch, "id"), req->id2, &p) < 0) {
		http_error(resp, 404, "not_found", "no such peer");
		json_decref(ch);
		return;
	}
	a = json_pack("[o]", p);
	st = vpnplan_status(req->who.tenant_id);
	add_status(req->who.tenant_id, a, st);
	resp->json = json_incref(json_array_get(a, 0));
	json_decref(a);
	json_decref(st);
	json_decref(ch);
}

void
api_vpn_peer_add(struct http_req *req, struct http_resp *resp)
{
	static const char *const fields[] = {"name", "public_key", "expires", "preshared_key",
					     NULL};
	const char *t = req->who.tenant_id, *name, *pub;
	char err[256], priv[WGKEY_B64] = "", made[WGKEY_B64], psk[WGKEY_B64] = "";
	const json_t *ex, *pj;
	int psk_made = 0;
	int64_t expires = 0;
	json_t *j, *ch = NULL, *p = NULL;
	char *conf;

	if (api_body(req, resp, &j) < 0)
		return;
	if (channel_of(req, resp, &ch) < 0)
		goto out;
	name = json_string_value(json_object_get(j, "name"));
	pub = json_string_value(json_object_get(j, "public_key"));
	ex = json_object_get(j, "expires");
	pj = json_object_get(j, "preshared_key");
	if (jsonv_only_fields(j, fields, err, sizeof(err)) < 0) {
		http_error(resp, 400, "bad_request", "%s", err);
		goto out;
	}
	if (name == NULL || req_check_name("name", name, err, sizeof(err)) < 0) {
		http_error(resp, 400, "bad_request", "%s", name ? err : "name is required");
		goto out;
	}
	/* Never quote a key back: the message names the field only. */
	if (json_object_get(j, "public_key") && !wgkey_valid(pub)) {
		http_error(resp, 400, "bad_request",
			   "public_key: a WireGuard public key (44 characters of base64); leave it "
			   "out to have a pair made");
		goto out;
	}
	if (ex != NULL && !json_is_null(ex)) {
		if (!json_is_integer(ex) || json_integer_value(ex) <= time(NULL)) {
			http_error(resp, 400, "bad_request",
				   "expires: a time in the future, in unix seconds");
			goto out;
		}
		expires = json_integer_value(ex);
	}
	/* A preshared key: the customer's (made where the CLI runs) or, with
	 * true, one made here and given back in this answer only. */
	if (pj != NULL && !json_is_false(pj) && !json_is_null(pj)) {
		if (json_is_true(pj)) {
			if (wgkey_psk(psk) < 0) {
				http_error(resp, 500, "internal", "cannot make a preshared key");
				goto out;
			}
			psk_made = 1;
		} else if (!wgkey_valid(json_string_value(pj))) {
			http_error(resp, 400, "bad_request",
				   "preshared_key: true (made by the platform) or a key (44 "
				   "characters of base64, as wg genpsk prints it)");
			goto out;
		} else
			snprintf(psk, sizeof(psk), "%s", json_string_value(pj));
	}
	if (strcmp(str(ch, "kind"), "network-network") == 0) {
		http_error(resp, 409, "conflict",
			   "a network-network channel has its one peer, the remote router");
		goto out;
	}
	if (strcmp(str(ch, "kind"), "vm-vm") == 0) {
		http_error(resp, 409, "conflict",
			   "a vm-vm channel has no peers: its ends are the hosts of its VMs");
		goto out;
	}
	if (pub == NULL) {
		if (wgkey_generate(priv, made) < 0) {
			http_error(resp, 500, "internal", "cannot make a key pair");
			goto out;
		}
		pub = made;
	}
	if (store_peer(t, ch, name, pub, "", expires, &p, resp) < 0)
		goto out;
	if (psk[0] != '\0' && store_vpn_psk_put(t, str(p, "id"), psk) < 0) {
		store_vpn_peer_delete(t, str(ch, "id"), str(p, "id"));
		http_error(resp, 500, "internal", "cannot keep the preshared key");
		goto out;
	}
	if (sync_or_fail(req, resp) < 0) {
		store_vpn_psk_forget(t, str(p, "id"));
		store_vpn_peer_delete(t, str(ch, "id"), str(p, "id"));
		goto out;
	}
	resp->json = json_incref(p);
	json_object_set_new(resp->json, "preshared_key", json_boolean(psk[0] != '\0'));
	/* What was made here is in this response only: the pair's private
	 * key, a preshared key; both in the ready config. */
	if (priv[0] != '\0' || psk_made) {
		conf = vpnplan_config(t, ch, p, priv[0] ? priv : NULL, psk_made ? psk : NULL);
		if (conf != NULL) {
			json_object_set_new(resp->json, "config", json_string(conf));
			sodium_memzero(conf, strlen(conf));
			free(conf);
		}
	}
	resp->status = 201;
	store_event(req->who.actor, t, "vpn.peer.add", name, "succeeded", str(ch, "name"));
out:
	sodium_memzero(priv, sizeof(priv));
	sodium_memzero(psk, sizeof(psk));
	json_decref(p);
	json_decref(ch);
	json_decref(j);
}

void
api_vpn_peer_delete(struct http_req *req, struct http_resp *resp)
{
	json_t *ch = NULL, *p = NULL;

	if (channel_of(req, resp, &ch) < 0)
		return;
	if (store_vpn_peer_get(req->who.tenant_id, str(ch, "id"), req->id2, &p) < 0 ||
	    store_vpn_peer_delete(req->who.tenant_id, str(ch, "id"), str(p, "id")) < 0) {
		http_error(resp, 404, "not_found", "no such peer");
		goto out;
	}
	store_vpn_psk_forget(req->who.tenant_id, str(p, "id"));
	if (sync_or_fail(req, resp) == 0) {
		resp->status = 204;
		store_event(req->who.actor, req->who.tenant_id, "vpn.peer.revoke", str(p, "name"),
			    "succeeded", str(ch, "name"));
	}
out:
	json_decref(p);
	json_decref(ch);
}

void
api_vpn_peer_config(struct http_req *req, struct http_resp *resp)
{
	json_t *ch = NULL, *p = NULL;
	char *conf;

	if (channel_of(req, resp, &ch) < 0)
		return;
	if (store_vpn_peer_get(req->who.tenant_id, str(ch, "id"), req->id2, &p) < 0) {
		http_error(resp, 404, "not_found", "no such peer");
		goto out;
	}
	if ((conf = vpnplan_config(req->who.tenant_id, ch, p, NULL, NULL)) == NULL) {
		http_error(resp, 500, "internal", "cannot build the configuration");
		goto out;
	}
	resp->json = json_pack("{s:s, s:s}", "config", conf, "private_key",
			       "not kept by the platform: fill in the PrivateKey line");
	free(conf);
out:
	json_decref(p);
	json_decref(ch);
}
