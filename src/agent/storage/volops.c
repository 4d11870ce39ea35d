/* volops.c - see storage.h: volume, alert and device operations */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "disk.h"
#include "image.h"
#include "jsonv.h"
#include "log.h"
#include "msg.h"
#include "stclient.h"
#include "util.h"

/* ---- argument checks ------------------------------------------------- */

/* Names and tenants: what a VM name may be (spec.h), which is within what
 * the server takes. */
static int
arg_ident(json_t *args, const char *key, int required, const char **out,
	  struct op_error *e)
{
	json_t *v = json_object_get(args, key);
	char err[200];

	*out = NULL;
	if (v == NULL && !required)
		return 0;
	if (!json_is_string(v))
		return op_fail(e, "invalid", -EINVAL, "%s is required and must be a string", key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return op_fail(e, "invalid", -EINVAL, "%s must not contain NUL", key);
	/* Its message reads "name must ...": say which field. */
	if (spec_check_name(json_string_value(v), err, sizeof(err)) < 0)
		return op_fail(e, "invalid", -EINVAL, "%s%s", key,
			    strncmp(err, "name", 4) == 0 ? err + 4 : err);
	*out = json_string_value(v);
	return 0;
}

static int
arg_size(json_t *args, const char *key, uint64_t *out, struct op_error *e)
{
	json_t *v = json_object_get(args, key);
	json_int_t n;

	if (!json_is_integer(v))
		return op_fail(e, "invalid", -EINVAL, "%s is required and must be an integer (bytes)",
			    key);
	n = json_integer_value(v);
	if (n < BLOCK || (uint64_t)n > VOLUME_SIZE_MAX || n % BLOCK != 0)
		return op_fail(e, "invalid", -EINVAL,
			    "%s must be a multiple of 4096 from 4096 to 16 TiB (bytes)", key);
	*out = (uint64_t)n;
	return 0;
}

static int
only(json_t *args, const char *const *allowed, struct op_error *e)
{
	char err[200];

	if (jsonv_only_fields(args, allowed, err, sizeof(err)) < 0)
		return op_fail(e, "invalid", -EINVAL, "%s", err);
	return 0;
}

/*
 * The volume view of name if it belongs to tenant. Another tenant's
 * volume answers exactly like a missing one.
 */
static int
owned(const char *tenant, const char *name, json_t **view, struct op_error *e)
{
	json_t *v = NULL;
	int r;

	if ((r = st_call("volume.show", json_pack("{s:s}", "name", name), &v, e)) < 0)
		return r;
	if (strcmp(json_string_value(json_object_get(v, "tenant")) ?: "", tenant) != 0) {
		json_decref(v);
		return op_fail(e, "not_found", -ENOENT, "no volume '%s'", name);
	}
	if (view != NULL)
		*view = v;
	else
		json_decref(v);
	return 0;
}

int
storage_check_volumes(const struct vm_spec *s, struct op_error *e)
{
	int r;

	if (s->n_volumes == 0)
		return 0;
	if (!st_conf.enabled)
		return op_fail(e, "conflict", -ENODEV, "storage is not configured");
	if (s->tenant[0] == '\0')
		return op_fail(e, "invalid", -EINVAL, "a VM with volumes needs a tenant");
	for (unsigned i = 0; i < s->n_volumes; i++) {
		json_t *v = NULL;

		if ((r = owned(s->tenant, s->volumes[i], &v, e)) < 0) {
			if (strcmp(e->code, "not_found") == 0)
				return op_fail(e, "invalid", -EINVAL, "no volume '%s' of tenant '%s'",
					    s->volumes[i], s->tenant);
			return r;
		}
		if (json_is_true(json_object_get(v, "readonly"))) {
			json_decref(v);
			return op_fail(e, "invalid", -EINVAL,
				    "volume '%s' is a snapshot (read-only): clone it to attach it",
				    s->volumes[i]);
		}
		json_decref(v);
	}
	return 0;
}

/* ---- operations -------------------------------------------------------- */

static int
op_info(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {NULL};
	json_t *info = NULL;
	int r;

	if ((r = only(args, allowed, e)) < 0)
		return r;
	if (!st_conf.enabled) {
		*out = json_pack("{s:b}", "enabled", 0);
		return 0;
	}
	if ((r = st_call("pool.info", NULL, &info, e)) < 0)
		return r;
	{
		pid_t pid;
		unsigned n;

		st_server_info(&pid, &n);
		json_object_set_new(info, "enabled", json_true());
		json_object_set_new(info, "server_pid", json_integer(pid));
		json_object_set_new(info, "server_restarts", json_integer(n));
	}
	*out = info;
	return 0;
}

static int
op_create(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"tenant", "name", "size", "redundancy", NULL};
	const char *tenant, *name, *red = "mirror";
	json_t *rv = json_object_get(args, "redundancy");
	uint64_t size;
	int r;

	if ((r = only(args, allowed, e)) < 0 || (r = arg_ident(args, "tenant", 1, &tenant, e)) < 0 ||
	    (r = arg_ident(args, "name", 1, &name, e)) < 0 ||
	    (r = arg_size(args, "size", &size, e)) < 0)
		return r;
	if (rv != NULL) {
		red = json_string_value(rv);
		if (red == NULL || (strcmp(red, "mirror") != 0 && strcmp(red, "stripe") != 0))
			return op_fail(e, "invalid", -EINVAL, "redundancy must be mirror or stripe");
	}
	return st_call("volume.create",
		    json_pack("{s:s, s:s, s:I, s:s}", "name", name, "tenant", tenant, "size",
			      (json_int_t)size, "redundancy", red),
		    out, e);
}

/* A volume view with the agent's VMs that name it. */
static json_t *
with_vms(json_t *v)
{
	char vms[256];

	if (st_volume_users(json_string_value(json_object_get(v, "name")) ?: "", vms,
			    sizeof(vms)) > 0)
		json_object_set_new(v, "vms", json_string(vms));
	return v;
}

static int
op_list(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"tenant", NULL};
	const char *tenant;
	json_t *list = NULL, *v;
	size_t i;
	int r;

	if ((r = only(args, allowed, e)) < 0 || (r = arg_ident(args, "tenant", 0, &tenant, e)) < 0)
		return r;
	r = st_call("volume.list", tenant ? json_pack("{s:s}", "tenant", tenant) : NULL, &list, e);
	if (r < 0)
		return r;
	json_array_foreach(list, i, v)
		with_vms(v);
	*out = list;
	return 0;
}

static int
op_show(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"tenant", "name", NULL};
	const char *tenant, *name;
	int r;

	if ((r = only(args, allowed, e)) < 0 || (r = arg_ident(args, "tenant", 1, &tenant, e)) < 0 ||
	    (r = arg_ident(args, "name", 1, &name, e)) < 0 || (r = owned(tenant, name, out, e)) < 0)
		return r;
	with_vms(*out);
	return 0;
}

static int
op_grow(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"tenant", "name", "size", NULL};
	const char *tenant, *name;
	uint64_t size;
	int r;

	if ((r = only(args, allowed, e)) < 0 || (r = arg_ident(args, "tenant", 1, &tenant, e)) < 0 ||
	    (r = arg_ident(args, "name", 1, &name, e)) < 0 ||
	    (r = arg_size(args, "size", &size, e)) < 0 || (r = owned(tenant, name, NULL, e)) < 0)
		return r;
	/* A running VM sees the new size after its next start: virtio-blk
	 * over NBD reads the size at connect. */
	return st_call("volume.grow", json_pack("{s:s, s:I}", "name", name, "size", (json_int_t)size),
		    out, e);
}

static int
op_delete(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"tenant", "name", NULL};
	const char *tenant, *name;
	char vms[256];
	int r;

	(void)out;
	if ((r = only(args, allowed, e)) < 0 || (r = arg_ident(args, "tenant", 1, &tenant, e)) < 0 ||
	    (r = arg_ident(args, "name", 1, &name, e)) < 0 || (r = owned(tenant, name, NULL, e)) < 0)
		return r;
	if (st_volume_users(name, vms, sizeof(vms)) > 0)
		return op_fail(e, "conflict", -EBUSY, "volume '%s' is attached to VM %s", name, vms);
	return st_call("volume.delete", json_pack("{s:s}", "name", name), NULL, e);
}

/* volume.snapshot {tenant, name, snapshot} and volume.clone {tenant, name,
 * clone}: the copy stays the tenant's. */
static int
op_copy(json_t *args, json_t **out, struct op_error *e, int snapshot)
{
	static const char *const allowed_s[] = {"tenant", "name", "snapshot", NULL};
	static const char *const allowed_c[] = {"tenant", "name", "clone", "redundancy", NULL};
	const char *key = snapshot ? "snapshot" : "clone";
	const char *tenant, *name, *copy;
	json_t *rv = json_object_get(args, "redundancy"), *a;
	int r;

	if ((r = only(args, snapshot ? allowed_s : allowed_c, e)) < 0 ||
	    (r = arg_ident(args, "tenant", 1, &tenant, e)) < 0 ||
	    (r = arg_ident(args, "name", 1, &name, e)) < 0 ||
	    (r = arg_ident(args, key, 1, &copy, e)) < 0 || (r = owned(tenant, name, NULL, e)) < 0)
		return r;
	if (snapshot)
		return st_call("volume.snapshot", json_pack("{s:s, s:s}", "name", name, "snapshot", copy),
			    out, e);
	a = json_pack("{s:s, s:s, s:s}", "name", name, "clone", copy, "tenant", tenant);
	if (rv != NULL) {
		if (!json_is_string(rv) || (strcmp(json_string_value(rv), "mirror") != 0 &&
					    strcmp(json_string_value(rv), "stripe") != 0)) {
			json_decref(a);
			return op_fail(e, "invalid", -EINVAL, "redundancy must be mirror or stripe");
		}
		json_object_set(a, "redundancy", rv);
	}
	return st_call("volume.clone", a, out, e);
}

static int
op_snapshot(json_t *args, json_t **out, struct op_error *e)
{
	return op_copy(args, out, e, 1);
}

static int
op_clone(json_t *args, json_t **out, struct op_error *e)
{
	return op_copy(args, out, e, 0);
}

static int
op_scan(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"tenant", "name", "quarantine", NULL};
	const char *tenant, *name;
	json_t *q = json_object_get(args, "quarantine");
	int r;

	if ((r = only(args, allowed, e)) < 0 || (r = arg_ident(args, "tenant", 1, &tenant, e)) < 0 ||
	    (r = arg_ident(args, "name", 1, &name, e)) < 0)
		return r;
	if (q != NULL && !json_is_boolean(q))
		return op_fail(e, "invalid", -EINVAL, "quarantine must be true or false");
	if ((r = owned(tenant, name, NULL, e)) < 0)
		return r;
	return st_call("scan", json_pack("{s:s, s:b}", "volume", name, "quarantine", json_is_true(q)),
		    out, e);
}

static int
arg_count(json_t *args, const char *key, json_int_t dflt, json_int_t max, json_int_t *out,
	  struct op_error *e)
{
	json_t *v = json_object_get(args, key);

	if (v == NULL) {
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		return op_fail(e, "invalid", -EINVAL, "%s must be an integer from 0 to %lld", key,
			    (long long)max);
	*out = json_integer_value(v);
	return 0;
}

static int
op_alerts(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"since", "limit", NULL};
	json_int_t since, limit;
	int r;

	if ((r = only(args, allowed, e)) < 0 ||
	    (r = arg_count(args, "since", 0, INT64_MAX, &since, e)) < 0 ||
	    (r = arg_count(args, "limit", 1000, 1000, &limit, e)) < 0)
		return r;
	return st_call("alert.list", json_pack("{s:I, s:I}", "since", since, "limit", limit ? limit : 1000),
		    out, e);
}

static int
op_devices(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {NULL};
	int r;

	if ((r = only(args, allowed, e)) < 0)
		return r;
	return st_call("device.list", NULL, out, e);
}

static int
op_scrub(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {NULL};
	int r;

	if ((r = only(args, allowed, e)) < 0)
		return r;
	return st_call("scrub", NULL, out, e);
}

static int
op_fail_device(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"index", "reason", NULL};
	json_t *reason = json_object_get(args, "reason");
	json_int_t idx;
	int r;

	if ((r = only(args, allowed, e)) < 0 ||
	    (r = arg_count(args, "index", -1, STORAGE_DEVICES_MAX - 1, &idx, e)) < 0)
		return r;
	if (idx < 0)
		return op_fail(e, "invalid", -EINVAL, "index is required");
	if (reason != NULL && (!json_is_string(reason) || json_string_length(reason) > 200 ||
			       strlen(json_string_value(reason)) != json_string_length(reason)))
		return op_fail(e, "invalid", -EINVAL, "reason must be a string of at most 200 bytes");
	return st_call("device.fail",
		    json_pack("{s:I, s:s}", "index", idx, "reason",
			      reason ? json_string_value(reason) : "marked failed by the operator"),
		    out, e);
}

/*
 * device.replace {index, path}: a path that does not exist is created
 * sparse, as large as the device it replaces, and given to the server's
 * user (the server has dropped root by now and must open it itself).
 */
static int
op_replace(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"index", "path", NULL};
	const char *path = json_string_value(json_object_get(args, "path"));
	json_t *devs = NULL, *d;
	json_int_t idx, size = 0;
	size_t i;
	int r, created = 0;

	if ((r = only(args, allowed, e)) < 0 ||
	    (r = arg_count(args, "index", -1, STORAGE_DEVICES_MAX - 1, &idx, e)) < 0)
		return r;
	if (idx < 0)
		return op_fail(e, "invalid", -EINVAL, "index is required");
	if (path == NULL || path[0] != '/' || strlen(path) >= PATH_MAX ||
	    strlen(path) != json_string_length(json_object_get(args, "path")))
		return op_fail(e, "invalid", -EINVAL, "path must be an absolute path");
	if ((r = st_call("device.list", NULL, &devs, e)) < 0)
		return r;
	json_array_foreach(devs, i, d)
		if (json_integer_value(json_object_get(d, "index")) == idx)
			size = json_integer_value(json_object_get(d, "size"));
	json_decref(devs);
	if (size <= 0)
		return op_fail(e, "not_found", -ENOENT, "no device %lld", (long long)idx);
	if (access(path, F_OK) < 0) {
		if ((r = st_make_device(path, (uint64_t)size)) < 0)
			return op_fail(e, "invalid", r, "cannot create %s: %s", path, strerror(-r));
		created = 1;
		if (chown(path, st_conf.uid, st_conf.gid) < 0 && geteuid() == 0) {
			r = -errno;
			unlink(path);
			return op_fail(e, "internal", r, "chown %s: %s", path, strerror(-r));
		}
	}
	r = st_call("device.replace", json_pack("{s:I, s:s}", "index", idx, "path", path), out, e);
	if (r < 0 && created)
		unlink(path);
	return r;
}

static const struct {
	const char *op;
	int (*fn)(json_t *args, json_t **out, struct op_error *e);
} ops[] = {
	{"storage.info", op_info},	 {"volume.create", op_create},
	{"volume.list", op_list},	 {"volume.show", op_show},
	{"volume.grow", op_grow},	 {"volume.delete", op_delete},
	{"volume.snapshot", op_snapshot}, {"volume.clone", op_clone},
	{"volume.scan", op_scan},	 {"alert.list", op_alerts},
	{"device.list", op_devices},	 {"device.fail", op_fail_device},
	{"device.replace", op_replace},	 {"scrub", op_scrub},
};

int
storage_dispatch(const char *op, json_t *args, json_t **out, struct op_error *e)
{
	for (size_t i = 0; i < ARRAY_LEN(ops); i++) {
		if (strcmp(ops[i].op, op) != 0)
			continue;
		if (!st_conf.enabled && ops[i].fn != op_info)
			return op_fail(e, "conflict", -ENODEV, "storage is not configured");
		return ops[i].fn(args, out, e);
	}
	return -ENOSYS;
}
