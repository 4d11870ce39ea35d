/*
 * cmd_vm.c - VMs: create, list, show, start, stop, reboot, resize, delete.
 * A VM is named by its id or its name (names are unique per tenant).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "net_parse.h"
#include "table.h"
#include "util.h"

/* What --user-data reads at most; the server's own limit is lower. */
#define USER_DATA_READ_MAX (1024 * 1024)

static const char *
str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int
cmd_vm_pick(const json_t *vms, const char *ref, const char **id)
{
	const json_t *vm;
	const char *found = NULL;
	size_t i, named = 0;

	json_array_foreach(vms, i, vm)
	{
		const char *vid = str(vm, "id");

		if (vid != NULL && strcmp(vid, ref) == 0) {
			*id = vid;
			return 0;
		}
	}
	json_array_foreach(vms, i, vm)
	{
		const char *name = str(vm, "name");

		if (name != NULL && strcmp(name, ref) == 0 && str(vm, "id") != NULL) {
			found = str(vm, "id");
			named++;
		}
	}
	if (named == 0)
		return -ENOENT;
	if (named > 1)
		return -EEXIST;
	*id = found;
	return 0;
}

int
cmd_vm_resolve(struct cli *c, const char *ref, char *id, size_t len)
{
	const char *vid = NULL;
	json_t *vms, *vm;
	char *l = strdup(ref);
	size_t i;
	int r = -1;

	if (api_json(&c->api, "GET", "/v1/vms", NULL, &vms) < 0)
		goto out;
	switch (cmd_vm_pick(vms, ref, &vid)) {
	case 0:
		if (util_fmt(id, len, "%s", vid) < 0)
			fprintf(stderr, "error: the id of VM %s is too long\n",
				l ? table_clean(l) : "");
		else
			r = 0;
		break;
	case -ENOENT:
		fprintf(stderr, "error: not_found: no VM with the id or name '%s'\n",
			l ? table_clean(l) : "");
		break;
	default:
		fprintf(stderr,
			"error: ambiguous: several VMs are named '%s'; use an id:\n",
			l ? table_clean(l) : "");
		json_array_foreach(vms, i, vm)
		{
			char *a, *b;

			if (str(vm, "name") == NULL || strcmp(str(vm, "name"), ref) != 0)
				continue;
			a = strdup(str(vm, "id") ?: "?");
			b = strdup(str(vm, "tenant_id") ?: "?");
			fprintf(stderr, "  %s  (tenant %s)\n", a ? table_clean(a) : "?",
				b ? table_clean(b) : "?");
			free(a);
			free(b);
		}
		break;
	}
	json_decref(vms);
out:
	free(l);
	return r;
}

/* Resolve ref and build "/v1/vms/<id><suffix>". 0 or -1 (printed). */
static int
vm_path(struct cli *c, const char *ref, const char *suffix, char *path, size_t len)
{
	char id[256];

	if (cmd_vm_resolve(c, ref, id, sizeof(id)) < 0)
		return -1;
	return cli_path(c, path, len, "/v1/vms/", id, suffix);
}

static void
show_vms(const json_t *list)
{
	const json_t *vm;
	struct table t;
	size_t i;
	/* The operator's list says where each VM runs (docs/hosts.md). */
	int hosts = json_object_get(json_array_get(list, 0), "host_id") != NULL;

	table_init(&t, hosts ? 11 : 10);
	table_add(&t, "NAME");
	table_add(&t, "ID");
	table_add(&t, "STATE");
	table_add(&t, "READY");
	table_add(&t, "VCPUS");
	table_add(&t, "MEM_MIB");
	table_add(&t, "DISK_GIB");
	table_add(&t, "SERVICE");
	table_add(&t, "IMAGE");
	table_add(&t, "TENANT");
	if (hosts)
		table_add(&t, "HOST");
	json_array_foreach(list, i, vm)
	{
		char buf[3][32];
		const char *state = str(vm, "state");

		table_add(&t, str(vm, "name"));
		table_add(&t, str(vm, "id"));
		if (json_is_true(json_object_get(vm, "restart_required")) &&
		    state != NULL)
			table_addf(&t, "%s*", state); /* "*": restart to apply a resize */
		else
			table_add(&t, state);
		table_add(&t, json_is_true(json_object_get(vm, "ready")) ? "yes" : "no");
		table_add(&t, table_value(json_object_get(vm, "vcpus"), buf[0],
					  sizeof(buf[0])));
		table_add(&t, table_value(json_object_get(vm, "memory_mib"), buf[1],
					  sizeof(buf[1])));
		table_add(&t, table_value(json_object_get(vm, "disk_gib"), buf[2],
					  sizeof(buf[2])));
		table_add(&t, str(vm, "service"));
		table_add(&t, str(vm, "image"));
		table_add(&t, str(vm, "tenant_id"));
		if (hosts)
			table_add(&t, str(vm, "host_id"));
	}
	table_print(&t, stdout);
	table_free(&t);
}

int
cmd_vm_list(struct cli *c, int argc, char **argv)
{
	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	return cli_get_show(c, "/v1/vms", show_vms);
}

int
cmd_vm_show(struct cli *c, int argc, char **argv)
{
	char path[API_PATH_MAX];
	const char *ref;

	if (args_parse(argc, argv, NULL, 0, &ref, 1) < 0)
		return CLI_USAGE;
	if (vm_path(c, ref, NULL, path, sizeof(path)) < 0)
		return CLI_FAIL;
	return cli_get_show(c, path, cli_show_vm);
}

/* --vcpus, --memory, --disk into body; returns how many were given. */
static int
spec_fields(const struct arg_opt *o, json_t *body)
{
	static const char *const keys[] = {"vcpus", "memory_mib", "disk_gib"};
	int i, n = 0;

	for (i = 0; i < 3; i++)
		if (o[i].seen) {
			json_object_set_new(body, keys[i], json_integer(o[i].num));
			n++;
		}
	return n;
}

static int
add_user_data(json_t *body, const char *file)
{
	char *text = NULL;
	size_t len = 0;
	json_t *s;
	int r;

	r = util_read_file(file, USER_DATA_READ_MAX, &text, &len);
	if (r < 0) {
		fprintf(stderr, "error: --user-data %s: %s\n", file,
			r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
		return -1;
	}
	s = json_stringn(text, len);
	free(text);
	if (s == NULL) {
		fprintf(stderr, "error: --user-data %s: not UTF-8 text\n", file);
		return -1;
	}
	json_object_set_new(body, "user_data", s);
	return 0;
}

int
cmd_vm_create(struct cli *c, int argc, char **argv)
{
	/* The first three are spec_fields()'s. */
	struct arg_opt o[] = {
	    {"--vcpus", ARG_UINT},   {"--memory", ARG_UINT}, {"--disk", ARG_UINT},
	    {"--service", ARG_STR},  {"--image", ARG_STR},   {"--user-data", ARG_STR},
	    {"--no-wait", ARG_FLAG}, {"--group", ARG_STR},   {"--anti-affinity", ARG_FLAG},
	    {"--key", ARG_STR},
	};
	const char *name, *nets[32];
	json_t *body = NULL;
	int r = CLI_FAIL, nnets, i;

	/* --network may be repeated: one NIC each, in order. */
	nnets = net_take_repeated(&argc, argv, o, ARRAY_LEN(o), "--network", nets,
				  ARRAY_LEN(nets));
	if (nnets < 0 || args_parse(argc, argv, o, ARRAY_LEN(o), &name, 1) < 0)
		return CLI_USAGE;
	if (!o[3].seen) {
		fprintf(stderr,
			"error: --service is required (see: cloudlet service list)\n");
		return CLI_USAGE;
	}
	body = json_object();
	if (json_object_set_new(body, "name", json_string(name)) < 0 ||
	    json_object_set_new(body, "service", json_string(o[3].str)) < 0 ||
	    (o[4].seen &&
	     json_object_set_new(body, "image", json_string(o[4].str)) < 0) ||
	    (o[7].seen && json_object_set_new(body, "group", json_string(o[7].str)) < 0)) {
		fprintf(stderr, "error: arguments must be UTF-8 text\n");
		goto out;
	}
	if (nnets > 0) {
		json_t *a = json_array();

		json_object_set_new(body, "networks", a);
		for (i = 0; i < nnets; i++)
			if (json_array_append_new(a, json_string(nets[i])) < 0) {
				fprintf(stderr, "error: arguments must be UTF-8 text\n");
				goto out;
			}
	}
	if (o[8].seen)
		json_object_set_new(body, "anti_affinity", json_true());
	if (o[9].seen) { /* --key a,b: the tenant's keys by name */
		json_t *keys = json_array();
		char *list = strdup(o[9].str), *save = NULL, *k;

		for (k = list ? strtok_r(list, ",", &save) : NULL; k != NULL;
		     k = strtok_r(NULL, ",", &save))
			json_array_append_new(keys, json_string(k));
		free(list);
		json_object_set_new(body, "keys", keys);
	}
	spec_fields(o, body);
	if (o[5].seen && add_user_data(body, o[5].str) < 0)
		goto out;
	r = cli_long_op(c, "POST", "/v1/vms", body, name, !o[6].seen, 1, "created");
out:
	json_decref(body);
	return r;
}

/* start, stop, reboot: POST /v1/vms/{id}/actions. */
static int
action(struct cli *c, int argc, char **argv, const char *what, int can_force)
{
	struct arg_opt o[] = {{"--no-wait", ARG_FLAG}, {"--force", ARG_FLAG}};
	char path[API_PATH_MAX];
	const char *ref;
	json_t *body;
	int r;

	if (args_parse(argc, argv, o, can_force ? 2 : 1, &ref, 1) < 0)
		return CLI_USAGE;
	if (vm_path(c, ref, "/actions", path, sizeof(path)) < 0)
		return CLI_FAIL;
	body = json_pack("{s:s}", "action", what);
	if (o[1].seen)
		json_object_set_new(body, "force", json_true());
	r = cli_long_op(c, "POST", path, body, ref, !o[0].seen, 1, what);
	json_decref(body);
	return r;
}

int
cmd_vm_start(struct cli *c, int argc, char **argv)
{
	return action(c, argc, argv, "start", 0);
}

int
cmd_vm_stop(struct cli *c, int argc, char **argv)
{
	return action(c, argc, argv, "stop", 1);
}

int
cmd_vm_reboot(struct cli *c, int argc, char **argv)
{
	return action(c, argc, argv, "reboot", 0);
}

int
cmd_vm_delete(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--no-wait", ARG_FLAG}};
	char path[API_PATH_MAX];
	const char *ref;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), &ref, 1) < 0)
		return CLI_USAGE;
	if (vm_path(c, ref, NULL, path, sizeof(path)) < 0)
		return CLI_FAIL;
	return cli_long_op(c, "DELETE", path, NULL, ref, !o[0].seen, 0, "deleted");
}

/* Move a VM to another host (operator; docs/migration.md). */
int
cmd_vm_migrate(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--host", ARG_STR},    {"--cold", ARG_FLAG},
			      {"--downtime", ARG_UINT}, {"--no-wait", ARG_FLAG},
			      {"--bandwidth", ARG_UINT}, {"--cancel", ARG_FLAG}};
	char path[API_PATH_MAX];
	const char *ref;
	json_t *body;
	int r;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), &ref, 1) < 0)
		return CLI_USAGE;
	if (vm_path(c, ref, "/migrate", path, sizeof(path)) < 0)
		return CLI_FAIL;
	if (o[5].seen) {
		/* The move in progress stops; the VM stays where it runs. */
		if (api_json(&c->api, "DELETE", path, NULL, &body) < 0)
			return CLI_FAIL;
		if (c->json)
			table_print_json(body, stdout);
		else
			printf("cancelled the move of %s\n", ref);
		json_decref(body);
		return 0;
	}
	body = json_pack("{s:b}", "live", !o[1].seen);
	if (o[4].seen)
		json_object_set_new(body, "max_bandwidth_mib", json_integer(o[4].num));
	if (o[0].seen)
		json_object_set_new(body, "host", json_string(o[0].str));
	if (o[2].seen)
		json_object_set_new(body, "downtime_ms", json_integer(o[2].num));
	r = cli_long_op(c, "POST", path, body, ref, !o[3].seen, 1, "moved");
	json_decref(body);
	return r;
}

int
cmd_vm_resize(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {
	    {"--vcpus", ARG_UINT},
	    {"--memory", ARG_UINT},
	    {"--disk", ARG_UINT},
	    {"--no-wait", ARG_FLAG},
	};
	char path[API_PATH_MAX];
	const char *ref;
	json_t *body;
	int r;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), &ref, 1) < 0)
		return CLI_USAGE;
	body = json_object();
	if (spec_fields(o, body) == 0) {
		fprintf(stderr,
			"error: give at least one of --vcpus, --memory, --disk\n");
		json_decref(body);
		return CLI_USAGE;
	}
	r = CLI_FAIL;
	if (vm_path(c, ref, NULL, path, sizeof(path)) == 0)
		r = cli_long_op(c, "PATCH", path, body, ref, !o[3].seen, 1, "resized");
	json_decref(body);
	return r;
}
