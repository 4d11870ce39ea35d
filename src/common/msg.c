/* msg.c - see msg.h */
#define _GNU_SOURCE
#include "msg.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

int
msg_reader_init(struct msg_reader *r, int fd, size_t max)
{
	r->fd = fd;
	r->max = max;
	r->len = 0;
	r->buf = malloc(max + 1);
	return r->buf == NULL ? -ENOMEM : 0;
}

void
msg_reader_free(struct msg_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

int
msg_buffered(const struct msg_reader *r)
{
	return memchr(r->buf, '\n', r->len) != NULL;
}

static int
take_line(struct msg_reader *r, json_t **out)
{
	char *nl = memchr(r->buf, '\n', r->len);
	size_t linelen;
	json_error_t jerr;
	json_t *j;

	if (nl == NULL)
		return -EAGAIN;
	*nl = '\0';
	linelen = (size_t)(nl - r->buf);
	j = json_loadb(r->buf, linelen, JSON_REJECT_DUPLICATES, &jerr);
	memmove(r->buf, nl + 1, r->len - linelen - 1);
	r->len -= linelen + 1;
	if (j == NULL) {
		snprintf(r->error, sizeof(r->error), "not valid JSON: %.100s (column %d)",
			 jerr.text, jerr.column);
		return -EBADMSG;
	}
	if (!json_is_object(j)) {
		snprintf(r->error, sizeof(r->error), "not a JSON object");
		json_decref(j);
		return -EBADMSG;
	}
	*out = j;
	return 0;
}

int
msg_read(struct msg_reader *r, json_t **out, int timeout_ms)
{
	uint64_t deadline = timeout_ms < 0 ? 0 : util_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		struct pollfd p = {.fd = r->fd, .events = POLLIN};
		int wait = -1, rc;
		ssize_t n;

		rc = take_line(r, out);
		if (rc != -EAGAIN)
			return rc;
		if (r->len >= r->max)
			return -EMSGSIZE;
		if (timeout_ms >= 0) {
			uint64_t now = util_now_ms();
			wait = now >= deadline ? 0 : (int)(deadline - now);
		}
		rc = poll(&p, 1, wait);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (rc == 0)
			return -ETIMEDOUT;
		n = read(r->fd, r->buf + r->len, r->max - r->len);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		r->len += (size_t)n;
	}
}

int
msg_write(int fd, const json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	size_t len, off = 0;
	int r = 0;

	if (s == NULL)
		return -ENOMEM;
	len = strlen(s);
	s[len] = '\n'; /* overwrite the NUL: we send len + 1 bytes */
	while (off < len + 1) {
		ssize_t n = send(fd, s + off, len + 1 - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		off += (size_t)n;
	}
	free(s);
	return r;
}

/* A new stream socket and the address of path in *sun: fd or -errno. */
static int
unix_socket(const char *path, struct sockaddr_un *sun)
{
	int fd;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memcpy(sun->sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

int
msg_connect_unix(const char *path)
{
	struct sockaddr_un sun;
	int fd = unix_socket(path, &sun);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

int
msg_listen_unix(const char *path, int backlog)
{
	struct sockaddr_un sun;
	int fd = unix_socket(path, &sun);

	if (fd < 0)
		return fd;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, backlog) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

int
msg_call(const char *path, const json_t *req, json_t **reply, int *connected)
{
	struct msg_reader rd;
	int fd, r;

	*reply = NULL;
	*connected = 0;
	fd = msg_connect_unix(path);
	if (fd < 0)
		return fd;
	*connected = 1;
	r = msg_write(fd, req);
	if (r == 0 && (r = msg_reader_init(&rd, fd, MSG_MAX_RESPONSE)) == 0) {
		r = msg_read(&rd, reply, -1);
		msg_reader_free(&rd);
	}
	close(fd);
	return r;
}
