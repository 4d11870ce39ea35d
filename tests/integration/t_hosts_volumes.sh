#!/bin/bash
# Volumes and storage alerts with several hosts (docs/hosts.md): two
# simulated hosts h1 and h2, each with its own storage pool (two device
# files, its own cloudlet-storaged), one cloudletd.
#   - a volume created with "vm" goes to that VM's host, one without to the
#     tenant's home host; the operator sees each volume's host, the tenant
#     does not;
#   - a volume attaches only to a VM on its host (409 otherwise);
#   - EICAR written inside a guest on each host becomes an alert of the
#     right tenant and volume from both hosts: each host numbers its alerts
#     from 1, and neither hides the other's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts_lib.sh"

dc_make 2
trap 'rc=$?; set +e; [ $rc -eq 0 ] || hosts_dump >&2; hosts_stop; (exit $rc); cleanup' EXIT
for n in 1 2; do
	host_start "$n" --storaged "${STORAGED_BIN:-$ROOT/build/bin/cloudlet-storaged}" \
		--storage-device "$T/h$n/dev0" --storage-device "$T/h$n/dev1" \
		--storage-device-size 2G --storage-signatures "$ROOT/signatures"
done
cp_start
hosts_add
read -r TA A <<<"$(new_tenant hv)"
hid() { cli --json host show "$1" | jq -r .id; }
H1=$(hid h1) H2=$(hid h2)

vm() { # NAME: prints its id (spread: the first on h1, the second on h2)
	expect_api 202 POST /v1/vms "$A" "{\"name\":\"$1\",\"service\":\"web-hosting\",\"memory_mib\":160}"
	printf '%s' "$BODY" | jq -r .vm_id
}
V1=$(vm v1) V2=$(vm v2)
for v in "$V1" "$V2"; do ready "$A" "$v"; done
host_of() { api GET "/v1/vms/$1" "$OPERATOR"; printf '%s' "$BODY" | jq -r .host_id; }
expect_eq "$(host_of "$V1") $(host_of "$V2")" "$H1 $H2" "hosts of v1 and v2"

# Where volumes go; who sees it.
expect_api 201 POST /v1/volumes "$A" "{\"name\":\"d2\",\"size_gib\":1,\"vm\":\"$V2\"}"
D2=$(jq -r .id <<<"$BODY")
expect_eq "$(jq -r 'has("host_id")' <<<"$BODY")" false "host_id in the tenant's view of a new volume"
expect_api 201 POST /v1/volumes "$A" '{"name":"d1","size_gib":1}'
D1=$(jq -r .id <<<"$BODY")
expect_api 200 GET "/v1/volumes/$D2" "$OPERATOR"
expect_eq "$(jq -r .host_id <<<"$BODY")" "$H2" "d2's host (its VM's)"
expect_api 200 GET "/v1/volumes/$D1" "$OPERATOR"
expect_eq "$(jq -r .host_id <<<"$BODY")" "$H1" "d1's host (the tenant's home)"
expect_api 200 GET /v1/volumes "$A"
expect_eq "$(jq -r '[.[] | has("host_id")] | any' <<<"$BODY")" false "host_id in the tenant's volume list"
expect_api 404 POST /v1/volumes "$A" '{"name":"d3","size_gib":1,"vm":"vm-0000000000000000"}'
expect_api 400 POST /v1/volumes "$A" '{"name":"d3","size_gib":1,"vm":7}'
"$AGENT_BIN" ctl --socket "$T/h2/agent.sock" raw "{\"op\":\"volume.show\",\"args\":{\"tenant\":\"$TA\",\"name\":\"$D2\"}}" |
	jq -e .ok >/dev/null || fail "h2's pool has no $D2"
log "d2 (vm v2) on h2, d1 on the home host h1; the tenant sees no host"

# Attach: only to a VM on the volume's host.
expect_api 409 POST "/v1/volumes/$D2/actions" "$A" "{\"action\":\"attach\",\"vm\":\"$V1\"}"
expect_match "$BODY" "another host" "the refusal"
expect_api 200 POST "/v1/volumes/$D2/actions" "$A" "{\"action\":\"attach\",\"vm\":\"$V2\"}"
expect_api 200 POST "/v1/volumes/$D1/actions" "$A" "{\"action\":\"attach\",\"vm\":\"$V1\"}"
for v in "$V1" "$V2"; do
	expect_api 202 POST "/v1/vms/$v/actions" "$A" '{"action":"reboot"}'
	wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
done
ready "$A" "$V1"
ready "$A" "$V2"

# EICAR in each guest's volume.
on() { # VM CMD: a shell command on the VM's console, through its host's agent
	if [ "$1" = "$V1" ]; then CTL_SOCK=$T/h1/agent.sock; else CTL_SOCK=$T/h2/agent.sock; fi
	guest_sh "$1" "$2" 90
}
ctl() { "$AGENT_BIN" ctl --socket "$CTL_SOCK" "$@"; }
eicar() { # VM VOLUME
	on "$1" "for d in /sys/block/vd*; do [ \"\$(cat \$d/serial 2>/dev/null)\" = $2 ] && printf '%s' 'X5O!P%@AP[4\\PZX54(P^)7CC)7}\$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!\$H+H*' | dd of=/dev/\${d##*/} bs=4096 seek=10 conv=fsync 2>/dev/null && echo written; done" |
		grep -q written || fail "no disk with serial $2 in $1"
}
eicar "$V1" "$D1"
eicar "$V2" "$D2"
i=0
while :; do
	expect_api 200 GET /v1/alerts "$A"
	got=$(jq -r '[.[] | select(.kind == "malware") | .volume] | unique | sort | join(" ")' <<<"$BODY")
	[ "$got" = "$(printf '%s\n' "$D1" "$D2" | sort | tr '\n' ' ' | sed 's/ $//')" ] && break
	i=$((i + 1))
	[ $i -lt 150 ] || fail "alerts from both hosts expected, got: $BODY"
	sleep 0.2
done
expect_eq "$(jq -r '[.[] | has("host_id")] | any' <<<"$BODY")" false "host_id in the tenant's alerts"
expect_eq "$(jq -r "[.[] | select(.tenant == \"$TA\")] | length == length" <<<"$BODY")" true "alerts' tenant"
expect_api 200 GET /v1/alerts "$OPERATOR"
hosts=$(jq -r '[.[] | select(.kind == "malware") | .host_id] | unique | sort | join(" ")' <<<"$BODY")
expect_eq "$hosts" "$(printf '%s\n' "$H1" "$H2" | sort | tr '\n' ' ' | sed 's/ $//')" "hosts of the malware alerts"
s1=$("$AGENT_BIN" ctl --socket "$T/h1/agent.sock" raw '{"op":"alert.list","args":{"since":0}}' | jq '[.result.alerts[] | select(.kind == "malware") | .seq] | min')
s2=$("$AGENT_BIN" ctl --socket "$T/h2/agent.sock" raw '{"op":"alert.list","args":{"since":0}}' | jq '[.result.alerts[] | select(.kind == "malware") | .seq] | min')
log "malware alerts from h1 (host seq $s1) and h2 (host seq $s2) both in GET /v1/alerts"
