/*
 * detect.h - the detection engine: the evaluation of one event (a packet,
 * new stream data, an HTTP request or response, a DNS query, a TLS
 * ClientHello) against a rule set's groups and their Hyperscan databases,
 * built once per rule set (detect_build.h).
 *
 * For an event, each buffer of its group that has a database is scanned;
 * the rules whose fast pattern was seen, plus the group's rules without a
 * content, are the candidates, fully evaluated in rule-set order: header,
 * flow, packet keywords, every buffer's matches, flowbits, then
 * threshold/detection_filter. Matching rules go to the caller's alert
 * callback. Single-threaded (the candidate list is the rule set's).
 */
#ifndef CLOUDLET_IDS_DETECT_H
#define CLOUDLET_IDS_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "detect_build.h" /* enum det_group */
#include "rule.h"

struct ruleset;
struct det_thresh; /* detect_thresh.h */

enum app_proto { APP_NONE, APP_HTTP, APP_DNS, APP_TLS, APP_DHCP, APP_FAILED };

/* One event, as seen in the direction of the data inspected. */
struct det_pkt {
	uint32_t src, dst; /* host order */
	uint16_t sp, dp;
	uint8_t ipproto;   /* 6, 17, 1, ... */
	uint8_t tcp_flags, icmp_type, icmp_code;
	uint8_t to_server, established, has_flow, stream; /* stream: payload is reassembled */
	uint8_t app;       /* enum app_proto of the flow */
	uint32_t dsize;    /* this packet's payload length */
	uint64_t ts_us;
	/* The payload buffer (packet or stream window). */
	const uint8_t *payload;
	size_t plen;
	uint64_t pbase;
	size_t pmin_end;
	/* App-layer buffers: 0 and the buffer, or -1 when this event has none. */
	int (*getbuf)(void *arg, int buf, int stage, const uint8_t **p, size_t *len);
	void *bufarg;
	/* The network's home set, for rules parsed with $HOME_NET left open. */
	const struct addrset *home;
	/* 0: detect_run finds the event's address class from home; else
	 * DET_HCLASS_KNOWN | bit 0 the source is home | bit 1 the destination
	 * is (a flow's, found once per flow) */
	uint8_t hclass;
	/* The flow's flowbits (NULL without a flow). */
	uint8_t *fbits;
	size_t fbits_n; /* bits */
};

#define DET_HCLASS_KNOWN 0x80

typedef void (*det_alert_fn)(void *arg, const struct rule *r, const struct det_pkt *p);

/* Evaluate one event against rs's tables (rs->det), counting threshold
 * and detection_filter matches in th (one table per tenant network:
 * detect_thresh.h; NULL: no limit). Returns the number of alerts given to
 * fn. */
int detect_run(struct ruleset *rs, struct det_thresh *th, int group, struct det_pkt *p,
	       det_alert_fn fn, void *arg);

/* The group for a packet of this IP protocol. */
int detect_pkt_group(uint8_t ipproto);

#endif
