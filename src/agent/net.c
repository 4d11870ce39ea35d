/* net.c - see net.h */
#define _GNU_SOURCE
#include "net.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dhcp.h"
#include "log.h"
#include "netns.h"
#include "net_fwvm.h"
#include "netstate.h"
#include "nft.h"
#include "qemu.h"
#include "util.h"

#define PORTS_MAX 4096

struct tenant {
	struct tenant *next;
	struct net_tenant st; /* desired */
	char dir[600];        /* <state>/net/<tenant> */
	char ns_net[48], ns_fw[48];
	pid_t dnsmasq;
	char *listing_net, *listing_fw; /* `nft list ruleset` right after applying */
	char applied_at[32];
	char fw_boot[32]; /* mode vm: the appliance boot last configured */
};

static const struct agent_config *cfg;
/* Recursive: in firewall mode "vm" applying creates the appliance VM, and
 * vm_create calls back into net_ports_changed on the same thread. */
static pthread_mutex_t mtx = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static struct tenant *tenants;

const char *
net_ext_netns(void)
{
	return cfg->ext_netns;
}

const char *
net_ext_bridge(void)
{
	return cfg->ext_bridge;
}

static struct tenant *
find(const char *key)
{
	for (struct tenant *t = tenants; t; t = t->next)
		if (strcmp(t->st.tenant, key) == 0)
			return t;
	return NULL;
}

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

static int
ensure_ext(char *err, size_t errlen)
{
	int r;

	if ((r = netns_ensure(cfg->ext_netns, err, errlen)) < 0)
		return r;
	if ((r = netns_has_link(cfg->ext_netns, cfg->ext_bridge)) < 0)
		return r;
	if (r == 0 && (r = run(NULL, err, errlen, "ip", "-n", cfg->ext_netns, "link", "add",
			       cfg->ext_bridge, "type", "bridge", NULL)) < 0)
		return r;
	return run(NULL, err, errlen, "ip", "-n", cfg->ext_netns, "link", "set", cfg->ext_bridge,
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

static int
apply_links(struct tenant *t, char *err, size_t errlen)
{
	const struct net_tenant *st = &t->st;
	json_t *nl = NULL, *fl = NULL;
	char xf[16];
	int r, nsmode = st->mode == NET_FW_NAMESPACE;

	if ((r = netns_ensure(t->ns_net, err, errlen)) < 0)
		return r;
	if (nsmode) {
		if ((r = netns_ensure(t->ns_fw, err, errlen)) < 0 ||
		    (r = netns_sysctl(t->ns_fw, "net/ipv4/ip_forward", "1", err, errlen)) < 0)
			return r;
	} else if ((r = netns_delete(t->ns_fw, err, errlen)) < 0)
		return r;
	if ((r = netns_ip_json(t->ns_net, "link", NULL, &nl, err, errlen)) < 0)
		goto out;
	if (nsmode && (r = netns_ip_json(t->ns_fw, "link", NULL, &fl, err, errlen)) < 0)
		goto out;
	/* Networks no longer wanted go first (their addresses may be reused). */
	if ((r = prune(t->ns_net, nl, "br-", st, 0, err, errlen)) < 0 ||
	    (r = prune(t->ns_net, nl, "fw-", st, !nsmode, err, errlen)) < 0 ||
	    (fl && (r = prune(t->ns_fw, fl, "in-", st, 0, err, errlen)) < 0))
		goto out;
	for (unsigned i = 0; i < st->n_networks; i++) {
		const struct net_network *n = &st->networks[i];
		char br[16], fw[16], in[16], want[1][20];

		snprintf(br, sizeof(br), "br-%s", n->hash);
		snprintf(fw, sizeof(fw), "fw-%s", n->hash);
		snprintf(in, sizeof(in), "in-%s", n->hash);
		if (!has(nl, br) &&
		    (r = run(NULL, err, errlen, "ip", "-n", t->ns_net, "link", "add", br, "type",
			     "bridge", NULL)) < 0)
			goto out;
		if ((r = run(NULL, err, errlen, "ip", "-n", t->ns_net, "link", "set", br, "up",
			     NULL)) < 0)
			goto out;
		cidr_str(n->dhcp_server, n->cidr.prefix, want[0], sizeof(want[0]));
		if ((r = sync_addrs(t->ns_net, br, want, 1, err, errlen)) < 0)
			goto out;
		if (!nsmode)
			continue;
		/* The firewall's first port on this network: a veth pair. */
		if (!has(nl, fw) || !has(fl, in)) {
			if (has(nl, fw))
				run(NULL, err, errlen, "ip", "-n", t->ns_net, "link", "del", fw, NULL);
			if (has(fl, in))
				run(NULL, err, errlen, "ip", "-n", t->ns_fw, "link", "del", in, NULL);
			if ((r = run(NULL, err, errlen, "ip", "-n", t->ns_fw, "link", "add", in,
				     "type", "veth", "peer", "name", fw, "netns", t->ns_net,
				     NULL)) < 0)
				goto out;
		}
		if ((r = run(NULL, err, errlen, "ip", "-n", t->ns_net, "link", "set", fw, "master",
			     br, "up", NULL)) < 0 ||
		    (r = run(NULL, err, errlen, "ip", "-n", t->ns_fw, "link", "set", in, "up",
			     NULL)) < 0)
			goto out;
		cidr_str(n->gateway, n->cidr.prefix, want[0], sizeof(want[0]));
		if ((r = sync_addrs(t->ns_fw, in, want, 1, err, errlen)) < 0)
			goto out;
	}
	if (!nsmode) {
		r = 0;
		goto out;
	}
	/* The second port, on the shared external network. */
	snprintf(xf, sizeof(xf), "xf-%s", st->hash);
	if (!has(fl, "ext0") || netns_has_link(cfg->ext_netns, xf) != 1) {
		if (has(fl, "ext0"))
			run(NULL, err, errlen, "ip", "-n", t->ns_fw, "link", "del", "ext0", NULL);
		run(NULL, err, errlen, "ip", "-n", cfg->ext_netns, "link", "del", xf, NULL);
		if ((r = run(NULL, err, errlen, "ip", "-n", t->ns_fw, "link", "add", "ext0", "type",
			     "veth", "peer", "name", xf, "netns", cfg->ext_netns, NULL)) < 0)
			goto out;
	}
	if ((r = run(NULL, err, errlen, "ip", "-n", cfg->ext_netns, "link", "set", xf, "master",
		     cfg->ext_bridge, "up", NULL)) < 0 ||
	    (r = run(NULL, err, errlen, "ip", "-n", t->ns_fw, "link", "set", "ext0", "up",
		     NULL)) < 0)
		goto out;
	{
		char want[NET_ADDRESSES_MAX + 1][20];
		size_t n = 0;

		if (st->ext_address)
			cidr_str(st->ext_address, st->ext_prefix, want[n++], sizeof(want[0]));
		for (unsigned i = 0; i < st->n_addresses; i++)
			cidr_str(st->addresses[i].address, 32, want[n++], sizeof(want[0]));
		if ((r = sync_addrs(t->ns_fw, "ext0", want, n, err, errlen)) < 0)
			goto out;
	}
	if (st->ext_gateway) {
		char gw[16];

		netstate_ip(st->ext_gateway, gw, sizeof(gw));
		if ((r = run(NULL, err, errlen, "ip", "-n", t->ns_fw, "route", "replace",
			     "default", "via", gw, "dev", "ext0", NULL)) < 0)
			goto out;
	}
	r = 0;
out:
	json_decref(nl);
	json_decref(fl);
	return r;
}

/* ---- VM ports (anti-spoofing, DHCP) ---------------------------------- */

struct ports {
	struct nft_vm_port *p;
	struct dhcp_host *h;
	size_t n;
	const char *trusted[NET_NETWORKS_MAX + 1];
	char trusted_buf[NET_NETWORKS_MAX + 1][16];
	size_t n_trusted;
};

static int
collect_ports(const struct tenant *t, struct ports *ps)
{
	char fwname[64];

	fwvm_name(t->st.tenant, fwname, sizeof(fwname));
	memset(ps, 0, sizeof(*ps));
	ps->p = calloc(PORTS_MAX, sizeof(*ps->p));
	ps->h = calloc(PORTS_MAX, sizeof(*ps->h));
	if (ps->p == NULL || ps->h == NULL)
		return -ENOMEM;
	vm_lock();
	for (struct vm *vm = vm_first(); vm; vm = vm->next) {
		if (vm->deleted)
			continue;
		for (unsigned i = 0; i < vm->spec.n_nics; i++) {
			const struct spec_nic *nic = &vm->spec.nics[i];
			struct net_cidr c;

			if (strcmp(nic->netns, t->ns_net) != 0)
				continue;
			if (strcmp(vm->spec.name, fwname) == 0 &&
			    ps->n_trusted < NET_NETWORKS_MAX + 1) {
				/* The firewall appliance forwards others'
				 * packets: its ports are not policed. */
				qemu_tap_name(vm->id, i, ps->trusted_buf[ps->n_trusted], 16);
				ps->trusted[ps->n_trusted] = ps->trusted_buf[ps->n_trusted];
				ps->n_trusted++;
				continue;
			}
			if (ps->n >= PORTS_MAX || nic->address[0] == '\0' ||
			    netstate_parse_cidr(nic->address, 1, 0, &c) < 0)
				continue; /* no address: the VM may not send at all */
			qemu_tap_name(vm->id, i, ps->p[ps->n].ifname, sizeof(ps->p[ps->n].ifname));
			snprintf(ps->p[ps->n].mac, sizeof(ps->p[ps->n].mac), "%s", nic->mac);
			ps->p[ps->n].ip = c.addr;
			snprintf(ps->h[ps->n].mac, sizeof(ps->h[ps->n].mac), "%s", nic->mac);
			ps->h[ps->n].ip = c.addr;
			ps->n++;
		}
	}
	vm_unlock();
	return 0;
}

static void
ports_free(struct ports *ps)
{
	free(ps->p);
	free(ps->h);
}

static int
nft_load(const char *ns, const char *dir, const char *name, const char *text, char **listing,
	 char *err, size_t errlen)
{
	char path[700];
	const char *load[] = {"nft", "-f", path, NULL};
	const char *list[] = {"nft", "list", "ruleset", NULL};
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((r = util_write_atomic(path, text, strlen(text), 0600)) < 0) {
		snprintf(err, errlen, "cannot write %.200s", path);
		return r;
	}
	if ((r = netns_run(ns, load, NULL, err, errlen)) < 0)
		return r;
	free(*listing);
	*listing = NULL;
	return netns_run(ns, list, listing, err, errlen);
}

static int
apply_ports(struct tenant *t, int restart_dhcp, char *err, size_t errlen)
{
	struct ports ps;
	char *text;
	int r;

	if ((r = collect_ports(t, &ps)) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	text = nft_tenant(ps.p, ps.n, ps.trusted, ps.n_trusted);
	if (text == NULL) {
		r = -ENOMEM;
		goto out;
	}
	r = nft_load(t->ns_net, t->dir, "tenant.nft", text, &t->listing_net, err, errlen);
	free(text);
	if (r < 0)
		goto out;
	if ((r = dhcp_write(t->dir, &t->st, ps.h, ps.n)) < 0) {
		snprintf(err, errlen, "cannot write the DHCP configuration");
		goto out;
	}
	if ((r = dhcp_ensure(t->ns_net, t->dir, &t->dnsmasq, restart_dhcp)) < 0)
		snprintf(err, errlen, "cannot start dnsmasq: %s", strerror(-r));
out:
	ports_free(&ps);
	return r;
}

static int
apply_firewall(struct tenant *t, char *err, size_t errlen)
{
	struct nft_ports p = {.ext = "ext0", .in_glob = "in-*"};
	char names[NET_NETWORKS_MAX][16];
	char *text;
	int r;

	if (t->st.mode != NET_FW_NAMESPACE) {
		free(t->listing_fw);
		t->listing_fw = NULL;
		if ((r = fwvm_ensure(&t->st, t->ns_net, err, errlen)) < 0)
			return r;
		fwvm_boot(t->st.tenant, t->fw_boot, sizeof(t->fw_boot));
		return 0;
	}
	if ((r = fwvm_delete(t->st.tenant, err, errlen)) < 0)
		return r;
	for (unsigned i = 0; i < t->st.n_networks; i++) {
		snprintf(names[i], sizeof(names[i]), "in-%s", t->st.networks[i].hash);
		p.in[i] = names[i];
	}
	if ((text = nft_firewall(&t->st, &p)) == NULL)
		return -ENOMEM;
	r = nft_load(t->ns_fw, t->dir, "firewall.nft", text, &t->listing_fw, err, errlen);
	free(text);
	return r;
}

static int
persist(const struct tenant *t)
{
	char path[700], *text;
	json_t *j = netstate_to_json(&t->st);
	int r;

	text = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(j);
	if (text == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/desired.json", t->dir);
	r = util_write_atomic(path, text, strlen(text), 0600);
	free(text);
	return r;
}

/* Make the kernel match t->st (lock held). */
static int
apply(struct tenant *t, int restart_dhcp, char *err, size_t errlen)
{
	int r;

	if ((r = ensure_ext(err, errlen)) < 0 || (r = apply_links(t, err, errlen)) < 0 ||
	    (r = apply_firewall(t, err, errlen)) < 0 ||
	    (r = apply_ports(t, restart_dhcp, err, errlen)) < 0)
		return r;
	util_rfc3339(t->applied_at, sizeof(t->applied_at));
	return 0;
}

/* just_applied: the listings were taken a moment ago, so the kernel is in
 * sync by construction; listing 1,000 rules again costs ~50 ms each. */
static json_t *
view(struct tenant *t, int just_applied)
{
	json_t *j = netstate_to_json(&t->st);
	const char *list[] = {"nft", "list", "ruleset", NULL};
	char *now = NULL, err[256];
	int sync = 1;

	/* In sync: what the kernel holds now is what it held right after the
	 * last apply (an operator's `nft flush ruleset` shows up here). */
	if (!just_applied &&
	    (netns_run(t->ns_net, list, &now, err, sizeof(err)) < 0 || t->listing_net == NULL ||
	     strcmp(now, t->listing_net) != 0))
		sync = 0;
	free(now);
	now = NULL;
	if (!just_applied && t->st.mode == NET_FW_NAMESPACE &&
	    (netns_run(t->ns_fw, list, &now, err, sizeof(err)) < 0 || t->listing_fw == NULL ||
	     strcmp(now, t->listing_fw) != 0))
		sync = 0;
	free(now);
	json_object_set_new(j, "in_sync", json_boolean(sync));
	json_object_set_new(j, "applied_at", json_string(t->applied_at));
	json_object_set_new(j, "netns", json_string(t->ns_net));
	json_object_set_new(j, "firewall_netns",
			    t->st.mode == NET_FW_NAMESPACE ? json_string(t->ns_fw) : json_null());
	json_object_set_new(j, "dhcp_pid", json_integer(t->dnsmasq));
	{
		json_t *nets = json_object_get(j, "networks");

		for (unsigned i = 0; i < t->st.n_networks && i < json_array_size(nets); i++) {
			char br[16];

			snprintf(br, sizeof(br), "br-%s", t->st.networks[i].hash);
			json_object_set_new(json_array_get(nets, i), "bridge", json_string(br));
		}
	}
	return j;
}

static struct tenant *
tenant_new(const char *key)
{
	struct tenant *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	snprintf(t->dir, sizeof(t->dir), "%s/net/%s", cfg->state_dir, key);
	snprintf(t->ns_net, sizeof(t->ns_net), "cln-%s", key);
	snprintf(t->ns_fw, sizeof(t->ns_fw), "clf-%s", key);
	return t;
}

static int
networks_changed(const struct net_tenant *a, const struct net_tenant *b)
{
	if (a->n_networks != b->n_networks)
		return 1;
	for (unsigned i = 0; i < a->n_networks; i++)
		if (strcmp(a->networks[i].id, b->networks[i].id) != 0 ||
		    a->networks[i].cidr.addr != b->networks[i].cidr.addr ||
		    a->networks[i].cidr.prefix != b->networks[i].cidr.prefix)
			return 1;
	return 0;
}

/* Is any VM still on one of this tenant's networks that the new state
 * drops? Names it in err. */
static int
vm_on_dropped_network(const struct tenant *t, const struct net_tenant *next, char *err,
		      size_t errlen)
{
	char fwname[64];
	int found = 0;

	fwvm_name(t->st.tenant, fwname, sizeof(fwname));
	vm_lock();
	for (struct vm *vm = vm_first(); vm && !found; vm = vm->next) {
		if (vm->deleted || strcmp(vm->spec.name, fwname) == 0)
			continue;
		for (unsigned i = 0; i < vm->spec.n_nics && !found; i++) {
			const struct spec_nic *nic = &vm->spec.nics[i];
			int kept = next == NULL ? 0 : -1;

			if (strcmp(nic->netns, t->ns_net) != 0)
				continue;
			if (next)
				for (unsigned k = 0; k < next->n_networks; k++) {
					char br[16];

					snprintf(br, sizeof(br), "br-%s", next->networks[k].hash);
					if (strcmp(br, nic->bridge) == 0)
						kept = 1;
				}
			if (kept != 1) {
				snprintf(err, errlen, "VM '%s' is still on network bridge %s",
					 vm->spec.name, nic->bridge);
				found = 1;
			}
		}
	}
	vm_unlock();
	return found;
}

int
net_apply(const json_t *args, json_t **out, struct op_error *e)
{
	struct net_tenant next;
	struct tenant *t;
	char err[512];
	int r, created = 0, restart;

	if ((r = netstate_parse(args, &next, err, sizeof(err))) < 0)
		return op_fail(e, "invalid", r, "%s", err);
	pthread_mutex_lock(&mtx);
	t = find(next.tenant);
	if (t == NULL) {
		if ((t = tenant_new(next.tenant)) == NULL) {
			r = op_fail(e, "internal", -ENOMEM, "out of memory");
			goto out;
		}
		created = 1;
	} else if (vm_on_dropped_network(t, &next, err, sizeof(err))) {
		r = op_fail(e, "conflict", -EBUSY, "%s", err);
		goto out;
	}
	for (struct tenant *o = tenants; o; o = o->next)
		if (o != t && strcmp(o->st.hash, next.hash) == 0) {
			r = op_fail(e, "conflict", -EEXIST, "tenant key collides with '%s'",
				 o->st.tenant);
			goto out;
		}
	/* dnsmasq re-reads its hosts file after dropping to nobody. */
	if ((r = util_mkdirs(t->dir, 0711)) < 0 || (r = chmod(t->dir, 0711) < 0 ? -errno : 0) < 0) {
		r = op_fail(e, "internal", r, "cannot create %s", t->dir);
		goto out;
	}
	restart = created || networks_changed(&t->st, &next) || t->st.mode != next.mode;
	netstate_free(&t->st);
	t->st = next;
	memset(&next, 0, sizeof(next));
	if (created) {
		t->next = tenants;
		tenants = t;
		t->dnsmasq = dhcp_adopt(t->dir);
	}
	/* Persist first: if applying fails halfway, the next start (or the
	 * next apply) converges on the same desired state. */
	if ((r = persist(t)) < 0) {
		r = op_fail(e, "internal", r, "cannot save the tenant's network state");
		goto out;
	}
	if ((r = apply(t, restart, err, sizeof(err))) < 0) {
		log_warnx("net %s: apply: %s", t->st.tenant, err);
		r = op_fail(e, "internal", r, "applying the network state failed: %s", err);
		goto out;
	}
	log_info("net %s: applied (%u networks, %u rules, mode %s)", t->st.tenant,
		 t->st.n_networks, t->st.n_rules, t->st.mode == NET_FW_VM ? "vm" : "namespace");
	if (out)
		*out = view(t, 1);
	r = 0;
out:
	netstate_free(&next);
	pthread_mutex_unlock(&mtx);
	return r;
}

int
net_show(const char *tenant, json_t **out, struct op_error *e)
{
	struct tenant *t;
	int r = 0;

	pthread_mutex_lock(&mtx);
	if ((t = find(tenant)) == NULL)
		r = op_fail(e, "not_found", -ENOENT, "no networks for tenant '%s'", tenant);
	else
		*out = view(t, 0);
	pthread_mutex_unlock(&mtx);
	return r;
}

json_t *
net_list(void)
{
	json_t *a = json_array();

	pthread_mutex_lock(&mtx);
	for (struct tenant *t = tenants; t; t = t->next)
		json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:i}", "tenant", t->st.tenant,
						   "mode",
						   t->st.mode == NET_FW_VM ? "vm" : "namespace",
						   "networks", (int)t->st.n_networks, "rules",
						   (int)t->st.n_rules));
	pthread_mutex_unlock(&mtx);
	return a;
}

int
net_delete(const char *tenant, struct op_error *e)
{
	struct tenant *t, **pp;
	char err[512], xf[16];
	int r;

	pthread_mutex_lock(&mtx);
	if ((t = find(tenant)) == NULL) {
		r = op_fail(e, "not_found", -ENOENT, "no networks for tenant '%s'", tenant);
		goto out;
	}
	if (vm_on_dropped_network(t, NULL, err, sizeof(err))) {
		r = op_fail(e, "conflict", -EBUSY, "%s", err);
		goto out;
	}
	if ((r = fwvm_delete(t->st.tenant, err, sizeof(err))) < 0) {
		r = op_fail(e, "internal", r, "%s", err);
		goto out;
	}
	dhcp_stop(t->dir, &t->dnsmasq);
	snprintf(xf, sizeof(xf), "xf-%s", t->st.hash);
	/* Deleting the namespaces removes their interfaces; a veth's peer in
	 * the external namespace goes with it. */
	if ((r = netns_delete(t->ns_fw, err, sizeof(err))) < 0 ||
	    (r = netns_delete(t->ns_net, err, sizeof(err))) < 0) {
		r = op_fail(e, "internal", r, "%s", err);
		goto out;
	}
	if (netns_has_link(cfg->ext_netns, xf) == 1)
		run(NULL, err, sizeof(err), "ip", "-n", cfg->ext_netns, "link", "del", xf, NULL);
	util_rmtree(t->dir);
	for (pp = &tenants; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	log_info("net %s: deleted", tenant);
	netstate_free(&t->st);
	free(t->listing_net);
	free(t->listing_fw);
	free(t);
	r = 0;
out:
	pthread_mutex_unlock(&mtx);
	return r;
}

int
net_nic_resolve(const char *network, char *netns, size_t nslen, char *bridge, size_t brlen,
		char *gateway, size_t gwlen, unsigned *prefix, char *err, size_t errlen)
{
	char key[NET_TENANT_MAX + 1];
	const char *slash = strchr(network, '/');
	struct tenant *t;
	int r = -ENOENT;

	if (slash == NULL || (size_t)(slash - network) > NET_TENANT_MAX) {
		snprintf(err, errlen, "nic network must be '<tenant>/<network id>'");
		return -EINVAL;
	}
	memcpy(key, network, (size_t)(slash - network));
	key[slash - network] = '\0';
	pthread_mutex_lock(&mtx);
	t = find(key);
	snprintf(err, errlen, "unknown network '%s'", network);
	for (unsigned i = 0; t && i < t->st.n_networks; i++) {
		const struct net_network *n = &t->st.networks[i];

		if (strcmp(n->id, slash + 1) != 0)
			continue;
		snprintf(netns, nslen, "%s", t->ns_net);
		snprintf(bridge, brlen, "br-%s", n->hash);
		netstate_ip(n->gateway, gateway, gwlen);
		*prefix = n->cidr.prefix;
		r = 0;
	}
	pthread_mutex_unlock(&mtx);
	return r;
}

void
net_ports_changed(const char *netns)
{
	char err[512];

	if (strncmp(netns, "cln-", 4) != 0)
		return;
	pthread_mutex_lock(&mtx);
	for (struct tenant *t = tenants; t; t = t->next)
		if (strcmp(t->ns_net, netns) == 0 && apply_ports(t, 0, err, sizeof(err)) < 0)
			log_warnx("net %s: anti-spoofing/DHCP update: %s", t->st.tenant, err);
	pthread_mutex_unlock(&mtx);
}

/* Restarts a tenant's dnsmasq when it died. */
static void *
watch(void *arg)
{
	(void)arg;
	for (;;) {
		sleep(2);
		pthread_mutex_lock(&mtx);
		for (struct tenant *t = tenants; t; t = t->next) {
			char boot[32], err[512];

			/* An appliance that rebooted or crashed lost its rules:
			 * configure (or start) it again. */
			if (t->st.mode == NET_FW_VM) {
				fwvm_boot(t->st.tenant, boot, sizeof(boot));
				if (strcmp(boot, t->fw_boot) != 0) {
					log_warnx("net %s: firewall VM %s: configuring it again",
						  t->st.tenant, boot[0] ? "rebooted" : "not running");
					if (apply_firewall(t, err, sizeof(err)) < 0)
						log_warnx("net %s: %s", t->st.tenant, err);
				}
			}
			if (t->dnsmasq > 0 && !dhcp_alive(t->dir, t->dnsmasq)) {
				log_warnx("net %s: dnsmasq (pid %d) ended; starting it again",
					  t->st.tenant, (int)t->dnsmasq);
				t->dnsmasq = 0;
				if (dhcp_ensure(t->ns_net, t->dir, &t->dnsmasq, 1) < 0)
					log_warnx("net %s: cannot start dnsmasq", t->st.tenant);
			}
		}
		pthread_mutex_unlock(&mtx);
	}
	return NULL;
}

int
net_init(const struct agent_config *c)
{
	char dir[600], err[512];
	DIR *d;
	struct dirent *de;
	int r;

	cfg = c;
	snprintf(dir, sizeof(dir), "%s/net", cfg->state_dir);
	if ((r = util_mkdirs(dir, 0711)) < 0 || chmod(dir, 0711) < 0)
		return r < 0 ? r : -errno;
	if (geteuid() != 0)
		return 0; /* no networks without privilege */
	if ((r = ensure_ext(err, sizeof(err))) < 0) {
		log_warnx("external network %s/%s: %s", cfg->ext_netns, cfg->ext_bridge, err);
		return r;
	}
	if ((d = opendir(dir)) == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char path[1200], *text = NULL;
		size_t len;
		json_t *j;
		struct tenant *t;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/desired.json", dir, de->d_name);
		if (util_read_file(path, 4 << 20, &text, &len) < 0)
			continue;
		j = json_loads(text, 0, NULL);
		free(text);
		if ((t = tenant_new(de->d_name)) == NULL) {
			json_decref(j);
			break;
		}
		if (j == NULL || netstate_parse(j, &t->st, err, sizeof(err)) < 0 ||
		    strcmp(t->st.tenant, de->d_name) != 0) {
			log_warnx("net: ignoring %s", path);
			json_decref(j);
			free(t);
			continue;
		}
		json_decref(j);
		t->dnsmasq = dhcp_adopt(t->dir);
		t->next = tenants;
		tenants = t;
	}
	closedir(d);
	return 0;
}

void
net_apply_all(void)
{
	char err[512];
	pthread_t th;

	pthread_mutex_lock(&mtx);
	for (struct tenant *t = tenants; t; t = t->next) {
		if (apply(t, 0, err, sizeof(err)) < 0)
			log_warnx("net %s: apply at start: %s", t->st.tenant, err);
		else
			log_info("net %s: applied at start", t->st.tenant);
	}
	pthread_mutex_unlock(&mtx);
	/* Only now: the watcher looks at VMs (firewall appliances). */
	if (geteuid() == 0 && pthread_create(&th, NULL, watch, NULL) == 0)
		pthread_detach(th);
}
