/*
 * test_msg.c - msg.h: the push parser on its own (table-driven, every case
 * fed whole, a byte at a time and in other pieces), then the reader and
 * writer over a socketpair: fd[0] is the reader's end, fd[1] the peer's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "msg.h"
#include "util.h"

struct pair {
	int fd[2];
	struct msg_reader r;
};

static int
setup_pair(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	if (p == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fd) < 0)
		return -1;
	if (msg_reader_init(&p->r, p->fd[0], 64) < 0)
		return -1;
	*state = p;
	return 0;
}

static int
teardown_pair(void **state)
{
	struct pair *p = *state;

	msg_reader_free(&p->r);
	close(p->fd[0]);
	if (p->fd[1] >= 0)
		close(p->fd[1]);
	free(p);
	return 0;
}

static void
send_bytes(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);

		assert_true(n > 0);
		s += n;
		len -= (size_t)n;
	}
}

static void
send_str(int fd, const char *s)
{
	send_bytes(fd, s, strlen(s));
}

/* ---- the push parser, without I/O ---- */

#define END 1000    /* no more messages: msg_parser_next wants more bytes */
#define BAD (-EBADMSG)
#define BIG (-EMSGSIZE)

struct parse_case {
	const char *what;
	size_t max;
	const char *in;
	size_t len;   /* 0: strlen(in) */
	int want[8];  /* n of each message, or BAD or BIG; then END */
};

static const struct parse_case parse_cases[] = {
    {"one message", 64, "{\"n\":1}\n", 0, {1, END}},
    {"several", 64, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n", 0, {1, 2, 3, END}},
    {"partial tail waits", 64, "{\"n\":1}\n{\"n\":", 0, {1, END}},
    {"nothing", 64, "", 0, {END}},
    {"CRLF", 64, "{\"n\":1}\r\n{\"n\":2}\r\n", 0, {1, 2, END}},
    {"white space around", 64, " \t{\"n\":1} \r\n", 0, {1, END}},
    {"empty line", 64, "\n{\"n\":1}\n", 0, {BAD, 1, END}},
    {"empty CRLF line", 64, "\r\n{\"n\":1}\r\n", 0, {BAD, 1, END}},
    {"blank line", 64, "   \n{\"n\":1}\n", 0, {BAD, 1, END}},
    {"not objects", 64, "[1]\n\"s\"\n42\nnull\ntrue\n{\"n\":1}\n", 0,
     {BAD, BAD, BAD, BAD, BAD, 1, END}},
    {"not JSON", 64, "hello\n{\"n\":1\n{\"n\":2}\n", 0, {BAD, BAD, 2, END}},
    {"two objects on a line", 64, "{} {}\n{\"n\":1}\n", 0, {BAD, 1, END}},
    {"duplicate keys", 64, "{\"n\":1,\"n\":2}\n{\"n\":3}\n", 0, {BAD, 3, END}},
    {"u0000", 64, "{\"s\":\"a\\u0000b\"}\n{\"n\":1}\n", 0, {BAD, 1, END}},
    {"NUL byte", 64, "{\"n\":1}\0\n{\"n\":2}\n", 17, {BAD, 2, END}},
    {"invalid UTF-8", 64, "{\"s\":\"\xff\"}\n{\"n\":1}\n", 0, {BAD, 1, END}},
    {"newline escaped in a string", 64, "{\"n\":1,\"s\":\"a\\nb\"}\n", 0, {1, END}},
    /* max 16 counts the newline: 15 bytes of JSON fit, 16 do not. */
    {"exactly the maximum", 16, "{\"n\":1,\"s\":\"x\"}\n", 0, {1, END}},
    {"one byte over", 16, "{\"n\":1,\"s\":\"xx\"}\n{\"n\":2}\n", 0, {BIG}},
    {"the CR counts", 16, "{\"n\":1,\"s\":\"x\"}\r\n", 0, {BIG}},
    {"over after good lines", 16, "{\"n\":1}\n{\"n\":2,\"s\":\"xxxxx\"}\n{\"n\":3}\n", 0,
     {1, BIG}},
    {"unfinished at the maximum", 16, "{\"n\":1,\"s\":\"xxxx", 0, {BIG}},
    {"unfinished below the maximum", 16, "{\"n\":1,\"s\":\"xxx", 0, {END}},
    {"long line of blanks", 16, "                                \n", 0, {BIG}},
    {"maximum 1: only empty lines", 1, "\n\n{}\n", 0, {BAD, BAD, BIG}},
};

/* Feed c->in in pieces of `piece` bytes (0: all at once), draining after
 * each feed, and check the sequence; then that -EMSGSIZE sticks. */
static void
run_parse_case(const struct parse_case *c, size_t piece)
{
	size_t len = c->len ? c->len : strlen(c->in), off = 0, k = 0;
	struct msg_parser p;
	char err[160];
	int rc = -EAGAIN;

	assert_int_equal(msg_parser_init(&p, c->max), 0);
	while (rc != -EMSGSIZE) {
		size_t n = piece == 0 || piece > len - off ? len - off : piece;

		off += msg_parser_feed(&p, c->in + off, n);
		for (;;) {
			json_t *j = NULL;
			int want = c->want[k];

			rc = msg_parser_next(&p, &j, err, sizeof(err));
			if (rc == -EAGAIN)
				break;
			if (want == END)
				fail_msg("%s (pieces of %zu): got %d after the last message", c->what,
					 piece, rc);
			if (want >= 0 && (rc != 0 || json_integer_value(json_object_get(j, "n")) != want))
				fail_msg("%s (pieces of %zu): message %zu: got %d, want n=%d", c->what,
					 piece, k, rc, want);
			if (want < 0 && rc != want)
				fail_msg("%s (pieces of %zu): message %zu: got %d, want %d", c->what,
					 piece, k, rc, want);
			if (rc < 0)
				assert_true(err[0] != '\0');
			json_decref(j);
			k++;
			if (rc == -EMSGSIZE)
				break;
		}
		if (off == len)
			break;
	}
	if (rc == -EMSGSIZE) {
		json_t *j = NULL;

		assert_int_equal(msg_parser_room(&p), 0);
		assert_int_equal(msg_parser_feed(&p, "{}\n", 3), 0);
		assert_false(msg_parser_pending(&p));
		assert_int_equal(msg_parser_next(&p, &j, err, sizeof(err)), -EMSGSIZE);
		assert_null(j);
	} else if (c->want[k] != END) {
		fail_msg("%s (pieces of %zu): ended after %zu messages", c->what, piece, k);
	}
	assert_true(p.len - p.start <= p.max);
	msg_parser_free(&p);
}

static void
test_parser_table(void **state)
{
	static const size_t pieces[] = {0, 1, 2, 3, 5, 7, 16};
	size_t i, j;

	(void)state;
	for (i = 0; i < ARRAY_LEN(parse_cases); i++)
		for (j = 0; j < ARRAY_LEN(pieces); j++)
			run_parse_case(&parse_cases[i], pieces[j]);
}

/* feed takes what fits; a full buffer frees room by a message, or overflows. */
static void
test_parser_feed_room(void **state)
{
	struct msg_parser p;
	json_t *j = NULL;
	char err[160];

	(void)state;
	assert_int_equal(msg_parser_init(&p, 8), 0);
	assert_int_equal(msg_parser_room(&p), 8);
	assert_int_equal(msg_parser_feed(&p, "{}\n{}\n{}\n", 9), 8);
	assert_int_equal(msg_parser_room(&p), 0);
	assert_true(msg_parser_pending(&p));
	assert_int_equal(msg_parser_next(&p, &j, err, sizeof(err)), 0);
	json_decref(j);
	assert_int_equal(msg_parser_room(&p), 3);
	assert_int_equal(msg_parser_feed(&p, "\n", 1), 1); /* the ninth byte */
	assert_int_equal(msg_parser_next(&p, &j, err, sizeof(err)), 0);
	json_decref(j);
	assert_int_equal(msg_parser_next(&p, &j, err, sizeof(err)), 0);
	json_decref(j);
	assert_false(msg_parser_pending(&p));
	assert_int_equal(msg_parser_next(&p, &j, err, sizeof(err)), -EAGAIN);
	assert_int_equal(msg_parser_room(&p), 8);
	/* Eight bytes and no newline: overflows, though no newline may come. */
	assert_int_equal(msg_parser_feed(&p, "{\"a\":123", 8), 8);
	assert_int_equal(msg_parser_next(&p, &j, err, sizeof(err)), -EMSGSIZE);
	assert_string_equal(err, "line longer than 8 bytes");
	msg_parser_free(&p);
	msg_parser_free(&p);
}

struct err_case {
	const char *line;
	const char *want; /* a prefix of the text */
};

/* Refusals say why in printable ASCII, whatever bytes were near the error:
 * jansson quotes them raw and may cut a UTF-8 sequence (found by fuzz_msg:
 * the reply carrying the text then failed to encode and was never sent). */
static void
test_parser_error_text(void **state)
{
	static const struct err_case cases[] = {
	    {"[1,2]\n", "not a JSON object"},
	    {"{\"s\":\"\\\xde\xbc\"}\n", "not valid JSON: invalid escape near '\"\\?' (column"},
	    {"{\x01}\n", "not valid JSON: string or '}' expected near '?'"},
	    {"{\"s\":\"caf\xc3\xa9\" x}\n", "not valid JSON: '}' expected near 'x'"},
	    {"\n", "not valid JSON: '[' or '{' expected near end of file"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		struct msg_parser p;
		json_t *j = NULL;
		char err[160], small[8];
		const char *c;

		assert_int_equal(msg_parser_init(&p, 64), 0);
		msg_parser_feed(&p, cases[i].line, strlen(cases[i].line));
		msg_parser_feed(&p, cases[i].line, strlen(cases[i].line));
		assert_int_equal(msg_parser_next(&p, &j, err, sizeof(err)), -EBADMSG);
		if (strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("%zu: error \"%s\", want \"%s...\"", i, err, cases[i].want);
		for (c = err; *c; c++)
			assert_true(*c >= ' ' && *c <= '~');
		/* A short buffer is cut, a missing one is fine. */
		assert_int_equal(msg_parser_next(&p, &j, small, sizeof(small)), -EBADMSG);
		assert_int_equal(strlen(small), sizeof(small) - 1);
		assert_int_equal(msg_parser_next(&p, &j, NULL, 0), -EAGAIN);
		msg_parser_free(&p);
	}
}

/* n bytes cost O(n) however they are fed: 2 MiB of "{}" lines given all
 * at once, and one 2 MiB line given a byte at a time. The reader before
 * the push parser moved the rest of its buffer for each line taken and
 * searched it from the start after each read: quadratic, minutes here. */
static void
test_parser_linear(void **state)
{
	size_t max = 2 * 1024 * 1024, i, off, count = 0;
	char *big = malloc(max);
	struct msg_parser p;
	json_t *j;
	uint64_t t0 = util_now_ms();
	int rc;

	(void)state;
	assert_non_null(big);
	for (i = 0; i + 3 <= max; i += 3)
		memcpy(big + i, "{}\n", 3);
	assert_int_equal(msg_parser_init(&p, max), 0);
	assert_int_equal(msg_parser_feed(&p, big, i), i);
	while ((rc = msg_parser_next(&p, &j, NULL, 0)) == 0) {
		json_decref(j);
		count++;
	}
	assert_int_equal(rc, -EAGAIN);
	assert_int_equal(count, max / 3);

	memset(big, ' ', max);
	big[0] = '{';
	big[max - 2] = '}';
	big[max - 1] = '\n';
	for (off = 0; off < max; off++) {
		assert_int_equal(msg_parser_feed(&p, big + off, 1), 1);
		rc = msg_parser_next(&p, &j, NULL, 0);
		if (off + 1 < max)
			assert_int_equal(rc, -EAGAIN);
	}
	assert_int_equal(rc, 0);
	json_decref(j);
	msg_parser_free(&p);
	free(big);
	/* About a second; generous for loaded machines. */
	assert_true(util_now_ms() - t0 < 20000);
}

/* ---- the reader over a socket ---- */

/* Reads one message and checks that its "n" field is want. */
static void
expect_n(struct msg_reader *r, json_int_t want)
{
	json_t *j = NULL;
	int rc = msg_read(r, &j, 1000);

	if (rc != 0)
		fail_msg("msg_read returned %d, want a message with n=%lld", rc,
			 (long long)want);
	assert_true(json_is_object(j));
	assert_int_equal(json_integer_value(json_object_get(j, "n")), want);
	json_decref(j);
}

static void
expect_rc(struct msg_reader *r, int want)
{
	json_t *j = NULL;
	int rc = msg_read(r, &j, 0);

	if (rc != want)
		fail_msg("msg_read returned %d, want %d", rc, want);
	if (rc == 0)
		json_decref(j);
	else
		assert_null(j);
}

static void
test_one_message(void **state)
{
	struct pair *p = *state;

	send_str(p->fd[1], "{\"n\":1,\"s\":\"x\"}\n");
	expect_n(&p->r, 1);
	expect_rc(&p->r, -ETIMEDOUT);
}

static void
test_several_in_one_write(void **state)
{
	struct pair *p = *state;

	send_str(p->fd[1], "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":");
	expect_n(&p->r, 1);
	/* The rest is already buffered: no syscall needed. */
	assert_true(msg_buffered(&p->r));
	expect_n(&p->r, 2);
	assert_true(msg_buffered(&p->r));
	expect_n(&p->r, 3);
	assert_false(msg_buffered(&p->r));
	expect_rc(&p->r, -ETIMEDOUT);
	send_str(p->fd[1], "4}\n");
	expect_n(&p->r, 4);
}

static void
test_partial_lines(void **state)
{
	struct pair *p = *state;
	const char *msg = "{\"n\":7,\"s\":\"caf\xc3\xa9\"}\n";
	size_t i;

	/* One byte per write, including between the bytes of a UTF-8 char. */
	for (i = 0; msg[i + 1] != '\0'; i++) {
		send_bytes(p->fd[1], msg + i, 1);
		expect_rc(&p->r, -ETIMEDOUT);
		assert_false(msg_buffered(&p->r));
	}
	send_str(p->fd[1], "\n");
	expect_n(&p->r, 7);
}

struct delayed {
	int fd;
	const char *text;
};

static void *
write_later(void *arg)
{
	const struct delayed *d = arg;
	struct timespec ts = {.tv_nsec = 50 * 1000 * 1000};

	nanosleep(&ts, NULL);
	if (write(d->fd, d->text, strlen(d->text)) < 0)
		return arg;
	return NULL;
}

/* A blocking read waits for the rest of the line. */
static void
test_rest_arrives_later(void **state)
{
	struct pair *p = *state;
	struct delayed d = {.fd = p->fd[1], .text = "9}\n"};
	pthread_t t;
	json_t *j = NULL;
	void *ret;

	send_str(p->fd[1], "{\"n\":");
	assert_int_equal(pthread_create(&t, NULL, write_later, &d), 0);
	assert_int_equal(msg_read(&p->r, &j, -1), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "n")), 9);
	json_decref(j);
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_null(ret);
}

static void
test_timeouts(void **state)
{
	struct pair *p = *state;
	json_t *j = NULL;
	uint64_t t0;

	t0 = util_now_ms();
	assert_int_equal(msg_read(&p->r, &j, 0), -ETIMEDOUT);
	assert_true(util_now_ms() - t0 < 500); /* generous: loaded CI machines */
	t0 = util_now_ms();
	assert_int_equal(msg_read(&p->r, &j, 100), -ETIMEDOUT);
	assert_true(util_now_ms() - t0 >= 90);
	assert_null(j);
	/* Timeout 0 still takes what the socket already holds. */
	send_str(p->fd[1], "{\"n\":5}\n");
	assert_int_equal(msg_read(&p->r, &j, 0), 0);
	json_decref(j);
}

static void
test_eof(void **state)
{
	struct pair *p = *state;

	/* Complete messages sent before the close are still delivered. */
	send_str(p->fd[1], "{\"n\":1}\n{\"n\":");
	close(p->fd[1]);
	p->fd[1] = -1;
	expect_n(&p->r, 1);
	expect_rc(&p->r, -ECONNRESET);
	expect_rc(&p->r, -ECONNRESET);
}

static void
test_eof_empty(void **state)
{
	struct pair *p = *state;

	close(p->fd[1]);
	p->fd[1] = -1;
	expect_rc(&p->r, -ECONNRESET);
}

/* The reader's max (64 here) counts the newline: 63 bytes of JSON fit. */
static void
test_size_limit(void **state)
{
	struct pair *p = *state;
	char line[128];

	/* {"n":1,"s":"xxx..."} padded to exactly 63 bytes, then the newline. */
	snprintf(line, sizeof(line), "{\"n\":1,\"s\":\"%.*s\"}\n", 63 - 14,
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	assert_int_equal(strlen(line), 64);
	send_str(p->fd[1], line);
	expect_n(&p->r, 1);

	/* One byte more and the line no longer fits. */
	snprintf(line, sizeof(line), "{\"n\":2,\"s\":\"%.*s\"}\n", 64 - 14,
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	assert_int_equal(strlen(line), 65);
	send_str(p->fd[1], line);
	expect_rc(&p->r, -EMSGSIZE);
}

/* A peer that never sends a newline cannot make the reader grow. */
static void
test_oversize_no_newline(void **state)
{
	struct pair *p = *state;
	char junk[1000];

	memset(junk, ' ', sizeof(junk));
	send_bytes(p->fd[1], junk, sizeof(junk));
	expect_rc(&p->r, -EMSGSIZE);
	expect_rc(&p->r, -EMSGSIZE);
	assert_true(p->r.parser.len - p->r.parser.start <= p->r.parser.max);
}

static void
test_oversize_default_max(void **state)
{
	struct msg_reader r;
	int fd[2];
	char *big = malloc(MSG_MAX + 2);
	json_t *j = NULL;

	(void)state;
	assert_non_null(big);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd), 0);
	assert_int_equal(msg_reader_init(&r, fd[0], MSG_MAX), 0);
	memset(big, 'x', MSG_MAX + 1);
	big[0] = '"';
	big[MSG_MAX] = '\n';
	big[MSG_MAX + 1] = '\0';
	send_str(fd[1], big);
	assert_int_equal(msg_read(&r, &j, 1000), -EMSGSIZE);
	msg_reader_free(&r);
	close(fd[0]);
	close(fd[1]);
	free(big);
}

struct bad_line {
	const char *what;
	const char *line;
	size_t len; /* 0: strlen(line) */
};

static const struct bad_line bad_lines[] = {
    {"array", "[1,2]\n"},
    {"string", "\"hello\"\n"},
    {"number", "42\n"},
    {"null", "null\n"},
    {"true", "true\n"},
    {"not json", "hello\n"},
    {"unterminated object", "{\"n\":1\n"},
    {"empty line", "\n"},
    {"blank line", "   \n"},
    {"two objects on a line", "{} {}\n"},
    {"duplicate keys", "{\"n\":1,\"n\":2}\n"},
    {"invalid utf-8", "{\"s\":\"\xff\"}\n"},
    {"NUL inside", "{\"s\":\"a\0b\"}\n", 12},
    {"NUL after", "{}\0\n", 4},
};

/* Each bad line is reported and consumed: the next good line is read. */
static void
test_bad_lines(void **state)
{
	struct pair *p = *state;
	size_t i;

	for (i = 0; i < ARRAY_LEN(bad_lines); i++) {
		const struct bad_line *b = &bad_lines[i];
		json_t *j = NULL;
		int rc;

		send_bytes(p->fd[1], b->line, b->len ? b->len : strlen(b->line));
		send_str(p->fd[1], "{\"n\":3}\n");
		rc = msg_read(&p->r, &j, 1000);
		if (rc != -EBADMSG) {
			json_decref(j);
			fail_msg("%s: msg_read returned %d, want -EBADMSG", b->what, rc);
		}
		expect_n(&p->r, 3);
	}
}

/* QMP ends its lines with \r\n. */
static void
test_crlf(void **state)
{
	struct pair *p = *state;

	send_str(p->fd[1], "{\"n\":1}\r\n{\"n\":2}\r\n");
	expect_n(&p->r, 1);
	expect_n(&p->r, 2);
}

static void
test_write_read_round_trip(void **state)
{
	struct pair *p = *state;
	json_t *in = json_pack("{s:s, s:{s:[i,i], s:b}, s:s}", "op", "x", "a", "c", 1, 2,
			       "s", 1, "t", "a\nb"),
	       *out = NULL;

	/* Newlines inside strings are escaped: still one line on the wire. */
	assert_non_null(in);
	assert_int_equal(msg_write(p->fd[1], in), 0);
	assert_int_equal(msg_read(&p->r, &out, 1000), 0);
	assert_true(json_equal(in, out));
	json_decref(in);
	json_decref(out);
}

static void
test_write_wire_format(void **state)
{
	struct pair *p = *state;
	json_t *in = json_pack("{s:i}", "n", 1);
	char buf[64];
	ssize_t n;

	assert_int_equal(msg_write(p->fd[1], in), 0);
	json_decref(in);
	n = read(p->fd[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "{\"n\":1}\n");
}

/* A vanished peer is an error, not a SIGPIPE. */
static void
test_write_to_closed_peer(void **state)
{
	struct pair *p = *state;
	json_t *in = json_pack("{s:i}", "n", 1);

	close(p->fd[0]);
	p->fd[0] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0); /* for teardown */
	assert_int_equal(msg_write(p->fd[1], in), -EPIPE);
	json_decref(in);
}

static void
test_reader_free_twice(void **state)
{
	struct msg_reader r;

	(void)state;
	assert_int_equal(msg_reader_init(&r, -1, 16), 0);
	msg_reader_free(&r);
	assert_null(r.parser.buf);
	msg_reader_free(&r);
}

static void
test_connect_unix(void **state)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char dir[] = "/tmp/cloudlet-test-msg.XXXXXX";
	char path[200], longpath[200];
	int srv, fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	assert_int_equal(msg_connect_unix(path), -ENOENT);

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(msg_connect_unix(longpath), -ENAMETOOLONG);

	srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(srv >= 0);
	assert_int_equal(util_fmt(sun.sun_path, sizeof(sun.sun_path), "%s", path), 0);
	assert_int_equal(bind(srv, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(srv, 1), 0);
	fd = msg_connect_unix(path);
	assert_true(fd >= 0);
	close(fd);
	close(srv);
	assert_int_equal(util_rmtree(dir), 0);
}

#define PAIR_TEST(f) cmocka_unit_test_setup_teardown(f, setup_pair, teardown_pair)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parser_table),
	    cmocka_unit_test(test_parser_feed_room),
	    cmocka_unit_test(test_parser_error_text),
	    cmocka_unit_test(test_parser_linear),
	    PAIR_TEST(test_one_message),
	    PAIR_TEST(test_several_in_one_write),
	    PAIR_TEST(test_partial_lines),
	    PAIR_TEST(test_rest_arrives_later),
	    PAIR_TEST(test_timeouts),
	    PAIR_TEST(test_eof),
	    PAIR_TEST(test_eof_empty),
	    PAIR_TEST(test_size_limit),
	    PAIR_TEST(test_oversize_no_newline),
	    cmocka_unit_test(test_oversize_default_max),
	    PAIR_TEST(test_bad_lines),
	    PAIR_TEST(test_crlf),
	    PAIR_TEST(test_write_read_round_trip),
	    PAIR_TEST(test_write_wire_format),
	    PAIR_TEST(test_write_to_closed_peer),
	    cmocka_unit_test(test_reader_free_twice),
	    cmocka_unit_test(test_connect_unix),
	};

	return cmocka_run_group_tests_name("msg", tests, NULL, NULL);
}
