/*
 * gate.h - what stands between a match and its EVE record, per tenant
 * network: the tenant's suppressions (a sid, or a sid with a source or
 * destination address or network, each with an optional expiry) and a
 * per-rule rate limit (a token bucket: rate per second, burst), so one
 * noisy rule cannot flood the log. What is held back is counted, per rule,
 * and reported with the rule's next alert and in the stats records.
 */
#ifndef CLOUDLET_IDS_GATE_H
#define CLOUDLET_IDS_GATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define GATE_SUPPRESS_MAX 1024
#define GATE_RL_CAP 4096

enum gate_track { GATE_ANY, GATE_SRC, GATE_DST };
enum gate_verdict { GATE_PASS, GATE_SUPPRESSED, GATE_RATE_LIMITED };

struct gate_sup {
	uint32_t gid, sid;
	uint8_t track;
	struct range32 ip;
	uint64_t expires_s; /* 0: never */
};

struct gate_rl {
	uint32_t gid, sid;
	uint8_t used;
	double tokens;
	uint64_t last_us;
	uint64_t held, held_total;
};

struct gate {
	struct gate_sup sup[GATE_SUPPRESS_MAX];
	int nsup;
	double rate, burst; /* rate 0: no limit */
	struct gate_rl *rl; /* GATE_RL_CAP, allocated on first use */
	uint64_t suppressed, rate_limited;
};

/* The suppression list from JSON: [{"sid":N,"gid":N,"track":"by_src"|"by_dst",
 * "ip":"cidr","expires":unix_seconds}]. Replaces the current list. */
int gate_set_suppress(struct gate *g, const json_t *list, char *err, size_t errlen);
json_t *gate_suppress_json(const struct gate *g);

/* Verdict for one alert; on GATE_PASS *held_before is the number of this
 * rule's alerts held back since its previous one. now_wall_s: for expiry. */
int gate_check(struct gate *g, uint32_t gid, uint32_t sid, uint32_t src, uint32_t dst,
	       uint64_t now_us, uint64_t now_wall_s, uint64_t *held_before);

/* [{"gid":..,"sid":..,"rate_limited":n}] of rules that were held back. */
json_t *gate_stats(const struct gate *g);
void gate_free(struct gate *g);

#endif
