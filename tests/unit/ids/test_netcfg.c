/* test_netcfg.c - a tenant network's configuration (src/ids/netcfg.c): what
 * is accepted and what is refused with which reason; variables and the
 * rule-set sharing test (the same rules whatever $HOME_NET). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "netcfg.h"

static int
parse(const char *text, struct netcfg *c, char *err, size_t errlen)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	int r;

	assert_non_null(j);
	r = netcfg_parse(j, c, err, errlen);
	json_decref(j);
	return r;
}

static void
accepted(void **state)
{
	struct netcfg c;
	char err[256] = "";
	const char *t =
		"{\"tenant_id\":\"t-1\",\"network_id\":\"n.1\",\"home_net\":[\"10.0.0.0/24\",\"10.1.0.5\"],"
		"\"rule_dirs\":[\"/r\"],\"custom_rules\":\"alert ip any any -> any any (sid:1;)\","
		"\"vars\":{\"HTTP_PORTS\":\"[80,8080]\",\"MY_SERVERS\":\"[10.0.0.5]\"},"
		"\"assigned\":[{\"mac\":\"52:54:00:00:00:05\",\"ip\":\"10.0.0.5\",\"vm\":\"web1\"},"
		"{\"mac\":\"52:54:00:00:00:04\",\"ip\":\"10.0.0.4\"}],"
		"\"routers\":[\"52:54:00:00:00:01\"],\"dhcp_server\":{\"mac\":\"52:54:00:00:00:02\",\"ip\":\"10.0.0.2\"},"
		"\"memcap_bytes\":2097152,\"alert_rate\":{\"per_second\":0,\"burst\":5},"
		"\"suppress\":[{\"sid\":5,\"track\":\"by_dst\",\"ip\":\"10.0.0.0/24\",\"expires\":10}],"
		"\"detectors\":{\"portscan\":false,\"scan_ports\":30,\"synflood_per_s\":1000}}";

	(void)state;
	if (parse(t, &c, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_string_equal(c.home_net, "[10.0.0.0/24,10.1.0.5]");
	assert_int_equal(c.ndirs, 1);
	assert_int_equal(c.spoof.na, 2);
	assert_int_equal(c.spoof.a[0].ip, 0x0a000004); /* sorted by address */
	assert_string_equal(c.spoof.a[1].vm, "web1");
	assert_true(c.spoof.dhcp_on);
	assert_int_equal(c.memcap, 2097152);
	assert_true(c.rate == 0);
	assert_false(c.ps.portscan);
	assert_int_equal(c.ps.scan_ports, 30);
	for (int i = 0; i < c.nvars; i++) {
		if (strcmp(c.vars[i].name, "HTTP_PORTS") == 0) {
			assert_string_equal(c.vars[i].value, "[80,8080]");
			assert_int_equal(c.vars[i].port, 1);
		}
		if (strcmp(c.vars[i].name, "EXTERNAL_NET") == 0)
			assert_string_equal(c.vars[i].value, "!$HOME_NET");
	}
	netcfg_free(&c);
}

static void
refused(void **state)
{
	static const struct {
		const char *cfg, *reason;
	} t[] = {
		{"[]", "the configuration must be an object"},
		{"{\"tenant_id\":\"t\",\"network_id\":\"n\",\"home_net\":[\"10.0.0.0/24\"],\"x\":1}",
		 "unknown field 'x'"},
		{"{\"tenant_id\":\"t/1\",\"network_id\":\"n\",\"home_net\":[\"10.0.0.0/24\"]}",
		 "tenant_id: 1 to 64 of A-Z a-z 0-9 . _ -"},
		{"{\"tenant_id\":\"t\",\"network_id\":\"n\",\"home_net\":[]}",
		 "home_net: an array of 1 to 64 IPv4 networks"},
		{"{\"tenant_id\":\"t\",\"network_id\":\"n\",\"home_net\":[\"10.0.0.0/24,1.1.1.1\"]}",
		 "home_net: '10.0.0.0/24,1.1.1.1' is not an IPv4 address or network"},
		{"{\"tenant_id\":\"t\",\"network_id\":\"n\",\"home_net\":[\"10.0.0.0/24\"],\"rule_dirs\":[\"/a/../etc\"]}",
		 "rule_dirs: absolute paths without '..'"},
		{"{\"tenant_id\":\"t\",\"network_id\":\"n\",\"home_net\":[\"10.0.0.0/24\"],\"vars\":{\"HOME_NET\":\"any\"}}",
		 "vars: bad name 'HOME_NET' (HOME_NET comes from home_net)"},
		{"{\"tenant_id\":\"t\",\"network_id\":\"n\",\"home_net\":[\"10.0.0.0/24\"],\"assigned\":[{\"mac\":\"52:54\",\"ip\":\"10.0.0.5\"}]}",
		 "assigned: each entry needs mac and ip"},
		{"{\"tenant_id\":\"t\",\"network_id\":\"n\",\"home_net\":[\"10.0.0.0/24\"],\"memcap_bytes\":1024}",
		 "memcap_bytes: 1 MiB to 4 GiB"},
		{"{\"tenant_id\":\"t\",\"network_id\":\"n\",\"home_net\":[\"10.0.0.0/24\"],\"suppress\":[{\"sid\":0}]}",
		 "suppress: sid must be a positive integer"},
		{"{\"tenant_id\":\"t\",\"network_id\":\"n\",\"home_net\":[\"10.0.0.0/24\"],\"detectors\":{\"scan_ports\":1}}",
		 "detectors: scan_ports and sweep_hosts 2..64, window_s 1..3600, synflood_per_s 10..10000000"},
	};
	char err[256];
	struct netcfg c;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		err[0] = '\0';
		if (parse(t[i].cfg, &c, err, sizeof(err)) == 0)
			fail_msg("config %zu accepted", i);
		if (strcmp(err, t[i].reason) != 0)
			fail_msg("config %zu: got '%s', want '%s'", i, err, t[i].reason);
	}
}

static void
sharing(void **state)
{
	struct netcfg a, b, c;
	char err[256];

	(void)state;
	assert_int_equal(parse("{\"tenant_id\":\"t1\",\"network_id\":\"n1\",\"home_net\":[\"10.0.0.0/24\"],"
			       "\"rule_dirs\":[\"/r\"]}", &a, err, sizeof(err)), 0);
	assert_int_equal(parse("{\"tenant_id\":\"t2\",\"network_id\":\"n2\",\"home_net\":[\"10.9.0.0/16\"],"
			       "\"rule_dirs\":[\"/r\"]}", &b, err, sizeof(err)), 0);
	assert_int_equal(parse("{\"tenant_id\":\"t3\",\"network_id\":\"n3\",\"home_net\":[\"10.0.0.0/24\"],"
			       "\"rule_dirs\":[\"/r\"],\"vars\":{\"HTTP_PORTS\":\"8080\"}}", &c, err, sizeof(err)), 0);
	assert_true(netcfg_same_rules(&a, &b)); /* only $HOME_NET differs */
	assert_false(netcfg_same_rules(&a, &c));
	netcfg_free(&a);
	netcfg_free(&b);
	netcfg_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepted),
		cmocka_unit_test(refused),
		cmocka_unit_test(sharing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
