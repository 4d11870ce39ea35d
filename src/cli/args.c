/* args.c - see args.h */
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int
args_uint(const char *s, long long *out)
{
	long long v = 0;
	const char *p;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (v > (ARGS_UINT_MAX - (*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return 0;
}

struct arg_opt *
args_get(struct arg_opt *opts, size_t nopts, const char *name)
{
	size_t i;

	for (i = 0; i < nopts; i++)
		if (strcmp(opts[i].name, name) == 0)
			return &opts[i];
	return NULL;
}

/* "--name=value" or "--name": the option and, for the first form, the value. */
static struct arg_opt *
lookup(struct arg_opt *opts, size_t nopts, const char *arg, const char **inline_val)
{
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg), i;

	*inline_val = eq ? eq + 1 : NULL;
	for (i = 0; i < nopts; i++)
		if (strlen(opts[i].name) == len && strncmp(opts[i].name, arg, len) == 0)
			return &opts[i];
	return NULL;
}

int
args_parse(int argc, char **argv, struct arg_opt *opts, size_t nopts, const char **pos,
	   size_t npos)
{
	size_t got = 0;
	int i, only_pos = 0;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *val;
		struct arg_opt *o;

		if (!only_pos && strcmp(a, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (only_pos || a[0] != '-' || a[1] == '\0') {
			if (got == npos) {
				fprintf(stderr, "error: unexpected argument '%s'\n", a);
				return -EINVAL;
			}
			pos[got++] = a;
			continue;
		}
		o = lookup(opts, nopts, a, &val);
		if (o == NULL) {
			fprintf(stderr, "error: unknown option '%s'\n", a);
			if (strncmp(a, "--json", 6) == 0 || strncmp(a, "--url", 5) == 0 ||
			    strncmp(a, "--token", 7) == 0)
				fprintf(stderr,
					"hint: global options go before the command "
					"(cloudlet --json vm list)\n");
			return -EINVAL;
		}
		if (o->seen) {
			fprintf(stderr, "error: %s given twice\n", o->name);
			return -EINVAL;
		}
		o->seen = 1;
		if (o->kind == ARG_FLAG) {
			if (val != NULL) {
				fprintf(stderr, "error: %s takes no value\n", o->name);
				return -EINVAL;
			}
			continue;
		}
		if (val == NULL) {
			if (i + 1 >= argc) {
				fprintf(stderr, "error: %s needs a value\n", o->name);
				return -EINVAL;
			}
			val = argv[++i];
		}
		o->str = val;
		if (o->kind == ARG_UINT && args_uint(val, &o->num) < 0) {
			fprintf(stderr,
				"error: %s must be a non-negative integer, not '%s'\n",
				o->name, val);
			return -EINVAL;
		}
	}
	if (got != npos) {
		fprintf(stderr, "error: missing argument\n");
		return -EINVAL;
	}
	return 0;
}
