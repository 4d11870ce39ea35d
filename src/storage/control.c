/* control.c - see control.h */
#define _GNU_SOURCE
#include "control.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert.h"
#include "jsonv.h"
#include "log.h"
#include "meta.h"
#include "msg.h"
#include "nbdserver.h"
#include "repair.h"
#include "util.h"
#include "volume.h"

#define CLIENTS_MAX 64

struct op_error {
	const char *code;
	char msg[256];
};

static struct pool *pool;
static atomic_int nclients;
int (*control_scan_fn)(struct pool *p, const char *volume, int quarantine, json_t **report,
		       char *err, size_t errlen);
json_t *(*control_scan_info)(void);

typedef int (*handler_fn)(json_t *args, json_t **out, struct op_error *e);

static json_t *
error_reply(const char *code, const char *msg)
{
	return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", code, "message", msg);
}

/* The error code for a -errno of the storage modules. */
static const char *
code_of(int r)
{
	switch (-r) {
	case EINVAL: return "invalid";
	case ENOENT: return "not_found";
	case EEXIST:
	case EBUSY:
	case EROFS:
	case EALREADY: return "conflict";
	case ENOSPC: return "insufficient_resources";
	default: return "internal";
	}
}

static int
fail(struct op_error *e, int r)
{
	e->code = code_of(r);
	return r;
}

static int
only(const json_t *args, const char *const *allowed, struct op_error *e)
{
	if (jsonv_only_fields(args, allowed, e->msg, sizeof(e->msg)) < 0) {
		e->code = "invalid";
		return -EINVAL;
	}
	return 0;
}

static const char *
arg_str(const json_t *args, const char *key, int required, struct op_error *e)
{
	json_t *v = json_object_get(args, key);

	if (v == NULL && !required)
		return NULL;
	if (!json_is_string(v) || volume_name_ok(json_string_value(v)) < 0) {
		e->code = "invalid";
		snprintf(e->msg, sizeof(e->msg),
			 "%s must be 1-63 characters of A-Z a-z 0-9 _ . - not starting with - or .",
			 key);
		return NULL;
	}
	return json_string_value(v);
}

static int
arg_int(const json_t *args, const char *key, int required, int64_t min, int64_t max,
	int64_t *out, struct op_error *e)
{
	json_t *v = json_object_get(args, key);

	if (v == NULL && !required)
		return 1;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		e->code = "invalid";
		snprintf(e->msg, sizeof(e->msg), "%s must be an integer from %lld to %lld", key,
			 (long long)min, (long long)max);
		return -EINVAL;
	}
	*out = json_integer_value(v);
	return 0;
}

/* "mirror" -> 2, "stripe" -> 1; absent -> dflt. */
static int
arg_redundancy(const json_t *args, int dflt, int *out, struct op_error *e)
{
	json_t *v = json_object_get(args, "redundancy");
	const char *s = json_string_value(v);

	if (v == NULL) {
		*out = dflt;
		return 0;
	}
	if (s && strcmp(s, "mirror") == 0)
		*out = 2;
	else if (s && strcmp(s, "stripe") == 0)
		*out = 1;
	else {
		e->code = "invalid";
		snprintf(e->msg, sizeof(e->msg), "redundancy must be \"mirror\" or \"stripe\"");
		return -EINVAL;
	}
	return 0;
}

static const char *
state_name(int s)
{
	return s == DEV_OK ? "ok" : s == DEV_FAILED ? "failed" : "rebuilding";
}

static json_t *
device_view(int i)
{
	struct pool_dev *d = &pool->dev[i];

	return json_pack("{s:i, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I}", "index",
			 i, "path", d->path, "state", state_name(atomic_load(&d->state)), "size",
			 (json_int_t)d->size, "extents_total", (json_int_t)d->nslots,
			 "extents_used", (json_int_t)d->nused, "read_errors",
			 (json_int_t)atomic_load(&d->read_errors), "write_errors",
			 (json_int_t)atomic_load(&d->write_errors), "checksum_errors",
			 (json_int_t)atomic_load(&d->checksum_errors), "reason", d->reason,
			 "rebuild_done", (json_int_t)atomic_load(&d->rebuild_done),
			 "rebuild_total", (json_int_t)atomic_load(&d->rebuild_total));
}

/* pool.lock held. */
static json_t *
volume_view(const struct volume *v)
{
	uint64_t alloc, shared;

	volume_usage(pool, v, &alloc, &shared);
	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:b, s:o, s:s, s:I, s:I, s:o}", "id", v->id,
			 "name", v->name, "tenant", v->tenant, "size", (json_int_t)v->size,
			 "redundancy", v->ncopies == 2 ? "mirror" : "stripe", "readonly",
			 v->readonly, "origin", v->origin[0] ? json_string(v->origin) : json_null(),
			 "created_at", v->created, "allocated_bytes", (json_int_t)alloc,
			 "shared_bytes", (json_int_t)shared, "exports",
			 nbdserver_exports_of(v->name));
}

static int
show(const char *name, json_t **out, struct op_error *e)
{
	struct volume *v;

	pthread_mutex_lock(&pool->lock);
	v = volume_find(pool, name);
	if (v)
		*out = volume_view(v);
	pthread_mutex_unlock(&pool->lock);
	if (v == NULL) {
		snprintf(e->msg, sizeof(e->msg), "no volume '%s'", name);
		return fail(e, -ENOENT);
	}
	return 0;
}

static int
h_pool_info(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const f[] = {NULL};
	uint64_t total, used;
	char uuid[33];
	int i, degraded = 0, rebuilding = 0, nvol = 0;
	json_t *xl;
	size_t nx;

	if (only(args, f, e) < 0)
		return -EINVAL;
	for (i = 0; i < 16; i++)
		snprintf(uuid + 2 * i, 3, "%02x", pool->uuid[i]);
	pthread_mutex_lock(&pool->lock);
	pool_space(pool, &total, &used);
	for (i = 0; i < POOL_MAX_VOLUMES; i++)
		nvol += pool->vol[i] != NULL;
	pthread_mutex_unlock(&pool->lock);
	xl = nbdserver_export_list();
	nx = json_array_size(xl);
	json_decref(xl);
	for (i = 0; i < pool->ndev; i++) {
		int s = atomic_load(&pool->dev[i].state);

		degraded |= s != DEV_OK;
		rebuilding |= s == DEV_REBUILDING;
	}
	*out = json_pack("{s:s, s:i, s:i, s:i, s:b, s:b, s:I, s:I, s:I, s:i, s:I, s:b, s:o}",
			 "uuid", uuid, "extent_size", POOL_EXTENT, "block_size", POOL_BLOCK,
			 "devices", pool->ndev, "degraded", degraded, "rebuilding", rebuilding,
			 "capacity_bytes", (json_int_t)total, "allocated_bytes", (json_int_t)used,
			 "free_bytes", (json_int_t)(total - used), "volumes", nvol, "exports",
			 (json_int_t)nx,
			 "clean_start", pool->clean_start, "scan",
			 control_scan_info ? control_scan_info()
					   : json_pack("{s:b}", "enabled", 0));
	return 0;
}

static int
h_device_list(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const f[] = {NULL};
	int i;

	if (only(args, f, e) < 0)
		return -EINVAL;
	*out = json_array();
	for (i = 0; i < pool->ndev; i++)
		json_array_append_new(*out, device_view(i));
	return 0;
}

static int
h_device_fail(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const f[] = {"index", "reason", NULL};
	json_t *reason = json_object_get(args, "reason");
	int64_t idx;
	int r;

	if (only(args, f, e) < 0 || arg_int(args, "index", 1, 0, POOL_MAX_DEVICES, &idx, e))
		return -EINVAL;
	if (reason && (!json_is_string(reason) || json_string_length(reason) > 200)) {
		e->code = "invalid";
		snprintf(e->msg, sizeof(e->msg), "reason must be a string of at most 200 bytes");
		return -EINVAL;
	}
	r = repair_device_fail(pool, (int)idx, json_string_value(reason), e->msg, sizeof(e->msg));
	if (r < 0)
		return fail(e, r);
	*out = device_view((int)idx);
	return 0;
}

static int
h_device_replace(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const f[] = {"index", "path", NULL};
	const char *path = json_string_value(json_object_get(args, "path"));
	int64_t idx;
	int r;

	if (only(args, f, e) < 0 || arg_int(args, "index", 1, 0, POOL_MAX_DEVICES, &idx, e))
		return -EINVAL;
	if (path == NULL) {
		e->code = "invalid";
		snprintf(e->msg, sizeof(e->msg), "path is required");
		return -EINVAL;
	}
	r = repair_device_replace(pool, (int)idx, path, e->msg, sizeof(e->msg));
	if (r < 0)
		return fail(e, r);
	*out = device_view((int)idx);
	return 0;
}

static json_t *
stats_view(const struct pool_check_stats *st, uint64_t ms)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "extents_checked",
			 (json_int_t)st->extents, "blocks_checked", (json_int_t)st->blocks,
			 "errors", (json_int_t)st->errors, "repaired", (json_int_t)st->repaired,
			 "unrecoverable", (json_int_t)st->unrecoverable, "duration_ms",
			 (json_int_t)ms);
}

static int
h_scrub(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const f[] = {NULL};
	struct pool_check_stats st;
	uint64_t t0 = util_now_ms();
	int r;

	if (only(args, f, e) < 0)
		return -EINVAL;
	r = repair_scrub(pool, &st);
	if (r < 0) {
		snprintf(e->msg, sizeof(e->msg), "scrub: %s", strerror(-r));
		return fail(e, r);
	}
	*out = stats_view(&st, util_now_ms() - t0);
	return 0;
}

static int
h_volume_create(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const f[] = {"name", "tenant", "size", "redundancy", NULL};
	const char *name, *tenant;
	int64_t size;
	int ncopies, r;

	if (only(args, f, e) < 0 || !(name = arg_str(args, "name", 1, e)) ||
	    !(tenant = arg_str(args, "tenant", 1, e)) ||
	    arg_int(args, "size", 1, 4096, (int64_t)VOLUME_MAX_SIZE, &size, e) ||
	    arg_redundancy(args, 2, &ncopies, e) < 0)
		return -EINVAL;
	r = volume_create(pool, name, tenant, (uint64_t)size, ncopies, e->msg, sizeof(e->msg));
	return r < 0 ? fail(e, r) : show(name, out, e);
}

static int
h_volume_list(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const f[] = {"tenant", NULL};
	const char *tenant = NULL;
	int i;

	if (only(args, f, e) < 0)
		return -EINVAL;
	if (json_object_get(args, "tenant") && !(tenant = arg_str(args, "tenant", 1, e)))
		return -EINVAL;
	*out = json_array();
	pthread_mutex_lock(&pool->lock);
	for (i = 0; i < POOL_MAX_VOLUMES; i++) {
		struct volume *v = pool->vol[i];

		if (v && (tenant == NULL || strcmp(v->tenant, tenant) == 0))
			json_array_append_new(*out, volume_view(v));
	}
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

static int
h_volume_show(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const f[] = {"name", NULL};
	const char *name;

	if (only(args, f, e) < 0 || !(name = arg_str(args, "name", 1, e)))
		return -EINVAL;
	return show(name, out, e);
}

static int
h_volume_grow(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const f[] = {"name", "size", NULL};
	const char *name;
	int64_t size;
	int r;

	if (only(args, f, e) < 0 || !(name = arg_str(args, "name", 1, e)) ||
	    arg_int(args, "size", 1, 4096, (int64_t)VOLUME_MAX_SIZE, &size, e))
		return -EINVAL;
	r = volume_grow(pool, name, (uint64_t)size, e->msg, sizeof(e->msg));
	return r < 0 ? fail(e, r) : show(name, out, e);
}

static int
h_volume_delete(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const f[] = {"name", NULL};
	const char *name;
	int r;

	(void)out;
	if (only(args, f, e) < 0 || !(name = arg_str(args, "name", 1, e)))
		return -EINVAL;
	r = volume_delete(pool, name, e->msg, sizeof(e->msg));
	return r < 0 ? fail(e, r) : 0;
}

static int
h_volume_snapshot(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const f[] = {"name", "snapshot", NULL};
	const char *name, *snap;
	int r;

	if (only(args, f, e) < 0 || !(name = arg_str(args, "name", 1, e)) ||
	    !(snap = arg_str(args, "snapshot", 1, e)))
		return -EINVAL;
	r = volume_copy(pool, name, snap, 1, NULL, 0, e->msg, sizeof(e->msg));
	return r < 0 ? fail(e, r) : show(snap, out, e);
}

static int
h_volume_clone(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const f[] = {"name", "clone", "tenant", "redundancy", NULL};
	const char *name, *clone, *tenant = NULL;
	int ncopies, r;

	if (only(args, f, e) < 0 || !(name = arg_str(args, "name", 1, e)) ||
	    !(clone = arg_str(args, "clone", 1, e)) || arg_redundancy(args, 0, &ncopies, e) < 0)
		return -EINVAL;
	if (json_object_get(args, "tenant") && !(tenant = arg_str(args, "tenant", 1, e)))
		return -EINVAL;
	r = volume_copy(pool, name, clone, 0, tenant, ncopies, e->msg, sizeof(e->msg));
	return r < 0 ? fail(e, r) : show(clone, out, e);
}

static int
h_export_create(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const f[] = {"vm", "tenant", "volumes", "pid", NULL};
	const char *vm, *tenant;
	int64_t pid = 0;
	int r;

	if (only(args, f, e) < 0 || !(vm = arg_str(args, "vm", 1, e)) ||
	    !(tenant = arg_str(args, "tenant", 1, e)) ||
	    arg_int(args, "pid", 0, 1, 4194304, &pid, e) < 0)
		return -EINVAL;
	r = nbdserver_export_create(vm, tenant, json_object_get(args, "volumes"), (pid_t)pid,
				    out, e->msg, sizeof(e->msg));
	return r < 0 ? fail(e, r) : 0;
}

static int
h_export_bind(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const f[] = {"vm", "pid", NULL};
	const char *vm;
	int64_t pid;
	int r;

	if (only(args, f, e) < 0 || !(vm = arg_str(args, "vm", 1, e)) ||
	    arg_int(args, "pid", 1, 1, 4194304, &pid, e))
		return -EINVAL;
	r = nbdserver_export_bind(vm, (pid_t)pid, out, e->msg, sizeof(e->msg));
	return r < 0 ? fail(e, r) : 0;
}

static int
h_export_delete(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const f[] = {"vm", NULL};
	const char *vm;
	int r;

	(void)out;
	if (only(args, f, e) < 0 || !(vm = arg_str(args, "vm", 1, e)))
		return -EINVAL;
	r = nbdserver_export_delete(vm, e->msg, sizeof(e->msg));
	return r < 0 ? fail(e, r) : 0;
}

static int
h_export_list(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const f[] = {NULL};

	if (only(args, f, e) < 0)
		return -EINVAL;
	*out = nbdserver_export_list();
	return 0;
}

static int
h_alert_list(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const f[] = {"since", "limit", NULL};
	int64_t since = 0, limit = ALERT_LIST_MAX;
	uint64_t last;
	json_t *a;

	if (only(args, f, e) < 0 || arg_int(args, "since", 0, 0, INT64_MAX, &since, e) < 0 ||
	    arg_int(args, "limit", 0, 1, ALERT_LIST_MAX, &limit, e) < 0)
		return -EINVAL;
	a = alert_list((uint64_t)since, (size_t)limit, &last);
	*out = json_pack("{s:o, s:I}", "alerts", a, "last", (json_int_t)last);
	return 0;
}

static int
h_scan(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const f[] = {"volume", "quarantine", NULL};
	json_t *q = json_object_get(args, "quarantine");
	const char *name;
	int r;

	if (only(args, f, e) < 0 || !(name = arg_str(args, "volume", 1, e)))
		return -EINVAL;
	if (q && !json_is_boolean(q)) {
		e->code = "invalid";
		snprintf(e->msg, sizeof(e->msg), "quarantine must be a boolean");
		return -EINVAL;
	}
	if (control_scan_fn == NULL) {
		e->code = "conflict";
		snprintf(e->msg, sizeof(e->msg), "scanning is not configured (no --signatures)");
		return -EBUSY;
	}
	r = control_scan_fn(pool, name, json_is_true(q), out, e->msg, sizeof(e->msg));
	return r < 0 ? fail(e, r) : 0;
}

static const struct {
	const char *op;
	handler_fn fn;
} ops[] = {
	{"pool.info", h_pool_info},
	{"device.list", h_device_list},
	{"device.fail", h_device_fail},
	{"device.replace", h_device_replace},
	{"scrub", h_scrub},
	{"volume.create", h_volume_create},
	{"volume.list", h_volume_list},
	{"volume.show", h_volume_show},
	{"volume.grow", h_volume_grow},
	{"volume.delete", h_volume_delete},
	{"volume.snapshot", h_volume_snapshot},
	{"volume.clone", h_volume_clone},
	{"export.create", h_export_create},
	{"export.bind", h_export_bind},
	{"export.delete", h_export_delete},
	{"export.list", h_export_list},
	{"alert.list", h_alert_list},
	{"scan", h_scan},
};

json_t *
control_dispatch(json_t *req)
{
	struct op_error e = {.code = "internal", .msg = ""};
	static const char *const f[] = {"op", "args", NULL};
	const char *op = json_string_value(json_object_get(req, "op"));
	json_t *args = json_object_get(req, "args"), *out = NULL, *empty = NULL;
	size_t i;
	int r;

	if (jsonv_only_fields(req, f, e.msg, sizeof(e.msg)) < 0)
		return error_reply("invalid", e.msg);
	if (op == NULL)
		return error_reply("invalid", "op is required and must be a string");
	if (args == NULL)
		args = empty = json_object();
	if (!json_is_object(args)) {
		json_decref(empty);
		return error_reply("invalid", "args must be an object");
	}
	for (i = 0; i < ARRAY_LEN(ops); i++)
		if (strcmp(ops[i].op, op) == 0)
			break;
	if (i == ARRAY_LEN(ops)) {
		char msg[128];

		json_decref(empty);
		snprintf(msg, sizeof(msg), "unknown op '%.64s'", op);
		return error_reply("invalid", msg);
	}
	r = ops[i].fn(args, &out, &e);
	json_decref(empty);
	if (r == 0)
		return json_pack("{s:b, s:o}", "ok", 1, "result", out ? out : json_null());
	json_decref(out);
	if (e.msg[0] == '\0')
		snprintf(e.msg, sizeof(e.msg), "%s", strerror(-r));
	return error_reply(e.code, e.msg);
}

static void *
client(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct msg_reader rd;

	if (msg_reader_init(&rd, fd, MSG_MAX) < 0)
		goto out;
	for (;;) {
		json_t *req = NULL, *reply;
		int r = msg_read(&rd, &req, -1);

		if (r == -ECONNRESET)
			break;
		if (r == -EBADMSG) {
			char msg[200];

			snprintf(msg, sizeof(msg), "request is %s", rd.error);
			reply = error_reply("invalid", msg);
			msg_write(fd, reply);
			json_decref(reply);
			continue;
		}
		if (r < 0) {
			reply = error_reply("invalid", r == -EMSGSIZE ? "request too large"
								 : "cannot read request");
			msg_write(fd, reply);
			json_decref(reply);
			break;
		}
		reply = control_dispatch(req);
		json_decref(req);
		r = msg_write(fd, reply);
		json_decref(reply);
		if (r < 0)
			break;
	}
	msg_reader_free(&rd);
out:
	close(fd);
	atomic_fetch_sub(&nclients, 1);
	return NULL;
}

int
control_listen(struct pool *p, const char *path)
{
	int fd;

	pool = p;
	fd = msg_listen_unix(path, 64);
	if (fd < 0)
		return fd;
	/* Only root (the agent) and the server's own user. */
	if (chmod(path, 0600) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static void *
serve_main(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (;;) {
		pthread_t t;
		pthread_attr_t attr;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EBADF || errno == EINVAL)
				break;
			if (errno != EINTR)
				log_warn("accept");
			continue;
		}
		if (atomic_fetch_add(&nclients, 1) >= CLIENTS_MAX) {
			json_t *reply = error_reply("busy", "too many connections");

			msg_write(fd, reply);
			json_decref(reply);
			close(fd);
			atomic_fetch_sub(&nclients, 1);
			continue;
		}
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, client, (void *)(intptr_t)fd) != 0) {
			close(fd);
			atomic_fetch_sub(&nclients, 1);
		}
		pthread_attr_destroy(&attr);
	}
	return NULL;
}

int
control_start(int lfd)
{
	pthread_t t;
	int r = pthread_create(&t, NULL, serve_main, (void *)(intptr_t)lfd);

	if (r == 0)
		pthread_detach(t);
	return -r;
}
