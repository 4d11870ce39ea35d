/*
 * supervise.h - the supervisor thread: one poll() over the descriptors a
 * client hands it, calling the client back with what became readable.
 *
 * The VM table (vmwatch.c) is its only client: each running QEMU's pidfd
 * (readable when the process ends, also for processes started by an
 * earlier agent), its event QMP connection, and the inotify descriptor
 * that reports console output (readiness). This module knows nothing of
 * VMs; it imports nothing of the agent.
 */
#ifndef CLOUDLET_SUPERVISE_H
#define CLOUDLET_SUPERVISE_H

#include <poll.h>
#include <stddef.h>

struct supervise_ops {
	/* Fill fds[0..max) (fd, events) and return how many; called on the
	 * supervisor thread before each poll. */
	size_t (*collect)(struct pollfd *fds, size_t max);
	/* The same fds after poll() (revents set; all zero on a timeout),
	 * on the supervisor thread. */
	void (*dispatch)(struct pollfd *fds, size_t n);
};

/* Start the thread (once). ops must outlive it. 0 or -errno. */
int supervise_start(const struct supervise_ops *ops);

/* The set of descriptors changed: collect again now. */
void supervise_wake(void);

#endif
