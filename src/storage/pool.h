/*
 * pool.h - the storage pool: devices, their superblocks, the extent
 * allocator, per-block checksums and the physical reads and writes that
 * verify and repair them.
 *
 * Device layout (docs/storage.md): a 4 KiB superblock at offset 0, then
 * the checksum area (one CRC-32C per 4 KiB block of every slot, 1 KiB per
 * slot), then the data area of 1 MiB slots from data_off.
 *
 * An extent is 1 MiB of volume data with one copy (stripe) or two copies on
 * different devices (mirror); extents are numbered from 1 (0 means a hole)
 * and reference-counted by volume maps (snapshots and clones share them).
 *
 * Locking: pool.lock guards the extent table, slot bitmaps, volume table
 * and journal. Data I/O on an extent holds the extent's stripe mutex, never
 * pool.lock (order: volume io rwlock -> pool.lock -> stripe -> device
 * wlock). Device state
 * is atomic: an I/O path that sees an error marks the device failed at once
 * and leaves the journal record to the repair thread.
 */
#ifndef CLOUDLET_POOL_H
#define CLOUDLET_POOL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define POOL_EXTENT      (1u << 20)
#define POOL_BLOCK       4096u
#define POOL_BPE         (POOL_EXTENT / POOL_BLOCK) /* blocks per extent */
#define POOL_MAX_DEVICES 16
#define POOL_MAX_VOLUMES 4096
#define POOL_MAX_EXTENTS (64u << 20) /* 64 TiB of extents */
#define POOL_STRIPES     1024
#define POOL_PATH_MAX    240 /* device paths (they live in journal records) */
#define POOL_CKSUM_FAIL_LIMIT 64 /* checksum errors that fail a device */

enum pool_dev_state { DEV_OK, DEV_FAILED, DEV_REBUILDING };

struct pool_dev {
	int fd;
	char path[POOL_PATH_MAX];
	uint64_t size;
	uint32_t nslots;
	uint64_t crc_off, data_off;
	atomic_int state;
	char reason[200];
	atomic_int fail_logged; /* the journal knows about the failure */
	uint8_t *used;          /* one byte per slot: 0 free, 1 used, 2 freed not yet zeroed */
	uint32_t nused;
	uint32_t hint;           /* where the next free-slot search starts */
	uint32_t *crc;          /* nslots * POOL_BPE */
	atomic_uchar *crc_dirty; /* one per 4 KiB page of crc */
	atomic_ulong read_errors, write_errors, checksum_errors;
	atomic_uint rebuild_done, rebuild_total;
	/*
	 * Data writes to one device go one at a time: the kernel serializes
	 * buffered writes to a file anyway (inode lock) and its waiters spin,
	 * burning the CPU the other device's writer needs. Ours sleep, or
	 * write their other copy first (write_blocks).
	 */
	pthread_mutex_t wlock;
};

struct pool_extent {
	uint32_t refs;
	uint8_t ncopies;
	uint8_t dev[2];
	uint32_t slot[2];
};

struct volume;
struct meta;

struct pool {
	pthread_mutex_t lock;
	uint8_t uuid[16];
	char dir[PATH_MAX];
	int ndev;
	struct pool_dev dev[POOL_MAX_DEVICES];
	struct pool_extent *ext; /* ext[0] unused */
	uint32_t next;           /* extent ids < next were used once */
	uint32_t cap;
	uint32_t *freeids;
	uint32_t nfree;
	struct volume *vol[POOL_MAX_VOLUMES]; /* by volume number */
	struct meta *meta;
	pthread_mutex_t stripe[POOL_STRIPES];
	int pending_zero; /* slots in state 2 exist */
	int clean_start;
	unsigned alloc_rr;
	/* Hooks (set by repair.c): a device failed; a block was repaired. */
	void (*on_fail)(struct pool *p, int dev);
	void (*on_cksum)(struct pool *p, int dev, uint32_t ext, uint32_t block, int repaired);
};

/* Layout of a device of size bytes: 0 or -ENOSPC when too small. */
int pool_layout(uint64_t size, uint32_t *nslots, uint64_t *crc_off, uint64_t *data_off);

/* Initialise an empty in-memory pool (no devices). */
int pool_init(struct pool *p, const char *dir);
void pool_fini(struct pool *p);

/* Open path as device idx: O_RDWR, size, layout from nslots (0: compute). */
int pool_dev_open(struct pool *p, int idx, const char *path, uint32_t nslots);

/* Allocate device idx's slot and checksum tables (before any open). */
int pool_dev_tables(struct pool *p, int idx, uint32_t nslots);

/* Write device idx's superblock (gen: a generation number). */
int pool_dev_write_sb(struct pool *p, int idx, uint64_t gen);

/* Check device idx's superblock: 0, or -EINVAL with why in err. */
int pool_dev_check_sb(struct pool *p, int idx, char *err, size_t errlen);

/* Load the checksum area of device idx into memory. */
int pool_dev_load_crc(struct pool *p, int idx);

/* Make every block of device idx's data area read as zero (format, replace). */
int pool_dev_zero_all(struct pool *p, int idx);

/* Mark a device failed (idempotent); calls p->on_fail once. */
void pool_dev_fail(struct pool *p, int idx, const char *why);

/* Extent table, pool.lock held. */
int pool_ext_reserve(struct pool *p, uint32_t id); /* grow so that id fits */
uint32_t pool_ext_newid(struct pool *p);             /* 0 when full */
void pool_ext_ref(struct pool *p, uint32_t id);
void pool_ext_unref(struct pool *p, uint32_t id);    /* frees slots at 0 */
void pool_slot_mark(struct pool *p, int dev, uint32_t slot);

/* Choose slots for a new extent of ncopies copies (pool.lock held). */
int pool_alloc_slots(struct pool *p, int ncopies, uint8_t dev[2], uint32_t slot[2]);

/* Prepare freshly allocated slots: zero checksums (their data is zero). */
void pool_slots_fresh(struct pool *p, int ncopies, const uint8_t dev[2],
		      const uint32_t slot[2]);

/* Make freed slots reusable: zero them once the journal is durable. */
int pool_release_freed(struct pool *p);

/*
 * Extent data. off and len within the extent (any alignment); the caller
 * owns the volume's io lock so the extent cannot be freed meanwhile.
 * Reads verify checksums and repair a bad copy from a good one.
 */
int pool_ext_read(struct pool *p, uint32_t id, uint32_t off, uint32_t len, void *buf);
int pool_ext_write(struct pool *p, uint32_t id, uint32_t off, uint32_t len,
		   const void *buf);
/* Copy extent src to the fresh extent dst (copy-on-write). */
int pool_ext_copy(struct pool *p, uint32_t src, uint32_t dst);

/*
 * Verify every block of every readable copy of extent id and repair:
 * a copy whose block does not match its checksum gets the block of a copy
 * that does; copies on a rebuilding device are written from a good copy.
 * POOL_CHECK_RECOVER (after an unclean shutdown): a block no copy matches
 * was being written when the server died; the first readable copy wins and
 * its checksum is recomputed. pool.lock held (the extent stays put).
 */
#define POOL_CHECK_RECOVER 1
struct pool_check_stats {
	uint64_t extents, blocks, errors, repaired, unrecoverable;
};
int pool_ext_check(struct pool *p, uint32_t id, int flags, struct pool_check_stats *st);

/* Write dirty checksum pages and fdatasync every usable device. */
int pool_sync_devices(struct pool *p);

/* Physical slots free on healthy devices, and in total. */
void pool_space(struct pool *p, uint64_t *total, uint64_t *used);

/* A zero block's checksum. */
uint32_t pool_zero_crc(void);

#endif
