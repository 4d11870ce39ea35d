/* vmconsole.c - see vm.h: console output and input, waiting for a state */
#define _GNU_SOURCE
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"
#include "util.h"
#include "vmtable.h"

/* Write to a unix socket and wait until the peer has read it all. */
static int
console_send(const char *path, const char *data, size_t len)
{
	uint64_t deadline = util_now_ms() + 10000;
	size_t off = 0;
	int fd = msg_connect_unix(path);

	if (fd < 0)
		return fd;
	while (off < len && util_now_ms() < deadline) {
		ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		if (n > 0)
			off += (size_t)n;
		else
			usleep(5000);
	}
	/*
	 * QEMU drops what it has not read yet when the connection closes, and
	 * the guest's UART takes input a FIFO at a time: wait until QEMU has
	 * read everything (SIOCOUTQ: bytes the peer has not consumed).
	 */
	for (;;) {
		int pending = 0;

		if (ioctl(fd, SIOCOUTQ, &pending) < 0 || pending == 0 ||
		    util_now_ms() > deadline)
			break;
		usleep(2000);
	}
	close(fd);
	return off == len ? 0 : -ETIMEDOUT;
}

/* ---- wait, console --------------------------------------------------- */

int
vm_wait(const char *name, const char *what, unsigned timeout_s, json_t **out,
	struct op_error *e)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_s * 1000;
	enum vm_state want = VM_RUNNING;
	int ready = strcmp(what, "ready") == 0;
	struct vm *vm;
	int r = 0;

	if (!ready && vmt_state_parse(what, &want) < 0)
		return op_fail(e, "invalid", -EINVAL,
			    "can wait for ready, running, paused, stopped or crashed");
	vmt_lock();
	if ((vm = vmt_find(name)) == NULL) {
		vmt_unlock();
		return op_fail(e, "not_found", -ENOENT, "no VM named '%s'", name);
	}
	/* Our reference keeps the struct while we sleep; every change of
	 * state or readiness broadcasts (supervisor, vmready, operations). */
	vmt_ref(vm);
	for (;;) {
		int done = ready ? (vm->pidfd >= 0 && vm->ready) : vm->state == want;
		int gone = vmt_find(name) != vm;

		if (gone) {
			r = op_fail(e, "not_found", -ENOENT, "VM '%s' was deleted", name);
			break;
		}
		if (done)
			break;
		if (ready && vm->pidfd >= 0 && vm->ready_error[0] != '\0') {
			r = op_fail(e, "internal", -EIO, "VM '%s' did not get ready: %s", name,
				    vm->ready_error);
			break;
		}
		if (ready && vm->pidfd < 0 && !vm->busy) {
			r = op_fail(e, "conflict", -EINVAL, "VM '%s' is %s, it will not get ready",
				    name, vmt_state_name(vm->state));
			break;
		}
		if (vmt_wait_until(deadline) < 0 && util_now_ms() >= deadline) {
			r = op_fail(e, "timeout", -ETIMEDOUT, "VM '%s' is not %s after %us", name,
				    what, timeout_s);
			if (ready) {
				char path[800];
				struct stat st;

				vmt_path(vm, "console.log", path, sizeof(path));
				log_warnx("vm %s (%s): not ready after %us: console.log %lld bytes, "
					  "this boot from %llu, read to %llu, watch %d, pid %d",
					  vm->id, name, timeout_s,
					  stat(path, &st) == 0 ? (long long)st.st_size : -1LL,
					  (unsigned long long)vm->console_off,
					  (unsigned long long)vm->ready_scanned, vm->ready_wd,
					  (int)vm->pid);
			}
			break;
		}
	}
	if (r != -ENOENT)
		*out = vmt_view(vm);
	vmt_put(vm);
	vmt_unlock();
	return r;
}

int
vm_console(const char *name, size_t max_bytes, int64_t offset, json_t **out,
	   struct op_error *e)
{
	char path[800], *buf;
	struct vm *vm;
	ssize_t n;
	off_t size, from;
	int fd;

	vmt_lock();
	vm = vmt_find(name);
	if (vm == NULL) {
		vmt_unlock();
		return op_fail(e, "not_found", -ENOENT, "no VM named '%s'", name);
	}
	vmt_path(vm, "console.log", path, sizeof(path));
	vmt_unlock();
	buf = malloc(max_bytes + 1);
	if (buf == NULL)
		return op_fail(e, "internal", -ENOMEM, "out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		*out = json_pack("{s:s, s:i}", "output", "", "offset", 0);
		return 0;
	}
	size = lseek(fd, 0, SEEK_END);
	if (offset >= 0)
		from = offset > size ? size : (off_t)offset;
	else
		from = size > (off_t)max_bytes ? size - (off_t)max_bytes : 0;
	n = pread(fd, buf, max_bytes, from);
	close(fd);
	if (n < 0)
		n = 0;
	/* The console is binary-ish; JSON strings must be valid UTF-8. */
	{
		ssize_t i;
		for (i = 0; i < n; i++)
			if ((unsigned char)buf[i] >= 0x80 || buf[i] == '\0')
				buf[i] = '?';
	}
	*out = json_pack("{s:s%, s:I}", "output", buf, (size_t)n, "offset",
			 (json_int_t)(from + n));
	free(buf);
	return 0;
}

int
vm_console_input(const char *name, const char *data, size_t len, struct op_error *e)
{
	char path[800];
	struct vm *vm;
	int r, running;

	vmt_lock();
	vm = vmt_find(name);
	if (vm == NULL) {
		vmt_unlock();
		return op_fail(e, "not_found", -ENOENT, "no VM named '%s'", name);
	}
	running = vm->pidfd >= 0;
	vmt_path(vm, "console.sock", path, sizeof(path));
	vmt_unlock();
	if (!running)
		return op_fail(e, "conflict", -EINVAL, "VM '%s' is not running", name);
	r = console_send(path, data, len);
	if (r == -ETIMEDOUT)
		return op_fail(e, "timeout", r, "console of '%s' did not take the input", name);
	if (r < 0)
		return op_fail(e, "internal", r, "console: %s", strerror(-r));
	return 0;
}
