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

#endif
