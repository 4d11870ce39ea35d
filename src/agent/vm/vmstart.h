/*
 * vmstart.h - starting a VM's QEMU: its root disk as this start needs it,
 * the NoCloud seed, the storage export of its volumes, the spawn, and for a
 * clone's first start the restore of its template's device state.
 */
#ifndef CLOUDLET_VMSTART_H
#define CLOUDLET_VMSTART_H

#include <stddef.h>

#include "vmtable.h"

/*
 * Start vm (busy: the caller's operation owns it; the table lock not
 * held). Returns once QEMU runs and answers on QMP (a clone: restored and
 * continued); readiness comes later (vmready.h). 0 or -errno with e.
 */
int vmstart_start(struct vm *vm, struct op_error *e);

/* Would self's spec memory fit beside the running VMs (the table lock
 * held)? 0, or "insufficient_resources" in e. */
int vmstart_memory_fits(const struct vm *self, struct op_error *e);

/*
 * The root disk as a start with spec needs it: made if missing (raw,
 * cold), grown if the spec grew. A clone's qcow2 overlay that must grow is
 * flattened to raw first (resize2fs works on raw images); it then boots
 * cold. vm busy, lock not held.
 */
int vmstart_prepare_root(struct vm *vm, const struct vm_spec *spec, struct op_error *e);

/* The spec's NICs on platform networks resolved on this host (vm.c):
 * namespace, bridge, gateway; addresses checked. 0 or -errno with e. */
int vm_nics_resolve(struct vm_spec *spec, struct op_error *e);

/* Tell net the VM's ports (anti-spoofing, DHCP; vm.c). No lock held. */
void vm_ports_publish(struct vm *vm);

/* Stop a claimed VM's QEMU (vmops.c): the power button and timeout_s, or
 * quit/SIGKILL at once with force. 0 or -errno with e. */
int vmops_stop(struct vm *vm, int force, unsigned timeout_s, struct op_error *e);

/* Delete a claimed VM (vmops.c): stopped by force, its disks, ports and
 * record removed, out of the table; the claim's reference is dropped
 * (also on failure, then released). */
int vmops_delete(struct vm *vm, struct op_error *e);

/* The last line of the VM's qemu.log (why QEMU ended). */
void vmstart_qemu_log_tail(const struct vm *vm, char *out, size_t len);

#endif
