/*
 * fuzz_qmp.c - libFuzzer over the agent's reading of what QEMU sends on a
 * QMP socket: the line parser (src/common/msg.c) fed in arbitrary pieces,
 * then qmp_classify, qmp_reply and qmp_error_text (src/agent/engine/qmp.c)
 * on each message, as qmp_open, qmp_exec and qmp_next_event use them.
 * QEMU runs unprivileged; after a guest escape every byte here is hostile.
 *
 * Input: byte 0 picks the line maximum (its low three bits, see maxes[]);
 * the low four bits of byte 1 say how many piece sizes follow (each 1 +
 * its value, used in turn; none: one byte at a time). The rest is what
 * QEMU sends. The seeds start with "00": 64 KiB, no piece sizes.
 *
 * Invariants, beyond no crash or leak:
 *  - the same messages and classifications whatever the pieces;
 *  - a message is classified only if it has exactly one of "QMP",
 *    "return", "error", "event" with its type (checked against a second
 *    implementation here), so a reply is never taken for an event nor an
 *    event for a reply, and adding a second of those members to any
 *    accepted message makes it refused;
 *  - what classify returns points into the message and matches it;
 *  - qmp_reply agrees with classify (0 and the "return" value for a
 *    return, -EREMOTEIO for an error, 1 for an event, -EPROTO otherwise);
 *  - the error text is "cmd: desc" with every byte outside printable ASCII
 *    replaced, truncated to fit, at every buffer size.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "msg.h"
#include "qmp.h"

static const size_t maxes[8] = {64 * 1024, 16, 64, 128, 256, 1024, 4096, 16384};

static const char *const members[] = {"QMP", "return", "error", "event"};

/* The shape rules of qmp.h, written again: the kind, or -1. */
static int
expected_kind(json_t *m)
{
	json_t *v[4], *e;
	int n = 0, i, which = -1;

	for (i = 0; i < 4; i++) {
		v[i] = json_object_get(m, members[i]);
		if (v[i] != NULL) {
			n++;
			which = i;
		}
	}
	if (n != 1)
		return -1;
	switch (which) {
	case 0:
		return json_is_object(v[0]) ? QMP_GREETING : -1;
	case 1:
		return QMP_RETURN;
	case 2:
		e = v[2];
		return json_is_object(e) && json_is_string(json_object_get(e, "class")) &&
			       json_is_string(json_object_get(e, "desc"))
			   ? QMP_ERROR
			   : -1;
	default:
		e = json_object_get(m, "data");
		if (!json_is_string(v[3]) || (e != NULL && !json_is_object(e)))
			return -1;
		e = json_object_get(m, "timestamp");
		return e == NULL || json_is_object(e) ? QMP_EVENT : -1;
	}
}

/* err must be "cmd: desc" made printable and cut to errlen - 1 bytes. */
static void
check_error_text(const char *cmd, const struct qmp_msg *c, const char *err, size_t errlen)
{
	char want[512];
	size_t i, n;

	if (errlen == 0)
		return;
	n = (size_t)snprintf(want, sizeof(want), "%s: %s", cmd, c->desc);
	if (n >= sizeof(want))
		n = sizeof(want) - 1;
	if (n > errlen - 1)
		n = errlen - 1;
	CHECK(strlen(err) == n);
	for (i = 0; i < n; i++) {
		unsigned char w = (unsigned char)want[i];

		CHECK(err[i] == (w < ' ' || w > '~' ? '?' : want[i]));
	}
}

static void
check_message(json_t *m)
{
	static const size_t errlens[] = {0, 1, 2, 6, 40, 256};
	struct qmp_msg c;
	int rc = qmp_classify(m, &c), want = expected_kind(m);
	json_t *ret;
	size_t i;

	CHECK(rc == 0 || rc == -EPROTO);
	CHECK(rc == 0 ? (int)c.kind == want : want == -1);
	if (rc == 0) {
		switch (c.kind) {
		case QMP_GREETING:
			CHECK(c.value == json_object_get(m, "QMP") && json_is_object(c.value));
			break;
		case QMP_RETURN:
			CHECK(c.value == json_object_get(m, "return"));
			CHECK(json_object_get(m, "event") == NULL);
			CHECK(json_object_get(m, "error") == NULL);
			break;
		case QMP_ERROR:
			CHECK(json_object_get(m, "event") == NULL);
			CHECK(json_object_get(m, "return") == NULL);
			CHECK(c.desc == json_string_value(
					    json_object_get(json_object_get(m, "error"), "desc")));
			CHECK(c.name != NULL && c.desc != NULL);
			break;
		case QMP_EVENT:
			CHECK(c.name == json_string_value(json_object_get(m, "event")));
			CHECK(c.value == json_object_get(m, "data"));
			CHECK(json_object_get(m, "return") == NULL);
			CHECK(json_object_get(m, "error") == NULL);
			break;
		default:
			CHECK(0);
		}
	}

	/* What qmp_exec does with it, at every buffer size. */
	for (i = 0; i < sizeof(errlens) / sizeof(errlens[0]); i++) {
		char err[256];
		size_t errlen = errlens[i];
		int r;

		memset(err, 'x', sizeof(err));
		ret = NULL;
		r = qmp_reply(m, "query-status", &ret, errlen ? err : NULL, errlen);
		if (rc == 0 && c.kind == QMP_RETURN) {
			CHECK(r == 0 && ret == c.value);
			json_decref(ret);
			continue;
		}
		CHECK(ret == NULL);
		if (rc == 0 && c.kind == QMP_EVENT) {
			CHECK(r == 1);
			continue;
		}
		if (rc == 0 && c.kind == QMP_ERROR) {
			CHECK(r == -EREMOTEIO);
			check_error_text("query-status", &c, err, errlen);
		} else {
			CHECK(r == -EPROTO);
		}
		if (errlen > 0)
			CHECK(memchr(err, '\0', errlen) != NULL);
	}

	/* A second kind's member makes any accepted message ambiguous. */
	if (rc == 0) {
		for (i = 0; i < 4; i++) {
			struct qmp_msg c2;
			json_t *m2;

			if (json_object_get(m, members[i]) != NULL)
				continue;
			m2 = json_deep_copy(m);
			CHECK(m2 != NULL);
			json_object_set_new(m2, members[i], json_object());
			CHECK(qmp_classify(m2, &c2) == -EPROTO);
			json_decref(m2);
		}
	}
}

struct seen {
	char **text; /* each message's compact dump, or NULL for an error */
	int *rc;
	size_t n, cap;
};

static void
record(struct seen *s, int rc, json_t *m)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->text = realloc(s->text, s->cap * sizeof(*s->text));
		s->rc = realloc(s->rc, s->cap * sizeof(*s->rc));
		CHECK(s->text != NULL && s->rc != NULL);
	}
	s->rc[s->n] = rc;
	s->text[s->n] = m ? json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
	CHECK(m == NULL || s->text[s->n] != NULL);
	s->n++;
}

static void
seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->text[i]);
	free(s->text);
	free(s->rc);
}

/* Feed the stream in pieces (sizes NULL: as much as fits at once), take
 * every message after each feed, as msg_read does. */
static void
run(const uint8_t *s, size_t n, size_t max, const uint8_t *sizes, size_t nsizes, int check,
    struct seen *out)
{
	struct msg_parser p;
	size_t off = 0, k = 0;
	int rc = -EAGAIN;

	CHECK(msg_parser_init(&p, max) == 0);
	for (;;) {
		size_t piece = sizes == NULL ? n - off : nsizes ? 1 + (size_t)sizes[k++ % nsizes] : 1;

		if (piece > n - off)
			piece = n - off;
		off += msg_parser_feed(&p, s + off, piece);
		for (;;) {
			json_t *m = NULL;
			char err[160];

			rc = msg_parser_next(&p, &m, err, sizeof(err));
			if (rc == -EAGAIN)
				break;
			record(out, rc, m);
			if (rc == 0) {
				if (check)
					check_message(m);
				json_decref(m);
			}
			if (rc == -EMSGSIZE)
				goto out;
		}
		if (off == n)
			break;
	}
out:
	msg_parser_free(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen one = {0}, pieces = {0};
	const uint8_t *sizes, *s;
	size_t max, nsizes, n, i;

	if (size < 2)
		return 0;
	max = maxes[data[0] & 7];
	nsizes = data[1] & 15;
	if (size < 2 + nsizes)
		return 0;
	sizes = data + 2;
	s = sizes + nsizes;
	n = size - 2 - nsizes;

	run(s, n, max, sizes, nsizes, 1, &pieces);
	run(s, n, max, NULL, 0, 0, &one);
	CHECK(one.n == pieces.n);
	for (i = 0; i < one.n; i++) {
		CHECK(one.rc[i] == pieces.rc[i]);
		CHECK((one.text[i] == NULL) == (pieces.text[i] == NULL));
		CHECK(one.text[i] == NULL || strcmp(one.text[i], pieces.text[i]) == 0);
	}
	seen_free(&one);
	seen_free(&pieces);
	return 0;
}
