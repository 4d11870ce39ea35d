/*
 * test_idssup.c - a tenant's IDS suppressions (idssup.h), table-driven:
 * what the control plane and the agent accept, and what they refuse with
 * the reason that names the field.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "idssup.h"

static const struct {
	const char *json;
	const char *why; /* NULL: accepted; else a part of the error */
} cases[] = {
    {"{\"sid\": 2000001}", NULL},
    {"{\"sid\": 1, \"gid\": 0, \"expires\": 0}", NULL},
    {"{\"sid\": 4294967295, \"track\": \"by_src\", \"ip\": \"10.0.0.9\"}", NULL},
    {"{\"sid\": 7, \"track\": \"by_dst\", \"ip\": \"10.0.0.0/24\", \"expires\": 1790000000}", NULL},
    {"{\"sid\": 7, \"track\": \"by_dst\", \"ip\": \"0.0.0.0/0\"}", NULL},
    {"{}", "sid"},
    {"{\"sid\": 0}", "sid"},
    {"{\"sid\": 4294967296}", "sid"},
    {"{\"sid\": \"1\"}", "sid"},
    {"{\"sid\": 1.5}", "sid"},
    {"{\"sid\": 1, \"gid\": -1}", "gid"},
    {"{\"sid\": 1, \"track\": \"by_src\"}", "together"},
    {"{\"sid\": 1, \"ip\": \"10.0.0.1\"}", "together"},
    {"{\"sid\": 1, \"track\": \"by_both\", \"ip\": \"10.0.0.1\"}", "track"},
    {"{\"sid\": 1, \"track\": \"by_src\", \"ip\": \"10.0.0.256\"}", "ip"},
    {"{\"sid\": 1, \"track\": \"by_src\", \"ip\": \"10.0.0.0/33\"}", "ip"},
    {"{\"sid\": 1, \"track\": \"by_src\", \"ip\": \"10.0.0.0/\"}", "ip"},
    {"{\"sid\": 1, \"track\": \"by_src\", \"ip\": \"10.0.0.0/+8\"}", "ip"},
    {"{\"sid\": 1, \"track\": \"by_src\", \"ip\": \"::1\"}", "ip"},
    {"{\"sid\": 1, \"expires\": -1}", "expires"},
    {"{\"sid\": 1, \"expires\": \"soon\"}", "expires"},
    {"{\"sid\": 1, \"reason\": \"noisy\"}", "reason"},
    {"[1]", "object"},
};

static void
one(void **state)
{
	size_t i = (size_t)(uintptr_t)*state;
	json_t *j = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
	char err[300] = "";
	int r;

	assert_non_null(j);
	r = idssup_check(j, err, sizeof(err));
	if (cases[i].why == NULL) {
		if (r != 0)
			fail_msg("%s refused: %s", cases[i].json, err);
	} else {
		assert_int_equal(r, -EINVAL);
		if (strstr(err, cases[i].why) == NULL)
			fail_msg("%s: '%s' does not name %s", cases[i].json, err, cases[i].why);
	}
	json_decref(j);
}

static void
list(void **state)
{
	json_t *l = json_array();
	char err[300];

	(void)state;
	assert_int_equal(idssup_check_list(l, err, sizeof(err)), 0);
	for (int i = 0; i < IDSSUP_MAX; i++)
		json_array_append_new(l, json_pack("{s:i}", "sid", i + 1));
	assert_int_equal(idssup_check_list(l, err, sizeof(err)), 0);
	json_array_append_new(l, json_pack("{s:i}", "sid", 1));
	assert_int_equal(idssup_check_list(l, err, sizeof(err)), -EINVAL);
	json_array_clear(l);
	json_array_append_new(l, json_pack("{s:i}", "sid", 1));
	json_array_append_new(l, json_pack("{s:i}", "sid", 0));
	assert_int_equal(idssup_check_list(l, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "suppress[1]"));
	json_decref(l);
	l = json_object();
	assert_int_equal(idssup_check_list(l, err, sizeof(err)), -EINVAL);
	json_decref(l);
}

int
main(void)
{
	struct CMUnitTest t[sizeof(cases) / sizeof(cases[0]) + 1];
	size_t n = sizeof(cases) / sizeof(cases[0]);

	for (size_t i = 0; i < n; i++)
		t[i] = (struct CMUnitTest){cases[i].json, one, NULL, NULL, (void *)(uintptr_t)i};
	t[n] = (struct CMUnitTest){"list", list, NULL, NULL, NULL};
	return _cmocka_run_group_tests("idssup", t, n + 1, NULL, NULL);
}
