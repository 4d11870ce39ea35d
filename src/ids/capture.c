/*
 * capture.c - TPACKET_V3 rings on handed-over AF_PACKET sockets (capture.h).
 */
#include <errno.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"

int
capture_open(struct capture *c, int fd, char *err, size_t errlen)
{
	int v = TPACKET_V3, type = 0;
	socklen_t tl = sizeof(type);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct tpacket_req3 req;

	c->fd = fd;
	c->ring = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 || ss.ss_family != AF_PACKET ||
	    type != SOCK_RAW) {
		snprintf(err, errlen, "the descriptor is not a raw AF_PACKET socket");
		return -EINVAL;
	}
	/* A bridge passes up only frames for itself unless it is promiscuous:
	 * a membership on this socket makes it so while the socket lives. */
	{
		struct packet_mreq mr;

		memset(&mr, 0, sizeof(mr));
		mr.mr_ifindex = ((struct sockaddr_ll *)&ss)->sll_ifindex;
		mr.mr_type = PACKET_MR_PROMISC;
		if (mr.mr_ifindex > 0)
			(void)setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr));
	}
	memset(&req, 0, sizeof(req));
	req.tp_block_size = CAPTURE_BLOCK_SIZE;
	req.tp_block_nr = CAPTURE_BLOCKS;
	req.tp_frame_size = CAPTURE_FRAME_SIZE;
	req.tp_frame_nr = CAPTURE_BLOCK_SIZE / CAPTURE_FRAME_SIZE * CAPTURE_BLOCKS;
	req.tp_retire_blk_tov = CAPTURE_BLOCK_TIMEOUT_MS;
	if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) == 0 &&
	    setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) == 0) {
		c->ring_len = (size_t)CAPTURE_BLOCK_SIZE * CAPTURE_BLOCKS;
		c->ring = mmap(NULL, c->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED,
			       fd, 0);
		if (c->ring == MAP_FAILED) /* MAP_LOCKED may exceed RLIMIT_MEMLOCK */
			c->ring = mmap(NULL, c->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (c->ring == MAP_FAILED)
			c->ring = NULL;
	}
	c->cur = 0;
	capture_drops(c); /* reset the kernel's counters */
	return 0;
}

static int
read_plain(struct capture *c, capture_fn fn, void *arg)
{
	static uint8_t buf[65536];
	int n = 0;

	while (n < 256) {
		struct sockaddr_ll sll;
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr m = {&sll, sizeof(sll), &iov, 1, NULL, 0, 0};
		ssize_t r = recvmsg(c->fd, &m, MSG_DONTWAIT | MSG_TRUNC);
		struct timespec ts;

		if (r < 0)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		fn(arg, c, buf, (size_t)r < sizeof(buf) ? (size_t)r : sizeof(buf), (size_t)r,
		   (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
		c->packets++;
		n++;
	}
	return n;
}

int
capture_read(struct capture *c, capture_fn fn, void *arg, int max_blocks)
{
	int n = 0;

	if (!c->ring)
		return read_plain(c, fn, arg);
	for (int b = 0; b < max_blocks; b++) {
		struct tpacket_block_desc *bd =
			(struct tpacket_block_desc *)(c->ring + (size_t)c->cur * CAPTURE_BLOCK_SIZE);
		struct tpacket3_hdr *h;
		uint32_t num;

		if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
			break;
		num = bd->hdr.bh1.num_pkts;
		h = (struct tpacket3_hdr *)((uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt);
		for (uint32_t i = 0; i < num; i++) {
			const uint8_t *frame = (const uint8_t *)h + h->tp_mac;
			uint64_t ts = (uint64_t)h->tp_sec * 1000000 + h->tp_nsec / 1000;

			if ((const uint8_t *)h + h->tp_mac + h->tp_snaplen <=
			    (const uint8_t *)bd + CAPTURE_BLOCK_SIZE)
				fn(arg, c, frame, h->tp_snaplen, h->tp_len, ts);
			c->packets++;
			n++;
			if (!h->tp_next_offset)
				break;
			h = (struct tpacket3_hdr *)((uint8_t *)h + h->tp_next_offset);
		}
		__atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		c->cur = (c->cur + 1) % CAPTURE_BLOCKS;
	}
	return n;
}

uint64_t
capture_drops(struct capture *c)
{
	struct tpacket_stats_v3 st;
	socklen_t len = sizeof(st);

	memset(&st, 0, sizeof(st));
	if (getsockopt(c->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
		return 0;
	c->drops += st.tp_drops;
	return st.tp_drops;
}

void
capture_close(struct capture *c)
{
	if (c->ring)
		munmap(c->ring, c->ring_len);
	c->ring = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
