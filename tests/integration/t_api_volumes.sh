#!/bin/bash
# Volumes end to end through the API: tenant A makes a 1 GiB mirrored
# volume, attaches it to a running web-hosting VM (applied by a reboot:
# microvm has no hotplug), the guest sees the disk (serial = volume id);
# EICAR written inside the guest becomes an inline alert in GET /v1/alerts
# with the right tenant, volume and offset, an on-demand scan finds it too,
# a clean volume's scan finds nothing. Tenant B sees 404 for A's volume and
# cannot attach it; the disk quota counts volumes; bad input is a 400.
. "$(dirname "$0")/lib.sh"
agent_start --storaged "${STORAGED_BIN:-$ROOT/build/bin/cloudlet-storaged}" \
	--storage-device "$T/dev0" --storage-device "$T/dev1" --storage-device-size 4G \
	--storage-signatures "$ROOT/signatures"
cp_start
read -r TA A < <(new_tenant vola)
read -r TB B < <(new_tenant volb)
expect_api 200 PUT "/v1/tenants/$TA/quota" "$OPERATOR" \
	'{"max_vcpus":4,"max_memory_mib":2048,"max_disk_gib":4,"max_vms":4}'

# Bad input.
for b in '{"name":"d","size_gib":0}' '{"name":"d","size_gib":5000}' '{"name":"d","size_gib":"1"}' \
	'{"name":"d","size_gib":1.5}' '{"name":"d","size_gib":true}' '{"name":"-d","size_gib":1}' \
	'{"name":"a/b","size_gib":1}' '{"name":"","size_gib":1}' '{"size_gib":1}' '{"name":"d"}' \
	'{"name":"d","size_gib":1,"redundancy":"raid5"}' '{"name":"d","size_gib":1,"tenant":"x"}' \
	'[1]' 'not json'; do
	expect_api 400 POST /v1/volumes "$A" "$b"
done
expect_api 403 POST /v1/volumes "$OPERATOR" '{"name":"d","size_gib":1}'

expect_api 201 POST /v1/volumes "$A" '{"name":"data","size_gib":1}'
VOL=$(jq -r .id <<<"$BODY")
expect_eq "$(jq -r '.redundancy + " " + .state + " " + (.size_gib|tostring)' <<<"$BODY")" "mirror ready 1" "volume"
expect_api 409 POST /v1/volumes "$A" '{"name":"data","size_gib":1}'
expect_api 201 POST /v1/volumes "$A" '{"name":"clean","size_gib":1,"redundancy":"stripe"}'
CLEAN=$(jq -r .id <<<"$BODY")
# 1 + 1 GiB of volumes, a 1 GiB VM disk next: 3 of 4; a 2 GiB volume is too much.
expect_api 403 POST /v1/volumes "$A" '{"name":"big","size_gib":3}'
expect_match "$BODY" quota_exceeded "quota refusal"

# Tenant B: A's volume does not exist for it.
expect_api 404 GET "/v1/volumes/$VOL" "$B"
expect_api 404 DELETE "/v1/volumes/$VOL" "$B"
expect_api 404 POST "/v1/volumes/$VOL/actions" "$B" '{"action":"scan"}'
expect_api 200 GET /v1/volumes "$B"
expect_eq "$BODY" "[]" "B's volume list"

# A's VM; the volume attached while it runs applies at the next start.
expect_api 202 POST /v1/vms "$A" '{"name":"web","service":"web-hosting","memory_mib":192}'
VM=$(jq -r .vm_id <<<"$BODY")
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
expect_api 200 GET "/v1/tenants/$TA/quota" "$OPERATOR"
expect_eq "$(jq -r .used.disk_gib <<<"$BODY")" 3 "disk used (VM disk + volumes)"
expect_api 403 POST /v1/volumes "$A" '{"name":"big","size_gib":2}'

# B's VM cannot take A's volume; A cannot attach to B's VM.
expect_api 202 POST /v1/vms "$B" '{"name":"webb","service":"web-hosting","memory_mib":128}'
VMB=$(jq -r .vm_id <<<"$BODY")
OPB=$(jq -r .id <<<"$BODY")
expect_api 404 POST "/v1/volumes/$VOL/actions" "$B" "{\"action\":\"attach\",\"vm\":\"$VMB\"}"
expect_api 404 POST "/v1/volumes/$VOL/actions" "$A" "{\"action\":\"attach\",\"vm\":\"$VMB\"}"
for b in '{"action":"attach"}' '{"action":"attach","vm":5}' '{"action":"grow","size_gib":0}' \
	'{"action":"grow"}' '{"action":"snapshot","name":"x y"}' '{"action":"explode"}' \
	'{"action":"scan","extra":1}' '{}'; do
	expect_api 400 POST "/v1/volumes/$VOL/actions" "$A" "$b"
done

expect_api 200 POST "/v1/volumes/$VOL/actions" "$A" "{\"action\":\"attach\",\"vm\":\"$VM\"}"
expect_eq "$(jq -r '.vm_id + " " + (.restart_required|tostring)' <<<"$BODY")" "$VM true" "attached"
expect_api 409 POST "/v1/volumes/$VOL/actions" "$A" "{\"action\":\"attach\",\"vm\":\"$VM\"}"
expect_api 409 DELETE "/v1/volumes/$VOL" "$A"
expect_api 202 POST "/v1/vms/$VM/actions" "$A" '{"action":"reboot"}'
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
wait_op "$OPB" "$B" >/dev/null

# The guest's disk whose serial is the volume id.
DEV=$(guest_sh "$VM" "for d in /sys/block/vd*; do [ \"\$(cat \$d/serial 2>/dev/null)\" = $VOL ] && echo \${d##*/}; done" | tr -d '\r' | grep '^vd' || true)
[ -n "$DEV" ] || fail "the guest has no disk with serial $VOL"
SIZE=$(guest_sh "$VM" "blockdev --getsize64 /dev/$DEV" | tr -d '\r' | grep '^[0-9]')
expect_eq "$SIZE" 1073741824 "volume size in the guest"
log "guest sees volume $VOL as /dev/$DEV ($SIZE bytes)"

# EICAR written inside the guest, 40 KiB into the disk.
t0=$(date +%s%N)
guest_sh "$VM" "printf '%s' 'X5O!P%@AP[4\\PZX54(P^)7CC)7}\$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!\$H+H*' | dd of=/dev/$DEV bs=4096 seek=10 conv=fsync 2>/dev/null; echo written" | grep -q written ||
	fail "write in the guest"
i=0
while :; do
	expect_api 200 GET "/v1/alerts?volume=$VOL" "$A"
	n=$(jq '[.[] | select(.kind == "malware" and .source == "inline" and .offset == 40960)] | length' <<<"$BODY")
	[ "$n" -ge 1 ] && break
	i=$((i + 1))
	[ $i -lt 100 ] || fail "no inline alert for $VOL: $BODY"
	sleep 0.2
done
log "inline alert after $((($(date +%s%N) - t0) / 1000000)) ms: $(jq -c '.[0] | {tenant, volume, offset, signature, engine}' <<<"$BODY")"
expect_eq "$(jq -r '.[0].tenant' <<<"$BODY")" "$TA" "alert tenant"
jq -e '.[0] | has("time") and has("signature") and has("engine")' <<<"$BODY" >/dev/null || fail "alert fields: $BODY"
expect_api 200 GET /v1/alerts "$B"
expect_eq "$BODY" "[]" "B's alerts"
expect_api 200 GET /v1/alerts "$OPERATOR"
jq -e "[.[] | select(.volume == \"$VOL\")] | length >= 1" <<<"$BODY" >/dev/null || fail "operator does not see the alert"

# On demand: the scan of the running VM's volume finds it, a clean one nothing.
expect_api 200 POST "/v1/volumes/$VOL/actions" "$A" '{"action":"scan"}'
jq -e '[.findings[] | select(.offset == 40960 and .volume == "'"$VOL"'")] | length >= 1' <<<"$BODY" >/dev/null ||
	fail "scan did not find EICAR: $BODY"
log "on-demand scan: $(jq -c '{bytes_scanned, duration_ms, findings: (.findings | length)}' <<<"$BODY")"
expect_api 200 POST "/v1/volumes/$CLEAN/actions" "$A" '{"action":"scan"}'
expect_eq "$(jq '.findings | length' <<<"$BODY")" 0 "findings on the clean volume"

# Snapshot, clone, grow (quota), detach, delete.
expect_api 200 POST "/v1/volumes/$CLEAN/actions" "$A" '{"action":"grow","size_gib":2}'
expect_api 403 POST "/v1/volumes/$CLEAN/actions" "$A" '{"action":"snapshot","name":"snap"}'
expect_api 200 GET "/v1/volumes/$CLEAN" "$A"
expect_eq "$(jq -r .size_gib <<<"$BODY")" 2 "grown"
expect_api 400 POST "/v1/volumes/$CLEAN/actions" "$A" '{"action":"grow","size_gib":1}'
expect_api 200 POST "/v1/volumes/$VOL/actions" "$A" '{"action":"detach"}'
expect_eq "$(jq -r '.vm_id' <<<"$BODY")" null "detached"
expect_api 204 DELETE "/v1/volumes/$CLEAN" "$A"
expect_api 200 PUT "/v1/tenants/$TA/quota" "$OPERATOR" \
	'{"max_vcpus":4,"max_memory_mib":2048,"max_disk_gib":8,"max_vms":4}'
expect_api 201 POST "/v1/volumes/$VOL/actions" "$A" '{"action":"snapshot","name":"snap"}'
SNAP=$(jq -r .id <<<"$BODY")
expect_eq "$(jq -r '.readonly' <<<"$BODY")" true "snapshot read-only"
expect_api 400 POST "/v1/volumes/$SNAP/actions" "$A" "{\"action\":\"attach\",\"vm\":\"$VM\"}"
expect_api 201 POST "/v1/volumes/$SNAP/actions" "$A" '{"action":"clone","name":"copy"}'
expect_eq "$(jq -r '.readonly' <<<"$BODY")" false "clone writable"
expect_api 200 GET /v1/volumes "$A"
expect_eq "$(jq -r '[.[].name] | sort | join(" ")' <<<"$BODY")" "copy data snap" "A's volumes"

# The same through the CLI.
cl() { CLOUDLET_URL=$URL CLOUDLET_CONFIG=/dev/null CLOUDLET_TOKEN=$A "$CLI_BIN" "$@"; }
cl volume create cli-vol --size 1 >/dev/null || fail "cli volume create"
cl volume list | grep -q "^cli-vol .* 1 GiB .*mirror" || fail "cli volume list: $(cl volume list)"
cl volume attach cli-vol web | grep -q "next start" || fail "cli volume attach"
expect_eq "$(cl --json volume show cli-vol | jq -r .vm_id)" "$VM" "cli attach"
cl volume detach cli-vol >/dev/null || fail "cli volume detach"
cl volume scan data | grep -q "offset 40960: " || fail "cli volume scan: $(cl volume scan data)"
cl alert list --volume data | grep -q "malware .*40960" || fail "cli alert list: $(cl alert list)"
cl volume delete cli-vol | grep -q "deleted volume" || fail "cli volume delete"
must_fail cl volume show cli-vol | grep -q "no volume" || fail "cli show of a deleted volume"
