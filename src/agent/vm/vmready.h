/*
 * vmready.h - readiness: the guest's line "cloudlet: ready <vm id>" on its
 * serial console (docs/guest.md).
 *
 * Readiness is an event, not a poll: one inotify instance watches the
 * console.log of every VM whose current boot has not said it yet; the
 * supervisor polls its descriptor and calls vmready_events(), which
 * reads only what was appended and wakes the waiters (vm_wait) at once.
 */
#ifndef CLOUDLET_VMREADY_H
#define CLOUDLET_VMREADY_H

#include "vmtable.h"

int vmready_init(void);
/* The inotify descriptor (for the supervisor's poll). */
int vmready_fd(void);

/* Table lock held for these. */
/* A boot began at vm->console_off: not ready until its line appears. */
void vmready_arm(struct vm *vm);
/* The guest rebooted inside the same QEMU: wait for a new line, written
 * after what the console holds now. */
void vmready_rearm(struct vm *vm);
/* Stop watching (ready, or the QEMU ended). */
void vmready_disarm(struct vm *vm);
/* The inotify descriptor is readable. */
void vmready_events(void);
/* Every supervisor round (at least once a second): VMs whose console could
 * not be watched are read now, and once a second every console waited for
 * (an inotify event the kernel dropped costs a second, not the readiness). */
void vmready_sweep(void);

#endif
