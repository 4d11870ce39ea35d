/*
 * flow.h - the flow table: one entry per capture interface and 5-tuple
 * (so two tenants with the same addresses never share a flow), with idle
 * timeouts by state and each flow charged to its tenant network's memcap.
 *
 * The client is the side that sent the first packet (or, when the first
 * packet seen is a SYN-ACK, the side it was sent to). Flows are kept in
 * least-recently-used order; flow_expire() ends the idle ones from the old
 * end, calling the owner's end function (which frees the app-layer state).
 */
#ifndef CLOUDLET_IDS_FLOW_H
#define CLOUDLET_IDS_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"

#define FLOW_BUCKETS (1u << 16)
#define FLOW_TIMEOUT_NEW 30
#define FLOW_TIMEOUT_EST 600
#define FLOW_TIMEOUT_CLOSED 10
#define FLOW_TIMEOUT_UDP 60
#define FLOW_TIMEOUT_OTHER 30

enum tcp_state { TCP_NONE, TCP_SYN_SENT, TCP_SYN_RECV, TCP_EST, TCP_CLOSING, TCP_CLOSED };

struct http_state;

struct flow {
	struct flow *hnext, *prev, *next;
	uint32_t ifid;
	uint32_t cli, srv;
	uint16_t cport, sport;
	uint8_t proto, state, app, established;
	uint8_t seen[2], fin[2];
	uint64_t id;
	uint64_t first_us, last_us;
	uint64_t pkts[2], bytes[2];
	struct memcap *mem; /* the tenant network's */
	void *owner;        /* the tenant network */
	struct stream st[2];
	struct http_state *http;
	uint8_t *tls;       /* the client's first bytes, until the SNI is read */
	size_t tlslen, tlscap; /* tlscap: bytes of tls (charged to the memcap) */
	uint8_t tls_done, dns_seen;
	uint8_t home_bits;  /* bit 0: cli in the network's home set, bit 1: srv */
	uint32_t home_gen;  /* the net's home_gen home_bits were found for (0: none) */
	uint8_t *fbits;
	size_t fbits_n;
};

struct flow_table {
	struct flow **b;
	struct flow *head, *tail; /* LRU: head is the oldest */
	size_t count;
	uint64_t next_id, seed;
	void (*end)(void *arg, struct flow *f);
	void *arg;
};

int flow_table_init(struct flow_table *t, void (*end)(void *, struct flow *), void *arg);
/* Ends every flow (calls end) and frees the table. */
void flow_table_free(struct flow_table *t);

/*
 * The flow of a packet; *to_server tells the direction. create: make one
 * if there is none (charged to mem: NULL when refused). syn_ack: the packet
 * is a SYN-ACK (its destination is the client).
 */
struct flow *flow_get(struct flow_table *t, uint32_t ifid, uint8_t proto, uint32_t src,
		      uint16_t sp, uint32_t dst, uint16_t dp, int syn_ack, struct memcap *mem,
		      void *owner, uint64_t now_us, int *to_server);
void flow_touch(struct flow_table *t, struct flow *f, uint64_t now_us);
/* End flows idle past their timeout (at most max of them). */
size_t flow_expire(struct flow_table *t, uint64_t now_us, size_t max);
/* End one flow now (a closed connection whose ports are used again). */
void flow_end(struct flow_table *t, struct flow *f);
/* End every flow of an owner (a network being removed). */
void flow_drop_owner(struct flow_table *t, void *owner);

#endif
