/* links.c - see links.h */
#define _GNU_SOURCE
#include "links.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "netns.h"
#include "util.h"

static int
run(const char *ns, char *err, size_t errlen, ...)
{
	const char *argv[24];
	va_list ap;
	int n = 0;

	va_start(ap, errlen);
	while (n < 23 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	return netns_run(ns, argv, NULL, err, errlen);
}

/* ---- the external network ------------------------------------------- */

int
links_ensure_ext(const char *ext_netns, const char *ext_bridge, char *err, size_t errlen)
{
	int r;

	if ((r = netns_ensure(ext_netns, err, errlen)) < 0)
		return r;
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

int
links_apply(const struct net_tenant *st, const struct links_where *w, char *err, size_t errlen)
{
	json_t *nl = NULL, *fl = NULL;
	char xf[16];
	int r, nsmode = st->mode == NET_FW_NAMESPACE;

	if ((r = netns_ensure(w->ns_net, err, errlen)) < 0)
		return r;
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
	    (r = prune(w->ns_net, nl, "fw-", st, !nsmode, err, errlen)) < 0 ||
	    (fl && (r = prune(w->ns_fw, fl, "in-", st, 0, err, errlen)) < 0))
		goto out;
	for (unsigned i = 0; i < st->n_networks; i++) {
		const struct net_network *n = &st->networks[i];
		char br[16], fw[16], in[16], want[1][20];

		snprintf(br, sizeof(br), "br-%s", n->hash);
		snprintf(fw, sizeof(fw), "fw-%s", n->hash);
		snprintf(in, sizeof(in), "in-%s", n->hash);
		if (!has(nl, br) &&
		    (r = run(NULL, err, errlen, "ip", "-n", w->ns_net, "link", "add", br, "type",
			     "bridge", NULL)) < 0)
			goto out;
		if ((r = run(NULL, err, errlen, "ip", "-n", w->ns_net, "link", "set", br, "up",
			     NULL)) < 0)
			goto out;
		cidr_str(n->dhcp_server, n->cidr.prefix, want[0], sizeof(want[0]));
		if ((r = sync_addrs(w->ns_net, br, want, 1, err, errlen)) < 0)
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
	const char *argv[24];
	va_list ap;
	int n = 0;

	va_start(ap, errlen);
	while (n < 23 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	return netns_run(NULL, argv, NULL, err, errlen);
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
