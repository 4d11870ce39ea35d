/* test_stream.c - TCP reassembly (src/ids/stream.c): in order, out of
 * order, overlaps (first data wins), retransmissions, holes that never
 * fill, sequence wrap, the memcap and the inspection window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stream.h"

struct out {
	char buf[4096];
	size_t len;
	size_t lost;
};

static void
deliver(void *arg, const uint8_t *d, size_t n)
{
	struct out *o = arg;

	if (!d) {
		o->lost += n;
		return;
	}
	memcpy(o->buf + o->len, d, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void
add(struct stream *s, struct memcap *m, uint32_t seq, const char *d, struct out *o)
{
	stream_add(s, m, seq, (const uint8_t *)d, strlen(d), deliver, o);
}

static void
in_order_and_out_of_order(void **state)
{
	struct stream s = {0};
	struct memcap m = {0, 0, 0};
	struct out o = {0};

	(void)state;
	stream_start(&s, 1000);
	add(&s, &m, 1000, "hello ", &o);
	add(&s, &m, 1011, "world", &o); /* early: waits */
	assert_string_equal(o.buf, "hello ");
	add(&s, &m, 1006, "there", &o); /* fills the hole, the waiting one follows */
	assert_string_equal(o.buf, "hello thereworld");
	assert_int_equal(s.offset, 16);
	add(&s, &m, 1000, "HELLO ", &o); /* retransmission: nothing new */
	add(&s, &m, 1014, "LDX!", &o);    /* overlap: "LD" was delivered, "X!" is new */
	assert_string_equal(o.buf, "hello thereworldX!");
	assert_int_equal(m.used, 0);
	stream_free(&s, &m);
}

static void
overlapping_waiting_segments(void **state)
{
	struct stream s = {0};
	struct memcap m = {0, 0, 0};
	struct out o = {0};

	(void)state;
	stream_start(&s, 0);
	add(&s, &m, 4, "EFGH", &o);
	add(&s, &m, 6, "xxIJ", &o); /* overlaps the waiting one: first data wins */
	add(&s, &m, 0, "ABCD", &o);
	assert_string_equal(o.buf, "ABCDEFGHIJ");
	stream_free(&s, &m);
}

static void
sequence_wrap(void **state)
{
	struct stream s = {0};
	struct memcap m = {0, 0, 0};
	struct out o = {0};

	(void)state;
	stream_start(&s, 0xfffffffc);
	add(&s, &m, 0x00000000, "5678", &o);
	add(&s, &m, 0xfffffffc, "1234", &o);
	assert_string_equal(o.buf, "12345678");
	stream_free(&s, &m);
}

static void
hole_and_memcap(void **state)
{
	struct stream s = {0};
	struct memcap m = {0, 100, 0}; /* too small to keep anything waiting */
	struct out o = {0};
	char big[200];

	(void)state;
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	stream_start(&s, 0);
	add(&s, &m, 0, "ab", &o);
	add(&s, &m, 10, big, &o); /* cannot wait: the hole of 8 is given up */
	assert_int_equal(o.lost, 8);
	assert_int_equal(o.len, 2 + sizeof(big) - 1);
	assert_true(m.refused > 0);
	assert_int_equal(s.gaps, 1);
	stream_free(&s, &m);
	assert_int_equal(m.used, 0);
}

static void
window_keeps_overlap(void **state)
{
	struct stream s = {0};
	struct memcap m = {0, 0, 0};
	struct out o = {0};
	const uint8_t *buf;
	size_t len, min_end;
	uint64_t base;
	char chunk[1500];

	(void)state;
	memset(chunk, 'q', sizeof(chunk));
	stream_start(&s, 0);
	for (int i = 0; i < 4; i++) {
		stream_add(&s, &m, (uint32_t)(i * 1500), (const uint8_t *)chunk, sizeof(chunk), deliver,
			   &o);
		o.len = 0;
		stream_window(&s, &m, (const uint8_t *)chunk, sizeof(chunk), &buf, &len, &base, &min_end);
		assert_int_equal(base + len, (uint64_t)(i + 1) * 1500);
		assert_int_equal(len - min_end, 1500);
		assert_true(min_end <= STREAM_OVERLAP);
		stream_window_trim(&s, &m, STREAM_OVERLAP);
		assert_true(s.winlen <= STREAM_OVERLAP);
	}
	stream_free(&s, &m);
	assert_int_equal(m.used, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(in_order_and_out_of_order),
		cmocka_unit_test(overlapping_waiting_segments),
		cmocka_unit_test(sequence_wrap),
		cmocka_unit_test(hole_and_memcap),
		cmocka_unit_test(window_keeps_overlap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
