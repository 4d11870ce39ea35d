/*
 * supervise.h - the supervisor thread: watches every running QEMU.
 *
 * For each running VM it polls a pidfd (readable when the process ends,
 * also for processes started by an earlier agent) and the VM's event QMP
 * connection. A SHUTDOWN event before the end means the guest powered off
 * or we asked it to; an end without one is a crash, reported with its
 * reason. The VM table is locked only while handling what poll() returned.
 */
#ifndef CLOUDLET_SUPERVISE_H
#define CLOUDLET_SUPERVISE_H

int supervise_start(void);
/* Tell the supervisor the set of running VMs changed. */
void supervise_wake(void);

#endif
