/*
 * detect_aidx.h - interval indexes of rules by one side of their header
 * (source or destination addresses, source or destination ports), for the
 * rules without a fast pattern (detect_build.c chooses which rules and
 * which side; detect.c looks an event's addresses and ports up).
 *
 * The sides' ranges cut the number line into segments; each segment
 * lists the rules whose side covers it (CSR: one array of rule indexes,
 * an offset per segment). Read-only once built.
 */
#ifndef CLOUDLET_IDS_DETECT_AIDX_H
#define CLOUDLET_IDS_DETECT_AIDX_H

#include <stdint.h>

#include "rule.h"

struct aidx {
	uint32_t *bound; /* segment i is [bound[i], bound[i+1]) */
	uint32_t nseg;
	uint32_t *off;   /* rules of segment i: rules[off[i] .. off[i+1]) */
	uint32_t *rules;
};

/* Index the rules idx[0..n) of rules by one side: 0 source, 1 destination
 * address, 2 source, 3 destination port. x starts zeroed; on failure
 * (-ENOMEM) what was built is left for aidx_free. */
int aidx_build(struct aidx *x, struct rule *const *rules, const uint32_t *idx, uint32_t n,
	       int which);
/* The segment holding v, or -1. */
long aidx_find(const struct aidx *x, uint32_t v);
void aidx_free(struct aidx *x);

#endif
