/*
 * test_net.c - a tenant's network state (netstate.h) and the nftables rule
 * sets generated from it (nft.h), table-driven. When run as root with nft
 * installed, every generated rule set is also checked by the kernel's own
 * parser (`nft -c -f`: validated, not applied).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "netstate.h"
#include "nft.h"
#include "nftx.h"

#define T0 "\"tenant\":\"t-1\",\"networks\":[{\"id\":\"n1\",\"cidr\":\"10.0.0.0/24\"}]"
#define EXT ",\"external\":{\"address\":\"198.18.0.10/24\"}"
#define RULE(x) ",\"rules\":[{\"direction\":\"ingress\",\"action\":\"allow\",\"local\":\"10.0.0.10/32\"," x "}]"

struct row {
	const char *name;
	const char *json;
	const char *err; /* NULL: must parse */
};

static const struct row rows[] = {
	{"minimal", "{" T0 "}", NULL},
	{"spanning", "{\"tenant\":\"t\",\"networks\":[{\"id\":\"n\",\"cidr\":\"10.0.0.0/24\",\"vni\":1000,\"peers\":[\"192.168.9.2\",\"192.168.9.3\"]}]}", NULL},
	{"vni 0", "{\"tenant\":\"t\",\"networks\":[{\"id\":\"n\",\"cidr\":\"10.0.0.0/24\",\"vni\":0}]}", "vni"},
	{"vni too big", "{\"tenant\":\"t\",\"networks\":[{\"id\":\"n\",\"cidr\":\"10.0.0.0/24\",\"vni\":16777216}]}", "vni"},
	{"vni string", "{\"tenant\":\"t\",\"networks\":[{\"id\":\"n\",\"cidr\":\"10.0.0.0/24\",\"vni\":\"7\"}]}", "vni"},
	{"vni shared", "{\"tenant\":\"t\",\"networks\":[{\"id\":\"a\",\"cidr\":\"10.0.0.0/24\",\"vni\":5},{\"id\":\"b\",\"cidr\":\"10.1.0.0/24\",\"vni\":5}]}", "vni"},
	{"peers without vni", "{\"tenant\":\"t\",\"networks\":[{\"id\":\"n\",\"cidr\":\"10.0.0.0/24\",\"peers\":[\"192.168.9.2\"]}]}", "with a vni"},
	{"peer garbage", "{\"tenant\":\"t\",\"networks\":[{\"id\":\"n\",\"cidr\":\"10.0.0.0/24\",\"vni\":9,\"peers\":[\"192.168.9.2 dev x\"]}]}", "peers[0]"},
	{"peer duplicate", "{\"tenant\":\"t\",\"networks\":[{\"id\":\"n\",\"cidr\":\"10.0.0.0/24\",\"vni\":9,\"peers\":[\"192.168.9.2\",\"192.168.9.2\"]}]}", "duplicate"},
	{"member", "{" T0 ",\"role\":\"member\"}", NULL},
	{"bad role", "{" T0 ",\"role\":\"guest\"}", "role"},
	{"remote port", "{" T0 ",\"remote_ports\":[{\"mac\":\"52:54:00:AA:00:01\",\"address\":\"10.0.0.20\"}]}", NULL},
	{"remote multicast mac", "{" T0 ",\"remote_ports\":[{\"mac\":\"01:54:00:aa:00:01\",\"address\":\"10.0.0.20\"}]}", "unicast"},
	{"remote mac garbage", "{" T0 ",\"remote_ports\":[{\"mac\":\"52:54:00:aa:00:0g\",\"address\":\"10.0.0.20\"}]}", "unicast"},
	{"remote outside", "{" T0 ",\"remote_ports\":[{\"mac\":\"52:54:00:aa:00:01\",\"address\":\"10.9.0.20\"}]}", "tenant's networks"},
	{"ids off", "{" T0 ",\"ids\":{\"enabled\":false}}", NULL},
	{"ids rules", "{" T0 ",\"ids\":{\"custom_rules\":\"alert ip any any -> any any (sid:1;)\"}}", NULL},
	{"ids enabled string", "{" T0 ",\"ids\":{\"enabled\":\"no\"}}", "ids.enabled"},
	{"ids unknown field", "{" T0 ",\"ids\":{\"mode\":\"prevent\"}}", "ids"},
	{"ids rules number", "{" T0 ",\"ids\":{\"custom_rules\":5}}", "ids.custom_rules"},
	{"ids not object", "{" T0 ",\"ids\":true}", "ids"},
	{"with external", "{" T0 EXT "}", NULL},
	{"vm mode", "{" T0 ",\"mode\":\"vm\"}", NULL},
	{"bad mode", "{" T0 ",\"mode\":\"router\"}", "mode"},
	{"no networks", "{\"tenant\":\"t\"}", "networks is required"},
	{"tenant upper case", "{\"tenant\":\"T\",\"networks\":[]}", "a-z"},
	{"tenant too long", "{\"tenant\":\"abcdefghijabcdefghijabcdefghijabc\",\"networks\":[]}", "1 to 32"},
	{"tenant dash first", "{\"tenant\":\"-a\",\"networks\":[]}", "not starting"},
	{"unknown field", "{" T0 ",\"colour\":1}", "colour"},
	{"host bits", "{\"tenant\":\"t\",\"networks\":[{\"id\":\"n\",\"cidr\":\"10.0.0.1/24\"}]}", "cidr"},
	{"prefix too short", "{\"tenant\":\"t\",\"networks\":[{\"id\":\"n\",\"cidr\":\"10.0.0.0/8\"}]}", "/16 to /28"},
	{"overlap", "{\"tenant\":\"t\",\"networks\":[{\"id\":\"a\",\"cidr\":\"10.0.0.0/16\"},{\"id\":\"b\",\"cidr\":\"10.0.1.0/24\"}]}", "overlaps"},
	{"duplicate id", "{\"tenant\":\"t\",\"networks\":[{\"id\":\"a\",\"cidr\":\"10.0.0.0/24\"},{\"id\":\"a\",\"cidr\":\"10.1.0.0/24\"}]}", "duplicate"},
	{"octal-looking", "{\"tenant\":\"t\",\"networks\":[{\"id\":\"n\",\"cidr\":\"010.0.0.0/24\"}]}", "cidr"},
	{"prefix 024", "{\"tenant\":\"t\",\"networks\":[{\"id\":\"n\",\"cidr\":\"10.0.0.0/024\"}]}", "cidr"},
	{"rule ok", "{" T0 RULE("\"protocol\":\"tcp\",\"port_min\":80") "}", NULL},
	{"rule range", "{" T0 RULE("\"protocol\":\"udp\",\"port_min\":1000,\"port_max\":2000") "}", NULL},
	{"rule port 0", "{" T0 RULE("\"protocol\":\"tcp\",\"port_min\":0") "}", "1 to 65535"},
	{"rule port 65536", "{" T0 RULE("\"protocol\":\"tcp\",\"port_min\":65536") "}", "1 to 65535"},
	{"rule port string", "{" T0 RULE("\"protocol\":\"tcp\",\"port_min\":\"80\"") "}", "1 to 65535"},
	{"rule inverted range", "{" T0 RULE("\"protocol\":\"tcp\",\"port_min\":90,\"port_max\":80") "}", "above"},
	{"rule icmp port", "{" T0 RULE("\"protocol\":\"icmp\",\"port_min\":1") "}", "ports need"},
	{"rule sctp", "{" T0 RULE("\"protocol\":\"sctp\"") "}", "tcp, udp, icmp or any"},
	{"rule remote host bits", "{" T0 RULE("\"protocol\":\"any\",\"remote\":\"1.2.3.4/8\"") "}", "host bits"},
	{"rule remote garbage", "{" T0 RULE("\"protocol\":\"any\",\"remote\":\"1.2.3.4/8; flush ruleset\"") "}", "remote"},
	{"rule priority 0", "{" T0 RULE("\"protocol\":\"any\",\"priority\":0") "}", "priority"},
	{"rule local outside", "{" T0 ",\"rules\":[{\"direction\":\"ingress\",\"action\":\"allow\",\"protocol\":\"any\",\"local\":\"10.9.0.10/32\"}]}", "not inside"},
	{"rule local wider", "{" T0 ",\"rules\":[{\"direction\":\"ingress\",\"action\":\"allow\",\"protocol\":\"any\",\"local\":\"10.0.0.0/16\"}]}", "not inside"},
	{"address without external", "{" T0 ",\"addresses\":[{\"address\":\"198.18.0.11\"}]}", "external.address"},
	{"address ok", "{" T0 EXT ",\"addresses\":[{\"address\":\"198.18.0.11\",\"vm\":\"10.0.0.10\"}]}", NULL},
	{"address dup", "{" T0 EXT ",\"addresses\":[{\"address\":\"198.18.0.10\"}]}", "duplicate"},
	{"address vm outside", "{" T0 EXT ",\"addresses\":[{\"address\":\"198.18.0.11\",\"vm\":\"10.5.0.10\"}]}", "tenant's networks"},
	{"forward ok", "{" T0 EXT ",\"forwards\":[{\"address\":\"198.18.0.10\",\"protocol\":\"tcp\",\"port\":8080,\"to\":\"10.0.0.10\",\"to_port\":80}]}", NULL},
	{"forward foreign address", "{" T0 EXT ",\"forwards\":[{\"address\":\"198.18.0.99\",\"protocol\":\"tcp\",\"port\":8080,\"to\":\"10.0.0.10\",\"to_port\":80}]}", "external addresses"},
	{"forward icmp", "{" T0 EXT ",\"forwards\":[{\"address\":\"198.18.0.10\",\"protocol\":\"icmp\",\"port\":8080,\"to\":\"10.0.0.10\",\"to_port\":80}]}", "tcp or udp"},
};

static void
t_row(void **state)
{
	const struct row *r = *state;
	json_error_t je;
	json_t *j = json_loads(r->json, 0, &je);
	struct net_tenant t;
	char err[512] = "";
	int rc;

	assert_non_null(j);
	rc = netstate_parse(j, &t, err, sizeof(err));
	if (r->err == NULL) {
		if (rc != 0)
			fail_msg("%s: refused: %s", r->name, err);
		/* Round trip: the persisted form parses to the same state. */
		json_t *again = netstate_to_json(&t), *again2;
		struct net_tenant t2;

		assert_int_equal(netstate_parse(again, &t2, err, sizeof(err)), 0);
		again2 = netstate_to_json(&t2);
		assert_true(json_equal(again, again2));
		json_decref(again);
		json_decref(again2);
		netstate_free(&t2);
		netstate_free(&t);
	} else {
		assert_int_equal(rc, -EINVAL);
		if (strstr(err, r->err) == NULL)
			fail_msg("%s: error '%s' does not mention '%s'", r->name, err, r->err);
		assert_null(t.rules);
	}
	json_decref(j);
}

static struct net_tenant
parse(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	struct net_tenant t;
	char err[256];

	assert_non_null(j);
	if (netstate_parse(j, &t, err, sizeof(err)) != 0)
		fail_msg("parse: %s", err);
	json_decref(j);
	return t;
}

/* When root with nft: the kernel's parser accepts the text (check only). */
static void
nft_check(const char *text)
{
	char path[] = "/tmp/cloudlet-nft-XXXXXX", cmd[128];
	int fd;

	if (geteuid() != 0 || system("command -v nft >/dev/null 2>&1") != 0)
		return;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	snprintf(cmd, sizeof(cmd), "nft -c -f %s", path);
	if (system(cmd) != 0)
		fail_msg("nft -c refused:\n%s", text);
	unlink(path);
}

static void
t_firewall_text(void **state)
{
	struct net_tenant t = parse(
		"{" T0 EXT ",\"addresses\":[{\"address\":\"198.18.0.11\",\"vm\":\"10.0.0.10\"}],"
		"\"forwards\":[{\"address\":\"198.18.0.10\",\"protocol\":\"tcp\",\"port\":8080,"
		"\"to\":\"10.0.0.11\",\"to_port\":80}],\"rules\":["
		"{\"direction\":\"ingress\",\"action\":\"allow\",\"protocol\":\"tcp\",\"port_min\":80,"
		"\"local\":\"10.0.0.10/32\",\"priority\":200},"
		"{\"direction\":\"ingress\",\"action\":\"deny\",\"protocol\":\"tcp\",\"port_min\":80,"
		"\"remote\":\"203.0.113.0/24\",\"local\":\"10.0.0.10/32\",\"priority\":10},"
		"{\"direction\":\"egress\",\"action\":\"deny\",\"protocol\":\"udp\",\"port_min\":53,"
		"\"local\":\"10.0.0.0/24\"}]}");
	struct nft_ports p = {.ext = "ext0", .in = {"in-x"}, .in_glob = "in-*"};
	char *text = nft_firewall(&t, &p);
	const char *deny, *allow;

	(void)state;
	assert_non_null(text);
	/* Priority 10 comes before 200 whatever the request order. */
	deny = strstr(text, "ip saddr 203.0.113.0/24 ip daddr 10.0.0.10 tcp dport 80 drop");
	allow = strstr(text, "ip daddr 10.0.0.10 tcp dport 80 accept");
	assert_non_null(deny);
	assert_non_null(allow);
	assert_true(deny < allow);
	assert_non_null(strstr(text, "ip saddr 10.0.0.0/24 udp dport 53 drop"));
	assert_non_null(strstr(text, "iifname \"ext0\" ip daddr 198.18.0.11 dnat ip to 10.0.0.10"));
	assert_non_null(strstr(text, "ip daddr 198.18.0.10 tcp dport 8080 dnat ip to 10.0.0.11:80"));
	assert_non_null(strstr(text, "ip saddr 10.0.0.10 snat ip to 198.18.0.11"));
	assert_non_null(strstr(text, "ip saddr 10.0.0.0/24 snat ip to 198.18.0.10"));
	assert_non_null(strstr(text, "policy drop"));
	/* Replaces the table in one transaction. */
	assert_ptr_equal(strstr(text, "table inet cloudlet\ndelete table inet cloudlet\n"),
			 strstr(text, "table inet cloudlet\n"));
	nft_check(text);
	free(text);
	netstate_free(&t);
}

static void
t_no_external_drops_outbound(void **state)
{
	struct net_tenant t = parse("{" T0 "}");
	struct nft_ports p = {.ext = "ext0", .in = {"in-x"}, .in_glob = "in-*"};
	char *text = nft_firewall(&t, &p);
	const char *eg;

	(void)state;
	eg = strstr(text, "chain egress {");
	assert_non_null(eg);
	assert_non_null(strstr(eg, "\t\tdrop\n"));
	assert_null(strstr(text, "snat"));
	nft_check(text);
	free(text);
	netstate_free(&t);
}

static void
t_max_rules(void **state)
{
	json_t *j = json_loads("{" T0 EXT "}", 0, NULL), *rules = json_array();
	struct nft_ports p = {.ext = "ext0", .in = {"in-x"}, .in_glob = "in-*"};
	struct net_tenant t;
	char err[256], *text;

	(void)state;
	for (int i = 0; i < NET_RULES_MAX; i++)
		json_array_append_new(rules, json_pack("{s:s, s:s, s:s, s:i, s:s, s:i}", "direction",
						       i % 2 ? "ingress" : "egress", "action",
						       i % 3 ? "allow" : "deny", "protocol", "tcp",
						       "port_min", 1 + i, "local", "10.0.0.0/24",
						       "priority", 1000 - i % 900));
	json_object_set_new(j, "rules", rules);
	assert_int_equal(netstate_parse(j, &t, err, sizeof(err)), 0);
	text = nft_firewall(&t, &p);
	assert_non_null(text);
	nft_check(text);
	free(text);
	netstate_free(&t);
	json_array_append_new(rules, json_pack("{s:s, s:s, s:s, s:s}", "direction", "ingress",
					       "action", "allow", "protocol", "any", "local",
					       "10.0.0.0/24"));
	assert_int_equal(netstate_parse(j, &t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most 1024"));
	json_decref(j);
}

static void
t_tenant_text(void **state)
{
	struct nft_vm_port ports[2] = {{"vtabc0", "52:54:00:00:00:01", 0x0a00000a},
				       {"vtdef0", "52:54:00:00:00:02", 0x0a00000b}};
	const char *trusted[] = {"vtfw1"};
	char *text = nft_tenant(ports, 2, trusted, 1), *empty = nft_tenant(NULL, 0, NULL, 0);

	(void)state;
	assert_non_null(strstr(text, "\"vtabc0\" . 52:54:00:00:00:01 . 10.0.0.10"));
	assert_non_null(strstr(text, "\"vtdef0\" . 52:54:00:00:00:02 . 10.0.0.11"));
	assert_non_null(strstr(text, "elements = { \"vtfw1\" }"));
	/* No VMs: empty sets, and every vt* port is still policed (drops all). */
	assert_null(strstr(empty, "elements"));
	assert_non_null(strstr(empty, "iifname . ether saddr != @vm_mac drop"));
	nft_check(text);
	nft_check(empty);
	free(text);
	free(empty);
}

static void
t_cidr(void **state)
{
	struct net_cidr c;

	(void)state;
	assert_int_equal(netstate_parse_cidr("10.0.0.0/24", 1, 1, &c), 0);
	assert_int_equal(c.prefix, 24);
	assert_true(netstate_in(&c, 0x0a0000ff));
	assert_false(netstate_in(&c, 0x0a000100));
	assert_int_equal(netstate_parse_cidr("0.0.0.0/0", 1, 1, &c), 0);
	assert_true(netstate_in(&c, 0xc0a80001));
	assert_int_equal(netstate_parse_cidr("1.2.3.4/0", 1, 1, &c), -EINVAL);
	assert_int_equal(netstate_parse_cidr("1.2.3.4", 1, 0, &c), -EINVAL);
	assert_int_equal(netstate_parse_cidr("1.2.3.4/32", 0, 0, &c), -EINVAL);
	assert_int_equal(netstate_parse_cidr("1.2.3.4/33", 1, 0, &c), -EINVAL);
	assert_int_equal(netstate_parse_cidr("1.2.3/24", 1, 0, &c), -EINVAL);
	assert_int_equal(netstate_parse_cidr(" 1.2.3.4", 0, 0, &c), -EINVAL);
	assert_int_equal(netstate_parse_cidr("1.2.3.4/", 1, 0, &c), -EINVAL);
	assert_int_equal(netstate_parse_cidr("1.2.3.4/2a", 1, 0, &c), -EINVAL);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted lines of a listing: set elements come out in the kernel's hash
 * order, which may differ between two ways of making the same set. */
static char *
norm(const char *listing)
{
	char *copy = strdup(listing), *lines[512], *save = NULL, *out;
	size_t n = 0, len = 0;

	assert_non_null(copy);
	for (char *l = strtok_r(copy, "\n,{}", &save); l && n < 512; l = strtok_r(NULL, "\n,{}", &save)) {
		while (*l == ' ' || *l == '\t')
			l++;
		if (*l != '\0')
			lines[n++] = l;
	}
	qsort(lines, n, sizeof(lines[0]), cmp_str);
	out = calloc(1, strlen(listing) + n + 1);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		memcpy(out + len, lines[i], strlen(lines[i]));
		len += strlen(lines[i]);
		out[len++] = '\n';
	}
	free(copy);
	return out;
}

/*
 * A port's change (nft_tenant_port, applied in-process by nftx) leaves the
 * kernel exactly as loading the whole rule set with that port would, and
 * taking it away again restores the rule set without it. Root only: in a
 * namespace of its own.
 */
static void
t_port_change_equals_reload(void **state)
{
	struct nft_vm_port a[2] = {{"vtaaa0", "52:54:00:00:00:01", 0x0a00000a},
				   {"vtbbb0", "52:54:00:00:00:02", 0x0a00000b}};
	const char *trusted[] = {"vtfw1"};
	char *one = nft_tenant(a, 1, trusted, 1), *two = nft_tenant(a, 2, trusted, 1);
	char *cmds = NULL, *l1 = NULL, *l2 = NULL, *l3 = NULL, *l4 = NULL, err[256];
	size_t len = 0;
	FILE *f;

	(void)state;
	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
		free(one);
		free(two);
		skip();
	}
	assert_int_equal(nftx_run(NULL, one, &l1, err, sizeof(err)), 0);
	f = open_memstream(&cmds, &len);
	nft_tenant_port(f, 1, &a[1], 0);
	fclose(f);
	assert_int_equal(nftx_run(NULL, cmds, &l2, err, sizeof(err)), 0);
	assert_int_equal(nftx_run(NULL, two, &l3, err, sizeof(err)), 0);
	{
		char *n2 = norm(l2), *n3 = norm(l3);

		assert_string_equal(n2, n3);
		free(n2);
		free(n3);
	}
	free(cmds);
	cmds = NULL;
	f = open_memstream(&cmds, &len);
	nft_tenant_port(f, 0, &a[1], 0);
	fclose(f);
	assert_int_equal(nftx_run(NULL, cmds, &l4, err, sizeof(err)), 0);
	{
		char *n1 = norm(l1), *n4 = norm(l4);

		assert_string_equal(n1, n4);
		free(n1);
		free(n4);
	}
	/* Deleting what is not there fails the transaction and says why. */
	free(l4);
	l4 = NULL;
	assert_int_equal(nftx_run(NULL, cmds, &l4, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "nft"));
	free(cmds);
	free(one);
	free(two);
	free(l1);
	free(l2);
	free(l3);
	free(l4);
}

int
main(void)
{
	struct CMUnitTest tests[sizeof(rows) / sizeof(rows[0]) + 6];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		tests[n++] = (struct CMUnitTest){rows[i].name, t_row, NULL, NULL,
						 (void *)(uintptr_t)&rows[i]};
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_firewall_text);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_no_external_drops_outbound);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_max_rules);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_tenant_text);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_cidr);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_port_change_equals_reload);
	return _cmocka_run_group_tests("net", tests, n, NULL, NULL);
}
