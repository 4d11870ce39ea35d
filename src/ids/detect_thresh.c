/*
 * detect_thresh.c - threshold and detection_filter counters
 * (detect_thresh.h).
 */
#include <stdlib.h>
#include <string.h>

#include "detect_thresh.h"

#define TH_CAP 16384
#define TH_PROBE 16

struct th_entry {
	uint32_t sid, gid, a, b;
	uint8_t used, kind;
	uint64_t start_s;
	uint32_t count;
};

struct det_thresh {
	struct th_entry e[TH_CAP];
};

struct det_thresh *
det_thresh_new(void)
{
	return calloc(1, sizeof(struct det_thresh));
}

void
det_thresh_free(struct det_thresh *t)
{
	free(t);
}

int
det_thresh_ok(struct det_thresh *th, const struct threshold *t, const struct rule *r,
	      uint32_t src, uint32_t dst, uint64_t ts_us)
{
	uint32_t a = 0, b = 0;
	uint64_t now = ts_us / 1000000, h;
	struct th_entry *e = NULL, *oldest = NULL;

	if (!th)
		return 1;
	switch (t->track) {
	case TRACK_SRC: a = src; break;
	case TRACK_DST: a = dst; break;
	case TRACK_BOTH: a = src; b = dst; break;
	default: break;
	}
	h = ((uint64_t)r->sid * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)a * 0xc2b2ae3d27d4eb4full) ^
	    ((uint64_t)b << 17) ^ t->type;
	for (int i = 0; i < TH_PROBE; i++) {
		struct th_entry *x = &th->e[(h + (uint64_t)i) % TH_CAP];

		if (x->used && x->sid == r->sid && x->gid == r->gid && x->a == a && x->b == b &&
		    x->kind == t->type) {
			e = x;
			break;
		}
		if (!x->used) {
			if (!oldest || oldest->used)
				oldest = x;
		} else if (!oldest || (oldest->used && x->start_s < oldest->start_s)) {
			oldest = x;
		}
	}
	if (!e) {
		e = oldest;
		memset(e, 0, sizeof(*e));
		e->used = 1;
		e->sid = r->sid;
		e->gid = r->gid;
		e->a = a;
		e->b = b;
		e->kind = t->type;
		e->start_s = now;
	}
	if (now >= e->start_s + t->seconds) {
		e->start_s = now;
		e->count = 0;
	}
	e->count++;
	switch (t->type) {
	case TH_LIMIT: return e->count <= t->count;
	case TH_THRESHOLD:
		if (e->count >= t->count) {
			e->count = 0;
			return 1;
		}
		return 0;
	case TH_BOTH: return e->count == t->count;
	case TH_DETECTION_FILTER: return e->count > t->count;
	}
	return 1;
}
