/*
 * qmp.h - a client for QEMU's QMP monitor (JSON lines over a unix socket).
 *
 * Each VM has two QMP sockets: "qmp.sock" for commands (short connections,
 * one per operation) and "events.sock", which the supervisor holds open to
 * learn about SHUTDOWN/STOP/RESUME events. A connection is not thread-safe.
 */
#ifndef CLOUDLET_QMP_H
#define CLOUDLET_QMP_H

#include <jansson.h>

struct qmp;

/* Connect, read the greeting, negotiate capabilities. 0 or -errno. */
int qmp_open(const char *path, int timeout_ms, struct qmp **out);
void qmp_close(struct qmp *q);
int qmp_fd(const struct qmp *q);

/*
 * Run one command. args may be NULL and is not consumed. On success *ret
 * (if not NULL) gets the "return" value (new reference). A QMP error gives
 * -EREMOTEIO with QEMU's description in err. Events that arrive meanwhile
 * are dropped.
 */
int qmp_exec(struct qmp *q, const char *cmd, json_t *args, json_t **ret, int timeout_ms,
	     char *err, size_t errlen);

/*
 * Poll query-migrate (every 2 ms) until the migration, outgoing or
 * incoming, completed (0), failed (-EIO, QEMU's reason in err) or
 * timeout_ms passed (-ETIMEDOUT).
 */
int qmp_wait_migration(struct qmp *q, int timeout_ms, char *err, size_t errlen);

/* Hand QEMU an open file descriptor under a name (QMP getfd, SCM_RIGHTS). */
int qmp_getfd(struct qmp *q, const char *name, int fd, char *err, size_t errlen);

/*
 * Read the next event without blocking longer than timeout_ms. 0 and *ev,
 * -ETIMEDOUT when none, -ECONNRESET when QEMU closed the socket.
 */
int qmp_next_event(struct qmp *q, json_t **ev, int timeout_ms);

/* Whether a complete message is already buffered (poll() would not tell). */
int qmp_pending(const struct qmp *q);

/*
 * What QEMU sent, without I/O (fuzzed: tests/fuzz/fuzz_qmp.c). QEMU runs
 * unprivileged and may be hostile after a guest escape, so every message is
 * classified by its whole shape before the client acts on it: exactly one
 * of the members "QMP", "return", "error" and "event", of its type
 * (docs/interop/qmp-spec in QEMU). Other members are allowed ("id",
 * "timestamp", members a newer QEMU may add) but typed where the spec
 * types them, so a reply is never taken for an event nor the other way.
 *
 *   greeting  {"QMP": {...}}                        value: the "QMP" object
 *   return    {"return": any}                       value: the "return" value
 *   error     {"error": {"class": s, "desc": s}}    name: class, desc
 *   event     {"event": s, "data": {...}?, "timestamp": {...}?}
 *                                                   name, value: data or NULL
 */
enum qmp_kind { QMP_GREETING = 1, QMP_RETURN, QMP_ERROR, QMP_EVENT };

struct qmp_msg {
	enum qmp_kind kind;
	json_t *value;    /* borrowed from the message, see above */
	const char *name; /* the event's name, the error's class */
	const char *desc; /* QMP_ERROR: QEMU's description */
};

/* 0 and *out (pointing into msg), or -EPROTO for any other shape. */
int qmp_classify(const json_t *msg, struct qmp_msg *out);

/*
 * "cmd: description" of an error reply into err, in printable ASCII (any
 * other byte of QEMU's text becomes '?'): err ends up in logs and in the
 * agent's JSON replies, which a cut UTF-8 sequence would break.
 */
void qmp_error_text(const char *cmd, const struct qmp_msg *m, char *err, size_t errlen);

/*
 * What a message means to a client waiting for cmd's reply (qmp_exec):
 * 0 for a return (*ret, if not NULL, gets the value: new reference),
 * -EREMOTEIO for an error (qmp_error_text in err), 1 for an event (dropped:
 * keep waiting), -EPROTO for a greeting or any other shape (err says so).
 */
int qmp_reply(const json_t *msg, const char *cmd, json_t **ret, char *err, size_t errlen);

#endif
