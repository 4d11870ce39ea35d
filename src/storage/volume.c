/* volume.c - see volume.h */
#define _GNU_SOURCE
#include "volume.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "meta.h"
#include "util.h"

void (*volume_written_hook)(struct pool *p, struct volume *v, uint64_t off, uint64_t len);

static const uint8_t zeros[POOL_EXTENT];

static uint32_t
nextents(uint64_t size)
{
	return (uint32_t)((size + POOL_EXTENT - 1) / POOL_EXTENT);
}

struct volume *
volume_alloc(uint64_t size)
{
	struct volume *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return NULL;
	pthread_rwlock_init(&v->io, NULL);
	if (volume_resize_map(v, size) < 0) {
		free(v);
		return NULL;
	}
	return v;
}

int
volume_resize_map(struct volume *v, uint64_t size)
{
	uint32_t n = nextents(size);
	uint32_t *m;

	if (n > v->nmap || v->map == NULL) {
		m = realloc(v->map, (size_t)(n ? n : 1) * sizeof(*m));
		if (m == NULL)
			return -ENOMEM;
		memset(m + v->nmap, 0, (size_t)(n - v->nmap) * sizeof(*m));
		v->map = m;
		v->nmap = n;
	}
	v->size = size;
	return 0;
}

void
volume_free(struct volume *v)
{
	if (v == NULL)
		return;
	pthread_rwlock_destroy(&v->io);
	free(v->map);
	free(v);
}

int
volume_name_ok(const char *name)
{
	size_t i, n = name ? strlen(name) : 0;

	if (n < 1 || n > VOLUME_NAME_MAX || name[0] == '-' || name[0] == '.')
		return -EINVAL;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return -EINVAL;
	}
	return 0;
}

struct volume *
volume_find(struct pool *p, const char *name)
{
	int i;

	for (i = 0; i < POOL_MAX_VOLUMES; i++)
		if (p->vol[i] && strcmp(p->vol[i]->name, name) == 0)
			return p->vol[i];
	return NULL;
}

struct volume *
volume_get(struct pool *p, const char *name)
{
	struct volume *v;

	pthread_mutex_lock(&p->lock);
	v = volume_find(p, name);
	if (v)
		v->users++;
	pthread_mutex_unlock(&p->lock);
	return v;
}

void
volume_put(struct pool *p, struct volume *v)
{
	if (v == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	v->users--;
	pthread_mutex_unlock(&p->lock);
}

static int
free_vid(struct pool *p, uint32_t *vid)
{
	uint32_t i;

	for (i = 0; i < POOL_MAX_VOLUMES; i++)
		if (p->vol[i] == NULL) {
			*vid = i;
			return 0;
		}
	return -ENOSPC;
}

static int
fill_create(struct pool *p, struct meta_rec *r, const char *name, const char *tenant,
	    uint64_t size, int ncopies, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	if (volume_find(p, name)) {
		snprintf(err, errlen, "a volume named '%s' exists", name);
		return -EEXIST;
	}
	if (free_vid(p, &r->vid) < 0) {
		snprintf(err, errlen, "the pool holds %d volumes already", POOL_MAX_VOLUMES);
		return -ENOSPC;
	}
	r->type = R_VOL_CREATE;
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
	r->size = size;
	r->ncopies = (uint8_t)ncopies;
	util_random_hex(r->id, 8);
	util_rfc3339(r->created, sizeof(r->created));
	return 0;
}

static int
check_size(uint64_t size, char *err, size_t errlen)
{
	if (size < 4096 || size > VOLUME_MAX_SIZE || size % 4096) {
		snprintf(err, errlen, "size must be a multiple of 4096 from 4096 to %llu",
			 (unsigned long long)VOLUME_MAX_SIZE);
		return -EINVAL;
	}
	return 0;
}

/* Log, then make it durable; pool.lock held. */
static int
commit(struct pool *p, struct meta_rec *r, char *err, size_t errlen)
{
	int rc = meta_log(p, r);

	if (rc == 0)
		rc = meta_sync(p);
	if (rc < 0)
		snprintf(err, errlen, "metadata journal: %s", strerror(-rc));
	return rc;
}

int
volume_create(struct pool *p, const char *name, const char *tenant, uint64_t size,
	      int ncopies, char *err, size_t errlen)
{
	struct meta_rec r;
	int rc;

	if (volume_name_ok(name) < 0 || volume_name_ok(tenant) < 0) {
		snprintf(err, errlen, "invalid name or tenant");
		return -EINVAL;
	}
	if ((rc = check_size(size, err, errlen)) < 0)
		return rc;
	pthread_mutex_lock(&p->lock);
	rc = fill_create(p, &r, name, tenant, size, ncopies, err, errlen);
	if (rc == 0)
		rc = commit(p, &r, err, errlen);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int
volume_grow(struct pool *p, const char *name, uint64_t size, char *err, size_t errlen)
{
	struct meta_rec r;
	struct volume *v;
	int rc;

	if ((rc = check_size(size, err, errlen)) < 0)
		return rc;
	v = volume_get(p, name);
	if (v == NULL) {
		snprintf(err, errlen, "no volume '%s'", name);
		return -ENOENT;
	}
	/* Exclusive: the map may move (readers index it unlocked). */
	pthread_rwlock_wrlock(&v->io);
	pthread_mutex_lock(&p->lock);
	rc = -EROFS;
	if (v->readonly) {
		snprintf(err, errlen, "'%s' is a snapshot (read-only)", name);
		goto out;
	}
	rc = -EINVAL;
	if (size < v->size) {
		snprintf(err, errlen, "volumes only grow: '%s' has %llu bytes", name,
			 (unsigned long long)v->size);
		goto out;
	}
	memset(&r, 0, sizeof(r));
	r.type = R_VOL_GROW;
	r.vid = v->vid;
	r.size = size;
	rc = commit(p, &r, err, errlen);
out:
	pthread_mutex_unlock(&p->lock);
	pthread_rwlock_unlock(&v->io);
	volume_put(p, v);
	return rc;
}

int
volume_delete(struct pool *p, const char *name, char *err, size_t errlen)
{
	struct meta_rec r;
	struct volume *v;
	int rc;

	pthread_mutex_lock(&p->lock);
	v = volume_find(p, name);
	rc = -ENOENT;
	if (v == NULL) {
		snprintf(err, errlen, "no volume '%s'", name);
		goto out;
	}
	rc = -EBUSY;
	if (v->exported || v->users) {
		snprintf(err, errlen, "'%s' is %s", name,
			 v->exported ? "named by an export" : "in use (NBD connection or scan)");
		goto out;
	}
	memset(&r, 0, sizeof(r));
	r.type = R_VOL_DELETE;
	r.vid = v->vid;
	rc = commit(p, &r, err, errlen);
	if (rc == 0)
		pool_release_freed(p);
out:
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int
volume_copy(struct pool *p, const char *src, const char *dst, int readonly,
	    const char *tenant, int ncopies, char *err, size_t errlen)
{
	struct meta_rec r;
	struct volume *v;
	int rc;

	if (volume_name_ok(dst) < 0 || (tenant && volume_name_ok(tenant) < 0)) {
		snprintf(err, errlen, "invalid name or tenant");
		return -EINVAL;
	}
	v = volume_get(p, src);
	if (v == NULL) {
		snprintf(err, errlen, "no volume '%s'", src);
		return -ENOENT;
	}
	/* Exclusive: no write is in flight, so the copy is one point in time. */
	pthread_rwlock_wrlock(&v->io);
	pthread_mutex_lock(&p->lock);
	rc = fill_create(p, &r, dst, tenant ? tenant : v->tenant, v->size,
			 ncopies ? ncopies : v->ncopies, err, errlen);
	if (rc == 0) {
		r.type = R_VOL_COPY;
		r.vid2 = v->vid;
		r.readonly = (uint8_t)readonly;
		snprintf(r.origin, sizeof(r.origin), "%s", v->name);
		rc = commit(p, &r, err, errlen);
	}
	pthread_mutex_unlock(&p->lock);
	pthread_rwlock_unlock(&v->io);
	volume_put(p, v);
	return rc;
}

/* Flush the journal and devices, then reuse freed slots. */
int
volume_flush(struct pool *p)
{
	int r = pool_sync_devices(p);

	pthread_mutex_lock(&p->lock);
	if (r == 0)
		r = meta_sync(p);
	if (r == 0 && p->pending_zero)
		r = pool_release_freed(p);
	pthread_mutex_unlock(&p->lock);
	return r;
}

/*
 * The extent to write map[idx] into: allocated on first write (thin),
 * copied on first write when shared. Takes pool.lock; io lock held shared.
 */
static int
writable_extent(struct pool *p, struct volume *v, uint32_t idx, uint32_t *out)
{
	struct meta_rec r;
	uint32_t old, id;
	int rc, tries = 0;

	pthread_mutex_lock(&p->lock);
	old = v->map[idx];
	if (old && p->ext[old].refs == 1) {
		*out = old;
		pthread_mutex_unlock(&p->lock);
		return 0;
	}
	memset(&r, 0, sizeof(r));
	for (;;) {
		rc = pool_alloc_slots(p, v->ncopies, r.dev, r.slot);
		if (rc != -EAGAIN || tries++)
			break;
		/* Freed slots wait for a sync before they are reused. */
		pthread_mutex_unlock(&p->lock);
		volume_flush(p);
		pthread_mutex_lock(&p->lock);
		if (v->map[idx] != old) {
			pthread_mutex_unlock(&p->lock);
			return writable_extent(p, v, idx, out);
		}
	}
	if (rc < 0)
		goto fail;
	id = pool_ext_newid(p);
	rc = -ENOSPC;
	if (id == 0)
		goto unalloc;
	r.ncopies = (uint8_t)v->ncopies;
	pool_slots_fresh(p, v->ncopies, r.dev, r.slot);
	p->ext[id].ncopies = r.ncopies;
	memcpy(p->ext[id].dev, r.dev, sizeof(r.dev));
	memcpy(p->ext[id].slot, r.slot, sizeof(r.slot));
	if (old) {
		rc = pool_ext_copy(p, old, id);
		if (rc < 0)
			goto unalloc;
	}
	r.type = R_EXT_MAP;
	r.vid = v->vid;
	r.idx = idx;
	r.ext = id;
	rc = meta_log(p, &r);
	if (rc < 0)
		goto unalloc;
	*out = id;
	pthread_mutex_unlock(&p->lock);
	return 0;
unalloc:
	/* Give the slots and id back: nothing refers to them. */
	{
		int k;

		for (k = 0; k < v->ncopies; k++) {
			p->dev[r.dev[k]].used[r.slot[k]] = 0;
			p->dev[r.dev[k]].nused--;
		}
		if (id)
			p->freeids[p->nfree++] = id;
	}
fail:
	pthread_mutex_unlock(&p->lock);
	log_warnx("%s: volume %s extent %u: %s", __func__, v->name, idx, strerror(-rc));
	return rc;
}

int
volume_read(struct pool *p, struct volume *v, uint64_t off, uint32_t len, void *buf)
{
	uint8_t *dst = buf;
	int r = 0;

	pthread_rwlock_rdlock(&v->io);
	if (off > v->size || len > v->size - off) {
		r = -EINVAL;
		goto out;
	}
	while (len > 0) {
		uint32_t idx = (uint32_t)(off / POOL_EXTENT), eoff = (uint32_t)(off % POOL_EXTENT);
		uint32_t n = POOL_EXTENT - eoff < len ? POOL_EXTENT - eoff : len;
		uint32_t id = __atomic_load_n(&v->map[idx], __ATOMIC_ACQUIRE);

		if (id == 0)
			memset(dst, 0, n);
		else if ((r = pool_ext_read(p, id, eoff, n, dst)) < 0)
			break;
		dst += n;
		off += n;
		len -= n;
	}
out:
	pthread_rwlock_unlock(&v->io);
	return r;
}

int
volume_write(struct pool *p, struct volume *v, uint64_t off, uint32_t len, const void *buf,
	     int fua)
{
	const uint8_t *src = buf;
	uint64_t start = off, total = len;
	int r = 0;

	pthread_rwlock_rdlock(&v->io);
	if (v->readonly) {
		r = -EPERM;
		goto out;
	}
	if (off > v->size || len > v->size - off) {
		r = -ENOSPC;
		goto out;
	}
	while (len > 0) {
		uint32_t idx = (uint32_t)(off / POOL_EXTENT), eoff = (uint32_t)(off % POOL_EXTENT);
		uint32_t n = POOL_EXTENT - eoff < len ? POOL_EXTENT - eoff : len;
		uint32_t id;

		r = writable_extent(p, v, idx, &id);
		if (r == 0)
			r = pool_ext_write(p, id, eoff, n, src);
		if (r < 0)
			break;
		src += n;
		off += n;
		len -= n;
	}
out:
	pthread_rwlock_unlock(&v->io);
	if (r == 0 && fua)
		r = volume_flush(p);
	if (r == 0 && volume_written_hook)
		volume_written_hook(p, v, start, total);
	return r;
}

int
volume_zero(struct pool *p, struct volume *v, uint64_t off, uint64_t len, int no_hole, int fua)
{
	uint64_t start = off, total = len;
	int r = 0;

	/* Exclusive: whole extents are unmapped under writers' feet otherwise. */
	pthread_rwlock_wrlock(&v->io);
	if (v->readonly) {
		r = -EPERM;
		goto out;
	}
	if (off > v->size || len > v->size - off) {
		r = -ENOSPC;
		goto out;
	}
	while (len > 0) {
		uint32_t idx = (uint32_t)(off / POOL_EXTENT), eoff = (uint32_t)(off % POOL_EXTENT);
		uint32_t n = POOL_EXTENT - eoff < len ? POOL_EXTENT - eoff : (uint32_t)len;
		uint32_t id;

		if (v->map[idx] == 0 && !no_hole) {
			/* Already reads as zeros. */
		} else if (n == POOL_EXTENT && !no_hole) {
			struct meta_rec rec;

			memset(&rec, 0, sizeof(rec));
			rec.type = R_EXT_UNMAP;
			rec.vid = v->vid;
			rec.idx = idx;
			pthread_mutex_lock(&p->lock);
			r = meta_log(p, &rec);
			pthread_mutex_unlock(&p->lock);
		} else {
			r = writable_extent(p, v, idx, &id);
			if (r == 0)
				r = pool_ext_write(p, id, eoff, n, zeros);
		}
		if (r < 0)
			break;
		off += n;
		len -= n;
	}
out:
	pthread_rwlock_unlock(&v->io);
	if (r == 0 && fua)
		r = volume_flush(p);
	if (r == 0 && volume_written_hook)
		volume_written_hook(p, v, start, total);
	return r;
}

void
volume_usage(struct pool *p, const struct volume *v, uint64_t *allocated, uint64_t *shared)
{
	uint32_t i;

	*allocated = *shared = 0;
	for (i = 0; i < v->nmap; i++) {
		if (v->map[i] == 0)
			continue;
		*allocated += POOL_EXTENT;
		if (p->ext[v->map[i]].refs > 1)
			*shared += POOL_EXTENT;
	}
}
