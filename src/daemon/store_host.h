/*
 * store_host.h - the hosts behind this control plane (docs/hosts.md):
 * their records, heartbeats, placement of new VMs, and what a tenant has on
 * which host (its home host, the hosts that got its networks, VNIs, NIC
 * MACs). Implemented in store_host.c (db.h); same conventions as
 * store.h (0 or -errno, json_t results are new references).
 *
 * A host is reached over its agent's unix socket (hosts simulated on one
 * machine) or, when it has an address, over mutual TLS 1.3 to that address,
 * accepting only the agent certificate whose fingerprint it records
 * (agentc.h). The host "local" is the agent cloudletd was started with
 * (--agent-socket): the single-host default.
 */
#ifndef CLOUDLET_STORE_HOST_H
#define CLOUDLET_STORE_HOST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define HOST_LOCAL "local"

/* Placement settings (cloudletd serve --placement, --vcpu-overcommit). */
enum place_policy { PLACE_SPREAD, PLACE_PACK };
void store_host_set_policy(enum place_policy p, unsigned vcpu_overcommit);

/* The host local with this socket and underlay address ("" for none;
 * made or updated). */
int store_host_ensure_local(const char *socket, const char *underlay);
/* A new host: -EEXIST if the name is taken. *out its record. */
int store_host_add(const char *name, const char *socket, const char *underlay, const char *site,
		   json_t **out);
/* A host by id or name, with its use (VMs, vCPUs, memory, disk of the VMs
 * placed there). */
int store_host_get(const char *id_or_name, json_t **out);
/* The hosts this control plane runs VMs on: all of them when it is alone,
 * else those of its site (store_host_set_site, from --site-name). */
json_t *store_host_list(void);
void store_host_set_site(const char *site);
const char *store_host_site(void);	 /* that site ("" when alone) */
json_t *store_host_list_all(void);	 /* every host, whatever its site */
json_t *store_host_list_peer_site(void); /* the other site's (site neither "" nor ours) */
int store_host_of_site(const char *id);	 /* 1: a host of this control plane's site */
/* Its id from an id or a name. */
int store_host_resolve(const char *id_or_name, char *id, size_t len);
int store_host_set_draining(const char *id, int draining);
/* -ENOTEMPTY while it holds VMs. */
int store_host_remove(const char *id);
/* A new host reached over TLS at address (IPv4:port) whose agent presents
 * the certificate with this fingerprint. -EEXIST if the name is taken. */
int store_host_add_tls(const char *name, const char *address, const char *fingerprint,
		       const char *underlay, const char *site, json_t **out);

/* How to reach a host's agent: its socket, or its address and pinned
 * fingerprint (address "" for a socket). */
struct host_endpoint {
	char socket[512];
	char address[64];
	char fingerprint[72];
};
int store_host_endpoint(const char *id, struct host_endpoint *ep);
/* Why its last heartbeat failed ("" once it answers). */
int store_host_set_reason(const char *id, const char *reason);

/*
 * Join tokens (POST /v1/hosts/tokens, docs/hosts.md): one-time, expiring,
 * for one host name; only the hash of the secret is stored (auth.h).
 * expires_at in seconds since the epoch.
 */
int store_join_token_add(const char *name, const unsigned char hash[32], int64_t expires_at,
			 char *id, size_t idlen);
/* [{id, name, expires_at, created_at}] (no secret, no hash). */
json_t *store_join_token_list(void);
int store_join_token_delete(const char *id);

/* What a joining agent says about itself (already validated). */
struct host_join {
	const char *name, *address, *fingerprint, *underlay;
};
/*
 * A host joins: in one transaction, the token with this secret's hash is
 * taken (and deleted) and the host registered with its address and
 * fingerprint. 0 and *out; -EACCES no such token (unknown or used),
 * -ETIME expired (deleted too), -EPERM the token is for another name,
 * -EEXIST the name is taken. tok_id (STORE_ID_LEN) gets the token's id
 * when there was one, for the audit log.
 */
int store_host_join(const unsigned char hash[32], int64_t now, const struct host_join *j,
		    json_t **out, char *tok_id);

/* The agent's socket and underlay address of a host. */
int store_host_socket(const char *id, char *path, size_t len);
int store_host_underlay(const char *id, char *addr, size_t len);
/* Is the host marked down? (1, 0, -ENOENT) */
int store_host_is_down(const char *id);

/*
 * A heartbeat answered (info: the agent's host.info): capacity, version,
 * time, state up. 1 if the host was down before (it came back), else 0.
 */
int store_host_heartbeat_ok(const char *id, const json_t *info);
/* No answer for too long: the host goes down, its VMs "unknown" (their
 * state kept in last_state). 1 if it was up before. */
int store_host_mark_down(const char *id);

/*
 * Placement, inside the create's transaction (store_vm_create): the host
 * for a VM of this spec. 0 with its id, or -ENOSPC with why (the filter
 * that excluded the last host). Filters: draining, down, vCPUs, memory,
 * disk (the VMs' disks at most the host's filesystem: they are sparse, so
 * this is the most they can grow to), and anti-affinity: a host that holds
 * a VM of the tenant's group is out if this VM or that one asked for it.
 * Weigher: spread (least used memory share) or pack (most used), with the
 * template bonus below; ties by host name.
 */
struct place_req {
	int64_t vcpus, memory_mib, disk_gib;
	const char *tenant_id; /* NULL: no group to look at */
	const char *group;     /* "" or NULL: none */
	int anti_affinity;
	const char *image;     /* NULL: no template preference */
	const char *exclude;   /* NULL, or a host not to choose (a VM's own) */
};
/* A host with a ready template for the VM's fit (its agent reports them
 * in host.info) counts as this much less used under spread and more under
 * pack: it clones the VM in a fraction of a cold boot. */
#define PLACE_TEMPLATE_BONUS 0.25
int store_host_place(const struct place_req *q, char *id, size_t len, char *why, size_t whylen);
/* Why the last store_vm_create of this thread could not place its VM. */
const char *store_host_place_why(void);

/*
 * A VM being moved (docs/migration.md): its destination while it moves
 * (NULL: none; charged there in the hosts' use and counted as a host of
 * the tenant), then its new host.
 */
int store_vm_migrating(const char *vm_id, const char *to);
int store_vm_migrating_to(const char *vm_id, char *host, size_t len); /* "" if none */
int store_vm_moved(const char *vm_id, const char *host_id);

/* A VM's host ("" if no such VM). */
int store_vm_host(const char *vm_id, char *host, size_t len);
/* VMs recorded on a host (like store_vm_list). */
json_t *store_vm_list_host(const char *host_id);

/* A tenant's hosts: the distinct hosts of its VMs. Array of ids. */
json_t *store_tenant_vm_hosts(const char *tenant_id);
/* Its home host ("" if none yet). */
int store_tenant_home(const char *tenant_id, char *host, size_t len);
/* The hosts that were sent the tenant's networks, and keeping that list. */
json_t *store_tenant_applied_hosts(const char *tenant_id);
int store_tenant_applied_set(const char *tenant_id, const char *host_id, int applied);

/* The VNI of each of a tenant's networks: {network id: vni}. */
json_t *store_net_vnis(const char *tenant_id);
/* A NIC's MAC, as the host made it. */
int store_nic_set_mac(const char *vm_id, int idx, const char *mac);
/* How many of a VM's NICs have no MAC recorded yet. */
int store_vm_macs_missing(const char *vm_id);
/* {mac, address} of the tenant's NICs of VMs not on host_id (MAC known). */
json_t *store_tenant_remote_ports(const char *tenant_id, const char *host_id);

#endif
