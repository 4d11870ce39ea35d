/*
 * cloudlet-identity - the first thing a restored clone runs.
 *
 * A VM cloned from a saved template wakes up with the template's clock,
 * RNG state, MAC addresses and everything else in its RAM. The template's
 * boot script runs this program, which prints "cloudlet: template-ready"
 * and polls the fw_cfg file opt/cloudlet/identity: all zeros in the
 * template (the agent saves it right then), the clone's own identity in
 * each clone, which therefore finds it at its first poll (format:
 * src/agent/cloneid.h, docs/guest.md). Then, in this one process (every
 * exec costs tens of milliseconds under emulation):
 *   - sets the wall clock,
 *   - credits the random bytes to the kernel's input pool (RNDADDENTROPY)
 *     and forces the CRNG to reseed from it now (RNDRESEEDCRNG): writing to
 *     /dev/urandom would leave the CRNG keyed as the template's until its
 *     next scheduled reseed, so two clones would give the same bytes,
 *   - gives eth0, eth1, ... their own MAC addresses,
 *   - writes the clone's NoCloud files (meta-data, network-config,
 *     user-data) to /run/cloudlet/seed and leaves /run/cloudlet/seed.copied
 *     (the boot script then does not look for the seed disk),
 *   - applies meta-data as the boot script would: /run/cloudlet/instance-id,
 *     the hostname, /etc/hostname and /etc/hosts,
 *   - applies network-config as cloudlet-net does (netcfg.h) and leaves
 *     /run/cloudlet/network.applied.
 *   - finishes the boot as cloudlet-finish does (finish.h: user-data, the
 *     service, the wait for its ports, the readiness line or the
 *     service-failed line) and leaves /run/cloudlet/finished.
 * When any of it fails the boot script reads the clone's seed disk instead.
 * Exit status 0 when all of that worked.
 *
 * "cloudlet-identity --seed-dir DIR" (debian-12's template, run by
 * /usr/lib/cloudlet/template): the same wait, clock, RNG and MACs, then the
 * clone's meta-data, user-data and network-config (and an empty
 * vendor-data) written into DIR, a NoCloud seed directory, and nothing
 * else: cloud-init applies them (docs/guest.md, "debian-12 clones").
 */
#include "finish.h"
#include "netcfg.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/random.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define FW_CFG "/sys/firmware/qemu_fw_cfg/by_name/opt/cloudlet/identity/raw"
#define MAGIC "CLOUDLET-IDENTITY 1 "
#define MAX_SEED 256
#define MAX_ID (1 << 20)
#define SEED_DIR "/run/cloudlet/seed"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* pread until len bytes or end of file (sysfs gives a page per call). */
static ssize_t
read_at(int fd, char *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/*
 * Wait for the identity: the file's first bytes stay zero until this VM
 * is a clone. Returns the text after the header line (malloc'd, NUL-ended).
 */
static char *
wait_identity(int fd, size_t *lenp)
{
	char head[64], *buf;
	size_t hlen, blen;
	const struct timespec ms = {0, 1000000};

	for (;;) {
		ssize_t n = read_at(fd, head, sizeof(head) - 1, 0);
		char *nl, *end;

		if (n < 0)
			return NULL;
		head[n] = '\0';
		if (strncmp(head, MAGIC, strlen(MAGIC)) == 0 &&
		    (nl = strchr(head, '\n'))) {
			errno = 0;
			blen = strtoul(head + strlen(MAGIC), &end, 10);
			if (errno || end != nl || blen > MAX_ID)
				return NULL;
			hlen = (size_t)(nl + 1 - head);
			break;
		}
		nanosleep(&ms, NULL);
	}
	buf = malloc(blen + 1);
	if (buf == NULL || read_at(fd, buf, blen, (off_t)hlen) != (ssize_t)blen) {
		free(buf);
		return NULL;
	}
	buf[blen] = '\0';
	*lenp = blen;
	return buf;
}

static int
set_clock(const char *v)
{
	struct timeval tv = {0};
	char *end;

	tv.tv_sec = strtoll(v, &end, 10);
	if (*end == '.') {
		char frac[7] = "000000";
		size_t i;

		for (i = 0; i < 6 && end[1 + i] >= '0' && end[1 + i] <= '9'; i++)
			frac[i] = end[1 + i];
		tv.tv_usec = strtol(frac, NULL, 10);
	}
	return settimeofday(&tv, NULL);
}

static int
reseed(const char *hex)
{
	struct {
		struct rand_pool_info info;
		unsigned char buf[MAX_SEED];
	} req;
	size_t n = strlen(hex), i;
	int fd, r = 0;

	if (n == 0 || n % 2 != 0 || n / 2 > MAX_SEED)
		return -1;
	for (i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		req.buf[i] = (unsigned char)(hi << 4 | lo);
	}
	req.info.entropy_count = (int)(n / 2 * 8);
	req.info.buf_size = (int)(n / 2);
	fd = open("/dev/urandom", O_RDWR);
	if (fd < 0)
		return -1;
	if (ioctl(fd, RNDADDENTROPY, &req.info) < 0 || ioctl(fd, RNDRESEEDCRNG) < 0)
		r = -1;
	close(fd);
	memset(&req, 0, sizeof(req));
	return r;
}

static int
set_mac(int idx, const char *mac)
{
	struct ifreq ifr;
	int s, i, r;

	if (strlen(mac) != 17)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "eth%d", idx);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	for (i = 0; i < 6; i++) {
		int hi = hexval(mac[3 * i]), lo = hexval(mac[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && mac[3 * i + 2] != ':'))
			return -1;
		ifr.ifr_hwaddr.sa_data[i] = (char)(hi << 4 | lo);
	}
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0)
		return -1;
	r = ioctl(s, SIOCSIFHWADDR, &ifr);
	close(s);
	return r;
}

/*
 * Drop the buffer cache of the virtio disks (BLKFLSBUF): the template's
 * kernel read the first blocks of its own seed disk while looking for its
 * root. Needed only when the boot script falls back to the clone's seed
 * disk (its content differs from the template's).
 */
static void
flush_disks(void)
{
	char dev[16];
	char c;

	for (c = 'a'; c <= 'z'; c++) {
		int fd;

		snprintf(dev, sizeof(dev), "/dev/vd%c", c);
		fd = open(dev, O_RDONLY);
		if (fd < 0)
			break;
		ioctl(fd, BLKFLSBUF, 0);
		close(fd);
	}
}

static int
write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode), r = 0;
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = -1;
			break;
		}
		off += (size_t)n;
	}
	if (close(fd) < 0)
		r = -1;
	return r;
}

/* The value of "key: value" in meta-data, blanks and one pair of quotes
 * stripped (as the boot script's unquote); "" when absent. */
static void
meta_value(const char *meta, size_t len, const char *key, char *out, size_t outlen)
{
	const char *p = meta, *end = meta + len;
	size_t kl = strlen(key);

	out[0] = '\0';
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *v, *ve;

		if (nl == NULL)
			nl = end;
		if ((size_t)(nl - p) > kl && strncmp(p, key, kl) == 0 && p[kl] == ':') {
			v = p + kl + 1;
			ve = nl;
			while (v < ve && (*v == ' ' || *v == '\t' || *v == '\r'))
				v++;
			while (ve > v &&
			       (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
				ve--;
			if (ve - v >= 2 && ((*v == '"' && ve[-1] == '"') ||
					    (*v == '\'' && ve[-1] == '\''))) {
				v++;
				ve--;
			}
			snprintf(out, outlen, "%.*s", (int)(ve - v), v);
		}
		p = nl + 1;
	}
}

static int
apply_meta(const char *meta, size_t len, char *iid, size_t iidlen)
{
	char host[256], line[300], hosts[600];
	int bad = 0;

	meta_value(meta, len, "instance-id", iid, iidlen);
	meta_value(meta, len, "local-hostname", host, sizeof(host));
	if (iid[0] == '\0')
		snprintf(iid, iidlen, "none");
	snprintf(line, sizeof(line), "%s\n", iid);
	bad |= write_file("/run/cloudlet/instance-id", line, strlen(line), 0644) < 0;
	if (host[0] != '\0') {
		snprintf(line, sizeof(line), "%s\n", host);
		bad |= write_file("/etc/hostname", line, strlen(line), 0644) < 0;
	} else {
		/* as the boot script: the image's own name, else "cloudlet" */
		FILE *f = fopen("/etc/hostname", "r");

		if (f == NULL || fgets(host, sizeof(host), f) == NULL)
			host[0] = '\0';
		if (f != NULL)
			fclose(f);
		host[strcspn(host, "\r\n")] = '\0';
		if (host[0] == '\0')
			snprintf(host, sizeof(host), "cloudlet");
	}
	bad |= sethostname(host, strlen(host)) < 0;
	snprintf(hosts, sizeof(hosts),
		 "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost\n", host);
	bad |= write_file("/etc/hosts", hosts, strlen(hosts), 0644) < 0;
	return bad ? -1 : 0;
}

/* Apply the key=value lines, then write and apply the seed's files; with
 * seed_dir, only write the NoCloud files there (cloud-init applies them). */
static int
apply(char *id, char *iid, size_t iidlen, const char *seed_dir)
{
	static const char *const names[] = {"meta-data", "network-config", "user-data",
					    "cloudlet-config"};
	size_t sizes[4] = {0, 0, 0, 0}, total = 0, flen, i;
	char *p = id, *files, path[64];
	int bad = 0, have[4] = {0, 0, 0, 0};

	for (;;) {
		char *nl = strchr(p, '\n'), *eq;

		if (nl == NULL)
			return -1;
		*nl = '\0';
		if (*p == '\0') {
			p = nl + 1;
			break;
		}
		eq = strchr(p, '=');
		if (eq != NULL) {
			*eq = '\0';
			if (strcmp(p, "time") == 0) {
				bad |= set_clock(eq + 1) < 0;
			} else if (strcmp(p, "seed") == 0) {
				bad |= reseed(eq + 1) < 0;
				memset(eq + 1, 0, strlen(eq + 1));
			} else if (strncmp(p, "mac", 3) == 0 && p[3] >= '0' &&
				   p[3] <= '9' && p[4] == '\0') {
				bad |= set_mac(p[3] - '0', eq + 1) < 0;
			} else {
				for (i = 0; i < 4; i++)
					if (strcmp(p, names[i]) == 0) {
						sizes[i] = strtoul(eq + 1, NULL, 10);
						have[i] = 1;
					}
			}
		}
		p = nl + 1;
	}
	files = p;
	flen = strlen(files);
	/* cloudlet-config (the 4th) is optional: an older agent has none */
	for (i = 0; i < 4; i++) {
		if ((!have[i] && i < 3) || sizes[i] > flen - total)
			return -1;
		total += sizes[i];
	}
	if (seed_dir != NULL) {
		char dpath[600];

		/* cloud-init's NoCloud seed directory: user-data, meta-data,
		 * network-config (optional) and vendor-data (optional). */
		for (i = 0, total = 0; i < 3; total += sizes[i], i++) {
			snprintf(dpath, sizeof(dpath), "%s/%s", seed_dir, names[i]);
			bad |= write_file(dpath, files + total, sizes[i], 0600) < 0;
		}
		snprintf(dpath, sizeof(dpath), "%s/vendor-data", seed_dir);
		bad |= write_file(dpath, "", 0, 0600) < 0;
		meta_value(files, sizes[0], "instance-id", iid, iidlen);
		return bad ? -1 : 0;
	}
	for (i = 0, total = 0; i < 4; total += sizes[i], i++) {
		snprintf(path, sizeof(path), SEED_DIR "/%s", names[i]);
		bad |= write_file(path, files + total, sizes[i], 0600) < 0;
	}
	bad |= apply_meta(files, sizes[0], iid, iidlen) < 0;
	if (!bad)
		bad |= write_file("/run/cloudlet/seed.copied", "", 0, 0600) < 0;
	if (!bad) {
		/* The network as cloudlet-net would apply it (warnings on the
		 * console); the boot script then skips its network step. */
		char *net = strndup(files + sizes[0], sizes[1]);
		struct netcfg *c = malloc(sizeof(*c));

		if (net == NULL || c == NULL) {
			bad = 1;
		} else {
			netcfg_parse(net, c);
			netcfg_apply(c);
			bad |=
			    write_file("/run/cloudlet/network.applied", "", 0, 0600) < 0;
		}
		free(net);
		free(c);
	}
	return bad ? -1 : 0;
}

/*
 * Read, while still the template, what a clone reads next from its root
 * disk: it is then in the page and dentry caches saved with the template's
 * RAM instead of a disk read through a cold virtio and block path after the
 * restore (about 10 ms for /etc/cloudlet/service alone).
 */
static void
warm_caches(void)
{
	static const char *const paths[] = {
	    "/etc/cloudlet/service", "/etc/cloudlet/ports", "/etc/cloudlet/ready-timeout",
	    "/etc/hostname", "/etc/hosts", "/bin/sh", "/root", "/sbin/udhcpc"};
	char buf[4096];
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int fd = open(paths[i], O_RDONLY);

		if (fd >= 0) {
			while (read(fd, buf, sizeof(buf)) > 0)
				;
			close(fd);
		}
	}
}

int
main(int argc, char **argv)
{
	char iid[256] = "none";
	const char *seed_dir = NULL;
	size_t len = 0;
	char *id;
	int fd, r;

	if (argc == 3 && strcmp(argv[1], "--seed-dir") == 0 && strlen(argv[2]) < 500) {
		seed_dir = argv[2];
	} else if (argc != 1) {
		fprintf(stderr, "usage: cloudlet-identity [--seed-dir DIR]\n");
		return 2;
	}

	fd = open(FW_CFG, O_RDONLY);
	if (fd < 0) {
		printf("cloudlet: template-failed: no fw_cfg file %s (module "
		       "qemu_fw_cfg): %s\n",
		       FW_CFG, strerror(errno));
		return 1;
	}
	if (seed_dir == NULL) {
		warm_caches();
		finish_prestart();
	}
	printf("cloudlet: template-ready\n");
	fflush(stdout);
	id = wait_identity(fd, &len);
	close(fd);
	if (id == NULL) {
		flush_disks();
		fprintf(stderr,
			"cloudlet-identity: the identity is malformed or unreadable\n");
		return 1;
	}
	r = apply(id, iid, sizeof(iid), seed_dir);
	memset(id, 0, len);
	free(id);
	if (r < 0) {
		flush_disks();
		fprintf(stderr,
			"cloudlet-identity: some of the identity could not be applied\n");
		return 1;
	}
	if (seed_dir != NULL)
		return 0;
	/* The rest of the boot, here rather than back in the boot script
	 * (which sees /run/cloudlet/finished and stops). A service that never
	 * listened has its line instead of the readiness line: the boot is
	 * over all the same (the seed disk would start it again). */
	finish_boot(iid);
	close(open("/run/cloudlet/finished", O_WRONLY | O_CREAT, 0600));
	return 0;
}
