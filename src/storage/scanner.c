/* scanner.c - see scanner.h */
#define _GNU_SOURCE
#include "scanner.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "control.h"
#include "log.h"
#include "scan.h"
#include "util.h"
#include "volume.h"

#define PIECE        (4u << 20) /* bytes read and fed at a time */
#define RANGES_MAX   64         /* dirty ranges per volume before they merge */
#define RECENT_MAX   256        /* (volume, offset, signature) alerted lately */
#define RECENT_SECS  60

struct range {
	uint64_t start, end;
};

struct dirty {
	char name[VOLUME_NAME_MAX + 1];
	struct range r[RANGES_MAX];
	int n;
};

struct hits {
	json_t *list; /* alerts to raise */
	const char *source;
	const struct volume *v;
	const char *vname;
	int quarantine;
};

static struct scan_engine *engine;
static struct pool *pool;
static size_t window;
static int inline_on;
static unsigned interval_s;
static pthread_t thread;
static int running;
static atomic_int stop;

static pthread_mutex_t dlock = PTHREAD_MUTEX_INITIALIZER;
static struct dirty *dirty[POOL_MAX_VOLUMES]; /* by volume number */

static pthread_mutex_t rlock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char key[200];
	uint64_t at;
} recent[RECENT_MAX];
static int nrecent;

/* Record a write for the inline scan (called on the writer's thread). */
static void
written(struct pool *p, struct volume *v, uint64_t off, uint64_t len)
{
	struct dirty *d;
	uint64_t s = off > window ? off - window : 0, e = off + len + window;
	int i;

	(void)p;
	if (len == 0)
		return;
	if (e > v->size)
		e = v->size;
	pthread_mutex_lock(&dlock);
	d = dirty[v->vid];
	if (d == NULL || strcmp(d->name, v->name) != 0) {
		free(d);
		d = calloc(1, sizeof(*d));
		dirty[v->vid] = d;
		if (d == NULL)
			goto out;
		snprintf(d->name, sizeof(d->name), "%s", v->name);
	}
	for (i = 0; i < d->n; i++) {
		if (s <= d->r[i].end && e >= d->r[i].start) {
			if (s < d->r[i].start)
				d->r[i].start = s;
			if (e > d->r[i].end)
				d->r[i].end = e;
			goto out;
		}
	}
	if (d->n < RANGES_MAX) {
		d->r[d->n].start = s;
		d->r[d->n].end = e;
		d->n++;
	} else {
		/* Too many: widen the last one (scans more, misses nothing). */
		struct range *r = &d->r[d->n - 1];

		if (s < r->start)
			r->start = s;
		if (e > r->end)
			r->end = e;
	}
out:
	pthread_mutex_unlock(&dlock);
}

/* True when the same finding was alerted within RECENT_SECS. */
static int
seen_lately(const char *key)
{
	uint64_t now = util_now_ms() / 1000;
	int i, oldest = 0;

	pthread_mutex_lock(&rlock);
	for (i = 0; i < nrecent; i++) {
		if (strcmp(recent[i].key, key) == 0 && now - recent[i].at < RECENT_SECS) {
			pthread_mutex_unlock(&rlock);
			return 1;
		}
		if (recent[i].at < recent[oldest].at)
			oldest = i;
	}
	i = nrecent < RECENT_MAX ? nrecent++ : oldest;
	snprintf(recent[i].key, sizeof(recent[i].key), "%s", key);
	recent[i].at = now;
	pthread_mutex_unlock(&rlock);
	return 0;
}

static void
on_hit(void *arg, const struct scan_hit *h)
{
	struct hits *hs = arg;
	char key[200];
	json_t *a;

	snprintf(key, sizeof(key), "%s:%s:%llu:%s", hs->source, hs->vname,
		 (unsigned long long)h->offset, h->signature);
	if (strcmp(hs->source, "inline") == 0 && seen_lately(key))
		return;
	a = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:b, s:s}", "kind", "malware",
		      "tenant", hs->v->tenant, "volume", hs->vname, "offset",
		      (json_int_t)h->offset, "signature", h->signature, "engine", h->engine,
		      "source", hs->source, "quarantine", hs->quarantine, "message",
		      "signature found in volume data");
	if (a)
		json_array_append_new(hs->list, a);
}

/* Scan [start, end) of v, one stream per run of allocated extents. */
static int
scan_range(struct volume *v, uint64_t start, uint64_t end, struct hits *hs, uint64_t *bytes)
{
	struct scan_stream *st = NULL;
	uint8_t *buf = malloc(PIECE);
	uint64_t off = start;
	int r = 0;

	if (buf == NULL)
		return -ENOMEM;
	while (off < end && r == 0 && !atomic_load(&stop)) {
		uint32_t idx = (uint32_t)(off / POOL_EXTENT);
		uint64_t n = end - off;
		int hole;

		pthread_mutex_lock(&pool->lock);
		hole = idx >= v->nmap || v->map[idx] == 0;
		pthread_mutex_unlock(&pool->lock);
		if (hole) {
			/* Zeros match nothing: end the stream, skip the extent. */
			if (st) {
				r = scan_stream_close(st);
				st = NULL;
			}
			off = ((uint64_t)idx + 1) * POOL_EXTENT;
			continue;
		}
		if (n > POOL_EXTENT - off % POOL_EXTENT)
			n = POOL_EXTENT - off % POOL_EXTENT;
		if (st == NULL && (r = scan_stream_open(engine, off, on_hit, hs, &st)) < 0)
			break;
		r = volume_read(pool, v, off, (uint32_t)n, buf);
		if (r == 0)
			r = scan_stream_feed(st, buf, (size_t)n);
		*bytes += n;
		off += n;
	}
	if (st) {
		int c = scan_stream_close(st);

		if (r == 0)
			r = c;
	}
	free(buf);
	return r;
}

static void
raise_all(json_t *list)
{
	json_t *a;
	size_t i;

	json_array_foreach(list, i, a) alert_add(json_incref(a));
}

static void
scan_dirty(void)
{
	uint32_t i;

	for (i = 0; i < POOL_MAX_VOLUMES && !atomic_load(&stop); i++) {
		struct dirty *d;
		struct volume *v;
		struct hits hs;
		uint64_t bytes = 0;
		int k;

		pthread_mutex_lock(&dlock);
		d = dirty[i];
		dirty[i] = NULL;
		pthread_mutex_unlock(&dlock);
		if (d == NULL)
			continue;
		v = volume_get(pool, d->name);
		if (v != NULL) {
			hs.list = json_array();
			hs.source = "inline";
			hs.v = v;
			hs.vname = v->name;
			hs.quarantine = 0;
			for (k = 0; k < d->n; k++)
				scan_range(v, d->r[k].start, d->r[k].end, &hs, &bytes);
			raise_all(hs.list);
			json_decref(hs.list);
			volume_put(pool, v);
		}
		free(d);
	}
}

/* A whole volume, from a snapshot so its VM keeps writing. */
static int
scan_volume(struct pool *p, const char *name, const char *source, int quarantine,
	    json_t **report, char *err, size_t errlen)
{
	char snap[VOLUME_NAME_MAX + 1], suffix[24], hexs[9];
	struct volume *v;
	struct hits hs;
	uint64_t bytes = 0, t0 = util_now_ms();
	int r, keep;

	util_random_hex(hexs, 4);
	snprintf(suffix, sizeof(suffix), ".scan-%s", hexs);
	snprintf(snap, sizeof(snap), "%.*s%s", (int)(VOLUME_NAME_MAX - strlen(suffix)), name,
		 suffix);
	r = volume_copy(p, name, snap, 1, NULL, 0, err, errlen);
	if (r < 0)
		return r;
	v = volume_get(p, snap);
	if (v == NULL) {
		snprintf(err, errlen, "snapshot %s vanished", snap);
		return -ENOENT;
	}
	hs.list = json_array();
	hs.source = source;
	hs.v = v;
	hs.vname = name;
	hs.quarantine = quarantine;
	r = scan_range(v, 0, v->size, &hs, &bytes);
	volume_put(p, v);
	keep = quarantine && json_array_size(hs.list) > 0;
	if (keep) {
		json_t *a;
		size_t i;

		json_array_foreach(hs.list, i, a)
			json_object_set_new(a, "snapshot", json_string(snap));
	}
	raise_all(hs.list);
	if (!keep) {
		char e2[200];

		if (volume_delete(p, snap, e2, sizeof(e2)) < 0)
			log_warnx("scan of %s: cannot delete %s: %s", name, snap, e2);
	}
	if (r < 0) {
		snprintf(err, errlen, "scan of %s: %s", name, strerror(-r));
		json_decref(hs.list);
		return -EIO;
	}
	if (report)
		*report = json_pack("{s:s, s:o, s:I, s:I, s:o}", "volume", name, "snapshot",
				    keep ? json_string(snap) : json_null(), "bytes_scanned",
				    (json_int_t)bytes, "duration_ms",
				    (json_int_t)(util_now_ms() - t0), "findings", hs.list);
	else
		json_decref(hs.list);
	return 0;
}

static int
scan_op(struct pool *p, const char *name, int quarantine, json_t **report, char *err,
	size_t errlen)
{
	return scan_volume(p, name, "scan", quarantine, report, err, errlen);
}

static json_t *
info(void)
{
	return json_pack("{s:b, s:b, s:I, s:I}", "enabled", 1, "inline", inline_on, "window",
			 (json_int_t)window, "interval_s", (json_int_t)interval_s);
}

static void
scheduled(void)
{
	char names[POOL_MAX_VOLUMES][VOLUME_NAME_MAX + 1];
	int i, n = 0;

	pthread_mutex_lock(&pool->lock);
	for (i = 0; i < POOL_MAX_VOLUMES; i++)
		if (pool->vol[i] && !pool->vol[i]->readonly)
			snprintf(names[n++], sizeof(names[0]), "%s", pool->vol[i]->name);
	pthread_mutex_unlock(&pool->lock);
	for (i = 0; i < n && !atomic_load(&stop); i++) {
		char err[200];

		if (scan_volume(pool, names[i], "scheduled", 0, NULL, err, sizeof(err)) < 0)
			log_warnx("scheduled scan: %s", err);
	}
}

static void *
run(void *arg)
{
	uint64_t last = util_now_ms();

	(void)arg;
	while (!atomic_load(&stop)) {
		usleep(100 * 1000);
		if (inline_on)
			scan_dirty();
		if (interval_s && util_now_ms() - last >= (uint64_t)interval_s * 1000) {
			scheduled();
			last = util_now_ms();
		}
	}
	return NULL;
}

int
scanner_start(struct pool *p, const char *sigdir, int inline_scan, unsigned interval)
{
	int r = scan_engine_open(sigdir, &engine);

	if (r < 0)
		return r;
	pool = p;
	window = scan_engine_window(engine);
	inline_on = inline_scan;
	interval_s = interval;
	if (inline_on)
		volume_written_hook = written;
	control_scan_fn = scan_op;
	control_scan_info = info;
	r = pthread_create(&thread, NULL, run, NULL);
	if (r != 0)
		return -r;
	running = 1;
	log_info("scanning: window %zu bytes, inline %s, every %u s", window,
		 inline_on ? "on" : "off", interval_s);
	return 0;
}

void
scanner_stop(void)
{
	if (!running)
		return;
	atomic_store(&stop, 1);
	pthread_join(thread, NULL);
	running = 0;
}
