/*
 * net_parse.h - the pure parts of the network commands (cmd_net.c,
 * cmd_firewall.c, cmd_address.c): repeatable options, port ranges, the
 * body of a firewall rule, and how ports are shown. No I/O but the
 * messages some of them print to stderr.
 */
#ifndef CLOUDLET_CLI_NET_PARSE_H
#define CLOUDLET_CLI_NET_PARSE_H

#include <jansson.h>
#include <stddef.h>

#include "args.h"

/*
 * Take every "NAME VALUE" and "NAME=VALUE" out of argv[0..*argc) (name is
 * "--network") and store the values in vals[0..max); the other arguments
 * stay, in order, and *argc shrinks. others are the command's remaining
 * options: a value that follows one of them (not a flag, no '=') is that
 * option's value, never a match, as args_parse() would read it. Nothing
 * after "--" is taken. Returns how many values, or -EINVAL (NAME without
 * a value) / -E2BIG (more than max), after printing why to stderr.
 */
int net_take_repeated(int *argc, char **argv, const struct arg_opt *others,
		      size_t nothers, const char *name, const char **vals, size_t max);

/*
 * "A-B" into *min and *max: two decimal ports from 1 to 65535, A <= B
 * ("80-80" is one port). 0 or -EINVAL; nothing is written on failure.
 */
int net_parse_ports(const char *s, int *min, int *max);

/* What `firewall rule add` was given (after args_parse). */
struct net_rule_opts {
	int egress, deny;
	const char *proto; /* --proto, required */
	int has_port;	   /* --port N */
	long long port;
	const char *ports;	 /* --ports A-B, or NULL */
	const char *source;	 /* --source CIDR (ingress), or NULL */
	const char *destination; /* --destination CIDR (egress), or NULL */
	const char *vm_id;	 /* --vm, already resolved to an id, or NULL */
	const char *network;	 /* --network NAME-or-ID, or NULL */
	int has_priority;	 /* --priority N */
	long long priority;
};

/*
 * The POST /v1/firewall/rules body for o. The client refuses only what
 * the options cannot mean (no --proto, --port with --ports, --ports not
 * A-B, --source with --egress or --destination without it, --vm with
 * --network); numbers and CIDRs are the server's to judge. Returns 0 and
 * *out (a new object), or -EINVAL with the reason in err.
 */
int net_rule_body(const struct net_rule_opts *o, json_t **out, char *err, size_t errlen);

/* A rule's ports for people: "-" (none: every port), "80", "8000-8080". */
const char *net_ports_text(long long min, long long max, char *buf, size_t len);

#endif
