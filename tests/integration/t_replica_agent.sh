#!/bin/bash
# Disk replication to a second site, the agents' half (issue #15,
# docs/dr.md "Disks"): h1 plays the primary site's host, h2 the standby's;
# the test plays the control planes with replica.open (h2),
# vm.replica.point (h1) and replica.commit (h2), one consistency point
# after the other.
#   - a VM on h1 appends numbered, checksummed records to a file and syncs
#     each (the guest prints "ACK n" after the sync; the test stamps each
#     line as it arrives on the console);
#   - the first point is full, the rest incremental (each ships less than
#     the disk);
#   - a point whose replica goes away in the middle fails, nothing of it is
#     committed, and the next point ships what it did not;
#   - with the VM paused, a point makes the replica byte-identical to the
#     primary's disk;
#   - the primary dies (kill -9 of its QEMU and agent) while points run:
#     the open point is thrown away, the replica's file system is clean
#     after its journal is replayed, and its records are 1..M with no gap
#     and no bad checksum; every record acknowledged before the last
#     complete point was taken is there (the RPO, how long before the kill
#     the oldest lost acknowledgement was, is printed, not asserted);
#   - a point's one-time TLS client key (in replica.open's answer) is in
#     no log, no file (but the primary's own 0600 copy while the point
#     runs) and no process's command line, while the point is open, while
#     it runs and after it; the point's server credentials are gone once
#     it is committed or aborted;
#   - h2's agent restarted with a point open: the point is thrown away and
#     the replica keeps its last complete point;
#   - the VM started on h2 from its replica (a cold migration's prepared
#     destination filled by replica.send) has the same id and records 1..M;
#   - while a replica sends (to a listener that never answers), another
#     commit or drop of it is refused as busy, while another replica is
#     opened, aborted and dropped (the module's lock is not held); the
#     send's credentials are gone when it ends.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts_lib.sh"

LOOP=
TAILER=
LISTENER=
# The stamper is a session of its own (tail and its reader): killed whole.
trap 'rc=$?; set +e; [ -n "$LISTENER" ] && kill -- -"$LISTENER" 2>/dev/null; [ -n "$LOOP" ] && kill "$LOOP" 2>/dev/null; [ -n "$TAILER" ] && kill -- -"$TAILER" 2>/dev/null; hosts_stop; (exit $rc); cleanup' EXIT

hctl() { local n=$1; shift; "$AGENT_BIN" ctl --socket "$T/h$n/agent.sock" "$@"; }
raw() { local n=$1 op=$2 args=$3; hctl "$n" raw "$(jq -cn --arg op "$op" --argjson a "$args" '{op:$op,args:$a}')" || true; }
on() { local n=$1; shift; (ctl() { hctl "$n" "$@"; }; guest_sh "$@"); }
# An agent's answer was ok (jq -e takes an empty answer for a success).
okj() { [ "$(jq -r .ok 2>/dev/null <<<"$1")" = true ]; }

dc_make 2
host_start 1
host_start 2

hctl 1 vm create r1 --image base --vcpus 1 --memory 128 --disk 1 --provision cold >"$T/create.out" 2>&1 ||
	fail "create r1: $(cat "$T/create.out")"
hctl 1 vm wait r1 ready --timeout 240 >/dev/null || fail "r1 not ready"
VIEW=$(raw 1 vm.show '{"name":"r1"}')
VMID=$(jq -r .result.id <<<"$VIEW")
SIZE=$((1024 * 1024 * 1024))
PRIMARY_ROOT=$T/h1/state/vms/$VMID/root.raw
REPLICA=$T/h2/state/replicas/$VMID
[ -f "$PRIMARY_ROOT" ] || fail "no $PRIMARY_ROOT"
DISKS=$(jq -cn --argjson s "$SIZE" '[{name:"root", size:$s}]')

N=0
# point [full]: one consistency point, the control planes' three calls;
# POINT has vm.replica.point's answer, COMMIT replica.commit's.
point() {
	local full=${1:-false} open
	N=$((N + 1))
	open=$(raw 2 replica.open "$(jq -cn --arg vm "$VMID" --argjson p "$N" --argjson d "$DISKS" '{vm:$vm, point:$p, disks:$d}')")
	okj "$open" || { echo "open $N: $open"; return 1; }
	POINT=$(raw 1 vm.replica.point "$(jq -c --argjson full "$full" \
		'{name:"r1", host:.result.host, port:.result.port, exports:.result.exports, tls:.result.tls, full:$full}' <<<"$open")")
	okj "$POINT" || { echo "point $N: $POINT"; return 1; }
	COMMIT=$(raw 2 replica.commit "$(jq -cn --arg vm "$VMID" --argjson p "$N" --argjson at "$(jq .result.taken_at_ms <<<"$POINT")" \
		'{vm:$vm, point:$p, taken_at_ms:$at}')")
	okj "$COMMIT" || { echo "commit $N: $COMMIT"; return 1; }
}

# The guest's writer, and the host stamping its acknowledgements.
CONSOLE=$T/h1/state/vms/$VMID/console.log
export CONSOLE
setsid bash -c 'tail -n 0 -F "$CONSOLE" 2>/dev/null | while IFS= read -r l; do
	l=${l%$'"'"'\r'"'"'}
	case $l in ACK\ *) echo "$(date +%s.%N) ${l#ACK }" ;; esac
done' >"$T/acks" &
TAILER=$!
on 1 r1 "(i=0; while :; do i=\$((i+1)); printf 'rec %d %s\n' \$i \$(printf 'r%d' \$i | md5sum | cut -c1-8) >>/root/rec; sync; echo ACK \$i; sleep 0.05; done) </dev/null >/dev/console 2>&1 & true" >/dev/null ||
	fail "the writer did not start"

point true || fail "the full point"
FULL_BYTES=$(jq -r .result.bytes <<<"$POINT")
log "point 1 (full): $FULL_BYTES bytes in $(jq -r .result.ms <<<"$POINT") ms"
for _ in 1 2 3; do
	point || fail "an incremental point"
	b=$(jq -r .result.bytes <<<"$POINT")
	[ "$b" -lt "$SIZE" ] || fail "an incremental point shipped $b bytes (the disk is $SIZE)"
	log "point $N (incremental): $b bytes in $(jq -r .result.ms <<<"$POINT") ms, commit $(jq -r .result.bytes <<<"$COMMIT") bytes of overlay"
done
[ -s "$T/acks" ] || fail "no acknowledgement from the guest's writer"

# A point whose replica is gone (aborted after open): it fails, nothing of it
# is committed, and the next point ships what it did not.
N=$((N + 1))
open=$(raw 2 replica.open "$(jq -cn --arg vm "$VMID" --argjson p "$N" --argjson d "$DISKS" '{vm:$vm, point:$p, disks:$d}')")
okj "$open" || fail "open $N: $open"
okj "$(raw 2 replica.abort "{\"vm\":\"$VMID\"}")" || fail "abort"
failed=$(raw 1 vm.replica.point "$(jq -c '{name:"r1", host:.result.host, port:.result.port, exports:.result.exports, tls:.result.tls}' <<<"$open")")
[ "$(jq -r .ok <<<"$failed")" = false ] || fail "a point to a replica that went away: $failed"
log "a point without its replica fails: $(jq -r .error.message <<<"$failed")"
expect_eq "$(raw 2 replica.list '{}' | jq -r '.result[0].point')" 4 "the last complete point"
ls "$REPLICA"/*.qcow2 >/dev/null 2>&1 && fail "an overlay of the aborted point is left"
[ -e "$REPLICA/tls-srv" ] && fail "the aborted point's server credentials are left"
point || fail "the point after a failed one"

# Paused, a point makes the replica equal to the primary's disk.
hctl 1 vm pause r1 >/dev/null || fail "pause r1"
point || fail "a point of the paused VM"
cmp "$PRIMARY_ROOT" "$REPLICA/root.raw" || fail "the replica differs from the primary's disk"
hctl 1 vm resume r1 >/dev/null || fail "resume r1"
log "paused: the replica is byte-identical to the primary's disk"

# The one-time client key of a point: only the caller gets it (the answer),
# only the primary's QEMU reads it (<vm>/tls-repl, 0600, while the point
# runs). A distinctive line of its PEM is searched in every file under $T
# (both hosts' state directories and agent logs, the guests' consoles) and
# in every process's command line (the point's qemu-storage-daemon, QEMU).
# key_files: the files holding the line; cmdlines: the processes' pids.
key_files() { grep -rlF -D skip -e "$KEYLINE" "$T" 2>/dev/null || true; }
cmdlines() {
	local f
	for f in /proc/[0-9]*/cmdline; do
		tr '\0' ' ' 2>/dev/null <"$f" | grep -qF -e "$KEYLINE" && echo "${f%/cmdline}"
	done
	true
}
N=$((N + 1))
open=$(raw 2 replica.open "$(jq -cn --arg vm "$VMID" --argjson p "$N" --argjson d "$DISKS" '{vm:$vm, point:$p, disks:$d}')")
okj "$open" || fail "open $N: $open"
KEYLINE=$(jq -r .result.tls.key <<<"$open" | sed -n 2p)
[ ${#KEYLINE} -ge 40 ] || fail "no PEM line in the point's client key: $(jq -r .result.tls.key <<<"$open" | head -c 20)"
# The search finds the line where it is (a copy the test writes).
printf '%s\n' "$KEYLINE" >"$T/keyline.probe"
expect_eq "$(key_files)" "$T/keyline.probe" "the files with the key's line (the test's probe alone)"
rm -f "$T/keyline.probe"
QSD=$(pgrep -f "qemu-storage-daemon.*$REPLICA" | head -n 1)
[ -n "$QSD" ] || fail "point $N has no qemu-storage-daemon"
[ -e "$REPLICA/tls-cli" ] && fail "the point's client credentials stay at the replica after open"
expect_eq "$(key_files)" "" "files with the client key while point $N is open"
expect_eq "$(cmdlines)" "" "command lines with the client key (the daemon is $QSD)"
raw 1 vm.replica.point "$(jq -c '{name:"r1", host:.result.host, port:.result.port, exports:.result.exports, tls:.result.tls}' <<<"$open")" >"$T/point.out" &
PT=$!
samples=0
while kill -0 "$PT" 2>/dev/null; do
	for f in $(key_files); do
		case $f in
		"$T/h1/state/vms/$VMID/tls-repl/client-key.pem")
			expect_eq "$(stat -c %a "$f")" 600 "the mode of the primary's copy of the key" ;;
		*) fail "the client key is in $f while point $N runs" ;;
		esac
	done
	expect_eq "$(cmdlines)" "" "command lines with the client key while point $N runs"
	samples=$((samples + 1))
done
wait "$PT" || true
okj "$(cat "$T/point.out")" || fail "point $N: $(cat "$T/point.out")"
okj "$(raw 2 replica.commit "$(jq -cn --arg vm "$VMID" --argjson p "$N" '{vm:$vm, point:$p}')")" || fail "commit $N"
expect_eq "$(key_files)" "" "files with the client key after point $N"
[ -e "$REPLICA/tls-srv" ] && fail "the committed point's server credentials are left"
KEYTLS=$(jq -c .result.tls <<<"$open")
log "point $N's client key: in the caller's answer only ($samples samples while it ran); no server credentials left after the commit"

# h2's agent restarted with a point open: thrown away.
N=$((N + 1))
okj "$(raw 2 replica.open "$(jq -cn --arg vm "$VMID" --argjson p "$N" --argjson d "$DISKS" '{vm:$vm, point:$p, disks:$d}')")" ||
	fail "open $N"
kill "${APID[2]}"
wait "${APID[2]}" 2>/dev/null || true
host_start 2
l=$(raw 2 replica.list '{}')
expect_eq "$(jq -r '.result[0].open' <<<"$l")" 0 "the open point after h2's restart"
expect_eq "$(jq -r '.result[0].point' <<<"$l")" $((N - 1)) "the last complete point after h2's restart"
ls "$REPLICA"/*.qcow2 >/dev/null 2>&1 && fail "an overlay of the open point is left after the restart"
pgrep -f "qemu-storage-daemon.*$REPLICA" >/dev/null && fail "the open point's daemon runs on"

# Points back to back while the writer writes; then the primary dies.
(while point >/dev/null; do echo "$N $(date +%s.%N)" >>"$T/points"; done) &
LOOP=$!
sleep 8
QPID=$(cat "$T/h1/state/vms/$VMID/qemu.pid")
kill -9 "$QPID" "${APID[1]}"
KILL_AT=$(date +%s.%N)
APID[1]=
sleep 1
kill "$LOOP" 2>/dev/null || true # it may have ended at the kill
wait "$LOOP" 2>/dev/null || true
LOOP=
okj "$(raw 2 replica.abort "{\"vm\":\"$VMID\"}")" || fail "abort after the kill"
l=$(raw 2 replica.list '{}')
LAST_AT=$(jq -r '.result[0].taken_at_ms' <<<"$l")
log "$(wc -l <"$T/points") points in the last run; the last complete point $(jq -r '.result[0].point' <<<"$l") was taken $(echo "$KILL_AT * 1000 - $LAST_AT" | bc | cut -d. -f1) ms before the kill"

# The replica as a host that takes over sees it: its journal replayed.
cp --sparse=always "$REPLICA/root.raw" "$T/check.raw"
rc=0
e2fsck -fy "$T/check.raw" >"$T/fsck.out" 2>&1 || rc=$?
[ $rc -le 1 ] || fail "the replica's file system is not clean (e2fsck $rc): $(tail -5 "$T/fsck.out")"
debugfs -R "cat /root/rec" "$T/check.raw" 2>/dev/null >"$T/rec" || fail "no /root/rec in the replica"
M=$(wc -l <"$T/rec")
[ "$M" -gt 0 ] || fail "no record in the replica"
i=0
while read -r tag n sum; do
	i=$((i + 1))
	expect_eq "$tag $n" "rec $i" "record $i"
	expect_eq "$sum" "$(printf 'r%d' "$n" | md5sum | cut -c1-8)" "record $i's checksum"
done <"$T/rec"
# Crash consistency, whatever the timing: a record acknowledged before
# the last complete point was taken is in the replica. How much was lost
# (the RPO) is printed; its target is bench/dr's business.
TAKEN=$(echo "scale=3; $LAST_AT / 1000" | bc)
late=0
rpo=0
while read -r ts n; do
	if [ "$n" -gt "$M" ]; then
		age=$(echo "$KILL_AT - $ts" | bc)
		if [ "$(echo "$age > $rpo" | bc)" = 1 ]; then rpo=$age; fi
		if [ "$(echo "$ts < $TAKEN" | bc)" = 1 ]; then late=$((late + 1)); fi
	fi
done <"$T/acks"
log "replica: records 1..$M, all checksums good; $(wc -l <"$T/acks") acknowledged; the oldest acknowledged record missing was acknowledged ${rpo} s before the kill (RPO)"
expect_eq "$late" 0 "records acknowledged before the last complete point and missing"

# The standby starts the VM from its replica: a cold migration's
# destination prepared on h2, the replica copied into it, finished, started:
# the same id and name, its file system replayed by the guest, records 1..M.
prep=$(raw 2 vm.migrate.prepare "$(jq -c '{spec:.result, id:.result.id, live:false, ready:false}' <<<"$VIEW")")
okj "$prep" || fail "prepare r1 on h2: $prep"
sent=$(raw 2 replica.send "$(jq -c --arg vm "$VMID" '{vm:$vm, nbd:.result.nbd, tls:.result.tls}' <<<"$prep")")
okj "$sent" || fail "replica.send: $sent"
okj "$(raw 2 vm.migrate.finish '{"name":"r1"}')" || fail "finish r1 on h2"
hctl 2 vm start r1 >/dev/null || fail "start r1 on h2"
hctl 2 vm wait r1 ready --timeout 240 >/dev/null || fail "r1 from its replica not ready"
expect_eq "$(raw 2 vm.show '{"name":"r1"}' | jq -r .result.id)" "$VMID" "the VM's id at the standby"
n=$(on 2 r1 "wc -l < /root/rec" | tr -d '\r' | grep -E '^[0-9]+$' | tail -n 1)
expect_eq "$n" "$M" "records in the VM started from its replica"
log "r1 started at the standby from its replica: $n records"

# A send that hangs: a listener in h2's underlay that accepts and never
# says a word (qemu-img waits for the NBD greeting). Meanwhile this replica
# is busy and nothing else is.
setsid ip netns exec "clhu2-$$" socat TCP-LISTEN:10809,bind=192.168.251.2,reuseaddr EXEC:"sleep 3600" &
LISTENER=$!
i=0
until ip netns exec "clhu2-$$" ss -ltn | grep -q "192.168.251.2:10809"; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "the silent listener did not start"
	sleep 0.1
done
raw 2 replica.send "$(jq -cn --arg vm "$VMID" --argjson tls "$KEYTLS" '{vm:$vm, nbd:"nbd://192.168.251.2:10809/root", tls:$tls}')" >"$T/send.out" &
SEND=$!
until pgrep -f "qemu-img convert.*$REPLICA/" >/dev/null; do
	kill -0 "$SEND" 2>/dev/null || fail "the hanging send ended at once: $(cat "$T/send.out")"
	sleep 0.1
done
busy=$(raw 2 replica.drop "{\"vm\":\"$VMID\"}")
jq -e '.ok == false and .error.code == "conflict" and (.error.message | test("busy"))' >/dev/null <<<"$busy" ||
	fail "a drop during the send: $busy"
busy=$(raw 2 replica.commit "$(jq -cn --arg vm "$VMID" '{vm:$vm, point:99}')")
jq -e '.ok == false and (.error.message | test("busy"))' >/dev/null <<<"$busy" || fail "a commit during the send: $busy"
[ -f "$REPLICA/root.raw" ] || fail "the busy replica lost its image"
okj "$(raw 2 replica.list '{}')" || fail "replica.list during the send"
other=$(raw 2 replica.open '{"vm":"other-1","point":1,"disks":[{"name":"root","size":1048576}]}')
okj "$other" || fail "another replica's open during the send: $other"
okj "$(raw 2 replica.abort '{"vm":"other-1"}')" || fail "another replica's abort during the send"
okj "$(raw 2 replica.drop '{"vm":"other-1"}')" || fail "another replica's drop during the send"
[ -e "$T/h2/state/replicas/other-1" ] && fail "the other replica is left after its drop"
kill -0 "$SEND" 2>/dev/null || fail "the send ended before the listener: $(cat "$T/send.out")"
kill -- -"$LISTENER"
LISTENER=
wait "$SEND" || true
[ "$(jq -r .ok <"$T/send.out")" = false ] || fail "a send to a silent listener: $(cat "$T/send.out")"
[ -e "$REPLICA/tls-send" ] && fail "the send's credentials are left"
okj "$(raw 2 replica.drop "{\"vm\":\"$VMID\"}")" || fail "drop after the send"
log "a send in progress: its replica busy (drop, commit refused), another replica opened and dropped meanwhile"
