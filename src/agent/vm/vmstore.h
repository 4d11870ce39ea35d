/*
 * vmstore.h - a VM's record on disk: <state>/vms/<id>/vm.json, rewritten
 * atomically (tmp, fsync, rename) on every change, and read back at agent
 * start, when a VM recorded as running is re-attached to its QEMU.
 */
#ifndef CLOUDLET_VMSTORE_H
#define CLOUDLET_VMSTORE_H

#include <sys/types.h>

#include "vmtable.h"

/* Write vm's record (table lock held; failures are logged). */
void vmstore_save(const struct vm *vm);

/*
 * Read the VM with this id (a new struct with one reference, not in the
 * table), re-attached to its QEMU if it was running: its pid must be alive
 * and its command line must name this VM's QMP socket (a recycled pid is
 * not mistaken for it), else it is crashed. NULL if unreadable.
 */
struct vm *vmstore_load(const char *id);

/* pidfd_open(2): -1 with errno on failure. */
int vmstore_pidfd_open(pid_t pid);

#endif
