/*
 * fuzz_idsapp.c - libFuzzer over the sensor's app-layer parsers: the first
 * byte picks HTTP (both directions, fed in pieces whose sizes come from the
 * input), DNS or the TLS ClientHello reader. Invariants: no crash or leak;
 * every buffer handed out lies inside memory the parser owns; memory
 * charged to the memcap all comes back.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "dns.h"
#include "http.h"
#include "rule.h"
#include "tls.h"

static volatile uint8_t sink;

static void
touch(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sink ^= p[i];
}

static void
on_tx(void *arg, struct http_tx *tx, int stage)
{
	(void)arg;
	for (int b = 0; b < IDS_BUF__N; b++) {
		const uint8_t *p;
		size_t n;

		if (http_getbuf(tx, b, stage, &p, &n) == 0)
			touch(p, n);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	switch (data[0] % 3) {
	case 0: {
		struct http_state h;
		struct memcap m = {0, 1 << 20, 0};
		size_t i = 2;

		memset(&h, 0, sizeof(h));
		while (i < size) {
			size_t n = 1 + data[i - 1] % 97;
			int dir = data[i - 1] >> 7;

			if (n > size - i)
				n = size - i;
			http_feed(&h, &m, dir, data + i, n, on_tx, NULL);
			i += n + 1;
		}
		http_flush(&h, &m, on_tx, NULL);
		http_free(&h, &m);
		if (m.used != 0)
			abort();
		break;
	}
	case 1: {
		struct dns_msg msg;

		if (dns_parse(data + 1, size - 1, &msg) == 0)
			for (int i = 0; i < msg.nq; i++)
				if (msg.qlen[i] > DNS_NAME_MAX || msg.q[i][msg.qlen[i]] != '\0')
					abort();
		break;
	}
	default: {
		char sni[TLS_SNI_MAX + 1];
		size_t n = 0;

		if (tls_sni(data + 1, size - 1, sni, &n) == TLS_SNI && (n == 0 || n > TLS_SNI_MAX))
			abort();
	}
	}
	return 0;
}
