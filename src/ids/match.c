/*
 * match.c - a rule's matches on one buffer (match.h).
 */
#define _GNU_SOURCE
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"

struct match_stats match_stats;

static pcre2_match_context *mctx;
static pcre2_match_data *mdata;

static int
pcre_init(void)
{
	if (mdata)
		return 0;
	mctx = pcre2_match_context_create(NULL);
	mdata = pcre2_match_data_create(16, NULL);
	if (!mctx || !mdata)
		return -1;
	pcre2_set_match_limit(mctx, MATCH_PCRE_LIMIT);
	pcre2_set_depth_limit(mctx, MATCH_PCRE_DEPTH);
	pcre2_set_heap_limit(mctx, 4096); /* KiB */
	return 0;
}

long
match_find(const uint8_t *p, size_t len, const uint8_t *pat, size_t plen, int nocase)
{
	size_t i;

	if (plen == 0 || plen > len)
		return -1;
	if (!nocase) {
		const uint8_t *q = memmem(p, len, pat, plen);

		return q ? (long)(q - p) : -1;
	}
	for (i = 0; i + plen <= len; i++) {
		size_t k;

		if ((uint8_t)tolower(p[i]) != pat[0])
			continue;
		for (k = 1; k < plen; k++)
			if ((uint8_t)tolower(p[i + k]) != pat[k])
				break;
		if (k == plen)
			return (long)i;
	}
	return -1;
}

static int
extract(const struct sm *m, const uint8_t *p, size_t len, long at, uint64_t *out)
{
	uint64_t v = 0;

	if (at < 0 || (size_t)at + m->u.b.bytes > len)
		return -1;
	p += at;
	if (m->u.b.base) {
		char tmp[24];
		char *end;

		if (m->u.b.bytes >= sizeof(tmp))
			return -1;
		memcpy(tmp, p, m->u.b.bytes);
		tmp[m->u.b.bytes] = '\0';
		if (!isxdigit((unsigned char)tmp[0]))
			return -1;
		v = strtoull(tmp, &end, m->u.b.base);
		if (end == tmp)
			return -1;
	} else if (m->u.b.little) {
		for (int i = m->u.b.bytes - 1; i >= 0; i--)
			v = v << 8 | p[i];
	} else {
		for (int i = 0; i < m->u.b.bytes; i++)
			v = v << 8 | p[i];
	}
	if (m->u.b.bitmask) {
		v &= m->u.b.bitmask;
		v >>= __builtin_ctzll(m->u.b.bitmask);
	}
	*out = v;
	return 0;
}

static int
byte_test(const struct sm *m, const struct match_in *in, size_t prev)
{
	uint64_t v, x = m->u.b.value;
	long at = (m->flags & SM_RELATIVE) ? (long)prev + m->u.b.offset
					    : (long)m->u.b.offset - (long)in->base;
	int ok;

	if (extract(m, in->p, in->len, at, &v) < 0)
		return 0;
	switch (m->u.b.op) {
	case BT_LT: ok = v < x; break;
	case BT_GT: ok = v > x; break;
	case BT_EQ: ok = v == x; break;
	case BT_AND: ok = (v & x) != 0; break;
	case BT_OR: ok = (v ^ x) != 0; break;
	case BT_LE: ok = v <= x; break;
	case BT_GE: ok = v >= x; break;
	default: ok = 0;
	}
	return m->u.b.neg ? !ok : ok;
}

/* The new position after a byte_jump, or -1. */
static long
byte_jump(const struct sm *m, const struct match_in *in, size_t prev)
{
	uint64_t v;
	long at = (m->flags & SM_RELATIVE) ? (long)prev + m->u.b.offset
					    : (long)m->u.b.offset - (long)in->base;
	long pos;

	if (extract(m, in->p, in->len, at, &v) < 0 || v > (1u << 30))
		return -1;
	v *= m->u.b.multiplier;
	if (m->u.b.align && (v & 3))
		v += 4 - (v & 3);
	if (m->u.b.from_begin)
		pos = 0;
	else if (m->u.b.from_end)
		pos = (long)in->len;
	else
		pos = at + m->u.b.bytes;
	pos += (long)v + m->u.b.post_offset;
	if (pos < 0 || (size_t)pos > in->len)
		return -1;
	return pos;
}

/* 1 and *end when re matches; 0 otherwise. */
static int
pcre_run(const struct sm *m, const struct match_in *in, size_t prev, size_t *end)
{
	size_t start = (m->flags & SM_RELATIVE) ? prev : 0;
	int rc;

	if (pcre_init() < 0 || start > in->len)
		return 0;
	rc = pcre2_match(m->u.p.re, in->p + start, in->len - start, 0, 0, mdata, mctx);
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	    rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT) {
		match_stats.pcre_limit++;
		return 0;
	}
	if (rc < 0)
		return 0;
	*end = start + pcre2_get_ovector_pointer(mdata)[1];
	return 1;
}

static int
step(const struct sm *sm, int n, int i, const struct match_in *in, size_t prev, long max_end,
     int *budget)
{
	const struct sm *m;

	if (i == n)
		return in->min_end == 0 || max_end < 0 || (size_t)max_end > in->min_end;
	m = &sm[i];
	switch (m->type) {
	case SM_CONTENT: {
		long start, end, len = (long)in->len, plen = m->u.c.len;

		if (m->flags & SM_RELATIVE) {
			start = (long)prev + m->u.c.distance;
			end = (m->flags & SM_WITHIN) ? (long)prev + m->u.c.distance + m->u.c.within
						     : len;
		} else {
			start = (long)m->u.c.offset - (long)in->base;
			end = (m->flags & SM_DEPTH) ? (long)m->u.c.offset + m->u.c.depth - (long)in->base
						    : len;
		}
		if (start < 0)
			start = 0;
		if (end > len)
			end = len;
		if (m->flags & SM_ENDSWITH) {
			if (len - plen < start || len > end)
				start = end; /* no room */
			else
				start = len - plen;
		}
		if (m->flags & SM_NEG) {
			long pos = end - start >= plen ? match_find(in->p + start, (size_t)(end - start),
								    m->u.c.pat, (size_t)plen,
								    m->flags & SM_NOCASE)
						       : -1;

			if (m->flags & SM_ENDSWITH)
				pos = end - start >= plen &&
						      memcmp(in->p + start, m->u.c.pat, (size_t)plen) == 0
					      ? 0
					      : -1;
			if (pos >= 0)
				return 0;
			return step(sm, n, i + 1, in, prev, max_end, budget);
		}
		while (end - start >= plen) {
			long pos = match_find(in->p + start, (size_t)(end - start), m->u.c.pat,
					      (size_t)plen, m->flags & SM_NOCASE);
			long e;

			if (pos < 0)
				return 0;
			if (--*budget <= 0) {
				match_stats.budget++;
				return 0;
			}
			pos += start;
			e = pos + plen;
			if (step(sm, n, i + 1, in, (size_t)e, e > max_end ? e : max_end, budget))
				return 1;
			if (m->flags & SM_ENDSWITH)
				return 0;
			start = pos + 1;
		}
		return 0;
	}
	case SM_PCRE: {
		size_t e = 0;
		int ok = pcre_run(m, in, prev, &e);

		if (m->flags & SM_NEG)
			return ok ? 0 : step(sm, n, i + 1, in, prev, max_end, budget);
		if (!ok)
			return 0;
		return step(sm, n, i + 1, in, e, (long)e > max_end ? (long)e : max_end, budget);
	}
	case SM_BYTE_TEST:
		return byte_test(m, in, prev) && step(sm, n, i + 1, in, prev, max_end, budget);
	case SM_BYTE_JUMP: {
		long pos = byte_jump(m, in, prev);

		return pos >= 0 && step(sm, n, i + 1, in, (size_t)pos, max_end, budget);
	}
	case SM_ISDATAAT: {
		/* relative: N more bytes after the previous match; absolute: a
		 * byte at offset N (Suricata's reading of both) */
		int ok = (m->flags & SM_RELATIVE)
				 ? (long)prev + m->u.d.pos <= (long)in->len
				 : (long)m->u.d.pos - (long)in->base < (long)in->len;

		if (m->flags & SM_NEG)
			ok = !ok;
		return ok && step(sm, n, i + 1, in, prev, max_end, budget);
	}
	case SM_BSIZE:
		return urange_match(&m->u.bs, in->base + in->len) &&
		       step(sm, n, i + 1, in, prev, max_end, budget);
	}
	return 0;
}

int
match_buf(const struct rule_buf *rb, const struct match_in *in)
{
	int budget = MATCH_BUDGET;

	return step(rb->sm, rb->n, 0, in, 0, -1, &budget);
}
