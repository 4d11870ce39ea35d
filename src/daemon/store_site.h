/*
 * store_site.h - what the database holds of a disaster-recovery pair
 * (docs/dr.md): where each VM's disks are replicated at the standby site.
 * Same conventions as store.h. The hosts' sites are in store_host.h.
 */
#ifndef CLOUDLET_STORE_SITE_H
#define CLOUDLET_STORE_SITE_H

#include <jansson.h>
#include <stddef.h>

/* The standby site's host holding vm_id's replica ("" and -ENOENT if
 * none), and the VM's id at its agent (the replica's name, 16 hex digits). */
int store_replica_host(const char *vm_id, char *host, size_t len, char *agent_id, size_t alen);
/* Record it (made or replaced). */
int store_replica_set(const char *vm_id, const char *host_id, const char *agent_id);
int store_replica_delete(const char *vm_id);
/* How many replicas a host holds (to spread them). */
int64_t store_replica_count(const char *host_id);

/*
 * The VMs the primary replicates: every VM on a host of this control
 * plane's site, [{id, tenant_id, host_id, state, disk_gib, volumes}]
 * (volumes: how many it has attached).
 */
json_t *store_replica_candidates(void);

/*
 * After a failover, the VMs recorded on the other site's hosts:
 * [{id, tenant_id, host_id, state, replica_host, agent_id}] (replica_host
 * "" when none was made).
 */
json_t *store_replica_orphans(void);

/* The tenant's home host (its firewall, netplan.c) moves to host_id. */
int store_tenant_set_home(const char *tenant_id, const char *host_id);

#endif
