/*
 * tls.c - SNI from a ClientHello (tls.h).
 */
#include <string.h>

#include "tls.h"

static unsigned
be16(const uint8_t *p)
{
	return (unsigned)(p[0] << 8 | p[1]);
}

int
tls_probe(const uint8_t *d, size_t len)
{
	return len >= 3 && d[0] == 0x16 && d[1] == 3 && d[2] <= 4;
}

int
tls_sni(const uint8_t *d, size_t len, char *sni, size_t *snilen)
{
	size_t rl, p, end, hl;

	if (len < 5)
		return len && d[0] != 0x16 ? TLS_NOT : TLS_MORE;
	if (!tls_probe(d, len))
		return TLS_NOT;
	rl = be16(d + 3);
	if (rl < 4 || rl + 5 > TLS_RECORD_MAX)
		return TLS_NOT;
	if (len < rl + 5)
		return TLS_MORE;
	d += 5;
	if (d[0] != 1)
		return TLS_NOT; /* not a ClientHello */
	hl = (size_t)d[1] << 16 | (size_t)d[2] << 8 | d[3];
	end = 4 + hl < rl ? 4 + hl : rl;
	p = 4 + 2 + 32; /* version, random */
	if (p + 1 > end)
		return TLS_NO_SNI;
	p += 1 + d[p]; /* session id */
	if (p + 2 > end)
		return TLS_NO_SNI;
	p += 2 + be16(d + p); /* cipher suites */
	if (p + 1 > end)
		return TLS_NO_SNI;
	p += 1 + d[p]; /* compression */
	if (p + 2 > end)
		return TLS_NO_SNI;
	{
		size_t xe = p + 2 + be16(d + p);

		if (xe < end)
			end = xe;
	}
	p += 2;
	while (p + 4 <= end) {
		unsigned type = be16(d + p), el = be16(d + p + 2);
		size_t q, le;

		p += 4;
		if (p + el > end)
			return TLS_NO_SNI;
		if (type != 0) {
			p += el;
			continue;
		}
		if (el < 2)
			return TLS_NO_SNI;
		q = p + 2;
		le = p + 2 + be16(d + p);
		if (le > p + el)
			le = p + el;
		while (q + 3 <= le) {
			unsigned nt = d[q], nl = be16(d + q + 1);

			q += 3;
			if (q + nl > le)
				return TLS_NO_SNI;
			if (nt == 0 && nl > 0 && nl <= TLS_SNI_MAX) {
				memcpy(sni, d + q, nl);
				sni[nl] = '\0';
				*snilen = nl;
				return TLS_SNI;
			}
			q += nl;
		}
		return TLS_NO_SNI;
	}
	return TLS_NO_SNI;
}
