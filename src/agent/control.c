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
#include <sys/un.h>
#include <unistd.h>

#include "image.h"
#include "log.h"
#include "msg.h"
#include "util.h"
#include "vm.h"

static atomic_int nclients;

static json_t *
error_reply(const char *code, const char *msg)
{
	return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", code, "message",
			 msg);
}

static json_t *
ok_reply(json_t *result)
{
	return json_pack("{s:b, s:o}", "ok", 1, "result", result ? result : json_null());
}

static json_t *
host_info(void)
{
	const struct host_info *h = &vm_cfg->host;

	return json_pack("{s:i, s:I, s:I, s:b, s:b, s:s, s:s, s:f}", "cpus", (int)h->cpus,
			 "memory_mib", (json_int_t)h->memory_mib, "tsc_khz",
			 (json_int_t)h->tsc_khz, "hw_virt", h->hw_virt, "kvm_usable",
			 h->kvm_usable, "accel", host_accel_name(h->accel), "accel_reason",
			 h->accel_reason, "mem_overcommit", vm_cfg->mem_overcommit);
}

/* Reads args.name (required string). */
static const char *
arg_name(const json_t *args, struct op_error *e)
{
	const char *name = json_string_value(json_object_get(args, "name"));

	if (name == NULL) {
		e->code = "invalid";
		snprintf(e->msg, sizeof(e->msg), "name is required and must be a string");
	}
	return name;
}

static int
arg_uint(const json_t *args, const char *key, unsigned dflt, unsigned max, unsigned *out,
	 struct op_error *e)
{
	json_t *v = json_object_get(args, key);

	if (v == NULL) {
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > (json_int_t)max) {
		e->code = "invalid";
		snprintf(e->msg, sizeof(e->msg), "%s must be an integer from 0 to %u", key, max);
		return -EINVAL;
	}
	*out = (unsigned)json_integer_value(v);
	return 0;
}

static json_t *dispatch(const char *op, json_t *args);

json_t *
control_dispatch(const json_t *req)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	json_t *args = json_object_get(req, "args");
	json_t *empty = NULL, *reply;

	if (op == NULL)
		return error_reply("invalid", "request needs a string \"op\"");
	if (args == NULL)
		args = empty = json_object();
	if (!json_is_object(args))
		return error_reply("invalid", "\"args\" must be an object");
	reply = dispatch(op, args);
	json_decref(empty);
	return reply;
}

static json_t *
dispatch(const char *op, json_t *args)
{
	struct op_error e = {.code = "internal", .msg = ""};
	json_t *out = NULL;
	const char *name = NULL;
	unsigned n, timeout;
	int r = 0;

	if (strcmp(op, "host.info") == 0)
		return ok_reply(host_info());
	if (strcmp(op, "image.list") == 0)
		return ok_reply(image_list());
	if (strcmp(op, "vm.list") == 0)
		return ok_reply(vm_list());
	if (strcmp(op, "vm.create") == 0) {
		r = vm_create(args, &out, &e);
		goto done;
	}
	if (strncmp(op, "vm.", 3) != 0)
		goto unknown;
	if ((name = arg_name(args, &e)) == NULL) {
		r = -EINVAL;
		goto done;
	}
	if (strcmp(op, "vm.show") == 0)
		r = vm_show(name, &out, &e);
	else if (strcmp(op, "vm.start") == 0)
		r = vm_start(name, &out, &e);
	else if (strcmp(op, "vm.stop") == 0) {
		json_t *force = json_object_get(args, "force");

		if (force != NULL && !json_is_boolean(force)) {
			e.code = "invalid";
			snprintf(e.msg, sizeof(e.msg), "force must be true or false");
			r = -EINVAL;
		} else if ((r = arg_uint(args, "timeout_s", 0, 3600, &timeout, &e)) == 0)
			r = vm_stop(name, json_is_true(force), timeout, &out, &e);
	} else if (strcmp(op, "vm.reboot") == 0)
		r = vm_reboot(name, &out, &e);
	else if (strcmp(op, "vm.pause") == 0)
		r = vm_pause(name, 1, &out, &e);
	else if (strcmp(op, "vm.resume") == 0)
		r = vm_pause(name, 0, &out, &e);
	else if (strcmp(op, "vm.reconfigure") == 0) {
		json_t *changes = json_deep_copy(args);

		r = vm_reconfigure(name, changes, &out, &e);
		json_decref(changes);
	} else if (strcmp(op, "vm.delete") == 0)
		r = vm_delete(name, &e);
	else if (strcmp(op, "vm.wait") == 0) {
		const char *what = json_string_value(json_object_get(args, "for"));

		if ((r = arg_uint(args, "timeout_s", 60, 3600, &timeout, &e)) == 0)
			r = vm_wait(name, what ? what : "ready", timeout, &out, &e);
	} else if (strcmp(op, "vm.console") == 0) {
		if ((r = arg_uint(args, "bytes", 16384, 1 << 20, &n, &e)) == 0)
			r = vm_console(name, n, &out, &e);
	} else
		goto unknown;
done:
	if (r < 0) {
		json_t *reply = error_reply(e.code, e.msg);
		if (out != NULL)
			json_object_set_new(reply, "result", out);
		return reply;
	}
	return ok_reply(out);
unknown:
	{
		char msg[128];
		snprintf(msg, sizeof(msg), "unknown op '%.64s'", op);
		return error_reply("invalid", msg);
	}
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
			reply = error_reply("invalid", "request is not a JSON object");
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
control_listen(const char *path, gid_t gid)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 64) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	/* Only root and the control plane's group may talk to the agent. */
	if (chmod(path, 0660) < 0 ||
	    (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0)) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

void
control_serve(int lfd)
{
	for (;;) {
		pthread_t t;
		pthread_attr_t attr;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EINTR)
				log_warn("accept");
			continue;
		}
		if (atomic_fetch_add(&nclients, 1) >= CONTROL_CLIENTS_MAX) {
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
}
