/* netns.c - see netns.h */
#define _GNU_SOURCE
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"
#include "nftx.h"
#include "util.h"

/* In a forked child: enter ns. Only system calls (async-signal-safe). */
static int
enter(const char *ns)
{
	char path[128];
	int fd, r;

	if (ns == NULL)
		return 0;
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	r = setns(fd, CLONE_NEWNET);
	close(fd);
	return r;
}

int
netns_run(const char *ns, const char *const argv[], char **out, char *err, size_t errlen)
{
	union {
		const char *const *c;
		char *const *m;
	} av = {.c = argv};
	int opipe[2], epipe[2], status, r = 0;
	char *obuf = NULL;
	size_t olen = 0, elen = 0;
	pid_t pid;

	if (errlen)
		err[0] = '\0';
	if (out)
		*out = NULL;
	if (pipe2(opipe, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(epipe, O_CLOEXEC) < 0) {
		r = -errno;
		close(opipe[0]);
		close(opipe[1]);
		return r;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(opipe[0]), close(opipe[1]), close(epipe[0]), close(epipe[1]);
		return r;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(opipe[1], 1);
		dup2(epipe[1], 2);
		if (enter(ns) < 0) {
			dprintf(2, "cannot enter network namespace %s: %s\n", ns, strerror(errno));
			_exit(126);
		}
		execvp(argv[0], av.m);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(opipe[1]);
	close(epipe[1]);
	{
		struct pollfd p[2] = {{opipe[0], POLLIN, 0}, {epipe[0], POLLIN, 0}};
		int open_fds = 2;

		while (open_fds > 0) {
			if (poll(p, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			for (int k = 0; k < 2; k++) {
				char chunk[4096];
				ssize_t n;

				if (p[k].fd < 0 || !(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
					continue;
				n = read(p[k].fd, chunk, sizeof(chunk));
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0) {
					close(p[k].fd);
					p[k].fd = -1;
					open_fds--;
					continue;
				}
				if (k == 0 && out && olen + (size_t)n < NETNS_OUT_MAX) {
					char *nb = realloc(obuf, olen + (size_t)n + 1);

					if (nb != NULL) {
						obuf = nb;
						memcpy(obuf + olen, chunk, (size_t)n);
						olen += (size_t)n;
						obuf[olen] = '\0';
					}
				} else if (k == 1 && errlen > 1 && elen < errlen - 1) {
					size_t c = (size_t)n;

					if (c > errlen - 1 - elen)
						c = errlen - 1 - elen;
					memcpy(err + elen, chunk, c);
					elen += c;
					err[elen] = '\0';
				}
			}
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char *nl = errlen ? strchr(err, '\n') : NULL;

		if (nl)
			*nl = '\0';
		if (errlen && err[0] == '\0')
			snprintf(err, errlen, "%s failed", argv[0]);
		free(obuf);
		return -EIO;
	}
	if (out) {
		*out = obuf ? obuf : strdup("");
		if (*out == NULL)
			return -ENOMEM;
	} else
		free(obuf);
	return 0;
}

int
netns_exists(const char *ns)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	return stat(path, &st) == 0;
}

int
netns_ensure(const char *ns, char *err, size_t errlen)
{
	int r;

	if (!netns_exists(ns)) {
		const char *add[] = {"ip", "netns", "add", ns, NULL};

		if ((r = netns_run(NULL, add, NULL, err, errlen)) < 0)
			return r;
	}
	{
		const char *up[] = {"ip", "-n", ns, "link", "set", "lo", "up", NULL};

		if ((r = netns_run(NULL, up, NULL, err, errlen)) < 0)
			return r;
	}
	if ((r = netns_sysctl(ns, "net/ipv6/conf/all/disable_ipv6", "1", err, errlen)) < 0 ||
	    (r = netns_sysctl(ns, "net/ipv6/conf/default/disable_ipv6", "1", err, errlen)) < 0)
		return r;
	return 0;
}

int
netns_delete(const char *ns, char *err, size_t errlen)
{
	const char *del[] = {"ip", "netns", "delete", ns, NULL};

	/* A kept libnftables context holds a socket in the namespace, which
	 * would keep it (and its interfaces, veth peers elsewhere included)
	 * alive after the delete. */
	nftx_forget(ns);
	if (!netns_exists(ns))
		return 0;
	return netns_run(NULL, del, NULL, err, errlen);
}

int
netns_sysctl(const char *ns, const char *path, const char *value, char *err, size_t errlen)
{
	char file[160];
	int status;
	pid_t pid;

	if (util_fmt(file, sizeof(file), "/proc/sys/%s", path) < 0)
		return -ENAMETOOLONG;
	/* /proc/sys/net shows the namespace of the process that opens it. */
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd;

		if (enter(ns) < 0)
			_exit(126);
		fd = open(file, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value))
			_exit(1);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "cannot set %s in %s", path, ns ? ns : "host");
		return -EIO;
	}
	return 0;
}

int
netns_ip_json(const char *ns, const char *what, const char *dev, json_t **out, char *err,
	      size_t errlen)
{
	const char *argv[10];
	int n = 0, r;
	char *text = NULL;
	json_error_t je;

	argv[n++] = "ip";
	argv[n++] = "-j";
	if (ns) {
		argv[n++] = "-n";
		argv[n++] = ns;
	}
	argv[n++] = what;
	argv[n++] = "show";
	if (dev) {
		argv[n++] = "dev";
		argv[n++] = dev;
	}
	argv[n] = NULL;
	if ((r = netns_run(NULL, argv, &text, err, errlen)) < 0)
		return r;
	*out = json_loads(text[0] ? text : "[]", 0, &je);
	free(text);
	if (*out == NULL || !json_is_array(*out)) {
		json_decref(*out);
		*out = NULL;
		snprintf(err, errlen, "cannot parse ip -j output: %s", je.text);
		return -EIO;
	}
	return 0;
}

int
netns_has_link(const char *ns, const char *ifname)
{
	json_t *links;
	char err[256];
	int r;

	if ((r = netns_ip_json(ns, "link", NULL, &links, err, sizeof(err))) < 0)
		return r;
	r = 0;
	for (size_t i = 0; i < json_array_size(links); i++) {
		const char *n =
			json_string_value(json_object_get(json_array_get(links, i), "ifname"));

		if (n && strcmp(n, ifname) == 0)
			r = 1;
	}
	json_decref(links);
	return r;
}

pid_t
netns_spawn(const char *ns, const char *const argv[], const char *logpath)
{
	union {
		const char *const *c;
		char *const *m;
	} av = {.c = argv};
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		helper_child_setup(logpath);
		if (enter(ns) < 0)
			_exit(126);
		execvp(argv[0], av.m);
		_exit(127);
	}
	return pid;
}

int
netns_call(const char *ns, int (*fn)(void *), void *arg)
{
	char path[128];
	int home, target, r;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	/* thread-self: this thread's namespace, not the leader's. */
	home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (home < 0 || target < 0 || setns(target, CLONE_NEWNET) < 0) {
		r = -errno;
		goto out;
	}
	r = fn(arg);
	if (setns(home, CLONE_NEWNET) < 0) {
		perror("cloudlet-agent: cannot return to the agent's namespace");
		abort();
	}
out:
	if (home >= 0)
		close(home);
	if (target >= 0)
		close(target);
	return r;
}

struct sock_args {
	int domain, type;
};

static int
open_socket(void *p)
{
	struct sock_args *a = p;
	int fd = socket(a->domain, a->type | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

int
netns_socket(const char *ns, int domain, int type)
{
	struct sock_args a = {domain, type};

	if (ns == NULL || ns[0] == '\0')
		return open_socket(&a);
	return netns_call(ns, open_socket, &a);
}
