/*
 * rulekw.c - the rule parser's lexical helpers and the keywords that make
 * matches: content and its modifiers, pcre, isdataat, byte_test,
 * byte_jump, bsize, urilen (ruleparse.h).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ruleparse.h"

int
rp_err(struct pstate *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, s->errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- small lexical helpers ---- */

char *
rp_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

int
rp_parse_int(const char *t, long min, long max, long *out)
{
	char *end;
	long v;
	int base = 10;

	t = t ? t : "";
	while (*t == ' ')
		t++;
	if (t[0] == '0' && (t[1] == 'x' || t[1] == 'X'))
		base = 16;
	if (!(isdigit((unsigned char)*t) || (*t == '-' && isdigit((unsigned char)t[1]))))
		return -EINVAL;
	errno = 0;
	v = strtol(t, &end, base);
	while (*end == ' ')
		end++;
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int
rp_parse_u64(const char *t, uint64_t *out)
{
	char *end;
	int base = 10;

	while (*t == ' ')
		t++;
	if (t[0] == '0' && (t[1] == 'x' || t[1] == 'X'))
		base = 16;
	if (!isdigit((unsigned char)*t))
		return -EINVAL;
	errno = 0;
	*out = strtoull(t, &end, base);
	while (*end == ' ')
		end++;
	return errno || *end ? -EINVAL : 0;
}

/* Split s in place at top-level commas into at most max fields. */
int
rp_split_commas(char *s, char **f, int max)
{
	int n = 0;

	for (;;) {
		char *c = strchr(s, ',');

		if (n == max)
			return -E2BIG;
		if (c)
			*c = '\0';
		f[n++] = rp_trim(s);
		if (!c)
			return n;
		s = c + 1;
	}
}

int
rp_parse_range(const char *t, struct urange *r)
{
	long a, b;
	const char *p;
	char buf[64];

	while (*t == ' ')
		t++;
	if (strlen(t) >= sizeof(buf))
		return -EINVAL;
	if ((p = strstr(t, "<>")) != NULL) {
		memcpy(buf, t, (size_t)(p - t));
		buf[p - t] = '\0';
		if (rp_parse_int(buf, 0, UINT32_MAX, &a) < 0 || rp_parse_int(p + 2, 0, UINT32_MAX, &b) < 0 ||
		    a >= b)
			return -EINVAL;
		r->op = RANGE_IN;
		r->lo = (uint32_t)a;
		r->hi = (uint32_t)b;
		return 0;
	}
	if (t[0] == '<' && t[1] == '=')
		r->op = RANGE_LE, t += 2;
	else if (t[0] == '>' && t[1] == '=')
		r->op = RANGE_GE, t += 2;
	else if (t[0] == '<')
		r->op = RANGE_LT, t++;
	else if (t[0] == '>')
		r->op = RANGE_GT, t++;
	else if (t[0] == '!')
		r->op = RANGE_NE, t++;
	else if (t[0] == '=')
		r->op = RANGE_EQ, t++;
	else
		r->op = RANGE_EQ;
	if (rp_parse_int(t, 0, UINT32_MAX, &a) < 0)
		return -EINVAL;
	r->lo = (uint32_t)a;
	return 0;
}

int
rule_content_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *len)
{
	size_t i = 0, o = 0;
	int hex = 0, nib = -1;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (hex) {
			int v;

			if (ch == '|') {
				if (nib >= 0)
					return -EINVAL;
				hex = 0;
				continue;
			}
			if (ch == ' ' || ch == '\t')
				continue;
			if (!isxdigit(ch))
				return -EINVAL;
			v = isdigit(ch) ? ch - '0' : (tolower(ch) - 'a' + 10);
			if (nib < 0) {
				nib = v;
			} else {
				if (o >= cap)
					return -E2BIG;
				out[o++] = (uint8_t)(nib << 4 | v);
				nib = -1;
			}
			continue;
		}
		if (ch == '|') {
			hex = 1;
			continue;
		}
		if (ch == '\\') {
			if (i + 1 >= n)
				return -EINVAL;
			ch = (unsigned char)s[++i];
			if (ch != '"' && ch != ';' && ch != '\\' && ch != ':' && ch != '|')
				return -EINVAL;
		} else if (ch == '"' || ch == ';') {
			return -EINVAL;
		}
		if (o >= cap)
			return -E2BIG;
		out[o++] = ch;
	}
	if (hex)
		return -EINVAL;
	*len = o;
	return 0;
}

/* A quoted value: "..." with optional leading '!'. Returns the inside. */
int
rp_unquote(struct pstate *s, char *v, int *neg, char **in, size_t *n)
{
	size_t l;

	*neg = 0;
	v = rp_trim(v);
	if (*v == '!') {
		*neg = 1;
		v = rp_trim(v + 1);
	}
	l = strlen(v);
	if (l < 2 || v[0] != '"' || v[l - 1] != '"')
		return rp_err(s, "value must be quoted: %.40s", v);
	*in = v + 1;
	*n = l - 2;
	return 0;
}

/* ---- matches ---- */

static struct psm *
new_sm(struct pstate *s, int type, int buf)
{
	struct psm *p;

	if (s->nsm >= MAX_SM) {
		rp_err(s, "too many matches (at most %d)", MAX_SM);
		return NULL;
	}
	p = &s->sm[s->nsm++];
	memset(p, 0, sizeof(*p));
	p->sm.type = (uint8_t)type;
	p->buf = (uint8_t)buf;
	if (type != SM_BSIZE && type != SM_ISDATAAT)
		s->last_match = s->nsm - 1;
	if (type == SM_CONTENT)
		s->last_content = s->nsm - 1;
	return p;
}

int
rp_kw_content(struct pstate *s, char *v)
{
	uint8_t tmp[RULE_CONTENT_MAX];
	char *in;
	size_t n, len;
	int neg, r;
	struct psm *p;

	if (!v)
		return rp_err(s, "content needs a value");
	if ((r = rp_unquote(s, v, &neg, &in, &n)) < 0)
		return r;
	r = rule_content_decode(in, n, tmp, sizeof(tmp), &len);
	if (r == -E2BIG)
		return rp_err(s, "content longer than %d bytes", RULE_CONTENT_MAX);
	if (r < 0)
		return rp_err(s, "bad content string");
	if (len == 0)
		return rp_err(s, "empty content");
	if ((p = new_sm(s, SM_CONTENT, s->sticky)) == NULL)
		return -EINVAL;
	p->sm.u.c.pat = malloc(len);
	if (!p->sm.u.c.pat)
		return rp_err(s, "out of memory");
	memcpy(p->sm.u.c.pat, tmp, len);
	p->sm.u.c.len = (uint16_t)len;
	if (neg)
		p->sm.flags |= SM_NEG;
	return 0;
}

static struct sm *
last_content(struct pstate *s, const char *kw)
{
	if (s->last_content < 0) {
		rp_err(s, "%s without a content before it", kw);
		return NULL;
	}
	return &s->sm[s->last_content].sm;
}

int
rp_kw_nocase(struct pstate *s, char *v)
{
	struct sm *c = last_content(s, "nocase");

	(void)v;
	if (!c)
		return -EINVAL;
	c->flags |= SM_NOCASE;
	for (size_t i = 0; i < c->u.c.len; i++)
		c->u.c.pat[i] = (uint8_t)tolower(c->u.c.pat[i]);
	return 0;
}

int
rp_kw_cmod(struct pstate *s, const char *kw, char *v)
{
	struct sm *c = last_content(s, kw);
	long n;

	if (!c)
		return -EINVAL;
	if (!v || rp_parse_int(v, -65535, 65535, &n) < 0)
		return rp_err(s, "%s needs a number (variables are not supported)", kw);
	if (strcmp(kw, "depth") == 0) {
		if (n <= 0)
			return rp_err(s, "depth must be positive");
		c->u.c.depth = (int32_t)n;
		c->flags |= SM_DEPTH;
	} else if (strcmp(kw, "offset") == 0) {
		if (n < 0)
			return rp_err(s, "offset must not be negative");
		c->u.c.offset = (int32_t)n;
	} else if (strcmp(kw, "distance") == 0) {
		c->u.c.distance = (int32_t)n;
		c->flags |= SM_RELATIVE;
	} else {
		if (n <= 0)
			return rp_err(s, "within must be positive");
		c->u.c.within = (int32_t)n;
		c->flags |= SM_RELATIVE | SM_WITHIN;
	}
	return 0;
}

int
rp_kw_startswith(struct pstate *s, char *v)
{
	struct sm *c = last_content(s, "startswith");

	(void)v;
	if (!c)
		return -EINVAL;
	c->u.c.offset = 0;
	c->u.c.depth = c->u.c.len;
	c->flags |= SM_DEPTH;
	return 0;
}

int
rp_kw_endswith(struct pstate *s, char *v)
{
	struct sm *c = last_content(s, "endswith");

	(void)v;
	if (!c)
		return -EINVAL;
	c->flags |= SM_ENDSWITH;
	return 0;
}

int
rp_kw_fast_pattern(struct pstate *s, char *v)
{
	struct sm *c = last_content(s, "fast_pattern");

	(void)v; /* "only" and "offset,length" narrow it; the whole content is used */
	if (!c)
		return -EINVAL;
	c->flags |= SM_FAST;
	return 0;
}

int
rp_kw_pcre(struct pstate *s, char *v)
{
	char *in, *slash, *f;
	size_t n;
	int neg, r, err, buf = s->sticky;
	uint32_t opts = 0;
	PCRE2_SIZE eoff;
	pcre2_code *re;
	struct psm *p;
	uint8_t flags = 0;

	if (!v)
		return rp_err(s, "pcre needs a value");
	if ((r = rp_unquote(s, v, &neg, &in, &n)) < 0)
		return r;
	if (n > RULE_PCRE_MAX)
		return rp_err(s, "pcre longer than %d characters", RULE_PCRE_MAX);
	if (n < 2 || in[0] != '/')
		return rp_err(s, "pcre must be /pattern/flags");
	in[n] = '\0';
	slash = strrchr(in, '/');
	if (slash == in)
		return rp_err(s, "pcre must be /pattern/flags");
	*slash = '\0';
	for (f = slash + 1; *f; f++) {
		switch (*f) {
		case 'i': opts |= PCRE2_CASELESS; break;
		case 's': opts |= PCRE2_DOTALL; break;
		case 'm': opts |= PCRE2_MULTILINE; break;
		case 'x': opts |= PCRE2_EXTENDED; break;
		case 'A': opts |= PCRE2_ANCHORED; break;
		case 'E': opts |= PCRE2_DOLLAR_ENDONLY; break;
		case 'G': opts |= PCRE2_UNGREEDY; break;
		case 'R': flags |= SM_RELATIVE; break;
		case 'U': buf = IDS_BUF_HTTP_URI; break;
		case 'I': buf = IDS_BUF_HTTP_URI_RAW; break;
		case 'P': buf = IDS_BUF_HTTP_REQ_BODY; break;
		case 'Q': buf = IDS_BUF_FILE_DATA; break;
		case 'H': buf = IDS_BUF_HTTP_HEADER; break;
		case 'D': buf = IDS_BUF_HTTP_HEADER_RAW; break;
		case 'M': buf = IDS_BUF_HTTP_METHOD; break;
		case 'C': buf = IDS_BUF_HTTP_COOKIE; break;
		case 'S': buf = IDS_BUF_HTTP_STAT_CODE; break;
		case 'Y': buf = IDS_BUF_HTTP_STAT_MSG; break;
		case 'V': buf = IDS_BUF_HTTP_UA; break;
		case 'W': buf = IDS_BUF_HTTP_HOST; break;
		case 'B': case 'O': break; /* rawbytes; the limits stay ours */
		default: return rp_err(s, "unknown pcre modifier '%c'", *f);
		}
	}
	/* \; and \" are rule-level escapes, not the pattern's. */
	{
		char *o = in;

		for (char *q = in; *q; q++) {
			if (q[0] == '\\' && (q[1] == ';' || q[1] == '"'))
				q++;
			*o++ = *q;
		}
		*o = '\0';
	}
	re = pcre2_compile((PCRE2_SPTR)(in + 1), PCRE2_ZERO_TERMINATED, opts, &err, &eoff, NULL);
	if (!re) {
		PCRE2_UCHAR msg[120];

		pcre2_get_error_message(err, msg, sizeof(msg));
		return rp_err(s, "pcre: %s at %zu", (char *)msg, (size_t)eoff);
	}
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
	if ((p = new_sm(s, SM_PCRE, buf)) == NULL) {
		pcre2_code_free(re);
		return -EINVAL;
	}
	p->sm.u.p.re = re;
	p->sm.u.p.src = strdup(in + 1);
	p->sm.flags = flags | (neg ? SM_NEG : 0);
	return p->sm.u.p.src ? 0 : rp_err(s, "out of memory");
}

int
rp_kw_isdataat(struct pstate *s, char *v)
{
	char *f[3];
	int n, neg = 0;
	long pos;
	struct psm *p;

	if (!v || (n = rp_split_commas(v, f, 3)) < 1)
		return rp_err(s, "isdataat needs a value");
	if (f[0][0] == '!') {
		neg = 1;
		f[0]++;
	}
	if (rp_parse_int(f[0], 0, 65535, &pos) < 0)
		return rp_err(s, "isdataat needs a number (variables are not supported)");
	if ((p = new_sm(s, SM_ISDATAAT, s->sticky)) == NULL)
		return -EINVAL;
	p->sm.u.d.pos = (int32_t)pos;
	if (neg)
		p->sm.flags |= SM_NEG;
	for (int i = 1; i < n; i++) {
		if (strcmp(f[i], "relative") == 0)
			p->sm.flags |= SM_RELATIVE;
		else if (strcmp(f[i], "rawbytes") != 0)
			return rp_err(s, "isdataat: unknown option %s", f[i]);
	}
	return 0;
}

static int
byte_opts(struct pstate *s, struct sm *m, char **f, int i, int n, int jump)
{
	long x;

	for (; i < n; i++) {
		if (strcmp(f[i], "relative") == 0)
			m->flags |= SM_RELATIVE;
		else if (strcmp(f[i], "big") == 0)
			m->u.b.little = 0;
		else if (strcmp(f[i], "little") == 0)
			m->u.b.little = 1;
		else if (strcmp(f[i], "string") == 0)
			m->u.b.base = m->u.b.base ? m->u.b.base : 10;
		else if (strcmp(f[i], "dec") == 0)
			m->u.b.base = 10;
		else if (strcmp(f[i], "hex") == 0)
			m->u.b.base = 16;
		else if (strcmp(f[i], "oct") == 0)
			m->u.b.base = 8;
		else if (strcmp(f[i], "dce") == 0)
			return rp_err(s, "dce byte options are not supported");
		else if (strncmp(f[i], "bitmask", 7) == 0) {
			if (rp_parse_u64(f[i] + 7, &m->u.b.bitmask) < 0 || m->u.b.bitmask == 0)
				return rp_err(s, "bad bitmask");
		} else if (jump && strcmp(f[i], "align") == 0)
			m->u.b.align = 1;
		else if (jump && strcmp(f[i], "from_beginning") == 0)
			m->u.b.from_begin = 1;
		else if (jump && strcmp(f[i], "from_end") == 0)
			m->u.b.from_end = 1;
		else if (jump && strncmp(f[i], "multiplier", 10) == 0) {
			if (rp_parse_int(f[i] + 10, 1, 65535, &x) < 0)
				return rp_err(s, "bad multiplier");
			m->u.b.multiplier = (uint32_t)x;
		} else if (jump && strncmp(f[i], "post_offset", 11) == 0) {
			if (rp_parse_int(f[i] + 11, -65535, 65535, &x) < 0)
				return rp_err(s, "bad post_offset");
			m->u.b.post_offset = (int32_t)x;
		} else
			return rp_err(s, "%s: unknown option %s", jump ? "byte_jump" : "byte_test", f[i]);
	}
	if (m->u.b.base == 0 && m->u.b.bytes > 8)
		return rp_err(s, "binary byte count above 8");
	return 0;
}

int
rp_kw_byte_test(struct pstate *s, char *v)
{
	char *f[12];
	int n;
	long x;
	struct psm *p;
	struct sm *m;
	const char *op;

	if (!v || (n = rp_split_commas(v, f, 12)) < 4)
		return rp_err(s, "byte_test needs bytes, operator, value, offset");
	if ((p = new_sm(s, SM_BYTE_TEST, s->sticky)) == NULL)
		return -EINVAL;
	m = &p->sm;
	if (rp_parse_int(f[0], 1, 10, &x) < 0)
		return rp_err(s, "byte_test: bad byte count");
	m->u.b.bytes = (uint8_t)x;
	op = f[1];
	if (op[0] == '!' && op[1] != '=' && op[1] != '\0') {
		m->u.b.neg = 1;
		op++;
	}
	if (strcmp(op, "<") == 0) m->u.b.op = BT_LT;
	else if (strcmp(op, ">") == 0) m->u.b.op = BT_GT;
	else if (strcmp(op, "=") == 0) m->u.b.op = BT_EQ;
	else if (strcmp(op, "!") == 0 || strcmp(op, "!=") == 0) m->u.b.op = BT_EQ, m->u.b.neg = 1;
	else if (strcmp(op, "&") == 0) m->u.b.op = BT_AND;
	else if (strcmp(op, "^") == 0) m->u.b.op = BT_OR;
	else if (strcmp(op, "<=") == 0) m->u.b.op = BT_LE;
	else if (strcmp(op, ">=") == 0) m->u.b.op = BT_GE;
	else return rp_err(s, "byte_test: bad operator %s", f[1]);
	if (rp_parse_u64(f[2], &m->u.b.value) < 0)
		return rp_err(s, "byte_test: bad value (variables are not supported)");
	if (rp_parse_int(f[3], -65535, 65535, &x) < 0)
		return rp_err(s, "byte_test: bad offset (variables are not supported)");
	m->u.b.offset = (int32_t)x;
	return byte_opts(s, m, f, 4, n, 0);
}

int
rp_kw_byte_jump(struct pstate *s, char *v)
{
	char *f[14];
	int n;
	long x;
	struct psm *p;
	struct sm *m;

	if (!v || (n = rp_split_commas(v, f, 14)) < 2)
		return rp_err(s, "byte_jump needs bytes, offset");
	if ((p = new_sm(s, SM_BYTE_JUMP, s->sticky)) == NULL)
		return -EINVAL;
	m = &p->sm;
	if (rp_parse_int(f[0], 1, 10, &x) < 0)
		return rp_err(s, "byte_jump: bad byte count");
	m->u.b.bytes = (uint8_t)x;
	if (rp_parse_int(f[1], -65535, 65535, &x) < 0)
		return rp_err(s, "byte_jump: bad offset (variables are not supported)");
	m->u.b.offset = (int32_t)x;
	m->u.b.multiplier = 1;
	return byte_opts(s, m, f, 2, n, 1);
}

int
rp_kw_bsize(struct pstate *s, char *v)
{
	struct psm *p;

	if (!v)
		return rp_err(s, "bsize needs a value");
	if ((p = new_sm(s, SM_BSIZE, s->sticky)) == NULL)
		return -EINVAL;
	if (rp_parse_range(v, &p->sm.u.bs) < 0)
		return rp_err(s, "bad bsize %.40s", v);
	return 0;
}

int
rp_kw_urilen(struct pstate *s, char *v)
{
	char *f[2];
	int n, buf = IDS_BUF_HTTP_URI;
	struct psm *p;

	if (!v || (n = rp_split_commas(v, f, 2)) < 1)
		return rp_err(s, "urilen needs a value");
	if (n == 2 && strcmp(f[1], "raw") == 0)
		buf = IDS_BUF_HTTP_URI_RAW;
	else if (n == 2 && strcmp(f[1], "norm") != 0)
		return rp_err(s, "urilen: unknown option %s", f[1]);
	if ((p = new_sm(s, SM_BSIZE, buf)) == NULL)
		return -EINVAL;
	s->last_match = -1;
	if (rp_parse_range(f[0], &p->sm.u.bs) < 0)
		return rp_err(s, "bad urilen %.40s", f[0]);
	return 0;
}

