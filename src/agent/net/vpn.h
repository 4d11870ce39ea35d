/*
 * vpn.h - a tenant's WireGuard gateway (road warriors into its networks),
 * in the tenant's firewall namespace (docs/networks.md, "VPN").
 *
 * The engine is wireguard-go (userspace; this host kernel has no
 * WireGuard), started by the agent in a session of its own in the
 * firewall namespace, so it outlives an agent restart and is adopted
 * again like dnsmasq (pid file plus command line). It is configured only
 * over its UAPI socket (/var/run/wireguard/<if>.sock, the cross-platform
 * "set=1"/"get=1" protocol): a key never appears on a command line or in
 * a log. The socket path is global across namespaces, so the interface
 * name carries the agent's prefix and the tenant's hash.
 *
 * What the tunnel may reach is not decided here: the firewall's rule set
 * (nft.h, chain vpn) allows each peer's "reach" only.
 *
 * Called with the net lock held (net.h); a start waits at most a few
 * seconds for the socket.
 *
 * XXX wireguard-go runs as root (it opens /dev/net/tun and cannot drop
 * privileges afterwards); in the firewall namespace it sees only that
 * namespace's interfaces, but a seccomp filter or a dropped uid with
 * CAP_NET_ADMIN alone is not done yet.
 */
#ifndef CLOUDLET_VPN_H
#define CLOUDLET_VPN_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "netstate.h"

/* "<prefix>w<hash>": 0, or -ENAMETOOLONG past 15 characters. */
int vpn_ifname(const char *prefix, const char *tenant_hash, char *out, size_t len);

/* The gateway recorded in <dir>/wg.pid if it still runs for ifname, or 0. */
pid_t vpn_adopt(const char *dir, const char *ifname);

/* Does pid still run the gateway for ifname? Reaps our dead child. */
int vpn_alive(const char *ifname, pid_t pid);

/*
 * Make the gateway match v in namespace ns: started (log <dir>/wg.log)
 * when *pid is 0 or dead, its address and MTU set, then only the
 * differences sent over UAPI: the key and port when they changed, peers
 * added or updated, peers no longer wanted (or expired at now) removed
 * with their sessions. 0 or -errno with err.
 */
int vpn_ensure(const char *ns, const char *dir, const char *ifname, const struct net_vpn *v,
	       long long now, pid_t *pid, char *err, size_t errlen);

/* Stop it (SIGTERM, then SIGKILL), remove its socket and pid file. */
void vpn_stop(const char *dir, const char *ifname, pid_t *pid);

/*
 * The view: interface, pid, listen_port, address, public_key (derived;
 * never the private key) and per peer its state plus, from UAPI "get",
 * last_handshake (unix seconds, 0 = never), rx_bytes, tx_bytes, endpoint.
 */
json_t *vpn_view(const struct net_vpn *v, const char *ifname, pid_t pid, long long now);

#endif
