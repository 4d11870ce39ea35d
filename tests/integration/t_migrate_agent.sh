#!/bin/bash
# Migration between two hosts, the agents' half (docs/migration.md): two
# agents h1, h2 on one machine (hosts_lib.sh), tenant A's network spanning
# both (VNI, home h1, member h2), the test playing the control plane with
# vm.migrate.prepare / send / finish / abort.
#   - a web-hosting VM on h1 migrates live to h2 while a client in A's
#     firewall namespace on h1 asks it for a page every 20 ms: no refused
#     connection, the longest gap printed (never asserted); the guest's
#     uptime went on; the VM runs on h2, h1 has nothing of it;
#   - a VM cloned from a template on h1 migrates live to h2 (its disk an
#     overlay on the template's, its RAM a private mapping of the
#     template's file: h2 has no template) and answers there;
#   - a stopped VM migrates cold and starts on h2 with its MAC and hostname;
#   - a destination without room for the VM's memory refuses the prepare
#     and keeps nothing;
#   - a cancel mid-way (a tiny bandwidth keeps it slow) leaves the VM
#     running on its host, the destination clean after abort (twice: abort
#     is idempotent);
#   - the destination's agent killed mid-way and restarted: the VM keeps
#     running on the source, the destination removed what it had prepared;
#     the source's agent killed mid-way: the migration is cancelled at its
#     restart, the VM runs on in the same QEMU;
#   - ctl vm migrate moves a VM back in one command.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts_lib.sh"

A=mg-$$
for n in 1 2; do NETNS_LIST="$NETNS_LIST h${n}n-$A h${n}f-$A"; done
POLLER=
trap 'rc=$?; set +e; [ -n "$POLLER" ] && kill "$POLLER" 2>/dev/null; hosts_stop; (exit $rc); cleanup' EXIT

dump() {
	hosts_dump
	for f in "$T"/h*/state/vms/*/qemu.log; do [ -f "$f" ] && { echo "---- $f"; tail -n 5 "$f"; }; done
	return 0
}
hctl() { local n=$1; shift; "$AGENT_BIN" ctl --socket "$T/h$n/agent.sock" "$@"; }
raw() { local n=$1 op=$2 args=$3; hctl "$n" raw "$(jq -cn --arg op "$op" --argjson a "$args" '{op:$op,args:$a}')" || true; }
on() { local n=$1; shift; (ctl() { hctl "$n" "$@"; }; guest_sh "$@"); }
uptime_of() { on "$1" "$2" "cut -d' ' -f1 /proc/uptime" | tr -d '\r' | grep -E '^[0-9.]+$' | tail -n 1; }

dc_make 2
host_start 1
host_start 2

state() { # state ROLE PEER
	jq -cn --arg t "$A" --arg role "$1" --arg peer "$2" \
		'{tenant:$t, mode:"namespace", role:$role,
		  networks:[{id:"main",cidr:"10.62.0.0/24",vni:6300,peers:[$peer]}],
		  rules:[{direction:"ingress",action:"allow",protocol:"tcp",port_min:80,port_max:80,
			  remote:"0.0.0.0/0",local:"10.62.0.0/24",priority:100}]}'
}
raw 1 net.apply "$(state home 192.168.251.2)" | jq -e .ok >/dev/null || fail "net.apply h1"
raw 2 net.apply "$(state member 192.168.251.1)" | jq -e .ok >/dev/null || fail "net.apply h2"

# mig FROM TO NAME LIVE [SEND ARGS]: the control plane's sequence; the
# send's answer in $SENT.
mig() {
	local from=$1 to=$2 name=$3 live=$4 extra=${5:-'{}'} view prep
	view=$(raw "$from" vm.show "{\"name\":\"$name\"}" | jq -c .result)
	prep=$(raw "$to" vm.migrate.prepare "$(jq -c --argjson live "$live" \
		'{spec:., id:.id, live:$live, ready:.ready, from_template:(.booted.from_template // false)}' <<<"$view")")
	jq -e .ok >/dev/null <<<"$prep" || fail "prepare $name on h$to: $prep"
	PREP=$prep
	[ -z "${BEFORE_SEND:-}" ] || $BEFORE_SEND
	SENT=$(raw "$from" vm.migrate.send "$(jq -c --arg n "$name" --argjson live "$live" --argjson x "$extra" \
		'{name:$n, nbd:.result.nbd, uri:.result.uri, tls:.result.tls, live:$live} + $x' <<<"$prep")")
}
# A client without this migration's certificate gets nothing from the
# destination's NBD export (TLS with verify-peer).
plain_refused() {
	local url
	url=$(jq -r .result.nbd <<<"$PREP")
	jq -e '.result.tls.cert | startswith("-----BEGIN")' >/dev/null <<<"$PREP" || fail "prepare gave no TLS credentials"
	if ip netns exec "clhu1-$$" qemu-img info "$url" >/dev/null 2>&1; then
		fail "$url answered a client without TLS"
	fi
	log "a client without TLS is refused by $url"
}

finish() { # finish TO NAME
	raw "$1" vm.migrate.finish "{\"name\":\"$2\"}" | jq -e .ok >/dev/null ||
		fail "finish $2 on h$1: $(raw "$1" vm.migrate.finish "{\"name\":\"$2\"}")"
}
gone_from() { # gone_from HOST NAME
	expect_eq "$(raw "$1" vm.show "{\"name\":\"$2\"}" | jq -r .error.code)" not_found "$2 on h$1"
	! grep -qs "\"name\": \"$2\"" "$T"/h"$1"/state/vms/*/vm.json || fail "h$1 still has a directory of $2"
}

vm() { # vm HOST NAME ADDRESS [create args]
	local n=$1 name=$2 addr=$3
	shift 3
	hctl "$n" vm create "$name" --image web-hosting --vcpus 1 --memory 128 --disk 1 \
		--nic "network=$A/main,address=$addr/24" "$@" >"$T/create.out" 2>&1 ||
		fail "create $name on h$n: $(cat "$T/create.out")"
}
http_ok() { ip netns exec "h1f-$A" curl -sf -m 5 -o /dev/null "http://$1/"; }

# ---- live, with a client polling ------------------------------------------
vm 1 w1 10.62.0.10 --provision cold
hctl 1 vm wait w1 ready --timeout 240 >/dev/null || fail "w1 not ready"
http_ok 10.62.0.10 || fail "w1 does not serve HTTP from h1's firewall namespace"
up0=$(uptime_of 1 w1)
[ -n "$up0" ] || fail "no uptime from w1"
cat >"$T/poll.py" <<'PY'
import json, os, socket, sys, time
host, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
ok = refused = other = 0
gap = 0.0
last = time.monotonic()
while not os.path.exists(stop):
    try:
        s = socket.create_connection((host, 80), timeout=5)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        d = s.recv(64)
        s.close()
        if d.startswith(b"HTTP/"):
            ok += 1
            now = time.monotonic()
            gap = max(gap, now - last)
            last = now
        else:
            other += 1
    except ConnectionRefusedError:
        refused += 1
    except OSError:
        other += 1
    time.sleep(0.02)
json.dump({"ok": ok, "refused": refused, "other": other, "gap_ms": round(gap * 1000)}, open(out, "w"))
PY
ip netns exec "h1f-$A" python3 "$T/poll.py" 10.62.0.10 "$T/poll.stop" "$T/poll.json" &
POLLER=$!
sleep 1
t0=$(date +%s%N)
mig 1 2 w1 true
jq -e '.ok and .result.status == "completed"' >/dev/null <<<"$SENT" || fail "live migration of w1: $SENT"
# Completed, not finished: the only running copy; an abort (a caller that
# lost the send's answer) must not remove it.
expect_eq "$(raw 2 vm.migrate.abort '{"name":"w1"}' | jq -r .error.code)" conflict \
	"abort of a completed incoming migration"
finish 2 w1
t1=$(date +%s%N)
sleep 1
touch "$T/poll.stop"
wait "$POLLER"
POLLER=
poll=$(cat "$T/poll.json")
log "w1 h1 -> h2 live: $(( (t1 - t0) / 1000000 )) ms from prepare to finish; QEMU: total $(jq -r .result.qemu.total_ms <<<"$SENT") ms, downtime $(jq -r .result.qemu.downtime_ms <<<"$SENT") ms; disk $(jq -r .result.mirror.len <<<"$SENT") bytes mirrored"
log "client every 20 ms: $(jq -r '"\(.ok) answers, \(.refused) refused, \(.other) other errors, longest gap \(.gap_ms) ms"' <<<"$poll")"
expect_eq "$(jq -r .refused <<<"$poll")" 0 "refused connections during the migration"
expect_eq "$(hctl 2 --json vm show w1 | jq -r '.state + "/" + (.ready | tostring)')" running/true "w1 on h2"
gone_from 1 w1
up1=$(uptime_of 2 w1)
awk -v a="$up0" -v b="$up1" 'BEGIN { exit !(b > a) }' || fail "w1's uptime reset: $up0 then $up1"
log "w1's uptime $up0 s before, $up1 s after: the same boot; h1 has nothing of it"
http_ok 10.62.0.10 || fail "w1 does not serve HTTP on h2"

# ---- a clone of a template, live ---------------------------------------------
vm 1 c1 10.62.0.20 --provision clone
hctl 1 vm wait c1 ready --timeout 240 >/dev/null || fail "c1 not ready"
expect_eq "$(hctl 1 --json vm show c1 | jq -r '.provision + "/" + .root_format')" clone/qcow2 "c1"
cup0=$(uptime_of 1 c1)
BEFORE_SEND=plain_refused mig 1 2 c1 true
jq -e '.ok and .result.status == "completed"' >/dev/null <<<"$SENT" || fail "live migration of the clone c1: $SENT"
finish 2 c1
expect_eq "$(hctl 2 --json vm show c1 | jq -r .state)" running "c1 on h2"
gone_from 1 c1
cup1=$(uptime_of 2 c1)
awk -v a="$cup0" -v b="$cup1" 'BEGIN { exit !(b > a) }' || fail "c1's uptime reset: $cup0 then $cup1"
http_ok 10.62.0.20 || fail "c1 does not serve HTTP on h2"
[ -z "$(ls "$T/h2/state/templates" 2>/dev/null)" ] || fail "h2 got a template"
log "clone c1 h1 -> h2 live: QEMU downtime $(jq -r .result.qemu.downtime_ms <<<"$SENT") ms, uptime $cup0 -> $cup1 s, no template on h2"

# ---- cold -----------------------------------------------------------------------
vm 1 s1 10.62.0.30 --provision cold --no-start
mac=$(hctl 1 --json vm show s1 | jq -r '.nics[0].mac')
BEFORE_SEND=plain_refused mig 1 2 s1 false
jq -e '.ok and .result.status == "completed"' >/dev/null <<<"$SENT" || fail "cold migration of s1: $SENT"
finish 2 s1
gone_from 1 s1
expect_eq "$(hctl 2 --json vm show s1 | jq -r .state)" stopped "s1 on h2 after the cold migration"
hctl 2 vm start s1 >/dev/null || fail "start s1 on h2"
hctl 2 vm wait s1 ready --timeout 240 >/dev/null || fail "s1 not ready on h2"
expect_eq "$(hctl 2 --json vm show s1 | jq -r '.nics[0].mac')" "$mac" "s1's MAC on h2"
expect_eq "$(on 2 s1 hostname | tr -d '\r' | tail -n 1)" s1 "s1's hostname on h2"
expect_eq "$(on 2 s1 "cat /sys/class/net/eth0/address" | tr -d '\r' | tail -n 1)" "$mac" "s1's guest MAC"
http_ok 10.62.0.30 || fail "s1 does not serve HTTP on h2"
log "s1 h1 -> h2 cold: started on h2 with MAC $mac and hostname s1"

# ---- a destination without room: refused, nothing left there -------------------------
mem=$(raw 2 host.info '{}' | jq .result.memory_mib)
big=$(hctl 2 --json vm show w1 | jq -c --argjson m "$((mem - 512 - 64))" \
	'.name = "big" | .memory_mib = $m | .nics[0].address = "10.62.0.99/24" | .nics[0].mac = "52:54:00:62:00:99"')
out=$(raw 2 vm.migrate.prepare "$(jq -c '{spec:., id:"00000000000000bb", live:true}' <<<"$big")")
expect_eq "$(jq -r .error.code <<<"$out")" insufficient_resources "prepare of a VM with $((mem - 576)) MiB on h2"
gone_from 2 big
[ ! -e "$T/h2/state/vms/00000000000000bb" ] || fail "h2 kept the refused VM's directory"
log "a destination without room: $(jq -r .error.message <<<"$out")"

# ---- cancel mid-way ------------------------------------------------------------
# mig_bg FROM TO NAME: a slow send in the background ($T/sent.json), once
# its RAM is moving.
mig_bg() {
	local from=$1 to=$2 name=$3 i=0
	(mig "$from" "$to" "$name" true '{"max_bandwidth": 262144}'; printf '%s' "$SENT" >"$T/sent.json") &
	BG=$!
	until raw "$from" vm.migrate.status "{\"name\":\"$name\"}" | jq -e '.result.ram.transferred > 0' >/dev/null; do
		i=$((i + 1))
		[ $i -lt 600 ] || fail "the migration of $name never moved RAM: $(raw "$from" vm.migrate.status "{\"name\":\"$name\"}")"
		sleep 0.1
	done
	log "$name mid-way: $(raw "$from" vm.migrate.status "{\"name\":\"$name\"}" | jq -c '.result | {status, ram, mirror}')"
}
rm -f "$T/sent.json"
mig_bg 2 1 w1
raw 2 vm.migrate.cancel '{"name":"w1"}' | jq -e .ok >/dev/null || fail "cancel"
wait "$BG"
jq -e '.ok == false' "$T/sent.json" >/dev/null || fail "a cancelled send succeeded: $(cat "$T/sent.json")"
log "cancelled: $(jq -r .error.message "$T/sent.json")"
expect_eq "$(hctl 2 --json vm show w1 | jq -r .state)" running "w1 on h2 after the cancel"
http_ok 10.62.0.10 || fail "w1 does not serve HTTP after the cancel"
raw 1 vm.migrate.abort '{"name":"w1"}' | jq -e .ok >/dev/null || fail "abort on h1"
raw 1 vm.migrate.abort '{"name":"w1"}' | jq -e .ok >/dev/null || fail "a second abort on h1"
gone_from 1 w1
expect_eq "$(ls "$T/h1/state/vms" | wc -l)" 0 "VM directories on h1 after the abort"

# ---- the destination's agent killed mid-way -------------------------------------
rm -f "$T/sent.json"
mig_bg 2 1 w1
kill -9 "${APID[1]}"
wait "${APID[1]}" 2>/dev/null || true
host_start 1
wait "$BG"
jq -e '.ok == false' "$T/sent.json" >/dev/null || fail "the send succeeded without its destination: $(cat "$T/sent.json")"
log "destination agent killed and restarted: the send says: $(jq -r .error.message "$T/sent.json")"
expect_eq "$(hctl 2 --json vm show w1 | jq -r .state)" running "w1 on h2 after h1's agent died"
http_ok 10.62.0.10 || fail "w1 does not serve HTTP after h1's agent died"
gone_from 1 w1
expect_eq "$(ls "$T/h1/state/vms" | wc -l)" 0 "VM directories on h1 after its restart"
raw 1 vm.migrate.abort '{"name":"w1"}' | jq -e .ok >/dev/null || fail "abort after the restart"
log "w1 runs on h2; h1 removed what it had prepared"

# ---- the source's agent killed mid-way -------------------------------------------
rm -f "$T/sent.json"
mig_bg 2 1 w1
qpid=$(hctl 2 --json vm show w1 | jq -r .pid)
kill -9 "${APID[2]}"
wait "${APID[2]}" 2>/dev/null || true
wait "$BG" || true
host_start 2
expect_eq "$(hctl 2 --json vm show w1 | jq -r '.state + " " + (.pid | tostring) + " " + (.migration | tostring)')" \
	"running $qpid null" "w1 on h2 after its agent's restart"
expect_eq "$(raw 2 vm.migrate.status '{"name":"w1"}' | jq -r .result.status)" none "w1's migration after the restart"
http_ok 10.62.0.10 || fail "w1 does not serve HTTP after h2's agent restarted"
raw 1 vm.migrate.abort '{"name":"w1"}' | jq -e .ok >/dev/null || fail "abort on h1 after the source's restart"
gone_from 1 w1
expect_eq "$(ls "$T/h1/state/vms" | wc -l)" 0 "VM directories on h1 after the abort"
log "source agent killed mid-way and restarted: the migration cancelled, w1 runs on h2 (same QEMU); h1 clean after abort"

# ---- the operator's command: back to h1 ---------------------------------------------
out=$(hctl 2 vm migrate w1 --to "$T/h1/agent.sock" 2>&1) || fail "ctl vm migrate: $out"
expect_eq "$(hctl 1 --json vm show w1 | jq -r .state)" running "w1 on h1 after ctl vm migrate"
gone_from 2 w1
http_ok 10.62.0.10 || fail "w1 does not serve HTTP back on h1"
log "ctl vm migrate w1 h2 -> h1: $out"
