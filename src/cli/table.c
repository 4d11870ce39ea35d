/* table.c - see table.h */
#define _GNU_SOURCE
#include "table.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
table_init(struct table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

char *
table_clean(char *s)
{
	char *p;

	for (p = s; p != NULL && *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return s;
}

void
table_add(struct table *t, const char *cell)
{
	size_t n = t->cells.n;

	strv_add(&t->cells, cell != NULL && *cell != '\0' ? cell : "-");
	if (t->cells.n > n)
		table_clean(t->cells.v[n]);
}

void
table_addf(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s == NULL) {
		t->cells.failed = 1;
		return;
	}
	table_add(t, s);
	free(s);
}

size_t
table_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

int
table_print(const struct table *t, FILE *f)
{
	size_t *width, i, c;

	if (t->cells.failed || t->ncols == 0)
		return -ENOMEM;
	width = calloc(t->ncols, sizeof(*width));
	if (width == NULL)
		return -ENOMEM;
	for (i = 0; i < t->cells.n; i++) {
		size_t w = table_width(t->cells.v[i]);

		if (w > width[i % t->ncols])
			width[i % t->ncols] = w;
	}
	for (i = 0; i < t->cells.n; i += t->ncols) {
		for (c = 0; c < t->ncols && i + c < t->cells.n; c++) {
			const char *s = t->cells.v[i + c];
			int last = c + 1 == t->ncols || i + c + 1 == t->cells.n;

			fputs(s, f);
			if (!last)
				fprintf(f, "%*s", (int)(width[c] - table_width(s) + 2),
					"");
		}
		fputc('\n', f);
	}
	free(width);
	return 0;
}

void
table_free(struct table *t)
{
	strv_free(&t->cells);
}

const char *
table_value(const json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%g", json_real_value(v));
	else if (json_is_true(v))
		snprintf(buf, len, "yes");
	else if (json_is_false(v))
		snprintf(buf, len, "no");
	else if (json_is_array(v) || json_is_object(v)) {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		snprintf(buf, len, "%s", s ? s : "?");
		free(s);
	} else
		snprintf(buf, len, "-");
	return buf;
}

void
table_print_fields(const json_t *obj, const char *const *keys, FILE *f)
{
	size_t w = 0, i;

	for (i = 0; keys[i] != NULL; i++)
		if (json_object_get(obj, keys[i]) != NULL && strlen(keys[i]) > w)
			w = strlen(keys[i]);
	for (i = 0; keys[i] != NULL; i++) {
		const json_t *v = json_object_get(obj, keys[i]);
		char buf[512], *s;

		if (v == NULL || (json_is_string(v) && json_string_length(v) == 0))
			continue;
		s = strdup(table_value(v, buf, sizeof(buf)));
		fprintf(f, "%s:%*s %s\n", keys[i], (int)(w - strlen(keys[i])), "",
			s ? table_clean(s) : "?");
		free(s);
	}
}

void
table_print_json(const json_t *j, FILE *f)
{
	char *s;

	if (j == NULL)
		return;
	s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
	if (s != NULL)
		fprintf(f, "%s\n", s);
	free(s);
}

void
table_add_time(struct table *t, const json_t *unix_s, const char *none)
{
	time_t s = (time_t)json_integer_value(unix_s);
	char when[32];
	struct tm tm;

	if (!json_is_integer(unix_s) || s <= 0 || gmtime_r(&s, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		table_add(t, none);
		return;
	}
	table_add(t, when);
}
