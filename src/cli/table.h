/*
 * table.h - aligned columns for people, and the other ways the CLI shows
 * what the server said.
 *
 * Cells are copied; text that came from the server is made safe for a
 * terminal (control characters become '?') so that a name or a message
 * cannot move the cursor or change the terminal's state.
 */
#ifndef CLOUDLET_CLI_TABLE_H
#define CLOUDLET_CLI_TABLE_H

#include <jansson.h>
#include <stdio.h>

#include "strv.h"

struct table {
	size_t ncols;
	struct strv cells; /* row-major; the first row is the header */
};

void table_init(struct table *t, size_t ncols);
/* Add one cell (NULL shows as "-"). Rows fill left to right. */
void table_add(struct table *t, const char *cell);
void table_addf(struct table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Print with columns two blanks apart: 0, or -ENOMEM if a cell was lost. */
int table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

/* Replace control characters in s (in place) with '?'; returns s. */
char *table_clean(char *s);

/* Display width of UTF-8 text (code points; good enough for names). */
size_t table_width(const char *s);

/* A cell for a unix time in seconds (UTC, RFC 3339), or none when the
 * value is not a positive integer ("never", "-"). */
void table_add_time(struct table *t, const json_t *unix_s, const char *none);

/* A JSON value as short text into buf: strings as is, numbers, yes/no, "-". */
const char *table_value(const json_t *v, char *buf, size_t len);

/*
 * "label: value" lines for the members of obj named in keys (NULL ends
 * keys), labels padded to one width, members absent or "" skipped.
 */
void table_print_fields(const json_t *obj, const char *const *keys, FILE *f);

/* The response body for --json: indented, or nothing for an empty body. */
void table_print_json(const json_t *j, FILE *f);

#endif
