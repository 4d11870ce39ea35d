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

/*
 * A server the caller hands a socket (the storage daemons of a migration
 * or a replica): start argv (argv[0] found on PATH) in a session of its
 * own with sock as its fd 3, stdout and stderr appended to logfile, every
 * other descriptor above 3 closed, and, when the agent is root, as
 * uid:gid with no supplementary groups. activation also sets LISTEN_PID
 * and LISTEN_FDS=1 (systemd socket activation, which qemu-nbd takes fd 3
 * by). No pid file: the caller records *out. 0 or -errno (fork); a child
 * that cannot set itself up exits 126, one that cannot exec 127.
 */
int helper_spawn_fd3(const char *const argv[], int sock, const char *logfile, uid_t uid,
		     gid_t gid, int activation, pid_t *out);

#endif
