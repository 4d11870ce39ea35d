/* vmmigcold.c - see vmmigcold.h */
#define _GNU_SOURCE
#include "vmmigcold.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"
#include "storage.h"
#include "strv.h"
#include "util.h"
#include "vmmigio.h"

/* Cold: qemu-nbd serves root.raw on a listening socket it is handed as fd
 * 3 (its systemd socket activation), as the VM user. */
static int
nbd_spawn(struct vm *vm, int lfd, int tls, struct op_error *e)
{
	char root[800], logp[800], obj[900], dir[800];
	const char *argv[] = {"qemu-nbd",
			      "-f",
			      "raw",
			      "-x",
			      VMMIG_EXPORT,
			      "--persistent",
			      "--discard=unmap",
			      "--detect-zeroes=unmap",
			      root,
			      "--object",
			      obj,
			      "--tls-creds",
			      VMMIG_TLS,
			      NULL};
	pid_t pid;
	int r;

	vmt_path(vm, "tls-srv", dir, sizeof(dir));
	snprintf(obj, sizeof(obj),
		 "tls-creds-x509,id=%s,dir=%s,endpoint=server,verify-peer=on", VMMIG_TLS,
		 dir);
	if (!tls)
		argv[9] = NULL;
	vmt_path(vm, "root.raw", root, sizeof(root));
	vmt_path(vm, "qemu-nbd.log", logp, sizeof(logp));
	if ((r = helper_spawn_fd3(argv, lfd, logp, vmt_cfg->vm_uid, vmt_cfg->vm_gid, 1, &pid)) < 0)
		return op_fail(e, "internal", r, "fork: %s", strerror(-r));
	vm->mig_nbd_pid = pid;
	return 0;
}

/*
 * Cold, with volumes (or a root volume): qemu-storage-daemon serves every
 * drive under the live migration's export names ("root", "vol0"..) from
 * one NBD server on the listening socket it inherits as fd 3: the root
 * file, or the volumes over this host's storage export, which admits only
 * its pid (bound at once, as for a VM's QEMU). As the VM user.
 */
static int
qsd_spawn(struct vm *vm, int lfd, int tls, struct op_error *e)
{
	char drives[VMMIG_DRIVES_MAX][8], sock[800], root[80], logp[800], path[800];
	unsigned n = vmmigio_drives(vm, drives);
	struct strv a = {0};
	pid_t pid;
	int r;

	storage_root_name(vm->id, root, sizeof(root));
	if ((r = storage_export_create(vm->id, &vm->spec, vmt_is_volume_root(vm) ? root : NULL,
				       e)) < 0)
		return r;
	if ((r = storage_export_socket(vm->id, sock, sizeof(sock))) < 0)
		return op_fail(e, "internal", r, "export path too long");
	strv_add(&a, "qemu-storage-daemon");
	if (tls) {
		vmt_path(vm, "tls-srv", path, sizeof(path));
		strv_add(&a, "--object");
		strv_addf(&a, "tls-creds-x509,id=%s,dir=%s,endpoint=server,verify-peer=on",
			  VMMIG_TLS, path);
	}
	for (unsigned d = 0; d < n; d++) {
		strv_add(&a, "--blockdev");
		if (d == 0 && !vmt_is_volume_root(vm)) {
			vmt_path(vm, "root.raw", path, sizeof(path));
			strv_addf(&a, "driver=file,node-name=root,filename=%s,discard=unmap", path);
		} else {
			strv_addf(&a,
				  "driver=nbd,node-name=%s,server.type=unix,server.path=%s,"
				  "export=%s,discard=unmap",
				  drives[d], sock, d == 0 ? root : vm->spec.volumes[d - 1]);
		}
	}
	strv_add(&a, "--nbd-server");
	strv_addf(&a, "addr.type=fd,addr.str=3%s%s", tls ? ",tls-creds=" : "", tls ? VMMIG_TLS : "");
	for (unsigned d = 0; d < n; d++) {
		strv_add(&a, "--export");
		strv_addf(&a, "type=nbd,id=mig-%s,node-name=%s,name=%s,writable=on", drives[d],
			  drives[d], drives[d]);
	}
	vmt_path(vm, "qsd.pid", path, sizeof(path));
	strv_add(&a, "--pidfile");
	strv_add(&a, path);
	if (a.failed) {
		strv_free(&a);
		return op_fail(e, "internal", -ENOMEM, "out of memory");
	}
	vmt_path(vm, "qemu-nbd.log", logp, sizeof(logp));
	r = helper_spawn_fd3((const char *const *)a.v, lfd, logp, vmt_cfg->vm_uid, vmt_cfg->vm_gid,
			     0, &pid);
	strv_free(&a);
	if (r < 0)
		return op_fail(e, "internal", r, "fork: %s", strerror(-r));
	vm->mig_nbd_pid = pid;
	return storage_export_bind(vm->id, pid, e);
}

/* Is pid the qemu-nbd or qemu-storage-daemon of this VM (not a recycled
 * pid)? Both name files in the VM's directory. */
static int
is_our_nbd(const struct vm *vm, pid_t pid)
{
	char needle[800];

	snprintf(needle, sizeof(needle), "%s/", vm->dir);
	return util_cmdline_has(pid, needle);
}

/* End the cold export: qemu-nbd flushes and exits on SIGTERM. */
void
vmmigcold_stop(struct vm *vm)
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

int
vmmigcold_serve(struct vm *vm, int lfd, int tls, struct op_error *e)
{
	if (vm->spec.n_volumes > 0 || vmt_is_volume_root(vm))
		return qsd_spawn(vm, lfd, tls, e);
	return nbd_spawn(vm, lfd, tls, e);
}
