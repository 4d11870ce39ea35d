/*
 * fuzz_msg.c - libFuzzer over the newline-delimited JSON reader that the
 * agent's control socket and its QMP client use (src/common/msg.c): the
 * push parser fed in arbitrary pieces, and msg_read over a socketpair.
 *
 * Input: byte 0 picks the line maximum (its low three bits, see maxes[]);
 * the low four bits of byte 1 say how many piece sizes follow (each 1 +
 * its value, used in turn; none: one byte at a time). The rest is the
 * stream. The seeds start with "00": a 1 KiB maximum, no piece sizes.
 *
 * Invariants, beyond no crash or leak (ASan/LSan/UBSan):
 *  - whatever the pieces, and whether the caller drains before feeding or
 *    only when the buffer is full, the parser yields the same sequence of
 *    messages and errors as a model that splits the stream at '\n' itself
 *    (a line longer than the maximum, newline included, is -EMSGSIZE and
 *    ends the stream; an unfinished line as long as the maximum too);
 *  - msg_read over a socket yields that sequence too, then -ECONNRESET;
 *  - every message is a JSON object; every refusal says why, in printable
 *    ASCII (the agent sends it back inside a JSON string);
 *  - the buffer never holds more than the maximum; -EMSGSIZE is sticky;
 *    msg_parser_pending says whether msg_parser_next has a line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "msg.h"

/* Small maxima that cut lines everywhere, MSG_MAX and the agent's request
 * maximum (control.c; its 512 KiB buffers make a run 15 times slower under
 * ASan, so the seeds use 1024). */
static const size_t maxes[8] = {1024, 1, 2, 3, 8, 64, MSG_MAX, 512 * 1024};

struct result {
	int rc;
	json_t *j;
	char err[160];
};

struct results {
	struct result *r;
	size_t n, cap;
};

static void
push(struct results *rs, int rc, json_t *j, const char *err)
{
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? 2 * rs->cap : 16;
		rs->r = realloc(rs->r, rs->cap * sizeof(*rs->r));
		CHECK(rs->r != NULL);
	}
	rs->r[rs->n].rc = rc;
	rs->r[rs->n].j = j;
	snprintf(rs->r[rs->n].err, sizeof(rs->r[rs->n].err), "%s", err ? err : "");
	rs->n++;
}

static void
results_free(struct results *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		json_decref(rs->r[i].j);
	free(rs->r);
}

/* The model: the stream cut at each '\n', by other code than msg.c's. */
static void
model(const uint8_t *s, size_t n, size_t max, struct results *rs)
{
	size_t pos = 0;

	while (pos < n) {
		const uint8_t *nl = memchr(s + pos, '\n', n - pos);
		size_t len;
		json_t *j;

		if (nl == NULL) {
			if (n - pos >= max)
				push(rs, -EMSGSIZE, NULL, NULL);
			return;
		}
		len = (size_t)(nl - (s + pos));
		if (len + 1 > max) {
			push(rs, -EMSGSIZE, NULL, NULL);
			return;
		}
		j = json_loadb((const char *)s + pos, len, JSON_REJECT_DUPLICATES, NULL);
		if (json_is_object(j)) {
			push(rs, 0, j, NULL);
		} else {
			json_decref(j);
			push(rs, -EBADMSG, NULL, NULL);
		}
		pos += len + 1;
	}
}

static int
printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || (unsigned char)*s > '~')
			return 0;
	return 1;
}

static void
check_shape(const struct msg_parser *p)
{
	CHECK(p->start <= p->scan && p->scan <= p->len && p->len <= p->max);
	CHECK(p->len - p->start <= p->max);
	CHECK(msg_parser_room(p) <= p->max);
}

/* One msg_parser_next, checked; returns its rc. */
static int
next(struct msg_parser *p, struct results *rs)
{
	char err[160];
	json_t *j = NULL;
	int pending = msg_parser_pending(p), rc;

	memset(err, 'x', sizeof(err));
	rc = msg_parser_next(p, &j, err, sizeof(err));
	check_shape(p);
	CHECK(rc == 0 || rc == -EAGAIN || rc == -EMSGSIZE || rc == -EBADMSG);
	CHECK((rc == 0) == (j != NULL));
	CHECK(!pending || rc == 0 || rc == -EBADMSG);
	CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	if (rc == -EAGAIN)
		CHECK(!pending && msg_parser_room(p) > 0);
	if (rc == 0)
		CHECK(json_is_object(j) && err[0] == '\0');
	if (rc == -EBADMSG || rc == -EMSGSIZE)
		CHECK(err[0] != '\0' && printable(err));
	if (rc != -EAGAIN)
		push(rs, rc, j, err);
	return rc;
}

/*
 * Feed the stream in the given pieces (sizes NULL: all of it at once, as
 * far as it fits). drain: take every message after each feed (msg_read's
 * way); otherwise feed until the buffer is full and take one message only
 * then. Stops at -EMSGSIZE.
 */
static void
run(const uint8_t *s, size_t n, size_t max, const uint8_t *sizes, size_t nsizes,
    int drain, struct results *rs)
{
	struct msg_parser p;
	size_t off = 0, k = 0;
	int rc = -EAGAIN;

	CHECK(msg_parser_init(&p, max) == 0);
	while (off < n) {
		size_t piece = sizes == NULL ? n - off : nsizes ? 1 + (size_t)sizes[k++ % nsizes] : 1;
		size_t took, room;

		if (piece > n - off)
			piece = n - off;
		room = msg_parser_room(&p);
		took = msg_parser_feed(&p, s + off, piece);
		check_shape(&p);
		CHECK(took == (piece < room ? piece : room));
		off += took;
		if (drain || took < piece) {
			do
				rc = next(&p, rs);
			while (drain && (rc == 0 || rc == -EBADMSG));
			if (rc == -EMSGSIZE)
				break;
		}
	}
	if (rc != -EMSGSIZE) {
		do
			rc = next(&p, rs);
		while (rc == 0 || rc == -EBADMSG);
	}
	if (rc == -EMSGSIZE) {
		/* Sticky: no room, nothing more taken or parsed. */
		char err[160];
		json_t *j = NULL;

		CHECK(msg_parser_room(&p) == 0);
		CHECK(msg_parser_feed(&p, "{}\n", 3) == 0);
		CHECK(!msg_parser_pending(&p));
		CHECK(msg_parser_next(&p, &j, err, sizeof(err)) == -EMSGSIZE && j == NULL);
	}
	msg_parser_free(&p);
	msg_parser_free(&p);
}

/* msg_read over a socketpair: the stream, then the end of it. */
static void
run_socket(const uint8_t *s, size_t n, size_t max, struct results *rs)
{
	struct msg_reader r;
	int fd[2];
	size_t off = 0;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) == 0);
	CHECK(fcntl(fd[1], F_SETFL, O_NONBLOCK) == 0);
	while (off < n) {
		ssize_t w = write(fd[1], s + off, n - off);

		CHECK(w > 0); /* -max_len keeps the stream within a socket buffer */
		off += (size_t)w;
	}
	close(fd[1]);
	CHECK(msg_reader_init(&r, fd[0], max) == 0);
	for (;;) {
		json_t *j = NULL;
		int rc = msg_read(&r, &j, 5000);

		CHECK(rc != -ETIMEDOUT);
		if (rc == -ECONNRESET)
			break;
		CHECK((rc == 0) == (j != NULL));
		push(rs, rc, j, rc == 0 ? "" : r.error);
		if (rc == -EMSGSIZE) {
			CHECK(msg_read(&r, &j, 0) == -EMSGSIZE);
			break;
		}
	}
	msg_reader_free(&r);
	close(fd[0]);
}

/* Same sequence; the error texts too when both runs have them. */
static void
same(const struct results *a, const struct results *b, int texts)
{
	CHECK(a->n == b->n);
	for (size_t i = 0; i < a->n; i++) {
		CHECK(a->r[i].rc == b->r[i].rc);
		CHECK(a->r[i].rc != 0 || json_equal(a->r[i].j, b->r[i].j));
		if (texts)
			CHECK(strcmp(a->r[i].err, b->r[i].err) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct results want = {0}, one = {0}, pieces = {0}, lazy = {0}, sock = {0};
	const uint8_t *sizes, *s;
	size_t max, nsizes, n;

	if (size < 2)
		return 0;
	max = maxes[data[0] & 7];
	nsizes = data[1] & 15;
	if (size < 2 + nsizes)
		return 0;
	sizes = data + 2;
	s = sizes + nsizes;
	n = size - 2 - nsizes;

	model(s, n, max, &want);
	run(s, n, max, NULL, 0, 1, &one);
	run(s, n, max, sizes, nsizes, 1, &pieces);
	run(s, n, max, sizes, nsizes, 0, &lazy);
	run_socket(s, n, max, &sock);
	same(&want, &one, 0);
	same(&one, &pieces, 1);
	same(&one, &lazy, 1);
	same(&one, &sock, 1);
	results_free(&want);
	results_free(&one);
	results_free(&pieces);
	results_free(&lazy);
	results_free(&sock);
	return 0;
}
