/*
 * cmd_idssup.h - a tenant's intrusion detection suppressions
 * (/v1/ids/suppressions, docs/ids.md): list, add a rule (sid), optionally
 * for one source or destination address or network, optionally for a
 * while; delete. The operator adds --tenant ID.
 */
#ifndef CLOUDLET_CLI_CMD_IDSSUP_H
#define CLOUDLET_CLI_CMD_IDSSUP_H

#include "cli.h"

cli_fn cmd_ids_sup_list, cmd_ids_sup_add, cmd_ids_sup_delete;

#endif
