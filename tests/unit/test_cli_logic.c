/*
 * test_cli_logic.c - the CLI's pure logic: resolving a VM name, console
 * input cut at UTF-8 boundaries, progress lines, tables, URL paths.
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

#include "api.h"
#include "cli.h"
#include "op.h"
#include "table.h"
#include "util.h"

/* ---- cmd_vm_pick -------------------------------------------------------- */

static const char *vms_json = "[{\"id\":\"vm-1\",\"name\":\"web1\",\"tenant_id\":\"t1\"},"
			      " {\"id\":\"vm-2\",\"name\":\"dup\",\"tenant_id\":\"t1\"},"
			      " {\"id\":\"vm-3\",\"name\":\"dup\",\"tenant_id\":\"t2\"},"
			      " {\"id\":\"vm-4\",\"name\":\"vm-1\",\"tenant_id\":\"t2\"},"
			      " {\"name\":\"noid\"},"
			      " {\"id\":\"vm-5\"}]";

static const struct {
	const char *ref;
	int want_r;
	const char *want_id;
} pick_cases[] = {
    {"web1", 0, "vm-1"},
    {"vm-2", 0, "vm-2"},
    {"vm-1", 0, "vm-1"}, /* an id wins over another VM's name */
    {"dup", -EEXIST, NULL},
    {"vm-3", 0, "vm-3"}, /* the way out of an ambiguous name */
    {"nosuch", -ENOENT, NULL},
    {"noid", -ENOENT, NULL}, /* a VM without an id cannot be named */
    {"", -ENOENT, NULL},
    {"WEB1", -ENOENT, NULL}, /* names are case-sensitive */
};

static void
test_pick(void **state)
{
	json_t *vms = json_loads(vms_json, 0, NULL);
	size_t i;

	(void)state;
	assert_non_null(vms);
	for (i = 0; i < ARRAY_LEN(pick_cases); i++) {
		const char *id = NULL;
		int r = cmd_vm_pick(vms, pick_cases[i].ref, &id);

		if (r != pick_cases[i].want_r)
			fail_msg("'%s': got %d, want %d", pick_cases[i].ref, r,
				 pick_cases[i].want_r);
		if (r == 0)
			assert_string_equal(id, pick_cases[i].want_id);
	}
	/* Not a list at all: nothing matches. */
	{
		const char *id = NULL;
		json_t *obj = json_object();

		assert_int_equal(cmd_vm_pick(obj, "web1", &id), -ENOENT);
		assert_int_equal(cmd_vm_pick(NULL, "web1", &id), -ENOENT);
		json_decref(obj);
	}
	json_decref(vms);
}

/* ---- cmd_console_utf8 --------------------------------------------------- */

static const struct {
	const char *in;
	size_t len;
	int at_eof;
	size_t want_n;
	const char *want; /* the first want_n bytes after the call */
} utf8_cases[] = {
    {"abc", 3, 0, 3, "abc"},
    {"", 0, 0, 0, ""},
    {"h\xc3\xa9", 3, 0, 3, "h\xc3\xa9"},	       /* é complete */
    {"h\xc3", 2, 0, 1, "h"},			       /* é cut: keep 1 byte */
    {"h\xc3", 2, 1, 2, "h?"},			       /* ... unless at the end */
    {"\xe2\x82", 2, 0, 0, ""},			       /* € cut after 2 of 3 */
    {"\xe2\x82\xac!", 4, 0, 4, "\xe2\x82\xac!"},       /* € */
    {"\xf0\x9f\x98", 3, 0, 0, ""},		       /* emoji cut */
    {"\xf0\x9f\x98\x80", 4, 0, 4, "\xf0\x9f\x98\x80"}, /* emoji */
    {"a\xff"
     "b",
     3, 0, 3, "a?b"}, /* never valid */
    {"\x80"
     "a",
     2, 0, 2, "?a"},				     /* stray continuation */
    {"\xc3(", 2, 0, 2, "?("},			     /* bad continuation */
    {"\xc0\xaf", 2, 0, 2, "??"},		     /* overlong '/' */
    {"\xe0\x80\xaf", 3, 0, 3, "???"},		     /* overlong */
    {"\xed\xa0\x80", 3, 0, 3, "???"},		     /* surrogate */
    {"\xf4\x90\x80\x80", 4, 0, 4, "????"},	     /* above U+10FFFF */
    {"x\xe2\x82\xac\xe2", 5, 0, 4, "x\xe2\x82\xac"}, /* keep the last lead */
    {"\x1d\x03\n", 3, 0, 3, "\x1d\x03\n"},	     /* controls pass */
};

static void
test_utf8(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(utf8_cases); i++) {
		char buf[16];
		size_t n;
		json_t *s;

		memcpy(buf, utf8_cases[i].in, utf8_cases[i].len);
		n = cmd_console_utf8(buf, utf8_cases[i].len, utf8_cases[i].at_eof);
		if (n != utf8_cases[i].want_n || memcmp(buf, utf8_cases[i].want, n) != 0)
			fail_msg("case %zu: got %zu, want %zu", i, n,
				 utf8_cases[i].want_n);
		/* What it accepts, jansson accepts as a JSON string. */
		s = json_stringn(buf, n);
		assert_non_null(s);
		json_decref(s);
	}
}

/* ---- op_progress_line, op_done ------------------------------------------ */

static const struct {
	const char *op, *label, *want;
	int done, ok;
} op_cases[] = {
    {"{\"kind\":\"create\",\"state\":\"running\",\"progress\":40,\"message\":\"starting "
     "VM\"}",
     "web1", "create web1: running 40% starting VM", 0, 0},
    {"{\"kind\":\"delete\",\"state\":\"pending\",\"vm_id\":\"vm-9\"}", NULL,
     "delete vm-9: pending", 0, 0},
    {"{\"kind\":\"stop\",\"state\":\"succeeded\",\"progress\":100,\"message\":\"\"}", "w",
     "stop w: succeeded 100%", 1, 1},
    {"{\"kind\":\"start\",\"state\":\"failed\",\"error\":\"no\"}", "w", "start w: failed",
     1, 0},
    {"{}", NULL, "operation ?: ?", 1, 0}, /* no state: an end, not a success */
    {"{\"kind\":\"create\",\"state\":\"running\",\"message\":\"a\\u001b[2Jb\"}", "w",
     "create w: running a?[2Jb", 0, 0}, /* no terminal escapes */
};

static void
test_op(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(op_cases); i++) {
		json_t *op = json_loads(op_cases[i].op, 0, NULL);
		char line[256];

		assert_non_null(op);
		op_progress_line(op, op_cases[i].label, line, sizeof(line));
		assert_string_equal(line, op_cases[i].want);
		assert_int_equal(op_done(op), op_cases[i].done);
		assert_int_equal(op_succeeded(op), op_cases[i].ok);
		json_decref(op);
	}
}

/* ---- table ----------------------------------------------------------------- */

static void
test_table(void **state)
{
	struct table t;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	assert_non_null(f);
	table_init(&t, 3);
	table_add(&t, "NAME");
	table_add(&t, "STATE");
	table_add(&t, "ID");
	table_add(&t, "web1");
	table_add(&t, NULL);
	table_addf(&t, "vm-%d", 1);
	table_add(&t, "h\xc3\xa9llo"); /* 5 wide, 6 bytes */
	table_add(&t, "a\nb");
	table_add(&t, "");
	assert_int_equal(table_print(&t, f), 0);
	table_free(&t);
	fclose(f);
	assert_string_equal(out, "NAME   STATE  ID\n"
				 "web1   -      vm-1\n"
				 "h\xc3\xa9llo  a?b    -\n");
	free(out);
	table_free(&t); /* twice is fine */
}

static void
test_value(void **state)
{
	char buf[64];
	json_t *v;

	(void)state;
	assert_string_equal(table_value(NULL, buf, sizeof(buf)), "-");
	v = json_integer(42);
	assert_string_equal(table_value(v, buf, sizeof(buf)), "42");
	json_decref(v);
	assert_string_equal(table_value(json_true(), buf, sizeof(buf)), "yes");
	assert_string_equal(table_value(json_false(), buf, sizeof(buf)), "no");
	v = json_pack("[s,s]", "80/tcp", "443/tcp");
	assert_string_equal(table_value(v, buf, sizeof(buf)), "[\"80/tcp\",\"443/tcp\"]");
	json_decref(v);
}

/* ---- api_path ------------------------------------------------------------- */

static const struct {
	const char *id;
	int want_r;
	const char *want;
} path_cases[] = {
    {"vm-1", 0, "/v1/vms/vm-1/actions"},
    {"a/b", 0, "/v1/vms/a%2Fb/actions"},
    {"a?b#c d", 0, "/v1/vms/a%3Fb%23c%20d/actions"},
    {"..a", 0, "/v1/vms/..a/actions"},
    {"%2e%2e", 0, "/v1/vms/%252e%252e/actions"},
    {"\xc3\xa9", 0, "/v1/vms/%C3%A9/actions"},
    {"", -EINVAL, NULL},
    {".", -EINVAL, NULL},
    {"..", -EINVAL, NULL},
};

static void
test_path(void **state)
{
	struct api a;
	char buf[API_PATH_MAX], big[2000];
	size_t i;

	(void)state;
	assert_int_equal(api_init(&a, "http://127.0.0.1:1/", "tok"), 0);
	assert_string_equal(a.url, "http://127.0.0.1:1");
	for (i = 0; i < ARRAY_LEN(path_cases); i++) {
		int r = api_path(&a, buf, sizeof(buf), "/v1/vms/", path_cases[i].id,
				 "/actions");

		if (r != path_cases[i].want_r)
			fail_msg("'%s': got %d, want %d", path_cases[i].id, r,
				 path_cases[i].want_r);
		if (r == 0)
			assert_string_equal(buf, path_cases[i].want);
	}
	memset(big, '/', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(api_path(&a, buf, sizeof(buf), "/v1/vms/", big, NULL),
			 -ENAMETOOLONG);
	api_free(&a);
	api_free(&a); /* twice is fine */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pick),  cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_op),	  cmocka_unit_test(test_table),
	    cmocka_unit_test(test_value), cmocka_unit_test(test_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
