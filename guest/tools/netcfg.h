/*
 * netcfg.h - apply a NoCloud network-config (version 2, the subset in
 * docs/guest.md) with ioctls, in the calling process: under emulation each
 * `ip` process costs tens of milliseconds, four of them per NIC.
 *
 * Included by cloudlet-net.c (cold boots: the boot script runs it) and by
 * cloudlet-identity.c (a restored clone applies its network itself), so
 * both read the subset the same way. Header-only: the guest tools are
 * single-file static programs (guest/build.sh).
 *
 * Per entry of "ethernets:": match.macaddress picks the device (case does
 * not matter), else the entry's id is the device's name; set-name renames it
 * (through temporary names, so swaps work); the device is brought up, given
 * its addresses ("addr/prefix", IPv4 or IPv6; the first IPv4 one is the
 * primary, further ones are aliases) and the default route via gateway4;
 * dhcp4 runs busybox udhcpc as the boot script did. Interfaces not listed
 * stay down. Each static IPv4 address is then announced with a gratuitous
 * ARP request: the platform reuses a deleted VM's address for a new VM
 * with another MAC, and the neighbours (the tenant's firewall, the DHCP
 * server's namespace) would otherwise send to the old MAC until their
 * cache entry expires - seconds in which the new VM is ready but cannot be
 * reached.
 */
#ifndef CLOUDLET_NETCFG_H
#define CLOUDLET_NETCFG_H

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define NETCFG_MAX_IF 16
#define NETCFG_MAX_ADDR 8

struct netcfg_if {
	char id[IFNAMSIZ * 2];
	char mac[18];
	char setname[IFNAMSIZ];
	char addrs[NETCFG_MAX_ADDR][64];
	int naddrs;
	char gw[64];
	int dhcp;
	char dev[IFNAMSIZ]; /* resolved */
};

struct netcfg {
	struct netcfg_if ifs[NETCFG_MAX_IF];
	int n;
};

static void
netcfg_warn(const char *fmt, const char *a, const char *b)
{
	printf("cloudlet: warning: network: ");
	printf(fmt, a, b);
	printf("\n");
	fflush(stdout);
}

/* Trim blanks and one pair of quotes, in place. */
static char *
netcfg_unq(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	if (n > 0 && (s[0] == '"' || s[0] == '\'')) {
		s++;
		n--;
	}
	if (n > 0 && (s[n - 1] == '"' || s[n - 1] == '\''))
		s[--n] = '\0';
	return s;
}

static void
netcfg_add_addr(struct netcfg_if *f, char *a)
{
	a = netcfg_unq(a);
	if (*a == '\0')
		return;
	if (f->naddrs == NETCFG_MAX_ADDR) {
		netcfg_warn("too many addresses on %s, %s ignored", f->id, a);
		return;
	}
	snprintf(f->addrs[f->naddrs++], sizeof(f->addrs[0]), "%s", a);
}

/* Parse text (modified in place) into c. */
static void
netcfg_parse(char *text, struct netcfg *c)
{
	char *line, *save = NULL, sect[64] = "";
	int ifind = -1, inaddr = 0;
	struct netcfg_if *f = NULL;

	memset(c, 0, sizeof(*c));
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *p = line, *k, *v, *hash;
		size_t n = strlen(line);
		int ind;

		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		/* a comment after blanks ends the line */
		for (hash = p; (hash = strchr(hash, '#')) != NULL; hash++)
			if (hash[-1] == ' ' || hash[-1] == '\t') {
				*hash = '\0';
				break;
			}
		n = strlen(line);
		while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = '\0';
		for (ind = 0; line[ind] == ' '; ind++)
			;
		p = line + ind;
		if (ind == 0) {
			snprintf(sect, sizeof(sect), "%s", p);
			ifind = -1;
			f = NULL;
			inaddr = 0;
			continue;
		}
		if (strcmp(sect, "ethernets:") != 0)
			continue;
		if (ifind < 0)
			ifind = ind;
		if (ind == ifind) {
			size_t l = strlen(p);

			inaddr = 0;
			while (l > 0 &&
			       (p[l - 1] == ':' || p[l - 1] == ' ' || p[l - 1] == '\t'))
				p[--l] = '\0';
			if (c->n == NETCFG_MAX_IF) {
				netcfg_warn("too many interfaces, %s ignored%s", p, "");
				f = NULL;
				continue;
			}
			f = &c->ifs[c->n++];
			snprintf(f->id, sizeof(f->id), "%s", netcfg_unq(p));
			continue;
		}
		if (f == NULL)
			continue;
		if (inaddr && p[0] == '-' && p[1] == ' ') {
			netcfg_add_addr(f, p + 2);
			continue;
		}
		inaddr = 0;
		k = p;
		v = strchr(p, ':');
		if (v != NULL)
			*v++ = '\0';
		else
			v = k + strlen(k);
		v = netcfg_unq(v);
		if (strcmp(k, "macaddress") == 0) {
			size_t i;

			for (i = 0; v[i] != '\0' && i + 1 < sizeof(f->mac); i++)
				f->mac[i] = (char)tolower((unsigned char)v[i]);
			f->mac[i] = '\0';
		} else if (strcmp(k, "set-name") == 0) {
			snprintf(f->setname, sizeof(f->setname), "%s", v);
		} else if (strcmp(k, "gateway4") == 0) {
			snprintf(f->gw, sizeof(f->gw), "%s", v);
		} else if (strcmp(k, "dhcp4") == 0) {
			f->dhcp = strcmp(v, "true") == 0 || strcmp(v, "yes") == 0;
		} else if (strcmp(k, "addresses") == 0) {
			char *item, *s2 = NULL;

			if (*v == '\0') {
				inaddr = 1;
				continue;
			}
			for (item = v; *item; item++)
				if (*item == '[' || *item == ']')
					*item = ' ';
			for (item = strtok_r(v, ",", &s2); item;
			     item = strtok_r(NULL, ",", &s2))
				netcfg_add_addr(f, item);
		}
	}
}

/* The name of the device with this MAC, or -1. */
static int
netcfg_dev_by_mac(const char *mac, char *out, size_t len)
{
	DIR *d = opendir("/sys/class/net");
	struct dirent *de;
	int found = -1;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char path[300], addr[32] = "";
		FILE *fp;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/net/%s/address", de->d_name);
		fp = fopen(path, "r");
		if (fp == NULL)
			continue;
		if (fgets(addr, sizeof(addr), fp) != NULL)
			addr[strcspn(addr, "\n")] = '\0';
		fclose(fp);
		if (strcasecmp(addr, mac) == 0) {
			snprintf(out, len, "%.15s", de->d_name);
			found = 0;
		}
	}
	closedir(d);
	return found;
}

static int
netcfg_rename(int s, const char *from, const char *to)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", from);
	snprintf(ifr.ifr_newname, IFNAMSIZ, "%s", to);
	return ioctl(s, SIOCSIFNAME, &ifr);
}

static int
netcfg_up(int s, const char *dev)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", dev);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(s, SIOCSIFFLAGS, &ifr);
}

/* "addr/prefix" on dev; label is dev or an alias dev:N for further IPv4. */
static int
netcfg_addr(int s4, const char *dev, const char *label, const char *a)
{
	char ip[64], *slash;
	long prefix;

	snprintf(ip, sizeof(ip), "%s", a);
	slash = strchr(ip, '/');
	if (slash != NULL)
		*slash++ = '\0';
	if (strchr(ip, ':') != NULL) {
		/* the kernel's in6_ifreq (linux/ipv6.h clashes with netinet/in.h) */
		struct {
			struct in6_addr addr;
			unsigned int prefixlen;
			int ifindex;
		} r6;
		int s6, r;

		prefix = slash ? strtol(slash, NULL, 10) : 128;
		memset(&r6, 0, sizeof(r6));
		if (inet_pton(AF_INET6, ip, &r6.addr) != 1 || prefix < 0 || prefix > 128)
			return -1;
		r6.prefixlen = (unsigned)prefix;
		r6.ifindex = (int)if_nametoindex(dev);
		if (r6.ifindex == 0 || (s6 = socket(AF_INET6, SOCK_DGRAM, 0)) < 0)
			return -1;
		r = ioctl(s6, SIOCSIFADDR, &r6);
		close(s6);
		return r;
	} else {
		struct ifreq ifr;
		struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

		prefix = slash ? strtol(slash, NULL, 10) : 32;
		if (prefix < 0 || prefix > 32)
			return -1;
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", label);
		sin->sin_family = AF_INET;
		if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1 ||
		    ioctl(s4, SIOCSIFADDR, &ifr) < 0)
			return -1;
		sin->sin_addr.s_addr = prefix ? htonl(~0u << (32 - prefix)) : 0;
		return ioctl(s4, SIOCSIFNETMASK, &ifr);
	}
}

/*
 * A gratuitous ARP request for the IPv4 address of "addr/prefix" on dev
 * (sender and target address both ours, to the broadcast address): a
 * neighbour that has an entry for the address takes our MAC at once.
 */
static int
netcfg_garp(const char *dev, const char *a)
{
	struct {
		struct arphdr h;
		unsigned char sha[6], spa[4], tha[6], tpa[4];
	} __attribute__((packed)) pkt;
	struct sockaddr_ll ll;
	struct ifreq ifr;
	struct in_addr ip;
	char buf[64], *slash;
	int s, r = -1;

	snprintf(buf, sizeof(buf), "%s", a);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, &ip) != 1)
		return -1;
	s = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (s < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", dev);
	if (ioctl(s, SIOCGIFHWADDR, &ifr) == 0 && ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER) {
		memset(&pkt, 0, sizeof(pkt));
		pkt.h.ar_hrd = htons(ARPHRD_ETHER);
		pkt.h.ar_pro = htons(ETH_P_IP);
		pkt.h.ar_hln = 6;
		pkt.h.ar_pln = 4;
		pkt.h.ar_op = htons(ARPOP_REQUEST);
		memcpy(pkt.sha, ifr.ifr_hwaddr.sa_data, 6);
		memcpy(pkt.spa, &ip, 4);
		memcpy(pkt.tpa, &ip, 4);
		memset(&ll, 0, sizeof(ll));
		ll.sll_family = AF_PACKET;
		ll.sll_protocol = htons(ETH_P_ARP);
		ll.sll_ifindex = (int)if_nametoindex(dev);
		ll.sll_halen = 6;
		memset(ll.sll_addr, 0xff, 6);
		if (ll.sll_ifindex > 0 &&
		    sendto(s, &pkt, sizeof(pkt), 0, (struct sockaddr *)&ll, sizeof(ll)) ==
			(ssize_t)sizeof(pkt))
			r = 0;
	}
	close(s);
	return r;
}

/* Is there an IPv4 default route already? (/proc/net/route) */
static int
netcfg_have_default(void)
{
	char line[256];
	FILE *f = fopen("/proc/net/route", "r");
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char ifn[32];
		unsigned long dst, gw, mask;
		unsigned flags;
		int refcnt, use, metric;

		if (sscanf(line, "%31s %lx %lx %x %d %d %d %lx", ifn, &dst, &gw, &flags,
			   &refcnt, &use, &metric, &mask) == 8 &&
		    dst == 0 && mask == 0)
			found = 1;
	}
	fclose(f);
	return found;
}

/*
 * The default route via gw on dev. As `ip route add` (which the boot script
 * used), a second default route is refused: SIOCADDRT alone would add it
 * next to the first one and send replies out of the wrong interface.
 */
static int
netcfg_default_route(int s, const char *dev, const char *gw)
{
	struct rtentry rt;
	struct sockaddr_in *g = (struct sockaddr_in *)&rt.rt_gateway;
	char name[IFNAMSIZ];

	memset(&rt, 0, sizeof(rt));
	((struct sockaddr_in *)&rt.rt_dst)->sin_family = AF_INET;
	((struct sockaddr_in *)&rt.rt_genmask)->sin_family = AF_INET;
	g->sin_family = AF_INET;
	if (inet_pton(AF_INET, gw, &g->sin_addr) != 1 || netcfg_have_default())
		return -1;
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	snprintf(name, sizeof(name), "%s", dev);
	rt.rt_dev = name;
	return ioctl(s, SIOCADDRT, &rt);
}

/* busybox udhcpc as the boot script ran it: waits for a first lease (or
 * goes to the background after ~5 s), renews in the background. */
static int
netcfg_dhcp(const char *dev)
{
	char pid[80], log[80], host[80] = "cloudlet", hopt[96];
	pid_t p;
	int st;

	gethostname(host, sizeof(host) - 1);
	snprintf(pid, sizeof(pid), "/run/cloudlet/udhcpc.%s.pid", dev);
	snprintf(log, sizeof(log), "/run/cloudlet/udhcpc.%s.log", dev);
	snprintf(hopt, sizeof(hopt), "hostname:%s", host);
	p = fork();
	if (p < 0)
		return -1;
	if (p == 0) {
		int in = open("/dev/null", O_RDONLY),
		    out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (in >= 0)
			dup2(in, 0);
		if (out >= 0) {
			dup2(out, 1);
			dup2(out, 2);
		}
		execlp("udhcpc", "udhcpc", "-i", dev, "-s",
		       "/usr/share/udhcpc/default.script", "-b", "-t", "5", "-T", "1",
		       "-p", pid, "-x", hopt, (char *)NULL);
		_exit(127);
	}
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Apply c; returns the number of problems (each one warned about). */
static int
netcfg_apply(struct netcfg *c)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0), i, bad = 0, tmp = 0;

	if (s < 0) {
		netcfg_warn("no socket: %s%s", strerror(errno), "");
		return 1;
	}
	/* Resolve every entry to its device first; rename the ones that move
	 * to temporary names, so that swaps such as eth0 <-> eth1 work. */
	for (i = 0; i < c->n; i++) {
		struct netcfg_if *f = &c->ifs[i];

		if (f->mac[0] != '\0') {
			if (netcfg_dev_by_mac(f->mac, f->dev, sizeof(f->dev)) < 0) {
				netcfg_warn("no interface with MAC %s (%s)", f->mac,
					    f->id);
				bad++;
				continue;
			}
		} else {
			if (if_nametoindex(f->id) == 0) {
				netcfg_warn("no interface %s%s", f->id, "");
				bad++;
				continue;
			}
			snprintf(f->dev, sizeof(f->dev), "%s", f->id);
		}
		if (f->setname[0] != '\0' && strcmp(f->setname, f->dev) != 0) {
			char t[IFNAMSIZ];

			snprintf(t, sizeof(t), "cltmp%d", ++tmp);
			if (netcfg_rename(s, f->dev, t) < 0) {
				netcfg_warn("cannot rename %s%s", f->dev, "");
				bad++;
			} else {
				snprintf(f->dev, sizeof(f->dev), "%s", t);
			}
		}
	}
	for (i = 0; i < c->n; i++) {
		struct netcfg_if *f = &c->ifs[i];
		int a, alias = 0, v4 = 0; /* at most NETCFG_MAX_ADDR aliases */

		if (f->dev[0] == '\0')
			continue;
		if (f->setname[0] != '\0' && strcmp(f->setname, f->dev) != 0) {
			if (netcfg_rename(s, f->dev, f->setname) < 0) {
				netcfg_warn("cannot rename %s to %s", f->dev, f->setname);
				bad++;
			} else {
				snprintf(f->dev, sizeof(f->dev), "%s", f->setname);
			}
		}
		if (netcfg_up(s, f->dev) < 0) {
			netcfg_warn("cannot bring up %s%s", f->dev, "");
			bad++;
		}
		for (a = 0; a < f->naddrs; a++) {
			char label[IFNAMSIZ];
			int is4 = strchr(f->addrs[a], ':') == NULL;

			if (is4 && v4++ > 0)
				snprintf(label, sizeof(label), "%.10s:%d", f->dev,
					 ++alias % 100);
			else
				snprintf(label, sizeof(label), "%s", f->dev);
			if (netcfg_addr(s, f->dev, label, f->addrs[a]) < 0) {
				netcfg_warn("bad address %s on %s", f->addrs[a], f->dev);
				bad++;
			} else if (is4 && netcfg_garp(f->dev, f->addrs[a]) < 0) {
				/* not fatal: neighbours learn the MAC when they ask */
				netcfg_warn("cannot announce %s on %s (gratuitous ARP)",
					    f->addrs[a], f->dev);
			}
		}
		if (f->gw[0] != '\0' && netcfg_default_route(s, f->dev, f->gw) < 0) {
			netcfg_warn("cannot add default route via %s%s", f->gw, "");
			bad++;
		}
		if (f->dhcp && netcfg_dhcp(f->dev) < 0) {
			netcfg_warn("udhcpc on %s failed%s", f->dev, "");
			bad++;
		}
	}
	close(s);
	return bad;
}

#endif
