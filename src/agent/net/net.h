/*
 * net.h - tenant networks and firewalls on this host (agent side).
 *
 *   tenant VMs --tap--> bridge br-<net> in namespace cln-<tenant>
 *                       (cl: the agent's --name-prefix, config.h)
 *                          | veth fw-<net> / in-<net>   (first port)
 *                       namespace clf-<tenant>: the tenant's firewall (nftables)
 *                          | veth ext0 / xf-<tenant>     (second port)
 *                       bridge clext0 in namespace cloudlet-ext: the shared
 *                       external network
 *
 * The control plane sends a tenant's whole desired state (net.apply); the
 * agent makes the kernel match it (creating what is missing, removing what
 * is no longer wanted), persists it in <state>/net/<tenant>/desired.json and
 * applies it again at start. Applying twice leaves the kernel unchanged.
 *
 * In firewall mode "vm" there is no firewall namespace: the appliance layer
 * (appliance/fwvm.h, above this module and the VM table) runs a firewall
 * VM with the same rule set. Nothing here waits for a VM.
 *
 * Locking: one mutex guards the tenants and the port table; it is taken
 * without any other module's lock held and held only across kernel changes
 * (iproute2, libnftables), never across a wait for a VM or another agent
 * operation. Lock order: net -> nftx (nftx.h).
 */
#ifndef CLOUDLET_NET_H
#define CLOUDLET_NET_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"
#include "netstate.h"
#include "operr.h"
#include "spec.h"

/* Load persisted tenants and apply them; create the external network. */
int net_init(const struct agent_config *cfg);

/* Apply every loaded tenant again (once the VMs are loaded: the
 * anti-spoofing sets come from the VM table). */
void net_apply_all(void);

int net_apply(const json_t *args, json_t **out, struct op_error *e);
/* Apply the tenant's state in full again, whatever this process applied
 * before (an operator changed the kernel by hand, a bridge was lost). */
int net_repair(const char *tenant, json_t **out, struct op_error *e);
int net_show(const char *tenant, json_t **out, struct op_error *e);
int net_delete(const char *tenant, struct op_error *e);
json_t *net_list(void);

/*
 * Resolve a VM NIC's "network" ("<tenant>/<network id>") to the namespace
 * and bridge its tap joins, and the network's gateway and prefix.
 */
int net_nic_resolve(const char *network, char *netns, size_t nslen, char *bridge,
		    size_t brlen, char *gateway, size_t gwlen, unsigned *prefix, char *err,
		    size_t errlen);

/*
 * VM ports: every NIC of every VM on a tenant network, as the VM table
 * (vm.h, above this module) reports them. A port is policed by the
 * tenant's anti-spoofing sets (only its MAC, only its address) and gets a
 * static DHCP lease; a trusted port (the firewall appliance's, which
 * forwards other hosts' packets) is exempt. A port without an address may
 * not send at all.
 */
struct net_port {
	char vm_id[17];
	char vm_name[SPEC_NAME_MAX + 1]; /* for messages */
	char netns[64];                  /* only cln-* namespaces matter here */
	char bridge[16];
	char ifname[16];  /* the tap */
	char mac[18];
	char address[19]; /* IPv4 CIDR or "" */
};

/*
 * Make ports[0..n) the ports of VM vm_id (n = 0: it has none any more,
 * e.g. it was deleted). Applied at once and only as a change: the port's
 * elements are added to or removed from the tenant's sets in-process
 * (libnftables, one transaction) and its DHCP lease written; the whole
 * tenant rule set is reloaded only if that fails. Before net_apply_all
 * (agent start) only recorded.
 */
int net_ports_set(const char *vm_id, const struct net_port *ports, size_t n);

/* Is the VM named vm_name the tenant's firewall appliance (its ports are
 * trusted)? Set by the layer that makes appliances (appliance/fwvm.h),
 * which net does not import. */
void net_set_trusted(int (*is_trusted)(const char *tenant, const char *vm_name));

/*
 * Tell a layer above (appliance/ids.h) that the VM ports of a tenant
 * changed. fn is called with the net lock held: it must only take note
 * (no call into net, no wait).
 */
void net_set_ports_hook(void (*fn)(const char *tenant));

/*
 * Copies of the VM ports on a tenant's networks, trusted ones included
 * (free() *out), and the tenant's firewall namespace. 0, -ENOENT or
 * -ENOMEM.
 */
int net_tenant_ports(const char *tenant, struct net_port **out, size_t *n, char *ns_fw,
		     size_t fwlen);

/*
 * A copy of a tenant's desired state (netstate_free it) and its tenant
 * namespace: what the firewall appliance is configured from. 0 or -ENOENT.
 */
int net_tenant_get(const char *tenant, struct net_tenant *out, char *ns_net, size_t nslen);

/* Can the tenant's networks be deleted (no VM but its appliance on them)?
 * 0, or -EBUSY/-ENOENT with e filled. */
int net_delete_check(const char *tenant, struct op_error *e);

/* The external network's namespace and bridge (agent options). */
const char *net_ext_netns(void);
const char *net_ext_bridge(void);

#endif
