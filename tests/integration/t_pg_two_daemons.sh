#!/bin/bash
# Two cloudletd processes on one PostgreSQL (pg_lib.sh) and one agent.
# 1. 40 concurrent creates split between the two, quota 10 VMs: exactly 10
#    accepted, every one of them ends succeeded, 10 VMs on the host.
# 2. Another tenant, 40 more creates; the second cloudletd is killed with -9
#    while one of its operations runs: the survivor takes its operations
#    over when their lease runs out (store_lease.h), every operation ends
#    succeeded or failed (none stays pending or running), the quota still
#    holds, and the records match the agent's VM list.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
CP2_PID=

cp2_stop() {
	[ -n "$CP2_PID" ] && kill -9 "$CP2_PID" 2>/dev/null && wait "$CP2_PID" 2>/dev/null
	CP2_PID=
}
# Before pg_stop: hooks run in order.
CLEANUP_HOOKS="cp2_stop $CLEANUP_HOOKS"

# The second cloudletd on the same database and agent; sets URL2.
cp2_start() {
	cp_launch "$T/cp2" "$T/cp2.log" --store "$CP_STORE" || fail "the second cloudletd did not start"
	CP2_PID=$LAUNCH_PID
	URL2=$LAUNCH_URL
}

sql() { pg_as psql -X -A -t -q "$PG_URL" -c "$1"; }

# Send 40 creates for a tenant at once, odd ones to the first cloudletd,
# even ones to the second; responses in $T/<tag>/.
burst() {
	tag=$1 token=$2
	mkdir -p "$T/$tag"
	BURST_PIDS=
	for i in $(seq 1 40); do
		u=$URL
		[ $((i % 2)) = 0 ] && u=$URL2
		curl -s -o "$T/$tag/r$i" -w '%{http_code}\n' -H "Authorization: Bearer $token" \
			--data-binary "{\"name\":\"$tag$i\",\"service\":\"web-hosting\",\"memory_mib\":128}" \
			"$u/v1/vms" >"$T/$tag/s$i" &
		BURST_PIDS="$BURST_PIDS $!"
	done
}

# Every operation in the database ended (bounded wait for a failure
# message, not a timing check).
wait_all_ops() {
	i=0
	while [ "$(sql "SELECT count(*) FROM operations WHERE state IN ('pending', 'running')")" != 0 ]; do
		i=$((i + 1))
		[ $i -lt 1500 ] || fail "operations still unfinished: $(sql "SELECT id, owner, state, message FROM operations WHERE state IN ('pending', 'running')")"
		sleep 0.2
	done
}

# The records are the agent's VMs (reconciliation has settled).
records_match() {
	i=0
	while :; do
		recs=$(sql "SELECT id FROM vms ORDER BY id")
		vms=$(agent_vms | sort)
		[ "$recs" = "$vms" ] && break
		i=$((i + 1))
		[ $i -lt 300 ] || fail "records '$recs' != agent VMs '$vms'"
		sleep 0.2
	done
}

pg_start
CP_STORE=$PG_URL
cp_start
cp2_start
log "two cloudletd on one PostgreSQL: $URL and $URL2"

# ---- 1: exact quota across two processes --------------------------------
read -r TA A < <(new_tenant two-a)
expect_api 200 PUT "/v1/tenants/$TA/quota" "$OPERATOR" \
	'{"max_vcpus":40,"max_memory_mib":8192,"max_disk_gib":100,"max_vms":10}'
burst a "$A"
wait $BURST_PIDS
accepted=$(cat "$T"/a/s* | grep -c '^202$' || true)
refused=$(cat "$T"/a/s* | grep -c '^403$' || true)
expect_eq "$accepted" 10 "creates accepted through two cloudletd"
expect_eq "$refused" 30 "creates refused"
for f in "$T"/a/r*; do
	op=$(jq -r 'select(.kind == "create") | .id' "$f")
	[ -n "$op" ] && wait_op "$op" "$A" >/dev/null
done
expect_eq "$(sql "SELECT count(*) FROM vms WHERE tenant_id = '$TA'")" 10 "records"
split=$(sql "SELECT count(*) FROM operations GROUP BY owner ORDER BY owner" | paste -sd' ')
records_match
log "40 creates through two cloudletd: 10 accepted ($split per cloudletd), 30 refused, 10 VMs"

# ---- 2: one cloudletd killed mid-way ------------------------------------
read -r TB B < <(new_tenant two-b)
expect_api 200 PUT "/v1/tenants/$TB/quota" "$OPERATOR" \
	'{"max_vcpus":40,"max_memory_mib":8192,"max_disk_gib":100,"max_vms":10}'
ME2=$(grep -o 'instance ci-[0-9a-f]*' "$T/cp2.log" | head -n 1 | cut -d' ' -f2)
[ -n "$ME2" ] || fail "no instance id in the second cloudletd's log"
burst b "$B"
i=0
until [ "$(sql "SELECT count(*) FROM operations WHERE owner = '$ME2' AND state = 'running' AND tenant_id = '$TB'")" -gt 0 ]; do
	i=$((i + 1))
	[ $i -lt 600 ] || fail "the second cloudletd never ran an operation of the burst"
	sleep 0.05
done
kill -9 "$CP2_PID"
wait "$CP2_PID" 2>/dev/null || true
CP2_PID=
left=$(sql "SELECT id FROM operations WHERE owner = '$ME2' AND state IN ('pending', 'running')")
log "second cloudletd killed with $(echo $left | wc -w) of its operations unfinished"
wait $BURST_PIDS || true
wait_all_ops
expect_eq "$(sql "SELECT count(*) FROM operations WHERE state NOT IN ('succeeded', 'failed')")" 0 \
	"operations neither succeeded nor failed"
# Each one the dead cloudletd left is now the survivor's, and ended.
taken=0
for op in $left; do
	expect_eq "$(sql "SELECT owner <> '$ME2' FROM operations WHERE id = '$op'")" t "$op taken over"
	taken=$((taken + 1))
done
n=$(sql "SELECT count(*) FROM vms WHERE tenant_id = '$TB'")
[ "$n" -le 10 ] || fail "tenant B has $n VMs over its quota of 10"
records_match
log "kill -9 mid-way: $taken operations taken over, all ended, $n VMs of B, records match the host"
