/*
 * dns.h - a DNS message's header and questions (UDP payload, or one TCP
 * message without its length prefix). Names are written label by label
 * with '.', compression pointers followed at most DNS_JUMPS times and
 * never forward into a loop; at most DNS_MAX_QUERIES questions.
 */
#ifndef CLOUDLET_IDS_DNS_H
#define CLOUDLET_IDS_DNS_H

#include <stddef.h>
#include <stdint.h>

#define DNS_MAX_QUERIES 8
#define DNS_NAME_MAX 255
#define DNS_JUMPS 16

struct dns_msg {
	uint16_t id;
	uint8_t qr, opcode, rcode;
	int nq;
	char q[DNS_MAX_QUERIES][DNS_NAME_MAX + 1];
	uint16_t qlen[DNS_MAX_QUERIES], qtype[DNS_MAX_QUERIES];
};

/* 0, or -1 when the bytes are not a DNS message. */
int dns_parse(const uint8_t *d, size_t len, struct dns_msg *m);

#endif
