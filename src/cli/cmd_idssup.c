/*
 * cmd_idssup.c - see cmd_idssup.h.
 */
#define _GNU_SOURCE
#include "cmd_idssup.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "table.h"
#include "util.h"

#define BASE "/v1/ids/suppressions"

/* BASE[/id][?tenant=T], each id escaped. */
static int
path_of(struct cli *c, char *buf, size_t len, const char *id, const char *tenant)
{
	char p[API_PATH_MAX], q[API_PATH_MAX + 16];

	if (id != NULL ? cli_path(c, p, sizeof(p), BASE "/", id, NULL) < 0
		       : util_fmt(p, sizeof(p), "%s", BASE) < 0)
		return -1;
	if (tenant == NULL)
		return util_fmt(buf, len, "%s", p);
	if (util_fmt(q, sizeof(q), "%s?tenant=", p) < 0)
		return -1;
	return cli_path(c, buf, len, q, tenant, NULL);
}

int
cmd_ids_sup_list(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--tenant", ARG_STR}};
	char path[API_PATH_MAX], when[32];
	json_t *list = NULL, *s;
	struct table t;
	size_t i;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), NULL, 0) < 0)
		return CLI_USAGE;
	if (path_of(c, path, sizeof(path), NULL, o[0].seen ? o[0].str : NULL) < 0 ||
	    api_json(&c->api, "GET", path, NULL, &list) < 0)
		return CLI_FAIL;
	if (c->json) {
		table_print_json(list, stdout);
		json_decref(list);
		return CLI_OK;
	}
	table_init(&t, 5);
	table_add(&t, "ID");
	table_add(&t, "SID");
	table_add(&t, "TRACK");
	table_add(&t, "IP");
	table_add(&t, "EXPIRES");
	json_array_foreach(list, i, s)
	{
		char sid[24];
		time_t ex = (time_t)json_integer_value(json_object_get(s, "expires"));
		const char *tr = json_string_value(json_object_get(s, "track"));
		const char *ip = json_string_value(json_object_get(s, "ip"));
		struct tm tm;

		snprintf(sid, sizeof(sid), "%lld:%lld",
			 (long long)json_integer_value(json_object_get(s, "gid")),
			 (long long)json_integer_value(json_object_get(s, "sid")));
		if (ex == 0 || gmtime_r(&ex, &tm) == NULL)
			snprintf(when, sizeof(when), "never");
		else
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		table_add(&t, json_string_value(json_object_get(s, "id")));
		table_add(&t, sid);
		table_add(&t, tr && tr[0] ? tr : "-");
		table_add(&t, ip && ip[0] ? ip : "-");
		table_add(&t, when);
	}
	table_print(&t, stdout);
	table_free(&t);
	json_decref(list);
	return CLI_OK;
}

int
cmd_ids_sup_add(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--gid", ARG_UINT},    {"--by-src", ARG_STR},
			      {"--by-dst", ARG_STR},  {"--ttl", ARG_UINT},
			      {"--tenant", ARG_STR}};
	char path[API_PATH_MAX];
	const char *sid;
	long long n;
	json_t *body, *out = NULL;
	int r;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), &sid, 1) < 0)
		return CLI_USAGE;
	if (args_uint(sid, &n) < 0 || (o[1].seen && o[2].seen)) {
		fprintf(stderr, "error: a rule's sid (a number), and at most one of --by-src and "
				"--by-dst\n");
		return CLI_USAGE;
	}
	body = json_pack("{s:I}", "sid", (json_int_t)n);
	if (o[0].seen)
		json_object_set_new(body, "gid", json_integer(o[0].num));
	if (o[1].seen || o[2].seen) {
		json_object_set_new(body, "track", json_string(o[1].seen ? "by_src" : "by_dst"));
		json_object_set_new(body, "ip", json_string(o[1].seen ? o[1].str : o[2].str));
	}
	if (o[3].seen)
		json_object_set_new(body, "ttl_s", json_integer(o[3].num));
	r = path_of(c, path, sizeof(path), NULL, o[4].seen ? o[4].str : NULL) < 0
		? -1
		: api_json(&c->api, "POST", path, body, &out);
	json_decref(body);
	if (r < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(out, stdout);
	else
		printf("%s: alerts of rule %lld suppressed\n",
		       json_string_value(json_object_get(out, "id")) ?: "?", n);
	json_decref(out);
	return CLI_OK;
}

int
cmd_ids_sup_delete(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--tenant", ARG_STR}};
	char path[API_PATH_MAX];
	const char *id;
	json_t *out = NULL;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), &id, 1) < 0)
		return CLI_USAGE;
	if (path_of(c, path, sizeof(path), id, o[0].seen ? o[0].str : NULL) < 0 ||
	    api_json(&c->api, "DELETE", path, NULL, &out) < 0)
		return CLI_FAIL;
	json_decref(out);
	if (!c->json)
		printf("suppression %s deleted\n", id);
	return CLI_OK;
}
