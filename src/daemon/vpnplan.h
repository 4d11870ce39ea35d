/*
 * vpnplan.h - from a tenant's VPN channels (store_vpn.h) to what others
 * get: the `vpn` object of the agent's state (netplan.c), a peer's
 * wg-quick configuration, and the gateway's port as a firewall rule.
 *
 * One gateway per tenant (one key, one UDP port on its external address,
 * in its firewall namespace: docs/networks.md) carries all its channels;
 * a channel's kind only decides what its peers may reach:
 *   network-client   the channel's network
 *   vm-client        the listed VMs' addresses (/32 each)
 *   network-network  the channel's network, and the remote CIDRs are
 *                    routed into the tunnel to its one peer
 */
#ifndef CLOUDLET_VPNPLAN_H
#define CLOUDLET_VPNPLAN_H

#include <jansson.h>
#include <stddef.h>

#define VPN_MTU 1420

/*
 * The agent's `vpn` for the tenant (new reference; holds the gateway's
 * private key: it goes only into net.apply), or NULL when it has no
 * channel, no external address, or a firewall that is not a namespace.
 */
json_t *vpnplan_agent(const char *tenant_id);

/* What a channel's peers may reach on the tenant's side, as CIDRs (new
 * reference, maybe empty: a vm-client whose VMs are gone). */
json_t *vpnplan_reach(const char *tenant_id, const json_t *channel);

/*
 * A peer's wg-quick text (malloc'd; the caller wipes and frees it). priv
 * NULL: a placeholder line the CLI fills in (VPNPLAN_PLACEHOLDER); psk
 * NULL: if the peer has a preshared key, its placeholder line
 * (VPNPLAN_PSK_PLACEHOLDER): it is returned once only, when made.
 */
#define VPNPLAN_PLACEHOLDER "PrivateKey = (your private key; the platform never has it)"
#define VPNPLAN_PSK_PLACEHOLDER "PresharedKey = (your preshared key; given once, when made)"
char *vpnplan_config(const char *tenant_id, const json_t *channel, const json_t *peer,
		     const char *priv, const char *psk);

/* The gateway's UDP port as a read-only rule of the tenant's firewall
 * (GET /v1/firewall/rules), or NULL without a gateway in use. */
json_t *vpnplan_rule(const char *tenant_id);

/* The agent's view of the gateway (net.show's "vpn"), or NULL. */
json_t *vpnplan_status(const char *tenant_id);

#endif
