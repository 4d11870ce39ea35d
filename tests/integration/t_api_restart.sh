#!/bin/bash
# cloudletd restarts during and after operations: a VM made before a
# restart is still there and manageable; kill -9 in the middle of a create
# resumes the operation at the next start, which finds the VM the agent
# already has and ends succeeded (no second VM, nothing orphaned, on the
# host or in the store).
. "$(dirname "$0")/lib.sh"
cp_start
read -r TA A <<<"$(new_tenant restart-co)"

expect_api 202 POST /v1/vms "$A" '{"name":"keeper","service":"web-hosting"}'
keeper=$(printf '%s' "$BODY" | jq -r .vm_id)
op=$(printf '%s' "$BODY" | jq -r .id)
# Waiting without polling: ?wait answers once the progress is no longer
# ?progress or the operation has ended (or after 60 s), so a handful of
# answers follow the whole create; a server that answered at once would
# give hundreds while the guest boots.
p=0 answers=0 seen=
while :; do
	expect_api 200 GET "/v1/operations/$op?wait=60&progress=$p" "$A"
	answers=$((answers + 1))
	st=$(printf '%s' "$BODY" | jq -r .state)
	p=$(printf '%s' "$BODY" | jq -r .progress)
	seen="$seen $st/$p"
	case $st in succeeded | failed) break ;; esac
	[ $answers -lt 8 ] || fail "?wait keeps answering before anything changed:$seen"
done
expect_eq "$st" succeeded "keeper's create"
log "the create, followed with ?wait: $answers answers:$seen"
expect_api 400 GET "/v1/operations/$op?wait=61" "$A"

# A clean restart after the operation.
cp_stop
cp_start
expect_api 200 GET "/v1/vms/$keeper" "$A"
expect_eq "$(printf '%s' "$BODY" | jq -r .state)" running "keeper after restart"

# kill -9 while a create is running (the guest is booting).
expect_api 202 POST /v1/vms "$A" '{"name":"resumed","service":"web-hosting"}'
op=$(printf '%s' "$BODY" | jq -r .id)
resumed=$(printf '%s' "$BODY" | jq -r .vm_id)
i=0
until agent_vms | grep -q "$resumed"; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "the create never reached the host"
	sleep 0.1
done
agent_id=$(vm_field "$resumed" .id)
cp_stop -KILL
log "killed cloudletd while $resumed was being created"
cp_start
result=$(wait_op "$op" "$A")
expect_eq "$(printf '%s' "$result" | jq -r .state)" succeeded "resumed create"
expect_api 200 GET "/v1/vms/$resumed" "$A"
expect_eq "$(printf '%s' "$BODY" | jq -r '.state + " " + (.ready | tostring)')" "running true" \
	"resumed VM"
expect_eq "$(vm_field "$resumed" .id)" "$agent_id" "the host's VM (the same one, not made again)"
expect_eq "$(agent_vms | grep -c "$resumed")" 1 "VMs of that name on the host"
expect_match "$(cat "$T/cp.log")" "resuming it" "cloudletd's log"
log "the interrupted create was resumed and carried on with the VM the host had"

# A record an older cloudletd left "deleting" with no operation: the
# reconciliation finishes the delete, on the host and in the store.
cp_stop
runuser -u cloudlet -- sqlite3 -bail "$T/cp/cloudlet.db" \
	"UPDATE vms SET state = 'deleting' WHERE id = '$resumed'"
cp_start
i=0
while :; do
	api GET "/v1/vms/$resumed" "$A"
	[ "$STATUS" = 404 ] && ! agent_vms | grep -q "$resumed" && break
	i=$((i + 1))
	[ $i -lt 150 ] || fail "the half-done delete of $resumed was not finished ($STATUS $BODY)"
	sleep 0.2
done
expect_api 200 GET "/v1/tenants/$TA/quota" "$OPERATOR"
expect_eq "$(printf '%s' "$BODY" | jq -r .used.vms)" 1 "VMs counted after the finished delete"
log "a half-done delete was finished by reconciliation"

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
