/* repair.c - see repair.h */
#define _GNU_SOURCE
#include "repair.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert.h"
#include "log.h"
#include "meta.h"
#include "util.h"
#include "volume.h"

#define COMMIT_INTERVAL_MS 5000
#define CKPT_JOURNAL_BYTES (64u << 20)
#define PENDING_MAX 64

static pthread_t thread;
static int running;
static atomic_int stop;
static atomic_int rebuild_wanted;

/* Checksum events waiting for the thread to name their volume. */
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int dev;
	uint32_t ext, block;
	int repaired;
} pending[PENDING_MAX];
static int npending;

static int
ioctl_size(int fd, uint64_t *size)
{
	return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
}

static void
on_fail(struct pool *p, int idx)
{
	struct pool_dev *d = &p->dev[idx];

	atomic_store(&d->fail_logged, 0);
	alert_add(json_pack("{s:s, s:i, s:s, s:s}", "kind", "device", "device", idx, "path",
			    d->path, "message", d->reason));
}

static void
on_cksum(struct pool *p, int dev, uint32_t ext, uint32_t block, int repaired)
{
	(void)p;
	pthread_mutex_lock(&qlock);
	if (npending < PENDING_MAX) {
		pending[npending].dev = dev;
		pending[npending].ext = ext;
		pending[npending].block = block;
		pending[npending].repaired = repaired;
		npending++;
	}
	pthread_mutex_unlock(&qlock);
}

void
repair_init(struct pool *p)
{
	p->on_fail = on_fail;
	p->on_cksum = on_cksum;
}

/* The alerts for queued checksum events, with the volume they belong to. */
static void
flush_cksum_events(struct pool *p)
{
	int i, n;
	uint32_t v, j;

	pthread_mutex_lock(&qlock);
	n = npending;
	for (i = 0; i < n; i++) {
		json_t *a = json_pack("{s:s, s:i, s:s}", "kind", "checksum", "device",
				      pending[i].dev, "message",
				      pending[i].repaired
					      ? "block did not match its checksum: repaired from the other copy"
					      : "block did not match its checksum and no good copy exists");

		pthread_mutex_lock(&p->lock);
		for (v = 0; v < POOL_MAX_VOLUMES; v++) {
			struct volume *vol = p->vol[v];

			if (vol == NULL)
				continue;
			for (j = 0; j < vol->nmap; j++)
				if (vol->map[j] == pending[i].ext)
					break;
			if (j < vol->nmap) {
				json_object_set_new(a, "volume", json_string(vol->name));
				json_object_set_new(a, "tenant", json_string(vol->tenant));
				json_object_set_new(
					a, "offset",
					json_integer((json_int_t)((uint64_t)j * POOL_EXTENT +
								  (uint64_t)pending[i].block *
									  POOL_BLOCK)));
				break;
			}
		}
		pthread_mutex_unlock(&p->lock);
		alert_add(a);
	}
	npending = 0;
	pthread_mutex_unlock(&qlock);
}

static void
log_state(struct pool *p, int idx, int state, const char *reason)
{
	struct meta_rec r;

	memset(&r, 0, sizeof(r));
	r.type = R_DEV_STATE;
	r.idx = (uint32_t)idx;
	r.state = state;
	snprintf(r.path, sizeof(r.path), "%s", reason);
	if (meta_log(p, &r) == 0)
		meta_sync(p);
}

/* Journal records for failures the I/O paths noticed. pool.lock held. */
static void
record_failures(struct pool *p)
{
	int i;

	for (i = 0; i < p->ndev; i++) {
		struct pool_dev *d = &p->dev[i];

		if (atomic_load(&d->state) == DEV_FAILED && !atomic_exchange(&d->fail_logged, 1))
			log_state(p, i, DEV_FAILED, d->reason);
	}
}

static void
check_devices(struct pool *p)
{
	int i;

	for (i = 0; i < p->ndev; i++) {
		struct pool_dev *d = &p->dev[i];
		char err[160];
		struct stat st;

		if (atomic_load(&d->state) != DEV_OK)
			continue;
		if (fstat(d->fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 0) {
			pool_dev_fail(p, i, "backing file was removed");
			continue;
		}
		if (fstat(d->fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    (uint64_t)st.st_size < d->data_off + (uint64_t)d->nslots * POOL_EXTENT) {
			pool_dev_fail(p, i, "backing file was truncated");
			continue;
		}
		if (pool_dev_check_sb(p, i, err, sizeof(err)) < 0)
			pool_dev_fail(p, i, err);
	}
}

static void
rebuild(struct pool *p, int idx)
{
	struct pool_dev *d = &p->dev[idx];
	struct pool_check_stats st;
	uint32_t id, total = 0;
	char msg[200];

	memset(&st, 0, sizeof(st));
	pthread_mutex_lock(&p->lock);
	for (id = 1; id < p->next; id++) {
		struct pool_extent *e = &p->ext[id];

		if (e->refs && (e->dev[0] == idx || (e->ncopies == 2 && e->dev[1] == idx)))
			total++;
	}
	pthread_mutex_unlock(&p->lock);
	atomic_store(&d->rebuild_total, total);
	atomic_store(&d->rebuild_done, 0);
	log_info("device %d: rebuilding %u extents", idx, total);
	for (id = 1; !atomic_load(&stop); id++) {
		struct pool_extent *e;

		pthread_mutex_lock(&p->lock);
		if (id >= p->next || atomic_load(&d->state) != DEV_REBUILDING) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		e = &p->ext[id];
		if (e->refs && (e->dev[0] == idx || (e->ncopies == 2 && e->dev[1] == idx))) {
			pool_ext_check(p, id, 0, &st);
			atomic_fetch_add(&d->rebuild_done, 1);
		}
		pthread_mutex_unlock(&p->lock);
	}
	if (atomic_load(&stop) || atomic_load(&d->state) != DEV_REBUILDING)
		return;
	pool_sync_devices(p);
	pthread_mutex_lock(&p->lock);
	if (atomic_load(&d->state) == DEV_REBUILDING) {
		atomic_store(&d->state, DEV_OK);
		log_state(p, idx, DEV_OK, "");
		snprintf(msg, sizeof(msg),
			 "rebuilt: %u extents, %llu blocks could not be restored (no good copy)",
			 total, (unsigned long long)st.unrecoverable);
		alert_add(json_pack("{s:s, s:i, s:s, s:s}", "kind", "device", "device", idx, "path",
				    d->path, "message", msg));
	}
	pthread_mutex_unlock(&p->lock);
}

static void *
run(void *arg)
{
	struct pool *p = arg;
	uint64_t last_commit = util_now_ms();
	int i;

	while (!atomic_load(&stop)) {
		usleep(200 * 1000);
		check_devices(p);
		pthread_mutex_lock(&p->lock);
		record_failures(p);
		pthread_mutex_unlock(&p->lock);
		flush_cksum_events(p);
		if (util_now_ms() - last_commit >= COMMIT_INTERVAL_MS) {
			volume_flush(p);
			pthread_mutex_lock(&p->lock);
			if (meta_journal_size(p) > CKPT_JOURNAL_BYTES)
				meta_checkpoint(p);
			pthread_mutex_unlock(&p->lock);
			last_commit = util_now_ms();
		}
		if (atomic_exchange(&rebuild_wanted, 0))
			for (i = 0; i < p->ndev; i++)
				if (atomic_load(&p->dev[i].state) == DEV_REBUILDING)
					rebuild(p, i);
	}
	return NULL;
}

int
repair_start(struct pool *p)
{
	int i, r;

	for (i = 0; i < p->ndev; i++)
		if (atomic_load(&p->dev[i].state) == DEV_REBUILDING)
			atomic_store(&rebuild_wanted, 1);
	r = pthread_create(&thread, NULL, run, p);
	if (r != 0)
		return -r;
	running = 1;
	return 0;
}

void
repair_stop(void)
{
	if (!running)
		return;
	atomic_store(&stop, 1);
	pthread_join(thread, NULL);
	running = 0;
}

int
repair_recover(struct pool *p, struct pool_check_stats *st)
{
	uint32_t id;
	int r = 0;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&p->lock);
	for (id = 1; id < p->next && r == 0; id++)
		r = pool_ext_check(p, id, POOL_CHECK_RECOVER, st);
	pthread_mutex_unlock(&p->lock);
	return r < 0 ? r : pool_sync_devices(p);
}

int
repair_scrub(struct pool *p, struct pool_check_stats *st)
{
	uint32_t id, n;
	int r = 0;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&p->lock);
	n = p->next;
	pthread_mutex_unlock(&p->lock);
	/* One extent at a time: I/O goes on between them. */
	for (id = 1; id < n && r == 0; id++) {
		pthread_mutex_lock(&p->lock);
		if (id < p->next)
			r = pool_ext_check(p, id, 0, st);
		pthread_mutex_unlock(&p->lock);
	}
	flush_cksum_events(p);
	return r < 0 ? r : pool_sync_devices(p);
}

int
repair_device_fail(struct pool *p, int idx, const char *reason, char *err, size_t errlen)
{
	int i, r = 0;

	pthread_mutex_lock(&p->lock);
	if (idx < 0 || idx >= p->ndev) {
		snprintf(err, errlen, "no device %d", idx);
		r = -ENOENT;
		goto out;
	}
	if (atomic_load(&p->dev[idx].state) == DEV_FAILED) {
		snprintf(err, errlen, "device %d is already failed", idx);
		r = -EALREADY;
		goto out;
	}
	for (i = 0; i < p->ndev; i++)
		if (i != idx && atomic_load(&p->dev[i].state) != DEV_OK) {
			snprintf(err, errlen,
				 "device %d is failed or rebuilding: failing %d too would lose "
				 "mirrored data",
				 i, idx);
			r = -EBUSY;
			goto out;
		}
	pool_dev_fail(p, idx, reason && *reason ? reason : "marked failed by the operator");
	record_failures(p);
out:
	pthread_mutex_unlock(&p->lock);
	return r;
}

int
repair_device_replace(struct pool *p, int idx, const char *path, char *err, size_t errlen)
{
	struct pool_dev *d;
	struct meta_rec r;
	struct stat st;
	uint64_t size = 0;
	int fd = -1, rc, oldfd;

	if (strlen(path) >= POOL_PATH_MAX || path[0] != '/') {
		snprintf(err, errlen, "path must be absolute and shorter than %d", POOL_PATH_MAX);
		return -EINVAL;
	}
	pthread_mutex_lock(&p->lock);
	rc = -ENOENT;
	if (idx < 0 || idx >= p->ndev) {
		snprintf(err, errlen, "no device %d", idx);
		goto out;
	}
	d = &p->dev[idx];
	rc = -EBUSY;
	if (atomic_load(&d->state) != DEV_FAILED) {
		snprintf(err, errlen, "device %d is not failed (state %s)", idx,
			 atomic_load(&d->state) == DEV_OK ? "ok" : "rebuilding");
		goto out;
	}
	rc = -EINVAL;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;
	else if (!S_ISBLK(st.st_mode) || ioctl_size(fd, &size) < 0) {
		snprintf(err, errlen, "%s is not a file or block device", path);
		goto out;
	}
	if (size < d->data_off + (uint64_t)d->nslots * POOL_EXTENT) {
		snprintf(err, errlen, "%s has %llu bytes, device %d needs %llu", path,
			 (unsigned long long)size, idx,
			 (unsigned long long)(d->data_off + (uint64_t)d->nslots * POOL_EXTENT));
		goto out;
	}
	/* The replacement takes over the index, layout and slot numbers. */
	oldfd = d->fd;
	d->fd = fd;
	d->size = size;
	d->crc_off = POOL_BLOCK;
	rc = pool_dev_zero_all(p, idx);
	if (rc == 0)
		rc = pool_dev_write_sb(p, idx, 2);
	if (rc < 0) {
		d->fd = oldfd;
		snprintf(err, errlen, "cannot format %s: %s", path, strerror(-rc));
		goto out;
	}
	if (oldfd >= 0) {
		/* Same descriptor number: a racing reader never sees a stale one. */
		dup2(fd, oldfd);
		close(fd);
		d->fd = oldfd;
	}
	fd = -1;
	atomic_store(&d->read_errors, 0);
	atomic_store(&d->write_errors, 0);
	atomic_store(&d->checksum_errors, 0);
	memset(&r, 0, sizeof(r));
	r.type = R_DEV_REPLACE;
	r.idx = (uint32_t)idx;
	snprintf(r.path, sizeof(r.path), "%s", path);
	rc = meta_log(p, &r);
	if (rc == 0)
		rc = meta_sync(p);
	if (rc < 0) {
		snprintf(err, errlen, "metadata journal: %s", strerror(-rc));
		goto out;
	}
	alert_add(json_pack("{s:s, s:i, s:s, s:s}", "kind", "device", "device", idx, "path", path,
			    "message", "replaced: rebuilding"));
	atomic_store(&rebuild_wanted, 1);
out:
	if (fd >= 0)
		close(fd);
	pthread_mutex_unlock(&p->lock);
	return rc;
}
