/* vmops.c - see vm.h: stop, reboot, pause, reconfigure, delete */
#define _GNU_SOURCE
#include "vm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "log.h"
#include "net.h"
#include "qmp.h"
#include "storage.h"
#include "util.h"
#include "vmstart.h"
#include "vmstore.h"
#include "vmtable.h"

/* ---- stop, reboot, pause --------------------------------------------- */

static int
qmp_command(struct vm *vm, const char *cmd, char *err, size_t errlen)
{
	char path[800];
	struct qmp *q;
	int r;

	vmt_path(vm, "qmp.sock", path, sizeof(path));
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
	uint64_t deadline = util_now_ms() + ms;

	while (vm->pidfd >= 0)
		if (vmt_wait_until(deadline) < 0)
			break;
	return vm->pidfd < 0 ? 0 : -ETIMEDOUT;
}

int
vmops_stop(struct vm *vm, int force, unsigned timeout_s, struct op_error *e)
{
	char err[256];
	enum vm_state was;
	int r;

	vmt_lock();
	was = vm->state;
	if (vm->pidfd < 0) {
		vmt_unlock();
		return op_fail(e, "conflict", -EINVAL, "VM '%s' is not running (%s)", vm->spec.name,
			    vmt_state_name(was));
	}
	vm->stop_requested = 1;
	vm->state = VM_STOPPING;
	vmstore_save(vm);
	vmt_unlock();

	if (!force) {
		if (was == VM_PAUSED)
			qmp_command(vm, "cont", err, sizeof(err));
		r = qmp_command(vm, "system_powerdown", err, sizeof(err));
		vmt_lock();
		if (r == 0 && wait_gone(vm, (uint64_t)timeout_s * 1000) == 0) {
			vmt_unlock();
			return 0;
		}
		vmt_unlock();
		log_info("vm %s: guest did not power off in %us, forcing", vm->id, timeout_s);
	}
	/* quit lets QEMU flush its disks; SIGKILL if even that fails. */
	if (qmp_command(vm, "quit", err, sizeof(err)) < 0) {
		vmt_lock();
		if (vm->pidfd >= 0)
			kill(vm->pid, SIGKILL);
		vmt_unlock();
	}
	vmt_lock();
	if (wait_gone(vm, 10000) < 0) {
		kill(vm->pid, SIGKILL);
		r = wait_gone(vm, 10000);
		vmt_unlock();
		if (r < 0)
			return op_fail(e, "timeout", r, "QEMU of VM '%s' does not end", vm->spec.name);
		return 0;
	}
	vmt_unlock();
	return 0;
}

int
vm_stop(const char *name, int force, unsigned timeout_s, json_t **out, struct op_error *e)
{
	struct vm *vm = vmt_claim(name, e);
	int r;

	if (vm == NULL)
		return -ENOENT;
	r = vmops_stop(vm, force, timeout_s ? timeout_s : vmt_cfg->stop_timeout_s, e);
	vmt_release(vm, r == 0 ? out : NULL);
	return r;
}

int
vm_reboot(const char *name, json_t **out, struct op_error *e)
{
	struct vm *vm = vmt_claim(name, e);
	int r;

	if (vm == NULL)
		return -ENOENT;
	/* A stop and a start, so pending changes (vCPUs, memory, disk) apply. */
	r = vmops_stop(vm, 0, vmt_cfg->stop_timeout_s, e);
	if (r == 0)
		r = vmstart_start(vm, e);
	vmt_release(vm, r == 0 ? out : NULL);
	return r;
}

int
vm_pause(const char *name, int pause, json_t **out, struct op_error *e)
{
	struct vm *vm = vmt_claim(name, e);
	char err[256];
	int r;

	if (vm == NULL)
		return -ENOENT;
	vmt_lock();
	if (vm->state != (pause ? VM_RUNNING : VM_PAUSED)) {
		r = op_fail(e, "conflict", -EINVAL, "VM '%s' is %s", name, vmt_state_name(vm->state));
		vmt_unlock();
		vmt_release(vm, NULL);
		return r;
	}
	vmt_unlock();
	r = qmp_command(vm, pause ? "stop" : "cont", err, sizeof(err));
	if (r < 0) {
		vmt_release(vm, NULL);
		return op_fail(e, "internal", r, "%s", err);
	}
	vmt_lock();
	if (vm->pidfd >= 0)
		vm->state = pause ? VM_PAUSED : VM_RUNNING;
	vmstore_save(vm);
	vmt_unlock();
	vmt_release(vm, out);
	return 0;
}

/* ---- reconfigure, delete --------------------------------------------- */

int
vm_reconfigure(const char *name, const json_t *changes, json_t **out, struct op_error *e)
{
	struct spec_limits lim;
	struct vm_spec next;
	struct vm *vm = vmt_claim(name, e);
	char err[512];
	int changed = 0, r, running;

	if (vm == NULL)
		return -ENOENT;
	vmt_limits(&lim);
	r = spec_reconfigure(changes, &lim, &vm->spec, &next, &changed, err, sizeof(err));
	if (r < 0) {
		vmt_release(vm, NULL);
		return op_fail(e, "invalid", r, "%s", err);
	}
	/* Attach and detach: the new list applies at the next start. */
	if ((r = storage_check_volumes(&next, e)) < 0) {
		vmt_release(vm, NULL);
		return r;
	}
	/* XXX: the root volume of a VM made without a tenant is the platform's
	 * and cannot change owner (the storage server has no such operation);
	 * its export could not carry a tenant's volumes. */
	if (vmt_is_volume_root(vm) && strcmp(storage_root_tenant(&next),
					 storage_root_tenant(&vm->spec)) != 0) {
		vmt_release(vm, NULL);
		return op_fail(e, "conflict", -EINVAL,
			    "VM '%s' has a root volume owned by '%s': its tenant cannot change",
			    name, storage_root_tenant(&vm->spec));
	}
	vmt_lock();
	running = vm->pidfd >= 0;
	vmt_unlock();
	if (!running && next.disk_gib != vm->spec.disk_gib && vmt_is_volume_root(vm)) {
		if ((r = storage_root_prepare(vm->id, &next, next.disk_gib, vm->root_gib, e)) < 0) {
			vmt_release(vm, NULL);
			return r;
		}
		vm->root_gib = next.disk_gib;
	} else if (!running && next.disk_gib != vm->spec.disk_gib) {
		char path[800];

		/* Stopped: grow now, so a failure is reported to whoever asked. */
		vmt_path(vm, "root.raw", path, sizeof(path));
		r = disk_grow_root(path, next.disk_gib, err, sizeof(err));
		if (r < 0) {
			vmt_release(vm, NULL);
			return op_fail(e, "internal", r, "cannot grow the disk: %s", err);
		}
	}
	vmt_lock();
	next.user_data = vm->spec.user_data;
	next.ssh_keys = vm->spec.ssh_keys;
	vm->spec = next;
	vmstore_save(vm);
	vmt_unlock();
	vmt_release(vm, out);
	return 0;
}

int
vm_delete(const char *name, struct op_error *e)
{
	struct vm *vm = vmt_claim(name, e);

	if (vm == NULL)
		return -ENOENT;
	return vmops_delete(vm, e);
}

int
vmops_delete(struct vm *vm, struct op_error *e)
{
	const char *name = vm->spec.name;
	int r, running;

	vmt_lock();
	running = vm->pidfd >= 0;
	vmt_unlock();
	if (running && (r = vmops_stop(vm, 1, 0, e)) < 0) {
		vmt_release(vm, NULL);
		return r;
	}
	if (vm->spec.n_volumes > 0 || vm->booted_volumes[0] != '\0' || vmt_is_volume_root(vm))
		storage_export_delete(vm->id);
	if (vmt_is_volume_root(vm))
		storage_root_delete(vm->id);
	r = util_rmtree(vm->dir);
	if (r < 0) {
		vmt_release(vm, NULL);
		return op_fail(e, "internal", r, "cannot remove %s: %s", vm->dir, strerror(-r));
	}
	net_ports_set(vm->id, NULL, 0);
	log_info("vm %s (%s): deleted", vm->id, name);
	vmt_lock();
	/* Out of the table; the struct lives on while a waiter or the
	 * supervisor holds a reference (vmtable.h). */
	vmt_remove(vm);
	vmt_broadcast();
	vm->busy = 0;
	vmt_put(vm); /* the claim's */
	vmt_unlock();
	return 0;
}
