/*
 * volume.h - per-tenant volumes over the pool: thin extent maps, snapshots
 * and clones sharing extents (copy-on-write on the first write), and the
 * read/write/zero/flush paths the NBD server calls.
 *
 * Volumes live in pool.vol[] (by number) and are changed only through
 * journal records (meta.h), under pool.lock. A volume is freed only when
 * deleted with no users (open NBD connections, scans) and no export naming
 * it; users hold it with volume_get()/volume_put().
 *
 * Each volume's io rwlock is held shared by reads and writes and exclusive
 * by operations that change which extents its map points to for data
 * already written (snapshot, trim/zero, delete), so a write never lands in
 * an extent that was shared or freed after the write looked it up.
 */
#ifndef CLOUDLET_VOLUME_H
#define CLOUDLET_VOLUME_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "pool.h"

#define VOLUME_NAME_MAX 63
#define VOLUME_MAX_SIZE (16ull << 40)

struct volume {
	uint32_t vid;
	char id[17];
	char name[VOLUME_NAME_MAX + 1];
	char tenant[VOLUME_NAME_MAX + 1];
	char origin[VOLUME_NAME_MAX + 1]; /* "" when none */
	char created[32];
	uint64_t size;
	int ncopies; /* 2 mirror, 1 stripe */
	int readonly;
	uint32_t *map; /* extent ids, 0 = hole; nmap entries */
	uint32_t nmap;
	pthread_rwlock_t io;
	int users;    /* pool.lock */
	int exported; /* exports naming it, pool.lock */
	/* Inline scanning hook: called after a successful write. */
};

/* Allocation used by journal replay; volume_free accepts NULL. */
struct volume *volume_alloc(uint64_t size);
int volume_resize_map(struct volume *v, uint64_t size);
void volume_free(struct volume *v);

/* 0 if name is a valid volume/tenant/VM name. */
int volume_name_ok(const char *name);

/* Lookups, pool.lock held. */
struct volume *volume_find(struct pool *p, const char *name);

/* Take / drop a user reference (takes pool.lock). */
struct volume *volume_get(struct pool *p, const char *name);
void volume_put(struct pool *p, struct volume *v);

/*
 * Control operations (take pool.lock; durable when they return 0).
 * Errors: -EINVAL, -EEXIST, -ENOENT, -EBUSY (in use), -EROFS (snapshot),
 * -ENOSPC (volume limit), -EIO (journal). err says why for people.
 */
int volume_create(struct pool *p, const char *name, const char *tenant, uint64_t size,
		  int ncopies, char *err, size_t errlen);
int volume_grow(struct pool *p, const char *name, uint64_t size, char *err, size_t errlen);
int volume_delete(struct pool *p, const char *name, char *err, size_t errlen);
/* A snapshot (readonly) or clone of src named dst; tenant NULL = src's;
 * ncopies 0 = src's. */
int volume_copy(struct pool *p, const char *src, const char *dst, int readonly,
		const char *tenant, int ncopies, char *err, size_t errlen);

/* Data path (the caller holds a user reference). */
int volume_read(struct pool *p, struct volume *v, uint64_t off, uint32_t len, void *buf);
int volume_write(struct pool *p, struct volume *v, uint64_t off, uint32_t len,
		 const void *buf, int fua);
/* Zero a range: whole extents are unmapped unless no_hole. */
int volume_zero(struct pool *p, struct volume *v, uint64_t off, uint64_t len, int no_hole,
		int fua);
/* Make every acknowledged write of every volume durable. */
int volume_flush(struct pool *p);

/* Bytes mapped, and the part of them shared with another volume (pool.lock). */
void volume_usage(struct pool *p, const struct volume *v, uint64_t *allocated,
		  uint64_t *shared);

/* Called after each successful write or zero (inline scanning); may be NULL. */
extern void (*volume_written_hook)(struct pool *p, struct volume *v, uint64_t off,
				   uint64_t len);

#endif
