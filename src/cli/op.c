/* op.c - see op.h */
#define _GNU_SOURCE
#include "op.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "table.h"
#include "util.h"

static const char *
str(const json_t *op, const char *key)
{
	return json_string_value(json_object_get(op, key));
}

int
op_done(const json_t *op)
{
	const char *s = str(op, "state");

	return s == NULL || (strcmp(s, "pending") != 0 && strcmp(s, "running") != 0);
}

int
op_succeeded(const json_t *op)
{
	const char *s = str(op, "state");

	return s != NULL && strcmp(s, "succeeded") == 0;
}

void
op_progress_line(const json_t *op, const char *label, char *buf, size_t len)
{
	const char *kind = str(op, "kind"), *state = str(op, "state"),
		   *msg = str(op, "message");
	const json_t *p = json_object_get(op, "progress");
	char pct[24] = "";

	if (label == NULL)
		label = str(op, "vm_id");
	if (json_is_integer(p))
		snprintf(pct, sizeof(pct), " %lld%%", (long long)json_integer_value(p));
	snprintf(buf, len, "%s %s: %s%s%s%s", kind ? kind : "operation",
		 label ? label : "?", state ? state : "?", pct, msg && *msg ? " " : "",
		 msg ? msg : "");
	table_clean(buf);
}

/* Ctrl-C while following: the operation goes on in the server; say how to
 * pick it up. Only async-signal-safe calls in the handler. */
static char interrupt_msg[256];

static void
on_interrupt(int sig)
{
	ssize_t n = write(2, interrupt_msg, strlen(interrupt_msg));

	(void)n;
	_exit(128 + sig);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int
op_wait(struct cli *c, const char *id, const char *label, json_t **final)
{
	struct sigaction sa = {.sa_handler = on_interrupt}, old_int, old_term;
	char path[API_PATH_MAX], line[512], last[512] = "", idc[128];
	int tty = isatty(2), r = -1;
	json_t *op = NULL, *op_last = NULL;

	*final = NULL;
	if (cli_path(c, path, sizeof(path), "/v1/operations/", id, NULL) < 0)
		return -1;
	snprintf(idc, sizeof(idc), "%s", id);
	table_clean(idc);
	snprintf(interrupt_msg, sizeof(interrupt_msg),
		 "\nstopped following; the operation goes on: cloudlet op wait %s\n",
		 idc);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	for (int first = 1;; first = 0) {
		char url[API_PATH_MAX + 64];
		uint64_t t0 = now_ms();
		json_int_t pct = -1;

		/* After the first look, the server answers when the operation
		 * changes (?wait, docs/control-plane.md): no polling. */
		if (!first && op_last != NULL)
			pct = json_integer_value(json_object_get(op_last, "progress"));
		if (first || pct < 0)
			snprintf(url, sizeof(url), "%s", path);
		else
			snprintf(url, sizeof(url), "%s?wait=%d&progress=%d", path, OP_WAIT_S, (int)pct);
		json_decref(op_last);
		op_last = NULL;
		if (api_json(&c->api, "GET", url, NULL, &op) < 0 ||
		    !json_is_object(op)) {
			if (tty && last[0] != '\0')
				fputc('\n', stderr);
			if (op != NULL)
				fprintf(stderr,
					"error: the operation is not a JSON object\n");
			fprintf(
			    stderr,
			    "the operation may still be going on: cloudlet op wait %s\n",
			    idc);
			goto out;
		}
		op_progress_line(op, label, line, sizeof(line));
		if (strcmp(line, last) != 0) {
			if (tty)
				fprintf(stderr, "\r\033[K%s", line);
			else
				fprintf(stderr, "%s\n", line);
			snprintf(last, sizeof(last), "%s", line);
		}
		if (op_done(op))
			break;
		/* A server without ?wait answers at once with nothing new:
		 * then look again after a pause, as before. */
		if (!first && pct >= 0 &&
		    json_integer_value(json_object_get(op, "progress")) == pct &&
		    now_ms() - t0 < OP_POLL_MS)
			sleep_ms(OP_POLL_MS);
		op_last = op;
		op = NULL;
	}
	json_decref(op_last);
	if (tty)
		fputc('\n', stderr);
	*final = op;
	op = NULL;
	r = 0;
out:
	json_decref(op);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return r;
}

void
op_print_failure(const json_t *op, const char *label)
{
	char *e = strdup(str(op, "error") ? str(op, "error") : "");
	char *l = strdup(label ? label : (str(op, "vm_id") ? str(op, "vm_id") : "?"));

	fprintf(stderr, "error: %s %s %s: %s\n",
		str(op, "kind") ? str(op, "kind") : "operation", l ? table_clean(l) : "?",
		str(op, "state") ? str(op, "state") : "failed",
		e && *e ? table_clean(e) : "no reason given");
	free(e);
	free(l);
}

void
op_show(const json_t *op)
{
	static const char *const keys[] = {
	    "id",      "kind",	"vm_id",      "tenant_id",  "state", "progress",
	    "message", "error", "created_at", "updated_at", NULL};

	table_print_fields(op, keys, stdout);
}
