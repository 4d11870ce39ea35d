/*
 * strv.h - a growable NULL-terminated array of owned strings (an argv).
 */
#ifndef CLOUDLET_STRV_H
#define CLOUDLET_STRV_H

#include <stddef.h>

struct strv {
	char **v;
	size_t n, cap;
	int failed; /* sticky: an allocation failed at some point */
};

void strv_add(struct strv *s, const char *str);
void strv_addf(struct strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strv_free(struct strv *s);
/* Joined with spaces, for logs (caller frees). */
char *strv_join(const struct strv *s);

#endif
