/* cmd_token.c - see cmd_token.h */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "cmd_token.h"
#include "table.h"
#include "util.h"

static const char *
str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void
token_row(struct table *tb, const json_t *t)
{
	table_add(tb, str(t, "id"));
	table_add(tb, str(t, "name")[0] ? str(t, "name") : "-");
	table_add(tb, str(t, "created_at"));
	table_add(tb, str(t, "last_used") ?: "never");
	table_add_time(tb, json_object_get(t, "expires_at"), "never");
}

int
cmd_token_list(struct cli *c, int argc, char **argv)
{
	static const char *const heads[] = {"ID", "NAME", "CREATED", "LAST_USED", "EXPIRES", NULL};
	struct arg_opt o[] = {{"--tenant", ARG_STR}};
	char path[API_PATH_MAX];

	if (args_parse(argc, argv, o, ARRAY_LEN(o), NULL, 0) < 0)
		return CLI_USAGE;
	if (o[0].seen ? cli_path(c, path, sizeof(path), "/v1/tokens?tenant=", o[0].str, NULL) < 0
		      : util_fmt(path, sizeof(path), "/v1/tokens") < 0)
		return CLI_FAIL;
	return cli_list(c, path, heads, token_row);
}

int
cmd_token_create(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--ttl", ARG_UINT}, {"--tenant", ARG_STR}};
	const char *name;
	json_t *body, *out = NULL;
	int r;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), &name, 1) < 0)
		return CLI_USAGE;
	body = json_pack("{s:s}", "name", name);
	if (o[0].seen)
		json_object_set_new(body, "ttl_s", json_integer(o[0].num));
	if (o[1].seen)
		json_object_set_new(body, "tenant", json_string(o[1].str));
	r = api_json(&c->api, "POST", "/v1/tokens", body, &out);
	json_decref(body);
	if (r < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(out, stdout);
	else
		printf("%s\n", str(out, "token") ?: "");
	json_decref(out);
	return CLI_OK;
}

int
cmd_token_revoke(struct cli *c, int argc, char **argv)
{
	char path[API_PATH_MAX];
	const char *id;
	json_t *j = NULL;

	if (args_parse(argc, argv, NULL, 0, &id, 1) < 0)
		return CLI_USAGE;
	if (cli_path(c, path, sizeof(path), "/v1/tokens/", id, NULL) < 0 ||
	    api_json(&c->api, "DELETE", path, NULL, &j) < 0)
		return CLI_FAIL;
	json_decref(j);
	printf("revoked %s\n", id);
	return CLI_OK;
}
