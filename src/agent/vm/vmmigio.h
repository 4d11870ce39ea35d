/*
 * vmmigio.h - what both sides of a migration use (vmmigrate.h): QMP calls
 * answering in the agent's error shape, TCP sockets made in the underlay
 * namespace (config.h) for QEMU, QEMU's TLS credentials object, and
 * removing a VM's traces when an agent restart ends a migration.
 */
#ifndef CLOUDLET_VMMIGIO_H
#define CLOUDLET_VMMIGIO_H

#include <jansson.h>

#include "operr.h"
#include "qmp.h"
#include "vmtable.h"

/* What QEMU knows the migration's pieces by: the NBD node and the mirror
 * job on the source, the export on the destination (its name in the NBD
 * URI), the TLS credentials object on both. */
#define VMMIG_NODE "mig-root"
#define VMMIG_EXPORT "root"
#define VMMIG_TLS "mig-tls"
#define VMMIG_PEM_MAX 16384 /* a PEM file of the credentials */

/* A listening socket on this host's underlay address, ephemeral port into
 * *port: the fd, or -errno with e. */
int vmmigio_listen(unsigned *port, struct op_error *e);
/* A socket connected to host:port from the underlay namespace (10 s). */
int vmmigio_connect(const char *host, unsigned port, struct op_error *e);

/* A QMP connection to the VM's command socket. */
int vmmigio_qmp(struct vm *vm, struct qmp **q, struct op_error *e);
/* Run c with args (consumed; may be NULL): 0 (*ret if not NULL) or -errno
 * with QEMU's message in e. */
int vmmigio_cmd(struct qmp *q, const char *c, json_t *args, json_t **ret,
		struct op_error *e);
/* Hand QEMU fd under name (getfd); the agent's copy is closed either way. */
int vmmigio_give_fd(struct qmp *q, const char *name, int fd, struct op_error *e);
/* query-migrate's status ("none" before any), *info its answer (the
 * caller's); NULL if QEMU did not answer. */
const char *vmmigio_status(struct qmp *q, json_t **info);

/* QEMU's tls-creds-x509 object VMMIG_TLS from <vm>/tls-srv (endpoint
 * "server") or <vm>/tls-cli ("client"), verify-peer on. */
int vmmigio_tls_object(struct qmp *q, struct vm *vm, const char *endpoint,
		       struct op_error *e);
/* Drop it from QEMU (q may be NULL) and remove <vm>/<subdir>. */
void vmmigio_tls_drop(struct qmp *q, struct vm *vm, const char *subdir);

/* Is v a PEM text as the credentials have them: a string shorter than
 * VMMIG_PEM_MAX, starting "-----BEGIN ", without a NUL inside? */
int vmmigio_pem_ok(const json_t *v);

/*
 * The client side of credentials another host gave ({ca, cert, key}, each
 * vmmigio_pem_ok, else "invalid") as QEMU's tls-creds-x509 reads them
 * from dir: ca-cert.pem, client-cert.pem, client-key.pem, each 0600, in
 * dir made anew 0700; when vm_user (and the agent is root), dir and files
 * are the VM user's, for a QEMU running as it. 0 or -errno with e; on an
 * error what was written stays: the caller removes dir.
 */
int vmmigio_write_creds(const char *dir, const json_t *creds, int vm_user,
			struct op_error *e);

/*
 * The drives a live migration copies, each QEMU's drive id: "root", then
 * "vol0".. for the spec's volumes (qemu.c). The destination exports each
 * under that name from its NBD server; the source's mirror node and job of
 * a drive are "mig-" + its id (VMMIG_NODE for the root). Their count.
 */
#define VMMIG_DRIVES_MAX (1 + SPEC_VOLUMES_MAX)
unsigned vmmigio_drives(const struct vm *vm, char ids[][8]);

/* Delete the volumes in vm->mig_volumes from this host's pool and forget
 * them (the caller saves the record). */
void vmmigio_drop_volumes(struct vm *vm);

/* At agent start: kill the VM's QEMU (if it has one), remove its
 * directory, its ports, its export, its root volume (if it has one) and
 * the volumes in mig_volumes. */
void vmmigio_remove(struct vm *vm);

#endif
