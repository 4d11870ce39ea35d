/* supervise.c - see supervise.h */
#define _GNU_SOURCE
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "vm.h"

#define WATCH_MAX 4096

static int wake_pipe[2] = {-1, -1};

struct watch {
	struct vm *vm;
	int is_pidfd;
};

void
supervise_wake(void)
{
	char c = 1;

	if (write(wake_pipe[1], &c, 1) < 0) {
		/* The pipe is full: a wake-up is already pending. */
	}
}

static void
handle_events(struct vm *vm)
{
	json_t *ev;
	int r;

	while ((r = qmp_next_event(vm->events, &ev, 0)) == 0) {
		vm_handle_event(vm, ev);
		json_decref(ev);
	}
	if (r == -ECONNRESET || r == -EMSGSIZE) {
		/* QEMU is going away (or misbehaving); the pidfd tells the rest. */
		qmp_close(vm->events);
		vm->events = NULL;
	}
}

static void *
loop(void *arg)
{
	static struct pollfd pfd[WATCH_MAX + 1];
	static struct watch w[WATCH_MAX + 1];

	(void)arg;
	for (;;) {
		struct vm *vm;
		nfds_t n = 1, i;
		int rc;

		pfd[0].fd = wake_pipe[0];
		pfd[0].events = POLLIN;
		vm_lock();
		for (vm = vm_first(); vm != NULL && n + 2 <= WATCH_MAX; vm = vm->next) {
			if (vm->deleted || vm->pidfd < 0)
				continue;
			pfd[n] = (struct pollfd){.fd = vm->pidfd, .events = POLLIN};
			w[n++] = (struct watch){vm, 1};
			if (vm->events != NULL) {
				pfd[n] = (struct pollfd){.fd = qmp_fd(vm->events), .events = POLLIN};
				w[n++] = (struct watch){vm, 0};
			}
		}
		vm_unlock();

		rc = poll(pfd, n, 1000);
		if (rc < 0) {
			if (errno != EINTR)
				log_warn("supervisor: poll");
			continue;
		}
		if (pfd[0].revents & POLLIN) {
			char buf[64];
			while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
				;
		}
		vm_lock();
		/* Events first, so a SHUTDOWN is seen before the process end. */
		for (i = 1; i < n; i++)
			if (!w[i].is_pidfd && pfd[i].revents && w[i].vm->events != NULL &&
			    qmp_fd(w[i].vm->events) == pfd[i].fd)
				handle_events(w[i].vm);
		for (i = 1; i < n; i++)
			if (w[i].is_pidfd && pfd[i].revents && w[i].vm->pidfd == pfd[i].fd)
				vm_process_ended(w[i].vm);
		vm_unlock();
	}
	return NULL;
}

int
supervise_start(void)
{
	pthread_t t;
	int r;

	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	r = pthread_create(&t, NULL, loop, NULL);
	if (r != 0)
		return -r;
	pthread_detach(t);
	return 0;
}
