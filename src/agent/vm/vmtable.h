/*
 * vmtable.h - the VM table: every VM of this host as a struct vm, shared by
 * the files of the vm/ subsystem (vm.h is what the rest of the agent sees).
 *
 * Ownership: the table holds one reference to each VM it lists; whoever
 * keeps a pointer past vmt_unlock() holds its own (vmt_ref / vmt_put).
 * Removing a VM unlinks it and drops the table's reference; the struct is
 * freed when the last reference goes, so the supervisor or a waiting
 * operation never touches freed memory.
 *
 * Locking: one mutex, the table lock, guards the list and every field of
 * every struct vm except those a busy VM's operation owns (spec, dir and
 * the provisioning fields, changed only by the operation that set busy).
 * It is a leaf: nothing that takes another module's lock (net, storage,
 * template, nftx) and nothing that waits on another process is called
 * with it held. The other modules' locks may be held when they call into
 * the table (storage's volume-users and template's in-use hooks). Lock
 * order, agent-wide: storage | template | net -> vm table -> (none);
 * net -> nftx.
 *
 * States:  stopped -> running <-> paused -> stopping -> stopped
 *          any running state -> crashed (QEMU ended without being asked)
 */
#ifndef CLOUDLET_VMTABLE_H
#define CLOUDLET_VMTABLE_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "host.h"
#include "operr.h"
#include "qmp.h"
#include "spec.h"

enum vm_state { VM_STOPPED, VM_RUNNING, VM_PAUSED, VM_STOPPING, VM_CRASHED };

struct vmmig; /* an outgoing migration's progress (vmmigrate.c) */

struct vm {
	struct vm *next;
	unsigned refs; /* table lock */
	char id[17];
	char dir[700];
	struct vm_spec spec;
	enum vm_state state;
	char reason[256]; /* why it is stopped/crashed, or "" */
	enum host_accel accel;
	char created_at[32], started_at[32];
	/* What the running QEMU was started with (restart_required if differs). */
	unsigned booted_vcpus;
	uint64_t booted_memory_mib;
	uint64_t booted_disk_gib;
	char booted_volumes[SPEC_VOLUMES_MAX * (SPEC_NAME_MAX + 1)]; /* "a,b" */
	/* Process supervision. */
	pid_t pid;
	int pidfd;    /* -1 when not running */
	int is_child; /* we can read its exit status */
	struct qmp *events;
	int stop_requested;
	int shutdown_seen;
	char shutdown_reason[64];
	uint64_t console_off; /* console.log size when this boot started */
	/* Readiness (vmready.h): the guest's line, seen through inotify. */
	int ready;
	char ready_error[256];  /* the guest said it will not get ready: why */
	int ready_wd;           /* inotify watch on console.log, or -1 */
	uint64_t ready_scanned; /* console.log read up to here for this boot */
	int busy;
	/* Provisioning: "cold" (booted from its own disk) or "clone" (restored
	 * from a template: its disk is a qcow2 overlay of the template's). */
	char provision[8];
	char root_format[8]; /* "raw", "qcow2" or "volume" */
	uint64_t root_gib;   /* size of the root disk as made */
	char tpl_dir[700];   /* template (clones) */
	char tpl_ram[700];
	int clone_pending;     /* next start restores the template */
	uint64_t last_boot_ms; /* spawn to QMP attach (and restore), measured */
	int booted_ram0;       /* this boot's RAM is the backend ram0 (a restore) */
	/* Migration (vmmigrate.h): "" or "incoming" (prepared here, not
	 * finished: the migration owns it, busy stays set) or "outgoing" (a
	 * send runs). Recorded, so an agent restart resolves it. */
	char migration[12];
	int mig_live;        /* incoming: a live migration (else cold) */
	int mig_ready;       /* incoming: the guest was ready on the source */
	pid_t mig_nbd_pid;   /* incoming, cold: the qemu-nbd serving the root */
	/* The attached volumes the migration moves ("a,b"): incoming, those
	 * prepare created here (an abort deletes them); outgoing, those to
	 * delete here once QEMU reported the migration completed. */
	char mig_volumes[SPEC_VOLUMES_MAX * (SPEC_NAME_MAX + 1)];
	struct vmmig *mig;   /* outgoing: progress and cancel (table lock) */
};

/* The configuration (set by vm_init before anything else runs). */
extern const struct agent_config *vmt_cfg;

void vmt_init(void);
void vmt_lock(void);
void vmt_unlock(void);

/* Wake everyone waiting for a VM's change (lock held). */
void vmt_broadcast(void);
/* Wait (lock held) for a broadcast until the monotonic deadline (ms):
 * 0, or -ETIMEDOUT once the deadline passed. */
int vmt_wait_until(uint64_t deadline_ms);

/* Lock held for all of these. */
struct vm *vmt_find(const char *name);   /* by name; NULL if none */
struct vm *vmt_first(void);             /* iteration: ->next */
void vmt_add(struct vm *vm);             /* the table takes the caller's reference */
void vmt_remove(struct vm *vm);          /* unlink and drop the table's reference */
void vmt_ref(struct vm *vm);
void vmt_put(struct vm *vm); /* frees at zero (lock held) */

/* A new VM with one reference (the caller's), not in the table. */
struct vm *vmt_new(void);

/*
 * Look a VM up by name and mark it busy (an operation owns it), with a
 * reference for the caller; NULL with e filled ("not_found", or
 * "conflict" when another operation has it). Takes and drops the lock.
 */
struct vm *vmt_claim(const char *name, struct op_error *e);
/* The operation ends: not busy, the view into *out (may be NULL), the
 * caller's reference dropped. */
void vmt_release(struct vm *vm, json_t **out);

/* What a spec may ask of this host (its CPUs, its memory less the reserve,
 * the image catalog). */
void vmt_limits(struct spec_limits *lim);

const char *vmt_state_name(enum vm_state s);
int vmt_state_parse(const char *s, enum vm_state *out);
void vmt_path(const struct vm *vm, const char *file, char *out, size_t len);
/* Its root disk is a volume in the pool (storage.h), not a file. */
int vmt_is_volume_root(const struct vm *vm);
/* The spec's volumes as one string "a,b" (what booted_volumes records). */
void vmt_volumes_joined(const struct vm_spec *s, char *out, size_t len);
/* The JSON view of a VM (docs/agent-protocol.md; lock held). */
json_t *vmt_view(struct vm *vm);

#endif
