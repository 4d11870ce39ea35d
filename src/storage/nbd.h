/*
 * nbd.h - the NBD protocol, server side, as a pure push parser and encoder.
 * No I/O: the caller moves bytes between the socket and this module.
 *
 * Supported: the fixed newstyle handshake (NO_ZEROES), options EXPORT_NAME,
 * ABORT, LIST, INFO and GO (INFO_EXPORT, INFO_NAME, INFO_DESCRIPTION,
 * INFO_BLOCK_SIZE); every other option gets NBD_REP_ERR_UNSUP. Simple replies
 * only (no structured replies). Commands READ, WRITE, DISC, FLUSH, TRIM,
 * WRITE_ZEROES, CACHE; flags FUA, NO_HOLE, FAST_ZERO.
 *
 * Usage: after nbd_init(), send nbd_greeting(). Then loop: nbd_want() says
 * where the next bytes go and how many at most (never more than the protocol
 * needs next, so the caller never reads ahead); after filling n of them call
 * nbd_advance(n, &ev). Handshake events are answered by the parser itself
 * through the export callbacks, with reply bytes appended to p->out (the
 * caller sends and clears them). Transmission events carry a validated
 * request; invalid requests come out as NBD_EV_ERROR (send the error reply)
 * and protocol violations as NBD_EV_CLOSE.
 *
 * nbd_feed() is the same for callers holding bytes in memory (tests, fuzzer).
 */
#ifndef CLOUDLET_NBD_H
#define CLOUDLET_NBD_H

#include <stddef.h>
#include <stdint.h>

#define NBD_MAX_REQUEST  (32u << 20) /* READ/WRITE payload; more: EINVAL or close */
#define NBD_MAX_OPTION   8192        /* option data; more: close */
#define NBD_MAX_OPTIONS  256         /* options per connection; more: close */
#define NBD_MAX_NAME     4096
#define NBD_OUT_MAX      (256u << 10) /* reply bytes queued by the handshake */

/* Commands and flags (the wire values). */
enum {
	NBD_CMD_READ = 0,
	NBD_CMD_WRITE = 1,
	NBD_CMD_DISC = 2,
	NBD_CMD_FLUSH = 3,
	NBD_CMD_TRIM = 4,
	NBD_CMD_CACHE = 5,
	NBD_CMD_WRITE_ZEROES = 6,
};
#define NBD_CMD_FLAG_FUA       (1u << 0)
#define NBD_CMD_FLAG_NO_HOLE   (1u << 1)
#define NBD_CMD_FLAG_FAST_ZERO (1u << 4)

/* Option replies the caller may need to know in tests. */
#define NBD_REP_ACK         1u
#define NBD_REP_SERVER      2u
#define NBD_REP_INFO        3u
#define NBD_REP_ERR_UNSUP   (0x80000000u + 1)
#define NBD_REP_ERR_POLICY  (0x80000000u + 2)
#define NBD_REP_ERR_INVALID (0x80000000u + 3)
#define NBD_REP_ERR_UNKNOWN (0x80000000u + 6)

enum {
	NBD_OPT_EXPORT_NAME = 1,
	NBD_OPT_ABORT = 2,
	NBD_OPT_LIST = 3,
	NBD_OPT_STARTTLS = 5,
	NBD_OPT_INFO = 6,
	NBD_OPT_GO = 7,
	NBD_OPT_STRUCTURED_REPLY = 8,
};

#define NBD_MAGIC_REQUEST 0x25609513u
#define NBD_MAGIC_REPLY   0x67446698u
#define NBD_MAGIC_OPTS    0x49484156454F5054ull /* "IHAVEOPT" */
#define NBD_MAGIC_OPTREP  0x3e889045565a9ull

/* What the server knows about an export. */
struct nbd_export {
	uint64_t size;
	int readonly;
	void *handle; /* the caller's object, returned in nbd_parser.export */
};

/*
 * The caller's view of its exports. lookup: 0 and *e filled, or -ENOENT.
 * list: calls add(ctx, name) for each export offered on this connection.
 */
struct nbd_exports {
	int (*lookup)(void *arg, const char *name, struct nbd_export *e);
	void (*list)(void *arg, void (*add)(void *ctx, const char *name), void *ctx);
	void *arg;
};

enum nbd_ev_type {
	NBD_EV_NONE,    /* need more bytes */
	NBD_EV_READY,   /* handshake done: transmission starts, p->export set */
	NBD_EV_REQUEST, /* a valid request in ev->req (write payload in ev->data) */
	NBD_EV_ERROR,   /* an invalid request: send nbd_reply(ev->req.handle, ev->error) */
	NBD_EV_CLOSE,   /* close the connection (after sending p->out) */
};

struct nbd_request {
	uint16_t flags;
	uint16_t type;
	uint64_t handle;
	uint64_t offset;
	uint32_t length;
};

struct nbd_event {
	enum nbd_ev_type type;
	struct nbd_request req;
	const uint8_t *data; /* WRITE payload (req.length bytes), valid until next call */
	uint32_t error;      /* NBD_EV_ERROR: errno value for the reply */
	const char *why;     /* NBD_EV_CLOSE: a reason for the log */
};

struct nbd_parser {
	int state;
	size_t need;   /* bytes wanted for the current item */
	size_t have;
	uint8_t hdr[32];
	uint8_t *buf;  /* option data / write payload, grown up to the maxima */
	size_t bufcap;
	uint32_t opt, optlen;
	unsigned nopts;
	int no_zeroes;
	struct nbd_request req;
	struct nbd_exports exports;
	struct nbd_export export; /* the export chosen by GO / EXPORT_NAME */
	uint8_t *out;   /* reply bytes to send (handshake); caller sends, sets outlen 0 */
	size_t outlen, outcap;
	int out_overflow;
};

void nbd_init(struct nbd_parser *p, const struct nbd_exports *exports);
void nbd_free(struct nbd_parser *p);

/* The server's first 18 bytes. */
void nbd_greeting(uint8_t out[18]);

/* Where the next bytes go (at most *len of them). */
void nbd_want(struct nbd_parser *p, uint8_t **buf, size_t *len);

/* n bytes were written at nbd_want()'s pointer; fills *ev. */
void nbd_advance(struct nbd_parser *p, size_t n, struct nbd_event *ev);

/* Push bytes from memory: consumes until an event (or all of len). */
void nbd_feed(struct nbd_parser *p, const uint8_t *data, size_t len, size_t *used,
	      struct nbd_event *ev);

/*
 * Right after an NBD_EV_REQUEST for a WRITE: take the payload buffer (its
 * capacity in *cap) and leave *buf (capacity *cap, may be NULL/0) to the
 * parser for the next payload, so a server can keep several writes in
 * flight without copying them. The caller owns and frees what it takes.
 */
void nbd_swap_buf(struct nbd_parser *p, uint8_t **buf, size_t *cap);

/* A simple reply header (16 bytes); READ data follows it on success. */
void nbd_reply(uint8_t out[16], uint64_t handle, uint32_t error);

/* An errno value as the NBD error to send (EIO for anything unknown). */
uint32_t nbd_errno(int err);

#endif
