/*
 * cmd_net.c - a tenant's networks (list, create, show, delete), a VM's
 * NICs in `vm show`, and the helpers the other network commands share.
 * A network is named by its name or its id; the server resolves both.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cmd_net.h"
#include "table.h"
#include "util.h"

static const char *
str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int
net_get(struct cli *c, const char *path, json_t **out)
{
	return api_json(&c->api, "GET", path, NULL, out) < 0 ? CLI_FAIL : CLI_OK;
}

const char *
net_name_of(const json_t *list, const char *id, const char *dflt)
{
	const json_t *e;
	size_t i;

	if (id == NULL || *id == '\0')
		return dflt;
	json_array_foreach(list, i, e)
	{
		const char *eid = str(e, "id"), *name = str(e, "name");

		if (eid != NULL && strcmp(eid, id) == 0 && name != NULL && *name != '\0')
			return name;
	}
	return id;
}

int
net_print(struct cli *c, json_t *obj, void (*show)(const json_t *))
{
	if (c->json)
		table_print_json(obj, stdout);
	else
		show(obj);
	json_decref(obj);
	return CLI_OK;
}

int
net_delete(struct cli *c, const char *prefix, const char *id, const char *what)
{
	char path[API_PATH_MAX], *l;
	json_t *j;

	if (cli_path(c, path, sizeof(path), prefix, id, NULL) < 0)
		return CLI_FAIL;
	if (api_json(&c->api, "DELETE", path, NULL, &j) < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(j, stdout); /* 204: nothing */
	else {
		l = strdup(id);
		printf("deleted %s %s\n", what, l ? table_clean(l) : "");
		free(l);
	}
	json_decref(j);
	return CLI_OK;
}

void
cli_show_nics(const json_t *nics)
{
	const json_t *n;
	struct table t;
	size_t i;

	if (!json_is_array(nics) || json_array_size(nics) == 0)
		return;
	table_init(&t, 5);
	table_add(&t, "NIC");
	table_add(&t, "NETWORK");
	table_add(&t, "ADDRESS");
	table_add(&t, "CIDR");
	table_add(&t, "NETWORK_ID");
	json_array_foreach(nics, i, n)
	{
		char buf[32];

		table_add(&t, table_value(json_object_get(n, "idx"), buf, sizeof(buf)));
		table_add(&t, str(n, "network"));
		table_add(&t, str(n, "address"));
		table_add(&t, str(n, "cidr"));
		table_add(&t, str(n, "network_id"));
	}
	printf("\n");
	table_print(&t, stdout);
	table_free(&t);
}

/* ---- networks ------------------------------------------------------------ */

static void
show_net(const json_t *n)
{
	static const char *const keys[] = {"id", "name", "cidr", "created_at", NULL};

	table_print_fields(n, keys, stdout);
}

static void
show_nets(const json_t *list)
{
	const json_t *n;
	struct table t;
	size_t i;

	table_init(&t, 4);
	table_add(&t, "NAME");
	table_add(&t, "ID");
	table_add(&t, "CIDR");
	table_add(&t, "CREATED");
	json_array_foreach(list, i, n)
	{
		table_add(&t, str(n, "name"));
		table_add(&t, str(n, "id"));
		table_add(&t, str(n, "cidr"));
		table_add(&t, str(n, "created_at"));
	}
	table_print(&t, stdout);
	table_free(&t);
}

int
cmd_net_list(struct cli *c, int argc, char **argv)
{
	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	return cli_get_show(c, "/v1/networks", show_nets);
}

int
cmd_net_create(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--cidr", ARG_STR}};
	const char *name;
	json_t *body, *n;
	int r;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), &name, 1) < 0)
		return CLI_USAGE;
	body = json_object();
	if (json_object_set_new(body, "name", json_string(name)) < 0 ||
	    (o[0].seen && json_object_set_new(body, "cidr", json_string(o[0].str)) < 0)) {
		fprintf(stderr, "error: arguments must be UTF-8 text\n");
		json_decref(body);
		return CLI_FAIL;
	}
	r = api_json(&c->api, "POST", "/v1/networks", body, &n);
	json_decref(body);
	if (r < 0)
		return CLI_FAIL;
	return net_print(c, n, show_net);
}

int
cmd_net_show(struct cli *c, int argc, char **argv)
{
	char path[API_PATH_MAX];
	const char *name;

	if (args_parse(argc, argv, NULL, 0, &name, 1) < 0)
		return CLI_USAGE;
	if (cli_path(c, path, sizeof(path), "/v1/networks/", name, NULL) < 0)
		return CLI_FAIL;
	return cli_get_show(c, path, show_net);
}

int
cmd_net_delete(struct cli *c, int argc, char **argv)
{
	const char *name;

	if (args_parse(argc, argv, NULL, 0, &name, 1) < 0)
		return CLI_USAGE;
	return net_delete(c, "/v1/networks/", name, "network");
}
