/*
 * test_idseve.c - the agent's reader of the IDS sensor's EVE output and its
 * bounded alert ring (idseve.h), table-driven: which lines are alerts,
 * other records or malformed; the network name given back; the ring's
 * limits and its queries.
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

#include "idseve.h"

#define ALERT(t, n) "{\"event_type\":\"alert\",\"tenant_id\":\"" t "\",\"network_id\":\"" n \
		    "\",\"alert\":{\"signature_id\":1}}"

static const struct {
	const char *line;
	int want;          /* idseve_parse's answer */
	const char *net;   /* network_id afterwards */
} rows[] = {
	{ALERT("t1", "t1.main"), 1, "main"},
	{ALERT("t1", "t2.main"), 1, "t2.main"},     /* not its own prefix: as it is */
	{ALERT("t1", "t1."), 1, "t1."},
	{"{\"event_type\":\"stats\",\"stats\":{}}", 0, NULL},
	{"{\"event_type\":\"alert\",\"tenant_id\":\"t1\",\"alert\":{}}", -EBADMSG, NULL},
	{"{\"event_type\":\"alert\",\"tenant_id\":\"t1\",\"network_id\":\"n\",\"alert\":3}", -EBADMSG, NULL},
	{"{\"event_type\":1}", -EBADMSG, NULL},
	{"[1,2]", -EBADMSG, NULL},
	{"not json", -EBADMSG, NULL},
	{"{\"event_type\":\"alert\",\"event_type\":\"alert\"}", -EBADMSG, NULL},
};

static void
test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		json_t *a = NULL;
		int r = idseve_parse(rows[i].line, strlen(rows[i].line), &a);

		assert_int_equal(r, rows[i].want);
		if (r == 1) {
			assert_string_equal(json_string_value(json_object_get(a, "network_id")),
					    rows[i].net);
			json_decref(a);
		}
	}
}

static void
test_feed_counts(void **state)
{
	struct idseve e;
	const char *text = ALERT("t1", "t1.main") "\n\n{\"event_type\":\"flow\"}\nbad\n"
			   ALERT("t2", "t2.main") "\n" ALERT("t1", "t1.x");
	json_t *q;

	(void)state;
	assert_int_equal(idseve_init(&e, 41), 0);
	for (const char *p = text; *p; p++)
		idseve_feed(&e, p, 1); /* byte by byte */
	assert_int_equal(e.c.lines, 5);
	assert_int_equal(e.c.alerts, 2);
	assert_int_equal(e.c.other, 1);
	assert_int_equal(e.c.malformed, 1);
	idseve_feed(&e, "\n", 1); /* the last line completes */
	assert_int_equal(e.c.alerts, 3);
	q = idseve_query(&e, 0, 1000, "t1");
	assert_int_equal(json_array_size(json_object_get(q, "alerts")), 2);
	assert_int_equal(json_integer_value(json_object_get(q, "last")), 43);
	assert_int_equal(json_integer_value(json_object_get(q, "first")), 41);
	assert_int_equal(json_integer_value(json_object_get(q, "next")), 44);
	json_decref(q);
	q = idseve_query(&e, 41, 1, NULL);
	assert_int_equal(json_array_size(json_object_get(q, "alerts")), 1);
	assert_int_equal(json_integer_value(json_object_get(q, "last")), 42);
	json_decref(q);
	idseve_free(&e);
}

static void
test_too_long(void **state)
{
	struct idseve e;
	char *big = malloc(IDSEVE_LINE_MAX + 10);

	(void)state;
	assert_non_null(big);
	memset(big, 'x', IDSEVE_LINE_MAX + 10);
	assert_int_equal(idseve_init(&e, 1), 0);
	idseve_feed(&e, big, IDSEVE_LINE_MAX + 10);
	idseve_feed(&e, "\n" ALERT("t", "t.n") "\n", strlen(ALERT("t", "t.n")) + 2);
	assert_int_equal(e.c.too_long, 1);
	assert_int_equal(e.c.alerts, 1);
	idseve_free(&e);
	free(big);
}

static void
test_ring_bounds(void **state)
{
	struct idseve e;
	const char *line = ALERT("t1", "t1.main") "\n";
	json_t *q;

	(void)state;
	assert_int_equal(idseve_init(&e, 1), 0);
	for (int i = 0; i < IDSEVE_RING_MAX + 100; i++)
		idseve_feed(&e, line, strlen(line));
	assert_int_equal(e.count, IDSEVE_RING_MAX);
	assert_int_equal(e.c.evicted, 100);
	q = idseve_query(&e, 0, 1000, NULL);
	assert_int_equal(json_integer_value(json_object_get(q, "first")), 101);
	assert_int_equal(json_array_size(json_object_get(q, "alerts")), 1000);
	json_decref(q);
	idseve_free(&e);
}

/* Large alerts: the byte limit, not the count, evicts. */
static void
test_ring_bytes(void **state)
{
	struct idseve e;
	size_t pad = 60 * 1024;
	char *line = malloc(pad + 200);
	int n;

	(void)state;
	assert_non_null(line);
	n = snprintf(line, pad + 200, "{\"event_type\":\"alert\",\"tenant_id\":\"t\",\"network_id\":\"t.n\","
		     "\"alert\":{},\"pad\":\"%0*d\"}\n", (int)pad, 0);
	assert_int_equal(idseve_init(&e, 1), 0);
	for (int i = 0; i < 300; i++)
		idseve_feed(&e, line, (size_t)n);
	assert_true(e.bytes <= IDSEVE_RING_BYTES);
	assert_true(e.count < 300 && e.count > 100);
	assert_int_equal(e.c.alerts, 300);
	idseve_free(&e);
	free(line);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),	    cmocka_unit_test(test_feed_counts),
		cmocka_unit_test(test_too_long),    cmocka_unit_test(test_ring_bounds),
		cmocka_unit_test(test_ring_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
