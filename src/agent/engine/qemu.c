/* qemu.c - see qemu.h */
#define _GNU_SOURCE
#include "qemu.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cloneid.h"
#include "log.h"
#include "tap.h"
#include "util.h"

void
qemu_tap_name(const char *vm_id, unsigned i, char *out, size_t len)
{
	snprintf(out, len, "vt%.11s%u", vm_id, i);
}

int
qemu_kernel_cmdline(enum host_accel accel, uint64_t tsc_khz, char *out, size_t len)
{
	char tsc[48] = "";

	/*
	 * tsc_early_khz: under TCG on microvm the guest cannot calibrate the
	 * TSC against the PIT and about half the boots hung without it.
	 * tsc=reliable nowatchdog: no clocksource watchdog ticking in every
	 * idle guest (measured in platform-notes.md: idle cost 1.3% -> 0.3%).
	 */
	if (accel == ACCEL_TCG && tsc_khz > 0)
		snprintf(tsc, sizeof(tsc), " tsc_early_khz=%llu", (unsigned long long)tsc_khz);
	return util_fmt(out, len,
			"console=ttyS0 reboot=t panic=-1 quiet tsc=reliable nowatchdog%s "
			"root=LABEL=cloudlet-root",
			tsc);
}

unsigned
qemu_state_fd_number(const struct qemu_launch *l)
{
	return 3 + l->spec->n_nics;
}

unsigned
qemu_identity_fd_number(const struct qemu_launch *l)
{
	return 4 + l->spec->n_nics;
}

int
qemu_build_argv(const struct qemu_launch *l, struct strv *a)
{
	const struct vm_spec *s = l->spec;
	/* microvm's virtio is MMIO; the PC machine's is PCI */
	const char *blk = l->firmware ? "virtio-blk-pci" : "virtio-blk-device";
	char cmdline[512];
	unsigned i;
	int r;

	if ((r = qemu_kernel_cmdline(l->accel, l->tsc_khz, cmdline, sizeof(cmdline))) < 0)
		return r;
	if (l->template_mode) {
		size_t n = strlen(cmdline);

		if (snprintf(cmdline + n, sizeof(cmdline) - n, " cloudlet.template=1") >=
		    (int)(sizeof(cmdline) - n))
			return -ENAMETOOLONG;
	}
	strv_add(a, l->qemu_bin);
	strv_add(a, "-name");
	strv_addf(a, "guest=%s,debug-threads=on", l->vm_id);
	/* microvm: no PCI, no firmware; pit=off with +arat lets idle guests go
	 * tickless (see platform-notes.md). */
	strv_add(a, "-M");
	if (l->firmware)
		/* pc: SeaBIOS (QEMU's default firmware) runs the disk's MBR */
		strv_addf(a, "pc%s", l->mem_path || l->ram0 ? ",memory-backend=ram0" : "");
	else
		strv_addf(a, "microvm,x-option-roms=off,isa-serial=on,rtc=on,pit=off,acpi=on%s",
			  l->mem_path || l->ram0 ? ",memory-backend=ram0" : "");
	if (l->mem_path == NULL && l->ram0) {
		strv_add(a, "-object");
		strv_addf(a, "memory-backend-ram,id=ram0,size=%lluM",
			  (unsigned long long)s->memory_mib);
	} else if (l->mem_path != NULL) {
		strv_add(a, "-object");
		strv_addf(a, "memory-backend-file,id=ram0,size=%lluM,mem-path=%s,share=%s",
			  (unsigned long long)s->memory_mib, l->mem_path,
			  l->mem_share ? "on" : "off");
	}
	if (l->accel == ACCEL_KVM) {
		strv_add(a, "-accel");
		strv_add(a, "kvm");
		strv_add(a, "-cpu");
		strv_add(a, "host");
	} else {
		strv_add(a, "-accel");
		strv_add(a, "tcg,tb-size=64");
		strv_add(a, "-cpu");
		strv_add(a, "qemu64,+arat");
	}
	strv_add(a, "-smp");
	strv_addf(a, "%u", s->vcpus);
	strv_add(a, "-m");
	strv_addf(a, "%llu", (unsigned long long)s->memory_mib);
	strv_add(a, "-nodefaults");
	strv_add(a, "-no-user-config");
	strv_add(a, "-display");
	strv_add(a, "none");
	/* No new privileges, no spawning, no obsolete syscalls: QEMU parses
	 * guest-controlled device state and must be contained. */
	strv_add(a, "-sandbox");
	strv_add(a, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
	if (!l->firmware) {
		strv_add(a, "-kernel");
		strv_addf(a, "%s/vmlinux", l->guest_dir);
		strv_add(a, "-initrd");
		strv_addf(a, "%s/initrd.cpio.gz", l->guest_dir);
		strv_add(a, "-append");
		strv_add(a, cmdline);
	}
	strv_add(a, "-drive");
	if (l->root_volume != NULL && l->export_socket != NULL)
		/* Still the first disk, id root: the guest's /dev/vda. */
		strv_addf(a,
			  "driver=raw,if=none,id=root,discard=unmap,file.driver=nbd,"
			  "file.server.type=unix,file.server.path=%s,file.export=%s,"
			  "file.reconnect-delay=10",
			  l->export_socket, l->root_volume);
	else
		strv_addf(a, "file=%s/%s,format=%s,if=none,id=root,discard=unmap", l->vm_dir,
			  l->root_file ? l->root_file : "root.raw",
			  l->root_format ? l->root_format : "raw");
	strv_add(a, "-device");
	strv_addf(a, "%s,drive=root%s%s", blk, l->share_root ? ",share-rw=on" : "",
		  l->firmware ? ",bootindex=0" : "");
	strv_add(a, "-drive");
	strv_addf(a, "file=%s/seed.img,format=raw,if=none,id=seed,readonly=on", l->vm_dir);
	strv_add(a, "-device");
	strv_addf(a, "%s,drive=seed", blk);
	for (i = 0; l->export_socket != NULL && i < s->n_volumes; i++) {
		/* reconnect-delay: the guest waits (instead of getting I/O
		 * errors) while the storage server restarts (platform-notes.md).
		 * The serial (virtio-blk keeps 20 bytes) names the volume in
		 * the guest's /sys/block/vdX/serial. */
		strv_add(a, "-drive");
		strv_addf(a,
			  "driver=raw,if=none,id=vol%u,file.driver=nbd,file.server.type=unix,"
			  "file.server.path=%s,file.export=%s,file.reconnect-delay=10",
			  i, l->export_socket, s->volumes[i]);
		strv_add(a, "-device");
		/* A migration's destination exports it while the guest
		 * starts (share_root, as the root). */
		strv_addf(a, "%s,drive=vol%u,serial=%.20s%s", blk, i, s->volumes[i],
			  l->share_root ? ",share-rw=on" : "");
	}
	if (strcmp(s->image, "firewall") == 0) {
		/* The firewall appliance's control channel: the agent sends it
		 * its rule set here (net_fwvm.c), never over a network. */
		strv_add(a, "-device");
		strv_add(a, "virtio-serial-device");
		strv_add(a, "-chardev");
		strv_addf(a, "socket,id=fwctl,path=%s/fwctl.sock,server=on,wait=off", l->vm_dir);
		strv_add(a, "-device");
		strv_add(a, "virtserialport,chardev=fwctl,name=cloudlet.fw");
	}
	for (i = 0; i < s->n_nics; i++) {
		strv_add(a, "-netdev");
		if (l->dummy_nics)
			strv_addf(a, "hubport,id=net%u,hubid=%u", i, i);
		else
			strv_addf(a, "tap,id=net%u,fd=%u", i, 3 + i);
		strv_add(a, "-device");
		strv_addf(a, "%s,netdev=net%u,mac=%s",
			  l->firmware ? "virtio-net-pci" : "virtio-net-device", i, s->nics[i].mac);
	}
	strv_add(a, "-chardev");
	strv_addf(a,
		  "socket,id=con0,path=%s/console.sock,server=on,wait=off,"
		  "logfile=%s/console.log,logappend=on",
		  l->vm_dir, l->vm_dir);
	strv_add(a, "-serial");
	strv_add(a, "chardev:con0");
	strv_add(a, "-chardev");
	strv_addf(a, "socket,id=qmp0,path=%s/qmp.sock,server=on,wait=off", l->vm_dir);
	strv_add(a, "-mon");
	strv_add(a, "chardev=qmp0,mode=control");
	strv_add(a, "-chardev");
	strv_addf(a, "socket,id=qmp1,path=%s/events.sock,server=on,wait=off", l->vm_dir);
	strv_add(a, "-mon");
	strv_add(a, "chardev=qmp1,mode=control");
	if (l->with_identity) {
		strv_add(a, "-fw_cfg");
		strv_addf(a, "name=%s,file=/dev/fd/%u", CLONEID_FW_CFG_NAME,
			  qemu_identity_fd_number(l));
	}
	strv_add(a, "-pidfile");
	strv_addf(a, "%s/qemu.pid", l->vm_dir);
	if (l->incoming) {
		strv_add(a, "-incoming");
		strv_add(a, "defer");
	}
	return a->failed ? -ENOMEM : 0;
}

/* Runs in the child between fork and exec: report failure through errfd. */
static void __attribute__((noreturn))
child(const struct qemu_launch *l, char **argv, char **envp, const char *logpath, int errfd)
{
	char err[256];
	int taps[SPEC_NICS_MAX];
	unsigned i, n = l->spec->n_nics;
	int fd, sfd, ifd;

	setsid();
	/* Keep the error pipe out of the range the taps are moved into. */
	fd = fcntl(errfd, F_DUPFD_CLOEXEC, 200);
	if (fd >= 0)
		errfd = fd;
	/* Park the state and identity files above that range too: the agent
	 * may hold them at the numbers the taps are about to take. */
	sfd = l->state_fd >= 0 ? fcntl(l->state_fd, F_DUPFD_CLOEXEC, 64) : -1;
	ifd = l->with_identity ? fcntl(l->identity_fd, F_DUPFD_CLOEXEC, 64) : -1;
	if ((l->state_fd >= 0 && sfd < 0) || (l->with_identity && ifd < 0)) {
		snprintf(err, sizeof(err), "dup state/identity: %s", strerror(errno));
		goto fail;
	}
	if (l->dummy_nics)
		n = 0;
	for (i = 0; i < n; i++) {
		char ifname[16];

		qemu_tap_name(l->vm_id, i, ifname, sizeof(ifname));
		taps[i] = tap_open(l->spec->nics[i].netns, l->spec->nics[i].bridge, ifname,
				   err, sizeof(err));
		if (taps[i] < 0)
			goto fail;
		fd = fcntl(taps[i], F_DUPFD_CLOEXEC, 64);
		close(taps[i]);
		taps[i] = fd;
	}
	/* Nothing else the agent holds reaches QEMU: everything close-on-exec,
	 * then QEMU's own fds at their numbers (dup2 clears the flag). */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	for (i = 0; i < n; i++)
		if (dup2(taps[i], 3 + (int)i) < 0) {
			snprintf(err, sizeof(err), "dup2 tap: %s", strerror(errno));
			goto fail;
		}
	if (sfd >= 0) {
		n = l->spec->n_nics + 1;
		if (dup2(sfd, (int)qemu_state_fd_number(l)) < 0) {
			snprintf(err, sizeof(err), "dup2 state: %s", strerror(errno));
			goto fail;
		}
	}
	if (ifd >= 0) {
		n = l->spec->n_nics + 2;
		if (dup2(ifd, (int)qemu_identity_fd_number(l)) < 0) {
			snprintf(err, sizeof(err), "dup2 identity: %s", strerror(errno));
			goto fail;
		}
	}
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0)
		dup2(fd, 0);
	fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
		snprintf(err, sizeof(err), "open qemu.log: %s", strerror(errno));
		goto fail;
	}
	if (fchown(1, l->uid, l->gid) < 0 && geteuid() == 0) {
		snprintf(err, sizeof(err), "chown qemu.log: %s", strerror(errno));
		goto fail;
	}
	/* Everything the agent holds open stays behind. */
	close_range(3 + n, ~0U, CLOSE_RANGE_CLOEXEC);
	if (chdir(l->vm_dir) < 0) {
		snprintf(err, sizeof(err), "chdir: %s", strerror(errno));
		goto fail;
	}
	if (geteuid() == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(l->gid, l->gid, l->gid) < 0 ||
		    setresuid(l->uid, l->uid, l->uid) < 0) {
			snprintf(err, sizeof(err), "drop privileges: %s", strerror(errno));
			goto fail;
		}
	}
	signal(SIGPIPE, SIG_DFL);
	execve(argv[0], argv, envp);
	snprintf(err, sizeof(err), "exec %s: %s", argv[0], strerror(errno));
fail:
	if (write(errfd, err, strlen(err)) < 0) {
		/* nothing left to tell */
	}
	_exit(127);
}

/*
 * QEMU's environment: the agent's, plus glibc's malloc on transparent huge
 * pages. QEMU's start is mostly page faults on this kind of host (dynamic
 * relocation, zeroed allocations); with huge pages for malloc it answers on
 * QMP after a median 58 ms instead of 70 (docs/bench.md).
 */
static void
qemu_env(struct strv *env)
{
	extern char **environ;
	const char *t = getenv("GLIBC_TUNABLES");
	char **e;

	for (e = environ; e && *e; e++)
		if (strncmp(*e, "GLIBC_TUNABLES=", 15) != 0)
			strv_add(env, *e);
	if (t != NULL && t[0] != '\0')
		strv_addf(env, "GLIBC_TUNABLES=%s:glibc.malloc.hugetlb=1", t);
	else
		strv_add(env, "GLIBC_TUNABLES=glibc.malloc.hugetlb=1");
}

int
qemu_spawn(const struct qemu_launch *l, pid_t *pidp, char *err, size_t errlen)
{
	struct strv argv = {0}, env = {0};
	char logpath[1024], *line;
	int pfd[2], r;
	pid_t pid;
	ssize_t n;

	qemu_env(&env);
	if ((r = qemu_build_argv(l, &argv)) < 0 || env.failed) {
		r = r < 0 ? r : -ENOMEM;
		snprintf(err, errlen, "cannot build the QEMU command line");
		goto out;
	}
	if ((r = util_fmt(logpath, sizeof(logpath), "%s/qemu.log", l->vm_dir)) < 0)
		goto out;
	line = strv_join(&argv);
	log_info("vm %s: %s", l->vm_id, line ? line : "(no memory)");
	free(line);
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		r = -errno;
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		goto out;
	}
	if (pid == 0)
		child(l, argv.v, env.v, logpath, pfd[1]);
	close(pfd[1]);
	/* EOF means exec succeeded (the pipe is close-on-exec). */
	do {
		n = read(pfd[0], err, errlen > 0 ? errlen - 1 : 0);
	} while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n > 0) {
		err[n] = '\0';
		waitpid(pid, NULL, 0);
		r = -EIO;
		goto out;
	}
	*pidp = pid;
out:
	strv_free(&argv);
	strv_free(&env);
	return r;
}
