/*
 * links.h - a tenant's interfaces, addresses and routes (net.h has the
 * picture): bridges in the tenant's namespace, the firewall namespace's
 * veth ports, the shared external bridge.
 *
 * Made with iproute2 inside the namespaces (netns.h). This runs when a
 * tenant's networks, addresses or firewall mode change and at agent start;
 * a VM's create, start and delete never come here (net.c applies a VM's
 * port in-process).
 */
#ifndef CLOUDLET_LINKS_H
#define CLOUDLET_LINKS_H

#include <stddef.h>

#include "netstate.h"

/* Where a tenant's links live. */
struct links_where {
	const char *ns_net, *ns_fw;         /* the tenant's two namespaces */
	const char *ext_netns, *ext_bridge; /* the shared external network */
	const char *name_prefix;            /* config.h */
	const char *underlay_netns;         /* config.h: "" = the agent's */
	const char *underlay_address;       /* config.h: "" = no VXLAN */
};

/* VXLAN needs 50 bytes on top of a guest's 1500: the underlay device that
 * holds address (in ns, "" = the agent's) must carry 1550-byte frames.
 * 0, or -EINVAL with the device and its MTU in err. */
#define LINKS_UNDERLAY_MTU 1550
int links_check_underlay(const char *ns, const char *address, char *err, size_t errlen);
/* The MTU of the underlay device holding address, or -errno. */
int links_underlay_mtu(const char *ns, const char *address);

/* The firewall's port on the external bridge for a tenant hash: "xf-<hash>"
 * for the default prefix "cl", "<prefix>x-<hash>" for others (at most 14
 * bytes). */
void links_ext_port(const char *prefix, const char *hash, char *out, size_t len);

/* The shared external network: its namespace and bridge, up. */
int links_ensure_ext(const char *ext_netns, const char *ext_bridge, char *err, size_t errlen);

/* Make the links of st exist (and the ones it no longer has go). */
int links_apply(const struct net_tenant *st, const struct links_where *w, char *err,
		size_t errlen);

/* Run `ip ...` (argv NULL-terminated after errlen) in the agent's
 * namespace: 0 or -errno with err. */
int links_ip(char *err, size_t errlen, ...);

#endif
