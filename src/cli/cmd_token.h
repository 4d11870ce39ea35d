/*
 * cmd_token.h - API tokens (/v1/tokens): a tenant lists, creates (printed
 * once) and revokes its own; the operator also any tenant's (--tenant).
 */
#ifndef CLOUDLET_CLI_CMD_TOKEN_H
#define CLOUDLET_CLI_CMD_TOKEN_H

#include "cli.h"

cli_fn cmd_token_list, cmd_token_create, cmd_token_revoke;

#endif
