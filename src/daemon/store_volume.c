/* store_volume.c - see store_volume.h */
#define _GNU_SOURCE
#include "store_volume.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "store_images.h"
#include "store_int.h"

#define VOL_COLS                                                                       \
	"SELECT id, tenant_id, name, size_gib, redundancy, state, origin, readonly, vm_id, " \
	"created_at, host_id FROM volumes "

/* Inside a transaction: would dd more GiB of disk exceed the tenant's
 * quota? Disks of VMs, volumes and uploaded images share max_disk_gib. */
static int
disk_quota_check(const char *tenant_id, int64_t dd)
{
	int64_t max = db_scalar(db_prep("SELECT max_disk_gib FROM quotas WHERE tenant_id = ?",
					"s", tenant_id));
	int64_t vms = db_scalar(db_prep(
		"SELECT coalesce(sum(disk_gib), 0) FROM vms WHERE tenant_id = ?", "s", tenant_id));
	int64_t vols = db_scalar(db_prep(
		"SELECT coalesce(sum(size_gib), 0) FROM volumes WHERE tenant_id = ?", "s",
		tenant_id));
	int64_t imgs = db_scalar(db_prep("SELECT " STORE_IMAGES_GIB("?"), "s", tenant_id));

	if (max < 0 || vms < 0 || vols < 0 || imgs < 0)
		return -ENOENT;
	return vms + vols + imgs + dd > max ? -EDQUOT : 0;
}

static void
fix_view(json_t *v)
{
	json_object_set_new(v, "readonly",
			    json_boolean(json_integer_value(json_object_get(v, "readonly"))));
}

int
store_volume_create(const struct volume_row *v)
{
	char ts[32];
	int r;

	db_now(ts);
	if ((r = db_begin()) < 0)
		return r;
	if (db_scalar(db_prep("SELECT count(*) FROM volumes WHERE tenant_id = ? AND name = ?",
			      "ss", v->tenant_id, v->name)) != 0)
		r = -EEXIST;
	if (r == 0)
		r = disk_quota_check(v->tenant_id, v->size_gib);
	if (r == 0)
		r = db_run(db_prep("INSERT INTO volumes (id, tenant_id, name, size_gib, redundancy, "
				   "state, origin, readonly, created_at, host_id) "
				   "VALUES (?, ?, ?, ?, ?, 'creating', ?, ?, ?, ?)",
				   "sssississ", v->id, v->tenant_id, v->name, v->size_gib,
				   v->redundancy, v->origin[0] ? v->origin : NULL,
				   (int64_t)v->readonly, ts, v->host_id));
	if (r < 0) {
		db_rollback();
		return r;
	}
	return db_commit();
}

int
store_volume_set_state(const char *id, const char *state)
{
	return db_run(db_prep("UPDATE volumes SET state = ? WHERE id = ?", "ss", state, id));
}

int
store_volume_get(const char *tenant_id, const char *id, json_t **out)
{
	int r;

	if (tenant_id == NULL)
		r = db_one(db_prep(VOL_COLS "WHERE id = ?", "s", id), out);
	else
		r = db_one(db_prep(VOL_COLS "WHERE id = ? AND tenant_id = ?", "ss", id, tenant_id),
			   out);
	if (r == 0)
		fix_view(*out);
	return r;
}

json_t *
store_volume_list(const char *tenant_id)
{
	json_t *arr, *v;
	size_t i;

	if (tenant_id == NULL)
		arr = db_all(db_prep(VOL_COLS "ORDER BY created_at, id", ""));
	else
		arr = db_all(db_prep(VOL_COLS "WHERE tenant_id = ? ORDER BY created_at, id", "s",
				     tenant_id));
	json_array_foreach(arr, i, v) fix_view(v);
	return arr;
}

int
store_volume_delete(const char *id)
{
	return db_run(db_prep("DELETE FROM volumes WHERE id = ?", "s", id));
}

int
store_volume_resize(const char *id, int64_t size_gib)
{
	json_t *v = NULL;
	int64_t cur;
	int r;

	if ((r = db_begin()) < 0)
		return r;
	r = db_one(db_prep(VOL_COLS "WHERE id = ?", "s", id), &v);
	if (r == 0) {
		cur = json_integer_value(json_object_get(v, "size_gib"));
		if (size_gib <= cur)
			r = -EINVAL;
		else
			r = disk_quota_check(json_string_value(json_object_get(v, "tenant_id")),
					     size_gib - cur);
	}
	if (r == 0)
		r = db_run(db_prep("UPDATE volumes SET size_gib = ? WHERE id = ?", "is", size_gib,
				   id));
	json_decref(v);
	if (r < 0) {
		db_rollback();
		return r;
	}
	return db_commit();
}

int
store_volume_set_size(const char *id, int64_t size_gib)
{
	return db_run(db_prep("UPDATE volumes SET size_gib = ? WHERE id = ?", "is", size_gib, id));
}

int
store_volume_attach(const char *id, const char *vm_id)
{
	int r;

	if ((r = db_begin()) < 0)
		return r;
	if (vm_id != NULL) {
		if (db_scalar(db_prep("SELECT count(*) FROM volumes WHERE id = ? AND vm_id IS NOT NULL",
				      "s", id)) != 0)
			r = -EBUSY;
		else if (db_scalar(db_prep("SELECT count(*) FROM volumes WHERE vm_id = ?", "s",
					   vm_id)) >= VOLUMES_PER_VM_MAX)
			r = -E2BIG;
	}
	if (r == 0)
		r = db_run(db_prep("UPDATE volumes SET vm_id = ? WHERE id = ?", "ss", vm_id, id));
	if (r < 0) {
		db_rollback();
		return r;
	}
	return db_commit();
}

json_t *
store_volume_of_vm(const char *vm_id)
{
	json_t *rows = db_all(
		db_prep("SELECT id FROM volumes WHERE vm_id = ? ORDER BY created_at, id", "s", vm_id));
	json_t *ids = json_array(), *row;
	size_t i;

	json_array_foreach(rows, i, row) json_array_append(ids, json_object_get(row, "id"));
	json_decref(rows);
	return ids;
}

int
store_volume_host(const char *id, char *host, size_t len)
{
	db_stmt *st = db_prep("SELECT host_id FROM volumes WHERE id = ?", "s", id);
	int r = -ENOENT;

	host[0] = '\0';
	if (st == NULL)
		return -EIO;
	if (db_step(st) == 1) {
		snprintf(host, len, "%s", db_col_text(st, 0));
		r = 0;
	}
	db_done(st);
	return r;
}

/* ---- alerts ------------------------------------------------------------ */

int
store_alert_add(const char *host_id, int64_t seq, const char *tenant_id, const char *volume_id,
		const json_t *a)
{
	json_t *off = json_object_get(a, "offset"), *dev = json_object_get(a, "device");
	int64_t o = json_integer_value(off), d = json_integer_value(dev);

	/* Columns that do not apply to a kind stay NULL (absent in the view). */
	return db_run(db_prep(
		"INSERT INTO alerts (host_id, seq, tenant_id, volume_id, kind, off, signature, "
		"engine, source, device, message, time) "
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
		"sisssnsssnss", host_id, seq, tenant_id, volume_id,
		json_string_value(json_object_get(a, "kind")) ?: "unknown",
		json_is_integer(off) ? &o : NULL, json_string_value(json_object_get(a, "signature")),
		json_string_value(json_object_get(a, "engine")),
		json_string_value(json_object_get(a, "source")), json_is_integer(dev) ? &d : NULL,
		json_string_value(json_object_get(a, "message")) ?: "",
		json_string_value(json_object_get(a, "time")) ?: ""));
}

int64_t
store_alert_last(const char *host_id)
{
	int64_t n = db_scalar(
		db_prep("SELECT coalesce(max(seq), 0) FROM alerts WHERE host_id = ?", "s", host_id));

	return n < 0 ? 0 : n;
}

#define ALERT_COLS                                                                     \
	"SELECT id AS seq, time, kind, tenant_id AS tenant, volume_id AS volume, "        \
	"off AS \"offset\", signature, engine, source, device, message, host_id FROM alerts "

json_t *
store_alert_list(const char *tenant_id, const char *volume_id, int64_t limit)
{
	json_t *arr, *a;
	size_t i;

	if (tenant_id == NULL && volume_id == NULL)
		arr = db_all(db_prep(ALERT_COLS "ORDER BY id DESC LIMIT ?", "i", limit));
	else if (tenant_id == NULL)
		arr = db_all(db_prep(ALERT_COLS "WHERE volume_id = ? ORDER BY id DESC LIMIT ?", "si",
				     volume_id, limit));
	else if (volume_id == NULL)
		arr = db_all(db_prep(ALERT_COLS "WHERE tenant_id = ? ORDER BY id DESC LIMIT ?",
				     "si", tenant_id, limit));
	else
		arr = db_all(db_prep(ALERT_COLS
				     "WHERE tenant_id = ? AND volume_id = ? ORDER BY id DESC LIMIT ?",
				     "ssi", tenant_id, volume_id, limit));
	/* Fields that do not apply to the alert's kind are left out. */
	json_array_foreach(arr, i, a) {
		const char *k;
		json_t *v;
		void *tmp;

		json_object_foreach_safe(a, tmp, k, v) if (json_is_null(v))
			json_object_del(a, k);
		if (tenant_id != NULL)
			json_object_del(a, "host_id"); /* the operator's to know */
	}
	return arr;
}
