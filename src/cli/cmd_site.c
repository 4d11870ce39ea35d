/*
 * cmd_site.c - see cmd_site.h.
 */
#define _GNU_SOURCE
#include "cmd_site.h"

#include <stdio.h>

#include "args.h"
#include "table.h"

static void
show_site(const json_t *s)
{
	static const char *const keys[] = {"name", "role", "epoch", "paired", "writable", "why",
					   NULL};
	static const char *const peer[] = {"address",	  "fingerprint",	 "role", "epoch",
					   "last_contact_ms_ago", "error", "incoming_error", NULL};
	const json_t *db = json_object_get(s, "database"), *e;
	size_t i;

	table_print_fields(s, keys, stdout);
	printf("lease_ms: %lld (remaining %lld)\n",
	       (long long)json_integer_value(json_object_get(json_object_get(s, "lease"), "ms")),
	       (long long)json_integer_value(
		   json_object_get(json_object_get(s, "lease"), "remaining_ms")));
	if (json_object_get(s, "peer") != NULL) {
		printf("\npeer site:\n");
		table_print_fields(json_object_get(s, "peer"), peer, stdout);
	}
	if (db == NULL)
		return;
	printf("\ndatabase (%s):\n", json_string_value(json_object_get(db, "engine")) ?: "?");
	if (json_is_true(json_object_get(db, "standby"))) {
		static const char *const sb[] = {"receiver", "received_lsn", "replayed_lsn",
						 "last_replayed_s_ago", NULL};
		table_print_fields(db, sb, stdout);
		return;
	}
	json_array_foreach(json_object_get(db, "standbys"), i, e)
	{
		printf("standby %s: %s %s, replayed %s, lag %.3f s\n",
		       json_string_value(json_object_get(e, "application_name")) ?: "?",
		       json_string_value(json_object_get(e, "state")) ?: "?",
		       json_string_value(json_object_get(e, "sync_state")) ?: "?",
		       json_string_value(json_object_get(e, "replay_lsn")) ?: "-",
		       json_number_value(json_object_get(e, "replay_lag_s")));
	}
	if (json_array_size(json_object_get(db, "standbys")) == 0)
		printf("no standby is streaming from this database\n");
}

int
cmd_site_show(struct cli *c, int argc, char **argv)
{
	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	return cli_get_show(c, "/v1/site", show_site);
}

int
cmd_site_failover(struct cli *c, int argc, char **argv)
{
	json_t *j;

	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	if (api_json(&c->api, "POST", "/v1/site/failover", NULL, &j) < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(j, stdout);
	else
		show_site(j);
	json_decref(j);
	return CLI_OK;
}
