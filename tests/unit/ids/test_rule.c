/* test_rule.c - the rule parser (src/ids/rule.c, addr.c, ruleset.c): what
 * parses to what, and what is refused with which reason; the rule set's
 * skip list, classification.config and duplicate sids. Table-driven. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "rule.h"
#include "ruleset.h"

static const struct ids_var vars[] = {
	{"HOME_NET", "[10.0.0.0/24,!10.0.0.7]", 0},
	{"EXTERNAL_NET", "!$HOME_NET", 0},
	{"SELF", "[$SELF]", 0},
	{"HTTP_PORTS", "[80,8080:8089]", 1},
};

static struct ruleset *
load(const char *text)
{
	struct ruleset *rs = ruleset_new(vars, 4);

	assert_non_null(rs);
	assert_int_equal(ruleset_add_text(rs, text, strlen(text), "t"), 0);
	return rs;
}

static const char *
reason(const char *text)
{
	static char r[256];
	struct ruleset *rs = load(text);

	r[0] = '\0';
	if (rs->nskip)
		snprintf(r, sizeof(r), "%s", rs->skip[0].reason);
	assert_int_equal(rs->nrules + rs->nskip, 1);
	ruleset_put(rs);
	return r;
}

static void
header_and_addresses(void **state)
{
	struct ruleset *rs = load(
		"alert tcp $EXTERNAL_NET any -> $HOME_NET $HTTP_PORTS (msg:\"a\"; sid:1;)\n"
		"alert udp [1.2.3.0/24,!1.2.3.4] !53 <> any [1:1024,!22] (msg:\"b\"; sid:2; rev:3; gid:7;)\n");
	const struct rule *a, *b;

	(void)state;
	assert_int_equal(rs->nrules, 2);
	a = rs->rules[0];
	b = rs->rules[1];
	assert_int_equal(a->proto, PROTO_TCP);
	assert_false(addr_contains(&a->src, 0x0a000005)); /* 10.0.0.5 is home */
	assert_true(addr_contains(&a->src, 0x0a000007));  /* 10.0.0.7 is not */
	assert_true(addr_contains(&a->src, 0x08080808));
	assert_true(addr_contains(&a->dst, 0x0a0000ff));
	assert_false(addr_contains(&a->dst, 0x0a000007));
	assert_true(addr_contains(&a->dp, 80));
	assert_true(addr_contains(&a->dp, 8085));
	assert_false(addr_contains(&a->dp, 443));
	assert_true(b->bidir);
	assert_true(addr_contains(&b->src, 0x01020305));
	assert_false(addr_contains(&b->src, 0x01020304));
	assert_false(addr_contains(&b->sp, 53));
	assert_true(addr_contains(&b->sp, 54));
	assert_true(addr_contains(&b->dp, 21));
	assert_false(addr_contains(&b->dp, 22));
	assert_false(addr_contains(&b->dp, 1025));
	assert_int_equal(b->rev, 3);
	assert_int_equal(b->gid, 7);
	ruleset_put(rs);
}

static void
content_and_modifiers(void **state)
{
	struct ruleset *rs = load(
		"alert http any any -> any any (msg:\"x\\; y\"; flow:established,to_server; "
		"http.uri; content:\"/a|3b 20|b\"; nocase; depth:10; content:\"C\"; distance:2; within:5; "
		"content:!\"zz\"; http_header; pcre:\"/x\\;y/Ri\"; http.user_agent; content:\"ua\"; "
		"fast_pattern; endswith; bsize:<100; sid:9;)\n");
	const struct rule *r;
	const struct rule_buf *u = NULL, *h = NULL, *ua = NULL;

	(void)state;
	assert_int_equal(rs->nskip, 0);
	r = rs->rules[0];
	assert_string_equal(r->msg, "x; y");
	assert_int_equal(r->stage, STAGE_HTTP_REQ);
	assert_int_equal(r->flow, FLOW_ESTABLISHED | FLOW_TO_SERVER);
	for (int i = 0; i < r->nbufs; i++) {
		if (r->bufs[i].buf == IDS_BUF_HTTP_URI) u = &r->bufs[i];
		if (r->bufs[i].buf == IDS_BUF_HTTP_HEADER) h = &r->bufs[i];
		if (r->bufs[i].buf == IDS_BUF_HTTP_UA) ua = &r->bufs[i];
	}
	assert_non_null(u);
	assert_non_null(h);
	assert_non_null(ua);
	assert_int_equal(u->n, 3); /* two contents and the pcre */
	assert_int_equal(u->sm[0].u.c.len, 5);
	assert_memory_equal(u->sm[0].u.c.pat, "/a; b", 5);
	assert_true(u->sm[0].flags & SM_NOCASE);
	assert_int_equal(u->sm[0].u.c.depth, 10);
	assert_true(u->sm[1].flags & SM_RELATIVE);
	assert_int_equal(u->sm[1].u.c.distance, 2);
	assert_int_equal(u->sm[1].u.c.within, 5);
	assert_int_equal(u->sm[2].type, SM_PCRE);
	assert_true(u->sm[2].flags & SM_RELATIVE);
	assert_int_equal(h->n, 1); /* the negated content moved by http_header */
	assert_true(h->sm[0].flags & SM_NEG);
	assert_int_equal(ua->n, 2);
	assert_true(ua->sm[0].flags & SM_ENDSWITH);
	assert_int_equal(ua->sm[1].type, SM_BSIZE);
	/* fast_pattern wins over the longer uri content */
	assert_int_equal(r->bufs[r->fp_buf].buf, IDS_BUF_HTTP_UA);
	ruleset_put(rs);
}

static void
refused_with_reasons(void **state)
{
	static const struct {
		const char *rule, *reason;
	} t[] = {
		{"alert tcp any any -> any any (msg:\"x\"; ja3.hash; content:\"a\"; sid:1;)",
		 "unknown keyword ja3.hash"},
		{"alert smb any any -> any any (msg:\"x\"; sid:1;)", "unsupported protocol smb"},
		{"alert tcp any any -> any any (msg:\"x\"; content:\"a\"; sid:1;", "options must end with ')'"},
		{"alert tcp any any -> any any (msg:\"x\"; content:\"a\")", "option not ended by ';': content:\"a\""},
		{"alert tcp any any -> any any (msg:\"x\"; content:\"a\";)", "no sid"},
		{"alert tcp any any => any any (sid:1;)", "bad direction =>"},
		{"alert tcp $NOPE any -> any any (sid:1;)", "unknown variable '$NOPE'"},
		{"alert tcp $SELF any -> any any (sid:1;)", "variables nested too deep at '$SELF'"},
		{"alert tcp [1.2.3.4 any -> any any (sid:1;)", "header must be: action proto src port -> dst port (options)"},
		{"alert tcp any 70000 -> any any (sid:1;)", "bad port '70000'"},
		{"alert tcp any any -> any any (content:\"|4g|\"; sid:1;)", "bad content string"},
		{"alert tcp any any -> any any (nocase; sid:1;)", "nocase without a content before it"},
		{"alert tcp any any -> any any (content:\"a\"; depth:x; sid:1;)",
		 "depth needs a number (variables are not supported)"},
		{"alert tcp any any -> any any (pcre:\"/(/\"; sid:1;)", "pcre: missing closing parenthesis at 1"},
		{"alert tcp any any -> any any (pcre:\"/a/Z\"; sid:1;)", "unknown pcre modifier 'Z'"},
		{"alert tcp any any -> any any (flow:sideways; sid:1;)", "flow: unknown option sideways"},
		{"alert tcp any any -> any any (flow:to_server,to_client; sid:1;)",
		 "flow: to_server and to_client together"},
		{"alert udp any any -> any any (tls.sni; content:\"a\"; sid:1;)", "tls.sni needs protocol tls or tcp"},
		{"alert dns any any -> any any (content:\"a\"; dns.query; content:\"b\"; sid:1;)",
		 "payload and application buffers in one rule are not supported"},
		{"alert http any any -> any any (http.uri; dotprefix; content:\".a\"; sid:1;)",
		 "dotprefix on http.uri is not supported"},
		{"alert http any any -> any any (http.uri; content:\"a\"; dns.query; content:\"b\"; sid:1;)",
		 "buffers of two application protocols in one rule"},
		{"alert tcp any any -> any any (threshold:type limit, track by_src; sid:1;)",
		 "threshold needs track, count, seconds"},
		{"alert tcp any any -> any any (byte_test:2,~,1,0; sid:1;)", "byte_test: bad operator ~"},
		{"alert tcp any any -> any any (flowbits:frob,a; sid:1;)", "flowbits: unknown command frob"},
		{"alert tcp [2001:db8::1] any -> any any (sid:1;)", "IPv6 addresses only (the sensor decodes IPv4)"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *r = reason(t[i].rule);

		if (strcmp(r, t[i].reason) != 0)
			fail_msg("rule %zu: got '%s', want '%s'", i, r, t[i].reason);
	}
}

static void
huge_content_refused(void **state)
{
	char rule[8192];
	int n;

	(void)state;
	n = snprintf(rule, sizeof(rule), "alert tcp any any -> any any (content:\"");
	memset(rule + n, 'A', 3000);
	snprintf(rule + n + 3000, sizeof(rule) - (size_t)n - 3000, "\"; sid:1;)");
	assert_string_equal(reason(rule), "content longer than 2048 bytes");
}

static void
ruleset_skips_and_counts(void **state)
{
	const char *text = "# comment\n"
			   "\n"
			   "alert tcp any any -> any any (msg:\"ok\"; content:\"a\"; sid:1;)\n"
			   "alert tcp any any -> any any (msg:\"dup\"; content:\"b\"; sid:1;)\n"
			   "alert tcp any any -> any any (msg:\"cont\"; \\\n"
			   "   content:\"c\"; sid:2;)\n"
			   "alert foo any any -> any any (sid:3;)\n"
			   "alert tcp any any -> any any (msg:\"k\"; xbits:set,a; sid:4;)\n"
			   "alert tcp any any -> any any (msg:\"c\"; classtype:web-application-attack; sid:5;)\n";
	struct ruleset *rs = load(text);
	json_t *sum;

	(void)state;
	assert_int_equal(rs->nrules, 3);
	assert_int_equal(rs->nskip_total, 3);
	assert_int_equal(rs->skip[0].sid, 1);
	assert_string_equal(rs->skip[0].reason, "duplicate sid");
	assert_string_equal(rs->skip[0].where, "t:4");
	assert_int_equal(rs->skip[1].sid, 3);
	assert_string_equal(rs->skip[2].reason, "unknown keyword xbits");
	assert_int_equal(rs->skip[2].sid, 4);
	/* without classification.config, a classtype names itself */
	assert_string_equal(rs->rules[2]->cls->desc, "web-application-attack");
	sum = ruleset_summary(rs);
	assert_int_equal(json_integer_value(json_object_get(sum, "loaded")), 3);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(sum, "skipped_by_reason"), "duplicate sid")),
			 1);
	json_decref(sum);
	ruleset_put(rs);
}

static void
classification(void **state)
{
	const char *cls = "# c\nconfig classification: trojan-activity,A Network Trojan was detected,1\n"
			  "config classification: bad,Bad,x\n";
	struct ruleset *rs = ruleset_new(vars, 4);
	const char *rules = "alert tcp any any -> any any (classtype:trojan-activity; sid:1;)\n"
			    "alert tcp any any -> any any (classtype:nope; sid:2;)\n";

	(void)state;
	assert_int_equal(ruleset_add_classification(rs, cls, strlen(cls)), 0);
	assert_int_equal(ruleset_add_text(rs, rules, strlen(rules), "t"), 0);
	assert_int_equal(rs->nrules, 1);
	assert_int_equal(rs->rules[0]->cls->priority, 1);
	assert_string_equal(rs->rules[0]->cls->desc, "A Network Trojan was detected");
	assert_string_equal(rs->skip[0].reason, "unknown classtype nope");
	ruleset_put(rs);
}

static void
content_decode(void **state)
{
	uint8_t out[16];
	size_t n;

	(void)state;
	assert_int_equal(rule_content_decode("a|41 42|\\\"|0d0a|", 16, out, sizeof(out), &n), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(out, "aAB\"\r\n", 6);
	assert_int_equal(rule_content_decode("|4|", 3, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(rule_content_decode("a;", 2, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(rule_content_decode("0123456789abcdefg", 17, out, sizeof(out), &n), -E2BIG);
}

/* $HOME_NET left open: one parsed rule set, matched against any home set. */
static void
home_left_open(void **state)
{
	static const struct ids_var v[] = {
		{"HOME_NET", "10.0.0.0/24", 0},
		{"EXTERNAL_NET", "!$HOME_NET", 0},
		{"HTTP_SERVERS", "$HOME_NET", 0},
	};
	const char *text =
		"alert ip $EXTERNAL_NET any -> [$HTTP_SERVERS,!10.9.9.9] any (sid:1;)\n"
		"alert ip [$EXTERNAL_NET,!255.255.255.255] any -> [$HOME_NET,1.2.3.4] any (sid:2;)\n"
		"alert ip ![$HOME_NET,1.2.3.4] any -> any any (sid:3;)\n";
	struct ruleset *rs = ruleset_new_shared(v, 3);
	struct addrset a, b;
	const struct rule *r1, *r2;

	(void)state;
	assert_int_equal(ruleset_add_text(rs, text, strlen(text), "t"), 0);
	assert_int_equal(rs->nrules, 2);
	assert_string_equal(rs->skip[0].reason,
			    "address too complex with a per-network $HOME_NET: '![$HOME_NET,1.2.3.4]'");
	assert_int_equal(addr_parse(&a, "10.0.0.0/24", 0, NULL, NULL, NULL, 0), 0);
	assert_int_equal(addr_parse(&b, "[10.9.0.0/16,192.168.1.0/24]", 0, NULL, NULL, NULL, 0), 0);
	r1 = rs->rules[0];
	r2 = rs->rules[1];
	/* network a: home 10.0.0.0/24 */
	assert_true(addr_match(&r1->src, 0x08080808, &a));
	assert_false(addr_match(&r1->src, 0x0a000005, &a));
	assert_true(addr_match(&r1->dst, 0x0a000005, &a));
	assert_false(addr_match(&r1->dst, 0x0a090909, &a));
	/* network b: the same rule, another home */
	assert_true(addr_match(&r1->src, 0x0a000005, &b));
	assert_false(addr_match(&r1->src, 0xc0a80105, &b));
	assert_true(addr_match(&r1->dst, 0x0a090101, &b));
	assert_false(addr_match(&r1->dst, 0x0a090909, &b)); /* the exception */
	assert_true(addr_match(&r2->src, 0x08080808, &a));
	assert_false(addr_match(&r2->src, 0xffffffff, &a));
	assert_true(addr_match(&r2->dst, 0x01020304, &b));
	assert_true(addr_match(&r2->dst, 0xc0a80101, &b));
	assert_false(addr_match(&r2->dst, 0x0a000005, &b));
	addr_free(&a);
	addr_free(&b);
	ruleset_put(rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(header_and_addresses),
		cmocka_unit_test(content_and_modifiers),
		cmocka_unit_test(refused_with_reasons),
		cmocka_unit_test(huge_content_refused),
		cmocka_unit_test(ruleset_skips_and_counts),
		cmocka_unit_test(classification),
		cmocka_unit_test(content_decode),
		cmocka_unit_test(home_left_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
