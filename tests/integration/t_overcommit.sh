#!/bin/bash
# The agent starts VMs while their memory fits MemTotal x --mem-overcommit
# minus what it keeps for the host, and refuses the next one with a clear
# error, leaving nothing behind.
. "$(dirname "$0")/lib.sh"
total=$(awk '/^MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
# A budget of about 200 MiB: room for one 128 MiB VM, not two.
ratio=$(awk -v t="$total" 'BEGIN {printf "%.4f", (512 + 200) / t}')
agent_start --mem-overcommit "$ratio"

ctl vm create m1 --image base --vcpus 1 --memory 128 --disk 1 >/dev/null || fail "first VM refused"
out=$(must_fail ctl vm create m2 --image base --vcpus 1 --memory 128 --disk 1)
expect_match "$out" "insufficient_resources" "error code"
expect_match "$out" "not enough memory on this host" "error message"
expect_eq "$(ctl --json vm list | jq -r '[.[].name] | join(",")')" m1 "VMs after the refusal"
expect_eq "$(ls "$T/state/vms" | wc -l)" 1 "VM directories after the refusal"
# A stopped VM holds no memory: its room is there again.
ctl vm create m3 --image base --vcpus 1 --memory 128 --disk 1 --no-start >/dev/null
out=$(must_fail ctl vm start m3)
expect_match "$out" "not enough memory" "start over budget"
ctl vm stop m1 --force >/dev/null
ctl vm start m3 >/dev/null || fail "m3 refused after m1 stopped"
log "memory budget ${ratio} x ${total} MiB - 512 MiB: one 128 MiB VM fits, a second is refused"
