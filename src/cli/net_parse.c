/* net_parse.c - see net_parse.h */
#include "net_parse.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PORT_MAX 65535

/* The option of others that arg names (without "=value"), or NULL. */
static const struct arg_opt *
other_opt(const struct arg_opt *others, size_t n, const char *arg)
{
	size_t len = strcspn(arg, "="), i;

	for (i = 0; i < n; i++)
		if (strlen(others[i].name) == len &&
		    strncmp(others[i].name, arg, len) == 0)
			return &others[i];
	return NULL;
}

int
net_take_repeated(int *argc, char **argv, const struct arg_opt *others, size_t nothers,
		  const char *name, const char **vals, size_t max)
{
	size_t nlen = strlen(name), got = 0;
	int i, kept = 0, only_pos = 0;

	for (i = 0; i < *argc; i++) {
		const char *a = argv[i], *val = NULL;
		const struct arg_opt *o;

		if (only_pos || a[0] != '-' || a[1] == '\0') {
			argv[kept++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = 1;
			argv[kept++] = argv[i];
			continue;
		}
		if (strncmp(a, name, nlen) == 0 && (a[nlen] == '\0' || a[nlen] == '=')) {
			if (a[nlen] == '=')
				val = a + nlen + 1;
			else if (i + 1 < *argc)
				val = argv[++i];
			else {
				fprintf(stderr, "error: %s needs a value\n", name);
				return -EINVAL;
			}
			if (got == max) {
				fprintf(stderr, "error: %s given more than %zu times\n",
					name, max);
				return -E2BIG;
			}
			vals[got++] = val;
			continue;
		}
		argv[kept++] = argv[i];
		/* Another option's separate value stays with it. */
		o = other_opt(others, nothers, a);
		if (o != NULL && o->kind != ARG_FLAG && strchr(a, '=') == NULL &&
		    i + 1 < *argc)
			argv[kept++] = argv[++i];
	}
	*argc = kept;
	return (int)got;
}

/* A port: 1 to 65535, digits only. */
static int
one_port(const char *s, size_t len, int *out)
{
	long v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > PORT_MAX)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int
net_parse_ports(const char *s, int *min, int *max)
{
	const char *dash;
	int a, b;

	if (s == NULL || (dash = strchr(s, '-')) == NULL)
		return -EINVAL;
	if (one_port(s, (size_t)(dash - s), &a) < 0 ||
	    one_port(dash + 1, strlen(dash + 1), &b) < 0 || a > b)
		return -EINVAL;
	*min = a;
	*max = b;
	return 0;
}

static int
set_str(json_t *o, const char *key, const char *val)
{
	return json_object_set_new(o, key, json_string(val));
}

int
net_rule_body(const struct net_rule_opts *o, json_t **out, char *err, size_t errlen)
{
	json_t *b;
	int lo, hi;

	*out = NULL;
	if (o->proto == NULL)
		return snprintf(err, errlen,
				"--proto is required (tcp, udp, icmp or any)"),
		       -EINVAL;
	if (o->has_port && o->ports != NULL)
		return snprintf(err, errlen, "give --port or --ports, not both"), -EINVAL;
	if (o->ports != NULL && net_parse_ports(o->ports, &lo, &hi) < 0)
		return snprintf(
			   err, errlen,
			   "--ports must be A-B, two ports from 1 to 65535 with A <= B, "
			   "like 8000-8080"),
		       -EINVAL;
	if (o->egress && o->source != NULL)
		return snprintf(err, errlen,
				"--egress rules match --destination, not --source"),
		       -EINVAL;
	if (!o->egress && o->destination != NULL)
		return snprintf(
			   err, errlen,
			   "--destination is for --egress rules; ingress rules match "
			   "--source"),
		       -EINVAL;
	if (o->vm_id != NULL && o->network != NULL)
		return snprintf(err, errlen, "give --vm or --network, not both"), -EINVAL;

	b = json_object();
	if (b == NULL)
		return snprintf(err, errlen, "out of memory"), -EINVAL;
	if (set_str(b, "direction", o->egress ? "egress" : "ingress") < 0 ||
	    set_str(b, "action", o->deny ? "deny" : "allow") < 0 ||
	    set_str(b, "protocol", o->proto) < 0 ||
	    (o->source != NULL && set_str(b, "source", o->source) < 0) ||
	    (o->destination != NULL && set_str(b, "destination", o->destination) < 0) ||
	    (o->vm_id != NULL && set_str(b, "target_vm", o->vm_id) < 0) ||
	    (o->network != NULL && set_str(b, "target_network", o->network) < 0)) {
		json_decref(b);
		return snprintf(err, errlen, "arguments must be UTF-8 text"), -EINVAL;
	}
	if (o->has_port)
		json_object_set_new(b, "port", json_integer(o->port));
	if (o->ports != NULL) {
		json_object_set_new(b, "port_min", json_integer(lo));
		json_object_set_new(b, "port_max", json_integer(hi));
	}
	if (o->has_priority)
		json_object_set_new(b, "priority", json_integer(o->priority));
	*out = b;
	return 0;
}

const char *
net_ports_text(long long min, long long max, char *buf, size_t len)
{
	if (min <= 0 && max <= 0)
		snprintf(buf, len, "-");
	else if (max <= min)
		snprintf(buf, len, "%lld", min);
	else
		snprintf(buf, len, "%lld-%lld", min, max);
	return buf;
}
