/*
 * decode.c - frame headers (decode.h).
 */
#include <string.h>

#include "decode.h"

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int
decode_arp(struct pkt *p, const uint8_t *d, size_t len)
{
	if (len < 28)
		return DECODE_SHORT;
	if (be16(d) != 1 || be16(d + 2) != 0x0800 || d[4] != 6 || d[5] != 4)
		return DECODE_OTHER;
	p->is_arp = 1;
	p->arp.op = be16(d + 6);
	memcpy(p->arp.sha, d + 8, 6);
	p->arp.spa = be32(d + 14);
	memcpy(p->arp.tha, d + 18, 6);
	p->arp.tpa = be32(d + 24);
	return DECODE_OK;
}

static int
decode_ip4(struct pkt *p, const uint8_t *d, size_t len)
{
	size_t ihl, tot, l4len;
	uint16_t fragw;
	const uint8_t *l4;

	if (len < 20)
		return DECODE_SHORT;
	if (d[0] >> 4 != 4)
		return DECODE_BAD;
	ihl = (size_t)(d[0] & 15) * 4;
	tot = be16(d + 2);
	if (ihl < 20 || tot < ihl)
		return DECODE_BAD;
	if (tot > len)
		return DECODE_SHORT;
	p->is_ip4 = 1;
	p->proto = d[9];
	p->ttl = d[8];
	p->src = be32(d + 12);
	p->dst = be32(d + 16);
	fragw = be16(d + 6);
	l4 = d + ihl;
	l4len = tot - ihl;
	if (fragw & 0x1fff) {
		p->frag = 1; /* not the first fragment: no L4 header here */
		p->payload = l4;
		p->plen = l4len;
		return DECODE_OK;
	}
	switch (p->proto) {
	case 6: {
		size_t off;

		if (l4len < 20)
			return DECODE_SHORT;
		off = (size_t)(l4[12] >> 4) * 4;
		if (off < 20 || off > l4len)
			return DECODE_BAD;
		p->sp = be16(l4);
		p->dp = be16(l4 + 2);
		p->seq = be32(l4 + 4);
		p->ack = be32(l4 + 8);
		p->tcp_flags = l4[13];
		p->payload = l4 + off;
		p->plen = l4len - off;
		break;
	}
	case 17: {
		size_t ul;

		if (l4len < 8)
			return DECODE_SHORT;
		ul = be16(l4 + 4);
		if (ul < 8 || ul > l4len)
			return DECODE_BAD;
		p->sp = be16(l4);
		p->dp = be16(l4 + 2);
		p->payload = l4 + 8;
		p->plen = ul - 8;
		break;
	}
	case 1:
		if (l4len < 8)
			return DECODE_SHORT;
		p->icmp_type = l4[0];
		p->icmp_code = l4[1];
		p->payload = l4 + 8;
		p->plen = l4len - 8;
		break;
	default:
		p->payload = l4;
		p->plen = l4len;
		break;
	}
	return DECODE_OK;
}

int
decode_frame(struct pkt *p, const uint8_t *d, size_t len)
{
	uint16_t et;
	uint64_t ts = p->ts_us;
	size_t wire = p->wire_len;
	int tags = 0;

	memset(p, 0, sizeof(*p));
	p->ts_us = ts;
	p->wire_len = wire ? wire : len;
	if (len < 14)
		return DECODE_SHORT;
	memcpy(p->dmac, d, 6);
	memcpy(p->smac, d + 6, 6);
	et = be16(d + 12);
	d += 14;
	len -= 14;
	while ((et == 0x8100 || et == 0x88a8) && tags < 2) {
		if (len < 4)
			return DECODE_SHORT;
		p->vlan = be16(d) & 0x0fff;
		et = be16(d + 2);
		d += 4;
		len -= 4;
		tags++;
	}
	p->ethertype = et;
	if (et == 0x0806)
		return decode_arp(p, d, len);
	if (et == 0x0800)
		return decode_ip4(p, d, len);
	return DECODE_OTHER;
}
