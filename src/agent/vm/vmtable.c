/* vmtable.c - see vmtable.h */
#define _GNU_SOURCE
#include "vmtable.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "qmp.h"
#include "storage.h"

const struct agent_config *vmt_cfg;

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static struct vm *vms;

void
vmt_init(void)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cond, &ca);
	pthread_condattr_destroy(&ca);
}

void
vmt_lock(void)
{
	pthread_mutex_lock(&mtx);
}

void
vmt_unlock(void)
{
	pthread_mutex_unlock(&mtx);
}

void
vmt_broadcast(void)
{
	pthread_cond_broadcast(&cond);
}

int
vmt_wait_until(uint64_t deadline_ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(deadline_ms / 1000);
	ts.tv_nsec = (long)(deadline_ms % 1000) * 1000000;
	if (pthread_cond_timedwait(&cond, &mtx, &ts) == ETIMEDOUT)
		return -ETIMEDOUT;
	return 0;
}

struct vm *
vmt_find(const char *name)
{
	for (struct vm *vm = vms; vm != NULL; vm = vm->next)
		if (strcmp(vm->spec.name, name) == 0)
			return vm;
	return NULL;
}

struct vm *
vmt_first(void)
{
	return vms;
}

struct vm *
vmt_new(void)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	if (vm == NULL)
		return NULL;
	vm->refs = 1;
	vm->pidfd = -1;
	vm->ready_wd = -1;
	return vm;
}

void
vmt_add(struct vm *vm)
{
	vm->next = vms;
	vms = vm;
}

void
vmt_remove(struct vm *vm)
{
	for (struct vm **pp = &vms; *pp != NULL; pp = &(*pp)->next)
		if (*pp == vm) {
			*pp = vm->next;
			vm->next = NULL;
			vmt_put(vm);
			return;
		}
}

void
vmt_ref(struct vm *vm)
{
	vm->refs++;
}

void
vmt_put(struct vm *vm)
{
	if (vm == NULL || --vm->refs > 0)
		return;
	/* Whoever removed it stopped it: no process, no watch is left. */
	if (vm->events != NULL)
		qmp_close(vm->events);
	if (vm->pidfd >= 0)
		close(vm->pidfd);
	spec_free(&vm->spec);
	free(vm);
}

struct vm *
vmt_claim(const char *name, struct op_error *e)
{
	struct vm *vm;

	vmt_lock();
	vm = vmt_find(name);
	if (vm == NULL) {
		vmt_unlock();
		op_fail(e, "not_found", -ENOENT, "no VM named '%s'", name);
		return NULL;
	}
	if (vm->busy) {
		vmt_unlock();
		op_fail(e, "conflict", -EBUSY, "VM '%s' has another operation in progress", name);
		return NULL;
	}
	vm->busy = 1;
	vmt_ref(vm);
	vmt_unlock();
	return vm;
}

void
vmt_release(struct vm *vm, json_t **out)
{
	vmt_lock();
	vm->busy = 0;
	if (out != NULL)
		*out = vmt_view(vm);
	vmt_put(vm);
	vmt_unlock();
}

const char *
vmt_state_name(enum vm_state s)
{
	static const char *const names[] = {"stopped", "running", "paused", "stopping",
					    "crashed"};
	return names[s];
}

int
vmt_state_parse(const char *s, enum vm_state *out)
{
	enum vm_state i;

	for (i = VM_STOPPED; i <= VM_CRASHED; i++)
		if (strcmp(vmt_state_name(i), s) == 0) {
			*out = i;
			return 0;
		}
	return -EINVAL;
}

void
vmt_path(const struct vm *vm, const char *file, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", vm->dir, file);
}

int
vmt_is_volume_root(const struct vm *vm)
{
	return strcmp(vm->root_format, "volume") == 0;
}

void
vmt_volumes_joined(const struct vm_spec *s, char *out, size_t len)
{
	size_t off = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < s->n_volumes && off < len; i++)
		off += (size_t)snprintf(out + off, len - off, "%s%s", i ? "," : "", s->volumes[i]);
}

json_t *
vmt_view(struct vm *vm)
{
	char path[800], vols[sizeof(vm->booted_volumes)];
	json_t *j = spec_to_json(&vm->spec);
	int running = vm->state == VM_RUNNING || vm->state == VM_PAUSED ||
		      vm->state == VM_STOPPING;
	int restart;

	/* Volumes are attached at start: microvm has no hotplug. */
	vmt_volumes_joined(&vm->spec, vols, sizeof(vols));
	restart = running && (vm->booted_vcpus != vm->spec.vcpus ||
			      vm->booted_memory_mib != vm->spec.memory_mib ||
			      vm->booted_disk_gib != vm->spec.disk_gib ||
			      strcmp(vm->booted_volumes, vols) != 0);

	json_object_set_new(j, "id", json_string(vm->id));
	json_object_set_new(j, "state", json_string(vmt_state_name(vm->state)));
	json_object_set_new(j, "reason", json_string(vm->reason));
	json_object_set_new(j, "ready", json_boolean(running && vm->ready));
	if (running && vm->ready_error[0] != '\0')
		json_object_set_new(j, "ready_error", json_string(vm->ready_error));
	json_object_set_new(j, "busy", json_boolean(vm->busy));
	json_object_set_new(j, "accel", json_string(host_accel_name(vm->accel)));
	json_object_set_new(j, "pid", json_integer(running ? vm->pid : 0));
	json_object_set_new(j, "created_at", json_string(vm->created_at));
	json_object_set_new(j, "started_at", json_string(vm->started_at));
	json_object_set_new(j, "restart_required", json_boolean(restart));
	json_object_set_new(j, "provision", json_string(vm->provision));
	json_object_set_new(j, "root_format", json_string(vm->root_format));
	if (vmt_is_volume_root(vm)) {
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
	if (running)
		json_object_set_new(json_object_get(j, "booted"), "from_template",
				    json_boolean(vm->booted_ram0));
	json_object_set_new(j, "migration",
			    vm->migration[0] ? json_string(vm->migration) : json_null());
	json_object_set_new(j, "dir", json_string(vm->dir));
	vmt_path(vm, "console.sock", path, sizeof(path));
	json_object_set_new(j, "console_socket", json_string(path));
	vmt_path(vm, "console.log", path, sizeof(path));
	json_object_set_new(j, "console_log", json_string(path));
	return j;
}

void
vmt_limits(struct spec_limits *lim)
{
	lim->max_vcpus = vmt_cfg->host.cpus;
	lim->max_memory_mib = vmt_cfg->host.memory_mib > vmt_cfg->mem_reserve_mib
				      ? vmt_cfg->host.memory_mib - vmt_cfg->mem_reserve_mib
				      : 0;
	lim->image_lookup = image_lookup;
}
