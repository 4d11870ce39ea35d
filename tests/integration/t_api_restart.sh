#!/bin/bash
# cloudletd restarts during and after operations: a VM made before a
# restart is still there and manageable; kill -9 in the middle of a create
# leaves the operation failed with a reason and nothing orphaned, on the
# host or in the store.
. "$(dirname "$0")/lib.sh"
cp_start
read -r TA A <<<"$(new_tenant restart-co)"

expect_api 202 POST /v1/vms "$A" '{"name":"keeper","service":"web-hosting"}'
keeper=$(printf '%s' "$BODY" | jq -r .vm_id)
wait_op "$(printf '%s' "$BODY" | jq -r .id)" "$A" >/dev/null

# A clean restart after the operation.
cp_stop
cp_start
expect_api 200 GET "/v1/vms/$keeper" "$A"
expect_eq "$(printf '%s' "$BODY" | jq -r .state)" running "keeper after restart"

# kill -9 while a create is running (the guest is booting).
expect_api 202 POST /v1/vms "$A" '{"name":"doomed","service":"web-hosting"}'
op=$(printf '%s' "$BODY" | jq -r .id)
doomed=$(printf '%s' "$BODY" | jq -r .vm_id)
i=0
until agent_vms | grep -q "$doomed"; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "the create never reached the host"
	sleep 0.1
done
cp_stop -KILL
log "killed cloudletd while $doomed was being created"
cp_start
result=$(wait_op "$op" "$A" may-fail)
expect_eq "$(printf '%s' "$result" | jq -r .state)" failed "interrupted create"
expect_match "$(printf '%s' "$result" | jq -r .error)" interrupted "reason"
expect_api 404 GET "/v1/vms/$doomed" "$A"
agent_vms | grep -q "$doomed" && fail "orphaned VM $doomed left on the host"

# Drift repair: a VM removed behind cloudletd's back loses its record; a
# VM of cloudletd's namespace without a record is removed from the host.
ctl vm delete "$keeper" >/dev/null
ctl vm create vm-00000000deadbeef --image base --vcpus 1 --memory 128 --disk 1 --no-start >/dev/null
i=0
while :; do
	api GET "/v1/vms/$keeper" "$A"
	[ "$STATUS" = 404 ] && ! agent_vms | grep -q deadbeef && break
	i=$((i + 1))
	[ $i -lt 100 ] || fail "drift not repaired"
	sleep 0.1
done
expect_api 200 GET /v1/events "$OPERATOR"
expect_match "$BODY" vm.lost "lost VM event"
expect_match "$BODY" vm.orphan_deleted "orphan event"
log "drift repaired both ways"
