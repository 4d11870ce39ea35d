/* msg.c - see msg.h */
#define _GNU_SOURCE
#include "msg.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

int
msg_parser_init(struct msg_parser *p, size_t max)
{
	memset(p, 0, sizeof(*p));
	p->max = max;
	p->buf = malloc(max + 1);
	return p->buf == NULL ? -ENOMEM : 0;
}

void
msg_parser_free(struct msg_parser *p)
{
	free(p->buf);
	p->buf = NULL;
	p->start = p->len = p->scan = 0;
}

size_t
msg_parser_room(const struct msg_parser *p)
{
	if (p->overflow)
		return 0;
	return p->max - (p->len - p->start);
}

size_t
msg_parser_feed(struct msg_parser *p, const void *data, size_t n)
{
	size_t room = msg_parser_room(p);

	if (n > room)
		n = room;
	if (n == 0)
		return 0;
	/* Move the untaken bytes to the front only when the tail is too short.
	 * When the caller drains before it feeds (msg_read does), those bytes
	 * are one partial line, which stays at the front until it is taken or
	 * overflows: no byte is moved twice. */
	if (p->max - p->len < n) {
		memmove(p->buf, p->buf + p->start, p->len - p->start);
		p->len -= p->start;
		p->scan -= p->start;
		p->start = 0;
	}
	memcpy(p->buf + p->len, data, n);
	p->len += n;
	return n;
}

int
msg_parser_pending(const struct msg_parser *p)
{
	return !p->overflow && memchr(p->buf + p->scan, '\n', p->len - p->scan) != NULL;
}

static void
set_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * The reason into err, in printable ASCII: jansson quotes the bytes near a
 * syntax error as they came, control characters and all, and may cut a
 * UTF-8 sequence in two ("invalid escape near '"\\xde'"); the agent sends
 * this text back inside a JSON string, which must be valid UTF-8.
 */
static void
set_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	char *c;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	for (c = err; *c != '\0'; c++)
		if ((unsigned char)*c < ' ' || (unsigned char)*c > '~')
			*c = '?';
}

int
msg_parser_next(struct msg_parser *p, json_t **out, char *err, size_t errlen)
{
	char *line, *nl;
	size_t linelen;
	json_error_t jerr;
	json_t *j;

	if (errlen > 0)
		err[0] = '\0';
	if (p->overflow) {
		set_error(err, errlen, "line longer than %zu bytes", p->max);
		return -EMSGSIZE;
	}
	nl = memchr(p->buf + p->scan, '\n', p->len - p->scan);
	if (nl == NULL) {
		p->scan = p->len;
		/* The hard maximum, before any parsing: max bytes and no end. */
		if (p->len - p->start >= p->max) {
			p->overflow = 1;
			set_error(err, errlen, "line longer than %zu bytes", p->max);
			return -EMSGSIZE;
		}
		return -EAGAIN;
	}
	line = p->buf + p->start;
	linelen = (size_t)(nl - line);
	p->start += linelen + 1;
	p->scan = p->start;
	if (p->start == p->len)
		p->start = p->len = p->scan = 0;
	/* The bytes stay where they are until the next feed: parse them there. */
	j = json_loadb(line, linelen, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		set_error(err, errlen, "not valid JSON: %.100s (column %d)", jerr.text,
			  jerr.column);
		return -EBADMSG;
	}
	if (!json_is_object(j)) {
		set_error(err, errlen, "not a JSON object");
		json_decref(j);
		return -EBADMSG;
	}
	*out = j;
	return 0;
}

int
msg_reader_init(struct msg_reader *r, int fd, size_t max)
{
	r->fd = fd;
	r->error[0] = '\0';
	return msg_parser_init(&r->parser, max);
}

void
msg_reader_free(struct msg_reader *r)
{
	msg_parser_free(&r->parser);
}

int
msg_buffered(const struct msg_reader *r)
{
	return msg_parser_pending(&r->parser);
}

int
msg_read(struct msg_reader *r, json_t **out, int timeout_ms)
{
	uint64_t deadline = timeout_ms < 0 ? 0 : util_now_ms() + (uint64_t)timeout_ms;
	char chunk[16384];

	for (;;) {
		struct pollfd p = {.fd = r->fd, .events = POLLIN};
		int wait = -1, rc;
		size_t room;
		ssize_t n;

		rc = msg_parser_next(&r->parser, out, r->error, sizeof(r->error));
		if (rc != -EAGAIN)
			return rc;
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
		/* Never more than the parser takes: nothing is left over. -EAGAIN
		 * above means there is room (a full buffer overflows or has a line). */
		room = msg_parser_room(&r->parser);
		n = read(r->fd, chunk, room < sizeof(chunk) ? room : sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		if (msg_parser_feed(&r->parser, chunk, (size_t)n) != (size_t)n)
			return -EIO; /* cannot happen: n <= room */
	}
}

int
msg_write(int fd, const json_t *msg)
{
	return msg_write_fd(fd, msg, -1);
}

int
msg_write_fd(int fd, const json_t *msg, int pass)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	char cbuf[CMSG_SPACE(sizeof(int))];
	size_t len, off = 0;
	int r = 0;

	if (s == NULL)
		return -ENOMEM;
	len = strlen(s);
	s[len] = '\n'; /* overwrite the NUL: we send len + 1 bytes */
	while (off < len + 1) {
		struct iovec iov = {s + off, len + 1 - off};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n;

		if (off == 0 && pass >= 0) {
			/* The descriptor travels with the line's first byte. */
			struct cmsghdr *h;

			memset(cbuf, 0, sizeof(cbuf));
			m.msg_control = cbuf;
			m.msg_controllen = sizeof(cbuf);
			h = CMSG_FIRSTHDR(&m);
			h->cmsg_level = SOL_SOCKET;
			h->cmsg_type = SCM_RIGHTS;
			h->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(h), &pass, sizeof(int));
		}
		n = sendmsg(fd, &m, MSG_NOSIGNAL);
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
