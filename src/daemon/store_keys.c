/* store_keys.c - see store_keys.h */
#define _GNU_SOURCE
#include "store_keys.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "store.h"
#include "store_int.h"

#define KEY_COLS "SELECT id, name, type, bits, fingerprint, public_key, created_at FROM ssh_keys "

int
store_key_add(const struct key_row *k, json_t **out)
{
	char id[STORE_ID_LEN], ts[32];
	int r;

	if ((r = db_new_id("k-", id)) < 0)
		return r;
	db_now(ts);
	r = db_run(db_prep("INSERT INTO ssh_keys (id, tenant_id, name, type, bits, fingerprint, "
			   "public_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			   "ssssisss", id, k->tenant_id, k->name, k->type, k->bits,
			   k->fingerprint, k->public_key, ts));
	if (r < 0)
		return r;
	return store_key_get(k->tenant_id, id, out);
}

int
store_key_get(const char *tenant_id, const char *id_or_name, json_t **out)
{
	return db_one(db_prep(KEY_COLS "WHERE tenant_id = ?1 AND (id = ?2 OR name = ?2)", "ss",
			      tenant_id, id_or_name),
		      out);
}

json_t *
store_key_list(const char *tenant_id)
{
	return db_all(db_prep(KEY_COLS "WHERE tenant_id = ? ORDER BY name", "s", tenant_id));
}

int
store_key_delete(const char *tenant_id, const char *id)
{
	int r = db_run(db_prep("DELETE FROM ssh_keys WHERE tenant_id = ?1 AND "
			       "(id = ?2 OR name = ?2)",
			       "ss", tenant_id, id));

	return r < 0 ? r : db_changes() == 0 ? -ENOENT : 0;
}

int
store_keys_lines(const char *tenant_id, const json_t *names, json_t **lines, char *missing)
{
	json_t *n, *k;
	size_t i;

	*lines = json_array();
	json_array_foreach(names, i, n) {
		k = NULL;
		if (store_key_get(tenant_id, json_string_value(n), &k) < 0) {
			snprintf(missing, 64, "%s", json_string_value(n) ?: "?");
			json_decref(*lines);
			*lines = NULL;
			return -ENOENT;
		}
		json_array_append(*lines, json_object_get(k, "public_key"));
		json_decref(k);
	}
	return 0;
}
