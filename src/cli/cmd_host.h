/*
 * cmd_host.h - the hosts behind the control plane (operator routes
 * /v1/hosts): list, show, add, drain, undrain, remove; join tokens
 * (token create|list|delete; a token is printed once). A host is named by
 * its id or its name.
 */
#ifndef CLOUDLET_CLI_CMD_HOST_H
#define CLOUDLET_CLI_CMD_HOST_H

#include "cli.h"

cli_fn cmd_host_list, cmd_host_show, cmd_host_add, cmd_host_drain, cmd_host_undrain,
    cmd_host_remove, cmd_host_token_create, cmd_host_token_list, cmd_host_token_delete,
    cmd_host_evacuate;

#endif
