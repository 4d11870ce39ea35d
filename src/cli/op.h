/*
 * op.h - long operations (api/openapi.yaml: Operation): following one to
 * its end and showing it.
 */
#ifndef CLOUDLET_CLI_OP_H
#define CLOUDLET_CLI_OP_H

#include <jansson.h>
#include <stddef.h>

#include "cli.h"

#define OP_POLL_MS 200 /* only against a server without ?wait */
#define OP_WAIT_S 20    /* under the client's 30 s request timeout */

/* pending and running go on; anything else is an end. */
int op_done(const json_t *op);
int op_succeeded(const json_t *op);

/*
 * The progress line for people: "create web1: running 40% starting VM".
 * label defaults to the operation's vm_id. Pure: no I/O.
 */
void op_progress_line(const json_t *op, const char *label, char *buf, size_t len);

/*
 * Follow GET /v1/operations/{id} (?wait: the server answers on a change)
 * until it ends, showing
 * progress on stderr (one line rewritten in place on a terminal, a line
 * per change otherwise). Returns 0 with *final (a new reference) once it
 * ended, however it ended; -1 when the server could not tell (printed,
 * with how to pick the operation up again). Ctrl-C stops following, not
 * the operation, and says so.
 */
int op_wait(struct cli *c, const char *id, const char *label, json_t **final);

/* "error: create web1 failed: <error>" on stderr. */
void op_print_failure(const json_t *op, const char *label);

/* An operation for people: its fields, one per line. */
void op_show(const json_t *op);

#endif
