/* store_ids.c - see store_ids.h */
#define _GNU_SOURCE
#include "store_ids.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "idssup.h"
#include "store_int.h"

int
store_ids_get(const char *tenant_id, json_t **out)
{
	int r = db_one(db_prep("SELECT ids_enabled AS enabled, ids_rules AS custom_rules "
			       "FROM tenants WHERE id = ?",
			       "s", tenant_id),
		       out);

	if (r == 0)
		json_object_set_new(*out, "enabled", json_boolean(json_integer_value(
							     json_object_get(*out, "enabled"))));
	return r;
}

int
store_ids_set(const char *tenant_id, int enabled, const char *rules)
{
	int r;

	if ((r = db_begin()) < 0)
		return r;
	if (db_scalar(db_prep("SELECT count(*) FROM tenants WHERE id = ?", "s", tenant_id)) != 1)
		r = -ENOENT;
	if (r == 0 && enabled >= 0)
		r = db_run(db_prep("UPDATE tenants SET ids_enabled = ? WHERE id = ?", "is",
				   (int64_t)(enabled != 0), tenant_id));
	if (r == 0 && rules != NULL)
		r = db_run(db_prep("UPDATE tenants SET ids_rules = ? WHERE id = ?", "ss", rules,
				   tenant_id));
	if (r < 0) {
		db_rollback();
		return r;
	}
	return db_commit();
}

json_t *
store_ids_sup_list(const char *tenant_id, int active, long long now)
{
	json_t *rows = db_all(db_prep("SELECT id, sid, gid, track, ip, expires, created_at "
				      "FROM ids_suppressions WHERE tenant_id = ? "
				      "ORDER BY created_at, id",
				      "s", tenant_id)),
	       *out, *r;
	size_t i;

	if (!active || rows == NULL)
		return rows ? rows : json_array();
	out = json_array();
	json_array_foreach(rows, i, r)
	{
		json_int_t ex = json_integer_value(json_object_get(r, "expires"));
		const char *tr = json_string_value(json_object_get(r, "track"));
		json_t *o;

		if (ex != 0 && ex <= now)
			continue;
		o = json_pack("{s:O, s:O, s:I}", "sid", json_object_get(r, "sid"), "gid",
			      json_object_get(r, "gid"), "expires", ex);
		if (tr != NULL && tr[0] != '\0') {
			json_object_set(o, "track", json_object_get(r, "track"));
			json_object_set(o, "ip", json_object_get(r, "ip"));
		}
		json_array_append_new(out, o);
	}
	json_decref(rows);
	return out;
}

int
store_ids_sup_add(const char *tenant_id, const json_t *s, char *id)
{
	const json_t *gid = json_object_get(s, "gid");
	char now[32];
	int r;

	if ((r = db_begin()) < 0)
		return r;
	if (db_scalar(db_prep("SELECT count(*) FROM tenants WHERE id = ?", "s", tenant_id)) != 1)
		r = -ENOENT;
	else if (db_scalar(db_prep("SELECT count(*) FROM ids_suppressions WHERE tenant_id = ?", "s",
				   tenant_id)) >= IDSSUP_MAX)
		r = -ENOSPC;
	else if ((r = db_new_id("sup-", id)) == 0) {
		db_now(now);
		r = db_run(db_prep("INSERT INTO ids_suppressions (id, tenant_id, sid, gid, track, ip, "
				   "expires, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
				   "ssiissis", id, tenant_id,
				   (int64_t)json_integer_value(json_object_get(s, "sid")),
				   (int64_t)(gid ? json_integer_value(gid) : 1),
				   json_string_value(json_object_get(s, "track")) ?: "",
				   json_string_value(json_object_get(s, "ip")) ?: "",
				   (int64_t)json_integer_value(json_object_get(s, "expires")), now));
	}
	if (r < 0) {
		db_rollback();
		return r;
	}
	return db_commit();
}

int
store_ids_sup_delete(const char *tenant_id, const char *id)
{
	int r = db_run(db_prep("DELETE FROM ids_suppressions WHERE id = ? AND tenant_id = ?", "ss",
			       id, tenant_id));

	return r < 0 ? r : db_changes() == 0 ? -ENOENT : 0;
}

static const char *
str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* An integer field, or NULL (bound as SQL NULL). */
static const int64_t *
num(const json_t *o, const char *k, int64_t *v)
{
	const json_t *j = json_object_get(o, k);

	if (!json_is_integer(j))
		return NULL;
	*v = json_integer_value(j);
	return v;
}

int
store_ids_alert_add(const char *host_id, int64_t seq, const json_t *eve)
{
	const json_t *a = json_object_get(eve, "alert");
	const char *tenant = str(eve, "tenant_id");
	int64_t sp, dp;
	char *text = json_dumps(eve, JSON_COMPACT);
	int r;

	if (text == NULL)
		return -ENOMEM;
	/* A tenant the store does not know (deleted since): the operator's. */
	if (tenant != NULL &&
	    db_scalar(db_prep("SELECT count(*) FROM tenants WHERE id = ?", "s", tenant)) != 1)
		tenant = NULL;
	r = db_run(db_prep(
		"INSERT INTO ids_alerts (host_id, seq, tenant_id, network_id, time, sid, severity, "
		"signature, category, src_ip, src_port, dest_ip, dest_port, proto, app_proto, "
		"src_vm, dest_vm, eve) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
		"ON CONFLICT DO NOTHING",
		"sisssiisssnsnsssss", host_id, seq, tenant, str(eve, "network_id"),
		str(eve, "timestamp") ?: "", (int64_t)json_integer_value(json_object_get(a, "signature_id")),
		(int64_t)json_integer_value(json_object_get(a, "severity")),
		str(a, "signature") ?: "", str(a, "category") ?: "", str(eve, "src_ip"),
		num(eve, "src_port", &sp), str(eve, "dest_ip"), num(eve, "dest_port", &dp),
		str(eve, "proto"), str(eve, "app_proto"), str(eve, "src_vm"), str(eve, "dest_vm"),
		text));
	free(text);
	return r;
}

int64_t
store_ids_alert_last(const char *host_id)
{
	int64_t n = db_scalar(db_prep(
		"SELECT coalesce(max(seq), 0) FROM ids_alerts WHERE host_id = ?", "s", host_id));

	return n < 0 ? 0 : n;
}

json_t *
store_ids_alert_list(const struct ids_filter *f)
{
	json_t *arr, *a;
	size_t i;

	arr = db_all(db_prep(
		"SELECT id AS seq, time, sid, severity, signature, category, src_ip, src_port, "
		"dest_ip, dest_port, proto, app_proto, src_vm, dest_vm, network_id, "
		"tenant_id AS tenant, host_id, eve FROM ids_alerts "
		"WHERE (?1 IS NULL OR tenant_id = ?1) AND (?2 IS NULL OR src_vm = ?2 OR dest_vm = ?2) "
		"AND (?3 = 0 OR sid = ?3) AND (?4 = 0 OR severity <= ?4) AND (?5 = 0 OR id < ?5) "
		"ORDER BY id DESC LIMIT ?6",
		"ssiiii", f->tenant_id, f->vm_id, f->sid, f->severity, f->before, f->limit));
	json_array_foreach(arr, i, a) {
		const char *k;
		json_t *v, *eve;
		void *tmp;

		/* The record as the sensor wrote it, as an object again. */
		eve = json_loads(str(a, "eve") ?: "{}", 0, NULL);
		json_object_set_new(a, "eve", eve ? eve : json_object());
		json_object_foreach_safe(a, tmp, k, v) if (json_is_null(v))
			json_object_del(a, k);
		if (!f->with_host)
			json_object_del(a, "host_id"); /* the operator's to know */
	}
	return arr;
}
