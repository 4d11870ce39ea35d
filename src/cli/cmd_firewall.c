/*
 * cmd_firewall.c - the tenant's firewall: its mode and external address,
 * and its rules (list, add, delete). Rules are shown lowest priority
 * number first, as the server orders them; their targets by name when the
 * VM or network can be found.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cmd_net.h"
#include "net_parse.h"
#include "table.h"
#include "util.h"

static const char *
str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void
show_fw(const json_t *fw)
{
	static const char *const keys[] = {"mode", "external_address", "rules", NULL};

	table_print_fields(fw, keys, stdout);
}

int
cmd_fw_show(struct cli *c, int argc, char **argv)
{
	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	return cli_get_show(c, "/v1/firewall", show_fw);
}

int
cmd_fw_mode(struct cli *c, int argc, char **argv)
{
	const char *mode;
	json_t *body, *fw;
	int r;

	if (args_parse(argc, argv, NULL, 0, &mode, 1) < 0)
		return CLI_USAGE;
	body = json_object();
	if (json_object_set_new(body, "mode", json_string(mode)) < 0) {
		fprintf(stderr, "error: the mode must be UTF-8 text\n");
		json_decref(body);
		return CLI_FAIL;
	}
	r = api_json(&c->api, "PUT", "/v1/firewall", body, &fw);
	json_decref(body);
	if (r < 0)
		return CLI_FAIL;
	return net_print(c, fw, show_fw);
}

/* ---- rules ------------------------------------------------------------- */

/* What a rule applies to: "vm:NAME", "net:NAME" or "all". */
static void
add_target(struct table *t, const json_t *rule, const json_t *vms, const json_t *nets)
{
	const char *vm = str(rule, "target_vm"), *net = str(rule, "target_network");

	if (vm != NULL && *vm != '\0')
		table_addf(t, "vm:%s", net_name_of(vms, vm, "?"));
	else if (net != NULL && *net != '\0')
		table_addf(t, "net:%s", net_name_of(nets, net, "?"));
	else
		table_add(t, "all");
}

static void
show_rules(const json_t *rules, const json_t *vms, const json_t *nets)
{
	const json_t *r;
	struct table t;
	size_t i;

	table_init(&t, 9);
	table_add(&t, "ID");
	table_add(&t, "PRIO");
	table_add(&t, "DIR");
	table_add(&t, "ACTION");
	table_add(&t, "PROTO");
	table_add(&t, "PORTS");
	table_add(&t, "REMOTE");
	table_add(&t, "TARGET");
	table_add(&t, "ORIGIN");
	json_array_foreach(rules, i, r)
	{
		char prio[32], ports[32];

		table_add(&t, str(r, "id"));
		table_add(
		    &t, table_value(json_object_get(r, "priority"), prio, sizeof(prio)));
		table_add(&t, str(r, "direction"));
		table_add(&t, str(r, "action"));
		table_add(&t, str(r, "protocol"));
		table_add(
		    &t, net_ports_text(json_integer_value(json_object_get(r, "port_min")),
				       json_integer_value(json_object_get(r, "port_max")),
				       ports, sizeof(ports)));
		table_add(&t, str(r, "remote"));
		add_target(&t, r, vms, nets);
		table_add(&t, str(r, "origin"));
	}
	table_print(&t, stdout);
	table_free(&t);
}

int
cmd_rule_list(struct cli *c, int argc, char **argv)
{
	json_t *rules, *vms = NULL, *nets = NULL;

	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	if (net_get(c, "/v1/firewall/rules", &rules) != CLI_OK)
		return CLI_FAIL;
	if (c->json)
		table_print_json(rules, stdout);
	else {
		/* Names for people; without them the ids are shown. */
		if (net_get(c, "/v1/vms", &vms) != CLI_OK ||
		    net_get(c, "/v1/networks", &nets) != CLI_OK)
			fprintf(stderr, "note: targets are shown by id\n");
		show_rules(rules, vms, nets);
	}
	json_decref(rules);
	json_decref(vms);
	json_decref(nets);
	return CLI_OK;
}

static void
show_rule(const json_t *r)
{
	static const char *const keys[] = {
	    "id",	"direction",  "action",	   "protocol",	     "port_min",
	    "port_max", "remote",     "target_vm", "target_network", "priority",
	    "origin",	"created_at", NULL};

	table_print_fields(r, keys, stdout);
}

int
cmd_rule_add(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {
	    {"--egress", ARG_FLAG},	{"--deny", ARG_FLAG}, {"--proto", ARG_STR},
	    {"--port", ARG_UINT},	{"--ports", ARG_STR}, {"--source", ARG_STR},
	    {"--destination", ARG_STR}, {"--vm", ARG_STR},    {"--network", ARG_STR},
	    {"--priority", ARG_UINT},
	};
	struct net_rule_opts ro = {0};
	char vm_id[256], err[256];
	json_t *body, *rule;
	int r;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), NULL, 0) < 0)
		return CLI_USAGE;
	ro.egress = o[0].seen;
	ro.deny = o[1].seen;
	ro.proto = o[2].seen ? o[2].str : NULL;
	ro.has_port = o[3].seen;
	ro.port = o[3].num;
	ro.ports = o[4].seen ? o[4].str : NULL;
	ro.source = o[5].seen ? o[5].str : NULL;
	ro.destination = o[6].seen ? o[6].str : NULL;
	ro.network = o[8].seen ? o[8].str : NULL;
	ro.has_priority = o[9].seen;
	ro.priority = o[9].num;
	/* Check the options before asking the server about the VM. */
	ro.vm_id = o[7].seen ? o[7].str : NULL;
	if (net_rule_body(&ro, &body, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\n", err);
		return CLI_USAGE;
	}
	json_decref(body);
	if (o[7].seen) {
		if (cmd_vm_resolve(c, o[7].str, vm_id, sizeof(vm_id)) < 0)
			return CLI_FAIL;
		ro.vm_id = vm_id;
	}
	if (net_rule_body(&ro, &body, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\n", err);
		return CLI_FAIL;
	}
	r = api_json(&c->api, "POST", "/v1/firewall/rules", body, &rule);
	json_decref(body);
	if (r < 0)
		return CLI_FAIL;
	return net_print(c, rule, show_rule);
}

int
cmd_rule_delete(struct cli *c, int argc, char **argv)
{
	const char *id;

	if (args_parse(argc, argv, NULL, 0, &id, 1) < 0)
		return CLI_USAGE;
	return net_delete(c, "/v1/firewall/rules/", id, "rule");
}
