#!/bin/bash
# A tenant's network under churn (agent level): 50 VMs created and then
# deleted, five at a time, with an agent restart in the middle of each
# phase. A VM's create and delete change only its own anti-spoofing
# elements and DHCP lease (net.h: applied in-process as a change); after
# every phase the kernel must hold exactly what the generated state says:
#   - the sets vm_mac and vm_ip hold exactly the VMs' (tap, MAC, address),
#   - dnsmasq's hosts file lists exactly their (MAC, address),
#   - net.show says in_sync, and applying everything again (net.repair)
#     leaves the same rule set (the incremental path and a full reload
#     agree),
#   - a few of the VMs run, and one of them reaches the tenant gateway
#     from its address while a spoofed address gets nothing.
# The time each create and delete took is logged, not judged.
. "$(dirname "$0")/lib.sh"

C=ch-$$
EXT=clx-ch-$$ EXTBR=cx$$
EXT_NETNS=$EXT EXT_BRIDGE=$EXTBR
NETNS_LIST="cln-$C clf-$C $EXT"
N=${CHURN_VMS:-50}
agent_start

STATE=$(jq -cn --arg t "$C" '{tenant:$t, mode:"namespace", networks:[{id:"main",cidr:"10.9.0.0/24"}],
  external:{address:"198.18.0.90/24"}, rules:[]}')
ctl raw "$(jq -c '{op:"net.apply",args:.}' <<<"$STATE")" | jq -e .ok >/dev/null || fail "net.apply"

# The (tap mac ip) triples the kernel should hold, from the agent's VMs.
expected() {
	ctl --json vm list | jq -r '.[] | .id as $id | .nics | to_entries[] |
	  select(.value.address != "") |
	  "vt\($id[0:11])\(.key) \(.value.mac) \(.value.address | split("/")[0])"' | sort
}
# What the kernel holds in the tenant namespace's vm_ip set.
held() {
	ip netns exec "cln-$C" nft -j list set bridge cloudlet vm_ip |
		jq -r '.nftables[] | select(.set) | (.set.elem // [])[] | .concat | "\(.[0]) \(.[1]) \(.[2])"' | sort
}
held_mac() {
	ip netns exec "cln-$C" nft -j list set bridge cloudlet vm_mac |
		jq -r '.nftables[] | select(.set) | (.set.elem // [])[] | .concat | "\(.[0]) \(.[1])"' | sort
}
# The whole rule set with set elements one per line and sorted: the
# kernel lists a set's elements in its hash order.
ruleset_norm() {
	ip netns exec "cln-$C" nft list ruleset | tr ',{}' '\n\n\n' | sed 's/^[[:space:]]*//' |
		grep -v '^$' | sort
}

check() {
	what=$1
	exp=$(expected)
	[ "$(held)" = "$exp" ] || fail "$what: vm_ip differs from the VMs: $(diff <(held) <(echo "$exp") | head)"
	[ "$(held_mac)" = "$(awk 'NF {print $1, $2}' <<<"$exp")" ] || fail "$what: vm_mac differs from the VMs"
	hosts=$(sort "$T/state/net/$C/hosts" | grep -v '^#' || true)
	[ "$hosts" = "$(awk 'NF {print $2 "," $3}' <<<"$exp" | sort)" ] ||
		fail "$what: dnsmasq's hosts differ: $(diff <(echo "$hosts") <(awk 'NF {print $2 "," $3}' <<<"$exp" | sort) | head)"
	expect_eq "$(ctl raw "{\"op\":\"net.show\",\"args\":{\"tenant\":\"$C\"}}" | jq -r .result.in_sync)" true "$what: in_sync"
	ruleset_norm >"$T/rs.before"
	ctl raw "{\"op\":\"net.repair\",\"args\":{\"tenant\":\"$C\"}}" | jq -e .ok >/dev/null || fail "$what: net.repair"
	ruleset_norm >"$T/rs.after"
	cmp -s "$T/rs.before" "$T/rs.after" ||
		fail "$what: a full reload changed the rule set: $(diff "$T/rs.before" "$T/rs.after" | head)"
	log "$what: $(grep -c . <<<"$exp" || true) ports in the sets and leases, in sync, same as a full reload"
}

# create I: VM c<I> at 10.9.0.<I+10>; the first three run, the rest are
# made stopped (their ports are policed all the same).
create() {
	i=$1
	start=--no-start
	[ "$i" -le 3 ] && start=
	t0=$(date +%s%N)
	ctl vm create "c$i" --image web-hosting --vcpus 1 --memory 128 --disk 1 --provision cold \
		--nic "network=$C/main,address=10.9.0.$((i + 10))/24" $start >/dev/null ||
		{ echo "create c$i failed" >>"$T/errors"; return; }
	echo "create $(( ($(date +%s%N) - t0) / 1000000 ))" >>"$T/times"
}
delete() {
	t0=$(date +%s%N)
	ctl vm delete "c$1" >/dev/null || { echo "delete c$1 failed" >>"$T/errors"; return; }
	echo "delete $(( ($(date +%s%N) - t0) / 1000000 ))" >>"$T/times"
}
# run FN FROM TO: five at a time (waiting for these by pid: a bare
# `wait` would wait for the agent too).
run() {
	fn=$1 from=$2 to=$3 pids=
	for i in $(seq "$from" "$to"); do
		"$fn" "$i" &
		pids="$pids $!"
		if [ $((i % 5)) -eq 0 ]; then
			wait $pids
			pids=
		fi
	done
	[ -z "$pids" ] || wait $pids
	[ ! -s "$T/errors" ] || fail "$(cat "$T/errors")"
}
times() {
	grep "^$1 " "$T/times" | awk '{print $2}' | sort -n |
		awk '{a[NR]=$1} END {if (NR) printf "%d %s: median %d ms, max %d ms", NR, w, a[int((NR+1)/2)], a[NR]}' w="$1"
}

half=$((N / 2))
run create 1 "$half"
check "after $half creates"
agent_stop
agent_start
check "after an agent restart"
run create $((half + 1)) "$N"
check "after $N creates"
log "$(times create)"

# The running ones got their leases and are policed: c1 reaches the
# gateway from its own address and not from a forged one.
for i in 1 2 3; do ctl vm wait "c$i" ready --timeout 240 >/dev/null || fail "c$i not ready"; done
guest_sh c1 "ping -c 1 -W 2 10.9.0.1 >/dev/null 2>&1" >/dev/null || fail "c1 cannot reach its gateway"
guest_sh c1 "ip addr add 10.9.0.250/24 dev eth0 && ip addr del 10.9.0.11/24 dev eth0" >/dev/null ||
	fail "c1: changing its address"
if guest_sh c1 "ping -c 1 -W 2 10.9.0.1 >/dev/null 2>&1" >/dev/null; then
	fail "c1 reached the gateway from a forged address"
fi
log "c1 reaches its gateway from its address, not from a forged one"

run delete 1 "$half"
check "after $half deletes"
agent_stop
agent_start
run delete $((half + 1)) "$N"
check "after $N deletes"
[ -z "$(expected)" ] || fail "VMs left: $(expected)"
[ -z "$(held)" ] || fail "elements left in vm_ip: $(held)"
log "$(times delete)"
