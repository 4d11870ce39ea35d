/*
 * fuzz_idseve.c - libFuzzer over the agent's reader of the IDS sensor's
 * EVE output (src/agent/appliance/idseve.c): bytes fed in arbitrary
 * pieces into the line reader and the alert ring.
 *
 * Input: the low four bits of byte 0 say how many piece sizes follow
 * (each 1 + its value, used in turn; none: the whole rest at once). The
 * rest is the file's content.
 *
 * Invariants, beyond no crash or leak (ASan/LSan/UBSan):
 *  - the pieces do not matter: fed whole and fed in pieces, the counters
 *    and the alerts the ring answers are the same;
 *  - every newline ends one line: lines == the number of '\n';
 *  - the ring stays within IDSEVE_RING_MAX alerts and IDSEVE_RING_BYTES;
 *  - what a query returns is in sequence order, after `since`, and each
 *    has a tenant_id, a network_id, an alert object and its seq.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "idseve.h"

static char *
dump_all(const struct idseve *e, uint64_t since)
{
	json_t *q = idseve_query(e, since, 1000, NULL);
	json_t *a;
	uint64_t prev = since;
	size_t i;
	char *s;

	CHECK(q != NULL);
	json_array_foreach(json_object_get(q, "alerts"), i, a) {
		uint64_t seq = (uint64_t)json_integer_value(json_object_get(a, "seq"));

		CHECK(seq > prev);
		prev = seq;
		CHECK(json_is_string(json_object_get(a, "tenant_id")));
		CHECK(json_is_string(json_object_get(a, "network_id")));
		CHECK(json_is_object(json_object_get(a, "alert")));
	}
	s = json_dumps(q, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(q);
	CHECK(s != NULL);
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct idseve whole, parts;
	size_t npieces, off, k = 0, newlines = 0;
	const uint8_t *pieces;
	char *a, *b;

	if (size < 1)
		return 0;
	npieces = data[0] & 15;
	if (size < 1 + npieces)
		return 0;
	pieces = data + 1;
	data += 1 + npieces;
	size -= 1 + npieces;
	CHECK(idseve_init(&whole, 7) == 0);
	CHECK(idseve_init(&parts, 7) == 0);
	idseve_feed(&whole, (const char *)data, size);
	for (off = 0; off < size;) {
		size_t n = npieces ? (size_t)pieces[k++ % npieces] + 1 : size;

		if (n > size - off)
			n = size - off;
		idseve_feed(&parts, (const char *)data + off, n);
		off += n;
	}
	for (size_t i = 0; i < size; i++)
		newlines += data[i] == '\n';
	CHECK(memcmp(&whole.c, &parts.c, sizeof(whole.c)) == 0);
	CHECK(whole.c.lines == newlines);
	CHECK(whole.c.alerts + whole.c.other + whole.c.malformed + whole.c.too_long <= newlines);
	CHECK(whole.count <= IDSEVE_RING_MAX && whole.bytes <= IDSEVE_RING_BYTES);
	CHECK(whole.next_seq == 7 + whole.c.alerts);
	a = dump_all(&whole, 0);
	b = dump_all(&parts, 0);
	CHECK(strcmp(a, b) == 0);
	free(a);
	free(b);
	free(dump_all(&whole, whole.next_seq > 2 ? whole.next_seq - 2 : 0));
	idseve_free(&whole);
	idseve_free(&parts);
	return 0;
}
