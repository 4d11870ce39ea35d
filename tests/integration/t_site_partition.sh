#!/bin/bash
# A partition between the sites, then a failover at the standby (issue #15,
# docs/dr.md "Fencing the VMs"): site a (primary, host h1) is cut off from
# site b (standby, host h2) while its VM keeps running on h1: its
# cloudletd is frozen (SIGSTOP), so b hears nothing on the site link, and
# a's lease runs out. b fails over and starts the VM from its replica on
# h2. When the partition heals (SIGCONT), a hears b's higher epoch, is
# demoted, and stops the VM on its own host: the two sites never both run
# it once they hear each other, and a refuses every write. Checked: the
# VM runs at b and is stopped on h1 within seconds of the heal, a's role
# is demoted and a write there answers 503.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts_lib.sh"
. "$(dirname "$0")/site_lib.sh"
trap 'rc=$?; set +e; [ -n "${SPID[a]-}" ] && kill -CONT "${SPID[a]}" 2>/dev/null; hosts_stop; (exit $rc); cleanup' EXIT

sites_up
URL=${SURL[a]}
read -r _ KA <<<"$(new_tenant part)"
expect_api 202 POST /v1/vms "$KA" '{"name":"p1","service":"web-hosting","memory_mib":128,"disk_gib":1}'
VM=$(jq -r .vm_id <<<"$BODY")
ready "$KA" "$VM"
H2=$(cli --json host show h2 | jq -r .id)
hstate_vm() { "$AGENT_BIN" ctl --socket "$T/h$1/agent.sock" --json vm show "$VM" 2>/dev/null | jq -r .state; }
# Replicating: two complete points.
for _ in $(seq 1 300); do
	site_get a
	[ "$(jq -r --arg v "$VM" '.replication.vms[]? | select(.vm == $v) | .points' <<<"$BODY")" -ge 2 ] 2>/dev/null && break
	sleep 0.2
done
expect_eq "$(jq -r --arg v "$VM" '.replication.vms[] | select(.vm == $v) | .points >= 2' <<<"$BODY")" true "points made"
log "p1 ($VM) runs on h1, replicated to h2"

# The partition: a's control plane goes silent; its VM runs on.
kill -STOP "${SPID[a]}"
at b POST /v1/site/failover "$OPERATOR"
expect_eq "$STATUS" 200 "failover at b during the partition: $BODY"
URL=${SURL[b]}
for _ in $(seq 1 600); do
	api GET "/v1/vms/$VM" "$OPERATOR"
	[ "$(jq -r '.host_id + "/" + .state + "/" + (.ready | tostring)' <<<"$BODY")" = "$H2/running/true" ] && break
	sleep 0.2
done
expect_eq "$(jq -r '.host_id + "/" + .state + "/" + (.ready | tostring)' <<<"$BODY")" "$H2/running/true" "p1 at b"
expect_eq "$(hstate_vm 1)" running "p1 on h1 while a is cut off (the partition's split, before the heal)"
log "during the partition p1 runs at both sites (a does not know yet)"

# The heal: a hears b at a higher epoch, is demoted, stops its VM.
kill -CONT "${SPID[a]}"
for _ in $(seq 1 300); do
	[ "$(hstate_vm 1)" = stopped ] && break
	sleep 0.2
done
expect_eq "$(hstate_vm 1)" stopped "p1 on h1 after the heal"
site_get a
expect_eq "$(jq -r .role <<<"$BODY")" demoted "a's role after the heal"
at a POST /v1/tenants "$OPERATOR" '{"name":"late"}'
expect_eq "$STATUS" 503 "a write at the demoted a"
expect_eq "$(hstate_vm 2)" running "p1 at b after the heal"
grep -q "fence: $VM on host .* stopped" "$T/site-a.log" || fail "a's log does not say it stopped p1"
log "healed: a demoted, p1 stopped on h1 and running on h2 only; a refuses writes"
