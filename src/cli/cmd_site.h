/*
 * cmd_site.h - this control plane's disaster-recovery site (operator
 * routes /v1/site, docs/dr.md): show (role, epoch, the other site, the
 * lease, the database's replication) and failover (at the standby).
 */
#ifndef CLOUDLET_CLI_CMD_SITE_H
#define CLOUDLET_CLI_CMD_SITE_H

#include "cli.h"

cli_fn cmd_site_show, cmd_site_failover;

#endif
