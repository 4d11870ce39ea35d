/* vm.c - see vm.h */
#define _GNU_SOURCE
#include "vm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cloneid.h"
#include "disk.h"
#include "image.h"
#include "log.h"
#include "net.h"
#include "netstate.h"
#include "msg.h"
#include "qemu.h"
#include "storage.h"
#include "supervise.h"
#include "template.h"
#include "util.h"

const struct agent_config *vm_cfg;

static pthread_mutex_t vms_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t vms_cond;
static struct vm *vms;

#define READY_PREFIX "cloudlet: ready "

int
op_fail(struct op_error *e, const char *code, int r, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return r;
}

void
vm_lock(void)
{
	pthread_mutex_lock(&vms_mtx);
}

void
vm_unlock(void)
{
	pthread_mutex_unlock(&vms_mtx);
}

struct vm *
vm_first(void)
{
	return vms;
}

const char *
vm_state_name(enum vm_state s)
{
	static const char *const names[] = {"stopped", "running", "paused", "stopping",
					    "crashed"};
	return names[s];
}

static int
state_parse(const char *s, enum vm_state *out)
{
	enum vm_state i;

	for (i = VM_STOPPED; i <= VM_CRASHED; i++)
		if (strcmp(vm_state_name(i), s) == 0) {
			*out = i;
			return 0;
		}
	return -EINVAL;
}

static struct vm *
find(const char *name)
{
	struct vm *vm;

	for (vm = vms; vm != NULL; vm = vm->next)
		if (!vm->deleted && strcmp(vm->spec.name, name) == 0)
			return vm;
	return NULL;
}

static void
limits(struct spec_limits *lim)
{
	lim->max_vcpus = vm_cfg->host.cpus;
	lim->max_memory_mib = vm_cfg->host.memory_mib > vm_cfg->mem_reserve_mib
				      ? vm_cfg->host.memory_mib - vm_cfg->mem_reserve_mib
				      : 0;
	lim->image_lookup = image_lookup;
}

static void
path_of(const struct vm *vm, const char *file, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", vm->dir, file);
}

/* Its root disk is a volume in the pool (storage.h), not a file. */
static int
is_volume_root(const struct vm *vm)
{
	return strcmp(vm->root_format, "volume") == 0;
}

/* ---- persistence ---------------------------------------------------- */

static json_t *
record(const struct vm *vm)
{
	json_t *j;

	j = json_pack("{s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:I, s:I, s:b}",
			 "id", vm->id, "spec", spec_to_json(&vm->spec), "state",
			 vm_state_name(vm->state), "reason", vm->reason, "accel",
			 host_accel_name(vm->accel), "created_at", vm->created_at, "started_at",
			 vm->started_at, "pid", (int)vm->pid, "booted_vcpus",
			 (int)vm->booted_vcpus, "booted_memory_mib",
			 (json_int_t)vm->booted_memory_mib, "booted_disk_gib",
			 (json_int_t)vm->booted_disk_gib, "console_offset",
			 (json_int_t)vm->console_off, "ready", vm->ready);
	if (j != NULL && vm->booted_volumes[0] != '\0')
		json_object_set_new(j, "booted_volumes", json_string(vm->booted_volumes));
	if (j != NULL)
		json_object_update_new(
			j, json_pack("{s:s, s:s, s:I, s:s, s:s, s:b}", "provision", vm->provision,
				     "root_format", vm->root_format, "root_gib",
				     (json_int_t)vm->root_gib, "template_dir", vm->tpl_dir,
				     "template_ram", vm->tpl_ram, "clone_pending",
				     vm->clone_pending));
	return j;
}

static void
save(const struct vm *vm)
{
	char path[800];
	json_t *j = record(vm);
	char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	int r;

	path_of(vm, "vm.json", path, sizeof(path));
	r = s ? util_write_atomic(path, s, strlen(s), 0600) : -ENOMEM;
	if (r < 0)
		log_warnx("vm %s: cannot save its record: %s", vm->id, strerror(-r));
	free(s);
	json_decref(j);
}

static int
pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Is pid the QEMU of this VM (guards against a recycled pid)? */
static int
is_our_qemu(const struct vm *vm, pid_t pid)
{
	char path[64], *cmd = NULL, needle[800];
	size_t len, i;
	int ok;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (util_read_file(path, 1 << 20, &cmd, &len) < 0)
		return 0;
	for (i = 0; i < len; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	snprintf(needle, sizeof(needle), "%s/qmp.sock", vm->dir);
	ok = strstr(cmd, needle) != NULL;
	free(cmd);
	return ok;
}

static void
reattach(struct vm *vm)
{
	char sock[800], err[256];
	json_t *st = NULL;
	int r;

	vm->pidfd = -1;
	if (!is_our_qemu(vm, vm->pid)) {
		vm->state = VM_CRASHED;
		snprintf(vm->reason, sizeof(vm->reason),
			 "QEMU ended while the agent was not running (exit status unknown)");
		vm->pid = 0;
		return;
	}
	vm->pidfd = pidfd_open_(vm->pid);
	if (vm->pidfd < 0) {
		log_warn("vm %s: pidfd_open %d", vm->id, (int)vm->pid);
		return;
	}
	vm->is_child = 0;
	path_of(vm, "events.sock", sock, sizeof(sock));
	r = qmp_open(sock, 5000, &vm->events);
	if (r < 0) {
		log_warnx("vm %s: cannot re-attach to QMP: %s", vm->id, strerror(-r));
		vm->events = NULL;
		return;
	}
	r = qmp_exec(vm->events, "query-status", NULL, &st, 5000, err, sizeof(err));
	if (r == 0) {
		const char *s = json_string_value(json_object_get(st, "status"));
		vm->state = s && strcmp(s, "paused") == 0 ? VM_PAUSED : VM_RUNNING;
		json_decref(st);
	}
	log_info("vm %s (%s): re-attached to QEMU pid %d, %s", vm->id, vm->spec.name,
		 (int)vm->pid, vm_state_name(vm->state));
}

static struct vm *
load(const char *id)
{
	char path[800];
	json_t *j, *spec;
	json_error_t jerr;
	struct spec_limits lim = {.max_vcpus = 1024, .max_memory_mib = UINT64_MAX};
	struct op_error e;
	struct vm *vm;
	const char *s;
	enum vm_state st = VM_STOPPED;

	vm = calloc(1, sizeof(*vm));
	if (vm == NULL)
		return NULL;
	if (util_fmt(vm->id, sizeof(vm->id), "%s", id) < 0 ||
	    util_fmt(vm->dir, sizeof(vm->dir), "%s/vms/%s", vm_cfg->state_dir, id) < 0) {
		free(vm);
		return NULL;
	}
	vm->pidfd = -1;
	path_of(vm, "vm.json", path, sizeof(path));
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	spec = json_object_get(j, "spec");
	if (j == NULL || spec_parse(spec, &lim, &vm->spec, e.msg, sizeof(e.msg)) < 0) {
		log_warnx("vm %s: unreadable record %s, skipped", id, path);
		json_decref(j);
		free(vm);
		return NULL;
	}
	s = json_string_value(json_object_get(j, "state"));
	if (s != NULL)
		state_parse(s, &st);
	vm->state = st;
	snprintf(vm->reason, sizeof(vm->reason), "%s",
		 json_string_value(json_object_get(j, "reason")) ?: "");
	host_accel_parse(json_string_value(json_object_get(j, "accel")) ?: "tcg", &vm->accel);
	snprintf(vm->created_at, sizeof(vm->created_at), "%s",
		 json_string_value(json_object_get(j, "created_at")) ?: "");
	snprintf(vm->started_at, sizeof(vm->started_at), "%s",
		 json_string_value(json_object_get(j, "started_at")) ?: "");
	vm->pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
	vm->booted_vcpus = (unsigned)json_integer_value(json_object_get(j, "booted_vcpus"));
	vm->booted_memory_mib =
		(uint64_t)json_integer_value(json_object_get(j, "booted_memory_mib"));
	vm->booted_disk_gib = (uint64_t)json_integer_value(json_object_get(j, "booted_disk_gib"));
	snprintf(vm->booted_volumes, sizeof(vm->booted_volumes), "%s",
		 json_string_value(json_object_get(j, "booted_volumes")) ?: "");
	vm->console_off = (uint64_t)json_integer_value(json_object_get(j, "console_offset"));
	vm->ready = json_is_true(json_object_get(j, "ready"));
	snprintf(vm->provision, sizeof(vm->provision), "%s",
		 json_string_value(json_object_get(j, "provision")) ?: "cold");
	snprintf(vm->root_format, sizeof(vm->root_format), "%s",
		 json_string_value(json_object_get(j, "root_format")) ?: "raw");
	vm->root_gib = (uint64_t)json_integer_value(json_object_get(j, "root_gib"));
	snprintf(vm->tpl_dir, sizeof(vm->tpl_dir), "%s",
		 json_string_value(json_object_get(j, "template_dir")) ?: "");
	snprintf(vm->tpl_ram, sizeof(vm->tpl_ram), "%s",
		 json_string_value(json_object_get(j, "template_ram")) ?: "");
	vm->clone_pending = json_is_true(json_object_get(j, "clone_pending"));
	json_decref(j);
	if (vm->state == VM_RUNNING || vm->state == VM_PAUSED || vm->state == VM_STOPPING)
		reattach(vm);
	else
		vm->pid = 0;
	return vm;
}

int
vm_init(const struct agent_config *cfg)
{
	char path[600];
	pthread_condattr_t ca;
	struct dirent *de;
	DIR *d;
	int r;

	vm_cfg = cfg;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&vms_cond, &ca);
	snprintf(path, sizeof(path), "%s/vms", cfg->state_dir);
	if ((r = util_mkdirs(path, 0711)) < 0)
		return r;
	d = opendir(path);
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		struct vm *vm;

		if (de->d_name[0] == '.' || strlen(de->d_name) != 16)
			continue;
		vm = load(de->d_name);
		if (vm == NULL)
			continue;
		save(vm);
		vm->next = vms;
		vms = vm;
	}
	closedir(d);
	if ((r = template_init()) < 0)
		return r;
	return supervise_start();
}

/* ---- views ----------------------------------------------------------- */

/* Scan console.log from this boot's offset for the readiness line. */
static int
console_ready(const struct vm *vm)
{
	char path[800], want[64], buf[8192 + 64];
	size_t keep = 0, wl;
	int fd, found = 0;

	snprintf(want, sizeof(want), READY_PREFIX "%s", vm->id);
	wl = strlen(want);
	path_of(vm, "console.log", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (lseek(fd, (off_t)vm->console_off, SEEK_SET) < 0) {
		close(fd);
		return 0;
	}
	for (;;) {
		ssize_t n = read(fd, buf + keep, sizeof(buf) - keep - 1);

		if (n <= 0)
			break;
		n += (ssize_t)keep;
		buf[n] = '\0';
		if (memmem(buf, (size_t)n, want, wl) != NULL) {
			found = 1;
			break;
		}
		keep = (size_t)n < wl ? (size_t)n : wl;
		memmove(buf, buf + n - keep, keep);
	}
	close(fd);
	return found;
}

/* The spec's volumes as one string "a,b" (what booted_volumes records). */
static void
volumes_joined(const struct vm_spec *s, char *out, size_t len)
{
	size_t off = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < s->n_volumes && off < len; i++)
		off += (size_t)snprintf(out + off, len - off, "%s%s", i ? "," : "", s->volumes[i]);
}

int
vm_volume_users(const char *volume, char *out, size_t len)
{
	struct vm *vm;
	size_t off = 0;
	int n = 0;

	out[0] = '\0';
	vm_lock();
	for (vm = vms; vm != NULL; vm = vm->next) {
		char root[80];

		if (vm->deleted)
			continue;
		storage_root_name(vm->id, root, sizeof(root));
		if (is_volume_root(vm) && strcmp(root, volume) == 0) {
			if (off < len)
				off += (size_t)snprintf(out + off, len - off, "%s%s (root)",
							n ? ", " : "", vm->spec.name);
			n++;
		}
		for (unsigned i = 0; i < vm->spec.n_volumes; i++) {
			if (strcmp(vm->spec.volumes[i], volume) != 0)
				continue;
			if (off < len)
				off += (size_t)snprintf(out + off, len - off, "%s%s", n ? ", " : "",
							vm->spec.name);
			n++;
		}
	}
	vm_unlock();
	return n;
}

static json_t *
view(struct vm *vm)
{
	char path[800], vols[sizeof(vm->booted_volumes)];
	json_t *j = spec_to_json(&vm->spec);
	int running = vm->state == VM_RUNNING || vm->state == VM_PAUSED ||
		      vm->state == VM_STOPPING;
	int restart;

	/* Volumes are attached at start: microvm has no hotplug. */
	volumes_joined(&vm->spec, vols, sizeof(vols));
	restart = running && (vm->booted_vcpus != vm->spec.vcpus ||
			      vm->booted_memory_mib != vm->spec.memory_mib ||
			      vm->booted_disk_gib != vm->spec.disk_gib ||
			      strcmp(vm->booted_volumes, vols) != 0);

	if (running && !vm->ready)
		vm->ready = console_ready(vm);
	json_object_set_new(j, "id", json_string(vm->id));
	json_object_set_new(j, "state", json_string(vm_state_name(vm->state)));
	json_object_set_new(j, "reason", json_string(vm->reason));
	json_object_set_new(j, "ready", json_boolean(running && vm->ready));
	json_object_set_new(j, "busy", json_boolean(vm->busy));
	json_object_set_new(j, "accel", json_string(host_accel_name(vm->accel)));
	json_object_set_new(j, "pid", json_integer(running ? vm->pid : 0));
	json_object_set_new(j, "created_at", json_string(vm->created_at));
	json_object_set_new(j, "started_at", json_string(vm->started_at));
	json_object_set_new(j, "restart_required", json_boolean(restart));
	json_object_set_new(j, "provision", json_string(vm->provision));
	json_object_set_new(j, "root_format", json_string(vm->root_format));
	if (is_volume_root(vm)) {
		char root[80];

		storage_root_name(vm->id, root, sizeof(root));
		json_object_set_new(j, "root_volume", json_string(root));
	} else {
		json_object_set_new(j, "root_volume", json_null());
	}
	json_object_set_new(j, "boot_ms", json_integer((json_int_t)vm->last_boot_ms));
	if (running)
		json_object_set_new(j, "booted",
				    json_pack("{s:i, s:I, s:I, s:s}", "vcpus", (int)vm->booted_vcpus,
					      "memory_mib", (json_int_t)vm->booted_memory_mib,
					      "disk_gib", (json_int_t)vm->booted_disk_gib, "volumes",
					      vm->booted_volumes));
	json_object_set_new(j, "dir", json_string(vm->dir));
	path_of(vm, "console.sock", path, sizeof(path));
	json_object_set_new(j, "console_socket", json_string(path));
	path_of(vm, "console.log", path, sizeof(path));
	json_object_set_new(j, "console_log", json_string(path));
	return j;
}

json_t *
vm_list(void)
{
	json_t *arr = json_array();
	struct vm *vm;

	vm_lock();
	for (vm = vms; vm != NULL; vm = vm->next)
		if (!vm->deleted)
			json_array_append_new(arr, view(vm));
	vm_unlock();
	return arr;
}

int
vm_show(const char *name, json_t **out, struct op_error *e)
{
	struct vm *vm;

	vm_lock();
	vm = find(name);
	if (vm == NULL) {
		vm_unlock();
		return op_fail(e, "not_found", -ENOENT, "no VM named '%s'", name);
	}
	*out = view(vm);
	vm_unlock();
	return 0;
}

/* Look a VM up and mark it busy, or fail; returns with the lock released. */
static struct vm *
claim(const char *name, struct op_error *e)
{
	struct vm *vm;

	vm_lock();
	vm = find(name);
	if (vm == NULL) {
		vm_unlock();
		op_fail(e, "not_found", -ENOENT, "no VM named '%s'", name);
		return NULL;
	}
	if (vm->busy) {
		vm_unlock();
		op_fail(e, "conflict", -EBUSY, "VM '%s' has another operation in progress", name);
		return NULL;
	}
	vm->busy = 1;
	vm_unlock();
	return vm;
}

static void
release(struct vm *vm, json_t **out)
{
	vm_lock();
	vm->busy = 0;
	if (out != NULL)
		*out = view(vm);
	vm_unlock();
}

/* ---- start ----------------------------------------------------------- */

static int
memory_fits(const struct vm *self, struct op_error *e)
{
	uint64_t used = 0, budget;
	struct vm *vm;

	budget = (uint64_t)((double)vm_cfg->host.memory_mib * vm_cfg->mem_overcommit);
	budget = budget > vm_cfg->mem_reserve_mib ? budget - vm_cfg->mem_reserve_mib : 0;
	for (vm = vms; vm != NULL; vm = vm->next)
		if (vm != self && vm->pidfd >= 0)
			used += vm->booted_memory_mib;
	if (used + self->spec.memory_mib > budget)
		return op_fail(e, "insufficient_resources", -ENOMEM,
			    "not enough memory on this host: %llu MiB requested, %llu of %llu "
			    "MiB already given to running VMs",
			    (unsigned long long)self->spec.memory_mib,
			    (unsigned long long)used, (unsigned long long)budget);
	return 0;
}

static void
qemu_log_tail(const struct vm *vm, char *out, size_t len)
{
	char path[800], *text = NULL, *p, *last;
	size_t n;

	out[0] = '\0';
	path_of(vm, "qemu.log", path, sizeof(path));
	if (util_read_file(path, 1 << 20, &text, &n) < 0)
		return;
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		text[--n] = '\0';
	last = text;
	for (p = text; *p != '\0'; p++)
		if (*p == '\n' && p[1] != '\0')
			last = p + 1;
	snprintf(out, len, "%s", last);
	free(text);
}

/*
 * The root disk as this start needs it: made if missing (raw, cold), grown
 * if the spec grew. A clone's qcow2 overlay that must grow is flattened to
 * raw first (resize2fs works on raw images); it then boots cold.
 */
static int
prepare_root(struct vm *vm, const struct vm_spec *spec, struct op_error *e)
{
	char path[800], rootfs[1200], err[512];
	int64_t size;
	int r;

	if (is_volume_root(vm)) {
		if ((r = storage_root_prepare(vm->id, spec, spec->disk_gib, vm->root_gib, e)) < 0)
			return r;
		vm->root_gib = spec->disk_gib;
		return 0;
	}
	if (strcmp(vm->root_format, "qcow2") == 0) {
		char raw[800];
		const char *argv[] = {"qemu-img", "convert", "-O", "raw", path, raw, NULL};

		if (spec->disk_gib <= vm->root_gib)
			return 0;
		path_of(vm, "root.qcow2", path, sizeof(path));
		path_of(vm, "root.raw", raw, sizeof(raw));
		if ((r = util_run(argv, err, sizeof(err))) < 0)
			return op_fail(e, "internal", r, "cannot flatten the clone's disk: %s", err);
		unlink(path);
		snprintf(vm->root_format, sizeof(vm->root_format), "raw");
		vm->clone_pending = 0;
	}
	path_of(vm, "root.raw", path, sizeof(path));
	size = disk_size(path);
	if (size < 0) {
		snprintf(rootfs, sizeof(rootfs), "%s/images/%s/rootfs", vm_cfg->guest_dir,
			 spec->image);
		r = disk_create_root(path, rootfs, spec->disk_gib, err, sizeof(err));
		if (r < 0)
			return op_fail(e, "internal", r, "cannot create the root disk: %s", err);
	} else if ((uint64_t)size < spec->disk_gib << 30) {
		r = disk_grow_root(path, spec->disk_gib, err, sizeof(err));
		if (r < 0)
			return op_fail(e, "internal", r, "cannot grow the root disk: %s", err);
	}
	vm->root_gib = spec->disk_gib;
	if (chown(path, vm_cfg->vm_uid, vm_cfg->vm_gid) < 0 && geteuid() == 0)
		return op_fail(e, "internal", -errno, "chown root disk: %s", strerror(errno));
	return 0;
}

/* Write to a unix socket and wait until the peer has read it all. */
static int
console_send(const char *path, const char *data, size_t len)
{
	uint64_t deadline = util_now_ms() + 10000;
	size_t off = 0;
	int fd = msg_connect_unix(path);

	if (fd < 0)
		return fd;
	while (off < len && util_now_ms() < deadline) {
		ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		if (n > 0)
			off += (size_t)n;
		else
			usleep(5000);
	}
	/*
	 * QEMU drops what it has not read yet when the connection closes, and
	 * the guest's UART takes input a FIFO at a time: wait until QEMU has
	 * read everything (SIOCOUTQ: bytes the peer has not consumed).
	 */
	for (;;) {
		int pending = 0;

		if (ioctl(fd, SIOCOUTQ, &pending) < 0 || pending == 0 ||
		    util_now_ms() > deadline)
			break;
		usleep(2000);
	}
	close(fd);
	return off == len ? 0 : -ETIMEDOUT;
}

/*
 * A clone's first start: load the template's device state into the waiting
 * QEMU and let it run. The guest finds its identity (wall clock, fresh
 * random bytes, MACs, its seed's files) in the fw_cfg file QEMU was started
 * with (cloneid.h, docs/guest.md).
 */
static int
restore_clone(struct vm *vm, unsigned fdnum, struct op_error *e)
{
	char path[800], err[512], uri[32];
	json_t *caps, *args, *st = NULL;
	struct qmp *q;
	int r;

	path_of(vm, "qmp.sock", path, sizeof(path));
	if ((r = qmp_open(path, 5000, &q)) < 0)
		return op_fail(e, "internal", r, "clone QMP: %s", strerror(-r));
	caps = json_pack("{s:[{s:s, s:b}]}", "capabilities", "capability", "x-ignore-shared",
			 "state", 1);
	snprintf(uri, sizeof(uri), "fd:%u", fdnum);
	args = json_pack("{s:s}", "uri", uri);
	r = qmp_exec(q, "migrate-set-capabilities", caps, NULL, 5000, err, sizeof(err));
	if (r == 0)
		r = qmp_exec(q, "migrate-incoming", args, NULL, 5000, err, sizeof(err));
	if (r == 0)
		r = qmp_wait_migration(q, 30000, err, sizeof(err));
	if (r == 0 && qmp_exec(q, "query-status", NULL, &st, 5000, err, sizeof(err)) == 0 &&
	    !json_is_true(json_object_get(st, "running")))
		r = qmp_exec(q, "cont", NULL, NULL, 5000, err, sizeof(err));
	json_decref(st);
	json_decref(caps);
	json_decref(args);
	qmp_close(q);
	if (r < 0) {
		char tail[200];

		qemu_log_tail(vm, tail, sizeof(tail));
		return op_fail(e, "internal", r, "restoring the clone: %s%s%s",
			    err[0] ? err : strerror(-r), tail[0] ? ": " : "", tail);
	}
	return 0;
}

/* Runs with vm busy and the lock not held. */
static int
do_start(struct vm *vm, struct op_error *e)
{
	char path[800], err[512], nbd[800], root[80];
	struct vm_spec spec;
	struct qemu_launch l;
	struct qmp *events = NULL;
	uint64_t deadline, t0, ph[5];
	int64_t size;
	pid_t pid;
	int r, pidfd, exported;

	vm_lock();
	if (vm->state != VM_STOPPED && vm->state != VM_CRASHED) {
		vm_unlock();
		return op_fail(e, "conflict", -EBUSY, "VM '%s' is %s", vm->spec.name,
			    vm_state_name(vm->state));
	}
	if ((r = memory_fits(vm, e)) < 0) {
		vm_unlock();
		return r;
	}
	spec = vm->spec; /* user_data pointer stays owned by vm; vm is busy */
	vm_unlock();

	ph[0] = util_now_ms();
	if ((r = prepare_root(vm, &spec, e)) < 0)
		return r;
	ph[1] = util_now_ms();
	/*
	 * A clone does not read its seed disk (its identity has the same
	 * files, cloneid.h), only a reboot inside it would: QEMU opens an
	 * empty one and the seed is written into it while QEMU starts, which
	 * takes the clone's start 12-18 ms less here.
	 */
	path_of(vm, "seed.img", path, sizeof(path));
	if (vm->clone_pending)
		r = disk_blank_seed(path, err, sizeof(err));
	else
		r = disk_write_seed(path, vm->id, &spec, 0, err, sizeof(err));
	if (r < 0)
		return op_fail(e, "internal", r, "cannot write the NoCloud seed: %s", err);
	if (chown(path, vm_cfg->vm_uid, vm_cfg->vm_gid) < 0 && geteuid() == 0)
		return op_fail(e, "internal", -errno, "chown seed: %s", strerror(errno));

	path_of(vm, "console.log", path, sizeof(path));
	size = disk_size(path);
	vm->console_off = size > 0 ? (uint64_t)size : 0;

	memset(&l, 0, sizeof(l));
	l.qemu_bin = vm_cfg->qemu_bin;
	l.guest_dir = vm_cfg->guest_dir;
	l.vm_dir = vm->dir;
	l.vm_id = vm->id;
	l.accel = vm_cfg->host.accel;
	l.tsc_khz = vm_cfg->host.tsc_khz;
	l.spec = &spec;
	l.uid = vm_cfg->vm_uid;
	l.gid = vm_cfg->vm_gid;
	l.root_file = strcmp(vm->root_format, "qcow2") == 0 ? "root.qcow2" : "root.raw";
	l.root_format = vm->root_format;
	l.state_fd = -1;
	l.identity_fd = -1;
	if (vm->clone_pending) {
		char state[800], *id;

		snprintf(state, sizeof(state), "%s/state", vm->tpl_dir);
		l.mem_path = vm->tpl_ram;
		l.incoming = 1;
		if ((r = cloneid_build(vm->id, &spec, &id)) < 0)
			return op_fail(e, r == -E2BIG ? "invalid" : "internal", r,
				    "the clone's identity: %s",
				    r == -E2BIG ? "user-data too large" : strerror(-r));
		l.with_identity = 1;
		l.identity_fd = cloneid_memfd(id, CLONEID_SIZE);
		explicit_bzero(id, CLONEID_SIZE);
		free(id);
		if (l.identity_fd < 0)
			return op_fail(e, "internal", l.identity_fd, "memfd: %s",
				    strerror(-l.identity_fd));
		l.state_fd = open(state, O_RDONLY | O_CLOEXEC);
		if (l.state_fd < 0) {
			r = -errno;
			close(l.identity_fd);
			return op_fail(e, "internal", r, "template state %s: %s", state,
				    strerror(-r));
		}
	}
	exported = spec.n_volumes > 0 || is_volume_root(vm);
	if (is_volume_root(vm)) {
		storage_root_name(vm->id, root, sizeof(root));
		l.root_volume = root;
	}
	if (exported) {
		/* The export (and its socket) must exist before QEMU opens its
		 * drives; only QEMU's pid may use it (bound right after the
		 * fork, the server waits for that). */
		if ((r = storage_export_create(vm->id, &spec, l.root_volume, e)) < 0 ||
		    (r = storage_export_socket(vm->id, nbd, sizeof(nbd))) < 0) {
			if (l.state_fd >= 0)
				close(l.state_fd);
			if (l.identity_fd >= 0)
				close(l.identity_fd);
			return r == -ENAMETOOLONG ? op_fail(e, "internal", r, "export path too long")
						  : r;
		}
		l.export_socket = nbd;
	}
	t0 = util_now_ms();
	r = qemu_spawn(&l, &pid, err, sizeof(err));
	if (l.state_fd >= 0)
		close(l.state_fd);
	if (l.identity_fd >= 0)
		close(l.identity_fd);
	if (r < 0)
		return op_fail(e, "internal", r, "cannot start QEMU: %s", err);
	if (exported && (r = storage_export_bind(vm->id, pid, e)) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return r;
	}

	if (vm->clone_pending) {
		path_of(vm, "seed.img", path, sizeof(path));
		if ((r = disk_write_seed(path, vm->id, &spec, 1, err, sizeof(err))) < 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return op_fail(e, "internal", r, "cannot write the NoCloud seed: %s", err);
		}
	}
	ph[2] = util_now_ms();

	/* QEMU creates its sockets before it runs the guest; wait for them. */
	path_of(vm, "events.sock", path, sizeof(path));
	deadline = util_now_ms() + 15000;
	for (;;) {
		int status;

		r = qmp_open(path, 2000, &events);
		if (r == 0)
			break;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			qemu_log_tail(vm, err, sizeof(err));
			return op_fail(e, "internal", -EIO, "QEMU exited at start: %s",
				    err[0] ? err : "no message");
		}
		if (util_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return op_fail(e, "timeout", -ETIMEDOUT, "QEMU did not open its monitor");
		}
		usleep(2000); /* QEMU opens its sockets within ~50 ms */
	}
	ph[3] = util_now_ms();
	pidfd = pidfd_open_(pid);
	if (pidfd < 0) {
		r = -errno;
		qmp_close(events);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return op_fail(e, "internal", r, "pidfd_open: %s", strerror(-r));
	}
	if (vm->clone_pending && (r = restore_clone(vm, qemu_state_fd_number(&l), e)) < 0) {
		qmp_close(events);
		close(pidfd);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return r;
	}

	ph[4] = util_now_ms();
	log_debug("vm %s: start: disk %llu ms, seed and spawn %llu ms, QEMU until its "
		  "monitor answers %llu ms more, %s %llu ms",
		  vm->id, (unsigned long long)(ph[1] - ph[0]), (unsigned long long)(ph[2] - ph[1]),
		  (unsigned long long)(ph[3] - ph[2]), vm->clone_pending ? "restore" : "rest",
		  (unsigned long long)(ph[4] - ph[3]));
	vm_lock();
	vm->pid = pid;
	vm->pidfd = pidfd;
	vm->is_child = 1;
	vm->events = events;
	vm->state = VM_RUNNING;
	vm->reason[0] = '\0';
	vm->accel = vm_cfg->host.accel;
	vm->stop_requested = 0;
	vm->shutdown_seen = 0;
	vm->shutdown_reason[0] = '\0';
	vm->ready = 0;
	vm->booted_vcpus = spec.vcpus;
	vm->booted_memory_mib = spec.memory_mib;
	vm->booted_disk_gib = spec.disk_gib;
	volumes_joined(&spec, vm->booted_volumes, sizeof(vm->booted_volumes));
	vm->clone_pending = 0;
	vm->last_boot_ms = util_now_ms() - t0;
	util_rfc3339(vm->started_at, sizeof(vm->started_at));
	save(vm);
	vm_unlock();
	supervise_wake();
	log_info("vm %s (%s): started, pid %d, %s", vm->id, spec.name, (int)pid,
		 host_accel_name(vm->accel));
	return 0;
}

int
vm_start(const char *name, json_t **out, struct op_error *e)
{
	struct vm *vm = claim(name, e);
	int r;

	if (vm == NULL)
		return -ENOENT;
	r = do_start(vm, e);
	release(vm, r == 0 ? out : NULL);
	return r;
}

/* ---- create ---------------------------------------------------------- */

static void
derive_mac(const char *id, unsigned i, char *out, size_t len)
{
	/* 52:54:00 is QEMU's locally administered prefix; the rest comes from
	 * the random VM id, so MACs are stable across restarts. */
	snprintf(out, len, "52:54:%.2s:%.2s:%.2s:%02x", id, id + 2, id + 4,
		 (unsigned)(strtoul((char[]){id[6], id[7], 0}, NULL, 16) + i) & 0xff);
}

/*
 * Every clone of a template starts from the same empty overlay: a qcow2
 * header naming the template's root.raw as its backing file, nothing
 * allocated (about 200 KB). qemu-img makes it once per template
 * (<template>/overlay.qcow2); each clone gets a copy. Running qemu-img for
 * every clone cost 20-35 ms of its create here.
 */
static int
clone_overlay(const char *tpl_dir, const char *overlay, char *err, size_t errlen)
{
	char blank[900], tmp[960], backing[900], rnd[17];
	char *buf = NULL;
	size_t len = 0;
	int r;

	snprintf(blank, sizeof(blank), "%s/overlay.qcow2", tpl_dir);
	if (util_read_file(blank, 16u << 20, &buf, &len) < 0) {
		const char *argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", "-F",
				      "raw",	  "-b",	    backing, tmp, NULL};

		/* Two clones may make it at once: each writes its own file
		 * and the rename is atomic (both are the same bytes). */
		if ((r = util_random_hex(rnd, 8)) < 0) {
			snprintf(err, errlen, "no randomness");
			return r;
		}
		snprintf(backing, sizeof(backing), "%s/root.raw", tpl_dir);
		snprintf(tmp, sizeof(tmp), "%s.%s.tmp", blank, rnd);
		if ((r = util_run(argv, err, errlen)) < 0) {
			unlink(tmp);
			return r;
		}
		if (rename(tmp, blank) < 0) {
			r = -errno;
			snprintf(err, errlen, "%.300s: %s", blank, strerror(errno));
			unlink(tmp);
			return r;
		}
		if ((r = util_read_file(blank, 16u << 20, &buf, &len)) < 0) {
			snprintf(err, errlen, "%.300s: %s", blank, strerror(-r));
			return r;
		}
	}
	r = util_write_atomic(overlay, buf, len, 0600);
	if (r < 0)
		snprintf(err, errlen, "%.300s: %s", overlay, strerror(-r));
	free(buf);
	return r;
}

/*
 * Clone from a template when one fits (provision "auto" or "clone"); for
 * "clone" build it first if needed. Otherwise boot cold, and for "auto"
 * build the template in the background so the next VM of this fit clones.
 */
static int
choose_provision(struct vm *vm, const char *prov, struct op_error *e)
{
	char err[512], overlay[800];
	struct image im;
	int r;

	snprintf(vm->provision, sizeof(vm->provision), "cold");
	/* With storage a cold VM's root is a clone of its image's base volume
	 * (bases are keyed by the image id: an image without one keeps a file);
	 * clones of templates keep file disks (their saved device state names
	 * a file root). */
	snprintf(vm->root_format, sizeof(vm->root_format), "%s",
		 storage_enabled() && image_find(vm->spec.image, &im) == 0 && strlen(im.id) >= 16
			 ? "volume"
			 : "raw");
	if (strcmp(prov, "cold") == 0)
		return 0;
	/* A template's saved device state has no volume disks: restoring it
	 * into a QEMU with more disks would fail, so VMs with volumes boot
	 * cold (and build no template). */
	if (vm->spec.n_volumes > 0) {
		if (strcmp(prov, "clone") == 0)
			return op_fail(e, "invalid", -EINVAL,
				    "a VM with volumes cannot be cloned from a template");
		return 0;
	}
	r = template_lookup(&vm->spec, vm->tpl_dir, sizeof(vm->tpl_dir), vm->tpl_ram,
			    sizeof(vm->tpl_ram));
	if (r < 0 && strcmp(prov, "clone") == 0) {
		if ((r = template_build(&vm->spec, err, sizeof(err))) < 0)
			return op_fail(e, "internal", r, "cannot build the template: %s", err);
		r = template_lookup(&vm->spec, vm->tpl_dir, sizeof(vm->tpl_dir), vm->tpl_ram,
				    sizeof(vm->tpl_ram));
	}
	if (r < 0) {
		vm->tpl_dir[0] = vm->tpl_ram[0] = '\0';
		template_build_async(&vm->spec);
		return 0;
	}
	/* The clone's disk: a copy-on-write overlay of the template's. */
	path_of(vm, "root.qcow2", overlay, sizeof(overlay));
	if ((r = clone_overlay(vm->tpl_dir, overlay, err, sizeof(err))) < 0)
		return op_fail(e, "internal", r, "cannot make the clone's disk: %s", err);
	if (chown(overlay, vm_cfg->vm_uid, vm_cfg->vm_gid) < 0 && geteuid() == 0)
		return op_fail(e, "internal", -errno, "chown: %s", strerror(errno));
	snprintf(vm->provision, sizeof(vm->provision), "clone");
	snprintf(vm->root_format, sizeof(vm->root_format), "qcow2");
	vm->root_gib = vm->spec.disk_gib;
	vm->clone_pending = 1;
	return 0;
}

int
vm_create(const json_t *args, json_t **out, struct op_error *e)
{
	struct spec_limits lim;
	struct vm *vm;
	json_t *start;
	const char *prov;
	char err[512];
	unsigned i;
	int r;

	if (!json_is_object(args))
		return op_fail(e, "invalid", -EINVAL, "arguments must be an object");
	start = json_object_get(args, "start");
	if (start != NULL && !json_is_boolean(start))
		return op_fail(e, "invalid", -EINVAL, "start must be true or false");
	prov = json_string_value(json_object_get(args, "provision"));
	if (json_object_get(args, "provision") != NULL &&
	    (prov == NULL ||
	     (strcmp(prov, "auto") != 0 && strcmp(prov, "clone") != 0 && strcmp(prov, "cold") != 0)))
		return op_fail(e, "invalid", -EINVAL, "provision must be auto, clone or cold");
	if (prov == NULL)
		prov = "auto";
	vm = calloc(1, sizeof(*vm));
	if (vm == NULL)
		return op_fail(e, "internal", -ENOMEM, "out of memory");
	{
		json_t *spec = json_deep_copy(args);

		json_object_del(spec, "start");
		json_object_del(spec, "provision");
		limits(&lim);
		r = spec_parse(spec, &lim, &vm->spec, err, sizeof(err));
		json_decref(spec);
	}
	if (r < 0) {
		free(vm);
		return op_fail(e, "invalid", r, "%s", err);
	}
	if ((r = storage_check_volumes(&vm->spec, e)) < 0) {
		spec_free(&vm->spec);
		free(vm);
		return r;
	}
	if ((r = util_random_hex(vm->id, 8)) < 0) {
		spec_free(&vm->spec);
		free(vm);
		return op_fail(e, "internal", r, "no randomness");
	}
	snprintf(vm->dir, sizeof(vm->dir), "%s/vms/%s", vm_cfg->state_dir, vm->id);
	for (i = 0; i < vm->spec.n_nics; i++) {
		struct spec_nic *nic = &vm->spec.nics[i];
		char gw[16];
		unsigned prefix;

		if (nic->network[0] == '\0')
			continue;
		/* A platform network: its namespace and bridge are the agent's,
		 * never the caller's. */
		if ((r = net_nic_resolve(nic->network, nic->netns, sizeof(nic->netns), nic->bridge,
					 sizeof(nic->bridge), gw, sizeof(gw), &prefix, err,
					 sizeof(err))) < 0) {
			spec_free(&vm->spec);
			free(vm);
			return op_fail(e, "invalid", r, "%s", err);
		}
		if (nic->gateway[0] == '\0' && nic->address[0] != '\0')
			snprintf(nic->gateway, sizeof(nic->gateway), "%s", gw);
		if (nic->address[0] != '\0') {
			struct net_cidr a, g;

			netstate_parse_cidr(gw, 0, 0, &g);
			if (netstate_parse_cidr(nic->address, 1, 0, &a) < 0 || a.prefix != prefix ||
			    (a.addr >> (32 - prefix)) != (g.addr >> (32 - prefix)) ||
			    a.addr == g.addr || a.addr == g.addr + 1 || a.addr == g.addr - 1 ||
			    (prefix < 31 && (~a.addr & (0xffffffffu >> prefix)) == 0)) {
				/* The message names the nic: write it before freeing. */
				r = op_fail(e, "invalid", -EINVAL,
					 "nic address %s is not a host address on network %s",
					 nic->address, nic->network);
				spec_free(&vm->spec);
				free(vm);
				return r;
			}
		}
	}
	for (i = 0; i < vm->spec.n_nics; i++)
		if (vm->spec.nics[i].mac[0] == '\0')
			derive_mac(vm->id, i, vm->spec.nics[i].mac, sizeof(vm->spec.nics[i].mac));
	vm->pidfd = -1;
	vm->state = VM_STOPPED;
	vm->accel = vm_cfg->host.accel;
	vm->busy = 1;
	util_rfc3339(vm->created_at, sizeof(vm->created_at));

	/* Reserve the name before the slow part, so a duplicate fails fast. */
	vm_lock();
	if (find(vm->spec.name) != NULL) {
		vm_unlock();
		r = op_fail(e, "conflict", -EEXIST, "a VM named '%s' already exists",
			 vm->spec.name);
		spec_free(&vm->spec);
		free(vm);
		return r;
	}
	vm->next = vms;
	vms = vm;
	vm_unlock();

	if (mkdir(vm->dir, 0700) < 0) {
		r = op_fail(e, "internal", -errno, "cannot create %s: %s", vm->dir,
			 strerror(errno));
		goto undo;
	}
	if (chown(vm->dir, vm_cfg->vm_uid, vm_cfg->vm_gid) < 0 && geteuid() == 0) {
		r = op_fail(e, "internal", -errno, "chown %s: %s", vm->dir, strerror(errno));
		goto undo;
	}
	if ((r = choose_provision(vm, prov, e)) < 0)
		goto undo;
	vm_lock();
	save(vm);
	vm_unlock();
	/* Its MAC and address join the tenant's anti-spoofing set and DHCP
	 * leases before its first packet. */
	for (i = 0; i < vm->spec.n_nics; i++)
		net_ports_changed(vm->spec.nics[i].netns);
	if (start == NULL || json_is_true(start)) {
		r = do_start(vm, e);
		if (r < 0)
			goto undo;
	} else if ((r = prepare_root(vm, &vm->spec, e)) < 0) {
		goto undo;
	} else {
		vm_lock();
		save(vm); /* root_gib: what was made */
		vm_unlock();
	}
	log_info("vm %s (%s): created", vm->id, vm->spec.name);
	release(vm, out);
	return 0;
undo:
	/* Creating is all or nothing: remove every trace. */
	if (vm->spec.n_volumes > 0 || is_volume_root(vm))
		storage_export_delete(vm->id);
	if (is_volume_root(vm))
		storage_root_delete(vm->id);
	util_rmtree(vm->dir);
	vm_lock();
	vm->deleted = 1;
	vm_unlock();
	for (i = 0; i < vm->spec.n_nics; i++)
		net_ports_changed(vm->spec.nics[i].netns);
	return r;
}

/* ---- stop, reboot, pause --------------------------------------------- */

static int
qmp_command(struct vm *vm, const char *cmd, char *err, size_t errlen)
{
	char path[800];
	struct qmp *q;
	int r;

	path_of(vm, "qmp.sock", path, sizeof(path));
	r = qmp_open(path, 5000, &q);
	if (r < 0) {
		snprintf(err, errlen, "QMP: %s", strerror(-r));
		return r;
	}
	r = qmp_exec(q, cmd, NULL, NULL, 5000, err, errlen);
	qmp_close(q);
	return r;
}

/* Wait (lock held) until the process is gone or the deadline passes. */
static int
wait_gone(struct vm *vm, uint64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	while (vm->pidfd >= 0)
		if (pthread_cond_timedwait(&vms_cond, &vms_mtx, &ts) == ETIMEDOUT)
			break;
	return vm->pidfd < 0 ? 0 : -ETIMEDOUT;
}

static int
do_stop(struct vm *vm, int force, unsigned timeout_s, struct op_error *e)
{
	char err[256];
	enum vm_state was;
	int r;

	vm_lock();
	was = vm->state;
	if (vm->pidfd < 0) {
		vm_unlock();
		return op_fail(e, "conflict", -EINVAL, "VM '%s' is not running (%s)", vm->spec.name,
			    vm_state_name(was));
	}
	vm->stop_requested = 1;
	vm->state = VM_STOPPING;
	save(vm);
	vm_unlock();

	if (!force) {
		if (was == VM_PAUSED)
			qmp_command(vm, "cont", err, sizeof(err));
		r = qmp_command(vm, "system_powerdown", err, sizeof(err));
		vm_lock();
		if (r == 0 && wait_gone(vm, (uint64_t)timeout_s * 1000) == 0) {
			vm_unlock();
			return 0;
		}
		vm_unlock();
		log_info("vm %s: guest did not power off in %us, forcing", vm->id, timeout_s);
	}
	/* quit lets QEMU flush its disks; SIGKILL if even that fails. */
	if (qmp_command(vm, "quit", err, sizeof(err)) < 0) {
		vm_lock();
		if (vm->pidfd >= 0)
			kill(vm->pid, SIGKILL);
		vm_unlock();
	}
	vm_lock();
	if (wait_gone(vm, 10000) < 0) {
		kill(vm->pid, SIGKILL);
		r = wait_gone(vm, 10000);
		vm_unlock();
		if (r < 0)
			return op_fail(e, "timeout", r, "QEMU of VM '%s' does not end", vm->spec.name);
		return 0;
	}
	vm_unlock();
	return 0;
}

int
vm_stop(const char *name, int force, unsigned timeout_s, json_t **out, struct op_error *e)
{
	struct vm *vm = claim(name, e);
	int r;

	if (vm == NULL)
		return -ENOENT;
	r = do_stop(vm, force, timeout_s ? timeout_s : vm_cfg->stop_timeout_s, e);
	release(vm, r == 0 ? out : NULL);
	return r;
}

int
vm_reboot(const char *name, json_t **out, struct op_error *e)
{
	struct vm *vm = claim(name, e);
	int r;

	if (vm == NULL)
		return -ENOENT;
	/* A stop and a start, so pending changes (vCPUs, memory, disk) apply. */
	r = do_stop(vm, 0, vm_cfg->stop_timeout_s, e);
	if (r == 0)
		r = do_start(vm, e);
	release(vm, r == 0 ? out : NULL);
	return r;
}

int
vm_pause(const char *name, int pause, json_t **out, struct op_error *e)
{
	struct vm *vm = claim(name, e);
	char err[256];
	int r;

	if (vm == NULL)
		return -ENOENT;
	vm_lock();
	if (vm->state != (pause ? VM_RUNNING : VM_PAUSED)) {
		r = op_fail(e, "conflict", -EINVAL, "VM '%s' is %s", name, vm_state_name(vm->state));
		vm_unlock();
		release(vm, NULL);
		return r;
	}
	vm_unlock();
	r = qmp_command(vm, pause ? "stop" : "cont", err, sizeof(err));
	if (r < 0) {
		release(vm, NULL);
		return op_fail(e, "internal", r, "%s", err);
	}
	vm_lock();
	if (vm->pidfd >= 0)
		vm->state = pause ? VM_PAUSED : VM_RUNNING;
	save(vm);
	vm_unlock();
	release(vm, out);
	return 0;
}

/* ---- reconfigure, delete --------------------------------------------- */

int
vm_reconfigure(const char *name, const json_t *changes, json_t **out, struct op_error *e)
{
	struct spec_limits lim;
	struct vm_spec next;
	struct vm *vm = claim(name, e);
	char err[512];
	int changed = 0, r, running;

	if (vm == NULL)
		return -ENOENT;
	limits(&lim);
	r = spec_reconfigure(changes, &lim, &vm->spec, &next, &changed, err, sizeof(err));
	if (r < 0) {
		release(vm, NULL);
		return op_fail(e, "invalid", r, "%s", err);
	}
	/* Attach and detach: the new list applies at the next start. */
	if ((r = storage_check_volumes(&next, e)) < 0) {
		release(vm, NULL);
		return r;
	}
	/* XXX: the root volume of a VM made without a tenant is the platform's
	 * and cannot change owner (the storage server has no such operation);
	 * its export could not carry a tenant's volumes. */
	if (is_volume_root(vm) && strcmp(storage_root_tenant(&next),
					 storage_root_tenant(&vm->spec)) != 0) {
		release(vm, NULL);
		return op_fail(e, "conflict", -EINVAL,
			    "VM '%s' has a root volume owned by '%s': its tenant cannot change",
			    name, storage_root_tenant(&vm->spec));
	}
	vm_lock();
	running = vm->pidfd >= 0;
	vm_unlock();
	if (!running && next.disk_gib != vm->spec.disk_gib && is_volume_root(vm)) {
		if ((r = storage_root_prepare(vm->id, &next, next.disk_gib, vm->root_gib, e)) < 0) {
			release(vm, NULL);
			return r;
		}
		vm->root_gib = next.disk_gib;
	} else if (!running && next.disk_gib != vm->spec.disk_gib) {
		char path[800];

		/* Stopped: grow now, so a failure is reported to whoever asked. */
		path_of(vm, "root.raw", path, sizeof(path));
		r = disk_grow_root(path, next.disk_gib, err, sizeof(err));
		if (r < 0) {
			release(vm, NULL);
			return op_fail(e, "internal", r, "cannot grow the disk: %s", err);
		}
	}
	vm_lock();
	next.user_data = vm->spec.user_data;
	vm->spec = next;
	save(vm);
	vm_unlock();
	release(vm, out);
	return 0;
}

int
vm_delete(const char *name, struct op_error *e)
{
	struct vm *vm = claim(name, e);
	int r, running;

	if (vm == NULL)
		return -ENOENT;
	vm_lock();
	running = vm->pidfd >= 0;
	vm_unlock();
	if (running && (r = do_stop(vm, 1, 0, e)) < 0) {
		release(vm, NULL);
		return r;
	}
	if (vm->spec.n_volumes > 0 || vm->booted_volumes[0] != '\0' || is_volume_root(vm))
		storage_export_delete(vm->id);
	if (is_volume_root(vm))
		storage_root_delete(vm->id);
	r = util_rmtree(vm->dir);
	if (r < 0) {
		release(vm, NULL);
		return op_fail(e, "internal", r, "cannot remove %s: %s", vm->dir, strerror(-r));
	}
	vm_lock();
	/* The struct stays in the list (marked deleted) so a supervisor pass
	 * that looked it up earlier never touches freed memory. */
	vm->deleted = 1;
	vm->busy = 0;
	vm_unlock();
	for (unsigned i = 0; i < vm->spec.n_nics; i++)
		net_ports_changed(vm->spec.nics[i].netns);
	log_info("vm %s (%s): deleted", vm->id, name);
	return 0;
}

/* ---- wait, console --------------------------------------------------- */

int
vm_wait(const char *name, const char *what, unsigned timeout_s, json_t **out,
	struct op_error *e)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_s * 1000;
	enum vm_state want = VM_RUNNING;
	int ready = strcmp(what, "ready") == 0;

	if (!ready && state_parse(what, &want) < 0)
		return op_fail(e, "invalid", -EINVAL,
			    "can wait for ready, running, paused, stopped or crashed");
	for (;;) {
		struct vm *vm;
		int done;

		vm_lock();
		vm = find(name);
		if (vm == NULL) {
			vm_unlock();
			return op_fail(e, "not_found", -ENOENT, "no VM named '%s'", name);
		}
		if (ready && vm->pidfd >= 0 && !vm->ready)
			vm->ready = console_ready(vm);
		done = ready ? (vm->pidfd >= 0 && vm->ready) : vm->state == want;
		if (done || util_now_ms() >= deadline) {
			*out = view(vm);
			vm_unlock();
			if (done)
				return 0;
			return op_fail(e, "timeout", -ETIMEDOUT, "VM '%s' is not %s after %us", name,
				    what, timeout_s);
		}
		if (ready && vm->pidfd < 0) {
			*out = view(vm);
			vm_unlock();
			return op_fail(e, "conflict", -EINVAL, "VM '%s' is %s, it will not get ready",
				    name, vm_state_name(vm->state));
		}
		vm_unlock();
		usleep(20000);
	}
}

int
vm_console(const char *name, size_t max_bytes, int64_t offset, json_t **out,
	   struct op_error *e)
{
	char path[800], *buf;
	struct vm *vm;
	ssize_t n;
	off_t size, from;
	int fd;

	vm_lock();
	vm = find(name);
	if (vm == NULL) {
		vm_unlock();
		return op_fail(e, "not_found", -ENOENT, "no VM named '%s'", name);
	}
	path_of(vm, "console.log", path, sizeof(path));
	vm_unlock();
	buf = malloc(max_bytes + 1);
	if (buf == NULL)
		return op_fail(e, "internal", -ENOMEM, "out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		*out = json_pack("{s:s, s:i}", "output", "", "offset", 0);
		return 0;
	}
	size = lseek(fd, 0, SEEK_END);
	if (offset >= 0)
		from = offset > size ? size : (off_t)offset;
	else
		from = size > (off_t)max_bytes ? size - (off_t)max_bytes : 0;
	n = pread(fd, buf, max_bytes, from);
	close(fd);
	if (n < 0)
		n = 0;
	/* The console is binary-ish; JSON strings must be valid UTF-8. */
	{
		ssize_t i;
		for (i = 0; i < n; i++)
			if ((unsigned char)buf[i] >= 0x80 || buf[i] == '\0')
				buf[i] = '?';
	}
	*out = json_pack("{s:s%, s:I}", "output", buf, (size_t)n, "offset",
			 (json_int_t)(from + n));
	free(buf);
	return 0;
}

int
vm_console_input(const char *name, const char *data, size_t len, struct op_error *e)
{
	char path[800];
	struct vm *vm;
	int r, running;

	vm_lock();
	vm = find(name);
	if (vm == NULL) {
		vm_unlock();
		return op_fail(e, "not_found", -ENOENT, "no VM named '%s'", name);
	}
	running = vm->pidfd >= 0;
	path_of(vm, "console.sock", path, sizeof(path));
	vm_unlock();
	if (!running)
		return op_fail(e, "conflict", -EINVAL, "VM '%s' is not running", name);
	r = console_send(path, data, len);
	if (r == -ETIMEDOUT)
		return op_fail(e, "timeout", r, "console of '%s' did not take the input", name);
	if (r < 0)
		return op_fail(e, "internal", r, "console: %s", strerror(-r));
	return 0;
}

/* ---- supervisor callbacks (lock held) --------------------------------- */

void
vm_handle_event(struct vm *vm, json_t *ev)
{
	const char *name = json_string_value(json_object_get(ev, "event"));
	json_t *data = json_object_get(ev, "data");

	if (name == NULL)
		return;
	if (strcmp(name, "SHUTDOWN") == 0) {
		const char *reason = json_string_value(json_object_get(data, "reason"));

		vm->shutdown_seen = 1;
		snprintf(vm->shutdown_reason, sizeof(vm->shutdown_reason), "%s",
			 reason ? reason : "unknown");
	} else if (strcmp(name, "STOP") == 0 && vm->state == VM_RUNNING) {
		vm->state = VM_PAUSED;
		save(vm);
	} else if (strcmp(name, "RESUME") == 0 && vm->state == VM_PAUSED) {
		vm->state = VM_RUNNING;
		save(vm);
	} else if (strcmp(name, "RESET") == 0) {
		/* A reboot from inside the guest: a new boot, a new readiness. */
		vm->ready = 0;
	}
}

void
vm_process_ended(struct vm *vm)
{
	char tail[200];
	int status = 0, have_status = 0;

	if (vm->is_child && waitpid(vm->pid, &status, WNOHANG) == vm->pid)
		have_status = 1;
	if (vm->events != NULL) {
		json_t *ev;

		while (qmp_next_event(vm->events, &ev, 0) == 0) {
			vm_handle_event(vm, ev);
			json_decref(ev);
		}
		qmp_close(vm->events);
		vm->events = NULL;
	}
	close(vm->pidfd);
	vm->pidfd = -1;

	if (vm->stop_requested) {
		vm->state = VM_STOPPED;
		snprintf(vm->reason, sizeof(vm->reason), "stopped on request");
	} else if (vm->shutdown_seen && strcmp(vm->shutdown_reason, "guest-panic") != 0) {
		vm->state = VM_STOPPED;
		snprintf(vm->reason, sizeof(vm->reason), "guest shut down (%s)",
			 vm->shutdown_reason);
	} else {
		vm->state = VM_CRASHED;
		qemu_log_tail(vm, tail, sizeof(tail));
		if (vm->shutdown_seen)
			snprintf(vm->reason, sizeof(vm->reason), "guest kernel panicked");
		else if (have_status && WIFSIGNALED(status))
			snprintf(vm->reason, sizeof(vm->reason), "QEMU was killed by signal %d (%s)",
				 WTERMSIG(status), strsignal(WTERMSIG(status)));
		else if (have_status)
			snprintf(vm->reason, sizeof(vm->reason), "QEMU exited with status %d%s%s",
				 WEXITSTATUS(status), tail[0] ? ": " : "", tail);
		else
			snprintf(vm->reason, sizeof(vm->reason),
				 "QEMU ended without a shutdown (exit status unknown: it was "
				 "started by an earlier agent)");
	}
	log_info("vm %s (%s): %s: %s", vm->id, vm->spec.name, vm_state_name(vm->state),
		 vm->reason);
	vm->pid = 0;
	vm->ready = 0;
	save(vm);
	pthread_cond_broadcast(&vms_cond);
}
