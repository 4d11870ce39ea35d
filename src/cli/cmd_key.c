/* cmd_key.c - see cmd_key.h */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cmd_key.h"
#include "table.h"
#include "util.h"

#define KEY_READ_MAX (16 * 1024) /* a public key line is at most 4 KiB */

static const char *
str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void
show_key(const json_t *k)
{
	printf("id:          %s\nname:        %s\ntype:        %s (%lld bits)\n"
	       "fingerprint: %s\ncreated_at:  %s\n",
	       str(k, "id") ?: "", str(k, "name") ?: "", str(k, "type") ?: "",
	       (long long)json_integer_value(json_object_get(k, "bits")), str(k, "fingerprint") ?: "",
	       str(k, "created_at") ?: "");
}

int
cmd_key_add(struct cli *c, int argc, char **argv)
{
	const char *pos[2];
	char *text = NULL;
	size_t len = 0;
	json_t *body, *out = NULL, *line;
	int r;

	if (args_parse(argc, argv, NULL, 0, pos, 2) < 0)
		return CLI_USAGE;
	r = util_read_file(strcmp(pos[1], "-") == 0 ? "/dev/stdin" : pos[1], KEY_READ_MAX, &text,
			   &len);
	if (r < 0) {
		fprintf(stderr, "error: %s: %s\n", pos[1],
			r == -EFBIG ? "too large for a public key" : strerror(-r));
		return CLI_FAIL;
	}
	/* A private key by mistake: never sent anywhere. */
	if (strstr(text, "PRIVATE KEY") != NULL) {
		explicit_bzero(text, len);
		free(text);
		fprintf(stderr, "error: %s is a private key: give the .pub file\n", pos[1]);
		return CLI_FAIL;
	}
	line = json_stringn(text, len);
	free(text);
	if (line == NULL) {
		fprintf(stderr, "error: %s: not UTF-8 text\n", pos[1]);
		return CLI_FAIL;
	}
	body = json_pack("{s:s, s:o}", "name", pos[0], "public_key", line);
	r = api_json(&c->api, "POST", "/v1/keys", body, &out);
	json_decref(body);
	if (r < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(out, stdout);
	else
		show_key(out);
	json_decref(out);
	return CLI_OK;
}

static void
key_row(struct table *t, const json_t *k)
{
	table_add(t, str(k, "name"));
	table_add(t, str(k, "id"));
	table_add(t, str(k, "type"));
	table_add(t, str(k, "fingerprint"));
}

int
cmd_key_list(struct cli *c, int argc, char **argv)
{
	static const char *const heads[] = {"NAME", "ID", "TYPE", "FINGERPRINT", NULL};

	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	return cli_list(c, "/v1/keys", heads, key_row);
}

int
cmd_key_show(struct cli *c, int argc, char **argv)
{
	char path[API_PATH_MAX];
	const char *ref;

	if (args_parse(argc, argv, NULL, 0, &ref, 1) < 0)
		return CLI_USAGE;
	if (cli_path(c, path, sizeof(path), "/v1/keys/", ref, NULL) < 0)
		return CLI_FAIL;
	return cli_get_show(c, path, show_key);
}

int
cmd_key_delete(struct cli *c, int argc, char **argv)
{
	const char *ref;

	if (args_parse(argc, argv, NULL, 0, &ref, 1) < 0)
		return CLI_USAGE;
	return cli_delete(c, "/v1/keys/", ref, "deleted key");
}
