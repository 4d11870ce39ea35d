/*
 * cmd_tenant.c - tenants, their tokens and quotas (operator routes).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "table.h"
#include "util.h"

static void
show_tenant(const json_t *t)
{
	static const char *const keys[] = {"id", "name", "created_at", NULL};

	table_print_fields(t, keys, stdout);
}

static void
show_tenants(const json_t *list)
{
	struct table t;
	const json_t *e;
	size_t i;

	table_init(&t, 3);
	table_add(&t, "ID");
	table_add(&t, "NAME");
	table_add(&t, "CREATED");
	json_array_foreach(list, i, e)
	{
		table_add(&t, json_string_value(json_object_get(e, "id")));
		table_add(&t, json_string_value(json_object_get(e, "name")));
		table_add(&t, json_string_value(json_object_get(e, "created_at")));
	}
	table_print(&t, stdout);
	table_free(&t);
}

/* Commands that take exactly one positional argument and no options. */
static int
one_arg(int argc, char **argv, const char **arg)
{
	return args_parse(argc, argv, NULL, 0, arg, 1) < 0 ? -1 : 0;
}

int
cmd_tenant_create(struct cli *c, int argc, char **argv)
{
	const char *name;
	json_t *body, *t;
	int r;

	if (one_arg(argc, argv, &name) < 0)
		return CLI_USAGE;
	body = json_pack("{s:s}", "name", name);
	if (body == NULL) {
		fprintf(stderr, "error: the name is not UTF-8 text\n");
		return CLI_FAIL;
	}
	r = api_json(&c->api, "POST", "/v1/tenants", body, &t);
	json_decref(body);
	if (r < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(t, stdout);
	else
		show_tenant(t);
	json_decref(t);
	return CLI_OK;
}

int
cmd_tenant_list(struct cli *c, int argc, char **argv)
{
	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	return cli_get_show(c, "/v1/tenants", show_tenants);
}

int
cmd_tenant_show(struct cli *c, int argc, char **argv)
{
	char path[API_PATH_MAX];
	const char *id;

	if (one_arg(argc, argv, &id) < 0)
		return CLI_USAGE;
	if (cli_path(c, path, sizeof(path), "/v1/tenants/", id, NULL) < 0)
		return CLI_FAIL;
	return cli_get_show(c, path, show_tenant);
}

int
cmd_tenant_delete(struct cli *c, int argc, char **argv)
{
	char path[API_PATH_MAX], *l;
	const char *id;
	json_t *j;

	if (one_arg(argc, argv, &id) < 0)
		return CLI_USAGE;
	if (cli_path(c, path, sizeof(path), "/v1/tenants/", id, NULL) < 0)
		return CLI_FAIL;
	if (api_json(&c->api, "DELETE", path, NULL, &j) < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(j, stdout); /* 204: nothing */
	else {
		l = strdup(id);
		printf("deleted tenant %s\n", l ? table_clean(l) : "");
		free(l);
	}
	json_decref(j);
	return CLI_OK;
}

int
cmd_tenant_token(struct cli *c, int argc, char **argv)
{
	char path[API_PATH_MAX];
	const char *id, *tok;
	char *tid, *tenant;
	json_t *body = json_object(), *j = NULL;
	int r = CLI_FAIL;

	if (one_arg(argc, argv, &id) < 0) {
		json_decref(body);
		return CLI_USAGE;
	}
	/* The route has no request body; an empty object is the least surprising one. */
	if (cli_path(c, path, sizeof(path), "/v1/tenants/", id, "/tokens") < 0 ||
	    api_json(&c->api, "POST", path, body, &j) < 0)
		goto out;
	if (c->json) {
		table_print_json(j, stdout);
		r = CLI_OK;
		goto out;
	}
	tok = json_string_value(json_object_get(j, "token"));
	if (tok == NULL) {
		fprintf(stderr, "error: the answer holds no token\n");
		goto out;
	}
	/* Only the secret on stdout, so that TOKEN=$(cloudlet tenant token ID) works. */
	printf("%s\n", tok);
	tid = strdup(json_string_value(json_object_get(j, "id")) ?: "?");
	tenant = strdup(id);
	fprintf(stderr, "token %s for tenant %s: it is shown only this once\n",
		tid ? table_clean(tid) : "?", tenant ? table_clean(tenant) : "?");
	free(tid);
	free(tenant);
	r = CLI_OK;
out:
	json_decref(body);
	json_decref(j);
	return r;
}

static void
show_quota(const json_t *q)
{
	static const struct {
		const char *name, *limit, *used;
	} rows[] = {
	    {"vcpus", "max_vcpus", "vcpus"},
	    {"memory_mib", "max_memory_mib", "memory_mib"},
	    {"disk_gib", "max_disk_gib", "disk_gib"},
	    {"vms", "max_vms", "vms"},
	};
	const json_t *used = json_object_get(q, "used");
	struct table t;
	size_t i;

	table_init(&t, 3);
	table_add(&t, "RESOURCE");
	table_add(&t, "USED");
	table_add(&t, "LIMIT");
	for (i = 0; i < ARRAY_LEN(rows); i++) {
		char a[64], b[64];

		table_add(&t, rows[i].name);
		table_add(&t,
			  table_value(json_object_get(used, rows[i].used), a, sizeof(a)));
		table_add(&t,
			  table_value(json_object_get(q, rows[i].limit), b, sizeof(b)));
	}
	table_print(&t, stdout);
	table_free(&t);
}

int
cmd_quota_show(struct cli *c, int argc, char **argv)
{
	char path[API_PATH_MAX];
	const char *id;

	if (one_arg(argc, argv, &id) < 0)
		return CLI_USAGE;
	if (cli_path(c, path, sizeof(path), "/v1/tenants/", id, "/quota") < 0)
		return CLI_FAIL;
	return cli_get_show(c, path, show_quota);
}

int
cmd_quota_set(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {
	    {"--vcpus", ARG_UINT},
	    {"--memory", ARG_UINT},
	    {"--disk", ARG_UINT},
	    {"--vms", ARG_UINT},
	};
	static const char *const keys[] = {"max_vcpus", "max_memory_mib", "max_disk_gib",
					   "max_vms"};
	char path[API_PATH_MAX];
	const char *id;
	json_t *body, *q;
	size_t i;
	int r;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), &id, 1) < 0)
		return CLI_USAGE;
	/* PUT replaces the quota: all four limits, as the usage line says. */
	for (i = 0; i < ARRAY_LEN(o); i++)
		if (!o[i].seen) {
			fprintf(stderr, "error: %s is required\n", o[i].name);
			return CLI_USAGE;
		}
	if (cli_path(c, path, sizeof(path), "/v1/tenants/", id, "/quota") < 0)
		return CLI_FAIL;
	body = json_object();
	for (i = 0; i < ARRAY_LEN(o); i++)
		json_object_set_new(body, keys[i], json_integer(o[i].num));
	r = api_json(&c->api, "PUT", path, body, &q);
	json_decref(body);
	if (r < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(q, stdout);
	else
		show_quota(q);
	json_decref(q);
	return CLI_OK;
}
