/*
 * capture.h - reading an AF_PACKET socket someone else opened and bound
 * (the agent, as root, in the tenant's namespace): the sensor sets a
 * TPACKET_V3 receive ring on it and maps it, which needs no privilege;
 * if that fails it reads the socket with recvmsg instead.
 */
#ifndef CLOUDLET_IDS_CAPTURE_H
#define CLOUDLET_IDS_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#define CAPTURE_BLOCK_SIZE (1u << 20)
#define CAPTURE_BLOCKS 16
#define CAPTURE_FRAME_SIZE 2048
#define CAPTURE_BLOCK_TIMEOUT_MS 10

struct capture {
	struct capture *next;
	int fd;
	uint32_t id;
	char iface[32];
	char network_id[65];
	uint8_t *ring;
	size_t ring_len;
	unsigned cur; /* next block to look at */
	uint64_t packets, drops;
};

typedef void (*capture_fn)(void *arg, struct capture *c, const uint8_t *frame, size_t caplen,
			   size_t wirelen, uint64_t ts_us);

/* Take fd (closed by capture_close). 0, or -errno with err. */
int capture_open(struct capture *c, int fd, char *err, size_t errlen);
/* Hand every frame ready to fn, at most max_blocks ring blocks. Returns the
 * number of frames. */
int capture_read(struct capture *c, capture_fn fn, void *arg, int max_blocks);
/* Kernel drops since the last call (PACKET_STATISTICS). */
uint64_t capture_drops(struct capture *c);
void capture_close(struct capture *c);

#endif
