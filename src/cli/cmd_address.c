/*
 * cmd_address.c - external addresses (list, create, attach to a VM,
 * detach, delete) and port forwards from an address to a VM (list, add,
 * delete). An address is named by its id or the address itself; the
 * server resolves both. VMs by id or name, resolved like the VM commands.
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

/* The tenant's VMs, for names in tables; NULL (ids are shown) if not. */
static json_t *
vm_list(struct cli *c)
{
	json_t *vms = NULL;

	if (net_get(c, "/v1/vms", &vms) != CLI_OK)
		fprintf(stderr, "note: VMs are shown by id\n");
	return vms;
}

/* ---- addresses ----------------------------------------------------------- */

static void
show_addr(const json_t *a)
{
	static const char *const keys[] = {"id",    "address",	  "is_default",
					   "vm_id", "created_at", NULL};

	table_print_fields(a, keys, stdout);
}

static void
show_addrs(const json_t *list, const json_t *vms)
{
	const json_t *a;
	struct table t;
	size_t i;

	table_init(&t, 5);
	table_add(&t, "ADDRESS");
	table_add(&t, "ID");
	table_add(&t, "DEFAULT");
	table_add(&t, "VM");
	table_add(&t, "CREATED");
	json_array_foreach(list, i, a)
	{
		const json_t *d = json_object_get(a, "is_default");

		table_add(&t, str(a, "address"));
		table_add(&t, str(a, "id"));
		table_add(&t, json_is_true(d) || json_integer_value(d) ? "yes" : "no");
		table_add(&t, net_name_of(vms, str(a, "vm_id"), "-"));
		table_add(&t, str(a, "created_at"));
	}
	table_print(&t, stdout);
	table_free(&t);
}

int
cmd_addr_list(struct cli *c, int argc, char **argv)
{
	json_t *list, *vms;

	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	if (net_get(c, "/v1/addresses", &list) != CLI_OK)
		return CLI_FAIL;
	if (c->json)
		table_print_json(list, stdout);
	else {
		vms = vm_list(c);
		show_addrs(list, vms);
		json_decref(vms);
	}
	json_decref(list);
	return CLI_OK;
}

int
cmd_addr_create(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--vm", ARG_STR}};
	char vm_id[256];
	json_t *body, *a;
	int r;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), NULL, 0) < 0)
		return CLI_USAGE;
	if (o[0].seen && cmd_vm_resolve(c, o[0].str, vm_id, sizeof(vm_id)) < 0)
		return CLI_FAIL;
	body = json_object();
	if (o[0].seen)
		json_object_set_new(body, "vm", json_string(vm_id));
	r = api_json(&c->api, "POST", "/v1/addresses", body, &a);
	json_decref(body);
	if (r < 0)
		return CLI_FAIL;
	return net_print(c, a, show_addr);
}

/*
 * The id of the address the user means (its id or the address itself).
 * The routes that change an address are given its id: cloudletd finds an
 * address either way, but changes it only by id. 0 or -1 (printed).
 */
static int
addr_id(struct cli *c, const char *ref, char *id, size_t len)
{
	char path[API_PATH_MAX];
	const char *aid;
	json_t *a;
	int r = -1;

	if (cli_path(c, path, sizeof(path), "/v1/addresses/", ref, NULL) < 0 ||
	    net_get(c, path, &a) != CLI_OK)
		return -1;
	aid = str(a, "id");
	if (aid == NULL || util_fmt(id, len, "%s", aid) < 0)
		fprintf(stderr,
			"error: the server sent an address without a usable id\n");
	else
		r = 0;
	json_decref(a);
	return r;
}

/* PUT /v1/addresses/{id} {vm: id or null}. */
static int
set_vm(struct cli *c, const char *addr, const char *vm_id)
{
	char path[API_PATH_MAX], id[256];
	json_t *body, *a;
	int r;

	if (addr_id(c, addr, id, sizeof(id)) < 0 ||
	    cli_path(c, path, sizeof(path), "/v1/addresses/", id, NULL) < 0)
		return CLI_FAIL;
	body = json_object();
	json_object_set_new(body, "vm", vm_id ? json_string(vm_id) : json_null());
	r = api_json(&c->api, "PUT", path, body, &a);
	json_decref(body);
	if (r < 0)
		return CLI_FAIL;
	return net_print(c, a, show_addr);
}

int
cmd_addr_attach(struct cli *c, int argc, char **argv)
{
	const char *pos[2];
	char vm_id[256];

	if (args_parse(argc, argv, NULL, 0, pos, 2) < 0)
		return CLI_USAGE;
	if (cmd_vm_resolve(c, pos[1], vm_id, sizeof(vm_id)) < 0)
		return CLI_FAIL;
	return set_vm(c, pos[0], vm_id);
}

int
cmd_addr_detach(struct cli *c, int argc, char **argv)
{
	const char *addr;

	if (args_parse(argc, argv, NULL, 0, &addr, 1) < 0)
		return CLI_USAGE;
	return set_vm(c, addr, NULL);
}

int
cmd_addr_delete(struct cli *c, int argc, char **argv)
{
	char id[256], path[API_PATH_MAX], *l;
	const char *addr;
	json_t *j;

	if (args_parse(argc, argv, NULL, 0, &addr, 1) < 0)
		return CLI_USAGE;
	if (addr_id(c, addr, id, sizeof(id)) < 0 ||
	    cli_path(c, path, sizeof(path), "/v1/addresses/", id, NULL) < 0 ||
	    api_json(&c->api, "DELETE", path, NULL, &j) < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(j, stdout); /* 204: nothing */
	else {
		l = strdup(addr);
		printf("deleted address %s\n", l ? table_clean(l) : "");
		free(l);
	}
	json_decref(j);
	return CLI_OK;
}

/* ---- port forwards ------------------------------------------------------- */

static void
show_fwd(const json_t *f)
{
	static const char *const keys[] = {"id",       "address",    "address_id",
					   "protocol", "port",	     "vm_id",
					   "to_port",  "created_at", NULL};

	table_print_fields(f, keys, stdout);
}

static void
show_fwds(const json_t *list, const json_t *vms)
{
	const json_t *f;
	struct table t;
	size_t i;

	table_init(&t, 6);
	table_add(&t, "ID");
	table_add(&t, "ADDRESS");
	table_add(&t, "PROTO");
	table_add(&t, "PORT");
	table_add(&t, "VM");
	table_add(&t, "TO_PORT");
	json_array_foreach(list, i, f)
	{
		char p[32], tp[32];

		table_add(&t, str(f, "id"));
		table_add(&t, str(f, "address"));
		table_add(&t, str(f, "protocol"));
		table_add(&t, table_value(json_object_get(f, "port"), p, sizeof(p)));
		table_add(&t, net_name_of(vms, str(f, "vm_id"), "-"));
		table_add(&t, table_value(json_object_get(f, "to_port"), tp, sizeof(tp)));
	}
	table_print(&t, stdout);
	table_free(&t);
}

int
cmd_fwd_list(struct cli *c, int argc, char **argv)
{
	json_t *list, *vms;

	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	if (net_get(c, "/v1/forwards", &list) != CLI_OK)
		return CLI_FAIL;
	if (c->json)
		table_print_json(list, stdout);
	else {
		vms = vm_list(c);
		show_fwds(list, vms);
		json_decref(vms);
	}
	json_decref(list);
	return CLI_OK;
}

int
cmd_fwd_add(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {
	    {"--proto", ARG_STR},
	    {"--port", ARG_UINT},
	    {"--vm", ARG_STR},
	    {"--to-port", ARG_UINT},
	};
	const char *addr;
	char vm_id[256];
	json_t *body, *f;
	size_t i;
	int r;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), &addr, 1) < 0)
		return CLI_USAGE;
	for (i = 0; i < 3; i++)
		if (!o[i].seen) {
			fprintf(stderr, "error: %s is required\n", o[i].name);
			return CLI_USAGE;
		}
	if (cmd_vm_resolve(c, o[2].str, vm_id, sizeof(vm_id)) < 0)
		return CLI_FAIL;
	body = json_object();
	if (json_object_set_new(body, "address", json_string(addr)) < 0 ||
	    json_object_set_new(body, "protocol", json_string(o[0].str)) < 0) {
		fprintf(stderr, "error: arguments must be UTF-8 text\n");
		json_decref(body);
		return CLI_FAIL;
	}
	json_object_set_new(body, "port", json_integer(o[1].num));
	json_object_set_new(body, "vm", json_string(vm_id));
	if (o[3].seen)
		json_object_set_new(body, "to_port", json_integer(o[3].num));
	r = api_json(&c->api, "POST", "/v1/forwards", body, &f);
	json_decref(body);
	if (r < 0)
		return CLI_FAIL;
	return net_print(c, f, show_fwd);
}

int
cmd_fwd_delete(struct cli *c, int argc, char **argv)
{
	const char *id;

	if (args_parse(argc, argv, NULL, 0, &id, 1) < 0)
		return CLI_USAGE;
	return net_delete(c, "/v1/forwards/", id, "forward");
}
