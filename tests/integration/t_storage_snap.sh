#!/bin/bash
# Snapshots and clones: instant whatever the size (timings printed, not
# asserted), copy-on-write isolation between a volume, its snapshot and a
# clone; interoperability with qemu-img info/convert, nbdcopy, nbdinfo.
. "$(dirname "$0")/storage_lib.sh"

sd_devices 2 512M
sd_start
BIG=$((1024 * 1024 * 1024 * 1024)) # 1 TiB, thin
sctl volume.create "{\"name\":\"img\",\"tenant\":\"sys\",\"size\":$BIG}" >/dev/null
sctl export.create '{"vm":"builder","tenant":"sys","volumes":["img"]}' >/dev/null
qemu-io -f raw -c 'write -P 0x11 0 4M' -c 'write -P 0x22 1099510579200 1M' "$(nbd_uri img builder)" >/dev/null ||
	fail "write image"
t0=$(date +%s%N)
sctl volume.snapshot '{"name":"img","snapshot":"img.s1"}' >/dev/null
t1=$(date +%s%N)
sctl volume.clone '{"name":"img.s1","clone":"vm1-root","tenant":"ta"}' >/dev/null
t2=$(date +%s%N)
log "1 TiB volume: snapshot $(((t1 - t0) / 1000000)) ms, clone $(((t2 - t1) / 1000000)) ms (control round trip included)"
expect_eq "$(sctl volume.show '{"name":"img.s1"}' | jq -r .readonly)" true "snapshot readonly"
expect_eq "$(sctl volume.show '{"name":"vm1-root"}' | jq -r .origin)" img.s1 "clone origin"

sctl export.create '{"vm":"vm1","tenant":"ta","volumes":["vm1-root"]}' >/dev/null
sctl export.delete '{"vm":"builder"}' >/dev/null
sctl export.create '{"vm":"builder","tenant":"sys","volumes":["img","img.s1"]}' >/dev/null
C=$(nbd_uri vm1-root vm1)
qemu-io -f raw -c 'read -P 0x11 0 4M' -c 'read -P 0x22 1099510579200 1M' "$C" >/dev/null || fail "clone content"
qemu-io -f raw -c 'write -P 0x33 1M 4k' "$C" >/dev/null || fail "clone write"
qemu-io -f raw -c 'write -P 0x44 2M 4k' "$(nbd_uri img builder)" >/dev/null || fail "origin write"
out=$(qemu-io -r -f raw -c 'read -P 0x11 1M 4k' -c 'read -P 0x11 2M 4k' "$(nbd_uri img.s1 builder)") ||
	fail "snapshot read"
printf '%s' "$out" | grep -q verification && fail "snapshot changed: $out"
out=$(qemu-io -f raw -c 'read -P 0x33 1M 4k' -c 'read -P 0x11 2M 4k' "$C")
printf '%s' "$out" | grep -q verification && fail "clone isolation: $out"
out=$(qemu-io -f raw -c 'read -P 0x11 1M 4k' -c 'read -P 0x44 2M 4k' "$(nbd_uri img builder)")
printf '%s' "$out" | grep -q verification && fail "origin isolation: $out"
if qemu-io -f raw -c 'write -P 1 0 4k' "$(nbd_uri img.s1 builder)" >/dev/null 2>&1; then
	fail "a snapshot accepted a write"
fi
log "copy-on-write isolation holds; snapshot is read-only"
sctl volume.show '{"name":"vm1-root"}' | jq -c '{allocated_bytes, shared_bytes}'

log "interop: qemu-img info/convert, nbdinfo, nbdcopy"
sctl volume.create '{"name":"small","tenant":"ta","size":33554432,"redundancy":"stripe"}' >/dev/null
sctl export.delete '{"vm":"vm1"}' >/dev/null
sctl export.create '{"vm":"vm1","tenant":"ta","volumes":["vm1-root","small"]}' >/dev/null
S=$(nbd_uri small vm1)
qemu-img info "$S" | grep -q 'virtual size: 32 MiB' || fail "qemu-img info: $(qemu-img info "$S")"
head -c 20000000 /dev/urandom >"$T/src"
truncate -s 32M "$T/src"
qemu-img convert -n -f raw -O raw "$T/src" "$S" || fail "qemu-img convert to NBD"
qemu-img convert -f raw -O raw "$S" "$T/back1" || fail "qemu-img convert from NBD"
cmp "$T/src" "$T/back1" || fail "qemu-img round trip differs"
nbdcopy "$S" "$T/back2" || fail "nbdcopy from NBD"
cmp "$T/src" "$T/back2" || fail "nbdcopy differs"
head -c 33554432 /dev/urandom >"$T/src2"
nbdcopy "$T/src2" "$S" || fail "nbdcopy to NBD"
nbdcopy --connections=4 "$S" "$T/back3" || fail "nbdcopy multi-conn"
cmp "$T/src2" "$T/back3" || fail "nbdcopy multi-conn round trip differs"
nbdinfo "$S" | grep -q 'can_multi_conn: true' || fail "nbdinfo"
log "interop ok"
expect_eq "$(sctl_err volume.delete '{"name":"img.s1"}')" conflict "deleting an exported snapshot"
