/*
 * storage.h - the agent's side of cloudlet-storaged: supervision of the one
 * storage server of this host, and the agent's volume, alert and device
 * operations (docs/agent-protocol.md), validated here and forwarded to the
 * server's control socket (docs/storage-protocol.md).
 *
 * Files, all under <state-dir>/storage/ (mode 0711, root's):
 *   pool/          the pool directory (the server's, mode 0700)
 *   exports/       one NBD socket per VM (mode 0711: QEMU connects, nobody lists)
 *   control.sock   the server's control socket (0600, the server's user)
 *   storaged.pid   the server's pid, written by the agent (re-attach after a restart)
 *   storaged.log   its stdout and stderr
 *   img-*.raw      an image's filesystem while it is imported (then removed)
 *   grow-<vm>.img  FUSE file of a root volume while resize2fs grows it
 *
 * The server runs in its own session as --storage-user (it drops root itself
 * after opening the devices), so it outlives an agent restart like QEMU
 * does; a monitor thread restarts it when it ends. Without at least two
 * --storage-device paths storage is off: every storage operation answers
 * "conflict", "storage is not configured", and VMs cannot have volumes.
 */
#ifndef CLOUDLET_STORAGE_H
#define CLOUDLET_STORAGE_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "operr.h"
#include "spec.h"

#define STORAGE_DEVICES_MAX 16

struct storage_config {
	const char *bin;      /* cloudlet-storaged */
	const char *devices[STORAGE_DEVICES_MAX];
	unsigned n_devices;
	uint64_t device_size; /* a missing device file is created sparse, this big */
	const char *user;     /* the server drops to this user */
	const char *signatures; /* signature directory, or NULL: no scanning */
	const char *state_dir;
};

/* Start (or re-attach to) the server and its monitor thread. Without
 * devices only records that storage is off. 0 or -errno. */
int storage_init(const struct storage_config *cfg);

int storage_enabled(void);

/* How to learn which VMs use a volume ("a, b" into out; their count): a
 * volume in use is not deleted. Set once by the VM table (vm.h), which
 * this module does not import. */
void storage_set_volume_users(int (*fn)(const char *volume, char *out, size_t len));

/*
 * Handle an agent operation if it is a storage one (volume.*, alert.list,
 * device.*, scrub, storage.info): 0 or -errno with e filled, as the other
 * handlers; -ENOSYS when op is not a storage operation.
 */
int storage_dispatch(const char *op, json_t *args, json_t **out, struct op_error *e);

/*
 * Check that every volume of a spec exists and belongs to the spec's
 * tenant (the attach rule). 0, or -errno with e filled ("invalid" for a volume that
 * does not exist or belongs to another tenant: both look the same).
 */
int storage_check_volumes(const struct vm_spec *s, struct op_error *e);

/* The export socket of a VM (what QEMU's NBD drives name). */
int storage_export_socket(const char *vm_id, char *out, size_t len);

/*
 * Before spawning QEMU: (re)create the VM's export of the spec's volumes
 * for the spec's tenant (an old export of this VM is replaced). After the fork:
 * storage_export_bind with QEMU's pid, before QEMU's NBD client connects
 * (the server waits up to 5 s for the bind).
 */
int storage_export_create(const char *vm_id, const struct vm_spec *s, const char *root,
			  struct op_error *e);
int storage_export_bind(const char *vm_id, pid_t pid, struct op_error *e);
/* Remove a VM's export (no error when there is none). */
void storage_export_delete(const char *vm_id);

/*
 * Root disks as volumes (docs/storage.md). Each image is imported once,
 * keyed by its id from image.json: its ext4 root filesystem (disk.c) is
 * copied over NBD into a volume "img-<first 16 hex digits of the id>",
 * owned by STORAGE_PLATFORM_TENANT, and snapshotted read-only as
 * "img-<..>.base". A VM's root is a clone of that snapshot, "root-<vm id>",
 * owned by the VM's tenant (or the platform's when it has none), grown to
 * disk_gib with its filesystem. Imports run one at a time.
 *
 * The platform tenant starts with '_', which no control-plane tenant id
 * can (they are a-z 0-9 -), so no customer ever owns the bases.
 */
#define STORAGE_PLATFORM_TENANT "_platform"

/* "root-<vm id>" into out. */
void storage_root_name(const char *vm_id, char *out, size_t len);

/* The tenant that owns (or will own) the root volume of a VM with spec s. */
const char *storage_root_tenant(const struct vm_spec *s);

/*
 * Make the VM's root volume if it does not exist (importing the image
 * first if needed), then grow it and its ext4 filesystem to size_gib if it
 * is smaller (the VM must be stopped). done_gib is the size the last
 * successful call reached (0: none): a filesystem behind its volume is
 * grown again. Shrinking: "invalid". 0 or -errno with e filled.
 */
int storage_root_prepare(const char *vm_id, const struct vm_spec *s, uint64_t size_gib,
			 uint64_t done_gib, struct op_error *e);

/* Delete the VM's root volume (no error when it is gone). */
void storage_root_delete(const char *vm_id);

/*
 * Migrations (volmove.c, docs/migration.md). storage_volume_make creates
 * an empty volume for a VM arriving from another host: "conflict" if a
 * volume of that name exists here (it is never overwritten).
 * storage_volume_drop deletes one (no error when it is gone).
 * storage_free_bytes: the pool's free capacity (pool.info).
 */
int storage_volume_make(const char *tenant, const char *name, uint64_t size,
			const char *redundancy, struct op_error *e);
void storage_volume_drop(const char *name);
int storage_free_bytes(uint64_t *out, struct op_error *e);

#endif
