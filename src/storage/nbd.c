/* nbd.c - see nbd.h */
#include "nbd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { ST_CFLAGS, ST_OPTHDR, ST_OPTDATA, ST_REQHDR, ST_PAYLOAD, ST_DEAD };

#define FLAG_FIXED_NEWSTYLE 1u
#define FLAG_NO_ZEROES      2u

#define TF_HAS_FLAGS         (1u << 0)
#define TF_READ_ONLY         (1u << 1)
#define TF_SEND_FLUSH        (1u << 2)
#define TF_SEND_FUA          (1u << 3)
#define TF_SEND_TRIM         (1u << 5)
#define TF_SEND_WRITE_ZEROES (1u << 6)
#define TF_CAN_MULTI_CONN    (1u << 8)
#define TF_SEND_CACHE        (1u << 10)

#define INFO_EXPORT     0
#define INFO_NAME       1
#define INFO_BLOCK_SIZE 3

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

void
nbd_init(struct nbd_parser *p, const struct nbd_exports *exports)
{
	memset(p, 0, sizeof(*p));
	p->state = ST_CFLAGS;
	p->need = 4;
	p->exports = *exports;
}

void
nbd_free(struct nbd_parser *p)
{
	if (p == NULL)
		return;
	free(p->buf);
	free(p->out);
	p->buf = p->out = NULL;
	p->state = ST_DEAD;
}

void
nbd_greeting(uint8_t out[18])
{
	memcpy(out, "NBDMAGIC", 8);
	put64(out + 8, NBD_MAGIC_OPTS);
	put16(out + 16, FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
}

void
nbd_reply(uint8_t out[16], uint64_t handle, uint32_t error)
{
	put32(out, NBD_MAGIC_REPLY);
	put32(out + 4, error);
	put64(out + 8, handle);
}

uint32_t
nbd_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case 0: return 0;
	case EPERM: return 1;
	case ENOMEM: return 12;
	case EINVAL: return 22;
	case ENOSPC: return 28;
	case EOVERFLOW: return 75;
	case ENOTSUP: return 95;
	case ESHUTDOWN: return 108;
	default: return 5; /* EIO */
	}
}

/* Make room for n bytes in p->buf (n is already bounded by the caller). */
static int
reserve(struct nbd_parser *p, size_t n)
{
	uint8_t *b;

	if (n <= p->bufcap)
		return 0;
	b = realloc(p->buf, n);
	if (b == NULL)
		return -ENOMEM;
	p->buf = b;
	p->bufcap = n;
	return 0;
}

void
nbd_swap_buf(struct nbd_parser *p, uint8_t **buf, size_t *cap)
{
	uint8_t *b = p->buf;
	size_t c = p->bufcap;

	p->buf = *buf;
	p->bufcap = *buf ? *cap : 0;
	*buf = b;
	*cap = c;
}

static void
out_put(struct nbd_parser *p, const void *data, size_t len)
{
	uint8_t *o;
	size_t cap;

	if (p->out_overflow)
		return;
	if (p->outlen + len > NBD_OUT_MAX) {
		p->out_overflow = 1;
		return;
	}
	if (p->outlen + len > p->outcap) {
		cap = p->outcap ? p->outcap * 2 : 1024;
		while (cap < p->outlen + len)
			cap *= 2;
		o = realloc(p->out, cap);
		if (o == NULL) {
			p->out_overflow = 1;
			return;
		}
		p->out = o;
		p->outcap = cap;
	}
	memcpy(p->out + p->outlen, data, len);
	p->outlen += len;
}

/* An option reply header followed by len bytes of data. */
static void
optreply(struct nbd_parser *p, uint32_t type, const void *data, uint32_t len)
{
	uint8_t h[20];

	put64(h, NBD_MAGIC_OPTREP);
	put32(h + 8, p->opt);
	put32(h + 12, type);
	put32(h + 16, len);
	out_put(p, h, sizeof(h));
	if (len)
		out_put(p, data, len);
}

static uint16_t
tflags(const struct nbd_export *e)
{
	uint16_t f = TF_HAS_FLAGS | TF_SEND_FLUSH | TF_SEND_FUA | TF_CAN_MULTI_CONN |
		     TF_SEND_CACHE;

	if (e->readonly)
		f |= TF_READ_ONLY;
	else
		f |= TF_SEND_TRIM | TF_SEND_WRITE_ZEROES;
	return f;
}

static void
list_add(void *ctx, const char *name)
{
	struct nbd_parser *p = ctx;
	size_t n = strlen(name);
	uint8_t l[4];
	uint8_t h[20];

	if (n > NBD_MAX_NAME)
		return;
	put64(h, NBD_MAGIC_OPTREP);
	put32(h + 8, p->opt);
	put32(h + 12, NBD_REP_SERVER);
	put32(h + 16, (uint32_t)(4 + n));
	put32(l, (uint32_t)n);
	out_put(p, h, sizeof(h));
	out_put(p, l, 4);
	out_put(p, name, n);
}

/* A name from option data: NUL-terminated copy in name (NBD_MAX_NAME + 1). */
static int
copy_name(const uint8_t *src, size_t len, char *name)
{
	if (len > NBD_MAX_NAME || memchr(src, '\0', len) != NULL)
		return -EINVAL;
	memcpy(name, src, len);
	name[len] = '\0';
	return 0;
}

/* INFO and GO: returns 1 when transmission starts (GO succeeded). */
static int
opt_info_go(struct nbd_parser *p)
{
	const uint8_t *d = p->buf;
	char name[NBD_MAX_NAME + 1];
	uint32_t namelen;
	uint16_t nreq, i;
	int want_bs = 0, want_name = 0;
	struct nbd_export e;
	uint8_t info[14];

	if (p->optlen < 6) {
		optreply(p, NBD_REP_ERR_INVALID, NULL, 0);
		return 0;
	}
	namelen = get32(d);
	if (namelen > p->optlen - 6) {
		optreply(p, NBD_REP_ERR_INVALID, NULL, 0);
		return 0;
	}
	nreq = get16(d + 4 + namelen);
	if ((size_t)4 + namelen + 2 + 2 * (size_t)nreq != p->optlen) {
		optreply(p, NBD_REP_ERR_INVALID, NULL, 0);
		return 0;
	}
	for (i = 0; i < nreq; i++) {
		uint16_t t = get16(d + 4 + namelen + 2 + 2 * i);

		if (t == INFO_BLOCK_SIZE)
			want_bs = 1;
		else if (t == INFO_NAME)
			want_name = 1;
	}
	if (copy_name(d + 4, namelen, name) < 0) {
		optreply(p, NBD_REP_ERR_INVALID, NULL, 0);
		return 0;
	}
	memset(&e, 0, sizeof(e));
	if (p->exports.lookup(p->exports.arg, name, &e) < 0) {
		optreply(p, NBD_REP_ERR_UNKNOWN, NULL, 0);
		return 0;
	}
	put16(info, INFO_EXPORT);
	put64(info + 2, e.size);
	put16(info + 10, tflags(&e));
	optreply(p, NBD_REP_INFO, info, 12);
	if (want_name) {
		uint8_t h[20];

		put64(h, NBD_MAGIC_OPTREP);
		put32(h + 8, p->opt);
		put32(h + 12, NBD_REP_INFO);
		put32(h + 16, 2 + namelen);
		out_put(p, h, sizeof(h));
		put16(info, INFO_NAME);
		out_put(p, info, 2);
		out_put(p, name, namelen);
	}
	if (want_bs) {
		put16(info, INFO_BLOCK_SIZE);
		put32(info + 2, 1);
		put32(info + 6, 4096);
		put32(info + 10, NBD_MAX_REQUEST);
		optreply(p, NBD_REP_INFO, info, 14);
	}
	optreply(p, NBD_REP_ACK, NULL, 0);
	if (p->opt != NBD_OPT_GO)
		return 0;
	p->export = e;
	return 1;
}

static void
expect(struct nbd_parser *p, int state, size_t need)
{
	p->state = state;
	p->need = need;
	p->have = 0;
}

static void
close_ev(struct nbd_parser *p, struct nbd_event *ev, const char *why)
{
	p->state = ST_DEAD;
	p->need = 0;
	ev->type = NBD_EV_CLOSE;
	ev->why = why;
}

static void
handle_option(struct nbd_parser *p, struct nbd_event *ev)
{
	char name[NBD_MAX_NAME + 1];
	struct nbd_export e;
	uint8_t r[10 + 124];

	expect(p, ST_OPTHDR, 16);
	switch (p->opt) {
	case NBD_OPT_EXPORT_NAME:
		memset(&e, 0, sizeof(e));
		if (copy_name(p->buf, p->optlen, name) < 0 ||
		    p->exports.lookup(p->exports.arg, name, &e) < 0) {
			close_ev(p, ev, "EXPORT_NAME of an unknown export");
			return;
		}
		memset(r, 0, sizeof(r));
		put64(r, e.size);
		put16(r + 8, tflags(&e));
		out_put(p, r, p->no_zeroes ? 10 : sizeof(r));
		p->export = e;
		expect(p, ST_REQHDR, 28);
		ev->type = NBD_EV_READY;
		return;
	case NBD_OPT_ABORT:
		optreply(p, NBD_REP_ACK, NULL, 0);
		close_ev(p, ev, "client aborted the handshake");
		return;
	case NBD_OPT_LIST:
		if (p->optlen != 0) {
			optreply(p, NBD_REP_ERR_INVALID, NULL, 0);
			break;
		}
		p->exports.list(p->exports.arg, list_add, p);
		optreply(p, NBD_REP_ACK, NULL, 0);
		break;
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
		if (opt_info_go(p)) {
			expect(p, ST_REQHDR, 28);
			ev->type = NBD_EV_READY;
		}
		break;
	default:
		optreply(p, NBD_REP_ERR_UNSUP, NULL, 0);
		break;
	}
	if (p->out_overflow)
		close_ev(p, ev, "too many reply bytes");
}

/* Checks a complete request (payload read for WRITE); fills ev. */
static void
check_request(struct nbd_parser *p, struct nbd_event *ev)
{
	const struct nbd_request *q = &p->req;
	uint64_t size = p->export.size;
	uint32_t err = 0;
	int writes = 0;

	ev->req = *q;
	switch (q->type) {
	case NBD_CMD_READ:
		if (q->length > NBD_MAX_REQUEST)
			err = 22;
		break;
	case NBD_CMD_WRITE:
	case NBD_CMD_TRIM:
	case NBD_CMD_WRITE_ZEROES:
		writes = 1;
		break;
	case NBD_CMD_FLUSH:
	case NBD_CMD_CACHE:
		break;
	default:
		err = 22;
	}
	if (!err && (q->flags & ~(NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE)))
		err = 22;
	if (!err && (q->flags & NBD_CMD_FLAG_NO_HOLE) && q->type != NBD_CMD_WRITE_ZEROES)
		err = 22;
	if (!err && writes && p->export.readonly)
		err = 1;
	if (!err && q->type != NBD_CMD_FLUSH &&
	    (q->offset > size || q->length > size - q->offset))
		err = q->type == NBD_CMD_WRITE || q->type == NBD_CMD_WRITE_ZEROES ? 28 : 22;
	if (err) {
		ev->type = NBD_EV_ERROR;
		ev->error = err;
		return;
	}
	ev->type = NBD_EV_REQUEST;
	ev->data = q->type == NBD_CMD_WRITE ? p->buf : NULL;
}

static void
handle_reqhdr(struct nbd_parser *p, struct nbd_event *ev)
{
	const uint8_t *h = p->hdr;

	if (get32(h) != NBD_MAGIC_REQUEST) {
		close_ev(p, ev, "bad request magic");
		return;
	}
	p->req.flags = get16(h + 4);
	p->req.type = get16(h + 6);
	p->req.handle = get64(h + 8);
	p->req.offset = get64(h + 16);
	p->req.length = get32(h + 24);
	if (p->req.type == NBD_CMD_DISC) {
		close_ev(p, ev, "client disconnected");
		return;
	}
	if (p->req.type == NBD_CMD_WRITE && p->req.length > 0) {
		/* The payload cannot be skipped safely beyond the maximum. */
		if (p->req.length > NBD_MAX_REQUEST) {
			close_ev(p, ev, "write request over the maximum size");
			return;
		}
		if (reserve(p, p->req.length) < 0) {
			close_ev(p, ev, "out of memory");
			return;
		}
		expect(p, ST_PAYLOAD, p->req.length);
		return;
	}
	expect(p, ST_REQHDR, 28);
	check_request(p, ev);
}

void
nbd_want(struct nbd_parser *p, uint8_t **buf, size_t *len)
{
	switch (p->state) {
	case ST_CFLAGS:
	case ST_OPTHDR:
	case ST_REQHDR:
		*buf = p->hdr + p->have;
		break;
	case ST_OPTDATA:
	case ST_PAYLOAD:
		*buf = p->buf + p->have;
		break;
	default:
		*buf = NULL;
		*len = 0;
		return;
	}
	*len = p->need - p->have;
}

void
nbd_advance(struct nbd_parser *p, size_t n, struct nbd_event *ev)
{
	uint32_t cflags;

	memset(ev, 0, sizeof(*ev));
	if (p->state == ST_DEAD) {
		ev->type = NBD_EV_CLOSE;
		ev->why = "connection already closed";
		return;
	}
	p->have += n;
	if (p->have < p->need)
		return;
	switch (p->state) {
	case ST_CFLAGS:
		cflags = get32(p->hdr);
		if (!(cflags & FLAG_FIXED_NEWSTYLE) ||
		    (cflags & ~(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES))) {
			close_ev(p, ev, "client flags not supported");
			return;
		}
		p->no_zeroes = !!(cflags & FLAG_NO_ZEROES);
		expect(p, ST_OPTHDR, 16);
		return;
	case ST_OPTHDR:
		if (get64(p->hdr) != NBD_MAGIC_OPTS) {
			close_ev(p, ev, "bad option magic");
			return;
		}
		if (++p->nopts > NBD_MAX_OPTIONS) {
			close_ev(p, ev, "too many options");
			return;
		}
		p->opt = get32(p->hdr + 8);
		p->optlen = get32(p->hdr + 12);
		if (p->optlen > NBD_MAX_OPTION) {
			close_ev(p, ev, "option too long");
			return;
		}
		if (reserve(p, p->optlen + 1) < 0) {
			close_ev(p, ev, "out of memory");
			return;
		}
		if (p->optlen > 0) {
			expect(p, ST_OPTDATA, p->optlen);
			return;
		}
		handle_option(p, ev);
		return;
	case ST_OPTDATA:
		handle_option(p, ev);
		return;
	case ST_REQHDR:
		handle_reqhdr(p, ev);
		return;
	case ST_PAYLOAD:
		expect(p, ST_REQHDR, 28);
		check_request(p, ev);
		return;
	}
}

void
nbd_feed(struct nbd_parser *p, const uint8_t *data, size_t len, size_t *used,
	 struct nbd_event *ev)
{
	size_t off = 0;

	memset(ev, 0, sizeof(*ev));
	while (off < len) {
		uint8_t *dst;
		size_t n;

		nbd_want(p, &dst, &n);
		if (n == 0) {
			ev->type = NBD_EV_CLOSE;
			ev->why = "connection closed";
			break;
		}
		if (n > len - off)
			n = len - off;
		memcpy(dst, data + off, n);
		off += n;
		nbd_advance(p, n, ev);
		if (ev->type != NBD_EV_NONE)
			break;
	}
	*used = off;
}
