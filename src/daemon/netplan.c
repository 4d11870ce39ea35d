/* netplan.c - see netplan.h */
#define _GNU_SOURCE
#include "netplan.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentc.h"
#include "log.h"
#include "netstate.h"
#include "store_host.h"
#include "store_ids.h"
#include "store_net.h"
#include "vmvmplan.h"
#include "vpnplan.h"

static const char *
str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* The address part of "10.0.0.10/24". */
static void
host_of(const char *cidr, char *out, size_t len)
{
	const char *slash = strchr(cidr, '/');
	size_t n = slash ? (size_t)(slash - cidr) : strlen(cidr);

	if (n >= len)
		n = len - 1;
	memcpy(out, cidr, n);
	out[n] = '\0';
}

/* The first NIC address of a VM, "" when it has none. */
static void
vm_address(const char *vm_id, char *out, size_t len)
{
	json_t *nics = store_vm_nics(vm_id);

	out[0] = '\0';
	if (json_array_size(nics) > 0)
		host_of(str(json_array_get(nics, 0), "address"), out, len);
	json_decref(nics);
}

static void
add_rule(json_t *rules, const json_t *r, const char *local)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "direction", str(r, "direction"),
			      "action", str(r, "action"), "protocol", str(r, "protocol"), "remote",
			      str(r, "remote"), "local", local, "priority",
			      json_integer_value(json_object_get(r, "priority")));

	if (json_is_integer(json_object_get(r, "port_min"))) {
		json_object_set(o, "port_min", json_object_get(r, "port_min"));
		json_object_set(o, "port_max", json_object_get(r, "port_max"));
	}
	json_array_append_new(rules, o);
}

json_t *
netplan_desired(const char *tenant_id)
{
	json_t *d = json_object(), *nets = store_net_list(tenant_id), *an = json_array();
	json_t *addrs = store_addr_list(tenant_id), *aa = json_array();
	json_t *fwds = store_fwd_list(tenant_id), *af = json_array();
	json_t *rules = store_rule_list(tenant_id), *ar = json_array(), *o;
	char mode[16] = "namespace", prefix[4] = "24";
	size_t i;

	store_fw_mode(tenant_id, mode, sizeof(mode));
	/* Intrusion detection on its networks (on unless the tenant turned it
	 * off) with its own rules (docs/ids.md). */
	if (store_ids_get(tenant_id, &o) == 0) {
		const char *cr = json_string_value(json_object_get(o, "custom_rules"));

		json_object_set_new(d, "ids", json_pack("{s:O}", "enabled", json_object_get(o, "enabled")));
		if (cr != NULL && cr[0] != '\0')
			json_object_set_new(json_object_get(d, "ids"), "custom_rules", json_string(cr));
		json_decref(o);
		/* Its suppressions that have not expired (the sensor drops the
		 * rest itself once they expire). */
		o = store_ids_sup_list(tenant_id, 1, (long long)time(NULL));
		if (json_array_size(o) > 0)
			json_object_set(json_object_get(d, "ids"), "suppress", o);
		json_decref(o);
	}
	if (strchr(store_net_pool(), '/'))
		snprintf(prefix, sizeof(prefix), "%s", strchr(store_net_pool(), '/') + 1);
	json_object_set_new(d, "tenant", json_string(tenant_id));
	json_object_set_new(d, "mode", json_string(mode));
	json_array_foreach(nets, i, o)
		json_array_append_new(an, json_pack("{s:s, s:s}", "id", str(o, "id"), "cidr",
						    str(o, "cidr")));
	json_object_set_new(d, "networks", an);
	json_array_foreach(addrs, i, o) {
		char vmip[16];

		if (json_integer_value(json_object_get(o, "is_default"))) {
			json_t *e = json_pack("{s:s++}", "address", str(o, "address"), "/", prefix);

			if (store_net_gateway()[0])
				json_object_set_new(e, "gateway", json_string(store_net_gateway()));
			json_object_set_new(d, "external", e);
			continue;
		}
		json_t *x = json_pack("{s:s}", "address", str(o, "address"));

		if (json_is_string(json_object_get(o, "vm_id"))) {
			vm_address(str(o, "vm_id"), vmip, sizeof(vmip));
			if (vmip[0])
				json_object_set_new(x, "vm", json_string(vmip));
		}
		json_array_append_new(aa, x);
	}
	json_object_set_new(d, "addresses", aa);
	json_array_foreach(fwds, i, o) {
		char vmip[16];

		vm_address(str(o, "vm_id"), vmip, sizeof(vmip));
		if (vmip[0] == '\0')
			continue; /* a VM without NICs cannot be reached */
		json_array_append_new(af, json_pack("{s:s, s:s, s:O, s:s, s:O}", "address",
						    str(o, "address"), "protocol",
						    str(o, "protocol"), "port",
						    json_object_get(o, "port"), "to", vmip, "to_port",
						    json_object_get(o, "to_port")));
	}
	json_object_set_new(d, "forwards", af);
	json_array_foreach(rules, i, o) {
		char local[24];

		if (json_is_string(json_object_get(o, "target_vm"))) {
			json_t *nics = store_vm_nics(str(o, "target_vm")), *n;
			size_t k;

			json_array_foreach(nics, k, n) {
				char h[16];

				host_of(str(n, "address"), h, sizeof(h));
				snprintf(local, sizeof(local), "%s/32", h);
				add_rule(ar, o, local);
			}
			json_decref(nics);
		} else {
			json_t *n;
			size_t k;

			json_array_foreach(nets, k, n) {
				if (json_is_string(json_object_get(o, "target_network")) &&
				    strcmp(str(o, "target_network"), str(n, "id")) != 0)
					continue;
				add_rule(ar, o, str(n, "cidr"));
			}
		}
	}
	json_object_set_new(d, "rules", ar);
	/* The VPN gateway with its private key: this object goes only into
	 * net.apply (never into a log or a view). */
	if ((o = vpnplan_agent(tenant_id)) != NULL)
		json_object_set_new(d, "vpn", o);
	json_decref(nets);
	json_decref(addrs);
	json_decref(fwds);
	json_decref(rules);
	return d;
}

/* A sync failed: reconciliation sends every tenant's state again. */
static int dirty;


int
netplan_take_dirty(void)
{
	return __atomic_exchange_n(&dirty, 0, __ATOMIC_SEQ_CST);
}

void
netplan_mark_dirty(void)
{
	__atomic_store_n(&dirty, 1, __ATOMIC_SEQ_CST);
}

static int
has(const json_t *arr, const char *s)
{
	const json_t *e;
	size_t i;

	json_array_foreach(arr, i, e) if (strcmp(json_string_value(e), s) == 0) return 1;
	return 0;
}

/*
 * The hosts that get the tenant's state: its home host (the first that got
 * one of its VMs; before any, "local" if there is such a host: the single-
 * host default) and every host with one of its VMs. *home gets the home.
 */
static json_t *
tenant_hosts(const char *tenant_id, char *home, size_t len)
{
	json_t *hosts = store_tenant_vm_hosts(tenant_id);
	char sock[8];

	if (store_tenant_home(tenant_id, home, len) < 0 || home[0] == '\0') {
		if (store_host_socket(HOST_LOCAL, sock, sizeof(sock)) == 0 ||
		    json_array_size(hosts) == 0)
			snprintf(home, len, "%s", HOST_LOCAL);
		else
			snprintf(home, len, "%s", json_string_value(json_array_get(hosts, 0)));
	}
	if (json_array_size(hosts) == 0 && store_host_socket(home, sock, sizeof(sock)) < 0 &&
	    strcmp(home, HOST_LOCAL) == 0) {
		/* No host local and no VM yet: nothing to send anywhere. */
		json_decref(hosts);
		return json_array();
	}
	if (!has(hosts, home))
		json_array_insert_new(hosts, 0, json_string(home));
	return hosts;
}

/*
 * The state for one host of the tenant: on a host with an underlay address
 * (several hosts), each network's VNI and the underlay addresses of the
 * tenant's other hosts; "member" on a host that is not the home; the home
 * host's DHCP leases for the tenant's VMs elsewhere. Without an underlay
 * address (the single host "local"), exactly the single-host state.
 */
static json_t *
desired_for(const char *tenant_id, const char *host, const char *home, const json_t *hosts)
{
	json_t *d = netplan_desired(tenant_id), *n, *o;
	char underlay[64] = "";
	size_t i;

	store_host_underlay(host, underlay, sizeof(underlay));
	if (strcmp(host, home) != 0) {
		json_object_set_new(d, "role", json_string("member"));
		json_object_del(d, "vpn"); /* the gateway is the home host's */
	}
	if (underlay[0] != '\0') {
		json_t *vnis = store_net_vnis(tenant_id), *peers = json_array(), *h;
		size_t k;

		json_array_foreach(hosts, k, h) {
			char u[64] = "";

			if (strcmp(json_string_value(h), host) == 0)
				continue;
			if (store_host_underlay(json_string_value(h), u, sizeof(u)) == 0 && u[0])
				json_array_append_new(peers, json_string(u));
		}
		json_array_foreach(json_object_get(d, "networks"), i, n) {
			json_t *vni = json_object_get(vnis, str(n, "id"));

			if (json_is_integer(vni)) {
				json_object_set(n, "vni", vni);
				json_object_set(n, "peers", peers);
			}
		}
		json_decref(peers);
		json_decref(vnis);
		/* VM-to-VM channels: this host's tunnel to the paired hosts
		 * (with its private key: only into net.apply). */
		if ((o = vmvmplan_agent(tenant_id, host)) != NULL)
			json_object_set_new(d, "vmvm", o);
	}
	if (strcmp(host, home) == 0 && json_array_size(hosts) > 1) {
		json_t *rp = store_tenant_remote_ports(tenant_id, host);

		if (json_array_size(rp) > 0)
			json_object_set_new(d, "remote_ports", rp);
		else
			json_decref(rp);
	}
	return d;
}

/*
 * The whole state every time, to every host of the tenant (sending it
 * twice is harmless); a host that had it and has no VM of the tenant any
 * more gets net.delete. With several hosts, a host marked down is skipped
 * and does not fail the caller (reconciliation sends it again when it is
 * back: a hung agent blocks no one); with one, the caller waits for its
 * agent as before.
 */
static int
apply_now(const char *tenant_id, unsigned budget_ms, char *err, size_t errlen)
{
	char code[32], home[STORE_ID_LEN] = "", e[512];
	json_t *hosts = tenant_hosts(tenant_id, home, sizeof(home));
	json_t *had = store_tenant_applied_hosts(tenant_id), *h;
	size_t i, n = json_array_size(hosts);
	int rc = 0;

	err[0] = '\0';
	json_array_foreach(hosts, i, h) {
		const char *id = json_string_value(h);
		int r;

		if (n > 1 && store_host_is_down(id) == 1)
			continue; /* sent again when it is back (its heartbeat marks it) */
		if (!store_host_of_site(id))
			continue; /* the other site's (docs/dr.md): never ours to change */
		r = agentc_call_retry(id, "net.apply", desired_for(tenant_id, id, home, hosts), NULL,
				      code, e, sizeof(e), budget_ms, 1);
		if (r < 0) {
			log_warnx("netplan %s on %s: %s", tenant_id, id, e);
			__atomic_store_n(&dirty, 1, __ATOMIC_SEQ_CST);
			if (rc == 0) {
				rc = r;
				snprintf(err, errlen, "%s", e);
			}
		} else
			store_tenant_applied_set(tenant_id, id, 1);
	}
	/* Hosts left without a VM of the tenant carry nothing of it. */
	json_array_foreach(had, i, h) {
		const char *id = json_string_value(h);
		int r;

		if (has(hosts, id))
			continue;
		if (store_host_is_down(id) == 1 || !store_host_of_site(id))
			continue; /* the same */
		r = agentc_call(id, "net.delete", json_pack("{s:s}", "tenant", tenant_id), NULL,
				   code, e, sizeof(e));
		if (r == 0 || (r == -EREMOTEIO && strcmp(code, "not_found") == 0))
			store_tenant_applied_set(tenant_id, id, 0);
		else {
			log_warnx("netplan %s: net.delete on %s: %s", tenant_id, id, e);
			__atomic_store_n(&dirty, 1, __ATOMIC_SEQ_CST);
		}
	}
	json_decref(had);
	json_decref(hosts);
	return rc;
}

/*
 * A tenant's applies run one at a time, so the agent never gets an older
 * read of the store after a newer one. An apply reads the store when it
 * starts, so one that started after a caller's change was stored covers
 * that caller: it waits for that apply's outcome instead of sending
 * another. Ten creates at once (their rules stored by the API before the
 * first of them is made) share one or two applies, not ten (the agent
 * applies a tenant's whole state each time, 100-400 ms, under one lock).
 */
struct shared {
	char tenant[64];
	int running, rc;
	uint64_t done_start; /* the last finished apply read the store after this */
	char err[512];
	struct shared *next;
};
static pthread_mutex_t sh_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sh_cond = PTHREAD_COND_INITIALIZER;
static struct shared *sh_list;

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int
netplan_sync_shared(const char *tenant_id, uint64_t changed_us, unsigned budget_ms, char *err,
		    size_t errlen)
{
	struct shared *t;
	int rc;

	pthread_mutex_lock(&sh_mtx);
	for (t = sh_list; t != NULL && strcmp(t->tenant, tenant_id) != 0; t = t->next)
		;
	if (t == NULL) {
		t = calloc(1, sizeof(*t));
		if (t == NULL) {
			pthread_mutex_unlock(&sh_mtx);
			return apply_now(tenant_id, budget_ms, err, errlen);
		}
		snprintf(t->tenant, sizeof(t->tenant), "%s", tenant_id);
		t->next = sh_list;
		sh_list = t;
	}
	while (t->done_start <= changed_us) {
		uint64_t start;
		char e[512];

		if (t->running) {
			/* Covering this change or not, wait for it to end. */
			pthread_cond_wait(&sh_cond, &sh_mtx);
			continue;
		}
		t->running = 1;
		start = now_us();
		pthread_mutex_unlock(&sh_mtx);
		rc = apply_now(tenant_id, budget_ms, e, sizeof(e));
		pthread_mutex_lock(&sh_mtx);
		t->running = 0;
		t->done_start = start;
		t->rc = rc;
		snprintf(t->err, sizeof(t->err), "%s", rc < 0 ? e : "");
		pthread_cond_broadcast(&sh_cond);
	}
	rc = t->rc;
	snprintf(err, errlen, "%s", t->err);
	pthread_mutex_unlock(&sh_mtx);
	return rc;
}

int
netplan_sync(const char *tenant_id, char *err, size_t errlen)
{
	return netplan_sync_shared(tenant_id, now_us(), NETPLAN_HTTP_RETRY_MS, err, errlen);
}

int
netplan_home(const char *tenant_id, char *home, size_t len)
{
	json_t *hosts = tenant_hosts(tenant_id, home, len);

	json_decref(hosts);
	return home[0] ? 0 : -ENOENT;
}

int
netplan_tenant_init(const char *tenant_id, char *err, size_t errlen)
{
	int r;

	if ((r = store_net_create(tenant_id, "default", NULL, NULL)) < 0 && r != -EEXIST) {
		snprintf(err, errlen, "cannot create the default network (%s)", strerror(-r));
		return r;
	}
	if ((r = store_addr_alloc(tenant_id, 1, NULL)) < 0) {
		snprintf(err, errlen, "no external address left in %s", store_net_pool());
		return r;
	}
	return netplan_sync(tenant_id, err, errlen);
}

int
netplan_tenant_delete(const char *tenant_id, char *err, size_t errlen)
{
	char code[32], home[STORE_ID_LEN] = "";
	json_t *hosts = tenant_hosts(tenant_id, home, sizeof(home));
	json_t *had = store_tenant_applied_hosts(tenant_id), *h;
	size_t i;
	int rc = 0;

	/* Every host that has or had it. */
	json_array_foreach(had, i, h) if (!has(hosts, json_string_value(h)))
		json_array_append(hosts, h);
	json_array_foreach(hosts, i, h) {
		int r = agentc_call(json_string_value(h), "net.delete",
				    json_pack("{s:s}", "tenant", tenant_id), NULL, code, err, errlen);

		if (r == -EREMOTEIO && strcmp(code, "not_found") == 0)
			r = 0;
		if (r == 0)
			store_tenant_applied_set(tenant_id, json_string_value(h), 0);
		else if (rc == 0)
			rc = r;
	}
	json_decref(had);
	json_decref(hosts);
	return rc;
}

int
netplan_vm_attach(const char *tenant_id, const char *vm_id, const json_t *networks,
		  const struct service *sv, char *err, size_t errlen)
{
	json_t *net;
	size_t i, n = networks ? json_array_size(networks) : 1;
	int r;

	for (i = 0; i < n; i++) {
		const char *name = networks ? json_string_value(json_array_get(networks, i))
					    : "default";

		if ((r = store_net_get(tenant_id, name, &net)) < 0) {
			snprintf(err, errlen, "no network '%s'", name);
			return r;
		}
		r = store_nic_add(vm_id, (int)i, str(net, "id"));
		if (r == -EEXIST)
			snprintf(err, errlen, "the VM is on network '%s' twice", name);
		else if (r < 0)
			snprintf(err, errlen, "network '%s' has no free address", name);
		json_decref(net);
		if (r < 0)
			return r;
	}
	/* The service's ports, open to everyone, visible in the rule list. */
	for (i = 0; sv && i < sv->n_ports; i++) {
		struct rule_row rr = {.priority = 1000};
		json_t *out = NULL;

		snprintf(rr.direction, sizeof(rr.direction), "ingress");
		snprintf(rr.action, sizeof(rr.action), "allow");
		snprintf(rr.protocol, sizeof(rr.protocol), "%s", sv->ports[i].proto);
		rr.port_min = rr.port_max = sv->ports[i].port;
		snprintf(rr.remote, sizeof(rr.remote), "0.0.0.0/0");
		snprintf(rr.target_vm, sizeof(rr.target_vm), "%s", vm_id);
		snprintf(rr.origin, sizeof(rr.origin), "service:%s", sv->id);
		if ((r = store_rule_add(tenant_id, &rr, &out)) < 0) {
			snprintf(err, errlen, "cannot open the service's port %d (%s)",
				 sv->ports[i].port, r == -EDQUOT ? "too many rules" : strerror(-r));
			return r;
		}
		json_decref(out);
	}
	return 0;
}

json_t *
netplan_agent_nics(const char *tenant_id, const char *vm_id)
{
	json_t *nics = store_vm_nics(vm_id), *out = json_array(), *n;
	size_t i;

	json_array_foreach(nics, i, n) {
		json_array_append_new(out, json_pack("{s:s++, s:s}", "network", tenant_id, "/",
						     str(n, "network_id"), "address",
						     str(n, "address")));
	}
	json_decref(nics);
	return out;
}
