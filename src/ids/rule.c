/*
 * rule.c - the rule parser (rule.h): header, then options split at
 * unescaped ';' outside quotes, each handled by its keyword's function.
 *
 * Matches (content, pcre, byte_test, byte_jump, isdataat, bsize) are
 * collected in order, each tagged with its buffer: the sticky buffer in
 * force (http.uri; ...) or a legacy modifier after it (content:..;
 * http_uri;). At the end they are grouped per buffer, the stage at which
 * the rule is evaluated is chosen and the fast pattern picked.
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

struct bufdef {
	const char *name;   /* sticky buffer, Suricata 5+ */
	const char *legacy; /* older name, or NULL */
	uint8_t buf;
	uint8_t modifier;   /* the legacy name modifies the last content */
};

static const struct bufdef bufdefs[] = {
	{"pkt_data", NULL, IDS_BUF_PAYLOAD, 0},
	{"http.uri", "http_uri", IDS_BUF_HTTP_URI, 1},
	{"http.uri.raw", "http_raw_uri", IDS_BUF_HTTP_URI_RAW, 1},
	{"http.method", "http_method", IDS_BUF_HTTP_METHOD, 1},
	{"http.request_line", "http_request_line", IDS_BUF_HTTP_REQUEST_LINE, 0},
	{"http.protocol", "http_protocol", IDS_BUF_HTTP_PROTOCOL, 0},
	{"http.host", "http_host", IDS_BUF_HTTP_HOST, 1},
	{"http.host.raw", "http_raw_host", IDS_BUF_HTTP_HOST_RAW, 1},
	{"http.user_agent", "http_user_agent", IDS_BUF_HTTP_UA, 1},
	{"http.cookie", "http_cookie", IDS_BUF_HTTP_COOKIE, 1},
	{"http.request_body", "http_client_body", IDS_BUF_HTTP_REQ_BODY, 1},
	{"http.stat_code", "http_stat_code", IDS_BUF_HTTP_STAT_CODE, 1},
	{"http.stat_msg", "http_stat_msg", IDS_BUF_HTTP_STAT_MSG, 1},
	{"http.response_line", "http_response_line", IDS_BUF_HTTP_RESPONSE_LINE, 0},
	{"http.response_body", "http_server_body", IDS_BUF_HTTP_RESP_BODY, 1},
	{"file.data", "file_data", IDS_BUF_FILE_DATA, 0},
	{"http.header", "http_header", IDS_BUF_HTTP_HEADER, 1},
	{"http.header.raw", "http_raw_header", IDS_BUF_HTTP_HEADER_RAW, 1},
	{"http.header_names", "http_header_names", IDS_BUF_HTTP_HEADER_NAMES, 0},
	{"http.start", "http_start", IDS_BUF_HTTP_START, 0},
	{"http.content_type", "http_content_type", IDS_BUF_HTTP_CONTENT_TYPE, 0},
	{"http.content_len", "http_content_len", IDS_BUF_HTTP_CONTENT_LEN, 0},
	{"http.referer", "http_referer", IDS_BUF_HTTP_REFERER, 0},
	{"http.accept", "http_accept", IDS_BUF_HTTP_ACCEPT, 0},
	{"http.accept_lang", "http_accept_lang", IDS_BUF_HTTP_ACCEPT_LANG, 0},
	{"http.accept_enc", "http_accept_enc", IDS_BUF_HTTP_ACCEPT_ENC, 0},
	{"http.connection", "http_connection", IDS_BUF_HTTP_CONNECTION, 0},
	{"http.server", "http_server", IDS_BUF_HTTP_SERVER, 0},
	{"http.location", "http_location", IDS_BUF_HTTP_LOCATION, 0},
	{"dns.query", "dns_query", IDS_BUF_DNS_QUERY, 0},
	{"tls.sni", "tls_sni", IDS_BUF_TLS_SNI, 0},
	{"dns.query (dotprefix)", NULL, IDS_BUF_DNS_QUERY_DOT, 0},
	{"tls.sni (dotprefix)", NULL, IDS_BUF_TLS_SNI_DOT, 0},
	{"http.host (dotprefix)", NULL, IDS_BUF_HTTP_HOST_DOT, 0},
	{"pkt_data (http)", NULL, IDS_BUF_HTTP_RAW, 0},
};

const char *
rule_buf_name(int buf)
{
	for (size_t i = 0; i < sizeof(bufdefs) / sizeof(bufdefs[0]); i++)
		if (bufdefs[i].buf == buf)
			return bufdefs[i].name;
	return "?";
}

int
urange_match(const struct urange *r, uint64_t v)
{
	switch (r->op) {
	case RANGE_EQ: return v == r->lo;
	case RANGE_LT: return v < r->lo;
	case RANGE_GT: return v > r->lo;
	case RANGE_LE: return v <= r->lo;
	case RANGE_GE: return v >= r->lo;
	case RANGE_NE: return v != r->lo;
	case RANGE_IN: return v > r->lo && v < r->hi;
	default: return 1;
	}
}

/* ---- rule-level keywords ---- */

static int
kw_num(struct pstate *s, const char *kw, char *v, uint32_t *out, long min)
{
	long n;

	if (!v || rp_parse_int(v, min, UINT32_MAX, &n) < 0)
		return rp_err(s, "%s needs a number", kw);
	*out = (uint32_t)n;
	return 0;
}

static int
kw_msg(struct pstate *s, char *v)
{
	char *in, *o;
	size_t n;
	int neg, r;

	if (!v)
		return rp_err(s, "msg needs a value");
	if ((r = rp_unquote(s, v, &neg, &in, &n)) < 0 || neg)
		return r < 0 ? r : rp_err(s, "bad msg");
	if (n > RULE_MSG_MAX)
		return rp_err(s, "msg longer than %d", RULE_MSG_MAX);
	free(s->r->msg);
	s->r->msg = o = malloc(n + 1);
	if (!o)
		return rp_err(s, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\\' && i + 1 < n)
			i++;
		*o++ = in[i];
	}
	*o = '\0';
	return 0;
}

static int
kw_classtype(struct pstate *s, char *v)
{
	const struct classtype *c;

	if (!v || !*rp_trim(v))
		return rp_err(s, "classtype needs a name");
	c = s->env->classtype ? s->env->classtype(s->env->arg, rp_trim(v)) : NULL;
	if (!c)
		return rp_err(s, "unknown classtype %.60s", rp_trim(v));
	s->r->cls = c;
	return 0;
}

static int
kw_flow(struct pstate *s, char *v)
{
	char *f[6];
	int n;

	if (!v || (n = rp_split_commas(v, f, 6)) < 1)
		return rp_err(s, "flow needs a value");
	for (int i = 0; i < n; i++) {
		const char *w = f[i];

		if (strcmp(w, "established") == 0) s->r->flow |= FLOW_ESTABLISHED;
		else if (strcmp(w, "not_established") == 0) s->r->flow |= FLOW_NOT_ESTABLISHED;
		else if (strcmp(w, "stateless") == 0) s->r->flow |= FLOW_STATELESS;
		else if (strcmp(w, "to_server") == 0 || strcmp(w, "from_client") == 0)
			s->r->flow |= FLOW_TO_SERVER;
		else if (strcmp(w, "to_client") == 0 || strcmp(w, "from_server") == 0)
			s->r->flow |= FLOW_TO_CLIENT;
		else if (strcmp(w, "only_stream") == 0) s->r->flow |= FLOW_ONLY_STREAM;
		else if (strcmp(w, "no_stream") == 0) s->r->flow |= FLOW_NO_STREAM;
		else if (strcmp(w, "no_frag") == 0 || strcmp(w, "only_frag") == 0) ;
		else return rp_err(s, "flow: unknown option %.40s", w);
	}
	if ((s->r->flow & (FLOW_TO_SERVER | FLOW_TO_CLIENT)) == (FLOW_TO_SERVER | FLOW_TO_CLIENT))
		return rp_err(s, "flow: to_server and to_client together");
	return 0;
}

static int
kw_flowbits(struct pstate *s, char *v)
{
	char *f[2], *name;
	int n, cmd;
	struct fbop *op, *fb;

	if (!v || (n = rp_split_commas(v, f, 2)) < 1)
		return rp_err(s, "flowbits needs a value");
	if (strcmp(f[0], "noalert") == 0 && n == 1) {
		s->r->fb_noalert = 1;
		return 0;
	}
	if (n != 2)
		return rp_err(s, "flowbits: %s needs a name", f[0]);
	if (strcmp(f[0], "set") == 0) cmd = FB_SET;
	else if (strcmp(f[0], "unset") == 0) cmd = FB_UNSET;
	else if (strcmp(f[0], "toggle") == 0) cmd = FB_TOGGLE;
	else if (strcmp(f[0], "isset") == 0) cmd = FB_ISSET;
	else if (strcmp(f[0], "isnotset") == 0) cmd = FB_ISNOTSET;
	else return rp_err(s, "flowbits: unknown command %.40s", f[0]);
	if (s->r->nfb >= RULE_FLOWBITS_MAX)
		return rp_err(s, "too many flowbits");
	fb = realloc(s->r->fb, (s->r->nfb + 1u) * sizeof(*fb));
	if (!fb)
		return rp_err(s, "out of memory");
	s->r->fb = fb;
	op = &fb[s->r->nfb++];
	memset(op, 0, sizeof(*op));
	op->cmd = (uint8_t)cmd;
	op->any = strchr(f[1], '|') != NULL;
	if (op->any && strchr(f[1], '&'))
		return rp_err(s, "flowbits: '|' and '&' together");
	name = f[1];
	for (;;) {
		char *sep = strpbrk(name, "|&");
		int id;

		if (sep)
			*sep = '\0';
		name = rp_trim(name);
		if (!*name || strlen(name) > 128)
			return rp_err(s, "flowbits: bad name");
		if (op->n >= 8)
			return rp_err(s, "flowbits: too many names");
		if (!s->env->flowbit || (id = s->env->flowbit(s->env->arg, name)) < 0)
			return rp_err(s, "too many flowbit names");
		op->id[op->n++] = (uint16_t)id;
		if (!sep)
			break;
		name = sep + 1;
	}
	if (op->n > 1 && cmd != FB_ISSET && cmd != FB_ISNOTSET)
		return rp_err(s, "flowbits: several names only with isset/isnotset");
	return 0;
}

static int
kw_threshold(struct pstate *s, char *v, int df)
{
	char *f[4];
	int n;
	struct threshold *t = df ? &s->r->df : &s->r->th;
	int have = 0;

	if (!v || (n = rp_split_commas(v, f, 4)) < 3)
		return rp_err(s, "%s needs track, count, seconds", df ? "detection_filter" : "threshold");
	t->type = df ? TH_DETECTION_FILTER : TH_NONE;
	for (int i = 0; i < n; i++) {
		char *w = f[i], *val = strchr(w, ' ');
		long x;

		if (!val)
			return rp_err(s, "threshold: bad %.40s", w);
		*val++ = '\0';
		val = rp_trim(val);
		if (strcmp(w, "type") == 0 && !df) {
			if (strcmp(val, "limit") == 0) t->type = TH_LIMIT;
			else if (strcmp(val, "threshold") == 0) t->type = TH_THRESHOLD;
			else if (strcmp(val, "both") == 0) t->type = TH_BOTH;
			else return rp_err(s, "threshold: bad type %.20s", val);
		} else if (strcmp(w, "track") == 0) {
			if (strcmp(val, "by_src") == 0) t->track = TRACK_SRC;
			else if (strcmp(val, "by_dst") == 0) t->track = TRACK_DST;
			else if (strcmp(val, "by_rule") == 0) t->track = TRACK_RULE;
			else if (strcmp(val, "by_both") == 0) t->track = TRACK_BOTH;
			else return rp_err(s, "threshold: bad track %.20s", val);
			have |= 1;
		} else if (strcmp(w, "count") == 0) {
			if (rp_parse_int(val, 1, 1000000, &x) < 0)
				return rp_err(s, "threshold: bad count");
			t->count = (uint32_t)x;
			have |= 2;
		} else if (strcmp(w, "seconds") == 0) {
			if (rp_parse_int(val, 1, 86400 * 7, &x) < 0)
				return rp_err(s, "threshold: bad seconds");
			t->seconds = (uint32_t)x;
			have |= 4;
		} else {
			return rp_err(s, "threshold: unknown option %.20s", w);
		}
	}
	if (have != 7 || t->type == TH_NONE)
		return rp_err(s, "%s needs type, track, count, seconds", df ? "detection_filter" : "threshold");
	return 0;
}

static int
kw_flags(struct pstate *s, char *v)
{
	char *f[2];
	int n;
	uint8_t bits = 0, mask = 0xff;
	const char *p;

	if (!v || (n = rp_split_commas(v, f, 2)) < 1)
		return rp_err(s, "flags needs a value");
	p = f[0];
	s->r->tcp_flags_mode = 0;
	if (*p == '+' || *p == '*' || *p == '!')
		s->r->tcp_flags_mode = (uint8_t)*p++;
	for (; *p; p++) {
		switch (*p) {
		case 'F': bits |= 0x01; break;
		case 'S': bits |= 0x02; break;
		case 'R': bits |= 0x04; break;
		case 'P': bits |= 0x08; break;
		case 'A': bits |= 0x10; break;
		case 'U': bits |= 0x20; break;
		case 'E': case '2': bits |= 0x40; break;
		case 'C': case '1': bits |= 0x80; break;
		case '0': break;
		case '+': case '*': case '!': s->r->tcp_flags_mode = (uint8_t)*p; break;
		default: return rp_err(s, "flags: bad flag '%c'", *p);
		}
	}
	if (n == 2)
		for (p = f[1]; *p; p++)
			switch (*p) {
			case 'F': mask &= (uint8_t)~0x01; break;
			case 'S': mask &= (uint8_t)~0x02; break;
			case 'R': mask &= (uint8_t)~0x04; break;
			case 'P': mask &= (uint8_t)~0x08; break;
			case 'A': mask &= (uint8_t)~0x10; break;
			case 'U': mask &= (uint8_t)~0x20; break;
			case 'E': case '2': mask &= (uint8_t)~0x40; break;
			case 'C': case '1': mask &= (uint8_t)~0x80; break;
			default: return rp_err(s, "flags: bad mask '%c'", *p);
			}
	s->r->tcp_flags = bits;
	s->r->tcp_flags_mask = mask;
	if (s->r->tcp_flags_mode == 0)
		s->r->tcp_flags_mode = '=';
	return 0;
}

static int
set_sticky(struct pstate *s, int buf)
{
	s->sticky = buf;
	s->last_content = -1;
	s->last_match = -1;
	return 0;
}

/* dotprefix: the sticky buffer's matches see "." and the buffer. */
static int
kw_dotprefix(struct pstate *s)
{
	int to;

	switch (s->sticky) {
	case IDS_BUF_DNS_QUERY: to = IDS_BUF_DNS_QUERY_DOT; break;
	case IDS_BUF_TLS_SNI: to = IDS_BUF_TLS_SNI_DOT; break;
	case IDS_BUF_HTTP_HOST: to = IDS_BUF_HTTP_HOST_DOT; break;
	default: return rp_err(s, "dotprefix on %s is not supported", rule_buf_name(s->sticky));
	}
	for (int i = 0; i < s->nsm; i++)
		if (s->sm[i].buf == s->sticky)
			s->sm[i].buf = (uint8_t)to;
	s->sticky = to;
	return 0;
}

static int
option(struct pstate *s, char *name, char *v)
{
	struct rule *r = s->r;

	for (size_t i = 0; i < sizeof(bufdefs) / sizeof(bufdefs[0]); i++) {
		const struct bufdef *d = &bufdefs[i];

		if (strcmp(name, d->name) == 0)
			return set_sticky(s, d->buf);
		if (d->legacy && strcmp(name, d->legacy) == 0) {
			if (!d->modifier)
				return set_sticky(s, d->buf);
			if (s->last_content < 0)
				return rp_err(s, "%s without a content before it", name);
			s->sm[s->last_content].buf = d->buf;
			return 0;
		}
	}
	if (strcmp(name, "dotprefix") == 0) return kw_dotprefix(s);
	if (strcmp(name, "content") == 0) return rp_kw_content(s, v);
	if (strcmp(name, "nocase") == 0) return rp_kw_nocase(s, v);
	if (strcmp(name, "depth") == 0 || strcmp(name, "offset") == 0 ||
	    strcmp(name, "distance") == 0 || strcmp(name, "within") == 0)
		return rp_kw_cmod(s, name, v);
	if (strcmp(name, "startswith") == 0) return rp_kw_startswith(s, v);
	if (strcmp(name, "endswith") == 0) return rp_kw_endswith(s, v);
	if (strcmp(name, "fast_pattern") == 0) return rp_kw_fast_pattern(s, v);
	if (strcmp(name, "rawbytes") == 0 || strcmp(name, "prefilter") == 0) return 0;
	if (strcmp(name, "pcre") == 0) return rp_kw_pcre(s, v);
	if (strcmp(name, "isdataat") == 0) return rp_kw_isdataat(s, v);
	if (strcmp(name, "byte_test") == 0) return rp_kw_byte_test(s, v);
	if (strcmp(name, "byte_jump") == 0) return rp_kw_byte_jump(s, v);
	if (strcmp(name, "bsize") == 0) return rp_kw_bsize(s, v);
	if (strcmp(name, "urilen") == 0) return rp_kw_urilen(s, v);
	if (strcmp(name, "msg") == 0) return kw_msg(s, v);
	if (strcmp(name, "sid") == 0) {
		s->have_sid = 1;
		return kw_num(s, name, v, &r->sid, 1);
	}
	if (strcmp(name, "rev") == 0) return kw_num(s, name, v, &r->rev, 0);
	if (strcmp(name, "gid") == 0) return kw_num(s, name, v, &r->gid, 0);
	if (strcmp(name, "priority") == 0) {
		uint32_t p;
		int e = kw_num(s, name, v, &p, 1);

		if (e == 0 && p > 255)
			return rp_err(s, "priority out of range");
		r->priority = (int)p;
		return e;
	}
	if (strcmp(name, "classtype") == 0) return kw_classtype(s, v);
	if (strcmp(name, "reference") == 0 || strcmp(name, "metadata") == 0 ||
	    strcmp(name, "target") == 0)
		return 0;
	if (strcmp(name, "noalert") == 0) {
		r->fb_noalert = 1;
		return 0;
	}
	if (strcmp(name, "flow") == 0) return kw_flow(s, v);
	if (strcmp(name, "flowbits") == 0) return kw_flowbits(s, v);
	if (strcmp(name, "dsize") == 0) {
		if (!v || rp_parse_range(v, &r->dsize) < 0)
			return rp_err(s, "bad dsize");
		return 0;
	}
	if (strcmp(name, "itype") == 0 || strcmp(name, "icode") == 0) {
		if (!v || rp_parse_range(v, name[1] == 't' ? &r->itype : &r->icode) < 0)
			return rp_err(s, "bad %s", name);
		return 0;
	}
	if (strcmp(name, "flags") == 0) return kw_flags(s, v);
	if (strcmp(name, "threshold") == 0) return kw_threshold(s, v, 0);
	if (strcmp(name, "detection_filter") == 0) return kw_threshold(s, v, 1);
	return rp_err(s, "unknown keyword %.40s", name);
}

/* ---- splitting ---- */

/* Next option from *pp: name and value (NUL-terminated in place). */
static int
next_option(struct pstate *s, char **pp, char **name, char **value)
{
	char *p = *pp, *start, *colon = NULL;
	int quote = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return 0;
	start = p;
	for (; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p == '"')
			quote = !quote;
		else if (*p == ':' && !colon && !quote)
			colon = p;
		else if (*p == ';' && !quote)
			break;
	}
	if (*p != ';')
		return rp_err(s, "option not ended by ';': %.40s", start);
	*p = '\0';
	*pp = p + 1;
	if (colon) {
		*colon = '\0';
		*value = rp_trim(colon + 1);
	} else {
		*value = NULL;
	}
	*name = rp_trim(start);
	if (!**name)
		return rp_err(s, "empty option");
	return 1;
}

/* Header tokens: whitespace-separated, but brackets group. */
static char *
next_token(char **pp)
{
	char *p = *pp, *start;
	int depth = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return NULL;
	start = p;
	for (; *p; p++) {
		if (*p == '[')
			depth++;
		else if (*p == ']')
			depth--;
		else if ((*p == ' ' || *p == '\t') && depth <= 0)
			break;
	}
	if (*p)
		*p++ = '\0';
	*pp = p;
	return start;
}

static int
group_matches(struct pstate *s)
{
	struct rule *r = s->r;
	int counts[IDS_BUF__N] = {0};
	int nb = 0;

	for (int i = 0; i < s->nsm; i++)
		if (counts[s->sm[i].buf]++ == 0)
			nb++;
	if (nb == 0)
		return 0;
	r->bufs = calloc((size_t)nb, sizeof(*r->bufs));
	if (!r->bufs)
		return rp_err(s, "out of memory");
	for (int b = 0; b < IDS_BUF__N; b++) {
		struct rule_buf *rb;
		int k = 0;

		if (!counts[b])
			continue;
		rb = &r->bufs[r->nbufs++];
		rb->buf = (uint8_t)b;
		rb->sm = calloc((size_t)counts[b], sizeof(*rb->sm));
		if (!rb->sm)
			return rp_err(s, "out of memory");
		for (int i = 0; i < s->nsm; i++)
			if (s->sm[i].buf == b) {
				rb->sm[k++] = s->sm[i].sm;
				memset(&s->sm[i].sm, 0, sizeof(s->sm[i].sm)); /* moved */
				s->sm[i].sm.type = SM_BSIZE;
			}
		rb->n = (uint16_t)k;
	}
	s->nsm = 0;
	return 0;
}

static int
is_http_buf(int b)
{
	return (b >= IDS_BUF_HTTP_URI && b <= IDS_BUF_HTTP_LOCATION) || b == IDS_BUF_HTTP_HOST_DOT ||
	       b == IDS_BUF_HTTP_RAW;
}

static int
is_resp_buf(int b)
{
	return b == IDS_BUF_HTTP_STAT_CODE || b == IDS_BUF_HTTP_STAT_MSG ||
	       b == IDS_BUF_HTTP_RESPONSE_LINE || b == IDS_BUF_HTTP_RESP_BODY ||
	       b == IDS_BUF_HTTP_SERVER || b == IDS_BUF_HTTP_LOCATION;
}

/* Stage, protocol consistency and the fast pattern. */
static int
finish(struct pstate *s)
{
	struct rule *r = s->r;
	int http = 0, dns = 0, tls = 0, payload = 0, resp = 0;
	int best_len = -1;

	for (int i = 0; i < r->nbufs; i++) {
		int b = r->bufs[i].buf;

		http |= is_http_buf(b);
		resp |= is_resp_buf(b);
		dns |= b == IDS_BUF_DNS_QUERY || b == IDS_BUF_DNS_QUERY_DOT;
		tls |= b == IDS_BUF_TLS_SNI || b == IDS_BUF_TLS_SNI_DOT;
		payload |= b == IDS_BUF_PAYLOAD;
	}
	if (http + dns + tls > 1)
		return rp_err(s, "buffers of two application protocols in one rule");
	if (payload && http) {
		/* Contents before the first sticky buffer of an HTTP rule look at
		 * the message as sent: match them on its line and headers. */
		struct rule_buf *pb = &r->bufs[0], tmp;

		pb->buf = IDS_BUF_HTTP_RAW;
		tmp = *pb;
		memmove(r->bufs, r->bufs + 1, (size_t)(r->nbufs - 1) * sizeof(*r->bufs));
		r->bufs[r->nbufs - 1] = tmp;
		payload = 0;
	}
	if (payload && (dns || tls))
		return rp_err(s, "payload and application buffers in one rule are not supported");
	if (http) {
		if (r->proto != PROTO_HTTP && r->proto != PROTO_TCP && r->proto != PROTO_IP)
			return rp_err(s, "http buffers need protocol http or tcp");
		r->proto = PROTO_HTTP;
		r->stage = resp || (r->flow & FLOW_TO_CLIENT) ? STAGE_HTTP_RESP : STAGE_HTTP_REQ;
		if (resp && (r->flow & FLOW_TO_SERVER))
			return rp_err(s, "response buffers with flow:to_server");
	} else if (dns) {
		if (r->proto != PROTO_DNS && r->proto != PROTO_UDP && r->proto != PROTO_IP &&
		    r->proto != PROTO_TCP)
			return rp_err(s, "dns.query needs protocol dns or udp");
		r->proto = PROTO_DNS;
		r->stage = STAGE_DNS;
	} else if (tls) {
		if (r->proto != PROTO_TLS && r->proto != PROTO_TCP && r->proto != PROTO_IP)
			return rp_err(s, "tls.sni needs protocol tls or tcp");
		r->proto = PROTO_TLS;
		r->stage = STAGE_TLS;
	} else {
		r->stage = STAGE_PACKET;
	}
	if ((r->itype.op || r->icode.op) && r->proto != PROTO_ICMP && r->proto != PROTO_IP)
		return rp_err(s, "itype/icode need protocol icmp");
	if (r->tcp_flags_mode && r->proto != PROTO_TCP && r->proto != PROTO_IP &&
	    r->proto != PROTO_HTTP && r->proto != PROTO_TLS)
		return rp_err(s, "flags needs protocol tcp");
	/* Fast pattern: the one marked, else the longest positive content. */
	r->fp_buf = -1;
	r->fp_sm = -1;
	for (int i = 0; i < r->nbufs; i++)
		for (int k = 0; k < r->bufs[i].n; k++) {
			const struct sm *m = &r->bufs[i].sm[k];
			int len;

			if (m->type != SM_CONTENT || (m->flags & SM_NEG))
				continue;
			len = m->u.c.len + ((m->flags & SM_FAST) ? 1 << 20 : 0);
			if (len > best_len) {
				best_len = len;
				r->fp_buf = (int8_t)i;
				r->fp_sm = (int16_t)k;
			}
		}
	return 0;
}

static int
parse_proto(const char *t, uint8_t *out)
{
	static const struct {
		const char *n;
		uint8_t p;
	} t_[] = {{"ip", PROTO_IP},   {"pkthdr", PROTO_IP}, {"tcp", PROTO_TCP},
		  {"udp", PROTO_UDP}, {"icmp", PROTO_ICMP}, {"http", PROTO_HTTP},
		  {"http1", PROTO_HTTP}, {"dns", PROTO_DNS}, {"tls", PROTO_TLS},
		  {"tcp-pkt", PROTO_TCP}, {"tcp-stream", PROTO_TCP}};

	for (size_t i = 0; i < sizeof(t_) / sizeof(t_[0]); i++)
		if (strcmp(t, t_[i].n) == 0) {
			*out = t_[i].p;
			return 0;
		}
	return -EINVAL;
}

/* Find "sid:N" in text without parsing the rest, for skipped rules. */
static uint32_t
scan_sid(const char *text)
{
	const char *p = text;

	while ((p = strstr(p, "sid")) != NULL) {
		const char *q = p + 3;

		if ((p == text || p[-1] == ';' || p[-1] == ' ' || p[-1] == '(') ) {
			while (*q == ' ')
				q++;
			if (*q == ':') {
				unsigned long v = strtoul(q + 1, NULL, 10);

				return v <= UINT32_MAX ? (uint32_t)v : 0;
			}
		}
		p += 3;
	}
	return 0;
}

int
rule_parse(const struct rule_env *env, const char *text, size_t len, struct rule **out,
	   uint32_t *sid_out, char *err, size_t errlen)
{
	struct pstate *s;
	struct rule *r;
	char *buf, *p, *tok[7], *name = NULL, *value = NULL, *close;
	int i, n, ret = -EINVAL;

	*out = NULL;
	*sid_out = 0;
	if (len > RULE_TEXT_MAX) {
		snprintf(err, errlen, "rule longer than %d bytes", RULE_TEXT_MAX);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	buf = malloc(len + 2);
	r = calloc(1, sizeof(*r));
	if (!s || !buf || !r) {
		snprintf(err, errlen, "out of memory");
		free(s);
		free(buf);
		free(r);
		return -ENOMEM;
	}
	buf[0] = ' ';
	memcpy(buf + 1, text, len);
	buf[len + 1] = '\0';
	if (memchr(text, '\0', len)) {
		snprintf(err, errlen, "NUL byte in rule");
		goto out;
	}
	*sid_out = scan_sid(buf + 1);
	s->env = env;
	s->r = r;
	s->err = err;
	s->errlen = errlen;
	s->last_content = s->last_match = -1;
	r->gid = 1;
	r->fp_buf = -1;
	p = strchr(buf + 1, '(');
	if (!p) {
		rp_err(s, "header must be: action proto src port -> dst port (options)");
		goto out;
	}
	*p = '\0';
	{
		char *h = buf + 1;

		for (n = 0; n < 7; n++)
			if ((tok[n] = next_token(&h)) == NULL)
				break;
		if (n != 7 || next_token(&h) != NULL) {
			rp_err(s, "header must be: action proto src port -> dst port (options)");
			goto out;
		}
	}
	close = strrchr(p + 1, ')');
	if (!close || *rp_trim(close + 1)) {
		rp_err(s, "options must end with ')'");
		goto out;
	}
	*close = '\0';
	p++;
	if (strcmp(tok[0], "alert") == 0) r->action = ACT_ALERT;
	else if (strcmp(tok[0], "drop") == 0) r->action = ACT_DROP;
	else if (strcmp(tok[0], "pass") == 0) r->action = ACT_PASS;
	else if (strncmp(tok[0], "reject", 6) == 0) r->action = ACT_REJECT;
	else {
		rp_err(s, "unknown action %.20s", tok[0]);
		goto out;
	}
	if (parse_proto(tok[1], &r->proto) < 0) {
		rp_err(s, "unsupported protocol %.20s", tok[1]);
		goto out;
	}
	if (strcmp(tok[4], "->") == 0)
		r->bidir = 0;
	else if (strcmp(tok[4], "<>") == 0)
		r->bidir = 1;
	else {
		rp_err(s, "bad direction %.10s", tok[4]);
		goto out;
	}
	if (addr_parse(&r->src, tok[2], 0, env->var, env->arg, err, errlen) < 0 ||
	    addr_parse(&r->sp, tok[3], 1, env->var, env->arg, err, errlen) < 0 ||
	    addr_parse(&r->dst, tok[5], 0, env->var, env->arg, err, errlen) < 0 ||
	    addr_parse(&r->dp, tok[6], 1, env->var, env->arg, err, errlen) < 0)
		goto out;
	for (i = 0;; i++) {
		int k = next_option(s, &p, &name, &value);

		if (k < 0)
			goto out;
		if (k == 0)
			break;
		if (i >= RULE_OPTS_MAX) {
			rp_err(s, "more than %d options", RULE_OPTS_MAX);
			goto out;
		}
		if (option(s, name, value) < 0)
			goto out;
	}
	if (!s->have_sid) {
		rp_err(s, "no sid");
		goto out;
	}
	*sid_out = r->sid;
	if (!r->msg && !(r->msg = strdup("")))
		goto out;
	if (group_matches(s) < 0 || finish(s) < 0)
		goto out;
	if (r->src.n == 0 && !r->src.home && r->src.had_v6) {
		rp_err(s, "IPv6 addresses only (the sensor decodes IPv4)");
		goto out;
	}
	if (r->dst.n == 0 && !r->dst.home && r->dst.had_v6) {
		rp_err(s, "IPv6 addresses only (the sensor decodes IPv4)");
		goto out;
	}
	*out = r;
	r = NULL;
	ret = 0;
out:
	for (i = 0; i < s->nsm; i++) {
		if (s->sm[i].sm.type == SM_CONTENT)
			free(s->sm[i].sm.u.c.pat);
		else if (s->sm[i].sm.type == SM_PCRE) {
			pcre2_code_free(s->sm[i].sm.u.p.re);
			free(s->sm[i].sm.u.p.src);
		}
	}
	rule_free(r);
	free(s);
	free(buf);
	return ret;
}

void
rule_free(struct rule *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->nbufs; i++) {
		for (int k = 0; k < r->bufs[i].n; k++) {
			struct sm *m = &r->bufs[i].sm[k];

			if (m->type == SM_CONTENT)
				free(m->u.c.pat);
			else if (m->type == SM_PCRE) {
				pcre2_code_free(m->u.p.re);
				free(m->u.p.src);
			}
		}
		free(r->bufs[i].sm);
	}
	free(r->bufs);
	free(r->fb);
	free(r->msg);
	addr_free(&r->src);
	addr_free(&r->dst);
	addr_free(&r->sp);
	addr_free(&r->dp);
	free(r);
}
