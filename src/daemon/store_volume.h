/*
 * store_volume.h - cloudletd's volumes (a tenant's virtual disks in the
 * host's storage pool) and the storage alerts pulled from the host.
 *
 * A volume's id ("v-" + 16 hex) is also its name in the host's pool, so
 * tenants' names never clash there; the tenant's name for it is unique per
 * tenant. A tenant's disk quota (max_disk_gib) counts its VMs' disks plus
 * its volumes (snapshots and clones included, at their size).
 *
 * Same conventions as store.h: 0 or -errno; -ENOENT also for another
 * tenant's volume (tenant_id NULL = the operator: any tenant); -EEXIST for
 * a name taken; -EDQUOT for the quota; -EBUSY for an attached volume.
 */
#ifndef CLOUDLET_STORE_VOLUME_H
#define CLOUDLET_STORE_VOLUME_H

#include <jansson.h>
#include <stdint.h>

#include "store.h"

#define VOLUMES_PER_VM_MAX 8 /* the agent's SPEC_VOLUMES_MAX */

struct volume_row {
	char id[STORE_ID_LEN];
	char tenant_id[STORE_ID_LEN];
	char name[64];
	int64_t size_gib;
	char redundancy[8];   /* mirror | stripe */
	char origin[STORE_ID_LEN]; /* snapshots and clones: the source's id, else "" */
	int readonly;         /* snapshots */
	char host_id[STORE_ID_LEN]; /* the host whose pool holds it */
};

/* Insert in state "creating" after the name and quota checks (one
 * transaction). The caller makes it on the host, then sets "ready" or
 * deletes the record. */
int store_volume_create(const struct volume_row *v);
int store_volume_set_state(const char *id, const char *state);
int store_volume_get(const char *tenant_id, const char *id, json_t **out);
json_t *store_volume_list(const char *tenant_id);
int store_volume_delete(const char *id);
/* A larger size, checked against the quota (-EINVAL if not larger). */
int store_volume_resize(const char *id, int64_t size_gib);
/* Undo a resize the host refused (no checks). */
int store_volume_set_size(const char *id, int64_t size_gib);
/*
 * Attach to vm_id (NULL: detach). Attaching an attached volume is -EBUSY;
 * a VM that has VOLUMES_PER_VM_MAX already is -E2BIG.
 */
int store_volume_attach(const char *id, const char *vm_id);
/* The ids of the volumes attached to a VM, oldest first (array). */
json_t *store_volume_of_vm(const char *vm_id);

/* The host whose pool holds the volume ("" if no such volume). */
int store_volume_host(const char *id, char *host, size_t len);

/* Alerts. seq is the host's (it only grows); a known (host, seq) is
 * ignored. Each gets the control plane's own number (its "seq" in views). */
int store_alert_add(const char *host_id, int64_t seq, const char *tenant_id,
		    const char *volume_id, const json_t *alert);
int64_t store_alert_last(const char *host_id); /* its highest seq stored, 0 if none */
/* Newest first, at most limit; tenant_id NULL = all (with host_id). */
json_t *store_alert_list(const char *tenant_id, const char *volume_id, int64_t limit);

#endif
