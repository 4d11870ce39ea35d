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
#include "tlsid.h"
#include "util.h"
#include "vmmigio.h"

#define DISKS_MAX 9		       /* the root and up to 8 volumes */
#define DISK_MAX_BYTES (16ULL << 40)    /* 16 TiB */
#define QSD_TLS "repl-tls"

struct disk {
	char name[17];
	uint64_t size;
};

struct rstate {
	char vm[65];
	struct disk disks[DISKS_MAX];
	size_t ndisks;
	int64_t point;	      /* the last complete point, 0 = none yet */
	int64_t completed_at; /* when it was committed here, unix ms */
	int64_t taken_at;     /* when the primary took it (its clock), unix ms */
	int64_t open;	      /* the point being written, 0 = none */
	int64_t committing;   /* a commit under way (redone at start), 0 = none */
	pid_t qsd;	      /* the open point's daemon */
};

/* One operation on replicas at a time: they are rare (one per second and
 * VM) and short, except a commit, which is what they must not overlap. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static int
name_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
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

/* Disks as a request or state.json has them: 0, or -EINVAL. */
static int
parse_disks(const json_t *arr, struct rstate *s)
{
	const json_t *d;
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > DISKS_MAX)
		return -EINVAL;
	json_array_foreach(arr, i, d)
	{
		const char *n = json_string_value(json_object_get(d, "name"));
		json_int_t size = json_integer_value(json_object_get(d, "size"));

		if (!name_ok(n, 16) || !json_is_integer(json_object_get(d, "size")) || size <= 0 ||
		    (uint64_t)size > DISK_MAX_BYTES || size % 512 != 0)
			return -EINVAL;
		for (size_t k = 0; k < i; k++)
			if (strcmp(s->disks[k].name, n) == 0)
				return -EINVAL;
		snprintf(s->disks[i].name, sizeof(s->disks[i].name), "%s", n);
		s->disks[i].size = (uint64_t)size;
	}
	s->ndisks = json_array_size(arr);
	return 0;
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
	if (j == NULL || parse_disks(json_object_get(j, "disks"), s) < 0) {
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

/* Throw the open point away: its daemon and its overlays. */
static void
discard(struct rstate *s)
{
	char path[900];

	qsd_stop(s);
	for (size_t i = 0; s->open && i < s->ndisks; i++) {
		overlay(s->vm, s->disks[i].name, s->open, path, sizeof(path));
		unlink(path);
	}
	rpath(s->vm, "tls-srv", path, sizeof(path));
	util_rmtree(path);
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
	const char *vm = json_string_value(json_object_get(args, "vm"));
	json_int_t point = json_integer_value(json_object_get(args, "point"));
	struct rstate s, want;
	char dir[900], path[900], srv[900], cli[900], err[400];
	unsigned port;
	json_t *tls, *exports;
	int r, lfd = -1, isnew;

	memset(&want, 0, sizeof(want));
	if (!name_ok(vm, 64) || !json_is_integer(json_object_get(args, "point")) || point <= 0 ||
	    parse_disks(json_object_get(args, "disks"), &want) < 0)
		return op_fail(e, "invalid", -EINVAL,
			       "replica.open needs vm (a-z 0-9 - _), point (> 0) and disks: 1-9 of "
			       "{name, size} (a multiple of 512, at most 16 TiB)");
	pthread_mutex_lock(&mu);
	rpath(vm, NULL, dir, sizeof(dir));
	isnew = load(vm, &s) == -ENOENT;
	if (isnew) {
		char top[800];

		s = want;
		snprintf(s.vm, sizeof(s.vm), "%s", vm);
		/* The VM user passes through <state>/replicas to its own. */
		snprintf(top, sizeof(top), "%s/replicas", vmt_cfg->state_dir);
		if ((r = util_mkdirs(top, 0711)) < 0 || chmod(top, 0711) < 0 ||
		    (r = util_mkdirs(dir, 0700)) < 0 || (r = give(dir)) < 0) {
			r = op_fail(e, "internal", r, "%s: %s", dir, strerror(-r));
			goto out;
		}
	} else if (s.ndisks != want.ndisks ||
		   memcmp(s.disks, want.disks, sizeof(struct disk) * s.ndisks) != 0) {
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
	const char *vm = json_string_value(json_object_get(args, "vm"));
	json_int_t point = json_integer_value(json_object_get(args, "point"));
	struct rstate s;
	struct timespec ts;
	uint64_t bytes = 0;
	char err[400] = "";
	int r;

	if (!name_ok(vm, 64) || point <= 0)
		return op_fail(e, "invalid", -EINVAL, "replica.commit needs vm and point");
	pthread_mutex_lock(&mu);
	if ((r = load(vm, &s)) < 0) {
		r = op_fail(e, "not_found", -ENOENT, "no replica of %s", vm);
		goto out;
	}
	if (s.open != point) {
		r = op_fail(e, "conflict", -ESTALE, "point %lld is not the open one (%lld)",
			    (long long)point, (long long)s.open);
		goto out;
	}
	qsd_stop(&s); /* flushed: the point is all in the overlays */
	s.committing = point;
	s.open = 0;
	if ((r = save(&s)) < 0) {
		r = op_fail(e, "internal", r, "cannot record the commit");
		goto out;
	}
	if ((r = commit(&s, &bytes, err, sizeof(err))) < 0) {
		r = op_fail(e, "internal", r, "commit of point %lld: %s", (long long)point, err);
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	s.point = point;
	s.completed_at = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	s.taken_at = json_integer_value(json_object_get(args, "taken_at_ms"));
	s.committing = 0;
	save(&s);
	*out = json_pack("{s:I, s:I, s:I, s:I}", "point", (json_int_t)point, "completed_at_ms",
			 (json_int_t)s.completed_at, "taken_at_ms", (json_int_t)s.taken_at, "bytes",
			 (json_int_t)bytes);
out:
	pthread_mutex_unlock(&mu);
	return r;
}

int
replica_abort(const json_t *args, struct op_error *e)
{
	const char *vm = json_string_value(json_object_get(args, "vm"));
	struct rstate s;

	if (!name_ok(vm, 64))
		return op_fail(e, "invalid", -EINVAL, "replica.abort needs vm");
	pthread_mutex_lock(&mu);
	if (load(vm, &s) == 0 && s.open) {
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
		if (!name_ok(de->d_name, 64) || load(de->d_name, &s) < 0)
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
	const char *vm = json_string_value(json_object_get(args, "vm"));
	struct rstate s;
	char dir[900];

	if (!name_ok(vm, 64))
		return op_fail(e, "invalid", -EINVAL, "replica.drop needs vm");
	pthread_mutex_lock(&mu);
	if (load(vm, &s) == 0)
		discard(&s);
	rpath(vm, NULL, dir, sizeof(dir));
	util_rmtree(dir);
	pthread_mutex_unlock(&mu);
	return 0;
}

int
replica_send(const json_t *args, struct op_error *e)
{
	const char *vm = json_string_value(json_object_get(args, "vm"));
	const char *nbd = json_string_value(json_object_get(args, "nbd"));
	const json_t *tls = json_object_get(args, "tls");
	char host[16] = "", exp[17] = "", tail, base[900], dir[900], obj[1000], opts[300],
	     err[512];
	const char *argv[] = {"qemu-img", "convert", "--object", obj,	       "-n",
			      "-f",	  "raw",     "--target-image-opts", base, opts,
			      NULL};
	unsigned port;
	struct rstate s;
	int r;

	if (!name_ok(vm, 64) || nbd == NULL ||
	    sscanf(nbd, "nbd://%15[0-9.]:%u/%16[a-z0-9]%c", host, &port, exp, &tail) != 3 ||
	    port == 0 || port > 65535 || !json_is_object(tls))
		return op_fail(e, "invalid", -EINVAL,
			       "replica.send needs vm, nbd (nbd://IP:PORT/EXPORT) and tls, as "
			       "vm.migrate.prepare (cold) answered");
	pthread_mutex_lock(&mu);
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
	/* The caller's client credentials for qemu-img (run by the agent). */
	rpath(vm, "tls-send", dir, sizeof(dir));
	if ((r = vmmigio_write_creds(dir, tls, 0, e)) < 0)
		goto out;
	rpath(vm, "root.raw", base, sizeof(base));
	snprintf(obj, sizeof(obj), "tls-creds-x509,id=%s,dir=%s,endpoint=client", QSD_TLS, dir);
	snprintf(opts, sizeof(opts), "driver=nbd,host=%s,port=%u,export=%s,tls-creds=%s,tls-hostname=%s",
		 host, port, exp, QSD_TLS, host);
	/* The replica's last complete point, as it is (the guest sees a power
	 * loss); qemu-img's connection starts in the datacenter network. */
	r = netns_run(vmt_cfg->underlay_netns[0] ? vmt_cfg->underlay_netns : NULL, argv, NULL, err,
		      sizeof(err));
	util_rmtree(dir);
	if (r < 0)
		r = op_fail(e, "internal", r, "copying the replica: %s", err);
out:
	pthread_mutex_unlock(&mu);
	return r;
}

int
replica_dir(const char *vm, char *out, size_t len)
{
	struct rstate s;

	if (!name_ok(vm, 64) || load(vm, &s) < 0 || s.point == 0)
		return -ENOENT;
	rpath(vm, NULL, out, len);
	return 0;
}

static void
recover(struct rstate *s)
{
	char err[400];

	if (s->committing) {
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
