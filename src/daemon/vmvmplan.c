/* vmvmplan.c - see vmvmplan.h */
#define _GNU_SOURCE
#include "vmvmplan.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "netstate.h"
#include "store.h"
#include "store_host.h"
#include "store_ids.h"
#include "store_vpn.h"
#include "wgkey.h"

static const char *
str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static void
add_unique(json_t *a, const char *s)
{
	const json_t *e;
	size_t i;

	if (s[0] == '\0')
		return;
	json_array_foreach(a, i, e) if (strcmp(json_string_value(e), s) == 0) return;
	json_array_append_new(a, json_string(s));
}

/* The hosts a channel's VMs run on (while one moves: both ends). */
static json_t *
channel_hosts(const json_t *ch)
{
	json_t *hosts = json_array(), *v;
	size_t i;

	json_array_foreach(json_object_get(ch, "vms"), i, v) {
		char h[STORE_ID_LEN] = "";

		if (store_vm_host(json_string_value(v), h, sizeof(h)) == 0)
			add_unique(hosts, h);
		h[0] = '\0';
		if (store_vm_migrating_to(json_string_value(v), h, sizeof(h)) == 0)
			add_unique(hosts, h);
	}
	return hosts;
}

/* A host's number among all hosts of both sites (1..254, by id), or -1. */
static int
host_number(const char *host_id)
{
	json_t *l = store_host_list_all(), *h;
	int n = 1, found = 0;
	size_t i;

	json_array_foreach(l, i, h) {
		int c = strcmp(str(h, "id"), host_id);

		n += c < 0;
		found |= c == 0;
	}
	json_decref(l);
	return found && n <= 254 ? n : -1;
}

/* 100.112.0.0/12 + slot * 256 + the host's number. */
static int
tunnel_ip(int slot, const char *host_id, char *out, size_t len)
{
	int n = host_number(host_id);

	if (n < 0)
		return -1;
	netstate_ip(((100u << 24) | (112u << 16)) + ((uint32_t)slot << 8) + (uint32_t)n, out, len);
	return 0;
}

json_t *
vmvmplan_agent(const char *tenant_id, const char *host_id)
{
	json_t *chans = store_vpn_channel_list(tenant_id), *pairs = json_array(), *c, *h, *peers;
	json_t *out = NULL;
	char priv[WGKEY_B64], pub[WGKEY_B64], ip[16], underlay[64] = "";
	size_t i, k;
	int slot;

	json_array_foreach(chans, i, c) {
		json_t *hosts;
		int mine = 0;

		if (strcmp(str(c, "kind"), "vm-vm") != 0)
			continue;
		hosts = channel_hosts(c);
		json_array_foreach(hosts, k, h) mine |= strcmp(json_string_value(h), host_id) == 0;
		if (mine)
			json_array_foreach(hosts, k, h) if (strcmp(json_string_value(h), host_id) != 0)
				add_unique(pairs, json_string_value(h));
		json_decref(hosts);
	}
	json_decref(chans);
	if (json_array_size(pairs) == 0 || (slot = store_vpn_vmvm_slot(tenant_id, 0)) < 0 ||
	    store_host_underlay(host_id, underlay, sizeof(underlay)) < 0 || underlay[0] == '\0' ||
	    tunnel_ip(slot, host_id, ip, sizeof(ip)) < 0)
		goto out;
	peers = json_array();
	json_array_foreach(pairs, i, h) {
		const char *id = json_string_value(h);
		char u[64] = "", a[16];

		if (store_host_underlay(id, u, sizeof(u)) < 0 || u[0] == '\0' ||
		    tunnel_ip(slot, id, a, sizeof(a)) < 0 || store_vpn_host_key(tenant_id, id, priv) < 0 ||
		    wgkey_public(priv, pub) < 0)
			continue; /* a host without underlay has no VXLAN to it either */
		json_array_append_new(peers, json_pack("{s:s, s:s, s:s}", "public_key", pub,
						       "underlay", u, "address", a));
	}
	if (json_array_size(peers) == 0 || store_vpn_host_key(tenant_id, host_id, priv) < 0) {
		json_decref(peers);
		goto out;
	}
	out = json_pack("{s:i, s:s, s:s+, s:o}", "listen_port", VPN_VMVM_PORT_BASE + slot,
			"private_key", priv, "address", ip, "/32", "peers", peers);
out:
	sodium_memzero(priv, sizeof(priv));
	json_decref(pairs);
	return out;
}
