/*
 * mkpcap.c - writes Ethernet pcap files of made-up traffic for the sensor's
 * tests and benchmark: commands on standard input, one per line.
 *
 *   mac CLIENT SERVER            MACs of the next sessions' two sides
 *   tcp CLI:PORT SRV:PORT        a handshake; then:
 *     c "text"                   a client segment (\r \n \t \" \\ \xHH escapes)
 *     s "text"                   a server segment
 *     c-ooo "a" "b"              two client segments sent b first, then a
 *     close                      FIN, FIN, ACK
 *   dns CLI:PORT SRV:PORT NAME   a DNS query (A) for NAME
 *   tls CLI:PORT SRV:PORT SNI    a handshake and a ClientHello naming SNI
 *   syn CLI:PORT SRV:PORT        one SYN
 *   udp CLI:PORT SRV:PORT "text" one datagram
 *   arp SENDER_MAC SENDER_IP TARGET_IP     an ARP reply (gratuitous if equal)
 *   dhcp SERVER_MAC SERVER_IP TYPE          a DHCP OFFER (2) or ACK (5) to 68
 *   mix N                        the benchmark's mix: N HTTP sessions with varied URIs and
 *                                headers, N DNS queries, N TLS ClientHellos, N/8 bulk
 *                                TCP transfers of 64 KiB
 *
 * usage: ids-mkpcap OUT.pcap < commands
 * Test tool: no privilege, no network; times start at 2026-01-01 and move
 * 20 microseconds per packet.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *out;
static uint64_t ts = 1767225600ull * 1000000;
static uint8_t cmac[6] = {2, 0, 0, 0, 0, 1}, smac[6] = {2, 0, 0, 0, 0, 2};

struct ep {
	uint32_t ip;
	uint16_t port;
};

static struct {
	struct ep c, s;
	uint32_t cseq, sseq;
	int open;
} sess;

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

static void
frame(const uint8_t *d, size_t len)
{
	uint32_t h[4] = {(uint32_t)(ts / 1000000), (uint32_t)(ts % 1000000), (uint32_t)len,
			 (uint32_t)len};

	fwrite(h, sizeof(h), 1, out);
	fwrite(d, len, 1, out);
	ts += 20;
}

static uint16_t
csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void
ip_packet(int to_server, const uint8_t *smac_, const uint8_t *dmac_, uint32_t src, uint32_t dst,
	  uint8_t proto, const uint8_t *l4, size_t l4len)
{
	static uint8_t f[70000];
	uint8_t *ip = f + 14;

	(void)to_server;
	memcpy(f, dmac_, 6);
	memcpy(f + 6, smac_, 6);
	put16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + l4len));
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	put16(ip + 10, csum(ip, 20));
	memcpy(ip + 20, l4, l4len);
	frame(f, 14 + 20 + l4len);
}

static void
tcp(int to_server, uint8_t flags, const uint8_t *data, size_t len)
{
	static uint8_t t[70000];
	struct ep *a = to_server ? &sess.c : &sess.s, *b = to_server ? &sess.s : &sess.c;
	uint32_t *seq = to_server ? &sess.cseq : &sess.sseq, *ack = to_server ? &sess.sseq : &sess.cseq;

	memset(t, 0, 20);
	put16(t, a->port);
	put16(t + 2, b->port);
	put32(t + 4, *seq);
	put32(t + 8, (flags & 0x10) ? *ack : 0);
	t[12] = 5 << 4;
	t[13] = flags;
	put16(t + 14, 65535);
	memcpy(t + 20, data, len);
	ip_packet(to_server, to_server ? cmac : smac, to_server ? smac : cmac, a->ip, b->ip, 6, t,
		  20 + len);
	*seq += (uint32_t)len + ((flags & 0x03) ? 1 : 0);
}

/* A segment at an explicit sequence offset (for out-of-order sends). */
static void
tcp_at(uint32_t seq, const uint8_t *data, size_t len)
{
	uint32_t keep = sess.cseq;

	sess.cseq = seq;
	tcp(1, 0x18, data, len);
	sess.cseq = keep;
}

static int
parse_ep(const char *s, struct ep *e)
{
	char buf[64], *c;
	struct in_addr a;

	if (strlen(s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, strlen(s) + 1);
	c = strchr(buf, ':');
	if (!c)
		return -1;
	*c = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -1;
	e->ip = ntohl(a.s_addr);
	e->port = (uint16_t)strtoul(c + 1, NULL, 10);
	return 0;
}

static void
open_tcp(const struct ep *c, const struct ep *s)
{
	sess.c = *c;
	sess.s = *s;
	sess.cseq = 1000 + c->port * 7u;
	sess.sseq = 50000 + s->port * 13u;
	tcp(1, 0x02, NULL, 0);
	tcp(0, 0x12, NULL, 0);
	tcp(1, 0x10, NULL, 0);
	sess.open = 1;
}

static void
close_tcp(void)
{
	tcp(1, 0x11, NULL, 0);
	tcp(0, 0x11, NULL, 0);
	tcp(1, 0x10, NULL, 0);
	sess.open = 0;
}

/* Send data from one side in segments of at most mss. */
static void
send_data(int to_server, const uint8_t *d, size_t n, size_t mss)
{
	while (n) {
		size_t k = n < mss ? n : mss;

		tcp(to_server, 0x18, d, k);
		d += k;
		n -= k;
	}
}

/* "text" with escapes, from *p; returns length or -1. */
static long
quoted(char **p, uint8_t *dst, size_t cap)
{
	char *s = *p;
	size_t n = 0;

	while (*s == ' ')
		s++;
	if (*s++ != '"')
		return -1;
	while (*s && *s != '"' && n < cap) {
		if (*s == '\\') {
			s++;
			switch (*s) {
			case 'r': dst[n++] = '\r'; break;
			case 'n': dst[n++] = '\n'; break;
			case 't': dst[n++] = '\t'; break;
			case 'x': {
				char h[3] = {s[1], s[2], 0};

				dst[n++] = (uint8_t)strtoul(h, NULL, 16);
				s += 2;
				break;
			}
			default: dst[n++] = (uint8_t)*s;
			}
			s++;
		} else {
			dst[n++] = (uint8_t)*s++;
		}
	}
	if (*s != '"')
		return -1;
	*p = s + 1;
	return (long)n;
}

static void
udp(const struct ep *a, const struct ep *b, const uint8_t *d, size_t n, const uint8_t *sm,
    const uint8_t *dm)
{
	static uint8_t u[70000];

	put16(u, a->port);
	put16(u + 2, b->port);
	put16(u + 4, (uint16_t)(8 + n));
	put16(u + 6, 0);
	memcpy(u + 8, d, n);
	ip_packet(1, sm, dm, a->ip, b->ip, 17, u, 8 + n);
}

static void
dns(const struct ep *a, const struct ep *b, const char *name)
{
	uint8_t q[600];
	size_t n = 12;
	const char *p = name;

	memset(q, 0, 12);
	put16(q, (uint16_t)(a->port * 31u));
	q[2] = 0x01;
	put16(q + 4, 1);
	while (*p && n < 500) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		q[n++] = (uint8_t)l;
		memcpy(q + n, p, l);
		n += l;
		p += l + (dot ? 1 : 0);
	}
	q[n++] = 0;
	put16(q + n, 1);
	put16(q + n + 2, 1);
	n += 4;
	udp(a, b, q, n, cmac, smac);
}

static void
tls_hello(const char *sni)
{
	uint8_t h[1024];
	size_t n = 0, sl = strlen(sni), ext;

	h[n++] = 0x16, h[n++] = 3, h[n++] = 1;
	n += 2; /* record length */
	h[n++] = 1;
	n += 3; /* handshake length */
	h[n++] = 3, h[n++] = 3;
	for (int i = 0; i < 32; i++)
		h[n++] = (uint8_t)(i * 7);
	h[n++] = 0;             /* session id */
	put16(h + n, 4), n += 2; /* cipher suites */
	h[n++] = 0x13, h[n++] = 0x01, h[n++] = 0xc0, h[n++] = 0x2f;
	h[n++] = 1, h[n++] = 0; /* compression */
	ext = n;
	n += 2;
	put16(h + n, 0x000a), put16(h + n + 2, 4), put16(h + n + 4, 2), put16(h + n + 6, 0x001d);
	n += 8;
	put16(h + n, 0), put16(h + n + 2, (uint16_t)(sl + 5)), put16(h + n + 4, (uint16_t)(sl + 3));
	h[n + 6] = 0;
	put16(h + n + 7, (uint16_t)sl);
	memcpy(h + n + 9, sni, sl);
	n += 9 + sl;
	put16(h + ext, (uint16_t)(n - ext - 2));
	put16(h + 3, (uint16_t)(n - 5));
	h[6] = 0, put16(h + 7, (uint16_t)(n - 9));
	send_data(1, h, n, 1448);
}

static void
mix(int count)
{
	static uint8_t bulk[65536];
	static const char *const uas[] = {"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
					  "curl/7.88.1", "Wget/1.21.3",
					  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"};
	char req[1024], resp[4096];
	struct ep c = {0x0a000002, 0}, s = {0x0a000005, 80}, d = {0x0a000001, 53};

	for (size_t i = 0; i < sizeof(bulk); i++)
		bulk[i] = (uint8_t)(i * 2654435761u >> 24);
	for (int i = 0; i < count; i++) {
		int rn, bodylen = 512 + (i * 37) % 3000;

		c.port = (uint16_t)(20000 + i % 40000);
		s.port = 80;
		open_tcp(&c, &s);
		snprintf(req, sizeof(req),
			 "GET /app/v%d/items/%d/view.php?id=%d&sort=name&page=%d HTTP/1.1\r\n"
			 "Host: www%d.shop.example\r\nUser-Agent: %s\r\nAccept: text/html,*/*\r\n"
			 "Accept-Language: en-US,en;q=0.5\r\nCookie: session=%08x%08x\r\n"
			 "Connection: keep-alive\r\n\r\n",
			 i % 7, i, i * 3, i % 10, i % 50, uas[i % 4], i * 2654435761u, i * 40503u);
		send_data(1, (const uint8_t *)req, strlen(req), 1448);
		rn = snprintf(resp, sizeof(resp),
			      "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\n"
			      "Content-Length: %d\r\n\r\n",
			      bodylen);
		memset(resp + rn, 'a' + i % 26, (size_t)bodylen);
		send_data(0, (const uint8_t *)resp, (size_t)rn + (size_t)bodylen, 1448);
		close_tcp();

		c.port = (uint16_t)(30000 + i % 30000);
		snprintf(req, sizeof(req), "host-%d.cdn%d.example.net", i, i % 13);
		dns(&c, &d, req);

		c.port = (uint16_t)(40000 + i % 20000);
		s.port = 443;
		open_tcp(&c, &s);
		snprintf(req, sizeof(req), "api%d.service%d.example.org", i, i % 17);
		tls_hello(req);
		send_data(0, bulk, 1200, 1448);
		close_tcp();

		if (i % 8 == 0) {
			c.port = (uint16_t)(60000 + i % 5000);
			s.port = 9000;
			open_tcp(&c, &s);
			send_data(1, bulk, sizeof(bulk), 1448);
			close_tcp();
		}
	}
}

int
main(int argc, char **argv)
{
	uint32_t gh[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
	char line[70000];
	uint8_t buf[66000], buf2[66000];

	if (argc != 2 || !(out = fopen(argv[1], "wb"))) {
		fprintf(stderr, "usage: ids-mkpcap OUT.pcap < commands\n");
		return 2;
	}
	fwrite(gh, sizeof(gh), 1, out);
	while (fgets(line, sizeof(line), stdin)) {
		char a[64], b[64], c3[300];
		struct ep x, y;
		char *p;
		long n, n2;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (sscanf(line, "mac %63s %63s", a, b) == 2) {
			unsigned m[6];

			if (sscanf(a, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) == 6)
				for (int i = 0; i < 6; i++)
					cmac[i] = (uint8_t)m[i];
			if (sscanf(b, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) == 6)
				for (int i = 0; i < 6; i++)
					smac[i] = (uint8_t)m[i];
		} else if (sscanf(line, "tcp %63s %63s", a, b) == 2 && !parse_ep(a, &x) && !parse_ep(b, &y)) {
			open_tcp(&x, &y);
		} else if (strncmp(line, "c-ooo ", 6) == 0) {
			uint32_t s0 = sess.cseq;

			p = line + 6;
			n = quoted(&p, buf, sizeof(buf));
			n2 = quoted(&p, buf2, sizeof(buf2));
			if (n < 0 || n2 < 0)
				goto bad;
			tcp_at(s0 + (uint32_t)n, buf2, (size_t)n2);
			tcp_at(s0, buf, (size_t)n);
			sess.cseq = s0 + (uint32_t)n + (uint32_t)n2;
		} else if ((line[0] == 'c' || line[0] == 's') && line[1] == ' ') {
			p = line + 2;
			n = quoted(&p, buf, sizeof(buf));
			if (n < 0)
				goto bad;
			send_data(line[0] == 'c', buf, (size_t)n, 1448);
		} else if (strcmp(line, "close") == 0) {
			close_tcp();
		} else if (sscanf(line, "dns %63s %63s %299s", a, b, c3) == 3 && !parse_ep(a, &x) &&
			   !parse_ep(b, &y)) {
			dns(&x, &y, c3);
		} else if (sscanf(line, "tls %63s %63s %299s", a, b, c3) == 3 && !parse_ep(a, &x) &&
			   !parse_ep(b, &y)) {
			open_tcp(&x, &y);
			tls_hello(c3);
			close_tcp();
		} else if (sscanf(line, "syn %63s %63s", a, b) == 2 && !parse_ep(a, &x) && !parse_ep(b, &y)) {
			sess.c = x;
			sess.s = y;
			sess.cseq = 77;
			tcp(1, 0x02, NULL, 0);
		} else if (sscanf(line, "udp %63s %63s", a, b) == 2 && !parse_ep(a, &x) && !parse_ep(b, &y)) {
			p = strchr(line, '"');
			if (!p || (n = quoted(&p, buf, sizeof(buf))) < 0)
				goto bad;
			udp(&x, &y, buf, (size_t)n, cmac, smac);
		} else if (sscanf(line, "arp %63s %63s %299s", a, b, c3) == 3) {
			uint8_t f[42];
			unsigned m[6];
			struct in_addr ia, ib;

			if (sscanf(a, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6 ||
			    inet_pton(AF_INET, b, &ia) != 1 || inet_pton(AF_INET, c3, &ib) != 1)
				goto bad;
			memset(f, 0xff, 6);
			for (int i = 0; i < 6; i++)
				f[6 + i] = f[22 + i] = (uint8_t)m[i];
			put16(f + 12, 0x0806);
			put16(f + 14, 1), put16(f + 16, 0x0800), f[18] = 6, f[19] = 4, put16(f + 20, 2);
			memcpy(f + 28, &ia.s_addr, 4);
			memset(f + 32, 0xff, 6);
			memcpy(f + 38, &ib.s_addr, 4);
			frame(f, sizeof(f));
		} else if (sscanf(line, "dhcp %63s %63s %299s", a, b, c3) == 3) {
			uint8_t d[300], sm[6];
			unsigned m[6];
			struct in_addr ia;
			struct ep sv = {0, 67}, cl = {0xffffffffu, 68};

			if (sscanf(a, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6 ||
			    inet_pton(AF_INET, b, &ia) != 1)
				goto bad;
			for (int i = 0; i < 6; i++)
				sm[i] = (uint8_t)m[i];
			sv.ip = ntohl(ia.s_addr);
			memset(d, 0, sizeof(d));
			d[0] = 2, d[1] = 1, d[2] = 6;
			put32(d + 16, 0x0a000063);
			memcpy(d + 28, cmac, 6);
			d[236] = 99, d[237] = 130, d[238] = 83, d[239] = 99;
			d[240] = 53, d[241] = 1, d[242] = (uint8_t)(int)strtoul(c3, NULL, 10);
			d[243] = 54, d[244] = 4;
			memcpy(d + 245, &ia.s_addr, 4);
			d[249] = 255;
			udp(&sv, &cl, d, 250, sm, (const uint8_t *)"\xff\xff\xff\xff\xff\xff");
		} else if (sscanf(line, "mix %299s", c3) == 1) {
			mix((int)strtoul(c3, NULL, 10));
		} else {
			goto bad;
		}
		continue;
bad:
		fprintf(stderr, "ids-mkpcap: cannot read: %s\n", line);
		return 1;
	}
	return fclose(out) == 0 ? 0 : 1;
}
