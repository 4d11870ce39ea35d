/*
 * cmd_ids.c - intrusion detection (/v1/ids): a tenant turns the sensor of
 * its networks on or off, gives its own Suricata rules, reads the status
 * (what the sensor loaded and skipped, per network) and its alerts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cmd_ids.h"
#include "table.h"
#include "util.h"

#define IDS_RULES_READ_MAX (64 * 1024) /* the server's limit */

static const char *
str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* PUT /v1/ids with body (consumed) and print the settings. */
static int
put(struct cli *c, json_t *body)
{
	json_t *out = NULL;
	int r = api_json(&c->api, "PUT", "/v1/ids", body, &out);

	json_decref(body);
	if (r < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(out, stdout);
	else
		printf("intrusion detection %s, %zu bytes of own rules\n",
		       json_is_true(json_object_get(out, "enabled")) ? "on" : "off",
		       strlen(str(out, "custom_rules") ?: ""));
	json_decref(out);
	return CLI_OK;
}

int
cmd_ids_show(struct cli *c, int argc, char **argv)
{
	json_t *out = NULL;

	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	if (api_json(&c->api, "GET", "/v1/ids", NULL, &out) < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(out, stdout);
	else
		printf("enabled: %s\ncustom rules:\n%s\n",
		       json_is_true(json_object_get(out, "enabled")) ? "yes" : "no",
		       str(out, "custom_rules") ?: "");
	json_decref(out);
	return CLI_OK;
}

int
cmd_ids_enable(struct cli *c, int argc, char **argv)
{
	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	return put(c, json_pack("{s:b}", "enabled", 1));
}

int
cmd_ids_disable(struct cli *c, int argc, char **argv)
{
	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	return put(c, json_pack("{s:b}", "enabled", 0));
}

int
cmd_ids_rules_set(struct cli *c, int argc, char **argv)
{
	const char *file;
	char *text = NULL;
	size_t len = 0;
	json_t *s;
	int r;

	if (args_parse(argc, argv, NULL, 0, &file, 1) < 0)
		return CLI_USAGE;
	r = util_read_file(strcmp(file, "-") == 0 ? "/dev/stdin" : file, IDS_RULES_READ_MAX,
			   &text, &len);
	if (r < 0) {
		fprintf(stderr, "error: %s: %s\n", file,
			r == -EFBIG ? "larger than 64 KiB" : strerror(-r));
		return CLI_FAIL;
	}
	s = json_stringn(text, len);
	free(text);
	if (s == NULL) {
		fprintf(stderr, "error: %s: not UTF-8 text\n", file);
		return CLI_FAIL;
	}
	return put(c, json_pack("{s:o}", "custom_rules", s));
}

int
cmd_ids_rules_clear(struct cli *c, int argc, char **argv)
{
	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	return put(c, json_pack("{s:s}", "custom_rules", ""));
}

/* A counter of the sensor's stats for a network ("-" if absent). */
static void
stat_cell(struct table *t, const json_t *stats, const char *key)
{
	const json_t *v = json_object_get(stats, key);

	if (json_is_integer(v))
		table_addf(t, "%lld", (long long)json_integer_value(v));
	else
		table_add(t, "-");
}

int
cmd_ids_status(struct cli *c, int argc, char **argv)
{
	json_t *out = NULL, *n;
	struct table t;
	size_t i;

	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	if (api_json(&c->api, "GET", "/v1/ids/status", NULL, &out) < 0)
		return CLI_FAIL;
	if (c->json) {
		table_print_json(out, stdout);
		json_decref(out);
		return CLI_OK;
	}
	table_init(&t, 6);
	table_add(&t, "NETWORK");
	table_add(&t, "CAPTURE");
	table_add(&t, "RULES");
	table_add(&t, "SKIPPED");
	table_add(&t, "PACKETS");
	table_add(&t, "ALERTS");
	json_array_foreach(json_object_get(out, "networks"), i, n) {
		const json_t *st = json_object_get(n, "stats");

		table_add(&t, str(n, "network") ?: "?");
		table_add(&t, json_is_true(json_object_get(n, "capture")) ? "yes" : "no");
		stat_cell(&t, st, "rules_loaded");
		stat_cell(&t, st, "rules_skipped");
		stat_cell(&t, st, "packets");
		stat_cell(&t, st, "alerts");
	}
	table_print(&t, stdout);
	table_free(&t);
	json_decref(out);
	return CLI_OK;
}

int
cmd_ids_alerts(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--vm", ARG_STR},
			      {"--sid", ARG_UINT},
			      {"--severity", ARG_UINT},
			      {"--limit", ARG_UINT}};
	char path[API_PATH_MAX], id[128] = "";
	const json_t *a;
	struct table t;
	json_t *list;
	size_t i;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), NULL, 0) < 0)
		return CLI_USAGE;
	if (o[0].seen && cmd_vm_resolve(c, o[0].str, id, sizeof(id)) < 0)
		return CLI_FAIL;
	if (util_fmt(path, sizeof(path), "/v1/ids/alerts?limit=%lld&sid=%lld&severity=%lld%s%s",
		     o[3].seen ? o[3].num : 100, o[1].seen ? o[1].num : 0,
		     o[2].seen ? o[2].num : 0, id[0] ? "&vm=" : "", id) < 0)
		return CLI_FAIL;
	if (api_json(&c->api, "GET", path, NULL, &list) < 0)
		return CLI_FAIL;
	if (c->json) {
		table_print_json(list, stdout);
		json_decref(list);
		return CLI_OK;
	}
	table_init(&t, 6);
	table_add(&t, "TIME");
	table_add(&t, "SID");
	table_add(&t, "SEV");
	table_add(&t, "SIGNATURE");
	table_add(&t, "FROM");
	table_add(&t, "TO");
	json_array_foreach(list, i, a) {
		table_add(&t, str(a, "time"));
		table_addf(&t, "%lld", (long long)json_integer_value(json_object_get(a, "sid")));
		table_addf(&t, "%lld", (long long)json_integer_value(json_object_get(a, "severity")));
		table_add(&t, str(a, "signature"));
		table_addf(&t, "%s:%lld%s%s", str(a, "src_ip") ?: "?",
			   (long long)json_integer_value(json_object_get(a, "src_port")),
			   str(a, "src_vm") ? " " : "", str(a, "src_vm") ?: "");
		table_addf(&t, "%s:%lld%s%s", str(a, "dest_ip") ?: "?",
			   (long long)json_integer_value(json_object_get(a, "dest_port")),
			   str(a, "dest_vm") ? " " : "", str(a, "dest_vm") ?: "");
	}
	table_print(&t, stdout);
	table_free(&t);
	json_decref(list);
	return CLI_OK;
}

int
cmd_ids_skipped(struct cli *c, int argc, char **argv)
{
	json_t *list = NULL, *r;
	struct table t;
	size_t i;

	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	if (api_json(&c->api, "GET", "/v1/ids/skipped", NULL, &list) < 0)
		return CLI_FAIL;
	if (c->json) {
		table_print_json(list, stdout);
		json_decref(list);
		return CLI_OK;
	}
	table_init(&t, 4);
	table_add(&t, "NETWORK");
	table_add(&t, "SID");
	table_add(&t, "WHERE");
	table_add(&t, "REASON");
	json_array_foreach(list, i, r)
	{
		char sid[24];

		snprintf(sid, sizeof(sid), "%lld", (long long)json_integer_value(json_object_get(r, "sid")));
		table_add(&t, str(r, "network"));
		table_add(&t, sid);
		table_add(&t, str(r, "where"));
		table_add(&t, str(r, "reason"));
	}
	table_print(&t, stdout);
	table_free(&t);
	json_decref(list);
	return CLI_OK;
}
