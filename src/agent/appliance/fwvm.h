/*
 * fwvm.h - a tenant's firewall as an appliance VM (firewall mode "vm",
 * claim 9): VM "fw-<tenant>" from image "firewall", its first NIC on the
 * external bridge (second port), one more per tenant network (first ports),
 * configured over a virtio-serial channel with a script that renames its
 * interfaces by MAC (ext0, in-<net>), sets the addresses and loads the same
 * nftables rule set the namespace firewall gets (nft.h). At most 3 networks
 * (a VM has at most 4 NICs).
 *
 * The appliance layer sits above both the VM table (vm.h) and the tenant
 * networks (net.h): net never creates or waits for a VM. A sync boots and
 * configures the appliance with no lock held (one sync per tenant at a
 * time; other tenants' calls never wait for it). The coming IDS sensors
 * and VPN gateways belong in this folder too.
 */
#ifndef CLOUDLET_FWVM_H
#define CLOUDLET_FWVM_H

#include <stddef.h>

#include "operr.h"

#define FWVM_NETWORKS_MAX 3

/* Tell net which VMs are appliances; start the watcher that configures an
 * appliance again after it rebooted or crashed. */
int fwvm_init(void);

/*
 * Make the tenant's appliance match its network state (net_tenant_get):
 * in mode vm, exist, run, be ready and hold the rule set; in mode
 * namespace, not exist. Blocks while the VM boots (up to minutes under
 * emulation). 0 or -errno with e.
 */
int fwvm_sync(const char *tenant, struct op_error *e);

/* Delete the tenant's appliance if there is one. */
int fwvm_delete(const char *tenant, struct op_error *e);

/* The appliance's VM name for a tenant key. */
void fwvm_name(const char *tenant, char *out, size_t len);

#endif
