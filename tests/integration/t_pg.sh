#!/bin/bash
# cloudletd on PostgreSQL (a real PostgreSQL 15 started for the test,
# pg_lib.sh) with one agent: a tenant, VMs created, listed and deleted
# through the API; the database server restarted in the middle
# (pg_ctl restart): cloudletd reconnects and keeps working, nothing is
# lost (records, operations, events from before the restart are there).
# The connection string never shows in cloudletd's log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
pg_start
CP_STORE="$PG_URL&password=s3cret-not-logged"
cp_start
read -r TA A < <(new_tenant pg-acme)
expect_api 200 PUT "/v1/tenants/$TA/quota" "$OPERATOR" \
	'{"max_vcpus":4,"max_memory_mib":1024,"max_disk_gib":10,"max_vms":3}'

expect_api 202 POST /v1/vms "$A" '{"name":"one","service":"web-hosting","memory_mib":128}'
ONE=$(jq -r .vm_id <<<"$BODY")
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
expect_api 409 POST /v1/vms "$A" '{"name":"one","service":"web-hosting","memory_mib":128}'
expect_api 200 GET /v1/vms "$A"
expect_eq "$(jq -r '.[] | .name + " " + .state + " " + (.ready|tostring)' <<<"$BODY")" \
	"one running true" "VM list"
expect_eq "$(agent_vms | wc -l)" 1 "VMs on the host"
log "VM one created on PostgreSQL"

# The database restarts: every connection cloudletd holds is gone.
pg_restart
log "PostgreSQL restarted"
expect_api 200 GET /v1/vms "$A"
expect_eq "$(jq -r '.[].name' <<<"$BODY")" one "VM list after the restart"
expect_api 202 POST /v1/vms "$A" '{"name":"two","service":"web-hosting","memory_mib":128}'
TWO=$(jq -r .vm_id <<<"$BODY")
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
expect_api 200 GET "/v1/tenants/$TA/quota" "$OPERATOR"
expect_eq "$(jq -c .used <<<"$BODY")" '{"vcpus":2,"memory_mib":256,"disk_gib":2,"vms":2}' "usage"

# Another restart while a delete runs: the delete still ends.
expect_api 202 DELETE "/v1/vms/$ONE" "$A"
DEL=$(jq -r .id <<<"$BODY")
pg_restart
wait_op "$DEL" "$A" >/dev/null
expect_api 404 GET "/v1/vms/$ONE" "$A"
expect_api 200 GET /v1/vms "$A"
expect_eq "$(jq -r '.[].id' <<<"$BODY")" "$TWO" "VM list after the delete"
expect_eq "$(agent_vms | wc -l)" 1 "VMs on the host after the delete"
expect_api 200 GET /v1/events "$OPERATOR"
expect_match "$BODY" "vm.delete" "events"
grep -q s3cret "$T/cp.log" && fail "the store's password is in cloudletd's log"
grep -q "PostgreSQL database cloudlet" "$T/cp.log" || fail "no store line in the log"
log "PostgreSQL restarted twice: nothing lost"
