/* vmmigsend.c - see vmmigrate.h: the source's side (send, status,
 * cancel) and a send cut off by an agent restart */
#define _GNU_SOURCE
#include "vmmigrate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "netns.h"
#include "storage.h"
#include "util.h"
#include "vmmigio.h"
#include "vmstart.h"
#include "vmstore.h"

/* Waiting for the mirror or the migration: QEMU's state is asked again as
 * soon as it sends an event (a job's or the migration's state changed:
 * the switch is acted on at once), at the latest after POLL_MS (progress). */
#define POLL_MS 50
#define QEMU_BANDWIDTH (128 << 20) /* QEMU's own default max-bandwidth, bytes/s */

struct vmmig {
	json_t *progress; /* what vm.migrate.status shows (table lock) */
	int cancel;	  /* vm.migrate.cancel asked (table lock) */
};

/*
 * "<prefix>A.B.C.D:PORT<suffix>", the whole text (what prepare returned):
 * 0 with host and port, or -EINVAL.
 */
static int
parse_target(const char *s, const char *prefix, const char *suffix, char host[16],
	     unsigned *port)
{
	struct in_addr a;
	const char *p, *colon;
	char num[8];
	size_t hl, pl, sl = strlen(suffix);

	if (s == NULL || strncmp(s, prefix, strlen(prefix)) != 0)
		return -EINVAL;
	p = s + strlen(prefix);
	colon = strchr(p, ':');
	if (colon == NULL || (hl = (size_t)(colon - p)) == 0 || hl > 15)
		return -EINVAL;
	memcpy(host, p, hl);
	host[hl] = '\0';
	pl = strlen(colon + 1);
	if (pl <= sl || pl - sl >= sizeof(num) ||
	    strcmp(colon + 1 + pl - sl, suffix) != 0)
		return -EINVAL;
	memcpy(num, colon + 1, pl - sl);
	num[pl - sl] = '\0';
	if (inet_pton(AF_INET, host, &a) != 1 || util_parse_uint(num, 65535, port) < 0 ||
	    *port == 0)
		return -EINVAL;
	return 0;
}

/* The source writes the client side it was given for its QEMU. */
static int
tls_write(struct vm *vm, const json_t *creds, struct op_error *e)
{
	char dir[800];

	vmt_path(vm, "tls-cli", dir, sizeof(dir));
	return vmmigio_write_creds(dir, creds, 1, e);
}

struct target {
	char nbd_host[16], mig_host[16];
	unsigned nbd_port, mig_port;
	int64_t downtime_ms, timeout_s;
	int64_t max_bandwidth; /* bytes/s, 0 = QEMU's default */
	int live;
	const json_t *tls; /* prepare's client credentials (the request's), or NULL */
};

/* An optional integer argument in min..max, dflt when absent. */
static int
int_arg(const json_t *args, const char *key, int64_t dflt, int64_t min, int64_t max,
	int64_t *out, struct op_error *e)
{
	json_t *v = json_object_get(args, key);

	*out = dflt;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max)
		return op_fail(e, "invalid", -EINVAL,
			       "%s must be an integer from %lld to %lld", key,
			       (long long)min, (long long)max);
	*out = json_integer_value(v);
	return 0;
}

static int
send_args(const json_t *args, struct target *t, struct op_error *e)
{
	json_t *live = json_object_get(args, "live"), *v;
	const char *nbd = json_string_value(json_object_get(args, "nbd"));

	memset(t, 0, sizeof(*t));
	if (live != NULL && !json_is_boolean(live))
		return op_fail(e, "invalid", -EINVAL, "live must be true or false");
	t->live = live == NULL || json_is_true(live);
	if (parse_target(nbd, "nbd://", "/" VMMIG_EXPORT, t->nbd_host, &t->nbd_port) < 0)
		return op_fail(
		    e, "invalid", -EINVAL,
		    "nbd must be nbd://IPv4:PORT/root (from vm.migrate.prepare)");
	if (t->live && parse_target(json_string_value(json_object_get(args, "uri")),
				    "tcp:", "", t->mig_host, &t->mig_port) < 0)
		return op_fail(e, "invalid", -EINVAL,
			       "uri must be tcp:IPv4:PORT (from vm.migrate.prepare)");
	if (int_arg(args, "downtime_ms", 100, 1, 60000, &t->downtime_ms, e) < 0 ||
	    int_arg(args, "max_bandwidth", 0, 1, INT64_MAX, &t->max_bandwidth, e) < 0 ||
	    int_arg(args, "timeout_s", 3600, 1, 86400, &t->timeout_s, e) < 0)
		return -EINVAL;
	v = json_object_get(args, "tls");
	if (v != NULL && !json_is_null(v) &&
	    (!vmmigio_pem_ok(json_object_get(v, "ca")) ||
	     !vmmigio_pem_ok(json_object_get(v, "cert")) ||
	     !vmmigio_pem_ok(json_object_get(v, "key"))))
		return op_fail(e, "invalid", -EINVAL,
			       "tls must be prepare's {ca, cert, key} (PEM) or null");
	t->tls = json_is_object(v) ? v : NULL;
	return 0;
}

/* Until QEMU sends an event or POLL_MS passed (vmmigio_status asks). */
static void
wait_event(struct qmp *q)
{
	json_t *ev = NULL;

	if (qmp_next_event(q, &ev, POLL_MS) == 0)
		json_decref(ev);
}

/* Publish progress (status plus QEMU's numbers); 1 if a cancel was asked. */
static int
progress(struct vm *vm, const char *status, const json_t *minfo, const json_t *job)
{
	struct vmmig *m = vm->mig;
	json_t *p = json_pack("{s:s}", "status", status),
	       *ram = json_object_get(minfo, "ram");
	int cancel;

	if (job != NULL)
		json_object_set_new(p, "mirror",
				    json_pack("{s:O?, s:O?, s:O?}", "offset",
					      json_object_get(job, "offset"), "len",
					      json_object_get(job, "len"), "ready",
					      json_object_get(job, "ready")));
	if (ram != NULL) {
		json_int_t rate =
		    json_integer_value(json_object_get(ram, "dirty-pages-rate")) *
		    json_integer_value(json_object_get(ram, "page-size"));

		json_object_set_new(
		    p, "ram",
		    json_pack("{s:O?, s:O?, s:O?, s:I, s:O?}", "transferred",
			      json_object_get(ram, "transferred"), "remaining",
			      json_object_get(ram, "remaining"), "total",
			      json_object_get(ram, "total"), "dirty_rate_bytes", rate,
			      "mbps", json_object_get(ram, "mbps")));
	}
	if (minfo != NULL)
		json_object_set_new(
		    p, "qemu",
		    json_pack("{s:O?, s:O?, s:O?, s:O?}", "total_ms",
			      json_object_get(minfo, "total-time"), "downtime_ms",
			      json_object_get(minfo, "downtime"), "expected_downtime_ms",
			      json_object_get(minfo, "expected-downtime"), "setup_ms",
			      json_object_get(minfo, "setup-time")));
	vmt_lock();
	if (m != NULL) {
		if (m->progress != NULL && job == NULL)
			json_object_set(p, "mirror",
					json_object_get(m->progress, "mirror"));
		json_decref(m->progress);
		m->progress = p;
		p = NULL;
	}
	cancel = m != NULL && m->cancel;
	vmt_unlock();
	json_decref(p);
	return cancel;
}

/*
 * The migration's mirror jobs (ids "mig-<drive>") summed up: {offset, len,
 * ready (all of them)} and their count in *n.
 */
static json_t *
our_jobs(json_t *jobs, unsigned *n)
{
	json_int_t off = 0, len = 0;
	int ready = 1;
	size_t i;
	json_t *j;

	*n = 0;
	json_array_foreach(jobs, i, j) {
		if (strncmp(json_string_value(json_object_get(j, "device")) ?: "", "mig-", 4) != 0)
			continue;
		(*n)++;
		off += json_integer_value(json_object_get(j, "offset"));
		len += json_integer_value(json_object_get(j, "len"));
		ready = ready && json_is_true(json_object_get(j, "ready"));
	}
	if (*n == 0)
		return NULL;
	return json_pack("{s:I, s:I, s:b}", "offset", off, "len", len, "ready", ready);
}

/* Poll the mirrors (want of them) until all are ready (one gone: -EIO;
 * until_gone: wait until all have ended instead). */
static int
wait_mirror(struct vm *vm, struct qmp *q, unsigned want, int until_gone, uint64_t deadline,
	    struct op_error *e)
{
	for (;;) {
		json_t *jobs = NULL, *job;
		unsigned n;
		int r, ready, cancel;

		if ((r = vmmigio_cmd(q, "query-block-jobs", NULL, &jobs, e)) < 0)
			return r;
		job = our_jobs(jobs, &n);
		ready = json_is_true(json_object_get(job, "ready"));
		cancel = progress(vm, until_gone ? "switchover" : "mirroring", NULL, job);
		json_decref(job);
		json_decref(jobs);
		if (until_gone && n == 0)
			return 0;
		if (!until_gone && n < want)
			return op_fail(e, "internal", -EIO,
				       "a disk mirror ended early (see qemu.log)");
		if (!until_gone && ready)
			return 0;
		if (!until_gone && cancel)
			return op_fail(e, "conflict", -ECANCELED, "migration cancelled");
		if (util_now_ms() > deadline)
			return op_fail(e, "timeout", -ETIMEDOUT,
				       "the disk mirror took too long");
		wait_event(q);
	}
}

/* Poll query-migrate until status want (or completed/failed/cancelled). */
static int
wait_migrate(struct vm *vm, struct qmp *q, const char *want, uint64_t deadline,
	     json_t **last, struct op_error *e)
{
	for (;;) {
		json_t *info = NULL;
		const char *st = vmmigio_status(q, &info);
		int cancel;

		if (st == NULL)
			return op_fail(e, "internal", -EIO, "query-migrate failed");
		cancel =
		    progress(vm, strcmp(st, "completed") == 0 ? "completed" : "migrating",
			     info, NULL);
		if (strcmp(st, want) == 0 || strcmp(st, "completed") == 0) {
			json_decref(*last);
			*last = info;
			return strcmp(st, want) == 0 ? 0 : -EALREADY;
		}
		if (strcmp(st, "failed") == 0 || strcmp(st, "cancelled") == 0) {
			const char *why =
			    json_string_value(json_object_get(info, "error-desc"));
			int r = op_fail(e, "internal", -EIO, "migration %s%s%s", st,
					why ? ": " : "", why ? why : "");

			json_decref(info);
			return r;
		}
		json_decref(info);
		if (cancel)
			return op_fail(e, "conflict", -ECANCELED, "migration cancelled");
		if (util_now_ms() > deadline)
			return op_fail(e, "timeout", -ETIMEDOUT,
				       "the migration did not converge in time");
		wait_event(q);
	}
}

/*
 * Undo a send that did not complete: the migration and the mirror are
 * cancelled (the mirror's target is left as it is: the destination is
 * aborted), the guest runs on here.
 */
static void
send_undo(struct vm *vm, struct qmp *q, int migrating, unsigned mirroring, unsigned nodes,
	  int tls)
{
	char drives[VMMIG_DRIVES_MAX][8], node[80];
	unsigned n = vmmigio_drives(vm, drives);
	struct op_error e;
	json_t *info = NULL, *st = NULL;
	uint64_t deadline = util_now_ms() + 30000;

	if (migrating) {
		vmmigio_cmd(q, "migrate_cancel", NULL, NULL, &e);
		while (util_now_ms() < deadline) {
			const char *s = vmmigio_status(q, &info);

			if (s == NULL || strcmp(s, "cancelling") != 0)
				break;
			json_decref(info);
			info = NULL;
			usleep(10000);
		}
		json_decref(info);
	}
	for (unsigned d = 0; d < n && d < mirroring; d++) {
		snprintf(node, sizeof(node), "mig-%s", drives[d]);
		vmmigio_cmd(q, "block-job-cancel",
			    json_pack("{s:s, s:b}", "device", node, "force", 1), NULL, &e);
	}
	if (mirroring)
		wait_mirror(vm, q, 0, 1, util_now_ms() + 30000, &e);
	for (unsigned d = 0; d < n && d < nodes; d++) {
		snprintf(node, sizeof(node), "mig-%s", drives[d]);
		vmmigio_cmd(q, "blockdev-del", json_pack("{s:s}", "node-name", node), NULL, &e);
	}
	if (tls)
		vmmigio_tls_drop(q, vm, "tls-cli");
	/* QEMU restarts a guest it stopped for the migration; make sure. */
	if (vmmigio_cmd(q, "query-status", NULL, &st, &e) == 0 &&
	    !json_is_true(json_object_get(st, "running")))
		vmmigio_cmd(q, "cont", NULL, NULL, &e);
	json_decref(st);
}

/* Did the migration complete after all? (*last gets QEMU's answer.) */
static int
completed(struct qmp *q, json_t **last)
{
	json_t *info = NULL;
	const char *st = vmmigio_status(q, &info);

	if (st == NULL || strcmp(st, "completed") != 0) {
		json_decref(info);
		return 0;
	}
	json_decref(*last);
	*last = info;
	return 1;
}

static int
send_live(struct vm *vm, const struct target *t, json_t **result, struct op_error *e)
{
	uint64_t deadline = util_now_ms() + (uint64_t)t->timeout_s * 1000;
	char drives[VMMIG_DRIVES_MAX][8], node[80];
	unsigned n = vmmigio_drives(vm, drives), nodes = 0, mirroring = 0;
	int r, fd, migrating = 0;
	json_t *caps, *params = NULL, *nbdopts = NULL, *last = NULL;
	struct qmp *q;

	if ((r = vmmigio_qmp(vm, &q, e)) < 0)
		return r;
	/* Zeroes the mirror reads (all of a volume's holes: the storage
	 * server reports no block status) go as NBD write-zeroes that may
	 * unmap: the destination's volumes stay thin. */
	nbdopts = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s}", "driver", "nbd", "server", "type",
			    "fd", "str", "mig-nbd", "detect-zeroes", "unmap", "discard", "unmap");
	/* Every parameter, every time: QEMU keeps them from an earlier
	 * migration of this process (a cancelled one's bandwidth, its TLS). */
	params = json_pack("{s:I, s:I, s:s}", "downtime-limit", (json_int_t)t->downtime_ms,
			   "max-bandwidth",
			   (json_int_t)(t->max_bandwidth > 0 ? t->max_bandwidth : QEMU_BANDWIDTH),
			   "tls-creds", "");
	/* TLS: this migration's client certificate, the destination's name
	 * checked against its certificate (its underlay address). */
	if (t->tls != NULL) {
		json_object_update_new(nbdopts,
				       json_pack("{s:s, s:s}", "tls-creds", VMMIG_TLS,
						 "tls-hostname", t->nbd_host));
		json_object_update_new(params,
				       json_pack("{s:s, s:s}", "tls-creds", VMMIG_TLS,
						 "tls-hostname", t->mig_host));
		if ((r = tls_write(vm, t->tls, e)) < 0 ||
		    (r = vmmigio_tls_object(q, vm, "client", e)) < 0)
			goto fail;
	}
	/* Each drive (the root, then the volumes) is mirrored to the
	 * destination's export of the same name over a connection of its own;
	 * a clone's overlay and its template's disk become one raw disk. */
	for (unsigned d = 0; d < n; d++) {
		snprintf(node, sizeof(node), "mig-%s", drives[d]);
		json_object_set_new(nbdopts, "node-name", json_string(node));
		json_object_set_new(nbdopts, "export", json_string(drives[d]));
		if ((fd = r = vmmigio_connect(t->nbd_host, t->nbd_port, e)) < 0 ||
		    (r = vmmigio_give_fd(q, "mig-nbd", fd, e)) < 0 ||
		    (r = vmmigio_cmd(q, "blockdev-add", json_deep_copy(nbdopts), NULL, e)) < 0)
			goto fail;
		nodes++;
		if ((r = vmmigio_cmd(q, "blockdev-mirror",
				     json_pack("{s:s, s:s, s:s, s:s}", "job-id", node, "device",
					       drives[d], "target", node, "sync", "full"),
				     NULL, e)) < 0)
			goto fail;
		mirroring++;
	}
	if ((r = wait_mirror(vm, q, n, 0, deadline, e)) < 0)
		goto fail;
	/* RAM and devices; the mirror keeps the disks in step meanwhile. */
	/* x-ignore-shared off: a clone's QEMU kept it from its restore; all of
	 * the clone's RAM (a private mapping) goes, and a destination without
	 * the capability reads the stream this way. events: MIGRATION events,
	 * so pre-switchover is acted on when it happens (wait_event). */
	caps = json_pack("{s:[{s:s, s:b}, {s:s, s:b}, {s:s, s:b}, {s:s, s:b}, {s:s, s:b}]}",
			 "capabilities", "capability", "pause-before-switchover", "state",
			 1, "capability", "auto-converge", "state", 1, "capability",
			 "x-ignore-shared", "state", 0, "capability", "return-path",
			 "state", 1, "capability", "events", "state", 1);
	if ((r = vmmigio_cmd(q, "migrate-set-capabilities", caps, NULL, e)) < 0 ||
	    (r = vmmigio_cmd(q, "migrate-set-parameters", json_incref(params), NULL, e)) <
		0 ||
	    (fd = r = vmmigio_connect(t->mig_host, t->mig_port, e)) < 0 ||
	    (r = vmmigio_give_fd(q, "mig-out", fd, e)) < 0 ||
	    (r = vmmigio_cmd(q, "migrate", json_pack("{s:s}", "uri", "fd:mig-out"), NULL,
			     e)) < 0)
		goto fail;
	migrating = 1;
	if ((r = wait_migrate(vm, q, "pre-switchover", deadline, &last, e)) < 0)
		goto fail;
	/* The guest is stopped: each mirror's cancel completes it with both
	 * disks equal, then the last RAM and the devices go. */
	for (unsigned d = 0; d < n; d++) {
		snprintf(node, sizeof(node), "mig-%s", drives[d]);
		if ((r = vmmigio_cmd(q, "block-job-cancel", json_pack("{s:s}", "device", node),
				     NULL, e)) < 0)
			goto fail;
	}
	if ((r = wait_mirror(vm, q, 0, 1, deadline, e)) < 0)
		goto fail;
	mirroring = 0;
	if ((r = vmmigio_cmd(q, "migrate-continue",
			     json_pack("{s:s}", "state", "pre-switchover"), NULL, e)) < 0)
		goto fail;
	r = wait_migrate(vm, q, "completed", deadline, &last, e);
	if (r < 0 && r != -EALREADY)
		goto fail;
	qmp_close(q);
	json_decref(nbdopts);
	json_decref(params);
	*result = last;
	return 0;
fail:
	json_decref(nbdopts);
	json_decref(params);
	if (migrating && completed(q, &last)) {
		/* Whatever failed after it (a cancel too late, a lost answer):
		 * the destination runs the guest now, this copy must not. */
		log_warnx("vm %s: %s, but the migration completed", vm->id, e->msg);
		qmp_close(q);
		*result = last;
		return 0;
	}
	send_undo(vm, q, migrating, mirroring, nodes, t->tls != NULL);
	json_decref(last);
	qmp_close(q);
	return r;
}

static int send_cold_drives(struct vm *vm, const struct target *t, struct op_error *e);

/* Cold: the stopped VM's root disk copied into the destination's export. */
static int
send_cold(struct vm *vm, const struct target *t, struct op_error *e)
{
	char src[800], dst[80], err[512], obj[900], cli[800], opts[200];
	const char *fmt = strcmp(vm->root_format, "qcow2") == 0 ? "qcow2" : "raw";
	const char *plain[] = {"qemu-img", "convert", "-n", "-f", fmt,
			       "-O",	   "raw",     src,  dst,  NULL};
	const char *tls[] = {"qemu-img", "convert", "--object", obj,
			     "-n",	 "-f",	    fmt,	"--target-image-opts",
			     src,	 opts,	    NULL};
	int r;

	vmt_path(vm, strcmp(fmt, "qcow2") == 0 ? "root.qcow2" : "root.raw", src,
		 sizeof(src));
	snprintf(dst, sizeof(dst), "nbd://%s:%u/%s", t->nbd_host, t->nbd_port,
		 VMMIG_EXPORT);
	vmt_path(vm, "tls-cli", cli, sizeof(cli));
	snprintf(obj, sizeof(obj), "tls-creds-x509,id=%s,dir=%s,endpoint=client",
		 VMMIG_TLS, cli);
	snprintf(opts, sizeof(opts),
		 "driver=nbd,host=%s,port=%u,export=%s,tls-creds=%s,tls-hostname=%s",
		 t->nbd_host, t->nbd_port, VMMIG_EXPORT, VMMIG_TLS, t->nbd_host);
	if (t->tls != NULL && (r = tls_write(vm, t->tls, e)) < 0)
		return r;
	progress(vm, "copying", NULL, NULL);
	if (vm->spec.n_volumes > 0 || vmt_is_volume_root(vm)) {
		r = send_cold_drives(vm, t, e);
		vmmigio_tls_drop(NULL, vm, "tls-cli");
		if (r < 0)
			return r;
		progress(vm, "completed", NULL, NULL);
		return 0;
	}
	/* qemu-img's NBD connection must start in the datacenter network. */
	r = netns_run(vmt_cfg->underlay_netns[0] ? vmt_cfg->underlay_netns : NULL,
		      t->tls ? tls : plain, NULL, err, sizeof(err));
	vmmigio_tls_drop(NULL, vm, "tls-cli");
	if (r < 0)
		return op_fail(e, "internal", r, "copying the disk: %s", err);
	progress(vm, "completed", NULL, NULL);
	return 0;
}

/*
 * Cold, with volumes (or a root volume): each drive is copied into the
 * destination's export of the same name (its qemu-storage-daemon), the
 * volumes read over an export made for the stopped VM here (root may use
 * it), zeroes skipped (the destination's disks are new: thin).
 */
static int
send_cold_drives(struct vm *vm, const struct target *t, struct op_error *e)
{
	char drives[VMMIG_DRIVES_MAX][8], sock[800], root[80], cli[800], obj[900], src[1200],
	    dst[300], err[512], path[800];
	unsigned n = vmmigio_drives(vm, drives);
	const char *fmt = strcmp(vm->root_format, "qcow2") == 0 ? "qcow2" : "raw";
	int r;

	storage_root_name(vm->id, root, sizeof(root));
	if ((r = storage_export_create(vm->id, &vm->spec, vmt_is_volume_root(vm) ? root : NULL,
				       e)) < 0)
		return r;
	if ((r = storage_export_socket(vm->id, sock, sizeof(sock))) < 0) {
		r = op_fail(e, "internal", r, "export path too long");
		goto out;
	}
	vmt_path(vm, "tls-cli", cli, sizeof(cli));
	snprintf(obj, sizeof(obj), "tls-creds-x509,id=%s,dir=%s,endpoint=client", VMMIG_TLS, cli);
	for (unsigned d = 0; d < n && r == 0; d++) {
		const char *argv[] = {"qemu-img", "convert",	 "-n",
				      "--target-is-zero", "--image-opts", "--target-image-opts",
				      src,	 dst,		 "--object",
				      obj,	 NULL};

		if (d == 0 && !vmt_is_volume_root(vm)) {
			vmt_path(vm, strcmp(fmt, "qcow2") == 0 ? "root.qcow2" : "root.raw", path,
				 sizeof(path));
			snprintf(src, sizeof(src), "driver=%s,file.driver=file,file.filename=%s", fmt,
				 path);
		} else {
			snprintf(src, sizeof(src),
				 "driver=raw,file.driver=nbd,file.server.type=unix,"
				 "file.server.path=%s,file.export=%s",
				 sock, d == 0 ? root : vm->spec.volumes[d - 1]);
		}
		snprintf(dst, sizeof(dst), "driver=nbd,host=%s,port=%u,export=%s", t->nbd_host,
			 t->nbd_port, drives[d]);
		if (t->tls != NULL) {
			size_t l = strlen(dst);

			snprintf(dst + l, sizeof(dst) - l, ",tls-creds=%s,tls-hostname=%s",
				 VMMIG_TLS, t->nbd_host);
		} else {
			argv[8] = NULL;
		}
		/* qemu-img's connection starts in the datacenter network. */
		r = netns_run(vmt_cfg->underlay_netns[0] ? vmt_cfg->underlay_netns : NULL, argv,
			      NULL, err, sizeof(err));
		if (r < 0)
			r = op_fail(e, "internal", r, "copying %s: %s", drives[d], err);
	}
out:
	storage_export_delete(vm->id);
	return r;
}

static int
send_check(struct vm *vm, const struct target *t, struct op_error *e)
{
	int running;

	vmt_lock();
	running = vm->pidfd >= 0;
	if (t->live && vm->state != VM_RUNNING) {
		vmt_unlock();
		return op_fail(e, "conflict", -EINVAL,
			       "VM '%s' is %s: a live migration needs it running",
			       vm->spec.name, vmt_state_name(vm->state));
	}
	if (!t->live && running) {
		vmt_unlock();
		return op_fail(e, "conflict", -EINVAL,
			       "VM '%s' runs: stop it for a cold migration",
			       vm->spec.name);
	}
	if (t->live && (vm->booted_vcpus != vm->spec.vcpus ||
			vm->booted_memory_mib != vm->spec.memory_mib ||
			vm->booted_disk_gib != vm->spec.disk_gib)) {
		vmt_unlock();
		return op_fail(
		    e, "conflict", -EINVAL,
		    "VM '%s' runs with another size than its spec: reboot it first",
		    vm->spec.name);
	}
	if (t->live) {
		char vols[sizeof(vm->booted_volumes)];

		vmt_volumes_joined(&vm->spec, vols, sizeof(vols));
		if (strcmp(vols, vm->booted_volumes) != 0) {
			vmt_unlock();
			return op_fail(e, "conflict", -EINVAL,
				       "VM '%s' runs with other volumes than its spec: reboot it "
				       "first",
				       vm->spec.name);
		}
	}
	vmt_unlock();
	return 0;
}

int
vmmigrate_send(const json_t *args, const char *name, json_t **out, struct op_error *e)
{
	char vols[sizeof(((struct vm *)0)->mig_volumes)] = "", *save = NULL, *v;
	struct target t;
	struct vmmig *m;
	json_t *result = NULL;
	struct vm *vm;
	uint64_t t0 = util_now_ms();
	int r;

	if ((r = send_args(args, &t, e)) < 0)
		return r;
	if ((vm = vmt_claim(name, e)) == NULL)
		return -ENOENT;
	if ((r = send_check(vm, &t, e)) < 0 || (m = calloc(1, sizeof(*m))) == NULL) {
		vmt_release(vm, NULL);
		return r < 0 ? r : op_fail(e, "internal", -ENOMEM, "out of memory");
	}
	vmt_lock();
	vm->mig = m;
	snprintf(vm->migration, sizeof(vm->migration), "outgoing");
	/* Deleted here once the migration completed (also after a restart). */
	vmt_volumes_joined(&vm->spec, vm->mig_volumes, sizeof(vm->mig_volumes));
	vmstore_save(vm);
	vmt_unlock();
	log_info("vm %s (%s): %s migration to %s:%u", vm->id, name,
		 t.live ? "live" : "cold", t.nbd_host, t.nbd_port);
	r = t.live ? send_live(vm, &t, &result, e) : send_cold(vm, &t, e);
	vmt_lock();
	vm->mig = NULL;
	vm->migration[0] = '\0';
	if (r == 0)
		snprintf(vols, sizeof(vols), "%s", vm->mig_volumes);
	vm->mig_volumes[0] = '\0';
	vmstore_save(vm);
	*out = json_pack("{s:s, s:I}", "status", r == 0 ? "completed" : "failed",
			 "elapsed_ms", (json_int_t)(util_now_ms() - t0));
	if (m->progress != NULL)
		json_object_update_missing(*out, m->progress);
	vmt_unlock();
	json_decref(m->progress);
	free(m);
	json_decref(result);
	if (r < 0) {
		log_warnx("vm %s (%s): migration failed, the VM stays here: %s", vm->id,
			  name, e->msg);
		vmt_release(vm, NULL);
		return r;
	}
	log_info("vm %s (%s): migrated in %llu ms; removing it here", vm->id, name,
		 (unsigned long long)(util_now_ms() - t0));
	/* The destination has it: this copy (its QEMU, taps, ports, disk, root
	 * volume, export) goes, and the attached volumes' copies here. */
	if ((r = vmops_delete(vm, e)) < 0)
		log_warnx("vm %s: removing the migrated VM: %s", name, e->msg);
	for (v = strtok_r(vols, ",", &save); v != NULL; v = strtok_r(NULL, ",", &save))
		storage_volume_drop(v);
	return 0;
}

int
vmmigrate_status(const char *name, json_t **out, struct op_error *e)
{
	struct vm *vm;

	vmt_lock();
	if ((vm = vmt_find(name)) == NULL) {
		vmt_unlock();
		return op_fail(e, "not_found", -ENOENT, "no VM named '%s'", name);
	}
	if (vm->mig != NULL && vm->mig->progress != NULL)
		*out = json_deep_copy(vm->mig->progress);
	else
		*out = json_pack("{s:s}", "status",
				 vm->migration[0] ? vm->migration : "none");
	vmt_unlock();
	return 0;
}

int
vmmigrate_cancel(const char *name, struct op_error *e)
{
	struct vm *vm;
	int r = 0;

	vmt_lock();
	if ((vm = vmt_find(name)) == NULL)
		r = op_fail(e, "not_found", -ENOENT, "no VM named '%s'", name);
	else if (vm->mig == NULL)
		r = op_fail(e, "conflict", -EINVAL, "VM '%s' is not migrating out", name);
	else
		vm->mig->cancel = 1;
	vmt_unlock();
	return r;
}

int
vmmigrate_resolve_outgoing(struct vm *vm)
{
	struct op_error e;
	json_t *info = NULL;
	const char *st = NULL;

	if (vm->events != NULL)
		st = vmmigio_status(vm->events, &info);
	if (st != NULL && strcmp(st, "completed") == 0) {
		json_decref(info);
		log_warnx(
		    "vm %s (%s): its migration completed while the agent was down: the "
		    "destination has it, removing it here",
		    vm->id, vm->spec.name);
		vmmigio_cmd(vm->events, "quit", NULL, NULL, &e);
		vmmigio_remove(vm);
		return 1;
	}
	if (vm->events != NULL) {
		send_undo(vm, vm->events, st != NULL && strcmp(st, "none") != 0,
			  VMMIG_DRIVES_MAX, VMMIG_DRIVES_MAX, 1);
		vm->state = VM_RUNNING;
	}
	json_decref(info); /* st pointed into it */
	vm->migration[0] = '\0';
	vm->mig_volumes[0] = '\0'; /* the VM keeps them */
	vmstore_save(vm);
	log_warnx(
	    "vm %s (%s): a migration cut off by an agent restart: cancelled, the VM "
	    "stays here",
	    vm->id, vm->spec.name);
	return 0;
}
