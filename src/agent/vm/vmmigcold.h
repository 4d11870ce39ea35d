/*
 * vmmigcold.h - a cold migration's destination (vmmigrate.h): the NBD
 * server the source copies the stopped VM's drives into, as the VM user,
 * on the listening socket it is given (made in the underlay namespace):
 *   - a VM with a file root only: qemu-nbd serving root.raw (export "root");
 *   - with volumes or a root volume: qemu-storage-daemon serving every drive
 *     under the live migration's export names ("root", "vol0"..: vmmigio.h),
 *     the volumes over this host's storage export of the VM (bound to the
 *     daemon's pid).
 * Its pid is vm->mig_nbd_pid (recorded, so an agent restart can stop it).
 */
#ifndef CLOUDLET_VMMIGCOLD_H
#define CLOUDLET_VMMIGCOLD_H

#include "operr.h"
#include "vmtable.h"

/* Start the server on lfd (the caller closes its copy). 0 or -errno. */
int vmmigcold_serve(struct vm *vm, int lfd, int tls, struct op_error *e);

/* Stop it (SIGTERM: it flushes; SIGKILL after 10 s); nothing if the pid is
 * not this VM's server (a recycled pid). */
void vmmigcold_stop(struct vm *vm);

#endif
