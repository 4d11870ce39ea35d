/* vmready.c - see vmready.h */
#define _GNU_SOURCE
#include "vmready.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define READY_PREFIX "cloudlet: ready "

static int ino = -1; /* one inotify instance for every VM's console.log */

int
vmready_init(void)
{
	ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	return ino < 0 ? -errno : 0;
}

int
vmready_fd(void)
{
	return ino;
}

/*
 * Read console.log from where the last scan stopped to its end, looking
 * for this VM's readiness line (lock held: a few KiB of a local file, not
 * a wait). The last len-1 bytes are read again next time, so a line cut
 * by a write boundary is still found.
 */
static void
scan(struct vm *vm)
{
	char path[800], want[64], buf[8192 + 64];
	size_t keep = 0, wl;
	uint64_t pos;
	int fd;

	if (vm->ready || vm->pidfd < 0)
		return;
	snprintf(want, sizeof(want), READY_PREFIX "%s", vm->id);
	wl = strlen(want);
	vmt_path(vm, "console.log", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	pos = vm->ready_scanned;
	for (;;) {
		ssize_t n = pread(fd, buf + keep, sizeof(buf) - keep - 1, (off_t)pos);

		if (n <= 0)
			break;
		pos += (uint64_t)n;
		n += (ssize_t)keep;
		buf[n] = '\0';
		if (memmem(buf, (size_t)n, want, wl) != NULL) {
			vm->ready = 1;
			break;
		}
		keep = (size_t)n < wl - 1 ? (size_t)n : wl - 1;
		memmove(buf, buf + n - keep, keep);
	}
	close(fd);
	vm->ready_scanned = pos > keep ? pos - keep : 0;
	if (vm->ready) {
		vmready_disarm(vm);
		vmt_broadcast();
	}
}

void
vmready_arm(struct vm *vm)
{
	char path[800];

	vmready_disarm(vm);
	vm->ready = 0;
	vm->ready_scanned = vm->console_off;
	vmt_path(vm, "console.log", path, sizeof(path));
	vm->ready_wd = inotify_add_watch(ino, path, IN_MODIFY);
	if (vm->ready_wd < 0)
		log_warn("vm %s: inotify on its console", vm->id);
	scan(vm);
}

void
vmready_rearm(struct vm *vm)
{
	char path[800];
	struct stat st;

	vmt_path(vm, "console.log", path, sizeof(path));
	vm->console_off = stat(path, &st) == 0 ? (uint64_t)st.st_size : vm->console_off;
	vmready_arm(vm);
}

void
vmready_disarm(struct vm *vm)
{
	if (vm->ready_wd >= 0)
		inotify_rm_watch(ino, vm->ready_wd);
	vm->ready_wd = -1;
}

void
vmready_events(void)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(ino, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;

			for (struct vm *vm = vmt_first(); vm != NULL; vm = vm->next)
				if (vm->ready_wd == ev->wd)
					scan(vm);
			p += sizeof(*ev) + ev->len;
		}
	}
}
