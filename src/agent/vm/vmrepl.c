/* vmrepl.c - see vmrepl.h */
#define _GNU_SOURCE
#include "vmrepl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "vmmigio.h"
#include "vmtable.h"

#define REPL_TLS "repl-tls"
#define REPL_BITMAP "repl"
#define DISKS_MAX 9
#define POLL_MS 20

struct point {
	char host[16];
	unsigned port;
	char disks[DISKS_MAX][17];
	size_t n;
	int full;
	int64_t timeout_s;
};

/* A drive of this VM that can be replicated: its root or an attached
 * volume ("vol<i>", as qemu.c names them). */
static int
drive_ok(const struct vm *vm, const char *d)
{
	unsigned i;
	char tail;

	if (strcmp(d, "root") == 0)
		return 1;
	return sscanf(d, "vol%u%c", &i, &tail) == 1 && i < vm->spec.n_volumes;
}

static int
parse(const json_t *a, const struct vm *vm, struct point *p, struct op_error *e)
{
	const char *host = json_string_value(json_object_get(a, "host"));
	const json_t *ex = json_object_get(a, "exports"), *tls = json_object_get(a, "tls"), *d;
	json_int_t port = json_integer_value(json_object_get(a, "port"));
	json_int_t to = json_integer_value(json_object_get(a, "timeout_s"));
	struct in_addr ia;
	size_t i;

	memset(p, 0, sizeof(*p));
	if (host == NULL || inet_pton(AF_INET, host, &ia) != 1 || port <= 0 || port > 65535 ||
	    !json_is_array(ex) || json_array_size(ex) == 0 || json_array_size(ex) > DISKS_MAX ||
	    !vmmigio_pem_ok(json_object_get(tls, "ca")) ||
	    !vmmigio_pem_ok(json_object_get(tls, "cert")) ||
	    !vmmigio_pem_ok(json_object_get(tls, "key")))
		return op_fail(e, "invalid", -EINVAL,
			       "vm.replica.point needs host (IPv4), port, exports (1-9 drives) and "
			       "tls {ca, cert, key} as replica.open answered");
	snprintf(p->host, sizeof(p->host), "%s", host);
	p->port = (unsigned)port;
	json_array_foreach(ex, i, d)
	{
		const char *s = json_string_value(d);

		if (s == NULL || strlen(s) > 16 || !drive_ok(vm, s))
			return op_fail(e, "invalid", -EINVAL,
				       "'%s' is not a drive of VM '%s' (root, vol0, ...)",
				       s ? s : "?", vm->spec.name);
		for (size_t k = 0; k < i; k++)
			if (strcmp(p->disks[k], s) == 0)
				return op_fail(e, "invalid", -EINVAL, "'%s' twice", s);
		snprintf(p->disks[i], sizeof(p->disks[i]), "%s", s);
	}
	p->n = json_array_size(ex);
	p->full = json_is_true(json_object_get(a, "full"));
	p->timeout_s = to > 0 && to <= 86400 ? to : 3600;
	return 0;
}

/* Remove what a point added to QEMU (q may be NULL: files only). */
static void
cleanup(struct qmp *q, struct vm *vm, const struct point *p)
{
	struct op_error ig;
	char node[32], dir[800];

	for (size_t i = 0; q && i < p->n; i++) {
		snprintf(node, sizeof(node), "repl-%s", p->disks[i]);
		vmmigio_cmd(q, "job-cancel", json_pack("{s:s}", "id", node), NULL, &ig);
		vmmigio_cmd(q, "job-dismiss", json_pack("{s:s}", "id", node), NULL, &ig);
		vmmigio_cmd(q, "blockdev-del", json_pack("{s:s}", "node-name", node), NULL, &ig);
	}
	if (q)
		vmmigio_cmd(q, "object-del", json_pack("{s:s}", "id", REPL_TLS), NULL, &ig);
	vmt_path(vm, "tls-repl", dir, sizeof(dir));
	util_rmtree(dir);
}

/* The NBD nodes to the replica's exports, each on its own socket. */
static int
targets(struct qmp *q, const struct point *p, struct vm *vm, struct op_error *e)
{
	char node[32], dir[800];
	int fd, r;

	vmt_path(vm, "tls-repl", dir, sizeof(dir));
	if ((r = vmmigio_cmd(q, "object-add",
			     json_pack("{s:s, s:s, s:s, s:s, s:b}", "qom-type", "tls-creds-x509",
				       "id", REPL_TLS, "dir", dir, "endpoint", "client",
				       "verify-peer", 1),
			     NULL, e)) < 0)
		return r;
	for (size_t i = 0; i < p->n; i++) {
		snprintf(node, sizeof(node), "repl-%s", p->disks[i]);
		if ((fd = r = vmmigio_connect(p->host, p->port, e)) < 0 ||
		    (r = vmmigio_give_fd(q, node, fd, e)) < 0 ||
		    (r = vmmigio_cmd(q, "blockdev-add",
				     json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s}", "driver",
					       "nbd", "node-name", node, "server", "type", "fd",
					       "str", node, "export", p->disks[i], "tls-creds",
					       REPL_TLS, "tls-hostname", p->host),
				     NULL, e)) < 0)
			return r;
	}
	return 0;
}

/* The point: one transaction, a backup job per disk. */
static int
start(struct qmp *q, const struct point *p, struct op_error *e)
{
	json_t *actions = json_array();
	struct op_error ig;
	char node[32];
	int r;

	for (size_t i = 0; i < p->n; i++) {
		json_t *b;

		snprintf(node, sizeof(node), "repl-%s", p->disks[i]);
		b = json_pack("{s:s, s:s, s:s, s:b}", "job-id", node, "device", p->disks[i],
			      "target", node, "auto-dismiss", 0);
		if (p->full) {
			/* The bitmap starts with the point: it records what the guest
			 * writes from here on. */
			vmmigio_cmd(q, "block-dirty-bitmap-remove",
				    json_pack("{s:s, s:s}", "node", p->disks[i], "name", REPL_BITMAP),
				    NULL, &ig);
			json_array_append_new(
			    actions, json_pack("{s:s, s:{s:s, s:s}}", "type", "block-dirty-bitmap-add",
					       "data", "node", p->disks[i], "name", REPL_BITMAP));
			json_object_set_new(b, "sync", json_string("full"));
		} else {
			json_object_set_new(b, "sync", json_string("incremental"));
			json_object_set_new(b, "bitmap", json_string(REPL_BITMAP));
			json_object_set_new(b, "bitmap-mode", json_string("on-success"));
		}
		json_array_append_new(actions,
				      json_pack("{s:s, s:o}", "type", "blockdev-backup", "data", b));
	}
	/* Incremental: grouped, so one disk's failure fails them all and every
	 * bitmap keeps its bits (a bitmap-add cannot be grouped; a full point
	 * that fails is followed by a full one anyway). */
	r = vmmigio_cmd(q, "transaction",
			p->full ? json_pack("{s:o}", "actions", actions)
				: json_pack("{s:o, s:{s:s}}", "actions", actions, "properties",
					    "completion-mode", "grouped"),
			NULL, e);
	if (r < 0 && !p->full && strstr(e->msg, REPL_BITMAP) != NULL)
		return op_fail(e, "conflict", -ENOENT,
			       "no dirty bitmap (QEMU was restarted since the last point): a full "
			       "point is needed");
	return r;
}

/* Wait for every job to conclude; their error, if any. */
static int
wait_jobs(struct vm *vm, const struct point *p, uint64_t deadline, uint64_t *bytes,
	  struct op_error *e)
{
	char node[32];

	for (;;) {
		struct qmp *q;
		json_t *jobs = NULL, *j;
		size_t i, done = 0;
		const char *err = NULL;
		int r;

		if ((r = vmmigio_qmp(vm, &q, e)) < 0)
			return r;
		r = vmmigio_cmd(q, "query-jobs", NULL, &jobs, e);
		*bytes = 0;
		json_array_foreach(jobs, i, j)
		{
			const char *id = json_string_value(json_object_get(j, "id"));

			for (size_t k = 0; id && k < p->n; k++) {
				snprintf(node, sizeof(node), "repl-%s", p->disks[k]);
				if (strcmp(id, node) != 0)
					continue;
				*bytes += (uint64_t)json_integer_value(
				    json_object_get(j, "total-progress"));
				if (strcmp(json_string_value(json_object_get(j, "status")) ?: "",
					   "concluded") == 0) {
					done++;
					if (json_object_get(j, "error") && err == NULL)
						err = json_string_value(
						    json_object_get(j, "error"));
				}
			}
		}
		if (r == 0 && done == p->n) {
			if (err != NULL)
				r = op_fail(e, "internal", -EIO, "the point failed: %s", err);
			for (size_t k = 0; k < p->n; k++) {
				struct op_error ig;

				snprintf(node, sizeof(node), "repl-%s", p->disks[k]);
				vmmigio_cmd(q, "job-dismiss", json_pack("{s:s}", "id", node), NULL,
					    &ig);
			}
			json_decref(jobs);
			qmp_close(q);
			return r;
		}
		json_decref(jobs);
		qmp_close(q);
		if (r < 0)
			return r;
		if (util_now_ms() > deadline)
			return op_fail(e, "timeout", -ETIMEDOUT, "the point did not end in time");
		usleep(POLL_MS * 1000);
	}
}

int
vmrepl_point(const json_t *args, const char *name, json_t **out, struct op_error *e)
{
	struct point p;
	struct qmp *q = NULL;
	struct vm *vm;
	uint64_t t0 = util_now_ms(), bytes = 0;
	struct timespec ts = {0};
	json_t *disks;
	char dir[800];
	int r;

	vmt_lock();
	vm = vmt_find(name);
	if (vm == NULL) {
		vmt_unlock();
		return op_fail(e, "not_found", -ENOENT, "no VM '%s'", name);
	}
	if (vm->state != VM_RUNNING && vm->state != VM_PAUSED) {
		vmt_unlock();
		return op_fail(e, "conflict", -EBUSY, "VM '%s' is not running", name);
	}
	if (vm->migration[0]) {
		vmt_unlock();
		return op_fail(e, "conflict", -EBUSY, "VM '%s' is being migrated", name);
	}
	vmt_ref(vm);
	vmt_unlock();
	if ((r = parse(args, vm, &p, e)) < 0)
		goto out;
	if ((r = vmmigio_qmp(vm, &q, e)) < 0)
		goto out;
	cleanup(q, vm, &p); /* a point of an earlier call that never ended */
	/* The client credentials for QEMU, the VM user's. */
	vmt_path(vm, "tls-repl", dir, sizeof(dir));
	if ((r = vmmigio_write_creds(dir, json_object_get(args, "tls"), 1, e)) < 0 ||
	    (r = targets(q, &p, vm, e)) < 0)
		goto out;
	clock_gettime(CLOCK_REALTIME, &ts);
	if ((r = start(q, &p, e)) < 0)
		goto out;
	qmp_close(q);
	q = NULL;
	r = wait_jobs(vm, &p, t0 + (uint64_t)p.timeout_s * 1000, &bytes, e);
out:
	if (q == NULL)
		vmmigio_qmp(vm, &q, &(struct op_error){0});
	cleanup(q, vm, &p);
	if (q)
		qmp_close(q);
	if (r == 0) {
		disks = json_array();
		for (size_t i = 0; i < p.n; i++)
			json_array_append_new(disks, json_string(p.disks[i]));
		*out = json_pack("{s:I, s:I, s:b, s:o, s:I}", "bytes", (json_int_t)bytes, "ms",
				 (json_int_t)(util_now_ms() - t0), "full", p.full, "disks", disks,
				 "taken_at_ms",
				 (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	}
	vmt_lock();
	vmt_put(vm);
	vmt_unlock();
	return r;
}
