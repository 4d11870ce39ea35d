/*
 * replica.h - at a standby site's host: crash-consistent copies of another
 * site's VM disks, one consistency point at a time (docs/dr.md, "Disks").
 *
 * A replica is a directory <state>/replicas/<vm>/ with one raw image per
 * disk (<disk>.raw, sparse), which always holds the last *complete* point,
 * and state.json. A point is written into qcow2 overlays over those images
 * (<disk>.p<N>.qcow2) that a qemu-storage-daemon, as the VM user, exports
 * over NBD with TLS (fresh one-time credentials per point, as a migration's)
 * on a socket in the underlay namespace; the other site's QEMU writes the
 * point there with an incremental backup (vmrepl.h). Only when the caller
 * says the point is complete are the overlays committed into the images;
 * a point that never completes (the primary died in the middle) is thrown
 * away, so the images are never a mix of two points.
 *
 * A commit is redone at the agent's start if it was interrupted (writing
 * the same clusters again gives the same images): state.json records
 * "committing" before the first image is touched.
 *
 * A point's one-time TLS credentials are removed once it is committed or
 * thrown away (the client's already once replica.open has answered).
 * Operations on different replicas run side by side; while one replica
 * commits or sends (minutes, for a large disk) any other open, commit,
 * send or drop of that same replica is refused with "conflict" (busy:
 * try again), abort and list answer at once. Checking the arguments is
 * replica_args.h.
 *
 *   replica.open   {vm, point, disks: [{name, size}]}
 *                  -> {host, port, exports: [name], tls: {ca, cert, key}}
 *   replica.commit {vm, point, taken_at_ms?} -> {point, completed_at_ms,
 *                  taken_at_ms, bytes}  (taken_at_ms: vm.replica.point's)
 *   replica.abort  {vm}        the open point is thrown away
 *   replica.list   {}  -> [{vm, point, completed_at_ms, taken_at_ms, open, disks}]
 *   replica.drop   {vm}        everything of it removed
 *   replica.send   {vm, nbd, tls}  the last complete point of the root
 *                  copied into a cold migration's prepared destination
 *                  (vm.migrate.prepare with live false, here or on
 *                  another host of this site): how a VM is started from
 *                  its replica (then vm.migrate.finish and vm.start)
 */
#ifndef CLOUDLET_REPLICA_H
#define CLOUDLET_REPLICA_H

#include <jansson.h>

#include "operr.h"

/* At agent start: finish interrupted commits, throw away open points
 * (their daemons killed). */
void replica_init(void);

int replica_open(const json_t *args, json_t **out, struct op_error *e);
int replica_commit(const json_t *args, json_t **out, struct op_error *e);
int replica_abort(const json_t *args, struct op_error *e);
int replica_list(json_t **out, struct op_error *e);
int replica_drop(const json_t *args, struct op_error *e);
int replica_send(const json_t *args, struct op_error *e);

/* The directory of vm's replica (for a VM started from it): 0 or -ENOENT. */
int replica_dir(const char *vm, char *out, size_t len);

#endif
