#!/bin/bash
# Device loss mid-I/O: a mirrored volume keeps serving without an error
# when one backing file is truncated under it, the failure is an alert,
# device.replace rebuilds redundancy (then the other device can go);
# flipped bytes in one copy are found and repaired by scrub.
. "$(dirname "$0")/storage_lib.sh"

SIZE=$((64 * 1024 * 1024))
sd_devices 2 256M
sd_start
sctl volume.create "{\"name\":\"v\",\"tenant\":\"a\",\"size\":$SIZE}" >/dev/null
sctl export.create '{"vm":"vm1","tenant":"a","volumes":["v"]}' >/dev/null
URI=$(nbd_uri v vm1)
truncate -s $SIZE "$T/ref"
head -c $((40 * 1024 * 1024)) /dev/urandom >"$T/data"
dd if="$T/data" of="$T/ref" conv=notrunc status=none
qemu-img convert -n -f raw -O raw "$T/ref" "$URI" || fail "initial copy"

log "truncating device 0 while a client reads and writes"
(
	for i in $(seq 1 40); do
		qemu-io -f raw -c "read 0 16M" -c "write -P 7 $((48 * 1024 * 1024 + i * 65536)) 65536" \
			-c flush "$URI" || exit 1
	done
) >"$T/io.out" 2>&1 &
iop=$!
EXTRA_PIDS="$EXTRA_PIDS $iop"
sleep 0.3
truncate -s 0 "$T/dev0"
wait "$iop" || fail "the client saw an error: $(grep -i error "$T/io.out" | head -3)"
for i in $(seq 1 40); do
	qemu-io -f raw -c "write -P 7 $((48 * 1024 * 1024 + i * 65536)) 65536" "$T/ref" >/dev/null
done
i=0
while [ "$(sctl device.list | jq -r '.[0].state')" != failed ]; do
	i=$((i + 1)); [ $i -lt 50 ] || fail "device 0 not marked failed"; sleep 0.1
done
qemu-img compare -f raw -F raw "$T/ref" "$URI" || fail "data differs after the loss"
al=$(sctl alert.list '{"since":0}')
printf '%s' "$al" | jq -e '.alerts[] | select(.kind == "device" and .device == 0)' >/dev/null ||
	fail "no device alert: $al"
log "device 0 failed: $(sctl device.list | jq -c '.[0] | {state, reason}')"
expect_eq "$(sctl_err device.fail '{"index":1}')" conflict "failing the last good device"

log "replacing device 0"
truncate -s 256M "$T/new0"
sctl device.replace "{\"index\":0,\"path\":\"$T/new0\"}" >/dev/null
i=0
while [ "$(sctl device.list | jq -r '.[0].state')" != ok ]; do
	i=$((i + 1)); [ $i -lt 300 ] || fail "rebuild did not finish"; sleep 0.1
done
log "rebuilt: $(sctl device.list | jq -c '.[0] | {state, rebuild_done, rebuild_total}')"
# Redundancy is back: losing device 1 now loses nothing.
sctl device.fail '{"index":1,"reason":"test"}' >/dev/null
qemu-img compare -f raw -F raw "$T/ref" "$URI" || fail "data differs on the rebuilt device alone"
truncate -s 256M "$T/new1"
sctl device.replace "{\"index\":1,\"path\":\"$T/new1\"}" >/dev/null
i=0
while [ "$(sctl device.list | jq -r '.[1].state')" != ok ]; do
	i=$((i + 1)); [ $i -lt 300 ] || fail "rebuild 1 did not finish"; sleep 0.1
done

log "flipping bytes in one copy"
sd_stop
# Data starts at 2 MiB on these devices; the first slots hold the volume.
printf 'garbage!garbage!' | dd of="$T/new1" bs=1 seek=$((2 * 1024 * 1024 + 12345)) conv=notrunc status=none
printf 'garbage!garbage!' | dd of="$T/new1" bs=1 seek=$((3 * 1024 * 1024 + 777)) conv=notrunc status=none
sd_start
sc=$(sctl scrub)
log "scrub: $sc"
[ "$(printf '%s' "$sc" | jq -r .repaired)" -ge 2 ] || fail "scrub did not repair: $sc"
expect_eq "$(printf '%s' "$sc" | jq -r .unrecoverable)" 0 "unrecoverable"
sc=$(sctl scrub)
expect_eq "$(printf '%s' "$sc" | jq -r .errors)" 0 "errors after repair"
qemu-img compare -f raw -F raw "$T/ref" "$URI" || fail "data differs after scrub"
sctl alert.list '{"since":0}' | jq -e '.alerts[] | select(.kind == "checksum")' >/dev/null ||
	fail "no checksum alert"

