/*
 * opmigrate.h - the "migrate" operation (api_migrate.c starts it, an ops.c
 * worker runs it): a VM moves from its host to another one, live (QEMU's
 * migration with its disk mirrored) or cold (a stopped VM's disk copied),
 * driving both agents' vm.migrate.* ops (docs/migration.md):
 *
 *   destination chosen (args.host, or placement without the VM's host);
 *   the VM marked migrating there (charged there, and the tenant's networks
 *   sent to it); prepare on the destination, send on the source (its
 *   progress copied into the operation every second), finish on the
 *   destination; the record's host changes; the tenant's networks follow
 *   (the source loses them if it has no VM of the tenant left).
 *
 * A failed or refused step aborts the destination: the VM runs on where it
 * was, its record unchanged.
 */
#ifndef CLOUDLET_OPMIGRATE_H
#define CLOUDLET_OPMIGRATE_H

#include <jansson.h>
#include <stddef.h>

/* 0, or -errno with the reason in err. *extra gets what the operation's
 * timing shows besides its steps ({migration_ms, qemu_downtime_ms}). */
int opmigrate_run(const char *op_id, const char *vm_id, const char *tenant_id,
		  const char *src_host, const json_t *args, json_t **extra, char *err,
		  size_t errlen);

#endif
