/*
 * nbdserver.h - export sockets: one unix socket per VM, offering that VM's
 * volumes over NBD (nbd.h) to peers the server lets in (SO_PEERCRED: uid 0,
 * the server's own uid, or the pid bound to the export). One thread
 * accepts on every export socket; each connection has its own thread, so
 * a VM and a scanner (or a migration target) can use an export at once.
 *
 * A connection's thread reads and parses requests and queues them to the
 * connection's NBDSERVER_WORKERS workers, which serve them concurrently
 * (writes of at most NBDSERVER_INLINE_WRITE the reader serves itself)
 * (QEMU keeps several requests in flight) and reply in completion order
 * (NBD allows it; replies are serialized by a mutex). The reader stops
 * reading while NBDSERVER_QUEUE requests or NBDSERVER_QUEUE_BYTES of data
 * (write payloads, read buffers) are outstanding. A FLUSH covers every
 * write answered before it arrived, as NBD requires: a write is on the
 * devices (page cache) and in the journal before it is answered. On
 * disconnect the queued requests are still served (and answered when the
 * socket allows) before the volume is released.
 *
 * Exports are persisted in <pool-dir>/exports.json and restored by
 * nbdserver_start(). Locking: the export table has its own mutex, taken
 * before pool.lock when both are needed.
 */
#ifndef CLOUDLET_NBDSERVER_H
#define CLOUDLET_NBDSERVER_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "pool.h"

#define NBDSERVER_MAX_EXPORTS 1024
#define NBDSERVER_MAX_VOLUMES 16
#define NBDSERVER_MAX_CONNS   64 /* per export */
#define NBDSERVER_BIND_WAIT_MS 5000
#define NBDSERVER_WORKERS     4  /* requests served at once per connection */
#define NBDSERVER_QUEUE       16 /* requests outstanding per connection */
#define NBDSERVER_QUEUE_BYTES (64u << 20) /* data outstanding per connection */
#define NBDSERVER_KEEP_BUF    (4u << 20)  /* larger buffers are freed after use */
#define NBDSERVER_INLINE_WRITE (64u << 10) /* smaller writes: served by the reader */

/* Restore persisted exports and start accepting. dir: export sockets. */
int nbdserver_start(struct pool *p, const char *export_dir);
void nbdserver_stop(void);

/*
 * Control operations. volumes: a JSON array of names. Errors: -EINVAL
 * (err says why), -ENOENT (a volume), -EEXIST (export exists), -ENOSPC.
 * The view is a new reference.
 */
int nbdserver_export_create(const char *vm, const char *tenant, const json_t *volumes,
			    pid_t pid, json_t **view, char *err, size_t errlen);
int nbdserver_export_bind(const char *vm, pid_t pid, json_t **view, char *err, size_t errlen);
int nbdserver_export_delete(const char *vm, char *err, size_t errlen);
json_t *nbdserver_export_list(void);

/* The VMs whose exports name volume (a new array). */
json_t *nbdserver_exports_of(const char *volume);

#endif
