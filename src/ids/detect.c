/*
 * detect.c - the evaluation of an event against a rule set's detection
 * tables (detect.h; the tables: detect_build.h).
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "detect.h"
#include "detect_aidx.h"
#include "detect_build.h"
#include "detect_thresh.h"
#include "match.h"
#include "mpm.h"
#include "ruleset.h"

int
detect_pkt_group(uint8_t ipproto)
{
	return ipproto == 6 ? SG_PKT_TCP : ipproto == 17 ? SG_PKT_UDP : ipproto == 1 ? SG_PKT_ICMP
										  : SG_PKT_OTHER;
}

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
		if (r->th.type && !det_thresh_ok(th, &r->th, r, p->src, p->dst, p->ts_us))
			continue;
		if (r->df.type && !det_thresh_ok(th, &r->df, r, p->src, p->dst, p->ts_us))
			continue;
		fn(arg, r, p);
		alerts++;
	}
	return alerts;
}
