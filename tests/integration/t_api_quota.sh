#!/bin/bash
# Quotas hold, also under concurrent creates: with room for two VMs, eight
# simultaneous creates give exactly two accepted, six refused with
# quota_exceeded; memory and vCPU limits and reconfiguration count too.
. "$(dirname "$0")/lib.sh"
cp_start
read -r TA A <<<"$(new_tenant quota-co)"
expect_api 200 PUT "/v1/tenants/$TA/quota" "$OPERATOR" \
	'{"max_vcpus":4,"max_memory_mib":512,"max_disk_gib":10,"max_vms":2}'

pids=
for i in 1 2 3 4 5 6 7 8; do
	curl -s -o "$T/r$i" -w '%{http_code}\n' -H "Authorization: Bearer $A" \
		--data-binary "{\"name\":\"c$i\",\"service\":\"web-hosting\",\"memory_mib\":128}" \
		"$URL/v1/vms" >"$T/s$i" &
	pids="$pids $!"
done
wait $pids
accepted=$(cat "$T"/s* | grep -c '^202$' || true)
refused=$(cat "$T"/s* | grep -c '^403$' || true)
expect_eq "$accepted" 2 "creates accepted"
expect_eq "$refused" 6 "creates refused"
grep -l quota_exceeded "$T"/r* | wc -l | grep -q '^6$' || fail "refusals do not say quota_exceeded"
for f in "$T"/r*; do
	op=$(jq -r 'select(.kind == "create") | .id' "$f")
	[ -n "$op" ] && wait_op "$op" "$A" >/dev/null
done
expect_api 200 GET "/v1/tenants/$TA/quota" "$OPERATOR"
expect_eq "$(printf '%s' "$BODY" | jq -c .used)" '{"vcpus":2,"memory_mib":256,"disk_gib":2,"vms":2}' "usage"
log "8 concurrent creates: $accepted accepted, $refused refused"

# A third VM is refused even after the others are running; so is growing
# past the memory limit.
expect_api 403 POST /v1/vms "$A" '{"name":"c9","service":"web-hosting","memory_mib":128}'
vm=$(printf '%s' "$(cat "$T"/r*)" | jq -r 'select(.kind == "create") | .vm_id' | head -n1)
expect_api 403 PATCH "/v1/vms/$vm" "$A" '{"memory_mib":512}'
expect_match "$BODY" quota_exceeded "reconfigure over quota"
expect_api 202 PATCH "/v1/vms/$vm" "$A" '{"memory_mib":256}'
wait_op "$(printf '%s' "$BODY" | jq -r .id)" "$A" >/dev/null
expect_api 200 GET "/v1/vms/$vm" "$A"
expect_eq "$(printf '%s' "$BODY" | jq -r .restart_required)" true "restart_required after memory change"
expect_eq "$(printf '%s' "$BODY" | jq -r .memory_mib)" 256 "memory after reconfigure"
expect_eq "$(agent_vms | wc -l)" 2 "VMs on the host"
