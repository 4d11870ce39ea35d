/*
 * addr.c - address and port sets (addr.h): a small recursive parser over
 * range lists; union, difference and complement on sorted disjoint ranges.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

/* A set being parsed: (r ∪ home) minus m; see addr.h. */
struct rl {
	struct range32 *r;
	size_t n, cap;
	int v6;
	int home;       /* ADDR_HOME_* */
	struct rl *m;   /* subtracted when home is set (else applied at once) */
};

static void
rl_free(struct rl *l)
{
	if (!l)
		return;
	free(l->r);
	if (l->m) {
		rl_free(l->m);
		free(l->m);
	}
	memset(l, 0, sizeof(*l));
}

struct ctx {
	int port;
	addr_var_fn var;
	void *arg;
	char *err;
	size_t errlen;
	int depth;
};

static int
rl_add(struct rl *l, uint32_t lo, uint32_t hi)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct range32 *r;

		if (cap > 4 * ADDR_MAX_RANGES)
			return -E2BIG;
		r = realloc(l->r, cap * sizeof(*r));
		if (r == NULL)
			return -ENOMEM;
		l->r = r;
		l->cap = cap;
	}
	l->r[l->n].lo = lo;
	l->r[l->n].hi = hi;
	l->n++;
	return 0;
}

static int
cmp_range(const void *a, const void *b)
{
	const struct range32 *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sort and merge overlapping or adjacent ranges. */
static int
rl_norm(struct rl *l)
{
	size_t i, o = 0;

	if (l->n == 0)
		return 0;
	qsort(l->r, l->n, sizeof(*l->r), cmp_range);
	for (i = 1; i < l->n; i++) {
		if (l->r[i].lo <= l->r[o].hi ||
		    (l->r[o].hi != UINT32_MAX && l->r[i].lo == l->r[o].hi + 1)) {
			if (l->r[i].hi > l->r[o].hi)
				l->r[o].hi = l->r[i].hi;
		} else {
			l->r[++o] = l->r[i];
		}
	}
	l->n = o + 1;
	return l->n > ADDR_MAX_RANGES ? -E2BIG : 0;
}

static int
rl_complement(struct rl *l, uint32_t max)
{
	struct rl out = {0};
	uint32_t next = 0;
	size_t i;
	int done = 0, r = 0;

	for (i = 0; i < l->n && r == 0; i++) {
		if (l->r[i].lo > next)
			r = rl_add(&out, next, l->r[i].lo - 1);
		if (l->r[i].hi >= max) {
			done = 1;
			break;
		}
		next = l->r[i].hi + 1;
	}
	if (r == 0 && !done)
		r = rl_add(&out, next, max);
	free(l->r);
	out.v6 = l->v6;
	*l = out;
	return r;
}

/* l minus m (both normalised). */
static int
rl_subtract(struct rl *l, const struct rl *m)
{
	struct rl out = {0};
	size_t i, j;
	int r = 0;

	for (i = 0; i < l->n && r == 0; i++) {
		uint64_t lo = l->r[i].lo, hi = l->r[i].hi;

		for (j = 0; j < m->n && lo <= hi; j++) {
			if (m->r[j].hi < lo || m->r[j].lo > hi)
				continue;
			if (m->r[j].lo > lo)
				r = rl_add(&out, (uint32_t)lo, m->r[j].lo - 1);
			lo = (uint64_t)m->r[j].hi + 1;
		}
		if (r == 0 && lo <= hi)
			r = rl_add(&out, (uint32_t)lo, (uint32_t)hi);
	}
	free(l->r);
	out.v6 = l->v6;
	*l = out;
	return r;
}

static int
fail(struct ctx *c, const char *what, const char *t, size_t n)
{
	if (c->err)
		snprintf(c->err, c->errlen, "%s '%.*s'", what, (int)(n > 64 ? 64 : n), t);
	return -EINVAL;
}

int
addr_parse_ip4(const char *text, uint32_t *out)
{
	unsigned a[4];
	int i, k = 0;
	const char *p = text;

	for (i = 0; i < 4; i++) {
		unsigned v = 0;
		int d = 0;

		while (*p >= '0' && *p <= '9' && d < 4) {
			v = v * 10 + (unsigned)(*p++ - '0');
			d++;
		}
		if (d == 0 || d > 3 || v > 255)
			return -EINVAL;
		a[i] = v;
		if (i < 3 && *p++ != '.')
			return -EINVAL;
		k++;
	}
	if (*p != '\0' || k != 4)
		return -EINVAL;
	*out = a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3];
	return 0;
}

int
addr_parse_cidr(const char *text, struct range32 *out)
{
	char buf[32];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	uint32_t ip, mask;
	unsigned bits = 32;

	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, n);
	buf[n] = '\0';
	if (addr_parse_ip4(buf, &ip) < 0)
		return -EINVAL;
	if (slash) {
		char *end;
		unsigned long b;

		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		b = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || b > 32)
			return -EINVAL;
		bits = (unsigned)b;
	}
	mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
	out->lo = ip & mask;
	out->hi = out->lo | ~mask;
	return 0;
}

int
addr_parse_mac(const char *text, uint8_t mac[6])
{
	unsigned v[6];
	char tail;

	if (strlen(text) != 17 ||
	    sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

void
addr_fmt_ip4(uint32_t ip, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

void
addr_fmt_mac(const uint8_t m[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static int parse_expr(struct ctx *c, const char *t, size_t n, struct rl *out);

static void
trim(const char **t, size_t *n)
{
	while (*n && (**t == ' ' || **t == '\t')) {
		(*t)++;
		(*n)--;
	}
	while (*n && ((*t)[*n - 1] == ' ' || (*t)[*n - 1] == '\t'))
		(*n)--;
}

static int
parse_port_item(struct ctx *c, const char *t, size_t n, struct rl *out)
{
	char buf[16];
	char *colon, *end;
	unsigned long lo = 0, hi = 65535;

	if (n == 0 || n >= sizeof(buf))
		return fail(c, "bad port", t, n);
	memcpy(buf, t, n);
	buf[n] = '\0';
	colon = strchr(buf, ':');
	if (colon)
		*colon = '\0';
	if (buf[0]) {
		if (buf[0] < '0' || buf[0] > '9')
			return fail(c, "bad port", t, n);
		lo = strtoul(buf, &end, 10);
		if (*end || lo > 65535)
			return fail(c, "bad port", t, n);
	}
	if (!colon) {
		hi = lo;
	} else if (colon[1]) {
		if (colon[1] < '0' || colon[1] > '9')
			return fail(c, "bad port", t, n);
		hi = strtoul(colon + 1, &end, 10);
		if (*end || hi > 65535)
			return fail(c, "bad port", t, n);
	} else if (!buf[0]) {
		return fail(c, "bad port range", t, n);
	}
	if (lo > hi)
		return fail(c, "port range upside down", t, n);
	return rl_add(out, (uint32_t)lo, (uint32_t)hi);
}

static int
parse_addr_item(struct ctx *c, const char *t, size_t n, struct rl *out)
{
	char buf[64];
	struct range32 r;

	if (n == 0 || n >= sizeof(buf))
		return fail(c, "bad address", t, n);
	memcpy(buf, t, n);
	buf[n] = '\0';
	if (memchr(buf, ':', n)) {
		/* IPv6: accepted, never matches (IPv4 only is decoded). */
		for (size_t i = 0; i < n; i++)
			if (!strchr("0123456789abcdefABCDEF:./", buf[i]))
				return fail(c, "bad address", t, n);
		out->v6 = 1;
		return 0;
	}
	if (addr_parse_cidr(buf, &r) < 0)
		return fail(c, "bad address", t, n);
	return rl_add(out, r.lo, r.hi);
}

static int
parse_var(struct ctx *c, const char *t, size_t n, struct rl *out)
{
	char name[64];
	const char *val;
	int r;

	if (n < 2 || n - 1 >= sizeof(name))
		return fail(c, "bad variable", t, n);
	memcpy(name, t + 1, n - 1);
	name[n - 1] = '\0';
	val = c->var ? c->var(c->arg, name, c->port) : NULL;
	if (val == NULL)
		return fail(c, "unknown variable", t, n);
	if (c->depth >= ADDR_VAR_DEPTH)
		return fail(c, "variables nested too deep at", t, n);
	c->depth++;
	r = parse_expr(c, val, strlen(val), out);
	c->depth--;
	return r;
}

static int
too_complex(struct ctx *c, const char *t, size_t n)
{
	return fail(c, "address too complex with a per-network $HOME_NET:", t, n);
}

/* !S for S = (P ∪ home) \ M. */
static int
complement(struct ctx *c, struct rl *l, const char *t, size_t n)
{
	uint32_t max = c->port ? 65535 : UINT32_MAX;
	int r;

	if (l->home == ADDR_HOME_NONE)
		return rl_complement(l, max);
	if (l->n > 0)
		return too_complex(c, t, n);
	/* !(home \ M) = !home ∪ M */
	free(l->r);
	l->r = NULL;
	l->n = l->cap = 0;
	if (l->m) {
		l->r = l->m->r;
		l->n = l->m->n;
		l->cap = l->m->cap;
		free(l->m);
		l->m = NULL;
	}
	l->home = l->home == ADDR_HOME_IN ? ADDR_HOME_OUT : ADDR_HOME_IN;
	r = rl_norm(l);
	return r;
}

static int
parse_list(struct ctx *c, const char *t, size_t n, struct rl *out)
{
	struct rl pos = {0}, neg = {0};
	size_t i = 0, start = 0;
	int depth = 0, r = 0, any_pos = 0;

	for (i = 0; i <= n && r == 0; i++) {
		if (i < n && t[i] == '[')
			depth++;
		else if (i < n && t[i] == ']')
			depth--;
		if (depth < 0)
			r = fail(c, "unbalanced brackets in", t, n);
		else if (i == n || (t[i] == ',' && depth == 0)) {
			const char *e = t + start;
			size_t en = i - start;
			struct rl tmp = {0};

			trim(&e, &en);
			if (en == 0) {
				r = fail(c, "empty list element in", t, n);
			} else if (e[0] == '!') {
				r = parse_expr(c, e + 1, en - 1, &tmp);
				if (r == 0 && (tmp.home || tmp.m))
					r = too_complex(c, e, en);
				for (size_t k = 0; r == 0 && k < tmp.n; k++)
					r = rl_add(&neg, tmp.r[k].lo, tmp.r[k].hi);
				pos.v6 |= tmp.v6;
			} else {
				r = parse_expr(c, e, en, &tmp);
				if (r == 0 && tmp.m)
					r = too_complex(c, e, en);
				for (size_t k = 0; r == 0 && k < tmp.n; k++)
					r = rl_add(&pos, tmp.r[k].lo, tmp.r[k].hi);
				if (r == 0 && tmp.home) {
					if (pos.home && pos.home != tmp.home)
						pos.home = -1; /* home and not home: everything */
					else if (pos.home != -1)
						pos.home = tmp.home;
				}
				pos.v6 |= tmp.v6;
				any_pos = 1;
			}
			rl_free(&tmp);
			start = i + 1;
		}
	}
	if (r == 0 && depth != 0)
		r = fail(c, "unbalanced brackets in", t, n);
	if (r == 0 && (!any_pos || pos.home == -1)) {
		r = rl_add(&pos, 0, c->port ? 65535 : UINT32_MAX);
		pos.home = ADDR_HOME_NONE;
	}
	if (r == 0)
		r = rl_norm(&pos);
	if (r == 0)
		r = rl_norm(&neg);
	if (r == 0 && pos.home == ADDR_HOME_NONE) {
		r = rl_subtract(&pos, &neg);
		rl_free(&neg);
	} else if (r == 0 && neg.n) {
		/* subtracted when matching: home is only known then */
		pos.m = malloc(sizeof(*pos.m));
		if (!pos.m)
			r = -ENOMEM;
		else {
			*pos.m = neg;
			memset(&neg, 0, sizeof(neg));
		}
	}
	rl_free(&neg);
	if (r < 0) {
		rl_free(&pos);
		return r;
	}
	*out = pos;
	return 0;
}

static int
parse_expr(struct ctx *c, const char *t, size_t n, struct rl *out)
{
	int r;

	trim(&t, &n);
	memset(out, 0, sizeof(*out));
	if (n == 0)
		return fail(c, "empty", t, n);
	if (n == 5 && !c->port && memcmp(t, ADDR_HOME_MARK, 5) == 0) {
		out->home = ADDR_HOME_IN;
		return 0;
	}
	if (t[0] == '!') {
		r = parse_expr(c, t + 1, n - 1, out);
		if (r == 0)
			r = rl_norm(out);
		if (r == 0)
			r = complement(c, out, t, n);
	} else if (t[0] == '[') {
		if (t[n - 1] != ']')
			return fail(c, "unbalanced brackets in", t, n);
		r = parse_list(c, t + 1, n - 2, out);
	} else if (t[0] == '$') {
		r = parse_var(c, t, n, out);
	} else if (n == 3 && strncmp(t, "any", 3) == 0) {
		r = rl_add(out, 0, c->port ? 65535 : UINT32_MAX);
	} else {
		r = c->port ? parse_port_item(c, t, n, out) : parse_addr_item(c, t, n, out);
	}
	if (r == 0)
		r = rl_norm(out);
	if (r < 0) {
		rl_free(out);
		if (r == -E2BIG && c->err)
			snprintf(c->err, c->errlen, "address or port list too long");
		return -EINVAL;
	}
	return 0;
}

static int
to_ranges(struct rl *l, struct range32 **r, uint16_t *n)
{
	*r = l->r;
	*n = (uint16_t)l->n;
	l->r = NULL;
	return 0;
}

int
addr_parse(struct addrset *s, const char *text, int port, addr_var_fn var, void *arg,
	   char *err, size_t errlen)
{
	struct ctx c = {port, var, arg, err, errlen, 0};
	struct rl l;
	size_t n = strlen(text);

	memset(s, 0, sizeof(*s));
	if (n > ADDR_TEXT_MAX)
		return fail(&c, "address too long:", text, 16);
	if (parse_expr(&c, text, n, &l) < 0)
		return -EINVAL;
	s->had_v6 = (uint8_t)l.v6;
	s->home = (uint8_t)l.home;
	s->any = !l.home && l.n == 1 && l.r[0].lo == 0 && l.r[0].hi == (port ? 65535 : UINT32_MAX);
	to_ranges(&l, &s->r, &s->n);
	if (l.m)
		to_ranges(l.m, &s->m, &s->nm);
	rl_free(&l);
	return 0;
}

void
addr_free(struct addrset *s)
{
	if (s) {
		free(s->r);
		free(s->m);
		s->r = s->m = NULL;
		s->n = s->nm = 0;
	}
}

static int
ranges_have(const struct range32 *r, size_t n, uint32_t v)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (v < r[mid].lo)
			hi = mid;
		else if (v > r[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

int
addr_contains(const struct addrset *s, uint32_t v)
{
	return s->any || ranges_have(s->r, s->n, v);
}

int
addr_match(const struct addrset *s, uint32_t v, const struct addrset *home)
{
	int in;

	if (s->any)
		return 1;
	in = ranges_have(s->r, s->n, v);
	if (!in && s->home) {
		int h = home && addr_contains(home, v);

		in = s->home == ADDR_HOME_IN ? h : !h;
	}
	if (in && s->nm && ranges_have(s->m, s->nm, v))
		in = 0;
	return in;
}

int
addr_equal(const struct addrset *a, const struct addrset *b)
{
	return a->home == b->home && a->n == b->n && a->nm == b->nm &&
	       (a->n == 0 || memcmp(a->r, b->r, a->n * sizeof(*a->r)) == 0) &&
	       (a->nm == 0 || memcmp(a->m, b->m, a->nm * sizeof(*a->m)) == 0);
}
