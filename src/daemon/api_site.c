/*
 * api_site.c - api_site.h: the site's view with PostgreSQL's own account
 * of the replication, and failover.
 */
#include "api_site.h"

#include <errno.h>

#include "db.h"
#include "drrepl.h"
#include "http.h"
#include "site.h"
#include "store.h"

/* What PostgreSQL says: at the primary, each standby streaming from it;
 * at a standby, what it received and replayed, and how old that is. */
static json_t *
replication(void)
{
	json_t *o;

	if (db_dialect() != DB_POSTGRES)
		return json_pack("{s:s}", "engine", "sqlite");
	if (db_standby() == 1) {
		if (db_one(db_prep("SELECT pg_last_wal_receive_lsn()::text AS received_lsn, "
				   "pg_last_wal_replay_lsn()::text AS replayed_lsn, "
				   "coalesce(extract(epoch FROM now() - "
				   "pg_last_xact_replay_timestamp()), -1)::float8 AS "
				   "last_replayed_s_ago, "
				   "(SELECT status FROM pg_stat_wal_receiver) AS receiver",
				   ""),
			   &o) < 0)
			o = json_object();
		json_object_set_new(o, "standby", json_true());
	} else {
		o = json_pack("{s:b, s:o}", "standby", 0, "standbys",
			      db_all(db_prep("SELECT application_name, state, sync_state, "
					     "sent_lsn::text AS sent_lsn, "
					     "replay_lsn::text AS replay_lsn, "
					     "coalesce(extract(epoch FROM replay_lag), 0)::float8 "
					     "AS replay_lag_s FROM pg_stat_replication",
					     "")));
	}
	json_object_set_new(o, "engine", json_string("postgresql"));
	return o;
}

void
api_site_get(struct http_req *req, struct http_resp *resp)
{
	(void)req;
	resp->json = site_view();
	if (resp->json == NULL) {
		http_error(resp, 500, "internal", "out of memory");
		return;
	}
	json_object_set_new(resp->json, "database", replication());
	json_object_set_new(resp->json, "replication", drrepl_view() ?: json_null());
}

void
api_site_failover(struct http_req *req, struct http_resp *resp)
{
	char err[300];
	int r = site_failover(err, sizeof(err));

	if (r == -EALREADY || r == -EPERM) {
		http_error(resp, 409, "conflict", "%s", err);
		return;
	}
	if (r < 0) {
		http_error(resp, 503, "unavailable", "%s", err);
		return;
	}
	store_event("operator", NULL, "site.failover", "site", "succeeded",
		    "this site is the primary");
	api_site_get(req, resp);
}
