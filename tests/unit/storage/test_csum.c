/* test_csum.c - CRC-32C (csum.c): known values, and the fast path (three
 * interleaved chains) against a plain bitwise reference at every length
 * around its lane boundaries and at odd offsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "csum.h"

static uint32_t
ref(uint32_t crc, const uint8_t *p, size_t len)
{
	int k;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return ~crc;
}

static void
known_values(void **state)
{
	static const uint8_t zero[32];
	uint8_t inc[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(inc); i++)
		inc[i] = (uint8_t)i;
	/* RFC 3720, B.4 */
	assert_int_equal(csum_crc32c(0, zero, sizeof(zero)), 0x8a9136aa);
	assert_int_equal(csum_crc32c(0, inc, sizeof(inc)), 0x46dd794e);
	assert_int_equal(csum_crc32c(0, "123456789", 9), 0xe3069283);
}

static void
against_reference(void **state)
{
	static uint8_t buf[3 * 4096 + 64];
	static const size_t lens[] = {0, 1, 7, 8, 9, 1023, 1024, 4079, 4080, 4081, 4095,
				      4096, 4097, 8160, 8191, 8192, 12288};
	uint32_t x = 12345;
	size_t i, o;

	(void)state;
	for (i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		for (o = 0; o < 4; o++) {
			uint32_t want = ref(0x1234u * (uint32_t)o, buf + o, lens[i]);

			if (csum_crc32c(0x1234u * (uint32_t)o, buf + o, lens[i]) != want)
				fail_msg("length %zu offset %zu", lens[i], o);
		}
	/* Continuing a CRC over two pieces equals one pass. */
	assert_int_equal(csum_crc32c(csum_crc32c(0, buf, 5000), buf + 5000, 7000),
			 csum_crc32c(0, buf, 12000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known_values),
		cmocka_unit_test(against_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
