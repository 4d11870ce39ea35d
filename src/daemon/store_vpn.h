/*
 * store_vpn.h - a tenant's VPN channels (/v1/vpn, docs/networks.md "VPN
 * channels"): its gateway (UDP port, tunnel address pool, public key),
 * its channels and their peers. Same conventions as store.h.
 *
 * Secrets: a peer's private key is never here (the customer's computer
 * holds it; one the API made is returned once and forgotten). The
 * gateway's private key is not in the database either: it is the file
 * <state-dir>/vpn/<tenant>.key (base64, mode 0600, in a 0700 directory of
 * the daemon's user), read only to build the agent's state (netplan.c).
 */
#ifndef CLOUDLET_STORE_VPN_H
#define CLOUDLET_STORE_VPN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define VPN_LISTEN_PORT 51820
#define VPN_PEERS_MAX 64 /* per tenant (the agent takes 256) */
#define VPN_LIST_MAX 16  /* VMs of a vm-client channel, remote CIDRs */

/* Where the gateways' key files live: <dir>/vpn (cloudletd serve). */
void store_vpn_set_dir(const char *state_dir);

/*
 * The tenant's gateway, made on first use: a key pair (the private key
 * to its file first), UDP port VPN_LISTEN_PORT and a /24 tunnel pool in
 * 100.96.0.0/16 that overlaps none of avoid (CIDR strings: the tenant's
 * networks). *out {listen_port, pool, public_key}. -ENOSPC no pool left.
 */
int store_vpn_gateway_ensure(const char *tenant_id, const json_t *avoid, json_t **out);
int store_vpn_gateway_get(const char *tenant_id, json_t **out);
/* The gateway's private key, base64 (45 bytes; the caller wipes it). */
int store_vpn_gateway_key(const char *tenant_id, char out[45]);

/* The gateway's key file and the peers' preshared keys go with the
 * tenant (its rows cascade). */
void store_vpn_gateway_forget(const char *tenant_id);

/*
 * A peer's optional preshared key: like the gateway's private key, a file
 * of the daemon's, <state-dir>/vpn/<tenant>/<peer id>.psk (0600, in 0700
 * directories), never in the database; read only for the agent's state.
 * get: 0, or -ENOENT when the peer has none.
 */
int store_vpn_psk_put(const char *tenant_id, const char *peer_id, const char *psk);
int store_vpn_psk_get(const char *tenant_id, const char *peer_id, char out[45]);
void store_vpn_psk_forget(const char *tenant_id, const char *peer_id);

/*
 * Is cidr (a network the tenant wants) in conflict with its VPN: -EADDRINUSE
 * when it overlaps the tunnel pool or a channel's remote CIDRs, else 0.
 */
int store_vpn_net_clash(const char *tenant_id, const char *cidr);
/* The number of channels on a network (it cannot go while there are). */
int64_t store_vpn_net_users(const char *tenant_id, const char *network_id);

struct vpn_channel_row {
	char tenant_id[24];
	char name[64];
	char kind[24];
	const char *network_id; /* NULL for vm-client */
	const char *vms;        /* JSON array text of VM ids */
	const char *remote_cidrs; /* JSON array text */
	const char *dns;        /* "" = none */
};

/* -EEXIST for a name taken; *out the stored channel (id in "id"). */
int store_vpn_channel_add(const struct vpn_channel_row *c, json_t **out);
int store_vpn_channel_get(const char *tenant_id, const char *id_or_name, json_t **out);
json_t *store_vpn_channel_list(const char *tenant_id);
/* Its peers go with it. -ENOENT. */
int store_vpn_channel_delete(const char *tenant_id, const char *id);

struct vpn_peer_row {
	char tenant_id[24];
	char channel_id[40];
	char name[64];
	char public_key[45];
	char address[20];   /* "100.96.0.2" */
	const char *endpoint; /* "" or "ip:port" (site to site) */
	int64_t expires_at; /* unix seconds, 0 = never */
};

/* -EEXIST: the key, address or name is taken. */
int store_vpn_peer_add(const struct vpn_peer_row *p, json_t **out);
int store_vpn_peer_get(const char *tenant_id, const char *channel_id, const char *id_or_name,
		       json_t **out);
/* A channel's peers, or (channel_id NULL) the tenant's. */
json_t *store_vpn_peer_list(const char *tenant_id, const char *channel_id);
int store_vpn_peer_delete(const char *tenant_id, const char *channel_id, const char *id);
int64_t store_vpn_peer_count(const char *tenant_id);

/*
 * VM to VM (docs/networks.md, "VM to VM"): the tenant's tunnel between its
 * hosts. Its slot (1..VPN_VMVM_SLOTS, unique per control plane) gives the
 * UDP port VPN_VMVM_PORT_BASE + slot and the tunnel addresses
 * 100.112.0.0/12 + slot*256 + host number. make: allocate one if it has
 * none. The slot, or -ENOENT (none, !make), -ENOSPC.
 */
#define VPN_VMVM_PORT_BASE 52000
#define VPN_VMVM_SLOTS 4095
int store_vpn_vmvm_slot(const char *tenant_id, int make);
void store_vpn_vmvm_forget(const char *tenant_id);
/* A host's private key for the tenant's tunnel (base64; the caller wipes
 * it), made on first use: the file <state-dir>/vpn/<tenant>/vmvm-<host>.key
 * (0600), never in the database, a view, a log or an event. */
int store_vpn_host_key(const char *tenant_id, const char *host_id, char out[45]);

#endif
