#!/bin/bash
# Root disks as volumes: with storage, a VM provisioned cold boots from
# root-<id>, a clone of its image's base volume (imported once per image).
# Inside the guest / is /dev/vda; a file survives a reboot and an agent
# restart; growing the disk grows the volume and the filesystem; the root
# volume cannot be deleted while its VM exists and goes with it; a second
# VM of the same image reuses the base (no second import) and its clone is
# made in well under a second.
. "$(dirname "$0")/lib.sh"
SARGS=(--storaged "${STORAGED_BIN:-$ROOT/build/bin/cloudlet-storaged}"
	--storage-device "$T/dev0" --storage-device "$T/dev1" --storage-device-size 4G)
agent_start "${SARGS[@]}"

sraw() { ctl raw "$(jq -cn --arg op "$1" --argjson a "${2:-{\}}" '{op:$op,args:$a}')" || true; }
sok() {
	out=$(sraw "$@")
	[ "$(jq -r .ok <<<"$out")" = true ] || fail "$1 $2: $out"
	jq -c .result <<<"$out"
}
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

t0=$(date +%s%N)
sok vm.create '{"name":"r1","image":"base","vcpus":1,"memory_mib":192,"disk_gib":1,"tenant":"t1","provision":"cold"}' >/dev/null
log "r1 created in $(ms "$t0") ms (first VM of the image: includes the import)"
ID=$(vm_field r1 .id)
expect_eq "$(vm_field r1 .root_format)" volume "root_format"
expect_eq "$(vm_field r1 .root_volume)" "root-$ID" "root_volume"
ctl vm wait r1 ready --timeout 120 >/dev/null || fail "r1 not ready"
log "r1 ready $(ms "$t0") ms after create"

v=$(sok volume.list '{"tenant":"t1"}' | jq -c --arg n "root-$ID" '.[] | select(.name == $n)')
[ -n "$v" ] || fail "volume.list has no root-$ID"
BASE=$(jq -r .origin <<<"$v")
expect_match "$BASE" '^img-[0-9a-f]\{16\}\.base$' "origin of the root volume"
expect_eq "$(jq -r .size <<<"$v")" 1073741824 "root volume size"
expect_match "$(jq -r .vms <<<"$v")" "r1 (root)" "volume.list vms"
log "root volume: $(jq -c '{name, tenant, origin, size, vms}' <<<"$v")"
out=$(sraw volume.delete "{\"tenant\":\"t1\",\"name\":\"root-$ID\"}")
expect_eq "$(jq -r .error.code <<<"$out")" conflict "deleting a VM's root volume"

# / is the first virtio disk, over NBD from the pool.
rootdev=$(guest_sh r1 "awk '\$2 == \"/\" {print \$1}' /proc/mounts" | tr -d '\r' | grep '^/dev' | tail -n 1)
expect_eq "$rootdev" /dev/vda "device of / in the guest"
grep -q "id=root,.*file.export=root-$ID" "$T/agent.log" || fail "QEMU's root drive is not the volume"

guest_sh r1 'echo kept-across-reboot >/root/keep && sync' >/dev/null
sok vm.reboot '{"name":"r1"}' >/dev/null
ctl vm wait r1 ready --timeout 120 >/dev/null || fail "r1 not ready after reboot"
expect_eq "$(guest_sh r1 'cat /root/keep' | tr -d '\r' | grep kept)" kept-across-reboot "file after reboot"

# An agent restart re-attaches; the guest keeps its disk.
agent_stop
agent_start "${SARGS[@]}"
expect_eq "$(vm_field r1 .state)" running "r1 after an agent restart"
expect_eq "$(guest_sh r1 'cat /root/keep' | tr -d '\r' | grep kept)" kept-across-reboot "file after agent restart"

# Growth: stopped VM, 1 -> 3 GiB: volume and ext4 together.
ctl vm stop r1 >/dev/null
t0=$(date +%s%N)
sok vm.reconfigure '{"name":"r1","disk_gib":3}' >/dev/null
log "r1 grown 1 -> 3 GiB (volume.grow + resize2fs) in $(ms "$t0") ms"
expect_eq "$(sok volume.show "{\"tenant\":\"t1\",\"name\":\"root-$ID\"}" | jq -r .size)" 3221225472 "grown volume size"
ctl vm start r1 >/dev/null
ctl vm wait r1 ready --timeout 120 >/dev/null || fail "r1 not ready after growth"
kb=$(guest_sh r1 "df -k / | awk 'NR == 2 {print \$2}'" | tr -d '\r' | grep -E '^[0-9]+$' | tail -n 1)
[ "${kb:-0}" -gt 2900000 ] || fail "guest filesystem not grown: ${kb:-?} KiB"
expect_eq "$(guest_sh r1 'cat /root/keep' | tr -d '\r' | grep kept)" kept-across-reboot "file after growth"
log "guest / is $kb KiB after growth"

# A second VM of the same image: same base, no second import, quick clone.
t0=$(date +%s%N)
sok vm.create '{"name":"r2","image":"base","vcpus":1,"memory_mib":128,"disk_gib":1,"provision":"cold","start":false}' >/dev/null
log "r2 (1 GiB) created without start in $(ms "$t0") ms (clone of the base)"
ID2=$(vm_field r2 .id)
# A VM without a tenant: its root is the platform's, which no agent
# operation can name (tenants start with a letter or digit); list shows it.
v2=$(sok volume.list | jq -c --arg n "root-$ID2" '.[] | select(.name == $n)')
expect_eq "$(jq -r .tenant <<<"$v2")" _platform "owner of a tenantless VM's root"
expect_eq "$(jq -r .origin <<<"$v2")" "$BASE" "r2 shares the base"
expect_eq "$(grep -c 'imported into' "$T/agent.log")" 1 "imports of the image"
t0=$(date +%s%N)
sok vm.create '{"name":"r3","image":"base","vcpus":1,"memory_mib":128,"disk_gib":64,"provision":"cold","start":false}' >/dev/null
log "r3 (64 GiB) created without start in $(ms "$t0") ms (clone + grow + resize2fs)"

# Delete removes the root volumes.
for n in r1 r2 r3; do ctl vm delete "$n" >/dev/null; done
left=$(sok volume.list | jq -r '.[].name' | grep -c '^root-' || true)
expect_eq "$left" 0 "root volumes left after delete"
sok volume.list | jq -e --arg n "$BASE" '.[] | select(.name == $n and .readonly)' >/dev/null ||
	fail "the base $BASE is gone"
log "base $BASE stays for the next VM"
