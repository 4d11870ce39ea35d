/*
 * detect_build.c - a rule set's detection tables (detect_build.h): the
 * rules of each group, their fast patterns sorted into Hyperscan
 * databases, the rest into address and port indexes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "detect_build.h"
#include "mpm.h"
#include "ruleset.h"

/*
 * Fast patterns with an absolute depth (content:"x"; depth:400) can only
 * end before offset + depth of their buffer (of the TCP stream, for the
 * payload): they go to a database of their own, scanned on that prefix
 * only, so a long stream is not scanned for them past its start.
 */
#define BOUND_SMALL 2048 /* tier 1: bound <= this; tier 2: any other bound */

/*
 * Rules that test flowbits:isset can only match in a flow with a bit set,
 * by an earlier event or by a setter that runs before them in this one:
 * their fast patterns go to databases of their own ("needbits"), scanned
 * after the others, and only then. Common traffic sets no bits, so a
 * rule set's many "isset" checkers cost nothing there.
 */
#define NTIERS 6 /* bound tier (3) x needbits (2) */

/* Port groups (detect_build.h) */
#define PORT_NARROW 64       /* ports in a set still grouped */
#define PORT_MAX_BUCKETS 4   /* buckets a rule's ports may fall in */
#define PKEY_DP 0x10000u     /* port key: grouped by destination port, mask of buckets */
#define PKEY_SP 0x20000u     /* grouped by source port */
#define NPGROUPS (1 + 2 * PORT_BUCKETS)

static int
rule_in_group(const struct rule *r, int g)
{
	switch (r->stage) {
	case STAGE_HTTP_REQ: return g == SG_HTTP_REQ;
	case STAGE_HTTP_RESP: return g == SG_HTTP_RESP;
	case STAGE_DNS: return g == SG_DNS;
	case STAGE_TLS: return g == SG_TLS;
	default: break;
	}
	switch (r->proto) {
	case PROTO_IP: return g <= SG_PKT_OTHER;
	case PROTO_TCP: case PROTO_HTTP: case PROTO_TLS: return g == SG_PKT_TCP;
	case PROTO_UDP: return g == SG_PKT_UDP;
	case PROTO_DNS: return g == SG_PKT_UDP || g == SG_PKT_TCP;
	case PROTO_ICMP: return g == SG_PKT_ICMP;
	}
	return 0;
}

struct fpref {
	const struct sm *c;
	uint32_t rule;
};

static int
cmp_fp(const void *a, const void *b)
{
	const struct sm *x = ((const struct fpref *)a)->c, *y = ((const struct fpref *)b)->c;
	uint32_t rx = ((const struct fpref *)a)->rule, ry = ((const struct fpref *)b)->rule;
	int d;

	if (x->u.c.len != y->u.c.len)
		return x->u.c.len < y->u.c.len ? -1 : 1;
	if ((x->flags & SM_NOCASE) != (y->flags & SM_NOCASE))
		return (x->flags & SM_NOCASE) ? 1 : -1;
	d = memcmp(x->u.c.pat, y->u.c.pat, x->u.c.len);
	if (d)
		return d;
	return rx < ry ? -1 : rx > ry;
}

static int
same_pat(const struct sm *x, const struct sm *y)
{
	return x->u.c.len == y->u.c.len && (x->flags & SM_NOCASE) == (y->flags & SM_NOCASE) &&
	       memcmp(x->u.c.pat, y->u.c.pat, x->u.c.len) == 0;
}

static int
build_mgroup(struct mgroup *mg, struct fpref *refs, size_t n, char *err, size_t errlen)
{
	struct mpm_pat *pats;
	uint32_t np = 0;
	int r;

	qsort(refs, n, sizeof(*refs), cmp_fp);
	pats = calloc(n, sizeof(*pats));
	mg->off = calloc(n + 1, sizeof(*mg->off));
	mg->rules = calloc(n, sizeof(*mg->rules));
	if (!pats || !mg->off || !mg->rules) {
		free(pats);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || !same_pat(refs[i].c, refs[i - 1].c)) {
			pats[np].p = refs[i].c->u.c.pat;
			pats[np].len = refs[i].c->u.c.len;
			pats[np].nocase = (refs[i].c->flags & SM_NOCASE) != 0;
			mg->off[np] = (uint32_t)i;
			np++;
		}
		mg->rules[i] = refs[i].rule;
	}
	mg->off[np] = (uint32_t)n;
	mg->npat = np;
	mg->minlen = np ? pats[0].len : 0; /* sorted by length */
	r = mpm_db_get(pats, np, &mg->db, err, errlen);
	free(pats);
	return r;
}

/*
 * Rules without a fast pattern (IP reputation lists, flags-only rules...)
 * would be candidates for every event. Those whose source (or else
 * destination) addresses are a narrow set are found through an index of
 * address intervals instead: the event's address picks the few that can
 * match. The rest stay in the "always" list.
 */
#define AIDX_NARROW (1ull << 28) /* addresses in a set still indexed */
#define AIDX_SPAN 4096           /* segments one interval may cover */

static uint64_t
set_size(const struct addrset *a)
{
	uint64_t n = 0;

	if (a->any || a->home)
		return 1ull << 32; /* home is a network's: not indexable */
	for (int i = 0; i < a->n; i++)
		n += (uint64_t)a->r[i].hi - a->r[i].lo + 1;
	return n;
}

/* Does a overlap b? */
static int
overlaps(const struct addrset *a, const struct addrset *b)
{
	if (a->home)
		return 1;
	if (a->any || b->any)
		return a->n && b->n;
	for (int i = 0; i < a->n; i++)
		for (int k = 0; k < b->n; k++)
			if (a->r[i].lo <= b->r[k].hi && b->r[k].lo <= a->r[i].hi)
				return 1;
	return 0;
}

/*
 * Split a group's "always" rules into the address indexes and the rest.
 * The side indexed is a narrow one that does not overlap $HOME_NET if
 * there is one (home addresses are in nearly every packet, so indexing
 * "$HOME_NET -> [C2]" by its source would find it for every packet).
 */
static int
split_always(struct sgroup *sg, struct rule *const *rules, const struct addrset *home)
{
	uint32_t *b[4];
	uint32_t nb[4] = {0}, nr = 0;
	int r = 0;

	for (int k = 0; k < 4; k++)
		b[k] = malloc((sg->nalways + 1) * sizeof(*b[k]));
	if (!b[0] || !b[1] || !b[2] || !b[3]) {
		for (int k = 0; k < 4; k++)
			free(b[k]);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < sg->nalways; i++) {
		const struct rule *ru = rules[sg->always[i]];
		uint64_t ss = set_size(&ru->src), ds = set_size(&ru->dst);
		int src_ok = ss <= AIDX_NARROW && ru->src.n <= AIDX_SPAN;
		int dst_ok = ds <= AIDX_NARROW && ru->dst.n <= AIDX_SPAN;
		int src_hot = overlaps(&ru->src, home), dst_hot = overlaps(&ru->dst, home);
		/* ports count only for TCP and UDP rules */
		int ports = ru->proto != PROTO_IP && ru->proto != PROTO_ICMP;
		int dp_ok = ports && !ru->dp.any && set_size(&ru->dp) <= 1024 && ru->dp.n <= 64;
		int sp_ok = ports && !ru->sp.any && set_size(&ru->sp) <= 1024 && ru->sp.n <= 64;
		int k;

		if (ru->bidir)
			k = -1;
		else if (src_ok && !src_hot)
			k = 0;
		else if (dst_ok && !dst_hot)
			k = 1;
		else if (dp_ok)
			k = 3;
		else if (sp_ok)
			k = 2;
		else if (src_ok)
			k = 0;
		else if (dst_ok)
			k = 1;
		else
			k = -1;
		if (k < 0)
			sg->always[nr++] = sg->always[i];
		else
			b[k][nb[k]++] = sg->always[i];
	}
	sg->nalways = nr;
	r = aidx_build(&sg->by_src, rules, b[0], nb[0], 0);
	if (r == 0)
		r = aidx_build(&sg->by_dst, rules, b[1], nb[1], 1);
	if (r == 0)
		r = aidx_build(&sg->by_sp, rules, b[2], nb[2], 2);
	if (r == 0)
		r = aidx_build(&sg->by_dp, rules, b[3], nb[3], 3);
	sg->has_aidx = nb[0] || nb[1] || nb[2] || nb[3];
	for (int k = 0; k < 4; k++)
		free(b[k]);
	return r;
}

/* Can a set hold a home (home = 1) or a non-home (0) address? Only the
 * sets made of $HOME_NET or of $EXTERNAL_NET alone say no. */
static int
side_ok(const struct addrset *a, int home)
{
	if (a->n || a->any)
		return 1;
	if (a->home == ADDR_HOME_IN)
		return home;
	if (a->home == ADDR_HOME_OUT)
		return !home;
	return 1;
}

/* Can the rule's header match an event of address class hc? */
static int
class_ok(const struct rule *r, int hc)
{
	int s = hc & 1, d = hc >> 1 & 1;

	if (side_ok(&r->src, s) && side_ok(&r->dst, d))
		return 1;
	return r->bidir && side_ok(&r->src, d) && side_ok(&r->dst, s);
}

/* The offset of its buffer its fast pattern must end by, or 0 (none). */
static uint32_t
fp_bound(const struct rule *r)
{
	const struct sm *m = &r->bufs[r->fp_buf].sm[r->fp_sm];
	int64_t e;

	if (!(m->flags & SM_DEPTH) || (m->flags & SM_RELATIVE))
		return 0;
	e = (int64_t)m->u.c.offset + m->u.c.depth;
	return e > 0 && e < UINT32_MAX ? (uint32_t)e : 0;
}

static int
fb_has(const struct rule *r, int c1, int c2)
{
	for (int i = 0; i < r->nfb; i++)
		if (r->fb[i].cmd == c1 || r->fb[i].cmd == c2)
			return 1;
	return 0;
}

/* The buckets of a narrow port set (a mask), or 0. */
static uint32_t
port_buckets(const struct addrset *a)
{
	uint32_t mask = 0;
	uint64_t n = 0;

	if (a->any || a->home || a->n == 0)
		return 0;
	for (int i = 0; i < a->n; i++)
		n += (uint64_t)a->r[i].hi - a->r[i].lo + 1;
	if (n > PORT_NARROW)
		return 0;
	for (int i = 0; i < a->n; i++)
		for (uint64_t v = a->r[i].lo; v <= a->r[i].hi; v++)
			mask |= 1u << (v % PORT_BUCKETS);
	return __builtin_popcount(mask) <= PORT_MAX_BUCKETS ? mask : 0;
}

/* A rule's port group key: PKEY_DP or PKEY_SP with its buckets, or 0. */
static uint32_t
port_key(const struct rule *r)
{
	uint32_t m;

	if (r->bidir)
		return 0;
	if ((m = port_buckets(&r->dp)) != 0)
		return PKEY_DP | m;
	if ((m = port_buckets(&r->sp)) != 0)
		return PKEY_SP | m;
	return 0;
}

/* The databases of one group, buffer, direction and address class: one
 * per tier of fast-pattern bound (none, small, other), for rules that
 * need a flowbit set and for the others, and with ports, per port group. */
static int
build_tiers(struct sgroup *sg, const struct ruleset *rs, const uint32_t *list, uint32_t nl, int b,
	    int dir, int hc, const uint32_t *pkey, int ports, struct fpref *refs, char *err,
	    size_t errlen)
{
	for (int t = 0; t < NTIERS * (ports ? NPGROUPS : 1); t++) {
		int tier = t % NTIERS, pg = t / NTIERS;
		uint32_t want = pg == 0 ? 0 : pg <= PORT_BUCKETS ? PKEY_DP : PKEY_SP;
		uint32_t bit = pg == 0 ? 0 : 1u << ((pg - 1) % PORT_BUCKETS);
		size_t n = 0;
		uint32_t maxb = 0;
		int r;

		for (uint32_t li = 0; li < nl; li++) {
			uint32_t i = list[li];
			const struct rule *ru = rs->rules[i];
			uint32_t bd, k = ports ? pkey[i] : 0;

			if ((k & (PKEY_DP | PKEY_SP)) != want || (want && !(k & bit)))
				continue;
			if (!class_ok(ru, hc))
				continue;
			if ((dir == 1 && (ru->flow & FLOW_TO_CLIENT)) ||
			    (dir == 2 && (ru->flow & FLOW_TO_SERVER)))
				continue;
			bd = fp_bound(ru);
			if (tier % 3 != (bd == 0 ? 0 : bd <= BOUND_SMALL ? 1 : 2) ||
			    tier / 3 != fb_has(ru, FB_ISSET, FB_ISSET))
				continue;
			if (bd > maxb)
				maxb = bd;
			refs[n].c = &ru->bufs[ru->fp_buf].sm[ru->fp_sm];
			refs[n].rule = i;
			n++;
		}
		if (n == 0)
			continue;
		sg->mg[sg->nmg].buf = (uint8_t)b;
		sg->mg[sg->nmg].dir = (uint8_t)dir;
		sg->mg[sg->nmg].bound = maxb;
		sg->mg[sg->nmg].needbits = tier / 3 == 1;
		sg->mg[sg->nmg].pkind = (uint8_t)(pg == 0 ? 0 : pg <= PORT_BUCKETS ? 1 : 2);
		sg->mg[sg->nmg].pbucket = (uint8_t)(pg == 0 ? 0 : (pg - 1) % PORT_BUCKETS);
		r = build_mgroup(&sg->mg[sg->nmg], refs, n, err, errlen);
		sg->has_needbits |= sg->mg[sg->nmg].needbits;
		sg->nmg++;
		if (r < 0)
			return r;
	}
	return 0;
}

int
detect_build(struct ruleset *rs, struct detect **out, char *err, size_t errlen)
{
	struct detect *d = calloc(1, sizeof(*d));
	struct fpref *refs = NULL;
	uint32_t *bylist = NULL, *pkey = NULL, bstart[IDS_BUF__N + 1], bfill[IDS_BUF__N + 1];
	int r = 0;

	struct addrset home = {0};

	*out = NULL;
	if (!d)
		return -ENOMEM;
	{
		const char *hv = NULL;

		/* (left open, home is the networks': their sets say so) */
		for (int i = 0; i < rs->nvars && !rs->home_open; i++)
			if (!rs->vars[i].port && strcmp(rs->vars[i].name, "HOME_NET") == 0)
				hv = rs->vars[i].value;
		if (!hv || addr_parse(&home, hv, 0, NULL, NULL, NULL, 0) < 0)
			memset(&home, 0, sizeof(home));
	}
	d->nrules = (uint32_t)rs->nrules;
	d->cand = calloc(rs->nrules ? rs->nrules : 1, sizeof(*d->cand));
	d->stamp = calloc(rs->nrules ? rs->nrules : 1, sizeof(*d->stamp));
	refs = malloc((rs->nrules ? rs->nrules : 1) * sizeof(*refs));
	bylist = malloc((rs->nrules ? rs->nrules : 1) * sizeof(*bylist));
	d->setter = calloc(rs->nrules ? rs->nrules : 1, 1);
	pkey = malloc((rs->nrules ? rs->nrules : 1) * sizeof(*pkey));
	if (!d->cand || !d->stamp || !refs || !bylist || !d->setter || !pkey) {
		r = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < rs->nrules; i++)
		d->setter[i] = (uint8_t)fb_has(rs->rules[i], FB_SET, FB_TOGGLE);
	for (uint32_t i = 0; i < rs->nrules; i++)
		pkey[i] = port_key(rs->rules[i]);
	for (int g = 0; g < SG__N && r == 0; g++) {
		struct sgroup *sg = &d->sg[g];

		sg->always = malloc((rs->nrules ? rs->nrules : 1) * sizeof(*sg->always));
		/* per class: every buffer, the payload's second direction, the tiers */
		sg->mg = calloc((size_t)HCLASS_N * (IDS_BUF__N + 1 + 2 * (NPGROUPS - 1)) * NTIERS,
				sizeof(*sg->mg));
		if (!sg->always || !sg->mg) {
			r = -ENOMEM;
			break;
		}
		/* the group's rules with a fast pattern, by its buffer */
		memset(bstart, 0, sizeof(bstart));
		for (uint32_t i = 0; i < rs->nrules; i++) {
			const struct rule *ru = rs->rules[i];

			if (!rule_in_group(ru, g))
				continue;
			if (ru->fp_buf < 0)
				sg->always[sg->nalways++] = i;
			else
				bstart[ru->bufs[ru->fp_buf].buf + 1]++;
		}
		for (int b = 0; b < IDS_BUF__N; b++)
			bstart[b + 1] += bstart[b];
		memcpy(bfill, bstart, sizeof(bfill));
		for (uint32_t i = 0; i < rs->nrules; i++) {
			const struct rule *ru = rs->rules[i];

			if (ru->fp_buf >= 0 && rule_in_group(ru, g))
				bylist[bfill[ru->bufs[ru->fp_buf].buf]++] = i;
		}
		for (int hc = 0; hc < HCLASS_N && r == 0; hc++) {
			sg->cfirst[hc] = sg->nmg;
			/* Payload databases of packet groups come in two, by
			 * direction (flow:to_server rules are not looked for in
			 * replies), as Suricata's rule groups are; other buffers
			 * have one direction. */
			for (int b = 0; b < IDS_BUF__N && r == 0; b++) {
				int split = b == IDS_BUF_PAYLOAD && g <= SG_PKT_OTHER;

				for (int dir = split ? 1 : 0; dir <= (split ? 2 : 0) && r == 0; dir++)
					r = build_tiers(sg, rs, bylist + bstart[b], bstart[b + 1] - bstart[b],
							b, dir, hc, pkey,
							b == IDS_BUF_PAYLOAD &&
								(g == SG_PKT_TCP || g == SG_PKT_UDP),
							refs, err, errlen);
			}
		}
		sg->cfirst[HCLASS_N] = sg->nmg;
		if (r == 0)
			r = split_always(sg, rs->rules, &home);
	}
out:
	free(refs);
	free(bylist);
	free(pkey);
	addr_free(&home);
	if (r < 0) {
		detect_free(d);
		return r;
	}
	*out = d;
	return 0;
}

void
detect_free(struct detect *d)
{
	if (!d)
		return;
	for (int g = 0; g < SG__N; g++) {
		for (int i = 0; i < d->sg[g].nmg; i++) {
			mpm_db_put(d->sg[g].mg[i].db);
			free(d->sg[g].mg[i].off);
			free(d->sg[g].mg[i].rules);
		}
		free(d->sg[g].mg);
		free(d->sg[g].always);
		aidx_free(&d->sg[g].by_src);
		aidx_free(&d->sg[g].by_dst);
		aidx_free(&d->sg[g].by_sp);
		aidx_free(&d->sg[g].by_dp);
	}
	free(d->cand);
	free(d->stamp);
	free(d->setter);
	free(d);
}

size_t
detect_db_bytes(const struct detect *d)
{
	size_t b = 0;

	for (int g = 0; d && g < SG__N; g++)
		for (int i = 0; i < d->sg[g].nmg; i++)
			b += mpm_db_size(d->sg[g].mg[i].db);
	return b;
}

