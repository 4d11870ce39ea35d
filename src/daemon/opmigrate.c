/* opmigrate.c - see opmigrate.h */
#define _GNU_SOURCE
#include "opmigrate.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agentc.h"
#include "http.h"
#include "log.h"
#include "netplan.h"
#include "store.h"
#include "store_host.h"
#include "util.h"

struct move {
	const char *op_id, *vm_id, *tenant_id, *src;
	char dst[STORE_ID_LEN];
	char code[32];
	char *err;
	size_t errlen;
	atomic_int sending; /* the progress thread runs while it is set */
};

static void
progress(const struct move *m, int pct, const char *msg)
{
	store_op_update(m->op_id, "running", pct, msg, "");
	http_wake();
}

static int
call(struct move *m, const char *host, const char *op, json_t *args, json_t **res,
     int idempotent)
{
	return agentc_call_retry(host, op, args, res, m->code, m->err, m->errlen, AGENTC_RETRY_MS,
				 idempotent);
}

/*
 * The source's agent dropped the send (it died or its answer was lost):
 * QEMU may still be sending, so the destination's incoming migration is
 * finished as soon as its QEMU says completed; while it says it is still
 * under way (conflict "has not completed (active)", setup, device, ...),
 * it is asked again, for at most FINISH_WAIT_MS. Aborting it instead could
 * kill the only running copy once it completes. 0 with *done, or -1.
 */
#define FINISH_WAIT_MS 120000

static int
finish_after_drop(struct move *m, const char *vm_id, json_t **done)
{
	static const char *const under_way[] = {"(setup)", "(active)", "(device)",
						"(pre-switchover)", "(wait-unplug)",
						"(postcopy-active)"};
	uint64_t until = util_now_ms() + FINISH_WAIT_MS;
	size_t i;

	for (;;) {
		if (call(m, m->dst, "vm.migrate.finish", json_pack("{s:s}", "name", vm_id), done,
			 1) == 0)
			return 0;
		for (i = 0; i < sizeof(under_way) / sizeof(under_way[0]); i++)
			if (strcmp(m->code, "conflict") == 0 && strstr(m->err, under_way[i]) != NULL)
				break;
		if (i == sizeof(under_way) / sizeof(under_way[0]) ||
		    util_now_ms() >= until)
			return -1;
		usleep(200000);
	}
}

/* While the send runs: the source's vm.migrate.status into the operation. */
static void *
watch(void *arg)
{
	struct move *m = arg;

	while (atomic_load(&m->sending)) {
		char code[32], err[128], msg[256];
		json_t *st = NULL, *ram, *mir;

		sleep(1);
		if (!atomic_load(&m->sending) ||
		    agentc_call_timeout(m->src, "vm.migrate.status",
					json_pack("{s:s}", "name", m->vm_id), &st, code, err,
					sizeof(err), 2000) < 0)
			continue;
		ram = json_object_get(st, "ram");
		mir = json_object_get(st, "mirror");
		snprintf(msg, sizeof(msg),
			 "%s: disk %lld of %lld MiB, RAM %lld MiB sent, %lld MiB left, dirty %lld "
			 "KiB/s",
			 json_string_value(json_object_get(st, "status")) ?: "?",
			 (long long)(json_integer_value(json_object_get(mir, "offset")) >> 20),
			 (long long)(json_integer_value(json_object_get(mir, "len")) >> 20),
			 (long long)(json_integer_value(json_object_get(ram, "transferred")) >> 20),
			 (long long)(json_integer_value(json_object_get(ram, "remaining")) >> 20),
			 (long long)(json_integer_value(json_object_get(ram, "dirty_rate_bytes")) >>
				     10));
		if (atomic_load(&m->sending))
			progress(m, 50, msg);
		json_decref(st);
	}
	return NULL;
}

/* The destination: the one asked for, or placement's without the VM's host. */
static int
choose(struct move *m, const json_t *args)
{
	const char *want = json_string_value(json_object_get(args, "host"));
	struct vm_row row;
	int r;

	if (want != NULL && want[0] != '\0') {
		snprintf(m->dst, sizeof(m->dst), "%s", want);
		return 0;
	}
	if ((r = store_vm_row(m->vm_id, &row)) < 0) {
		snprintf(m->err, m->errlen, "the VM record is gone");
		return r;
	}
	store_vm_row_free(&row);
	r = store_host_place(&(struct place_req){row.vcpus, row.memory_mib, row.disk_gib,
						 row.tenant_id, row.group_name, row.anti_affinity,
						 row.image, m->src},
			     m->dst, sizeof(m->dst), m->err, m->errlen);
	if (r < 0)
		snprintf(m->err, m->errlen, "no other host can take the VM");
	return r;
}

/*
 * The VM's attached volumes as the destination's prepare needs them:
 * [{name, size, redundancy, allocated}] from the source's pool (a
 * volume's id is its name there).
 */
static int
volumes_of(struct move *m, const json_t *view, json_t **out)
{
	json_t *names = json_object_get(view, "volumes"), *name;
	size_t i;

	*out = json_array();
	json_array_foreach(names, i, name) {
		json_t *v = NULL;
		int r = call(m, m->src, "volume.show",
			     json_pack("{s:O, s:O}", "tenant", json_object_get(view, "tenant"),
				       "name", name),
			     &v, 1);

		if (r < 0) {
			json_decref(*out);
			*out = NULL;
			return r;
		}
		json_array_append_new(
		    *out, json_pack("{s:O, s:O, s:O, s:O}", "name", name, "size",
				    json_object_get(v, "size"), "redundancy",
				    json_object_get(v, "redundancy"), "allocated",
				    json_object_get(v, "allocated_bytes")));
		json_decref(v);
	}
	return 0;
}

/* Send on the source with progress; -errno as the send's. */
static int
send_vm(struct move *m, const json_t *prep, int live, json_int_t downtime, json_int_t bw_mib,
	json_t **sent)
{
	json_t *args;
	pthread_t t;
	int watching, r;

	atomic_store(&m->sending, 1);
	watching = pthread_create(&t, NULL, watch, m) == 0;
	/* Not retried: a send that dropped may have moved the VM; the
	 * destination's view says which (below). */
	args = json_pack("{s:s, s:O, s:O, s:O, s:b, s:I}", "name", m->vm_id, "nbd",
			 json_object_get(prep, "nbd"), "uri", json_object_get(prep, "uri"), "tls",
			 json_object_get(prep, "tls"), "live", live, "downtime_ms", downtime);
	if (bw_mib > 0)
		json_object_set_new(args, "max_bandwidth", json_integer(bw_mib << 20));
	r = agentc_call(m->src, "vm.migrate.send", args, sent, m->code, m->err, m->errlen);
	atomic_store(&m->sending, 0);
	if (watching)
		pthread_join(t, NULL);
	return r;
}

int
opmigrate_run(const char *op_id, const char *vm_id, const char *tenant_id, const char *src_host,
	      const json_t *args, json_t **extra, char *err, size_t errlen)
{
	struct move m = {op_id, vm_id, tenant_id, src_host, "", "", err, errlen, 0};
	json_t *view = NULL, *prep = NULL, *sent = NULL, *done = NULL, *vols = NULL;
	int live = json_is_true(json_object_get(args, "live")), r;
	json_int_t downtime = json_integer_value(json_object_get(args, "downtime_ms"));
	char why[256];

	/* A move a previous cloudletd left half-way (resumed): where is the
	 * VM? Moved already: only the record is left to do. */
	store_vm_migrating_to(vm_id, m.dst, sizeof(m.dst));
	if (m.dst[0] != '\0') {
		if (agentc_call(m.dst, "vm.show", json_pack("{s:s}", "name", vm_id), &done, m.code,
				why, sizeof(why)) == 0 &&
		    json_is_null(json_object_get(done, "migration"))) {
			log_info("op %s: %s is on %s already: recording the move", op_id, vm_id,
				 m.dst);
			goto moved;
		}
		json_decref(done);
		done = NULL;
		agentc_call_retry(m.dst, "vm.migrate.abort", json_pack("{s:s}", "name", vm_id), NULL,
				  m.code, why, sizeof(why), AGENTC_RETRY_MS, 1);
		store_vm_migrating(vm_id, NULL);
		m.dst[0] = '\0';
	}
	if ((r = choose(&m, args)) < 0)
		return r;
	progress(&m, 5, "sending the tenant's networks to the destination");
	store_vm_migrating(vm_id, m.dst);
	if ((r = netplan_sync(tenant_id, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "the tenant's networks: %s", why);
		goto undo;
	}
	if ((r = call(&m, src_host, "vm.show", json_pack("{s:s}", "name", vm_id), &view, 1)) < 0)
		goto undo;
	if (strcmp(json_string_value(json_object_get(view, "state")) ?: "", "running") != 0)
		live = 0; /* stopped since: cold */
	progress(&m, 10, live ? "preparing the destination (live)" : "preparing the destination (cold)");
	if ((r = volumes_of(&m, view, &vols)) < 0)
		goto undo;
	r = call(&m, m.dst, "vm.migrate.prepare",
		 json_pack("{s:O, s:O, s:b, s:b, s:b, s:o}", "spec", view, "id",
			   json_object_get(view, "id"), "live", live, "ready",
			   json_is_true(json_object_get(view, "ready")), "from_template",
			   json_is_true(json_object_get(json_object_get(view, "booted"),
							"from_template")),
			   "volumes", vols),
		 &prep, 0);
	if (r < 0)
		goto abort;
	progress(&m, 20, live ? "moving the disk and the memory" : "copying the disk");
	if ((r = send_vm(&m, prep, live, downtime > 0 ? downtime : 100,
			 json_integer_value(json_object_get(args, "max_bandwidth_mib")), &sent)) < 0) {
		/* Dropped: did the destination get it all the same? */
		if (strcmp(m.code, "dropped") != 0)
			goto abort;
		if (finish_after_drop(&m, vm_id, &done) < 0) {
			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen,
				 "the source's agent dropped the send and the destination has not "
				 "got the VM (%s): it stays on the source",
				 why);
			goto abort;
		}
		err[0] = '\0';
	}
	progress(&m, 90, "switching over");
	if (done == NULL &&
	    (r = call(&m, m.dst, "vm.migrate.finish", json_pack("{s:s}", "name", vm_id), &done, 1)) <
		    0) {
		/* The guest runs there now (the send completed): the record
		 * follows it, the finish is the reconciliation's to retry. */
		log_warnx("op %s: %s moved to %s but finish failed: %s", op_id, vm_id, m.dst, err);
	}
moved:
	store_vm_moved(vm_id, m.dst);
	if (done != NULL)
		store_vm_set_state(vm_id, json_string_value(json_object_get(done, "state")) ?: "running",
				   "", json_is_true(json_object_get(done, "ready")),
				   json_string_value(json_object_get(done, "accel")), 0);
	if (netplan_sync(tenant_id, why, sizeof(why)) < 0) {
		log_info("op %s: networks after the move: %s (reconciliation sends them)", op_id, why);
		netplan_mark_dirty();
	}
	log_info("op %s: %s moved %s from %s to %s (%lld ms, QEMU downtime %lld ms)", op_id, vm_id,
		 live ? "live" : "cold", src_host, m.dst,
		 (long long)json_integer_value(json_object_get(sent, "elapsed_ms")),
		 (long long)json_integer_value(
			 json_object_get(json_object_get(sent, "qemu"), "downtime_ms")));
	if (sent != NULL && extra != NULL)
		*extra = json_pack("{s:O*, s:O*}", "migration_ms", json_object_get(sent, "elapsed_ms"),
				   "qemu_downtime_ms",
				   json_object_get(json_object_get(sent, "qemu"), "downtime_ms"));
	r = 0;
	goto out;
abort:
	{
		char code[32], e2[128];

		agentc_call_retry(m.dst, "vm.migrate.abort", json_pack("{s:s}", "name", vm_id), NULL,
				  code, e2, sizeof(e2), AGENTC_RETRY_MS, 1);
	}
undo:
	store_vm_migrating(vm_id, NULL);
	netplan_sync(tenant_id, why, sizeof(why));
out:
	json_decref(view);
	json_decref(prep);
	json_decref(sent);
	json_decref(done);
	return r;
}
