/*
 * net_fwvm.h - a tenant's firewall as an appliance VM (firewall mode "vm",
 * claim 9): VM "fw-<tenant>" from image "firewall", its first NIC on the
 * external bridge (second port), one more per tenant network (first ports),
 * configured over a virtio-serial channel with a script that renames its
 * interfaces by MAC (ext0, in-<net>), sets the addresses and loads the same
 * nftables rule set the namespace firewall gets (nft.h). At most 3 networks
 * (a VM has at most 4 NICs).
 */
#ifndef CLOUDLET_NET_FWVM_H
#define CLOUDLET_NET_FWVM_H

#include <stddef.h>

#include "netstate.h"

#define FWVM_NETWORKS_MAX 3

/* Make the appliance for tenant t (its networks' bridges live in ns_net)
 * exist, run, and hold t's configuration. 0 or -errno with err. */
int fwvm_ensure(const struct net_tenant *t, const char *ns_net, char *err, size_t errlen);

/* When the appliance's current boot started ("" if it is not running and
 * ready): a boot the agent did not configure yet needs fwvm_ensure. */
void fwvm_boot(const char *tenant, char *out, size_t len);

/* Delete the tenant's appliance if there is one. */
int fwvm_delete(const char *tenant, char *err, size_t errlen);

/* The appliance's VM name for a tenant key. */
void fwvm_name(const char *tenant, char *out, size_t len);

#endif
