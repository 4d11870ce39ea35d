/* test_app.c - the app-layer parsers: HTTP/1.x (src/ids/http.c) gives the
 * same transactions and buffers whatever the split of the bytes (one call,
 * byte by byte), with chunked bodies, pipelining, HEAD and 1xx; DNS
 * questions with compression and loops (dns.c); the TLS SNI (tls.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dns.h"
#include "http.h"
#include "rule.h"
#include "tls.h"

struct seen {
	char log[4096];
	size_t len;
};

static void
add_buf(struct seen *s, struct http_tx *tx, int buf, int stage, const char *tag)
{
	const uint8_t *p;
	size_t n;

	if (http_getbuf(tx, buf, stage, &p, &n) == 0)
		s->len += (size_t)snprintf(s->log + s->len, sizeof(s->log) - s->len, "%s=[%.*s] ", tag,
					   (int)n, (const char *)p);
}

static void
on_tx(void *arg, struct http_tx *tx, int stage)
{
	struct seen *s = arg;

	if (stage == STAGE_HTTP_REQ) {
		s->len += (size_t)snprintf(s->log + s->len, sizeof(s->log) - s->len, "REQ ");
		add_buf(s, tx, IDS_BUF_HTTP_METHOD, stage, "m");
		add_buf(s, tx, IDS_BUF_HTTP_URI, stage, "u");
		add_buf(s, tx, IDS_BUF_HTTP_URI_RAW, stage, "raw");
		add_buf(s, tx, IDS_BUF_HTTP_HOST, stage, "h");
		add_buf(s, tx, IDS_BUF_HTTP_UA, stage, "ua");
		add_buf(s, tx, IDS_BUF_HTTP_REQ_BODY, stage, "b");
	} else {
		s->len += (size_t)snprintf(s->log + s->len, sizeof(s->log) - s->len, "RESP ");
		add_buf(s, tx, IDS_BUF_HTTP_STAT_CODE, stage, "c");
		add_buf(s, tx, IDS_BUF_HTTP_RESP_BODY, stage, "b");
		add_buf(s, tx, IDS_BUF_HTTP_HEADER_NAMES, stage, "n");
	}
}

static const char req[] =
	"GET /a%20b?x=%2e%2e/ HTTP/1.1\r\nHost: WWW.Example.COM:8080\r\nUser-Agent: t/1\r\n\r\n"
	"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	"4\r\nwiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\n"
	"HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n";
static const char resp[] =
	"HTTP/1.1 100 Continue\r\n\r\n"
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nServer: s\r\n\r\nabc"
	"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
	"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n";

static void
run(struct seen *s, size_t step)
{
	struct http_state h;
	struct memcap m = {0, 0, 0};

	memset(&h, 0, sizeof(h));
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < sizeof(req) - 1; i += step)
		http_feed(&h, &m, 0, (const uint8_t *)req + i,
			  step < sizeof(req) - 1 - i ? step : sizeof(req) - 1 - i, on_tx, s);
	for (size_t i = 0; i < sizeof(resp) - 1; i += step)
		http_feed(&h, &m, 1, (const uint8_t *)resp + i,
			  step < sizeof(resp) - 1 - i ? step : sizeof(resp) - 1 - i, on_tx, s);
	http_flush(&h, &m, on_tx, s);
	http_free(&h, &m);
	assert_int_equal(m.used, 0);
}

static void
http_any_split(void **state)
{
	struct seen whole, bytes, sevens;
	const char *want =
		"REQ m=[GET] u=[/a b?x=../] raw=[/a%20b?x=%2e%2e/] h=[www.example.com] ua=[t/1] "
		"REQ m=[POST] u=[/up] raw=[/up] h=[h] b=[wikipedia] "
		"REQ m=[HEAD] u=[/h] raw=[/h] h=[h] "
		"RESP c=[200] b=[abc] n=[\r\nContent-Length\r\nServer\r\n\r\n] "
		"RESP c=[201] n=[\r\nContent-Length\r\n\r\n] "
		"RESP c=[200] n=[\r\nContent-Length\r\n\r\n] ";

	(void)state;
	run(&whole, 100000);
	run(&bytes, 1);
	run(&sevens, 7);
	assert_string_equal(whole.log, want);
	assert_string_equal(bytes.log, want);
	assert_string_equal(sevens.log, want);
}

static void
http_limits(void **state)
{
	struct http_state h;
	struct memcap m = {0, 0, 0};
	struct seen s = {0};
	static char big[HTTP_HEAD_MAX + 100];

	(void)state;
	memset(&h, 0, sizeof(h));
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	memset(big + 19, 'a', sizeof(big) - 19);
	http_feed(&h, &m, 0, (const uint8_t *)big, sizeof(big), on_tx, &s);
	assert_int_equal(h.dir[0].broken, 1); /* head too long: parsing stops */
	assert_int_equal(s.len, 0);
	http_free(&h, &m);
	assert_true(http_probe((const uint8_t *)"GET / HTTP/1.1", 14, 1));
	assert_false(http_probe((const uint8_t *)"\x16\x03\x01", 3, 1));
}

static void
dns_questions(void **state)
{
	/* two questions, the second a pointer back into the first's name */
	static const uint8_t q[] = {0x12, 0x34, 0x01, 0x00, 0x00, 0x02, 0, 0, 0, 0, 0, 0,
				    3,	  'w',	'w',  'w',  4,	  'e',	'v', 'i', 'l', 2, 'c', 'o',
				    0,	  0,	1,    0,    1,	  3,	'a', 'p', 'i', 0xc0, 16, 0,
				    16,	  0,	1};
	static const uint8_t loop[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
	struct dns_msg m;

	(void)state;
	assert_int_equal(dns_parse(q, sizeof(q), &m), 0);
	assert_int_equal(m.qr, 0);
	assert_int_equal(m.nq, 2);
	assert_string_equal(m.q[0], "www.evil.co");
	assert_string_equal(m.q[1], "api.evil.co");
	assert_int_equal(m.qtype[1], 16);
	assert_int_equal(dns_parse(loop, sizeof(loop), &m), -1);
	assert_int_equal(dns_parse(q, 20, &m), -1);
}

static void
tls_client_hello(void **state)
{
	uint8_t h[200];
	size_t n = 0, sl;
	char sni[TLS_SNI_MAX + 1];
	const char *name = "bad.example.org";

	(void)state;
	sl = strlen(name);
	h[n++] = 0x16, h[n++] = 3, h[n++] = 1, n += 2;
	h[n++] = 1, n += 3;
	h[n++] = 3, h[n++] = 3;
	memset(h + n, 7, 32), n += 32;
	h[n++] = 0;
	h[n++] = 0, h[n++] = 2, h[n++] = 0x13, h[n++] = 1;
	h[n++] = 1, h[n++] = 0;
	h[n++] = 0, h[n++] = (uint8_t)(sl + 9);
	h[n++] = 0, h[n++] = 0, h[n++] = 0, h[n++] = (uint8_t)(sl + 5);
	h[n++] = 0, h[n++] = (uint8_t)(sl + 3), h[n++] = 0, h[n++] = 0, h[n++] = (uint8_t)sl;
	memcpy(h + n, name, sl), n += sl;
	h[3] = 0, h[4] = (uint8_t)(n - 5);
	h[6] = 0, h[7] = 0, h[8] = (uint8_t)(n - 9);
	for (size_t k = 0; k < n; k++)
		assert_int_equal(tls_sni(h, k, sni, &sl), k >= 1 ? TLS_MORE : TLS_MORE);
	assert_int_equal(tls_sni(h, n, sni, &sl), TLS_SNI);
	assert_string_equal(sni, name);
	h[5] = 2; /* a ServerHello */
	assert_int_equal(tls_sni(h, n, sni, &sl), TLS_NOT);
	assert_int_equal(tls_sni((const uint8_t *)"GET /", 5, sni, &sl), TLS_NOT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(http_any_split),
		cmocka_unit_test(http_limits),
		cmocka_unit_test(dns_questions),
		cmocka_unit_test(tls_client_hello),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
