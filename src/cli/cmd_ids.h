/*
 * cmd_ids.h - intrusion detection of the tenant's networks (/v1/ids,
 * docs/ids.md): settings, the sensors' status, alerts.
 */
#ifndef CLOUDLET_CLI_CMD_IDS_H
#define CLOUDLET_CLI_CMD_IDS_H

#include "cli.h"

cli_fn cmd_ids_show, cmd_ids_enable, cmd_ids_disable, cmd_ids_rules_set, cmd_ids_rules_clear,
    cmd_ids_status, cmd_ids_alerts,
    cmd_ids_skipped;

#endif
