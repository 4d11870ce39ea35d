/* links.c - see links.h */
#define _GNU_SOURCE
#include "links.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netns.h"
#include "netstate.h"
#include "util.h"

/* Run prefix (NULL-terminated, may be NULL) and then the arguments in ap up
 * to their NULL, inside ns (NULL: the agent's namespace). */
static int
run_va(const char *ns, const char *const *prefix, char *err, size_t errlen, va_list ap)
{
	const char *argv[24];
	int n = 0;

	for (; prefix != NULL && *prefix != NULL && n < 23; prefix++)
		argv[n++] = *prefix;
	while (n < 23 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	argv[n] = NULL;
	return netns_run(ns, argv, NULL, err, errlen);
}

static int
run(const char *ns, char *err, size_t errlen, ...)
{
	va_list ap;
	int r;

	va_start(ap, errlen);
	r = run_va(ns, NULL, err, errlen, ap);
	va_end(ap);
	return r;
}

/* ---- the external network ------------------------------------------- */

/*
 * Bridged frames in ns skip the IP-level netfilter hooks. Where the kernel
 * has br_netfilter (some hosts load it for containers; its switches are
 * per namespace, on by default) every frame crossing one of our bridges
 * would also pass conntrack and the inet hooks: a second firewall pass we
 * never use (our bridge rules are the bridge family's, the firewall is
 * routed in its own namespace) that cost bench/vpn's gateway path about a
 * tenth of its CPU. Without br_netfilter there is nothing to turn off.
 */
static void
bridge_nf_off(const char *ns)
{
	static const char *const k[] = {"iptables", "ip6tables", "arptables"};
	char path[64], err[128];

	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "net/bridge/bridge-nf-call-%s", k[i]);
		netns_sysctl(ns, path, "0", err, sizeof(err)); /* absent: nothing to do */
	}
}

int
links_ensure_ext(const char *ext_netns, const char *ext_bridge, char *err, size_t errlen)
{
	int r;

	if ((r = netns_ensure(ext_netns, err, errlen)) < 0)
		return r;
	bridge_nf_off(ext_netns);
	if ((r = netns_has_link(ext_netns, ext_bridge)) < 0)
		return r;
	if (r == 0 && (r = run(NULL, err, errlen, "ip", "-n", ext_netns, "link", "add",
			       ext_bridge, "type", "bridge", NULL)) < 0)
		return r;
	return run(NULL, err, errlen, "ip", "-n", ext_netns, "link", "set", ext_bridge,
		   "up", NULL);
}

/* ---- links ------------------------------------------------------------ */

static int
has(const json_t *links, const char *name)
{
	size_t i;
	const json_t *l;

	json_array_foreach(links, i, l) {
		const char *n = json_string_value(json_object_get(l, "ifname"));

		if (n && strcmp(n, name) == 0)
			return 1;
	}
	return 0;
}

static int
wanted_net(const struct net_tenant *st, const char *hash)
{
	for (unsigned i = 0; i < st->n_networks; i++)
		if (strcmp(st->networks[i].hash, hash) == 0)
			return 1;
	return 0;
}

/* Delete interfaces named <prefix><hash> in ns whose network is gone. */
static int
prune(const char *ns, const json_t *links, const char *prefix, const struct net_tenant *st,
      int keep_none, char *err, size_t errlen)
{
	size_t i, pl = strlen(prefix);
	const json_t *l;
	int r;

	json_array_foreach(links, i, l) {
		const char *n = json_string_value(json_object_get(l, "ifname"));

		if (n == NULL || strncmp(n, prefix, pl) != 0)
			continue;
		if (!keep_none && wanted_net(st, n + pl))
			continue;
		/* Deleting one end of a veth pair removes the other: already
		 * gone is fine. */
		if ((r = run(NULL, err, errlen, "ip", "-n", ns, "link", "del", n, NULL)) < 0 &&
		    netns_has_link(ns, n) != 0)
			return r;
	}
	return 0;
}

static void
cidr_str(uint32_t a, unsigned prefix, char *out, size_t len)
{
	char ip[16];

	netstate_ip(a, ip, sizeof(ip));
	snprintf(out, len, "%s/%u", ip, prefix);
}

/* Make the addresses on dev in ns exactly want[] (CIDR strings). */
static int
sync_addrs(const char *ns, const char *dev, char want[][20], size_t n_want, char *err,
	   size_t errlen)
{
	json_t *ifs = NULL;
	size_t i, k;
	int r;

	if ((r = netns_ip_json(ns, "addr", dev, &ifs, err, errlen)) < 0)
		return r;
	/* Remove what is not wanted. */
	for (i = 0; i < json_array_size(ifs); i++) {
		json_t *ai = json_object_get(json_array_get(ifs, i), "addr_info");
		const json_t *a;
		size_t j;

		json_array_foreach(ai, j, a) {
			const char *local = json_string_value(json_object_get(a, "local"));
			const char *fam = json_string_value(json_object_get(a, "family"));
			char have[24];
			int keep = 0;

			if (local == NULL || fam == NULL || strcmp(fam, "inet") != 0)
				continue;
			snprintf(have, sizeof(have), "%s/%d", local,
				 (int)json_integer_value(json_object_get(a, "prefixlen")));
			for (k = 0; k < n_want; k++)
				keep |= strcmp(have, want[k]) == 0;
			if (!keep &&
			    (r = run(NULL, err, errlen, "ip", "-n", ns, "addr", "del", have, "dev",
				     dev, NULL)) < 0)
				goto out;
		}
	}
	for (k = 0; k < n_want; k++) {
		char ip[20], *slash;
		int had = 0;

		for (i = 0; i < json_array_size(ifs); i++) {
			json_t *ai = json_object_get(json_array_get(ifs, i), "addr_info");
			const json_t *a;
			size_t j;

			json_array_foreach(ai, j, a) {
				char have[24];

				snprintf(have, sizeof(have), "%s/%d",
					 json_string_value(json_object_get(a, "local")) ?: "",
					 (int)json_integer_value(json_object_get(a, "prefixlen")));
				had |= strcmp(have, want[k]) == 0;
			}
		}
		if ((r = run(NULL, err, errlen, "ip", "-n", ns, "addr", "replace", want[k], "dev",
			     dev, NULL)) < 0)
			goto out;
		if (had)
			continue;
		/* A new address here may have been another port's a moment
		 * ago (a switch from the firewall VM): tell the neighbours
		 * now rather than when their ARP caches expire. */
		snprintf(ip, sizeof(ip), "%s", want[k]);
		if ((slash = strchr(ip, '/')) != NULL)
			*slash = '\0';
		run(ns, err, errlen, "busybox", "arping", "-U", "-c", "1", "-I", dev, ip, NULL);
	}
	r = 0;
out:
	json_decref(ifs);
	return r;
}

/* ---- VXLAN segments (docs/hosts.md) ------------------------------------ */

/* Run ip in the underlay namespace ("" = the agent's own); the arguments
 * after errlen end with NULL. */
static int
ul_ip(const struct links_where *w, char *err, size_t errlen, ...)
{
	const char *in_ns[] = {"ip", "-n", w->underlay_netns, NULL}, *here[] = {"ip", NULL};
	va_list ap;
	int r;

	va_start(ap, errlen);
	r = run_va(NULL, w->underlay_netns[0] != '\0' ? in_ns : here, err, errlen, ap);
	va_end(ap);
	return r;
}

/* The VNI of an existing VXLAN device (0 if it is none or unreadable). */
static uint32_t
vxlan_vni(const char *ns, const char *dev)
{
	const char *argv[] = {"ip", "-d", "-j", "-n", ns, "link", "show", "dev", dev, NULL};
	char *out = NULL, err[128];
	json_t *j;
	uint32_t vni = 0;

	if (netns_run(NULL, argv, &out, err, sizeof(err)) == 0 && (j = json_loads(out, 0, NULL))) {
		json_t *data = json_object_get(
			json_object_get(json_array_get(j, 0), "linkinfo"), "info_data");

		vni = (uint32_t)json_integer_value(json_object_get(data, "id"));
		json_decref(j);
	}
	free(out);
	return vni;
}

/* Make the peers of dev (all-zeros FDB entries: flooded and unknown
 * traffic goes to every other host of the segment) exactly n->peers, each
 * at its tunnel address when a vm-vm channel encrypts the way to it
 * (netstate_vxlan_dst). */
static int
vxlan_peers(const struct net_tenant *st, const struct net_network *n, const char *ns, const char *dev, char *err,
	    size_t errlen)
{
	const char *show[] = {"bridge", "-j", "-n", ns, "fdb", "show", "dev", dev, NULL};
	char *out = NULL, ip[16];
	json_t *j = NULL, *e;
	size_t i;
	int r;

	if ((r = netns_run(NULL, show, &out, err, errlen)) < 0)
		return r;
	j = json_loads(out, 0, NULL);
	free(out);
	json_array_foreach(j, i, e) {
		const char *mac = json_string_value(json_object_get(e, "mac"));
		const char *dst = json_string_value(json_object_get(e, "dst"));
		struct net_cidr c;
		int want = 0;

		if (mac == NULL || dst == NULL || strcmp(mac, "00:00:00:00:00:00") != 0 ||
		    netstate_parse_cidr(dst, 0, 0, &c) < 0)
			continue;
		for (unsigned k = 0; k < n->n_peers; k++)
			want |= netstate_vxlan_dst(st, n->peers[k]) == c.addr;
		if (!want) {
			const char *del[] = {"bridge", "-n", ns, "fdb", "del", "00:00:00:00:00:00",
					     "dev", dev, "dst", dst, NULL};

			if ((r = netns_run(NULL, del, NULL, err, errlen)) < 0)
				goto out;
		}
	}
	for (unsigned k = 0; k < n->n_peers; k++) {
		const char *add[] = {"bridge", "-n", ns, "fdb", "append", "00:00:00:00:00:00",
				     "dev", dev, "dst", ip, "self", "permanent", NULL};
		int have = 0;

		netstate_ip(netstate_vxlan_dst(st, n->peers[k]), ip, sizeof(ip));
		json_array_foreach(j, i, e)
			have |= strcmp(json_string_value(json_object_get(e, "mac")) ?: "",
				       "00:00:00:00:00:00") == 0 &&
				strcmp(json_string_value(json_object_get(e, "dst")) ?: "", ip) == 0;
		if (!have && (r = netns_run(NULL, add, NULL, err, errlen)) < 0)
			goto out;
	}
	r = 0;
out:
	json_decref(j);
	return r;
}

/*
 * The network's VXLAN port vx-<hash> on its bridge, or none when it has no
 * VNI. Made in the underlay namespace (its UDP socket stays there) under a
 * name of its own, moved into the tenant namespace and renamed there, so
 * two tenants' devices never meet under one name. Its MTU is the guests'
 * 1500; the underlay carries the 50 more (links_check_underlay).
 */
static int
vxlan_sync(const struct net_tenant *st, const struct net_network *n, const struct links_where *w, const char *br,
	   const json_t *nl, char *err, size_t errlen)
{
	char vx[16], tmp[16], vni[16], rnd[9];
	int r;

	snprintf(vx, sizeof(vx), "vx-%s", n->hash);
	if (has(nl, vx) && (n->vni == 0 || vxlan_vni(w->ns_net, vx) != n->vni) &&
	    (r = run(NULL, err, errlen, "ip", "-n", w->ns_net, "link", "del", vx, NULL)) < 0)
		return r;
	if (n->vni == 0)
		return 0;
	if (w->underlay_address[0] == '\0') {
		snprintf(err, errlen, "network %s spans hosts (vni %u) but this agent has no "
			 "--underlay-address", n->id, n->vni);
		return -EINVAL;
	}
	if (netns_has_link(w->ns_net, vx) != 1) {
		if ((r = util_random_hex(rnd, 4)) < 0) {
			snprintf(err, errlen, "no randomness");
			return r;
		}
		snprintf(tmp, sizeof(tmp), "%sv%s", w->name_prefix, rnd);
		snprintf(vni, sizeof(vni), "%u", n->vni);
		if ((r = ul_ip(w, err, errlen, "link", "add", tmp, "type", "vxlan", "id", vni, "local",
			       w->underlay_address, "dstport", "4789", "nolearning", NULL)) < 0)
			return r;
		if ((r = ul_ip(w, err, errlen, "link", "set", tmp, "netns", w->ns_net, NULL)) < 0) {
			ul_ip(w, err, errlen, "link", "del", tmp, NULL);
			return r;
		}
		if ((r = run(NULL, err, errlen, "ip", "-n", w->ns_net, "link", "set", tmp, "name", vx,
			     NULL)) < 0) {
			run(NULL, err, errlen, "ip", "-n", w->ns_net, "link", "del", tmp, NULL);
			return r;
		}
	}
	if ((r = run(NULL, err, errlen, "ip", "-n", w->ns_net, "link", "set", vx, "mtu", "1500",
		     "master", br, "up", NULL)) < 0)
		return r;
	return vxlan_peers(st, n, w->ns_net, vx, err, errlen);
}

int
links_check_underlay(const char *ns, const char *address, char *err, size_t errlen)
{
	json_t *ifs = NULL, *i, *a;
	size_t k, m;
	int r;

	if ((r = netns_ip_json(ns[0] ? ns : NULL, "addr", NULL, &ifs, err, errlen)) < 0)
		return r;
	r = -ENOENT;
	snprintf(err, errlen, "no device has the underlay address %s%s%s", address,
		 ns[0] ? " in namespace " : "", ns);
	json_array_foreach(ifs, k, i) {
		json_array_foreach(json_object_get(i, "addr_info"), m, a) {
			const char *local = json_string_value(json_object_get(a, "local"));
			int mtu = (int)json_integer_value(json_object_get(i, "mtu"));

			if (local == NULL || strcmp(local, address) != 0)
				continue;
			if (mtu >= LINKS_UNDERLAY_MTU) {
				r = 0;
			} else {
				snprintf(err, errlen,
					 "the underlay device %s has MTU %d: VXLAN segments need %d "
					 "(guests keep 1500; nothing is fragmented)",
					 json_string_value(json_object_get(i, "ifname")) ?: "?", mtu,
					 LINKS_UNDERLAY_MTU);
				r = -EINVAL;
			}
		}
	}
	json_decref(ifs);
	return r;
}

int
links_underlay_mtu(const char *ns, const char *address)
{
	json_t *ifs = NULL, *i, *a;
	char err[128];
	size_t k, m;
	int mtu = -ENOENT;

	if (netns_ip_json(ns[0] ? ns : NULL, "addr", NULL, &ifs, err, sizeof(err)) < 0)
		return -EIO;
	json_array_foreach(ifs, k, i) json_array_foreach(json_object_get(i, "addr_info"), m, a) {
		const char *local = json_string_value(json_object_get(a, "local"));

		if (local != NULL && strcmp(local, address) == 0)
			mtu = (int)json_integer_value(json_object_get(i, "mtu"));
	}
	json_decref(ifs);
	return mtu;
}

int
links_apply(const struct net_tenant *st, const struct links_where *w, char *err, size_t errlen)
{
	json_t *nl = NULL, *fl = NULL;
	char xf[16];
	int r, home = st->role == NET_ROLE_HOME, nsmode = home && st->mode == NET_FW_NAMESPACE;

	if ((r = netns_ensure(w->ns_net, err, errlen)) < 0)
		return r;
	bridge_nf_off(w->ns_net);
	if (nsmode) {
		if ((r = netns_ensure(w->ns_fw, err, errlen)) < 0 ||
		    (r = netns_sysctl(w->ns_fw, "net/ipv4/ip_forward", "1", err, errlen)) < 0)
			return r;
	} else if ((r = netns_delete(w->ns_fw, err, errlen)) < 0)
		return r;
	if ((r = netns_ip_json(w->ns_net, "link", NULL, &nl, err, errlen)) < 0)
		goto out;
	if (nsmode && (r = netns_ip_json(w->ns_fw, "link", NULL, &fl, err, errlen)) < 0)
		goto out;
	/* Networks no longer wanted go first (their addresses may be reused). */
	if ((r = prune(w->ns_net, nl, "br-", st, 0, err, errlen)) < 0 ||
	    (r = prune(w->ns_net, nl, "vx-", st, 0, err, errlen)) < 0 ||
	    (r = prune(w->ns_net, nl, "fw-", st, !nsmode, err, errlen)) < 0 ||
	    (fl && (r = prune(w->ns_fw, fl, "in-", st, 0, err, errlen)) < 0))
		goto out;
	for (unsigned i = 0; i < st->n_networks; i++) {
		const struct net_network *n = &st->networks[i];
		char br[16], fw[16], in[16], want[1][20], mac[18];

		snprintf(br, sizeof(br), "br-%s", n->hash);
		snprintf(fw, sizeof(fw), "fw-%s", n->hash);
		snprintf(in, sizeof(in), "in-%s", n->hash);
		if (!has(nl, br) &&
		    (r = run(NULL, err, errlen, "ip", "-n", w->ns_net, "link", "add", br, "type",
			     "bridge", NULL)) < 0)
			goto out;
		/* A fixed MAC: a bridge without one takes its lowest port's,
		 * which changes as VMs come and go, and the DHCP server's MAC
		 * must not (the IDS checks who answers DHCP, ids.h). */
		snprintf(mac, sizeof(mac), "02:%.2s:%.2s:%.2s:%.2s:%.2s", n->hash, n->hash + 2,
			 n->hash + 4, n->hash + 6, n->hash + 8);
		if ((r = run(NULL, err, errlen, "ip", "-n", w->ns_net, "link", "set", br, "address",
			     mac, "up", NULL)) < 0)
			goto out;
		/* The home host's bridge has the DHCP server's address; a
		 * member's has none (its VMs' DHCP comes over the segment). */
		cidr_str(n->dhcp_server, n->cidr.prefix, want[0], sizeof(want[0]));
		if ((r = sync_addrs(w->ns_net, br, want, home ? 1 : 0, err, errlen)) < 0)
			goto out;
		if ((r = vxlan_sync(st, n, w, br, nl, err, errlen)) < 0)
			goto out;
		if (!nsmode)
			continue;
		/* The firewall's first port on this network: a veth pair. */
		if (!has(nl, fw) || !has(fl, in)) {
			if (has(nl, fw))
				run(NULL, err, errlen, "ip", "-n", w->ns_net, "link", "del", fw, NULL);
			if (has(fl, in))
				run(NULL, err, errlen, "ip", "-n", w->ns_fw, "link", "del", in, NULL);
			if ((r = run(NULL, err, errlen, "ip", "-n", w->ns_fw, "link", "add", in,
				     "type", "veth", "peer", "name", fw, "netns", w->ns_net,
				     NULL)) < 0)
				goto out;
		}
		if ((r = run(NULL, err, errlen, "ip", "-n", w->ns_net, "link", "set", fw, "master",
			     br, "up", NULL)) < 0 ||
		    (r = run(NULL, err, errlen, "ip", "-n", w->ns_fw, "link", "set", in, "up",
			     NULL)) < 0)
			goto out;
		cidr_str(n->gateway, n->cidr.prefix, want[0], sizeof(want[0]));
		if ((r = sync_addrs(w->ns_fw, in, want, 1, err, errlen)) < 0)
			goto out;
	}
	if (!nsmode) {
		r = 0;
		goto out;
	}
	/* The second port, on the shared external network. */
	links_ext_port(w->name_prefix, st->hash, xf, sizeof(xf));
	if (!has(fl, "ext0") || netns_has_link(w->ext_netns, xf) != 1) {
		if (has(fl, "ext0"))
			run(NULL, err, errlen, "ip", "-n", w->ns_fw, "link", "del", "ext0", NULL);
		run(NULL, err, errlen, "ip", "-n", w->ext_netns, "link", "del", xf, NULL);
		if ((r = run(NULL, err, errlen, "ip", "-n", w->ns_fw, "link", "add", "ext0", "type",
			     "veth", "peer", "name", xf, "netns", w->ext_netns, NULL)) < 0)
			goto out;
	}
	if ((r = run(NULL, err, errlen, "ip", "-n", w->ext_netns, "link", "set", xf, "master",
		     w->ext_bridge, "up", NULL)) < 0 ||
	    (r = run(NULL, err, errlen, "ip", "-n", w->ns_fw, "link", "set", "ext0", "up",
		     NULL)) < 0)
		goto out;
	{
		char want[NET_ADDRESSES_MAX + 1][20];
		size_t n = 0;

		if (st->ext_address)
			cidr_str(st->ext_address, st->ext_prefix, want[n++], sizeof(want[0]));
		for (unsigned i = 0; i < st->n_addresses; i++)
			cidr_str(st->addresses[i].address, 32, want[n++], sizeof(want[0]));
		if ((r = sync_addrs(w->ns_fw, "ext0", want, n, err, errlen)) < 0)
			goto out;
	}
	if (st->ext_gateway) {
		char gw[16];

		netstate_ip(st->ext_gateway, gw, sizeof(gw));
		if ((r = run(NULL, err, errlen, "ip", "-n", w->ns_fw, "route", "replace",
			     "default", "via", gw, "dev", "ext0", NULL)) < 0)
			goto out;
	}
	r = 0;
out:
	json_decref(nl);
	json_decref(fl);
	return r;
}


int
links_ip(char *err, size_t errlen, ...)
{
	va_list ap;
	int r;

	va_start(ap, errlen);
	r = run_va(NULL, NULL, err, errlen, ap);
	va_end(ap);
	return r;
}

void
links_ext_port(const char *prefix, const char *hash, char *out, size_t len)
{
	/* The default keeps the name it always had. */
	if (strcmp(prefix, "cl") == 0)
		snprintf(out, len, "xf-%s", hash);
	else
		snprintf(out, len, "%sx-%s", prefix, hash);
}
