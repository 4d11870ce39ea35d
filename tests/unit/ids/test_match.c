/* test_match.c - full evaluation of matches (src/ids/match.c) and the
 * detection engine with its Hyperscan databases (detect_build.c, detect.c,
 * mpm.c): content positions and backtracking, negation,
 * byte_test/byte_jump/isdataat, the stream window's "new data" rule, a
 * catastrophic pcre bounded in time, identical databases shared between
 * rule sets, thresholds (detect_thresh.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "detect.h"
#include "detect_thresh.h"
#include "match.h"
#include "mpm.h"
#include "ruleset.h"

static const struct ids_var vars[] = {{"HOME_NET", "10.0.0.0/8", 0}};

/* Does the first rule of text match payload (TCP, packet stage)? */
static int
matchesn(const char *rule, const char *payload, size_t len)
{
	struct ruleset *rs = ruleset_new(vars, 1);
	struct match_in in = {(const uint8_t *)payload, len, 0, 0};
	int r;

	assert_int_equal(ruleset_add_text(rs, rule, strlen(rule), "t"), 0);
	if (rs->nrules != 1)
		fail_msg("not parsed: %s: %s", rule, rs->nskip ? rs->skip[0].reason : "?");
	r = match_buf(&rs->rules[0]->bufs[0], &in);
	ruleset_put(rs);
	return r;
}

/* payload: a string literal or array (may hold NUL bytes) */
#define matches(rule, payload) matchesn((rule), (payload), sizeof(payload) - 1)
#define R(opts) "alert tcp any any -> any any (" opts " sid:1;)"

static void
contents(void **state)
{
	(void)state;
	assert_true(matches(R("content:\"abc\";"), "xxabcxx"));
	assert_false(matches(R("content:\"ABC\";"), "xxabcxx"));
	assert_true(matches(R("content:\"ABC\"; nocase;"), "xxabcxx"));
	assert_true(matches(R("content:\"abc\"; depth:5;"), "xxabcxx"));
	assert_false(matches(R("content:\"abc\"; depth:4;"), "xxabcxx"));
	assert_true(matches(R("content:\"abc\"; offset:2; depth:3;"), "xxabcxx"));
	assert_false(matches(R("content:\"abc\"; offset:3;"), "xxabcxx"));
	assert_true(matches(R("content:\"ab\"; startswith;"), "abc"));
	assert_false(matches(R("content:\"bc\"; startswith;"), "abc"));
	assert_true(matches(R("content:\"bc\"; endswith;"), "abc"));
	assert_false(matches(R("content:\"ab\"; endswith;"), "abc"));
	/* relative: within counts from the end of the previous match plus distance */
	assert_true(matches(R("content:\"a\"; content:\"c\"; distance:1; within:1;"), "abc"));
	assert_false(matches(R("content:\"a\"; content:\"c\"; distance:0; within:1;"), "abc"));
	assert_true(matches(R("content:\"b\"; content:\"a\"; distance:-2; within:1;"), "abc"));
	/* backtracking: the first "a" fails the second content, a later one fits */
	assert_true(matches(R("content:\"a\"; content:\"z\"; distance:0; within:1;"), "a-a-az"));
	/* negation */
	assert_true(matches(R("content:\"a\"; content:!\"q\"; distance:0;"), "abc"));
	assert_false(matches(R("content:\"a\"; content:!\"c\"; distance:0;"), "abc"));
	assert_true(matches(R("content:!\"zzz\";"), "abc"));
	/* hex and escapes */
	assert_true(matches(R("content:\"|0d 0a|x\\;\";"), "a\r\nx;"));
}

static void
byte_keywords(void **state)
{
	(void)state;
	/* "LEN" then a 2-byte big-endian 0x0010 = 16 */
	assert_true(matches(R("content:\"LEN\"; byte_test:2,=,16,0,relative;"), "LEN\x00\x10rest"));
	assert_false(matches(R("content:\"LEN\"; byte_test:2,>,16,0,relative;"), "LEN\x00\x10rest"));
	assert_true(matches(R("content:\"LEN\"; byte_test:2,=,4096,0,relative,little;"), "LEN\x00\x10rest"));
	assert_true(matches(R("byte_test:3,=,123,2,string,dec;"), "xx123yy"));
	assert_true(matches(R("byte_test:2,!=,0xff,0,string,hex;"), "fe"));
	assert_true(matches(R("byte_test:1,&,0x80,0;"), "\x81"));
	/* byte_jump over a length, then content right after */
	assert_true(matches(R("content:\"L\"; byte_jump:1,0,relative; content:\"END\"; within:3;"),
			    "L\x04xxxxEND"));
	assert_false(matches(R("content:\"L\"; byte_jump:1,0,relative; content:\"END\"; within:3;"),
			     "L\x05xxxxEND"));
	assert_true(matches(R("content:\"a\"; isdataat:2,relative;"), "abc"));
	assert_false(matches(R("content:\"a\"; isdataat:3,relative;"), "abc"));
	assert_true(matches(R("content:\"a\"; isdataat:!3,relative;"), "abc"));
	assert_false(matches(R("content:\"y\"; pcre:\"/^x/R\";"), "axxy"));
	assert_true(matches(R("content:\"a\"; pcre:\"/^x+y$/R\";"), "axxy"));
	assert_true(matches(R("pcre:\"/X\\d{2}/i\";"), "..x12.."));
	assert_true(matches(R("content:\"a\"; pcre:!\"/q/\";"), "abc"));
}

static void
stream_window_new_data(void **state)
{
	const char *rule = R("content:\"MARK\";");
	struct ruleset *rs = ruleset_new(vars, 1);
	const char *win = "oldMARKnewdata";
	struct match_in in = {(const uint8_t *)win, strlen(win), 100, 7};

	(void)state;
	assert_int_equal(ruleset_add_text(rs, rule, strlen(rule), "t"), 0);
	/* the match ends at 7: all of it was inspected before */
	assert_false(match_buf(&rs->rules[0]->bufs[0], &in));
	in.min_end = 6; /* it straddles into the new data */
	assert_true(match_buf(&rs->rules[0]->bufs[0], &in));
	ruleset_put(rs);
	/* offset/depth are stream offsets: base 100 puts "MARK" at 103 */
	rs = ruleset_new(vars, 1);
	rule = R("content:\"MARK\"; depth:50;");
	assert_int_equal(ruleset_add_text(rs, rule, strlen(rule), "t"), 0);
	in.min_end = 0;
	assert_false(match_buf(&rs->rules[0]->bufs[0], &in));
	in.base = 0;
	assert_true(match_buf(&rs->rules[0]->bufs[0], &in));
	ruleset_put(rs);
}

static void
catastrophic_pcre_is_bounded(void **state)
{
	char subject[4096];
	struct timespec a, b;
	uint64_t before = match_stats.pcre_limit;
	double ms;

	(void)state;
	memset(subject, 'a', sizeof(subject) - 2);
	subject[sizeof(subject) - 2] = '!';
	subject[sizeof(subject) - 1] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_false(matches(R("pcre:\"/(a+)+$/\";"), subject));
	assert_false(matches(R("pcre:\"/(a|aa)+b/\";"), subject));
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	if (ms > 500)
		fail_msg("catastrophic pcre took %.0f ms", ms);
	assert_true(match_stats.pcre_limit > before);
}

struct hits {
	uint32_t sid[16];
	int n;
};

static void
on_alert(void *arg, const struct rule *r, const struct det_pkt *p)
{
	struct hits *h = arg;

	(void)p;
	if (h->n < 16)
		h->sid[h->n++] = r->sid;
}

static struct ruleset *
built(const char *text)
{
	struct ruleset *rs = ruleset_new(vars, 1);
	char err[256];

	assert_int_equal(ruleset_add_text(rs, text, strlen(text), "t"), 0);
	assert_int_equal(ruleset_build(rs, err, sizeof(err)), 0);
	return rs;
}

static void
engine_candidates_and_sharing(void **state)
{
	const char *text =
		"alert tcp any any -> 10.0.0.0/8 80 (msg:\"a\"; content:\"evil\"; sid:10;)\n"
		"alert tcp any any -> 10.0.0.0/8 80 (msg:\"b\"; content:\"EVIL\"; nocase; content:\"x\"; sid:11;)\n"
		"alert tcp any any -> 10.0.0.0/8 81 (msg:\"c\"; content:\"evil\"; sid:12;)\n"
		"alert udp any any -> any any (msg:\"d\"; content:\"evil\"; sid:13;)\n"
		"alert tcp any any -> any any (msg:\"e\"; dsize:>3; sid:14;)\n";
	struct ruleset *a = built(text), *b;
	struct det_pkt p = {0};
	struct hits h = {0};
	unsigned live1, live2, hits1, hits2;
	size_t bytes;

	(void)state;
	p.src = 0xc0000201;
	p.dst = 0x0a000005;
	p.sp = 4000;
	p.dp = 80;
	p.ipproto = 6;
	p.payload = (const uint8_t *)"an evil payload";
	p.plen = strlen((const char *)p.payload);
	p.dsize = (uint32_t)p.plen;
	assert_int_equal(detect_run(a, NULL, SG_PKT_TCP, &p, on_alert, &h), 2);
	assert_int_equal(h.sid[0], 10);
	assert_int_equal(h.sid[1], 14);
	/* the same rules with another HOME_NET share every database */
	mpm_cache_stats(&live1, &hits1, &bytes);
	b = built(text);
	mpm_cache_stats(&live2, &hits2, &bytes);
	assert_int_equal(live2, live1);
	assert_true(hits2 > hits1);
	ruleset_put(a);
	mpm_cache_stats(&live2, NULL, NULL);
	assert_int_equal(live2, live1); /* b still holds them */
	ruleset_put(b);
	mpm_cache_stats(&live2, NULL, NULL);
	assert_int_equal(live2, 0);
}

static void
thresholds_and_flowbits(void **state)
{
	const char *text =
		"alert tcp any any -> any any (msg:\"lim\"; content:\"L\"; threshold:type limit, track by_src, count 2, seconds 60; sid:20;)\n"
		"alert tcp any any -> any any (msg:\"df\"; content:\"D\"; detection_filter:track by_dst, count 2, seconds 60; sid:21;)\n"
		"alert tcp any any -> any any (msg:\"chk\"; content:\"B\"; flowbits:isset,seen; sid:23;)\n"
		"alert tcp any any -> any any (msg:\"set\"; content:\"A\"; flowbits:set,seen; flowbits:noalert; sid:22;)\n";
	struct ruleset *rs = built(text);
	struct det_thresh *th = det_thresh_new();
	uint8_t bits[4] = {0};
	struct det_pkt p = {0};
	struct hits h = {0};
	int n = 0;

	(void)state;
	p.ipproto = 6;
	p.ts_us = 1000000;
	p.fbits = bits;
	p.fbits_n = 32;
	p.payload = (const uint8_t *)"L";
	p.plen = 1;
	for (int i = 0; i < 5; i++)
		n += detect_run(rs, th, SG_PKT_TCP, &p, on_alert, &h);
	assert_int_equal(n, 2); /* limit 2 */
	n = 0;
	p.payload = (const uint8_t *)"D";
	for (int i = 0; i < 5; i++)
		n += detect_run(rs, th, SG_PKT_TCP, &p, on_alert, &h);
	assert_int_equal(n, 3); /* after the first 2 */
	p.payload = (const uint8_t *)"B";
	assert_int_equal(detect_run(rs, th, SG_PKT_TCP, &p, on_alert, &h), 0);
	/* the setter runs before the check, whatever their order in the file */
	p.payload = (const uint8_t *)"AB";
	p.plen = 2;
	assert_int_equal(detect_run(rs, th, SG_PKT_TCP, &p, on_alert, &h), 1);
	assert_int_equal(h.sid[h.n - 1], 23);
	/* the bit set by an earlier event: the checker alone (its database
	 * is scanned only when a bit may be set) */
	p.payload = (const uint8_t *)"B";
	p.plen = 1;
	assert_int_equal(detect_run(rs, th, SG_PKT_TCP, &p, on_alert, &h), 1);
	assert_int_equal(h.sid[h.n - 1], 23);
	memset(bits, 0, sizeof(bits));
	assert_int_equal(detect_run(rs, th, SG_PKT_TCP, &p, on_alert, &h), 0);
	det_thresh_free(th);
	ruleset_put(rs);
}

/* Rules without a content are found through the address and port indexes. */
static void
address_and_port_index(void **state)
{
	const char *text =
		"alert ip [1.2.3.4,5.6.7.0/24] any -> $HOME_NET any (msg:\"rep\"; sid:30;)\n"
		"alert ip $HOME_NET any -> [9.9.9.9] any (msg:\"c2\"; sid:31;)\n"
		"alert tcp $HOME_NET any -> any 3389 (msg:\"rdp\"; flags:S; sid:32;)\n"
		"alert tcp any any -> any any (msg:\"syn-fin\"; flags:SF; sid:33;)\n";
	struct ruleset *rs = built(text);
	struct det_pkt p = {0};
	struct hits h = {0};

	(void)state;
	p.ipproto = 6;
	p.tcp_flags = 0x02;
	p.src = 0x05060709; /* 5.6.7.9 */
	p.dst = 0x0a000001;
	p.sp = 1000;
	p.dp = 80;
	assert_int_equal(detect_run(rs, NULL, SG_PKT_TCP, &p, on_alert, &h), 1);
	assert_int_equal(h.sid[0], 30);
	p.src = 0x05060809; /* 5.6.8.9: not listed */
	assert_int_equal(detect_run(rs, NULL, SG_PKT_TCP, &p, on_alert, &h), 0);
	p.src = 0x0a000002;
	p.dst = 0x09090909;
	assert_int_equal(detect_run(rs, NULL, SG_PKT_TCP, &p, on_alert, &h), 1);
	assert_int_equal(h.sid[1], 31);
	p.dst = 0x08080808;
	p.dp = 3389;
	assert_int_equal(detect_run(rs, NULL, SG_PKT_TCP, &p, on_alert, &h), 1);
	assert_int_equal(h.sid[2], 32);
	p.tcp_flags = 0x03;
	p.dp = 3390;
	assert_int_equal(detect_run(rs, NULL, SG_PKT_TCP, &p, on_alert, &h), 1);
	assert_int_equal(h.sid[3], 33);
	ruleset_put(rs);
}

/* A tenant's own rules (a child set) test flowbits the shared set sets. */
static void
child_set_shares_flowbits(void **state)
{
	const char *base_text =
		"alert tcp any any -> any any (msg:\"other\"; content:\"zz\"; flowbits:set,other; sid:40;)\n"
		"alert tcp any any -> any any (msg:\"evil\"; content:\"EVIL\"; flowbits:set,ET.Evil; flowbits:noalert; sid:41;)\n";
	const char *child_text =
		"alert tcp any any -> any any (msg:\"mine\"; content:\"data\"; flowbits:isset,ET.Evil; sid:50;)\n";
	struct ruleset *base = built(base_text), *child = ruleset_new_child(vars, 1, base);
	uint8_t bits[8] = {0};
	struct det_pkt p = {0};
	struct hits h = {0};
	char err[128];

	(void)state;
	assert_non_null(child);
	assert_int_equal(ruleset_add_text(child, child_text, strlen(child_text), "custom"), 0);
	assert_int_equal(ruleset_build(child, err, sizeof(err)), 0);
	assert_int_equal(child->nfb, base->nfb); /* the same names, the same numbers */
	p.ipproto = 6;
	p.fbits = bits;
	p.fbits_n = 64;
	p.payload = (const uint8_t *)"data";
	p.plen = 4;
	assert_int_equal(detect_run(child, NULL, SG_PKT_TCP, &p, on_alert, &h), 0);
	p.payload = (const uint8_t *)"EVIL";
	assert_int_equal(detect_run(base, NULL, SG_PKT_TCP, &p, on_alert, &h), 0);
	p.payload = (const uint8_t *)"data";
	assert_int_equal(detect_run(child, NULL, SG_PKT_TCP, &p, on_alert, &h), 1);
	assert_int_equal(h.sid[h.n - 1], 50);
	ruleset_put(child);
	ruleset_put(base);
}

/* The fast-pattern databases by address class: a rule is found for the
 * events its header can match (home/external source and destination, both
 * orientations of "<>") and only those; $HOME_NET left open, as the sensor
 * loads a shared set. */
static void
address_classes(void **state)
{
	const char *text =
		"alert tcp $HOME_NET any -> $EXTERNAL_NET any (msg:\"out\"; content:\"token\"; sid:60;)\n"
		"alert tcp $EXTERNAL_NET any -> $HOME_NET any (msg:\"in\"; content:\"token\"; sid:61;)\n"
		"alert tcp $HOME_NET any <> $EXTERNAL_NET any (msg:\"both\"; content:\"tok\"; sid:62;)\n"
		"alert tcp any any -> $HOME_NET any (msg:\"any-in\"; content:\"oken\"; sid:63;)\n";
	static const struct ids_var v2[] = {{"HOME_NET", "10.0.0.0/8", 0},
					    {"EXTERNAL_NET", "!$HOME_NET", 0}};
	struct ruleset *rs = ruleset_new_shared(v2, 2);
	struct addrset home;
	struct det_pkt p = {0};
	struct hits h = {0};
	char err[256];

	(void)state;
	assert_int_equal(ruleset_add_text(rs, text, strlen(text), "t"), 0);
	assert_int_equal(ruleset_build(rs, err, sizeof(err)), 0);
	if (rs->nrules != 4)
		fail_msg("not parsed: %s", rs->nskip ? rs->skip[0].reason : "?");
	assert_int_equal(addr_parse(&home, "10.0.0.0/24", 0, NULL, NULL, err, sizeof(err)), 0);
	p.home = &home;
	p.ipproto = 6;
	p.payload = (const uint8_t *)"a token here";
	p.plen = strlen((const char *)p.payload);
	/* home -> external: out, both */
	p.src = 0x0a000002;
	p.dst = 0x08080808;
	assert_int_equal(detect_run(rs, NULL, SG_PKT_TCP, &p, on_alert, &h), 2);
	assert_int_equal(h.sid[0], 60);
	assert_int_equal(h.sid[1], 62);
	/* external -> home: in, both (the other orientation), any-in */
	p.src = 0x08080808;
	p.dst = 0x0a000002;
	assert_int_equal(detect_run(rs, NULL, SG_PKT_TCP, &p, on_alert, &h), 3);
	assert_int_equal(h.sid[2], 61);
	assert_int_equal(h.sid[3], 62);
	assert_int_equal(h.sid[4], 63);
	/* home -> home: any-in only */
	p.src = 0x0a000003;
	assert_int_equal(detect_run(rs, NULL, SG_PKT_TCP, &p, on_alert, &h), 1);
	assert_int_equal(h.sid[5], 63);
	/* external -> external: nothing */
	p.dst = 0x09090909;
	p.src = 0x08080808;
	assert_int_equal(detect_run(rs, NULL, SG_PKT_TCP, &p, on_alert, &h), 0);
	addr_free(&home);
	ruleset_put(rs);
}

/* A fast pattern with an absolute depth is looked for in its buffer's
 * prefix only (for the stream: its first bytes), yet found wherever the
 * rule can match: at the end of the bound, in a window that starts inside
 * it, beyond BOUND_SMALL. */
static void
depth_bounded_fast_patterns(void **state)
{
	const char *text =
		"alert tcp any any -> any any (msg:\"d10\"; content:\"MAGIC\"; depth:10; sid:70;)\n"
		"alert tcp any any -> any any (msg:\"d5000\"; content:\"LATEMARK\"; offset:4000; depth:1000; sid:71;)\n"
		"alert tcp any any -> any any (msg:\"free\"; content:\"ANYWHERE\"; sid:72;)\n";
	struct ruleset *rs = built(text);
	struct det_pkt p = {0};
	struct hits h = {0};
	static uint8_t buf[6000];

	(void)state;
	p.ipproto = 6;
	p.stream = 1;
	memset(buf, '.', sizeof(buf));
	memcpy(buf + 5, "MAGIC", 5); /* ends at 10: the bound */
	p.payload = buf;
	p.plen = 100;
	assert_int_equal(detect_run(rs, NULL, SG_PKT_TCP, &p, on_alert, &h), 1);
	assert_int_equal(h.sid[0], 70);
	memset(buf, '.', sizeof(buf));
	memcpy(buf + 6, "MAGIC", 5); /* ends at 11: beyond */
	assert_int_equal(detect_run(rs, NULL, SG_PKT_TCP, &p, on_alert, &h), 0);
	/* a window at stream offset 8: MAGIC at 5..10 of the stream */
	memset(buf, '.', sizeof(buf));
	memcpy(buf, "GIC", 3);
	p.pbase = 8;
	p.plen = 10;
	assert_int_equal(detect_run(rs, NULL, SG_PKT_TCP, &p, on_alert, &h), 0);
	p.pbase = 3;
	memcpy(buf, "..MAGIC", 7);
	assert_int_equal(detect_run(rs, NULL, SG_PKT_TCP, &p, on_alert, &h), 1);
	assert_int_equal(h.sid[1], 70);
	/* a window past the small bound: MAGIC no more, the others still */
	p.pbase = 3000;
	p.plen = sizeof(buf) - 100;
	memset(buf, '.', sizeof(buf));
	memcpy(buf, "MAGIC", 5);
	memcpy(buf + 1992, "LATEMARK", 8);  /* stream 4992..5000: the bound */
	memcpy(buf + 2500, "ANYWHERE", 8);
	assert_int_equal(detect_run(rs, NULL, SG_PKT_TCP, &p, on_alert, &h), 2);
	assert_int_equal(h.sid[2], 71);
	assert_int_equal(h.sid[3], 72);
	memcpy(buf + 1992, ".LATEMARK", 9); /* ends at 5001 */
	assert_int_equal(detect_run(rs, NULL, SG_PKT_TCP, &p, on_alert, &h), 1);
	assert_int_equal(h.sid[4], 72);
	ruleset_put(rs);
}

/* Port groups: payload rules with a few destination (or source) ports are
 * in databases by port bucket, yet found for every port they name. */
static void
port_groups(void **state)
{
	const char *text =
		"alert tcp any any -> any 445 (msg:\"smb\"; content:\"PORTMARK\"; sid:80;)\n"
		"alert tcp any 8080 -> any any (msg:\"proxy\"; content:\"PORTMARK\"; sid:81;)\n"
		"alert tcp any any -> any [1000:1003,2000] (msg:\"range\"; content:\"PORTMARK\"; sid:82;)\n"
		"alert tcp any any -> any !445 (msg:\"not smb\"; content:\"PORTMARK\"; sid:83;)\n";
	struct ruleset *rs = built(text);
	struct det_pkt p = {0};
	struct hits h = {0};
	static const struct {
		uint16_t sp, dp;
		int n;
		uint32_t sid;
	} cases[] = {
		{40000, 445, 1, 80},  {40000, 461, 1, 83}, /* 461: 445's bucket */
		{8080, 40000, 2, 81}, {8080, 445, 2, 80},  {40000, 1002, 2, 82},
		{40000, 2000, 2, 82}, {40000, 1004, 1, 83},
	};

	(void)state;
	p.ipproto = 6;
	p.payload = (const uint8_t *)"xx PORTMARK xx";
	p.plen = strlen((const char *)p.payload);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h.n = 0;
		p.sp = cases[i].sp;
		p.dp = cases[i].dp;
		if (detect_run(rs, NULL, SG_PKT_TCP, &p, on_alert, &h) != cases[i].n ||
		    h.sid[0] != cases[i].sid)
			fail_msg("ports %u -> %u: %d alerts, first %u", cases[i].sp, cases[i].dp, h.n,
				 h.n ? h.sid[0] : 0);
	}
	ruleset_put(rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(contents),
		cmocka_unit_test(byte_keywords),
		cmocka_unit_test(stream_window_new_data),
		cmocka_unit_test(catastrophic_pcre_is_bounded),
		cmocka_unit_test(engine_candidates_and_sharing),
		cmocka_unit_test(thresholds_and_flowbits),
		cmocka_unit_test(address_and_port_index),
		cmocka_unit_test(child_set_shares_flowbits),
		cmocka_unit_test(address_classes),
		cmocka_unit_test(depth_bounded_fast_patterns),
		cmocka_unit_test(port_groups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
