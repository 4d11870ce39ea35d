/*
 * addr.c - address and port sets (addr.h): a small recursive parser over
 * range lists; union, difference and complement on sorted disjoint ranges.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

struct rl {
	struct range32 *r;
	size_t n, cap;
	int v6;
};

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

			trim(&e, &en);
			if (en == 0)
				r = fail(c, "empty list element in", t, n);
			else if (e[0] == '!') {
				struct rl tmp = {0};

				r = parse_expr(c, e + 1, en - 1, &tmp);
				for (size_t k = 0; r == 0 && k < tmp.n; k++)
					r = rl_add(&neg, tmp.r[k].lo, tmp.r[k].hi);
				pos.v6 |= tmp.v6;
				free(tmp.r);
			} else {
				struct rl tmp = {0};

				r = parse_expr(c, e, en, &tmp);
				for (size_t k = 0; r == 0 && k < tmp.n; k++)
					r = rl_add(&pos, tmp.r[k].lo, tmp.r[k].hi);
				pos.v6 |= tmp.v6;
				any_pos = 1;
				free(tmp.r);
			}
			start = i + 1;
		}
	}
	if (r == 0 && depth != 0)
		r = fail(c, "unbalanced brackets in", t, n);
	if (r == 0 && !any_pos)
		r = rl_add(&pos, 0, c->port ? 65535 : UINT32_MAX);
	if (r == 0)
		r = rl_norm(&pos);
	if (r == 0)
		r = rl_norm(&neg);
	if (r == 0)
		r = rl_subtract(&pos, &neg);
	free(neg.r);
	if (r < 0) {
		free(pos.r);
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
	if (t[0] == '!') {
		r = parse_expr(c, t + 1, n - 1, out);
		if (r == 0)
			r = rl_norm(out);
		if (r == 0)
			r = rl_complement(out, c->port ? 65535 : UINT32_MAX);
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
		free(out->r);
		memset(out, 0, sizeof(*out));
		if (r == -E2BIG && c->err)
			snprintf(c->err, c->errlen, "address or port list too long");
		return -EINVAL;
	}
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
	s->r = l.r;
	s->n = (uint16_t)l.n;
	s->had_v6 = (uint8_t)l.v6;
	s->any = l.n == 1 && l.r[0].lo == 0 && l.r[0].hi == (port ? 65535 : UINT32_MAX);
	return 0;
}

void
addr_free(struct addrset *s)
{
	if (s) {
		free(s->r);
		s->r = NULL;
		s->n = 0;
	}
}

int
addr_contains(const struct addrset *s, uint32_t v)
{
	size_t lo = 0, hi = s->n;

	if (s->any)
		return 1;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (v < s->r[mid].lo)
			hi = mid;
		else if (v > s->r[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

int
addr_equal(const struct addrset *a, const struct addrset *b)
{
	return a->n == b->n && (a->n == 0 || memcmp(a->r, b->r, a->n * sizeof(*a->r)) == 0);
}
