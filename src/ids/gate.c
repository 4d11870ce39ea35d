/*
 * gate.c - suppressions and per-rule rate limits (gate.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "jsonv.h"

int
gate_set_suppress(struct gate *g, const json_t *list, char *err, size_t errlen)
{
	static const char *const fields[] = {"sid", "gid", "track", "ip", "expires", NULL};
	struct gate_sup tmp[GATE_SUPPRESS_MAX];
	size_t i;
	json_t *e;
	int n = 0;

	if (!json_is_array(list)) {
		snprintf(err, errlen, "suppress must be an array");
		return -EINVAL;
	}
	if (json_array_size(list) > GATE_SUPPRESS_MAX) {
		snprintf(err, errlen, "at most %d suppressions", GATE_SUPPRESS_MAX);
		return -EINVAL;
	}
	json_array_foreach(jsonv_unconst(list), i, e) {
		struct gate_sup *s = &tmp[n];
		json_t *sid = json_object_get(e, "sid"), *gid = json_object_get(e, "gid");
		json_t *tr = json_object_get(e, "track"), *ip = json_object_get(e, "ip");
		json_t *ex = json_object_get(e, "expires");

		memset(s, 0, sizeof(*s));
		if (!json_is_object(e) || jsonv_only_fields(e, fields, err, errlen) < 0)
			return -EINVAL;
		if (!json_is_integer(sid) || json_integer_value(sid) < 1 ||
		    json_integer_value(sid) > UINT32_MAX) {
			snprintf(err, errlen, "suppress: sid must be a positive integer");
			return -EINVAL;
		}
		s->sid = (uint32_t)json_integer_value(sid);
		s->gid = 1;
		if (gid) {
			if (!json_is_integer(gid) || json_integer_value(gid) < 0 ||
			    json_integer_value(gid) > UINT32_MAX) {
				snprintf(err, errlen, "suppress: bad gid");
				return -EINVAL;
			}
			s->gid = (uint32_t)json_integer_value(gid);
		}
		if (tr) {
			const char *t = json_string_value(tr);

			if (t && strcmp(t, "by_src") == 0)
				s->track = GATE_SRC;
			else if (t && strcmp(t, "by_dst") == 0)
				s->track = GATE_DST;
			else {
				snprintf(err, errlen, "suppress: track is by_src or by_dst");
				return -EINVAL;
			}
			if (!json_is_string(ip) || addr_parse_cidr(json_string_value(ip), &s->ip) < 0) {
				snprintf(err, errlen, "suppress: track needs ip (an IPv4 address or network)");
				return -EINVAL;
			}
		} else if (ip) {
			snprintf(err, errlen, "suppress: ip needs track");
			return -EINVAL;
		}
		if (ex) {
			if (!json_is_integer(ex) || json_integer_value(ex) < 0) {
				snprintf(err, errlen, "suppress: expires is a unix time in seconds");
				return -EINVAL;
			}
			s->expires_s = (uint64_t)json_integer_value(ex);
		}
		n++;
	}
	memcpy(g->sup, tmp, (size_t)n * sizeof(tmp[0]));
	g->nsup = n;
	return 0;
}

json_t *
gate_suppress_json(const struct gate *g)
{
	json_t *a = json_array();

	for (int i = 0; i < g->nsup; i++) {
		const struct gate_sup *s = &g->sup[i];
		json_t *o = json_pack("{s:I,s:I}", "gid", (json_int_t)s->gid, "sid", (json_int_t)s->sid);
		char lo[16];
		unsigned bits = 32;

		if (s->track) {
			char buf[24];

			addr_fmt_ip4(s->ip.lo, lo, sizeof(lo));
			for (uint32_t span = s->ip.hi - s->ip.lo; span; span >>= 1)
				bits--;
			snprintf(buf, sizeof(buf), "%s/%u", lo, bits);
			json_object_set_new(o, "track", json_string(s->track == GATE_SRC ? "by_src"
											 : "by_dst"));
			json_object_set_new(o, "ip", json_string(buf));
		}
		if (s->expires_s)
			json_object_set_new(o, "expires", json_integer((json_int_t)s->expires_s));
		json_array_append_new(a, o);
	}
	return a;
}

int
gate_check(struct gate *g, uint32_t gid, uint32_t sid, uint32_t src, uint32_t dst,
	   uint64_t now_us, uint64_t now_wall_s, uint64_t *held_before)
{
	struct gate_rl *e = NULL;
	uint64_t h;

	*held_before = 0;
	for (int i = 0; i < g->nsup; i++) {
		const struct gate_sup *s = &g->sup[i];
		uint32_t a = s->track == GATE_SRC ? src : dst;

		if (s->sid != sid || s->gid != gid || (s->expires_s && now_wall_s >= s->expires_s))
			continue;
		if (s->track == GATE_ANY || (a >= s->ip.lo && a <= s->ip.hi)) {
			g->suppressed++;
			return GATE_SUPPRESSED;
		}
	}
	if (g->rate <= 0)
		return GATE_PASS;
	if (!g->rl && !(g->rl = calloc(GATE_RL_CAP, sizeof(*g->rl))))
		return GATE_PASS;
	h = ((uint64_t)sid * 0x9e3779b97f4a7c15ull ^ gid) >> 7;
	for (int i = 0; i < 32; i++) {
		struct gate_rl *x = &g->rl[(h + (uint64_t)i) % GATE_RL_CAP];

		if (!x->used || (x->sid == sid && x->gid == gid)) {
			e = x;
			break;
		}
	}
	if (!e)
		return GATE_PASS; /* table full: no limit for this rule */
	if (!e->used) {
		e->used = 1;
		e->sid = sid;
		e->gid = gid;
		e->tokens = g->burst;
		e->last_us = now_us;
	}
	if (now_us > e->last_us) {
		e->tokens += (double)(now_us - e->last_us) / 1e6 * g->rate;
		if (e->tokens > g->burst)
			e->tokens = g->burst;
		e->last_us = now_us;
	}
	if (e->tokens < 1) {
		e->held++;
		e->held_total++;
		g->rate_limited++;
		return GATE_RATE_LIMITED;
	}
	e->tokens -= 1;
	*held_before = e->held;
	e->held = 0;
	return GATE_PASS;
}

json_t *
gate_stats(const struct gate *g)
{
	json_t *a = json_array();

	for (int i = 0; g->rl && i < GATE_RL_CAP; i++)
		if (g->rl[i].used && g->rl[i].held_total)
			json_array_append_new(a, json_pack("{s:I,s:I,s:I}", "gid",
							   (json_int_t)g->rl[i].gid, "sid",
							   (json_int_t)g->rl[i].sid, "rate_limited",
							   (json_int_t)g->rl[i].held_total));
	return a;
}

void
gate_free(struct gate *g)
{
	free(g->rl);
	g->rl = NULL;
}
