/*
 * detect_build.h - the detection tables of a rule set, built once when it
 * is loaded (detect_build.c) and read for each event (detect.c): the rules
 * grouped by stage and IP protocol, each group's fast patterns compiled
 * into Hyperscan databases (mpm.h) split by address class, buffer,
 * direction, port bucket, depth and flowbits, and the rules without a fast
 * pattern, in interval indexes (detect_aidx.h) or always evaluated.
 *
 * Built on the builder thread (build.h); afterwards the tables are read
 * only, except the candidate list (cand, stamp, gen), which the
 * inspecting thread's detect_run rewrites for each event.
 */
#ifndef CLOUDLET_IDS_DETECT_BUILD_H
#define CLOUDLET_IDS_DETECT_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "detect_aidx.h"

struct ruleset;
struct mpm_db;

/* The groups an event is matched against (detect_run's group). */
enum det_group {
	SG_PKT_TCP,
	SG_PKT_UDP,
	SG_PKT_ICMP,
	SG_PKT_OTHER,
	SG_HTTP_REQ,
	SG_HTTP_RESP,
	SG_DNS,
	SG_TLS,
	SG__N
};

/*
 * Address classes of an event: bit 0 the source is in the network's home
 * set, bit 1 the destination is. A group's databases come once per class
 * and hold only the rules whose header can match such an event
 * ("$HOME_NET -> $EXTERNAL_NET" is not looked for in traffic between two
 * home addresses), as Suricata's signature groups by address do. Identical
 * pattern lists share one database (mpm.c's cache).
 */
#define HCLASS_N 4

/*
 * Port groups (Suricata groups signatures by port too): in the TCP and UDP
 * packet groups, payload rules whose destination (else source) ports are
 * a few go to databases by port bucket (port % PORT_BUCKETS), scanned only
 * for events whose destination (source) port falls in that bucket; a rule
 * for "-> $HOME_NET 445" is not looked for in a web session's stream. The
 * rest (any port, wide port sets, <>) are in a database for every port.
 */
#define PORT_BUCKETS 16

/* One Hyperscan database and the rules behind each of its patterns. */
struct mgroup {
	uint8_t buf;
	uint8_t dir;     /* 0: any data; 1: to the server only; 2: to the client only */
	uint32_t bound;  /* 0, or no fast pattern here can end beyond this offset */
	uint32_t minlen; /* the shortest pattern: shorter buffers are not scanned */
	uint8_t needbits; /* every rule here tests flowbits:isset */
	uint8_t pkind;    /* 0: every port; 1: destination port bucket pbucket; 2: source */
	uint8_t pbucket;
	struct mpm_db *db;
	uint32_t npat;
	uint32_t *off;   /* npat + 1 */
	uint32_t *rules; /* rule indexes of pattern i: rules[off[i] .. off[i+1]) */
};

struct sgroup {
	struct mgroup *mg; /* by address class: mg[cfirst[c] .. cfirst[c + 1]) */
	int nmg;
	int cfirst[HCLASS_N + 1];
	uint8_t has_aidx; /* any rule in by_src .. by_dp */
	uint8_t has_needbits; /* any mgroup with needbits */
	uint32_t *always; /* rules without a fast pattern or an address index */
	uint32_t nalways;
	struct aidx by_src, by_dst, by_sp, by_dp;
};

struct detect {
	struct sgroup sg[SG__N];
	uint32_t nrules;
	/* Candidates of the current event: a list, and per rule the event
	 * number that last added it (no bitmap to clear for each event). */
	uint32_t *cand, ncand;
	uint32_t *stamp, gen;
	uint8_t *setter; /* per rule: sets or toggles a flowbit */
};

/* Build rs's tables into *out (the caller's, for detect_free): 0, or
 * -errno and *out NULL (err says why when a database did not compile).
 * Reads rs's rules and variables only. */
int detect_build(struct ruleset *rs, struct detect **out, char *err, size_t errlen);
void detect_free(struct detect *d);
/* Bytes of Hyperscan databases this rule set refers to. */
size_t detect_db_bytes(const struct detect *d);

#endif
