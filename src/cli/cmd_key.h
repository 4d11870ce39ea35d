/*
 * cmd_key.h - a tenant's SSH public keys (/v1/keys): add from a file (an
 * OpenSSH .pub), list, show, delete. `vm create --key NAME` puts them in
 * a new VM (docs/guest.md: who logs in where).
 */
#ifndef CLOUDLET_CLI_CMD_KEY_H
#define CLOUDLET_CLI_CMD_KEY_H

#include "cli.h"

cli_fn cmd_key_add, cmd_key_list, cmd_key_show, cmd_key_delete;

#endif
