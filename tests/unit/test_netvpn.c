/*
 * test_netvpn.c - the tenant state's "vpn" (netstate.h) and the firewall
 * rules made from it (nft.h): table-driven parsing, keys, the private key
 * kept out of views, the rule text, the peer limit.
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

#include "netstate.h"
#include "nft.h"

/* Made with `wg genkey` and `wg pubkey`: PRIV's public key is PUB. */
#define PRIV "0Kx6ci/No8fu6toGWGxr62a6snbFPbMoWtpVxOD3014="
#define PUB "76/vXditwIDfvKjHOrwLdaFRIdDd7wppNntvBbF7mEM="
#define PEER2 "r6EXcjy33GFviFrbJjZiknWHL5W8F5Xa5jnXHBcoEn0="

#define T0 "\"tenant\":\"t-1\",\"networks\":[{\"id\":\"n1\",\"cidr\":\"10.0.0.0/24\"}]," \
	   "\"external\":{\"address\":\"198.18.0.10/24\"}"
#define VPN(peers) ",\"vpn\":{\"listen_port\":51820,\"private_key\":\"" PRIV "\"," \
		   "\"address\":\"10.99.0.1/24\",\"peers\":[" peers "]}"
#define PEER(key, allowed, reach) "{\"public_key\":\"" key "\",\"allowed_ips\":[" allowed \
				  "],\"reach\":[" reach "]}"
#define VMVM(peers) ",\"vmvm\":{\"listen_port\":52001,\"private_key\":\"" PRIV "\"," \
		    "\"address\":\"100.112.1.1/32\",\"peers\":[" peers "]}"
#define VPEER(key, ul, addr) "{\"public_key\":\"" key "\",\"underlay\":\"" ul "\",\"address\":\"" addr "\"}"
#define OKPEER PEER(PUB, "\"10.99.0.2/32\"", "\"10.0.0.10/32\"")

struct row {
	const char *name;
	const char *json;
	const char *err; /* NULL: must parse */
};

static const struct row rows[] = {
	{"vpn ok", "{" T0 VPN(OKPEER) "}", NULL},
	{"vpn no peers", "{" T0 VPN("") "}", NULL},
	{"vpn two peers", "{" T0 VPN(OKPEER "," PEER(PEER2, "\"10.99.0.3/32\"", "\"10.0.0.0/24\"")) "}", NULL},
	{"vpn expires", "{" T0 VPN("{\"public_key\":\"" PUB "\",\"allowed_ips\":[\"10.99.0.2/32\"],\"reach\":[\"10.0.0.0/24\"],\"expires\":1900000000}") "}", NULL},
	{"vpn expires 0", "{" T0 VPN("{\"public_key\":\"" PUB "\",\"allowed_ips\":[\"10.99.0.2/32\"],\"reach\":[\"10.0.0.0/24\"],\"expires\":0}") "}", "expires"},
	{"vpn expires string", "{" T0 VPN("{\"public_key\":\"" PUB "\",\"allowed_ips\":[\"10.99.0.2/32\"],\"reach\":[\"10.0.0.0/24\"],\"expires\":\"soon\"}") "}", "expires"},
	{"vpn unknown field", "{" T0 ",\"vpn\":{\"listen_port\":51820,\"private_key\":\"" PRIV "\",\"address\":\"10.99.0.1/24\",\"mtu\":1420}}", "mtu"},
	{"vpn peer unknown field", "{" T0 VPN("{\"public_key\":\"" PUB "\",\"allowed_ips\":[\"10.99.0.2/32\"],\"reach\":[\"10.0.0.0/24\"],\"psk\":\"x\"}") "}", "psk"},
	{"vpn endpoint no port", "{" T0 VPN("{\"public_key\":\"" PUB "\",\"allowed_ips\":[\"10.99.0.2/32\"],\"reach\":[\"10.0.0.0/24\"],\"endpoint\":\"1.2.3.4\"}") "}", "endpoint"},
	{"vpn endpoint port 0", "{" T0 VPN("{\"public_key\":\"" PUB "\",\"allowed_ips\":[\"10.99.0.2/32\"],\"reach\":[\"10.0.0.0/24\"],\"endpoint\":\"1.2.3.4:0\"}") "}", "endpoint"},
	{"vpn endpoint port big", "{" T0 VPN("{\"public_key\":\"" PUB "\",\"allowed_ips\":[\"10.99.0.2/32\"],\"reach\":[\"10.0.0.0/24\"],\"endpoint\":\"1.2.3.4:65536\"}") "}", "endpoint"},
	{"vpn psk bad", "{" T0 VPN("{\"public_key\":\"" PUB "\",\"allowed_ips\":[\"10.99.0.2/32\"],\"reach\":[\"10.0.0.0/24\"],\"preshared_key\":\"short\"}") "}", "preshared_key"},
	{"vpn psk zero", "{" T0 VPN("{\"public_key\":\"" PUB "\",\"allowed_ips\":[\"10.99.0.2/32\"],\"reach\":[\"10.0.0.0/24\"],\"preshared_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}") "}", "preshared_key"},
	{"vpn routes overlap network", "{" T0 VPN("{\"public_key\":\"" PUB "\",\"allowed_ips\":[\"10.99.0.2/32\"],\"reach\":[\"10.0.0.0/24\"],\"routes\":[\"10.0.0.0/16\"]}") "}", "overlaps network"},
	{"vpn routes overlap tunnel", "{" T0 VPN("{\"public_key\":\"" PUB "\",\"allowed_ips\":[\"10.99.0.2/32\"],\"reach\":[\"10.0.0.0/24\"],\"routes\":[\"10.99.0.128/25\"]}") "}", "routes[0]"},
	{"vpn routes too wide", "{" T0 VPN("{\"public_key\":\"" PUB "\",\"allowed_ips\":[\"10.99.0.2/32\"],\"reach\":[\"10.0.0.0/24\"],\"routes\":[\"0.0.0.0/0\"]}") "}", "routes[0]"},
	{"vpn routes host bits", "{" T0 VPN("{\"public_key\":\"" PUB "\",\"allowed_ips\":[\"10.99.0.2/32\"],\"reach\":[\"10.0.0.0/24\"],\"routes\":[\"192.168.7.1/24\"]}") "}", "routes[0]"},
	{"vpn routes external", "{" T0 VPN("{\"public_key\":\"" PUB "\",\"allowed_ips\":[\"10.99.0.2/32\"],\"reach\":[\"10.0.0.0/24\"],\"routes\":[\"198.18.0.0/24\"]}") "}", "routes[0]"},
	{"vpn no external", "{\"tenant\":\"t\",\"networks\":[{\"id\":\"n1\",\"cidr\":\"10.0.0.0/24\"}]" VPN("") "}", "external.address"},
	{"vpn mode vm", "{" T0 ",\"mode\":\"vm\"" VPN("") "}", "namespace"},
	{"vpn port 0", "{" T0 ",\"vpn\":{\"listen_port\":0,\"private_key\":\"" PRIV "\",\"address\":\"10.99.0.1/24\"}}", "listen_port"},
	{"vpn port missing", "{" T0 ",\"vpn\":{\"private_key\":\"" PRIV "\",\"address\":\"10.99.0.1/24\"}}", "listen_port"},
	{"vpn port forwarded", "{" T0 ",\"forwards\":[{\"address\":\"198.18.0.10\",\"protocol\":\"udp\",\"port\":51820,\"to\":\"10.0.0.10\",\"to_port\":1}]" VPN("") "}", "forwards[0]"},
	{"vpn key short", "{" T0 ",\"vpn\":{\"listen_port\":1,\"private_key\":\"AAAA\",\"address\":\"10.99.0.1/24\"}}", "private_key"},
	{"vpn key zero", "{" T0 ",\"vpn\":{\"listen_port\":1,\"private_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"address\":\"10.99.0.1/24\"}}", "private_key"},
	{"vpn key not canonical", "{" T0 ",\"vpn\":{\"listen_port\":1,\"private_key\":\"0Kx6ci/No8fu6toGWGxr62a6snbFPbMoWtpVxOD3015=\",\"address\":\"10.99.0.1/24\"}}", "private_key"},
	{"vpn key bad char", "{" T0 ",\"vpn\":{\"listen_port\":1,\"private_key\":\"0Kx6ci/No8fu6toGWGxr62a6snbFPbMoWtpVxOD30-4=\",\"address\":\"10.99.0.1/24\"}}", "private_key"},
	{"vpn address network", "{" T0 ",\"vpn\":{\"listen_port\":1,\"private_key\":\"" PRIV "\",\"address\":\"10.99.0.0/24\"}}", "vpn.address"},
	{"vpn address no prefix", "{" T0 ",\"vpn\":{\"listen_port\":1,\"private_key\":\"" PRIV "\",\"address\":\"10.99.0.1\"}}", "vpn.address"},
	{"vpn address /8", "{" T0 ",\"vpn\":{\"listen_port\":1,\"private_key\":\"" PRIV "\",\"address\":\"10.99.0.1/8\"}}", "vpn.address"},
	{"vpn address overlaps", "{" T0 ",\"vpn\":{\"listen_port\":1,\"private_key\":\"" PRIV "\",\"address\":\"10.0.0.200/24\"}}", "overlaps"},
	{"vpn peer bad key", "{" T0 VPN(PEER("x", "\"10.99.0.2/32\"", "\"10.0.0.10/32\"")) "}", "public_key"},
	{"vpn peer duplicate key", "{" T0 VPN(OKPEER "," PEER(PUB, "\"10.99.0.3/32\"", "\"10.0.0.10/32\"")) "}", "public_key"},
	{"vpn allowed outside", "{" T0 VPN(PEER(PUB, "\"10.98.0.2/32\"", "\"10.0.0.10/32\"")) "}", "allowed_ips[0]"},
	{"vpn allowed gateway", "{" T0 VPN(PEER(PUB, "\"10.99.0.0/24\"", "\"10.0.0.10/32\"")) "}", "gateway"},
	{"vpn allowed overlap", "{" T0 VPN(OKPEER "," PEER(PEER2, "\"10.99.0.2/31\"", "\"10.0.0.10/32\"")) "}", "overlaps"},
	{"vpn allowed host bits", "{" T0 VPN(PEER(PUB, "\"10.99.0.3/31\"", "\"10.0.0.10/32\"")) "}", "host bits"},
	{"vpn allowed empty", "{" T0 VPN(PEER(PUB, "", "\"10.0.0.10/32\"")) "}", "allowed_ips"},
	{"vpn reach outside", "{" T0 VPN(PEER(PUB, "\"10.99.0.2/32\"", "\"10.5.0.10/32\"")) "}", "reach[0]"},
	{"vpn reach wider", "{" T0 VPN(PEER(PUB, "\"10.99.0.2/32\"", "\"10.0.0.0/16\"")) "}", "reach[0]"},
	{"vpn reach everything", "{" T0 VPN(PEER(PUB, "\"10.99.0.2/32\"", "\"0.0.0.0/0\"")) "}", "reach[0]"},
	{"vpn not object", "{" T0 ",\"vpn\":[]}", "vpn"},
	/* vmvm: the tenant's host-to-host tunnel (VM-to-VM channels) */
	{"vmvm ok", "{" T0 VMVM(VPEER(PUB, "192.168.251.2", "100.112.1.2")) "}", NULL},
	{"vmvm two", "{" T0 VMVM(VPEER(PUB, "192.168.251.2", "100.112.1.2") "," VPEER(PEER2, "192.168.251.3", "100.112.1.3")) "}", NULL},
	{"vmvm no peers", "{" T0 VMVM("") "}", "vmvm.peers"},
	{"vmvm same host", "{" T0 VMVM(VPEER(PUB, "192.168.251.2", "100.112.1.2") "," VPEER(PEER2, "192.168.251.2", "100.112.1.3")) "}", "peers[1]"},
	{"vmvm same key", "{" T0 VMVM(VPEER(PUB, "192.168.251.2", "100.112.1.2") "," VPEER(PUB, "192.168.251.3", "100.112.1.3")) "}", "peers[1]"},
	{"vmvm peer our address", "{" T0 VMVM(VPEER(PUB, "192.168.251.2", "100.112.1.1")) "}", "peers[0].address"},
	{"vmvm bad underlay", "{" T0 VMVM(VPEER(PUB, "192.168.251.300", "100.112.1.2")) "}", "underlay"},
	{"vmvm bad key", "{" T0 VMVM(VPEER("x", "192.168.251.2", "100.112.1.2")) "}", "public_key"},
	{"vmvm peer unknown field", "{" T0 VMVM("{\"public_key\":\"" PUB "\",\"underlay\":\"192.168.251.2\",\"address\":\"100.112.1.2\",\"x\":1}") "}", "x"},
	{"vmvm address not /32", "{" T0 ",\"vmvm\":{\"listen_port\":52001,\"private_key\":\"" PRIV "\",\"address\":\"100.112.1.1/24\",\"peers\":[" VPEER(PUB, "192.168.251.2", "100.112.1.2") "]}}", "vmvm.address"},
	{"vmvm key zero", "{" T0 ",\"vmvm\":{\"listen_port\":52001,\"private_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"address\":\"100.112.1.1/32\",\"peers\":[" VPEER(PUB, "192.168.251.2", "100.112.1.2") "]}}", "vmvm.private_key"},
};

static void
t_row(void **state)
{
	const struct row *r = *state;
	json_t *j = json_loads(r->json, 0, NULL);
	struct net_tenant t;
	char err[512] = "";
	int rc;

	assert_non_null(j);
	rc = netstate_parse(j, &t, err, sizeof(err));
	if (r->err == NULL) {
		if (rc != 0)
			fail_msg("%s: %s", r->name, err);
		netstate_free(&t);
	} else {
		assert_int_equal(rc, -EINVAL);
		if (strstr(err, r->err) == NULL)
			fail_msg("%s: '%s' lacks '%s'", r->name, err, r->err);
		/* A key is never quoted back. */
		assert_null(strstr(err, PRIV));
		assert_null(strstr(err, "0Kx6ci"));
	}
	json_decref(j);
}

static void
t_key_roundtrip(void **state)
{
	uint8_t k[NET_VPN_KEY_LEN];
	char s[45];

	(void)state;
	assert_int_equal(netstate_key_decode(PUB, k), 0);
	netstate_key_encode(k, s);
	assert_string_equal(s, PUB);
	assert_int_equal(netstate_key_decode(PUB "A", k), -EINVAL);
	assert_int_equal(netstate_key_decode("", k), -EINVAL);
}

static struct net_tenant
parse(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	struct net_tenant t;
	char err[512];

	assert_non_null(j);
	assert_int_equal(netstate_parse(j, &t, err, sizeof(err)), 0);
	json_decref(j);
	return t;
}

/* Persisted with the key (the agent's own state), round trip exact; a
 * redacted view has none. */
static void
t_persist_and_redact(void **state)
{
	struct net_tenant t = parse("{" T0 VPN(OKPEER) "}"), t2;
	json_t *j = netstate_to_json(&t);
	char err[512], *text;

	(void)state;
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "vpn"),
							       "private_key")),
			    PRIV);
	assert_int_equal(netstate_parse(j, &t2, err, sizeof(err)), 0);
	assert_memory_equal(t2.vpn.private_key, t.vpn.private_key, NET_VPN_KEY_LEN);
	assert_int_equal(t2.vpn.n_peers, 1);
	netstate_redact(j);
	text = json_dumps(j, 0);
	assert_null(strstr(text, PRIV));
	assert_non_null(strstr(text, PUB)); /* the peer's public key stays */
	free(text);
	json_decref(j);
	netstate_free(&t);
	netstate_free(&t2);
}

static void
t_firewall_rules(void **state)
{
	struct net_tenant t = parse(
		"{" T0 VPN(OKPEER "," "{\"public_key\":\"" PEER2 "\",\"allowed_ips\":[\"10.99.0.3/32\"],"
			   "\"reach\":[\"10.0.0.0/24\"],\"expires\":1000}") "}");
	struct nft_ports p = {.ext = "ext0", .in = {"in-x"}, .in_glob = "in-*", .wg = "clwabc",
			      .now = 2000};
	char *text = nft_firewall(&t, &p);

	(void)state;
	assert_non_null(text);
	assert_non_null(strstr(text, "iifname \"ext0\" ip daddr 198.18.0.10 udp dport 51820 accept"));
	assert_non_null(strstr(text, "iifname \"clwabc\" tcp flags syn tcp option maxseg size set rt mtu"));
	assert_non_null(strstr(text, "iifname \"clwabc\" oifname \"in-*\" jump vpn"));
	assert_non_null(strstr(text, "ip saddr { 10.99.0.2 } ip daddr { 10.0.0.10 } accept"));
	/* Expired at now: no rule at all. */
	assert_null(strstr(text, "10.99.0.3"));
	assert_null(strstr(text, "0Kx6ci"));
	free(text);
	p.now = 500;
	text = nft_firewall(&t, &p);
	assert_non_null(strstr(text, "ip saddr { 10.99.0.3 } ip daddr { 10.0.0.0/24 } accept"));
	free(text);
	/* Without the interface (VPN off, the appliance): nothing of it. */
	p.wg = NULL;
	text = nft_firewall(&t, &p);
	assert_null(strstr(text, "vpn"));
	assert_null(strstr(text, "51820"));
	free(text);
	netstate_free(&t);
}

/* Site to site: the routes round-trip, are allowed both ways in the
 * firewall for the peer's reach only, and go when the peer expires. */
static void
t_site_routes(void **state)
{
	struct net_tenant t = parse(
		"{" T0 VPN("{\"public_key\":\"" PUB "\",\"allowed_ips\":[\"10.99.0.2/32\"],"
			   "\"reach\":[\"10.0.0.0/24\"],\"routes\":[\"192.168.50.0/24\"],"
			   "\"endpoint\":\"203.0.113.9:51820\",\"expires\":1000}") "}"), t2;
	struct nft_ports p = {.ext = "ext0", .in = {"in-x"}, .in_glob = "in-*", .wg = "clwabc",
			      .now = 500};
	json_t *j = netstate_to_json(&t);
	char err[512], *text;

	(void)state;
	assert_int_equal(netstate_parse(j, &t2, err, sizeof(err)), 0);
	assert_int_equal(t2.vpn.peers[0].n_routes, 1);
	assert_int_equal(t2.vpn.peers[0].endpoint_port, 51820);
	assert_int_equal(t2.vpn.peers[0].endpoint, 0xcb007109u);
	text = nft_firewall(&t, &p);
	assert_non_null(strstr(text, "iifname \"in-*\" oifname \"clwabc\" jump vpn_out"));
	assert_non_null(strstr(text, "ip saddr { 192.168.50.0/24 } ip daddr { 10.0.0.0/24 } accept"));
	assert_non_null(strstr(text, "ip saddr { 10.0.0.0/24 } ip daddr { 192.168.50.0/24 } accept"));
	free(text);
	p.now = 2000;
	text = nft_firewall(&t, &p);
	assert_null(strstr(text, "192.168.50.0"));
	free(text);
	json_decref(j);
	netstate_free(&t);
	netstate_free(&t2);
}

/* A peer's preshared key is kept in the agent's own state and never in a
 * redacted view. */
static void
t_psk_redact(void **state)
{
	struct net_tenant t = parse(
		"{" T0 VPN("{\"public_key\":\"" PUB "\",\"allowed_ips\":[\"10.99.0.2/32\"],"
			   "\"reach\":[\"10.0.0.0/24\"],\"preshared_key\":\"" PEER2 "\"}") "}");
	json_t *j = netstate_to_json(&t);
	char *text;

	(void)state;
	assert_int_equal(t.vpn.peers[0].has_psk, 1);
	text = json_dumps(j, 0);
	assert_non_null(strstr(text, PEER2));
	free(text);
	netstate_redact(j);
	text = json_dumps(j, 0);
	assert_null(strstr(text, PEER2));
	assert_null(strstr(text, "preshared_key"));
	free(text);
	json_decref(j);
	netstate_free(&t);
}

/* 256 peers parse; 257 are refused. */
static void
t_peer_limit(void **state)
{
	for (int n = NET_VPN_PEERS_MAX; n <= NET_VPN_PEERS_MAX + 1; n++) {
		json_t *j = json_loads("{" T0 VPN("") "}", 0, NULL);
		json_t *peers = json_object_get(json_object_get(j, "vpn"), "peers");
		struct net_tenant t;
		char err[512];

		(void)state;
		for (int i = 0; i < n; i++) {
			uint8_t k[NET_VPN_KEY_LEN] = {1, (uint8_t)i, (uint8_t)(i >> 8)};
			char key[45], a[24];

			netstate_key_encode(k, key);
			snprintf(a, sizeof(a), "10.99.%d.%d/32", (i + 2) / 256, (i + 2) % 256);
			json_array_append_new(peers, json_pack("{s:s, s:[s], s:[s]}", "public_key",
							       key, "allowed_ips", a, "reach",
							       "10.0.0.0/24"));
		}
		json_object_set_new(json_object_get(j, "vpn"), "address",
				    json_string("10.99.0.1/16"));
		if (n == NET_VPN_PEERS_MAX) {
			assert_int_equal(netstate_parse(j, &t, err, sizeof(err)), 0);
			assert_int_equal(t.vpn.n_peers, NET_VPN_PEERS_MAX);
			netstate_free(&t);
		} else {
			assert_int_equal(netstate_parse(j, &t, err, sizeof(err)), -EINVAL);
			assert_non_null(strstr(err, "at most 256"));
		}
		json_decref(j);
	}
}

/* The VXLAN to a paired host goes to its tunnel address; others are
 * unchanged; the state file has the key, a view does not. */
static void
t_vmvm(void **state)
{
	struct net_tenant t = parse("{" T0 VMVM(VPEER(PUB, "192.168.251.2", "100.112.1.2")) "}");
	json_t *j, *again;
	char err[512];
	struct net_tenant u;

	(void)state;
	assert_int_equal(netstate_vxlan_dst(&t, (192u << 24) | (168u << 16) | (251u << 8) | 2),
			 (100u << 24) | (112u << 16) | (1u << 8) | 2);
	assert_int_equal(netstate_vxlan_dst(&t, (192u << 24) | (168u << 16) | (251u << 8) | 3),
			 (192u << 24) | (168u << 16) | (251u << 8) | 3);
	j = netstate_to_json(&t);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "vmvm"),
							       "private_key")), PRIV);
	assert_int_equal(netstate_parse(j, &u, err, sizeof(err)), 0);
	again = netstate_to_json(&u);
	assert_true(json_equal(j, again));
	netstate_redact(j);
	{
		char *d = json_dumps(j, 0);

		assert_null(strstr(d, PRIV));
		free(d);
	}
	json_decref(again);
	json_decref(j);
	netstate_free(&u);
	netstate_free(&t);
}

int
main(void)
{
	struct CMUnitTest tests[sizeof(rows) / sizeof(rows[0]) + 7];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		tests[n++] = (struct CMUnitTest){rows[i].name, t_row, NULL, NULL,
						 (void *)(uintptr_t)&rows[i]};
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_key_roundtrip);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_persist_and_redact);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_firewall_rules);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_peer_limit);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_site_routes);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_psk_redact);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_vmvm);
	return _cmocka_run_group_tests("netvpn", tests, n, NULL, NULL);
}
