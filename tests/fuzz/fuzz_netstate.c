/*
 * fuzz_netstate.c - libFuzzer harness for the agent's tenant network state
 * (net.apply) and the nftables text generated from it.
 *
 * Beyond no crash/leak (ASan/LSan/UBSan): an accepted state must round-trip
 * through its persisted form, and the generated rule sets must hold nothing
 * but printable ASCII, tabs and newlines, with every quote belonging to an
 * interface name the agent chose: request text never reaches nft.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "netstate.h"
#include "nft.h"

static void
check_text(const char *t)
{
	for (const char *p = t; *p; p++)
		CHECK((*p >= ' ' && *p <= '~') || *p == '\n' || *p == '\t');
	/* Quoted strings are interface names: [a-z0-9*-], at most 15. */
	for (const char *q = strchr(t, '"'); q; q = strchr(q + 1, '"')) {
		const char *e = strchr(q + 1, '"');

		CHECK(e != NULL);
		CHECK(e - q - 1 <= 15);
		for (const char *c = q + 1; c < e; c++)
			CHECK((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
			      *c == '*');
		q = e;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct net_tenant t, t2;
	char err[512];

	if (j == NULL)
		return 0;
	if (netstate_parse(j, &t, err, sizeof(err)) == 0) {
		json_t *a = netstate_to_json(&t), *b;
		struct nft_ports p = {.ext = "ext0", .in_glob = "in-*",
				      .wg = t.vpn.enabled ? "clw0123456789" : NULL,
				      .now = 1800000000};
		char names[NET_NETWORKS_MAX][16];
		char *fw;

		CHECK(netstate_parse(a, &t2, err, sizeof(err)) == 0);
		b = netstate_to_json(&t2);
		CHECK(json_equal(a, b));
		/* A view never holds the private key. */
		netstate_redact(b);
		CHECK(json_object_get(json_object_get(b, "vpn"), "private_key") == NULL);
		for (unsigned i = 0; i < t.n_networks; i++) {
			snprintf(names[i], sizeof(names[i]), "in-%s", t.networks[i].hash);
			p.in[i] = names[i];
		}
		fw = nft_firewall(&t, &p);
		CHECK(fw != NULL);
		check_text(fw);
		free(fw);
		json_decref(a);
		json_decref(b);
		netstate_free(&t2);
		netstate_free(&t);
	} else {
		CHECK(err[0] != '\0');
	}
	json_decref(j);
	return 0;
}
