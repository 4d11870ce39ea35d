/* replica.c - see replica.h */
#define _GNU_SOURCE
#include "replica.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"
#include "log.h"
#include "netns.h"
#include "replica_args.h"
#include "tlsid.h"
#include "util.h"
#include "vmmigio.h"

#define DISKS_MAX REPLICA_DISKS_MAX
#define QSD_TLS "repl-tls"

struct rstate {
	char vm[REPLICA_VM_MAX + 1];
	struct replica_disk disks[DISKS_MAX];
	size_t ndisks;
	int64_t point;	      /* the last complete point, 0 = none yet */
	int64_t completed_at; /* when it was committed here, unix ms */
	int64_t taken_at;     /* when the primary took it (its clock), unix ms */
	int64_t open;	      /* the point being written, 0 = none */
	int64_t committing;   /* a commit under way (redone at start), 0 = none */
	pid_t qsd;	      /* the open point's daemon */
};

/*
 * mu guards every state.json and the busy list; it is held only for short
 * steps. The long ones (a commit's qemu-img commit, a send's qemu-img
 * convert) run outside it, their replica marked busy: meanwhile every other
 * operation on that replica (open, commit, send, drop) is refused with
 * "conflict" (EBUSY) rather than made to wait for minutes, while the other
 * replicas' operations go on. abort and list are never refused: a busy
 * replica has no open point (its state.json tells).
 */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

struct busy {
	struct busy *next;
	char vm[REPLICA_VM_MAX + 1];
};
static struct busy *busy_list;

/* Is vm's replica busy? Under mu. */
static int
is_busy(const char *vm)
{
	for (const struct busy *b = busy_list; b; b = b->next)
		if (strcmp(b->vm, vm) == 0)
			return 1;
	return 0;
}

/* 0, or -EBUSY with e if vm's replica is busy. Under mu. */
static int
refuse_busy(const char *vm, struct op_error *e)
{
	if (!is_busy(vm))
		return 0;
	return op_fail(e, "conflict", -EBUSY,
		       "the replica of %s is busy (a commit or a send): try again when it ends",
		       vm);
}

/* Mark vm's replica busy (under mu, after refuse_busy): 0 or -ENOMEM. */
static int
claim(const char *vm, struct op_error *e)
{
	struct busy *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return op_fail(e, "internal", -ENOMEM, "out of memory");
	snprintf(b->vm, sizeof(b->vm), "%s", vm);
	b->next = busy_list;
	busy_list = b;
	return 0;
}

/* The end of claim (under mu). */
static void
release(const char *vm)
{
	for (struct busy **p = &busy_list; *p; p = &(*p)->next)
		if (strcmp((*p)->vm, vm) == 0) {
			struct busy *b = *p;

			*p = b->next;
			free(b);
			return;
		}
}

static void
rpath(const char *vm, const char *file, char *out, size_t len)
{
	snprintf(out, len, "%s/replicas/%s%s%s", vmt_cfg->state_dir, vm, file ? "/" : "",
		 file ? file : "");
}

static void
overlay(const char *vm, const char *disk, int64_t point, char *out, size_t len)
{
	char f[64];

	snprintf(f, sizeof(f), "%s.p%lld.qcow2", disk, (long long)point);
	rpath(vm, f, out, len);
}

static int
save(const struct rstate *s)
{
	json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:i, s:[]}", "vm", s->vm, "point",
			      (json_int_t)s->point, "completed_at_ms", (json_int_t)s->completed_at,
			      "taken_at_ms", (json_int_t)s->taken_at,
			      "open", (json_int_t)s->open, "committing",
			      (json_int_t)s->committing, "qsd", (int)s->qsd, "disks");
	char path[900], *text;
	int r;

	for (size_t i = 0; j && i < s->ndisks; i++)
		json_array_append_new(json_object_get(j, "disks"),
				      json_pack("{s:s, s:I}", "name", s->disks[i].name, "size",
						(json_int_t)s->disks[i].size));
	text = j ? json_dumps(j, 0) : NULL;
	rpath(s->vm, "state.json", path, sizeof(path));
	r = text ? util_write_atomic(path, text, strlen(text), 0600) : -ENOMEM;
	free(text);
	json_decref(j);
	return r;
}

static int
load(const char *vm, struct rstate *s)
{
	char path[900], *text;
	size_t len;
	json_t *j;
	int r;

	memset(s, 0, sizeof(*s));
	snprintf(s->vm, sizeof(s->vm), "%s", vm);
	rpath(vm, "state.json", path, sizeof(path));
	if ((r = util_read_file(path, 65536, &text, &len)) < 0)
		return r;
	j = json_loadb(text, len, 0, NULL);
	free(text);
	if (j == NULL || replica_args_disks(json_object_get(j, "disks"), s->disks, &s->ndisks) < 0) {
		json_decref(j);
		return -EBADMSG;
	}
	s->point = json_integer_value(json_object_get(j, "point"));
	s->completed_at = json_integer_value(json_object_get(j, "completed_at_ms"));
	s->taken_at = json_integer_value(json_object_get(j, "taken_at_ms"));
	s->open = json_integer_value(json_object_get(j, "open"));
	s->committing = json_integer_value(json_object_get(j, "committing"));
	s->qsd = (pid_t)json_integer_value(json_object_get(j, "qsd"));
	json_decref(j);
	return 0;
}

/* As the VM user: what QEMU's processes read and write. */
static int
give(const char *path)
{
	if (geteuid() == 0 && chown(path, vmt_cfg->vm_uid, vmt_cfg->vm_gid) < 0)
		return -errno;
	return 0;
}

/* Is pid the storage daemon of this replica (not a recycled pid)? */
static int
is_ours(const struct rstate *s, pid_t pid)
{
	char dir[800];

	rpath(s->vm, NULL, dir, sizeof(dir));
	return pid > 0 && util_cmdline_has(pid, dir);
}

/* End the open point's daemon: SIGTERM (it flushes), SIGKILL after 10 s. */
static void
qsd_stop(struct rstate *s)
{
	pid_t pid = s->qsd;

	s->qsd = 0;
	if (!is_ours(s, pid))
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 1000; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid || kill(pid, 0) < 0)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* A point's one-time credentials, once it is committed or thrown away:
 * the server's (its daemon's) and, if still here, the client's. */
static void
drop_creds(const struct rstate *s)
{
	char path[900];

	rpath(s->vm, "tls-srv", path, sizeof(path));
	util_rmtree(path);
	rpath(s->vm, "tls-cli", path, sizeof(path));
	util_rmtree(path);
}

/* Throw the open point away: its daemon, its overlays, its credentials. */
static void
discard(struct rstate *s)
{
	char path[900];

	qsd_stop(s);
	for (size_t i = 0; s->open && i < s->ndisks; i++) {
		overlay(s->vm, s->disks[i].name, s->open, path, sizeof(path));
		unlink(path);
	}
	drop_creds(s);
	s->open = 0;
}

/* The storage daemon for point s->open: every overlay exported writable
 * under its disk's name on lfd (handed over as fd 3), TLS required. */
static int
qsd_spawn(struct rstate *s, int lfd, struct op_error *e)
{
	char args[DISKS_MAX * 2][1100], obj[1000], srv[800], nbd[200], logp[900];
	const char *argv[8 + DISKS_MAX * 4];
	size_t n = 0;
	pid_t pid;
	int r;

	rpath(s->vm, "tls-srv", srv, sizeof(srv));
	rpath(s->vm, "qsd.log", logp, sizeof(logp));
	snprintf(obj, sizeof(obj), "tls-creds-x509,id=%s,dir=%s,endpoint=server,verify-peer=on",
		 QSD_TLS, srv);
	snprintf(nbd, sizeof(nbd), "addr.type=fd,addr.str=3,tls-creds=%s", QSD_TLS);
	argv[n++] = "qemu-storage-daemon";
	argv[n++] = "--object";
	argv[n++] = obj;
	for (size_t i = 0; i < s->ndisks; i++) {
		char ov[800];

		overlay(s->vm, s->disks[i].name, s->open, ov, sizeof(ov));
		snprintf(args[2 * i], sizeof(args[0]),
			 "driver=qcow2,node-name=%s,discard=unmap,file.driver=file,file.filename=%s",
			 s->disks[i].name, ov);
		snprintf(args[2 * i + 1], sizeof(args[0]),
			 "type=nbd,id=e-%s,node-name=%s,name=%s,writable=on", s->disks[i].name,
			 s->disks[i].name, s->disks[i].name);
		argv[n++] = "--blockdev";
		argv[n++] = args[2 * i];
	}
	argv[n++] = "--nbd-server";
	argv[n++] = nbd;
	for (size_t i = 0; i < s->ndisks; i++) {
		argv[n++] = "--export";
		argv[n++] = args[2 * i + 1];
	}
	argv[n] = NULL;
	if ((r = helper_spawn_fd3(argv, lfd, logp, vmt_cfg->vm_uid, vmt_cfg->vm_gid, 0, &pid)) < 0)
		return op_fail(e, "internal", r, "fork: %s", strerror(-r));
	s->qsd = pid;
	return 0;
}

/* The client side of this point's credentials, for the caller. */
static int
creds(const struct rstate *s, json_t **out, struct op_error *e)
{
	static const char *const files[] = {"ca-cert.pem", "client-cert.pem", "client-key.pem"};
	static const char *const keys[] = {"ca", "cert", "key"};
	char cli[900], path[1000], *text;
	size_t len;
	int r;

	rpath(s->vm, "tls-cli", cli, sizeof(cli));
	*out = json_object();
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", cli, files[i]);
		if ((r = util_read_file(path, VMMIG_PEM_MAX, &text, &len)) < 0) {
			json_decref(*out);
			*out = NULL;
			return op_fail(e, "internal", r, "%s: %s", path, strerror(-r));
		}
		json_object_set_new(*out, keys[i], json_stringn(text, len));
		explicit_bzero(text, len);
		free(text);
	}
	util_rmtree(cli); /* the caller's from here on */
	return 0;
}

int
replica_open(const json_t *args, json_t **out, struct op_error *e)
{
	struct replica_args a;
	const char *vm = a.vm;
	int64_t point;
	struct rstate s;
	char dir[900], path[900], srv[900], cli[900], err[400];
	unsigned port;
	json_t *tls, *exports;
	int r, lfd = -1, isnew = 0;

	if ((r = replica_args_check(REPLICA_OPEN, args, &a, e)) < 0)
		return r;
	point = a.point;
	pthread_mutex_lock(&mu);
	rpath(vm, NULL, dir, sizeof(dir));
	if ((r = refuse_busy(vm, e)) < 0)
		goto out;
	isnew = load(vm, &s) == -ENOENT;
	if (isnew) {
		char top[800];

		memset(&s, 0, sizeof(s));
		snprintf(s.vm, sizeof(s.vm), "%s", vm);
		memcpy(s.disks, a.disks, sizeof(s.disks));
		s.ndisks = a.ndisks;
		/* The VM user passes through <state>/replicas to its own. */
		snprintf(top, sizeof(top), "%s/replicas", vmt_cfg->state_dir);
		if ((r = util_mkdirs(top, 0711)) < 0 || chmod(top, 0711) < 0 ||
		    (r = util_mkdirs(dir, 0700)) < 0 || (r = give(dir)) < 0) {
			r = op_fail(e, "internal", r, "%s: %s", dir, strerror(-r));
			goto out;
		}
	} else if (s.ndisks != a.ndisks ||
		   memcmp(s.disks, a.disks, sizeof(struct replica_disk) * s.ndisks) != 0) {
		r = op_fail(e, "conflict", -EEXIST,
			    "the replica of %s has other disks: drop it first", vm);
		goto out;
	}
	if (point <= s.point) {
		r = op_fail(e, "conflict", -EEXIST, "point %lld is not after the last complete one (%lld)",
			    (long long)point, (long long)s.point);
		goto out;
	}
	if (s.committing) {
		r = op_fail(e, "conflict", -EBUSY, "point %lld is being committed",
			    (long long)s.committing);
		goto out;
	}
	discard(&s); /* an earlier point that never completed */
	s.open = point;
	for (size_t i = 0; i < s.ndisks; i++) {
		char base[900], fmt[32];
		const char *create[] = {"qemu-img", "create", "-q", "-f", "qcow2", "-o",
					"cluster_size=65536", "-b", base, "-F", "raw", path,
					fmt, NULL};
		char bn[40];

		snprintf(bn, sizeof(bn), "%s.raw", s.disks[i].name);
		rpath(vm, bn, base, sizeof(base));
		if (access(base, F_OK) < 0) {
			int fd = open(base, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

			if (fd < 0 || ftruncate(fd, (off_t)s.disks[i].size) < 0) {
				r = -errno;
				if (fd >= 0)
					close(fd);
				unlink(base);
				r = op_fail(e, "insufficient_resources", r, "%s: %s", base,
					    strerror(-r));
				goto fail;
			}
			close(fd);
		}
		overlay(vm, s.disks[i].name, point, path, sizeof(path));
		snprintf(fmt, sizeof(fmt), "%llu", (unsigned long long)s.disks[i].size);
		if ((r = util_run(create, err, sizeof(err))) < 0 || (r = give(base)) < 0 ||
		    (r = give(path)) < 0) {
			r = op_fail(e, "internal", r, "overlay %s: %s", path, err);
			goto fail;
		}
	}
	rpath(vm, "tls-srv", srv, sizeof(srv));
	rpath(vm, "tls-cli", cli, sizeof(cli));
	util_rmtree(srv);
	util_rmtree(cli);
	if ((r = tlsid_migration_creds(srv, cli, vmt_cfg->underlay_address,
				       geteuid() == 0 ? vmt_cfg->vm_uid : (uid_t)-1, vmt_cfg->vm_gid,
				       err, sizeof(err))) < 0) {
		r = op_fail(e, "internal", r, "%s", err);
		goto fail;
	}
	if ((lfd = r = vmmigio_listen(&port, e)) < 0 || (r = qsd_spawn(&s, lfd, e)) < 0 ||
	    (r = creds(&s, &tls, e)) < 0)
		goto fail;
	close(lfd);
	save(&s);
	exports = json_array();
	for (size_t i = 0; i < s.ndisks; i++)
		json_array_append_new(exports, json_string(s.disks[i].name));
	*out = json_pack("{s:s, s:i, s:o, s:o, s:I}", "host", vmt_cfg->underlay_address, "port",
			 (int)port, "exports", exports, "tls", tls, "point", (json_int_t)point);
	r = 0;
	goto out;
fail:
	if (lfd >= 0)
		close(lfd);
	discard(&s);
	if (isnew)
		util_rmtree(dir);
	else
		save(&s);
out:
	pthread_mutex_unlock(&mu);
	return r;
}

/* Commit point s->committing into the images (idempotent). */
static int
commit(struct rstate *s, uint64_t *bytes, char *err, size_t errlen)
{
	char path[900];
	struct stat st;
	int r;

	for (size_t i = 0; i < s->ndisks; i++) {
		const char *argv[] = {"qemu-img", "commit", "-q", "-d", path, NULL};

		overlay(s->vm, s->disks[i].name, s->committing, path, sizeof(path));
		if (stat(path, &st) < 0)
			continue; /* committed and removed before a restart */
		if (bytes)
			*bytes += (uint64_t)st.st_size;
		if ((r = util_run(argv, err, errlen)) < 0)
			return r;
		unlink(path);
	}
	return 0;
}

int
replica_commit(const json_t *args, json_t **out, struct op_error *e)
{
	struct replica_args a;
	const char *vm = a.vm;
	struct rstate s;
	struct timespec ts;
	uint64_t bytes = 0;
	char err[400] = "";
	int r;

	if ((r = replica_args_check(REPLICA_COMMIT, args, &a, e)) < 0)
		return r;
	pthread_mutex_lock(&mu);
	if ((r = refuse_busy(vm, e)) < 0)
		goto out;
	if ((r = load(vm, &s)) < 0) {
		r = op_fail(e, "not_found", -ENOENT, "no replica of %s", vm);
		goto out;
	}
	if (s.open != a.point) {
		r = op_fail(e, "conflict", -ESTALE, "point %lld is not the open one (%lld)",
			    (long long)a.point, (long long)s.open);
		goto out;
	}
	qsd_stop(&s); /* flushed: the point is all in the overlays */
	drop_creds(&s); /* nothing connects to this point any more */
	s.committing = a.point;
	s.open = 0;
	if ((r = save(&s)) < 0) {
		r = op_fail(e, "internal", r, "cannot record the commit");
		goto out;
	}
	if ((r = claim(vm, e)) < 0)
		goto out; /* recorded: the next start commits it */
	/* The images change outside the lock; this replica is busy meanwhile. */
	pthread_mutex_unlock(&mu);
	r = commit(&s, &bytes, err, sizeof(err));
	pthread_mutex_lock(&mu);
	release(vm);
	if (r < 0) {
		r = op_fail(e, "internal", r, "commit of point %lld: %s", (long long)a.point, err);
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	s.point = a.point;
	s.completed_at = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	s.taken_at = a.taken_at;
	s.committing = 0;
	save(&s);
	*out = json_pack("{s:I, s:I, s:I, s:I}", "point", (json_int_t)s.point, "completed_at_ms",
			 (json_int_t)s.completed_at, "taken_at_ms", (json_int_t)s.taken_at, "bytes",
			 (json_int_t)bytes);
out:
	pthread_mutex_unlock(&mu);
	return r;
}

int
replica_abort(const json_t *args, struct op_error *e)
{
	struct replica_args a;
	struct rstate s;
	int r;

	if ((r = replica_args_check(REPLICA_ABORT, args, &a, e)) < 0)
		return r;
	pthread_mutex_lock(&mu);
	/* A busy replica has no open point: nothing to do. */
	if (load(a.vm, &s) == 0 && s.open) {
		discard(&s);
		save(&s);
	}
	pthread_mutex_unlock(&mu);
	return 0;
}

static json_t *
view(const struct rstate *s)
{
	json_t *d = json_array();

	for (size_t i = 0; i < s->ndisks; i++)
		json_array_append_new(d, json_pack("{s:s, s:I}", "name", s->disks[i].name, "size",
						   (json_int_t)s->disks[i].size));
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:o}", "vm", s->vm, "point",
			 (json_int_t)s->point, "completed_at_ms", (json_int_t)s->completed_at,
			 "taken_at_ms", (json_int_t)s->taken_at, "open",
			 (json_int_t)s->open, "disks", d);
}

/* Every replica's state, with f applied first (under the lock). */
static json_t *
each(void (*f)(struct rstate *))
{
	char dir[800];
	struct dirent *de;
	struct rstate s;
	json_t *list = json_array();
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/replicas", vmt_cfg->state_dir);
	if ((d = opendir(dir)) == NULL)
		return list;
	while ((de = readdir(d)) != NULL) {
		if (!replica_args_name_ok(de->d_name, REPLICA_VM_MAX) || load(de->d_name, &s) < 0)
			continue;
		if (f)
			f(&s);
		json_array_append_new(list, view(&s));
	}
	closedir(d);
	return list;
}

int
replica_list(json_t **out, struct op_error *e)
{
	(void)e;
	pthread_mutex_lock(&mu);
	*out = each(NULL);
	pthread_mutex_unlock(&mu);
	return 0;
}

int
replica_drop(const json_t *args, struct op_error *e)
{
	struct replica_args a;
	struct rstate s;
	char dir[900];
	int r;

	if ((r = replica_args_check(REPLICA_DROP, args, &a, e)) < 0)
		return r;
	pthread_mutex_lock(&mu);
	if ((r = refuse_busy(a.vm, e)) == 0) {
		if (load(a.vm, &s) == 0)
			discard(&s);
		rpath(a.vm, NULL, dir, sizeof(dir));
		util_rmtree(dir);
	}
	pthread_mutex_unlock(&mu);
	return r;
}

int
replica_send(const json_t *args, struct op_error *e)
{
	struct replica_args a;
	const char *vm = a.vm;
	char base[900], dir[900], obj[1000], opts[300], err[512];
	const char *argv[] = {"qemu-img", "convert", "--object", obj,	       "-n",
			      "-f",	  "raw",     "--target-image-opts", base, opts,
			      NULL};
	struct rstate s;
	int r;

	if ((r = replica_args_check(REPLICA_SEND, args, &a, e)) < 0)
		return r;
	pthread_mutex_lock(&mu);
	if ((r = refuse_busy(vm, e)) < 0)
		goto out;
	if ((r = load(vm, &s)) < 0 || s.point == 0) {
		r = op_fail(e, "not_found", -ENOENT, "no complete point of %s here", vm);
		goto out;
	}
	if (s.open || s.committing) {
		r = op_fail(e, "conflict", -EBUSY, "a point of %s is open: abort it first", vm);
		goto out;
	}
	if (s.ndisks != 1 || strcmp(s.disks[0].name, "root") != 0) {
		r = op_fail(e, "conflict", -ENOTSUP,
			    "only a replica of a root disk alone can be sent (volumes: not built)");
		goto out;
	}
	if ((r = claim(vm, e)) < 0)
		goto out;
	/* The copy runs outside the lock: only this replica is busy (no
	 * point opened, committed or dropped under it), the others go on. */
	pthread_mutex_unlock(&mu);
	/* The caller's client credentials for qemu-img (run by the agent). */
	rpath(vm, "tls-send", dir, sizeof(dir));
	if ((r = vmmigio_write_creds(dir, a.tls, 0, e)) == 0) {
		rpath(vm, "root.raw", base, sizeof(base));
		snprintf(obj, sizeof(obj), "tls-creds-x509,id=%s,dir=%s,endpoint=client", QSD_TLS,
			 dir);
		snprintf(opts, sizeof(opts),
			 "driver=nbd,host=%s,port=%u,export=%s,tls-creds=%s,tls-hostname=%s",
			 a.host, a.port, a.export_name, QSD_TLS, a.host);
		/* The replica's last complete point, as it is (the guest sees a
		 * power loss); qemu-img's connection starts in the datacenter
		 * network. */
		r = netns_run(vmt_cfg->underlay_netns[0] ? vmt_cfg->underlay_netns : NULL, argv,
			      NULL, err, sizeof(err));
		if (r < 0)
			r = op_fail(e, "internal", r, "copying the replica: %s", err);
	}
	util_rmtree(dir);
	pthread_mutex_lock(&mu);
	release(vm);
out:
	pthread_mutex_unlock(&mu);
	return r;
}

int
replica_dir(const char *vm, char *out, size_t len)
{
	struct rstate s;

	if (!replica_args_name_ok(vm, REPLICA_VM_MAX) || load(vm, &s) < 0 || s.point == 0)
		return -ENOENT;
	rpath(vm, NULL, out, len);
	return 0;
}

static void
recover(struct rstate *s)
{
	char err[400];

	if (s->committing) {
		drop_creds(s); /* the committed point's, if a stop came first */
		if (commit(s, NULL, err, sizeof(err)) < 0) {
			log_warnx("replica %s: commit of point %lld again: %s", s->vm,
				  (long long)s->committing, err);
			return;
		}
		log_info("replica %s: the interrupted commit of point %lld is done", s->vm,
			 (long long)s->committing);
		s->point = s->committing;
		s->committing = 0;
	}
	if (s->open) {
		log_info("replica %s: point %lld never completed: thrown away", s->vm,
			 (long long)s->open);
		discard(s);
	}
	save(s);
}

void
replica_init(void)
{
	pthread_mutex_lock(&mu);
	json_decref(each(recover));
	pthread_mutex_unlock(&mu);
}
