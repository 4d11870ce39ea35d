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
#include <sys/statvfs.h>
#include <unistd.h>

#include "fwvm.h"
#include "ids.h"
#include "image.h"
#include "net.h"
#include "spec.h"
#include "storage.h"
#include "template.h"
#include "log.h"
#include "msg.h"
#include "util.h"
#include "version.h"
#include "vm.h"
#include "vmmigrate.h"
#include "replica.h"
#include "vmrepl.h"

/* A tenant's whole network state (net.apply with up to 1024 firewall
 * rules) is the largest request: about 200 KiB. */

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

/* The filesystem that holds the VMs' disks: its size and what is free, in
 * GiB (placement's disk filter; the disks are sparse, so use is what the
 * control plane charged, and free space is shown beside it). */
static void
disk_space(json_t *j)
{
	struct statvfs sv;

	if (statvfs(agent_config()->state_dir, &sv) < 0)
		return;
	json_object_set_new(j, "disk_gib",
			    json_integer((json_int_t)((uint64_t)sv.f_blocks * sv.f_frsize >> 30)));
	json_object_set_new(j, "disk_free_gib",
			    json_integer((json_int_t)((uint64_t)sv.f_bavail * sv.f_frsize >> 30)));
}

static json_t *
host_info(void)
{
	const struct host_info *h = &agent_config()->host;

	json_t *j = json_pack("{s:i, s:I, s:I, s:b, s:b, s:s, s:s, s:f}", "cpus", (int)h->cpus,
			      "memory_mib", (json_int_t)h->memory_mib, "tsc_khz",
			      (json_int_t)h->tsc_khz, "hw_virt", h->hw_virt, "kvm_usable",
			      h->kvm_usable, "accel", host_accel_name(h->accel), "accel_reason",
			      h->accel_reason, "mem_overcommit", agent_config()->mem_overcommit);

	/* What a control plane checks before it uses this agent. */
	if (j != NULL) {
		json_object_update_new(j, json_pack("{s:{s:i, s:i}, s:s, s:s}", "protocol", "min",
						    CONTROL_PROTOCOL_MIN, "max",
						    CONTROL_PROTOCOL_MAX, "name_prefix",
						    agent_config()->name_prefix, "version",
						    CLOUDLET_VERSION));
		disk_space(j);
		json_object_set_new(j, "templates", template_fits());
	}
	return j;
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
control_refusal(int r, const char *why)
{
	char msg[200];

	if (r == -EBADMSG) {
		snprintf(msg, sizeof(msg), "request is %s", why ? why : "malformed");
		return error_reply("invalid", msg);
	}
	return error_reply("invalid", r == -EMSGSIZE ? "request too large" : "cannot read request");
}

json_t *
control_dispatch(const json_t *req)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	json_t *args = json_object_get(req, "args");
	json_t *empty = NULL, *reply;

	if (op == NULL)
		return error_reply("invalid", "request needs a string \"op\"");
	/* A request may say which protocol it speaks ("v"); one this agent
	 * does not speak is refused before anything is looked at. */
	if (json_object_get(req, "v") != NULL) {
		json_t *v = json_object_get(req, "v");

		if (!json_is_integer(v) || json_integer_value(v) < CONTROL_PROTOCOL_MIN ||
		    json_integer_value(v) > CONTROL_PROTOCOL_MAX) {
			char msg[160];

			snprintf(msg, sizeof(msg),
				 "this agent speaks protocol %d to %d; the request says %s",
				 CONTROL_PROTOCOL_MIN, CONTROL_PROTOCOL_MAX,
				 json_is_integer(v) ? "another" : "no number");
			return error_reply("unsupported", msg);
		}
	}
	if (args == NULL)
		args = empty = json_object();
	if (!json_is_object(args))
		return error_reply("invalid", "\"args\" must be an object");
	reply = dispatch(op, args);
	json_decref(empty);
	return reply;
}

/* Each handler gets the request's args and the VM name (when it takes one). */
typedef int (*handler_fn)(json_t *args, const char *name, json_t **out, struct op_error *e);

static int
h_host(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)args, (void)name, (void)e;
	*out = host_info();
	return 0;
}

static int
h_images(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)args, (void)name, (void)e;
	*out = image_list();
	return 0;
}

static int
h_list(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)args, (void)name, (void)e;
	*out = vm_list();
	return 0;
}

static int
h_create(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)name;
	return vm_create(args, out, e);
}

static int
h_show(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)args;
	return vm_show(name, out, e);
}

static int
h_start(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)args;
	return vm_start(name, out, e);
}

static int
h_stop(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	json_t *force = json_object_get(args, "force");
	unsigned timeout;
	int r;

	if (force != NULL && !json_is_boolean(force)) {
		e->code = "invalid";
		snprintf(e->msg, sizeof(e->msg), "force must be true or false");
		return -EINVAL;
	}
	if ((r = arg_uint(args, "timeout_s", 0, 3600, &timeout, e)) < 0)
		return r;
	return vm_stop(name, json_is_true(force), timeout, out, e);
}

static int
h_reboot(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)args;
	return vm_reboot(name, out, e);
}

static int
h_pause(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)args;
	return vm_pause(name, 1, out, e);
}

static int
h_resume(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)args;
	return vm_pause(name, 0, out, e);
}

static int
h_reconfigure(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	return vm_reconfigure(name, args, out, e);
}

static int
h_delete(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)args, (void)out;
	return vm_delete(name, e);
}

static int
h_wait(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	json_t *what = json_object_get(args, "for");
	unsigned timeout;
	int r;

	if (what != NULL && !json_is_string(what)) {
		e->code = "invalid";
		snprintf(e->msg, sizeof(e->msg), "for must be a string");
		return -EINVAL;
	}
	if ((r = arg_uint(args, "timeout_s", 60, 3600, &timeout, e)) < 0)
		return r;
	return vm_wait(name, what ? json_string_value(what) : "ready", timeout, out, e);
}

static int
h_console(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	json_t *off = json_object_get(args, "offset");
	unsigned n;
	int r;

	if ((r = arg_uint(args, "bytes", 16384, 1 << 20, &n, e)) < 0)
		return r;
	if (off != NULL && (!json_is_integer(off) || json_integer_value(off) < 0)) {
		e->code = "invalid";
		snprintf(e->msg, sizeof(e->msg), "offset must be a non-negative integer");
		return -EINVAL;
	}
	return vm_console(name, n, off ? (int64_t)json_integer_value(off) : -1, out, e);
}

static int
h_console_input(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	json_t *data = json_object_get(args, "data");

	(void)out;
	if (!json_is_string(data) || json_string_length(data) > 4096) {
		e->code = "invalid";
		snprintf(e->msg, sizeof(e->msg), "data must be a string of at most 4096 bytes");
		return -EINVAL;
	}
	return vm_console_input(name, json_string_value(data), json_string_length(data), e);
}

static int
h_template_list(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)args, (void)name, (void)e;
	*out = template_list();
	return 0;
}

/* Build the template for a spec's fit now: {image, vcpus, memory_mib, disk_gib}. */
static int
h_template_build(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	struct spec_limits lim = {agent_config()->host.cpus, agent_config()->host.memory_mib, image_lookup};
	struct vm_spec s;
	json_t *spec = json_deep_copy(args);
	int r;

	(void)name;
	json_object_set_new(spec, "name", json_string("template"));
	r = spec_parse(spec, &lim, &s, e->msg, sizeof(e->msg));
	json_decref(spec);
	if (r < 0) {
		e->code = "invalid";
		return r;
	}
	r = template_build(&s, e->msg, sizeof(e->msg));
	spec_free(&s);
	if (r < 0)
		return r;
	*out = template_list();
	return 0;
}

static int
h_template_gc(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)args, (void)name, (void)e;
	*out = template_gc();
	return 0;
}

/* The namespaces, links and rules first (net.h), then the firewall
 * appliance if the tenant's mode is vm (fwvm.h: no lock held while it
 * boots). */
static int
h_net_apply(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	const char *t = json_string_value(json_object_get(args, "tenant"));
	int r;

	(void)name;
	if ((r = net_apply(args, out, e)) < 0 || t == NULL)
		return r;
	/* The sensor follows on its own thread (ids.h): no lock held here. */
	ids_tenant_changed(t);
	if ((r = fwvm_sync(t, e)) < 0) {
		json_decref(*out);
		*out = NULL;
	}
	return r;
}

static const char *
arg_tenant(const json_t *args, struct op_error *e)
{
	const char *t = json_string_value(json_object_get(args, "tenant"));

	if (t == NULL) {
		e->code = "invalid";
		snprintf(e->msg, sizeof(e->msg), "tenant is required and must be a string");
	}
	return t;
}

static int
h_net_show(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	const char *t = arg_tenant(args, e);

	(void)name;
	return t ? net_show(t, out, e) : -EINVAL;
}

static int
h_net_repair(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	const char *t = arg_tenant(args, e);
	int r;

	(void)name;
	if (t == NULL)
		return -EINVAL;
	if ((r = net_repair(t, out, e)) < 0)
		return r;
	ids_tenant_changed(t);
	if ((r = fwvm_sync(t, e)) < 0) {
		json_decref(*out);
		*out = NULL;
	}
	return r;
}

static int
h_net_delete(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	const char *t = arg_tenant(args, e);
	int r;

	(void)name, (void)out;
	if (t == NULL)
		return -EINVAL;
	if ((r = net_delete_check(t, e)) < 0 || (r = fwvm_delete(t, e)) < 0)
		return r;
	if ((r = net_delete(t, e)) == 0)
		ids_tenant_changed(t);
	return r;
}

static int
h_net_list(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)args, (void)name, (void)e;
	*out = net_list();
	return 0;
}

static int
h_ids_status(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)name;
	return ids_status(args, out, e);
}

static int
h_ids_alerts(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)name;
	return ids_alerts(args, out, e);
}

static int
h_ids_skipped(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)name;
	return ids_skipped(args, out, e);
}

static int
h_ids_reload(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)name;
	return ids_reload(args, out, e);
}

/* Disaster recovery (docs/dr.md, "Disks"): replicas of another site's
 * VM disks here (replica.h), consistency points of VMs here (vmrepl.h). */
static int
h_replica_open(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)name;
	return replica_open(args, out, e);
}

static int
h_replica_commit(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)name;
	return replica_commit(args, out, e);
}

static int
h_replica_abort(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)name, (void)out;
	return replica_abort(args, e);
}

static int
h_replica_list(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)args, (void)name;
	return replica_list(out, e);
}

static int
h_replica_drop(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)name, (void)out;
	return replica_drop(args, e);
}

static int
h_replica_send(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)name, (void)out;
	return replica_send(args, e);
}

static int
h_repl_point(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	return vmrepl_point(args, name, out, e);
}

/* Migration (vmmigrate.h, docs/migration.md). */
static int
h_mig_prepare(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)name;
	return vmmigrate_prepare(args, out, e);
}

static int
h_mig_finish(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)args;
	return vmmigrate_finish(name, out, e);
}

static int
h_mig_abort(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)args, (void)out;
	return vmmigrate_abort(name, e);
}

static int
h_mig_send(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	return vmmigrate_send(args, name, out, e);
}

static int
h_mig_status(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)args;
	return vmmigrate_status(name, out, e);
}

static int
h_mig_cancel(json_t *args, const char *name, json_t **out, struct op_error *e)
{
	(void)args, (void)out;
	return vmmigrate_cancel(name, e);
}

static const struct {
	const char *op;
	int takes_name;
	handler_fn fn;
} ops[] = {
	{"host.info", 0, h_host},	 {"image.list", 0, h_images},
	{"vm.list", 0, h_list},		 {"vm.create", 0, h_create},
	{"vm.show", 1, h_show},		 {"vm.start", 1, h_start},
	{"vm.stop", 1, h_stop},		 {"vm.reboot", 1, h_reboot},
	{"vm.pause", 1, h_pause},	 {"vm.resume", 1, h_resume},
	{"vm.reconfigure", 1, h_reconfigure}, {"vm.delete", 1, h_delete},
	{"vm.wait", 1, h_wait},		 {"vm.console", 1, h_console},
	{"vm.console.input", 1, h_console_input},
	{"template.list", 0, h_template_list},	 {"template.build", 0, h_template_build},
	{"template.gc", 0, h_template_gc},
	{"net.apply", 0, h_net_apply},		 {"net.show", 0, h_net_show},
	{"net.delete", 0, h_net_delete},	 {"net.repair", 0, h_net_repair},	 {"net.list", 0, h_net_list},
	{"ids.status", 0, h_ids_status},	 {"ids.alerts", 0, h_ids_alerts},
	{"ids.reload", 0, h_ids_reload},	 {"ids.skipped", 0, h_ids_skipped},
	{"vm.migrate.prepare", 0, h_mig_prepare}, {"vm.migrate.finish", 1, h_mig_finish},
	{"vm.migrate.abort", 1, h_mig_abort},	 {"vm.migrate.send", 1, h_mig_send},
	{"vm.migrate.status", 1, h_mig_status},	 {"vm.migrate.cancel", 1, h_mig_cancel},
	{"replica.open", 0, h_replica_open},	 {"replica.commit", 0, h_replica_commit},
	{"replica.abort", 0, h_replica_abort},	 {"replica.list", 0, h_replica_list},
	{"replica.drop", 0, h_replica_drop},	 {"vm.replica.point", 1, h_repl_point},
	{"replica.send", 0, h_replica_send},
};

static json_t *
dispatch(const char *op, json_t *args)
{
	struct op_error e = {.code = "internal", .msg = ""};
	json_t *out = NULL, *reply;
	const char *name = NULL;
	size_t i;
	int r;

	for (i = 0; i < ARRAY_LEN(ops); i++)
		if (strcmp(ops[i].op, op) == 0)
			break;
	if (i < ARRAY_LEN(ops)) {
		if (ops[i].takes_name && (name = arg_name(args, &e)) == NULL)
			return error_reply(e.code, e.msg);
		r = ops[i].fn(args, name, &out, &e);
	} else if ((r = storage_dispatch(op, args, &out, &e)) == -ENOSYS) {
		char msg[128];

		snprintf(msg, sizeof(msg), "unknown op '%.64s'", op);
		return error_reply("invalid", msg);
	}
	if (r == 0)
		return ok_reply(out);
	reply = error_reply(e.code, e.msg);
	if (out != NULL)
		json_object_set_new(reply, "result", out);
	return reply;
}

static void *
client(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct msg_reader rd;

	if (msg_reader_init(&rd, fd, AGENT_REQUEST_MAX) < 0)
		goto out;
	for (;;) {
		json_t *req = NULL, *reply;
		int r = msg_read(&rd, &req, -1);

		if (r == -ECONNRESET)
			break;
		if (r < 0) {
			reply = control_refusal(r, rd.error);
			msg_write(fd, reply);
			json_decref(reply);
			if (r == -EBADMSG)
				continue;
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
	int fd = msg_listen_unix(path, 64);

	if (fd < 0)
		return fd;
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
