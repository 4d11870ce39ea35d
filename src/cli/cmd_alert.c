/*
 * cmd_alert.c - storage alerts (GET /v1/alerts): malware found in a
 * volume, failed or rebuilt devices, repaired checksums. Newest first.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cmd_volume.h"
#include "table.h"
#include "util.h"

static const char *
str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int
cmd_alert_list(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--volume", ARG_STR}, {"--limit", ARG_UINT}};
	char path[API_PATH_MAX], id[128], q[64];
	const json_t *a;
	struct table t;
	json_t *list;
	size_t i;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), NULL, 0) < 0)
		return CLI_USAGE;
	snprintf(q, sizeof(q), "?limit=%lld", o[1].seen ? o[1].num : 100);
	if (o[0].seen) {
		if (cmd_volume_resolve(c, o[0].str, id, sizeof(id)) < 0 ||
		    util_fmt(path, sizeof(path), "/v1/alerts%s&volume=%s", q, id) < 0)
			return CLI_FAIL;
	} else
		snprintf(path, sizeof(path), "/v1/alerts%s", q);
	if (api_json(&c->api, "GET", path, NULL, &list) < 0)
		return CLI_FAIL;
	if (c->json) {
		table_print_json(list, stdout);
		json_decref(list);
		return CLI_OK;
	}
	table_init(&t, 6);
	table_add(&t, "TIME");
	table_add(&t, "KIND");
	table_add(&t, "VOLUME");
	table_add(&t, "OFFSET");
	table_add(&t, "SIGNATURE");
	table_add(&t, "SOURCE");
	json_array_foreach(list, i, a) {
		const json_t *off = json_object_get(a, "offset");

		table_add(&t, str(a, "time"));
		table_add(&t, str(a, "kind"));
		table_add(&t, str(a, "volume") ?: "-");
		if (json_is_integer(off))
			table_addf(&t, "%lld", (long long)json_integer_value(off));
		else
			table_add(&t, "-");
		if (str(a, "signature"))
			table_addf(&t, "%s (%s)", str(a, "signature"), str(a, "engine") ?: "?");
		else
			table_add(&t, str(a, "message") ?: "-");
		table_add(&t, str(a, "source") ?: "-");
	}
	table_print(&t, stdout);
	table_free(&t);
	json_decref(list);
	return CLI_OK;
}
