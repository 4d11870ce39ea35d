/*
 * test_cli_net.c - the pure parts of the CLI's network commands
 * (net_parse.h): repeated --network options, port ranges, the body of a
 * firewall rule, ports for people; and net_name_of (cmd_net.h).
 * Table-driven; no I/O but stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmd_net.h"
#include "net_parse.h"
#include "util.h"

/* ---- net_take_repeated --------------------------------------------------- */

struct take_case {
	const char *argv[10]; /* NULL-terminated */
	int want_r;	      /* how many values, or -errno */
	const char *want_vals[4];
	const char *want_rest[8]; /* argv afterwards, NULL-terminated */
};

static const struct take_case take_cases[] = {
    /* Nothing to take: argv unchanged. */
    {{"web1", "--service", "web", NULL}, 0, {NULL}, {"web1", "--service", "web", NULL}},
    {{NULL}, 0, {NULL}, {NULL}},
    /* Separate and inline values, in order, anywhere. */
    {{"web1", "--network", "default", NULL}, 1, {"default"}, {"web1", NULL}},
    {{"--network=a", "web1", "--network", "b", "--no-wait", NULL},
     2,
     {"a", "b"},
     {"web1", "--no-wait", NULL}},
    {{"--network", "a", "--network=", NULL}, 2, {"a", ""}, {NULL}},
    /* A value may look like an option: --network takes it. */
    {{"--network", "--no-wait", "web1", NULL}, 1, {"--no-wait"}, {"web1", NULL}},
    /* Another option's value is never a match. */
    {{"web1", "--service", "--network", "--network", "n", NULL},
     1,
     {"n"},
     {"web1", "--service", "--network", NULL}},
    {{"web1", "--service=x", "--network", "n", NULL},
     1,
     {"n"},
     {"web1", "--service=x", NULL}},
    /* A flag takes no value: what follows is looked at. */
    {{"--no-wait", "--network", "n", "web1", NULL},
     1,
     {"n"},
     {"--no-wait", "web1", NULL}},
    /* Nothing after "--"; "--networks" is another option. */
    {{"--", "--network", "x", NULL}, 0, {NULL}, {"--", "--network", "x", NULL}},
    {{"web1", "--networks", "x", NULL}, 0, {NULL}, {"web1", "--networks", "x", NULL}},
    {{"-", "--network", "x", NULL}, 1, {"x"}, {"-", NULL}},
    /* Refused: */
    {{"web1", "--network", NULL}, -EINVAL, {NULL}, {NULL}},
    {{"--network=1", "--network=2", "--network=3", "--network=4", "--network=5", NULL},
     -E2BIG,
     {NULL},
     {NULL}},
};

static void
test_take(void **state)
{
	struct arg_opt o[] = {
	    {"--service", ARG_STR}, {"--vcpus", ARG_UINT}, {"--no-wait", ARG_FLAG}};
	size_t i, k;

	(void)state;
	for (i = 0; i < ARRAY_LEN(take_cases); i++) {
		const struct take_case *tc = &take_cases[i];
		char *argv[10];
		const char *vals[4] = {NULL};
		int argc = 0, r;

		while (tc->argv[argc] != NULL) {
			argv[argc] = (char *)(uintptr_t)tc->argv[argc];
			argc++;
		}
		r = net_take_repeated(&argc, argv, o, ARRAY_LEN(o), "--network", vals, 4);
		if (r != tc->want_r)
			fail_msg("case %zu: got %d, want %d", i, r, tc->want_r);
		if (r < 0)
			continue;
		for (k = 0; k < (size_t)r; k++)
			if (strcmp(vals[k], tc->want_vals[k]) != 0)
				fail_msg("case %zu: value %zu is '%s', want '%s'", i, k,
					 vals[k], tc->want_vals[k]);
		for (k = 0; k < (size_t)argc; k++)
			if (tc->want_rest[k] == NULL ||
			    strcmp(argv[k], tc->want_rest[k]) != 0)
				fail_msg("case %zu: argv[%zu] is '%s', want '%s'", i, k,
					 argv[k], tc->want_rest[k] ?: "(end)");
		if (tc->want_rest[argc] != NULL)
			fail_msg("case %zu: argc %d, want more ('%s')", i, argc,
				 tc->want_rest[argc]);
	}
}

/* What remains parses as before: args_parse sees no --network. */
static void
test_take_then_parse(void **state)
{
	struct arg_opt o[] = {{"--service", ARG_STR}, {"--no-wait", ARG_FLAG}};
	char *argv[] = {"web1", "--network",   "a",	   "--service",
			"web",	"--network=b", "--no-wait"};
	const char *vals[4], *name = NULL;
	int argc = ARRAY_LEN(argv);

	(void)state;
	assert_int_equal(
	    net_take_repeated(&argc, argv, o, ARRAY_LEN(o), "--network", vals, 4), 2);
	assert_int_equal(argc, 4);
	assert_int_equal(args_parse(argc, argv, o, ARRAY_LEN(o), &name, 1), 0);
	assert_string_equal(name, "web1");
	assert_string_equal(o[0].str, "web");
	assert_true(o[1].seen);
	assert_string_equal(vals[0], "a");
	assert_string_equal(vals[1], "b");
}

/* ---- net_parse_ports ----------------------------------------------------- */

static const struct {
	const char *in;
	int want_r, min, max;
} port_cases[] = {
    {"80-80", 0, 80, 80},
    {"8000-8080", 0, 8000, 8080},
    {"1-65535", 0, 1, 65535},
    {"00022-0023", 0, 22, 23},
    {"0-10", -EINVAL, 0, 0},
    {"10-65536", -EINVAL, 0, 0},
    {"100-99", -EINVAL, 0, 0},
    {"80", -EINVAL, 0, 0},
    {"80-", -EINVAL, 0, 0},
    {"-80", -EINVAL, 0, 0},
    {"", -EINVAL, 0, 0},
    {"1-2-3", -EINVAL, 0, 0},
    {"a-b", -EINVAL, 0, 0},
    {" 1-2", -EINVAL, 0, 0},
    {"1 -2", -EINVAL, 0, 0},
    {"+1-2", -EINVAL, 0, 0},
    {"999999-1000000", -EINVAL, 0, 0},
    {"0x10-0x20", -EINVAL, 0, 0},
};

static void
test_ports(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(port_cases); i++) {
		int lo = -7, hi = -7, r = net_parse_ports(port_cases[i].in, &lo, &hi);

		if (r != port_cases[i].want_r)
			fail_msg("'%s': got %d, want %d", port_cases[i].in, r,
				 port_cases[i].want_r);
		if (r == 0 && (lo != port_cases[i].min || hi != port_cases[i].max))
			fail_msg("'%s': got %d-%d", port_cases[i].in, lo, hi);
		if (r != 0 && (lo != -7 || hi != -7))
			fail_msg("'%s': output written on failure", port_cases[i].in);
	}
	{
		int lo, hi;

		assert_int_equal(net_parse_ports(NULL, &lo, &hi), -EINVAL);
	}
}

/* ---- net_ports_text ------------------------------------------------------ */

static void
test_ports_text(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(net_ports_text(0, 0, buf, sizeof(buf)), "-");
	assert_string_equal(net_ports_text(80, 80, buf, sizeof(buf)), "80");
	assert_string_equal(net_ports_text(80, 0, buf, sizeof(buf)), "80");
	assert_string_equal(net_ports_text(8000, 8080, buf, sizeof(buf)), "8000-8080");
	assert_string_equal(net_ports_text(1, 65535, buf, sizeof(buf)), "1-65535");
}

/* ---- net_rule_body ------------------------------------------------------- */

struct rule_case {
	struct net_rule_opts o;
	const char *want; /* compact JSON with sorted keys, or NULL: refused */
	const char *want_err;
};

static const struct rule_case rule_cases[] = {
    /* Defaults: ingress, allow; nothing else unless given. */
    {{.proto = "icmp"},
     "{\"action\":\"allow\",\"direction\":\"ingress\",\"protocol\":\"icmp\"}",
     NULL},
    {{.proto = "tcp",
      .has_port = 1,
      .port = 443,
      .source = "203.0.113.0/24",
      .vm_id = "vm-1"},
     "{\"action\":\"allow\",\"direction\":\"ingress\",\"port\":443,\"protocol\":\"tcp\","
     "\"source\":\"203.0.113.0/24\",\"target_vm\":\"vm-1\"}",
     NULL},
    {{.egress = 1,
      .deny = 1,
      .proto = "udp",
      .ports = "5000-5010",
      .destination = "0.0.0.0/0",
      .network = "backend",
      .has_priority = 1,
      .priority = 7},
     "{\"action\":\"deny\",\"destination\":\"0.0.0.0/0\",\"direction\":\"egress\","
     "\"port_max\":5010,\"port_min\":5000,\"priority\":7,\"protocol\":\"udp\","
     "\"target_network\":\"backend\"}",
     NULL},
    /* Numbers and words are the server's to judge: sent as given. */
    {{.proto = "sctp", .has_port = 1, .port = 70000, .has_priority = 1, .priority = 0},
     "{\"action\":\"allow\",\"direction\":\"ingress\",\"port\":70000,\"priority\":0,"
     "\"protocol\":\"sctp\"}",
     NULL},
    /* Refused by the client: what the options cannot mean. */
    {{.proto = NULL}, NULL, "--proto is required"},
    {{.proto = "tcp", .has_port = 1, .port = 80, .ports = "80-90"}, NULL, "not both"},
    {{.proto = "tcp", .ports = "90-80"}, NULL, "--ports must be A-B"},
    {{.proto = "tcp", .ports = "80"}, NULL, "--ports must be A-B"},
    {{.proto = "tcp", .egress = 1, .source = "10.0.0.0/8"}, NULL, "--destination"},
    {{.proto = "tcp", .destination = "10.0.0.0/8"}, NULL, "--egress"},
    {{.proto = "tcp", .vm_id = "vm-1", .network = "default"}, NULL, "--vm or --network"},
};

static void
test_rule_body(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(rule_cases); i++) {
		const struct rule_case *rc = &rule_cases[i];
		char err[256] = "";
		json_t *b = (json_t *)1;
		int r = net_rule_body(&rc->o, &b, err, sizeof(err));

		if (rc->want == NULL) {
			if (r != -EINVAL || b != NULL)
				fail_msg("case %zu: accepted", i);
			if (strstr(err, rc->want_err) == NULL)
				fail_msg("case %zu: message '%s' lacks '%s'", i, err,
					 rc->want_err);
			continue;
		}
		if (r != 0 || b == NULL)
			fail_msg("case %zu: refused: %s", i, err);
		{
			char *s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);

			if (s == NULL || strcmp(s, rc->want) != 0)
				fail_msg("case %zu: got %s\nwant %s", i, s ? s : "(null)",
					 rc->want);
			free(s);
		}
		json_decref(b);
	}
}

/* Text that is not UTF-8 cannot go into JSON: refused, not sent broken. */
static void
test_rule_body_utf8(void **state)
{
	struct net_rule_opts o = {.proto = "tcp", .source = "10.0.0.0/8\xff"};
	char err[256];
	json_t *b;

	(void)state;
	assert_int_equal(net_rule_body(&o, &b, err, sizeof(err)), -EINVAL);
	assert_null(b);
	assert_non_null(strstr(err, "UTF-8"));
}

/* ---- net_name_of --------------------------------------------------------- */

static void
test_name_of(void **state)
{
	json_t *l = json_loads("[{\"id\":\"vm-1\",\"name\":\"web\"},{\"id\":\"vm-2\"},"
			       "{\"id\":\"vm-3\",\"name\":\"\"}]",
			       0, NULL);

	(void)state;
	assert_non_null(l);
	assert_string_equal(net_name_of(l, "vm-1", "-"), "web");
	assert_string_equal(net_name_of(l, "vm-2", "-"), "vm-2"); /* no name */
	assert_string_equal(net_name_of(l, "vm-3", "-"), "vm-3"); /* empty name */
	assert_string_equal(net_name_of(l, "vm-9", "-"), "vm-9"); /* not there */
	assert_string_equal(net_name_of(l, NULL, "-"), "-");
	assert_string_equal(net_name_of(l, "", "all"), "all");
	assert_string_equal(net_name_of(NULL, "vm-1", "-"), "vm-1"); /* no list */
	json_decref(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_take),      cmocka_unit_test(test_take_then_parse),
	    cmocka_unit_test(test_ports),     cmocka_unit_test(test_ports_text),
	    cmocka_unit_test(test_rule_body), cmocka_unit_test(test_rule_body_utf8),
	    cmocka_unit_test(test_name_of),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
