/* qmp.c - see qmp.h */
#include "qmp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "msg.h"
#include "util.h"

struct qmp {
	struct msg_reader rd;
};

int
qmp_fd(const struct qmp *q)
{
	return q->rd.fd;
}

int
qmp_pending(const struct qmp *q)
{
	return msg_buffered(&q->rd);
}

void
qmp_close(struct qmp *q)
{
	if (q == NULL)
		return;
	close(q->rd.fd);
	msg_reader_free(&q->rd);
	free(q);
}

int
qmp_open(const char *path, int timeout_ms, struct qmp **out)
{
	char err[256];
	struct qmp *q;
	json_t *greeting = NULL;
	int fd, r;

	fd = msg_connect_unix(path);
	if (fd < 0)
		return fd;
	q = calloc(1, sizeof(*q));
	if (q == NULL) {
		close(fd);
		return -ENOMEM;
	}
	if (msg_reader_init(&q->rd, fd, MSG_MAX_RESPONSE) < 0) {
		close(fd);
		free(q);
		return -ENOMEM;
	}
	r = msg_read(&q->rd, &greeting, timeout_ms);
	if (r < 0)
		goto fail;
	if (json_object_get(greeting, "QMP") == NULL) {
		r = -EPROTO;
		goto fail;
	}
	r = qmp_exec(q, "qmp_capabilities", NULL, NULL, timeout_ms, err, sizeof(err));
	if (r < 0)
		goto fail;
	json_decref(greeting);
	*out = q;
	return 0;
fail:
	json_decref(greeting);
	qmp_close(q);
	return r;
}

int
qmp_exec(struct qmp *q, const char *cmd, json_t *args, json_t **ret, int timeout_ms,
	 char *err, size_t errlen)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
	json_t *req;
	int r;

	if (errlen > 0)
		err[0] = '\0';
	req = json_pack("{s:s}", "execute", cmd);
	if (req == NULL)
		return -ENOMEM;
	if (args != NULL)
		json_object_set(req, "arguments", args);
	r = msg_write(q->rd.fd, req);
	json_decref(req);
	if (r < 0)
		return r;
	for (;;) {
		uint64_t now = util_now_ms();
		json_t *m, *v;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = msg_read(&q->rd, &m, (int)(deadline - now));
		if (r < 0)
			return r;
		if ((v = json_object_get(m, "return")) != NULL) {
			if (ret != NULL)
				*ret = json_incref(v);
			json_decref(m);
			return 0;
		}
		if ((v = json_object_get(m, "error")) != NULL) {
			const char *d = json_string_value(json_object_get(v, "desc"));
			snprintf(err, errlen, "%s: %s", cmd, d ? d : "error");
			json_decref(m);
			return -EREMOTEIO;
		}
		json_decref(m); /* an event */
	}
}

int
qmp_next_event(struct qmp *q, json_t **ev, int timeout_ms)
{
	for (;;) {
		json_t *m;
		int r = msg_read(&q->rd, &m, timeout_ms);

		if (r < 0)
			return r;
		if (json_object_get(m, "event") != NULL) {
			*ev = m;
			return 0;
		}
		json_decref(m);
	}
}

int
qmp_getfd(struct qmp *q, const char *name, int fd, char *err, size_t errlen)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr mh = {0};
	struct cmsghdr *cm;
	struct iovec iov;
	json_t *req = json_pack("{s:s, s:{s:s}}", "execute", "getfd", "arguments", "fdname",
				name);
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	size_t len;
	ssize_t n;

	json_decref(req);
	if (text == NULL)
		return -ENOMEM;
	len = strlen(text);
	text[len] = '\n';
	iov.iov_base = text;
	iov.iov_len = len + 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	n = sendmsg(q->rd.fd, &mh, MSG_NOSIGNAL);
	free(text);
	if (n != (ssize_t)(len + 1))
		return n < 0 ? -errno : -EIO;
	for (;;) {
		json_t *m, *v;
		int r = msg_read(&q->rd, &m, 5000);

		if (r < 0)
			return r;
		if (json_object_get(m, "return") != NULL) {
			json_decref(m);
			return 0;
		}
		if ((v = json_object_get(m, "error")) != NULL) {
			snprintf(err, errlen, "getfd: %s",
				 json_string_value(json_object_get(v, "desc")) ?: "error");
			json_decref(m);
			return -EREMOTEIO;
		}
		json_decref(m);
	}
}

int
qmp_wait_migration(struct qmp *q, int timeout_ms, char *err, size_t errlen)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		json_t *st = NULL;
		const char *status;
		int r = qmp_exec(q, "query-migrate", NULL, &st, 5000, err, errlen);

		if (r < 0)
			return r;
		status = json_string_value(json_object_get(st, "status"));
		if (status != NULL && strcmp(status, "completed") == 0) {
			json_decref(st);
			return 0;
		}
		if (status != NULL && strcmp(status, "failed") == 0) {
			snprintf(err, errlen, "migration failed: %s",
				 json_string_value(json_object_get(st, "error-desc")) ?: "no reason given");
			json_decref(st);
			return -EIO;
		}
		json_decref(st);
		if (util_now_ms() > deadline) {
			snprintf(err, errlen, "migration did not complete in %d ms", timeout_ms);
			return -ETIMEDOUT;
		}
		usleep(2000);
	}
}
