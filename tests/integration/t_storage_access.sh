#!/bin/bash
# Access: an export offers only its VM's volumes (tenant B's export cannot
# open tenant A's volume, not even by name), volumes of another tenant
# cannot be exported, and only root, the server's uid or the bound pid may
# connect.
. "$(dirname "$0")/storage_lib.sh"

sd_devices 2 256M
sd_start
sctl volume.create '{"name":"a-root","tenant":"ta","size":16777216}' >/dev/null
sctl volume.create '{"name":"b-root","tenant":"tb","size":16777216}' >/dev/null
qemu-io -f raw -c 'write -P 0xaa 0 64k' "nbd+unix:///a-root?socket=/dev/null" >/dev/null 2>&1 || true
sctl export.create '{"vm":"vma","tenant":"ta","volumes":["a-root"]}' >/dev/null
sctl export.create '{"vm":"vmb","tenant":"tb","volumes":["b-root"]}' >/dev/null

expect_eq "$(sctl_err export.create '{"vm":"vmx","tenant":"tb","volumes":["a-root"]}')" invalid \
	"exporting another tenant's volume"
expect_eq "$(sctl_err export.create '{"vm":"../x","tenant":"tb","volumes":["b-root"]}')" invalid "bad vm name"
expect_eq "$(sctl_err volume.create '{"name":"-x","tenant":"ta","size":4096}')" invalid "bad volume name"
expect_eq "$(sctl_err volume.create '{"name":"x","tenant":"ta","size":4097}')" invalid "unaligned size"
expect_eq "$(sctl_err volume.create '{"name":"x","tenant":"ta","size":4096,"extra":1}')" invalid "unknown field"
expect_eq "$(sctl_err volume.delete '{"name":"a-root"}')" conflict "deleting an exported volume"

qemu-io -f raw -c 'write -P 0xaa 0 64k' "$(nbd_uri a-root vma)" >/dev/null || fail "A's own export"
list=$(nbdinfo --list "nbd+unix:///?socket=$T/exp/vmb.sock" | grep '^export=' || true)
expect_eq "$list" 'export="b-root":' "NBD_OPT_LIST on vmb"
if nbdinfo "$(nbd_uri a-root vmb)" >"$T/out" 2>&1; then
	fail "tenant B's export opened tenant A's volume"
fi
grep -qi 'unknown\|not found\|export' "$T/out" || fail "unexpected refusal text: $(cat "$T/out")"
log "vmb cannot open a-root: $(head -1 "$T/out")"

# Peer credentials: nobody, unbound -> refused after the bind wait.
sctl export.bind '{"vm":"vma","pid":1}' >/dev/null
if runuser -u nobody -- qemu-io -f raw -c 'read 0 4k' "$(nbd_uri a-root vma)" >"$T/out" 2>&1; then
	fail "a process that is not the bound pid read the volume"
fi
log "nobody (not the bound pid) refused: $(head -1 "$T/out")"
grep -q 'refused peer' "$T/sd.log" || fail "no refusal in the log"

# The bound pid gets in: the child prints its pid, waits, then execs qemu-io.
rm -f "$T/out"
runuser -u nobody -- sh -c 'echo $$; sleep 1; exec qemu-io -f raw -c "read -P 0xaa 0 64k" "'"$(nbd_uri a-root vma)"'"' >"$T/out" 2>&1 &
cpid=$!
EXTRA_PIDS="$EXTRA_PIDS $cpid"
i=0
while [ ! -s "$T/out" ]; do sleep 0.05; i=$((i + 1)); [ $i -lt 100 ] || fail "no child pid"; done
sctl export.bind "{\"vm\":\"vma\",\"pid\":$(head -1 "$T/out")}" >/dev/null
wait "$cpid" || fail "the bound pid was refused: $(cat "$T/out")"
grep -q 'read 65536/65536' "$T/out" || fail "bound pid read: $(cat "$T/out")"
log "bound pid accepted"

expect_eq "$(sctl_err export.create '{"vm":"vmc","tenant":"ta","volumes":[]}')" invalid "empty export"
log "exports survive a restart"
sd_stop
sd_start
n=$(sctl export.list | jq length)
expect_eq "$n" 2 "exports after restart"
qemu-io -f raw -c 'read -P 0xaa 0 64k' "$(nbd_uri a-root vma)" >/dev/null || fail "after restart"
sctl export.delete '{"vm":"vmb"}' >/dev/null
[ ! -e "$T/exp/vmb.sock" ] || fail "socket left after export.delete"
sctl volume.delete '{"name":"b-root"}' >/dev/null
