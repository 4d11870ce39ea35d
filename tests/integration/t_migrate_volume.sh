#!/bin/bash
# Moving a VM with volumes between hosts (docs/migration.md, issue 14):
# three simulated hosts with storage pools (hosts_lib.sh), one cloudletd.
# Tenant A's web VM on h1 (its root a volume of h1's pool) with an attached
# mirrored volume to which a guest process appends numbered 16-byte records
# (record i at offset 16*i, each written with fsync);
#   - it moves live to h2 while an outside computer polls its web server
#     every 20 ms through the tenant's firewall and external address: no
#     connection refused, the guest's uptime goes on, the appender runs on;
#     afterwards every record 0..N is there once and in place (read back
#     with the guest's page cache dropped, so from h2's pool), the volume
#     record says h2, h1's pool has neither the volume nor the root volume
#     and h1 no VM; EICAR written by the guest on h2 becomes an alert of h2;
#   - failures, each leaving the VM running on h2 unchanged (same QEMU pid,
#     records still complete) and the destination holding nothing (no VM,
#     no QEMU, no tap, no volume in its pool):
#       a cancel while RAM moves (DELETE /v1/vms/{id}/migrate; the move's
#       bandwidth is set low so that it is still moving), and one right
#       after the move was asked for (its destination still preparing),
#       the destination's agent killed while RAM moves (and restarted: it
#       removes the half-made VM, so the source's migration fails),
#       the source's agent killed while RAM moves (and restarted: it
#       cancels the migration and keeps the VM and its volumes),
#       a destination without room (h3, no memory for VMs): refused before
#       anything is made there,
#       a pool without room (h1's prepare told the volume holds 1 TiB):
#       refused before anything is made there;
#   - then stopped, it moves cold back to h1 (root volume and volume copied,
#     thin), starts there with the same id, MAC, hostname and address, and
#     every record is in place; h2 holds nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts_lib.sh"

OUT=clo-mv-$$
dc_make 3
trap 'rc=$?; set +e; [ -n "${POLL_PID-}" ] && kill "$POLL_PID" 2>/dev/null; [ $rc -eq 0 ] || hosts_dump >&2; hosts_stop; (exit $rc); cleanup' EXIT
storage_args() {
	echo --storaged "${STORAGED_BIN:-$ROOT/build/bin/cloudlet-storaged}" \
		--storage-device "$T/h$1/dev0" --storage-device "$T/h$1/dev1" \
		--storage-device-size 4G --storage-signatures "$ROOT/signatures"
}
mkdir -p "$T/h1" "$T/h2" "$T/h3"
# shellcheck disable=SC2046
host_start 1 $(storage_args 1)
# shellcheck disable=SC2046
host_start 2 $(storage_args 2)
cp_start
HOSTS_N=2 hosts_add
read -r TA A <<<"$(new_tenant migvol)"
expect_api 200 PUT "/v1/tenants/$TA/quota" "$OPERATOR" \
	'{"max_vcpus":4,"max_memory_mib":2048,"max_disk_gib":8,"max_vms":4}'
hid() { cli --json host show "$1" | jq -r .id; }
H1=$(hid h1) H2=$(hid h2)
host_of() { api GET "/v1/vms/$1" "$OPERATOR"; printf '%s' "$BODY" | jq -r .host_id; }
actl() { "$AGENT_BIN" ctl --socket "$T/h$1/agent.sock" "${@:2}"; }
# A host's volumes but the image bases (the platform's, shared by all VMs).
pool_vols() { actl "$1" raw '{"op":"volume.list","args":{}}' | jq -r '.result[].name | select(startswith("img-") | not)' | sort | tr '\n' ' '; }
allocated() { actl "$1" raw '{"op":"volume.list","args":{}}' | jq -r --arg v "$2" '.result[] | select(.name == $v) | .allocated_bytes'; }

expect_api 202 POST /v1/vms "$A" '{"name":"web","service":"web-hosting","memory_mib":160}'
WEB=$(jq -r .vm_id <<<"$BODY")
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
expect_eq "$(host_of "$WEB")" "$H1" "web's host"
expect_api 201 POST /v1/volumes "$A" "{\"name\":\"data\",\"size_gib\":1,\"vm\":\"$WEB\"}"
VOL=$(jq -r .id <<<"$BODY")
expect_api 200 POST "/v1/volumes/$VOL/actions" "$A" "{\"action\":\"attach\",\"vm\":\"$WEB\"}"
expect_api 202 POST "/v1/vms/$WEB/actions" "$A" '{"action":"reboot"}'
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
ready "$A" "$WEB"
VID=$(actl 1 --json vm show "$WEB" | jq -r .id)
expect_eq "$(actl 1 --json vm show "$WEB" | jq -r .root_format)" volume "web's root on h1"
expect_match "$(pool_vols 1)" "$VOL" "h1's pool"
expect_match "$(pool_vols 1)" "root-$VID" "h1's pool"

CTL_SOCK=$T/h1/agent.sock
ctl() { "$AGENT_BIN" ctl --socket "$CTL_SOCK" "$@"; }
DEV=$(guest_sh "$WEB" "for d in /sys/block/vd*; do [ \"\$(cat \$d/serial 2>/dev/null)\" = $VOL ] && echo \${d##*/}; done" | tr -d '\r' | grep '^vd' || true)
[ -n "$DEV" ] || fail "the guest has no disk with serial $VOL"
# The appender: record i ("%15d\n") at offset 16*i, fsync'd; /tmp/last
# names the last record written (replaced by a rename, so a reader never
# sees it empty); /tmp/stop ends it.
guest_sh "$WEB" "rm -f /tmp/stop /tmp/stopped /tmp/last; (i=0; while [ ! -e /tmp/stop ]; do printf '%15d\\n' \$i | dd of=/dev/$DEV bs=16 seek=\$i conv=notrunc,fsync 2>/dev/null || break; echo \$i >/tmp/last.t; mv /tmp/last.t /tmp/last; i=\$((i + 1)); usleep 20000; done; touch /tmp/stopped) >/dev/null 2>&1 & true" >/dev/null
last() { guest_sh "$WEB" "cat /tmp/last" | tr -d '\r' | grep '^[0-9]' | tail -n 1; }
# records: "<records in place> <records read>" of 0..last, read from the
# disk (the guest's page cache dropped first).
records() {
	guest_sh "$WEB" "sync; echo 3 >/proc/sys/vm/drop_caches; n=${1:-\$(cat /tmp/last)}; dd if=/dev/$DEV bs=16 count=\$((n + 1)) 2>/dev/null | awk -v n=\$n '\$0 == sprintf(\"%15d\", NR - 1) {ok++} END {print \"rec\", ok + 0, NR, n + 1}'" |
		tr -d '\r' | grep '^rec ' | tail -n 1 | cut -d' ' -f2-
}
sleep 1
n0=$(last)
[ -n "$n0" ] || fail "the appender does not run"
read -r ok nread want <<<"$(records)"
expect_eq "$ok $nread" "$want $want" "records in place before the move (of 0..$((want - 1)))"

ALLOC1=$(allocated 1 "$VOL")
expect_api 201 POST /v1/addresses "$A" "{\"vm\":\"$WEB\"}"
PUB=$(jq -r .address <<<"$BODY")
netns_add "$OUT"
EXT_NETNS=clhx1-$$ EXT_BRIDGE=chx1$$ outside_attach "$OUT"
reach() { ip netns exec "$OUT" curl -s -o /dev/null --max-time 3 "http://$PUB/"; }
i=0
until reach; do
	i=$((i + 1)); [ $i -lt 60 ] || fail "web not reachable at $PUB"; sleep 1
done

# Live to h2, while the outside polls every 20 ms.
up0=$(guest_sh "$WEB" "cut -d' ' -f1 /proc/uptime" | tr -d '\r' | grep '^[0-9]' | cut -d. -f1)
(
	while :; do
		t=$(date +%s%3N)
		ip netns exec "$OUT" curl -s -o /dev/null --max-time 2 "http://$PUB/"
		echo "$t $?"
		sleep 0.02
	done
) >"$T/poll" 2>/dev/null &
POLL_PID=$!
sleep 1
expect_api 202 POST "/v1/vms/$WEB/migrate" "$OPERATOR" '{"host":"h2"}'
final=$(wait_op "$(jq -r .id <<<"$BODY")" "$OPERATOR")
sleep 1
kill "$POLL_PID"
wait "$POLL_PID" 2>/dev/null || true
POLL_PID=
expect_eq "$(host_of "$WEB")" "$H2" "web's host after the move"
CTL_SOCK=$T/h2/agent.sock
up1=$(guest_sh "$WEB" "cut -d' ' -f1 /proc/uptime" | tr -d '\r' | grep '^[0-9]' | cut -d. -f1)
[ "$up1" -ge "$up0" ] || fail "the guest's uptime went back ($up0 -> $up1 s): it rebooted"
refused=$(awk '$2 == 7' "$T/poll" | wc -l)
late=$(awk '$2 != 0 && $2 != 7' "$T/poll" | wc -l)
gap=$(awk '$2 == 0 {if (p) {d = $1 - p; if (d > m) m = d}; p = $1} END {print m + 0}' "$T/poll")
expect_eq "$refused" 0 "connections refused while moving"
reach || fail "web not reachable through the firewall after the move"
n1=$(last)
sleep 1
n2=$(last)
[ "$n2" -gt "$n1" ] && [ "$n1" -gt "$n0" ] || fail "the appender stopped: records $n0, $n1, $n2"
read -r ok nread want <<<"$(records)"
if [ "$ok $nread" != "$want $want" ]; then
	guest_sh "$WEB" "dd if=/dev/$DEV bs=16 count=$want 2>/dev/null | awk '\$0 != sprintf(\"%15d\", NR - 1) {print NR - 1, \$0; if (++k > 8) exit}'" >&2 || true
	guest_sh "$WEB" "dd if=/dev/$DEV bs=16 count=$want 2>/dev/null | od -A d -c | head -n 40" >&2 || true
fi
expect_eq "$ok $nread" "$want $want" "records in place (of 0..$((want - 1)))"
actl 1 --json vm list | jq -e --arg v "$WEB" 'all(.[]; .name != $v)' >/dev/null || fail "h1 still has the VM"
expect_eq "$(pool_vols 1)" "" "h1's pool after the move"
expect_match "$(pool_vols 2)" "$VOL" "h2's pool after the move"
expect_match "$(pool_vols 2)" "root-$VID" "h2's pool after the move"
api GET "/v1/volumes/$VOL" "$OPERATOR"
expect_eq "$(jq -r .host_id <<<"$BODY") $(jq -r .vm_id <<<"$BODY")" "$H2 $WEB" "the volume's record"
# Thin on h2 too: the 1 GiB volume's holes did not become data.
ALLOC2=$(allocated 2 "$VOL")
[ "$ALLOC2" -le $((ALLOC1 + (8 << 20))) ] || fail "the volume on h2 holds $ALLOC2 bytes, on h1 $ALLOC1"
log "web moved live h1 -> h2 with root volume and volume $VOL: $(jq -c '.timing | {migration_ms, qemu_downtime_ms}' <<<"$final"); outside: $(wc -l <"$T/poll") polls, 0 refused, $late timed out, longest gap $gap ms; uptime $up0 -> $up1 s; $want records, all in place; h1's pool empty; the volume holds $ALLOC1 bytes on h1, $ALLOC2 on h2"

# Scanning goes on in h2's pool: EICAR 100 MiB into the volume.
guest_sh "$WEB" "printf '%s' 'X5O!P%@AP[4\\PZX54(P^)7CC)7}\$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!\$H+H*' | dd of=/dev/$DEV bs=4096 seek=25600 conv=notrunc,fsync 2>/dev/null; echo written" | grep -q written ||
	fail "EICAR write in the guest"
i=0
while :; do
	expect_api 200 GET "/v1/alerts?volume=$VOL" "$OPERATOR"
	[ "$(jq '[.[] | select(.kind == "malware" and .offset == 104857600)] | length' <<<"$BODY")" -ge 1 ] && break
	i=$((i + 1))
	[ $i -lt 100 ] || fail "no alert for EICAR on $VOL after the move: $BODY"
	sleep 0.2
done
expect_eq "$(jq -r '[.[] | select(.offset == 104857600)][0] | "\(.host_id) \(.tenant)"' <<<"$BODY")" "$H2 $TA" "the alert's host and tenant"
log "EICAR written on h2: alert from h2's pool for tenant $TA"

# Failures. The VM stays on h2 unchanged; the destination holds nothing.
QPID=$(actl 2 --json vm show "$WEB" | jq -r .pid)
holds_nothing() { # HOST-NUMBER WHAT
	actl "$1" --json vm list | jq -e --arg v "$WEB" 'all(.[]; .name != $v)' >/dev/null || fail "$2: h$1 has the VM"
	[ -d "$T/h$1/state/vms/$VID" ] && fail "$2: h$1 kept the VM's directory"
	pgrep -f "$T/h$1/state/vms/$VID" >/dev/null && fail "$2: a QEMU of the VM runs on h$1"
	if ip netns list | grep -q "^h${1}n-$TA"; then
		ip netns exec "h${1}n-$TA" ip link show "vt${VID:0:11}0" >/dev/null 2>&1 && fail "$2: h$1 kept the VM's tap"
	fi
	expect_eq "$(pool_vols "$1")" "" "$2: h$1's pool"
}
unchanged() { # WHAT
	expect_eq "$(host_of "$WEB")" "$H2" "$1: the VM's host"
	expect_eq "$(actl 2 --json vm show "$WEB" | jq -r '"\(.state) \(.pid) \(.migration)"')" "running $QPID null" "$1: the VM on h2"
	local a b
	a=$(last)
	sleep 0.5
	b=$(last)
	[ "$b" -gt "$a" ] || fail "$1: the appender stopped ($a, $b)"
	reach || fail "$1: web not reachable"
}
# wait_moving OP: until the source says RAM is moving.
wait_moving() {
	local i=0
	until actl 2 raw "{\"op\":\"vm.migrate.status\",\"args\":{\"name\":\"$WEB\"}}" | jq -e '.result.status == "migrating"' >/dev/null; do
		i=$((i + 1))
		[ $i -lt 600 ] || fail "the move did not reach its RAM phase"
		api GET "/v1/operations/$1" "$OPERATOR"
		[ "$(jq -r .state <<<"$BODY")" = running ] || fail "the move ended early: $BODY"
		sleep 0.1
	done
}

# 1. Cancel while RAM moves (1 MiB/s: it takes a while).
expect_api 409 DELETE "/v1/vms/$WEB/migrate" "$OPERATOR"
expect_api 403 DELETE "/v1/vms/$WEB/migrate" "$A"
expect_api 202 POST "/v1/vms/$WEB/migrate" "$OPERATOR" '{"host":"h1","max_bandwidth_mib":1}'
OP=$(jq -r .id <<<"$BODY")
wait_moving "$OP"
cli vm migrate "$WEB" --cancel | grep -q cancelled || fail "cloudlet vm migrate --cancel"
final=$(wait_op "$OP" "$OPERATOR" may-fail)
expect_eq "$(jq -r .state <<<"$final")" failed "the cancelled move"
expect_match "$(jq -r .error <<<"$final")" cancelled "the cancelled move's error"
unchanged "after a cancel"
holds_nothing 1 "after a cancel"
read -r ok nread want <<<"$(records)"
expect_eq "$ok $nread" "$want $want" "records after a cancel"
log "a cancel while RAM moved: the VM runs on h2 (same QEMU), h1 holds nothing, $want records in place"

# 1b. Cancel at once, while the destination is still being prepared.
expect_api 202 POST "/v1/vms/$WEB/migrate" "$OPERATOR" '{"host":"h1","max_bandwidth_mib":1}'
OP=$(jq -r .id <<<"$BODY")
expect_api 202 DELETE "/v1/vms/$WEB/migrate" "$OPERATOR"
final=$(wait_op "$OP" "$OPERATOR" may-fail)
expect_eq "$(jq -r .state <<<"$final")" failed "the move cancelled at once"
expect_match "$(jq -r .error <<<"$final")" cancelled "the move cancelled at once's error"
unchanged "after a cancel at once"
holds_nothing 1 "after a cancel at once"
log "a cancel right after the request: the VM runs on h2, h1 holds nothing"

# 2. The destination's agent killed while RAM moves, then restarted.
expect_api 202 POST "/v1/vms/$WEB/migrate" "$OPERATOR" '{"host":"h1","max_bandwidth_mib":1}'
OP=$(jq -r .id <<<"$BODY")
wait_moving "$OP"
pgrep -f "$T/h1/state/vms/$VID" >/dev/null || fail "no incoming QEMU on h1"
kill -9 "${APID[1]}"
wait "${APID[1]}" 2>/dev/null || true
# shellcheck disable=SC2046
host_start 1 $(storage_args 1)
final=$(wait_op "$OP" "$OPERATOR" may-fail)
expect_eq "$(jq -r .state <<<"$final")" failed "the move whose destination restarted"
unchanged "after the destination's agent restarted"
holds_nothing 1 "after the destination's agent restarted"
read -r ok nread want <<<"$(records)"
expect_eq "$ok $nread" "$want $want" "records after the destination's restart"
log "the destination's agent killed mid-way: $(jq -r .error <<<"$final"); the VM runs on h2, h1 holds nothing, $want records in place"

# 2b. The source's agent killed while RAM moves, then restarted: it
# cancels the migration and keeps the VM (and its volumes).
expect_api 202 POST "/v1/vms/$WEB/migrate" "$OPERATOR" '{"host":"h1","max_bandwidth_mib":1}'
OP=$(jq -r .id <<<"$BODY")
wait_moving "$OP"
kill -9 "${APID[2]}"
wait "${APID[2]}" 2>/dev/null || true
# shellcheck disable=SC2046
host_start 2 $(storage_args 2)
final=$(wait_op "$OP" "$OPERATOR" may-fail)
expect_eq "$(jq -r .state <<<"$final")" failed "the move whose source restarted"
unchanged "after the source's agent restarted"
holds_nothing 1 "after the source's agent restarted"
expect_match "$(pool_vols 2)" "$VOL" "h2's pool after its agent restarted"
read -r ok nread want <<<"$(records)"
expect_eq "$ok $nread" "$want $want" "records after the source's restart"
log "the source's agent killed mid-way: $(jq -r .error <<<"$final"); the VM runs on h2 with its volumes, h1 holds nothing, $want records in place"

# 3. A destination without room: h3 gives VMs no memory.
# shellcheck disable=SC2046
host_start 3 $(storage_args 3) --mem-overcommit 0.01
cli host add h3 --socket "$T/h3/agent.sock" --underlay 192.168.251.3 >/dev/null || fail "host add h3"
i=0
until [ "$(hstate h3)" = up ]; do
	i=$((i + 1)); [ $i -lt 50 ] || fail "h3 is not up"; sleep 0.2
done
expect_api 202 POST "/v1/vms/$WEB/migrate" "$OPERATOR" '{"host":"h3"}'
final=$(wait_op "$(jq -r .id <<<"$BODY")" "$OPERATOR" may-fail)
expect_eq "$(jq -r .state <<<"$final")" failed "the move to a full host"
expect_match "$(jq -r .error <<<"$final")" "not enough memory" "the move to a full host's error"
grep -q "root-$VID\|$VOL" "$T/h3/state/storage/storaged.log" 2>/dev/null && fail "h3's storage server saw the VM's volumes"
unchanged "after a move to a full host"
holds_nothing 3 "after a move to a full host"
log "a destination without room: refused ($(jq -r .error <<<"$final")), nothing made there"

# 4. A pool without room, at the agent: h1 told that the volume holds 1 TiB
# on the source refuses a (cold) prepare before anything is made.
view=$(actl 2 --json vm show "$WEB")
res=$(actl 1 raw "$(jq -c --arg v "$VOL" '{op:"vm.migrate.prepare",args:{spec:., id:.id, live:false, volumes:[{name:$v, size:1073741824, redundancy:"mirror", allocated:1099511627776}]}}' <<<"$view")" || true)
expect_eq "$(jq -r .error.code <<<"$res")" insufficient_resources "prepare on a pool without room"
expect_match "$(jq -r .error.message <<<"$res")" "storage pool" "prepare on a pool without room"
holds_nothing 1 "after a prepare on a pool without room"
log "a pool without room: $(jq -r .error.message <<<"$res"); h1 holds nothing"

# Cold: the appender stops, the VM stops and moves back to h1 with its
# root volume and volume, and starts there with the same identity.
guest_sh "$WEB" "touch /tmp/stop; while [ ! -e /tmp/stopped ]; do usleep 20000; done" >/dev/null
N=$(last)
read -r ok nread want <<<"$(records)"
expect_eq "$ok $nread" "$want $want" "records before the cold move"
ID0=$(actl 2 --json vm show "$WEB" | jq -c '{id, mac: .nics[0].mac, hostname}')
ADDR0=$(api GET "/v1/vms/$WEB" "$OPERATOR"; jq -r '.nics[0].address' <<<"$BODY")
expect_api 202 POST "/v1/vms/$WEB/actions" "$A" '{"action":"stop"}'
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
expect_api 202 POST "/v1/vms/$WEB/migrate" "$OPERATOR" '{"host":"h1"}'
final=$(wait_op "$(jq -r .id <<<"$BODY")" "$OPERATOR")
expect_eq "$(host_of "$WEB")" "$H1" "the VM's host after the cold move"
holds_nothing 2 "after the cold move"
expect_match "$(pool_vols 1)" "$VOL" "h1's pool after the cold move"
expect_match "$(pool_vols 1)" "root-$VID" "h1's pool after the cold move"
ALLOC3=$(allocated 1 "$VOL")
[ "$ALLOC3" -le $((ALLOC2 + (8 << 20))) ] || fail "the volume on h1 holds $ALLOC3 bytes after the cold move, on h2 $ALLOC2"
api GET "/v1/volumes/$VOL" "$OPERATOR"
expect_eq "$(jq -r .host_id <<<"$BODY")" "$H1" "the volume's host after the cold move"
expect_api 202 POST "/v1/vms/$WEB/actions" "$A" '{"action":"start"}'
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
ready "$A" "$WEB"
CTL_SOCK=$T/h1/agent.sock
expect_eq "$(actl 1 --json vm show "$WEB" | jq -c '{id, mac: .nics[0].mac, hostname}')" "$ID0" "the VM's identity after the cold move"
expect_eq "$(api GET "/v1/vms/$WEB" "$OPERATOR"; jq -r '.nics[0].address' <<<"$BODY")" "$ADDR0" "the VM's address after the cold move"
DEV=$(guest_sh "$WEB" "for d in /sys/block/vd*; do [ \"\$(cat \$d/serial 2>/dev/null)\" = $VOL ] && echo \${d##*/}; done" | tr -d '\r' | grep '^vd' || true)
read -r ok nread want <<<"$(records "$N")"
expect_eq "$ok $nread" "$want $want" "records after the cold move"
reach || fail "web not reachable after the cold move"
log "stopped, moved cold h2 -> h1 with root volume and volume ($(jq -r .message <<<"$final")), started with the same identity $ID0: $want records in place, h2 holds nothing"
