/*
 * cmd_volume.h - the storage commands: volumes (cmd_volume.c) and storage
 * alerts (cmd_alert.c). A volume is named by its id or its name; a VM by
 * its id or name, resolved like the VM commands.
 */
#ifndef CLOUDLET_CLI_CMD_VOLUME_H
#define CLOUDLET_CLI_CMD_VOLUME_H

#include "cli.h"

cli_fn cmd_volume_create, cmd_volume_list, cmd_volume_show, cmd_volume_grow,
    cmd_volume_snapshot, cmd_volume_clone, cmd_volume_attach, cmd_volume_detach,
    cmd_volume_scan, cmd_volume_delete;
cli_fn cmd_alert_list;

/* The id of the volume the user means (an exact id, else a unique name of
 * GET /v1/volumes) into id. Prints why not. 0 or -1. */
int cmd_volume_resolve(struct cli *c, const char *ref, char *id, size_t len);

#endif
