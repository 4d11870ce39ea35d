/* vpnplan.c - see vpnplan.h */
#define _GNU_SOURCE
#include "vpnplan.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentc.h"
#include "netplan.h"
#include "netstate.h"
#include "store.h"
#include "store_net.h"
#include "store_vpn.h"

static const char *
str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* "10.0.0.10/24" -> "10.0.0.10/32" */
static json_t *
host32(const char *addr)
{
	size_t n = strcspn(addr, "/");

	return json_sprintf("%.*s/32", (int)n, addr);
}

json_t *
vpnplan_reach(const char *tenant_id, const json_t *channel)
{
	json_t *out = json_array(), *v, *nics, *n;
	size_t i, k;

	if (strcmp(str(channel, "kind"), "vm-client") != 0) {
		json_t *net;

		if (store_net_get(tenant_id, str(channel, "network_id"), &net) == 0) {
			json_array_append(out, json_object_get(net, "cidr"));
			json_decref(net);
		}
		return out;
	}
	json_array_foreach(json_object_get(channel, "vms"), i, v) {
		nics = store_vm_nics(json_string_value(v));
		json_array_foreach(nics, k, n) json_array_append_new(out, host32(str(n, "address")));
		json_decref(nics);
	}
	return out;
}

/* The gateway's tunnel address: .1 of the pool, with its prefix. */
static json_t *
gw_address(const char *pool)
{
	size_t n = strcspn(pool, "/");
	const char *dot = memrchr(pool, '.', n);

	return json_sprintf("%.*s.1%s", dot ? (int)(dot - pool) : 0, pool, pool + n);
}

static int
usable(const char *tenant_id, char *ext, size_t len)
{
	json_t *addrs, *a;
	char mode[16] = "";
	size_t i;

	ext[0] = '\0';
	if (store_fw_mode(tenant_id, mode, sizeof(mode)) < 0 || strcmp(mode, "namespace") != 0)
		return 0;
	addrs = store_addr_list(tenant_id);
	json_array_foreach(addrs, i, a) if (json_integer_value(json_object_get(a, "is_default")))
		snprintf(ext, len, "%s", str(a, "address"));
	json_decref(addrs);
	return ext[0] != '\0';
}

json_t *
vpnplan_agent(const char *tenant_id)
{
	json_t *chans, *gw = NULL, *peers, *p, *v = NULL;
	char ext[64], key[45], gwkey[45];
	size_t i;

	if (!usable(tenant_id, ext, sizeof(ext)))
		return NULL;
	chans = store_vpn_channel_list(tenant_id);
	if (json_array_size(chans) == 0 || store_vpn_gateway_get(tenant_id, &gw) < 0 ||
	    store_vpn_gateway_key(tenant_id, gwkey) < 0) {
		json_decref(chans);
		json_decref(gw);
		return NULL;
	}
	peers = json_array();
	{
		json_t *all = store_vpn_peer_list(tenant_id, NULL);

		json_array_foreach(all, i, p) {
			json_t *ch = NULL, *reach, *o;
			size_t k;
			json_t *c;

			json_array_foreach(chans, k, c) if (strcmp(str(c, "id"), str(p, "channel_id")) == 0)
				ch = c;
			if (ch == NULL)
				continue;
			reach = vpnplan_reach(tenant_id, ch);
			if (json_array_size(reach) == 0) {
				json_decref(reach); /* nothing left to reach: not a peer */
				continue;
			}
			o = json_pack("{s:s, s:[s+], s:o}", "public_key", str(p, "public_key"),
				      "allowed_ips", str(p, "address"), "/32", "reach", reach);
			if (store_vpn_psk_get(tenant_id, str(p, "id"), key) == 0)
				json_object_set_new(o, "preshared_key", json_string(key));
			if (json_is_integer(json_object_get(p, "expires_at")))
				json_object_set(o, "expires", json_object_get(p, "expires_at"));
			if (strcmp(str(ch, "kind"), "network-network") == 0) {
				json_object_set(o, "routes", json_object_get(ch, "remote_cidrs"));
				if (str(p, "endpoint")[0])
					json_object_set(o, "endpoint", json_object_get(p, "endpoint"));
			}
			json_array_append_new(peers, o);
		}
		json_decref(all);
	}
	v = json_pack("{s:I, s:s, s:o, s:o}", "listen_port",
		      json_integer_value(json_object_get(gw, "listen_port")), "private_key", gwkey,
		      "address", gw_address(str(gw, "pool")), "peers", peers);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(gwkey, sizeof(gwkey));
	json_decref(gw);
	json_decref(chans);
	return v;
}

char *
vpnplan_config(const char *tenant_id, const json_t *channel, const json_t *peer,
	       const char *priv, const char *psk)
{
	char has[45];
	int with_psk = psk != NULL || store_vpn_psk_get(tenant_id, str(peer, "id"), has) == 0;
	json_t *gw = NULL, *allowed, *a;
	char ext[64], *buf = NULL;
	size_t len = 0, i;
	FILE *f;

	sodium_memzero(has, sizeof(has)); /* whether it has one, not which */
	usable(tenant_id, ext, sizeof(ext));
	if (store_vpn_gateway_get(tenant_id, &gw) < 0 || (f = open_memstream(&buf, &len)) == NULL) {
		json_decref(gw);
		return NULL;
	}
	fprintf(f, "# cloudlet VPN channel %s (%s), peer %s\n[Interface]\n", str(channel, "name"),
		str(channel, "kind"), str(peer, "name"));
	if (priv != NULL)
		fprintf(f, "PrivateKey = %s\n", priv);
	else
		fputs(VPNPLAN_PLACEHOLDER "\n", f);
	fprintf(f, "Address = %s/32\nMTU = %d\n", str(peer, "address"), VPN_MTU);
	/* The office router listens where the gateway was told to send. */
	if (strchr(str(peer, "endpoint"), ':') != NULL)
		fprintf(f, "ListenPort = %s\n", strrchr(str(peer, "endpoint"), ':') + 1);
	if (str(channel, "dns")[0])
		fprintf(f, "DNS = %s\n", str(channel, "dns"));
	fprintf(f, "\n[Peer]\nPublicKey = %s\n", str(gw, "public_key"));
	if (psk != NULL)
		fprintf(f, "PresharedKey = %s\n", psk);
	else if (with_psk)
		fputs(VPNPLAN_PSK_PLACEHOLDER "\n", f);
	fprintf(f, "Endpoint = %s:%lld\nAllowedIPs = ", ext[0] ? ext : "(no external address)",
		(long long)json_integer_value(json_object_get(gw, "listen_port")));
	allowed = vpnplan_reach(tenant_id, channel);
	json_array_foreach(allowed, i, a) fprintf(f, "%s%s", i ? ", " : "", json_string_value(a));
	fputs("\nPersistentKeepalive = 25\n", f);
	json_decref(allowed);
	json_decref(gw);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

json_t *
vpnplan_rule(const char *tenant_id)
{
	json_t *gw = NULL, *chans = store_vpn_channel_list(tenant_id), *r = NULL;
	char ext[64];

	if (json_array_size(chans) > 0 && usable(tenant_id, ext, sizeof(ext)) &&
	    store_vpn_gateway_get(tenant_id, &gw) == 0) {
		json_int_t port = json_integer_value(json_object_get(gw, "listen_port"));

		r = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:n, s:n, s:i, s:s, s:s, s:b}",
			      "id", "vpn-gateway", "direction", "ingress", "action", "allow",
			      "protocol", "udp", "port_min", port, "port_max", port, "remote",
			      "0.0.0.0/0", "target_vm", "target_network", "priority", 0, "origin",
			      "vpn", "local", ext, "read_only", 1);
	}
	json_decref(gw);
	json_decref(chans);
	return r;
}

json_t *
vpnplan_status(const char *tenant_id)
{
	char home[64] = "", code[32], err[256];
	json_t *out = NULL, *v;

	if (netplan_home(tenant_id, home, sizeof(home)) < 0 ||
	    agentc_call(home, "net.show", json_pack("{s:s}", "tenant", tenant_id), &out, code, err,
			sizeof(err)) < 0)
		return NULL;
	v = json_incref(json_object_get(out, "vpn"));
	json_decref(out);
	return v;
}
