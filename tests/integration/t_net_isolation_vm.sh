#!/bin/bash
# The isolation matrix, rule, anti-spoofing, restart and clean-up checks of
# t_net_isolation.sh with each tenant's firewall as an appliance VM
# (firewall mode "vm", claim 9) enforcing the same rules.
FW_MODE=vm
. "$(dirname "$0")/t_net_isolation.sh"
