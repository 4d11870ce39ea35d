/* tap.c - see tap.h */
#define _GNU_SOURCE
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define FAIL(step)                                                                     \
	do {                                                                           \
		r = -errno;                                                            \
		snprintf(err, errlen, "tap %s: %s: %s", ifname, step, strerror(errno));  \
		goto out;                                                              \
	} while (0)

int
tap_open(const char *netns, const char *bridge, const char *ifname, char *err,
	 size_t errlen)
{
	struct ifreq ifr;
	int tfd = -1, sock = -1, nsfd, r = 0;
	unsigned idx;

	if (netns != NULL && netns[0] != '\0') {
		char path[128];

		snprintf(path, sizeof(path), "/run/netns/%s", netns);
		nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0)
			FAIL("open network namespace");
		if (setns(nsfd, CLONE_NEWNET) < 0) {
			close(nsfd);
			FAIL("enter network namespace");
		}
		close(nsfd);
	}
	tfd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tfd < 0)
		FAIL("open /dev/net/tun");
	memset(&ifr, 0, sizeof(ifr));
	/*
	 * No IFF_VNET_HDR: a clone restores a template whose NIC had a
	 * backend without virtio-net headers, and the saved device state must
	 * match (with them, loading the state fails). Offloads matter little
	 * under emulation.
	 */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	if (ioctl(tfd, TUNSETIFF, &ifr) < 0)
		FAIL("TUNSETIFF");
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		FAIL("socket");
	idx = if_nametoindex(ifname);
	if (idx == 0)
		FAIL("find index");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", bridge);
	ifr.ifr_ifindex = (int)idx;
	if (ioctl(sock, SIOCBRADDIF, &ifr) < 0)
		FAIL("attach to bridge");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		FAIL("get flags");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
		FAIL("set up");
out:
	if (sock >= 0)
		close(sock);
	if (r < 0) {
		if (tfd >= 0)
			close(tfd);
		return r;
	}
	return tfd;
}
