/* vmstart.c - see vmstart.h */
#define _GNU_SOURCE
#include "vmstart.h"

#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cloneid.h"
#include "disk.h"
#include "log.h"
#include "qemu.h"
#include "storage.h"
#include "supervise.h"
#include "util.h"
#include "vmready.h"
#include "vmstore.h"

int
vmstart_memory_fits(const struct vm *self, struct op_error *e)
{
	uint64_t used = 0, budget;
	struct vm *vm;

	budget = (uint64_t)((double)vmt_cfg->host.memory_mib * vmt_cfg->mem_overcommit);
	budget = budget > vmt_cfg->mem_reserve_mib ? budget - vmt_cfg->mem_reserve_mib : 0;
	for (vm = vmt_first(); vm != NULL; vm = vm->next)
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

void
vmstart_qemu_log_tail(const struct vm *vm, char *out, size_t len)
{
	char path[800], *text = NULL, *p, *last;
	size_t n;

	out[0] = '\0';
	vmt_path(vm, "qemu.log", path, sizeof(path));
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
int
vmstart_prepare_root(struct vm *vm, const struct vm_spec *spec, struct op_error *e)
{
	char path[800], rootfs[1200], err[512];
	int64_t size;
	int r;

	if (vmt_is_volume_root(vm)) {
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
		vmt_path(vm, "root.qcow2", path, sizeof(path));
		vmt_path(vm, "root.raw", raw, sizeof(raw));
		if ((r = util_run(argv, err, sizeof(err))) < 0)
			return op_fail(e, "internal", r, "cannot flatten the clone's disk: %s", err);
		unlink(path);
		snprintf(vm->root_format, sizeof(vm->root_format), "raw");
		vm->clone_pending = 0;
	}
	vmt_path(vm, "root.raw", path, sizeof(path));
	size = disk_size(path);
	if (image_is_upload(spec->image)) {
		/* An uploaded disk (docs/images.md): copied as it is (sparse),
		 * then made disk_gib large; its partitions and file systems are
		 * the guest's business (cloud-init's growpart). */
		struct image im;

		if (size < 0 && image_find(spec->image, &im) < 0)
			return op_fail(e, "not_found", -ENOENT, "uploaded image %s is not on this host",
				    spec->image);
		if (size < 0) {
			/* the upload dir's owner: cloudletd's user */
			struct stat dst;
			char dir[700];

			snprintf(dir, sizeof(dir), "%s", im.disk);
			*strrchr(dir, '/') = '\0';
			if (stat(dir, &dst) < 0)
				return op_fail(e, "internal", -errno, "image dir %s: %s", dir,
					    strerror(errno));
			if ((r = disk_copy_upload(im.disk, dst.st_uid, path, err, sizeof(err))) < 0)
				return op_fail(e, "internal", r, "cannot copy the image: %s", err);
			size = disk_size(path);
		}
		if (size >= 0 && (uint64_t)size < spec->disk_gib << 30 &&
		    truncate(path, (off_t)(spec->disk_gib << 30)) < 0)
			return op_fail(e, "internal", -errno, "cannot grow the root disk: %s",
				    strerror(errno));
	} else if (size < 0) {
		snprintf(rootfs, sizeof(rootfs), "%s/images/%s/rootfs", vmt_cfg->guest_dir,
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
	if (chown(path, vmt_cfg->vm_uid, vmt_cfg->vm_gid) < 0 && geteuid() == 0)
		return op_fail(e, "internal", -errno, "chown root disk: %s", strerror(errno));
	return 0;
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

	vmt_path(vm, "qmp.sock", path, sizeof(path));
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

		vmstart_qemu_log_tail(vm, tail, sizeof(tail));
		return op_fail(e, "internal", r, "restoring the clone: %s%s%s",
			    err[0] ? err : strerror(-r), tail[0] ? ": " : "", tail);
	}
	return 0;
}

int
vmstart_start(struct vm *vm, struct op_error *e)
{
	char path[800], err[512], nbd[800], root[80];
	struct vm_spec spec;
	struct qemu_launch l;
	struct qmp *events = NULL;
	uint64_t deadline, t0, ph[5];
	int64_t size;
	pid_t pid;
	int r, pidfd, exported, incoming;

	vmt_lock();
	if (vm->state != VM_STOPPED && vm->state != VM_CRASHED) {
		vmt_unlock();
		return op_fail(e, "conflict", -EBUSY, "VM '%s' is %s", vm->spec.name,
			    vmt_state_name(vm->state));
	}
	if ((r = vmstart_memory_fits(vm, e)) < 0) {
		vmt_unlock();
		return r;
	}
	spec = vm->spec; /* user_data pointer stays owned by vm; vm is busy */
	vmt_unlock();

	ph[0] = util_now_ms();
	if ((r = vmstart_prepare_root(vm, &spec, e)) < 0)
		return r;
	ph[1] = util_now_ms();
	/*
	 * A clone does not read its seed disk (its identity has the same
	 * files, cloneid.h), only a reboot inside it would: QEMU opens an
	 * empty one and the seed is written into it while QEMU starts, which
	 * takes the clone's start 12-18 ms less here.
	 */
	vmt_path(vm, "seed.img", path, sizeof(path));
	if (vm->clone_pending)
		r = disk_blank_seed(path, err, sizeof(err));
	else
		r = disk_write_seed(path, vm->id, &spec, 0, err, sizeof(err));
	if (r < 0)
		return op_fail(e, "internal", r, "cannot write the NoCloud seed: %s", err);
	if (chown(path, vmt_cfg->vm_uid, vmt_cfg->vm_gid) < 0 && geteuid() == 0)
		return op_fail(e, "internal", -errno, "chown seed: %s", strerror(errno));

	vmt_path(vm, "console.log", path, sizeof(path));
	size = disk_size(path);
	vm->console_off = size > 0 ? (uint64_t)size : 0;

	memset(&l, 0, sizeof(l));
	l.qemu_bin = vmt_cfg->qemu_bin;
	l.guest_dir = vmt_cfg->guest_dir;
	l.vm_dir = vm->dir;
	l.vm_id = vm->id;
	l.accel = vmt_cfg->host.accel;
	l.tsc_khz = vmt_cfg->host.tsc_khz;
	l.spec = &spec;
	l.uid = vmt_cfg->vm_uid;
	l.gid = vmt_cfg->vm_gid;
	l.root_file = strcmp(vm->root_format, "qcow2") == 0 ? "root.qcow2" : "root.raw";
	l.firmware = image_is_upload(spec.image);
	l.root_format = vm->root_format;
	l.state_fd = -1;
	l.identity_fd = -1;
	incoming = strcmp(vm->migration, "incoming") == 0;
	if (incoming) {
		/* A live migration's destination (vmmigrate.c): waits for the
		 * source's state; its root is written through QEMU's own NBD
		 * export meanwhile. */
		l.incoming = 1;
		l.share_root = 1;
		l.ram0 = vm->booted_ram0;
	}
	/* A clone, and a restored clone's migration destination: the same
	 * fw_cfg files as the template (the guest read their sizes). */
	if (vm->clone_pending || (incoming && vm->booted_ram0)) {
		char *id;

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
	}
	if (vm->clone_pending) {
		char state[800];

		snprintf(state, sizeof(state), "%s/state", vm->tpl_dir);
		l.mem_path = vm->tpl_ram;
		l.incoming = 1;
		l.state_fd = open(state, O_RDONLY | O_CLOEXEC);
		if (l.state_fd < 0) {
			r = -errno;
			close(l.identity_fd);
			return op_fail(e, "internal", r, "template state %s: %s", state,
				    strerror(-r));
		}
	}
	exported = spec.n_volumes > 0 || vmt_is_volume_root(vm);
	if (vmt_is_volume_root(vm)) {
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
		vmt_path(vm, "seed.img", path, sizeof(path));
		if ((r = disk_write_seed(path, vm->id, &spec, 1, err, sizeof(err))) < 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return op_fail(e, "internal", r, "cannot write the NoCloud seed: %s", err);
		}
	}
	ph[2] = util_now_ms();

	/* QEMU creates its sockets before it runs the guest; wait for them. */
	vmt_path(vm, "events.sock", path, sizeof(path));
	deadline = util_now_ms() + 15000;
	for (;;) {
		int status;

		r = qmp_open(path, 2000, &events);
		if (r == 0)
			break;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			vmstart_qemu_log_tail(vm, err, sizeof(err));
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
	pidfd = vmstore_pidfd_open(pid);
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
	vmt_lock();
	vm->pid = pid;
	vm->pidfd = pidfd;
	vm->is_child = 1;
	vm->events = events;
	/* An incoming VM runs once its migration completes (RESUME). */
	vm->state = incoming ? VM_PAUSED : VM_RUNNING;
	if (!incoming)
		vm->booted_ram0 = vm->clone_pending;
	vm->reason[0] = '\0';
	vm->accel = vmt_cfg->host.accel;
	vm->stop_requested = 0;
	vm->shutdown_seen = 0;
	vm->shutdown_reason[0] = '\0';
	vm->booted_vcpus = spec.vcpus;
	vm->booted_memory_mib = spec.memory_mib;
	vm->booted_disk_gib = spec.disk_gib;
	vmt_volumes_joined(&spec, vm->booted_volumes, sizeof(vm->booted_volumes));
	vm->clone_pending = 0;
	vm->last_boot_ms = util_now_ms() - t0;
	util_rfc3339(vm->started_at, sizeof(vm->started_at));
	vmready_arm(vm); /* a new boot: wait for its readiness line */
	vmstore_save(vm);
	vmt_unlock();
	supervise_wake();
	log_info("vm %s (%s): started, pid %d, %s", vm->id, spec.name, (int)pid,
		 host_accel_name(vm->accel));
	return 0;
}
