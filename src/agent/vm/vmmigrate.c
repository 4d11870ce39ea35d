/* vmmigrate.c - see vmmigrate.h */
#define _GNU_SOURCE
#include "vmmigrate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "netns.h"
#include "qmp.h"
#include "storage.h"
#include "tlsid.h"
#include "util.h"
#include "vmready.h"
#include "vmstart.h"
#include "vmstore.h"

/* The names QEMU knows the migration's pieces by (fds, nodes, jobs). */
#define MIG_NODE "mig-root"
#define MIG_EXPORT "root"
#define POLL_MS 10
#define MIG_TLS "mig-tls"
#define PEM_MAX 16384

struct vmmig {
	json_t *progress; /* what vm.migrate.status shows (table lock) */
	int cancel;       /* vm.migrate.cancel asked (table lock) */
};

/* Finish and abort of prepared VMs: one at a time. */
static pthread_mutex_t prep_mtx = PTHREAD_MUTEX_INITIALIZER;

/* ---- sockets on the datacenter network ---------------------------------- */

static int
ul_listen(unsigned *port, struct op_error *e)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd, r;

	if (inet_pton(AF_INET, vmt_cfg->underlay_address, &sa.sin_addr) != 1)
		return op_fail(e, "conflict", -EINVAL,
			    "this agent has no --underlay-address: it cannot receive a migration");
	fd = netns_socket(vmt_cfg->underlay_netns, AF_INET, SOCK_STREAM);
	if (fd < 0)
		return op_fail(e, "internal", fd, "socket in the underlay: %s", strerror(-fd));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		r = -errno;
		close(fd);
		return op_fail(e, "internal", r, "listen on %s: %s", vmt_cfg->underlay_address,
			    strerror(-r));
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int
ul_connect(const char *host, unsigned port, struct op_error *e)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {.tv_sec = 10}, none = {0};
	int fd, r;

	inet_pton(AF_INET, host, &sa.sin_addr);
	fd = netns_socket(vmt_cfg->underlay_netns, AF_INET, SOCK_STREAM);
	if (fd < 0)
		return op_fail(e, "internal", fd, "socket in the underlay: %s", strerror(-fd));
	/* A bounded connect; QEMU gets the socket without a send timeout. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return op_fail(e, "internal", r, "cannot reach the destination %s:%u: %s", host,
			    port, strerror(-r));
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
	return fd;
}

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
	if (pl <= sl || pl - sl >= sizeof(num) || strcmp(colon + 1 + pl - sl, suffix) != 0)
		return -EINVAL;
	memcpy(num, colon + 1, pl - sl);
	num[pl - sl] = '\0';
	if (inet_pton(AF_INET, host, &a) != 1 || util_parse_uint(num, 65535, port) < 0 ||
	    *port == 0)
		return -EINVAL;
	return 0;
}

/* ---- QMP ------------------------------------------------------------------ */

static int
vm_qmp(struct vm *vm, struct qmp **q, struct op_error *e)
{
	char path[800];
	int r;

	vmt_path(vm, "qmp.sock", path, sizeof(path));
	if ((r = qmp_open(path, 5000, q)) < 0)
		return op_fail(e, "internal", r, "QMP of VM '%s': %s", vm->spec.name, strerror(-r));
	return 0;
}

/* Run cmd with args (consumed; may be NULL). */
static int
cmd(struct qmp *q, const char *c, json_t *args, json_t **ret, struct op_error *e)
{
	char err[400];
	int r = qmp_exec(q, c, args, ret, 10000, err, sizeof(err));

	json_decref(args);
	if (r < 0)
		return op_fail(e, "internal", r, "%s", err[0] ? err : strerror(-r));
	return 0;
}

/* Hand QEMU an fd under name; the agent's copy is closed. */
static int
give_fd(struct qmp *q, const char *name, int fd, struct op_error *e)
{
	char err[300];
	int r = qmp_getfd(q, name, fd, err, sizeof(err));

	close(fd);
	if (r < 0)
		return op_fail(e, "internal", r, "getfd %s: %s", name, err);
	return 0;
}

/* ---- TLS ------------------------------------------------------------------ */

/*
 * The destination makes one migration's credentials (tlsid.h): the server
 * side stays in <vm>/tls-srv for its QEMU, the client side goes to the
 * caller in prepare's answer ({ca, cert, key}: a one-time key, valid for a
 * day and only against this prepared VM) and from there to the source.
 */
static int
tls_make(struct vm *vm, json_t **creds, struct op_error *e)
{
	static const char *const files[] = {"ca-cert.pem", "client-cert.pem", "client-key.pem"};
	static const char *const keys[] = {"ca", "cert", "key"};
	char srv[800], cli[800], path[900], err[300], *text;
	int r = 0;

	vmt_path(vm, "tls-srv", srv, sizeof(srv));
	vmt_path(vm, "tls-cli", cli, sizeof(cli));
	if ((r = tlsid_migration_creds(srv, cli, vmt_cfg->underlay_address,
				       geteuid() == 0 ? vmt_cfg->vm_uid : (uid_t)-1, vmt_cfg->vm_gid,
				       err, sizeof(err))) < 0)
		return op_fail(e, "internal", r, "%s", err);
	*creds = json_object();
	for (size_t i = 0; i < ARRAY_LEN(files) && r == 0; i++) {
		size_t len;

		snprintf(path, sizeof(path), "%s/%s", cli, files[i]);
		if ((r = util_read_file(path, PEM_MAX, &text, &len)) < 0)
			break;
		json_object_set_new(*creds, keys[i], json_stringn(text, len));
		explicit_bzero(text, len);
		free(text);
	}
	util_rmtree(cli);
	if (r < 0) {
		json_decref(*creds);
		*creds = NULL;
		return op_fail(e, "internal", r, "the migration's certificates: %s", strerror(-r));
	}
	return 0;
}

/* The source writes the client side it was given for its QEMU. */
static int
tls_write(struct vm *vm, const json_t *creds, struct op_error *e)
{
	static const char *const files[] = {"ca-cert.pem", "client-cert.pem", "client-key.pem"};
	static const char *const keys[] = {"ca", "cert", "key"};
	char dir[800], path[900];
	int r;

	vmt_path(vm, "tls-cli", dir, sizeof(dir));
	util_rmtree(dir);
	if (mkdir(dir, 0700) < 0 ||
	    (geteuid() == 0 && chown(dir, vmt_cfg->vm_uid, vmt_cfg->vm_gid) < 0))
		return op_fail(e, "internal", -errno, "%s: %s", dir, strerror(errno));
	for (size_t i = 0; i < ARRAY_LEN(files); i++) {
		json_t *v = json_object_get(creds, keys[i]);

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if ((r = util_write_atomic(path, json_string_value(v), json_string_length(v),
					   0600)) < 0 ||
		    (geteuid() == 0 && chown(path, vmt_cfg->vm_uid, vmt_cfg->vm_gid) < 0 &&
		     (r = -errno) < 0))
			return op_fail(e, "internal", r, "%s: %s", path, strerror(-r));
	}
	return 0;
}

/* QEMU's credentials object for a side (endpoint server or client). */
static int
tls_object(struct qmp *q, struct vm *vm, const char *endpoint, struct op_error *e)
{
	char dir[800];
	struct op_error ignored;

	vmt_path(vm, strcmp(endpoint, "server") == 0 ? "tls-srv" : "tls-cli", dir, sizeof(dir));
	cmd(q, "object-del", json_pack("{s:s}", "id", MIG_TLS), NULL, &ignored);
	return cmd(q, "object-add",
		   json_pack("{s:s, s:s, s:s, s:s, s:b}", "qom-type", "tls-creds-x509", "id", MIG_TLS,
			     "dir", dir, "endpoint", endpoint, "verify-peer", 1),
		   NULL, e);
}

/* Forget them (QEMU, files); errors are of no consequence. */
static void
tls_drop(struct qmp *q, struct vm *vm, const char *subdir)
{
	struct op_error ignored;
	char dir[800];

	if (q != NULL) {
		cmd(q, "migrate-set-parameters", json_pack("{s:s}", "tls-creds", ""), NULL, &ignored);
		cmd(q, "object-del", json_pack("{s:s}", "id", MIG_TLS), NULL, &ignored);
	}
	vmt_path(vm, subdir, dir, sizeof(dir));
	util_rmtree(dir);
}

static const char *
migrate_status(struct qmp *q, json_t **info)
{
	char err[300];

	*info = NULL;
	if (qmp_exec(q, "query-migrate", NULL, info, 10000, err, sizeof(err)) < 0)
		return NULL;
	return json_string_value(json_object_get(*info, "status")) ?: "none";
}

/* ---- destination ---------------------------------------------------------- */

/* The keys of a spec (a VM view has more: they are dropped). */
static json_t *
spec_only(const json_t *view)
{
	static const char *const keys[] = {"name",   "hostname", "image",    "vcpus",
					   "memory_mib", "disk_gib", "user_data", "nics",
					   "tenant", "volumes"};
	json_t *s = json_object();

	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		json_t *v = json_object_get(view, keys[i]);

		if (v != NULL && !json_is_null(v))
			json_object_set(s, keys[i], v);
	}
	return s;
}

static int
make_root(struct vm *vm, struct op_error *e)
{
	char path[800];
	int fd, r = 0;

	vmt_path(vm, "root.raw", path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return op_fail(e, "internal", -errno, "%s: %s", path, strerror(errno));
	/* Sparse: the source writes what it has, zeroes stay holes. */
	if (ftruncate(fd, (off_t)(vm->spec.disk_gib << 30)) < 0 ||
	    (fchown(fd, vmt_cfg->vm_uid, vmt_cfg->vm_gid) < 0 && geteuid() == 0))
		r = op_fail(e, "internal", -errno, "%s: %s", path, strerror(errno));
	close(fd);
	return r;
}

/*
 * The waiting QEMU: RAM and devices on one listening socket, the root disk
 * through its NBD server on another, both made in the underlay namespace.
 * XXX: QEMU 7.2's migrate-incoming takes a URI only (8.x has "channels");
 * "tcp:fd:NAME" reaches its socket address parser, which takes "fd:NAME"
 * as a listening descriptor handed over with getfd.
 */
static int
incoming_setup(struct vm *vm, int tls, unsigned *mport, unsigned *nport, struct op_error *e)
{
	json_t *blocks = NULL, *b, *nbd = NULL;
	const char *node = NULL;
	struct qmp *q;
	size_t i;
	int fd, r;

	if ((r = vm_qmp(vm, &q, e)) < 0)
		return r;
	/* TLS: the source must show the client certificate of this migration
	 * (verify-peer), for the RAM stream and for the disk. */
	if (tls && ((r = tls_object(q, vm, "server", e)) < 0 ||
		    (r = cmd(q, "migrate-set-parameters", json_pack("{s:s}", "tls-creds", MIG_TLS),
			     NULL, e)) < 0))
		goto out;
	/* return-path: this side tells the source whether it loaded the whole
	 * state; the source counts the migration completed only then. */
	if ((r = cmd(q, "migrate-set-capabilities",
		     json_pack("{s:[{s:s, s:b}]}", "capabilities", "capability", "return-path",
			       "state", 1),
		     NULL, e)) < 0)
		goto out;
	if ((fd = r = ul_listen(mport, e)) < 0 || (r = give_fd(q, "mig-in", fd, e)) < 0 ||
	    (r = cmd(q, "migrate-incoming", json_pack("{s:s}", "uri", "tcp:fd:mig-in"), NULL,
		     e)) < 0)
		goto out;
	nbd = json_pack("{s:{s:s, s:{s:s}}}", "addr", "type", "fd", "data", "str", "mig-nbd");
	if (tls)
		json_object_set_new(nbd, "tls-creds", json_string(MIG_TLS));
	if ((fd = r = ul_listen(nport, e)) < 0 || (r = give_fd(q, "mig-nbd", fd, e)) < 0 ||
	    (r = cmd(q, "nbd-server-start", json_incref(nbd), NULL, e)) < 0 ||
	    (r = cmd(q, "query-block", NULL, &blocks, e)) < 0)
		goto out;
	json_array_foreach(blocks, i, b)
		if (strcmp(json_string_value(json_object_get(b, "device")) ?: "", "root") == 0)
			node = json_string_value(
				json_object_get(json_object_get(b, "inserted"), "node-name"));
	if (node == NULL) {
		r = op_fail(e, "internal", -ENOENT, "the waiting QEMU has no root disk");
		goto out;
	}
	r = cmd(q, "block-export-add",
		json_pack("{s:s, s:s, s:s, s:s, s:b}", "type", "nbd", "id", MIG_NODE, "node-name",
			  node, "name", MIG_EXPORT, "writable", 1),
		NULL, e);
out:
	json_decref(nbd);
	json_decref(blocks);
	qmp_close(q);
	return r;
}

/* Cold: qemu-nbd serves root.raw on a listening socket it is handed as fd
 * 3 (its systemd socket activation), as the VM user. */
static int
nbd_spawn(struct vm *vm, int lfd, int tls, struct op_error *e)
{
	char root[800], logp[800], pidv[24], obj[900], dir[800];
	const char *argv[] = {"qemu-nbd", "-f", "raw", "-x", MIG_EXPORT, "--persistent",
			      "--discard=unmap", "--detect-zeroes=unmap", root, "--object", obj,
			      "--tls-creds", MIG_TLS, NULL};
	union {
		const char *const *c;
		char *const *m;
	} av = {.c = argv};
	pid_t pid;

	vmt_path(vm, "tls-srv", dir, sizeof(dir));
	snprintf(obj, sizeof(obj), "tls-creds-x509,id=%s,dir=%s,endpoint=server,verify-peer=on",
		 MIG_TLS, dir);
	if (!tls)
		argv[9] = NULL;
	vmt_path(vm, "root.raw", root, sizeof(root));
	vmt_path(vm, "qemu-nbd.log", logp, sizeof(logp));
	pid = fork();
	if (pid < 0)
		return op_fail(e, "internal", -errno, "fork: %s", strerror(errno));
	if (pid == 0) {
		int log = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

		setsid();
		if (dup2(lfd, 3) < 0 || log < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
			_exit(126);
		close_range(4, ~0U, CLOSE_RANGE_CLOEXEC);
		snprintf(pidv, sizeof(pidv), "%d", (int)getpid());
		setenv("LISTEN_PID", pidv, 1);
		setenv("LISTEN_FDS", "1", 1);
		if (geteuid() == 0 &&
		    (setgroups(0, NULL) < 0 || setresgid(vmt_cfg->vm_gid, vmt_cfg->vm_gid,
							 vmt_cfg->vm_gid) < 0 ||
		     setresuid(vmt_cfg->vm_uid, vmt_cfg->vm_uid, vmt_cfg->vm_uid) < 0))
			_exit(126);
		execvp(argv[0], av.m);
		_exit(127);
	}
	vm->mig_nbd_pid = pid;
	return 0;
}

/* Is pid a qemu-nbd of this VM's root (not a recycled pid)? */
static int
is_our_nbd(const struct vm *vm, pid_t pid)
{
	char path[64], *cmdl = NULL, needle[800];
	size_t len;
	int ok;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (util_read_file(path, 1 << 16, &cmdl, &len) < 0)
		return 0;
	vmt_path(vm, "root.raw", needle, sizeof(needle));
	ok = memmem(cmdl, len, needle, strlen(needle)) != NULL;
	free(cmdl);
	return ok;
}

/* End the cold export: qemu-nbd flushes and exits on SIGTERM. */
static void
nbd_stop(struct vm *vm)
{
	pid_t pid = vm->mig_nbd_pid;

	if (!is_our_nbd(vm, pid))
		goto out;
	kill(pid, SIGTERM);
	for (int i = 0; i < 1000; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid || kill(pid, 0) < 0)
			goto out;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, WNOHANG);
out:
	vm->mig_nbd_pid = 0;
}

static int
prepare_args(const json_t *args, struct vm *vm, struct op_error *e)
{
	const char *id = json_string_value(json_object_get(args, "id"));
	json_t *spec, *live = json_object_get(args, "live");
	struct spec_limits lim;
	char err[512];
	int r;

	if (id == NULL || strlen(id) != 16 || strspn(id, "0123456789abcdef") != 16)
		return op_fail(e, "invalid", -EINVAL, "id must be the VM's 16 hex digits");
	if (live != NULL && !json_is_boolean(live))
		return op_fail(e, "invalid", -EINVAL, "live must be true or false");
	if (!json_is_object(json_object_get(args, "spec")))
		return op_fail(e, "invalid", -EINVAL, "spec must be the VM's spec (an object)");
	vmt_limits(&lim);
	spec = spec_only(json_object_get(args, "spec"));
	r = spec_parse(spec, &lim, &vm->spec, err, sizeof(err));
	json_decref(spec);
	if (r < 0)
		return op_fail(e, "invalid", r, "%s", err);
	/* XXX: volumes stay on their host's storage pool: not migrated yet. */
	if (vm->spec.n_volumes > 0)
		return op_fail(e, "conflict", -EINVAL,
			    "a VM with volumes cannot migrate yet (docs/migration.md)");
	for (unsigned i = 0; i < vm->spec.n_nics; i++)
		if (vm->spec.nics[i].mac[0] == '\0')
			return op_fail(e, "invalid", -EINVAL, "every NIC needs its MAC");
	if ((r = vm_nics_resolve(&vm->spec, e)) < 0)
		return r;
	snprintf(vm->id, sizeof(vm->id), "%s", id);
	snprintf(vm->dir, sizeof(vm->dir), "%s/vms/%s", vmt_cfg->state_dir, id);
	vm->mig_live = live == NULL || json_is_true(live);
	vm->mig_ready = json_is_true(json_object_get(args, "ready"));
	vm->booted_ram0 = json_is_true(json_object_get(args, "from_template"));
	if (json_object_get(args, "tls") != NULL && !json_is_boolean(json_object_get(args, "tls")))
		return op_fail(e, "invalid", -EINVAL, "tls must be true or false");
	return 0;
}

/* Reserve name and id in the table (the table takes a reference). */
static int
reserve(struct vm *vm, struct op_error *e)
{
	vmt_lock();
	for (struct vm *o = vmt_first(); o != NULL; o = o->next)
		if (strcmp(o->spec.name, vm->spec.name) == 0 || strcmp(o->id, vm->id) == 0) {
			vmt_unlock();
			return op_fail(e, "conflict", -EEXIST, "a VM named '%s' or with id %s is here",
				    vm->spec.name, vm->id);
		}
	vmt_ref(vm);
	vmt_add(vm);
	vmt_unlock();
	return 0;
}

static int
prepare_here(struct vm *vm, int tls, json_t **out, struct op_error *e)
{
	char nbd[64], uri[40];
	unsigned mport = 0, nport = 0;
	json_t *creds = NULL;
	int r, lfd;

	if (mkdir(vm->dir, 0700) < 0)
		return op_fail(e, "internal", -errno, "cannot create %s: %s", vm->dir,
			    strerror(errno));
	if (chown(vm->dir, vmt_cfg->vm_uid, vmt_cfg->vm_gid) < 0 && geteuid() == 0)
		return op_fail(e, "internal", -errno, "chown %s: %s", vm->dir, strerror(errno));
	if ((r = make_root(vm, e)) < 0)
		return r;
	vmt_lock();
	vmstore_save(vm);
	vmt_unlock();
	/* Its MAC and address join this host's anti-spoofing set before the
	 * guest sends its first packet here. */
	vm_ports_publish(vm);
	if (tls && (r = tls_make(vm, &creds, e)) < 0)
		return r;
	if (vm->mig_live) {
		if ((r = vmstart_start(vm, e)) < 0 ||
		    (r = incoming_setup(vm, tls, &mport, &nport, e)) < 0)
			goto fail;
	} else {
		if ((lfd = r = ul_listen(&nport, e)) < 0)
			goto fail;
		r = nbd_spawn(vm, lfd, tls, e);
		close(lfd);
		if (r < 0)
			goto fail;
		vmt_lock();
		vmstore_save(vm); /* the qemu-nbd's pid */
		vmt_unlock();
	}
	snprintf(nbd, sizeof(nbd), "nbd://%s:%u/%s", vmt_cfg->underlay_address, nport,
		 MIG_EXPORT);
	snprintf(uri, sizeof(uri), "tcp:%s:%u", vmt_cfg->underlay_address, mport);
	*out = json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", vm->id, "name", vm->spec.name, "nbd",
			 nbd, "uri", vm->mig_live ? json_string(uri) : json_null(), "tls",
			 creds ? creds : json_null());
	return 0;
fail:
	json_decref(creds);
	return r;
}

int
vmmigrate_prepare(const json_t *args, json_t **out, struct op_error *e)
{
	struct vm *vm = vmt_new();
	int r, tls;

	if (vm == NULL)
		return op_fail(e, "internal", -ENOMEM, "out of memory");
	if ((r = prepare_args(args, vm, e)) < 0) {
		vmt_put(vm);
		return r;
	}
	vm->state = VM_STOPPED;
	vm->accel = vmt_cfg->host.accel;
	vm->busy = 1; /* the migration owns it until finish or abort */
	snprintf(vm->migration, sizeof(vm->migration), "incoming");
	snprintf(vm->provision, sizeof(vm->provision), "cold");
	snprintf(vm->root_format, sizeof(vm->root_format), "raw");
	vm->root_gib = vm->spec.disk_gib;
	util_rfc3339(vm->created_at, sizeof(vm->created_at));
	if ((r = reserve(vm, e)) < 0) {
		vmt_put(vm);
		return r;
	}
	tls = json_object_get(args, "tls") == NULL || json_is_true(json_object_get(args, "tls"));
	if ((r = prepare_here(vm, tls, out, e)) < 0) {
		struct op_error e2;

		nbd_stop(vm);
		vmops_delete(vm, &e2); /* takes our reference */
		return r;
	}
	log_info("vm %s (%s): prepared for an incoming %s migration", vm->id, vm->spec.name,
		 vm->mig_live ? "live" : "cold");
	vmt_lock();
	vmt_put(vm);
	vmt_unlock();
	return 0;
}

/* A prepared VM by name, with a reference; NULL (and *found 0) if none. */
static struct vm *
prepared(const char *name, int *found, struct op_error *e)
{
	struct vm *vm;

	vmt_lock();
	vm = vmt_find(name);
	*found = vm != NULL;
	if (vm != NULL && strcmp(vm->migration, "incoming") != 0) {
		vmt_unlock();
		op_fail(e, "conflict", -EINVAL, "VM '%s' is not a prepared incoming migration",
			name);
		return NULL;
	}
	if (vm != NULL)
		vmt_ref(vm);
	vmt_unlock();
	if (vm == NULL && e != NULL)
		op_fail(e, "not_found", -ENOENT, "no VM named '%s'", name);
	return vm;
}

/* The live destination after the switch: QEMU runs the guest; its
 * export goes and the guest's MACs are announced once more. */
static int
finish_live(struct vm *vm, struct op_error *e)
{
	json_t *info = NULL;
	const char *st;
	struct qmp *q;
	int r;

	if ((r = vm_qmp(vm, &q, e)) < 0)
		return r;
	st = migrate_status(q, &info);
	if (st == NULL || strcmp(st, "completed") != 0) {
		r = op_fail(e, "conflict", -EAGAIN, "the incoming migration has not completed (%s)",
			 st ? st : "no answer");
		goto out;
	}
	/* hard: the source's NBD client may still be connected. */
	if ((r = cmd(q, "block-export-del", json_pack("{s:s, s:s}", "id", MIG_NODE, "mode", "hard"),
		     NULL, e)) < 0 ||
	    (r = cmd(q, "nbd-server-stop", NULL, NULL, e)) < 0)
		goto out;
	tls_drop(q, vm, "tls-srv");
	cmd(q, "announce-self",
	    json_pack("{s:i, s:i, s:i, s:i}", "initial", 50, "max", 550, "rounds", 5, "step", 100),
	    NULL, e);
	r = 0;
out:
	json_decref(info);
	qmp_close(q);
	return r;
}

int
vmmigrate_finish(const char *name, json_t **out, struct op_error *e)
{
	struct vm *vm;
	char id[17];
	int found, r;

	pthread_mutex_lock(&prep_mtx);
	vm = prepared(name, &found, e);
	if (vm == NULL && found) {
		/* Finished already (or adopted at an agent restart). */
		vmt_lock();
		if ((vm = vmt_find(name)) != NULL)
			*out = vmt_view(vm);
		vmt_unlock();
		pthread_mutex_unlock(&prep_mtx);
		return vm != NULL ? 0 : -ENOENT;
	}
	if (vm == NULL) {
		pthread_mutex_unlock(&prep_mtx);
		return -ENOENT;
	}
	snprintf(id, sizeof(id), "%s", vm->id);
	r = 0;
	if (vm->mig_live) {
		r = finish_live(vm, e);
	} else {
		nbd_stop(vm);
		tls_drop(NULL, vm, "tls-srv");
	}
	vmt_lock();
	if (r == 0) {
		vm->migration[0] = '\0';
		vm->busy = 0;
		if (vm->mig_live && vm->mig_ready) {
			vmready_disarm(vm);
			vm->ready = 1;
		}
		vmstore_save(vm);
		vmt_broadcast();
		*out = vmt_view(vm);
	}
	vmt_put(vm);
	vmt_unlock();
	pthread_mutex_unlock(&prep_mtx);
	if (r == 0)
		log_info("vm %s (%s): incoming migration finished", id, name);
	return r;
}

int
vmmigrate_abort(const char *name, struct op_error *e)
{
	struct vm *vm;
	int found, r;

	pthread_mutex_lock(&prep_mtx);
	vm = prepared(name, &found, e);
	if (vm == NULL) {
		pthread_mutex_unlock(&prep_mtx);
		/* Nothing prepared: done (an abort may come twice, or after a
		 * restart removed it). A finished VM is not touched. */
		return found ? -EINVAL : 0;
	}
	nbd_stop(vm);
	log_info("vm %s (%s): incoming migration aborted", vm->id, name);
	r = vmops_delete(vm, e); /* takes our reference */
	pthread_mutex_unlock(&prep_mtx);
	return r;
}

/* ---- source --------------------------------------------------------------- */

struct target {
	char nbd_host[16], mig_host[16];
	unsigned nbd_port, mig_port;
	unsigned downtime_ms, timeout_s;
	json_int_t max_bandwidth; /* bytes/s, 0 = QEMU's default */
	int live;
	const json_t *tls; /* prepare's client credentials (the request's), or NULL */
};

static int
pem_ok(const json_t *v)
{
	return json_is_string(v) && json_string_length(v) < PEM_MAX &&
	       strncmp(json_string_value(v), "-----BEGIN ", 11) == 0 &&
	       strlen(json_string_value(v)) == json_string_length(v);
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
	if (parse_target(nbd, "nbd://", "/" MIG_EXPORT, t->nbd_host, &t->nbd_port) < 0)
		return op_fail(e, "invalid", -EINVAL,
			    "nbd must be nbd://IPv4:PORT/root (from vm.migrate.prepare)");
	if (t->live && parse_target(json_string_value(json_object_get(args, "uri")), "tcp:", "",
				    t->mig_host, &t->mig_port) < 0)
		return op_fail(e, "invalid", -EINVAL,
			    "uri must be tcp:IPv4:PORT (from vm.migrate.prepare)");
	v = json_object_get(args, "downtime_ms");
	t->downtime_ms = 100;
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 1 ||
			  json_integer_value(v) > 60000))
		return op_fail(e, "invalid", -EINVAL, "downtime_ms must be 1 to 60000");
	if (v != NULL)
		t->downtime_ms = (unsigned)json_integer_value(v);
	v = json_object_get(args, "max_bandwidth");
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 1))
		return op_fail(e, "invalid", -EINVAL, "max_bandwidth must be bytes per second");
	t->max_bandwidth = v ? json_integer_value(v) : 0;
	v = json_object_get(args, "timeout_s");
	t->timeout_s = 3600;
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 1 ||
			  json_integer_value(v) > 86400))
		return op_fail(e, "invalid", -EINVAL, "timeout_s must be 1 to 86400");
	if (v != NULL)
		t->timeout_s = (unsigned)json_integer_value(v);
	v = json_object_get(args, "tls");
	if (v != NULL && !json_is_null(v) &&
	    (!pem_ok(json_object_get(v, "ca")) || !pem_ok(json_object_get(v, "cert")) ||
	     !pem_ok(json_object_get(v, "key"))))
		return op_fail(e, "invalid", -EINVAL,
			    "tls must be prepare's {ca, cert, key} (PEM) or null");
	t->tls = json_is_object(v) ? v : NULL;
	return 0;
}

/* Publish progress (status plus QEMU's numbers); 1 if a cancel was asked. */
static int
progress(struct vm *vm, const char *status, const json_t *minfo, const json_t *job)
{
	struct vmmig *m = vm->mig;
	json_t *p = json_pack("{s:s}", "status", status), *ram = json_object_get(minfo, "ram");
	int cancel;

	if (job != NULL)
		json_object_set_new(p, "mirror",
				    json_pack("{s:O?, s:O?, s:O?}", "offset",
					      json_object_get(job, "offset"), "len",
					      json_object_get(job, "len"), "ready",
					      json_object_get(job, "ready")));
	if (ram != NULL) {
		json_int_t rate = json_integer_value(json_object_get(ram, "dirty-pages-rate")) *
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
			json_object_set(p, "mirror", json_object_get(m->progress, "mirror"));
		json_decref(m->progress);
		m->progress = p;
		p = NULL;
	}
	cancel = m != NULL && m->cancel;
	vmt_unlock();
	json_decref(p);
	return cancel;
}

static json_t *
find_job(json_t *jobs)
{
	size_t i;
	json_t *j;

	json_array_foreach(jobs, i, j)
		if (strcmp(json_string_value(json_object_get(j, "device")) ?: "", MIG_NODE) == 0)
			return j;
	return NULL;
}

/* Poll the mirror until it is ready (gone: -EIO; mirror_gone: wait until
 * it has ended instead). */
static int
wait_mirror(struct vm *vm, struct qmp *q, int until_gone, uint64_t deadline,
	    struct op_error *e)
{
	for (;;) {
		json_t *jobs = NULL, *job;
		int r, ready, cancel;

		if ((r = cmd(q, "query-block-jobs", NULL, &jobs, e)) < 0)
			return r;
		job = find_job(jobs);
		ready = json_is_true(json_object_get(job, "ready"));
		cancel = progress(vm, until_gone ? "switchover" : "mirroring", NULL, job);
		json_decref(jobs);
		if (until_gone && job == NULL)
			return 0;
		if (!until_gone && job == NULL)
			return op_fail(e, "internal", -EIO, "the disk mirror ended early (see qemu.log)");
		if (!until_gone && ready)
			return 0;
		if (!until_gone && cancel)
			return op_fail(e, "conflict", -ECANCELED, "migration cancelled");
		if (util_now_ms() > deadline)
			return op_fail(e, "timeout", -ETIMEDOUT, "the disk mirror took too long");
		usleep(POLL_MS * 1000);
	}
}

/* Poll query-migrate until status want (or completed/failed/cancelled). */
static int
wait_migrate(struct vm *vm, struct qmp *q, const char *want, uint64_t deadline,
	     json_t **last, struct op_error *e)
{
	for (;;) {
		json_t *info = NULL;
		const char *st = migrate_status(q, &info);
		int cancel;

		if (st == NULL)
			return op_fail(e, "internal", -EIO, "query-migrate failed");
		cancel = progress(vm, strcmp(st, "completed") == 0 ? "completed" : "migrating", info,
				  NULL);
		if (strcmp(st, want) == 0 || strcmp(st, "completed") == 0) {
			json_decref(*last);
			*last = info;
			return strcmp(st, want) == 0 ? 0 : -EALREADY;
		}
		if (strcmp(st, "failed") == 0 || strcmp(st, "cancelled") == 0) {
			const char *why = json_string_value(json_object_get(info, "error-desc"));
			int r = op_fail(e, "internal", -EIO, "migration %s%s%s", st, why ? ": " : "",
				     why ? why : "");

			json_decref(info);
			return r;
		}
		json_decref(info);
		if (cancel)
			return op_fail(e, "conflict", -ECANCELED, "migration cancelled");
		if (util_now_ms() > deadline)
			return op_fail(e, "timeout", -ETIMEDOUT,
				    "the migration did not converge in time");
		usleep(POLL_MS * 1000);
	}
}

/*
 * Undo a send that did not complete: the migration and the mirror are
 * cancelled (the mirror's target is left as it is: the destination is
 * aborted), the guest runs on here.
 */
static void
send_undo(struct vm *vm, struct qmp *q, int migrating, int mirroring, int node, int tls)
{
	struct op_error e;
	json_t *info = NULL, *st = NULL;
	uint64_t deadline = util_now_ms() + 30000;

	if (migrating) {
		cmd(q, "migrate_cancel", NULL, NULL, &e);
		while (util_now_ms() < deadline) {
			const char *s = migrate_status(q, &info);

			if (s == NULL || strcmp(s, "cancelling") != 0)
				break;
			json_decref(info);
			info = NULL;
			usleep(POLL_MS * 1000);
		}
		json_decref(info);
	}
	if (mirroring) {
		cmd(q, "block-job-cancel", json_pack("{s:s, s:b}", "device", MIG_NODE, "force", 1),
		    NULL, &e);
		wait_mirror(vm, q, 1, util_now_ms() + 30000, &e);
	}
	if (node)
		cmd(q, "blockdev-del", json_pack("{s:s}", "node-name", MIG_NODE), NULL, &e);
	if (tls)
		tls_drop(q, vm, "tls-cli");
	/* QEMU restarts a guest it stopped for the migration; make sure. */
	if (cmd(q, "query-status", NULL, &st, &e) == 0 &&
	    !json_is_true(json_object_get(st, "running")))
		cmd(q, "cont", NULL, NULL, &e);
	json_decref(st);
}

static int
send_live(struct vm *vm, const struct target *t, json_t **result, struct op_error *e)
{
	uint64_t deadline = util_now_ms() + (uint64_t)t->timeout_s * 1000;
	int r, fd, node = 0, mirroring = 0, migrating = 0;
	json_t *caps, *params = NULL, *nbdopts = NULL, *last = NULL;
	struct qmp *q;

	if ((r = vm_qmp(vm, &q, e)) < 0)
		return r;
	nbdopts = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s}", "driver", "nbd", "node-name", MIG_NODE,
			    "server", "type", "fd", "str", "mig-nbd", "export", MIG_EXPORT);
	params = json_pack("{s:I}", "downtime-limit", (json_int_t)t->downtime_ms);
	if (t->max_bandwidth > 0)
		json_object_set_new(params, "max-bandwidth", json_integer(t->max_bandwidth));
	/* TLS: this migration's client certificate, the destination's name
	 * checked against its certificate (its underlay address). */
	if (t->tls != NULL) {
		json_object_update_new(nbdopts, json_pack("{s:s, s:s}", "tls-creds", MIG_TLS,
							  "tls-hostname", t->nbd_host));
		json_object_update_new(params, json_pack("{s:s, s:s}", "tls-creds", MIG_TLS,
							 "tls-hostname", t->mig_host));
		if ((r = tls_write(vm, t->tls, e)) < 0 || (r = tls_object(q, vm, "client", e)) < 0)
			goto fail;
	}
	/* The root disk first: mirrored to the destination's export, flattened
	 * (a clone's overlay and its template's disk become one raw disk). */
	if ((fd = r = ul_connect(t->nbd_host, t->nbd_port, e)) < 0 ||
	    (r = give_fd(q, "mig-nbd", fd, e)) < 0 ||
	    (r = cmd(q, "blockdev-add", json_incref(nbdopts), NULL, e)) < 0)
		goto fail;
	node = 1;
	if ((r = cmd(q, "blockdev-mirror",
		     json_pack("{s:s, s:s, s:s, s:s}", "job-id", MIG_NODE, "device", "root",
			       "target", MIG_NODE, "sync", "full"),
		     NULL, e)) < 0)
		goto fail;
	mirroring = 1;
	if ((r = wait_mirror(vm, q, 0, deadline, e)) < 0)
		goto fail;
	/* RAM and devices; the mirror keeps the disks in step meanwhile. */
	/* x-ignore-shared off: a clone's QEMU kept it from its restore; all of
	 * the clone's RAM (a private mapping) goes, and a destination without
	 * the capability reads the stream this way. */
	caps = json_pack("{s:[{s:s, s:b}, {s:s, s:b}, {s:s, s:b}, {s:s, s:b}]}", "capabilities",
			 "capability", "pause-before-switchover", "state", 1, "capability",
			 "auto-converge", "state", 1, "capability", "x-ignore-shared", "state", 0,
			 "capability", "return-path", "state", 1);
	if ((r = cmd(q, "migrate-set-capabilities", caps, NULL, e)) < 0 ||
	    (r = cmd(q, "migrate-set-parameters", json_incref(params), NULL, e)) < 0 ||
	    (fd = r = ul_connect(t->mig_host, t->mig_port, e)) < 0 ||
	    (r = give_fd(q, "mig-out", fd, e)) < 0 ||
	    (r = cmd(q, "migrate", json_pack("{s:s}", "uri", "fd:mig-out"), NULL, e)) < 0)
		goto fail;
	migrating = 1;
	if ((r = wait_migrate(vm, q, "pre-switchover", deadline, &last, e)) < 0)
		goto fail;
	/* The guest is stopped: the mirror's cancel completes it with both
	 * disks equal, then the last RAM and the devices go. */
	if ((r = cmd(q, "block-job-cancel", json_pack("{s:s}", "device", MIG_NODE), NULL, e)) < 0 ||
	    (r = wait_mirror(vm, q, 1, deadline, e)) < 0)
		goto fail;
	mirroring = 0;
	if ((r = cmd(q, "migrate-continue", json_pack("{s:s}", "state", "pre-switchover"), NULL,
		     e)) < 0)
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
	send_undo(vm, q, migrating, mirroring, node, t->tls != NULL);
	json_decref(last);
	qmp_close(q);
	return r;
}

/* Cold: the stopped VM's root disk copied into the destination's export. */
static int
send_cold(struct vm *vm, const struct target *t, struct op_error *e)
{
	char src[800], dst[80], err[512], obj[900], cli[800], opts[200];
	const char *fmt = strcmp(vm->root_format, "qcow2") == 0 ? "qcow2" : "raw";
	const char *plain[] = {"qemu-img", "convert", "-n", "-f", fmt, "-O", "raw", src, dst, NULL};
	const char *tls[] = {"qemu-img", "convert", "--object", obj, "-n", "-f", fmt,
			     "--target-image-opts", src, opts, NULL};
	int r;

	vmt_path(vm, strcmp(fmt, "qcow2") == 0 ? "root.qcow2" : "root.raw", src, sizeof(src));
	snprintf(dst, sizeof(dst), "nbd://%s:%u/%s", t->nbd_host, t->nbd_port, MIG_EXPORT);
	vmt_path(vm, "tls-cli", cli, sizeof(cli));
	snprintf(obj, sizeof(obj), "tls-creds-x509,id=%s,dir=%s,endpoint=client", MIG_TLS, cli);
	snprintf(opts, sizeof(opts),
		 "driver=nbd,host=%s,port=%u,export=%s,tls-creds=%s,tls-hostname=%s", t->nbd_host,
		 t->nbd_port, MIG_EXPORT, MIG_TLS, t->nbd_host);
	if (t->tls != NULL && (r = tls_write(vm, t->tls, e)) < 0)
		return r;
	progress(vm, "copying", NULL, NULL);
	/* qemu-img's NBD connection must start in the datacenter network. */
	r = netns_run(vmt_cfg->underlay_netns[0] ? vmt_cfg->underlay_netns : NULL,
		      t->tls ? tls : plain, NULL, err, sizeof(err));
	tls_drop(NULL, vm, "tls-cli");
	if (r < 0)
		return op_fail(e, "internal", r, "copying the disk: %s", err);
	progress(vm, "completed", NULL, NULL);
	return 0;
}

static int
send_check(struct vm *vm, const struct target *t, struct op_error *e)
{
	int running;

	vmt_lock();
	running = vm->pidfd >= 0;
	if (t->live && vm->state != VM_RUNNING) {
		vmt_unlock();
		return op_fail(e, "conflict", -EINVAL, "VM '%s' is %s: a live migration needs it running",
			    vm->spec.name, vmt_state_name(vm->state));
	}
	if (!t->live && running) {
		vmt_unlock();
		return op_fail(e, "conflict", -EINVAL, "VM '%s' runs: stop it for a cold migration",
			    vm->spec.name);
	}
	if (t->live && (vm->booted_vcpus != vm->spec.vcpus ||
			vm->booted_memory_mib != vm->spec.memory_mib ||
			vm->booted_disk_gib != vm->spec.disk_gib)) {
		vmt_unlock();
		return op_fail(e, "conflict", -EINVAL,
			    "VM '%s' runs with another size than its spec: reboot it first",
			    vm->spec.name);
	}
	vmt_unlock();
	if (vm->spec.n_volumes > 0 || vm->booted_volumes[0] != '\0' || vmt_is_volume_root(vm))
		return op_fail(e, "conflict", -EINVAL,
			    "VM '%s' has volumes (or a root volume): not migrated yet",
			    vm->spec.name);
	return 0;
}

int
vmmigrate_send(const json_t *args, const char *name, json_t **out, struct op_error *e)
{
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
	vmstore_save(vm);
	vmt_unlock();
	log_info("vm %s (%s): %s migration to %s:%u", vm->id, name, t.live ? "live" : "cold",
		 t.nbd_host, t.nbd_port);
	r = t.live ? send_live(vm, &t, &result, e) : send_cold(vm, &t, e);
	vmt_lock();
	vm->mig = NULL;
	vm->migration[0] = '\0';
	vmstore_save(vm);
	*out = json_pack("{s:s, s:I}", "status", r == 0 ? "completed" : "failed", "elapsed_ms",
			 (json_int_t)(util_now_ms() - t0));
	if (m->progress != NULL)
		json_object_update_missing(*out, m->progress);
	vmt_unlock();
	json_decref(m->progress);
	free(m);
	json_decref(result);
	if (r < 0) {
		log_warnx("vm %s (%s): migration failed, the VM stays here: %s", vm->id, name,
			  e->msg);
		vmt_release(vm, NULL);
		return r;
	}
	log_info("vm %s (%s): migrated in %llu ms; removing it here", vm->id, name,
		 (unsigned long long)(util_now_ms() - t0));
	/* The destination has it: this copy (its QEMU, taps, ports, disk) goes. */
	if ((r = vmops_delete(vm, e)) < 0)
		log_warnx("vm %s: removing the migrated VM: %s", name, e->msg);
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

/* ---- agent restart -------------------------------------------------------- */

static void
remove_dir(struct vm *vm)
{
	if (vm->pid > 0 && vm->pidfd >= 0)
		kill(vm->pid, SIGKILL);
	util_rmtree(vm->dir);
	net_ports_set(vm->id, NULL, 0);
}

static int
resolve_incoming(struct vm *vm)
{
	struct op_error e;
	json_t *info = NULL;
	const char *st = NULL;

	if (vm->mig_live && vm->events != NULL)
		st = migrate_status(vm->events, &info);
	if (st != NULL && strcmp(st, "completed") == 0) {
		/* The guest runs here and the source removed its copy. */
		cmd(vm->events, "block-export-del",
		    json_pack("{s:s, s:s}", "id", MIG_NODE, "mode", "hard"), NULL, &e);
		cmd(vm->events, "nbd-server-stop", NULL, NULL, &e);
		vm->migration[0] = '\0';
		vmstore_save(vm);
		json_decref(info);
		log_warnx("vm %s (%s): its incoming migration completed while the agent was "
			  "down: adopted", vm->id, vm->spec.name);
		return 0;
	}
	json_decref(info);
	if (!vm->mig_live)
		nbd_stop(vm);
	log_warnx("vm %s (%s): an incoming migration not finished before the agent restarted: "
		  "removed (the source keeps the VM)", vm->id, vm->spec.name);
	remove_dir(vm);
	return 1;
}

static int
resolve_outgoing(struct vm *vm)
{
	struct op_error e;
	json_t *info = NULL;
	const char *st = NULL;

	if (vm->events != NULL)
		st = migrate_status(vm->events, &info);
	if (st != NULL && strcmp(st, "completed") == 0) {
		json_decref(info);
		log_warnx("vm %s (%s): its migration completed while the agent was down: the "
			  "destination has it, removing it here", vm->id, vm->spec.name);
		cmd(vm->events, "quit", NULL, NULL, &e);
		remove_dir(vm);
		return 1;
	}
	json_decref(info);
	if (vm->events != NULL) {
		send_undo(vm, vm->events, st != NULL && strcmp(st, "none") != 0, 1, 1, 1);
		vm->state = VM_RUNNING;
	}
	vm->migration[0] = '\0';
	vmstore_save(vm);
	log_warnx("vm %s (%s): a migration cut off by an agent restart: cancelled, the VM "
		  "stays here", vm->id, vm->spec.name);
	return 0;
}

int
vmmigrate_resolve(struct vm *vm)
{
	if (strcmp(vm->migration, "incoming") == 0)
		return resolve_incoming(vm);
	if (strcmp(vm->migration, "outgoing") == 0)
		return resolve_outgoing(vm);
	return 0;
}
