/*
 * cmd_site.c - see cmd_site.h.
 */
#define _GNU_SOURCE
#include "cmd_site.h"

#include <stdio.h>

#include "args.h"
#include "table.h"

/* The disks' replication (the primary) and the last recovery (a new primary). */
static void
show_replication(const json_t *r)
{
	const json_t *e, *rec = json_object_get(r, "recovery");
	size_t i;

	if (!json_is_object(r))
		return;
	printf("\ndisk replication (a point every %lld ms, alert past %lld ms): worst lag %lld ms\n",
	       (long long)json_integer_value(json_object_get(r, "interval_ms")),
	       (long long)json_integer_value(json_object_get(r, "lag_alert_ms")),
	       (long long)json_integer_value(json_object_get(r, "worst_lag_ms")));
	json_array_foreach(json_object_get(r, "vms"), i, e)
	{
		printf("vm %s: %s, host %s -> %s, point %lld (%lld made), lag %lld ms, last %lld bytes "
		       "in %lld ms%s%s%s\n",
		       json_string_value(json_object_get(e, "vm")) ?: "?",
		       json_string_value(json_object_get(e, "state")) ?: "?",
		       json_string_value(json_object_get(e, "host")) ?: "?",
		       json_string_value(json_object_get(e, "replica_host")) ?: "?",
		       (long long)json_integer_value(json_object_get(e, "point")),
		       (long long)json_integer_value(json_object_get(e, "points")),
		       (long long)json_integer_value(json_object_get(e, "lag_ms")),
		       (long long)json_integer_value(json_object_get(e, "last_bytes")),
		       (long long)json_integer_value(json_object_get(e, "last_ms")),
		       json_is_true(json_object_get(e, "lag_alert")) ? " ALERT" : "",
		       json_string_length(json_object_get(e, "error")) ? ": " : "",
		       json_string_value(json_object_get(e, "error")) ?: "");
	}
	if (json_is_object(rec))
		printf("recovery: %s, %lld VMs started from replicas, %lld failed, %lld ms\n",
		       json_string_value(json_object_get(rec, "state")) ?: "?",
		       (long long)json_integer_value(json_object_get(rec, "vms_started")),
		       (long long)json_integer_value(json_object_get(rec, "vms_failed")),
		       (long long)json_integer_value(json_object_get(rec, "ms")));
}

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
	show_replication(json_object_get(s, "replication"));
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
