/*
 * cmd_vpn.h - a tenant's VPN channels (/v1/vpn; docs/cli.md "vpn").
 *
 * `vpn peer add` makes the peer's key pair here, on the customer's
 * computer (libsodium), sends only the public key, and writes the ready
 * wg-quick file with the private key (mode 0600): the private key is in
 * that file and nowhere else. --server-key asks the API for a pair
 * instead (returned once). QR codes with libqrencode.
 */
#ifndef CLOUDLET_CLI_CMD_VPN_H
#define CLOUDLET_CLI_CMD_VPN_H

#include "cli.h"

cli_fn cmd_vpn_create, cmd_vpn_list, cmd_vpn_show, cmd_vpn_delete;
cli_fn cmd_vpn_peer_add, cmd_vpn_peer_list, cmd_vpn_peer_revoke, cmd_vpn_peer_config;

#endif
