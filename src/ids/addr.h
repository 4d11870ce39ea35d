/*
 * addr.h - IPv4 address and port sets of a rule header, with the rule
 * language's lists, negation, ranges and variables.
 *
 * A set is a sorted list of disjoint inclusive ranges. "any" is the whole
 * space; "[a,!b]" is a minus b; "[!b]" is everything but b. IPv6 entries
 * are accepted and matched against nothing (the sensor decodes IPv4 only).
 * Variables are looked up through a callback, expanded at most
 * ADDR_VAR_DEPTH deep (a variable naming itself is an error, not a loop).
 *
 * $HOME_NET may be left open: a variable whose text is ADDR_HOME_MARK
 * stands for "the network's home set", known only when matching. A set is
 * then (ranges ∪ home) minus m, or (ranges ∪ not-home) minus m, which is
 * what rule sets write ($HOME_NET, $EXTERNAL_NET = !$HOME_NET, lists of
 * them and of addresses, [$EXTERNAL_NET,!a.b.c.d]); anything else is
 * refused as too complex. So one parsed rule set serves every tenant
 * network that loads the same rules, whatever its addresses.
 */
#ifndef CLOUDLET_IDS_ADDR_H
#define CLOUDLET_IDS_ADDR_H

#include <stddef.h>
#include <stdint.h>

#define ADDR_MAX_RANGES 512 /* per set, after expansion */
#define ADDR_VAR_DEPTH 8
#define ADDR_TEXT_MAX 8192

struct range32 {
	uint32_t lo, hi;
};

#define ADDR_HOME_MARK "@HOME"
enum { ADDR_HOME_NONE, ADDR_HOME_IN, ADDR_HOME_OUT };

struct addrset {
	struct range32 *r; /* owned */
	uint16_t n;
	uint8_t any;    /* the whole space: matched without a lookup */
	uint8_t had_v6; /* the text named an IPv6 address */
	uint8_t home;   /* ADDR_HOME_*: the network's home set is added (or its complement) */
	struct range32 *m; /* owned: subtracted after home is added */
	uint16_t nm;
};

/* Returns the text of a variable (without '$'), or NULL if unknown. */
typedef const char *(*addr_var_fn)(void *arg, const char *name, int port);

/* Parse an address (port = 0) or port (port = 1) expression. 0, or -EINVAL
 * with the reason in err. */
int addr_parse(struct addrset *s, const char *text, int port, addr_var_fn var, void *arg,
	       char *err, size_t errlen);
void addr_free(struct addrset *s);
/* v in the fixed ranges (ignores home and m: for sets without them). */
int addr_contains(const struct addrset *s, uint32_t v);
/* v in the set, with home the network's home set (may be NULL). */
int addr_match(const struct addrset *s, uint32_t v, const struct addrset *home);
/* Sets equal (same ranges). */
int addr_equal(const struct addrset *a, const struct addrset *b);

/* "a.b.c.d" or "a.b.c.d/n" into a host-order range: 0 or -EINVAL. */
int addr_parse_cidr(const char *text, struct range32 *out);
/* "a.b.c.d" into host order: 0 or -EINVAL. */
int addr_parse_ip4(const char *text, uint32_t *out);
/* "aa:bb:cc:dd:ee:ff": 0 or -EINVAL. */
int addr_parse_mac(const char *text, uint8_t mac[6]);
void addr_fmt_ip4(uint32_t ip, char *buf, size_t len);
void addr_fmt_mac(const uint8_t mac[6], char *buf, size_t len);

#endif
