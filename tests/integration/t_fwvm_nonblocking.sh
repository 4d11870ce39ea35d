#!/bin/bash
# A firewall appliance's boot holds no lock (agent level). Tenant A's
# firewall is switched to mode vm; its appliance VM is made to hang in its
# boot (SIGSTOP on its QEMU), so A's net.apply cannot finish. Meanwhile
# tenant B creates, lists and deletes a VM on its own network and applies
# its network state, and A's state can be shown: every one of these calls
# must end while A's apply is still waiting. Then the appliance goes on
# (SIGCONT) and A's apply finishes with the rules in the appliance.
#
# Ordering, not timing: "while A's apply is still waiting" is checked by
# A's client process still running, which it must while its appliance is
# stopped.
. "$(dirname "$0")/lib.sh"

A=na-$$ B=nb-$$
EXT=clx-nb-$$ EXTBR=cx$$
EXT_NETNS=$EXT EXT_BRIDGE=$EXTBR
NETNS_LIST="cln-$A clf-$A cln-$B clf-$B $EXT"
agent_start

state() {
	jq -cn --arg t "$1" --arg m "$2" --arg c "$3" '{tenant:$t, mode:$m, networks:[{id:"main",cidr:$c}], rules:[]}'
}
apply() { ctl raw "$(jq -c '{op:"net.apply",args:.}' <<<"$1")"; }
applied() { apply "$1" | jq -e .ok >/dev/null || fail "net.apply refused: $(apply "$1")"; }
applied "$(state "$A" namespace 10.31.0.0/24)"
applied "$(state "$B" namespace 10.32.0.0/24)"

# A goes to mode vm in the background: its call returns once the appliance
# runs and holds the rules.
apply "$(state "$A" vm 10.31.0.0/24)" >"$T/a.out" 2>&1 &
A_APPLY=$!

# Its appliance appears; stop its QEMU in the boot.
i=0
while :; do
	pid=$(ctl --json vm show "fw-$A" 2>/dev/null | jq -r '.pid // 0' || echo 0)
	[ "${pid:-0}" -gt 0 ] && break
	i=$((i + 1))
	[ $i -lt 600 ] || fail "A's appliance never started"
	kill -0 "$A_APPLY" 2>/dev/null || fail "A's apply ended before its appliance ran: $(cat "$T/a.out")"
	sleep 0.1
done
kill -STOP "$pid"
ready=$(ctl --json vm show "fw-$A" | jq -r .ready)
expect_eq "$ready" false "A's appliance ready while stopped"
log "A's appliance (QEMU $pid) stopped in its boot; A's net.apply waits for it"

# B's calls go through meanwhile.
ctl vm create b1 --image web-hosting --vcpus 1 --memory 128 --disk 1 --provision cold \
	--nic "network=$B/main,address=10.32.0.10/24" >/dev/null || fail "B's create"
ctl --json vm list | jq -e 'map(.name) | index("b1")' >/dev/null || fail "B's list"
applied "$(state "$B" namespace 10.32.0.0/24)"
ctl raw "{\"op\":\"net.show\",\"args\":{\"tenant\":\"$A\"}}" | jq -e .ok >/dev/null || fail "A's net.show"
ctl vm delete b1 >/dev/null || fail "B's delete"
kill -0 "$A_APPLY" 2>/dev/null || fail "A's apply ended while its appliance was stopped: $(cat "$T/a.out")"
log "B created, listed and deleted a VM and applied its network while A's apply waited"

# The appliance goes on; A's apply finishes with the appliance configured.
kill -CONT "$pid"
wait "$A_APPLY" || true
jq -e .ok "$T/a.out" >/dev/null || fail "A's apply: $(cat "$T/a.out")"
expect_eq "$(ctl --json vm show "fw-$A" | jq -r .ready)" true "A's appliance ready"
expect_eq "$(ctl raw "{\"op\":\"net.show\",\"args\":{\"tenant\":\"$A\"}}" | jq -r .result.mode)" vm "A's mode"
log "A's apply finished once its appliance ran"

# Clean up through the agent: the appliance goes with the tenant.
ctl raw "{\"op\":\"net.delete\",\"args\":{\"tenant\":\"$A\"}}" | jq -e .ok >/dev/null || fail "delete A"
ctl raw "{\"op\":\"net.delete\",\"args\":{\"tenant\":\"$B\"}}" | jq -e .ok >/dev/null || fail "delete B"
ctl vm show "fw-$A" >/dev/null 2>&1 && fail "A's appliance outlived its tenant"
log "tenants deleted, the appliance with A"
