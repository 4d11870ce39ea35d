/*
 * cmd_volume.c - volumes: create, list, show, grow, snapshot, clone,
 * attach to a VM, detach, scan, delete (POST /v1/volumes/{id}/actions for
 * the changes).
 */
#define _GNU_SOURCE
#include "cmd_volume.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "table.h"
#include "util.h"

static const char *
str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int
get(struct cli *c, const char *path, json_t **out)
{
	return api_json(&c->api, "GET", path, NULL, out) < 0 ? CLI_FAIL : CLI_OK;
}

int
cmd_volume_resolve(struct cli *c, const char *ref, char *id, size_t len)
{
	const json_t *v, *found = NULL;
	json_t *list;
	size_t i;
	int n = 0, r = -1;

	if (get(c, "/v1/volumes", &list) != CLI_OK)
		return -1;
	json_array_foreach(list, i, v) {
		if (str(v, "id") && strcmp(str(v, "id"), ref) == 0) {
			found = v;
			n = 1;
			break;
		}
		if (str(v, "name") && strcmp(str(v, "name"), ref) == 0) {
			found = v;
			n++;
		}
	}
	if (n == 0)
		fprintf(stderr, "error: no volume '%s'\n", ref);
	else if (n > 1)
		fprintf(stderr, "error: several volumes are called '%s': give the id\n", ref);
	else if (util_fmt(id, len, "%s", str(found, "id")) < 0)
		fprintf(stderr, "error: volume id too long\n");
	else
		r = 0;
	json_decref(list);
	return r;
}

static void
show_volume(const json_t *v)
{
	static const char *const keys[] = {"id",       "name",	       "tenant_id", "size_gib",
					   "redundancy", "state",      "readonly",  "origin",
					   "vm_id",    "allocated_bytes", "shared_bytes",
					   "restart_required", "created_at", NULL};

	table_print_fields(v, keys, stdout);
}

static int
print(struct cli *c, json_t *obj, void (*show)(const json_t *))
{
	if (c->json)
		table_print_json(obj, stdout);
	else
		show(obj);
	json_decref(obj);
	return CLI_OK;
}

int
cmd_volume_list(struct cli *c, int argc, char **argv)
{
	const json_t *v;
	struct table t;
	json_t *list;
	size_t i;

	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	if (get(c, "/v1/volumes", &list) != CLI_OK)
		return CLI_FAIL;
	if (c->json) {
		table_print_json(list, stdout);
		json_decref(list);
		return CLI_OK;
	}
	table_init(&t, 6);
	table_add(&t, "NAME");
	table_add(&t, "ID");
	table_add(&t, "SIZE");
	table_add(&t, "REDUNDANCY");
	table_add(&t, "VM");
	table_add(&t, "CREATED");
	json_array_foreach(list, i, v) {
		table_add(&t, str(v, "name"));
		table_add(&t, str(v, "id"));
		table_addf(&t, "%lld GiB%s",
			   (long long)json_integer_value(json_object_get(v, "size_gib")),
			   json_is_true(json_object_get(v, "readonly")) ? " (snapshot)" : "");
		table_add(&t, str(v, "redundancy"));
		table_add(&t, str(v, "vm_id") ? str(v, "vm_id") : "-");
		table_add(&t, str(v, "created_at"));
	}
	table_print(&t, stdout);
	table_free(&t);
	json_decref(list);
	return CLI_OK;
}

int
cmd_volume_create(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--size", ARG_UINT}, {"--stripe", ARG_FLAG}};
	const char *pos[1];
	json_t *body, *v;
	int r;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), pos, 1) < 0 || !o[0].seen)
		return CLI_USAGE;
	body = json_pack("{s:s, s:I, s:s}", "name", pos[0], "size_gib", (json_int_t)o[0].num,
			 "redundancy", o[1].seen ? "stripe" : "mirror");
	r = api_json(&c->api, "POST", "/v1/volumes", body, &v);
	json_decref(body);
	return r < 0 ? CLI_FAIL : print(c, v, show_volume);
}

int
cmd_volume_show(struct cli *c, int argc, char **argv)
{
	char id[128], path[API_PATH_MAX];
	const char *pos[1];

	if (args_parse(argc, argv, NULL, 0, pos, 1) < 0)
		return CLI_USAGE;
	if (cmd_volume_resolve(c, pos[0], id, sizeof(id)) < 0 ||
	    cli_path(c, path, sizeof(path), "/v1/volumes/", id, NULL) < 0)
		return CLI_FAIL;
	return cli_get_show(c, path, show_volume);
}

/* POST an action on the volume named ref; show() prints the answer. */
static int
action(struct cli *c, const char *ref, json_t *body, void (*show)(const json_t *))
{
	char id[128], path[API_PATH_MAX];
	json_t *out = NULL;
	int r;

	if (cmd_volume_resolve(c, ref, id, sizeof(id)) < 0 ||
	    cli_path(c, path, sizeof(path), "/v1/volumes/", id, "/actions") < 0) {
		json_decref(body);
		return CLI_FAIL;
	}
	r = api_json(&c->api, "POST", path, body, &out);
	json_decref(body);
	if (r < 0)
		return CLI_FAIL;
	return print(c, out, show);
}

int
cmd_volume_grow(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--size", ARG_UINT}};
	const char *pos[1];

	if (args_parse(argc, argv, o, ARRAY_LEN(o), pos, 1) < 0 || !o[0].seen)
		return CLI_USAGE;
	return action(c, pos[0],
		      json_pack("{s:s, s:I}", "action", "grow", "size_gib", (json_int_t)o[0].num),
		      show_volume);
}

static int
copy(struct cli *c, int argc, char **argv, const char *what)
{
	const char *pos[2];

	if (args_parse(argc, argv, NULL, 0, pos, 2) < 0)
		return CLI_USAGE;
	return action(c, pos[0], json_pack("{s:s, s:s}", "action", what, "name", pos[1]),
		      show_volume);
}

int
cmd_volume_snapshot(struct cli *c, int argc, char **argv)
{
	return copy(c, argc, argv, "snapshot");
}

int
cmd_volume_clone(struct cli *c, int argc, char **argv)
{
	return copy(c, argc, argv, "clone");
}

static void
show_attached(const json_t *v)
{
	show_volume(v);
	if (json_is_true(json_object_get(v, "restart_required")))
		printf("note: the VM is running; the change applies at its next start "
		       "(cloudlet vm reboot)\n");
}

int
cmd_volume_attach(struct cli *c, int argc, char **argv)
{
	const char *pos[2];
	char vm[256];

	if (args_parse(argc, argv, NULL, 0, pos, 2) < 0)
		return CLI_USAGE;
	if (cmd_vm_resolve(c, pos[1], vm, sizeof(vm)) < 0)
		return CLI_FAIL;
	return action(c, pos[0], json_pack("{s:s, s:s}", "action", "attach", "vm", vm),
		      show_attached);
}

int
cmd_volume_detach(struct cli *c, int argc, char **argv)
{
	const char *pos[1];

	if (args_parse(argc, argv, NULL, 0, pos, 1) < 0)
		return CLI_USAGE;
	return action(c, pos[0], json_pack("{s:s}", "action", "detach"), show_attached);
}

static void
show_scan(const json_t *rep)
{
	const json_t *f, *findings = json_object_get(rep, "findings");
	size_t i;

	printf("scanned %lld bytes of %s in %lld ms: %zu finding(s)\n",
	       (long long)json_integer_value(json_object_get(rep, "bytes_scanned")),
	       str(rep, "volume") ?: "?",
	       (long long)json_integer_value(json_object_get(rep, "duration_ms")),
	       json_array_size(findings));
	json_array_foreach(findings, i, f)
		printf("  offset %lld: %s (%s)\n",
		       (long long)json_integer_value(json_object_get(f, "offset")),
		       str(f, "signature") ?: "?", str(f, "engine") ?: "?");
}

int
cmd_volume_scan(struct cli *c, int argc, char **argv)
{
	const char *pos[1];

	if (args_parse(argc, argv, NULL, 0, pos, 1) < 0)
		return CLI_USAGE;
	return action(c, pos[0], json_pack("{s:s}", "action", "scan"), show_scan);
}

int
cmd_volume_delete(struct cli *c, int argc, char **argv)
{
	char id[128], path[API_PATH_MAX];
	const char *pos[1];
	json_t *out = NULL;

	if (args_parse(argc, argv, NULL, 0, pos, 1) < 0)
		return CLI_USAGE;
	if (cmd_volume_resolve(c, pos[0], id, sizeof(id)) < 0 ||
	    cli_path(c, path, sizeof(path), "/v1/volumes/", id, NULL) < 0)
		return CLI_FAIL;
	if (api_json(&c->api, "DELETE", path, NULL, &out) < 0)
		return CLI_FAIL;
	json_decref(out);
	if (!c->json)
		printf("deleted volume %s\n", id);
	return CLI_OK;
}
