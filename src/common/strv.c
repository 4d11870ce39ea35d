/* strv.c - see strv.h */
#define _GNU_SOURCE
#include "strv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
push(struct strv *s, char *str)
{
	if (str == NULL) {
		s->failed = 1;
		return;
	}
	if (s->n + 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **nv = realloc(s->v, cap * sizeof(*nv));

		if (nv == NULL) {
			free(str);
			s->failed = 1;
			return;
		}
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

void
strv_add(struct strv *s, const char *str)
{
	push(s, strdup(str));
}

void
strv_addf(struct strv *s, const char *fmt, ...)
{
	va_list ap;
	char *str;

	va_start(ap, fmt);
	if (vasprintf(&str, fmt, ap) < 0)
		str = NULL;
	va_end(ap);
	push(s, str);
}

void
strv_free(struct strv *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

char *
strv_join(const struct strv *s)
{
	size_t i, len = 1;
	char *out, *p;

	for (i = 0; i < s->n; i++)
		len += strlen(s->v[i]) + 1;
	out = malloc(len);
	if (out == NULL)
		return NULL;
	p = out;
	for (i = 0; i < s->n; i++) {
		size_t l = strlen(s->v[i]);

		memcpy(p, s->v[i], l);
		p += l;
		*p++ = i + 1 < s->n ? ' ' : '\0';
	}
	if (s->n == 0)
		*p = '\0';
	return out;
}
