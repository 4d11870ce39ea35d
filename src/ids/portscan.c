/*
 * portscan.c - scan and SYN flood trackers (portscan.h).
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "portscan.h"

struct tracker {
	uint64_t key;
	uint8_t used, kind, alerted;
	uint64_t start_us;
	uint32_t n;
	uint32_t seen[PS_MAX_TRACK];
	uint32_t half; /* SYN flood: SYNs in this second */
	uint32_t done; /* handshakes completed in this second */
};

enum { K_TCPPORTS = 1, K_UDPPORTS, K_SWEEP, K_FLOOD };

struct ps_state {
	struct ps_config c;
	struct tracker t[PS_TABLE];
};

void
ps_config_default(struct ps_config *c)
{
	c->scan_ports = 20;
	c->sweep_hosts = 20;
	c->window_s = 60;
	c->synflood_per_s = 500;
	c->portscan = c->synflood = 1;
}

struct ps_state *
ps_new(const struct ps_config *c)
{
	struct ps_state *s = calloc(1, sizeof(*s));

	if (s)
		s->c = *c;
	return s;
}

void
ps_free(struct ps_state *s)
{
	free(s);
}

static struct tracker *
get(struct ps_state *s, int kind, uint64_t key, uint64_t now_us, uint64_t window_us)
{
	uint64_t h = (key * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)kind << 59);
	struct tracker *victim = NULL, *t;

	for (int i = 0; i < 16; i++) {
		t = &s->t[(h + (uint64_t)i) % PS_TABLE];
		if (t->used && t->kind == kind && t->key == key)
			goto found;
		if (!t->used) {
			if (!victim || victim->used)
				victim = t;
		} else if (!victim || (victim->used && t->start_us < victim->start_us)) {
			victim = t;
		}
	}
	t = victim;
	memset(t, 0, sizeof(*t));
	t->used = 1;
	t->kind = (uint8_t)kind;
	t->key = key;
	t->start_us = now_us;
	return t;
found:
	if (now_us >= t->start_us + window_us) {
		t->start_us = now_us;
		t->n = 0;
		t->alerted = 0;
		t->half = t->done = 0;
	}
	return t;
}

/* Count v as seen; returns 1 the moment the count reaches limit. */
static int
add_distinct(struct tracker *t, uint32_t v, uint32_t limit)
{
	for (uint32_t i = 0; i < t->n && i < PS_MAX_TRACK; i++)
		if (t->seen[i] == v)
			return 0;
	if (t->n < PS_MAX_TRACK)
		t->seen[t->n] = v;
	t->n++;
	if (t->n >= limit && !t->alerted) {
		t->alerted = 1;
		return 1;
	}
	return 0;
}

void
ps_packet(struct ps_state *s, uint8_t ipproto, uint8_t tcp_flags, uint8_t icmp_type,
	  uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp, uint64_t now_us, finding_fn fn,
	  void *arg)
{
	uint64_t win = (uint64_t)s->c.window_s * 1000000;
	int probe = 0;
	struct tracker *t;

	if (ipproto == 6 && (tcp_flags & 0x12) == 0x02) {
		probe = 1;
		if (s->c.portscan) {
			t = get(s, K_TCPPORTS, (uint64_t)src << 32 | dst, now_us, win);
			if (add_distinct(t, dp, s->c.scan_ports)) {
				struct finding f = {SID_TCP_PORTSCAN, "cloudlet: TCP port scan",
						    "Detection of a Network Scan", 2, src, dst, sp, dp, 6,
						    json_pack("{s:i,s:i}", "distinct_ports", (int)t->n,
							      "window_s", (int)s->c.window_s)};

				fn(arg, &f);
			}
		}
		if (s->c.synflood) {
			t = get(s, K_FLOOD, (uint64_t)dst << 16 | dp, now_us, 1000000);
			t->half++;
			if (t->half >= t->done + s->c.synflood_per_s && !t->alerted) {
				struct finding f = {SID_SYN_FLOOD, "cloudlet: SYN flood",
						    "Attempted Denial of Service", 2, src, dst, sp, dp, 6,
						    json_pack("{s:i,s:i}", "half_open_per_s",
							      (int)(t->half - t->done), "threshold",
							      (int)s->c.synflood_per_s)};

				t->alerted = 1;
				fn(arg, &f);
			}
		}
	} else if (ipproto == 17) {
		probe = 1;
		if (s->c.portscan) {
			t = get(s, K_UDPPORTS, (uint64_t)src << 32 | dst, now_us, win);
			if (add_distinct(t, dp, s->c.scan_ports)) {
				struct finding f = {SID_UDP_PORTSCAN, "cloudlet: UDP port scan",
						    "Detection of a Network Scan", 2, src, dst, sp, dp, 17,
						    json_pack("{s:i,s:i}", "distinct_ports", (int)t->n,
							      "window_s", (int)s->c.window_s)};

				fn(arg, &f);
			}
		}
	} else if (ipproto == 1 && icmp_type == 8) {
		probe = 1;
	}
	if (probe && s->c.portscan && (dst >> 28) != 14 && dst != 0xffffffffu) {
		t = get(s, K_SWEEP, src, now_us, win);
		if (add_distinct(t, dst, s->c.sweep_hosts)) {
			struct finding f = {SID_ADDR_SWEEP, "cloudlet: address sweep",
					    "Detection of a Network Scan", 2, src, dst, sp, dp, ipproto,
					    json_pack("{s:i,s:i}", "distinct_hosts", (int)t->n,
						      "window_s", (int)s->c.window_s)};

			fn(arg, &f);
		}
	}
}

void
ps_established(struct ps_state *s, uint32_t dst, uint16_t dp, uint64_t now_us)
{
	struct tracker *t;

	if (!s->c.synflood)
		return;
	t = get(s, K_FLOOD, (uint64_t)dst << 16 | dp, now_us, 1000000);
	t->done++;
}
