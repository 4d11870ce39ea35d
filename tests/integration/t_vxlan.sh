#!/bin/bash
# A tenant network spanning two hosts (docs/hosts.md), agent level: two
# agents (h1, h2) on one machine, each with its own underlay namespace on a
# "datacenter" bridge the test made (MTU 1550). Tenant A's network has
# VNI 6100: its firewall and DHCP live on h1 (home), h2 is a member with
# only the bridge, the VXLAN port and its VMs' anti-spoofing. Tenant B
# uses the same subnet with VNI 6200.
#   - a2 on h2 reaches a1 on h1 and the gateway (A's firewall on h1);
#     full-size packets (1500 bytes) go both ways and nothing on the
#     underlay is fragmented;
#   - a3 on h2 gets its DHCP lease from h1's dnsmasq over the segment;
#   - anti-spoofing holds on h2 (a forged address reaches nothing);
#   - b2 (tenant B, h2, same subnet) reaches its own gateway and nothing
#     of tenant A; h2 holds no firewall and no DHCP of either tenant;
#   - an agent whose underlay device has MTU 1500 refuses to start.
. "$(dirname "$0")/lib.sh"

A=va-$$ B=vb-$$
DC=cldc-$$
NETNS_LIST="$DC clul1-$$ clul2-$$ clul3-$$ clx-vx1-$$ clx-vx2-$$ clx-vx3-$$"
for n in 1 2; do NETNS_LIST="$NETNS_LIST h${n}n-$A h${n}f-$A h${n}n-$B h${n}f-$B"; done
PIDS=

# The datacenter: a bridge in its own namespace, one underlay namespace per
# host with a veth on it.
netns_add "$DC"
ip -n "$DC" link add dcbr type bridge
ip -n "$DC" link set dcbr mtu 1550 up
underlay() { # underlay N MTU
	n=$1 mtu=$2
	netns_add "clul$n-$$"
	ip link add "ul$n$$" mtu "$mtu" type veth peer name "dc$n$$" mtu "$mtu"
	ip link set "ul$n$$" netns "clul$n-$$"
	ip link set "dc$n$$" netns "$DC"
	ip -n "$DC" link set "dc$n$$" master dcbr up
	ip -n "clul$n-$$" addr add "192.168.250.$n/24" dev "ul$n$$"
	ip -n "clul$n-$$" link set "ul$n$$" up
	ip -n "clul$n-$$" link set lo up
}
underlay 1 1550
underlay 2 1550
underlay 3 1500

start() { # start N: agent hN on underlay N
	n=$1
	mkdir -p "$T/h$n/shm"
	chmod 711 "$T/h$n"
	chmod 1777 "$T/h$n/shm"
	"$AGENT_BIN" serve --socket "$T/h$n/agent.sock" --state-dir "$T/h$n/state" \
		--guest-dir "$GUEST_DIR" --stop-timeout 20 --template-ram-dir "$T/h$n/shm" \
		--auto-templates off --external-netns "clx-vx$n-$$" --external-bridge "cxv$n$$" \
		--name-prefix "h$n" --underlay-netns "clul$n-$$" --underlay-address "192.168.250.$n" \
		>>"$T/h$n/agent.log" 2>&1 &
	LAST=$!
	PIDS="$PIDS $LAST"
	i=0
	while [ ! -S "$T/h$n/agent.sock" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || return 1
		kill -0 "$LAST" 2>/dev/null || return 1
		sleep 0.1
	done
}
hctl() { n=$1; shift; "$AGENT_BIN" ctl --socket "$T/h$n/agent.sock" "$@"; }
CTL_SOCK=
ctl() { "$AGENT_BIN" ctl --socket "$CTL_SOCK" "$@"; }
on() { CTL_SOCK=$T/h$1/agent.sock; shift; guest_sh "$@"; }
stop_all() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	# Their QEMUs and dnsmasqs go with lib.sh's cleanup.
}
trap 'rc=$?; set +e; stop_all; (exit $rc); cleanup' EXIT

start 1 || fail "h1 did not start: $(tail -3 "$T/h1/agent.log")"
start 2 || fail "h2 did not start: $(tail -3 "$T/h2/agent.log")"
if start 3; then fail "an agent started on an underlay with MTU 1500"; fi
expect_match "$(cat "$T/h3/agent.log")" "has MTU 1500: VXLAN segments need 1550" "h3's refusal"
log "an underlay with MTU 1500 is refused: $(grep -o 'the underlay device.*' "$T/h3/agent.log" | head -1)"

# state TENANT VNI ROLE PEER [REMOTE_PORTS]
state() {
	jq -cn --arg t "$1" --argjson vni "$2" --arg role "$3" --arg peer "$4" --argjson remote "${5:-[]}" \
		'{tenant:$t, mode:"namespace", role:$role, networks:[{id:"main",cidr:"10.61.0.0/24",vni:$vni,peers:[$peer]}],
		  rules:[], remote_ports:$remote}'
}
apply() { hctl "$1" raw "$(jq -c '{op:"net.apply",args:.}' <<<"$2")" | jq -e .ok >/dev/null ||
	fail "net.apply on h$1: $(hctl "$1" raw "$(jq -c '{op:"net.apply",args:.}' <<<"$2")")"; }
A3MAC=52:54:00:61:00:12
apply 1 "$(state "$A" 6100 home 192.168.250.2 "[{\"mac\":\"$A3MAC\",\"address\":\"10.61.0.12\"}]")"
apply 2 "$(state "$A" 6100 member 192.168.250.1)"
apply 1 "$(state "$B" 6200 home 192.168.250.2)"
apply 2 "$(state "$B" 6200 member 192.168.250.1)"
ip netns list | grep -qw "h2f-$A" && fail "a member host made a firewall namespace"
expect_eq "$(hctl 2 raw "{\"op\":\"net.show\",\"args\":{\"tenant\":\"$A\"}}" | jq -r .result.dhcp_pid)" 0 "DHCP on the member"
expect_eq "$(ip -n "h2n-$A" -o addr show dev "$(ip -n "h2n-$A" -o link show | grep -o 'br-[0-9a-f]*' | head -1)" | grep -c inet || true)" 0 "addresses on the member's bridge"
vni=$(ip -d -j -n "h2n-$A" link show | jq -r '.[] | select(.ifname | startswith("vx-")) | .linkinfo.info_data.id')
expect_eq "$vni" 6100 "VNI of A's segment on h2"
log "h1 home (firewall, DHCP), h2 member (bridge and vx- port with VNI $vni only)"

vm() { # vm HOST NAME TENANT NICOPTS
	hctl "$1" vm create "$2" --image web-hosting --vcpus 1 --memory 128 --disk 1 --provision cold \
		--nic "network=$3/main,$4" >"$T/create.out" 2>&1 || fail "create $2 on h$1: $(cat "$T/create.out")"
}
vm 1 a1 "$A" address=10.61.0.10/24
vm 2 a2 "$A" address=10.61.0.11/24
vm 2 a3 "$A" "address=10.61.0.12/24,mac=$A3MAC"
vm 2 b2 "$B" address=10.61.0.11/24
for v in 1:a1 2:a2 2:a3 2:b2; do
	hctl "${v%%:*}" vm wait "${v#*:}" ready --timeout 240 >/dev/null || fail "${v#*:} not ready"
done
log "a1 on h1; a2, a3 (A) and b2 (B) on h2: ready"

frags() { # fragments created in both underlay namespaces (/proc/net/snmp)
	for n in 1 2; do
		ip netns exec "clul$n-$$" awk '/^Ip:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "FragCreates") c = i; h = 1 } else print $c }' /proc/net/snmp
	done | awk '{s += $1} END {print s + 0}'
}
f0=$(frags)
on 2 a2 "ping -c 1 -W 2 10.61.0.10 >/dev/null 2>&1" >/dev/null || fail "a2 (h2) cannot reach a1 (h1)"
on 2 a2 "ping -c 1 -W 2 10.61.0.1 >/dev/null 2>&1" >/dev/null || fail "a2 (h2) cannot reach its gateway (h1)"
on 2 a2 "ping -c 2 -W 2 -s 1472 10.61.0.10 >/dev/null 2>&1" >/dev/null || fail "full-size ping a2 -> a1"
on 1 a1 "ping -c 2 -W 2 -s 1472 10.61.0.11 >/dev/null 2>&1" >/dev/null || fail "full-size ping a1 -> a2"
expect_eq "$(frags)" "$f0" "fragments made on the underlay"
log "a2 (h2) <-> a1 (h1) and the gateway; 1500-byte packets both ways, no fragment on the underlay"

lease=$(on 2 a3 "udhcpc -i eth0 -n -q -t 3 -s /bin/true 2>&1" 30 || true)
expect_match "$lease" "10.61.0.12" "a3's DHCP lease from h1"
log "a3 (h2): $(printf '%s' "$lease" | grep -o 'lease of [0-9.]* obtained' | head -n1) from h1 over the segment"

on 2 a2 "ip addr add 10.61.0.50/24 dev eth0 && ip addr del 10.61.0.11/24 dev eth0" >/dev/null ||
	fail "a2: changing its address"
if on 2 a2 "ping -c 1 -W 2 10.61.0.10 >/dev/null 2>&1" >/dev/null; then
	fail "a2 reached a1 from a forged address"
fi
on 2 a2 "ip addr add 10.61.0.11/24 dev eth0 && ip addr del 10.61.0.50/24 dev eth0 && ip route add default via 10.61.0.1" >/dev/null || true
log "anti-spoofing on h2: a forged address reaches nothing"

on 2 b2 "ping -c 1 -W 2 10.61.0.1 >/dev/null 2>&1" >/dev/null || fail "b2 cannot reach B's gateway"
if on 2 b2 "ping -c 1 -W 2 10.61.0.10 >/dev/null 2>&1" >/dev/null; then
	fail "b2 (tenant B) reached a1 (tenant A) on the same subnet"
fi
if on 2 b2 "ping -c 1 -W 2 10.61.0.12 >/dev/null 2>&1" >/dev/null; then
	fail "b2 (tenant B) reached a3 (tenant A) on its own host"
fi
log "tenant B on the same subnet: its own gateway, nothing of tenant A"
