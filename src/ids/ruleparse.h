/*
 * ruleparse.h - internal to the rule parser (rule.c: the header, options,
 * rule-level keywords; rulekw.c: lexical helpers and the keywords that make
 * matches). Not for other modules: they use rule.h.
 */
#ifndef CLOUDLET_IDS_RULEPARSE_H
#define CLOUDLET_IDS_RULEPARSE_H

#include <stddef.h>

#include "rule.h"

#define MAX_SM 128

struct psm {
	struct sm sm;
	uint8_t buf;
};

struct pstate {
	const struct rule_env *env;
	struct rule *r;
	struct psm sm[MAX_SM];
	int nsm;
	int sticky;      /* current sticky buffer */
	int last_match;  /* index of the last content, pcre or byte_*; -1 none */
	int last_content;
	int have_sid;
	char *err;
	size_t errlen;
};

/* The reason into s->err; returns -EINVAL. */
int rp_err(struct pstate *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *rp_trim(char *s);
int rp_parse_int(const char *t, long min, long max, long *out);
int rp_parse_u64(const char *t, uint64_t *out);
int rp_split_commas(char *s, char **f, int max);
int rp_parse_range(const char *t, struct urange *r);
int rp_unquote(struct pstate *s, char *v, int *neg, char **in, size_t *n);

/* Keywords that add matches (v: the value, or NULL). */
int rp_kw_content(struct pstate *s, char *v);
int rp_kw_nocase(struct pstate *s, char *v);
int rp_kw_cmod(struct pstate *s, const char *kw, char *v);
int rp_kw_startswith(struct pstate *s, char *v);
int rp_kw_endswith(struct pstate *s, char *v);
int rp_kw_fast_pattern(struct pstate *s, char *v);
int rp_kw_pcre(struct pstate *s, char *v);
int rp_kw_isdataat(struct pstate *s, char *v);
int rp_kw_byte_test(struct pstate *s, char *v);
int rp_kw_byte_jump(struct pstate *s, char *v);
int rp_kw_bsize(struct pstate *s, char *v);
int rp_kw_urilen(struct pstate *s, char *v);

#endif
