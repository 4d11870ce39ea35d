/*
 * test_jointoken.c - jointoken.h: a token made is decoded back to the same
 * fields; malformed tokens and join requests are refused with a reason
 * that never quotes the secret (table-driven).
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

#include "jointoken.h"

#define SECRET "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define FPR "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static void
test_round_trip(void **state)
{
	struct jointoken t = {.url = "http://127.0.0.1:8470", .fingerprint = FPR, .name = "h1",
			      .secret = SECRET},
			 back;
	char text[JOINTOKEN_MAX + 1], err[200], padded[JOINTOKEN_MAX + 8];

	(void)state;
	assert_int_equal(jointoken_encode(&t, text, sizeof(text)), 0);
	assert_null(strchr(text, '='));
	assert_int_equal(jointoken_decode(text, &back, err, sizeof(err)), 0);
	assert_memory_equal(&t, &back, sizeof(t));
	snprintf(padded, sizeof(padded), "  %s\n", text);
	assert_int_equal(jointoken_decode(padded, &back, err, sizeof(err)), 0);
	/* One character changed or cut: refused (or another valid token). */
	text[strlen(text) - 1] = text[strlen(text) - 1] == 'A' ? 'B' : 'A';
	assert_int_equal(jointoken_decode(text, &back, err, sizeof(err)), -EINVAL);
	text[strlen(text) - 3] = '\0';
	assert_int_equal(jointoken_decode(text, &back, err, sizeof(err)), -EINVAL);
	/* Fields a token cannot hold. */
	snprintf(t.url, sizeof(t.url), "ftp://x");
	assert_int_equal(jointoken_encode(&t, text, sizeof(text)), -EINVAL);
	assert_int_equal(jointoken_encode(&(struct jointoken){.url = "http://a:1", .fingerprint = FPR,
							     .name = "local", .secret = SECRET},
					  text, sizeof(text)),
			 -EINVAL);
}

/* A pin rides only with an https URL and only in its one form. */
static void
test_pin(void **state)
{
	struct jointoken t = {.url = "https://10.0.0.1:8470", .fingerprint = FPR, .name = "h1",
			      .secret = SECRET,
			      .pin = "sha256//v53j0e0MzMs7FsgzXP6Zpa0pqzG8Rq//f2DVJ22i7rw="},
			 back;
	char text[JOINTOKEN_MAX + 1], err[200];

	(void)state;
	assert_int_equal(jointoken_encode(&t, text, sizeof(text)), 0);
	assert_int_equal(jointoken_decode(text, &back, err, sizeof(err)), 0);
	assert_string_equal(back.pin, t.pin);
	snprintf(t.url, sizeof(t.url), "http://10.0.0.1:8470"); /* a pin without TLS */
	assert_int_equal(jointoken_encode(&t, text, sizeof(text)), -EINVAL);
	snprintf(t.url, sizeof(t.url), "https://10.0.0.1:8470");
	snprintf(t.pin, sizeof(t.pin), "sha1//v53j0e0MzMs7FsgzXP6Zpa0pqzG8Rq//f2DVJ22i7rw=");
	assert_int_equal(jointoken_encode(&t, text, sizeof(text)), -EINVAL);
	snprintf(t.pin, sizeof(t.pin), "sha256//v53j0e0MzMs7FsgzXP6Zpa0pqzG8Rq//f2DVJ22i7r!=");
	assert_int_equal(jointoken_encode(&t, text, sizeof(text)), -EINVAL);
	snprintf(t.pin, sizeof(t.pin), "sha256//short=");
	assert_int_equal(jointoken_encode(&t, text, sizeof(text)), -EINVAL);
	t.pin[0] = '\0'; /* https behind a proxy with a CA certificate: no pin */
	assert_int_equal(jointoken_encode(&t, text, sizeof(text)), 0);
}

/* base64url of JSON texts, by hand: what a forger could send. */
static void
test_bad_tokens(void **state)
{
	static const char *const bad[] = {
	    "",
	    "a",
	    "not a token",
	    "e30",		     /* {} */
	    "bnVsbA",		     /* null */
	    "eyJ1cmwiOiJodHRwOi8vYSJ9", /* {"url":"http://a"} */
	    "!!!!",
	    "e30=",		     /* padding is not base64url without padding */
	};
	struct jointoken t;
	char err[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(jointoken_decode(bad[i], &t, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "not a join token"));
	}
}

static void
test_join_request(void **state)
{
	static const struct {
		const char *body;
		int ok;
		const char *why;
	} rows[] = {
	    {"{\"secret\":\"" SECRET "\",\"name\":\"h1\",\"address\":\"10.0.0.1:8471\","
	     "\"fingerprint\":\"" FPR "\",\"underlay_address\":\"192.168.1.1\","
	     "\"protocol\":{\"min\":1,\"max\":2}}",
	     1, NULL},
	    {"{\"secret\":\"" SECRET "\",\"name\":\"h1\",\"address\":\"10.0.0.1:8471\","
	     "\"fingerprint\":\"" FPR "\",\"protocol\":{\"min\":1,\"max\":1}}",
	     1, NULL},
	    {"[]", 0, "JSON object"},
	    {"{\"secret\":\"" SECRET "\",\"x\":1}", 0, "unknown field"},
	    {"{\"secret\":\"ABC\",\"name\":\"h1\"}", 0, "secret"},
	    {"{\"secret\":\"" SECRET "\",\"name\":\"local\"}", 0, "name"},
	    {"{\"secret\":\"" SECRET "\",\"name\":\"h1\",\"address\":\"10.0.0.1\"}", 0, "address"},
	    {"{\"secret\":\"" SECRET "\",\"name\":\"h1\",\"address\":\"10.0.0.1:1\","
	     "\"fingerprint\":\"" SECRET "0\"}",
	     0, "fingerprint"},
	    {"{\"secret\":\"" SECRET "\",\"name\":\"h1\",\"address\":\"10.0.0.1:1\","
	     "\"fingerprint\":\"" FPR "\",\"underlay_address\":\"x\",\"protocol\":{\"min\":1,\"max\":1}}",
	     0, "underlay_address"},
	    {"{\"secret\":\"" SECRET "\",\"name\":\"h1\",\"address\":\"10.0.0.1:1\","
	     "\"fingerprint\":\"" FPR "\",\"protocol\":{\"min\":2,\"max\":1}}",
	     0, "protocol"},
	    {"{\"secret\":\"" SECRET "\",\"secret\":\"" SECRET "\"}", 0, "JSON object"},
	};
	struct join_req r;
	char err[200];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc = jointoken_parse_join(rows[i].body, strlen(rows[i].body), &r, err,
					      sizeof(err));

		if (rows[i].ok) {
			assert_int_equal(rc, 0);
			assert_string_equal(r.secret, SECRET);
			assert_string_equal(r.address, "10.0.0.1:8471");
			continue;
		}
		assert_int_equal(rc, -EINVAL);
		assert_non_null(strstr(err, rows[i].why));
		assert_null(strstr(err, SECRET));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_bad_tokens),
	    cmocka_unit_test(test_pin),
	    cmocka_unit_test(test_join_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
