/*
 * detect_thresh.h - the counters of `threshold` and `detection_filter`
 * (docs/ids.md, Rules): one fixed table per tenant network, keyed by the
 * rule and the tracked addresses, so a flood of distinct sources costs
 * no memory (the oldest entry of a few probed is reused).
 *
 * Single-threaded: the inspecting thread's.
 */
#ifndef CLOUDLET_IDS_DETECT_THRESH_H
#define CLOUDLET_IDS_DETECT_THRESH_H

#include <stdint.h>

#include "rule.h"

struct det_thresh;

/* NULL when out of memory. */
struct det_thresh *det_thresh_new(void);
void det_thresh_free(struct det_thresh *t);

/* Count one match of rule r with threshold t, by an event from src to dst
 * (host order) at ts_us: 1 if it may alert. A NULL table lets it. */
int det_thresh_ok(struct det_thresh *th, const struct threshold *t, const struct rule *r,
		  uint32_t src, uint32_t dst, uint64_t ts_us);

#endif
