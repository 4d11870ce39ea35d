/* pool.c - see pool.h */
#define _GNU_SOURCE
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csum.h"
#include "log.h"

#define SB_MAGIC   "CLDSTOR1"
#define SB_VERSION 1
#define CRC_PER_PAGE (POOL_BLOCK / 4)

/* The superblock, in host byte order (x86-64: little endian). */
struct sb {
	char magic[8];
	uint32_t version;
	uint32_t index;
	uint8_t uuid[16];
	uint64_t gen;
	uint64_t size;
	uint32_t nslots;
	uint32_t pad;
	uint64_t crc_off;
	uint64_t data_off;
	uint32_t crc;
	uint32_t pad2;
};

static uint32_t zero_crc;
static pthread_key_t tls_key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
once_init(void)
{
	static const uint8_t zero[POOL_BLOCK];

	zero_crc = csum_crc32c(0, zero, sizeof(zero));
	pthread_key_create(&tls_key, free);
}

uint32_t
pool_zero_crc(void)
{
	pthread_once(&once, once_init);
	return zero_crc;
}

/* A 1 MiB buffer per thread, freed when the thread ends. */
static uint8_t *
tls_buf(void)
{
	uint8_t *b = pthread_getspecific(tls_key);

	if (b == NULL) {
		b = aligned_alloc(POOL_BLOCK, POOL_EXTENT);
		if (b != NULL)
			pthread_setspecific(tls_key, b);
	}
	return b;
}

int
pool_layout(uint64_t size, uint32_t *nslots, uint64_t *crc_off, uint64_t *data_off)
{
	uint64_t n, crcbytes, doff;

	if (size < 4 * (uint64_t)POOL_EXTENT)
		return -ENOSPC;
	n = (size - POOL_EXTENT) / (POOL_EXTENT + POOL_BPE * 4);
	for (;;) {
		crcbytes = n * POOL_BPE * 4;
		doff = POOL_EXTENT + ((crcbytes + POOL_EXTENT - 1) & ~(uint64_t)(POOL_EXTENT - 1));
		if (doff + n * POOL_EXTENT <= size || n == 0)
			break;
		n--;
	}
	if (n == 0)
		return -ENOSPC;
	if (n > POOL_MAX_EXTENTS)
		n = POOL_MAX_EXTENTS;
	*nslots = (uint32_t)n;
	*crc_off = POOL_BLOCK;
	*data_off = doff;
	return 0;
}

int
pool_init(struct pool *p, const char *dir)
{
	int i;

	pthread_once(&once, once_init);
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	for (i = 0; i < POOL_STRIPES; i++)
		pthread_mutex_init(&p->stripe[i], NULL);
	for (i = 0; i < POOL_MAX_DEVICES; i++) {
		p->dev[i].fd = -1;
		pthread_mutex_init(&p->dev[i].wlock, NULL);
	}
	if (strlen(dir) >= sizeof(p->dir))
		return -ENAMETOOLONG;
	memcpy(p->dir, dir, strlen(dir) + 1);
	p->next = 1;
	return pool_ext_reserve(p, 1024);
}

void
pool_fini(struct pool *p)
{
	int i;

	for (i = 0; i < p->ndev; i++) {
		struct pool_dev *d = &p->dev[i];

		if (d->fd >= 0)
			close(d->fd);
		free(d->used);
		free(d->crc);
		free(d->crc_dirty);
	}
	free(p->ext);
	free(p->freeids);
}

static int
dev_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
	return -ENOTBLK;
}

int
pool_dev_open(struct pool *p, int idx, const char *path, uint32_t nslots)
{
	struct pool_dev *d = &p->dev[idx];
	uint64_t size = 0, doff, coff;
	uint32_t n;
	int fd = -1, r;

	if (strlen(path) >= sizeof(d->path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = dev_size(fd, &size);
	if (r < 0)
		goto out;
	r = pool_layout(size, &n, &coff, &doff);
	if (r < 0)
		goto out;
	if (nslots) {
		/* An existing device keeps the layout it was formatted with. */
		uint64_t crcbytes = (uint64_t)nslots * POOL_BPE * 4;

		doff = POOL_EXTENT + ((crcbytes + POOL_EXTENT - 1) & ~(uint64_t)(POOL_EXTENT - 1));
		n = nslots;
	}
	if (d->used == NULL) {
		r = pool_dev_tables(p, idx, n);
		if (r < 0)
			goto out;
	}
	memcpy(d->path, path, strlen(path) + 1); /* length checked above */
	d->fd = fd;
	fd = -1;
	d->size = size;
	d->nslots = n;
	d->crc_off = coff;
	d->data_off = doff;
	atomic_store(&d->state, DEV_OK);
	if (idx >= p->ndev)
		p->ndev = idx + 1;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

int
pool_dev_tables(struct pool *p, int idx, uint32_t nslots)
{
	struct pool_dev *d = &p->dev[idx];
	size_t ncrc = (size_t)nslots * POOL_BPE;

	d->used = calloc(nslots ? nslots : 1, 1);
	d->crc = calloc(ncrc ? ncrc : 1, sizeof(uint32_t));
	d->crc_dirty = calloc(ncrc / CRC_PER_PAGE + 1, 1);
	if (d->used == NULL || d->crc == NULL || d->crc_dirty == NULL) {
		free(d->used);
		free(d->crc);
		free(d->crc_dirty);
		d->used = NULL;
		d->crc = NULL;
		d->crc_dirty = NULL;
		return -ENOMEM;
	}
	d->nslots = nslots;
	d->nused = 0;
	return 0;
}

static void
sb_fill(struct pool *p, int idx, uint64_t gen, struct sb *s)
{
	struct pool_dev *d = &p->dev[idx];

	memset(s, 0, sizeof(*s));
	memcpy(s->magic, SB_MAGIC, 8);
	s->version = SB_VERSION;
	s->index = (uint32_t)idx;
	memcpy(s->uuid, p->uuid, 16);
	s->gen = gen;
	s->size = d->size;
	s->nslots = d->nslots;
	s->crc_off = d->crc_off;
	s->data_off = d->data_off;
	s->crc = csum_crc32c(0, s, sizeof(*s));
}

int
pool_dev_write_sb(struct pool *p, int idx, uint64_t gen)
{
	uint8_t blk[POOL_BLOCK];
	struct sb s;
	int fd = p->dev[idx].fd;

	memset(blk, 0, sizeof(blk));
	sb_fill(p, idx, gen, &s);
	memcpy(blk, &s, sizeof(s));
	if (pwrite(fd, blk, sizeof(blk), 0) != (ssize_t)sizeof(blk))
		return errno ? -errno : -EIO;
	return fdatasync(fd) < 0 ? -errno : 0;
}

int
pool_dev_check_sb(struct pool *p, int idx, char *err, size_t errlen)
{
	struct pool_dev *d = &p->dev[idx];
	struct sb s;
	uint32_t crc;
	ssize_t n;

	n = pread(d->fd, &s, sizeof(s), 0);
	if (n != (ssize_t)sizeof(s)) {
		snprintf(err, errlen, "superblock unreadable (%s)",
			 n < 0 ? strerror(errno) : "short read: device truncated?");
		return -EIO;
	}
	crc = s.crc;
	s.crc = 0;
	if (memcmp(s.magic, SB_MAGIC, 8) != 0 || csum_crc32c(0, &s, sizeof(s)) != crc) {
		snprintf(err, errlen, "no valid superblock");
		return -EINVAL;
	}
	if (memcmp(s.uuid, p->uuid, 16) != 0 || s.index != (uint32_t)idx) {
		snprintf(err, errlen, "superblock of another pool or device index (%u)", s.index);
		return -EINVAL;
	}
	if (s.nslots != d->nslots || s.data_off != d->data_off) {
		snprintf(err, errlen, "superblock layout differs from the pool's");
		return -EINVAL;
	}
	return 0;
}

int
pool_dev_load_crc(struct pool *p, int idx)
{
	struct pool_dev *d = &p->dev[idx];
	size_t len = (size_t)d->nslots * POOL_BPE * 4, off = 0;

	while (off < len) {
		ssize_t n = pread(d->fd, (uint8_t *)d->crc + off, len - off,
				  (off_t)(d->crc_off + off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (size_t)n;
	}
	return 0;
}

/* Zero len bytes at off of a device: hole punch, zero range, or writes. */
static int
zero_range(int fd, uint64_t off, uint64_t len)
{
	static const uint8_t zero[POOL_EXTENT];
	uint64_t range[2] = {off, len};

	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	if (fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	if (ioctl(fd, BLKZEROOUT, range) == 0)
		return 0;
	while (len > 0) {
		size_t n = len < sizeof(zero) ? (size_t)len : sizeof(zero);
		ssize_t w = pwrite(fd, zero, n, (off_t)off);

		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

static void
crc_set_slot(struct pool_dev *d, uint32_t slot, uint32_t crc)
{
	size_t i, base = (size_t)slot * POOL_BPE;

	for (i = 0; i < POOL_BPE; i++)
		d->crc[base + i] = crc;
	for (i = base / CRC_PER_PAGE; i <= (base + POOL_BPE - 1) / CRC_PER_PAGE; i++)
		atomic_store(&d->crc_dirty[i], 1);
}

int
pool_dev_zero_all(struct pool *p, int idx)
{
	struct pool_dev *d = &p->dev[idx];
	uint32_t s;
	int r;

	r = zero_range(d->fd, d->data_off, (uint64_t)d->nslots * POOL_EXTENT);
	if (r < 0)
		return r;
	for (s = 0; s < d->nslots; s++)
		crc_set_slot(d, s, pool_zero_crc());
	return 0;
}

void
pool_dev_fail(struct pool *p, int idx, const char *why)
{
	struct pool_dev *d = &p->dev[idx];
	int old = atomic_exchange(&d->state, DEV_FAILED);

	if (old == DEV_FAILED)
		return;
	snprintf(d->reason, sizeof(d->reason), "%s", why);
	log_warnx("device %d (%s) failed: %s", idx, d->path, why);
	if (p->on_fail)
		p->on_fail(p, idx);
}

int
pool_ext_reserve(struct pool *p, uint32_t id)
{
	uint32_t cap = p->cap ? p->cap : 1024;
	struct pool_extent *e;
	uint32_t *f;

	if (id < p->cap)
		return 0;
	if (id >= POOL_MAX_EXTENTS)
		return -ENOSPC;
	while (cap <= id)
		cap *= 2;
	e = realloc(p->ext, (size_t)cap * sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	memset(e + p->cap, 0, (size_t)(cap - p->cap) * sizeof(*e));
	p->ext = e;
	f = realloc(p->freeids, (size_t)cap * sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	p->freeids = f;
	p->cap = cap;
	return 0;
}

uint32_t
pool_ext_newid(struct pool *p)
{
	while (p->nfree > 0) {
		uint32_t id = p->freeids[--p->nfree];

		if (p->ext[id].refs == 0)
			return id;
	}
	/* The table never grows once I/O runs (readers use it unlocked):
	 * pool_ext_reserve() sized it for every slot of the pool. */
	if (p->next >= p->cap)
		return 0;
	return p->next++;
}

void
pool_ext_ref(struct pool *p, uint32_t id)
{
	p->ext[id].refs++;
}

void
pool_slot_mark(struct pool *p, int dev, uint32_t slot)
{
	struct pool_dev *d = &p->dev[dev];

	if (dev >= p->ndev || slot >= d->nslots)
		return;
	if (d->used[slot] == 0)
		d->nused++;
	d->used[slot] = 1;
}

void
pool_ext_unref(struct pool *p, uint32_t id)
{
	struct pool_extent *e = &p->ext[id];
	int c;

	if (e->refs == 0)
		return;
	if (--e->refs > 0)
		return;
	for (c = 0; c < e->ncopies; c++) {
		struct pool_dev *d = &p->dev[e->dev[c]];

		if (e->dev[c] < p->ndev && e->slot[c] < d->nslots)
			d->used[e->slot[c]] = 2;
	}
	p->pending_zero = 1;
	p->freeids[p->nfree++] = id;
}

int
pool_release_freed(struct pool *p)
{
	int i, r = 0;
	uint32_t s;

	if (!p->pending_zero)
		return 0;
	for (i = 0; i < p->ndev; i++) {
		struct pool_dev *d = &p->dev[i];
		int usable = atomic_load(&d->state) != DEV_FAILED;

		for (s = 0; s < d->nslots; s++) {
			if (d->used[s] != 2)
				continue;
			if (usable && zero_range(d->fd, d->data_off + (uint64_t)s * POOL_EXTENT,
						 POOL_EXTENT) < 0) {
				pool_dev_fail(p, i, "cannot zero a freed extent");
				usable = 0;
			}
			crc_set_slot(d, s, pool_zero_crc());
		}
	}
	r = pool_sync_devices(p);
	for (i = 0; i < p->ndev; i++) {
		struct pool_dev *d = &p->dev[i];

		for (s = 0; s < d->nslots; s++) {
			if (d->used[s] == 2) {
				d->used[s] = 0;
				d->nused--;
			}
		}
	}
	p->pending_zero = 0;
	return r;
}

static uint32_t
free_slots(const struct pool_dev *d)
{
	return d->nslots - d->nused;
}

static int
find_slot(struct pool_dev *d, uint32_t *slot)
{
	uint32_t i, s;

	for (i = 0; i < d->nslots; i++) {
		s = (d->hint + i) % d->nslots;
		if (d->used[s] == 0) {
			*slot = s;
			d->hint = s + 1;
			return 0;
		}
	}
	return -ENOSPC;
}

int
pool_alloc_slots(struct pool *p, int ncopies, uint8_t dev[2], uint32_t slot[2])
{
	int pick[2] = {-1, -1}, k, i, n = p->ndev;
	unsigned rr = p->alloc_rr++;

	/* Healthy (or rebuilding) devices with the most free slots first;
	 * ties go round-robin so stripes spread. */
	for (k = 0; k < ncopies; k++) {
		for (i = 0; i < n; i++) {
			int j = (int)((i + rr) % (unsigned)n);
			struct pool_dev *d = &p->dev[j];

			if (j == pick[0] || atomic_load(&d->state) == DEV_FAILED ||
			    free_slots(d) == 0)
				continue;
			if (pick[k] < 0 || free_slots(d) > free_slots(&p->dev[pick[k]]))
				pick[k] = j;
		}
	}
	if (pick[0] < 0)
		return p->pending_zero ? -EAGAIN : -ENOSPC;
	if (ncopies == 2 && pick[1] < 0) {
		/* Degraded: the second copy goes to a failed device's slot, so
		 * that replacing that device restores it. */
		for (i = 0; i < n; i++)
			if (i != pick[0] && free_slots(&p->dev[i]) > 0)
				pick[1] = i;
		if (pick[1] < 0)
			return p->pending_zero ? -EAGAIN : -ENOSPC;
	}
	for (k = 0; k < ncopies; k++) {
		dev[k] = (uint8_t)pick[k];
		if (find_slot(&p->dev[pick[k]], &slot[k]) < 0)
			return -ENOSPC;
		pool_slot_mark(p, pick[k], slot[k]);
	}
	return 0;
}

void
pool_slots_fresh(struct pool *p, int ncopies, const uint8_t dev[2], const uint32_t slot[2])
{
	int k;

	for (k = 0; k < ncopies; k++)
		crc_set_slot(&p->dev[dev[k]], slot[k], pool_zero_crc());
}

/* Full pread/pwrite of a device range; errors fail the device. */
static int
dev_io(struct pool *p, int idx, int write, void *buf, size_t len, uint64_t off)
{
	struct pool_dev *d = &p->dev[idx];
	size_t done = 0;

	while (done < len) {
		ssize_t n = write ? pwrite(d->fd, (uint8_t *)buf + done, len - done,
					   (off_t)(off + done))
				  : pread(d->fd, (uint8_t *)buf + done, len - done,
					  (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			char why[120];

			snprintf(why, sizeof(why), "%s error at offset %llu: %s",
				 write ? "write" : "read", (unsigned long long)(off + done),
				 n < 0 ? strerror(errno) : "short read (device truncated?)");
			if (write)
				atomic_fetch_add(&d->write_errors, 1);
			else
				atomic_fetch_add(&d->read_errors, 1);
			pool_dev_fail(p, idx, why);
			return -EIO;
		}
		done += (size_t)n;
	}
	return 0;
}

static uint64_t
slot_off(const struct pool_dev *d, uint32_t slot)
{
	return d->data_off + (uint64_t)slot * POOL_EXTENT;
}

static void
crc_store(struct pool_dev *d, uint32_t slot, uint32_t b, uint32_t crc)
{
	size_t i = (size_t)slot * POOL_BPE + b;

	d->crc[i] = crc;
	atomic_store(&d->crc_dirty[i / CRC_PER_PAGE], 1);
}

/*
 * Read blocks [b0, b0 + nb) of extent e into dst (stripe lock held),
 * verifying every block; a bad block is taken from another copy and
 * rewritten in place.
 */
static int
read_blocks(struct pool *p, uint32_t id, uint32_t b0, uint32_t nb, uint8_t *dst)
{
	struct pool_extent e = p->ext[id];
	int k, c, start = (int)(id % (e.ncopies ? e.ncopies : 1));
	uint32_t i;

	for (k = 0; k < e.ncopies; k++) {
		struct pool_dev *d;
		int bad = 0;

		c = (start + k) % e.ncopies;
		d = &p->dev[e.dev[c]];
		if (atomic_load(&d->state) != DEV_OK)
			continue;
		if (dev_io(p, e.dev[c], 0, dst, (size_t)nb * POOL_BLOCK,
			   slot_off(d, e.slot[c]) + (uint64_t)b0 * POOL_BLOCK) < 0)
			continue;
		for (i = 0; i < nb; i++) {
			uint8_t *blk = dst + (size_t)i * POOL_BLOCK;
			uint32_t want = d->crc[(size_t)e.slot[c] * POOL_BPE + b0 + i];
			int o, fixed = 0;

			if (csum_crc32c(0, blk, POOL_BLOCK) == want)
				continue;
			atomic_fetch_add(&d->checksum_errors, 1);
			for (o = 0; o < e.ncopies && !fixed; o++) {
				struct pool_dev *od = &p->dev[e.dev[o]];
				uint32_t ocrc;

				if (o == c || atomic_load(&od->state) != DEV_OK)
					continue;
				ocrc = od->crc[(size_t)e.slot[o] * POOL_BPE + b0 + i];
				if (dev_io(p, e.dev[o], 0, blk, POOL_BLOCK,
					   slot_off(od, e.slot[o]) +
						   (uint64_t)(b0 + i) * POOL_BLOCK) < 0 ||
				    csum_crc32c(0, blk, POOL_BLOCK) != ocrc)
					continue;
				fixed = 1;
				if (dev_io(p, e.dev[c], 1, blk, POOL_BLOCK,
					   slot_off(d, e.slot[c]) +
						   (uint64_t)(b0 + i) * POOL_BLOCK) == 0)
					crc_store(d, e.slot[c], b0 + i, ocrc);
			}
			if (p->on_cksum)
				p->on_cksum(p, e.dev[c], id, b0 + i, fixed);
			if (!fixed)
				bad = 1;
			if (atomic_load(&d->checksum_errors) > POOL_CKSUM_FAIL_LIMIT)
				pool_dev_fail(p, e.dev[c], "too many checksum errors");
		}
		return bad ? -EIO : 0;
	}
	return -EIO;
}

static pthread_mutex_t *
stripe(struct pool *p, uint32_t id)
{
	return &p->stripe[id % POOL_STRIPES];
}

int
pool_ext_read(struct pool *p, uint32_t id, uint32_t off, uint32_t len, void *buf)
{
	uint32_t b0 = off / POOL_BLOCK, b1 = (off + len + POOL_BLOCK - 1) / POOL_BLOCK;
	int aligned = off % POOL_BLOCK == 0 && len % POOL_BLOCK == 0;
	uint8_t *tmp = aligned ? buf : tls_buf();
	int r;

	if (tmp == NULL)
		return -ENOMEM;
	pthread_mutex_lock(stripe(p, id));
	r = read_blocks(p, id, b0, b1 - b0, tmp);
	pthread_mutex_unlock(stripe(p, id));
	if (r == 0 && !aligned)
		memcpy(buf, tmp + off % POOL_BLOCK, len);
	return r;
}

/*
 * Write whole blocks [b0, b0 + nb) from src to every writable copy. With
 * several writers at once (NBD workers), a mirrored write takes whichever
 * of its two devices is free first, so both devices stay busy.
 */
static int
write_blocks(struct pool *p, uint32_t id, uint32_t b0, uint32_t nb, const uint8_t *src)
{
	struct pool_extent e = p->ext[id];
	uint32_t crcs[POOL_BPE], i;
	int c, written = 0, left = 0, done[2] = {1, 1};

	for (i = 0; i < nb; i++)
		crcs[i] = csum_crc32c(0, src + (size_t)i * POOL_BLOCK, POOL_BLOCK);
	for (c = 0; c < e.ncopies; c++) {
		if (atomic_load(&p->dev[e.dev[c]].state) == DEV_FAILED)
			continue;
		done[c] = 0;
		left++;
	}
	while (left > 0) {
		struct pool_dev *d;

		for (c = 0; c < e.ncopies; c++)
			if (!done[c] && pthread_mutex_trylock(&p->dev[e.dev[c]].wlock) == 0)
				break;
		if (c == e.ncopies) {
			for (c = 0; done[c]; c++)
				;
			pthread_mutex_lock(&p->dev[e.dev[c]].wlock);
		}
		d = &p->dev[e.dev[c]];
		done[c] = 1;
		left--;
		if (dev_io(p, e.dev[c], 1, (void *)(uintptr_t)src, (size_t)nb * POOL_BLOCK,
			   slot_off(d, e.slot[c]) + (uint64_t)b0 * POOL_BLOCK) < 0) {
			pthread_mutex_unlock(&d->wlock);
			continue;
		}
		pthread_mutex_unlock(&d->wlock);
		for (i = 0; i < nb; i++)
			crc_store(d, e.slot[c], b0 + i, crcs[i]);
		written++;
	}
	return written ? 0 : -EIO;
}

int
pool_ext_write(struct pool *p, uint32_t id, uint32_t off, uint32_t len, const void *buf)
{
	uint32_t b0 = off / POOL_BLOCK, b1 = (off + len + POOL_BLOCK - 1) / POOL_BLOCK;
	uint32_t nb = b1 - b0;
	const uint8_t *src = buf;
	uint8_t *tmp = NULL;
	int r = 0;

	if (len == 0)
		return 0;
	pthread_mutex_lock(stripe(p, id));
	if (off % POOL_BLOCK || len % POOL_BLOCK) {
		/* Read-modify-write of the partial head and tail blocks. */
		tmp = tls_buf();
		if (tmp == NULL) {
			r = -ENOMEM;
			goto out;
		}
		if (off % POOL_BLOCK)
			r = read_blocks(p, id, b0, 1, tmp);
		if (r == 0 && (off + len) % POOL_BLOCK && (nb > 1 || off % POOL_BLOCK == 0))
			r = read_blocks(p, id, b1 - 1, 1, tmp + (size_t)(nb - 1) * POOL_BLOCK);
		if (r < 0)
			goto out;
		memcpy(tmp + off % POOL_BLOCK, buf, len);
		src = tmp;
	}
	r = write_blocks(p, id, b0, nb, src);
out:
	pthread_mutex_unlock(stripe(p, id));
	return r;
}

int
pool_ext_copy(struct pool *p, uint32_t src, uint32_t dst)
{
	uint8_t *buf = aligned_alloc(POOL_BLOCK, POOL_EXTENT);
	int r;

	if (buf == NULL)
		return -ENOMEM;
	pthread_mutex_lock(stripe(p, src));
	r = read_blocks(p, src, 0, POOL_BPE, buf);
	pthread_mutex_unlock(stripe(p, src));
	if (r == 0) {
		pthread_mutex_lock(stripe(p, dst));
		r = write_blocks(p, dst, 0, POOL_BPE, buf);
		pthread_mutex_unlock(stripe(p, dst));
	}
	free(buf);
	return r;
}

int
pool_sync_devices(struct pool *p)
{
	int i, r = 0;

	for (i = 0; i < p->ndev; i++) {
		struct pool_dev *d = &p->dev[i];
		size_t pg, npages = ((size_t)d->nslots * POOL_BPE + CRC_PER_PAGE - 1) / CRC_PER_PAGE;

		if (atomic_load(&d->state) == DEV_FAILED)
			continue;
		for (pg = 0; pg < npages; pg++) {
			size_t first = pg * CRC_PER_PAGE;
			size_t n = (size_t)d->nslots * POOL_BPE - first;

			if (!atomic_exchange(&d->crc_dirty[pg], 0))
				continue;
			if (n > CRC_PER_PAGE)
				n = CRC_PER_PAGE;
			if (dev_io(p, i, 1, d->crc + first, n * 4, d->crc_off + first * 4) < 0)
				break;
		}
		if (atomic_load(&d->state) != DEV_FAILED && fdatasync(d->fd) < 0) {
			atomic_fetch_add(&d->write_errors, 1);
			pool_dev_fail(p, i, "fdatasync failed");
		}
	}
	/* Data is durable if at least one device holds it. */
	for (i = 0; i < p->ndev; i++)
		if (atomic_load(&p->dev[i].state) != DEV_FAILED)
			return r;
	return -EIO;
}

void
pool_space(struct pool *p, uint64_t *total, uint64_t *used)
{
	int i;

	*total = *used = 0;
	for (i = 0; i < p->ndev; i++) {
		if (atomic_load(&p->dev[i].state) == DEV_FAILED)
			continue;
		*total += (uint64_t)p->dev[i].nslots * POOL_EXTENT;
		*used += (uint64_t)p->dev[i].nused * POOL_EXTENT;
	}
}

int
pool_ext_check(struct pool *p, uint32_t id, int flags, struct pool_check_stats *st)
{
	struct pool_extent e = p->ext[id];
	uint8_t *buf[2] = {NULL, NULL};
	int ok[2] = {0, 0}, c, src, r = 0, first_lost = -1, first_fixed = -1, fixed_dev = 0;
	uint32_t b;

	if (e.refs == 0)
		return 0;
	st->extents++;
	pthread_mutex_lock(stripe(p, id));
	for (c = 0; c < e.ncopies; c++) {
		struct pool_dev *d = &p->dev[e.dev[c]];

		buf[c] = aligned_alloc(POOL_BLOCK, POOL_EXTENT);
		if (buf[c] == NULL) {
			r = -ENOMEM;
			goto out;
		}
		ok[c] = atomic_load(&d->state) == DEV_OK &&
			dev_io(p, e.dev[c], 0, buf[c], POOL_EXTENT, slot_off(d, e.slot[c])) == 0;
	}
	for (b = 0; b < POOL_BPE; b++) {
		int good[2] = {0, 0};
		uint32_t crc = 0;

		st->blocks++;
		src = -1;
		for (c = 0; c < e.ncopies; c++) {
			uint32_t want = p->dev[e.dev[c]].crc[(size_t)e.slot[c] * POOL_BPE + b];

			if (!ok[c])
				continue;
			good[c] = csum_crc32c(0, buf[c] + (size_t)b * POOL_BLOCK, POOL_BLOCK) == want;
			if (!good[c]) {
				st->errors++;
				atomic_fetch_add(&p->dev[e.dev[c]].checksum_errors, 1);
			}
			if (good[c] && src < 0) {
				src = c;
				crc = want;
			}
		}
		if (src < 0 && (flags & POOL_CHECK_RECOVER)) {
			for (c = 0; c < e.ncopies && src < 0; c++)
				if (ok[c])
					src = c;
			if (src >= 0) {
				crc = csum_crc32c(0, buf[src] + (size_t)b * POOL_BLOCK, POOL_BLOCK);
				crc_store(&p->dev[e.dev[src]], e.slot[src], b, crc);
				good[src] = 1;
				st->repaired++;
			}
		}
		if (src < 0) {
			st->unrecoverable++;
			if (first_lost < 0)
				first_lost = (int)b;
			continue;
		}
		for (c = 0; c < e.ncopies; c++) {
			struct pool_dev *d = &p->dev[e.dev[c]];
			int state = atomic_load(&d->state);

			if (c == src || good[c] || state == DEV_FAILED)
				continue;
			if (state == DEV_OK && !ok[c])
				continue;
			if (dev_io(p, e.dev[c], 1, buf[src] + (size_t)b * POOL_BLOCK, POOL_BLOCK,
				   slot_off(d, e.slot[c]) + (uint64_t)b * POOL_BLOCK) < 0)
				continue;
			crc_store(d, e.slot[c], b, crc);
			if (state == DEV_OK) {
				st->repaired++;
				if (first_fixed < 0) {
					first_fixed = (int)b;
					fixed_dev = e.dev[c];
				}
			}
		}
	}
	/* One alert per extent, not per block. */
	if (p->on_cksum && first_lost >= 0)
		p->on_cksum(p, e.dev[0], id, (uint32_t)first_lost, 0);
	if (p->on_cksum && first_fixed >= 0 && !(flags & POOL_CHECK_RECOVER))
		p->on_cksum(p, fixed_dev, id, (uint32_t)first_fixed, 1);
out:
	pthread_mutex_unlock(stripe(p, id));
	free(buf[0]);
	free(buf[1]);
	return r;
}
