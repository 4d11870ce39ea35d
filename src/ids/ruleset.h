/*
 * ruleset.h - a set of rules as a tenant network uses it: the operator's
 * rule directory (classification.config and *.rules) plus the tenant's own
 * rules, parsed with the network's variables ($HOME_NET ...).
 *
 * Loading never fails because of one rule: a rule that cannot be parsed or
 * is not supported is skipped, listed with its sid, where it was and the
 * reason, and counted by reason. ruleset_add_text() is the I/O-free push
 * entry (fuzzed); ruleset_load_dir() reads files and calls it.
 *
 * Life: ruleset_new, add/load, ruleset_build (sorts, compiles the
 * Hyperscan databases: detect_build.h), then shared read-only; reference counted
 * (ruleset_get/ruleset_put) so a reload can swap in a new set while packets
 * still hold the old one.
 */
#ifndef CLOUDLET_IDS_RULESET_H
#define CLOUDLET_IDS_RULESET_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "rule.h"

#define RULESET_MAX_RULES 200000
#define RULESET_FILE_MAX (64u << 20)  /* one .rules file */
#define RULESET_CUSTOM_MAX (1u << 20) /* a tenant's own rules */
#define RULESET_MAX_VARS 64
#define RULESET_MAX_FLOWBITS 4096
#define RULESET_MAX_CLASSES 1024
#define RULESET_SKIP_LIST_MAX 20000   /* skipped rules listed (all are counted) */

struct ids_var {
	char *name, *value;
	int port;
};

struct skipped {
	uint32_t sid;
	char *reason;
	char *where; /* "file:line" or "custom:line" */
};

struct detect;

struct ruleset {
	unsigned refs;
	struct rule **rules;
	size_t nrules, caprules;
	struct ids_var vars[RULESET_MAX_VARS];
	int nvars;
	struct classtype cls[RULESET_MAX_CLASSES];
	int ncls;
	int cls_explicit; /* a classification.config was read */
	int home_open;    /* $HOME_NET left open: shared by networks with any addresses */
	char **fbnames;
	size_t nfb;
	struct skipped *skip;
	size_t nskip, capskip, nskip_total;
	uint64_t *sids; /* open addressing: gid << 32 | sid, 0 = empty */
	size_t sidcap;
	struct detect *det;
	uint64_t load_ms;
	size_t stream_overlap; /* bytes of stream kept for matches that straddle */
};

/* vars: "NAME" = "value" pairs, address variables first (port = 0). */
struct ruleset *ruleset_new(const struct ids_var *vars, int nvars);
/* The same, but $HOME_NET is left open (addr.h): the rules match any
 * network's home set, given when matching (det_pkt.home). */
struct ruleset *ruleset_new_shared(const struct ids_var *vars, int nvars);
/* A set for a tenant's own rules next to base (not changed, not kept):
 * it starts with base's classtypes and flowbit names, so a flowbit has the
 * same number in both and one bitmap per flow serves them. */
struct ruleset *ruleset_new_child(const struct ids_var *vars, int nvars, const struct ruleset *base);
struct ruleset *ruleset_get(struct ruleset *rs);
void ruleset_put(struct ruleset *rs);

/* Rule text (any number of lines, '\' continues a line, '#' comments).
 * origin names it in the skip list. 0, or -ENOMEM. */
int ruleset_add_text(struct ruleset *rs, const char *text, size_t len, const char *origin);
/* classification.config text: "config classification: name,desc,prio". */
int ruleset_add_classification(struct ruleset *rs, const char *text, size_t len);
/* classification.config (if any) then every *.rules file, in name order. */
int ruleset_load_dir(struct ruleset *rs, const char *dir, char *err, size_t errlen);
/* Sort and compile. 0 or -errno with err. */
int ruleset_build(struct ruleset *rs, char *err, size_t errlen);

/* {"loaded": n, "skipped": n, "skipped_by_reason": {reason: n}, "load_ms": n} */
json_t *ruleset_summary(const struct ruleset *rs);
/* [{"sid":..,"where":..,"reason":..}] (at most max) */
json_t *ruleset_skip_list(const struct ruleset *rs, size_t max);

/* The default variables Suricata configurations define, given HOME_NET. */
int ruleset_default_vars(const char *home_net, struct ids_var *out, int max);
void ruleset_vars_free(struct ids_var *v, int n);

#endif
