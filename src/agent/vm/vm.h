/*
 * vm.h - the agent's VMs: what the rest of the agent may ask of them.
 *
 * Every VM lives in <state_dir>/vms/<id>/ (qemu.h lists the files) with its
 * record vm.json (vmstore.h). The subsystem's files:
 *
 *   vm.c         init, create (provisioning: cold or clone), list, show, start
 *   vmops.c      stop, reboot, pause, reconfigure, delete
 *   vmtable.c    the table, its lock and references (vmtable.h: lock order)
 *   vmstore.c    the record on disk, re-attaching to QEMU at agent start
 *   vmstart.c    the start path: root disk, seed, export, spawn, clone restore
 *   vmconsole.c  console log and input, vm_wait
 *   vmready.c    readiness: the guest's line, seen through inotify
 *   vmwatch.c    what the supervisor thread (supervise.c) watches and does
 *   template.c   booted templates for clones (below the table: vm -> template)
 *   vmmigrate.c  moving a VM to another host: the destination (vmmigrate.h)
 *   vmmigsend.c  ... the source;  vmmigio.c  what both use
 *
 * Long steps (making disks, spawning, waiting for a guest to power off) run
 * without the table lock while the VM is marked busy, so a second operation
 * on the same VM answers "conflict" instead of waiting. Every function here
 * takes the lock itself: call them with no lock held.
 *
 * This module sits above net (nic resolution, its port table) and storage
 * (exports, root volumes); it hands them hooks (net_ports_set,
 * storage_set_volume_users, template_set_in_use) instead of being called by
 * them. The appliance layer (appliance/) sits above it.
 */
#ifndef CLOUDLET_VM_H
#define CLOUDLET_VM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "operr.h"

/* Load every VM of the state directory (re-attaching running ones), tell
 * net their ports, start the supervisor. cfg outlives the agent. */
int vm_init(const struct agent_config *cfg);

/* Each returns 0 (with *out when given: the VM's view, a new reference)
 * or -errno with e filled. */
int vm_create(const json_t *args, json_t **out, struct op_error *e);
int vm_show(const char *name, json_t **out, struct op_error *e);
json_t *vm_list(void);
int vm_start(const char *name, json_t **out, struct op_error *e);
int vm_stop(const char *name, int force, unsigned timeout_s, json_t **out,
	    struct op_error *e);
int vm_reboot(const char *name, json_t **out, struct op_error *e);
int vm_pause(const char *name, int pause, json_t **out, struct op_error *e);
int vm_reconfigure(const char *name, const json_t *changes, json_t **out,
		   struct op_error *e);
int vm_delete(const char *name, struct op_error *e);
/* Wait for "ready" (the current boot printed its readiness line) or a
 * state; woken by the event, not by polling. */
int vm_wait(const char *name, const char *what, unsigned timeout_s, json_t **out,
	    struct op_error *e);
/*
 * Console output: the last max_bytes, or (offset >= 0) up to max_bytes from
 * that position of console.log. The result has "output" and "offset" (the
 * position after the returned text).
 */
int vm_console(const char *name, size_t max_bytes, int64_t offset, json_t **out,
	       struct op_error *e);
/* Type data on the serial console (waits until QEMU has taken it). */
int vm_console_input(const char *name, const char *data, size_t len, struct op_error *e);

/* The names of the VMs whose spec lists volume, or whose root it is
 * ("a, b" into out): their count. A volume in use must not be deleted. */
int vm_volume_users(const char *volume, char *out, size_t len);

#endif
