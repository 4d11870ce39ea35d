/* jsonv.c - see jsonv.h */
#include "jsonv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

json_t *
jsonv_unconst(const json_t *j)
{
	union {
		const json_t *c;
		json_t *m;
	} u = {.c = j};
	return u.m;
}

int
jsonv_only_fields(const json_t *j, const char *const *allowed, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	json_object_foreach(jsonv_unconst(j), key, v) {
		const char *const *a;
		int ok = 0;

		(void)v;
		for (a = allowed; *a != NULL; a++)
			ok |= strcmp(*a, key) == 0;
		if (!ok) {
			snprintf(err, errlen, "unknown field '%.64s'", key);
			return -EINVAL;
		}
	}
	return 0;
}
