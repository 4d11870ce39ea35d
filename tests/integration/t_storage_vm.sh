#!/bin/bash
# A running guest writes to a mirrored volume while one backing device file
# is truncated under it: the guest sees no I/O error and reads back what it
# wrote, the failure is a "device" alert, device.replace rebuilds the copy,
# and then the other device can fail without losing anything. Agent level:
# the agent supervises cloudlet-storaged, a storaged killed with -9 is
# restarted and the guest (reconnect-delay) does not notice.
. "$(dirname "$0")/lib.sh"
agent_start --storaged "${STORAGED_BIN:-$ROOT/build/bin/cloudlet-storaged}" \
	--storage-device "$T/dev0" --storage-device "$T/dev1" --storage-device-size 1G

sok() {
	out=$(ctl raw "$(jq -cn --arg op "$1" --argjson a "${2:-{\}}" '{op:$op,args:$a}')" || true)
	[ "$(jq -r .ok <<<"$out")" = true ] || fail "$1 $2: $out"
	jq -c .result <<<"$out"
}

sok volume.create '{"tenant":"t1","name":"vol1","size":268435456}' >/dev/null
# Another tenant's VM cannot have it; without a tenant it cannot either.
out=$(ctl raw '{"op":"vm.create","args":{"name":"thief","image":"base","vcpus":1,"memory_mib":128,"disk_gib":1,"tenant":"t2","volumes":["vol1"]}}' || true)
expect_eq "$(jq -r .error.code <<<"$out")" invalid "other tenant's volume"
out=$(ctl raw '{"op":"vm.create","args":{"name":"thief","image":"base","vcpus":1,"memory_mib":128,"disk_gib":1,"volumes":["vol1"]}}' || true)
expect_eq "$(jq -r .error.code <<<"$out")" invalid "volume without a tenant"

sok vm.create '{"name":"w","image":"base","vcpus":1,"memory_mib":192,"disk_gib":1,"tenant":"t1","volumes":["vol1"]}' >/dev/null
ctl vm wait w ready --timeout 180 >/dev/null || fail "VM not ready"
DEV=$(guest_sh w 'for d in /sys/block/vd*; do [ "$(cat $d/serial 2>/dev/null)" = vol1 ] && echo ${d##*/}; done' | tr -d '\r' | grep '^vd')
[ -n "$DEV" ] || fail "no vol1 disk in the guest"
log "vol1 is /dev/$DEV in the guest"

# 8 x 16 MiB of random data, written with O_DIRECT one chunk after the other.
guest_sh w "head -c 16777216 /dev/urandom >/root/data && md5sum </root/data | cut -c1-32 >/root/sum" >/dev/null
SUM=$(guest_sh w 'cat /root/sum' | tr -d '\r' | grep -E '^[0-9a-f]{32}$')
guest_sh w "(for i in 0 1 2 3 4 5 6 7; do dd if=/root/data of=/dev/$DEV bs=1M seek=\$((i * 16)) oflag=direct 2>/dev/null || echo DDFAIL \$i; done >/root/dd.out; echo WRITER_DONE >>/root/dd.out) >/dev/null 2>&1 & :" >/dev/null
sleep 1
log "truncating device 0 while the guest writes"
truncate -s 0 "$T/dev0"
i=0
while ! guest_sh w 'cat /root/dd.out' | grep -q WRITER_DONE; do
	i=$((i + 1))
	[ $i -lt 120 ] || fail "the guest's writer did not finish"
	sleep 1
done
out=$(guest_sh w 'cat /root/dd.out; dmesg | grep -ci "i/o error"' | tr -d '\r')
printf '%s' "$out" | grep -q DDFAIL && fail "a write failed in the guest: $out"
expect_eq "$(printf '%s\n' "$out" | tail -n 1)" 0 "I/O errors in the guest's dmesg"

check_data() {
	sums=$(guest_sh w "for i in 0 1 2 3 4 5 6 7; do dd if=/dev/$DEV bs=1M skip=\$((i * 16)) count=16 iflag=direct 2>/dev/null | md5sum | cut -c1-32; done" |
		tr -d '\r' | grep -E '^[0-9a-f]{32}$' | sort -u)
	expect_eq "$sums" "$SUM" "data read back ($1)"
}
check_data "device 0 lost"
state=$(sok device.list | jq -r '.[0].state')
expect_eq "$state" failed "device 0 state"
sok alert.list | jq -e '.alerts[] | select(.kind == "device" and .device == 0)' >/dev/null ||
	fail "no device alert"
log "device 0 failed, guest saw no error, data intact; alert: $(sok alert.list | jq -c '[.alerts[] | select(.kind == "device")][0] | {kind, device, message}')"

# Rebuild onto a new file (the agent makes it, sparse, for the server's user).
t0=$(date +%s%N)
sok device.replace "{\"index\":0,\"path\":\"$T/new0\"}" >/dev/null
i=0
while [ "$(sok device.list | jq -r '.[0].state')" != ok ]; do
	i=$((i + 1))
	[ $i -lt 600 ] || fail "rebuild did not finish"
	sleep 0.1
done
log "rebuilt in $((($(date +%s%N) - t0) / 1000000)) ms: $(sok device.list | jq -c '[.[] | {index, state}]')"
expect_eq "$(sok storage.info | jq -r .degraded)" false "pool degraded"
# Two copies again: device 1 may go now.
sok device.fail '{"index":1,"reason":"test: the rebuilt copy must be enough"}' >/dev/null
check_data "device 1 failed after the rebuild"
truncate -s 1G "$T/new1"
chown cloudlet-storage: "$T/new1"
sok device.replace "{\"index\":1,\"path\":\"$T/new1\"}" >/dev/null

# The server is supervised: killed, it comes back and the guest carries on.
old=$(sok storage.info | jq -r .server_pid)
kill -9 "$old"
i=0
while :; do
	new=$(ctl raw '{"op":"storage.info"}' | jq -r '.result.server_pid // empty')
	[ -n "$new" ] && [ "$new" != "$old" ] && break
	i=$((i + 1))
	[ $i -lt 100 ] || fail "cloudlet-storaged was not restarted"
	sleep 0.1
done
check_data "after a storage server restart"
guest_sh w "dd if=/root/data of=/dev/$DEV bs=1M seek=200 count=4 oflag=direct 2>&1 | tail -n 1" | grep -q "records out" ||
	fail "write after the restart"
expect_eq "$(guest_sh w 'dmesg | grep -ci "i/o error"' | tr -d '\r' | tail -n 1)" 0 "I/O errors after the restart"
log "storaged pid $old killed, restarted as $new; the guest saw no error"
