/* cli.c - see cli.h: what the commands share. */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_net.h"
#include "op.h"
#include "table.h"

int
cli_path(struct cli *c, char *buf, size_t len, const char *prefix, const char *id,
	 const char *suffix)
{
	int r = api_path(&c->api, buf, len, prefix, id, suffix);

	if (r == -EINVAL)
		fprintf(stderr, "error: '%s' is not a valid id\n", id);
	else if (r < 0)
		fprintf(stderr, "error: id too long\n");
	return r < 0 ? -1 : 0;
}

int
cli_get_show(struct cli *c, const char *path, void (*show)(const json_t *))
{
	json_t *j;

	if (api_json(&c->api, "GET", path, NULL, &j) < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(j, stdout);
	else
		show(j);
	json_decref(j);
	return CLI_OK;
}

int
cli_list(struct cli *c, const char *path, const char *const *heads,
	 void (*row)(struct table *t, const json_t *e))
{
	json_t *list, *e;
	struct table t;
	size_t i, n = 0;

	if (api_json(&c->api, "GET", path, NULL, &list) < 0)
		return CLI_FAIL;
	if (c->json) {
		table_print_json(list, stdout);
		json_decref(list);
		return CLI_OK;
	}
	while (heads[n] != NULL)
		n++;
	table_init(&t, n);
	for (i = 0; i < n; i++)
		table_add(&t, heads[i]);
	json_array_foreach(list, i, e)
		row(&t, e);
	table_print(&t, stdout);
	table_free(&t);
	json_decref(list);
	return CLI_OK;
}

int
cli_delete(struct cli *c, const char *prefix, const char *ref, const char *done)
{
	char path[API_PATH_MAX], *l;
	json_t *j = NULL;

	if (cli_path(c, path, sizeof(path), prefix, ref, NULL) < 0)
		return CLI_FAIL;
	if (api_json(&c->api, "DELETE", path, NULL, &j) < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(j, stdout);
	else {
		l = strdup(ref);
		printf("%s %s\n", done, l ? table_clean(l) : "");
		free(l);
	}
	json_decref(j);
	return CLI_OK;
}

void
cli_show_vm(const json_t *vm)
{
	static const char *const keys[] = {"id",
					   "name",
					   "tenant_id",
					   "service",
					   "image",
					   "state",
					   "reason",
					   "ready",
					   "vcpus",
					   "memory_mib",
					   "disk_gib",
					   "accel",
					   "restart_required",
					   "last_state",
					   "host_id",
					   "created_at",
					   "updated_at",
					   NULL};

	table_print_fields(vm, keys, stdout);
	if (json_is_true(json_object_get(vm, "restart_required")))
		printf("note: the new vcpus/memory take effect at the next start\n");
	cli_show_nics(json_object_get(vm, "nics"));
}

int
cli_long_op(struct cli *c, const char *method, const char *path, const json_t *body,
	    const char *label, int wait, int show_vm, const char *done_verb)
{
	json_t *op = NULL, *final = NULL;
	const char *op_id, *vm_id;
	char vpath[API_PATH_MAX];
	int r = CLI_FAIL;

	if (api_json(&c->api, method, path, body, &op) < 0)
		return CLI_FAIL;
	op_id = json_string_value(json_object_get(op, "id"));
	if (op_id == NULL) {
		fprintf(stderr, "error: the server did not answer with an operation\n");
		goto out;
	}
	if (!wait) {
		if (c->json)
			table_print_json(op, stdout);
		else {
			op_show(op);
			fprintf(stderr, "follow it with: cloudlet op wait %s\n", op_id);
		}
		r = CLI_OK;
		goto out;
	}
	if (op_wait(c, op_id, label, &final) < 0)
		goto out;
	if (!op_succeeded(final)) {
		op_print_failure(final, label);
		if (c->json)
			table_print_json(final, stdout);
		goto out;
	}
	vm_id = json_string_value(json_object_get(final, "vm_id"));
	if (!show_vm || vm_id == NULL) {
		if (c->json)
			table_print_json(final, stdout);
		else {
			char *l = strdup(label);

			printf("%s %s\n", done_verb, l ? table_clean(l) : "VM");
			free(l);
		}
		r = CLI_OK;
		goto out;
	}
	if (cli_path(c, vpath, sizeof(vpath), "/v1/vms/", vm_id, NULL) < 0)
		goto out;
	r = cli_get_show(c, vpath, cli_show_vm);
out:
	json_decref(op);
	json_decref(final);
	return r;
}
