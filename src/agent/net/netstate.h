/*
 * netstate.h - a tenant's desired network state, as the control plane sends
 * it in `net.apply` (docs/agent-protocol.md, "Tenant networks").
 *
 * Pure: parsing and validation only, no I/O, so it is unit-tested and
 * fuzzed. Everything the kernel later gets (interface names, nftables rule
 * sets, dnsmasq configuration) is generated from these structs, never from
 * the request's text: a field that passed here is a number, an address or a
 * name from a closed alphabet.
 */
#ifndef CLOUDLET_NETSTATE_H
#define CLOUDLET_NETSTATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define NET_TENANT_MAX 32    /* tenant key length */
#define NET_ID_MAX 32        /* network id length */
#define NET_NETWORKS_MAX 8   /* per tenant */
#define NET_RULES_MAX 1024   /* per tenant firewall */
#define NET_ADDRESSES_MAX 32 /* external addresses per tenant */
#define NET_FORWARDS_MAX 256 /* port forwards per tenant */
#define NET_PEERS_MAX 64     /* other hosts a network spans (docs/hosts.md) */
#define NET_REMOTE_MAX 4096  /* VM ports on other hosts (DHCP leases) */
#define NET_VNI_MAX 16777215
#define NET_IDS_RULES_MAX (64 * 1024) /* a tenant's own IDS rules, bytes */
#define NET_VPN_PEERS_MAX 256 /* road-warrior peers of the tenant's gateway */
#define NET_VPN_CIDRS_MAX 16  /* allowed_ips, and reach, per peer */
#define NET_VPN_KEY_LEN 32    /* a Curve25519 key */

enum net_fw_mode { NET_FW_NAMESPACE, NET_FW_VM };
/* Where a tenant's network lives on this host (docs/hosts.md): the home
 * host has its firewall and DHCP; a member host only its bridges (with the
 * VXLAN port) and its own VMs' anti-spoofing. */
enum net_role { NET_ROLE_HOME, NET_ROLE_MEMBER };
enum net_proto { NET_PROTO_ANY, NET_PROTO_TCP, NET_PROTO_UDP, NET_PROTO_ICMP };

struct net_cidr {
	uint32_t addr; /* host byte order */
	unsigned prefix;
};

struct net_network {
	char id[NET_ID_MAX + 1];
	struct net_cidr cidr;  /* the subnet (host bits zero) */
	uint32_t gateway;      /* the firewall's first port: .1 by convention */
	uint32_t dhcp_server;  /* the tenant namespace's own address: gateway + 1 */
	char hash[11];         /* 10 hex digits naming its interfaces */
	/* Spanning hosts: its VXLAN segment (0 = this host only) and the
	 * underlay addresses of the other hosts on it. */
	uint32_t vni;
	unsigned n_peers;
	uint32_t peers[NET_PEERS_MAX];
};

/* A VM port on another host of the tenant: the home host's DHCP lease. */
struct net_remote_port {
	char mac[18];
	uint32_t address;
};

struct net_rule {
	int ingress;          /* 1: from outside to the tenant; 0: outbound */
	int allow;
	enum net_proto proto;
	uint16_t port_min, port_max; /* 0 = any (tcp/udp only) */
	struct net_cidr remote;      /* the other side: source of ingress, destination of egress */
	struct net_cidr local;       /* the tenant side: a VM (/32) or a network */
	unsigned priority;           /* lower first; ties keep request order */
};

struct net_address {
	uint32_t address; /* on the external network */
	uint32_t vm;      /* private address it maps to 1:1, 0 = none */
};

struct net_forward {
	uint32_t address; /* external */
	enum net_proto proto; /* tcp or udp */
	uint16_t port;
	uint32_t to;
	uint16_t to_port;
};

/*
 * A peer of the tenant's WireGuard gateway (docs/networks.md, "VPN"):
 * allowed are the tunnel addresses it may send from (its AllowedIPs at the
 * gateway), reach what it may get to on the tenant's networks (enforced
 * by nftables, whatever the peer routes into its tunnel).
 */
struct net_vpn_peer {
	uint8_t public_key[NET_VPN_KEY_LEN];
	unsigned n_allowed;
	struct net_cidr allowed[NET_VPN_CIDRS_MAX];
	unsigned n_reach;
	struct net_cidr reach[NET_VPN_CIDRS_MAX];
	long long expires; /* unix seconds; 0 = never */
	/* Site to site: networks behind the peer (an office router). They are
	 * added to its AllowedIPs, routed into the tunnel in the firewall
	 * namespace, and the tenant's networks may send to them (no NAT). */
	unsigned n_routes;
	struct net_cidr routes[NET_VPN_CIDRS_MAX];
	uint32_t endpoint;       /* where to send first (0 = wait for the peer) */
	uint16_t endpoint_port;
	/* An optional preshared key (mixed into the handshake): a secret like
	 * the gateway's private key. */
	int has_psk;
	uint8_t psk[NET_VPN_KEY_LEN];
};

/* The gateway: on when enabled. The private key is a secret: it goes only
 * to the gateway's UAPI socket and the agent's own 0600 state file. */
struct net_vpn {
	int enabled;
	uint16_t listen_port; /* UDP, on the tenant's external address */
	uint8_t private_key[NET_VPN_KEY_LEN];
	struct net_cidr address; /* the gateway's tunnel address and prefix */
	unsigned mtu;            /* of the interface; 0 = 1420 */
	unsigned n_peers;
	struct net_vpn_peer *peers; /* owned */
};

struct net_tenant {
	char tenant[NET_TENANT_MAX + 1];
	char hash[11]; /* 10 hex digits naming its external port */
	enum net_fw_mode mode;
	unsigned n_networks;
	struct net_network networks[NET_NETWORKS_MAX];
	/* The tenant's own external address (source NAT for everything not
	 * mapped 1:1) and the external network's prefix; 0 = no external
	 * address yet (outbound traffic is then dropped). */
	uint32_t ext_address;
	unsigned ext_prefix;
	uint32_t ext_gateway; /* default route, 0 = none */
	unsigned n_addresses;
	struct net_address addresses[NET_ADDRESSES_MAX];
	unsigned n_forwards;
	struct net_forward forwards[NET_FORWARDS_MAX];
	unsigned n_rules;
	struct net_rule *rules; /* owned, n_rules entries, sorted by priority */
	enum net_role role;
	unsigned n_remote;
	struct net_remote_port *remote; /* owned, n_remote entries */
	/* Intrusion detection on every network of the tenant (appliance/ids.h):
	 * on unless "ids": {"enabled": false}; custom_rules is the tenant's
	 * own rule text (Suricata syntax, checked by the sensor, not here). */
	int ids_off;
	char *ids_rules; /* owned, NULL = none */
	json_t *ids_suppress; /* owned, NULL = none (idssup.h) */
	struct net_vpn vpn;
	/* VM-to-VM channels (docs/networks.md, "VM to VM"): the tenant's
	 * WireGuard interface in this host's underlay namespace. Each peer is
	 * another host of the tenant: endpoint its underlay address (port
	 * listen_port, the same on every host), allowed its underlay /32,
	 * routes[0] its tunnel /32. The VXLAN to such a host is sent to its
	 * tunnel address, so it travels encrypted (netstate_vxlan_dst). */
	struct net_vpn vmvm;
};

/* Validates a tenant key: 1..32 of [a-z0-9-], not starting with '-'. */
int netstate_check_key(const char *s, size_t max, char *err, size_t errlen);

/* Strict dotted quad, optionally with /prefix. want_prefix: 1 required, 0
 * forbidden. Host bits must be zero when network is set. */
int netstate_parse_cidr(const char *s, int want_prefix, int network, struct net_cidr *out);

/* Parse and validate a whole net.apply request. On error nothing is left
 * allocated and err says which field is wrong. */
int netstate_parse(const json_t *j, struct net_tenant *out, char *err, size_t errlen);
void netstate_free(struct net_tenant *t);

/* The request form again (persisted by the agent, replayed at start). It
 * holds the VPN's private key: only for the agent's own 0600 file; a view
 * goes through netstate_redact first. */
json_t *netstate_to_json(const struct net_tenant *t);

/* Remove vpn.private_key and the peers' preshared_key from a
 * netstate_to_json object (a view). */
void netstate_redact(json_t *j);

/* Standard base64 of a 32-byte key (44 characters, one '=') and back: 0
 * or -EINVAL (also for a non-canonical encoding). */
int netstate_key_decode(const char *s, uint8_t out[NET_VPN_KEY_LEN]);
void netstate_key_encode(const uint8_t key[NET_VPN_KEY_LEN], char out[45]);

/* Where the VXLAN sends to the peer host with underlay address peer: its
 * tunnel address when a vm-vm channel pairs this host with it, else peer. */
uint32_t netstate_vxlan_dst(const struct net_tenant *t, uint32_t peer);

/* Is the peer cut off at now (unix seconds)? */
int netstate_vpn_expired(const struct net_vpn_peer *p, long long now);

/* Helpers for generated text. */
void netstate_ip(uint32_t a, char *out, size_t len);
int netstate_in(const struct net_cidr *c, uint32_t a);
const char *netstate_proto_name(enum net_proto p);

/* Stable short name from a key: 10 hex digits of a hash. */
void netstate_hash(const char *key, char out[11]);

#endif
