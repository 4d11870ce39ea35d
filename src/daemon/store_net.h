/*
 * store_net.h - cloudletd's network state: a tenant's networks, its VMs'
 * NICs, external addresses, port forwards and firewall rules, and the
 * address management (IPAM) that hands out their addresses.
 *
 * Same conventions as store.h (0 or -errno; -ENOENT also for another
 * tenant's object; -EDQUOT for a limit; -ENOSPC when a pool is full;
 * -ENOTEMPTY when a network still has VMs; -EPERM for the tenant's default
 * address, which goes only with the tenant).
 */
#ifndef CLOUDLET_STORE_NET_H
#define CLOUDLET_STORE_NET_H

#include <jansson.h>

#include "store.h"

#define NET_PER_TENANT_MAX 8   /* the agent's NET_NETWORKS_MAX */
#define RULES_PER_TENANT_MAX 1000
#define ADDRESSES_PER_TENANT_MAX 16
#define FORWARDS_PER_TENANT_MAX 200
#define NICS_PER_VM_MAX 4

/* The external network's pool (cloudletd --external-pool) and gateway. */
int store_net_set_pool(const char *cidr, const char *gateway);
const char *store_net_pool(void);     /* "198.18.0.0/24" */
const char *store_net_gateway(void);  /* "" when none */

/* cidr NULL: the first free 10.N.0.0/24. */
int store_net_create(const char *tenant_id, const char *name, const char *cidr,
		     json_t **out);
json_t *store_net_list(const char *tenant_id);
/* By id or name. */
int store_net_get(const char *tenant_id, const char *id_or_name, json_t **out);
int store_net_delete(const char *tenant_id, const char *id);

/* Give VM vm_id a NIC (index idx) on network_id with the lowest free host
 * address (.10 and up). */
int store_nic_add(const char *vm_id, int idx, const char *network_id);
/* [{idx, network_id, network, cidr, address, mac}] (mac: "" until its agent
 * gave it) */
json_t *store_vm_nics(const char *vm_id);

int store_addr_alloc(const char *tenant_id, int is_default, json_t **out);
json_t *store_addr_list(const char *tenant_id);
int store_addr_get(const char *tenant_id, const char *id, json_t **out);
int store_addr_set_vm(const char *tenant_id, const char *id, const char *vm_id);
int store_addr_delete(const char *tenant_id, const char *id);

int store_fwd_add(const char *tenant_id, const char *address_id, const char *protocol,
		  int port, const char *vm_id, int to_port, json_t **out);
json_t *store_fwd_list(const char *tenant_id);
int store_fwd_delete(const char *tenant_id, const char *id);

struct rule_row {
	char direction[8], action[8], protocol[8];
	int port_min, port_max; /* 0 = any */
	char remote[20];
	char target_vm[STORE_ID_LEN];      /* one of these two, or neither (all networks) */
	char target_network[STORE_ID_LEN];
	int priority;
	char origin[80];
};
int store_rule_add(const char *tenant_id, const struct rule_row *r, json_t **out);
json_t *store_rule_list(const char *tenant_id);
int store_rule_delete(const char *tenant_id, const char *id);

int store_fw_mode(const char *tenant_id, char *mode, size_t len);
int store_fw_set_mode(const char *tenant_id, const char *mode);

#endif
