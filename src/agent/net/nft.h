/*
 * nft.h - nftables rule sets generated from a tenant's validated state.
 *
 * Pure: builds text for `nft -f` (the same text for the firewall namespace
 * and for the firewall VM, only the interface names differ). Each rule set
 * starts by creating and deleting its table, so loading it replaces the
 * previous version in one kernel transaction: no moment without rules, and
 * loading it twice leaves the kernel exactly as loading it once.
 *
 * Nothing from a request reaches the text except through netstate's parsed
 * numbers and the closed-alphabet names checked there.
 */
#ifndef CLOUDLET_NFT_H
#define CLOUDLET_NFT_H

#include <stddef.h>
#include <stdio.h>

#include "netstate.h"

/* The firewall's interfaces: its second port, and its first port on each
 * of the tenant's networks (same order as t->networks). */
struct nft_ports {
	const char *ext;
	const char *in[NET_NETWORKS_MAX];
	const char *in_glob; /* matches every first port, e.g. "in-*" */
	/* The tenant's WireGuard interface (t->vpn), NULL = none; peers
	 * expired at now (unix seconds) get no rule. */
	const char *wg;
	long long now;
};

/* The firewall's rule set (table inet cloudlet). Returns a malloc'd string
 * or NULL on allocation failure. */
char *nft_firewall(const struct net_tenant *t, const struct nft_ports *p);

/* A VM port on a tenant network: the only MAC and IPv4 address it may
 * send with. */
struct nft_vm_port {
	char ifname[16];
	char mac[18];
	uint32_t ip;
};

/*
 * The tenant namespace's rule set: anti-spoofing on the bridge (table
 * bridge cloudlet) for every interface named "vt*" (VM taps) that is not in
 * trusted (the firewall VM's own taps, which forward others' traffic), and
 * an input filter for the namespace's own address, which serves only DHCP
 * (table inet cloudlet).
 */
char *nft_tenant(const struct nft_vm_port *ports, size_t n_ports, const char *const *trusted,
		 size_t n_trusted);

/*
 * One port's change to nft_tenant's rule set as commands (to f): add
 * (add != 0) or delete its elements, vm_mac and vm_ip for a policed port,
 * trusted for a trusted one (only p->ifname is used then). Adding what is
 * there already changes nothing; deleting what is missing fails the whole
 * transaction (the caller then reloads the rule set).
 */
void nft_tenant_port(FILE *f, int add, const struct nft_vm_port *p, int trusted);

#endif
