/*
 * qemu.h - the VM engine: one QEMU process per VM.
 *
 * qemu_build_argv() is pure (unit-tested): it turns a spec and the host's
 * choices into a command line. qemu_spawn() forks, opens the VM's taps in
 * the child, drops to the unprivileged VM user and execs QEMU in its own
 * session, so the VM outlives an agent restart.
 *
 * Files in the VM directory (all absolute paths):
 *   root.raw      ext4 root disk          seed.img    NoCloud seed (vfat)
 *   qmp.sock      QMP for commands        events.sock QMP held by the supervisor
 *   console.sock  serial console (attach) console.log everything the console printed
 *   qemu.log      QEMU's own stderr       qemu.pid    written by QEMU
 */
#ifndef CLOUDLET_QEMU_H
#define CLOUDLET_QEMU_H

#include <sys/types.h>

#include "host.h"
#include "spec.h"
#include "strv.h"

/*
 * Bump when the command line qemu_build_argv makes changes in a way that
 * matters to saved state (machine, CPU, devices, accelerator options):
 * templates record it, so a clone is never restored into a different VM.
 */
#define QEMU_ENGINE_REV 2

struct qemu_launch {
	const char *qemu_bin;  /* qemu-system-x86_64 */
	const char *guest_dir; /* vmlinux, initrd.cpio.gz */
	const char *vm_dir;    /* absolute */
	const char *vm_id;
	enum host_accel accel; /* TCG or KVM, never AUTO */
	uint64_t tsc_khz;
	const struct vm_spec *spec;
	uid_t uid; /* drop to this user/group before exec (when root) */
	gid_t gid;
	/* Disk: "root.raw"/"raw" unless a clone's "root.qcow2"/"qcow2". */
	const char *root_file;
	const char *root_format;
	/* An uploaded image (image.h): a PC machine with SeaBIOS booting the
	 * root disk's own boot loader, virtio over PCI, no -kernel. */
	int firmware;
	/* The VM's NBD export socket (storage.h) when the spec has volumes:
	 * one virtio-blk disk per volume, after the root and seed disks. */
	const char *export_socket;
	/* The root volume's name when the root disk is a volume in that
	 * export (then root_file/root_format are not used). */
	const char *root_volume;
	/*
	 * Templates and clones (template.h): guest RAM in mem_path (shared
	 * with the file for a template, a private copy-on-write mapping for a
	 * clone); the template boots with cloudlet.template=1 and NICs on
	 * dummy backends; a clone waits for its device state (-incoming defer).
	 * state_fd, if >= 0, is passed to QEMU as fd 3 + n_nics for fd:
	 * migration (QEMU may not spawn "exec:" helpers under its sandbox).
	 */
	const char *mem_path;
	int mem_share;
	int template_mode;
	int incoming;
	int dummy_nics;
	int state_fd;
	/* with_identity: identity_fd is the fw_cfg file CLONEID_FW_CFG_NAME
	 * (cloneid.h), passed as fd 4 + n_nics; templates and clones only. */
	int with_identity;
	int identity_fd;
	/*
	 * The destination of a live migration (vmmigrate.c): -incoming defer
	 * (incoming above) and the root device shares writing, so QEMU's own
	 * NBD export of it may stay open until the guest runs here. ram0: the
	 * source's RAM is the memory backend "ram0" (a clone restored from a
	 * template): the same RAM block name, in anonymous memory here.
	 */
	int share_root;
	int ram0;
};

/* The tap interface name of a VM's nic i (at most 15 characters). */
void qemu_tap_name(const char *vm_id, unsigned i, char *out, size_t len);

/* The kernel command line every VM boots with. */
int qemu_kernel_cmdline(enum host_accel accel, uint64_t tsc_khz, char *out, size_t len);

/* The fd numbers QEMU sees the launch's state_fd and identity_fd as. */
unsigned qemu_state_fd_number(const struct qemu_launch *l);
unsigned qemu_identity_fd_number(const struct qemu_launch *l);

int qemu_build_argv(const struct qemu_launch *l, struct strv *argv);

/* Start QEMU. 0 and *pid, or -errno with the reason in err. */
int qemu_spawn(const struct qemu_launch *l, pid_t *pid, char *err, size_t errlen);

#endif
