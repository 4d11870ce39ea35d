/*
 * decode.h - Ethernet (with 802.1Q/802.1ad tags), ARP, IPv4, TCP, UDP and
 * ICMP headers of one captured frame. Pure: pointers into the frame, no
 * copies; every length is checked against what was captured.
 */
#ifndef CLOUDLET_IDS_DECODE_H
#define CLOUDLET_IDS_DECODE_H

#include <stddef.h>
#include <stdint.h>

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

enum decode_result {
	DECODE_OK = 0,
	DECODE_SHORT = -1,   /* truncated header */
	DECODE_BAD = -2,     /* a header field is impossible */
	DECODE_OTHER = -3,   /* a protocol the sensor does not decode (IPv6, ...) */
};

struct pkt {
	uint64_t ts_us;
	size_t wire_len;
	uint8_t smac[6], dmac[6];
	uint16_t ethertype, vlan;
	uint8_t is_arp, is_ip4, frag; /* frag: a non-first fragment (no L4 header) */
	struct {
		uint16_t op;
		uint8_t sha[6], tha[6];
		uint32_t spa, tpa;
	} arp;
	uint32_t src, dst; /* host order */
	uint8_t proto, ttl;
	uint16_t sp, dp;
	uint8_t tcp_flags;
	uint32_t seq, ack;
	uint8_t icmp_type, icmp_code;
	const uint8_t *payload;
	size_t plen;
};

int decode_frame(struct pkt *p, const uint8_t *data, size_t len);

#endif
