/* vmwatch.c - see vmwatch.h */
#define _GNU_SOURCE
#include "vmwatch.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "supervise.h"
#include "vmready.h"
#include "vmstart.h"
#include "vmstore.h"

enum watch_kind { W_PIDFD, W_EVENTS, W_CONSOLE };

/* What each collected descriptor belongs to (supervisor thread only);
 * each entry holds a reference to its VM until dispatch. */
static struct {
	struct vm *vm;
	enum watch_kind kind;
} watched[8192];

static void
handle_event(struct vm *vm, json_t *ev)
{
	const char *name = json_string_value(json_object_get(ev, "event"));
	json_t *data = json_object_get(ev, "data");

	if (name == NULL)
		return;
	if (strcmp(name, "SHUTDOWN") == 0) {
		const char *reason = json_string_value(json_object_get(data, "reason"));

		vm->shutdown_seen = 1;
		snprintf(vm->shutdown_reason, sizeof(vm->shutdown_reason), "%s",
			 reason ? reason : "unknown");
		/* QEMU's text, cut to fit: printable ASCII only, so a cut
		 * multi-byte character never makes the record unwritable. */
		for (char *c = vm->shutdown_reason; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
				*c = '?';
	} else if (strcmp(name, "STOP") == 0 && vm->state == VM_RUNNING) {
		vm->state = VM_PAUSED;
		vmstore_save(vm);
	} else if (strcmp(name, "RESUME") == 0 && vm->state == VM_PAUSED) {
		vm->state = VM_RUNNING;
		vmstore_save(vm);
	} else if (strcmp(name, "RESET") == 0) {
		/* A reboot from inside the guest: a new boot, a new readiness. */
		vmready_rearm(vm);
	}
}

static void
process_ended(struct vm *vm)
{
	char tail[200];
	int status = 0, have_status = 0;

	if (vm->is_child && waitpid(vm->pid, &status, WNOHANG) == vm->pid)
		have_status = 1;
	if (vm->events != NULL) {
		json_t *ev;

		while (qmp_next_event(vm->events, &ev, 0) == 0) {
			handle_event(vm, ev);
			json_decref(ev);
		}
		qmp_close(vm->events);
		vm->events = NULL;
	}
	close(vm->pidfd);
	vm->pidfd = -1;
	vmready_disarm(vm);

	if (vm->stop_requested) {
		vm->state = VM_STOPPED;
		snprintf(vm->reason, sizeof(vm->reason), "stopped on request");
	} else if (vm->shutdown_seen && strcmp(vm->shutdown_reason, "guest-panic") != 0) {
		vm->state = VM_STOPPED;
		snprintf(vm->reason, sizeof(vm->reason), "guest shut down (%s)",
			 vm->shutdown_reason);
	} else {
		vm->state = VM_CRASHED;
		vmstart_qemu_log_tail(vm, tail, sizeof(tail));
		if (vm->shutdown_seen)
			snprintf(vm->reason, sizeof(vm->reason), "guest kernel panicked");
		else if (have_status && WIFSIGNALED(status))
			snprintf(vm->reason, sizeof(vm->reason), "QEMU was killed by signal %d (%s)",
				 WTERMSIG(status), strsignal(WTERMSIG(status)));
		else if (have_status)
			snprintf(vm->reason, sizeof(vm->reason), "QEMU exited with status %d%s%s",
				 WEXITSTATUS(status), tail[0] ? ": " : "", tail);
		else
			snprintf(vm->reason, sizeof(vm->reason),
				 "QEMU ended without a shutdown (exit status unknown: it was "
				 "started by an earlier agent)");
	}
	log_info("vm %s (%s): %s: %s", vm->id, vm->spec.name, vmt_state_name(vm->state),
		 vm->reason);
	vm->pid = 0;
	vm->ready = 0;
	vmstore_save(vm);
	vmt_broadcast();
}

static void
handle_events(struct vm *vm)
{
	json_t *ev;
	int r;

	while ((r = qmp_next_event(vm->events, &ev, 0)) == 0) {
		handle_event(vm, ev);
		json_decref(ev);
	}
	if (r == -ECONNRESET || r == -EMSGSIZE) {
		/* QEMU is going away (or misbehaving); the pidfd tells the rest. */
		qmp_close(vm->events);
		vm->events = NULL;
	}
}

static size_t
collect(struct pollfd *fds, size_t max)
{
	size_t n = 0;

	vmt_lock();
	if (n < max) {
		fds[n] = (struct pollfd){.fd = vmready_fd(), .events = POLLIN};
		watched[n++].vm = NULL;
		watched[n - 1].kind = W_CONSOLE;
	}
	for (struct vm *vm = vmt_first(); vm != NULL && n + 2 <= max &&
					  n + 2 <= sizeof(watched) / sizeof(watched[0]);
	     vm = vm->next) {
		if (vm->pidfd < 0)
			continue;
		fds[n] = (struct pollfd){.fd = vm->pidfd, .events = POLLIN};
		vmt_ref(vm);
		watched[n].vm = vm;
		watched[n++].kind = W_PIDFD;
		if (vm->events != NULL) {
			fds[n] = (struct pollfd){.fd = qmp_fd(vm->events), .events = POLLIN};
			vmt_ref(vm);
			watched[n].vm = vm;
			watched[n++].kind = W_EVENTS;
		}
	}
	vmt_unlock();
	return n;
}

static void
dispatch(struct pollfd *fds, size_t n)
{
	size_t i;

	vmt_lock();
	/* Console output first (a guest that printed its line and powered
	 * off was ready), then events, so a SHUTDOWN is seen before the end. */
	for (i = 0; i < n; i++)
		if (watched[i].kind == W_CONSOLE && fds[i].revents)
			vmready_events();
	vmready_sweep();
	for (i = 0; i < n; i++) {
		struct vm *vm = watched[i].vm;

		if (watched[i].kind == W_EVENTS && fds[i].revents && vm->events != NULL &&
		    qmp_fd(vm->events) == fds[i].fd)
			handle_events(vm);
	}
	for (i = 0; i < n; i++) {
		struct vm *vm = watched[i].vm;

		if (watched[i].kind == W_PIDFD && fds[i].revents && vm->pidfd == fds[i].fd)
			process_ended(vm);
	}
	for (i = 0; i < n; i++)
		if (watched[i].vm != NULL)
			vmt_put(watched[i].vm);
	vmt_unlock();
}

static const struct supervise_ops ops = {collect, dispatch};

int
vmwatch_start(void)
{
	return supervise_start(&ops);
}
