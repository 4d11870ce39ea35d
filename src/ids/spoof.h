/*
 * spoof.h - what only the platform knows: which MAC has which IPv4 address
 * (the VMs' NICs, from the tenant's network state), which MACs route for
 * other addresses (the tenant's firewall), and which host is the tenant's
 * DHCP server.
 *
 *  - ARP spoofing: an ARP packet whose sender IP is assigned, but not to
 *    its sender MAC (sid 9100020); an assigned MAC claiming an IP that is
 *    not its own (9100021).
 *  - IP/MAC misuse: an IPv4 packet from an assigned MAC whose source is
 *    not that MAC's address, or whose source is another MAC's address
 *    (9100022). Routers may send any source. 0.0.0.0 (DHCP) is allowed.
 *  - Rogue DHCP: a DHCPOFFER or DHCPACK whose sender MAC or server
 *    identifier is not the tenant's DHCP server (9100030).
 * Checks run only when the table (or the DHCP server) was configured.
 */
#ifndef CLOUDLET_IDS_SPOOF_H
#define CLOUDLET_IDS_SPOOF_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "finding.h"

#define SPOOF_MAX_ASSIGNED 4096
#define SPOOF_MAX_ROUTERS 16

struct spoof_entry {
	uint8_t mac[6];
	uint32_t ip;
	char vm[64];
};

struct spoof_cfg {
	struct spoof_entry *a; /* owned, sorted by ip */
	int na;
	uint8_t routers[SPOOF_MAX_ROUTERS][6];
	int nrouters;
	uint8_t dhcp_set, dhcp_mac[6];
	uint32_t dhcp_ip;
	uint8_t spoof_on, dhcp_on;
};

void spoof_free(struct spoof_cfg *c);
void spoof_check(const struct spoof_cfg *c, const struct pkt *p, finding_fn fn, void *arg);
/* The VM an address is assigned to, or NULL. */
const char *spoof_vm_of(const struct spoof_cfg *c, uint32_t ip);

/* DHCP message type (option 53) of a BOOTP payload, the server identifier
 * (option 54, 0 if absent): 0, or -1 when it is not DHCP. */
int spoof_dhcp_parse(const uint8_t *d, size_t len, int *type, uint32_t *server_id);

#endif
