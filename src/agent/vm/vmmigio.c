/* vmmigio.c - see vmmigio.h */
#define _GNU_SOURCE
#include "vmmigio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "net.h"
#include "netns.h"
#include "storage.h"
#include "util.h"

int
vmmigio_listen(unsigned *port, struct op_error *e)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd, r;

	if (inet_pton(AF_INET, vmt_cfg->underlay_address, &sa.sin_addr) != 1)
		return op_fail(e, "conflict", -EINVAL,
			       "this agent has no --underlay-address: it cannot receive "
			       "a migration");
	fd = netns_socket(vmt_cfg->underlay_netns, AF_INET, SOCK_STREAM);
	if (fd < 0)
		return op_fail(e, "internal", fd, "socket in the underlay: %s",
			       strerror(-fd));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		r = -errno;
		close(fd);
		return op_fail(e, "internal", r, "listen on %s: %s",
			       vmt_cfg->underlay_address, strerror(-r));
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

int
vmmigio_connect(const char *host, unsigned port, struct op_error *e)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	struct timeval tv = {.tv_sec = 10}, none = {0};
	int fd, r;

	inet_pton(AF_INET, host, &sa.sin_addr);
	fd = netns_socket(vmt_cfg->underlay_netns, AF_INET, SOCK_STREAM);
	if (fd < 0)
		return op_fail(e, "internal", fd, "socket in the underlay: %s",
			       strerror(-fd));
	/* A bounded connect; QEMU gets the socket without a send timeout. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return op_fail(e, "internal", r, "cannot reach the destination %s:%u: %s",
			       host, port, strerror(-r));
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
	return fd;
}

int
vmmigio_qmp(struct vm *vm, struct qmp **q, struct op_error *e)
{
	char path[800];
	int r;

	vmt_path(vm, "qmp.sock", path, sizeof(path));
	if ((r = qmp_open(path, 5000, q)) < 0)
		return op_fail(e, "internal", r, "QMP of VM '%s': %s", vm->spec.name,
			       strerror(-r));
	return 0;
}

/* Run cmd with args (consumed; may be NULL). */
int
vmmigio_cmd(struct qmp *q, const char *c, json_t *args, json_t **ret, struct op_error *e)
{
	char err[400] = "";
	int r = qmp_exec(q, c, args, ret, 10000, err, sizeof(err));

	json_decref(args);
	if (r < 0)
		return op_fail(e, "internal", r, "%s", err[0] ? err : strerror(-r));
	return 0;
}

/* Hand QEMU an fd under name; the agent's copy is closed. */
int
vmmigio_give_fd(struct qmp *q, const char *name, int fd, struct op_error *e)
{
	char err[300] = "";
	int r = qmp_getfd(q, name, fd, err, sizeof(err));

	close(fd);
	if (r < 0)
		return op_fail(e, "internal", r, "getfd %s: %s", name, err);
	return 0;
}

/* QEMU's credentials object for a side (endpoint server or client). */
int
vmmigio_tls_object(struct qmp *q, struct vm *vm, const char *endpoint, struct op_error *e)
{
	char dir[800];
	struct op_error ignored;

	vmt_path(vm, strcmp(endpoint, "server") == 0 ? "tls-srv" : "tls-cli", dir,
		 sizeof(dir));
	vmmigio_cmd(q, "object-del", json_pack("{s:s}", "id", VMMIG_TLS), NULL, &ignored);
	return vmmigio_cmd(q, "object-add",
			   json_pack("{s:s, s:s, s:s, s:s, s:b}", "qom-type",
				     "tls-creds-x509", "id", VMMIG_TLS, "dir", dir,
				     "endpoint", endpoint, "verify-peer", 1),
			   NULL, e);
}

/* Forget them (QEMU, files); errors are of no consequence. */
void
vmmigio_tls_drop(struct qmp *q, struct vm *vm, const char *subdir)
{
	struct op_error ignored;
	char dir[800];

	if (q != NULL) {
		vmmigio_cmd(q, "migrate-set-parameters",
			    json_pack("{s:s}", "tls-creds", ""), NULL, &ignored);
		vmmigio_cmd(q, "object-del", json_pack("{s:s}", "id", VMMIG_TLS), NULL,
			    &ignored);
	}
	vmt_path(vm, subdir, dir, sizeof(dir));
	util_rmtree(dir);
}

int
vmmigio_pem_ok(const json_t *v)
{
	return json_is_string(v) && json_string_length(v) < VMMIG_PEM_MAX &&
	       strncmp(json_string_value(v), "-----BEGIN ", 11) == 0 &&
	       strlen(json_string_value(v)) == json_string_length(v);
}

/* The VM user's, if the agent can give it (root). */
static int
give(const char *path, int vm_user)
{
	if (vm_user && geteuid() == 0 && chown(path, vmt_cfg->vm_uid, vmt_cfg->vm_gid) < 0)
		return -errno;
	return 0;
}

int
vmmigio_write_creds(const char *dir, const json_t *creds, int vm_user, struct op_error *e)
{
	static const char *const files[] = {"ca-cert.pem", "client-cert.pem", "client-key.pem"};
	static const char *const keys[] = {"ca", "cert", "key"};
	char path[1000];
	int r;

	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		if (!vmmigio_pem_ok(json_object_get(creds, keys[i])))
			return op_fail(e, "invalid", -EINVAL, "tls: {ca, cert, key} in PEM");
	util_rmtree(dir);
	r = mkdir(dir, 0700) < 0 ? -errno : give(dir, vm_user);
	if (r < 0)
		return op_fail(e, "internal", r, "%s: %s", dir, strerror(-r));
	for (size_t i = 0; i < ARRAY_LEN(files); i++) {
		json_t *v = json_object_get(creds, keys[i]);

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if ((r = util_write_atomic(path, json_string_value(v), json_string_length(v),
					   0600)) < 0 ||
		    (r = give(path, vm_user)) < 0)
			return op_fail(e, "internal", r, "%s: %s", path, strerror(-r));
	}
	return 0;
}

const char *
vmmigio_status(struct qmp *q, json_t **info)
{
	char err[300];

	*info = NULL;
	if (qmp_exec(q, "query-migrate", NULL, info, 10000, err, sizeof(err)) < 0)
		return NULL;
	return json_string_value(json_object_get(*info, "status")) ?: "none";
}

unsigned
vmmigio_drives(const struct vm *vm, char ids[][8])
{
	unsigned n = 0;

	snprintf(ids[n++], 8, "root");
	for (unsigned i = 0; i < vm->spec.n_volumes && n < VMMIG_DRIVES_MAX; i++)
		snprintf(ids[n++], 8, "vol%u", i);
	return n;
}

void
vmmigio_drop_volumes(struct vm *vm)
{
	char list[sizeof(vm->mig_volumes)], *save = NULL, *v;

	snprintf(list, sizeof(list), "%s", vm->mig_volumes);
	for (v = strtok_r(list, ",", &save); v != NULL; v = strtok_r(NULL, ",", &save))
		storage_volume_drop(v);
	vm->mig_volumes[0] = '\0';
}

void
vmmigio_remove(struct vm *vm)
{
	if (vm->pid > 0 && vm->pidfd >= 0) {
		struct pollfd p = {.fd = vm->pidfd, .events = POLLIN};

		kill(vm->pid, SIGKILL);
		/* Gone before its disks are: its NBD connections close with it. */
		poll(&p, 1, 5000);
	}
	if (vm->spec.n_volumes > 0 || vmt_is_volume_root(vm))
		storage_export_delete(vm->id);
	if (vmt_is_volume_root(vm))
		storage_root_delete(vm->id);
	vmmigio_drop_volumes(vm);
	util_rmtree(vm->dir);
	net_ports_set(vm->id, NULL, 0);
}
