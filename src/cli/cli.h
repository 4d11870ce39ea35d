/*
 * cli.h - `cloudlet`, the customer and operator CLI of cloudletd.
 *
 * main.c holds the table of subcommands (each with its usage line) and the
 * global flags; the cmd_*.c files implement the commands, cli.c and op.c
 * what they share. A command returns the process's exit status:
 * CLI_OK, CLI_FAIL (the server said no, or could not be reached; already
 * printed) or CLI_USAGE (main then prints the command's usage line).
 */
#ifndef CLOUDLET_CLI_H
#define CLOUDLET_CLI_H

#include <jansson.h>
#include <stddef.h>

#include "api.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

struct cli {
	struct api api;
	int json; /* --json: print the API's JSON instead of tables */
};

typedef int cli_fn(struct cli *c, int argc, char **argv);

struct cli_cmd {
	const char *name;  /* "vm create": the words that select it */
	const char *usage; /* its arguments, after the name */
	cli_fn *fn;	   /* gets the arguments after the name */
};

/* api_path() that prints why it failed. 0 or -1. */
int cli_path(struct cli *c, char *buf, size_t len, const char *prefix, const char *id,
	     const char *suffix);

/*
 * GET path and show the answer: --json prints it as is, otherwise show()
 * prints it for people. Returns an exit status.
 */
int cli_get_show(struct cli *c, const char *path, void (*show)(const json_t *));

struct table;

/*
 * GET path, a list: --json prints it as is, otherwise a table with the
 * column heads (NULL ends them) and a row per element, whose cells row()
 * adds, one per head. Returns an exit status.
 */
int cli_list(struct cli *c, const char *path, const char *const *heads,
	     void (*row)(struct table *t, const json_t *e));

/*
 * DELETE prefix + ref (escaped, cli_path) and say "<done> <ref>", done
 * being what happened ("deleted key", "removed host"); --json: the
 * answer, if any. Returns an exit status.
 */
int cli_delete(struct cli *c, const char *prefix, const char *ref, const char *done);

/* A VM for people: its fields, one per line. */
void cli_show_vm(const json_t *vm);

/*
 * Start a long operation (method path body answers 202 + Operation) and,
 * when wait, follow it to its end (op.h). Then, when show_vm, print the VM
 * the operation worked on, or else say "<done_verb> <label>". label names
 * the VM for people ("web1"). Returns an exit status.
 */
int cli_long_op(struct cli *c, const char *method, const char *path, const json_t *body,
		const char *label, int wait, int show_vm, const char *done_verb);

/* Commands (cmd_*.c). */
cli_fn cmd_tenant_create, cmd_tenant_list, cmd_tenant_show, cmd_tenant_delete,
    cmd_tenant_token, cmd_quota_show, cmd_quota_set;
cli_fn cmd_service_list, cmd_image_list, cmd_events;
cli_fn cmd_vm_create, cmd_vm_list, cmd_vm_show, cmd_vm_start, cmd_vm_stop, cmd_vm_reboot,
    cmd_vm_delete, cmd_vm_resize;
cli_fn cmd_vm_console, cmd_vm_migrate;
cli_fn cmd_op_show, cmd_op_wait;

/*
 * Resolve what the user typed (a VM id or name) against the VM list the
 * server returned: an exact id wins, else a unique name. Returns 0 with
 * *id pointing into vms, -ENOENT (no such VM) or -EEXIST (the name is
 * ambiguous: the operator sees VMs of every tenant). Pure: no I/O.
 */
int cmd_vm_pick(const json_t *vms, const char *ref, const char **id);

/*
 * Find the VM the user means (GET /v1/vms, then cmd_vm_pick) and copy its
 * id into id. Prints why not. 0 or -1.
 */
int cmd_vm_resolve(struct cli *c, const char *ref, char *id, size_t len);

/*
 * Make buf[0..len) fit a JSON string (console input): invalid UTF-8 bytes
 * become '?'. Returns how many bytes are complete text; an incomplete
 * sequence at the end (at most 3 bytes) is left for the next read, unless
 * at_eof, when it is replaced too. Pure: no I/O.
 */
size_t cmd_console_utf8(char *buf, size_t len, int at_eof);

#endif
