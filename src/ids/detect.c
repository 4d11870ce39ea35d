/*
 * detect.c - rule groups, their databases and the evaluation of an event
 * (detect.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "detect.h"
#include "match.h"
#include "mpm.h"
#include "ruleset.h"

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

/*
 * Rules without a fast pattern (IP reputation lists, flags-only rules...)
 * would be candidates for every event. Those whose source (or else
 * destination) addresses are a narrow set are found through an index of
 * address intervals instead: the event's address picks the few that can
 * match. The rest stay in the "always" list.
 */
#define AIDX_NARROW (1ull << 28) /* addresses in a set still indexed */
#define AIDX_SPAN 4096           /* segments one interval may cover */

struct aidx {
	uint32_t *bound; /* segment i is [bound[i], bound[i+1]) */
	uint32_t nseg;
	uint32_t *off;   /* rules of segment i: rules[off[i] .. off[i+1]) */
	uint32_t *rules;
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

/*
 * Port groups (Suricata groups signatures by port too): in the TCP and UDP
 * packet groups, payload rules whose destination (else source) ports are
 * a few go to databases by port bucket (port % PORT_BUCKETS), scanned only
 * for events whose destination (source) port falls in that bucket; a rule
 * for "-> $HOME_NET 445" is not looked for in a web session's stream. The
 * rest (any port, wide port sets, <>) are in a database for every port.
 */
#define PORT_BUCKETS 16
#define PORT_NARROW 64       /* ports in a set still grouped */
#define PORT_MAX_BUCKETS 4   /* buckets a rule's ports may fall in */
#define PKEY_DP 0x10000u     /* port key: grouped by destination port, mask of buckets */
#define PKEY_SP 0x20000u     /* grouped by source port */
#define NPGROUPS (1 + 2 * PORT_BUCKETS)

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

/* ---- building ---- */

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

int
detect_pkt_group(uint8_t ipproto)
{
	return ipproto == 6 ? SG_PKT_TCP : ipproto == 17 ? SG_PKT_UDP : ipproto == 1 ? SG_PKT_ICMP
										  : SG_PKT_OTHER;
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

static int
cmp_bound(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The segment holding v, or -1. */
static long
aidx_find(const struct aidx *x, uint32_t v)
{
	size_t lo = 0, hi = x->nseg;

	if (!x->nseg || v < x->bound[0])
		return -1;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (x->bound[mid] <= v)
			lo = mid;
		else
			hi = mid;
	}
	return (long)lo;
}

static const struct addrset *
side(const struct rule *r, int which)
{
	switch (which) {
	case 0: return &r->src;
	case 1: return &r->dst;
	case 2: return &r->sp;
	default: return &r->dp;
	}
}

/* Index the rules idx[0..n) by one side: 0 source, 1 destination address,
 * 2 source, 3 destination port. */
static int
aidx_build(struct aidx *x, struct rule *const *rules, const uint32_t *idx, uint32_t n, int which)
{
	size_t nb = 0, cap = 0, pairs = 0;
	uint32_t *b = NULL;

	for (uint32_t i = 0; i < n; i++) {
		const struct addrset *a = side(rules[idx[i]], which);

		cap += 2u * a->n;
	}
	if (cap == 0)
		return 0;
	b = malloc((cap + 1) * sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const struct addrset *a = side(rules[idx[i]], which);

		for (int k = 0; k < a->n; k++) {
			b[nb++] = a->r[k].lo;
			if (a->r[k].hi != UINT32_MAX)
				b[nb++] = a->r[k].hi + 1;
		}
	}
	qsort(b, nb, sizeof(*b), cmp_bound);
	{
		size_t o = 0;

		for (size_t i = 0; i < nb; i++)
			if (o == 0 || b[i] != b[o - 1])
				b[o++] = b[i];
		nb = o;
	}
	x->bound = b;
	x->nseg = (uint32_t)nb;
	x->off = calloc(nb + 1, sizeof(*x->off));
	if (!x->off)
		return -ENOMEM;
	/* count, then fill (CSR) */
	for (int pass = 0; pass < 2; pass++) {
		uint32_t *fill = NULL;

		if (pass == 1) {
			for (size_t i = 0; i < nb; i++)
				x->off[i + 1] += x->off[i];
			pairs = x->off[nb];
			x->rules = malloc((pairs ? pairs : 1) * sizeof(*x->rules));
			fill = calloc(nb, sizeof(*fill));
			if (!x->rules || !fill) {
				free(fill);
				return -ENOMEM;
			}
		}
		for (uint32_t i = 0; i < n; i++) {
			const struct addrset *a = side(rules[idx[i]], which);

			for (int k = 0; k < a->n; k++) {
				long s0 = aidx_find(x, a->r[k].lo);

				for (long sgi = s0; sgi >= 0 && (size_t)sgi < nb &&
						    x->bound[sgi] <= a->r[k].hi;
				     sgi++) {
					if (pass == 0)
						x->off[sgi + 1]++;
					else
						x->rules[x->off[sgi] + fill[sgi]++] = idx[i];
					if (sgi == (long)nb - 1 || x->bound[sgi + 1] == 0)
						break;
				}
			}
		}
		free(fill);
	}
	return 0;
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
		struct aidx *ix[4] = {&d->sg[g].by_src, &d->sg[g].by_dst, &d->sg[g].by_sp,
				      &d->sg[g].by_dp};

		for (int k = 0; k < 4; k++) {
			free(ix[k]->bound);
			free(ix[k]->off);
			free(ix[k]->rules);
		}
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

/* ---- thresholds ---- */

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

static int
thresh_ok(struct det_thresh *th, const struct threshold *t, const struct rule *r,
	  const struct det_pkt *p)
{
	uint32_t a = 0, b = 0;
	uint64_t now = p->ts_us / 1000000, h;
	struct th_entry *e = NULL, *oldest = NULL;

	if (!th)
		return 1;
	switch (t->track) {
	case TRACK_SRC: a = p->src; break;
	case TRACK_DST: a = p->dst; break;
	case TRACK_BOTH: a = p->src; b = p->dst; break;
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

/* ---- evaluation ---- */

static int
ports_apply(uint8_t ipproto)
{
	return ipproto == 6 || ipproto == 17;
}

static int
hdr_match(const struct rule *r, const struct det_pkt *p)
{
	int ports = ports_apply(p->ipproto);

	switch (r->proto) {
	case PROTO_TCP: if (p->ipproto != 6) return 0; break;
	case PROTO_UDP: if (p->ipproto != 17) return 0; break;
	case PROTO_ICMP: if (p->ipproto != 1) return 0; break;
	case PROTO_HTTP: if (p->ipproto != 6 || p->app != APP_HTTP) return 0; break;
	case PROTO_TLS: if (p->ipproto != 6 || p->app != APP_TLS) return 0; break;
	case PROTO_DNS: if (p->app != APP_DNS) return 0; break;
	default: break;
	}
	if (addr_match(&r->src, p->src, p->home) && addr_match(&r->dst, p->dst, p->home) &&
	    (!ports || (addr_contains(&r->sp, p->sp) && addr_contains(&r->dp, p->dp))))
		return 1;
	return r->bidir && addr_match(&r->src, p->dst, p->home) &&
	       addr_match(&r->dst, p->src, p->home) &&
	       (!ports || (addr_contains(&r->sp, p->dp) && addr_contains(&r->dp, p->sp)));
}

static int
flow_match(const struct rule *r, const struct det_pkt *p)
{
	uint8_t f = r->flow;

	if (!f)
		return 1;
	if ((f & FLOW_ESTABLISHED) && !p->established)
		return 0;
	if ((f & FLOW_NOT_ESTABLISHED) && p->established)
		return 0;
	if ((f & FLOW_TO_SERVER) && (!p->has_flow || !p->to_server))
		return 0;
	if ((f & FLOW_TO_CLIENT) && (!p->has_flow || p->to_server))
		return 0;
	if ((f & FLOW_ONLY_STREAM) && !p->stream)
		return 0;
	if ((f & FLOW_NO_STREAM) && p->stream)
		return 0;
	return 1;
}

static int
pkt_match(const struct rule *r, const struct det_pkt *p, int group)
{
	if (r->dsize.op && (group > SG_PKT_OTHER || !urange_match(&r->dsize, p->dsize)))
		return 0;
	if (r->tcp_flags_mode) {
		uint8_t f = p->tcp_flags & r->tcp_flags_mask, w = r->tcp_flags;

		if (p->ipproto != 6)
			return 0;
		switch (r->tcp_flags_mode) {
		case '=': if (f != w) return 0; break;
		case '+': if ((f & w) != w) return 0; break;
		case '*': if (!(f & w)) return 0; break;
		case '!': if (f & w) return 0; break;
		}
	}
	if (r->itype.op && (p->ipproto != 1 || !urange_match(&r->itype, p->icmp_type)))
		return 0;
	if (r->icode.op && (p->ipproto != 1 || !urange_match(&r->icode, p->icmp_code)))
		return 0;
	return 1;
}

static int
bit_get(const struct det_pkt *p, unsigned id)
{
	return p->fbits && id < p->fbits_n && (p->fbits[id / 8] >> (id % 8) & 1);
}

static void
bit_set(struct det_pkt *p, unsigned id, int v)
{
	if (!p->fbits || id >= p->fbits_n)
		return;
	if (v)
		p->fbits[id / 8] |= (uint8_t)(1u << (id % 8));
	else
		p->fbits[id / 8] &= (uint8_t)~(1u << (id % 8));
}

static int
fb_check(const struct rule *r, const struct det_pkt *p)
{
	for (int i = 0; i < r->nfb; i++) {
		const struct fbop *o = &r->fb[i];
		int set = 0;

		if (o->cmd != FB_ISSET && o->cmd != FB_ISNOTSET)
			continue;
		for (int k = 0; k < o->n; k++)
			set += bit_get(p, o->id[k]);
		if (o->cmd == FB_ISSET && (o->any ? set == 0 : set != o->n))
			return 0;
		if (o->cmd == FB_ISNOTSET && (o->any ? set == o->n : set != 0))
			return 0;
	}
	return 1;
}

static void
fb_apply(const struct rule *r, struct det_pkt *p)
{
	for (int i = 0; i < r->nfb; i++) {
		const struct fbop *o = &r->fb[i];

		if (o->cmd == FB_SET)
			bit_set(p, o->id[0], 1);
		else if (o->cmd == FB_UNSET)
			bit_set(p, o->id[0], 0);
		else if (o->cmd == FB_TOGGLE)
			bit_set(p, o->id[0], !bit_get(p, o->id[0]));
	}
}

static int
bufs_match(const struct rule *r, const struct det_pkt *p, int stage)
{
	for (int i = 0; i < r->nbufs; i++) {
		const struct rule_buf *rb = &r->bufs[i];
		struct match_in in = {0};

		if (rb->buf == IDS_BUF_PAYLOAD) {
			if (!p->payload || p->plen == 0)
				return 0;
			in.p = p->payload;
			in.len = p->plen;
			in.base = p->pbase;
			in.min_end = p->pmin_end;
		} else if (!p->getbuf || p->getbuf(p->bufarg, rb->buf, stage, &in.p, &in.len) < 0) {
			return 0;
		}
		if (!match_buf(rb, &in))
			return 0;
	}
	return 1;
}

struct scanctx {
	struct detect *d;
	const struct mgroup *mg;
};

static void
add_cand(struct detect *d, uint32_t ri)
{
	if (d->stamp[ri] != d->gen) {
		d->stamp[ri] = d->gen;
		d->cand[d->ncand++] = ri;
	}
}

static void
on_pattern(void *arg, unsigned id)
{
	struct scanctx *c = arg;

	for (uint32_t k = c->mg->off[id]; k < c->mg->off[id + 1]; k++)
		add_cand(c->d, c->mg->rules[k]);
}

/* Scan one database on its buffer of the event: 1 if the event has the
 * buffer (its no-content rules are then evaluated), else 0. */
static int
scan_mg(struct detect *d, const struct mgroup *mg, const struct det_pkt *p, int stage)
{
	struct scanctx c = {d, mg};
	const uint8_t *b;
	size_t len;
	uint64_t base = 0;

	if (mg->dir && (mg->dir == 1) != (p->to_server != 0))
		return 0;
	if (mg->buf == IDS_BUF_PAYLOAD) {
		b = p->payload;
		len = p->plen;
		base = p->pbase;
	} else if (!p->getbuf || p->getbuf(p->bufarg, mg->buf, stage, &b, &len) < 0) {
		return 0;
	}
	if (!b || !len)
		return 0;
	if (mg->bound) {
		/* its fast patterns end by mg->bound of the buffer */
		if (base >= mg->bound)
			return 1;
		if (len > mg->bound - base)
			len = (size_t)(mg->bound - base);
	}
	if (len >= mg->minlen)
		mpm_scan(mg->db, b, len, on_pattern, &c);
	return 1;
}

/* Can a flowbit be set when this event's rules are evaluated? */
static int
bits_possible(const struct detect *d, const struct det_pkt *p)
{
	size_t nb = (p->fbits_n + 7) / 8;

	if (!p->fbits)
		return 0;
	for (size_t i = 0; i < nb; i++)
		if (p->fbits[i])
			return 1;
	for (uint32_t k = 0; k < d->ncand; k++)
		if (d->setter[d->cand[k]])
			return 1;
	return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int
group_stage(int group)
{
	switch (group) {
	case SG_HTTP_REQ: return STAGE_HTTP_REQ;
	case SG_HTTP_RESP: return STAGE_HTTP_RESP;
	case SG_DNS: return STAGE_DNS;
	case SG_TLS: return STAGE_TLS;
	}
	return STAGE_PACKET;
}

int
detect_run(struct ruleset *rs, struct det_thresh *th, int group, struct det_pkt *p,
	   det_alert_fn fn, void *arg)
{
	struct detect *d = rs->det;
	struct sgroup *sg;
	int alerts = 0, stage = group_stage(group), any = 0, hc;

	if (!d || group < 0 || group >= SG__N || d->nrules == 0)
		return 0;
	sg = &d->sg[group];
	/* no buffer to scan and no rule without a content: nothing can match
	 * (a TCP packet of a flow: its payload is inspected as stream data) */
	if (!p->payload && !p->getbuf && sg->nalways == 0 && !sg->has_aidx)
		return 0;
	if (++d->gen == 0) { /* wrapped: forget every stamp */
		memset(d->stamp, 0, d->nrules * sizeof(*d->stamp));
		d->gen = 1;
	}
	d->ncand = 0;
	for (uint32_t i = 0; i < sg->nalways; i++)
		add_cand(d, sg->always[i]);
	any = sg->nalways > 0;
	if (sg->has_aidx) {
		const struct aidx *ix[4] = {&sg->by_src, &sg->by_dst, &sg->by_sp, &sg->by_dp};
		uint32_t key[4] = {p->src, p->dst, p->sp, p->dp};
		int nk = p->ipproto == 6 || p->ipproto == 17 ? 4 : 2;

		for (int i = 0; i < nk; i++) {
			long k = aidx_find(ix[i], key[i]);

			for (uint32_t j = k >= 0 ? ix[i]->off[k] : 0; k >= 0 && j < ix[i]->off[k + 1]; j++)
				add_cand(d, ix[i]->rules[j]);
		}
		if (d->ncand)
			any = 1;
	}
	if (p->hclass & DET_HCLASS_KNOWN)
		hc = p->hclass & 3;
	else
		hc = (p->home && addr_contains(p->home, p->src)) |
		     (p->home && addr_contains(p->home, p->dst)) << 1;
	/* the databases, then those of rules that need a flowbit set if
	 * the flow has one, or a candidate may set one */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1 && !(sg->has_needbits && bits_possible(d, p)))
			break;
		for (int i = sg->cfirst[hc]; i < sg->cfirst[hc + 1]; i++) {
			const struct mgroup *mg = &sg->mg[i];

			if (mg->needbits != pass)
				continue;
			/* a port group of another bucket (the rules' header
			 * needs the port: ports count for TCP and UDP) */
			if (mg->pkind && ports_apply(p->ipproto) &&
			    ((mg->pkind == 1 ? p->dp : p->sp) % PORT_BUCKETS) != mg->pbucket)
				continue;
			any |= scan_mg(d, mg, p, stage);
		}
	}
	if (!any || d->ncand == 0)
		return 0;
	match_stats.events++;
	match_stats.candidates += d->ncand;
	/* rule-set order: pass rules, flowbit setters, then the rest */
	if (d->ncand > 1)
		qsort(d->cand, d->ncand, sizeof(*d->cand), cmp_u32);
	for (uint32_t k = 0; k < d->ncand; k++) {
		uint32_t ri = d->cand[k];
		const struct rule *r = rs->rules[ri];

		/* stream data: payload rules only (the rest ran on the packet) */
		if (p->stream && !(r->nbufs && r->bufs[0].buf == IDS_BUF_PAYLOAD))
			continue;
		if (!hdr_match(r, p) || !flow_match(r, p) || !pkt_match(r, p, group) ||
		    !fb_check(r, p) || !bufs_match(r, p, stage))
			continue;
		fb_apply(r, p);
		if (r->action == ACT_PASS)
			return alerts;
		if (r->fb_noalert)
			continue;
		if (r->th.type && !thresh_ok(th, &r->th, r, p))
			continue;
		if (r->df.type && !thresh_ok(th, &r->df, r, p))
			continue;
		fn(arg, r, p);
		alerts++;
	}
	return alerts;
}
