/*
 * vmrepl.h - at the primary site's host: one consistency point of a
 * running VM's disks, written to a replica at the standby site
 * (replica.h, docs/dr.md "Disks").
 *
 *   vm.replica.point {name, host, port, exports: [disk], tls: {ca, cert,
 *                     key}, full}  -> {bytes, ms, full, disks, taken_at_ms}
 *
 * exports are the VM's drives to replicate ("root", "vol0", ...: the names
 * replica.open was given); host/port/tls are replica.open's answer. In one
 * QMP transaction, for every disk at once, QEMU starts a backup job to the
 * replica's NBD export: `sync: full` (and a new dirty bitmap "repl") the
 * first time, later `sync: incremental` of that bitmap with `bitmap-mode:
 * on-success`. The transaction is the point in time, the same for all
 * disks of the VM (crash-consistent); each job copies what that point
 * held for the blocks written since the previous point, while the guest
 * goes on writing. The op answers when every job has ended; on a failure
 * QEMU keeps the bitmap's bits, so the next point ships them again. No
 * bitmap (QEMU was restarted): `conflict` "a full point is needed".
 */
#ifndef CLOUDLET_VMREPL_H
#define CLOUDLET_VMREPL_H

#include <jansson.h>

#include "operr.h"

int vmrepl_point(const json_t *args, const char *name, json_t **out, struct op_error *e);

#endif
