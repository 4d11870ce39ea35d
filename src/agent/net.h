/*
 * net.h - tenant networks and firewalls on this host (agent side).
 *
 *   tenant VMs --tap--> bridge br-<net> in namespace cln-<tenant>
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
 * In firewall mode "vm" the firewall namespace is replaced by a firewall
 * appliance VM (net_fwvm.c) with the same rule set.
 */
#ifndef CLOUDLET_NET_H
#define CLOUDLET_NET_H

#include <jansson.h>
#include <stddef.h>

#include "vm.h"

/* Load persisted tenants and apply them; create the external network. */
int net_init(const struct agent_config *cfg);

/* Apply every loaded tenant again (once the VMs are loaded: the
 * anti-spoofing sets come from the VM table). */
void net_apply_all(void);

int net_apply(const json_t *args, json_t **out, struct op_error *e);
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

/* A VM with NICs in netns was created, started or deleted: refresh that
 * tenant's anti-spoofing set and DHCP leases. No-op for other namespaces. */
void net_ports_changed(const char *netns);

/* The external network's namespace and bridge (agent options). */
const char *net_ext_netns(void);
const char *net_ext_bridge(void);

#endif
