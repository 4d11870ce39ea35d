/*
 * match.h - full evaluation of one rule's matches on one buffer: contents
 * with their positions (offset/depth absolute, distance/within relative to
 * the previous match, backtracking over earlier occurrences when a later
 * match fails), pcre, byte_test, byte_jump, isdataat and bsize.
 *
 * Work is bounded: MATCH_BUDGET content occurrences per evaluation, and
 * PCRE2 runs with a match limit and a depth limit (a catastrophic pattern
 * costs at most that, is counted in match_stats and does not match).
 * Single-threaded (one PCRE2 match context and match data).
 */
#ifndef CLOUDLET_IDS_MATCH_H
#define CLOUDLET_IDS_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "rule.h"

#define MATCH_BUDGET 3000
#define MATCH_PCRE_LIMIT 10000
#define MATCH_PCRE_DEPTH 1500

struct match_in {
	const uint8_t *p;
	size_t len;
	uint64_t base;  /* stream offset of p[0]: absolute positions are base-relative */
	size_t min_end; /* a positive match must end after this (the already-inspected part) */
};

struct match_stats {
	uint64_t pcre_limit; /* evaluations stopped by the PCRE2 limits */
	uint64_t budget;     /* evaluations stopped by MATCH_BUDGET */
	uint64_t events;     /* detect_run calls that scanned something */
	uint64_t candidates; /* rules fully evaluated */
};

extern struct match_stats match_stats;

/* 1 if every match in rb holds on in, else 0. */
int match_buf(const struct rule_buf *rb, const struct match_in *in);

/* Find pat (lowercase if nocase) in p[0..len): index or -1. */
long match_find(const uint8_t *p, size_t len, const uint8_t *pat, size_t plen, int nocase);

#endif
