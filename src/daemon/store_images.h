/*
 * store_images.h - disk images a tenant uploaded (POST /v1/images,
 * docs/images.md): a row per image that passed every check; the raw file
 * is <image dir>/<id>.raw (imgup.h). Their virtual sizes count against the
 * tenant's max_disk_gib, rounded up to whole GiB each. Same conventions as
 * store.h.
 */
#ifndef CLOUDLET_STORE_IMAGES_H
#define CLOUDLET_STORE_IMAGES_H

#include <jansson.h>
#include <stdint.h>

/* The GiB a tenant's images use, as an SQL expression for quota sums
 * (TENANT: the SQL that names the tenant's id). */
#define STORE_IMAGES_GIB(tenant)                                                          \
	"(SELECT coalesce(sum((virtual_size + 1073741823) / 1073741824), 0) FROM images "  \
	"WHERE tenant_id = " tenant ")"

/* id: the caller's (db_new_id("img-")), the file is named after it.
 * -EEXIST for a name taken, -EDQUOT when it no longer fits the quota. */
int store_image_add(const char *tenant_id, const char *id, const char *name,
		    const char *source_format, int64_t virtual_size, json_t **out);
/* An image by id or name, of that tenant. */
int store_image_get(const char *tenant_id, const char *id_or_name, json_t **out);
json_t *store_image_list(const char *tenant_id);
/* *id (24 bytes) gets the deleted image's id (its file is the caller's). */
int store_image_delete(const char *tenant_id, const char *id_or_name, char *id);
/* Bytes left under max_disk_gib after VM disks, volumes and images. */
int store_image_room(const char *tenant_id, int64_t *bytes);

#endif
