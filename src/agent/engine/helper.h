/*
 * helper.h - a helper daemon the agent runs in a session of its own (the
 * storage server, the IDS sensor), so that it outlives an agent restart
 * like QEMU does.
 *
 * Started with stdin on /dev/null and stdout/stderr appended to its log
 * file; its pid is written to its pid file. After an agent restart the
 * pid file finds it again, and only a process whose command line names
 * the helper's program and contains its marker (e.g. "--control PATH ")
 * counts: a recycled pid is never taken for it.
 *
 * The caller owns the strings a struct helper points to; they must
 * outlive every call.
 */
#ifndef CLOUDLET_HELPER_H
#define CLOUDLET_HELPER_H

#include <sys/types.h>

struct helper {
	const char *program; /* in its command line, e.g. "cloudlet-storaged" */
	const char *marker;  /* also in its command line */
	const char *pidfile;
	const char *logfile;
};

/* Is pid this helper? Reaps it if it was our child and has ended. */
int helper_alive(const struct helper *h, pid_t pid);

/* The running helper of the pid file, or 0. */
pid_t helper_adopt(const struct helper *h);

/* In a child about to exec a helper (also dnsmasq, netns.h): signals
 * unblocked, a session of its own, stdin on /dev/null, stdout and stderr
 * appended to logfile. */
void helper_child_setup(const char *logfile);

/* Start argv (argv[0] the path of the program) in its own session, with
 * every descriptor above 2 closed; write the pid file. 0 or -errno. */
int helper_spawn(const struct helper *h, const char *const argv[], pid_t *out);

#endif
