/*
 * meta.h - crash-safe metadata: a checkpoint plus a write-ahead journal.
 *
 * <pool-dir>/meta.ckpt is the whole state (devices, extents, volumes) as
 * one JSON line followed by a line "crc32c <hex>", replaced atomically
 * (temp file, fsync, rename, fsync of the directory). <pool-dir>/journal
 * holds fixed-size records (struct meta_rec), each with a CRC-32C and a
 * sequence number, appended in the order they were applied in memory.
 *
 * Opening loads the checkpoint and applies every journal record whose
 * sequence number follows it; the first torn or corrupt record ends the
 * journal (it is truncated there). Records are deterministic state
 * changes, so replay rebuilds exactly the state that was applied, and the
 * journal's order makes any prefix a consistent state: an allocation is
 * never durable without the frees before it. docs/storage.md argues it.
 *
 * meta_log() applies and appends, pool.lock held; meta_sync() makes every
 * record appended so far durable (control operations call it before they
 * answer; FLUSH and FUA call it through volume_flush()).
 */
#ifndef CLOUDLET_META_H
#define CLOUDLET_META_H

#include <stdint.h>

#include "pool.h"

enum meta_type {
	R_VOL_CREATE = 1, /* vid, name, tenant, id, size, ncopies, readonly, origin, created */
	R_VOL_GROW,       /* vid, size */
	R_VOL_DELETE,     /* vid: unreference its extents, forget it */
	R_VOL_COPY,       /* R_VOL_CREATE fields + vid2: share vid2's extents */
	R_EXT_MAP,        /* vid, idx, ext, ncopies, dev, slot: new extent replaces map[idx] */
	R_EXT_UNMAP,      /* vid, idx: map[idx] becomes a hole */
	R_DEV_STATE,      /* idx (device), state, name (reason) */
	R_DEV_REPLACE,    /* idx (device), path: state rebuilding, same layout */
};

#define META_REC_SIZE 1024
#define META_MAGIC    0x434c4a52u /* "CLJR" */

struct meta_rec {
	uint32_t magic;
	uint32_t crc;
	uint64_t seq;
	uint32_t type;
	uint32_t vid;
	uint32_t vid2;
	uint32_t idx;
	uint32_t ext;
	uint8_t ncopies;
	uint8_t readonly;
	uint8_t dev[2];
	uint32_t slot[2];
	int32_t state;
	uint32_t pad;
	uint64_t size;
	char id[17];
	char name[64];
	char tenant[64];
	char origin[64];
	char created[32];
	char path[POOL_PATH_MAX];
	uint8_t reserved[META_REC_SIZE - 68 - 17 - 64 * 3 - 32 - POOL_PATH_MAX];
};

_Static_assert(sizeof(struct meta_rec) == META_REC_SIZE, "journal record size");

/*
 * Open the metadata in p->dir. A pool without a checkpoint is formatted on
 * the devices given (at least 2), else devices come from the checkpoint.
 * *clean is 0 when the last run did not end with meta_close().
 */
int meta_open(struct pool *p, const char *const *devices, int ndevices, int *clean);

/* Apply a record to the in-memory state (replay and live; pool.lock held). */
int meta_apply(struct pool *p, const struct meta_rec *r);

/* Apply and append (pool.lock held). */
int meta_log(struct pool *p, struct meta_rec *r);

/* fdatasync the journal; -EIO if a journal write had failed. */
int meta_sync(struct pool *p);

/* Write a checkpoint and empty the journal (pool.lock held). */
int meta_checkpoint(struct pool *p);

/* Journal size in bytes (to decide on a checkpoint). */
uint64_t meta_journal_size(struct pool *p);

/* Checkpoint, mark the pool clean, close. */
void meta_close(struct pool *p);

#endif
