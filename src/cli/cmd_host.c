/*
 * cmd_host.c - see cmd_host.h.
 */
#define _GNU_SOURCE
#include "cmd_host.h"
#include "op.h"

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
					   "reason",
					   "socket",
					   "address",
					   "fingerprint",
					   "protocol",
					   "underlay_address",
					   "site",
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
	static const char *const heads[] = {"ID",	  "NAME",     "STATE",	  "VMS",
					    "VCPUS",	  "MEMORY_MIB", "UNDERLAY", "AGENT",
					    "FINGERPRINT", NULL};
	struct table t;
	const json_t *e;
	size_t i;

	table_init(&t, 9);
	for (i = 0; heads[i] != NULL; i++)
		table_add(&t, heads[i]);
	json_array_foreach(list, i, e)
	{
		char st[32], a[64], b[64], m[64], f[24];
		const char *addr = json_string_value(json_object_get(e, "address"));
		const char *fpr = json_string_value(json_object_get(e, "fingerprint"));

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
		/* The agent: its TLS address, or its unix socket. */
		table_add(&t, addr && addr[0] ? addr
					      : json_string_value(json_object_get(e, "socket")));
		snprintf(f, sizeof(f), "%.16s%s", fpr ? fpr : "", fpr && fpr[0] ? "..." : "-");
		table_add(&t, f);
	}
	table_print(&t, stdout);
	table_free(&t);
}

/* DELETE prefix + the one argument; done says what happened. */
static int
delete_one(struct cli *c, int argc, char **argv, const char *prefix, const char *done)
{
	const char *id;

	if (args_parse(argc, argv, NULL, 0, &id, 1) < 0)
		return CLI_USAGE;
	return cli_delete(c, prefix, id, done);
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
	    {"--address", ARG_STR},
	    {"--fingerprint", ARG_STR},
	    {"--site", ARG_STR},
	};
	const char *name;
	json_t *body, *h;
	int r;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), &name, 1) < 0)
		return CLI_USAGE;
	if (o[0].seen == (o[2].seen || o[3].seen)) {
		fprintf(stderr, "error: --socket, or --address and --fingerprint\n");
		return CLI_USAGE;
	}
	body = json_pack("{s:s}", "name", name);
	if (body == NULL) {
		fprintf(stderr, "error: the arguments are not UTF-8 text\n");
		return CLI_FAIL;
	}
	if (o[0].seen)
		json_object_set_new(body, "socket", json_string(o[0].str));
	if (o[1].seen)
		json_object_set_new(body, "underlay_address", json_string(o[1].str));
	if (o[2].seen)
		json_object_set_new(body, "address", json_string(o[2].str));
	if (o[3].seen)
		json_object_set_new(body, "fingerprint", json_string(o[3].str));
	if (o[4].seen)
		json_object_set_new(body, "site", json_string(o[4].str));
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

/* "90", "90s", "30m", "1h", "2d" as seconds (1 s to 30 days). */
static int
parse_ttl(const char *text, long long *out)
{
	static const char units[] = "smhd";
	static const long long mul[] = {1, 60, 3600, 86400};
	char *end;
	long long v;
	const char *u;

	v = strtoll(text, &end, 10);
	if (end == text || v <= 0)
		return -1;
	if (*end != '\0') {
		if (end[1] != '\0' || (u = strchr(units, *end)) == NULL)
			return -1;
		if (v > 30LL * 86400)
			return -1;
		v *= mul[u - units];
	}
	if (v > 30LL * 86400)
		return -1;
	*out = v;
	return 0;
}

int
cmd_host_token_create(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--ttl", ARG_STR}};
	long long ttl = 3600;
	const char *name;
	json_t *body, *t;
	int r;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), &name, 1) < 0)
		return CLI_USAGE;
	if (o[0].seen && parse_ttl(o[0].str, &ttl) < 0) {
		fprintf(stderr, "error: --ttl: a duration such as 90s, 30m, 1h, 2d (at most 30d)\n");
		return CLI_USAGE;
	}
	body = json_pack("{s:s, s:I}", "name", name, "ttl_s", (json_int_t)ttl);
	if (body == NULL) {
		fprintf(stderr, "error: the arguments are not UTF-8 text\n");
		return CLI_FAIL;
	}
	r = api_json(&c->api, "POST", "/v1/hosts/tokens", body, &t);
	json_decref(body);
	if (r < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(t, stdout);
	else {
		/* Shown once: the control plane keeps only a hash. */
		printf("%s\n", json_string_value(json_object_get(t, "token")) ?: "");
		fprintf(stderr,
			"join token %s for host %s (one use, expires in %lld s); on the host:\n"
			"  cloudlet-agent join - --listen IP:PORT <<< TOKEN\n",
			json_string_value(json_object_get(t, "id")) ?: "?", name, ttl);
	}
	json_decref(t);
	return CLI_OK;
}

static void
show_tokens(const json_t *list)
{
	static const char *const heads[] = {"ID", "NAME", "EXPIRES_AT", "EXPIRED", NULL};
	struct table t;
	const json_t *e;
	size_t i;

	table_init(&t, 4);
	for (i = 0; heads[i] != NULL; i++)
		table_add(&t, heads[i]);
	json_array_foreach(list, i, e)
	{
		char b[64];

		table_add(&t, json_string_value(json_object_get(e, "id")));
		table_add(&t, json_string_value(json_object_get(e, "name")));
		table_add(&t, table_value(json_object_get(e, "expires_at"), b, sizeof(b)));
		table_add(&t, json_is_true(json_object_get(e, "expired")) ? "yes" : "no");
	}
	table_print(&t, stdout);
	table_free(&t);
}

int
cmd_host_token_list(struct cli *c, int argc, char **argv)
{
	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	return cli_get_show(c, "/v1/hosts/tokens", show_tokens);
}

int
cmd_host_token_delete(struct cli *c, int argc, char **argv)
{
	return delete_one(c, argc, argv, "/v1/hosts/tokens/", "deleted join token");
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

/* Drain a host and move every VM off it, following each move. */
int
cmd_host_evacuate(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--no-wait", ARG_FLAG}};
	char path[API_PATH_MAX];
	const char *id;
	json_t *out = NULL, *op, *bad;
	size_t i;
	int r, failed = 0;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), &id, 1) < 0)
		return CLI_USAGE;
	if (cli_path(c, path, sizeof(path), "/v1/hosts/", id, "/evacuate") < 0)
		return CLI_FAIL;
	if (api_json(&c->api, "POST", path, NULL, &out) < 0)
		return CLI_FAIL;
	json_array_foreach(json_object_get(out, "refused"), i, bad) {
		fprintf(stderr, "error: %s stays: %s\n",
			json_string_value(json_object_get(bad, "vm_id")) ?: "?",
			json_string_value(json_object_get(bad, "error")) ?: "?");
		failed = 1;
	}
	json_array_foreach(json_object_get(out, "operations"), i, op) {
		const char *vm = json_string_value(json_object_get(op, "vm_id"));
		json_t *final = NULL;

		if (o[0].seen) {
			printf("%s: operation %s\n", vm ?: "?",
			       json_string_value(json_object_get(op, "id")) ?: "?");
			continue;
		}
		r = op_wait(c, json_string_value(json_object_get(op, "id")), vm, &final);
		if (r != 0 || !op_succeeded(final)) {
			if (r == 0)
				op_print_failure(final, vm);
			failed = 1;
		} else
			printf("moved %s\n", vm ?: "?");
		json_decref(final);
	}
	if (!failed && !c->json)
		printf("host %s is drained and empty\n", id);
	json_decref(out);
	return failed ? CLI_FAIL : CLI_OK;
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
	return delete_one(c, argc, argv, "/v1/hosts/", "removed host");
}
