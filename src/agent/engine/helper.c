/* helper.c - see helper.h */
#define _GNU_SOURCE
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

int
helper_alive(const struct helper *h, pid_t pid)
{
	char path[64], *cmd = NULL;
	size_t len = 0;
	int r;

	if (pid <= 0 || waitpid(pid, NULL, WNOHANG) == pid || kill(pid, 0) < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (util_read_file(path, 16384, &cmd, &len) < 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	r = strstr(cmd, h->program) != NULL && strstr(cmd, h->marker) != NULL;
	free(cmd);
	return r;
}

pid_t
helper_adopt(const struct helper *h)
{
	char *text = NULL;
	size_t len;
	pid_t pid;

	if (util_read_file(h->pidfile, 64, &text, &len) < 0)
		return 0;
	pid = util_parse_pid(text);
	free(text);
	return helper_alive(h, pid) ? pid : 0;
}

void
helper_child_setup(const char *logfile)
{
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int logfd = open(logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Its own session: it outlives an agent restart, like QEMU. */
	setsid();
	if (devnull >= 0)
		dup2(devnull, 0);
	if (logfd >= 0) {
		dup2(logfd, 1);
		dup2(logfd, 2);
	}
}

int
helper_spawn(const struct helper *h, const char *const argv[], pid_t *out)
{
	char pidtext[32];
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		union {
			const char *const *c;
			char *const *m;
		} av = {.c = argv};

		helper_child_setup(h->logfile);
		close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
		execv(argv[0], av.m);
		_exit(127);
	}
	snprintf(pidtext, sizeof(pidtext), "%d\n", (int)pid);
	util_write_atomic(h->pidfile, pidtext, strlen(pidtext), 0644);
	*out = pid;
	return 0;
}

int
helper_spawn_fd3(const char *const argv[], int sock, const char *logfile, uid_t uid,
		 gid_t gid, int activation, pid_t *out)
{
	char pidv[24];
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int log = open(logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		union {
			const char *const *c;
			char *const *m;
		} av = {.c = argv};

		setsid();
		/* The log first: it may have got fd 3. dup2 onto itself keeps
		 * close-on-exec, so a sock that is fd 3 loses it by hand. */
		if (log < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0 ||
		    (sock == 3 ? fcntl(3, F_SETFD, 0) : dup2(sock, 3)) < 0)
			_exit(126);
		close_range(4, ~0U, CLOSE_RANGE_CLOEXEC);
		if (activation) {
			snprintf(pidv, sizeof(pidv), "%d", (int)getpid());
			setenv("LISTEN_PID", pidv, 1);
			setenv("LISTEN_FDS", "1", 1);
		}
		/* The server touches only the VM user's files: it runs as it. */
		if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
				       setresuid(uid, uid, uid) < 0))
			_exit(126);
		execvp(argv[0], av.m);
		_exit(127);
	}
	*out = pid;
	return 0;
}
