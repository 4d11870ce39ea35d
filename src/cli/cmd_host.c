/*
 * cmd_host.c - see cmd_host.h.
 */
#define _GNU_SOURCE
#include "cmd_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "table.h"
#include "util.h"

static void
show_host(const json_t *h)
{
	static const char *const keys[] = {"id",
					   "name",
					   "state",
					   "draining",
					   "socket",
					   "underlay_address",
					   "cpus",
					   "vcpu_capacity",
					   "used_vcpus",
					   "memory_mib",
					   "memory_budget_mib",
					   "used_memory_mib",
					   "used_disk_gib",
					   "vms",
					   "accel",
					   "agent_version",
					   "last_heartbeat",
					   "created_at",
					   NULL};

	table_print_fields(h, keys, stdout);
}

static void
show_hosts(const json_t *list)
{
	static const char *const heads[] = {"ID", "NAME", "STATE", "VMS", "VCPUS", "MEMORY_MIB",
					    "UNDERLAY", NULL};
	struct table t;
	const json_t *e;
	size_t i;

	table_init(&t, 7);
	for (i = 0; heads[i] != NULL; i++)
		table_add(&t, heads[i]);
	json_array_foreach(list, i, e)
	{
		char st[32], a[64], b[64], m[64];

		snprintf(st, sizeof(st), "%s%s", json_string_value(json_object_get(e, "state")) ?: "?",
			 json_is_true(json_object_get(e, "draining")) ? ",draining" : "");
		snprintf(a, sizeof(a), "%lld/%lld",
			 (long long)json_integer_value(json_object_get(e, "used_vcpus")),
			 (long long)json_integer_value(json_object_get(e, "vcpu_capacity")));
		snprintf(m, sizeof(m), "%lld/%lld",
			 (long long)json_integer_value(json_object_get(e, "used_memory_mib")),
			 (long long)json_integer_value(json_object_get(e, "memory_budget_mib")));
		table_add(&t, json_string_value(json_object_get(e, "id")));
		table_add(&t, json_string_value(json_object_get(e, "name")));
		table_add(&t, st);
		table_add(&t, table_value(json_object_get(e, "vms"), b, sizeof(b)));
		table_add(&t, a);
		table_add(&t, m);
		table_add(&t, json_string_value(json_object_get(e, "underlay_address")));
	}
	table_print(&t, stdout);
	table_free(&t);
}

int
cmd_host_list(struct cli *c, int argc, char **argv)
{
	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	return cli_get_show(c, "/v1/hosts", show_hosts);
}

int
cmd_host_show(struct cli *c, int argc, char **argv)
{
	char path[API_PATH_MAX];
	const char *id;

	if (args_parse(argc, argv, NULL, 0, &id, 1) < 0)
		return CLI_USAGE;
	if (cli_path(c, path, sizeof(path), "/v1/hosts/", id, NULL) < 0)
		return CLI_FAIL;
	return cli_get_show(c, path, show_host);
}

int
cmd_host_add(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {
	    {"--socket", ARG_STR},
	    {"--underlay", ARG_STR},
	};
	const char *name;
	json_t *body, *h;
	int r;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), &name, 1) < 0)
		return CLI_USAGE;
	if (!o[0].seen) {
		fprintf(stderr, "error: --socket is required\n");
		return CLI_USAGE;
	}
	body = json_pack("{s:s, s:s}", "name", name, "socket", o[0].str);
	if (body == NULL) {
		fprintf(stderr, "error: the arguments are not UTF-8 text\n");
		return CLI_FAIL;
	}
	if (o[1].seen)
		json_object_set_new(body, "underlay_address", json_string(o[1].str));
	r = api_json(&c->api, "POST", "/v1/hosts", body, &h);
	json_decref(body);
	if (r < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(h, stdout);
	else
		show_host(h);
	json_decref(h);
	return CLI_OK;
}

static int
host_action(struct cli *c, int argc, char **argv, const char *action)
{
	char path[API_PATH_MAX];
	const char *id;
	json_t *body, *h;
	int r;

	if (args_parse(argc, argv, NULL, 0, &id, 1) < 0)
		return CLI_USAGE;
	if (cli_path(c, path, sizeof(path), "/v1/hosts/", id, "/actions") < 0)
		return CLI_FAIL;
	body = json_pack("{s:s}", "action", action);
	r = api_json(&c->api, "POST", path, body, &h);
	json_decref(body);
	if (r < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(h, stdout);
	else
		show_host(h);
	json_decref(h);
	return CLI_OK;
}

int
cmd_host_drain(struct cli *c, int argc, char **argv)
{
	return host_action(c, argc, argv, "drain");
}

int
cmd_host_undrain(struct cli *c, int argc, char **argv)
{
	return host_action(c, argc, argv, "undrain");
}

int
cmd_host_remove(struct cli *c, int argc, char **argv)
{
	char path[API_PATH_MAX], *l;
	const char *id;
	json_t *j;

	if (args_parse(argc, argv, NULL, 0, &id, 1) < 0)
		return CLI_USAGE;
	if (cli_path(c, path, sizeof(path), "/v1/hosts/", id, NULL) < 0)
		return CLI_FAIL;
	if (api_json(&c->api, "DELETE", path, NULL, &j) < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(j, stdout);
	else {
		l = strdup(id);
		printf("removed host %s\n", l ? table_clean(l) : "");
		free(l);
	}
	json_decref(j);
	return CLI_OK;
}
