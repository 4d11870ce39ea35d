/*
 * dns.c - DNS questions (dns.h).
 */
#include <string.h>

#include "dns.h"

/* Read the name at *off; *off moves past it (not past a pointer's target). */
static int
read_name(const uint8_t *d, size_t len, size_t *off, char *out, uint16_t *outlen)
{
	size_t p = *off, n = 0, end = 0;
	int jumps = 0;

	for (;;) {
		uint8_t l;

		if (p >= len)
			return -1;
		l = d[p];
		if ((l & 0xc0) == 0xc0) {
			size_t t;

			if (p + 1 >= len || ++jumps > DNS_JUMPS)
				return -1;
			t = (size_t)(l & 0x3f) << 8 | d[p + 1];
			if (!end)
				end = p + 2;
			if (t >= p)
				return -1; /* pointers go backwards only */
			p = t;
			continue;
		}
		if (l & 0xc0)
			return -1;
		p++;
		if (l == 0)
			break;
		if (p + l > len || n + l + (n ? 1 : 0) > DNS_NAME_MAX)
			return -1;
		if (n)
			out[n++] = '.';
		memcpy(out + n, d + p, l);
		n += l;
		p += l;
	}
	out[n] = '\0';
	*outlen = (uint16_t)n;
	*off = end ? end : p;
	return 0;
}

int
dns_parse(const uint8_t *d, size_t len, struct dns_msg *m)
{
	size_t off = 12;
	unsigned qd;

	memset(m, 0, sizeof(*m));
	if (len < 12)
		return -1;
	m->id = (uint16_t)(d[0] << 8 | d[1]);
	m->qr = d[2] >> 7;
	m->opcode = (d[2] >> 3) & 15;
	m->rcode = d[3] & 15;
	qd = (unsigned)(d[4] << 8 | d[5]);
	if (qd == 0 || qd > 64 || m->opcode > 6)
		return -1;
	for (unsigned i = 0; i < qd; i++) {
		char name[DNS_NAME_MAX + 1];
		uint16_t nl;

		if (read_name(d, len, &off, name, &nl) < 0 || off + 4 > len)
			return -1;
		if (m->nq < DNS_MAX_QUERIES) {
			memcpy(m->q[m->nq], name, (size_t)nl + 1);
			m->qlen[m->nq] = nl;
			m->qtype[m->nq] = (uint16_t)(d[off] << 8 | d[off + 1]);
			m->nq++;
		}
		off += 4;
	}
	return 0;
}
