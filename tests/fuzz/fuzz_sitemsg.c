/*
 * fuzz_sitemsg.c - libFuzzer harness for what the other site sends on the
 * site link once its certificate matched the pin (src/daemon/sitemsg.h):
 * JSON lines of at most SITEMSG_MAX bytes, each a hello or an answer whose
 * role and epoch site.c acts on (a higher epoch demotes a primary). Also
 * site names (the --site-name of a cloudletd, a host's site in the API).
 *
 * The first byte picks: even, the rest is fed to the line reader as the
 * link's bytes and every message it yields is checked; odd, the rest is a
 * site name. Beyond "no crash, no leak" (ASan/LSan/UBSan): an accepted
 * message has a role of the five names and an epoch >= 0, and one built
 * back from them is accepted with the same values; an accepted name is
 * 1-32 of a-z 0-9 - not starting with -. Build and run: tests/fuzz/build.sh.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "msg.h"
#include "sitemsg.h"

static void
check_message(const json_t *m)
{
	const char *role, *again_role;
	long long epoch, again_epoch;
	enum site_role r;
	json_t *back;

	if (sitemsg_parse_peer(m, &role, &epoch) < 0)
		return;
	CHECK(role != NULL && site_role_parse(role, &r) == 0);
	CHECK(strcmp(site_role_name(r), role) == 0);
	CHECK(epoch >= 0);
	back = json_pack("{s:s, s:s, s:I}", "op", "site.hello", "role", role, "epoch",
			 (json_int_t)epoch);
	CHECK(back != NULL);
	CHECK(sitemsg_parse_peer(back, &again_role, &again_epoch) == 0);
	CHECK(strcmp(again_role, role) == 0 && again_epoch == epoch);
	json_decref(back);
}

static void
check_name(const uint8_t *data, size_t size)
{
	char *name = malloc(size + 1);
	size_t n;

	CHECK(name != NULL);
	memcpy(name, data, size);
	name[size] = '\0';
	n = strlen(name);
	if (site_name_ok(name)) {
		CHECK(n >= 1 && n <= 32 && name[0] != '-');
		CHECK(strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == n);
	}
	free(name);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_parser p;
	json_t *m;
	char err[128];
	size_t off = 1, took;
	int r;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		check_name(data + 1, size - 1);
		return 0;
	}
	if (msg_parser_init(&p, SITEMSG_MAX) < 0)
		return 0;
	while (off < size) {
		took = msg_parser_feed(&p, data + off, size - off);
		off += took;
		while ((r = msg_parser_next(&p, &m, err, sizeof(err))) == 0) {
			check_message(m);
			json_decref(m);
		}
		if (r != -EAGAIN || took == 0)
			break; /* an overlong line or a bad one ends the link */
	}
	msg_parser_free(&p);
	return 0;
}
