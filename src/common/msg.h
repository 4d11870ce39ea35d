/*
 * msg.h - newline-delimited JSON messages over a stream socket.
 *
 * Used for the agent's control socket and for QMP (which is also one JSON
 * object per line). Every message has a hard maximum size: a peer that sends
 * a longer line gets -EMSGSIZE and should be disconnected.
 */
#ifndef CLOUDLET_MSG_H
#define CLOUDLET_MSG_H

#include <jansson.h>
#include <stddef.h>

#define MSG_MAX (64 * 1024)            /* requests to the agent */
#define MSG_MAX_RESPONSE (8 * 1024 * 1024) /* what a client accepts */

struct msg_reader {
	int fd;
	size_t max;
	size_t len;
	char *buf;      /* max bytes */
	char error[160]; /* why the last line was refused (-EBADMSG) */
};

/* Allocates the buffer: 0 or -ENOMEM. msg_reader_free() releases it (not fd). */
int msg_reader_init(struct msg_reader *r, int fd, size_t max);
void msg_reader_free(struct msg_reader *r);

/*
 * Read one message. timeout_ms < 0 waits forever. Returns 0 and *out (a new
 * reference), -ETIMEDOUT, -ECONNRESET on EOF, -EMSGSIZE for an oversized
 * line, -EBADMSG for a line that is not a JSON object.
 */
int msg_read(struct msg_reader *r, json_t **out, int timeout_ms);

/* Non-blocking check: is a complete line already buffered? */
int msg_buffered(const struct msg_reader *r);

/* Write one message followed by a newline. */
int msg_write(int fd, const json_t *msg);

/* Connect to a unix stream socket; returns fd or -errno. */
int msg_connect_unix(const char *path);

/* Listen on path (an old socket file there is replaced): fd or -errno. */
int msg_listen_unix(const char *path, int backlog);

/*
 * One request/response exchange on a new connection to path: send req (not
 * consumed), wait for one reply of at most MSG_MAX_RESPONSE bytes (new
 * reference). -errno from connect is returned as is, so callers can tell
 * "unreachable" (the connect failed: *connected = 0) from a broken exchange.
 */
int msg_call(const char *path, const json_t *req, json_t **reply, int *connected);

#endif
