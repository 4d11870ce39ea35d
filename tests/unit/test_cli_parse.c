/*
 * test_cli_parse.c - the CLI's input parsing: numbers and options
 * (args.h), the config file (config.h). Table-driven; no I/O but stderr.
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
#include <unistd.h>

#include <cmocka.h>

#include "args.h"
#include "config.h"
#include "util.h"

/* ---- args_uint ---------------------------------------------------------- */

static const struct {
	const char *in;
	int want_r;
	long long want;
} uint_cases[] = {
    {"0", 0, 0},
    {"7", 0, 7},
    {"007", 0, 7},
    {"4096", 0, 4096},
    {"9007199254740991", 0, 9007199254740991LL}, /* ARGS_UINT_MAX */
    {"9007199254740992", -ERANGE, 0},
    {"99999999999999999999999", -ERANGE, 0},
    {"", -EINVAL, 0},
    {"-1", -EINVAL, 0},
    {"+1", -EINVAL, 0},
    {" 1", -EINVAL, 0},
    {"1 ", -EINVAL, 0},
    {"1.5", -EINVAL, 0},
    {"0x10", -EINVAL, 0},
    {"1e3", -EINVAL, 0},
    {"12abc", -EINVAL, 0},
};

static void
test_uint(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(uint_cases); i++) {
		long long v = -42;
		int r = args_uint(uint_cases[i].in, &v);

		if (r != uint_cases[i].want_r || (r == 0 && v != uint_cases[i].want))
			fail_msg("'%s': got %d %lld, want %d %lld", uint_cases[i].in, r,
				 v, uint_cases[i].want_r, uint_cases[i].want);
		if (r != 0 && v != -42)
			fail_msg("'%s': output written on failure", uint_cases[i].in);
	}
}

/* ---- args_parse --------------------------------------------------------- */

struct parse_case {
	const char *argv[8]; /* NULL-terminated */
	size_t npos;
	int want_r;
	const char *want_pos[2];
	int want_force, want_vcpus_seen;
	long long want_vcpus;
	const char *want_service;
};

static const struct parse_case parse_cases[] = {
    {{"web1", NULL}, 1, 0, {"web1"}, 0, 0, 0, NULL},
    {{"web1", "--force", NULL}, 1, 0, {"web1"}, 1, 0, 0, NULL},
    {{"--force", "web1", NULL}, 1, 0, {"web1"}, 1, 0, 0, NULL},
    {{"web1", "--vcpus", "2", NULL}, 1, 0, {"web1"}, 0, 1, 2, NULL},
    {{"web1", "--vcpus=3", "--service=web", NULL}, 1, 0, {"web1"}, 0, 1, 3, "web"},
    {{"--service", "--force", "web1", NULL}, 1, 0, {"web1"}, 0, 0, 0, "--force"},
    {{"--", "--force", NULL}, 1, 0, {"--force"}, 0, 0, 0, NULL},
    {{"-", NULL}, 1, 0, {"-"}, 0, 0, 0, NULL}, /* "-" is an argument */
    {{NULL}, 0, 0, {NULL}, 0, 0, 0, NULL},
    /* Refused: */
    {{NULL}, 1, -EINVAL, {NULL}, 0, 0, 0, NULL},		 /* missing */
    {{"a", "b", NULL}, 1, -EINVAL, {NULL}, 0, 0, 0, NULL},	 /* extra */
    {{"a", "--nope", NULL}, 1, -EINVAL, {NULL}, 0, 0, 0, NULL},	 /* unknown */
    {{"a", "--vcpus", NULL}, 1, -EINVAL, {NULL}, 0, 0, 0, NULL}, /* no value */
    {{"a", "--vcpus", "-1", NULL}, 1, -EINVAL, {NULL}, 0, 0, 0, NULL},
    {{"a", "--vcpus", "two", NULL}, 1, -EINVAL, {NULL}, 0, 0, 0, NULL},
    {{"a", "--vcpus=", NULL}, 1, -EINVAL, {NULL}, 0, 0, 0, NULL},
    {{"a", "--force=yes", NULL}, 1, -EINVAL, {NULL}, 0, 0, 0, NULL},
    {{"a", "--force", "--force", NULL}, 1, -EINVAL, {NULL}, 0, 0, 0, NULL},
    {{"a", "--forc", NULL}, 1, -EINVAL, {NULL}, 0, 0, 0, NULL}, /* no prefixes */
    {{"a", "--vcpusx=1", NULL}, 1, -EINVAL, {NULL}, 0, 0, 0, NULL},
};

static void
test_parse(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < ARRAY_LEN(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct arg_opt o[] = {
		    {"--force", ARG_FLAG}, {"--vcpus", ARG_UINT}, {"--service", ARG_STR}};
		const char *pos[2] = {NULL, NULL};
		char *argv[8];
		int argc = 0, r;

		while (c->argv[argc] != NULL) {
			argv[argc] = (char *)(uintptr_t)c->argv[argc];
			argc++;
		}
		r = args_parse(argc, argv, o, ARRAY_LEN(o), pos, c->npos);
		if (r != c->want_r)
			fail_msg("case %zu: got %d, want %d", i, r, c->want_r);
		if (r != 0)
			continue;
		for (k = 0; k < c->npos; k++)
			assert_string_equal(pos[k], c->want_pos[k]);
		assert_int_equal(o[0].seen, c->want_force);
		assert_int_equal(o[1].seen, c->want_vcpus_seen);
		if (c->want_vcpus_seen)
			assert_int_equal(o[1].num, c->want_vcpus);
		if (c->want_service)
			assert_string_equal(o[2].str, c->want_service);
		else
			assert_int_equal(o[2].seen, 0);
		assert_ptr_equal(args_get(o, ARRAY_LEN(o), "--vcpus"), &o[1]);
	}
}

/* ---- config_parse ------------------------------------------------------- */

static const struct {
	const char *text;
	int want_r;
	const char *want_url, *want_token; /* after starting from "old" values */
	const char *want_err;		   /* substring of err */
} config_cases[] = {
    {"", 0, "http://old", "old", NULL},
    {"\n\n# comment\n   \n", 0, "http://old", "old", NULL},
    {"url=http://h:1\ntoken=abc\n", 0, "http://h:1", "abc", NULL},
    {"url=https://h\n", 0, "https://h", "old", NULL},
    {"  token =  abc  \r\n", 0, "http://old", "abc", NULL},
    {"token=a=b\n", 0, "http://old", "a=b", NULL},    /* only the first '=' splits */
    {"token=x\ntoken=y", 0, "http://old", "y", NULL}, /* last wins, no final \n */
    {"URL=http://h\n", -EINVAL, NULL, NULL, "line 1: unknown key 'URL'"},
    {"\n\ntokne=x\n", -EINVAL, NULL, NULL, "line 3"},
    {"token\n", -EINVAL, NULL, NULL, "line 1: expected key=value"},
    {"token=\n", -EINVAL, NULL, NULL, "empty"},
    {"url=ftp://h\n", -EINVAL, NULL, NULL, "http://"},
    {"url=h:8470\n", -EINVAL, NULL, NULL, "http://"},
    {"url=http://a b\n", -EINVAL, NULL, NULL, "blanks"},
    {"token=a\x01z\n", -EINVAL, NULL, NULL, "control"},
};

static void
test_config(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(config_cases); i++) {
		struct config c;
		char err[200] = "";
		int r;

		memset(&c, 0, sizeof(c));
		strcpy(c.url, "http://old");
		strcpy(c.token, "old");
		r = config_parse(config_cases[i].text, &c, err, sizeof(err));
		if (r != config_cases[i].want_r)
			fail_msg("case %zu: got %d (%s), want %d", i, r, err,
				 config_cases[i].want_r);
		if (r == 0) {
			assert_string_equal(c.url, config_cases[i].want_url);
			assert_string_equal(c.token, config_cases[i].want_token);
		} else if (strstr(err, config_cases[i].want_err) == NULL)
			fail_msg("case %zu: error '%s' lacks '%s'", i, err,
				 config_cases[i].want_err);
	}
}

static void
test_config_long_value(void **state)
{
	char text[CONFIG_VALUE_MAX + 32], err[200];
	struct config c;

	(void)state;
	memset(&c, 0, sizeof(c));
	snprintf(text, sizeof(text), "token=%0*d\n", CONFIG_VALUE_MAX - 1, 0);
	assert_int_equal(config_parse(text, &c, err, sizeof(err)), 0);
	assert_int_equal(strlen(c.token), CONFIG_VALUE_MAX - 1);
	snprintf(text, sizeof(text), "token=%0*d\n", CONFIG_VALUE_MAX, 0);
	assert_int_equal(config_parse(text, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "longer"));
}

static void
test_config_load(void **state)
{
	char path[] = "/tmp/cloudlet-test-cli.XXXXXX", err[300];
	struct config c;
	int fd;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(config_load("/nonexistent/cloudlet", 0, &c, err, sizeof(err)),
			 0);
	assert_int_equal(config_load("/nonexistent/cloudlet", 1, &c, err, sizeof(err)),
			 -ENOENT);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "url=http://x\n", 13), 13);
	close(fd);
	assert_int_equal(config_load(path, 1, &c, err, sizeof(err)), 0);
	assert_string_equal(c.url, "http://x");
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uint),	cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_config),	cmocka_unit_test(test_config_long_value),
	    cmocka_unit_test(test_config_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
