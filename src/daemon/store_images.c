/* store_images.c - see store_images.h */
#define _GNU_SOURCE
#include "store_images.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "store.h"
#include "store_int.h"

#define IMAGE_COLS                                                                         \
	"SELECT id, name, source_format, virtual_size, created_at, 'upload' AS source FROM "  \
	"images "

int
store_image_room(const char *tenant_id, int64_t *bytes)
{
	db_stmt *st = db_prep(
		"SELECT q.max_disk_gib - (SELECT coalesce(sum(disk_gib), 0) FROM vms"
		" WHERE tenant_id = q.tenant_id) - (SELECT coalesce(sum(size_gib), 0) FROM volumes"
		" WHERE tenant_id = q.tenant_id) - " STORE_IMAGES_GIB("q.tenant_id")
		" FROM quotas q WHERE q.tenant_id = ?",
		"s", tenant_id);
	int r = -ENOENT;

	if (st == NULL)
		return -EIO;
	if (db_step(st) == 1) {
		int64_t gib = db_col_int(st, 0);

		*bytes = gib > 0 ? gib * (INT64_C(1) << 30) : 0;
		r = 0;
	}
	db_done(st);
	return r;
}

int
store_image_add(const char *tenant_id, const char *id, const char *name,
		const char *source_format, int64_t virtual_size, json_t **out)
{
	char ts[32];
	int64_t room = 0;
	int r;

	if ((r = db_begin()) < 0)
		return r;
	if ((r = store_image_room(tenant_id, &room)) < 0 || virtual_size > room) {
		db_rollback();
		return r < 0 ? r : -EDQUOT;
	}
	db_now(ts);
	r = db_run(db_prep("INSERT INTO images (id, tenant_id, name, source_format, virtual_size, "
			   "created_at) VALUES (?, ?, ?, ?, ?, ?)",
			   "ssssis", id, tenant_id, name, source_format, virtual_size, ts));
	if (r < 0) {
		db_rollback();
		return r;
	}
	if ((r = db_commit()) < 0)
		return r;
	return store_image_get(tenant_id, id, out);
}

int
store_image_get(const char *tenant_id, const char *id_or_name, json_t **out)
{
	return db_one(db_prep(IMAGE_COLS "WHERE tenant_id = ?1 AND (id = ?2 OR name = ?2)", "ss",
			      tenant_id, id_or_name),
		      out);
}

json_t *
store_image_list(const char *tenant_id)
{
	return db_all(db_prep(IMAGE_COLS "WHERE tenant_id = ? ORDER BY name", "s", tenant_id));
}

int
store_image_delete(const char *tenant_id, const char *id_or_name, char *id)
{
	json_t *im = NULL;
	int r = store_image_get(tenant_id, id_or_name, &im);

	if (r < 0)
		return r;
	snprintf(id, 24, "%s", json_string_value(json_object_get(im, "id")) ?: "");
	json_decref(im);
	r = db_run(db_prep("DELETE FROM images WHERE tenant_id = ? AND id = ?", "ss", tenant_id,
			   id));
	return r < 0 ? r : db_changes() == 0 ? -ENOENT : 0;
}
