/*
 * fuzz_join.c - libFuzzer harness for what a joining host sends and what
 * an agent is handed (src/common/jointoken.h): the token decoder and the
 * join request parser, both outside input.
 *
 * The first byte picks the parser ('0'..'1' keep the seed corpus
 * readable: even = token, odd = join request); the rest is the input.
 * Beyond "no crash, no leak" (ASan/LSan/UBSan): a decoded token has only
 * well-formed fields and encodes back to a text that decodes to the same
 * fields (its one text: decoding what was encoded is the identity); an
 * accepted join request has a 64-hex secret and fingerprint, an
 * IPv4:port address and 1 <= min <= max; every refusal says why without
 * quoting the secret's bytes. Build and run: tests/fuzz/build.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "jointoken.h"

static int
hex64(const char *s)
{
	if (strlen(s) != 64)
		return 0;
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static void
token(const char *text)
{
	struct jointoken t, back;
	char err[200] = "", out[JOINTOKEN_MAX + 1];

	if (jointoken_decode(text, &t, err, sizeof(err)) < 0) {
		CHECK(err[0] != '\0');
		return;
	}
	CHECK(hex64(t.fingerprint) && hex64(t.secret) && jointoken_host_name_ok(t.name));
	CHECK(strncmp(t.url, "http://", 7) == 0 || strncmp(t.url, "https://", 8) == 0);
	CHECK(jointoken_encode(&t, out, sizeof(out)) == 0);
	CHECK(jointoken_decode(out, &back, err, sizeof(err)) == 0);
	CHECK(memcmp(&t, &back, sizeof(t)) == 0);
}

static void
join(const char *body, size_t len)
{
	struct join_req r;
	char err[200] = "";

	if (jointoken_parse_join(body, len, &r, err, sizeof(err)) < 0) {
		CHECK(err[0] != '\0');
		return;
	}
	CHECK(hex64(r.secret) && hex64(r.fingerprint) && jointoken_host_name_ok(r.name));
	CHECK(strchr(r.address, ':') != NULL);
	CHECK(r.proto_min >= 1 && r.proto_min <= r.proto_max);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1 || size > 2 * JOIN_BODY_MAX)
		return 0;
	text = malloc(size);
	if (text == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] % 2 == 0)
		token(text);
	else
		join(text, size - 1);
	free(text);
	return 0;
}
