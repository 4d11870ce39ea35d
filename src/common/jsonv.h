/*
 * jsonv.h - checks shared by every parser of JSON input (the agent's spec,
 * cloudletd's request bodies): unknown fields are refused, never ignored.
 */
#ifndef CLOUDLET_JSONV_H
#define CLOUDLET_JSONV_H

#include <jansson.h>
#include <stddef.h>

/* jansson's iterators are not const-correct; for read-only iteration. */
json_t *jsonv_unconst(const json_t *j);

/* 0, or -EINVAL with "unknown field '<key>'" in err for a key of j that is
 * not in the NULL-terminated list allowed. */
int jsonv_only_fields(const json_t *j, const char *const *allowed, char *err,
		      size_t errlen);

#endif
