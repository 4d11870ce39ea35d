/*
 * vmmigrate.h - moving a VM to another host, this agent's half: the
 * destination prepares, the source sends, the caller (the control plane or
 * an operator with `ctl raw`) drives both and finishes or aborts
 * (docs/migration.md; the ops in docs/agent-protocol.md).
 *
 *   destination                         source
 *   vm.migrate.prepare {spec, id, live}
 *     -> {nbd, uri}                      vm.migrate.send {name, nbd, uri}
 *                                          (vm.migrate.status / .cancel meanwhile)
 *   vm.migrate.finish {name}            <- the send's answer: completed
 *   (or vm.migrate.abort {name})
 *
 * Live: the destination's QEMU waits (-incoming defer) with its root disk
 * exported by its own NBD server; the source mirrors its root there
 * (blockdev-mirror, sync full), migrates RAM and devices with
 * pause-before-switchover, ends the mirror at the switch and removes its
 * copy once QEMU reports completed. Every drive moves: the root and the
 * attached volumes (made in the destination's pool first; the source's
 * copies deleted after). Cold: qemu-nbd or qemu-storage-daemon on the
 * destination (vmmigcold.h), qemu-img convert on the source. Every socket between the hosts is made
 * in the underlay namespace (config.h) and handed to QEMU as a descriptor.
 *
 * Each returns 0 (with *out when given: a new reference) or -errno with e
 * filled. No lock held by the caller.
 */
#ifndef CLOUDLET_VMMIGRATE_H
#define CLOUDLET_VMMIGRATE_H

#include <jansson.h>

#include "operr.h"
#include "vmtable.h"

/* The destination (vmmigrate.c). */
int vmmigrate_prepare(const json_t *args, json_t **out, struct op_error *e);
int vmmigrate_finish(const char *name, json_t **out, struct op_error *e);
int vmmigrate_abort(const char *name, struct op_error *e);
/* The source (vmmigsend.c). */
int vmmigrate_send(const json_t *args, const char *name, json_t **out,
		   struct op_error *e);
int vmmigrate_status(const char *name, json_t **out, struct op_error *e);
int vmmigrate_cancel(const char *name, struct op_error *e);

/*
 * At agent start (vm_init), for a loaded VM whose record says a migration
 * was under way, before it joins the table. Returns 1 when the VM is gone
 * (its directory removed), 0 when it stays (as a normal VM).
 *   incoming: adopted if its QEMU completed the migration and runs (the
 *             source saw completion and removed its copy), else killed and
 *             removed (the source's migration fails: it keeps the VM);
 *   outgoing: completed -> the source's copy is stopped and removed;
 *             otherwise the migration and mirror are cancelled and the
 *             guest runs on here.
 */
int vmmigrate_resolve(struct vm *vm);
/* Its outgoing half (vmmigsend.c). */
int vmmigrate_resolve_outgoing(struct vm *vm);

#endif
