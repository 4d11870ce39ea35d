/*
 * test_cli_wgkey.c - WireGuard key pairs (src/common/wgkey.h), as the CLI
 * makes them on the customer's computer and cloudletd checks them: a
 * vector from `wg genkey | wg pubkey`, generated pairs, and the keys the
 * API must refuse (not base64, wrong length, non-canonical, all zero).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wgkey.h"

#define PRIV "IHp/2vW+Xs7xPPqA6wF6xotZNWPZnFug1jAa+i5Z/nA="
#define PUB "5zokA2/jAuA7gIX+xt/QC7L0o41sD1eH3SDQlCeEGhM="

static void
t_vector(void **state)
{
	char pub[WGKEY_B64];

	(void)state;
	assert_int_equal(wgkey_public(PRIV, pub), 0);
	assert_string_equal(pub, PUB);
}

static void
t_generate(void **state)
{
	char priv[WGKEY_B64], pub[WGKEY_B64], priv2[WGKEY_B64], pub2[WGKEY_B64], again[WGKEY_B64];

	(void)state;
	assert_int_equal(wgkey_generate(priv, pub), 0);
	assert_int_equal(wgkey_generate(priv2, pub2), 0);
	assert_string_not_equal(priv, priv2);
	assert_true(wgkey_valid(priv) && wgkey_valid(pub));
	assert_int_equal(wgkey_public(priv, again), 0);
	assert_string_equal(again, pub);
}

static const char *const bad[] = {
    "",
    "not-a-key",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  /* all zero */
    "5zokA2/jAuA7gIX+xt/QC7L0o41sD1eH3SDQlCeEGhN=",  /* non-canonical last digit */
    "5zokA2/jAuA7gIX+xt/QC7L0o41sD1eH3SDQlCeEGhM",   /* no padding */
    "5zokA2/jAuA7gIX+xt/QC7L0o41sD1eH3SDQlCeEGhM==", /* too long */
    "5zokA2/jAuA7gIX-xt/QC7L0o41sD1eH3SDQlCeEGhM=",  /* url-safe alphabet */
    " 5zokA2/jAuA7gIX+xt/QC7L0o41sD1eH3SDQlCeEGh=",
};

static void
t_bad(void **state)
{
	char pub[WGKEY_B64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(wgkey_valid(bad[i]));
		if (i != 2) /* zero is a valid scalar for wgkey_public, not a key we take */
			assert_int_equal(wgkey_public(bad[i], pub), -22);
	}
	assert_false(wgkey_valid(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_vector),
	    cmocka_unit_test(t_generate),
	    cmocka_unit_test(t_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
