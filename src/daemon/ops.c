/* ops.c - see ops.h */
#define _GNU_SOURCE
#include "ops.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentc.h"
#include "api_ids.h"
#include "api_volume.h"
#include "http.h"
#include "images.h"
#include "netplan.h"
#include "opmigrate.h"
#include "log.h"
#include "store.h"
#include "store_host.h"
#include "store_lease.h"
#include "store_net.h"
#include "store_volume.h"
#include "util.h"

#define QUEUE_MAX 4096
#define READY_TIMEOUT_S 300
/* A create that finds its VM half-made on the host makes it again, this often. */
#define CREATE_ATTEMPTS 3
/* How long reconciliation waits for a host's VM list. */
#define RECONCILE_LIST_MS 10000

static pthread_mutex_t q_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct queued {
	char id[STORE_ID_LEN];
	uint64_t request_us, submit_us;
} queue[QUEUE_MAX];
static size_t q_head, q_len;
static unsigned n_workers, n_idle; /* under q_mtx */
/* One reconciliation pass at a time (start-up and the periodic syncer). */
static pthread_mutex_t reconcile_mtx = PTHREAD_MUTEX_INITIALIZER;
static int nets_synced;	 /* under reconcile_mtx */
static int ops_resumed; /* under reconcile_mtx */

static void *worker(void *arg);

uint64_t
ops_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Under q_mtx: one more worker (0), or -EAGAIN. */
static int
add_worker(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, worker, NULL) != 0)
		return -EAGAIN;
	pthread_detach(t);
	n_workers++;
	n_idle++;
	return 0;
}

void
ops_submit(const char *op_id, uint64_t request_us)
{
	pthread_mutex_lock(&q_mtx);
	if (q_len < QUEUE_MAX) {
		struct queued *q = &queue[(q_head + q_len) % QUEUE_MAX];

		snprintf(q->id, sizeof(q->id), "%s", op_id);
		q->request_us = request_us;
		q->submit_us = ops_now_us();
		q_len++;
		/* Every worker busy (waiting for a guest, an agent that restarts):
		 * one more, rather than a queue. Not before ops_start. */
		if (n_workers > 0 && q_len > n_idle && n_workers < OPS_WORKERS_MAX &&
		    add_worker() == 0)
			log_debug("ops: %u workers (all were busy)", n_workers);
		pthread_cond_signal(&q_cond);
	} else {
		log_warnx("ops: queue full, %s will fail", op_id);
		store_op_update(op_id, "failed", 0, "", "the operation queue is full");
	}
	pthread_mutex_unlock(&q_mtx);
}

/* Microseconds at each step of an operation (0: not reached). */
enum step { T_REQUEST, T_SUBMIT, T_PICKED, T_AGENT, T_CREATED, T_NETWORK, T_READY, T_END, T_N };

struct run {
	const char *op_id, *vm_id, *tenant_id, *kind;
	char host[STORE_ID_LEN]; /* the VM's host: every agent call goes there */
	char code[32];
	char err[512];
	uint64_t t[T_N];
	int resumed;
	json_t *extra; /* more for the timing (a migration's figures) */
};

static void
mark(struct run *r, enum step s)
{
	r->t[s] = ops_now_us();
}

/* The steps' durations into the operation ("timing") and, with -v, the log. */
static void
record_timing(struct run *r)
{
	static const struct {
		const char *key;
		enum step from, to;
	} spans[] = {
		{"api_us", T_REQUEST, T_SUBMIT},     /* HTTP request to the operation queued */
		{"queue_us", T_SUBMIT, T_PICKED},    /* to a worker */
		{"prepare_us", T_PICKED, T_AGENT},   /* the worker reads the record */
		{"agent_create_us", T_AGENT, T_CREATED}, /* vm.create on the agent */
		{"network_us", T_CREATED, T_NETWORK},    /* net.apply: the VM's rules */
		{"guest_us", T_NETWORK, T_READY},        /* then until the guest is ready */
		{"finish_us", T_READY, T_END},           /* recording the outcome */
	};
	json_t *j = json_object();
	char line[512];
	size_t i, off = 0;
	uint64_t first = r->t[T_REQUEST] ? r->t[T_REQUEST] : r->t[T_SUBMIT];

	for (i = 0; i < sizeof(spans) / sizeof(spans[0]); i++) {
		uint64_t a = r->t[spans[i].from], b = r->t[spans[i].to];

		if (a == 0 || b == 0 || b < a)
			continue;
		json_object_set_new(j, spans[i].key, json_integer((json_int_t)(b - a)));
		if (off < sizeof(line))
			off += (size_t)snprintf(line + off, sizeof(line) - off, " %.*s %.1f ms",
						(int)(strlen(spans[i].key) - 3), spans[i].key,
						(double)(b - a) / 1000.0);
	}
	if (first != 0 && r->t[T_END] >= first)
		json_object_set_new(j, "total_us", json_integer((json_int_t)(r->t[T_END] - first)));
	if (r->resumed)
		json_object_set_new(j, "resumed", json_true());
	if (r->extra != NULL)
		json_object_update(j, r->extra);
	store_op_set_timing(r->op_id, j);
	json_decref(j);
	log_debug("op %s (%s %s):%s, total %.1f ms", r->op_id, r->kind, r->vm_id,
		  off ? line : " -", first ? (double)(r->t[T_END] - first) / 1000.0 : 0.0);
}

static void
progress(struct run *r, int pct, const char *msg)
{
	store_op_update(r->op_id, "running", pct, msg, "");
	http_wake(); /* GET /v1/operations/{id}?wait */
}

static int
finish(struct run *r, int rc)
{
	char action[32];

	mark(r, T_END);
	record_timing(r);
	snprintf(action, sizeof(action), "vm.%s", r->kind);
	if (rc == 0) {
		store_op_update(r->op_id, "succeeded", 100, "done", "");
		store_event("cloudletd", r->tenant_id, action, r->vm_id, "succeeded", r->op_id);
	} else {
		store_op_update(r->op_id, "failed", 100, "failed", r->err);
		store_event("cloudletd", r->tenant_id, action, r->vm_id, "failed", r->err);
		log_info("op %s (%s %s) failed: %s", r->op_id, r->kind, r->vm_id, r->err);
	}
	http_wake();
	return rc;
}

/* An agent call of this operation, waiting for an agent that restarts. */
static int
call(struct run *r, const char *op, json_t *args, json_t **res, int idempotent)
{
	return agentc_call_retry(r->host, op, args, res, r->code, r->err, sizeof(r->err),
				 AGENTC_RETRY_MS, idempotent);
}

static int
is_code(int rc, const char *code, const char *want)
{
	return rc == -EREMOTEIO && strcmp(code, want) == 0;
}

/* The agent's view of the operation's VM (waits for the agent). */
static int
show(struct run *r, json_t **v)
{
	return call(r, "vm.show", json_pack("{s:s}", "name", r->vm_id), v, 1);
}

static const char *
state_of(const json_t *v)
{
	const char *s = json_string_value(json_object_get(v, "state"));

	return s ? s : "";
}

static int
is_up(const json_t *v)
{
	return strcmp(state_of(v), "running") == 0 || strcmp(state_of(v), "paused") == 0;
}

static int
is_down(const json_t *v)
{
	return strcmp(state_of(v), "stopped") == 0 || strcmp(state_of(v), "crashed") == 0;
}

/* Keep the first error of a step while later calls look around. */
struct saved {
	int rc;
	char code[32], err[512];
};

static void
save_err(const struct run *r, int rc, struct saved *s)
{
	s->rc = rc;
	snprintf(s->code, sizeof(s->code), "%s", r->code);
	snprintf(s->err, sizeof(s->err), "%s", r->err);
}

static int
restore_err(struct run *r, const struct saved *s)
{
	snprintf(r->code, sizeof(r->code), "%s", s->code);
	snprintf(r->err, sizeof(r->err), "%s", s->err);
	return s->rc;
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

/* A VM's record goes (its NICs, rules and forwards with it), then the
 * host's network state follows. */
static int
remove_record(const char *vm_id, const char *tenant_id)
{
	char err[512];
	int rc = store_vm_delete(vm_id);

	if (rc == 0 && tenant_id != NULL)
		netplan_sync_shared(tenant_id, ops_now_us(), AGENTC_RETRY_MS, err, sizeof(err));
	return rc;
}

/* The same, by reconciliation, with its audit event (before the network
 * update, so the event is there once the record is gone). */
static void
reconcile_remove(const char *vm_id, const char *tenant_id, const char *action,
		 const char *outcome, const char *detail)
{
	char err[512];

	if (store_vm_delete(vm_id) < 0)
		return;
	store_event("cloudletd", tenant_id, action, vm_id, outcome, detail);
	if (tenant_id != NULL)
		netplan_sync_shared(tenant_id, ops_now_us(), 0, err, sizeof(err));
}

static int
wait_ready(struct run *r, int pct)
{
	json_t *v = NULL;
	int rc;

	progress(r, pct, "booting: waiting for the guest's readiness line");
	/* Only reads: asked again after an agent restart (QEMU runs on). */
	rc = call(r, "vm.wait",
		  json_pack("{s:s, s:s, s:i}", "name", r->vm_id, "for", "ready", "timeout_s",
			    READY_TIMEOUT_S),
		  &v, 1);
	if (rc == 0)
		record_view(r->vm_id, v, 1);
	json_decref(v);
	return rc;
}

/* ---- create ------------------------------------------------------------- */

static json_t *
create_args(const struct vm_row *row)
{
	json_t *args, *vols;

	args = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "name", row->id, "hostname", row->name,
			 "image", row->image, "vcpus", (json_int_t)row->vcpus, "memory_mib",
			 (json_int_t)row->memory_mib, "disk_gib", (json_int_t)row->disk_gib);
	if (row->user_data != NULL)
		json_object_set_new(args, "user_data", json_string(row->user_data));
	if (row->ssh_keys != NULL) /* the seed's public-keys (docs/guest.md) */
		json_object_set_new(args, "ssh_keys", json_loads(row->ssh_keys, 0, NULL));
	json_object_set_new(args, "nics", netplan_agent_nics(row->tenant_id, row->id));
	/* The owner (a VM may only use its tenant's volumes) and its volumes. */
	json_object_set_new(args, "tenant", json_string(row->tenant_id));
	vols = store_volume_of_vm(row->id);
	if (json_array_size(vols) > 0)
		json_object_set_new(args, "volumes", vols);
	else
		json_decref(vols);
	return args;
}

json_t *
ops_vm_spec(const char *vm_id)
{
	struct vm_row row;
	json_t *spec, *macs, *n;
	size_t i;

	if (store_vm_row(vm_id, &row) < 0)
		return NULL;
	spec = create_args(&row);
	store_vm_row_free(&row);
	/* The MACs it was given (a create leaves them to the agent). */
	macs = store_vm_nics(vm_id);
	json_array_foreach(macs, i, n) {
		const char *mac = json_string_value(json_object_get(n, "mac"));

		if (mac != NULL && mac[0] != '\0' &&
		    json_array_get(json_object_get(spec, "nics"), i) != NULL)
			json_object_set_new(json_array_get(json_object_get(spec, "nics"), i), "mac",
					    json_string(mac));
	}
	json_decref(macs);
	return spec;
}

/*
 * The VM on the host: made now, or the one an earlier attempt made (a call
 * whose connection dropped, a create a previous cloudletd was running: the
 * agent then answers "conflict", the name being taken). Its state decides:
 * running, it is ours; still being made, wait for it; made but not running
 * (the agent was stopped between its record and its start), it is removed
 * and made again. 0 and its view in *view.
 */
static int
ensure_created(struct run *r, json_t *args, json_t **view)
{
	int attempt, rc = -EIO;

	for (attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
		struct saved first;
		json_t *v = NULL;

		rc = call(r, "vm.create", json_incref(args), &v, 0);
		if (rc == 0) {
			*view = v;
			return 0;
		}
		if (strcmp(r->code, "dropped") != 0 && !is_code(rc, r->code, "conflict"))
			return rc;
		save_err(r, rc, &first);
		rc = show(r, &v);
		if (is_code(rc, r->code, "not_found")) {
			if (strcmp(first.code, "conflict") == 0)
				return restore_err(r, &first); /* a conflict about something else */
			log_info("op %s: the agent did not make %s before its connection dropped: "
				 "creating it again",
				 r->op_id, r->vm_id);
			continue;
		}
		if (rc < 0)
			return rc;
		if (json_is_true(json_object_get(v, "busy")) && !is_up(v)) {
			/* An earlier create is still making it. */
			json_decref(v);
			v = NULL;
			rc = call(r, "vm.wait",
				  json_pack("{s:s, s:s, s:i}", "name", r->vm_id, "for", "running",
					    "timeout_s", 120),
				  &v, 1);
			if (is_code(rc, r->code, "not_found"))
				continue; /* it failed there and was removed */
		}
		if (v != NULL && is_up(v)) {
			log_info("op %s: %s is on the host already (%s): carrying on with it",
				 r->op_id, r->vm_id, state_of(v));
			*view = v;
			return 0;
		}
		log_info("op %s: %s is on the host but %s (cut off while being made): "
			 "making it again",
			 r->op_id, r->vm_id, v ? state_of(v) : "not running");
		json_decref(v);
		rc = call(r, "vm.delete", json_pack("{s:s}", "name", r->vm_id), NULL, 1);
		if (rc < 0 && !is_code(rc, r->code, "not_found"))
			return rc;
	}
	if (rc == 0 || r->err[0] == '\0')
		snprintf(r->err, sizeof(r->err), "the host did not create the VM in %d attempts",
			 CREATE_ATTEMPTS);
	return rc < 0 ? rc : -EIO;
}

/*
 * The tenant's network state with this VM's rules (its service's ports),
 * after the VM is made: vm.create itself puts the NIC on the tenant's
 * network, in its anti-spoofing set and DHCP leases, and until its rules
 * arrive the VM only has the firewall's default (nothing inbound).
 * Concurrent creates of a tenant share one net.apply (netplan_sync_shared).
 */
static int
sync_vm_network(struct run *r, const char *tenant_id, uint64_t changed_us)
{
	return netplan_sync_shared(tenant_id, changed_us, AGENTC_RETRY_MS, r->err, sizeof(r->err));
}

/* The MACs the host gave the VM's NICs (the home host's DHCP leases for
 * VMs on other hosts, store_tenant_remote_ports). */
static void
record_macs(const char *vm_id, const json_t *v)
{
	json_t *nics = json_object_get(v, "nics"), *n;
	size_t i;

	if (!json_is_array(nics))
		nics = json_object_get(json_object_get(v, "spec"), "nics");
	json_array_foreach(nics, i, n) {
		const char *mac = json_string_value(json_object_get(n, "mac"));

		if (mac != NULL)
			store_nic_set_mac(vm_id, (int)i, mac);
	}
}

/* Has the host been sent the tenant's networks? */
static int
tenant_on_host(const char *tenant_id, const char *host_id)
{
	json_t *hosts = store_tenant_applied_hosts(tenant_id), *h;
	size_t i;
	int found = 0;

	json_array_foreach(hosts, i, h) found |= strcmp(json_string_value(h), host_id) == 0;
	json_decref(hosts);
	return found;
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
	args = create_args(&row);
	store_vm_row_free(&row);
	if (!tenant_on_host(row.tenant_id, row.host_id)) {
		/* The first VM of the tenant on this host: its networks first. */
		progress(r, 5, "setting up the tenant's networks on the host");
		if ((rc = sync_vm_network(r, row.tenant_id, ops_now_us())) < 0) {
			json_decref(args);
			remove_record(r->vm_id, row.tenant_id);
			return rc;
		}
	}
	progress(r, 10, "creating the root disk and starting the VM");
	mark(r, T_AGENT);
	rc = ensure_created(r, args, &v);
	if (is_code(rc, r->code, "invalid")) {
		/* Its network may be missing on the host (an agent that lost its
		 * state): the tenant's state, then once more. */
		struct saved refused;

		save_err(r, rc, &refused);
		if (sync_vm_network(r, row.tenant_id, ops_now_us()) == 0) {
			log_info("op %s: vm.create refused (%s): sent the tenant's networks, "
				 "trying again",
				 r->op_id, refused.err);
			rc = ensure_created(r, args, &v);
		} else
			rc = restore_err(r, &refused);
	}
	json_decref(args);
	mark(r, T_CREATED);
	if (rc == 0) {
		record_view(r->vm_id, v, 0);
		record_macs(r->vm_id, v);
		json_decref(v);
		uint64_t since = r->t[T_SUBMIT];
		char home[STORE_ID_LEN] = "";

		progress(r, 40, "opening the VM's service ports");
		/* The API stored its NICs and rules before it queued the operation;
		 * away from the tenant's home host, the home's DHCP also needs the
		 * MACs recorded just now. */
		store_tenant_home(row.tenant_id, home, sizeof(home));
		if (strcmp(home, row.host_id) != 0)
			since = ops_now_us();
		rc = sync_vm_network(r, row.tenant_id, since);
		mark(r, T_NETWORK);
		if (rc == 0) {
			rc = wait_ready(r, 50);
			mark(r, T_READY);
		}
	}
	if (rc < 0) {
		/* All or nothing: no half-made VM stays behind, on the host or here. */
		char code[32], err[256];
		int d = agentc_call_retry(r->host, "vm.delete",
					  json_pack("{s:s}", "name", r->vm_id), NULL, code, err,
					  sizeof(err), AGENTC_RETRY_MS, 1);

		if (d < 0 && !is_code(d, code, "not_found"))
			log_warnx("op %s: cannot remove %s from the host (%s); reconciliation "
				  "will, once the agent answers",
				  r->op_id, r->vm_id, err);
		remove_record(r->vm_id, row.tenant_id);
	}
	return rc;
}

/* ---- start, stop, reboot -------------------------------------------------- */

static int
do_power(struct run *r, const json_t *args)
{
	int stop = strcmp(r->kind, "stop") == 0, start = strcmp(r->kind, "start") == 0;
	char since[32];
	json_t *v = NULL;
	int attempt, rc = -EIO;

	/* A start after this moment is this operation's (the agent's times are seconds). */
	util_rfc3339(since, sizeof(since));
	for (attempt = 0; attempt < 3; attempt++) {
		const char *started;
		struct saved first;

		if (stop) {
			progress(r, 20, "stopping: power button, then forced after the timeout");
			rc = call(r, "vm.stop",
				  json_pack("{s:s, s:b}", "name", r->vm_id, "force",
					    json_is_true(json_object_get(args, "force"))),
				  &v, 0);
		} else {
			progress(r, 20, start ? "starting" : "rebooting");
			rc = call(r, start ? "vm.start" : "vm.reboot",
				  json_pack("{s:s}", "name", r->vm_id), &v, 0);
		}
		if (rc == 0)
			break;
		/* Dropped (it may have happened) or refused for the VM's state:
		 * the agent's view says whether there is anything left to do. */
		if (strcmp(r->code, "dropped") != 0 && !is_code(rc, r->code, "conflict"))
			return rc;
		save_err(r, rc, &first);
		if ((rc = show(r, &v)) < 0)
			return rc;
		started = json_string_value(json_object_get(v, "started_at"));
		if (stop ? is_down(v)
			 : is_up(v) && (start || (started != NULL && strcmp(started, since) >= 0))) {
			rc = 0;
			break;
		}
		if (!stop && !start && is_down(v))
			start = 1; /* the reboot stopped it and got no further */
		json_decref(v);
		v = NULL;
		if (strcmp(first.code, "dropped") != 0)
			return restore_err(r, &first);
	}
	if (rc < 0)
		return rc;
	record_view(r->vm_id, v, 0);
	json_decref(v);
	return stop ? 0 : wait_ready(r, 50);
}

/* ---- reconfigure, delete -------------------------------------------------- */

static int
do_reconfigure(struct run *r, const json_t *args)
{
	json_t *v = NULL, *change = json_deep_copy(json_object_get(args, "new"));
	int rc;

	progress(r, 30, "reconfiguring");
	json_object_set_new(change, "name", json_string(r->vm_id));
	/* Absolute values: sending them twice is harmless. */
	rc = call(r, "vm.reconfigure", change, &v, 1);
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
	struct saved failed;
	json_t *v = NULL;
	int rc;

	progress(r, 30, "stopping and deleting the VM and its disk");
	/* Deleting twice is harmless: not_found (also after a retry) is done. */
	rc = call(r, "vm.delete", json_pack("{s:s}", "name", r->vm_id), NULL, 1);
	if (rc == 0 || is_code(rc, r->code, "not_found"))
		return remove_record(r->vm_id, r->tenant_id);
	/* Not deleted: the record leaves "deleting" for what the host says. */
	save_err(r, rc, &failed);
	rc = agentc_call_retry(r->host, "vm.show", json_pack("{s:s}", "name", r->vm_id), &v,
			       r->code, r->err, sizeof(r->err), 0, 1);
	if (rc == 0)
		record_view(r->vm_id, v, -1);
	else if (is_code(rc, r->code, "not_found"))
		return remove_record(r->vm_id, r->tenant_id); /* gone after all */
	else
		store_vm_set_state(r->vm_id, "error",
				   "the host agent did not answer; the state follows the host's "
				   "once it does",
				   0, "", 0);
	json_decref(v);
	return restore_err(r, &failed);
}

static void
execute(const struct queued *q, uint64_t picked_us)
{
	const char *op_id = q->id;
	json_t *op = NULL, *args = NULL;
	struct run r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.t[T_REQUEST] = q->request_us;
	r.t[T_SUBMIT] = q->submit_us;
	r.t[T_PICKED] = picked_us;
	if (store_op_get(NULL, op_id, &op) < 0)
		return;
	r.op_id = op_id;
	r.resumed = q->request_us == 0;
	r.vm_id = json_string_value(json_object_get(op, "vm_id"));
	r.tenant_id = json_string_value(json_object_get(op, "tenant_id"));
	r.kind = json_string_value(json_object_get(op, "kind"));
	/* Only an operation this instance holds (store_lease.h): another
	 * cloudletd on the same database may have taken it. */
	if (r.vm_id == NULL || r.kind == NULL ||
	    strcmp(json_string_value(json_object_get(op, "state")), "pending") != 0 ||
	    store_op_claim(op_id) != 1) {
		json_decref(op);
		return;
	}
	store_op_args(op_id, &args);
	/* Every agent call of this operation goes to the VM's host. */
	if (store_vm_host(r.vm_id, r.host, sizeof(r.host)) < 0 || r.host[0] == '\0')
		snprintf(r.host, sizeof(r.host), "%s", HOST_LOCAL);
	if (strcmp(r.kind, "create") == 0)
		rc = do_create(&r);
	else if (strcmp(r.kind, "reconfigure") == 0)
		rc = do_reconfigure(&r, args);
	else if (strcmp(r.kind, "delete") == 0)
		rc = do_delete(&r);
	else if (strcmp(r.kind, "migrate") == 0)
		rc = opmigrate_run(r.op_id, r.vm_id, r.tenant_id, r.host, args, &r.extra, r.err,
				   sizeof(r.err));
	else
		rc = do_power(&r, args);
	if (rc < 0 && r.err[0] == '\0')
		snprintf(r.err, sizeof(r.err), "%s", strerror(-rc));
	if (rc < 0 && strcmp(r.kind, "create") != 0 && strcmp(r.kind, "delete") != 0) {
		/* Failed half-way (a guest that crashed while booting, ...): the
		 * record shows what the host has now, not what was hoped for. */
		char code[32], err[256];
		json_t *v = NULL;

		if (agentc_call(r.host, "vm.show", json_pack("{s:s}", "name", r.vm_id), &v, code,
				err, sizeof(err)) == 0)
			record_view(r.vm_id, v, -1);
		json_decref(v);
	}
	finish(&r, rc);
	json_decref(r.extra);
	json_decref(args);
	json_decref(op);
}

static void *
worker(void *arg)
{
	(void)arg;
	for (;;) {
		struct queued q;
		uint64_t picked;

		pthread_mutex_lock(&q_mtx);
		while (q_len == 0)
			pthread_cond_wait(&q_cond, &q_mtx);
		picked = ops_now_us();
		q = queue[q_head];
		q_head = (q_head + 1) % QUEUE_MAX;
		q_len--;
		n_idle--;
		pthread_mutex_unlock(&q_mtx);
		execute(&q, picked);
		pthread_mutex_lock(&q_mtx);
		n_idle++;
		pthread_mutex_unlock(&q_mtx);
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
 * it runs: wait for that, up to a minute. 1 if it was there and is gone, 0
 * if it was not there, -1 if it could not be removed.
 */
static int
agent_delete(const char *host, const char *name)
{
	char code[32], err[256];
	int i, r;

	for (i = 0; i < 300; i++) {
		r = agentc_call(host, "vm.delete", json_pack("{s:s}", "name", name), NULL, code,
				err, sizeof(err));
		if (r == 0)
			return 1;
		if (is_code(r, code, "not_found"))
			return 0;
		if (!is_code(r, code, "conflict"))
			break;
		usleep(200000);
	}
	log_warnx("cannot delete %s from the host: %s", name, err);
	return -1;
}

/*
 * Operations a cloudletd that stopped left pending or running run again:
 * at start (on SQLite all of them: the previous process is gone), and
 * from the leaser those of another cloudletd on the same database whose
 * lease ran out (store_lease.h).
 */
static void
resume_unfinished(int at_start)
{
	json_t *unfinished = store_op_take_expired(at_start), *op;
	size_t i;

	json_array_foreach(unfinished, i, op) {
		const char *id = json_string_value(json_object_get(op, "id"));

		log_info("op %s (%s %s) was %s when its cloudletd stopped: resuming it", id,
			 json_string_value(json_object_get(op, "kind")),
			 json_string_value(json_object_get(op, "vm_id")),
			 json_string_value(json_object_get(op, "state")));
		ops_submit(id, 0);
	}
	json_decref(unfinished);
}

/* Renew this instance's leases; take over those that ran out. */
static void *
leaser(void *arg)
{
	(void)arg;
	for (;;) {
		usleep(STORE_LEASE_RENEW_MS * 1000);
		if (store_op_renew() < 0)
			log_warnx("ops: could not renew the leases of this cloudletd's operations");
		resume_unfinished(0);
	}
	return NULL;
}

/* The host has the VM? 1 yes, 0 no (not_found), -1 no answer. */
static int
host_has(const char *host, const char *id)
{
	char code[32], err[256];
	int r = agentc_call(host, "vm.show", json_pack("{s:s}", "name", id), NULL, code, err,
			    sizeof(err));

	if (r == 0)
		return 1;
	return is_code(r, code, "not_found") ? 0 : -1;
}

static void
reconcile_record(const char *host, const json_t *rec, const json_t *agent_vms)
{
	const char *id = json_string_value(json_object_get(rec, "id"));
	const char *state = json_string_value(json_object_get(rec, "state"));
	const char *tenant = json_string_value(json_object_get(rec, "tenant_id"));
	json_t *match = NULL, *fresh = NULL, *v;
	int written;
	size_t i;

	/* An operation in progress owns the record and the host's VM. */
	if (store_vm_has_active_op(id))
		return;
	json_array_foreach(agent_vms, i, v) if (strcmp(json_string_value(json_object_get(v, "name")),
						       id) == 0) match = v;
	if (strcmp(state, "deleting") == 0) {
		/* A delete that ended half-way (before operations were resumed
		 * or retried): finish it. */
		if (match != NULL && agent_delete(host, id) < 0)
			return;
		log_info("reconcile: finishing the delete of %s", id);
		reconcile_remove(id, tenant, "vm.delete", "succeeded",
				 "a delete left half-done was finished by reconciliation");
		return;
	}
	if (match == NULL) {
		/* The list may predate a create that has just ended: ask again. */
		if (host_has(host, id) != 0 || store_vm_has_active_op(id))
			return;
		log_info("reconcile: record %s (%s) has no VM on the host: removing it", id, state);
		reconcile_remove(id, tenant, "vm.lost", "failed",
				 "the host no longer has this VM; its record was removed");
		return;
	}
	/* The list may also predate an operation that ended since (a create
	 * whose guest got ready after the list was taken): where it differs
	 * from the record, the VM's view is asked for again and taken. Either
	 * way the write holds only while the record is still what was read
	 * here: an operation that ends in between wins (CI: a create's ready
	 * was undone by a list taken just before it). */
	if ((json_integer_value(json_object_get(rec, "ready")) != 0) !=
		    json_is_true(json_object_get(match, "ready")) ||
	    strcmp(state, json_string_value(json_object_get(match, "state")) ?: "") != 0) {
		char code[32], err[256];

		if (agentc_call(host, "vm.show", json_pack("{s:s}", "name", id), &fresh, code, err,
				sizeof(err)) < 0 ||
		    store_vm_has_active_op(id)) {
			json_decref(fresh);
			return;
		}
		v = fresh;
	} else {
		v = (json_t *)match;
	}
	state = json_string_value(json_object_get(v, "state"));
	written = store_vm_set_view_if(
		id, rec, state ? state : "error", json_string_value(json_object_get(v, "reason")),
		json_is_true(json_object_get(v, "ready")), json_string_value(json_object_get(v, "accel")),
		json_is_true(json_object_get(v, "restart_required")),
		json_integer_value(json_object_get(v, "vcpus")),
		json_integer_value(json_object_get(v, "memory_mib")),
		json_integer_value(json_object_get(v, "disk_gib")));
	if (written > 0 && json_is_string(json_object_get(v, "provision")))
		store_vm_set_provision(id, json_string_value(json_object_get(v, "provision")));
	json_decref(fresh);
	if (written <= 0)
		return;
	/* A MAC the create's answer did not give (a create resumed, a record
	 * from before schema 7): the home host's DHCP needs it. */
	if (store_vm_macs_missing(id) > 0) {
		char err[512];

		record_macs(id, match);
		if (store_vm_macs_missing(id) == 0 && tenant != NULL)
			netplan_sync_shared(tenant, ops_now_us(), 0, err, sizeof(err));
	}
}

/*
 * One host: VMs named vm-* without any record are deleted (as with one
 * host); a VM whose record names another host is reported, never touched;
 * the records of this host follow what it has.
 */
static void
reconcile_host(const char *host_id, json_t *agent_vms)
{
	json_t *records, *v, *rec;
	size_t i, k;

	records = store_vm_list_host(host_id);
	json_array_foreach(agent_vms, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		struct vm_row row;
		int found = 0;

		if (!is_ours(name))
			continue;
		json_array_foreach(records, k, rec) if (strcmp(json_string_value(json_object_get(
								       rec, "id")),
							       name) == 0) found = 1;
		if (found)
			continue;
		if (store_vm_row(name, &row) == 0) { /* recorded since, or elsewhere */
			store_vm_row_free(&row);
			if (strcmp(row.host_id, host_id) != 0)
				log_warnx("reconcile: VM %s runs on host %s but its record says %s: "
					  "left alone",
					  name, host_id, row.host_id);
			continue;
		}
		if (agent_delete(host_id, name) == 1) {
			log_info("reconcile: VM %s on host %s had no record: deleted it", name,
				 host_id);
			store_event("cloudletd", NULL, "vm.orphan_deleted", name, "succeeded",
				    "a VM without a record was removed from the host");
		}
	}
	json_array_foreach(records, k, rec) {
		const char *rid = json_string_value(json_object_get(rec, "id"));
		json_t *full = NULL;

		/* An operation's check comes before the record is read: one that
		 * ended in between has written the record already (a create's
		 * ready), and a record read before it would be taken for the
		 * truth and overwrite that with the older list. */
		if (store_vm_has_active_op(rid))
			continue;
		if (store_vm_get(NULL, rid, &full) == 0)
			reconcile_record(host_id, full, agent_vms);
		json_decref(full);
	}
	json_decref(records);
}

int
ops_reconcile(int at_start)
{
	char code[32], err[512];
	json_t *hosts, *h, *lists;
	size_t i;
	int rc = 0, answered = 0, failed_one = 0;

	pthread_mutex_lock(&reconcile_mtx);
	if (at_start && !ops_resumed) {
		resume_unfinished(1);
		ops_resumed = 1;
	}
	/* Per host: a host that does not answer keeps its records as they are
	 * (heartbeats mark them unknown), never deleted. */
	hosts = store_host_list();
	lists = json_object();
	json_array_foreach(hosts, i, h) {
		const char *id = json_string_value(json_object_get(h, "id"));
		json_t *agent_vms = NULL;
		int r;

		/* A host marked down is left to its heartbeats (reconciled as soon
		 * as it answers), so an agent that hangs holds up no other host. */
		if (!at_start && json_array_size(hosts) > 1 &&
		    strcmp(json_string_value(json_object_get(h, "state")), "down") == 0) {
			failed_one = 1;
			continue;
		}
		r = agentc_call_timeout(id, "vm.list", NULL, &agent_vms, code, err, sizeof(err),
					RECONCILE_LIST_MS);
		if (r < 0) {
			if (at_start)
				log_warnx("reconcile: host %s: %s", id, err);
			failed_one = 1;
			rc = r;
			continue;
		}
		answered++;
		json_object_set_new(lists, id, agent_vms);
		/* The API checks a create's image against this list. */
		images_refresh(id, err, sizeof(err));
	}
	json_decref(hosts);
	if (answered == 0 && failed_one) {
		json_decref(lists);
		pthread_mutex_unlock(&reconcile_mtx);
		return rc;
	}
	/* Once the agents answer, they get every tenant's network state (one
	 * may have been restarted with an empty state directory); again after
	 * a sync was lost. */
	if (netplan_take_dirty() || !nets_synced) {
		json_t *tenants = store_tenant_list(), *t;
		int failed = 0;

		json_array_foreach(tenants, i, t)
			failed |= netplan_sync_shared(json_string_value(json_object_get(t, "id")),
						      ops_now_us(), 0, err, sizeof(err)) < 0;
		json_decref(tenants);
		/* A host that is down gets it when it answers again
		 * (netplan_mark_dirty from its heartbeat). */
		nets_synced = !failed;
	}
	/* Records after the agents' lists: a create in flight has its record first. */
	{
		const char *id;
		json_t *agent_vms;

		json_object_foreach(lists, id, agent_vms) reconcile_host(id, agent_vms);
	}
	json_decref(lists);
	/* Storage alerts from every host's pool, IDS alerts from every host's
	 * sensor. */
	api_volume_pull_alerts();
	api_ids_pull_alerts();
	pthread_mutex_unlock(&reconcile_mtx);
	return answered > 0 || !failed_one ? 0 : rc;
}

/* ---- heartbeats ------------------------------------------------------- */

static pthread_mutex_t sync_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sync_cond = PTHREAD_COND_INITIALIZER;
static int sync_now; /* under sync_mtx */

static void
wake_syncer(void)
{
	pthread_mutex_lock(&sync_mtx);
	sync_now = 1;
	pthread_cond_signal(&sync_cond);
	pthread_mutex_unlock(&sync_mtx);
}

#define HB_MAX 64
#define HB_TICK_MS 500
/* Per host: its last answer and whether a probe is out (under hb_mtx). */
static pthread_mutex_t hb_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct hb {
	char id[STORE_ID_LEN];
	uint64_t last_ok_ms, last_probe_ms;
	int busy;
	char err[256];
} hbs[HB_MAX];
static size_t n_hbs;

/* Under hb_mtx. */
static struct hb *
hb_of(const char *id, uint64_t now)
{
	size_t i;

	for (i = 0; i < n_hbs; i++)
		if (strcmp(hbs[i].id, id) == 0)
			return &hbs[i];
	if (n_hbs == HB_MAX)
		return NULL;
	snprintf(hbs[n_hbs].id, sizeof(hbs[n_hbs].id), "%s", id);
	hbs[n_hbs].last_ok_ms = now; /* newly seen: it has HOST_DOWN_MS to answer */
	return &hbs[n_hbs++];
}

/* One heartbeat of one host, in its own thread: a host that hangs delays
 * no other host's. */
static void *
hb_probe(void *arg)
{
	struct hb *b = arg;
	char id[STORE_ID_LEN], code[32], err[256];
	json_t *info = NULL;
	int r;

	pthread_mutex_lock(&hb_mtx);
	snprintf(id, sizeof(id), "%s", b->id);
	pthread_mutex_unlock(&hb_mtx);
	r = agentc_call_timeout(id, "host.info", NULL, &info, code, err, sizeof(err),
				HOST_HEARTBEAT_MS);
	/* An agent this control plane cannot speak to is not up. */
	if (r == 0 && !agentc_protocol_ok(info, err, sizeof(err)))
		r = -EPROTO;
	pthread_mutex_lock(&hb_mtx);
	if (r == 0)
		b->last_ok_ms = util_now_ms();
	else
		snprintf(b->err, sizeof(b->err), "%s", err);
	pthread_mutex_unlock(&hb_mtx);
	/* Why it does not answer, for host show (written when it changes). */
	if (r < 0)
		store_host_set_reason(id, err);
	if (r == 0 && store_host_heartbeat_ok(id, info) == 1) {
		log_info("host %s answers: up; reconciling it", id);
		store_event("cloudletd", NULL, "host.up", id, "succeeded",
			    "the host's agent answers again");
		netplan_mark_dirty();
		wake_syncer();
	}
	json_decref(info);
	pthread_mutex_lock(&hb_mtx);
	b->busy = 0;
	pthread_mutex_unlock(&hb_mtx);
	store_thread_done();
	return NULL;
}

/*
 * Every HOST_HEARTBEAT_MS, host.info on every host (each in its own
 * thread, at most one out per host); one that has not answered for
 * HOST_DOWN_MS goes down (its VMs unknown); one that answers again is up
 * and reconciled at once.
 */
static void *
heartbeats(void *arg)
{
	(void)arg;
	for (;;) {
		json_t *hosts = store_host_list(), *h;
		size_t i;

		json_array_foreach(hosts, i, h) {
			const char *id = json_string_value(json_object_get(h, "id"));
			uint64_t now = util_now_ms(), silent = 0;
			char err[256] = "";
			struct hb *b;
			pthread_t t;

			pthread_mutex_lock(&hb_mtx);
			b = hb_of(id, now);
			if (b != NULL && !b->busy && now - b->last_probe_ms >= HOST_HEARTBEAT_MS) {
				b->busy = 1;
				b->last_probe_ms = now;
				if (pthread_create(&t, NULL, hb_probe, b) == 0)
					pthread_detach(t);
				else
					b->busy = 0;
			}
			if (b != NULL && now > b->last_ok_ms)
				silent = now - b->last_ok_ms;
			if (b != NULL)
				snprintf(err, sizeof(err), "%s", b->err);
			pthread_mutex_unlock(&hb_mtx);
			if (silent >= HOST_DOWN_MS &&
			    strcmp(json_string_value(json_object_get(h, "state")), "down") != 0) {
				store_host_mark_down(id);
				log_warnx("host %s: no answer for %llu ms: down, its VMs unknown (%s)",
					  id, (unsigned long long)silent, err);
				store_event("cloudletd", NULL, "host.down", id, "failed", err);
				http_wake();
			}
		}
		json_decref(hosts);
		/* Probes go out every HOST_HEARTBEAT_MS; silence is looked at
		 * more often, so a host is down soon after HOST_DOWN_MS. */
		usleep(HB_TICK_MS * 1000);
	}
	return NULL;
}

static void *
syncer(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 2;
		pthread_mutex_lock(&sync_mtx);
		while (!sync_now)
			if (pthread_cond_timedwait(&sync_cond, &sync_mtx, &ts) != 0)
				break;
		sync_now = 0;
		pthread_mutex_unlock(&sync_mtx);
		ops_reconcile(0);
	}
	return NULL;
}

int
ops_start(unsigned workers)
{
	pthread_t t;
	unsigned i;

	pthread_mutex_lock(&q_mtx);
	for (i = 0; i < workers; i++)
		if (add_worker() < 0) {
			pthread_mutex_unlock(&q_mtx);
			return -EAGAIN;
		}
	pthread_mutex_unlock(&q_mtx);
	if (pthread_create(&t, NULL, syncer, NULL) != 0)
		return -EAGAIN;
	pthread_detach(t);
	if (pthread_create(&t, NULL, heartbeats, NULL) != 0)
		return -EAGAIN;
	pthread_detach(t);
	if (pthread_create(&t, NULL, leaser, NULL) != 0)
		return -EAGAIN;
	pthread_detach(t);
	log_info("ops: instance %s", store_lease_instance());
	return 0;
}
