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

/*
 * The parser under msg_reader, without I/O, so that it can be fuzzed
 * (tests/fuzz/fuzz_msg.c): bytes go in with msg_parser_feed, messages come
 * out with msg_parser_next, in the order their lines arrived, whatever the
 * pieces the bytes came in.
 *
 * It holds at most max bytes. A line longer than max, its newline
 * included, is refused as soon as max bytes of it are buffered, before any
 * of it is parsed: -EMSGSIZE, then -EMSGSIZE for ever (the stream has lost
 * its framing; the caller should disconnect). Every other line is parsed
 * as it is (a trailing \r is white space, so QMP's \r\n ends lines too):
 * a JSON object without duplicate keys or \u0000 is a message, anything
 * else (an empty line too) is -EBADMSG and is consumed. Each byte is
 * copied, searched and parsed a bounded number of times: feeding n bytes
 * costs O(n) whatever their pieces and lines.
 */
struct msg_parser {
	size_t max;   /* the hard maximum of one line, its newline included */
	size_t start; /* buf[start..len) is not taken yet */
	size_t len;
	size_t scan;  /* buf[start..scan) holds no newline */
	int overflow; /* a line was longer than max: sticky */
	char *buf;    /* max bytes */
};

/* Allocates the buffer: 0 or -ENOMEM. msg_parser_free() releases it (and
 * may be called again, or after a failed init). */
int msg_parser_init(struct msg_parser *p, size_t max);
void msg_parser_free(struct msg_parser *p);

/* How many bytes msg_parser_feed would take now: 0 after an overflow, or
 * when the buffer is full (msg_parser_next then frees room or overflows). */
size_t msg_parser_room(const struct msg_parser *p);

/* Copies up to n bytes (at most msg_parser_room) and returns how many it
 * took; the caller feeds the rest after draining msg_parser_next. */
size_t msg_parser_feed(struct msg_parser *p, const void *data, size_t n);

/*
 * The next message: 0 and *out (a new reference), -EAGAIN when more bytes
 * are needed, -EMSGSIZE (sticky) or -EBADMSG. On an error err says why in
 * printable ASCII (never longer than errlen - 1 bytes; err may be NULL
 * when errlen is 0). *out is left alone unless 0 is returned.
 */
int msg_parser_next(struct msg_parser *p, json_t **out, char *err, size_t errlen);

/* Whether msg_parser_next has a complete line to take without more bytes. */
int msg_parser_pending(const struct msg_parser *p);

struct msg_reader {
	int fd;
	struct msg_parser parser;
	char error[160]; /* why the last line was refused (-EBADMSG) */
};

/* Allocates the buffer: 0 or -ENOMEM. msg_reader_free() releases it (not fd). */
int msg_reader_init(struct msg_reader *r, int fd, size_t max);
void msg_reader_free(struct msg_reader *r);

/*
 * Read one message. timeout_ms < 0 waits forever. Returns 0 and *out (a new
 * reference), -ETIMEDOUT, -ECONNRESET on EOF, -EMSGSIZE for an oversized
 * line, -EBADMSG for a line that is not a JSON object. Messages complete
 * before an EOF are still returned; a partial line at EOF is dropped.
 */
int msg_read(struct msg_reader *r, json_t **out, int timeout_ms);

/* Non-blocking check: is a complete line already buffered? */
int msg_buffered(const struct msg_reader *r);

/* Write one message followed by a newline. */
int msg_write(int fd, const json_t *msg);

/* The same on a unix socket, passing descriptor pass (SCM_RIGHTS) with the
 * line's first byte; pass < 0: none. The caller keeps pass open. */
int msg_write_fd(int fd, const json_t *msg, int pass);

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
