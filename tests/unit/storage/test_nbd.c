/* test_nbd.c - the NBD parser (nbd.c), table-driven: handshakes good and
 * bad, option replies, request validation, maxima. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nbd.h"

static int
lookup(void *arg, const char *name, struct nbd_export *e)
{
	(void)arg;
	if (strcmp(name, "vol") == 0) {
		e->size = 1 << 20;
		e->readonly = 0;
		return 0;
	}
	if (strcmp(name, "snap") == 0) {
		e->size = 1 << 20;
		e->readonly = 1;
		return 0;
	}
	return -2;
}

static void
list(void *arg, void (*add)(void *, const char *), void *ctx)
{
	(void)arg;
	add(ctx, "vol");
	add(ctx, "snap");
}

static const struct nbd_exports ex = {lookup, list, NULL};

static size_t
be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v;
	return 4;
}

static size_t
be64(uint8_t *p, uint64_t v)
{
	be32(p, v >> 32);
	be32(p + 4, (uint32_t)v);
	return 8;
}

static size_t
opt(uint8_t *p, uint32_t o, const void *data, uint32_t len)
{
	size_t n = be64(p, NBD_MAGIC_OPTS);

	n += be32(p + n, o);
	n += be32(p + n, len);
	memcpy(p + n, data, len);
	return n + len;
}

static size_t
go(uint8_t *p, const char *name)
{
	uint8_t d[64];
	size_t n = be32(d, (uint32_t)strlen(name));

	memcpy(d + n, name, strlen(name));
	n += strlen(name);
	d[n++] = 0, d[n++] = 1, d[n++] = 0, d[n++] = 3; /* one info: BLOCK_SIZE */
	return opt(p, NBD_OPT_GO, d, (uint32_t)n);
}

static size_t
req(uint8_t *p, uint32_t magic, uint16_t flags, uint16_t type, uint64_t off, uint32_t len)
{
	size_t n = be32(p, magic);

	p[n++] = flags >> 8, p[n++] = (uint8_t)flags, p[n++] = type >> 8, p[n++] = (uint8_t)type;
	n += be64(p + n, 0x1122334455667788ull);
	n += be64(p + n, off);
	n += be32(p + n, len);
	return n;
}

/* Feed everything; returns the last non-NONE event type. */
static enum nbd_ev_type
feed_all(struct nbd_parser *ps, const uint8_t *b, size_t len, struct nbd_event *ev)
{
	enum nbd_ev_type last = NBD_EV_NONE;
	size_t off = 0, used;

	while (off < len) {
		nbd_feed(ps, b + off, len - off, &used, ev);
		off += used;
		if (ev->type != NBD_EV_NONE)
			last = ev->type;
		if (ev->type == NBD_EV_CLOSE)
			break;
	}
	return last;
}

static uint32_t
reply_type(const uint8_t *out, size_t at)
{
	return (uint32_t)out[at + 12] << 24 | out[at + 13] << 16 | out[at + 14] << 8 | out[at + 15];
}

static void
handshake_go(void **state)
{
	struct nbd_parser ps;
	struct nbd_event ev;
	uint8_t b[256];
	size_t n = be32(b, 3);

	(void)state;
	nbd_init(&ps, &ex);
	n += go(b + n, "vol");
	assert_int_equal(feed_all(&ps, b, n, &ev), NBD_EV_READY);
	assert_int_equal(ps.export.size, 1 << 20);
	assert_int_equal(reply_type(ps.out, 0), NBD_REP_INFO);
	/* INFO_EXPORT (20 + 12), then BLOCK_SIZE (20 + 14), then ACK */
	assert_int_equal(reply_type(ps.out, 32), NBD_REP_INFO);
	assert_int_equal(reply_type(ps.out, 66), NBD_REP_ACK);
	nbd_free(&ps);
}

static void
handshake_table(void **state)
{
	static const struct {
		const char *what;
		uint32_t cflags;
		uint32_t option;
		const char *name;
		uint64_t magic;
		enum nbd_ev_type want;
		uint32_t reply;
	} t[] = {
		{"unknown export", 1, NBD_OPT_GO, "other", NBD_MAGIC_OPTS, NBD_EV_NONE, NBD_REP_ERR_UNKNOWN},
		{"INFO does not start", 1, NBD_OPT_INFO, "vol", NBD_MAGIC_OPTS, NBD_EV_NONE, NBD_REP_INFO},
		{"unknown option", 1, 99, "", NBD_MAGIC_OPTS, NBD_EV_NONE, NBD_REP_ERR_UNSUP},
		{"structured replies unsupported", 1, NBD_OPT_STRUCTURED_REPLY, "", NBD_MAGIC_OPTS, NBD_EV_NONE, NBD_REP_ERR_UNSUP},
		{"abort", 1, NBD_OPT_ABORT, "", NBD_MAGIC_OPTS, NBD_EV_CLOSE, NBD_REP_ACK},
		{"wrong option magic", 1, NBD_OPT_GO, "vol", 0x1234, NBD_EV_CLOSE, 0},
		{"no fixed newstyle", 0, NBD_OPT_GO, "vol", NBD_MAGIC_OPTS, NBD_EV_CLOSE, 0},
		{"unknown client flag", 1 | 8, NBD_OPT_GO, "vol", NBD_MAGIC_OPTS, NBD_EV_CLOSE, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct nbd_parser ps;
		struct nbd_event ev;
		uint8_t b[256];
		size_t n = be32(b, t[i].cflags);
		enum nbd_ev_type got;

		nbd_init(&ps, &ex);
		if (t[i].option == NBD_OPT_GO || t[i].option == NBD_OPT_INFO) {
			size_t k = go(b + n, t[i].name);

			b[n + 11] = (uint8_t)t[i].option;
			n += k;
		} else {
			n += opt(b + n, t[i].option, NULL, 0);
		}
		be64(b + 4, t[i].magic);
		got = feed_all(&ps, b, n, &ev);
		if (got != t[i].want)
			fail_msg("%s: event %d, want %d", t[i].what, got, t[i].want);
		if (t[i].reply && (ps.outlen < 20 || reply_type(ps.out, 0) != t[i].reply))
			fail_msg("%s: wrong reply", t[i].what);
		nbd_free(&ps);
	}
}

static void
option_too_long(void **state)
{
	struct nbd_parser ps;
	struct nbd_event ev;
	uint8_t b[64];
	size_t n = be32(b, 1);

	(void)state;
	nbd_init(&ps, &ex);
	n += be64(b + n, NBD_MAGIC_OPTS);
	n += be32(b + n, NBD_OPT_GO);
	n += be32(b + n, NBD_MAX_OPTION + 1);
	assert_int_equal(feed_all(&ps, b, n, &ev), NBD_EV_CLOSE);
	nbd_free(&ps);
}

static void
list_exports(void **state)
{
	struct nbd_parser ps;
	struct nbd_event ev;
	uint8_t b[64];
	size_t n = be32(b, 1);

	(void)state;
	nbd_init(&ps, &ex);
	n += opt(b + n, NBD_OPT_LIST, NULL, 0);
	feed_all(&ps, b, n, &ev);
	assert_int_equal(reply_type(ps.out, 0), NBD_REP_SERVER);
	assert_int_equal(reply_type(ps.out, 27), NBD_REP_SERVER);
	assert_int_equal(reply_type(ps.out, 55), NBD_REP_ACK);
	nbd_free(&ps);
}

static void
requests_table(void **state)
{
	static const struct {
		const char *what;
		const char *exp;
		uint32_t magic;
		uint16_t flags, type;
		uint64_t off;
		uint32_t len;
		enum nbd_ev_type want;
		uint32_t err;
	} t[] = {
		{"read", "vol", NBD_MAGIC_REQUEST, 0, NBD_CMD_READ, 0, 4096, NBD_EV_REQUEST, 0},
		{"read past the end", "vol", NBD_MAGIC_REQUEST, 0, NBD_CMD_READ, (1 << 20) - 1, 2, NBD_EV_ERROR, 22},
		{"read offset overflow", "vol", NBD_MAGIC_REQUEST, 0, NBD_CMD_READ, UINT64_MAX, 2, NBD_EV_ERROR, 22},
		{"oversized read", "vol", NBD_MAGIC_REQUEST, 0, NBD_CMD_READ, 0, NBD_MAX_REQUEST + 1, NBD_EV_ERROR, 22},
		{"write", "vol", NBD_MAGIC_REQUEST, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, 0, 8, NBD_EV_REQUEST, 0},
		{"write past the end", "vol", NBD_MAGIC_REQUEST, 0, NBD_CMD_WRITE, 1 << 20, 8, NBD_EV_ERROR, 28},
		{"oversized write", "vol", NBD_MAGIC_REQUEST, 0, NBD_CMD_WRITE, 0, NBD_MAX_REQUEST + 1, NBD_EV_CLOSE, 0},
		{"write to a snapshot", "snap", NBD_MAGIC_REQUEST, 0, NBD_CMD_WRITE, 0, 8, NBD_EV_ERROR, 1},
		{"trim to a snapshot", "snap", NBD_MAGIC_REQUEST, 0, NBD_CMD_TRIM, 0, 8, NBD_EV_ERROR, 1},
		{"flush", "vol", NBD_MAGIC_REQUEST, 0, NBD_CMD_FLUSH, 0, 0, NBD_EV_REQUEST, 0},
		{"zeroes no-hole", "vol", NBD_MAGIC_REQUEST, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE_ZEROES, 0, 1 << 20, NBD_EV_REQUEST, 0},
		{"no-hole on read", "vol", NBD_MAGIC_REQUEST, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_READ, 0, 1, NBD_EV_ERROR, 22},
		{"unknown flag", "vol", NBD_MAGIC_REQUEST, 0x100, NBD_CMD_READ, 0, 1, NBD_EV_ERROR, 22},
		{"unknown command", "vol", NBD_MAGIC_REQUEST, 0, 77, 0, 0, NBD_EV_ERROR, 22},
		{"disconnect", "vol", NBD_MAGIC_REQUEST, 0, NBD_CMD_DISC, 0, 0, NBD_EV_CLOSE, 0},
		{"wrong magic", "vol", 0x25609514, 0, NBD_CMD_READ, 0, 1, NBD_EV_CLOSE, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct nbd_parser ps;
		struct nbd_event ev;
		uint8_t b[256 + 8];
		size_t n = be32(b, 3);
		enum nbd_ev_type got;

		nbd_init(&ps, &ex);
		n += go(b + n, t[i].exp);
		assert_int_equal(feed_all(&ps, b, n, &ev), NBD_EV_READY);
		n = req(b, t[i].magic, t[i].flags, t[i].type, t[i].off, t[i].len);
		if (t[i].type == NBD_CMD_WRITE && t[i].len <= 8) {
			memset(b + n, 0xab, t[i].len);
			n += t[i].len;
		}
		got = feed_all(&ps, b, n, &ev);
		if (got != t[i].want)
			fail_msg("%s: event %d, want %d", t[i].what, got, t[i].want);
		if (got == NBD_EV_ERROR && ev.error != t[i].err)
			fail_msg("%s: error %u, want %u", t[i].what, ev.error, t[i].err);
		if (got == NBD_EV_REQUEST || got == NBD_EV_ERROR)
			assert_true(ev.req.handle == 0x1122334455667788ull);
		if (got == NBD_EV_REQUEST && t[i].type == NBD_CMD_WRITE)
			assert_int_equal(ev.data[0], 0xab);
		nbd_free(&ps);
	}
}

static void
byte_at_a_time(void **state)
{
	struct nbd_parser ps;
	struct nbd_event ev;
	uint8_t b[256];
	size_t n = be32(b, 3), i, used;
	int ready = 0, reqs = 0;

	(void)state;
	nbd_init(&ps, &ex);
	n += go(b + n, "vol");
	n += req(b + n, NBD_MAGIC_REQUEST, 0, NBD_CMD_WRITE, 4096, 3);
	b[n++] = 1, b[n++] = 2, b[n++] = 3;
	for (i = 0; i < n; i++) {
		nbd_feed(&ps, b + i, 1, &used, &ev);
		assert_int_equal(used, 1);
		ready += ev.type == NBD_EV_READY;
		reqs += ev.type == NBD_EV_REQUEST;
	}
	assert_int_equal(ready, 1);
	assert_int_equal(reqs, 1);
	assert_int_equal(ev.req.offset, 4096);
	assert_memory_equal(ev.data, "\1\2\3", 3);
	nbd_free(&ps);
}

/* Several writes in flight: each payload is taken out of the parser
 * (nbd_swap_buf) and stays intact while the next one is read. */
static void
swap_buf(void **state)
{
	static const struct {
		uint32_t len;
		int give; /* hand the parser a buffer of our own */
	} t[] = {{8, 0}, {3, 0}, {16, 1}, {0, 0}, {5, 1}};
	struct nbd_parser ps;
	struct nbd_event ev;
	uint8_t b[256], *taken[5];
	size_t n = be32(b, 3), i;

	(void)state;
	nbd_init(&ps, &ex);
	n += go(b + n, "vol");
	assert_int_equal(feed_all(&ps, b, n, &ev), NBD_EV_READY);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t *mine = t[i].give ? malloc(4) : NULL;
		size_t cap = mine ? 4 : 0, k;

		n = req(b, NBD_MAGIC_REQUEST, 0, NBD_CMD_WRITE, 0, t[i].len);
		memset(b + n, (int)i + 1, t[i].len);
		n += t[i].len;
		assert_int_equal(feed_all(&ps, b, n, &ev), NBD_EV_REQUEST);
		nbd_swap_buf(&ps, &mine, &cap);
		taken[i] = mine;
		if (t[i].len > 0) {
			assert_non_null(mine);
			assert_true(cap >= t[i].len);
			assert_ptr_equal(mine, ev.data);
		}
		for (k = 0; k < i; k++) /* earlier payloads are untouched */
			if (t[k].len > 0)
				assert_int_equal(taken[k][t[k].len - 1], k + 1);
	}
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		free(taken[i]);
	nbd_free(&ps);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(handshake_go),	   cmocka_unit_test(handshake_table),
		cmocka_unit_test(option_too_long), cmocka_unit_test(list_exports),
		cmocka_unit_test(requests_table),  cmocka_unit_test(byte_at_a_time),
		cmocka_unit_test(swap_buf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
