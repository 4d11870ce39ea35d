/* volmove.c - see storage.h: volumes made and removed for a migration */
#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "stclient.h"

int
storage_volume_make(const char *tenant, const char *name, uint64_t size, const char *redundancy,
		    struct op_error *e)
{
	json_t *v = NULL;
	struct op_error e2;

	if (!st_conf.enabled)
		return op_fail(e, "conflict", -ENODEV, "storage is not configured");
	if (size < BLOCK || size > VOLUME_SIZE_MAX || size % BLOCK != 0)
		return op_fail(e, "invalid", -EINVAL, "volume '%s': a size of %llu bytes", name,
			       (unsigned long long)size);
	/* A volume of that name here already is not ours to overwrite. */
	if (st_call("volume.show", json_pack("{s:s}", "name", name), &v, &e2) == 0) {
		json_decref(v);
		return op_fail(e, "conflict", -EEXIST, "a volume '%s' exists on this host", name);
	}
	return st_call("volume.create",
		       json_pack("{s:s, s:s, s:I, s:s}", "name", name, "tenant", tenant, "size",
				 (json_int_t)size, "redundancy", redundancy ? redundancy : "mirror"),
		       NULL, e);
}

void
storage_volume_drop(const char *name)
{
	struct op_error e;

	if (!st_conf.enabled)
		return;
	/* A client that was just killed (a prepared QEMU) may hold its NBD
	 * connection a moment longer: "in use" is tried again for 5 s. */
	for (int i = 0; i < 50; i++) {
		if (st_call("volume.delete", json_pack("{s:s}", "name", name), NULL, &e) == 0 ||
		    strcmp(e.code, "not_found") == 0)
			return;
		if (strcmp(e.code, "conflict") != 0)
			break;
		usleep(100000);
	}
	log_warnx("cannot delete volume %s: %s", name, e.msg);
}

int
storage_free_bytes(uint64_t *out, struct op_error *e)
{
	json_t *info = NULL;
	int r;

	*out = 0;
	if (!st_conf.enabled)
		return op_fail(e, "conflict", -ENODEV, "storage is not configured");
	if ((r = st_call("pool.info", NULL, &info, e)) < 0)
		return r;
	*out = (uint64_t)json_integer_value(json_object_get(info, "free_bytes"));
	json_decref(info);
	return 0;
}
