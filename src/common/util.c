/* util.c - see util.h */
#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int
util_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int
fsync_parent(const char *path)
{
	char tmp[4096];
	int fd, r = 0;

	if (util_fmt(tmp, sizeof(tmp), "%s", path) < 0)
		return -ENAMETOOLONG;
	fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int
util_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[4096];
	const char *p = data;
	int fd, r = -EIO;

	if (util_fmt(tmp, sizeof(tmp), "%s.tmp", path) < 0)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	return fsync_parent(path);
fail:
	close(fd);
	unlink(tmp);
	return r;
}

int
util_read_file(const char *path, size_t max, char **out, size_t *outlen)
{
	char *buf;
	size_t len = 0, cap = 4096;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb;

			if (len > max) {
				r = -EFBIG;
				goto fail;
			}
			nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				r = -ENOMEM;
				goto fail;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			r = -EFBIG;
			goto fail;
		}
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	if (outlen != NULL)
		*outlen = len;
	return 0;
fail:
	close(fd);
	free(buf);
	return r;
}

int
util_rmtree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	d = opendir(path);
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char sub[4096];

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (util_fmt(sub, sizeof(sub), "%s/%s", path, de->d_name) < 0) {
			r = -ENAMETOOLONG;
			continue;
		}
		if (util_rmtree(sub) < 0)
			r = -EIO;
	}
	closedir(d);
	if (rmdir(path) < 0)
		r = -errno;
	return r;
}

int
util_mkdirs(const char *path, mode_t mode)
{
	char tmp[4096];
	char *p;

	if (util_fmt(tmp, sizeof(tmp), "%s", path) < 0)
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int
util_random_hex(char *out, size_t n)
{
	unsigned char raw[64];
	size_t i;

	if (n > sizeof(raw))
		return -EINVAL;
	if (getrandom(raw, n, 0) != (ssize_t)n)
		return -EIO;
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

int
util_run(const char *const argv[], char *err, size_t errlen)
{
	/* execvp's prototype predates const; it does not modify argv. */
	union {
		const char *const *c;
		char *const *m;
	} av = {.c = argv};
	int pfd[2];
	pid_t pid;
	size_t got = 0;
	int status;

	if (errlen > 0)
		err[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return e;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execvp(argv[0], av.m);
		dprintf(2, "cannot run %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		char chunk[512];
		ssize_t n = read(pfd[0], chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (errlen > 1 && got < errlen - 1) {
			size_t k = (size_t)n;

			if (k > errlen - 1 - got)
				k = errlen - 1 - got;
			memcpy(err + got, chunk, k);
			got += k;
			err[got] = '\0';
		}
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	/* Trailing newlines would end up inside our own one-line messages. */
	while (got > 0 && (err[got - 1] == '\n' || err[got - 1] == ' '))
		err[--got] = '\0';
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (errlen > 0 && got == 0) {
		if (WIFSIGNALED(status))
			snprintf(err, errlen, "%s killed by signal %d", argv[0], WTERMSIG(status));
		else
			snprintf(err, errlen, "%s exited with status %d", argv[0],
				 WEXITSTATUS(status));
	}
	return -EIO;
}

uint64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
util_rfc3339(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

pid_t
util_parse_pid(const char *text)
{
	char *end;
	long v;

	if (text == NULL || *text < '0' || *text > '9')
		return 0;
	errno = 0;
	v = strtol(text, &end, 10);
	while (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r')
		end++;
	if (errno != 0 || *end != '\0' || v <= 0 || v > 0x3fffffff)
		return 0;
	return (pid_t)v;
}

int
util_parse_uint(const char *text, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (text == NULL || *text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

int
util_parse_ipv4_port(const char *text, struct sockaddr_in *sa)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = text ? strrchr(text, ':') : NULL;
	unsigned port;

	if (colon == NULL || (size_t)(colon - text) >= sizeof(host) ||
	    util_parse_uint(colon + 1, 65535, &port) < 0 || port == 0)
		return -EINVAL;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

int
util_cmdline_has(pid_t pid, const char *needle)
{
	char path[64], *cmd = NULL;
	size_t len;
	int r;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (util_read_file(path, 1 << 20, &cmd, &len) < 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	r = strstr(cmd, needle) != NULL;
	free(cmd);
	return r;
}

/* util.h */
int
util_tcp_connect(const char *addr, int ms)
{
	struct sockaddr_in sa;
	struct pollfd p;
	socklen_t sl = sizeof(int);
	int fd, r, soerr = 0;

	if (util_parse_ipv4_port(addr, &sa) < 0)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (r < 0 && errno == EINPROGRESS) {
		p = (struct pollfd){.fd = fd, .events = POLLOUT};
		r = poll(&p, 1, ms);
		if (r == 0)
			soerr = ETIMEDOUT;
		else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		r = soerr ? -1 : 0;
		errno = soerr;
	}
	if (r < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	/* Blocking from here: GnuTLS's own timeouts bound every read. */
	if (fcntl(fd, F_SETFL, 0) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}
