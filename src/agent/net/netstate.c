/* netstate.c - see netstate.h */
#define _GNU_SOURCE
#include "netstate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idssup.h"
#include "jsonv.h"

#define ERR(...)                                                                         \
	do {                                                                             \
		snprintf(err, errlen, __VA_ARGS__);                                      \
		goto fail;                                                               \
	} while (0)

int
netstate_check_key(const char *s, size_t max, char *err, size_t errlen)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || s[0] == '-') {
		snprintf(err, errlen, "'%.40s' must be 1 to %zu characters, not starting with '-'",
			 s, max);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			snprintf(err, errlen, "'%.40s' may only contain a-z, 0-9 and '-'", s);
			return -EINVAL;
		}
	}
	return 0;
}

int
netstate_parse_cidr(const char *s, int want_prefix, int network, struct net_cidr *out)
{
	char ip[16];
	const char *slash = strchr(s, '/');
	size_t iplen = slash ? (size_t)(slash - s) : strlen(s);
	struct in_addr a;
	unsigned prefix = 32;

	if (iplen == 0 || iplen >= sizeof(ip) || (slash != NULL) != (want_prefix != 0))
		return -EINVAL;
	memcpy(ip, s, iplen);
	ip[iplen] = '\0';
	/* inet_pton takes exactly a dotted quad of decimals (no 010, no 1.2.3). */
	if (inet_pton(AF_INET, ip, &a) != 1)
		return -EINVAL;
	if (slash) {
		const char *p = slash + 1;

		if (p[0] < '0' || p[0] > '9' || strlen(p) > 2 || (p[1] && (p[1] < '0' || p[1] > '9')) ||
		    (p[0] == '0' && p[1]))
			return -EINVAL;
		prefix = (unsigned)(p[0] - '0');
		if (p[1])
			prefix = prefix * 10 + (unsigned)(p[1] - '0');
		if (prefix > 32)
			return -EINVAL;
	}
	out->addr = ntohl(a.s_addr);
	out->prefix = prefix;
	if (network && prefix < 32 &&
	    (out->addr & (prefix ? (0xffffffffu >> prefix) : 0xffffffffu)) != 0)
		return -EINVAL;
	if (network && prefix == 0 && out->addr != 0)
		return -EINVAL;
	return 0;
}

static uint32_t
mask(unsigned prefix)
{
	return prefix ? 0xffffffffu << (32 - prefix) : 0;
}

int
netstate_in(const struct net_cidr *c, uint32_t a)
{
	return (a & mask(c->prefix)) == (c->addr & mask(c->prefix));
}

void
netstate_ip(uint32_t a, char *out, size_t len)
{
	snprintf(out, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

const char *
netstate_proto_name(enum net_proto p)
{
	switch (p) {
	case NET_PROTO_TCP: return "tcp";
	case NET_PROTO_UDP: return "udp";
	case NET_PROTO_ICMP: return "icmp";
	default: return "any";
	}
}

void
netstate_hash(const char *key, char out[11])
{
	/* FNV-1a, 64 bits: only names interfaces, collisions are checked. */
	uint64_t h = 0xcbf29ce484222325ull;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	snprintf(out, 11, "%010llx", (unsigned long long)(h & 0xffffffffffull));
}

static int
parse_proto(const char *s, enum net_proto *p)
{
	static const char *const names[] = {"any", "tcp", "udp", "icmp"};

	for (unsigned i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*p = (enum net_proto)i;
			return 0;
		}
	return -EINVAL;
}

static int
get_port(const json_t *o, const char *key, int required, uint16_t *out)
{
	const json_t *v = json_object_get(o, key);

	*out = 0;
	if (v == NULL)
		return required ? -EINVAL : 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)
		return -EINVAL;
	*out = (uint16_t)json_integer_value(v);
	return 0;
}

static const char *
get_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Which of the tenant's networks holds a; -1 when none. */
static int
net_of(const struct net_tenant *t, uint32_t a)
{
	for (unsigned i = 0; i < t->n_networks; i++)
		if (netstate_in(&t->networks[i].cidr, a))
			return (int)i;
	return -1;
}

static int
is_external(const struct net_tenant *t, uint32_t a)
{
	if (t->ext_address && a == t->ext_address)
		return 1;
	for (unsigned i = 0; i < t->n_addresses; i++)
		if (t->addresses[i].address == a)
			return 1;
	return 0;
}

static int
parse_networks(const json_t *arr, struct net_tenant *t, char *err, size_t errlen)
{
	char why[200];
	size_t i;
	const json_t *n;

	if (!json_is_array(arr) || json_array_size(arr) > NET_NETWORKS_MAX)
		ERR("networks must be an array of at most %d", NET_NETWORKS_MAX);
	json_array_foreach(arr, i, n) {
		static const char *const fields[] = {"id", "cidr", "vni", "peers", NULL};
		const json_t *vni = json_object_get(n, "vni"), *peers = json_object_get(n, "peers"), *p;
		size_t pk;
		struct net_network *nw = &t->networks[t->n_networks];
		const char *id = get_str(n, "id"), *cidr = get_str(n, "cidr");

		if (!json_is_object(n) || jsonv_only_fields(n, fields, why, sizeof(why)) < 0)
			ERR("networks[%zu]: %s", i, json_is_object(n) ? why : "not an object");
		if (id == NULL || netstate_check_key(id, NET_ID_MAX, why, sizeof(why)) < 0)
			ERR("networks[%zu].id: %s", i, id ? why : "required string");
		if (cidr == NULL || netstate_parse_cidr(cidr, 1, 1, &nw->cidr) < 0)
			ERR("networks[%zu].cidr: a network address with prefix (e.g. 10.0.0.0/24) is required", i);
		if (nw->cidr.prefix < 16 || nw->cidr.prefix > 28)
			ERR("networks[%zu].cidr: prefix must be /16 to /28", i);
		if (vni != NULL && (!json_is_integer(vni) || json_integer_value(vni) < 1 ||
				    json_integer_value(vni) > NET_VNI_MAX))
			ERR("networks[%zu].vni: an integer from 1 to %d", i, NET_VNI_MAX);
		nw->vni = vni ? (uint32_t)json_integer_value(vni) : 0;
		if (peers != NULL && (vni == NULL || !json_is_array(peers) ||
				      json_array_size(peers) > NET_PEERS_MAX))
			ERR("networks[%zu].peers: an array of at most %d addresses, with a vni", i,
			    NET_PEERS_MAX);
		json_array_foreach(peers, pk, p) {
			struct net_cidr c;
			const char *s = json_string_value(p);

			if (s == NULL || netstate_parse_cidr(s, 0, 0, &c) < 0 || c.addr == 0)
				ERR("networks[%zu].peers[%zu]: an IPv4 address", i, pk);
			for (unsigned q = 0; q < nw->n_peers; q++)
				if (nw->peers[q] == c.addr)
					ERR("networks[%zu].peers[%zu]: duplicate %s", i, pk, s);
			nw->peers[nw->n_peers++] = c.addr;
		}
		snprintf(nw->id, sizeof(nw->id), "%s", id);
		nw->gateway = nw->cidr.addr + 1;
		nw->dhcp_server = nw->cidr.addr + 2;
		netstate_hash(id, nw->hash);
		for (unsigned k = 0; k < t->n_networks; k++) {
			const struct net_network *o = &t->networks[k];

			if (strcmp(o->id, nw->id) == 0)
				ERR("networks[%zu].id: duplicate '%s'", i, id);
			if (strcmp(o->hash, nw->hash) == 0)
				ERR("networks[%zu].id: '%s' collides with '%s'", i, id, o->id);
			if (netstate_in(&o->cidr, nw->cidr.addr) || netstate_in(&nw->cidr, o->cidr.addr))
				ERR("networks[%zu].cidr overlaps network '%s'", i, o->id);
			if (nw->vni && o->vni == nw->vni)
				ERR("networks[%zu].vni: %u is network '%s''s too", i, nw->vni, o->id);
		}
		t->n_networks++;
	}
	return 0;
fail:
	return -EINVAL;
}

static int
parse_external(const json_t *ext, struct net_tenant *t, char *err, size_t errlen)
{
	char why[200];
	static const char *const fields[] = {"address", "gateway", NULL};
	const char *a, *g;
	struct net_cidr c;

	if (ext == NULL || json_is_null(ext))
		return 0;
	if (!json_is_object(ext) || jsonv_only_fields(ext, fields, why, sizeof(why)) < 0)
		ERR("external: %s", json_is_object(ext) ? why : "must be an object");
	a = get_str(ext, "address");
	if (a == NULL || netstate_parse_cidr(a, 1, 0, &c) < 0 || c.prefix < 8 || c.prefix > 30)
		ERR("external.address: an address with the external network's prefix (e.g. 198.18.0.10/24) is required");
	t->ext_address = c.addr;
	t->ext_prefix = c.prefix;
	if ((g = get_str(ext, "gateway")) != NULL) {
		if (netstate_parse_cidr(g, 0, 0, &c) < 0 || c.addr == t->ext_address)
			ERR("external.gateway: an IPv4 address other than external.address");
		t->ext_gateway = c.addr;
	}
	return 0;
fail:
	return -EINVAL;
}

static int
parse_addresses(const json_t *arr, struct net_tenant *t, char *err, size_t errlen)
{
	char why[200];
	size_t i;
	const json_t *n;

	if (arr == NULL)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > NET_ADDRESSES_MAX)
		ERR("addresses must be an array of at most %d", NET_ADDRESSES_MAX);
	json_array_foreach(arr, i, n) {
		static const char *const fields[] = {"address", "vm", NULL};
		struct net_address *ad = &t->addresses[t->n_addresses];
		const char *a = get_str(n, "address"), *vm = get_str(n, "vm");
		struct net_cidr c;

		if (!json_is_object(n) || jsonv_only_fields(n, fields, why, sizeof(why)) < 0)
			ERR("addresses[%zu]: %s", i, json_is_object(n) ? why : "not an object");
		if (t->ext_address == 0)
			ERR("addresses need external.address");
		if (a == NULL || netstate_parse_cidr(a, 0, 0, &c) < 0)
			ERR("addresses[%zu].address: an IPv4 address is required", i);
		if (is_external(t, c.addr))
			ERR("addresses[%zu].address: duplicate", i);
		ad->address = c.addr;
		if (vm != NULL) {
			if (netstate_parse_cidr(vm, 0, 0, &c) < 0 || net_of(t, c.addr) < 0)
				ERR("addresses[%zu].vm: an address on one of the tenant's networks", i);
			for (unsigned k = 0; k < t->n_addresses; k++)
				if (t->addresses[k].vm == c.addr)
					ERR("addresses[%zu].vm: already mapped", i);
			ad->vm = c.addr;
		} else if (json_object_get(n, "vm") != NULL && !json_is_null(json_object_get(n, "vm")))
			ERR("addresses[%zu].vm: must be a string", i);
		t->n_addresses++;
	}
	return 0;
fail:
	return -EINVAL;
}

static int
parse_forwards(const json_t *arr, struct net_tenant *t, char *err, size_t errlen)
{
	char why[200];
	size_t i;
	const json_t *n;

	if (arr == NULL)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > NET_FORWARDS_MAX)
		ERR("forwards must be an array of at most %d", NET_FORWARDS_MAX);
	json_array_foreach(arr, i, n) {
		static const char *const fields[] = {"address", "protocol", "port", "to", "to_port",
						     NULL};
		struct net_forward *f = &t->forwards[t->n_forwards];
		const char *a = get_str(n, "address"), *p = get_str(n, "protocol"),
			   *to = get_str(n, "to");
		struct net_cidr c;

		if (!json_is_object(n) || jsonv_only_fields(n, fields, why, sizeof(why)) < 0)
			ERR("forwards[%zu]: %s", i, json_is_object(n) ? why : "not an object");
		if (a == NULL || netstate_parse_cidr(a, 0, 0, &c) < 0 || !is_external(t, c.addr))
			ERR("forwards[%zu].address: one of the tenant's external addresses", i);
		f->address = c.addr;
		if (p == NULL || parse_proto(p, &f->proto) < 0 ||
		    (f->proto != NET_PROTO_TCP && f->proto != NET_PROTO_UDP))
			ERR("forwards[%zu].protocol: tcp or udp", i);
		if (get_port(n, "port", 1, &f->port) < 0 || get_port(n, "to_port", 1, &f->to_port) < 0)
			ERR("forwards[%zu]: port and to_port must be 1 to 65535", i);
		if (to == NULL || netstate_parse_cidr(to, 0, 0, &c) < 0 || net_of(t, c.addr) < 0)
			ERR("forwards[%zu].to: an address on one of the tenant's networks", i);
		f->to = c.addr;
		for (unsigned k = 0; k < t->n_forwards; k++)
			if (t->forwards[k].address == f->address && t->forwards[k].port == f->port &&
			    t->forwards[k].proto == f->proto)
				ERR("forwards[%zu]: duplicate of forwards[%u]", i, k);
		t->n_forwards++;
	}
	return 0;
fail:
	return -EINVAL;
}

static int
parse_rule(const json_t *n, size_t i, const struct net_tenant *t, struct net_rule *r, char *err,
	   size_t errlen)
{
	char why[200];
	static const char *const fields[] = {"direction", "action", "protocol", "port_min",
					     "port_max", "remote", "local", "priority", NULL};
	const char *dir = get_str(n, "direction"), *act = get_str(n, "action"),
		   *proto = get_str(n, "protocol"), *remote = get_str(n, "remote"),
		   *local = get_str(n, "local");
	const json_t *prio = json_object_get(n, "priority");

	if (!json_is_object(n) || jsonv_only_fields(n, fields, why, sizeof(why)) < 0)
		ERR("rules[%zu]: %s", i, json_is_object(n) ? why : "not an object");
	if (dir == NULL || (strcmp(dir, "ingress") != 0 && strcmp(dir, "egress") != 0))
		ERR("rules[%zu].direction: ingress or egress", i);
	r->ingress = strcmp(dir, "ingress") == 0;
	if (act == NULL || (strcmp(act, "allow") != 0 && strcmp(act, "deny") != 0))
		ERR("rules[%zu].action: allow or deny", i);
	r->allow = strcmp(act, "allow") == 0;
	if (proto == NULL || parse_proto(proto, &r->proto) < 0)
		ERR("rules[%zu].protocol: tcp, udp, icmp or any", i);
	if (get_port(n, "port_min", 0, &r->port_min) < 0 ||
	    get_port(n, "port_max", 0, &r->port_max) < 0)
		ERR("rules[%zu]: ports must be 1 to 65535", i);
	if (r->port_max == 0)
		r->port_max = r->port_min;
	if (r->port_min == 0 && r->port_max != 0)
		ERR("rules[%zu]: port_max without port_min", i);
	if (r->port_min > r->port_max)
		ERR("rules[%zu]: port_min is above port_max", i);
	if (r->port_min && r->proto != NET_PROTO_TCP && r->proto != NET_PROTO_UDP)
		ERR("rules[%zu]: ports need protocol tcp or udp", i);
	if (remote == NULL)
		remote = "0.0.0.0/0";
	if (netstate_parse_cidr(remote, 1, 1, &r->remote) < 0)
		ERR("rules[%zu].remote: a network in CIDR form with host bits zero (e.g. 203.0.113.0/24)", i);
	if (local == NULL || netstate_parse_cidr(local, 1, 1, &r->local) < 0)
		ERR("rules[%zu].local: a VM address (/32) or one of the tenant's networks", i);
	{
		int k = net_of(t, r->local.addr);

		if (k < 0 || r->local.prefix < t->networks[k].cidr.prefix)
			ERR("rules[%zu].local: not inside the tenant's networks", i);
	}
	if (prio == NULL)
		r->priority = 100;
	else if (!json_is_integer(prio) || json_integer_value(prio) < 1 ||
		 json_integer_value(prio) > 65535)
		ERR("rules[%zu].priority: 1 to 65535", i);
	else
		r->priority = (unsigned)json_integer_value(prio);
	return 0;
fail:
	return -EINVAL;
}

/* aa:bb:cc:dd:ee:ff, unicast, not all zeros. */
static int
mac_ok(const char *m)
{
	static const char hex[] = "0123456789abcdefABCDEF";
	int nonzero = 0;

	if (strlen(m) != 17)
		return 0;
	for (int i = 0; i < 17; i++) {
		if (i % 3 == 2 ? m[i] != ':' : strchr(hex, m[i]) == NULL || m[i] == '\0')
			return 0;
		if (i % 3 != 2 && m[i] != '0')
			nonzero = 1;
	}
	/* The first octet's low bit is the group bit. */
	return nonzero && strchr("02468aceACE", m[1]) != NULL;
}

/* VM ports on the tenant's other hosts: the home host's DHCP leases. */
static int
parse_remote(const json_t *arr, struct net_tenant *t, char *err, size_t errlen)
{
	static const char *const fields[] = {"mac", "address", NULL};
	char why[200];
	size_t i;
	const json_t *p;

	if (arr == NULL)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > NET_REMOTE_MAX)
		ERR("remote_ports must be an array of at most %d", NET_REMOTE_MAX);
	if (json_array_size(arr) && (t->remote = calloc(json_array_size(arr), sizeof(*t->remote))) == NULL)
		ERR("out of memory");
	json_array_foreach(arr, i, p) {
		const char *mac = get_str(p, "mac"), *a = get_str(p, "address");
		struct net_remote_port *r = &t->remote[t->n_remote];
		struct net_cidr c;

		if (!json_is_object(p) || jsonv_only_fields(p, fields, why, sizeof(why)) < 0)
			ERR("remote_ports[%zu]: %s", i, json_is_object(p) ? why : "not an object");
		if (mac == NULL || !mac_ok(mac))
			ERR("remote_ports[%zu].mac: a unicast MAC aa:bb:cc:dd:ee:ff", i);
		if (a == NULL || netstate_parse_cidr(a, 0, 0, &c) < 0 || net_of(t, c.addr) < 0)
			ERR("remote_ports[%zu].address: an address on one of the tenant's networks", i);
		snprintf(r->mac, sizeof(r->mac), "%s", mac);
		for (char *q = r->mac; *q; q++)
			if (*q >= 'A' && *q <= 'F')
				*q = (char)(*q - 'A' + 'a');
		r->address = c.addr;
		t->n_remote++;
	}
	return 0;
fail:
	return -EINVAL;
}

/* "ids": {"enabled": bool, "custom_rules": string, "suppress": [...]
 * (idssup.h)}; all optional. */
static int
parse_ids(const json_t *j, struct net_tenant *t, char *err, size_t errlen)
{
	static const char *const fields[] = {"enabled", "custom_rules", "suppress", NULL};
	const json_t *en, *cr, *sup;
	char why[200];

	if (j == NULL)
		return 0;
	if (!json_is_object(j) || jsonv_only_fields(j, fields, why, sizeof(why)) < 0)
		ERR("ids: %s", json_is_object(j) ? why : "must be an object");
	en = json_object_get(j, "enabled");
	if (en != NULL && !json_is_boolean(en))
		ERR("ids.enabled: true or false");
	t->ids_off = json_is_false(en);
	sup = json_object_get(j, "suppress");
	if (sup != NULL) {
		if (idssup_check_list(sup, why, sizeof(why)) < 0)
			ERR("ids.%s", why);
		if (json_array_size(sup) > 0 && (t->ids_suppress = json_deep_copy(sup)) == NULL)
			ERR("out of memory");
	}
	cr = json_object_get(j, "custom_rules");
	if (cr == NULL)
		return 0;
	if (!json_is_string(cr) || json_string_length(cr) > NET_IDS_RULES_MAX ||
	    strlen(json_string_value(cr)) != json_string_length(cr))
		ERR("ids.custom_rules: a string of at most %d bytes", NET_IDS_RULES_MAX);
	if (json_string_length(cr) > 0 && (t->ids_rules = strdup(json_string_value(cr))) == NULL)
		ERR("out of memory");
	return 0;
fail:
	return -EINVAL;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

int
netstate_key_decode(const char *s, uint8_t out[NET_VPN_KEY_LEN])
{
	uint32_t acc = 0;
	unsigned bits = 0, n = 0;

	/* 32 bytes: 43 characters and one '='; the last one's two low bits
	 * carry nothing and must be zero (one key, one spelling). */
	if (strlen(s) != 44 || s[43] != '=')
		return -EINVAL;
	for (int i = 0; i < 43; i++) {
		int v = b64_val(s[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	if (n != NET_VPN_KEY_LEN || (acc & ((1u << bits) - 1)) != 0)
		return -EINVAL;
	return 0;
}

void
netstate_key_encode(const uint8_t key[NET_VPN_KEY_LEN], char out[45])
{
	uint32_t acc = 0;
	unsigned bits = 0, n = 0;

	for (int i = 0; i < NET_VPN_KEY_LEN; i++) {
		acc = (acc << 8) | key[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[n++] = b64[(acc >> bits) & 63];
		}
	}
	out[n++] = b64[(acc << (6 - bits)) & 63];
	out[n++] = '=';
	out[n] = '\0';
}

int
netstate_vpn_expired(const struct net_vpn_peer *p, long long now)
{
	return p->expires != 0 && p->expires <= now;
}

static int
key_zero(const uint8_t *k)
{
	uint8_t acc = 0;

	for (int i = 0; i < NET_VPN_KEY_LEN; i++)
		acc |= k[i];
	return acc == 0;
}

static int
cidrs_overlap(const struct net_cidr *a, const struct net_cidr *b)
{
	return netstate_in(a, b->addr) || netstate_in(b, a->addr);
}

/* "allowed_ips" or "reach" of peers[i]: CIDRs with host bits zero. */
static int
parse_vpn_cidrs(const json_t *arr, const char *what, size_t i, struct net_cidr *out,
		unsigned *n, char *err, size_t errlen)
{
	size_t k;
	const json_t *c;

	if (!json_is_array(arr) || json_array_size(arr) < 1 ||
	    json_array_size(arr) > NET_VPN_CIDRS_MAX)
		ERR("vpn.peers[%zu].%s: an array of 1 to %d CIDRs", i, what, NET_VPN_CIDRS_MAX);
	json_array_foreach(arr, k, c) {
		const char *s = json_string_value(c);

		if (s == NULL || netstate_parse_cidr(s, 1, 1, &out[*n]) < 0)
			ERR("vpn.peers[%zu].%s[%zu]: a CIDR with host bits zero (e.g. 10.99.0.2/32)",
			    i, what, k);
		(*n)++;
	}
	return 0;
fail:
	return -EINVAL;
}

static int
check_vpn_peer(const struct net_tenant *t, const struct net_vpn_peer *p, size_t i, char *err,
	       size_t errlen)
{
	const struct net_vpn *v = &t->vpn;
	struct net_cidr vnet = {v->address.addr, v->address.prefix};

	for (unsigned k = 0; k < p->n_allowed; k++) {
		if (p->allowed[k].prefix < vnet.prefix || !netstate_in(&vnet, p->allowed[k].addr))
			ERR("vpn.peers[%zu].allowed_ips[%u]: not inside vpn.address's network", i, k);
		if (netstate_in(&p->allowed[k], v->address.addr))
			ERR("vpn.peers[%zu].allowed_ips[%u]: holds the gateway's own address", i, k);
		for (unsigned q = 0; q < i; q++)
			for (unsigned m = 0; m < v->peers[q].n_allowed; m++)
				if (cidrs_overlap(&p->allowed[k], &v->peers[q].allowed[m]))
					ERR("vpn.peers[%zu].allowed_ips[%u]: overlaps peers[%u]'s", i,
					    k, q);
	}
	for (unsigned k = 0; k < p->n_routes; k++) {
		const struct net_cidr *c = &p->routes[k];
		struct net_cidr ext = {t->ext_address & mask(t->ext_prefix), t->ext_prefix};

		if (c->prefix < 8)
			ERR("vpn.peers[%zu].routes[%u]: a prefix of at least /8", i, k);
		if (cidrs_overlap(c, &vnet) || (t->ext_address && cidrs_overlap(c, &ext)))
			ERR("vpn.peers[%zu].routes[%u]: overlaps the tunnel's or the external network",
			    i, k);
		for (unsigned m = 0; m < t->n_networks; m++)
			if (cidrs_overlap(c, &t->networks[m].cidr))
				ERR("vpn.peers[%zu].routes[%u]: overlaps network '%s'", i, k,
				    t->networks[m].id);
		for (unsigned q = 0; q < i; q++)
			for (unsigned m = 0; m < v->peers[q].n_routes; m++)
				if (cidrs_overlap(c, &v->peers[q].routes[m]))
					ERR("vpn.peers[%zu].routes[%u]: overlaps peers[%u]'s", i, k, q);
	}
	for (unsigned k = 0; k < p->n_reach; k++) {
		int n = net_of(t, p->reach[k].addr);

		if (n < 0 || p->reach[k].prefix < t->networks[n].cidr.prefix)
			ERR("vpn.peers[%zu].reach[%u]: not inside the tenant's networks", i, k);
	}
	for (unsigned q = 0; q < i; q++)
		if (memcmp(v->peers[q].public_key, p->public_key, NET_VPN_KEY_LEN) == 0)
			ERR("vpn.peers[%zu].public_key: the same as peers[%u]'s", i, q);
	return 0;
fail:
	return -EINVAL;
}

/* "a.b.c.d:port" */
static int
parse_endpoint(const char *s, uint32_t *addr, uint16_t *port)
{
	char ip[16];
	const char *colon = s ? strrchr(s, ':') : NULL;
	struct net_cidr c;
	unsigned v;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, (size_t)(colon - s));
	ip[colon - s] = '\0';
	if (netstate_parse_cidr(ip, 0, 0, &c) < 0 || c.addr == 0)
		return -EINVAL;
	v = 0;
	for (const char *d = colon + 1; *d; d++) {
		if (*d < '0' || *d > '9' || d - colon > 5)
			return -EINVAL;
		v = v * 10 + (unsigned)(*d - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*addr = c.addr;
	*port = (uint16_t)v;
	return 0;
}

static int
parse_vpn_peer(const json_t *n, size_t i, struct net_tenant *t, char *err, size_t errlen)
{
	static const char *const fields[] = {"public_key", "allowed_ips", "reach", "expires",
					     "routes", "endpoint", "preshared_key", NULL};
	struct net_vpn_peer *p = &t->vpn.peers[i];
	const char *key = get_str(n, "public_key");
	const json_t *ex = json_object_get(n, "expires");
	char why[200];

	if (!json_is_object(n) || jsonv_only_fields(n, fields, why, sizeof(why)) < 0)
		ERR("vpn.peers[%zu]: %s", i, json_is_object(n) ? why : "not an object");
	/* Never quote a key back: the message names the field only. */
	if (key == NULL || netstate_key_decode(key, p->public_key) < 0 || key_zero(p->public_key))
		ERR("vpn.peers[%zu].public_key: a WireGuard key (32 bytes, base64) is required", i);
	if (parse_vpn_cidrs(json_object_get(n, "allowed_ips"), "allowed_ips", i, p->allowed,
			    &p->n_allowed, err, errlen) < 0 ||
	    parse_vpn_cidrs(json_object_get(n, "reach"), "reach", i, p->reach, &p->n_reach, err,
			    errlen) < 0)
		return -EINVAL;
	if (ex != NULL && !json_is_null(ex)) {
		if (!json_is_integer(ex) || json_integer_value(ex) < 1)
			ERR("vpn.peers[%zu].expires: unix seconds (a positive integer) or null", i);
		p->expires = json_integer_value(ex);
	}
	if (json_object_get(n, "routes") != NULL &&
	    parse_vpn_cidrs(json_object_get(n, "routes"), "routes", i, p->routes, &p->n_routes,
			    err, errlen) < 0)
		return -EINVAL;
	if (json_object_get(n, "preshared_key") != NULL) {
		const char *psk = get_str(n, "preshared_key");

		if (psk == NULL || netstate_key_decode(psk, p->psk) < 0 || key_zero(p->psk))
			ERR("vpn.peers[%zu].preshared_key: a WireGuard key (32 bytes, base64)", i);
		p->has_psk = 1;
	}
	if (json_object_get(n, "endpoint") != NULL &&
	    parse_endpoint(get_str(n, "endpoint"), &p->endpoint, &p->endpoint_port) < 0)
		ERR("vpn.peers[%zu].endpoint: an IPv4 address and port (e.g. 192.0.2.7:51820)", i);
	return check_vpn_peer(t, p, i, err, errlen);
fail:
	return -EINVAL;
}

static int
check_vpn_address(const struct net_tenant *t, const struct net_cidr *a, char *err, size_t errlen)
{
	uint32_t m = mask(a->prefix);
	struct net_cidr net = {a->addr & m, a->prefix};

	if (a->prefix < 16 || a->prefix > 30 || (a->addr & ~m) == 0 || (a->addr & ~m) == ~m)
		ERR("vpn.address: the gateway's host address with a /16 to /30 prefix (e.g. 10.99.0.1/24)");
	for (unsigned i = 0; i < t->n_networks; i++)
		if (cidrs_overlap(&net, &t->networks[i].cidr))
			ERR("vpn.address: overlaps network '%s'", t->networks[i].id);
	return 0;
fail:
	return -EINVAL;
}

/* "vpn": the tenant's WireGuard gateway; needs its namespace firewall and
 * an external address (the UDP port is opened there). */
static int
parse_vpn(const json_t *j, struct net_tenant *t, char *err, size_t errlen)
{
	static const char *const fields[] = {"listen_port", "private_key", "address", "peers",
					     NULL};
	const char *key, *addr;
	const json_t *peers, *n;
	char why[200];
	size_t i;

	if (j == NULL || json_is_null(j))
		return 0;
	if (!json_is_object(j) || jsonv_only_fields(j, fields, why, sizeof(why)) < 0)
		ERR("vpn: %s", json_is_object(j) ? why : "must be an object");
	if (t->mode != NET_FW_NAMESPACE || t->role != NET_ROLE_HOME || t->ext_address == 0)
		ERR("vpn: needs firewall mode namespace, the home host and external.address");
	if (get_port(j, "listen_port", 1, &t->vpn.listen_port) < 0)
		ERR("vpn.listen_port: 1 to 65535 is required");
	for (unsigned k = 0; k < t->n_forwards; k++)
		if (t->forwards[k].proto == NET_PROTO_UDP &&
		    t->forwards[k].address == t->ext_address &&
		    t->forwards[k].port == t->vpn.listen_port)
			ERR("vpn.listen_port: forwards[%u] uses udp port %u", k, t->vpn.listen_port);
	key = get_str(j, "private_key");
	if (key == NULL || netstate_key_decode(key, t->vpn.private_key) < 0 ||
	    key_zero(t->vpn.private_key))
		ERR("vpn.private_key: a WireGuard key (32 bytes, base64) is required");
	addr = get_str(j, "address");
	if (addr == NULL || netstate_parse_cidr(addr, 1, 0, &t->vpn.address) < 0)
		ERR("vpn.address: the gateway's tunnel address with prefix (e.g. 10.99.0.1/24)");
	if (check_vpn_address(t, &t->vpn.address, err, errlen) < 0)
		return -EINVAL;
	peers = json_object_get(j, "peers");
	if (peers != NULL && (!json_is_array(peers) || json_array_size(peers) > NET_VPN_PEERS_MAX))
		ERR("vpn.peers: an array of at most %d", NET_VPN_PEERS_MAX);
	if (json_array_size(peers) &&
	    (t->vpn.peers = calloc(json_array_size(peers), sizeof(*t->vpn.peers))) == NULL)
		ERR("out of memory");
	json_array_foreach(peers, i, n) {
		if (parse_vpn_peer(n, i, t, err, errlen) < 0)
			return -EINVAL;
		t->vpn.n_peers++;
	}
	t->vpn.enabled = 1;
	return 0;
fail:
	return -EINVAL;
}

/* "vmvm": the tenant's host-to-host tunnel for its VM-to-VM channels
 * (netstate.h). Only on a host with other hosts of the tenant. */
static int
parse_vmvm(const json_t *j, struct net_tenant *t, char *err, size_t errlen)
{
	static const char *const fields[] = {"listen_port", "private_key", "address", "peers",
					     NULL};
	static const char *const pfields[] = {"public_key", "underlay", "address", NULL};
	struct net_vpn *v = &t->vmvm;
	const json_t *peers, *n;
	const char *key, *addr;
	char why[200];
	size_t i;

	if (j == NULL || json_is_null(j))
		return 0;
	if (!json_is_object(j) || jsonv_only_fields(j, fields, why, sizeof(why)) < 0)
		ERR("vmvm: %s", json_is_object(j) ? why : "must be an object");
	if (get_port(j, "listen_port", 1, &v->listen_port) < 0)
		ERR("vmvm.listen_port: 1 to 65535 is required");
	key = get_str(j, "private_key");
	if (key == NULL || netstate_key_decode(key, v->private_key) < 0 || key_zero(v->private_key))
		ERR("vmvm.private_key: a WireGuard key (32 bytes, base64) is required");
	addr = get_str(j, "address");
	if (addr == NULL || netstate_parse_cidr(addr, 1, 0, &v->address) < 0 ||
	    v->address.prefix != 32 || v->address.addr == 0)
		ERR("vmvm.address: this host's tunnel address, a /32 (e.g. 100.127.1.1/32)");
	peers = json_object_get(j, "peers");
	if (!json_is_array(peers) || json_array_size(peers) < 1 ||
	    json_array_size(peers) > NET_PEERS_MAX)
		ERR("vmvm.peers: an array of 1 to %d other hosts", NET_PEERS_MAX);
	if ((v->peers = calloc(json_array_size(peers), sizeof(*v->peers))) == NULL)
		ERR("out of memory");
	json_array_foreach(peers, i, n) {
		struct net_vpn_peer *p = &v->peers[i];
		struct net_cidr u, a;

		if (!json_is_object(n) || jsonv_only_fields(n, pfields, why, sizeof(why)) < 0)
			ERR("vmvm.peers[%zu]: %s", i, json_is_object(n) ? why : "not an object");
		key = get_str(n, "public_key");
		if (key == NULL || netstate_key_decode(key, p->public_key) < 0 ||
		    key_zero(p->public_key))
			ERR("vmvm.peers[%zu].public_key: a WireGuard key (32 bytes, base64) is required",
			    i);
		if (get_str(n, "underlay") == NULL ||
		    netstate_parse_cidr(get_str(n, "underlay"), 0, 0, &u) < 0 || u.addr == 0)
			ERR("vmvm.peers[%zu].underlay: the host's underlay IPv4 address", i);
		if (get_str(n, "address") == NULL ||
		    netstate_parse_cidr(get_str(n, "address"), 0, 0, &a) < 0 || a.addr == 0 ||
		    a.addr == v->address.addr || a.addr == u.addr)
			ERR("vmvm.peers[%zu].address: the host's tunnel address (not ours, not its "
			    "underlay)", i);
		for (unsigned q = 0; q < v->n_peers; q++)
			if (v->peers[q].endpoint == u.addr || v->peers[q].routes[0].addr == a.addr ||
			    memcmp(v->peers[q].public_key, p->public_key, NET_VPN_KEY_LEN) == 0)
				ERR("vmvm.peers[%zu]: the same host, address or key as peers[%u]", i,
				    q);
		p->endpoint = u.addr;
		p->endpoint_port = v->listen_port;
		p->n_allowed = 1;
		p->allowed[0] = (struct net_cidr){u.addr, 32};
		p->n_routes = 1;
		p->routes[0] = (struct net_cidr){a.addr, 32};
		v->n_peers++;
	}
	v->enabled = 1;
	return 0;
fail:
	return -EINVAL;
}

uint32_t
netstate_vxlan_dst(const struct net_tenant *t, uint32_t peer)
{
	for (unsigned i = 0; t->vmvm.enabled && i < t->vmvm.n_peers; i++)
		if (t->vmvm.peers[i].endpoint == peer)
			return t->vmvm.peers[i].routes[0].addr;
	return peer;
}

static int
rule_cmp(const void *a, const void *b)
{
	const struct net_rule *x = a, *y = b;

	return x->priority < y->priority ? -1 : x->priority > y->priority;
}

int
netstate_parse(const json_t *j, struct net_tenant *out, char *err, size_t errlen)
{
	char why[200];
	static const char *const fields[] = {"tenant", "mode", "networks", "external", "addresses",
					     "forwards", "rules", "role", "remote_ports", "ids",
					     "vpn", "vmvm", NULL};
	const char *tenant, *mode;
	const json_t *rules;
	size_t i;
	const json_t *n;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j) || jsonv_only_fields(j, fields, why, sizeof(why)) < 0)
		ERR("%s", json_is_object(j) ? why : "arguments must be an object");
	tenant = get_str(j, "tenant");
	if (tenant == NULL || netstate_check_key(tenant, NET_TENANT_MAX, why, sizeof(why)) < 0)
		ERR("tenant: %s", tenant ? why : "required string");
	snprintf(out->tenant, sizeof(out->tenant), "%s", tenant);
	netstate_hash(tenant, out->hash);
	mode = get_str(j, "mode");
	if (mode == NULL || strcmp(mode, "namespace") == 0)
		out->mode = NET_FW_NAMESPACE;
	else if (strcmp(mode, "vm") == 0)
		out->mode = NET_FW_VM;
	else
		ERR("mode: namespace or vm");
	mode = get_str(j, "role");
	if (json_object_get(j, "role") != NULL && mode == NULL)
		ERR("role: home or member");
	if (mode == NULL || strcmp(mode, "home") == 0)
		out->role = NET_ROLE_HOME;
	else if (strcmp(mode, "member") == 0)
		out->role = NET_ROLE_MEMBER;
	else
		ERR("role: home or member");
	if (json_object_get(j, "networks") == NULL)
		ERR("networks is required");
	if (parse_networks(json_object_get(j, "networks"), out, err, errlen) < 0 ||
	    parse_external(json_object_get(j, "external"), out, err, errlen) < 0 ||
	    parse_addresses(json_object_get(j, "addresses"), out, err, errlen) < 0 ||
	    parse_forwards(json_object_get(j, "forwards"), out, err, errlen) < 0)
		goto fail;
	if (parse_remote(json_object_get(j, "remote_ports"), out, err, errlen) < 0 ||
	    parse_ids(json_object_get(j, "ids"), out, err, errlen) < 0)
		goto fail;
	rules = json_object_get(j, "rules");
	if (rules != NULL) {
		if (!json_is_array(rules) || json_array_size(rules) > NET_RULES_MAX)
			ERR("rules must be an array of at most %d", NET_RULES_MAX);
		if (json_array_size(rules) &&
		    (out->rules = calloc(json_array_size(rules), sizeof(*out->rules))) == NULL)
			ERR("out of memory");
		json_array_foreach(rules, i, n) {
			if (parse_rule(n, i, out, &out->rules[i], err, errlen) < 0)
				goto fail;
			out->n_rules++;
		}
		/* Stable for equal priorities: merge sort semantics are not
		 * guaranteed by qsort, so break ties by position. */
		for (i = 0; i < out->n_rules; i++)
			out->rules[i].priority = out->rules[i].priority * 2048u + (unsigned)i;
		if (out->n_rules > 1)
			qsort(out->rules, out->n_rules, sizeof(*out->rules), rule_cmp);
		for (i = 0; i < out->n_rules; i++)
			out->rules[i].priority /= 2048u;
	}
	if (parse_vpn(json_object_get(j, "vpn"), out, err, errlen) < 0 ||
	    parse_vmvm(json_object_get(j, "vmvm"), out, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	netstate_free(out);
	return -EINVAL;
}

void
netstate_free(struct net_tenant *t)
{
	if (t == NULL)
		return;
	free(t->rules);
	t->rules = NULL;
	t->n_rules = 0;
	free(t->remote);
	t->remote = NULL;
	t->n_remote = 0;
	free(t->ids_rules);
	t->ids_rules = NULL;
	json_decref(t->ids_suppress);
	t->ids_suppress = NULL;
	if (t->vpn.peers != NULL)
		explicit_bzero(t->vpn.peers, t->vpn.n_peers * sizeof(*t->vpn.peers));
	free(t->vpn.peers);
	/* The private key goes with the state. */
	explicit_bzero(&t->vpn, sizeof(t->vpn));
	free(t->vmvm.peers);
	explicit_bzero(&t->vmvm, sizeof(t->vmvm));
}

static json_t *
cidr_json(const struct net_cidr *c)
{
	char ip[16];

	netstate_ip(c->addr, ip, sizeof(ip));
	return json_sprintf("%s/%u", ip, c->prefix);
}

static json_t *
ip_json(uint32_t a)
{
	char ip[16];

	netstate_ip(a, ip, sizeof(ip));
	return json_string(ip);
}

static json_t *
cidrs_json(const struct net_cidr *c, unsigned n)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < n; i++)
		json_array_append_new(a, cidr_json(&c[i]));
	return a;
}

static json_t *
vpn_json(const struct net_vpn *v)
{
	char key[45];
	json_t *o, *peers = json_array();

	for (unsigned i = 0; i < v->n_peers; i++) {
		const struct net_vpn_peer *p = &v->peers[i];
		json_t *po;

		netstate_key_encode(p->public_key, key);
		po = json_pack("{s:s, s:o, s:o}", "public_key", key, "allowed_ips",
			       cidrs_json(p->allowed, p->n_allowed), "reach",
			       cidrs_json(p->reach, p->n_reach));
		if (p->expires)
			json_object_set_new(po, "expires", json_integer(p->expires));
		if (p->n_routes)
			json_object_set_new(po, "routes", cidrs_json(p->routes, p->n_routes));
		if (p->has_psk) {
			netstate_key_encode(p->psk, key);
			json_object_set_new(po, "preshared_key", json_string(key));
		}
		if (p->endpoint) {
			char ip[16];

			netstate_ip(p->endpoint, ip, sizeof(ip));
			json_object_set_new(po, "endpoint",
					    json_sprintf("%s:%u", ip, p->endpoint_port));
		}
		json_array_append_new(peers, po);
	}
	netstate_key_encode(v->private_key, key);
	o = json_pack("{s:i, s:s, s:o, s:o}", "listen_port", v->listen_port, "private_key", key,
		      "address", cidr_json(&v->address), "peers", peers);
	explicit_bzero(key, sizeof(key));
	return o;
}

/* The "vmvm" request form again (with the private key: the state file). */
static json_t *
vmvm_json(const struct net_vpn *v)
{
	char key[45], ip[16];
	json_t *o, *peers = json_array();

	for (unsigned i = 0; i < v->n_peers; i++) {
		const struct net_vpn_peer *p = &v->peers[i];

		netstate_key_encode(p->public_key, key);
		netstate_ip(p->endpoint, ip, sizeof(ip));
		json_array_append_new(peers, json_pack("{s:s, s:s, s:o}", "public_key", key,
						       "underlay", ip, "address",
						       ip_json(p->routes[0].addr)));
	}
	netstate_key_encode(v->private_key, key);
	o = json_pack("{s:i, s:s, s:o, s:o}", "listen_port", v->listen_port, "private_key", key,
		      "address", cidr_json(&v->address), "peers", peers);
	explicit_bzero(key, sizeof(key));
	return o;
}

void
netstate_redact(json_t *j)
{
	json_t *v = json_object_get(j, "vpn"), *k = json_object_get(v, "private_key"), *p;
	size_t i;

	/* jansson's copy of the string is freed, not wiped: it was only
	 * ever in this process's heap, like the state itself. */
	if (k != NULL)
		json_object_del(v, "private_key");
	json_array_foreach(json_object_get(v, "peers"), i, p) json_object_del(p, "preshared_key");
	json_object_del(json_object_get(j, "vmvm"), "private_key");
}

json_t *
netstate_to_json(const struct net_tenant *t)
{
	json_t *j = json_object(), *a;
	unsigned i;

	json_object_set_new(j, "tenant", json_string(t->tenant));
	json_object_set_new(j, "mode", json_string(t->mode == NET_FW_VM ? "vm" : "namespace"));
	a = json_array();
	for (i = 0; i < t->n_networks; i++) {
		const struct net_network *n = &t->networks[i];
		json_t *o = json_pack("{s:s, s:o}", "id", n->id, "cidr", cidr_json(&n->cidr));

		if (n->vni) {
			json_t *peers = json_array();

			for (unsigned k = 0; k < n->n_peers; k++)
				json_array_append_new(peers, ip_json(n->peers[k]));
			json_object_set_new(o, "vni", json_integer(n->vni));
			json_object_set_new(o, "peers", peers);
		}
		json_array_append_new(a, o);
	}
	json_object_set_new(j, "networks", a);
	if (t->role == NET_ROLE_MEMBER)
		json_object_set_new(j, "role", json_string("member"));
	if (t->n_remote) {
		a = json_array();
		for (i = 0; i < t->n_remote; i++)
			json_array_append_new(a, json_pack("{s:s, s:o}", "mac", t->remote[i].mac,
							   "address", ip_json(t->remote[i].address)));
		json_object_set_new(j, "remote_ports", a);
	}
	if (t->ext_address) {
		struct net_cidr c = {t->ext_address, t->ext_prefix};
		json_t *e = json_pack("{s:o}", "address", cidr_json(&c));

		if (t->ext_gateway)
			json_object_set_new(e, "gateway", ip_json(t->ext_gateway));
		json_object_set_new(j, "external", e);
	}
	a = json_array();
	for (i = 0; i < t->n_addresses; i++) {
		json_t *o = json_pack("{s:o}", "address", ip_json(t->addresses[i].address));

		if (t->addresses[i].vm)
			json_object_set_new(o, "vm", ip_json(t->addresses[i].vm));
		json_array_append_new(a, o);
	}
	json_object_set_new(j, "addresses", a);
	a = json_array();
	for (i = 0; i < t->n_forwards; i++) {
		const struct net_forward *f = &t->forwards[i];

		json_array_append_new(a, json_pack("{s:o, s:s, s:i, s:o, s:i}", "address",
						   ip_json(f->address), "protocol",
						   netstate_proto_name(f->proto), "port", f->port,
						   "to", ip_json(f->to), "to_port", f->to_port));
	}
	json_object_set_new(j, "forwards", a);
	a = json_array();
	for (i = 0; i < t->n_rules; i++) {
		const struct net_rule *r = &t->rules[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:i}", "direction",
				      r->ingress ? "ingress" : "egress", "action",
				      r->allow ? "allow" : "deny", "protocol",
				      netstate_proto_name(r->proto), "remote", cidr_json(&r->remote),
				      "local", cidr_json(&r->local), "priority", (int)r->priority);

		if (r->port_min) {
			json_object_set_new(o, "port_min", json_integer(r->port_min));
			json_object_set_new(o, "port_max", json_integer(r->port_max));
		}
		json_array_append_new(a, o);
	}
	json_object_set_new(j, "rules", a);
	if (t->ids_off || t->ids_rules != NULL || t->ids_suppress != NULL) {
		json_t *ids = json_pack("{s:b}", "enabled", !t->ids_off);

		if (t->ids_rules != NULL)
			json_object_set_new(ids, "custom_rules", json_string(t->ids_rules));
		if (t->ids_suppress != NULL)
			json_object_set(ids, "suppress", t->ids_suppress);
		json_object_set_new(j, "ids", ids);
	}
	if (t->vpn.enabled)
		json_object_set_new(j, "vpn", vpn_json(&t->vpn));
	if (t->vmvm.enabled)
		json_object_set_new(j, "vmvm", vmvm_json(&t->vmvm));
	return j;
}
