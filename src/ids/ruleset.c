/*
 * ruleset.c - loading rules (ruleset.h): lines to rules, the skip list,
 * classtypes, flowbit names, variables; then the evaluation order and the
 * detection tables (detect_build.c).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "detect_build.h"
#include "stream.h"
#include "ruleset.h"
#include "util.h"

static const char *
var_lookup(void *arg, const char *name, int port)
{
	struct ruleset *rs = arg;

	if (rs->home_open && !port && strcmp(name, "HOME_NET") == 0)
		return ADDR_HOME_MARK;
	for (int i = 0; i < rs->nvars; i++)
		if (rs->vars[i].port == port && strcmp(rs->vars[i].name, name) == 0)
			return rs->vars[i].value;
	return NULL;
}

static const struct classtype *
class_lookup(void *arg, const char *name)
{
	struct ruleset *rs = arg;
	struct classtype *c;

	for (int i = 0; i < rs->ncls; i++)
		if (strcmp(rs->cls[i].name, name) == 0)
			return &rs->cls[i];
	/* Without a classification.config every classtype is accepted, named
	 * as itself, priority 3; with one, an unknown classtype is an error. */
	if (rs->cls_explicit || rs->ncls >= RULESET_MAX_CLASSES || strlen(name) > 128)
		return NULL;
	c = &rs->cls[rs->ncls];
	c->name = strdup(name);
	c->desc = strdup(name);
	c->priority = 3;
	if (!c->name || !c->desc) {
		free(c->name);
		free(c->desc);
		return NULL;
	}
	rs->ncls++;
	return c;
}

static int
flowbit_id(void *arg, const char *name)
{
	struct ruleset *rs = arg;
	char **v;

	for (size_t i = 0; i < rs->nfb; i++)
		if (strcmp(rs->fbnames[i], name) == 0)
			return (int)i;
	if (rs->nfb >= RULESET_MAX_FLOWBITS)
		return -1;
	v = realloc(rs->fbnames, (rs->nfb + 1) * sizeof(*v));
	if (!v)
		return -1;
	rs->fbnames = v;
	if (!(v[rs->nfb] = strdup(name)))
		return -1;
	return (int)rs->nfb++;
}

struct ruleset *
ruleset_new(const struct ids_var *vars, int nvars)
{
	struct ruleset *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return NULL;
	rs->refs = 1;
	for (int i = 0; i < nvars && i < RULESET_MAX_VARS; i++) {
		rs->vars[i].name = strdup(vars[i].name);
		rs->vars[i].value = strdup(vars[i].value);
		rs->vars[i].port = vars[i].port;
		rs->nvars++;
		if (!rs->vars[i].name || !rs->vars[i].value) {
			ruleset_put(rs);
			return NULL;
		}
	}
	return rs;
}

struct ruleset *
ruleset_new_shared(const struct ids_var *vars, int nvars)
{
	struct ruleset *rs = ruleset_new(vars, nvars);

	if (rs)
		rs->home_open = 1;
	return rs;
}

struct ruleset *
ruleset_new_child(const struct ids_var *vars, int nvars, const struct ruleset *base)
{
	struct ruleset *rs = ruleset_new_shared(vars, nvars);

	if (!rs || !base)
		return rs;
	rs->cls_explicit = base->cls_explicit;
	for (int i = 0; i < base->ncls; i++) {
		rs->cls[i].name = strdup(base->cls[i].name);
		rs->cls[i].desc = strdup(base->cls[i].desc);
		rs->cls[i].priority = base->cls[i].priority;
		rs->ncls = i + 1;
		if (!rs->cls[i].name || !rs->cls[i].desc)
			goto fail;
	}
	if (base->nfb) {
		rs->fbnames = calloc(base->nfb, sizeof(*rs->fbnames));
		if (!rs->fbnames)
			goto fail;
		for (size_t i = 0; i < base->nfb; i++) {
			if (!(rs->fbnames[i] = strdup(base->fbnames[i])))
				goto fail;
			rs->nfb = i + 1;
		}
	}
	return rs;
fail:
	ruleset_put(rs);
	return NULL;
}

struct ruleset *
ruleset_get(struct ruleset *rs)
{
	if (rs)
		rs->refs++;
	return rs;
}

void
ruleset_put(struct ruleset *rs)
{
	if (!rs || --rs->refs > 0)
		return;
	detect_free(rs->det);
	for (size_t i = 0; i < rs->nrules; i++)
		rule_free(rs->rules[i]);
	free(rs->rules);
	ruleset_vars_free(rs->vars, rs->nvars);
	for (int i = 0; i < rs->ncls; i++) {
		free(rs->cls[i].name);
		free(rs->cls[i].desc);
	}
	for (size_t i = 0; i < rs->nfb; i++)
		free(rs->fbnames[i]);
	free(rs->fbnames);
	for (size_t i = 0; i < rs->nskip; i++) {
		free(rs->skip[i].reason);
		free(rs->skip[i].where);
	}
	free(rs->skip);
	free(rs->sids);
	free(rs);
}

void
ruleset_vars_free(struct ids_var *v, int n)
{
	for (int i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
		v[i].name = v[i].value = NULL;
	}
}

static int
skip(struct ruleset *rs, uint32_t sid, const char *reason, const char *origin, unsigned line)
{
	struct skipped *s;
	char where[300];

	rs->nskip_total++;
	if (rs->nskip >= RULESET_SKIP_LIST_MAX)
		return 0;
	if (rs->nskip == rs->capskip) {
		size_t cap = rs->capskip ? rs->capskip * 2 : 64;

		s = realloc(rs->skip, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		rs->skip = s;
		rs->capskip = cap;
	}
	snprintf(where, sizeof(where), "%s:%u", origin, line);
	s = &rs->skip[rs->nskip];
	s->sid = sid;
	s->reason = strdup(reason);
	s->where = strdup(where);
	if (!s->reason || !s->where) {
		free(s->reason);
		free(s->where);
		return -ENOMEM;
	}
	rs->nskip++;
	return 0;
}

/* 1 if gid:sid was new (and is now recorded), 0 if a duplicate, -ENOMEM. */
static int
sid_claim(struct ruleset *rs, uint32_t gid, uint32_t sid)
{
	uint64_t key = (uint64_t)gid << 32 | sid | (1ull << 63);
	size_t i;

	if ((rs->nrules + 1) * 2 > rs->sidcap) {
		size_t cap = rs->sidcap ? rs->sidcap * 2 : 1024;
		uint64_t *t = calloc(cap, sizeof(*t));

		if (!t)
			return -ENOMEM;
		for (size_t k = 0; k < rs->sidcap; k++) {
			if (!rs->sids[k])
				continue;
			i = (rs->sids[k] * 0x9e3779b97f4a7c15ull) >> 20;
			while (t[i % cap])
				i++;
			t[i % cap] = rs->sids[k];
		}
		free(rs->sids);
		rs->sids = t;
		rs->sidcap = cap;
	}
	i = (key * 0x9e3779b97f4a7c15ull) >> 20;
	while (rs->sids[i % rs->sidcap]) {
		if (rs->sids[i % rs->sidcap] == key)
			return 0;
		i++;
	}
	rs->sids[i % rs->sidcap] = key;
	return 1;
}

static int
add_rule(struct ruleset *rs, const char *text, size_t len, const char *origin, unsigned line)
{
	struct rule_env env = {var_lookup, rs, class_lookup, flowbit_id};
	struct rule *r;
	uint32_t sid;
	char err[256];
	int k;

	if (rs->nrules >= RULESET_MAX_RULES)
		return skip(rs, 0, "too many rules", origin, line);
	if (rule_parse(&env, text, len, &r, &sid, err, sizeof(err)) < 0)
		return skip(rs, sid, err, origin, line);
	k = sid_claim(rs, r->gid, r->sid);
	if (k <= 0) {
		rule_free(r);
		return k < 0 ? k : skip(rs, sid, "duplicate sid", origin, line);
	}
	if (rs->nrules == rs->caprules) {
		size_t cap = rs->caprules ? rs->caprules * 2 : 256;
		struct rule **v = realloc(rs->rules, cap * sizeof(*v));

		if (!v) {
			rule_free(r);
			return -ENOMEM;
		}
		rs->rules = v;
		rs->caprules = cap;
	}
	rs->rules[rs->nrules++] = r;
	return 0;
}

int
ruleset_add_text(struct ruleset *rs, const char *text, size_t len, const char *origin)
{
	char *buf = NULL;
	size_t blen = 0, bcap = 0, i = 0;
	unsigned line = 0, first = 0;
	int r = 0;

	while (i < len && r == 0) {
		const char *eol = memchr(text + i, '\n', len - i);
		size_t n = eol ? (size_t)(eol - (text + i)) : len - i;
		const char *l = text + i;
		int cont;

		line++;
		i += n + (eol ? 1 : 0);
		while (n && (l[n - 1] == '\r' || l[n - 1] == ' ' || l[n - 1] == '\t'))
			n--;
		if (blen == 0) {
			while (n && (*l == ' ' || *l == '\t')) {
				l++;
				n--;
			}
			if (n == 0 || *l == '#')
				continue;
			first = line;
		}
		cont = n && l[n - 1] == '\\';
		if (cont)
			n--;
		if (blen + n + 1 > RULE_TEXT_MAX + 1) {
			r = skip(rs, 0, "rule longer than 64 KiB", origin, first);
			blen = 0;
			/* drop the rest of the continued rule */
			while (cont && i < len) {
				eol = memchr(text + i, '\n', len - i);
				n = eol ? (size_t)(eol - (text + i)) : len - i;
				cont = n && text[i + n - 1] == '\\';
				i += n + (eol ? 1 : 0);
				line++;
			}
			continue;
		}
		if (blen + n + 1 > bcap) {
			size_t cap = (blen + n + 1) * 2;
			char *b = realloc(buf, cap);

			if (!b) {
				r = -ENOMEM;
				break;
			}
			buf = b;
			bcap = cap;
		}
		memcpy(buf + blen, l, n);
		blen += n;
		if (cont && i < len)
			continue;
		r = add_rule(rs, buf, blen, origin, first);
		blen = 0;
	}
	free(buf);
	return r;
}

int
ruleset_add_classification(struct ruleset *rs, const char *text, size_t len)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
		char line[1024], *f[3], *s;
		int k = 0;

		if (n < sizeof(line) && n > 21 && strncmp(p, "config classification:", 22) == 0) {
			memcpy(line, p + 22, n - 22);
			line[n - 22] = '\0';
			s = line;
			while (k < 3) {
				char *c = k < 2 ? strchr(s, ',') : NULL;

				if (k < 2 && !c)
					break;
				if (c)
					*c = '\0';
				while (*s == ' ')
					s++;
				f[k++] = s;
				if (c)
					s = c + 1;
			}
			if (k == 3) {
				struct classtype *c;
				char *nm = f[0], *e = nm + strlen(nm);
				unsigned prio;

				while (e > nm && (e[-1] == ' ' || e[-1] == '\r'))
					*--e = '\0';
				e = f[2] + strlen(f[2]);
				while (e > f[2] && (e[-1] == ' ' || e[-1] == '\r'))
					*--e = '\0';
				if (util_parse_uint(f[2], 255, &prio) == 0 && *nm) {
					rs->cls_explicit = 1;
					c = NULL;
					for (int i = 0; i < rs->ncls; i++)
						if (strcmp(rs->cls[i].name, nm) == 0)
							c = &rs->cls[i];
					if (!c) {
						if (rs->ncls >= RULESET_MAX_CLASSES)
							return 0;
						c = &rs->cls[rs->ncls];
						c->name = strdup(nm);
						c->desc = NULL;
						if (!c->name)
							return -ENOMEM;
						rs->ncls++;
					}
					free(c->desc);
					if (!(c->desc = strdup(f[1])))
						return -ENOMEM;
					c->priority = (int)prio;
				}
			}
		}
		p += n + (eol ? 1 : 0);
	}
	return 0;
}

static int
rules_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 6 && strcmp(d->d_name + n - 6, ".rules") == 0 && d->d_name[0] != '.';
}

int
ruleset_load_dir(struct ruleset *rs, const char *dir, char *err, size_t errlen)
{
	struct dirent **names = NULL;
	char path[4096];
	char *text;
	size_t len;
	int n, r;

	if (util_fmt(path, sizeof(path), "%s/classification.config", dir) == 0 &&
	    util_read_file(path, 4u << 20, &text, &len) == 0) {
		r = ruleset_add_classification(rs, text, len);
		free(text);
		if (r < 0)
			return r;
	}
	n = scandir(dir, &names, rules_filter, alphasort);
	if (n < 0) {
		snprintf(err, errlen, "cannot read %s: %s", dir, strerror(errno));
		return -errno;
	}
	r = 0;
	for (int i = 0; i < n; i++) {
		if (r == 0 && util_fmt(path, sizeof(path), "%s/%s", dir, names[i]->d_name) == 0) {
			r = util_read_file(path, RULESET_FILE_MAX, &text, &len);
			if (r < 0) {
				snprintf(err, errlen, "%s: %s", path, strerror(-r));
			} else {
				r = ruleset_add_text(rs, text, len, names[i]->d_name);
				free(text);
			}
		}
		free(names[i]);
	}
	free(names);
	return r;
}

/* Evaluation order: pass rules, then those that only set flowbits, then
 * the rest, each in load order (Suricata also lets flowbit setters run
 * before the rules that test them). */
static int
order_class(const struct rule *r)
{
	int sets = 0, tests = 0;

	if (r->action == ACT_PASS)
		return 0;
	for (int i = 0; i < r->nfb; i++) {
		if (r->fb[i].cmd == FB_ISSET || r->fb[i].cmd == FB_ISNOTSET)
			tests = 1;
		else
			sets = 1;
	}
	return sets && !tests ? 1 : 2;
}

/*
 * How far back into stream data already inspected a payload match can
 * reach: the contents of its chain end to end, with the room each relative
 * one allows; a relative match with no bound reaches as far as the window
 * goes (STREAM_OVERLAP).
 */
static size_t
payload_span(const struct rule *r)
{
	size_t span = 0;

	if (r->nbufs == 0 || r->bufs[0].buf != IDS_BUF_PAYLOAD)
		return 0;
	for (int i = 0; i < r->bufs[0].n; i++) {
		const struct sm *m = &r->bufs[0].sm[i];

		if (m->type == SM_CONTENT) {
			if (m->flags & SM_WITHIN)
				span += (size_t)(m->u.c.within + (m->u.c.distance > 0 ? m->u.c.distance : 0));
			else if ((m->flags & SM_RELATIVE) && i > 0)
				return STREAM_OVERLAP;
			else
				span += m->u.c.len;
		} else if (m->type == SM_PCRE) {
			return STREAM_OVERLAP;
		}
	}
	return span;
}

int
ruleset_build(struct ruleset *rs, char *err, size_t errlen)
{
	struct rule **sorted;
	size_t k = 0;
	uint64_t t0 = util_now_ms();
	int r;

	sorted = malloc((rs->nrules ? rs->nrules : 1) * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	for (int c = 0; c <= 2; c++)
		for (size_t i = 0; i < rs->nrules; i++)
			if (order_class(rs->rules[i]) == c)
				sorted[k++] = rs->rules[i];
	free(rs->rules);
	rs->rules = sorted;
	rs->caprules = rs->nrules;
	rs->stream_overlap = 0;
	for (size_t i = 0; i < rs->nrules; i++) {
		size_t sp = payload_span(rs->rules[i]);

		if (sp > rs->stream_overlap)
			rs->stream_overlap = sp > STREAM_OVERLAP ? STREAM_OVERLAP : sp;
	}
	detect_free(rs->det);
	rs->det = NULL;
	r = detect_build(rs, &rs->det, err, errlen);
	rs->load_ms += util_now_ms() - t0;
	return r;
}

json_t *
ruleset_summary(const struct ruleset *rs)
{
	json_t *o = json_object(), *by = json_object();

	for (size_t i = 0; i < rs->nskip; i++) {
		json_t *c = json_object_get(by, rs->skip[i].reason);

		json_object_set_new(by, rs->skip[i].reason,
				    json_integer(c ? json_integer_value(c) + 1 : 1));
	}
	if (rs->nskip_total > rs->nskip)
		json_object_set_new(by, "(not listed)",
				    json_integer((json_int_t)(rs->nskip_total - rs->nskip)));
	json_object_set_new(o, "loaded", json_integer((json_int_t)rs->nrules));
	json_object_set_new(o, "skipped", json_integer((json_int_t)rs->nskip_total));
	json_object_set_new(o, "skipped_by_reason", by);
	json_object_set_new(o, "load_ms", json_integer((json_int_t)rs->load_ms));
	return o;
}

json_t *
ruleset_skip_list(const struct ruleset *rs, size_t max)
{
	json_t *a = json_array();

	for (size_t i = 0; i < rs->nskip && i < max; i++)
		json_array_append_new(a, json_pack("{s:I,s:s,s:s}", "sid", (json_int_t)rs->skip[i].sid,
						   "where", rs->skip[i].where, "reason",
						   rs->skip[i].reason));
	return a;
}

int
ruleset_default_vars(const char *home_net, struct ids_var *out, int max)
{
	static const char *const addr[] = {"HTTP_SERVERS", "SMTP_SERVERS", "SQL_SERVERS",
					   "DNS_SERVERS", "TELNET_SERVERS", "AIM_SERVERS",
					   "DC_SERVERS", "DNP3_SERVER", "DNP3_CLIENT",
					   "MODBUS_CLIENT", "MODBUS_SERVER", "ENIP_CLIENT",
					   "ENIP_SERVER"};
	static const char *const port[][2] = {
		{"HTTP_PORTS", "80"},         {"SHELLCODE_PORTS", "!80"},
		{"ORACLE_PORTS", "1521"},     {"SSH_PORTS", "22"},
		{"DNP3_PORTS", "20000"},      {"MODBUS_PORTS", "502"},
		{"FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"}, {"FTP_PORTS", "21"},
		{"GENEVE_PORTS", "6081"},     {"VXLAN_PORTS", "4789"},
		{"TEREDO_PORTS", "3544"}};
	int n = 0;

#define ADD(nm, val, pt)                                          \
	do {                                                      \
		if (n >= max)                                     \
			return -E2BIG;                            \
		out[n].name = strdup(nm);                         \
		out[n].value = strdup(val);                       \
		out[n].port = (pt);                               \
		if (!out[n].name || !out[n].value)                \
			return -ENOMEM;                           \
		n++;                                              \
	} while (0)
	ADD("HOME_NET", home_net, 0);
	ADD("EXTERNAL_NET", "!$HOME_NET", 0);
	for (size_t i = 0; i < sizeof(addr) / sizeof(addr[0]); i++)
		ADD(addr[i], "$HOME_NET", 0);
	for (size_t i = 0; i < sizeof(port) / sizeof(port[0]); i++)
		ADD(port[i][0], port[i][1], 1);
#undef ADD
	return n;
}
