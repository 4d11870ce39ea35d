/*
 * cmd_image.h - disk images a tenant brings (docs/images.md): upload a
 * qcow2 or raw file (streamed; the server checks it before it answers),
 * delete one. `image list` (cmd_catalog.c) shows them beside the host's.
 */
#ifndef CLOUDLET_CLI_CMD_IMAGE_H
#define CLOUDLET_CLI_CMD_IMAGE_H

#include "cli.h"

cli_fn cmd_image_upload, cmd_image_delete;

#endif
