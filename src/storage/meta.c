/* meta.c - see meta.h */
#define _GNU_SOURCE
#include "meta.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csum.h"
#include "log.h"
#include "util.h"
#include "volume.h"

#define CKPT_MAX (1024u << 20)

struct meta {
	int jfd;
	uint64_t seq;   /* last record applied */
	uint64_t jsize; /* bytes in the journal */
	int broken;     /* a journal write failed: nothing is durable any more */
};

static int
path_in(const struct pool *p, const char *name, char *out, size_t len)
{
	return util_fmt(out, len, "%s/%s", p->dir, name);
}

static uint32_t
rec_crc(const struct meta_rec *r)
{
	struct meta_rec c = *r;

	c.crc = 0;
	return csum_crc32c(0, &c, sizeof(c));
}

static void
copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int
vol_from_rec(struct pool *p, const struct meta_rec *r, struct volume **out)
{
	struct volume *v;

	if (r->vid >= POOL_MAX_VOLUMES || p->vol[r->vid] != NULL ||
	    r->size > VOLUME_MAX_SIZE || (r->ncopies != 1 && r->ncopies != 2))
		return -EINVAL;
	v = volume_alloc(r->size);
	if (v == NULL)
		return -ENOMEM;
	v->vid = r->vid;
	copy_str(v->id, sizeof(v->id), r->id);
	copy_str(v->name, sizeof(v->name), r->name);
	copy_str(v->tenant, sizeof(v->tenant), r->tenant);
	copy_str(v->origin, sizeof(v->origin), r->origin);
	copy_str(v->created, sizeof(v->created), r->created);
	v->ncopies = r->ncopies;
	v->readonly = r->readonly;
	p->vol[r->vid] = v;
	*out = v;
	return 0;
}

int
meta_apply(struct pool *p, const struct meta_rec *r)
{
	struct volume *v = r->vid < POOL_MAX_VOLUMES ? p->vol[r->vid] : NULL;
	struct volume *src;
	uint32_t i, old;
	int k;

	switch (r->type) {
	case R_VOL_CREATE:
		return vol_from_rec(p, r, &v);
	case R_VOL_GROW:
		if (v == NULL || r->size < v->size || r->size > VOLUME_MAX_SIZE)
			return -EINVAL;
		return volume_resize_map(v, r->size);
	case R_VOL_DELETE:
		if (v == NULL)
			return -EINVAL;
		for (i = 0; i < v->nmap; i++)
			if (v->map[i])
				pool_ext_unref(p, v->map[i]);
		p->vol[r->vid] = NULL;
		volume_free(v);
		return 0;
	case R_VOL_COPY:
		src = r->vid2 < POOL_MAX_VOLUMES ? p->vol[r->vid2] : NULL;
		if (src == NULL || r->size != src->size || vol_from_rec(p, r, &v) < 0)
			return -EINVAL;
		for (i = 0; i < v->nmap; i++) {
			v->map[i] = src->map[i];
			if (v->map[i])
				pool_ext_ref(p, v->map[i]);
		}
		return 0;
	case R_EXT_MAP:
		if (v == NULL || r->idx >= v->nmap || r->ext == 0 || r->ext >= p->cap ||
		    p->ext[r->ext].refs != 0 || r->ncopies < 1 || r->ncopies > 2)
			return -EINVAL;
		for (k = 0; k < r->ncopies; k++)
			if (r->dev[k] >= p->ndev || r->slot[k] >= p->dev[r->dev[k]].nslots)
				return -EINVAL;
		p->ext[r->ext].refs = 1;
		p->ext[r->ext].ncopies = r->ncopies;
		for (k = 0; k < r->ncopies; k++) {
			p->ext[r->ext].dev[k] = r->dev[k];
			p->ext[r->ext].slot[k] = r->slot[k];
			pool_slot_mark(p, r->dev[k], r->slot[k]);
		}
		if (r->ext >= p->next)
			p->next = r->ext + 1;
		old = v->map[r->idx];
		v->map[r->idx] = r->ext;
		if (old)
			pool_ext_unref(p, old);
		return 0;
	case R_EXT_UNMAP:
		if (v == NULL || r->idx >= v->nmap)
			return -EINVAL;
		old = v->map[r->idx];
		v->map[r->idx] = 0;
		if (old)
			pool_ext_unref(p, old);
		return 0;
	case R_DEV_STATE:
		if (r->idx >= (uint32_t)p->ndev || r->state < DEV_OK || r->state > DEV_REBUILDING)
			return -EINVAL;
		atomic_store(&p->dev[r->idx].state, r->state);
		copy_str(p->dev[r->idx].reason, sizeof(p->dev[r->idx].reason), r->path);
		return 0;
	case R_DEV_REPLACE:
		if (r->idx >= (uint32_t)p->ndev || memchr(r->path, '\0', sizeof(r->path)) == NULL)
			return -EINVAL;
		copy_str(p->dev[r->idx].path, sizeof(p->dev[r->idx].path), r->path);
		atomic_store(&p->dev[r->idx].state, DEV_REBUILDING);
		p->dev[r->idx].reason[0] = '\0';
		return 0;
	}
	return -EINVAL;
}

int
meta_log(struct pool *p, struct meta_rec *r)
{
	struct meta *m = p->meta;
	ssize_t n;
	int rc;

	if (m->broken)
		return -EIO;
	r->magic = META_MAGIC;
	r->seq = m->seq + 1;
	r->crc = rec_crc(r);
	rc = meta_apply(p, r);
	if (rc < 0) {
		log_warnx("%s: record type %u refused (%s)", __func__, r->type, strerror(-rc));
		return rc;
	}
	m->seq++;
	n = write(m->jfd, r, sizeof(*r));
	if (n != (ssize_t)sizeof(*r)) {
		log_warn("%s: journal write", __func__);
		m->broken = 1;
		return -EIO;
	}
	m->jsize += sizeof(*r);
	return 0;
}

int
meta_sync(struct pool *p)
{
	struct meta *m = p->meta;

	if (m->broken)
		return -EIO;
	if (fdatasync(m->jfd) < 0) {
		log_warn("%s: journal fdatasync", __func__);
		m->broken = 1;
		return -EIO;
	}
	return 0;
}

uint64_t
meta_journal_size(struct pool *p)
{
	return p->meta->jsize;
}

static void
hex(const uint8_t *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static json_t *
ckpt_json(struct pool *p)
{
	json_t *devs = json_array(), *exts = json_array(), *vols = json_array();
	char uuid[33];
	uint32_t i, j;
	int d;

	hex(p->uuid, 16, uuid);
	for (d = 0; d < p->ndev; d++) {
		struct pool_dev *dv = &p->dev[d];

		json_array_append_new(devs, json_pack("{s:s, s:I, s:i, s:s}", "path", dv->path,
						      "nslots", (json_int_t)dv->nslots, "state",
						      atomic_load(&dv->state), "reason",
						      dv->reason));
	}
	for (i = 1; i < p->next; i++) {
		struct pool_extent *e = &p->ext[i];

		if (e->refs == 0)
			continue;
		json_array_append_new(exts, json_pack("[I, I, i, i, I, i, I]", (json_int_t)i,
						      (json_int_t)e->refs, e->ncopies, e->dev[0],
						      (json_int_t)e->slot[0], e->dev[1],
						      (json_int_t)e->slot[1]));
	}
	for (i = 0; i < POOL_MAX_VOLUMES; i++) {
		struct volume *v = p->vol[i];
		json_t *map;

		if (v == NULL)
			continue;
		map = json_array();
		for (j = 0; j < v->nmap; j++)
			if (v->map[j])
				json_array_append_new(map, json_pack("[I, I]", (json_int_t)j,
								     (json_int_t)v->map[j]));
		json_array_append_new(
			vols, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:b, s:o}", "vid",
					(json_int_t)v->vid, "id", v->id, "name", v->name,
					"tenant", v->tenant, "origin", v->origin, "created",
					v->created, "size", (json_int_t)v->size, "ncopies",
					v->ncopies, "readonly", v->readonly, "map", map));
	}
	return json_pack("{s:i, s:I, s:s, s:I, s:o, s:o, s:o}", "version", 1, "seq",
			 (json_int_t)p->meta->seq, "uuid", uuid, "next", (json_int_t)p->next,
			 "devices", devs, "extents", exts, "volumes", vols);
}

int
meta_checkpoint(struct pool *p)
{
	char path[PATH_MAX], *s = NULL, *buf = NULL;
	json_t *j = ckpt_json(p);
	size_t len;
	int r = -ENOMEM;

	if (j == NULL)
		goto out;
	s = json_dumps(j, JSON_COMPACT);
	if (s == NULL)
		goto out;
	len = strlen(s);
	buf = malloc(len + 32);
	if (buf == NULL)
		goto out;
	len = (size_t)snprintf(buf, len + 32, "%s\ncrc32c %08x\n", s, csum_crc32c(0, s, strlen(s)));
	r = path_in(p, "meta.ckpt", path, sizeof(path));
	if (r < 0)
		goto out;
	r = util_write_atomic(path, buf, len, 0600);
	if (r < 0) {
		log_warnx("%s: %s: %s", __func__, path, strerror(-r));
		goto out;
	}
	/* Records up to seq are in the checkpoint now. */
	if (ftruncate(p->meta->jfd, 0) < 0 || fdatasync(p->meta->jfd) < 0) {
		r = -errno;
		goto out;
	}
	p->meta->jsize = 0;
	r = 0;
out:
	free(buf);
	free(s);
	json_decref(j);
	return r;
}

static int
unhex(const char *s, uint8_t *out, size_t n)
{
	size_t i;

	if (strlen(s) != 2 * n)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int
load_ckpt(struct pool *p, const char *text, size_t len, json_t **rest)
{
	const char *nl = memchr(text, '\n', len);
	json_t *j = NULL, *a, *x;
	json_error_t jerr;
	unsigned crc;
	size_t i;
	int r = -EINVAL;

	if (nl == NULL || sscanf(nl + 1, "crc32c %8x", &crc) != 1 ||
	    csum_crc32c(0, text, (size_t)(nl - text)) != crc) {
		log_warnx("meta.ckpt: checksum mismatch");
		return -EINVAL;
	}
	j = json_loadb(text, (size_t)(nl - text), 0, &jerr);
	if (j == NULL)
		return -EINVAL;
	if (unhex(json_string_value(json_object_get(j, "uuid")) ?: "", p->uuid, 16) < 0)
		goto out;
	p->meta->seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
	a = json_object_get(j, "devices");
	if (json_array_size(a) < 1 || json_array_size(a) > POOL_MAX_DEVICES)
		goto out;
	json_array_foreach(a, i, x) {
		struct pool_dev *d = &p->dev[i];
		const char *path = json_string_value(json_object_get(x, "path"));
		const char *reason = json_string_value(json_object_get(x, "reason"));

		if (path == NULL || strlen(path) >= sizeof(d->path))
			goto out;
		memcpy(d->path, path, strlen(path) + 1);
		d->nslots = (uint32_t)json_integer_value(json_object_get(x, "nslots"));
		atomic_store(&d->state, (int)json_integer_value(json_object_get(x, "state")));
		copy_str(d->reason, sizeof(d->reason), reason ? reason : "");
	}
	p->ndev = (int)json_array_size(a);
	p->next = (uint32_t)json_integer_value(json_object_get(j, "next"));
	/* Extents and volumes need the devices' slot tables: load_rest(). */
	json_incref(j);
	*rest = j;
	r = 0;
out:
	json_decref(j);
	return r;
}

/* Second half of the checkpoint, once the devices are sized. */
static int
load_rest(struct pool *p, json_t *j)
{
	json_t *a, *x, *m, *y;
	size_t i, k;

	if (p->next == 0 || p->next > p->cap)
		return -EINVAL;
	a = json_object_get(j, "extents");
	json_array_foreach(a, i, x) {
		json_int_t id = json_integer_value(json_array_get(x, 0));
		struct pool_extent *e;
		int c;

		if (id <= 0 || (uint32_t)id >= p->next)
			return -EINVAL;
		e = &p->ext[id];
		e->refs = (uint32_t)json_integer_value(json_array_get(x, 1));
		e->ncopies = (uint8_t)json_integer_value(json_array_get(x, 2));
		for (c = 0; c < 2; c++) {
			e->dev[c] = (uint8_t)json_integer_value(json_array_get(x, 3 + 2 * c));
			e->slot[c] = (uint32_t)json_integer_value(json_array_get(x, 4 + 2 * c));
		}
		if (e->ncopies < 1 || e->ncopies > 2)
			return -EINVAL;
		for (c = 0; c < e->ncopies; c++) {
			if (e->dev[c] >= p->ndev || e->slot[c] >= p->dev[e->dev[c]].nslots)
				return -EINVAL;
			pool_slot_mark(p, e->dev[c], e->slot[c]);
		}
	}
	a = json_object_get(j, "volumes");
	json_array_foreach(a, i, x) {
		struct meta_rec r;
		struct volume *v;

		memset(&r, 0, sizeof(r));
		r.vid = (uint32_t)json_integer_value(json_object_get(x, "vid"));
		r.size = (uint64_t)json_integer_value(json_object_get(x, "size"));
		r.ncopies = (uint8_t)json_integer_value(json_object_get(x, "ncopies"));
		r.readonly = json_is_true(json_object_get(x, "readonly"));
		copy_str(r.id, sizeof(r.id), json_string_value(json_object_get(x, "id")) ?: "");
		copy_str(r.name, sizeof(r.name), json_string_value(json_object_get(x, "name")) ?: "");
		copy_str(r.tenant, sizeof(r.tenant),
			 json_string_value(json_object_get(x, "tenant")) ?: "");
		copy_str(r.origin, sizeof(r.origin),
			 json_string_value(json_object_get(x, "origin")) ?: "");
		copy_str(r.created, sizeof(r.created),
			 json_string_value(json_object_get(x, "created")) ?: "");
		if (vol_from_rec(p, &r, &v) < 0)
			return -EINVAL;
		m = json_object_get(x, "map");
		json_array_foreach(m, k, y) {
			json_int_t idx = json_integer_value(json_array_get(y, 0));
			json_int_t id = json_integer_value(json_array_get(y, 1));

			if (idx < 0 || (uint64_t)idx >= v->nmap || id <= 0 ||
			    (uint32_t)id >= p->next)
				return -EINVAL;
			v->map[idx] = (uint32_t)id;
		}
	}
	return 0;
}

static int
format(struct pool *p, const char *const *devices, int n)
{
	int i, r;
	uint64_t slots = 0;

	if (n < 2) {
		log_warnx("a new pool needs at least two --device");
		return -EINVAL;
	}
	if (n > POOL_MAX_DEVICES)
		return -E2BIG;
	if (getrandom(p->uuid, sizeof(p->uuid), 0) != (ssize_t)sizeof(p->uuid))
		return -EIO;
	for (i = 0; i < n; i++) {
		r = pool_dev_open(p, i, devices[i], 0);
		if (r < 0) {
			log_warnx("device %s: %s", devices[i], strerror(-r));
			return r;
		}
		r = pool_dev_zero_all(p, i);
		if (r == 0)
			r = pool_dev_write_sb(p, i, 1);
		if (r < 0) {
			log_warnx("device %s: cannot format: %s", devices[i], strerror(-r));
			return r;
		}
		slots += p->dev[i].nslots;
		log_info("device %d: %s, %u extents of 1 MiB", i, devices[i], p->dev[i].nslots);
	}
	r = pool_ext_reserve(p, (uint32_t)(slots + 1 > POOL_MAX_EXTENTS - 1 ? POOL_MAX_EXTENTS - 1
									     : slots + 1));
	if (r < 0)
		return r;
	r = pool_sync_devices(p);
	return r < 0 ? r : meta_checkpoint(p);
}

/* Open every device recorded in the checkpoint and journal. */
static void
open_devices(struct pool *p)
{
	int i, r;

	for (i = 0; i < p->ndev; i++) {
		struct pool_dev *d = &p->dev[i];
		char path[POOL_PATH_MAX], err[160];
		uint32_t nslots = d->nslots;
		int state = atomic_load(&d->state);

		snprintf(path, sizeof(path), "%s", d->path);
		r = pool_dev_open(p, i, path, nslots);
		if (r < 0) {
			/* The slot tables stay, so the index can be replaced. */
			d->fd = -1;
			snprintf(err, sizeof(err), "cannot open %.100s: %s", path, strerror(-r));
			atomic_store(&d->state, DEV_FAILED);
			snprintf(d->reason, sizeof(d->reason), "%s", err);
			log_warnx("device %d: %s", i, err);
			continue;
		}
		atomic_store(&d->state, state);
		if (state == DEV_FAILED) {
			log_warnx("device %d (%s) is failed: %s", i, path, d->reason);
			continue;
		}
		if (pool_dev_check_sb(p, i, err, sizeof(err)) < 0 || pool_dev_load_crc(p, i) < 0) {
			atomic_store(&d->state, DEV_FAILED);
			snprintf(d->reason, sizeof(d->reason), "at start: %s", err);
			log_warnx("device %d (%s): %s", i, path, err);
		}
	}
}

/* Apply the journal after the checkpoint; truncate a torn tail. */
static int
replay(struct pool *p)
{
	struct meta *m = p->meta;
	struct meta_rec r;
	off_t off = 0;
	uint64_t n = 0;

	for (;;) {
		ssize_t got = pread(m->jfd, &r, sizeof(r), off);

		if (got != (ssize_t)sizeof(r))
			break;
		if (r.magic != META_MAGIC || rec_crc(&r) != r.crc)
			break;
		if (r.seq <= m->seq) {
			off += (off_t)sizeof(r);
			continue;
		}
		if (r.seq != m->seq + 1)
			break;
		if (meta_apply(p, &r) < 0) {
			log_warnx("journal record %llu (type %u) does not apply: journal ends there",
				  (unsigned long long)r.seq, r.type);
			break;
		}
		m->seq = r.seq;
		off += (off_t)sizeof(r);
		n++;
	}
	if (ftruncate(m->jfd, off) < 0)
		return -errno;
	m->jsize = (uint64_t)off;
	if (n)
		log_info("journal: %llu records replayed", (unsigned long long)n);
	return 0;
}

int
meta_open(struct pool *p, const char *const *devices, int ndevices, int *clean)
{
	char ckpt[PATH_MAX], jpath[PATH_MAX], cpath[PATH_MAX], *text = NULL;
	size_t len;
	json_t *rest;
	uint64_t slots = 0;
	uint32_t id;
	int r, i;

	p->meta = calloc(1, sizeof(*p->meta));
	if (p->meta == NULL)
		return -ENOMEM;
	p->meta->jfd = -1;
	if (path_in(p, "meta.ckpt", ckpt, sizeof(ckpt)) < 0 ||
	    path_in(p, "journal", jpath, sizeof(jpath)) < 0 ||
	    path_in(p, "clean", cpath, sizeof(cpath)) < 0)
		return -ENAMETOOLONG;
	p->meta->jfd = open(jpath, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (p->meta->jfd < 0)
		return -errno;
	r = util_read_file(ckpt, CKPT_MAX, &text, &len);
	if (r == -ENOENT) {
		log_info("no pool in %s: formatting %d devices", p->dir, ndevices);
		r = format(p, devices, ndevices);
		if (r < 0)
			return r;
		if (ftruncate(p->meta->jfd, 0) < 0)
			return -errno;
		*clean = 1;
		p->clean_start = 1;
		unlink(cpath);
		return 0;
	}
	if (r < 0)
		return r;
	r = load_ckpt(p, text, len, &rest);
	free(text);
	if (r < 0) {
		log_warnx("%s: unreadable checkpoint", ckpt);
		return r;
	}
	if (ndevices > 0)
		log_info("pool exists: its %d devices come from %s (--device ignored)", p->ndev,
			 ckpt);
	for (i = 0; i < p->ndev; i++) {
		slots += p->dev[i].nslots;
		r = pool_dev_tables(p, i, p->dev[i].nslots);
		if (r < 0)
			break;
	}
	if (r == 0)
		r = pool_ext_reserve(p, (uint32_t)(slots + 1 > POOL_MAX_EXTENTS - 1
							   ? POOL_MAX_EXTENTS - 1
							   : slots + 1));
	if (r == 0)
		r = load_rest(p, rest);
	json_decref(rest);
	if (r < 0) {
		log_warnx("%s: inconsistent checkpoint", ckpt);
		return r;
	}
	r = replay(p);
	if (r < 0)
		return r;
	open_devices(p);
	for (id = p->next; id-- > 1;)
		if (p->ext[id].refs == 0)
			p->freeids[p->nfree++] = id;
	*clean = access(cpath, F_OK) == 0;
	p->clean_start = *clean;
	unlink(cpath);
	return 0;
}

void
meta_close(struct pool *p)
{
	char cpath[PATH_MAX];
	int fd;

	if (p->meta == NULL)
		return;
	if (!p->meta->broken && pool_sync_devices(p) == 0 && meta_checkpoint(p) == 0 &&
	    path_in(p, "clean", cpath, sizeof(cpath)) == 0) {
		fd = open(cpath, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
	}
	if (p->meta->jfd >= 0)
		close(p->meta->jfd);
	free(p->meta);
	p->meta = NULL;
}
