/*
 * netplan.h - from cloudletd's network records (store_net.h) to the
 * agent's desired state for a tenant (`net.apply`, docs/agent-protocol.md),
 * and keeping the agent in step after every change.
 *
 * The agent is told the whole state every time, so a lost or repeated
 * update is harmless: the next one converges.
 *
 * Several hosts (docs/hosts.md): the state goes to every host with a VM of
 * the tenant and to its home host (firewall, DHCP); on hosts with an
 * underlay address each network carries its VNI and the peers (the
 * underlay addresses of the tenant's other hosts), the others are
 * "member"s, and the home host gets the DHCP leases of the VMs elsewhere
 * (remote_ports). A host left without VMs of the tenant gets net.delete.
 */
#ifndef CLOUDLET_NETPLAN_H
#define CLOUDLET_NETPLAN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"

/* The tenant's desired state in the agent's form (new reference). */
json_t *netplan_desired(const char *tenant_id);

/*
 * Send it to the agent, after a change to the tenant's records: done once
 * an apply that started after changed_us (CLOCK_MONOTONIC, µs: when the
 * caller's change was stored) has ended, so concurrent callers share one
 * (a tenant's applies run one at a time, in the order they read the
 * store). 0, or -errno with the reason in err. An agent that is restarting
 * is waited for up to budget_ms. A failure marks the host's network state
 * dirty: the next reconciliation sends every tenant's state.
 */
int netplan_sync_shared(const char *tenant_id, uint64_t changed_us, unsigned budget_ms, char *err,
			size_t errlen);
/* The same for a change stored just now, waiting up to NETPLAN_HTTP_RETRY_MS
 * (the API's synchronous changes). */
#define NETPLAN_HTTP_RETRY_MS 5000
int netplan_sync(const char *tenant_id, char *err, size_t errlen);
/* Was a sync lost since the last call? (clears the mark) */
int netplan_take_dirty(void);
/* Every tenant's state again at the next reconciliation (a host is back). */
void netplan_mark_dirty(void);

/* The tenant's home host (its firewall and VPN gateway). */
int netplan_home(const char *tenant_id, char *home, size_t len);

/* A new tenant: its default network and external address, then sync. */
int netplan_tenant_init(const char *tenant_id, char *err, size_t errlen);

/* Remove the tenant's networks from the agent (missing is success). */
int netplan_tenant_delete(const char *tenant_id, char *err, size_t errlen);

/*
 * A new VM: a NIC on each named network (NULL: the tenant's default), and
 * ingress rules for the service's ports (origin "service"). 0 or -errno
 * (-ENOENT unknown network, -ENOSPC full) with err.
 */
int netplan_vm_attach(const char *tenant_id, const char *vm_id, const json_t *networks,
		      const struct service *sv, char *err, size_t errlen);

/* The VM's NICs in the agent's spec form. */
json_t *netplan_agent_nics(const char *tenant_id, const char *vm_id);

#endif
