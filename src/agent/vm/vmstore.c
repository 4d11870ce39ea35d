/* vmstore.c - see vmstore.h */
#define _GNU_SOURCE
#include "vmstore.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static json_t *
record(const struct vm *vm)
{
	json_t *j;

	j = json_pack("{s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:I, s:I, s:b}",
			 "id", vm->id, "spec", spec_to_json(&vm->spec), "state",
			 vmt_state_name(vm->state), "reason", vm->reason, "accel",
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
	if (j != NULL)
		json_object_update_new(
			j, json_pack("{s:b, s:s, s:b, s:b, s:i}", "booted_ram0", vm->booted_ram0,
				     "migration", vm->migration, "migration_live", vm->mig_live,
				     "migration_ready", vm->mig_ready, "migration_nbd_pid",
				     (int)vm->mig_nbd_pid));
	if (j != NULL && vm->mig_volumes[0] != '\0')
		json_object_set_new(j, "migration_volumes", json_string(vm->mig_volumes));
	return j;
}

void
vmstore_save(const struct vm *vm)
{
	char path[800];
	json_t *j = record(vm);
	char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	int r;

	vmt_path(vm, "vm.json", path, sizeof(path));
	r = s ? util_write_atomic(path, s, strlen(s), 0600) : -ENOMEM;
	if (r < 0)
		log_warnx("vm %s: cannot save its record: %s", vm->id, strerror(-r));
	free(s);
	json_decref(j);
}

int
vmstore_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Is pid the QEMU of this VM (guards against a recycled pid)? */
static int
is_our_qemu(const struct vm *vm, pid_t pid)
{
	char needle[800];

	snprintf(needle, sizeof(needle), "%s/qmp.sock", vm->dir);
	return util_cmdline_has(pid, needle);
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
	vm->pidfd = vmstore_pidfd_open(vm->pid);
	if (vm->pidfd < 0) {
		log_warn("vm %s: pidfd_open %d", vm->id, (int)vm->pid);
		return;
	}
	vm->is_child = 0;
	vmt_path(vm, "events.sock", sock, sizeof(sock));
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
		 (int)vm->pid, vmt_state_name(vm->state));
}

/*
 * A VM recorded as not running whose QEMU runs all the same: an earlier
 * agent started it and ended before it recorded the start (the operation
 * that asked was cut off and is resolved from this record). The record is
 * the truth: the stray QEMU goes.
 */
static void
stray(struct vm *vm)
{
	char path[800], *text = NULL;
	size_t len;
	pid_t pid;

	vm->pid = 0;
	vmt_path(vm, "qemu.pid", path, sizeof(path));
	if (util_read_file(path, 64, &text, &len) < 0)
		return;
	pid = util_parse_pid(text);
	free(text);
	if (pid > 0 && is_our_qemu(vm, pid)) {
		log_warnx("vm %s (%s): recorded %s but its QEMU (pid %d) runs: an earlier agent "
			  "ended before recording the start; stopping it",
			  vm->id, vm->spec.name, vmt_state_name(vm->state), (int)pid);
		kill(pid, SIGKILL);
	}
}

struct vm *
vmstore_load(const char *id)
{
	char path[800];
	json_t *j, *spec;
	json_error_t jerr;
	struct spec_limits lim = {.max_vcpus = 1024, .max_memory_mib = UINT64_MAX};
	struct op_error e;
	struct vm *vm;
	const char *s;
	enum vm_state st = VM_STOPPED;

	vm = vmt_new();
	if (vm == NULL)
		return NULL;
	if (util_fmt(vm->id, sizeof(vm->id), "%s", id) < 0 ||
	    util_fmt(vm->dir, sizeof(vm->dir), "%s/vms/%s", vmt_cfg->state_dir, id) < 0) {
		vmt_put(vm);
		return NULL;
	}
	vmt_path(vm, "vm.json", path, sizeof(path));
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	spec = json_object_get(j, "spec");
	if (j == NULL || spec_parse(spec, &lim, &vm->spec, e.msg, sizeof(e.msg)) < 0) {
		log_warnx("vm %s: unreadable record %s, skipped", id, path);
		json_decref(j);
		vmt_put(vm);
		return NULL;
	}
	s = json_string_value(json_object_get(j, "state"));
	if (s != NULL)
		vmt_state_parse(s, &st);
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
	vm->booted_ram0 = json_is_true(json_object_get(j, "booted_ram0"));
	snprintf(vm->migration, sizeof(vm->migration), "%s",
		 json_string_value(json_object_get(j, "migration")) ?: "");
	vm->mig_live = json_is_true(json_object_get(j, "migration_live"));
	vm->mig_ready = json_is_true(json_object_get(j, "migration_ready"));
	vm->mig_nbd_pid = (pid_t)json_integer_value(json_object_get(j, "migration_nbd_pid"));
	snprintf(vm->mig_volumes, sizeof(vm->mig_volumes), "%s",
		 json_string_value(json_object_get(j, "migration_volumes")) ?: "");
	json_decref(j);
	if (vm->state == VM_RUNNING || vm->state == VM_PAUSED || vm->state == VM_STOPPING)
		reattach(vm);
	else
		stray(vm);
	return vm;
}
