/*
 * drrecover.c - recovery at a new primary, fencing at a demoted site
 * (drrecover.h).
 */
#include "drrecover.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentc.h"
#include "log.h"
#include "netplan.h"
#include "ops.h"
#include "store.h"
#include "store_host.h"
#include "store_site.h"
#include "util.h"

#define CALL_MS 10000 /* a host that does not answer a short call in time */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
/* The last recovery: its view. */
static struct {
	int ran, running, started, failed;
	int64_t ms;
} rec;
static uint64_t rec_begin;

json_t *
drrecover_view(void)
{
	json_t *v;

	pthread_mutex_lock(&mu);
	v = rec.ran ? json_pack("{s:s, s:i, s:i, s:I}", "state", rec.running ? "running" : "done",
				"vms_started", rec.started, "vms_failed", rec.failed, "ms",
				(json_int_t)rec.ms)
		    : json_null();
	pthread_mutex_unlock(&mu);
	return v;
}

static int
recover_one(const json_t *o, char *err, size_t errlen)
{
	const char *id = json_string_value(json_object_get(o, "id"));
	const char *host = json_string_value(json_object_get(o, "replica_host"));
	const char *was = json_string_value(json_object_get(o, "state")) ?: "";
	const char *agent_id = json_string_value(json_object_get(o, "agent_id")) ?: "";
	json_t *spec = ops_vm_spec(id), *prep = NULL;
	char code[32], e2[256];
	int r = -1;

	if (spec == NULL) {
		snprintf(err, errlen, "no record");
		return -1;
	}
	/* A stale destination of an earlier attempt goes first, and the point
	 * the lost site had open (never complete) is thrown away. */
	agentc_call(host, "vm.migrate.abort", json_pack("{s:s}", "name", id), NULL, code, e2,
		    sizeof(e2));
	if (agentc_call(host, "replica.abort", json_pack("{s:s}", "vm", agent_id), NULL, code, err,
			errlen) < 0) {
		json_decref(spec);
		return -1;
	}
	if (agentc_call(host, "vm.migrate.prepare",
			json_pack("{s:o, s:s, s:b, s:b}", "spec", spec, "id", agent_id, "live", 0,
				  "ready", 0),
			&prep, code, err, errlen) < 0)
		return -1;
	if (agentc_call_timeout(host, "replica.send",
				json_pack("{s:s, s:O, s:O}", "vm", agent_id, "nbd",
					  json_object_get(prep, "nbd"), "tls",
					  json_object_get(prep, "tls")),
				NULL, code, err, errlen, 3600 * 1000) < 0)
		goto abort;
	if (agentc_call(host, "vm.migrate.finish", json_pack("{s:s}", "name", id), NULL, code, err,
			errlen) < 0)
		goto abort;
	if (strcmp(was, "running") == 0) {
		if (agentc_call(host, "vm.start", json_pack("{s:s}", "name", id), NULL, code, e2,
				sizeof(e2)) < 0)
			log_warnx("recovery: %s is at %s but did not start: %s", id, host, e2);
		else
			store_vm_set_state(id, "running", "", 0, "", 0);
	}
	r = 0;
	goto out;
abort:
	agentc_call(host, "vm.migrate.abort", json_pack("{s:s}", "name", id), NULL, code, e2,
		    sizeof(e2));
out:
	json_decref(prep);
	return r;
}

/*
 * One VM's recovery on its own thread (they run side by side): started by
 * recover_start, then waited for until ready by recover_ready (detached:
 * drrecover_run returns once every VM is started or failed, before
 * reconciliation runs, which would remove a record whose host does not
 * have the VM yet).
 */
struct recovery {
	json_t *o; /* its own reference */
	int ok, joinable;
	uint64_t t0, t1;
	pthread_t t;
};

static int readying; /* recover_ready threads running (mu) */

static void *
recover_start(void *arg)
{
	struct recovery *r = arg;
	const char *id = json_string_value(json_object_get(r->o, "id"));
	const char *host = json_string_value(json_object_get(r->o, "replica_host"));
	const char *tenant = json_string_value(json_object_get(r->o, "tenant_id")) ?: "";
	char err[512];

	r->t0 = util_now_ms();
	if (recover_one(r->o, err, sizeof(err)) < 0) {
		/* Its record stays with the lost site. */
		store_vm_moved(id, json_string_value(json_object_get(r->o, "host_id")));
		log_warnx("recovery: %s from its replica at %s failed: %s", id, host, err);
		store_vm_set_state(id, "error", "its recovery from the replica failed", 0, "", 0);
		store_event("cloudletd", tenant, "vm.recover", id, "failed", err);
	} else {
		r->ok = 1;
	}
	r->t1 = util_now_ms();
	store_thread_done();
	return NULL;
}

static void
recovery_done(void)
{
	pthread_mutex_lock(&mu);
	if (--readying == 0)
		rec.running = 0;
	pthread_mutex_unlock(&mu);
}

static void *
recover_ready(void *arg)
{
	struct recovery *r = arg;
	const char *id = json_string_value(json_object_get(r->o, "id"));
	const char *host = json_string_value(json_object_get(r->o, "replica_host"));
	const char *tenant = json_string_value(json_object_get(r->o, "tenant_id")) ?: "";
	char err[512], code[32];
	json_t *v = NULL;

	/* Ready: its guest said so (a cold boot from the replica). */
	if (strcmp(json_string_value(json_object_get(r->o, "state")) ?: "", "running") == 0 &&
	    agentc_call_timeout(host, "vm.wait",
				json_pack("{s:s, s:s, s:i}", "name", id, "for", "ready", "timeout_s",
					  600),
				&v, code, err, sizeof(err), 610 * 1000) == 0)
		store_vm_set_state(id, json_string_value(json_object_get(v, "state")) ?: "running",
				   "", json_is_true(json_object_get(v, "ready")),
				   json_string_value(json_object_get(v, "accel")), 0);
	json_decref(v);
	snprintf(err, sizeof(err),
		 "started at host %s from its last replica point in %llu ms, ready after %llu ms",
		 host, (unsigned long long)(r->t1 - r->t0),
		 (unsigned long long)(util_now_ms() - r->t0));
	log_info("recovery: %s %s", id, err);
	store_event("cloudletd", tenant, "vm.recover", id, "succeeded", err);
	store_thread_done();
	pthread_mutex_lock(&mu);
	rec.ms = (int64_t)(util_now_ms() - rec_begin);
	pthread_mutex_unlock(&mu);
	json_decref(r->o);
	free(r);
	recovery_done();
	return NULL;
}

int
drrecover_run(void)
{
	json_t *orphans = store_replica_orphans(), *o, *tenants = json_object();
	size_t i, n = 0, cap = json_array_size(orphans) + 1;
	struct recovery **rv = calloc(cap, sizeof(*rv));
	char err[512], home[STORE_ID_LEN];
	const char *tenant;
	int started_n = 0, failed_n = 0;
	pthread_t t;

	if (rv == NULL) {
		json_decref(orphans);
		json_decref(tenants);
		return -1;
	}
	pthread_mutex_lock(&mu);
	rec.ran = rec.running = 1;
	rec_begin = util_now_ms();
	readying = 1; /* this call's own, dropped at its end */
	pthread_mutex_unlock(&mu);
	/* First the records: each VM with a replica here moves to that host,
	 * not ready (a power loss, to its guest); its tenant's firewall and
	 * networks move to this site with it. */
	json_array_foreach(orphans, i, o) {
		const char *id = json_string_value(json_object_get(o, "id"));
		const char *host = json_string_value(json_object_get(o, "replica_host")) ?: "";

		tenant = json_string_value(json_object_get(o, "tenant_id")) ?: "";
		if (host[0] == '\0' || !store_host_of_site(host)) {
			log_warnx("recovery: %s has no replica at this site: lost", id);
			store_vm_set_state(id, "error", "lost with its site (it had no replica here)",
					   0, "", 0);
			store_event("cloudletd", tenant, "vm.recover", id, "failed",
				    "no replica at this site");
			failed_n++;
			continue;
		}
		if (json_object_get(tenants, tenant) == NULL) {
			if (store_tenant_home(tenant, home, sizeof(home)) < 0 || home[0] == '\0' ||
			    !store_host_of_site(home))
				store_tenant_set_home(tenant, host);
			json_object_set_new(tenants, tenant, json_true());
		}
		store_vm_set_state(id, "stopped", "recovering from its replica", 0, "", 0);
		store_vm_moved(id, host);
		if ((rv[n] = calloc(1, sizeof(**rv))) == NULL)
			continue;
		rv[n++]->o = json_incref(o);
	}
	/* The networks reach the new hosts before the VMs start there. */
	json_object_foreach(tenants, tenant, o) {
		if (netplan_sync(tenant, err, sizeof(err)) < 0) {
			log_warnx("recovery: tenant %s's networks: %s", tenant, err);
			netplan_mark_dirty();
		}
	}
	for (i = 0; i < n; i++)
		if (pthread_create(&rv[i]->t, NULL, recover_start, rv[i]) == 0)
			rv[i]->joinable = 1;
		else
			recover_start(rv[i]);
	for (i = 0; i < n; i++) {
		if (rv[i]->joinable)
			pthread_join(rv[i]->t, NULL);
		if (!rv[i]->ok) {
			failed_n++;
			json_decref(rv[i]->o);
			free(rv[i]);
			continue;
		}
		started_n++;
		pthread_mutex_lock(&mu);
		readying++;
		pthread_mutex_unlock(&mu);
		if (pthread_create(&t, NULL, recover_ready, rv[i]) == 0)
			pthread_detach(t);
		else
			recover_ready(rv[i]);
	}
	free(rv);
	json_decref(tenants);
	json_decref(orphans);
	pthread_mutex_lock(&mu);
	rec.started = started_n;
	rec.failed = failed_n;
	rec.ms = (int64_t)(util_now_ms() - rec_begin);
	pthread_mutex_unlock(&mu);
	recovery_done();
	return started_n;
}

/* ---- fencing at a demoted site --------------------------------------- */

/* Stop every running VM of one host: 0, or -1 if it did not answer. */
static int
fence_host(const char *host)
{
	char code[32], err[256];
	json_t *vms = NULL, *v;
	size_t i;
	int r = 0;

	if (agentc_call_timeout(host, "vm.list", json_object(), &vms, code, err, sizeof(err),
				CALL_MS) < 0)
		return -1;
	json_array_foreach(vms, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *state = json_string_value(json_object_get(v, "state")) ?: "";

		if (name == NULL || (strcmp(state, "running") != 0 && strcmp(state, "paused") != 0))
			continue;
		if (agentc_call_timeout(host, "vm.stop", json_pack("{s:s, s:b}", "name", name,
								   "force", 1),
					NULL, code, err, sizeof(err), 60 * 1000) < 0) {
			log_warnx("fence: %s on host %s did not stop: %s", name, host, err);
			r = -1;
		} else {
			log_warnx("fence: %s on host %s stopped (this site was demoted)", name,
				  host);
		}
	}
	json_decref(vms);
	return r;
}

void
drrecover_fence(void)
{
	json_t *hosts = store_host_list(), *h, *left = json_array();
	size_t i;
	int round;

	json_array_foreach(hosts, i, h) json_array_append(left, json_object_get(h, "id"));
	json_decref(hosts);
	for (round = 0; round < 120 && json_array_size(left) > 0; round++) {
		for (i = json_array_size(left); i-- > 0;)
			if (fence_host(json_string_value(json_array_get(left, i))) == 0)
				json_array_remove(left, i);
		if (json_array_size(left) > 0)
			sleep(5);
	}
	if (json_array_size(left) > 0)
		log_warnx("fence: %zu hosts of this site never answered", json_array_size(left));
	json_decref(left);
	store_thread_done();
}
