/* vmready.c - see vmready.h */
#define _GNU_SOURCE
#include "vmready.h"

#include "image.h"

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
#define FAILED_PREFIX "cloudlet: service-failed: "

static int ino = -1; /* one inotify instance for every VM's console.log */

/*
 * An uploaded image (docs/images.md) does not print our readiness line
 * unless its maker put it there: such a VM is also ready at cloud-init's
 * final message on its console ("Cloud-init v. 22.4.2 finished at ...",
 * cloud-init's default final_message), once its modules have run.
 */
static int
cloud_init_finished(const char *buf, size_t n)
{
	const char *p = memmem(buf, n, "Cloud-init v. ", 14), *nl, *f;

	for (; p != NULL; p = memmem(p + 1, n - (size_t)(p + 1 - buf), "Cloud-init v. ", 14)) {
		nl = memchr(p, '\n', n - (size_t)(p - buf));
		f = memmem(p, nl ? (size_t)(nl - p) : n - (size_t)(p - buf), " finished at ", 13);
		if (f != NULL)
			return 1;
	}
	return 0;
}

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

/* A line this long is enough to say why; the rest is cut. */
#define LINE_KEEP 320

/* Is there a complete "service-failed" line in buf[0..n)? Its text (without
 * the prefix) into vm->ready_error. */
static int
failed_line(struct vm *vm, const char *buf, size_t n)
{
	const char *p = memmem(buf, n, FAILED_PREFIX, strlen(FAILED_PREFIX)), *nl;
	size_t len;

	if (p == NULL)
		return 0;
	p += strlen(FAILED_PREFIX);
	nl = memchr(p, '\n', n - (size_t)(p - buf));
	if (nl == NULL && n - (size_t)(p - buf) < LINE_KEEP - strlen(FAILED_PREFIX))
		return 0; /* not complete yet: read again with what follows */
	len = nl ? (size_t)(nl - p) : n - (size_t)(p - buf);
	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == ' '))
		len--;
	if (len > 200)
		len = 200;
	snprintf(vm->ready_error, sizeof(vm->ready_error), "%.*s", (int)len, p);
	for (char *c = vm->ready_error; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	return 1;
}

/*
 * Read console.log from where the last scan stopped to its end, looking
 * for this VM's readiness line, or the line that says it will not come
 * (its service failed: docs/guest.md). Table lock held: a few KiB of a
 * local file, not a wait. The last LINE_KEEP bytes are read again next
 * time, so a line cut by a write boundary is still found.
 */
static void
scan(struct vm *vm)
{
	char path[800], want[64], buf[8192 + LINE_KEEP];
	size_t keep = 0, wl;
	uint64_t pos;
	int fd, done = 0;

	if (vm->ready || vm->ready_error[0] != '\0' || vm->pidfd < 0)
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
		if (memmem(buf, (size_t)n, want, wl) != NULL ||
		    (image_is_upload(vm->spec.image) && cloud_init_finished(buf, (size_t)n))) {
			vm->ready = 1;
			done = 1;
			break;
		}
		if (failed_line(vm, buf, (size_t)n)) {
			done = 1;
			break;
		}
		keep = (size_t)n < LINE_KEEP ? (size_t)n : LINE_KEEP;
		memmove(buf, buf + n - keep, keep);
	}
	close(fd);
	vm->ready_scanned = pos > keep ? pos - keep : 0;
	if (done) {
		if (vm->ready_error[0] != '\0')
			log_warnx("vm %s (%s): will not get ready: %s", vm->id, vm->spec.name,
				  vm->ready_error);
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
	vm->ready_error[0] = '\0';
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
vmready_sweep(void)
{
	static uint64_t last_full;
	uint64_t now = util_now_ms();
	int full = now - last_full >= 1000;

	/* A console the watch could not be put on (inotify_add_watch failed:
	 * out of watches, say) is read at every supervisor round; and once a
	 * second every console still waited for is, so an event the kernel
	 * dropped (a full inotify queue) delays a readiness by a second at
	 * most instead of for good. */
	if (full)
		last_full = now;
	for (struct vm *vm = vmt_first(); vm != NULL; vm = vm->next)
		if ((full || vm->ready_wd < 0) && vm->pidfd >= 0 && !vm->ready &&
		    vm->ready_error[0] == '\0')
			scan(vm);
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
