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
#include <time.h>
#include <unistd.h>

#include "dhcp.h"
#include "links.h"
#include "log.h"
#include "netns.h"
#include "netstate.h"
#include "nft.h"
#include "nftx.h"
#include "util.h"
#include "vpn.h"

#define PORTS_MAX 4096

struct tenant {
	struct tenant *next;
	struct net_tenant st; /* desired */
	char dir[600];        /* <state>/net/<tenant> */
	char ns_net[48], ns_fw[48];
	pid_t dnsmasq;
	char *listing_net, *listing_fw; /* `nft list ruleset` right after applying */
	char applied_at[32];
	/* What this agent process last made the kernel hold (reset at start,
	 * so the first apply is a full one): links of this link_sig, firewall
	 * rules of this text, ports and DHCP as the port table says. */
	char *link_sig, *fw_text;
	int ports_applied;
	int dhcp_dirty; /* the other hosts' leases changed since */
	/* The VPN gateway (vpn.h): its interface, wireguard-go's pid, and
	 * when the watch last looked at peer expiry. */
	char wg_if[16];
	pid_t wg;
	long long wg_checked;
	/* Its VM-to-VM tunnel between hosts (netstate.h "vmvm"): the same
	 * wireguard-go, in the underlay namespace, files in <dir>/vmvm. */
	char ul_if[16], ul_dir[640];
	pid_t ulwg;
};

static const struct agent_config *cfg;
static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static struct tenant *tenants;
static int ext_ready; /* the external network was made by this process */
static int (*trusted_fn)(const char *tenant, const char *vm_name);
static void (*ports_hook)(const char *tenant);

/* Every VM NIC on a tenant network (net.h); unordered. */
static struct net_port *ports;
static size_t n_ports, cap_ports;

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

/* ---- VM ports (anti-spoofing, DHCP) ---------------------------------- */

struct ports {
	struct nft_vm_port *p;
	struct dhcp_host *h;
	size_t n;  /* policed ports in p */
	size_t nh; /* DHCP leases in h: these ports and other hosts' */
	const char *trusted[NET_NETWORKS_MAX + 1];
	char trusted_buf[NET_NETWORKS_MAX + 1][16];
	size_t n_trusted;
};

static int
is_trusted(const struct tenant *t, const struct net_port *p)
{
	return trusted_fn != NULL && trusted_fn(t->st.tenant, p->vm_name);
}

/* A policed port's set elements; 0 when it has no address (it may not send). */
static int
port_elems(const struct net_port *p, struct nft_vm_port *out)
{
	struct net_cidr c;

	if (p->address[0] == '\0' || netstate_parse_cidr(p->address, 1, 0, &c) < 0)
		return 0;
	memset(out, 0, sizeof(*out));
	snprintf(out->ifname, sizeof(out->ifname), "%s", p->ifname);
	snprintf(out->mac, sizeof(out->mac), "%s", p->mac);
	out->ip = c.addr;
	return 1;
}

static int
collect_ports(const struct tenant *t, struct ports *ps)
{
	memset(ps, 0, sizeof(*ps));
	ps->p = calloc(PORTS_MAX, sizeof(*ps->p));
	ps->h = calloc(PORTS_MAX + NET_REMOTE_MAX, sizeof(*ps->h));
	if (ps->p == NULL || ps->h == NULL)
		return -ENOMEM;
	for (size_t k = 0; k < n_ports; k++) {
		const struct net_port *p = &ports[k];

		if (strcmp(p->netns, t->ns_net) != 0)
			continue;
		if (is_trusted(t, p)) {
			/* The firewall appliance forwards others' packets:
			 * its ports are not policed. */
			if (ps->n_trusted < NET_NETWORKS_MAX + 1) {
				snprintf(ps->trusted_buf[ps->n_trusted], 16, "%s", p->ifname);
				ps->trusted[ps->n_trusted] = ps->trusted_buf[ps->n_trusted];
				ps->n_trusted++;
			}
			continue;
		}
		if (ps->n >= PORTS_MAX || !port_elems(p, &ps->p[ps->n]))
			continue;
		snprintf(ps->h[ps->nh].mac, sizeof(ps->h[ps->nh].mac), "%s", p->mac);
		ps->h[ps->nh++].ip = ps->p[ps->n].ip;
		ps->n++;
	}
	/* VMs on the tenant's other hosts get their leases here, at home
	 * (their own hosts police their ports). */
	for (unsigned i = 0; i < t->st.n_remote; i++) {
		snprintf(ps->h[ps->nh].mac, sizeof(ps->h[ps->nh].mac), "%s", t->st.remote[i].mac);
		ps->h[ps->nh++].ip = t->st.remote[i].address;
	}
	return 0;
}

static void
ports_free(struct ports *ps)
{
	free(ps->p);
	free(ps->h);
}

/* Load a generated rule set into ns (kept in dir/name for the operator to
 * read) and take the listing that in_sync compares against. */
static int
nft_load(const char *ns, const char *dir, const char *name, const char *text, char **listing,
	 char *err, size_t errlen)
{
	char path[700];
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((r = util_write_atomic(path, text, strlen(text), 0600)) < 0) {
		snprintf(err, errlen, "cannot write %.200s", path);
		return r;
	}
	free(*listing);
	return nftx_run(ns, text, listing, err, errlen);
}

/* DHCP: on the home host one dnsmasq with every lease of the tenant (its
 * own VMs' and, from the state, its other hosts'); none on a member host. */
static int
dhcp_update(struct tenant *t, const struct ports *ps, int restart, char *err, size_t errlen)
{
	int r;

	if (t->st.role == NET_ROLE_MEMBER) {
		dhcp_stop(t->dir, &t->dnsmasq);
		return 0;
	}
	if ((r = dhcp_write(t->dir, &t->st, ps->h, ps->nh)) < 0) {
		snprintf(err, errlen, "cannot write the DHCP configuration");
		return r;
	}
	if ((r = dhcp_ensure(t->ns_net, t->dir, &t->dnsmasq, restart)) < 0)
		snprintf(err, errlen, "cannot start dnsmasq: %s", strerror(-r));
	return r;
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
	if ((r = dhcp_update(t, &ps, restart_dhcp, err, errlen)) == 0) {
		t->ports_applied = 1;
		t->dhcp_dirty = 0;
	}
out:
	ports_free(&ps);
	return r;
}

/* The namespace firewall's rule set; in mode vm there is none here (the
 * appliance layer configures the firewall VM from net_tenant_get). Loaded
 * when its text differs from what this process loaded last, or when the
 * kernel no longer holds what that load left. */
static int
apply_firewall(struct tenant *t, char *err, size_t errlen)
{
	struct nft_ports p = {.ext = "ext0", .in_glob = "in-*",
			      .wg = t->st.vpn.enabled ? t->wg_if : NULL, .now = time(NULL)};
	char names[NET_NETWORKS_MAX][16];
	char *text;
	int r;

	if (t->st.mode != NET_FW_NAMESPACE || t->st.role == NET_ROLE_MEMBER) {
		free(t->listing_fw);
		t->listing_fw = NULL;
		free(t->fw_text);
		t->fw_text = NULL;
		return 0;
	}
	for (unsigned i = 0; i < t->st.n_networks; i++) {
		snprintf(names[i], sizeof(names[i]), "in-%s", t->st.networks[i].hash);
		p.in[i] = names[i];
	}
	if ((text = nft_firewall(&t->st, &p)) == NULL)
		return -ENOMEM;
	if (t->fw_text != NULL && strcmp(text, t->fw_text) == 0 && t->listing_fw != NULL) {
		char *now = NULL;
		int same;

		/* Same rules as last time: reload only if the kernel lost them
		 * (an operator's flush); listing in-process is cheap. */
		same = nftx_run(t->ns_fw, NULL, &now, err, errlen) == 0 &&
		       strcmp(now, t->listing_fw) == 0;
		free(now);
		if (same) {
			free(text);
			return 0;
		}
	}
	free(t->fw_text);
	t->fw_text = NULL;
	r = nft_load(t->ns_fw, t->dir, "firewall.nft", text, &t->listing_fw, err, errlen);
	if (r == 0)
		t->fw_text = text;
	else
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

/* Everything the links depend on, as one string: links are made again
 * only when it changes (or after an agent start). */
static char *
link_signature(const struct net_tenant *st)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	fprintf(f, "mode %d role %d ext %u/%u gw %u\n", (int)st->mode, (int)st->role,
		st->ext_address, st->ext_prefix, st->ext_gateway);
	for (unsigned i = 0; i < st->n_networks; i++) {
		fprintf(f, "net %s %u/%u gw %u dhcp %u vni %u peers", st->networks[i].hash,
			st->networks[i].cidr.addr, st->networks[i].cidr.prefix,
			st->networks[i].gateway, st->networks[i].dhcp_server, st->networks[i].vni);
		for (unsigned k = 0; k < st->networks[i].n_peers; k++)
			fprintf(f, " %u", netstate_vxlan_dst(st, st->networks[i].peers[k]));
		fputc('\n', f);
	}
	for (unsigned i = 0; i < st->n_addresses; i++)
		fprintf(f, "addr %u\n", st->addresses[i].address);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The gateway after the firewall: a new peer's rule is there before its
 * first packet; a removed peer loses rule and session in one apply. */
static int
apply_vpn(struct tenant *t, char *err, size_t errlen)
{
	long long now = time(NULL);

	if (!t->st.vpn.enabled) {
		if (t->wg > 0)
			log_info("net %s: vpn gateway removed", t->st.tenant);
		vpn_stop(t->dir, t->wg_if, &t->wg);
		return 0;
	}
	t->wg_checked = now;
	return vpn_ensure(t->ns_fw, t->dir, t->wg_if, &t->st.vpn, now, &t->wg, err, errlen);
}

/* The VM-to-VM tunnel (docs/networks.md, "VM to VM"): the tenant's VXLAN
 * to the paired hosts goes to their tunnel addresses (links.c), routed
 * into this interface. Decrypted packets come from the peer's underlay
 * address on it: loose reverse-path filtering there. */
static int
apply_vmvm(struct tenant *t, char *err, size_t errlen)
{
	const char *ul = cfg->underlay_netns;
	char path[64];
	int r;

	if (!t->st.vmvm.enabled) {
		if (t->ulwg > 0)
			log_info("net %s: vm-vm tunnel removed", t->st.tenant);
		vpn_stop(t->ul_dir, t->ul_if, &t->ulwg);
		return 0;
	}
	if (cfg->underlay_address[0] == '\0' || t->ul_if[0] == '\0') {
		snprintf(err, errlen, "vmvm: needs --underlay-address and a name prefix of at "
				      "most 3 characters");
		return -EINVAL;
	}
	if ((r = util_mkdirs(t->ul_dir, 0700)) < 0) {
		snprintf(err, errlen, "vmvm: cannot create %.300s", t->ul_dir);
		return r;
	}
	/* WireGuard's IPv4 overhead (60 bytes) below the underlay's MTU: a
	 * full-size VXLAN frame (1550) is fragmented before it is encrypted,
	 * so every packet on the link is a whole UDP datagram to the port. */
	if ((r = links_underlay_mtu(ul, cfg->underlay_address)) < 0) {
		snprintf(err, errlen, "vmvm: no underlay device holds %s", cfg->underlay_address);
		return r;
	}
	t->st.vmvm.mtu = (unsigned)r - 60;
	if ((r = vpn_ensure(ul, t->ul_dir, t->ul_if, &t->st.vmvm, time(NULL), &t->ulwg, err,
			    errlen)) < 0)
		return r;
	snprintf(path, sizeof(path), "net/ipv4/conf/%s/rp_filter", t->ul_if);
	return netns_sysctl(ul[0] ? ul : NULL, path, "2", err, errlen);
}

/* Forget what this process applied: the next apply does everything. */
static void
applied_forget(struct tenant *t)
{
	free(t->link_sig);
	t->link_sig = NULL;
	free(t->fw_text);
	t->fw_text = NULL;
	t->ports_applied = 0;
}

/*
 * Make the kernel match t->st (lock held): only the parts whose inputs
 * changed since this process last applied them. full: all of it (agent
 * start, repair).
 */
static int
apply(struct tenant *t, int restart_dhcp, int full, char *err, size_t errlen)
{
	struct links_where w = {t->ns_net, t->ns_fw, cfg->ext_netns, cfg->ext_bridge,
				cfg->name_prefix, cfg->underlay_netns, cfg->underlay_address};
	char *sig = link_signature(&t->st);
	int r;

	if (sig == NULL)
		return -ENOMEM;
	if (full)
		applied_forget(t);
	if (!ext_ready || full) {
		if ((r = links_ensure_ext(cfg->ext_netns, cfg->ext_bridge, err, errlen)) < 0)
			goto out;
		ext_ready = 1;
	}
	if (t->link_sig == NULL || strcmp(sig, t->link_sig) != 0) {
		free(t->link_sig);
		t->link_sig = NULL;
		if ((r = links_apply(&t->st, &w, err, errlen)) < 0)
			goto out;
		t->link_sig = sig;
		sig = NULL;
		/* New bridges: the ports' rule set and DHCP follow. */
		t->ports_applied = 0;
	}
	if ((r = apply_vmvm(t, err, errlen)) < 0 || (r = apply_firewall(t, err, errlen)) < 0 ||
	    (r = apply_vpn(t, err, errlen)) < 0)
		goto out;
	if (t->ports_applied && !restart_dhcp && t->listing_net != NULL) {
		char *now = NULL;

		/* The same check for the tenant namespace's rule set. */
		if (nftx_run(t->ns_net, NULL, &now, err, errlen) < 0 ||
		    strcmp(now, t->listing_net) != 0)
			t->ports_applied = 0;
		free(now);
	}
	if ((!t->ports_applied || restart_dhcp || t->dhcp_dirty) &&
	    (r = apply_ports(t, restart_dhcp, err, errlen)) < 0)
		goto out;
	util_rfc3339(t->applied_at, sizeof(t->applied_at));
	r = 0;
out:
	free(sig);
	return r;
}

/* just_applied: the listings were taken a moment ago, so the kernel is in
 * sync by construction; listing 1,000 rules again costs ~50 ms each. */
static json_t *
view(struct tenant *t, int just_applied)
{
	json_t *j = netstate_to_json(&t->st);
	char *now = NULL, err[256];
	int sync = 1;

	/* Never the private key: the gateway's view has its public key. */
	netstate_redact(j);
	if (t->st.vpn.enabled)
		json_object_set_new(j, "vpn", vpn_view(&t->st.vpn, t->wg_if, t->wg, time(NULL)));
	if (t->st.vmvm.enabled)
		json_object_set_new(j, "vmvm",
				    vpn_view(&t->st.vmvm, t->ul_if, t->ulwg, time(NULL)));

	/* In sync: what the kernel holds now is what it held right after the
	 * last change (an operator's `nft flush ruleset` shows up here). */
	if (!just_applied &&
	    (nftx_run(t->ns_net, NULL, &now, err, sizeof(err)) < 0 || t->listing_net == NULL ||
	     strcmp(now, t->listing_net) != 0))
		sync = 0;
	free(now);
	now = NULL;
	if (!just_applied && t->st.mode == NET_FW_NAMESPACE && t->st.role == NET_ROLE_HOME &&
	    (nftx_run(t->ns_fw, NULL, &now, err, sizeof(err)) < 0 || t->listing_fw == NULL ||
	     strcmp(now, t->listing_fw) != 0))
		sync = 0;
	free(now);
	json_object_set_new(j, "in_sync", json_boolean(sync));
	json_object_set_new(j, "applied_at", json_string(t->applied_at));
	json_object_set_new(j, "netns", json_string(t->ns_net));
	json_object_set_new(j, "firewall_netns",
			    t->st.mode == NET_FW_NAMESPACE && t->st.role == NET_ROLE_HOME
				    ? json_string(t->ns_fw)
				    : json_null());
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
	snprintf(t->ns_net, sizeof(t->ns_net), "%sn-%s", cfg->name_prefix, key);
	snprintf(t->ns_fw, sizeof(t->ns_fw), "%sf-%s", cfg->name_prefix, key);
	{
		char h[11];

		netstate_hash(key, h);
		if (vpn_ifname(cfg->name_prefix, h, t->wg_if, sizeof(t->wg_if)) < 0)
			t->wg_if[0] = '\0'; /* refused at apply */
		if (snprintf(t->ul_if, sizeof(t->ul_if), "%se%s", cfg->name_prefix, h) > 15)
			t->ul_if[0] = '\0'; /* the same */
		snprintf(t->ul_dir, sizeof(t->ul_dir), "%s/vmvm", t->dir);
	}
	return t;
}

static int
remote_same(const struct net_tenant *a, const struct net_tenant *b)
{
	if (a->n_remote != b->n_remote)
		return 0;
	for (unsigned i = 0; i < a->n_remote; i++)
		if (a->remote[i].address != b->remote[i].address ||
		    strcmp(a->remote[i].mac, b->remote[i].mac) != 0)
			return 0;
	return 1;
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

/* Is any VM (but the tenant's appliance) still on one of this tenant's
 * networks that the new state (NULL: none) drops? Names it in err. */
static int
vm_on_dropped_network(const struct tenant *t, const struct net_tenant *next, char *err,
		      size_t errlen)
{
	for (size_t k = 0; k < n_ports; k++) {
		const struct net_port *p = &ports[k];
		int kept = 0;

		if (strcmp(p->netns, t->ns_net) != 0 || is_trusted(t, p))
			continue;
		for (unsigned i = 0; next != NULL && i < next->n_networks; i++) {
			char br[16];

			snprintf(br, sizeof(br), "br-%s", next->networks[i].hash);
			if (strcmp(br, p->bridge) == 0)
				kept = 1;
		}
		if (!kept) {
			snprintf(err, errlen, "VM '%s' is still on network bridge %s", p->vm_name,
				 p->bridge);
			return 1;
		}
	}
	return 0;
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
	if (next.vpn.enabled && t->wg_if[0] == '\0') {
		r = op_fail(e, "invalid", -ENAMETOOLONG,
			    "vpn: the agent's name prefix leaves no room for the interface name");
		goto out;
	}
	if (!remote_same(&t->st, &next))
		t->dhcp_dirty = 1;
	restart = created || networks_changed(&t->st, &next) || t->st.mode != next.mode;
	netstate_free(&t->st);
	t->st = next;
	memset(&next, 0, sizeof(next));
	if (created) {
		t->next = tenants;
		tenants = t;
		t->dnsmasq = dhcp_adopt(t->dir);
		t->wg = vpn_adopt(t->dir, t->wg_if);
		t->ulwg = vpn_adopt(t->ul_dir, t->ul_if);
	}
	/* Persist first: if applying fails halfway, the next start (or the
	 * next apply) converges on the same desired state. */
	if ((r = persist(t)) < 0) {
		r = op_fail(e, "internal", r, "cannot save the tenant's network state");
		goto out;
	}
	if ((r = apply(t, restart, 0, err, sizeof(err))) < 0) {
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
net_repair(const char *tenant, json_t **out, struct op_error *e)
{
	struct tenant *t;
	char err[512];
	int r;

	pthread_mutex_lock(&mtx);
	if ((t = find(tenant)) == NULL) {
		r = op_fail(e, "not_found", -ENOENT, "no networks for tenant '%s'", tenant);
	} else if ((r = apply(t, 1, 1, err, sizeof(err))) < 0) {
		log_warnx("net %s: repair: %s", tenant, err);
		r = op_fail(e, "internal", r, "repairing the network state failed: %s", err);
	} else {
		log_info("net %s: repaired (applied in full)", tenant);
		if (out != NULL)
			*out = view(t, 1);
	}
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
	dhcp_stop(t->dir, &t->dnsmasq);
	vpn_stop(t->dir, t->wg_if, &t->wg);
	vpn_stop(t->ul_dir, t->ul_if, &t->ulwg);
	links_ext_port(cfg->name_prefix, t->st.hash, xf, sizeof(xf));
	/* Deleting the namespaces removes their interfaces; a veth's peer in
	 * the external namespace goes with it. */
	if ((r = netns_delete(t->ns_fw, err, sizeof(err))) < 0 ||
	    (r = netns_delete(t->ns_net, err, sizeof(err))) < 0) {
		r = op_fail(e, "internal", r, "%s", err);
		goto out;
	}
	if (netns_has_link(cfg->ext_netns, xf) == 1)
		links_ip(err, sizeof(err), "ip", "-n", cfg->ext_netns, "link", "del", xf, NULL);
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
	applied_forget(t);
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

static int
same_port(const struct net_port *a, const struct net_port *b)
{
	return strcmp(a->netns, b->netns) == 0 && strcmp(a->ifname, b->ifname) == 0 &&
	       strcmp(a->mac, b->mac) == 0 && strcmp(a->address, b->address) == 0 &&
	       strcmp(a->vm_name, b->vm_name) == 0;
}

/* Is p one of list[0..n)? */
static int
port_in(const struct net_port *p, const struct net_port *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (same_port(p, &list[i]))
			return 1;
	return 0;
}

/*
 * One VM's ports in tenant t went from old[] to cur[] (the port table
 * already says cur): add and delete just their set elements, then the
 * DHCP leases. Lock held. A failed change (an operator removed the table,
 * an element is missing) reloads the tenant's whole rule set instead.
 */
static int
ports_change(struct tenant *t, const struct net_port *old, size_t n_old,
	     const struct net_port *cur, size_t n_cur, char *err, size_t errlen)
{
	struct nft_vm_port el;
	struct ports ps;
	char *cmds = NULL, *listing = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&cmds, &len);
	int r;

	if (f == NULL)
		return -ENOMEM;
	for (i = 0; i < n_old; i++) {
		const struct net_port *p = &old[i];

		if (strcmp(p->netns, t->ns_net) != 0 || port_in(p, cur, n_cur))
			continue;
		if (is_trusted(t, p)) {
			snprintf(el.ifname, sizeof(el.ifname), "%s", p->ifname);
			nft_tenant_port(f, 0, &el, 1);
		} else if (port_elems(p, &el)) {
			nft_tenant_port(f, 0, &el, 0);
		}
	}
	for (i = 0; i < n_cur; i++) {
		const struct net_port *p = &cur[i];

		if (strcmp(p->netns, t->ns_net) != 0 || port_in(p, old, n_old))
			continue;
		if (is_trusted(t, p)) {
			snprintf(el.ifname, sizeof(el.ifname), "%s", p->ifname);
			nft_tenant_port(f, 1, &el, 1);
		} else if (port_elems(p, &el)) {
			nft_tenant_port(f, 1, &el, 0);
		}
	}
	if (fclose(f) != 0) {
		free(cmds);
		return -ENOMEM;
	}
	if (len == 0) {
		free(cmds);
		return 0; /* nothing this tenant's kernel state shows */
	}
	r = nftx_run(t->ns_net, cmds, &listing, err, errlen);
	free(cmds);
	if (r < 0) {
		log_warnx("net %s: port change: %s; reloading the rule set", t->st.tenant, err);
		return apply_ports(t, 0, err, errlen);
	}
	free(t->listing_net);
	t->listing_net = listing;
	if ((r = collect_ports(t, &ps)) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	r = dhcp_update(t, &ps, 0, err, errlen);
out:
	ports_free(&ps);
	return r;
}

static int
ports_differ(const struct net_port *a, size_t na, const struct net_port *b, size_t nb)
{
	size_t k;

	for (k = 0; k < na; k++)
		if (!port_in(&a[k], b, nb))
			return 1;
	for (k = 0; k < nb; k++)
		if (!port_in(&b[k], a, na))
			return 1;
	return 0;
}

int
net_ports_set(const char *vm_id, const struct net_port *p, size_t n)
{
	struct net_port old[SPEC_NICS_MAX];
	size_t n_old = 0, k;
	int r = 0;

	if (n > SPEC_NICS_MAX)
		return -EINVAL;
	pthread_mutex_lock(&mtx);
	/* Out with the VM's old ports, in with the new. */
	for (k = 0; k < n_ports;) {
		if (strcmp(ports[k].vm_id, vm_id) == 0) {
			if (n_old < SPEC_NICS_MAX)
				old[n_old++] = ports[k];
			ports[k] = ports[--n_ports];
		} else {
			k++;
		}
	}
	if (n_ports + n > cap_ports) {
		size_t cap = cap_ports ? cap_ports * 2 : 64;
		struct net_port *np;

		while (cap < n_ports + n)
			cap *= 2;
		if ((np = realloc(ports, cap * sizeof(*np))) == NULL) {
			r = -ENOMEM;
			goto out;
		}
		ports = np;
		cap_ports = cap;
	}
	for (k = 0; k < n; k++) {
		ports[n_ports] = p[k];
		snprintf(ports[n_ports].vm_id, sizeof(ports[n_ports].vm_id), "%s", vm_id);
		n_ports++;
	}
	/* Each tenant network the VM was or is on, if it is in the kernel. */
	for (struct tenant *t = tenants; t; t = t->next) {
		char err[512];
		int touched = 0;

		for (k = 0; k < n_old; k++)
			touched |= strcmp(old[k].netns, t->ns_net) == 0;
		for (k = 0; k < n; k++)
			touched |= strcmp(p[k].netns, t->ns_net) == 0;
		if (!touched || !t->ports_applied)
			continue;
		if ((r = ports_change(t, old, n_old, p, n, err, sizeof(err))) < 0)
			log_warnx("net %s: anti-spoofing/DHCP update for VM %s: %s", t->st.tenant,
				  vm_id, err);
		if (ports_hook != NULL && ports_differ(old, n_old, p, n))
			ports_hook(t->st.tenant);
	}
out:
	pthread_mutex_unlock(&mtx);
	return r;
}

void
net_set_trusted(int (*is_trusted_vm)(const char *tenant, const char *vm_name))
{
	pthread_mutex_lock(&mtx);
	trusted_fn = is_trusted_vm;
	pthread_mutex_unlock(&mtx);
}

void
net_set_ports_hook(void (*fn)(const char *tenant))
{
	pthread_mutex_lock(&mtx);
	ports_hook = fn;
	pthread_mutex_unlock(&mtx);
}

int
net_tenant_ports(const char *tenant, struct net_port **out, size_t *n, char *ns_fw,
		 size_t fwlen)
{
	struct tenant *t;
	size_t k;
	int r = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&mtx);
	if ((t = find(tenant)) == NULL) {
		r = -ENOENT;
		goto out;
	}
	snprintf(ns_fw, fwlen, "%s", t->ns_fw);
	if ((*out = calloc(n_ports + 1, sizeof(**out))) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (k = 0; k < n_ports; k++)
		if (strcmp(ports[k].netns, t->ns_net) == 0)
			(*out)[(*n)++] = ports[k];
out:
	pthread_mutex_unlock(&mtx);
	return r;
}

int
net_tenant_get(const char *tenant, struct net_tenant *out, char *ns_net, size_t nslen)
{
	struct tenant *t;
	char err[256];
	json_t *j;
	int r;

	pthread_mutex_lock(&mtx);
	if ((t = find(tenant)) == NULL) {
		pthread_mutex_unlock(&mtx);
		return -ENOENT;
	}
	/* A deep copy through the validated JSON form: the parser is the one
	 * place that knows how to build a struct net_tenant. */
	j = netstate_to_json(&t->st);
	snprintf(ns_net, nslen, "%s", t->ns_net);
	pthread_mutex_unlock(&mtx);
	r = j ? netstate_parse(j, out, err, sizeof(err)) : -ENOMEM;
	json_decref(j);
	return r;
}

int
net_delete_check(const char *tenant, struct op_error *e)
{
	struct tenant *t;
	char err[512];
	int r = 0;

	pthread_mutex_lock(&mtx);
	if ((t = find(tenant)) == NULL)
		r = op_fail(e, "not_found", -ENOENT, "no networks for tenant '%s'", tenant);
	else if (vm_on_dropped_network(t, NULL, err, sizeof(err)))
		r = op_fail(e, "conflict", -EBUSY, "%s", err);
	pthread_mutex_unlock(&mtx);
	return r;
}

/* Did a VPN peer expire since the last look? */
static int
vpn_expiry_passed(const struct tenant *t, long long now)
{
	for (unsigned i = 0; i < t->st.vpn.n_peers; i++) {
		const struct net_vpn_peer *p = &t->st.vpn.peers[i];

		if (netstate_vpn_expired(p, now) && !netstate_vpn_expired(p, t->wg_checked))
			return 1;
	}
	return 0;
}

/* The gateway died, or a peer's time ran out: cut it off (rule and
 * session) and bring the gateway back with the same keys. */
static void
watch_vpn(struct tenant *t)
{
	long long now = time(NULL);
	char err[512];
	int dead;

	if (!t->st.vpn.enabled)
		return;
	dead = !vpn_alive(t->wg_if, t->wg);
	if (!dead && !vpn_expiry_passed(t, now))
		return;
	if (dead)
		log_warnx("net %s: wireguard-go (pid %d) ended; starting it again", t->st.tenant,
			  (int)t->wg);
	else
		log_info("net %s: a vpn peer expired; cutting it off", t->st.tenant);
	if (apply_firewall(t, err, sizeof(err)) < 0 || apply_vpn(t, err, sizeof(err)) < 0)
		log_warnx("net %s: vpn: %s", t->st.tenant, err);
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
			if (t->dnsmasq > 0 && !dhcp_alive(t->dir, t->dnsmasq)) {
				log_warnx("net %s: dnsmasq (pid %d) ended; starting it again",
					  t->st.tenant, (int)t->dnsmasq);
				t->dnsmasq = 0;
				if (dhcp_ensure(t->ns_net, t->dir, &t->dnsmasq, 1) < 0)
					log_warnx("net %s: cannot start dnsmasq", t->st.tenant);
			}
			watch_vpn(t);
			if (t->st.vmvm.enabled && !vpn_alive(t->ul_if, t->ulwg)) {
				char err[512];

				log_warnx("net %s: wireguard-go of the vm-vm tunnel (pid %d) ended; "
					  "starting it again", t->st.tenant, (int)t->ulwg);
				if (apply_vmvm(t, err, sizeof(err)) < 0)
					log_warnx("net %s: vmvm: %s", t->st.tenant, err);
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
	if ((r = links_ensure_ext(cfg->ext_netns, cfg->ext_bridge, err, sizeof(err))) < 0) {
		log_warnx("external network %s/%s: %s", cfg->ext_netns, cfg->ext_bridge, err);
		return r;
	}
	if (cfg->underlay_address[0] != '\0' &&
	    (r = links_check_underlay(cfg->underlay_netns, cfg->underlay_address, err,
				      sizeof(err))) < 0) {
		log_warnx("underlay: %s", err);
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
		t->wg = vpn_adopt(t->dir, t->wg_if);
		t->ulwg = vpn_adopt(t->ul_dir, t->ul_if);
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
		if (apply(t, 0, 1, err, sizeof(err)) < 0)
			log_warnx("net %s: apply at start: %s", t->st.tenant, err);
		else
			log_info("net %s: applied at start", t->st.tenant);
	}
	pthread_mutex_unlock(&mtx);
	if (geteuid() == 0 && pthread_create(&th, NULL, watch, NULL) == 0)
		pthread_detach(th);
}
