/*
 * cloudlet-identity - the first thing a restored clone runs.
 *
 * A VM cloned from a saved template wakes up with the template's clock,
 * RNG state, MAC addresses and block caches. The template's boot script
 * runs this program where it stopped; the agent then types one line on the
 * serial console:
 *
 *   CLOUDLET-IDENTITY time=EPOCH seed=HEX mac0=MAC [mac1=MAC ...]
 *
 * and this program, in one process (every exec costs tens of milliseconds
 * under emulation):
 *   - reads that line from /dev/ttyS0 with echo off (other lines are skipped),
 *   - sets the wall clock,
 *   - credits the random bytes to the kernel's input pool (RNDADDENTROPY)
 *     and forces the CRNG to reseed from it now (RNDRESEEDCRNG): writing to
 *     /dev/urandom would leave the CRNG keyed as the template's until its
 *     next scheduled reseed, so two clones would give the same bytes,
 *   - gives eth0, eth1, ... their own MAC addresses,
 *   - drops the buffer cache of the virtio disks (BLKFLSBUF): the template's
 *     kernel cached blocks of its own seed disk, the clone's differs,
 *   - copies the clone's NoCloud seed (the vfat disk labelled CIDATA) to
 *     /run/cloudlet/seed and leaves /run/cloudlet/seed.copied, which the
 *     boot script takes instead of doing the same with five more processes.
 * Exit status 0 when all of that worked.
 */
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
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <termios.h>
#include <unistd.h>

#define MAX_SEED 256
#define PREFIX "CLOUDLET-IDENTITY "

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

static int
read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (c == '\n' || c == '\r') {
			buf[n] = '\0';
			if (strncmp(buf, PREFIX, strlen(PREFIX)) == 0)
				return 0;
			n = 0; /* not ours: keep waiting */
			continue;
		}
		if (n + 1 < len)
			buf[n++] = c;
	}
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

/* The vfat volume label at the FAT12/16 or the FAT32 offset. */
static int
is_cidata(const char *dev)
{
	unsigned char b[512];
	int fd = open(dev, O_RDONLY), i, ok = 0;
	static const int offs[] = {43, 71};

	if (fd < 0)
		return 0;
	if (pread(fd, b, sizeof(b), 0) == (ssize_t)sizeof(b))
		for (i = 0; i < 2; i++)
			ok |= strncasecmp((const char *)b + offs[i], "CIDATA ", 7) == 0;
	close(fd);
	return ok;
}

static int
copy_file(const char *from, const char *to)
{
	char buf[8192];
	int in = open(from, O_RDONLY), out, r = 0;
	ssize_t n;

	if (in < 0)
		return errno == ENOENT ? 0 : -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			r = -1;
	if (n < 0)
		r = -1;
	close(in);
	close(out);
	return r;
}

static void
copy_seed(void)
{
	static const char *const files[] = {"meta-data", "user-data", "network-config"};
	const char *mnt = "/run/cloudlet/seed.mnt";
	char dev[16], from[64], to[64];
	char c;
	int i, bad = 0;

	for (c = 'a'; c <= 'z'; c++) {
		snprintf(dev, sizeof(dev), "/dev/vd%c", c);
		if (access(dev, F_OK) < 0)
			return;
		if (is_cidata(dev))
			break;
	}
	if (c > 'z' || mount(dev, mnt, "vfat", MS_RDONLY, NULL) < 0)
		return; /* the boot script looks again and says what is wrong */
	for (i = 0; i < 3; i++) {
		snprintf(from, sizeof(from), "%s/%s", mnt, files[i]);
		snprintf(to, sizeof(to), "/run/cloudlet/seed/%s", files[i]);
		bad |= copy_file(from, to) < 0;
	}
	umount(mnt);
	if (!bad)
		close(open("/run/cloudlet/seed.copied", O_WRONLY | O_CREAT, 0600));
}

int
main(void)
{
	char line[2048], *tok, *save = NULL;
	struct termios saved, quiet;
	int fd, bad = 0;

	fd = open("/dev/ttyS0", O_RDWR | O_NOCTTY);
	if (fd < 0) {
		perror("cloudlet-identity: /dev/ttyS0");
		return 1;
	}
	/* The line carries the RNG seed: do not echo it to the console log. */
	if (tcgetattr(fd, &saved) == 0) {
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		tcsetattr(fd, TCSANOW, &quiet);
	}
	printf("cloudlet: template-ready\n");
	fflush(stdout);
	if (read_line(fd, line, sizeof(line)) < 0) {
		fprintf(stderr, "cloudlet-identity: no identity line\n");
		return 1;
	}
	tcsetattr(fd, TCSANOW, &saved);
	close(fd);
	for (tok = strtok_r(line + strlen(PREFIX), " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save)) {
		if (strncmp(tok, "time=", 5) == 0) {
			struct timeval tv = {.tv_sec = strtoll(tok + 5, NULL, 10)};

			bad |= settimeofday(&tv, NULL) < 0;
		} else if (strncmp(tok, "seed=", 5) == 0) {
			bad |= reseed(tok + 5) < 0;
		} else if (strncmp(tok, "mac", 3) == 0 && tok[3] >= '0' && tok[3] <= '9' &&
			   tok[4] == '=') {
			bad |= set_mac(tok[3] - '0', tok + 5) < 0;
		}
	}
	flush_disks();
	copy_seed();
	if (bad)
		fprintf(stderr, "cloudlet-identity: some of the identity could not be applied\n");
	return bad ? 1 : 0;
}
