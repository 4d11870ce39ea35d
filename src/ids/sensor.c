/*
 * sensor.c - the inspection pipeline (sensor.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "decode.h"
#include "detect_build.h"
#include "detect_thresh.h"
#include "dns.h"
#include "http.h"
#include "log.h"
#include "match.h"
#include "mpm.h"
#include "sensor.h"
#include "spoof.h"
#include "tls.h"
#include "util.h"

/* What the callbacks of one packet need. */
struct pctx {
	struct sensor *s;
	struct net *n;
	struct flow *f;
	const struct pkt *p;
	uint32_t ifid;
	int dir; /* 0: client to server */
};

static const char *
app_name(uint8_t app)
{
	switch (app) {
	case APP_HTTP: return "http";
	case APP_DNS: return "dns";
	case APP_TLS: return "tls";
	case APP_DHCP: return "dhcp";
	}
	return NULL;
}

static uint64_t
wall_s(void)
{
	return (uint64_t)time(NULL);
}

static void
emit(struct pctx *c, uint32_t gid, uint32_t sid, uint32_t rev, const char *msg, const char *cat,
     int sev, uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp, uint8_t proto, json_t *extra)
{
	struct net *n = c->n;
	struct eve_alert a = {0};
	uint64_t held = 0;
	json_t *rec;
	int v;

	v = gate_check(&n->gate, gid, sid, src, dst, c->s->now_us, wall_s(), &held);
	if (v == GATE_SUPPRESSED) {
		n->st.suppressed++;
		return;
	}
	if (v == GATE_RATE_LIMITED) {
		n->st.rate_limited++;
		return;
	}
	a.ts_us = c->p ? c->p->ts_us : c->s->now_us;
	a.flow_id = c->f ? (c->f->id * 0x9e3779b97f4a7c15ull) & ((1ull << 51) - 1) : 0;
	a.iface = c->s->iface_name ? c->s->iface_name(c->s->iface_arg, c->ifid) : NULL;
	a.tenant_id = n->cfg.tenant_id;
	a.network_id = n->cfg.network_id;
	a.src = src;
	a.dst = dst;
	a.sp = sp;
	a.dp = dp;
	a.ipproto = proto;
	a.has_ports = proto == 6 || proto == 17;
	a.app_proto = c->f ? app_name(c->f->app) : NULL;
	a.gid = gid;
	a.sid = sid;
	a.rev = rev;
	a.signature = msg;
	a.category = cat;
	a.severity = sev;
	a.src_vm = spoof_vm_of(&n->cfg.spoof, src);
	a.dest_vm = spoof_vm_of(&n->cfg.spoof, dst);
	a.rate_limited_before = held;
	a.extra = extra;
	rec = eve_alert_record(&a);
	if (rec) {
		eve_write(&c->s->eve, rec);
		json_decref(rec);
	}
	n->st.alerts++;
}

static void
on_rule(void *arg, const struct rule *r, const struct det_pkt *p)
{
	struct pctx *c = arg;
	int sev = r->priority ? r->priority : r->cls ? r->cls->priority : 3;

	emit(c, r->gid, r->sid, r->rev, r->msg, r->cls ? r->cls->desc : "", sev, p->src, p->dst,
	     p->sp, p->dp, p->ipproto, NULL);
}

static void
on_finding(void *arg, struct finding *f)
{
	struct pctx *c = arg;

	if (!f->ipproto) {
		/* ARP: no flow, no ports */
		struct flow *keep = c->f;

		c->f = NULL;
		emit(c, 1, f->sid, 1, f->msg, f->category, f->severity, f->src, f->dst, 0, 0, 0,
		     f->extra);
		c->f = keep;
	} else {
		emit(c, 1, f->sid, 1, f->msg, f->category, f->severity, f->src, f->dst, f->sp, f->dp,
		     f->ipproto, f->extra);
	}
	json_decref(f->extra);
}

/* The event's addresses as seen in direction dir of flow f. */
static void
fill(struct det_pkt *d, const struct pctx *c, int dir)
{
	const struct flow *f = c->f;

	memset(d, 0, sizeof(*d));
	d->ts_us = c->p ? c->p->ts_us : c->s->now_us;
	d->home = &c->n->home;
	if (f) {
		d->src = dir == 0 ? f->cli : f->srv;
		d->dst = dir == 0 ? f->srv : f->cli;
		d->sp = dir == 0 ? f->cport : f->sport;
		d->dp = dir == 0 ? f->sport : f->cport;
		d->ipproto = f->proto;
		d->to_server = dir == 0;
		d->established = f->established;
		d->has_flow = 1;
		d->app = f->app;
		d->fbits = f->fbits;
		d->fbits_n = f->fbits_n;
		if (f->home_gen != c->n->home_gen) { /* once per flow and home set */
			c->f->home_bits = (uint8_t)(addr_contains(&c->n->home, f->cli) |
						    addr_contains(&c->n->home, f->srv) << 1);
			c->f->home_gen = c->n->home_gen;
		}
		d->hclass = (uint8_t)(DET_HCLASS_KNOWN |
				      (dir == 0 ? f->home_bits : (f->home_bits >> 1 | (f->home_bits & 1) << 1)));
	} else if (c->p) {
		d->src = c->p->src;
		d->dst = c->p->dst;
		d->sp = c->p->sp;
		d->dp = c->p->dp;
		d->ipproto = c->p->proto;
		d->to_server = 1;
	}
	if (c->p) {
		d->tcp_flags = c->p->tcp_flags;
		d->icmp_type = c->p->icmp_type;
		d->icmp_code = c->p->icmp_code;
		d->dsize = (uint32_t)c->p->plen;
	}
}

static int
run(struct pctx *c, int group, struct det_pkt *d)
{
	int a = 0;

	if (c->n->rs)
		a += detect_run(c->n->rs, c->n->th, group, d, on_rule, c);
	if (c->n->rsc)
		a += detect_run(c->n->rsc, c->n->th, group, d, on_rule, c);
	return a;
}

static size_t
overlap(const struct net *n)
{
	size_t a = n->rs ? n->rs->stream_overlap : 0, b = n->rsc ? n->rsc->stream_overlap : 0;

	return a > b ? a : b;
}

/* ---- app layer ---- */

struct bufarg {
	struct http_tx *tx;
	const uint8_t *one; /* dns.query or tls.sni */
	size_t onelen;
	int onebuf, dotbuf; /* the buffer, and its dotprefix variant */
	uint8_t dot[DNS_NAME_MAX + 2];
};

static int
getbuf(void *arg, int buf, int stage, const uint8_t **p, size_t *len)
{
	struct bufarg *b = arg;

	if (b->tx)
		return http_getbuf(b->tx, buf, stage, p, len);
	if (buf == b->onebuf && b->one) {
		*p = b->one;
		*len = b->onelen;
		return 0;
	}
	if (buf == b->dotbuf && b->one && b->onelen < sizeof(b->dot) - 1) {
		b->dot[0] = '.';
		memcpy(b->dot + 1, b->one, b->onelen);
		*p = b->dot;
		*len = b->onelen + 1;
		return 0;
	}
	return -1;
}

static void
on_http(void *arg, struct http_tx *tx, int stage)
{
	struct pctx *c = arg;
	struct det_pkt d;
	struct bufarg b = {tx, NULL, 0, -1, -1, {0}};

	fill(&d, c, stage == STAGE_HTTP_REQ ? 0 : 1);
	d.getbuf = getbuf;
	d.bufarg = &b;
	if (stage == STAGE_HTTP_REQ)
		c->n->st.http_tx++;
	run(c, stage == STAGE_HTTP_REQ ? SG_HTTP_REQ : SG_HTTP_RESP, &d);
}

static void
tls_run(struct pctx *c, const char *sni, size_t snilen)
{
	struct det_pkt d;
	struct bufarg b = {NULL, (const uint8_t *)sni, snilen, IDS_BUF_TLS_SNI, IDS_BUF_TLS_SNI_DOT,
			   {0}};

	c->n->st.tls_sni++;
	fill(&d, c, 0);
	d.getbuf = getbuf;
	d.bufarg = &b;
	run(c, SG_TLS, &d);
}

/*
 * The client's first bytes of a TLS flow, until the ClientHello's SNI is
 * read. Usually the whole record comes in the first delivery and is read
 * where it is; only a record that is still incomplete is copied, into a
 * buffer charged to the tenant that grows to what the record needs (at
 * most TLS_RECORD_MAX).
 */
static void
tls_data(struct pctx *c, const uint8_t *data, size_t len)
{
	struct flow *f = c->f;
	size_t take, want;
	char sni[TLS_SNI_MAX + 1];
	size_t snilen = 0;
	int r;

	if (!f->tls) {
		r = tls_sni(data, len, sni, &snilen);
		if (r == TLS_SNI)
			tls_run(c, sni, snilen);
		if (r != TLS_MORE || len >= TLS_RECORD_MAX) {
			f->tls_done = 1;
			return;
		}
		/* the record's length, from its header when there is one */
		want = len >= 5 ? 5u + ((size_t)data[3] << 8 | data[4]) : TLS_RECORD_MAX;
		if (want > TLS_RECORD_MAX || want <= len)
			want = TLS_RECORD_MAX;
		if (memcap_take(f->mem, want) < 0 || !(f->tls = malloc(want))) {
			if (!f->tls)
				memcap_give(f->mem, want);
			f->tls_done = 1;
			return;
		}
		f->tlscap = want;
		memcpy(f->tls, data, len);
		f->tlslen = len;
		return;
	}
	take = len < f->tlscap - f->tlslen ? len : f->tlscap - f->tlslen;
	memcpy(f->tls + f->tlslen, data, take);
	f->tlslen += take;
	r = tls_sni(f->tls, f->tlslen, sni, &snilen);
	if (r == TLS_MORE && f->tlslen < f->tlscap)
		return;
	if (r == TLS_SNI)
		tls_run(c, sni, snilen);
	f->tls_done = 1;
	free(f->tls);
	f->tls = NULL;
	f->tlslen = 0;
	memcap_give(f->mem, f->tlscap);
	f->tlscap = 0;
}

/* In-order stream data of direction c->dir (NULL: a gap). */
static void
on_stream(void *arg, const uint8_t *data, size_t len)
{
	struct pctx *c = arg;
	struct flow *f = c->f;
	struct stream *st = &f->st[c->dir];
	struct det_pkt d;

	if (!data) {
		c->n->st.stream_gaps++;
		st->winlen = 0;
		if (f->http)
			http_feed(f->http, f->mem, c->dir, NULL, len, on_http, c);
		if (c->dir == 0)
			f->tls_done = 1;
		return;
	}
	if (len == 0)
		return;
	if (f->app == APP_NONE) {
		if (http_probe(data, len, c->dir == 0))
			f->app = APP_HTTP;
		else if (c->dir == 0 && tls_probe(data, len))
			f->app = APP_TLS;
		else if (c->dir == 0)
			f->app = APP_FAILED;
	}
	if (f->app == APP_HTTP) {
		if (!f->http && memcap_take(f->mem, sizeof(*f->http)) == 0) {
			f->http = calloc(1, sizeof(*f->http));
			if (!f->http)
				memcap_give(f->mem, sizeof(*f->http));
		}
		if (f->http)
			http_feed(f->http, f->mem, c->dir, data, len, on_http, c);
	} else if (f->app == APP_TLS && c->dir == 0 && !f->tls_done) {
		tls_data(c, data, len);
	}
	fill(&d, c, c->dir);
	d.stream = 1;
	stream_window(st, f->mem, data, len, &d.payload, &d.plen, &d.pbase, &d.pmin_end);
	run(c, SG_PKT_TCP, &d);
	stream_window_trim(st, f->mem, overlap(c->n));
}

static void
dns_udp(struct pctx *c, const struct pkt *p)
{
	struct dns_msg m;

	if (dns_parse(p->payload, p->plen, &m) < 0)
		return;
	if (c->f)
		c->f->app = APP_DNS;
	if (m.qr)
		return;
	for (int i = 0; i < m.nq; i++) {
		struct det_pkt d;
		struct bufarg b = {NULL, (const uint8_t *)m.q[i], m.qlen[i], IDS_BUF_DNS_QUERY,
				   IDS_BUF_DNS_QUERY_DOT, {0}};

		c->n->st.dns_queries++;
		fill(&d, c, c->f ? c->dir : 0);
		d.app = APP_DNS;
		d.getbuf = getbuf;
		d.bufarg = &b;
		run(c, SG_DNS, &d);
	}
}

/* ---- TCP ---- */

static void
tcp_track(struct pctx *c, const struct pkt *p)
{
	struct flow *f = c->f;
	uint8_t fl = p->tcp_flags;
	int dir = c->dir;

	if ((fl & (TCP_SYN | TCP_ACK)) == TCP_SYN && dir == 0) {
		if (f->state == TCP_NONE)
			f->state = TCP_SYN_SENT;
		if (!f->st[0].init)
			stream_start(&f->st[0], p->seq + 1);
	} else if ((fl & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK) && dir == 1) {
		if (f->state <= TCP_SYN_SENT)
			f->state = TCP_SYN_RECV;
		if (!f->st[1].init)
			stream_start(&f->st[1], p->seq + 1);
	} else if ((fl & (TCP_SYN | TCP_ACK)) == TCP_ACK && dir == 0 && f->state == TCP_SYN_RECV) {
		f->state = TCP_EST;
		f->established = 1;
		if (c->n->ps)
			ps_established(c->n->ps, f->srv, f->sport, p->ts_us);
	}
	if (p->plen && f->state == TCP_NONE) {
		/* picked up midstream (e.g. after a sensor restart) */
		f->state = TCP_EST;
		f->established = 1;
	}
	if (fl & TCP_RST)
		f->state = TCP_CLOSED;
	if (fl & TCP_FIN) {
		f->fin[dir] = 1;
		f->state = f->fin[0] && f->fin[1] ? TCP_CLOSED : TCP_CLOSING;
	}
	if (p->plen && !(fl & TCP_SYN)) {
		if (stream_add(&f->st[dir], f->mem, p->seq, p->payload, p->plen, on_stream, c) < 0)
			c->n->st.stream_gaps++;
	}
}

static void
fbits_fit(struct flow *f, const struct net *n)
{
	/* the custom set starts with the directories' names: the larger count */
	size_t want = n->rsc ? n->rsc->nfb : n->rs ? n->rs->nfb : 0;

	if (want > f->fbits_n) {
		size_t bytes = (want + 7) / 8;
		uint8_t *b = realloc(f->fbits, bytes);

		if (!b)
			return;
		memset(b + (f->fbits_n + 7) / 8, 0, bytes - (f->fbits_n + 7) / 8);
		f->fbits = b;
		f->fbits_n = bytes * 8;
	}
}

void
sensor_packet(struct sensor *s, struct net *n, uint32_t ifid, const uint8_t *frame,
	      size_t caplen, size_t wirelen, uint64_t ts_us)
{
	struct pkt p;
	struct pctx c = {s, n, NULL, &p, ifid, 0};
	struct det_pkt d;
	int r, to_server = 1;

	p.ts_us = ts_us;
	p.wire_len = wirelen;
	if (ts_us > s->now_us)
		s->now_us = ts_us;
	n->st.packets++;
	n->st.bytes += wirelen;
	r = decode_frame(&p, frame, caplen);
	if (r == DECODE_OTHER) {
		n->st.not_decoded++;
		return;
	}
	if (r < 0) {
		n->st.decode_errors++;
		return;
	}
	spoof_check(&n->cfg.spoof, &p, on_finding, &c);
	if (!p.is_ip4)
		return;
	if (n->ps && !p.frag)
		ps_packet(n->ps, p.proto, p.tcp_flags, p.icmp_type, p.src, p.sp, p.dst, p.dp, ts_us,
			  on_finding, &c);
	if (!p.frag && (p.proto == 6 || p.proto == 17 || p.proto == 1)) {
		int synack = p.proto == 6 && (p.tcp_flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK);
		uint64_t before = s->ft.next_id;

		c.f = flow_get(&s->ft, ifid, p.proto, p.src, p.proto == 1 ? 0 : p.sp, p.dst,
			       p.proto == 1 ? 0 : p.dp, synack, &n->mem, n, ts_us, &to_server);
		/* a new connection on the ports of one that ended: a new flow */
		if (c.f && p.proto == 6 && (p.tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN &&
		    c.f->state >= TCP_CLOSING) {
			flow_end(&s->ft, c.f);
			c.f = flow_get(&s->ft, ifid, 6, p.src, p.sp, p.dst, p.dp, 0, &n->mem, n, ts_us,
				       &to_server);
		}
		if (!c.f)
			n->st.flows_refused++;
		else if (s->ft.next_id != before)
			n->st.flows++;
	}
	if (c.f) {
		struct flow *f = c.f;

		c.dir = to_server ? 0 : 1;
		flow_touch(&s->ft, f, ts_us);
		f->pkts[c.dir]++;
		f->bytes[c.dir] += wirelen;
		f->seen[c.dir] = 1;
		fbits_fit(f, n);
		if (p.proto != 6)
			f->established = f->seen[0] && f->seen[1];
		if (p.proto == 17 && (p.sp == 67 || p.dp == 67))
			f->app = APP_DHCP;
	}
	/* The packet event: every rule of its group; for TCP with a flow the
	 * payload is inspected as stream data instead (on_stream). */
	fill(&d, &c, c.dir);
	if (!(p.proto == 6 && c.f)) {
		d.payload = p.payload;
		d.plen = p.plen;
	}
	run(&c, detect_pkt_group(p.proto), &d);
	if (p.proto == 6 && c.f)
		tcp_track(&c, &p);
	else if (p.proto == 17 && (p.sp == 53 || p.dp == 53) && p.plen)
		dns_udp(&c, &p);
}

/* ---- flows ending ---- */

static void
on_flow_end(void *arg, struct flow *f)
{
	struct sensor *s = arg;
	struct pctx c = {s, f->owner, f, NULL, f->ifid, 0};

	if (f->http) {
		http_flush(f->http, f->mem, on_http, &c);
		http_free(f->http, f->mem);
		free(f->http);
		memcap_give(f->mem, sizeof(*f->http));
		f->http = NULL;
	}
	if (f->tls) {
		free(f->tls);
		f->tls = NULL;
		memcap_give(f->mem, f->tlscap);
		f->tlscap = 0;
	}
}

/* ---- networks ---- */

struct ruleset *
sensor_compile_rules(const struct netcfg *cfg, char *err, size_t errlen)
{
	/* $HOME_NET left open: networks with the same rules share them */
	struct ruleset *rs = ruleset_new_shared(cfg->vars, cfg->nvars);

	if (!rs) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (int i = 0; i < cfg->ndirs; i++) {
		uint64_t t0 = util_now_ms();
		int r = ruleset_load_dir(rs, cfg->rule_dirs[i], err, errlen);

		rs->load_ms += util_now_ms() - t0;
		if (r < 0) {
			ruleset_put(rs);
			return NULL;
		}
	}
	if (ruleset_build(rs, err, errlen) < 0) {
		ruleset_put(rs);
		return NULL;
	}
	return rs;
}

int
sensor_compile_custom(const struct netcfg *cfg, const struct ruleset *base, struct ruleset **out,
		      char *err, size_t errlen)
{
	struct ruleset *rs;
	uint64_t t0 = util_now_ms();

	*out = NULL;
	if (!cfg->custom_rules || !*cfg->custom_rules)
		return 0;
	rs = ruleset_new_child(cfg->vars, cfg->nvars, base);
	if (!rs || ruleset_add_text(rs, cfg->custom_rules, strlen(cfg->custom_rules), "custom") < 0) {
		snprintf(err, errlen, "out of memory");
		ruleset_put(rs);
		return -ENOMEM;
	}
	if (ruleset_build(rs, err, errlen) < 0) {
		ruleset_put(rs);
		return -EINVAL;
	}
	rs->load_ms += util_now_ms() - t0;
	*out = rs;
	return 0;
}

struct ruleset *
sensor_shared_rules(struct sensor *s, const struct netcfg *cfg)
{
	for (struct net *n = s->nets; n; n = n->next)
		if (n->rs && netcfg_same_rules(&n->cfg, cfg))
			return ruleset_get(n->rs);
	return NULL;
}

struct net *
sensor_net_find(struct sensor *s, const char *network_id)
{
	for (struct net *n = s->nets; n; n = n->next)
		if (strcmp(n->cfg.network_id, network_id) == 0)
			return n;
	return NULL;
}

int
sensor_net_check(struct sensor *s, const json_t *j, struct netcfg *cfg, char *err, size_t errlen)
{
	struct net *n;
	struct gate *g;
	int r = 0;

	if (netcfg_parse(j, cfg, err, errlen) < 0)
		return -EINVAL;
	n = sensor_net_find(s, cfg->network_id);
	if (n && strcmp(n->cfg.tenant_id, cfg->tenant_id) != 0) {
		snprintf(err, errlen, "network %s belongs to another tenant", cfg->network_id);
		r = -EPERM;
	} else if (cfg->suppress) {
		g = calloc(1, sizeof(*g));
		if (!g || gate_set_suppress(g, cfg->suppress, err, errlen) < 0)
			r = -EINVAL;
		free(g);
	}
	if (r < 0)
		netcfg_free(cfg);
	return r;
}

/* The network.set reply: both sets' counts added, the custom set's too. */
static json_t *
summary_of(const struct ruleset *rs, const struct ruleset *rsc)
{
	json_t *o = ruleset_summary(rs);

	json_object_set_new(o, "hyperscan_bytes", json_integer((json_int_t)detect_db_bytes(rs->det)));
	if (rsc) {
		json_t *c = ruleset_summary(rsc), *by = json_object_get(o, "skipped_by_reason");
		const char *k;
		json_t *v;

		json_object_foreach(json_object_get(c, "skipped_by_reason"), k, v) {
			json_t *have = json_object_get(by, k);

			json_object_set_new(by, k, json_integer(json_integer_value(v) +
								(have ? json_integer_value(have) : 0)));
		}
		json_object_set_new(o, "loaded", json_integer(json_integer_value(json_object_get(o, "loaded")) +
							      (json_int_t)rsc->nrules));
		json_object_set_new(o, "skipped", json_integer(json_integer_value(json_object_get(o, "skipped")) +
							       (json_int_t)rsc->nskip_total));
		json_object_set_new(c, "hyperscan_bytes", json_integer((json_int_t)detect_db_bytes(rsc->det)));
		json_object_set_new(o, "custom", c);
	}
	return o;
}

json_t *
sensor_skip_list(const struct net *n, size_t max)
{
	json_t *a = n->rs ? ruleset_skip_list(n->rs, max) : json_array();

	if (n->rsc && json_array_size(a) < max)
		json_array_extend(a, ruleset_skip_list(n->rsc, max - json_array_size(a)));
	return a;
}

int
sensor_net_install(struct sensor *s, struct netcfg *cfg, struct ruleset *rs, struct ruleset *rsc,
		   json_t **summary, char *err, size_t errlen)
{
	struct net *n = sensor_net_find(s, cfg->network_id);
	struct ps_state *ps = ps_new(&cfg->ps);
	struct gate g = {0};
	struct addrset home;

	*summary = NULL;
	if (addr_parse(&home, cfg->home_net, 0, NULL, NULL, err, errlen) < 0) {
		ps_free(ps);
		ruleset_put(rs);
		ruleset_put(rsc);
		netcfg_free(cfg);
		return -EINVAL;
	}
	if (n && strcmp(n->cfg.tenant_id, cfg->tenant_id) != 0) {
		/* another tenant took the id while the rules compiled */
		snprintf(err, errlen, "network %s belongs to another tenant", cfg->network_id);
		goto fail;
	}
	if (!ps || (cfg->suppress && gate_set_suppress(&g, cfg->suppress, err, errlen) < 0))
		goto fail;
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n || !(n->th = det_thresh_new())) {
			free(n);
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		n->next = s->nets;
		s->nets = n;
	}
	/* Swap: flows keep their state, the next packet sees the new rules. */
	ruleset_put(n->rs);
	n->rs = rs;
	ruleset_put(n->rsc);
	n->rsc = rsc;
	ps_free(n->ps);
	n->ps = ps;
	netcfg_free(&n->cfg);
	n->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	addr_free(&n->home);
	n->home = home;
	if (++n->home_gen == 0)
		n->home_gen = 1;
	n->mem.cap = n->cfg.memcap;
	n->gate.rate = n->cfg.rate;
	n->gate.burst = n->cfg.burst;
	memcpy(n->gate.sup, g.sup, (size_t)g.nsup * sizeof(g.sup[0]));
	n->gate.nsup = g.nsup;
	*summary = summary_of(rs, rsc);
	return 0;
fail:
	if (!*err)
		snprintf(err, errlen, "out of memory");
	addr_free(&home);
	ps_free(ps);
	ruleset_put(rs);
	ruleset_put(rsc);
	netcfg_free(cfg);
	return -EINVAL;
}

int
sensor_net_set(struct sensor *s, const json_t *j, json_t **summary, char *err, size_t errlen)
{
	struct netcfg cfg;
	struct ruleset *rs, *rsc = NULL;
	int r;

	*summary = NULL;
	if ((r = sensor_net_check(s, j, &cfg, err, errlen)) < 0)
		return r;
	rs = sensor_shared_rules(s, &cfg);
	if (!rs)
		rs = sensor_compile_rules(&cfg, err, errlen);
	if (!rs || sensor_compile_custom(&cfg, rs, &rsc, err, errlen) < 0) {
		ruleset_put(rs);
		netcfg_free(&cfg);
		return -EINVAL;
	}
	return sensor_net_install(s, &cfg, rs, rsc, summary, err, errlen);
}

int
sensor_net_delete(struct sensor *s, const char *network_id)
{
	struct net **pp, *n;

	for (pp = &s->nets; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->cfg.network_id, network_id) == 0)
			break;
	if (!*pp)
		return -ENOENT;
	n = *pp;
	flow_drop_owner(&s->ft, n);
	*pp = n->next;
	ruleset_put(n->rs);
	ruleset_put(n->rsc);
	ps_free(n->ps);
	det_thresh_free(n->th);
	gate_free(&n->gate);
	addr_free(&n->home);
	netcfg_free(&n->cfg);
	free(n);
	return 0;
}

int
sensor_init(struct sensor *s, const char *eve_path, char *err, size_t errlen)
{
	int r;

	memset(s, 0, sizeof(*s));
	r = eve_open(&s->eve, eve_path);
	if (r < 0) {
		snprintf(err, errlen, "cannot open %s: %s", eve_path, strerror(-r));
		return r;
	}
	if (flow_table_init(&s->ft, on_flow_end, s) < 0) {
		eve_close(&s->eve);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

json_t *
sensor_net_stats(const struct net *n)
{
	json_t *o = json_object();
	const struct net_stats *st = &n->st;

#define SET(k, v) json_object_set_new(o, k, json_integer((json_int_t)(v)))
	SET("packets", st->packets);
	SET("bytes", st->bytes);
	SET("kernel_drops", st->kernel_drops);
	SET("decode_errors", st->decode_errors);
	SET("not_decoded", st->not_decoded);
	SET("alerts", st->alerts);
	SET("alerts_suppressed", st->suppressed);
	SET("alerts_rate_limited", st->rate_limited);
	SET("rules_loaded", (n->rs ? n->rs->nrules : 0) + (n->rsc ? n->rsc->nrules : 0));
	SET("rules_skipped", (n->rs ? n->rs->nskip_total : 0) + (n->rsc ? n->rsc->nskip_total : 0));
	SET("flows", st->flows);
	SET("flows_refused_memcap", st->flows_refused);
	SET("stream_gaps", st->stream_gaps);
	SET("http_tx", st->http_tx);
	SET("dns_queries", st->dns_queries);
	SET("tls_sni", st->tls_sni);
	SET("memcap_bytes", n->mem.cap);
	SET("mem_used_bytes", n->mem.used);
	SET("mem_refused", n->mem.refused);
	SET("pcre_limit_hits", match_stats.pcre_limit);
	SET("detect_events", match_stats.events);         /* all networks */
	SET("detect_candidates", match_stats.candidates); /* all networks */
#undef SET
	json_object_set_new(o, "rate_limited_rules", gate_stats(&n->gate));
	return o;
}

void
sensor_write_stats(struct sensor *s, uint64_t ts_us)
{
	char ts[48];

	eve_timestamp(ts_us, ts, sizeof(ts));
	for (struct net *n = s->nets; n; n = n->next) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o}", "timestamp", ts, "event_type", "stats",
				      "tenant_id", n->cfg.tenant_id, "network_id", n->cfg.network_id,
				      "stats", sensor_net_stats(n));

		if (o) {
			eve_write(&s->eve, o);
			json_decref(o);
		}
	}
}

void
sensor_tick(struct sensor *s, uint64_t now_us)
{
	if (now_us > s->now_us)
		s->now_us = now_us;
	if (s->now_us >= s->last_tick_us + 1000000) {
		flow_expire(&s->ft, s->now_us, 100000);
		s->last_tick_us = s->now_us;
	}
	if (s->stats_interval_us && s->now_us >= s->last_stats_us + s->stats_interval_us) {
		if (s->last_stats_us)
			sensor_write_stats(s, s->now_us);
		s->last_stats_us = s->now_us;
	}
}

void
sensor_finish(struct sensor *s)
{
	flow_table_free(&s->ft);
	sensor_write_stats(s, s->now_us ? s->now_us : (uint64_t)time(NULL) * 1000000);
	while (s->nets)
		sensor_net_delete(s, s->nets->cfg.network_id);
	eve_close(&s->eve);
}
