/*
 * dhcp.h - one dnsmasq per tenant, in the tenant's namespace, answering
 * DHCP on each of its networks with the addresses the platform assigned
 * (static leases only: a MAC it does not know gets nothing). No DNS
 * (port=0). dnsmasq starts as root to bind port 67, then runs as nobody.
 */
#ifndef CLOUDLET_DHCP_H
#define CLOUDLET_DHCP_H

#include <stddef.h>
#include <sys/types.h>

#include "netstate.h"

struct dhcp_host {
	char mac[18];
	uint32_t ip;
};

/* Write <dir>/dnsmasq.conf and <dir>/hosts. 0 or -errno. */
int dhcp_write(const char *dir, const struct net_tenant *t, const struct dhcp_host *hosts,
	       size_t n_hosts);

/*
 * Make sure dnsmasq runs for dir in netns ns with the current files: started
 * when *pid is 0 or dead, told to re-read its hosts when alive (restart when
 * the networks changed: restart_needed). Updates *pid.
 */
int dhcp_ensure(const char *ns, const char *dir, pid_t *pid, int restart_needed);

/* Is the dnsmasq for dir with this pid still running? Reaps it if it was
 * our child. */
int dhcp_alive(const char *dir, pid_t pid);

/* Stop it (SIGTERM, then SIGKILL) and forget it. */
void dhcp_stop(const char *dir, pid_t *pid);

/* The pid recorded in <dir>/dnsmasq.pid if that process runs dnsmasq for
 * dir (after an agent restart), else 0. */
pid_t dhcp_adopt(const char *dir);

#endif
