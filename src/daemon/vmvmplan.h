/*
 * vmvmplan.h - a tenant's VM-to-VM channels (kind "vm-vm", docs/networks.md
 * "VM to VM") as what each host's agent gets: the `vmvm` object of its
 * net.apply state (netplan.c).
 *
 * The tunnel ends at the hosts: per tenant and host one WireGuard
 * interface in the host's underlay namespace; its peers are the other
 * hosts that run a VM of the same channel (the pairs of hosts of each
 * channel's VMs), and the tenant's VXLAN between such hosts is sent to
 * their tunnel addresses, so it crosses the datacenter link only
 * encrypted. Keys: one pair per tenant and host, made by cloudletd
 * (store_vpn_host_key); a host's private key goes only into its own
 * net.apply, the others get its public key.
 */
#ifndef CLOUDLET_VMVMPLAN_H
#define CLOUDLET_VMVMPLAN_H

#include <jansson.h>

/* The `vmvm` object for host_id (new reference; holds that host's private
 * key: it goes only into net.apply), or NULL when no vm-vm channel pairs
 * host_id with another host that has an underlay address. */
json_t *vmvmplan_agent(const char *tenant_id, const char *host_id);

#endif
