/* storage.c - see storage.h */
#define _GNU_SOURCE
#include "storage.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "disk.h"
#include "image.h"
#include "jsonv.h"
#include "log.h"
#include "msg.h"
#include "util.h"

/* The server's own limits (docs/storage-protocol.md), checked here first
 * so a bad request never reaches it. */
#define VOLUME_SIZE_MAX (UINT64_C(16) << 40)
#define BLOCK 4096

/* Who uses a volume (the VM table, above this module, tells: vm.h). */
static int (*users_fn)(const char *volume, char *out, size_t len);

void
storage_set_volume_users(int (*fn)(const char *volume, char *out, size_t len))
{
	users_fn = fn;
}

static int
volume_users(const char *volume, char *out, size_t len)
{
	out[0] = '\0';
	return users_fn != NULL ? users_fn(volume, out, len) : 0;
}

static struct {
	int enabled;
	char bin[PATH_MAX];
	char devices[STORAGE_DEVICES_MAX][PATH_MAX];
	unsigned n_devices;
	char user[64];
	uid_t uid;
	gid_t gid;
	char sigdir[PATH_MAX];
	char dir[PATH_MAX];
	char pool[PATH_MAX + 8];
	char exports[PATH_MAX + 16];
	char control[PATH_MAX + 16];
	char pidfile[PATH_MAX + 16];
	char logfile[PATH_MAX + 16];
} sc;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t server_pid; /* under lock */
static unsigned restarts;


/* ---- the server process ---------------------------------------------- */

/* Is pid our server? A recycled pid is not: its command line must name our
 * control socket. Reaps it if it was our child and has ended. */
static int
alive(pid_t pid)
{
	char path[64], *cmd = NULL, want[PATH_MAX + 32];
	size_t len = 0;
	int r;

	if (pid <= 0 || waitpid(pid, NULL, WNOHANG) == pid || kill(pid, 0) < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (util_read_file(path, 16384, &cmd, &len) < 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	snprintf(want, sizeof(want), "--control %s ", sc.control);
	r = strstr(cmd, "cloudlet-storaged") != NULL && strstr(cmd, want) != NULL;
	free(cmd);
	return r;
}

static pid_t
adopt(void)
{
	char *text = NULL;
	size_t len;
	pid_t pid;

	if (util_read_file(sc.pidfile, 64, &text, &len) < 0)
		return 0;
	pid = util_parse_pid(text);
	free(text);
	return alive(pid) ? pid : 0;
}

static int
spawn(pid_t *out)
{
	const char *argv[16 + 2 * STORAGE_DEVICES_MAX];
	char pidtext[32];
	unsigned n = 0, i;
	pid_t pid;

	argv[n++] = sc.bin;
	argv[n++] = "serve";
	argv[n++] = "--pool-dir";
	argv[n++] = sc.pool;
	for (i = 0; i < sc.n_devices; i++) {
		argv[n++] = "--device";
		argv[n++] = sc.devices[i];
	}
	argv[n++] = "--control";
	argv[n++] = sc.control;
	argv[n++] = "--export-dir";
	argv[n++] = sc.exports;
	if (geteuid() == 0) {
		argv[n++] = "--user";
		argv[n++] = sc.user;
	}
	if (sc.sigdir[0] != '\0') {
		argv[n++] = "--signatures";
		argv[n++] = sc.sigdir;
	}
	argv[n] = NULL;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		union {
			const char *const *c;
			char *const *m;
		} av = {.c = argv};
		int devnull = open("/dev/null", O_RDONLY);
		int logfd = open(sc.logfile, O_WRONLY | O_CREAT | O_APPEND, 0640);
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* Its own session: it outlives an agent restart, like QEMU. */
		setsid();
		if (devnull >= 0)
			dup2(devnull, 0);
		if (logfd >= 0) {
			dup2(logfd, 1);
			dup2(logfd, 2);
		}
		close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
		execv(argv[0], av.m);
		_exit(127);
	}
	snprintf(pidtext, sizeof(pidtext), "%d\n", (int)pid);
	util_write_atomic(sc.pidfile, pidtext, strlen(pidtext), 0644);
	*out = pid;
	return 0;
}

/* One request to the server: 0 with *reply, or -errno (connect failed). */
static int
call_raw(const json_t *req, json_t **reply)
{
	int connected;

	return msg_call(sc.control, req, reply, &connected);
}

/* Wait until the server answers pool.info (it formats or recovers first). */
static int
wait_ready(pid_t pid, unsigned ms)
{
	uint64_t deadline = util_now_ms() + ms;
	json_t *req = json_pack("{s:s}", "op", "pool.info"), *reply = NULL;
	int r = -ETIMEDOUT;

	while (util_now_ms() < deadline) {
		if (call_raw(req, &reply) == 0 && json_is_true(json_object_get(reply, "ok"))) {
			r = 0;
			break;
		}
		json_decref(reply);
		reply = NULL;
		/* Our child: until it has exec'd, its command line is still
		 * ours, so only its exit status says it is gone. */
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			r = -ECHILD;
			break;
		}
		usleep(50000);
	}
	json_decref(reply);
	json_decref(req);
	return r;
}

/* Start the server if it is not running. Called with lock held. */
static int
ensure_locked(void)
{
	pid_t pid;
	int r;

	if (server_pid > 0 && alive(server_pid))
		return 0;
	if ((pid = adopt()) > 0) {
		server_pid = pid;
		return 0;
	}
	/* A server that died leaves its sockets: the new one replaces them. */
	if ((r = spawn(&pid)) < 0)
		return r;
	server_pid = pid;
	if ((r = wait_ready(pid, 60000)) < 0) {
		log_warnx("storage: cloudlet-storaged did not start (see %s)", sc.logfile);
		return r;
	}
	log_info("storage: cloudlet-storaged started, pid %d", (int)pid);
	return 0;
}

static void *
monitor(void *arg)
{
	(void)arg;
	for (;;) {
		sleep(1);
		pthread_mutex_lock(&lock);
		if (!alive(server_pid)) {
			restarts++;
			log_warnx("storage: cloudlet-storaged (pid %d) ended: restarting (%u)",
				  (int)server_pid, restarts);
			if (ensure_locked() < 0) {
				/* Do not spin on a server that cannot start. */
				pthread_mutex_unlock(&lock);
				sleep(5);
				continue;
			}
		}
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

/* A missing device file is made sparse; an existing one is left alone
 * (the pool on it is the data). */
static int
make_device(const char *path, uint64_t size)
{
	struct stat st;
	int fd;

	if (stat(path, &st) == 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		int r = -errno;

		close(fd);
		unlink(path);
		return r;
	}
	close(fd);
	return 0;
}

int
storage_init(const struct storage_config *cfg)
{
	pthread_t t;
	struct passwd *pw;
	char real[PATH_MAX];
	unsigned i;
	int r;

	if (cfg->n_devices == 0)
		return 0;
	if (cfg->n_devices < 2 || cfg->n_devices > STORAGE_DEVICES_MAX) {
		log_warnx("storage: needs 2 to %d --storage-device paths", STORAGE_DEVICES_MAX);
		return -EINVAL;
	}
	if (util_fmt(sc.bin, sizeof(sc.bin), "%s", cfg->bin) < 0 ||
	    util_fmt(sc.user, sizeof(sc.user), "%s", cfg->user) < 0 ||
	    util_fmt(sc.dir, sizeof(sc.dir), "%s/storage", cfg->state_dir) < 0)
		return -ENAMETOOLONG;
	if (access(sc.bin, X_OK) < 0) {
		log_warn("storage: %s", sc.bin);
		return -errno;
	}
	if (cfg->signatures != NULL) {
		if (realpath(cfg->signatures, real) == NULL) {
			log_warn("storage: signatures %s", cfg->signatures);
			return -errno;
		}
		snprintf(sc.sigdir, sizeof(sc.sigdir), "%s", real);
	}
	pw = getpwnam(sc.user);
	if (pw == NULL && geteuid() == 0) {
		log_warnx("storage: no user '%s' (make setup creates it)", sc.user);
		return -ENOENT;
	}
	sc.uid = pw ? pw->pw_uid : geteuid();
	sc.gid = pw ? pw->pw_gid : getegid();
	for (i = 0; i < cfg->n_devices; i++) {
		if ((r = make_device(cfg->devices[i], cfg->device_size)) < 0) {
			log_warnx("storage: device %s: %s", cfg->devices[i], strerror(-r));
			return r;
		}
		if (realpath(cfg->devices[i], real) == NULL ||
		    util_fmt(sc.devices[i], sizeof(sc.devices[i]), "%s", real) < 0)
			return -ENAMETOOLONG;
	}
	sc.n_devices = cfg->n_devices;
	snprintf(sc.pool, sizeof(sc.pool), "%s/pool", sc.dir);
	snprintf(sc.exports, sizeof(sc.exports), "%s/exports", sc.dir);
	snprintf(sc.control, sizeof(sc.control), "%s/control.sock", sc.dir);
	snprintf(sc.pidfile, sizeof(sc.pidfile), "%s/storaged.pid", sc.dir);
	snprintf(sc.logfile, sizeof(sc.logfile), "%s/storaged.log", sc.dir);
	/* 0711: QEMU (another user) must reach exports/, nobody lists it. */
	if ((r = util_mkdirs(sc.dir, 0711)) < 0)
		return r;
	chmod(sc.dir, 0711);
	pthread_mutex_lock(&lock);
	r = ensure_locked();
	pthread_mutex_unlock(&lock);
	if (r < 0)
		return r;
	sc.enabled = 1;
	if (pthread_create(&t, NULL, monitor, NULL) != 0)
		return -EAGAIN;
	pthread_detach(t);
	log_info("storage: %u devices, pool %s, server pid %d", sc.n_devices, sc.pool,
		 (int)server_pid);
	return 0;
}

int
storage_enabled(void)
{
	return sc.enabled;
}

/* The server's error codes, as the agent's (static strings). */
static const char *
map_code(const char *c)
{
	static const char *const known[] = {"invalid",		      "not_found", "conflict",
					    "insufficient_resources", "internal",  "busy",
					    "timeout"};

	for (size_t i = 0; c != NULL && i < ARRAY_LEN(known); i++)
		if (strcmp(c, known[i]) == 0)
			return known[i];
	return "internal";
}

/*
 * One operation on the server: 0 with *out (the result, new reference, may
 * be NULL), or -errno with e filled from the server's error. A server that
 * is restarting is waited for (up to 10 s) rather than reported.
 */
static int
call(const char *op, json_t *args, json_t **out, struct op_error *e)
{
	json_t *req, *reply = NULL, *err;
	uint64_t deadline = util_now_ms() + 10000;
	int r;

	if (out != NULL)
		*out = NULL;
	if (!sc.enabled) {
		json_decref(args);
		return op_fail(e, "conflict", -ENODEV, "storage is not configured");
	}
	req = json_pack("{s:s, s:o}", "op", op, "args", args ? args : json_object());
	if (req == NULL)
		return op_fail(e, "internal", -ENOMEM, "out of memory");
	while ((r = call_raw(req, &reply)) < 0 && util_now_ms() < deadline) {
		json_decref(reply);
		reply = NULL;
		usleep(100000);
	}
	json_decref(req);
	if (r < 0) {
		json_decref(reply);
		return op_fail(e, "internal", r, "the storage server does not answer: %s",
			    strerror(-r));
	}
	if (json_is_true(json_object_get(reply, "ok"))) {
		if (out != NULL) {
			*out = json_object_get(reply, "result");
			json_incref(*out);
		}
		json_decref(reply);
		return 0;
	}
	err = json_object_get(reply, "error");
	r = op_fail(e, map_code(json_string_value(json_object_get(err, "code"))), -EIO, "%s",
		 json_string_value(json_object_get(err, "message")) ?: "storage error");
	json_decref(reply);
	return r;
}

/* ---- exports ---------------------------------------------------------- */

int
storage_export_socket(const char *vm_id, char *out, size_t len)
{
	return util_fmt(out, len, "%s/%s.sock", sc.exports, vm_id);
}

static json_t *
spec_volumes(const struct vm_spec *s)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < s->n_volumes; i++)
		json_array_append_new(a, json_string(s->volumes[i]));
	return a;
}

int
storage_export_create(const char *vm_id, const struct vm_spec *s, const char *root,
		      struct op_error *e)
{
	json_t *vols = spec_volumes(s);

	/* The root first: QEMU's drive order is the export's. */
	if (root != NULL)
		json_array_insert_new(vols, 0, json_string(root));
	storage_export_delete(vm_id);
	return call("export.create",
		    json_pack("{s:s, s:s, s:o}", "vm", vm_id, "tenant", storage_root_tenant(s),
			      "volumes", vols),
		    NULL, e);
}

int
storage_export_bind(const char *vm_id, pid_t pid, struct op_error *e)
{
	return call("export.bind", json_pack("{s:s, s:i}", "vm", vm_id, "pid", (int)pid), NULL,
		    e);
}

void
storage_export_delete(const char *vm_id)
{
	struct op_error e;

	if (sc.enabled)
		call("export.delete", json_pack("{s:s}", "vm", vm_id), NULL, &e);
}

/* ---- root disks as volumes --------------------------------------------- */

/* One import at a time: two VMs of a new image must not both import it. */
static pthread_mutex_t import_lock = PTHREAD_MUTEX_INITIALIZER;

void
storage_root_name(const char *vm_id, char *out, size_t len)
{
	snprintf(out, len, "root-%s", vm_id);
}

const char *
storage_root_tenant(const struct vm_spec *s)
{
	return s->tenant[0] != '\0' ? s->tenant : STORAGE_PLATFORM_TENANT;
}

/* The size of a volume, 0 when it does not exist, or -errno. */
static int64_t
volume_size(const char *name, struct op_error *e)
{
	json_t *v = NULL;
	int64_t size;
	int r;

	if ((r = call("volume.show", json_pack("{s:s}", "name", name), &v, e)) < 0)
		return strcmp(e->code, "not_found") == 0 ? 0 : r;
	size = json_integer_value(json_object_get(v, "size"));
	json_decref(v);
	return size;
}

/*
 * An export the agent uses itself (named tag: import-..., grow-...): root
 * may connect without a bind. Its socket into sock.
 */
static int
own_export(const char *tag, const char *tenant, const char *volume, char *sock, size_t len,
	   struct op_error *e)
{
	struct op_error ignored;

	call("export.delete", json_pack("{s:s}", "vm", tag), NULL, &ignored);
	if (storage_export_socket(tag, sock, len) < 0)
		return op_fail(e, "internal", -ENAMETOOLONG, "export path too long");
	return call("export.create",
		    json_pack("{s:s, s:s, s:[s]}", "vm", tag, "tenant", tenant, "volumes", volume),
		    NULL, e);
}

/*
 * Import an image's root filesystem into img-<id>, then snapshot it as
 * the read-only base. The filesystem is as large as the smallest disk a
 * VM of this image may have (1 GiB, or the image's minimum rounded up),
 * so the commonest VM needs no resize2fs at all. Called with import_lock.
 */
static int
import_image(const struct image *im, const char *vol, const char *base, uint64_t gib,
	     struct op_error *e)
{
	char raw[PATH_MAX + 32], rootfs[PATH_MAX], sock[PATH_MAX + 32], uri[PATH_MAX + 128];
	char tag[64], err[512];
	struct op_error ignored;
	uint64_t t0 = util_now_ms();
	int r;

	snprintf(tag, sizeof(tag), "import-%s", vol);
	if (util_fmt(raw, sizeof(raw), "%s/%s.raw", sc.dir, vol) < 0 ||
	    util_fmt(rootfs, sizeof(rootfs), "%s/images/%s/rootfs", image_guest_dir(),
		     im->name) < 0)
		return op_fail(e, "internal", -ENAMETOOLONG, "image path too long");
	/* A volume without its snapshot is an import that did not finish. */
	call("export.delete", json_pack("{s:s}", "vm", tag), NULL, &ignored);
	call("volume.delete", json_pack("{s:s}", "name", vol), NULL, &ignored);
	unlink(raw);
	if ((r = disk_create_root(raw, rootfs, gib, err, sizeof(err))) < 0)
		return op_fail(e, "internal", r, "image %s: %s", im->name, err);
	r = call("volume.create",
		 json_pack("{s:s, s:s, s:I, s:s}", "name", vol, "tenant", STORAGE_PLATFORM_TENANT,
			   "size", (json_int_t)(gib << 30), "redundancy", "mirror"),
		 NULL, e);
	if (r < 0)
		goto out;
	if ((r = own_export(tag, STORAGE_PLATFORM_TENANT, vol, sock, sizeof(sock), e)) < 0)
		goto out;
	if (util_fmt(uri, sizeof(uri), "nbd+unix:///%s?socket=%s", vol, sock) < 0) {
		r = op_fail(e, "internal", -ENAMETOOLONG, "export path too long");
		goto out;
	}
	{
		/* The new volume is thin, so it reads as zeros: only the
		 * filesystem's written blocks travel. */
		const char *const argv[] = {"qemu-img", "convert", "-n", "--target-is-zero", "-f",
					    "raw", "-O", "raw", raw, uri, NULL};

		if ((r = util_run(argv, err, sizeof(err))) < 0) {
			op_fail(e, "internal", r, "copying image %s into %s: %s", im->name, vol, err);
			goto out;
		}
	}
	call("export.delete", json_pack("{s:s}", "vm", tag), NULL, &ignored);
	r = call("volume.snapshot", json_pack("{s:s, s:s}", "name", vol, "snapshot", base), NULL,
		 e);
	if (r == 0)
		log_info("storage: image %s (%s) imported into %s in %llu ms", im->name, im->id,
			 base, (unsigned long long)(util_now_ms() - t0));
out:
	if (r < 0) {
		call("export.delete", json_pack("{s:s}", "vm", tag), NULL, &ignored);
		call("volume.delete", json_pack("{s:s}", "name", vol), NULL, &ignored);
	}
	unlink(raw);
	return r;
}

/* The image's base snapshot into base (imported first if needed), and the
 * size of its filesystem in GiB. */
static int
image_base(const char *image, char *base, size_t len, uint64_t *gib, struct op_error *e)
{
	struct image im;
	char vol[32];
	int64_t size;
	int r;

	if (image_find(image, &im) < 0 || strlen(im.id) < 16)
		return op_fail(e, "invalid", -ENOENT, "image %s has no id (rebuild it)", image);
	snprintf(vol, sizeof(vol), "img-%.16s", im.id);
	snprintf(base, len, "%s.base", vol);
	*gib = im.min_disk_mib > 1024 ? (im.min_disk_mib + 1023) / 1024 : 1;
	pthread_mutex_lock(&import_lock);
	size = volume_size(base, e);
	r = size < 0 ? (int)size : size == 0 ? import_image(&im, vol, base, *gib, e) : 0;
	pthread_mutex_unlock(&import_lock);
	return r;
}

/*
 * Grow the ext4 filesystem on a volume. The host has no NBD client module,
 * so qemu-storage-daemon exports the volume as a FUSE file that e2fsck and
 * resize2fs work on as they do on root.raw; only metadata is written.
 */
static int
grow_fs(const char *vm_id, const char *tenant, const char *vol, struct op_error *e)
{
	char tag[64], sock[PATH_MAX + 32], file[PATH_MAX + 32], pidf[PATH_MAX + 32];
	char bdev[PATH_MAX + 256], exp[PATH_MAX + 128], err[512], *text = NULL;
	struct op_error ignored;
	size_t n;
	pid_t pid = 0;
	int r, fd;

	snprintf(tag, sizeof(tag), "grow-%s", vm_id);
	if (util_fmt(file, sizeof(file), "%s/%s.img", sc.dir, tag) < 0 ||
	    util_fmt(pidf, sizeof(pidf), "%s/%s.pid", sc.dir, tag) < 0)
		return op_fail(e, "internal", -ENAMETOOLONG, "path too long");
	if ((r = own_export(tag, tenant, vol, sock, sizeof(sock), e)) < 0)
		return r;
	if (util_fmt(bdev, sizeof(bdev),
		     "driver=nbd,node-name=root,server.type=unix,server.path=%s,export=%s", sock,
		     vol) < 0 ||
	    util_fmt(exp, sizeof(exp),
		     "type=fuse,id=fs,node-name=root,mountpoint=%s,writable=on", file) < 0) {
		r = op_fail(e, "internal", -ENAMETOOLONG, "path too long");
		goto out;
	}
	umount2(file, MNT_DETACH); /* left by a crash, if any */
	unlink(pidf);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = op_fail(e, "internal", -errno, "%s: %s", file, strerror(errno));
		goto out;
	}
	close(fd);
	{
		/* --daemonize returns once the export is mounted. */
		const char *const qsd[] = {"qemu-storage-daemon", "--blockdev", bdev, "--export",
					   exp, "--pidfile", pidf, "--daemonize", NULL};
		const char *const fsck[] = {"e2fsck", "-f", "-p", file, NULL};
		const char *const resize[] = {"resize2fs", file, NULL};

		if ((r = util_run(qsd, err, sizeof(err))) < 0) {
			op_fail(e, "internal", r, "qemu-storage-daemon: %s", err);
			goto out;
		}
		if (util_read_file(pidf, 64, &text, &n) == 0)
			pid = util_parse_pid(text);
		free(text);
		/* A fresh clone was never mounted and resizes at once; a used
		 * one must be checked first (resize2fs says so). As in
		 * disk_grow_root, e2fsck -p exits 1 after harmless fixes. */
		if (util_run(resize, err, sizeof(err)) < 0) {
			(void)util_run(fsck, err, sizeof(err));
			if ((r = util_run(resize, err, sizeof(err))) < 0)
				op_fail(e, "internal", r, "resize2fs: %s", err);
		}
	}
out:
	if (pid > 0) {
		uint64_t deadline = util_now_ms() + 10000;

		/* SIGTERM: it flushes, unmounts and exits. */
		kill(pid, SIGTERM);
		while (kill(pid, 0) == 0 && waitpid(pid, NULL, WNOHANG) <= 0 &&
		       util_now_ms() < deadline)
			usleep(10000);
	}
	umount2(file, MNT_DETACH);
	unlink(file);
	unlink(pidf);
	call("export.delete", json_pack("{s:s}", "vm", tag), NULL, &ignored);
	return r;
}

int
storage_root_prepare(const char *vm_id, const struct vm_spec *s, uint64_t size_gib,
		     uint64_t done_gib, struct op_error *e)
{
	const char *tenant = storage_root_tenant(s);
	char root[80], base[64];
	uint64_t gib = 0, t0 = util_now_ms(), t1;
	int64_t size;
	int r, made = 0;

	if (!sc.enabled)
		return op_fail(e, "conflict", -ENODEV, "storage is not configured");
	storage_root_name(vm_id, root, sizeof(root));
	if ((size = volume_size(root, e)) < 0)
		return (int)size;
	if (size == 0) {
		if ((r = image_base(s->image, base, sizeof(base), &gib, e)) < 0)
			return r;
		/* Copy-on-write: milliseconds whatever the size. */
		r = call("volume.clone",
			 json_pack("{s:s, s:s, s:s}", "name", base, "clone", root, "tenant", tenant),
			 NULL, e);
		if (r < 0)
			return r;
		size = (int64_t)(gib << 30);
		made = 1;
	}
	if ((uint64_t)size > size_gib << 30)
		return op_fail(e, "invalid", -EINVAL, "shrinking a disk is not supported");
	if ((uint64_t)size == size_gib << 30 && (made || done_gib >= size_gib)) {
		if (made)
			log_info("vm %s: root volume %s made in %llu ms", vm_id, root,
				 (unsigned long long)(util_now_ms() - t0));
		return 0;
	}
	/* Grown before but not its filesystem (that step failed, or the agent
	 * stopped in between): resize2fs again, which is harmless. */
	if ((uint64_t)size < size_gib << 30 &&
	    (r = call("volume.grow",
		      json_pack("{s:s, s:I}", "name", root, "size", (json_int_t)(size_gib << 30)),
		      NULL, e)) < 0)
		return r;
	t1 = util_now_ms();
	if ((r = grow_fs(vm_id, tenant, root, e)) < 0)
		return r;
	log_info("vm %s: root volume %s ready in %llu ms (made or grown to %llu GiB in %llu ms, "
		 "its filesystem in %llu ms)",
		 vm_id, root, (unsigned long long)(util_now_ms() - t0),
		 (unsigned long long)size_gib, (unsigned long long)(t1 - t0),
		 (unsigned long long)(util_now_ms() - t1));
	return 0;
}

void
storage_root_delete(const char *vm_id)
{
	char root[80];
	struct op_error e;

	storage_root_name(vm_id, root, sizeof(root));
	if (sc.enabled &&
	    call("volume.delete", json_pack("{s:s}", "name", root), NULL, &e) < 0 &&
	    strcmp(e.code, "not_found") != 0)
		log_warnx("vm %s: cannot delete its root volume %s: %s", vm_id, root, e.msg);
}

/* ---- argument checks ------------------------------------------------- */

/* Names and tenants: what a VM name may be (spec.h), which is within what
 * the server takes. */
static int
arg_ident(json_t *args, const char *key, int required, const char **out,
	  struct op_error *e)
{
	json_t *v = json_object_get(args, key);
	char err[200];

	*out = NULL;
	if (v == NULL && !required)
		return 0;
	if (!json_is_string(v))
		return op_fail(e, "invalid", -EINVAL, "%s is required and must be a string", key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return op_fail(e, "invalid", -EINVAL, "%s must not contain NUL", key);
	/* Its message reads "name must ...": say which field. */
	if (spec_check_name(json_string_value(v), err, sizeof(err)) < 0)
		return op_fail(e, "invalid", -EINVAL, "%s%s", key,
			    strncmp(err, "name", 4) == 0 ? err + 4 : err);
	*out = json_string_value(v);
	return 0;
}

static int
arg_size(json_t *args, const char *key, uint64_t *out, struct op_error *e)
{
	json_t *v = json_object_get(args, key);
	json_int_t n;

	if (!json_is_integer(v))
		return op_fail(e, "invalid", -EINVAL, "%s is required and must be an integer (bytes)",
			    key);
	n = json_integer_value(v);
	if (n < BLOCK || (uint64_t)n > VOLUME_SIZE_MAX || n % BLOCK != 0)
		return op_fail(e, "invalid", -EINVAL,
			    "%s must be a multiple of 4096 from 4096 to 16 TiB (bytes)", key);
	*out = (uint64_t)n;
	return 0;
}

static int
only(json_t *args, const char *const *allowed, struct op_error *e)
{
	char err[200];

	if (jsonv_only_fields(args, allowed, err, sizeof(err)) < 0)
		return op_fail(e, "invalid", -EINVAL, "%s", err);
	return 0;
}

/*
 * The volume view of name if it belongs to tenant. Another tenant's
 * volume answers exactly like a missing one.
 */
static int
owned(const char *tenant, const char *name, json_t **view, struct op_error *e)
{
	json_t *v = NULL;
	int r;

	if ((r = call("volume.show", json_pack("{s:s}", "name", name), &v, e)) < 0)
		return r;
	if (strcmp(json_string_value(json_object_get(v, "tenant")) ?: "", tenant) != 0) {
		json_decref(v);
		return op_fail(e, "not_found", -ENOENT, "no volume '%s'", name);
	}
	if (view != NULL)
		*view = v;
	else
		json_decref(v);
	return 0;
}

int
storage_check_volumes(const struct vm_spec *s, struct op_error *e)
{
	int r;

	if (s->n_volumes == 0)
		return 0;
	if (!sc.enabled)
		return op_fail(e, "conflict", -ENODEV, "storage is not configured");
	if (s->tenant[0] == '\0')
		return op_fail(e, "invalid", -EINVAL, "a VM with volumes needs a tenant");
	for (unsigned i = 0; i < s->n_volumes; i++) {
		json_t *v = NULL;

		if ((r = owned(s->tenant, s->volumes[i], &v, e)) < 0) {
			if (strcmp(e->code, "not_found") == 0)
				return op_fail(e, "invalid", -EINVAL, "no volume '%s' of tenant '%s'",
					    s->volumes[i], s->tenant);
			return r;
		}
		if (json_is_true(json_object_get(v, "readonly"))) {
			json_decref(v);
			return op_fail(e, "invalid", -EINVAL,
				    "volume '%s' is a snapshot (read-only): clone it to attach it",
				    s->volumes[i]);
		}
		json_decref(v);
	}
	return 0;
}

/* ---- operations -------------------------------------------------------- */

static int
op_info(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {NULL};
	json_t *info = NULL;
	int r;

	if ((r = only(args, allowed, e)) < 0)
		return r;
	if (!sc.enabled) {
		*out = json_pack("{s:b}", "enabled", 0);
		return 0;
	}
	if ((r = call("pool.info", NULL, &info, e)) < 0)
		return r;
	pthread_mutex_lock(&lock);
	json_object_set_new(info, "enabled", json_true());
	json_object_set_new(info, "server_pid", json_integer(server_pid));
	json_object_set_new(info, "server_restarts", json_integer(restarts));
	pthread_mutex_unlock(&lock);
	*out = info;
	return 0;
}

static int
op_create(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"tenant", "name", "size", "redundancy", NULL};
	const char *tenant, *name, *red = "mirror";
	json_t *rv = json_object_get(args, "redundancy");
	uint64_t size;
	int r;

	if ((r = only(args, allowed, e)) < 0 || (r = arg_ident(args, "tenant", 1, &tenant, e)) < 0 ||
	    (r = arg_ident(args, "name", 1, &name, e)) < 0 ||
	    (r = arg_size(args, "size", &size, e)) < 0)
		return r;
	if (rv != NULL) {
		red = json_string_value(rv);
		if (red == NULL || (strcmp(red, "mirror") != 0 && strcmp(red, "stripe") != 0))
			return op_fail(e, "invalid", -EINVAL, "redundancy must be mirror or stripe");
	}
	return call("volume.create",
		    json_pack("{s:s, s:s, s:I, s:s}", "name", name, "tenant", tenant, "size",
			      (json_int_t)size, "redundancy", red),
		    out, e);
}

/* A volume view with the agent's VMs that name it. */
static json_t *
with_vms(json_t *v)
{
	char vms[256];

	if (volume_users(json_string_value(json_object_get(v, "name")) ?: "", vms,
			    sizeof(vms)) > 0)
		json_object_set_new(v, "vms", json_string(vms));
	return v;
}

static int
op_list(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"tenant", NULL};
	const char *tenant;
	json_t *list = NULL, *v;
	size_t i;
	int r;

	if ((r = only(args, allowed, e)) < 0 || (r = arg_ident(args, "tenant", 0, &tenant, e)) < 0)
		return r;
	r = call("volume.list", tenant ? json_pack("{s:s}", "tenant", tenant) : NULL, &list, e);
	if (r < 0)
		return r;
	json_array_foreach(list, i, v)
		with_vms(v);
	*out = list;
	return 0;
}

static int
op_show(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"tenant", "name", NULL};
	const char *tenant, *name;
	int r;

	if ((r = only(args, allowed, e)) < 0 || (r = arg_ident(args, "tenant", 1, &tenant, e)) < 0 ||
	    (r = arg_ident(args, "name", 1, &name, e)) < 0 || (r = owned(tenant, name, out, e)) < 0)
		return r;
	with_vms(*out);
	return 0;
}

static int
op_grow(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"tenant", "name", "size", NULL};
	const char *tenant, *name;
	uint64_t size;
	int r;

	if ((r = only(args, allowed, e)) < 0 || (r = arg_ident(args, "tenant", 1, &tenant, e)) < 0 ||
	    (r = arg_ident(args, "name", 1, &name, e)) < 0 ||
	    (r = arg_size(args, "size", &size, e)) < 0 || (r = owned(tenant, name, NULL, e)) < 0)
		return r;
	/* A running VM sees the new size after its next start: virtio-blk
	 * over NBD reads the size at connect. */
	return call("volume.grow", json_pack("{s:s, s:I}", "name", name, "size", (json_int_t)size),
		    out, e);
}

static int
op_delete(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"tenant", "name", NULL};
	const char *tenant, *name;
	char vms[256];
	int r;

	(void)out;
	if ((r = only(args, allowed, e)) < 0 || (r = arg_ident(args, "tenant", 1, &tenant, e)) < 0 ||
	    (r = arg_ident(args, "name", 1, &name, e)) < 0 || (r = owned(tenant, name, NULL, e)) < 0)
		return r;
	if (volume_users(name, vms, sizeof(vms)) > 0)
		return op_fail(e, "conflict", -EBUSY, "volume '%s' is attached to VM %s", name, vms);
	return call("volume.delete", json_pack("{s:s}", "name", name), NULL, e);
}

/* volume.snapshot {tenant, name, snapshot} and volume.clone {tenant, name,
 * clone}: the copy stays the tenant's. */
static int
op_copy(json_t *args, json_t **out, struct op_error *e, int snapshot)
{
	static const char *const allowed_s[] = {"tenant", "name", "snapshot", NULL};
	static const char *const allowed_c[] = {"tenant", "name", "clone", "redundancy", NULL};
	const char *key = snapshot ? "snapshot" : "clone";
	const char *tenant, *name, *copy;
	json_t *rv = json_object_get(args, "redundancy"), *a;
	int r;

	if ((r = only(args, snapshot ? allowed_s : allowed_c, e)) < 0 ||
	    (r = arg_ident(args, "tenant", 1, &tenant, e)) < 0 ||
	    (r = arg_ident(args, "name", 1, &name, e)) < 0 ||
	    (r = arg_ident(args, key, 1, &copy, e)) < 0 || (r = owned(tenant, name, NULL, e)) < 0)
		return r;
	if (snapshot)
		return call("volume.snapshot", json_pack("{s:s, s:s}", "name", name, "snapshot", copy),
			    out, e);
	a = json_pack("{s:s, s:s, s:s}", "name", name, "clone", copy, "tenant", tenant);
	if (rv != NULL) {
		if (!json_is_string(rv) || (strcmp(json_string_value(rv), "mirror") != 0 &&
					    strcmp(json_string_value(rv), "stripe") != 0)) {
			json_decref(a);
			return op_fail(e, "invalid", -EINVAL, "redundancy must be mirror or stripe");
		}
		json_object_set(a, "redundancy", rv);
	}
	return call("volume.clone", a, out, e);
}

static int
op_snapshot(json_t *args, json_t **out, struct op_error *e)
{
	return op_copy(args, out, e, 1);
}

static int
op_clone(json_t *args, json_t **out, struct op_error *e)
{
	return op_copy(args, out, e, 0);
}

static int
op_scan(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"tenant", "name", "quarantine", NULL};
	const char *tenant, *name;
	json_t *q = json_object_get(args, "quarantine");
	int r;

	if ((r = only(args, allowed, e)) < 0 || (r = arg_ident(args, "tenant", 1, &tenant, e)) < 0 ||
	    (r = arg_ident(args, "name", 1, &name, e)) < 0)
		return r;
	if (q != NULL && !json_is_boolean(q))
		return op_fail(e, "invalid", -EINVAL, "quarantine must be true or false");
	if ((r = owned(tenant, name, NULL, e)) < 0)
		return r;
	return call("scan", json_pack("{s:s, s:b}", "volume", name, "quarantine", json_is_true(q)),
		    out, e);
}

static int
arg_count(json_t *args, const char *key, json_int_t dflt, json_int_t max, json_int_t *out,
	  struct op_error *e)
{
	json_t *v = json_object_get(args, key);

	if (v == NULL) {
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		return op_fail(e, "invalid", -EINVAL, "%s must be an integer from 0 to %lld", key,
			    (long long)max);
	*out = json_integer_value(v);
	return 0;
}

static int
op_alerts(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"since", "limit", NULL};
	json_int_t since, limit;
	int r;

	if ((r = only(args, allowed, e)) < 0 ||
	    (r = arg_count(args, "since", 0, INT64_MAX, &since, e)) < 0 ||
	    (r = arg_count(args, "limit", 1000, 1000, &limit, e)) < 0)
		return r;
	return call("alert.list", json_pack("{s:I, s:I}", "since", since, "limit", limit ? limit : 1000),
		    out, e);
}

static int
op_devices(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {NULL};
	int r;

	if ((r = only(args, allowed, e)) < 0)
		return r;
	return call("device.list", NULL, out, e);
}

static int
op_scrub(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {NULL};
	int r;

	if ((r = only(args, allowed, e)) < 0)
		return r;
	return call("scrub", NULL, out, e);
}

static int
op_fail_device(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"index", "reason", NULL};
	json_t *reason = json_object_get(args, "reason");
	json_int_t idx;
	int r;

	if ((r = only(args, allowed, e)) < 0 ||
	    (r = arg_count(args, "index", -1, STORAGE_DEVICES_MAX - 1, &idx, e)) < 0)
		return r;
	if (idx < 0)
		return op_fail(e, "invalid", -EINVAL, "index is required");
	if (reason != NULL && (!json_is_string(reason) || json_string_length(reason) > 200 ||
			       strlen(json_string_value(reason)) != json_string_length(reason)))
		return op_fail(e, "invalid", -EINVAL, "reason must be a string of at most 200 bytes");
	return call("device.fail",
		    json_pack("{s:I, s:s}", "index", idx, "reason",
			      reason ? json_string_value(reason) : "marked failed by the operator"),
		    out, e);
}

/*
 * device.replace {index, path}: a path that does not exist is created
 * sparse, as large as the device it replaces, and given to the server's
 * user (the server has dropped root by now and must open it itself).
 */
static int
op_replace(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"index", "path", NULL};
	const char *path = json_string_value(json_object_get(args, "path"));
	json_t *devs = NULL, *d;
	json_int_t idx, size = 0;
	size_t i;
	int r, created = 0;

	if ((r = only(args, allowed, e)) < 0 ||
	    (r = arg_count(args, "index", -1, STORAGE_DEVICES_MAX - 1, &idx, e)) < 0)
		return r;
	if (idx < 0)
		return op_fail(e, "invalid", -EINVAL, "index is required");
	if (path == NULL || path[0] != '/' || strlen(path) >= PATH_MAX ||
	    strlen(path) != json_string_length(json_object_get(args, "path")))
		return op_fail(e, "invalid", -EINVAL, "path must be an absolute path");
	if ((r = call("device.list", NULL, &devs, e)) < 0)
		return r;
	json_array_foreach(devs, i, d)
		if (json_integer_value(json_object_get(d, "index")) == idx)
			size = json_integer_value(json_object_get(d, "size"));
	json_decref(devs);
	if (size <= 0)
		return op_fail(e, "not_found", -ENOENT, "no device %lld", (long long)idx);
	if (access(path, F_OK) < 0) {
		if ((r = make_device(path, (uint64_t)size)) < 0)
			return op_fail(e, "invalid", r, "cannot create %s: %s", path, strerror(-r));
		created = 1;
		if (chown(path, sc.uid, sc.gid) < 0 && geteuid() == 0) {
			r = -errno;
			unlink(path);
			return op_fail(e, "internal", r, "chown %s: %s", path, strerror(-r));
		}
	}
	r = call("device.replace", json_pack("{s:I, s:s}", "index", idx, "path", path), out, e);
	if (r < 0 && created)
		unlink(path);
	return r;
}

static const struct {
	const char *op;
	int (*fn)(json_t *args, json_t **out, struct op_error *e);
} ops[] = {
	{"storage.info", op_info},	 {"volume.create", op_create},
	{"volume.list", op_list},	 {"volume.show", op_show},
	{"volume.grow", op_grow},	 {"volume.delete", op_delete},
	{"volume.snapshot", op_snapshot}, {"volume.clone", op_clone},
	{"volume.scan", op_scan},	 {"alert.list", op_alerts},
	{"device.list", op_devices},	 {"device.fail", op_fail_device},
	{"device.replace", op_replace},	 {"scrub", op_scrub},
};

int
storage_dispatch(const char *op, json_t *args, json_t **out, struct op_error *e)
{
	for (size_t i = 0; i < ARRAY_LEN(ops); i++) {
		if (strcmp(ops[i].op, op) != 0)
			continue;
		if (!sc.enabled && ops[i].fn != op_info)
			return op_fail(e, "conflict", -ENODEV, "storage is not configured");
		return ops[i].fn(args, out, e);
	}
	return -ENOSYS;
}
