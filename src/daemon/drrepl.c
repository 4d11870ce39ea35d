/*
 * drrepl.c - replication streams at the primary, recovery at a new
 * primary (drrepl.h).
 *
 * One thread per replicated VM (at most STREAMS_MAX). A stream's cycle:
 * replica.open at the standby's host (a point number above its last
 * complete one), vm.replica.point at the VM's host with that answer (the
 * one-time TLS credentials pass through here, never logged), then
 * replica.commit; on a failure replica.abort and the next cycle after a
 * pause. The first point of a stream is incremental when the standby
 * already has a complete point (QEMU still has its dirty bitmap after a
 * cloudletd restart); QEMU answers conflict when it has none, and the
 * point is made full.
 */
#include "drrepl.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentc.h"
#include "drrecover.h"
#include "log.h"
#include "site.h"
#include "store.h"
#include "store_host.h"
#include "store_site.h"
#include "util.h"

#define STREAMS_MAX 64
#define RETRY_MS 1000
#define CALL_MS 10000 /* a host that does not answer a short call in time */

struct stream {
	int used;
	char vm[STORE_ID_LEN], tenant[STORE_ID_LEN], host[STORE_ID_LEN], replica[STORE_ID_LEN];
	char agent_id[24]; /* the VM's id at its agent: the replica's name */
	int64_t disk_bytes;
	/* what the view shows */
	int64_t points, point, last_taken_at_ms, last_bytes, last_ms;
	int alerted;
	char state[24], error[256];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct stream streams[STREAMS_MAX];
static struct drrepl_conf conf;
static int started;

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
may_run(void)
{
	char why[256];

	return site_role() == SITE_PRIMARY && site_writable(why, sizeof(why));
}

static void
set_state(struct stream *s, const char *state, const char *error)
{
	pthread_mutex_lock(&mu);
	snprintf(s->state, sizeof(s->state), "%s", state);
	snprintf(s->error, sizeof(s->error), "%s", error ? error : "");
	pthread_mutex_unlock(&mu);
}

/* The standby's host for a new replica: the one holding the fewest. */
static int
choose_replica_host(char *out, size_t len)
{
	json_t *hosts = store_host_list_peer_site(), *h;
	int64_t best = -1, n;
	size_t i;

	out[0] = '\0';
	json_array_foreach(hosts, i, h) {
		const char *id = json_string_value(json_object_get(h, "id"));

		if (json_is_true(json_object_get(h, "draining")))
			continue;
		n = store_replica_count(id);
		if (best < 0 || n < best) {
			best = n;
			snprintf(out, len, "%s", id);
		}
	}
	json_decref(hosts);
	return out[0] ? 0 : -ENOENT;
}

/* The standby's last complete point of this VM (0: none). */
static int64_t
last_point(struct stream *s)
{
	char code[32], err[256];
	json_t *list = NULL, *r;
	int64_t p = 0;
	size_t i;

	if (agentc_call_timeout(s->replica, "replica.list", json_object(), &list, code, err,
				sizeof(err), CALL_MS) < 0)
		return -1;
	json_array_foreach(list, i, r) if (strcmp(json_string_value(json_object_get(r, "vm")) ?: "",
						  s->agent_id) == 0) p = json_integer_value(
		json_object_get(r, "point"));
	json_decref(list);
	return p;
}

static void
abort_point(struct stream *s)
{
	char code[32], err[256];

	agentc_call_timeout(s->replica, "replica.abort", json_pack("{s:s}", "vm", s->agent_id), NULL,
			    code, err, sizeof(err), CALL_MS);
}

/* One consistency point. 0, or -1 with the stream's error set; *full is
 * set when QEMU needs a full point. */
static int
one_point(struct stream *s, int64_t point, int *full)
{
	char code[32], err[512], msg[600];
	json_t *open = NULL, *done = NULL, *commit = NULL;
	int r;

	r = agentc_call_timeout(s->replica, "replica.open",
			json_pack("{s:s, s:I, s:[{s:s, s:I}]}", "vm", s->agent_id, "point",
				  (json_int_t)point, "disks", "name", "root", "size",
				  (json_int_t)s->disk_bytes),
			&open, code, err, sizeof(err), CALL_MS);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "replica.open at %s: %s", s->replica, err);
		goto fail;
	}
	r = agentc_call_timeout(s->host, "vm.replica.point",
			json_pack("{s:s, s:O, s:O, s:O, s:O, s:b, s:i}", "name", s->vm, "host",
				  json_object_get(open, "host"), "port",
				  json_object_get(open, "port"), "exports",
				  json_object_get(open, "exports"), "tls",
				  json_object_get(open, "tls"), "full", *full, "timeout_s", 600),
			&done, code, err, sizeof(err), 610 * 1000);
	json_decref(open);
	open = NULL;
	if (r < 0) {
		if (!*full && strcmp(code, "conflict") == 0 && strstr(err, "full point") != NULL)
			*full = 1;
		snprintf(msg, sizeof(msg), "vm.replica.point at %s: %s", s->host, err);
		abort_point(s);
		goto fail;
	}
	r = agentc_call_timeout(s->replica, "replica.commit",
			json_pack("{s:s, s:I, s:O}", "vm", s->agent_id, "point", (json_int_t)point,
				  "taken_at_ms", json_object_get(done, "taken_at_ms")),
			&commit, code, err, sizeof(err), 600 * 1000);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "replica.commit at %s: %s", s->replica, err);
		abort_point(s);
		goto fail;
	}
	pthread_mutex_lock(&mu);
	s->points++;
	s->point = point;
	s->last_taken_at_ms = json_integer_value(json_object_get(done, "taken_at_ms"));
	s->last_bytes = json_integer_value(json_object_get(done, "bytes"));
	s->last_ms = json_integer_value(json_object_get(done, "ms"));
	snprintf(s->state, sizeof(s->state), "replicating");
	s->error[0] = '\0';
	pthread_mutex_unlock(&mu);
	json_decref(done);
	json_decref(commit);
	*full = 0;
	return 0;
fail:
	json_decref(done);
	set_state(s, "retrying", msg);
	return -1;
}

/* An event when a stream's lag passes the alert mark, and when it is back
 * under (the manager looks every half second: a stream may be waiting on
 * a host that does not answer). */
static void
check_lags(void)
{
	struct {
		char vm[STORE_ID_LEN], tenant[STORE_ID_LEN];
		int64_t lag;
		int up;
	} ev[STREAMS_MAX];
	int64_t now = wall_ms(), lag;
	char detail[200];
	size_t i, n = 0;

	pthread_mutex_lock(&mu);
	for (i = 0; i < STREAMS_MAX; i++) {
		struct stream *s = &streams[i];

		if (!s->used || s->last_taken_at_ms == 0)
			continue;
		lag = now - s->last_taken_at_ms;
		if (s->alerted == (lag > (int64_t)conf.lag_alert_ms))
			continue;
		s->alerted = !s->alerted;
		snprintf(ev[n].vm, sizeof(ev[n].vm), "%s", s->vm);
		snprintf(ev[n].tenant, sizeof(ev[n].tenant), "%s", s->tenant);
		ev[n].lag = lag;
		ev[n++].up = s->alerted;
	}
	pthread_mutex_unlock(&mu);
	for (i = 0; i < n; i++) {
		if (ev[i].up)
			snprintf(detail, sizeof(detail), "replication lag %lld ms (alert at %u ms)",
				 (long long)ev[i].lag, conf.lag_alert_ms);
		else
			snprintf(detail, sizeof(detail), "replication lag back to %lld ms",
				 (long long)ev[i].lag);
		log_info("replication of %s: %s", ev[i].vm, detail);
		store_event("cloudletd", ev[i].tenant, "replica.lag", ev[i].vm,
			    ev[i].up ? "failed" : "succeeded", detail);
	}
}

/* The VM's record now: 1 still here and running on s->host, 0 gone,
 * -1 elsewhere or not running (the stream waits). */
static int
vm_here(struct stream *s)
{
	struct vm_row row;
	int r;

	if (store_vm_row(s->vm, &row) < 0)
		return 0;
	r = strcmp(row.host_id, s->host) == 0 && strcmp(row.state, "running") == 0 ? 1 : -1;
	store_vm_row_free(&row);
	return r;
}

/*
 * Where the VM's replica goes and its name there (the VM's id at its
 * agent, from vm.show): recorded once. A replica recorded at a host of
 * this site (this site was the standby and took over) is not one: a new
 * one goes to the other site. 0, or -1 (tried again later).
 */
static int
setup(struct stream *s)
{
	char replica[STORE_ID_LEN], agent_id[24], code[32], err[256];
	json_t *view = NULL;
	const char *id;

	if (store_replica_host(s->vm, replica, sizeof(replica), agent_id, sizeof(agent_id)) < 0 ||
	    store_host_of_site(replica) || agent_id[0] == '\0') {
		if (agentc_call_timeout(s->host, "vm.show", json_pack("{s:s}", "name", s->vm), &view,
					code, err, sizeof(err), CALL_MS) < 0) {
			set_state(s, "retrying", err);
			return -1;
		}
		id = json_string_value(json_object_get(view, "id"));
		snprintf(agent_id, sizeof(agent_id), "%s", id ?: "");
		json_decref(view);
		if (agent_id[0] == '\0' || choose_replica_host(replica, sizeof(replica)) < 0 ||
		    store_replica_set(s->vm, replica, agent_id) < 0) {
			set_state(s, "retrying", "no host of the other site for its replica");
			return -1;
		}
		log_info("replication of %s: its replica goes to host %s", s->vm, replica);
	}
	pthread_mutex_lock(&mu);
	snprintf(s->replica, sizeof(s->replica), "%s", replica);
	snprintf(s->agent_id, sizeof(s->agent_id), "%s", agent_id);
	pthread_mutex_unlock(&mu);
	return 0;
}

static void *
stream_run(void *arg)
{
	struct stream *s = arg;
	int full = 1, here;
	int64_t point = -1;
	uint64_t t0;

	while (setup(s) < 0) {
		if (!may_run() || vm_here(s) != 1)
			goto out;
		usleep(RETRY_MS * 1000);
	}
	for (;;) {
		t0 = util_now_ms();
		here = vm_here(s);
		if (here == 0) { /* deleted: its replica goes too */
			char code[32], err[256];

			agentc_call(s->replica, "replica.drop", json_pack("{s:s}", "vm", s->agent_id),
				    NULL, code, err, sizeof(err));
			store_replica_delete(s->vm);
			log_info("replication of %s: the VM is gone, its replica dropped", s->vm);
			break;
		}
		if (here < 0 || !may_run()) {
			set_state(s, here < 0 ? "waiting" : "paused",
				  here < 0 ? "the VM is not running on its host" :
					     "this site may not write (fenced or not primary)");
			break; /* the manager starts a new stream when it can */
		}
		if (point < 0) {
			int64_t last = last_point(s);

			if (last < 0) {
				set_state(s, "retrying", "the standby's host does not answer");
				usleep(RETRY_MS * 1000);
				continue;
			}
			full = last == 0;
			point = last + 1;
		}
		if (one_point(s, point, &full) == 0)
			point++;
		else
			point = -1; /* asked again: the standby may have moved on */
		while (util_now_ms() < t0 + (point < 0 ? RETRY_MS : conf.interval_ms))
			usleep(20000);
	}
out:
	store_thread_done();
	pthread_mutex_lock(&mu);
	s->used = 0;
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* A stream for this VM, if none runs. */
static void
ensure_stream(const json_t *vm)
{
	const char *id = json_string_value(json_object_get(vm, "id"));
	struct stream *s = NULL;
	pthread_attr_t a;
	pthread_t t;
	size_t i;

	pthread_mutex_lock(&mu);
	for (i = 0; i < STREAMS_MAX; i++)
		if (streams[i].used && strcmp(streams[i].vm, id) == 0) {
			pthread_mutex_unlock(&mu);
			return;
		}
	pthread_mutex_unlock(&mu);
	pthread_mutex_lock(&mu);
	for (i = 0; i < STREAMS_MAX && s == NULL; i++)
		if (!streams[i].used) /* a slot keeps its view until it is reused */
			s = &streams[i];
	if (s != NULL) {
		memset(s, 0, sizeof(*s));
		s->used = 1;
		snprintf(s->vm, sizeof(s->vm), "%s", id);
		snprintf(s->tenant, sizeof(s->tenant), "%s",
			 json_string_value(json_object_get(vm, "tenant_id")) ?: "");
		snprintf(s->host, sizeof(s->host), "%s",
			 json_string_value(json_object_get(vm, "host_id")) ?: "");
		s->disk_bytes = json_integer_value(json_object_get(vm, "disk_gib")) << 30;
		snprintf(s->state, sizeof(s->state), "starting");
	}
	pthread_mutex_unlock(&mu);
	if (s == NULL)
		return;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, stream_run, s) != 0) {
		pthread_mutex_lock(&mu);
		s->used = 0;
		pthread_mutex_unlock(&mu);
	}
	pthread_attr_destroy(&a);
}

static void *
manager(void *arg)
{
	json_t *vms, *vm;
	size_t i;

	(void)arg;
	for (;;) {
		if (may_run()) {
			vms = store_replica_candidates();
			json_array_foreach(vms, i, vm) {
				/* Only a root is replicated and sent today (docs/dr.md). */
				if (strcmp(json_string_value(json_object_get(vm, "state")) ?: "",
					   "running") == 0 &&
				    json_integer_value(json_object_get(vm, "volumes")) == 0)
					ensure_stream(vm);
			}
			json_decref(vms);
		}
		check_lags();
		usleep(500000);
	}
	return NULL;
}

void
drrepl_start(const struct drrepl_conf *c)
{
	pthread_t t;

	pthread_mutex_lock(&mu);
	if (started) {
		pthread_mutex_unlock(&mu);
		return;
	}
	started = 1;
	conf = *c;
	if (conf.interval_ms == 0)
		conf.interval_ms = 1000;
	if (conf.lag_alert_ms == 0)
		conf.lag_alert_ms = 5000;
	pthread_mutex_unlock(&mu);
	if (pthread_create(&t, NULL, manager, NULL) == 0)
		pthread_detach(t);
	log_info("replication: a point per VM every %u ms, an alert past %u ms of lag",
		 conf.interval_ms, conf.lag_alert_ms);
}

json_t *
drrepl_view(void)
{
	json_t *list = json_array();
	int64_t now = wall_ms(), worst = -1, lag;
	size_t i;

	pthread_mutex_lock(&mu);
	if (!started) {
		pthread_mutex_unlock(&mu);
		json_decref(list);
		return NULL;
	}
	for (i = 0; i < STREAMS_MAX; i++) {
		struct stream *s = &streams[i];

		if (s->vm[0] == '\0')
			continue;
		lag = s->last_taken_at_ms ? now - s->last_taken_at_ms : -1;
		if (s->used && lag > worst)
			worst = lag;
		json_array_append_new(
			list,
			json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:b}",
				  "vm", s->vm, "host", s->host, "replica_host", s->replica, "points",
				  (json_int_t)s->points, "point", (json_int_t)s->point,
				  "last_taken_at_ms", (json_int_t)s->last_taken_at_ms, "lag_ms",
				  (json_int_t)lag, "last_bytes", (json_int_t)s->last_bytes,
				  "last_ms", (json_int_t)s->last_ms, "state",
				  s->used ? s->state : "ended", "error", s->error, "lag_alert",
				  s->alerted));
	}
	pthread_mutex_unlock(&mu);
	return json_pack("{s:o, s:I, s:I, s:I, s:o}", "vms", list, "worst_lag_ms",
			 (json_int_t)worst, "interval_ms", (json_int_t)conf.interval_ms,
			 "lag_alert_ms", (json_int_t)conf.lag_alert_ms, "recovery",
			 drrecover_view());
}
