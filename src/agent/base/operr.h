/*
 * operr.h - an agent operation's failure: a stable code for programs and a
 * message for people (docs/agent-protocol.md lists the codes).
 *
 * Every operation of every subsystem returns 0 or -errno and, on failure,
 * fills a struct op_error the caller owns.
 */
#ifndef CLOUDLET_OPERR_H
#define CLOUDLET_OPERR_H

struct op_error {
	const char *code; /* invalid, not_found, conflict, insufficient_resources,
			     timeout, internal (a static string) */
	char msg[512];
};

/* Fill e (code, printf-style message) and return r: every op's error path. */
int op_fail(struct op_error *e, const char *code, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
