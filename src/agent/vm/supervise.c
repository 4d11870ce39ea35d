/* supervise.c - see supervise.h */
#define _GNU_SOURCE
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "log.h"

#define WATCH_MAX 8192

static int wake_pipe[2] = {-1, -1};
static const struct supervise_ops *cb;

void
supervise_wake(void)
{
	char c = 1;

	if (write(wake_pipe[1], &c, 1) < 0) {
		/* The pipe is full: a wake-up is already pending. */
	}
}

static void *
loop(void *arg)
{
	static struct pollfd pfd[WATCH_MAX + 1];

	(void)arg;
	for (;;) {
		size_t n;
		int rc;

		pfd[0] = (struct pollfd){.fd = wake_pipe[0], .events = POLLIN};
		n = cb->collect(pfd + 1, WATCH_MAX);
		/* The timeout only bounds how long a lost wake-up could matter. */
		rc = poll(pfd, (nfds_t)n + 1, 1000);
		if (rc < 0) {
			if (errno != EINTR)
				log_warn("supervisor: poll");
			for (size_t i = 1; i <= n; i++)
				pfd[i].revents = 0;
		}
		if (pfd[0].revents & POLLIN) {
			char buf[64];

			while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
				;
		}
		cb->dispatch(pfd + 1, n);
	}
	return NULL;
}

int
supervise_start(const struct supervise_ops *ops)
{
	pthread_t t;
	int r;

	cb = ops;
	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	r = pthread_create(&t, NULL, loop, NULL);
	if (r != 0)
		return -r;
	pthread_detach(t);
	return 0;
}
