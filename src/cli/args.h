/*
 * args.h - command-line options of the cloudlet CLI.
 *
 * Each command describes its options in a small array of struct arg_opt;
 * args_parse() fills it in and collects the positional arguments. Options
 * may come before, between or after the positionals; "--" ends them.
 * Strings point into argv (owned by the caller, never copied).
 */
#ifndef CLOUDLET_CLI_ARGS_H
#define CLOUDLET_CLI_ARGS_H

#include <stddef.h>

enum arg_kind {
	ARG_FLAG, /* --force */
	ARG_UINT, /* --vcpus N: a non-negative decimal integer */
	ARG_STR,  /* --service NAME */
};

struct arg_opt {
	const char *name; /* "--vcpus" */
	enum arg_kind kind;
	/* Results: */
	int seen;
	long long num;	 /* ARG_UINT */
	const char *str; /* ARG_UINT and ARG_STR: the text as given */
};

/* Largest number the client accepts; the server judges the real bounds. */
#define ARGS_UINT_MAX 9007199254740991LL /* 2^53 - 1: exact in every JSON reader */

/*
 * Parse s as a non-negative decimal integer (digits only: no sign, no
 * blanks, no hex). 0, -EINVAL (not a number) or -ERANGE (above ARGS_UINT_MAX).
 */
int args_uint(const char *s, long long *out);

/*
 * Parse argv[0..argc) against opts. Exactly npos positional arguments are
 * stored in pos[]. Returns 0, or -EINVAL after printing the reason to
 * stderr (the caller then prints its usage line and exits 2).
 */
int args_parse(int argc, char **argv, struct arg_opt *opts, size_t nopts,
	       const char **pos, size_t npos);

/* The option called name in opts (it must be there). */
struct arg_opt *args_get(struct arg_opt *opts, size_t nopts, const char *name);

#endif
