/* storaged.c - see stclient.h: the storage server process and the calls to it */
#define _GNU_SOURCE

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
#include "helper.h"
#include "image.h"
#include "jsonv.h"
#include "log.h"
#include "msg.h"
#include "stclient.h"
#include "util.h"

/* Who uses a volume (the VM table, above this module, tells: vm.h). */
static int (*users_fn)(const char *volume, char *out, size_t len);

void
storage_set_volume_users(int (*fn)(const char *volume, char *out, size_t len))
{
	users_fn = fn;
}

int
st_volume_users(const char *volume, char *out, size_t len)
{
	out[0] = '\0';
	return users_fn != NULL ? users_fn(volume, out, len) : 0;
}

struct st_conf st_conf;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t server_pid; /* under lock */
static unsigned restarts;


/* ---- the server process ---------------------------------------------- */

/* The server as a helper process (helper.h): its command line names our
 * control socket. */
static char marker[PATH_MAX + 32];
static const struct helper hp = {"cloudlet-storaged", marker, st_conf.pidfile, st_conf.logfile};

static int
alive(pid_t pid)
{
	return helper_alive(&hp, pid);
}

static int
spawn(pid_t *out)
{
	const char *argv[16 + 2 * STORAGE_DEVICES_MAX];
	unsigned n = 0, i;

	argv[n++] = st_conf.bin;
	argv[n++] = "serve";
	argv[n++] = "--pool-dir";
	argv[n++] = st_conf.pool;
	for (i = 0; i < st_conf.n_devices; i++) {
		argv[n++] = "--device";
		argv[n++] = st_conf.devices[i];
	}
	argv[n++] = "--control";
	argv[n++] = st_conf.control;
	argv[n++] = "--export-dir";
	argv[n++] = st_conf.exports;
	if (geteuid() == 0) {
		argv[n++] = "--user";
		argv[n++] = st_conf.user;
	}
	if (st_conf.sigdir[0] != '\0') {
		argv[n++] = "--signatures";
		argv[n++] = st_conf.sigdir;
	}
	argv[n] = NULL;
	return helper_spawn(&hp, argv, out);
}

/* One request to the server: 0 with *reply, or -errno (connect failed). */
static int
call_raw(const json_t *req, json_t **reply)
{
	int connected;

	return msg_call(st_conf.control, req, reply, &connected);
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
	if ((pid = helper_adopt(&hp)) > 0) {
		server_pid = pid;
		return 0;
	}
	/* A server that died leaves its sockets: the new one replaces them. */
	if ((r = spawn(&pid)) < 0)
		return r;
	server_pid = pid;
	if ((r = wait_ready(pid, 60000)) < 0) {
		log_warnx("storage: cloudlet-storaged did not start (see %s)", st_conf.logfile);
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
int
st_make_device(const char *path, uint64_t size)
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
	if (util_fmt(st_conf.bin, sizeof(st_conf.bin), "%s", cfg->bin) < 0 ||
	    util_fmt(st_conf.user, sizeof(st_conf.user), "%s", cfg->user) < 0 ||
	    util_fmt(st_conf.dir, sizeof(st_conf.dir), "%s/storage", cfg->state_dir) < 0)
		return -ENAMETOOLONG;
	if (access(st_conf.bin, X_OK) < 0) {
		log_warn("storage: %s", st_conf.bin);
		return -errno;
	}
	if (cfg->signatures != NULL) {
		if (realpath(cfg->signatures, real) == NULL) {
			log_warn("storage: signatures %s", cfg->signatures);
			return -errno;
		}
		snprintf(st_conf.sigdir, sizeof(st_conf.sigdir), "%s", real);
	}
	pw = getpwnam(st_conf.user);
	if (pw == NULL && geteuid() == 0) {
		log_warnx("storage: no user '%s' (make setup creates it)", st_conf.user);
		return -ENOENT;
	}
	st_conf.uid = pw ? pw->pw_uid : geteuid();
	st_conf.gid = pw ? pw->pw_gid : getegid();
	for (i = 0; i < cfg->n_devices; i++) {
		if ((r = st_make_device(cfg->devices[i], cfg->device_size)) < 0) {
			log_warnx("storage: device %s: %s", cfg->devices[i], strerror(-r));
			return r;
		}
		if (realpath(cfg->devices[i], real) == NULL ||
		    util_fmt(st_conf.devices[i], sizeof(st_conf.devices[i]), "%s", real) < 0)
			return -ENAMETOOLONG;
	}
	st_conf.n_devices = cfg->n_devices;
	snprintf(st_conf.pool, sizeof(st_conf.pool), "%s/pool", st_conf.dir);
	snprintf(st_conf.exports, sizeof(st_conf.exports), "%s/exports", st_conf.dir);
	snprintf(st_conf.control, sizeof(st_conf.control), "%s/control.sock", st_conf.dir);
	snprintf(st_conf.pidfile, sizeof(st_conf.pidfile), "%s/storaged.pid", st_conf.dir);
	snprintf(st_conf.logfile, sizeof(st_conf.logfile), "%s/storaged.log", st_conf.dir);
	snprintf(marker, sizeof(marker), "--control %s ", st_conf.control);
	/* 0711: QEMU (another user) must reach exports/, nobody lists it. */
	if ((r = util_mkdirs(st_conf.dir, 0711)) < 0)
		return r;
	chmod(st_conf.dir, 0711);
	pthread_mutex_lock(&lock);
	r = ensure_locked();
	pthread_mutex_unlock(&lock);
	if (r < 0)
		return r;
	st_conf.enabled = 1;
	if (pthread_create(&t, NULL, monitor, NULL) != 0)
		return -EAGAIN;
	pthread_detach(t);
	log_info("storage: %u devices, pool %s, server pid %d", st_conf.n_devices, st_conf.pool,
		 (int)server_pid);
	return 0;
}

int
storage_enabled(void)
{
	return st_conf.enabled;
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
int
st_call(const char *op, json_t *args, json_t **out, struct op_error *e)
{
	json_t *req, *reply = NULL, *err;
	uint64_t deadline = util_now_ms() + 10000;
	int r;

	if (out != NULL)
		*out = NULL;
	if (!st_conf.enabled) {
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


void
st_server_info(pid_t *pid, unsigned *n_restarts)
{
	pthread_mutex_lock(&lock);
	*pid = server_pid;
	*n_restarts = restarts;
	pthread_mutex_unlock(&lock);
}
