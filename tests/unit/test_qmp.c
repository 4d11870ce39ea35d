/*
 * test_qmp.c - qmp.h: the classification of what QEMU sends (table-driven,
 * real QEMU 7.2 lines and malformed shapes), what a waiting command makes
 * of each message, the error text, the push parser on a QMP stream in
 * pieces; then the client against a scripted fake QEMU on a unix socket.
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
#include <unistd.h>

#include <cmocka.h>

#include "msg.h"
#include "qmp.h"
#include "util.h"

/* What QEMU 7.2 (Debian 12) sent to qmp_capabilities, query-status, an
 * unknown command, stop, cont, getfd without a descriptor and quit. */
#define GREETING                                                                         \
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, " \
	"\"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}"
#define RET_EMPTY "{\"return\": {}}"
#define RET_STATUS "{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}}"
#define ERR_NOTFOUND                                                                     \
	"{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command nope has not " \
	"been found\"}}"
#define EV_STOP "{\"timestamp\": {\"seconds\": 1796608354, \"microseconds\": 557902}, \"event\": \"STOP\"}"
#define EV_SHUTDOWN                                                                      \
	"{\"timestamp\": {\"seconds\": 1796608354, \"microseconds\": 559606}, \"event\": "  \
	"\"SHUTDOWN\", \"data\": {\"guest\": false, \"reason\": \"host-qmp-quit\"}}"

#define BAD (-EPROTO)

struct class_case {
	const char *what;
	const char *line;
	int kind;         /* enum qmp_kind, or BAD */
	const char *name; /* the event's name or the error's class */
	const char *desc;
};

static const struct class_case class_cases[] = {
    {"greeting", GREETING, QMP_GREETING, NULL, NULL},
    {"empty return", RET_EMPTY, QMP_RETURN, NULL, NULL},
    {"query-status", RET_STATUS, QMP_RETURN, NULL, NULL},
    {"return of any type", "{\"return\": [1]}", QMP_RETURN, NULL, NULL},
    {"return with an id", "{\"id\": \"x\", \"return\": {}}", QMP_RETURN, NULL, NULL},
    {"error", ERR_NOTFOUND, QMP_ERROR, "CommandNotFound",
     "The command nope has not been found"},
    {"event without data", EV_STOP, QMP_EVENT, "STOP", NULL},
    {"event with data", EV_SHUTDOWN, QMP_EVENT, "SHUTDOWN", NULL},
    {"event without timestamp", "{\"event\": \"RESET\"}", QMP_EVENT, "RESET", NULL},
    {"unknown members", "{\"return\": {}, \"future\": 1}", QMP_RETURN, NULL, NULL},
    /* Malformed: none or two of the kinds, or a kind of the wrong type. */
    {"empty object", "{}", BAD, NULL, NULL},
    {"a command", "{\"execute\": \"stop\"}", BAD, NULL, NULL},
    {"event and return", "{\"event\": \"SHUTDOWN\", \"return\": {}}", BAD, NULL, NULL},
    {"error and return", "{\"error\": {\"class\": \"C\", \"desc\": \"d\"}, \"return\": {}}",
     BAD, NULL, NULL},
    {"greeting and event", "{\"QMP\": {}, \"event\": \"STOP\"}", BAD, NULL, NULL},
    {"event name not a string", "{\"event\": 5}", BAD, NULL, NULL},
    {"event data not an object", "{\"event\": \"STOP\", \"data\": []}", BAD, NULL, NULL},
    {"event timestamp not an object", "{\"event\": \"STOP\", \"timestamp\": 1}", BAD, NULL,
     NULL},
    {"error not an object", "{\"error\": \"broken\"}", BAD, NULL, NULL},
    {"error without class", "{\"error\": {\"desc\": \"d\"}}", BAD, NULL, NULL},
    {"error without desc", "{\"error\": {\"class\": \"C\"}}", BAD, NULL, NULL},
    {"error desc not a string", "{\"error\": {\"class\": \"C\", \"desc\": 5}}", BAD, NULL,
     NULL},
    {"greeting not an object", "{\"QMP\": []}", BAD, NULL, NULL},
};

static void
test_classify_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(class_cases); i++) {
		const struct class_case *c = &class_cases[i];
		json_t *m = json_loads(c->line, JSON_REJECT_DUPLICATES, NULL);
		struct qmp_msg got;
		int rc;

		if (m == NULL)
			fail_msg("%s: the test's line is not JSON", c->what);
		memset(&got, 0x5a, sizeof(got));
		rc = qmp_classify(m, &got);
		if (c->kind == BAD) {
			if (rc != -EPROTO)
				fail_msg("%s: classified as %d, want -EPROTO", c->what, (int)got.kind);
		} else {
			if (rc != 0 || (int)got.kind != c->kind)
				fail_msg("%s: rc %d kind %d, want kind %d", c->what, rc,
					 (int)got.kind, c->kind);
			if (c->name != NULL)
				assert_string_equal(got.name, c->name);
			if (c->desc != NULL)
				assert_string_equal(got.desc, c->desc);
			if (got.kind == QMP_RETURN)
				assert_ptr_equal(got.value, json_object_get(m, "return"));
			if (got.kind == QMP_EVENT)
				assert_ptr_equal(got.value, json_object_get(m, "data"));
		}
		json_decref(m);
	}
}

/* What qmp_exec makes of each kind of message while it waits. */
static void
test_reply(void **state)
{
	static const struct {
		const char *line;
		int rc;
		const char *err;
	} cases[] = {
	    {RET_STATUS, 0, ""},
	    {ERR_NOTFOUND, -EREMOTEIO, "nope: The command nope has not been found"},
	    {EV_SHUTDOWN, 1, ""},
	    {GREETING, -EPROTO, "nope: QEMU sent a malformed reply"},
	    {"{\"event\": \"STOP\", \"return\": {}}", -EPROTO, "nope: QEMU sent a malformed reply"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		json_t *m = json_loads(cases[i].line, 0, NULL), *ret = NULL;
		char err[128] = "";
		int rc;

		assert_non_null(m);
		rc = qmp_reply(m, "nope", &ret, err, sizeof(err));
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d, want %d", i, rc, cases[i].rc);
		assert_string_equal(err, cases[i].err);
		if (rc == 0) {
			assert_ptr_equal(ret, json_object_get(m, "return"));
			json_decref(ret); /* a new reference */
		} else {
			assert_null(ret);
		}
		/* ret may be NULL: the value is not wanted. */
		assert_int_equal(qmp_reply(m, "nope", NULL, err, sizeof(err)), cases[i].rc);
		json_decref(m);
	}
}

/* QEMU's description goes into logs and JSON replies: printable ASCII
 * only, cut to the buffer. */
static void
test_error_text(void **state)
{
	json_t *m = json_loads("{\"error\": {\"class\": \"GenericError\", \"desc\": "
			       "\"caf\\u00e9\\n\\u0007\\u001b[31m!\"}}",
			       0, NULL);
	struct qmp_msg c;
	char err[64], small[8];

	(void)state;
	assert_non_null(m);
	assert_int_equal(qmp_classify(m, &c), 0);
	qmp_error_text("stop", &c, err, sizeof(err));
	assert_string_equal(err, "stop: caf?????[31m!");
	qmp_error_text("stop", &c, small, sizeof(small));
	assert_string_equal(small, "stop: c");
	qmp_error_text("stop", &c, NULL, 0);
	json_decref(m);
}

/* A session as QEMU writes it (\r\n), fed to the push parser in pieces:
 * the same kinds in the same order, whatever the pieces. */
static void
test_stream_in_pieces(void **state)
{
	static const char stream[] = GREETING "\r\n" RET_EMPTY "\r\n" EV_STOP "\r\n" ERR_NOTFOUND
		"\r\n" "{\"event\": 5}\r\n" EV_SHUTDOWN "\r\n" RET_STATUS "\r\n" "{\"ret";
	static const int want[] = {QMP_GREETING, QMP_RETURN, QMP_EVENT, QMP_ERROR,
				   BAD,		 QMP_EVENT,  QMP_RETURN};
	size_t piece;

	(void)state;
	for (piece = 1; piece <= 64; piece = piece < 8 ? piece + 1 : piece * 2) {
		struct msg_parser p;
		size_t off = 0, k = 0, len = sizeof(stream) - 1;

		assert_int_equal(msg_parser_init(&p, 256), 0);
		while (off < len) {
			json_t *m;
			int rc;

			off += msg_parser_feed(&p, stream + off,
					       piece < len - off ? piece : len - off);
			while ((rc = msg_parser_next(&p, &m, NULL, 0)) == 0) {
				struct qmp_msg c;
				int kind = qmp_classify(m, &c) == 0 ? (int)c.kind : BAD;

				assert_true(k < ARRAY_LEN(want));
				if (kind != want[k])
					fail_msg("pieces of %zu: message %zu is %d, want %d", piece,
						 k, kind, want[k]);
				k++;
				json_decref(m);
			}
			assert_int_equal(rc, -EAGAIN);
		}
		assert_int_equal(k, ARRAY_LEN(want));
		msg_parser_free(&p);
	}
}

/* ---- the client against a scripted QEMU ---- */

struct fake {
	char dir[64];
	char path[128];
	int srv;
	const char *const *script; /* "<line" QEMU sends it, ">" QEMU reads a line */
	pthread_t thread;
};

static void *
fake_run(void *arg)
{
	struct fake *f = arg;
	const char *const *s;
	int fd = accept(f->srv, NULL, NULL);
	char c;

	if (fd < 0)
		return NULL;
	for (s = f->script; *s != NULL; s++) {
		if ((*s)[0] == '>') {
			while (read(fd, &c, 1) == 1 && c != '\n')
				;
		} else {
			size_t n = strlen(*s + 1);

			if (write(fd, *s + 1, n) != (ssize_t)n || write(fd, "\r\n", 2) != 2)
				break;
		}
	}
	/* Stay until the client hangs up. */
	while (read(fd, &c, 1) == 1)
		;
	close(fd);
	return NULL;
}

static void
fake_start(struct fake *f, const char *const *script)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	snprintf(f->dir, sizeof(f->dir), "/tmp/cloudlet-test-qmp.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/qmp.sock", f->dir);
	f->srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->srv >= 0);
	assert_int_equal(util_fmt(sun.sun_path, sizeof(sun.sun_path), "%s", f->path), 0);
	assert_int_equal(bind(f->srv, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(f->srv, 1), 0);
	f->script = script;
	assert_int_equal(pthread_create(&f->thread, NULL, fake_run, f), 0);
}

static void
fake_stop(struct fake *f)
{
	assert_int_equal(pthread_join(f->thread, NULL), 0);
	close(f->srv);
	assert_int_equal(util_rmtree(f->dir), 0);
}

/* Events during a command are dropped; the event reader skips replies and
 * malformed messages and returns only events. */
static void
test_client_session(void **state)
{
	static const char *const script[] = {
	    "<" GREETING, ">", "<" RET_EMPTY,  /* qmp_capabilities */
	    ">", "<" EV_STOP, "<" RET_STATUS,  /* query-status, an event first */
	    ">", "<" ERR_NOTFOUND,	       /* nope */
	    "<" RET_EMPTY, "<{\"event\": 7}", "<{\"event\": \"X\", \"return\": {}}",
	    "<" EV_SHUTDOWN, NULL,
	};
	struct fake f;
	struct qmp *q = NULL;
	json_t *ret = NULL, *ev = NULL;
	char err[128];

	(void)state;
	fake_start(&f, script);
	assert_int_equal(qmp_open(f.path, 5000, &q), 0);
	assert_int_equal(qmp_exec(q, "query-status", NULL, &ret, 5000, err, sizeof(err)), 0);
	assert_string_equal(json_string_value(json_object_get(ret, "status")), "running");
	json_decref(ret);
	assert_int_equal(qmp_exec(q, "nope", NULL, NULL, 5000, err, sizeof(err)), -EREMOTEIO);
	assert_string_equal(err, "nope: The command nope has not been found");
	assert_int_equal(qmp_next_event(q, &ev, 5000), 0);
	assert_string_equal(json_string_value(json_object_get(ev, "event")), "SHUTDOWN");
	json_decref(ev);
	assert_int_equal(qmp_next_event(q, &ev, 0), -ETIMEDOUT);
	qmp_close(q);
	fake_stop(&f);
}

/* A reply of no known shape fails the command instead of passing for an
 * event (dropped) or a return. */
static void
test_client_malformed_reply(void **state)
{
	static const char *const script[] = {
	    "<" GREETING, ">", "<" RET_EMPTY, ">", "<{\"event\": \"STOP\", \"return\": {}}", NULL,
	};
	struct fake f;
	struct qmp *q = NULL;
	json_t *ret = NULL;
	char err[128];

	(void)state;
	fake_start(&f, script);
	assert_int_equal(qmp_open(f.path, 5000, &q), 0);
	assert_int_equal(qmp_exec(q, "stop", NULL, &ret, 5000, err, sizeof(err)), -EPROTO);
	assert_null(ret);
	assert_string_equal(err, "stop: QEMU sent a malformed reply");
	qmp_close(q);
	fake_stop(&f);
}

/* Only a greeting opens a connection. */
static void
test_client_bad_greeting(void **state)
{
	static const char *const firsts[] = {"<{\"QMP\": 1}", "<" RET_EMPTY, "<" EV_STOP,
					     "<[\"QMP\"]"};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(firsts); i++) {
		const char *script[] = {firsts[i], NULL};
		struct fake f;
		struct qmp *q = NULL;
		int rc;

		fake_start(&f, script);
		rc = qmp_open(f.path, 5000, &q);
		if (rc != (i == 3 ? -EBADMSG : -EPROTO))
			fail_msg("greeting %zu: qmp_open returned %d", i, rc);
		assert_null(q);
		fake_stop(&f);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_classify_table),
	    cmocka_unit_test(test_reply),
	    cmocka_unit_test(test_error_text),
	    cmocka_unit_test(test_stream_in_pieces),
	    cmocka_unit_test(test_client_session),
	    cmocka_unit_test(test_client_malformed_reply),
	    cmocka_unit_test(test_client_bad_greeting),
	};

	return cmocka_run_group_tests_name("qmp", tests, NULL, NULL);
}
