/*
 * cmd_net.h - the network commands: networks (cmd_net.c), the firewall and
 * its rules (cmd_firewall.c), external addresses and port forwards
 * (cmd_address.c), and what they share. Tenant routes: an operator token
 * is refused by the server.
 */
#ifndef CLOUDLET_CLI_CMD_NET_H
#define CLOUDLET_CLI_CMD_NET_H

#include "cli.h"

cli_fn cmd_net_list, cmd_net_create, cmd_net_show, cmd_net_delete;
cli_fn cmd_fw_show, cmd_fw_mode, cmd_rule_list, cmd_rule_add, cmd_rule_delete;
cli_fn cmd_addr_list, cmd_addr_create, cmd_addr_attach, cmd_addr_detach, cmd_addr_delete;
cli_fn cmd_fwd_list, cmd_fwd_add, cmd_fwd_delete;

/* The NICs of a VM (its "nics" array) as a table, after `vm show`. */
void cli_show_nics(const json_t *nics);

/*
 * GET path into *out. Returns an exit status (CLI_FAIL already printed).
 */
int net_get(struct cli *c, const char *path, json_t **out);

/*
 * The name of the object with id in list (an array of {id, name}), or
 * the id itself when it is not there. NULL or "" id gives dflt.
 */
const char *net_name_of(const json_t *list, const char *id, const char *dflt);

/*
 * After a create or update: print obj as --json or with show(), free it.
 * Returns CLI_OK.
 */
int net_print(struct cli *c, json_t *obj, void (*show)(const json_t *));

/* DELETE prefix+id; prints "deleted <what> <id>" (nothing for --json). */
int net_delete(struct cli *c, const char *prefix, const char *id, const char *what);

#endif
