/* qmp.c - see qmp.h */
#include "qmp.h"

#include <errno.h>
#include <stdint.h>
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
qmp_classify(const json_t *msg, struct qmp_msg *out)
{
	/* jansson's getters take a non-const object; they only read. */
	json_t *j = (json_t *)(uintptr_t)msg;
	json_t *greeting = json_object_get(j, "QMP"), *ret = json_object_get(j, "return"),
	       *error = json_object_get(j, "error"), *event = json_object_get(j, "event");
	json_t *data = json_object_get(j, "data"), *ts = json_object_get(j, "timestamp");

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j) ||
	    (greeting != NULL) + (ret != NULL) + (error != NULL) + (event != NULL) != 1)
		return -EPROTO;
	if (greeting != NULL) {
		if (!json_is_object(greeting))
			return -EPROTO;
		out->kind = QMP_GREETING;
		out->value = greeting;
	} else if (ret != NULL) {
		out->kind = QMP_RETURN;
		out->value = ret;
	} else if (error != NULL) {
		out->name = json_string_value(json_object_get(error, "class"));
		out->desc = json_string_value(json_object_get(error, "desc"));
		if (!json_is_object(error) || out->name == NULL || out->desc == NULL)
			return -EPROTO;
		out->kind = QMP_ERROR;
	} else {
		out->name = json_string_value(event);
		if (out->name == NULL || (data != NULL && !json_is_object(data)) ||
		    (ts != NULL && !json_is_object(ts)))
			return -EPROTO;
		out->kind = QMP_EVENT;
		out->value = data;
	}
	return 0;
}

/* QEMU's text as printable ASCII, in place (see qmp_error_text). */
static void
printable(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || (unsigned char)*s > '~')
			*s = '?';
}

void
qmp_error_text(const char *cmd, const struct qmp_msg *m, char *err, size_t errlen)
{
	const char *d = m->kind == QMP_ERROR && m->desc != NULL ? m->desc : "error";

	if (errlen == 0)
		return;
	snprintf(err, errlen, "%s: %s", cmd, d);
	printable(err);
}

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
	struct qmp_msg m;
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
	if (qmp_classify(greeting, &m) < 0 || m.kind != QMP_GREETING) {
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
qmp_reply(const json_t *msg, const char *cmd, json_t **ret, char *err, size_t errlen)
{
	struct qmp_msg m;

	if (qmp_classify(msg, &m) < 0 || m.kind == QMP_GREETING) {
		if (errlen > 0)
			snprintf(err, errlen, "%s: QEMU sent a malformed reply", cmd);
		return -EPROTO;
	}
	if (m.kind == QMP_ERROR) {
		qmp_error_text(cmd, &m, err, errlen);
		return -EREMOTEIO;
	}
	if (m.kind == QMP_EVENT)
		return 1;
	if (ret != NULL)
		*ret = json_incref(m.value);
	return 0;
}

/*
 * Read until the reply to cmd (sent already) or the deadline. Events that
 * arrive meanwhile are dropped; a greeting or a message of no known shape
 * ends the wait with -EPROTO: the command's outcome is unknown.
 */
static int
await_reply(struct qmp *q, const char *cmd, json_t **ret, uint64_t deadline, char *err,
	    size_t errlen)
{
	for (;;) {
		uint64_t now = util_now_ms();
		json_t *msg;
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = msg_read(&q->rd, &msg, (int)(deadline - now));
		if (r < 0)
			return r;
		r = qmp_reply(msg, cmd, ret, err, errlen);
		json_decref(msg);
		if (r <= 0)
			return r;
	}
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
	return await_reply(q, cmd, ret, deadline, err, errlen);
}

int
qmp_next_event(struct qmp *q, json_t **ev, int timeout_ms)
{
	for (;;) {
		struct qmp_msg c;
		json_t *m;
		int r = msg_read(&q->rd, &m, timeout_ms);

		if (r < 0)
			return r;
		/* Only a well-formed event; replies and anything else are dropped. */
		if (qmp_classify(m, &c) == 0 && c.kind == QMP_EVENT) {
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
	if (errlen > 0)
		err[0] = '\0';
	return await_reply(q, "getfd", NULL, util_now_ms() + 5000, err, errlen);
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
			if (errlen > 0)
				printable(err);
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
