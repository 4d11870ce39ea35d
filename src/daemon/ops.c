/* ops.c - see ops.h */
#define _GNU_SOURCE
#include "ops.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentc.h"
#include "api_volume.h"
#include "netplan.h"
#include "log.h"
#include "store.h"
#include "store_volume.h"

#define QUEUE_MAX 4096
#define READY_TIMEOUT_S 300

static pthread_mutex_t q_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static char queue[QUEUE_MAX][STORE_ID_LEN];
static size_t q_head, q_len;
/* One reconciliation pass at a time (start-up and the periodic syncer). */
static pthread_mutex_t reconcile_mtx = PTHREAD_MUTEX_INITIALIZER;
static int nets_synced; /* under reconcile_mtx */

void
ops_submit(const char *op_id)
{
	pthread_mutex_lock(&q_mtx);
	if (q_len < QUEUE_MAX) {
		snprintf(queue[(q_head + q_len) % QUEUE_MAX], STORE_ID_LEN, "%s", op_id);
		q_len++;
		pthread_cond_signal(&q_cond);
	} else {
		log_warnx("ops: queue full, %s will fail", op_id);
		store_op_update(op_id, "failed", 0, "", "the operation queue is full");
	}
	pthread_mutex_unlock(&q_mtx);
}

struct run {
	const char *op_id, *vm_id, *tenant_id, *kind;
	char code[32];
	char err[512];
};

static void
progress(struct run *r, int pct, const char *msg)
{
	store_op_update(r->op_id, "running", pct, msg, "");
}

static int
finish(struct run *r, int rc)
{
	char action[32];

	snprintf(action, sizeof(action), "vm.%s", r->kind);
	if (rc == 0) {
		store_op_update(r->op_id, "succeeded", 100, "done", "");
		store_event("cloudletd", r->tenant_id, action, r->vm_id, "succeeded", r->op_id);
	} else {
		store_op_update(r->op_id, "failed", 100, "failed", r->err);
		store_event("cloudletd", r->tenant_id, action, r->vm_id, "failed", r->err);
		log_info("op %s (%s %s) failed: %s", r->op_id, r->kind, r->vm_id, r->err);
	}
	return rc;
}

static int
call(struct run *r, const char *op, json_t *args, json_t **res)
{
	return agentc_call(op, args, res, r->code, r->err, sizeof(r->err));
}

/* Copy the agent's view of a VM into the record. */
static void
record_view(const char *vm_id, const json_t *v, int ready_override)
{
	const char *state = json_string_value(json_object_get(v, "state"));

	store_vm_set_state(vm_id, state ? state : "error",
			   json_string_value(json_object_get(v, "reason")),
			   ready_override >= 0 ? ready_override
					       : json_is_true(json_object_get(v, "ready")),
			   json_string_value(json_object_get(v, "accel")),
			   json_is_true(json_object_get(v, "restart_required")));
	if (json_is_string(json_object_get(v, "provision")))
		store_vm_set_provision(vm_id, json_string_value(json_object_get(v, "provision")));
}

static int
wait_ready(struct run *r, int pct)
{
	json_t *v = NULL;
	int rc;

	progress(r, pct, "booting: waiting for the guest's readiness line");
	rc = call(r, "vm.wait",
		  json_pack("{s:s, s:s, s:i}", "name", r->vm_id, "for", "ready", "timeout_s",
			    READY_TIMEOUT_S),
		  &v);
	if (rc == 0)
		record_view(r->vm_id, v, 1);
	json_decref(v);
	return rc;
}

static int
do_create(struct run *r)
{
	struct vm_row row;
	json_t *args, *v = NULL;
	int rc;

	if ((rc = store_vm_row(r->vm_id, &row)) < 0) {
		snprintf(r->err, sizeof(r->err), "the VM record is gone");
		return rc;
	}
	progress(r, 10, "creating the root disk and starting the VM");
	args = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "name", row.id, "hostname",
			 row.name, "image", row.image, "vcpus", (json_int_t)row.vcpus,
			 "memory_mib", (json_int_t)row.memory_mib, "disk_gib",
			 (json_int_t)row.disk_gib);
	if (row.user_data != NULL)
		json_object_set_new(args, "user_data", json_string(row.user_data));
	free(row.user_data);
	/* Its networks (and the rules naming it) reach the host first. */
	json_object_set_new(args, "nics", netplan_agent_nics(row.tenant_id, row.id));
	/* The owner (a VM may only use its tenant's volumes) and its volumes. */
	json_object_set_new(args, "tenant", json_string(row.tenant_id));
	{
		json_t *vols = store_volume_of_vm(row.id);

		if (json_array_size(vols) > 0)
			json_object_set_new(args, "volumes", vols);
		else
			json_decref(vols);
	}
	if ((rc = netplan_sync(row.tenant_id, r->err, sizeof(r->err))) < 0) {
		json_decref(args);
		return rc;
	}
	rc = call(r, "vm.create", args, &v);
	if (rc == 0) {
		record_view(r->vm_id, v, 0);
		json_decref(v);
		rc = wait_ready(r, 50);
	}
	if (rc < 0) {
		/* All or nothing: no half-made VM stays behind. */
		char code[32], err[256];

		agentc_call("vm.delete", json_pack("{s:s}", "name", r->vm_id), NULL, code, err,
			    sizeof(err));
		store_vm_delete(r->vm_id);
	}
	return rc;
}

static int
do_simple(struct run *r, const json_t *args)
{
	json_t *v = NULL;
	int rc;

	if (strcmp(r->kind, "stop") == 0) {
		progress(r, 20, "stopping: power button, then forced after the timeout");
		rc = call(r, "vm.stop",
			  json_pack("{s:s, s:b}", "name", r->vm_id, "force",
				    json_is_true(json_object_get(args, "force"))),
			  &v);
		if (rc == 0)
			record_view(r->vm_id, v, 0);
		json_decref(v);
		return rc;
	}
	progress(r, 20, strcmp(r->kind, "start") == 0 ? "starting" : "rebooting");
	rc = call(r, strcmp(r->kind, "start") == 0 ? "vm.start" : "vm.reboot",
		  json_pack("{s:s}", "name", r->vm_id), &v);
	if (rc == 0)
		record_view(r->vm_id, v, 0);
	json_decref(v);
	return rc == 0 ? wait_ready(r, 50) : rc;
}

static int
do_reconfigure(struct run *r, const json_t *args)
{
	json_t *v = NULL, *change = json_deep_copy(json_object_get(args, "new"));
	int rc;

	progress(r, 30, "reconfiguring");
	json_object_set_new(change, "name", json_string(r->vm_id));
	rc = call(r, "vm.reconfigure", change, &v);
	if (rc == 0) {
		record_view(r->vm_id, v, -1);
	} else {
		/* The record took the new values with the quota check; undo. */
		json_t *old = json_object_get(args, "old");

		store_vm_set_spec(r->vm_id, json_integer_value(json_object_get(old, "vcpus")),
				  json_integer_value(json_object_get(old, "memory_mib")),
				  json_integer_value(json_object_get(old, "disk_gib")));
	}
	json_decref(v);
	return rc;
}

static int
do_delete(struct run *r)
{
	int rc;

	progress(r, 30, "stopping and deleting the VM and its disk");
	rc = call(r, "vm.delete", json_pack("{s:s}", "name", r->vm_id), NULL);
	if (rc == -EREMOTEIO && strcmp(r->code, "not_found") == 0)
		rc = 0;
	if (rc == 0) {
		struct vm_row row;
		char err[256];

		if (store_vm_row(r->vm_id, &row) == 0) {
			free(row.user_data);
			rc = store_vm_delete(r->vm_id);
			/* Its NICs, addresses' mappings and rules went with it. */
			if (rc == 0)
				netplan_sync(row.tenant_id, err, sizeof(err));
		} else
			rc = store_vm_delete(r->vm_id);
	}
	return rc;
}

static void
execute(const char *op_id)
{
	json_t *op = NULL, *args = NULL;
	struct run r;
	int rc;

	if (store_op_get(NULL, op_id, &op) < 0)
		return;
	memset(&r, 0, sizeof(r));
	r.op_id = op_id;
	r.vm_id = json_string_value(json_object_get(op, "vm_id"));
	r.tenant_id = json_string_value(json_object_get(op, "tenant_id"));
	r.kind = json_string_value(json_object_get(op, "kind"));
	if (r.vm_id == NULL || r.kind == NULL ||
	    strcmp(json_string_value(json_object_get(op, "state")), "pending") != 0) {
		json_decref(op);
		return;
	}
	store_op_args(op_id, &args);
	if (strcmp(r.kind, "create") == 0)
		rc = do_create(&r);
	else if (strcmp(r.kind, "reconfigure") == 0)
		rc = do_reconfigure(&r, args);
	else if (strcmp(r.kind, "delete") == 0)
		rc = do_delete(&r);
	else
		rc = do_simple(&r, args);
	if (rc < 0 && r.err[0] == '\0')
		snprintf(r.err, sizeof(r.err), "%s", strerror(-rc));
	finish(&r, rc);
	json_decref(args);
	json_decref(op);
}

static void *
worker(void *arg)
{
	(void)arg;
	for (;;) {
		char id[STORE_ID_LEN];

		pthread_mutex_lock(&q_mtx);
		while (q_len == 0)
			pthread_cond_wait(&q_cond, &q_mtx);
		snprintf(id, sizeof(id), "%s", queue[q_head]);
		q_head = (q_head + 1) % QUEUE_MAX;
		q_len--;
		pthread_mutex_unlock(&q_mtx);
		execute(id);
	}
	return NULL;
}

/* ---- reconciliation --------------------------------------------------- */

static int
is_ours(const char *name)
{
	return name != NULL && strncmp(name, "vm-", 3) == 0;
}

/*
 * Remove a VM from the host. The agent refuses while another operation on
 * it runs (a create that an earlier cloudletd started may still be making
 * its disk): wait for that, up to a minute.
 */
static void
agent_delete(const char *name)
{
	char code[32], err[256];
	int i, r;

	for (i = 0; i < 300; i++) {
		r = agentc_call("vm.delete", json_pack("{s:s}", "name", name), NULL, code, err,
				sizeof(err));
		if (r == 0 || (r == -EREMOTEIO && strcmp(code, "not_found") == 0))
			return;
		if (!(r == -EREMOTEIO && strcmp(code, "conflict") == 0))
			break;
		usleep(200000);
	}
	log_warnx("cannot delete %s from the host: %s", name, err);
}

static void
fail_interrupted(const json_t *op)
{
	const char *id = json_string_value(json_object_get(op, "id"));
	const char *kind = json_string_value(json_object_get(op, "kind"));
	const char *vm = json_string_value(json_object_get(op, "vm_id"));
	const char *tenant = json_string_value(json_object_get(op, "tenant_id"));
	const char *state = json_string_value(json_object_get(op, "state"));
	char msg[200], action[32];

	snprintf(action, sizeof(action), "vm.%s", kind);
	snprintf(msg, sizeof(msg), "interrupted: cloudletd restarted while the operation was %s",
		 state);
	if (strcmp(kind, "create") == 0) {
		agent_delete(vm);
		store_vm_delete(vm);
	} else if (strcmp(kind, "reconfigure") == 0) {
		const char *a = json_string_value(json_object_get(op, "args"));
		json_t *args = a ? json_loads(a, 0, NULL) : NULL;
		json_t *old = json_object_get(args, "old");

		if (old != NULL)
			store_vm_set_spec(vm, json_integer_value(json_object_get(old, "vcpus")),
					  json_integer_value(json_object_get(old, "memory_mib")),
					  json_integer_value(json_object_get(old, "disk_gib")));
		json_decref(args);
	} else if (strcmp(kind, "delete") == 0) {
		/* Back to what the host says; the customer can delete again. */
		store_vm_set_state(vm, "stopped", "delete interrupted", 0, "", 0);
	}
	store_op_update(id, "failed", 100, "failed", msg);
	store_event("cloudletd", tenant, action, vm, "failed", msg);
	log_info("op %s (%s %s): %s", id, kind, vm, msg);
}

int
ops_reconcile(int at_start)
{
	char code[32], err[512];
	json_t *agent_vms = NULL, *records, *v, *rec;
	size_t i, k;
	int rc;

	pthread_mutex_lock(&reconcile_mtx);
	if (at_start) {
		json_t *unfinished = store_op_unfinished(), *op;

		json_array_foreach(unfinished, i, op) fail_interrupted(op);
		json_decref(unfinished);
	}
	rc = agentc_call("vm.list", NULL, &agent_vms, code, err, sizeof(err));
	if (rc < 0) {
		pthread_mutex_unlock(&reconcile_mtx);
		if (at_start)
			log_warnx("reconcile: %s", err);
		return rc;
	}
	/* Once the agent answers, it gets every tenant's network state (it
	 * may have been restarted with an empty state directory). */
	if (!nets_synced) {
		json_t *tenants = store_tenant_list(), *t;

		json_array_foreach(tenants, i, t)
			netplan_sync(json_string_value(json_object_get(t, "id")), err, sizeof(err));
		json_decref(tenants);
		nets_synced = 1;
	}
	/* Records after the agent's list: a create in flight has its record first. */
	records = store_vm_list(NULL);

	json_array_foreach(agent_vms, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		int found = 0;

		if (!is_ours(name))
			continue;
		json_array_foreach(records, k, rec) if (strcmp(json_string_value(json_object_get(
								       rec, "id")),
							       name) == 0) found = 1;
		if (!found) {
			log_info("reconcile: VM %s on the host has no record: deleting it", name);
			agent_delete(name);
			store_event("cloudletd", NULL, "vm.orphan_deleted", name, "succeeded",
				    "a VM without a record was removed from the host");
		}
	}
	json_array_foreach(records, k, rec) {
		const char *id = json_string_value(json_object_get(rec, "id"));
		const char *state = json_string_value(json_object_get(rec, "state"));
		const char *tenant = json_string_value(json_object_get(rec, "tenant_id"));
		json_t *match = NULL;

		if (strcmp(state, "creating") == 0 || strcmp(state, "deleting") == 0 ||
		    store_vm_has_active_op(id))
			continue;
		json_array_foreach(agent_vms, i, v) if (strcmp(json_string_value(json_object_get(
								       v, "name")),
							       id) == 0) match = v;
		if (match == NULL) {
			log_info("reconcile: record %s has no VM on the host: removing it", id);
			store_vm_delete(id);
			store_event("cloudletd", tenant, "vm.lost", id, "failed",
				    "the host no longer has this VM; its record was removed");
			continue;
		}
		record_view(id, match, -1);
		store_vm_set_spec(id, json_integer_value(json_object_get(match, "vcpus")),
				  json_integer_value(json_object_get(match, "memory_mib")),
				  json_integer_value(json_object_get(match, "disk_gib")));
	}
	json_decref(records);
	json_decref(agent_vms);
	api_volume_pull_alerts();
	pthread_mutex_unlock(&reconcile_mtx);
	return 0;
}

static void *
syncer(void *arg)
{
	(void)arg;
	for (;;) {
		sleep(2);
		ops_reconcile(0);
	}
	return NULL;
}

int
ops_start(unsigned workers)
{
	pthread_t t;
	unsigned i;

	for (i = 0; i < workers; i++) {
		if (pthread_create(&t, NULL, worker, NULL) != 0)
			return -EAGAIN;
		pthread_detach(t);
	}
	if (pthread_create(&t, NULL, syncer, NULL) != 0)
		return -EAGAIN;
	pthread_detach(t);
	return 0;
}
