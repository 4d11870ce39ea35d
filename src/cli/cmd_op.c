/* cmd_op.c - long operations by id: show one, wait for one. */
#include <stdio.h>

#include "args.h"
#include "cli.h"
#include "op.h"
#include "table.h"

int
cmd_op_show(struct cli *c, int argc, char **argv)
{
	char path[API_PATH_MAX];
	const char *id;

	if (args_parse(argc, argv, NULL, 0, &id, 1) < 0)
		return CLI_USAGE;
	if (cli_path(c, path, sizeof(path), "/v1/operations/", id, NULL) < 0)
		return CLI_FAIL;
	return cli_get_show(c, path, op_show);
}

int
cmd_op_wait(struct cli *c, int argc, char **argv)
{
	const char *id;
	json_t *op;
	int r;

	if (args_parse(argc, argv, NULL, 0, &id, 1) < 0)
		return CLI_USAGE;
	if (op_wait(c, id, NULL, &op) < 0)
		return CLI_FAIL;
	r = op_succeeded(op) ? CLI_OK : CLI_FAIL;
	if (r != CLI_OK)
		op_print_failure(op, NULL);
	if (c->json)
		table_print_json(op, stdout);
	else
		op_show(op);
	json_decref(op);
	return r;
}
