/* config.c - see config.h */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static int
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int
config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen)
{
	char *dst;

	if (strcmp(key, "url") == 0)
		dst = c->url;
	else if (strcmp(key, "token") == 0)
		dst = c->token;
	else if (strcmp(key, "pin") == 0)
		dst = c->pin;
	else {
		snprintf(err, errlen, "unknown key '%s'", key);
		return -EINVAL;
	}
	if (*value == '\0') {
		snprintf(err, errlen, "%s is empty", key);
		return -EINVAL;
	}
	/* A token goes into an HTTP header: no CR/LF smuggling. */
	if (has_ctl(value) || (dst == c->url && strchr(value, ' ') != NULL)) {
		snprintf(err, errlen, "%s contains control characters or blanks", key);
		return -EINVAL;
	}
	if (dst == c->pin && (strncmp(value, "sha256//", 8) != 0 || strchr(value, ' ') != NULL)) {
		snprintf(err, errlen, "pin must be sha256//<base64> (cloudletd pin)");
		return -EINVAL;
	}
	if (dst == c->url && strncasecmp(value, "http://", 7) != 0 &&
	    strncasecmp(value, "https://", 8) != 0) {
		snprintf(err, errlen, "url must start with http:// or https://");
		return -EINVAL;
	}
	if (util_fmt(dst, CONFIG_VALUE_MAX, "%s", value) < 0) {
		snprintf(err, errlen, "%s is longer than %d bytes", key,
			 CONFIG_VALUE_MAX - 1);
		return -EINVAL;
	}
	return 0;
}

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

int
config_parse(const char *text, struct config *c, char *err, size_t errlen)
{
	char *copy = strdup(text), *line, *save = NULL;
	char why[160];
	int lineno = 0, r = -EINVAL;

	if (copy == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* strtok_r would skip empty lines and miscount; split by hand. */
	for (line = copy; line != NULL; line = save) {
		char *eq, *key, *val;

		save = strchr(line, '\n');
		if (save != NULL)
			*save++ = '\0';
		lineno++;
		key = trim(line);
		if (*key == '\0' || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL) {
			snprintf(err, errlen, "line %d: expected key=value", lineno);
			goto out;
		}
		*eq = '\0';
		key = trim(key);
		val = trim(eq + 1);
		if (config_set(c, key, val, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "line %d: %s", lineno, why);
			goto out;
		}
	}
	r = 0;
out:
	free(copy);
	return r;
}

int
config_load(const char *path, int must_exist, struct config *c, char *err, size_t errlen)
{
	char *text = NULL, why[200];
	int r;

	r = util_read_file(path, CONFIG_FILE_MAX, &text, NULL);
	if (r == -ENOENT && !must_exist)
		return 0;
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	r = config_parse(text, c, why, sizeof(why));
	if (r < 0)
		snprintf(err, errlen, "%s: %s", path, why);
	free(text);
	return r;
}
