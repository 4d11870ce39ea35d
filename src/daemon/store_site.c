/*
 * store_site.c - where each VM's disks are replicated (store_site.h).
 */
#include "store_site.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "store_host.h"

int
store_replica_host(const char *vm_id, char *host, size_t len, char *agent_id, size_t alen)
{
	db_stmt *st = db_prep("SELECT host_id, agent_id FROM vm_replicas WHERE vm_id = ?", "s",
			      vm_id);
	int r = -ENOENT;

	host[0] = '\0';
	if (agent_id != NULL)
		agent_id[0] = '\0';
	if (st == NULL)
		return -EIO;
	if (db_step(st) == 1) {
		snprintf(host, len, "%s", db_col_text(st, 0) ?: "");
		if (agent_id != NULL)
			snprintf(agent_id, alen, "%s", db_col_text(st, 1) ?: "");
		r = 0;
	}
	db_done(st);
	return r;
}

int
store_replica_set(const char *vm_id, const char *host_id, const char *agent_id)
{
	char ts[32];

	db_now(ts);
	return db_run(db_prep("INSERT INTO vm_replicas (vm_id, host_id, agent_id, created_at) "
			      "VALUES (?, ?, ?, ?) ON CONFLICT (vm_id) DO UPDATE SET "
			      "host_id = excluded.host_id, agent_id = excluded.agent_id",
			      "ssss", vm_id, host_id, agent_id, ts));
}

int
store_replica_delete(const char *vm_id)
{
	return db_run(db_prep("DELETE FROM vm_replicas WHERE vm_id = ?", "s", vm_id));
}

int64_t
store_replica_count(const char *host_id)
{
	return db_scalar(db_prep("SELECT count(*) FROM vm_replicas WHERE host_id = ?", "s", host_id));
}

json_t *
store_replica_candidates(void)
{
	return db_all(db_prep(
		"SELECT v.id AS id, v.tenant_id AS tenant_id, v.host_id AS host_id, v.state AS state,"
		" v.disk_gib AS disk_gib,"
		" (SELECT count(*) FROM volumes o WHERE o.vm_id = v.id) AS volumes"
		" FROM vms v JOIN hosts h ON h.id = v.host_id WHERE h.site = ?"
		" ORDER BY v.created_at, v.id",
		"s", store_host_site()));
}

json_t *
store_replica_orphans(void)
{
	/* A VM on a host of another site, or on a host no longer recorded (not
	 * one still to be placed: host_id ""). */
	return db_all(db_prep(
		"SELECT v.id AS id, v.tenant_id AS tenant_id, v.host_id AS host_id, v.state AS state,"
		" coalesce(r.host_id, '') AS replica_host, coalesce(r.agent_id, '') AS agent_id"
		" FROM vms v LEFT JOIN vm_replicas r ON r.vm_id = v.id"
		" LEFT JOIN hosts h ON h.id = v.host_id"
		" WHERE v.host_id != '' AND (h.id IS NULL OR h.site != ?)"
		" ORDER BY v.created_at, v.id",
		"s", store_host_site()));
}

int
store_tenant_set_home(const char *tenant_id, const char *host_id)
{
	return db_run(db_prep("UPDATE tenants SET home_host = ? WHERE id = ?", "ss", host_id,
			      tenant_id));
}
