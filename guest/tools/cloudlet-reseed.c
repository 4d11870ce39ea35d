/*
 * cloudlet-reseed - give a restored clone its own randomness.
 *
 * A VM cloned from a saved template starts with the template's RNG state, so
 * two clones would produce the same /dev/urandom bytes. The agent sends each
 * clone fresh random bytes; this tool credits them to the kernel's input
 * pool (RNDADDENTROPY) and forces the CRNG to reseed from it at once
 * (RNDRESEEDCRNG). Writing to /dev/urandom would mix the bytes in but leave
 * the CRNG keyed as before until its next scheduled reseed.
 *
 * Usage: cloudlet-reseed HEX   (at most 256 bytes, i.e. 512 hex digits)
 */
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MAX_BYTES 256

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

int
main(int argc, char **argv)
{
	struct {
		struct rand_pool_info info;
		unsigned char buf[MAX_BYTES];
	} req;
	size_t n, i;
	int fd;

	if (argc != 2 || (n = strlen(argv[1])) == 0 || n % 2 != 0 || n / 2 > MAX_BYTES) {
		fprintf(stderr, "usage: cloudlet-reseed HEX (1 to %d bytes)\n", MAX_BYTES);
		return 2;
	}
	for (i = 0; i < n / 2; i++) {
		int hi = hexval(argv[1][2 * i]), lo = hexval(argv[1][2 * i + 1]);

		if (hi < 0 || lo < 0) {
			fprintf(stderr, "cloudlet-reseed: not hex\n");
			return 2;
		}
		req.buf[i] = (unsigned char)(hi << 4 | lo);
	}
	req.info.entropy_count = (int)(n / 2 * 8);
	req.info.buf_size = (int)(n / 2);
	fd = open("/dev/urandom", O_RDWR);
	if (fd < 0) {
		perror("cloudlet-reseed: /dev/urandom");
		return 1;
	}
	if (ioctl(fd, RNDADDENTROPY, &req.info) < 0) {
		perror("cloudlet-reseed: RNDADDENTROPY");
		return 1;
	}
	if (ioctl(fd, RNDRESEEDCRNG) < 0) {
		perror("cloudlet-reseed: RNDRESEEDCRNG");
		return 1;
	}
	close(fd);
	return 0;
}
