#!/bin/bash
# Tenant networks and firewalls (agent level): two tenants with two VMs
# each and an "outside computer" namespace on the shared external network.
# Every pair is tried with ICMP and TCP; only what the rules allow gets
# through and nothing crosses tenants. Then: a rule removed closes the port
# (an established connection stays, as documented), anti-spoofing, DHCP,
# repeated apply and agent restart leave the kernel's rule sets unchanged,
# bad rules change nothing, and deleting the tenants leaves nothing behind.
# FW_MODE=vm runs the same checks against firewall appliance VMs
# (t_net_isolation_vm.sh).
. "$(dirname "$0")/lib.sh"
MODE=${FW_MODE:-namespace}

A=ia-$$ B=ib-$$
EXT=clx-iso-$$ EXTBR=cx$$ OUT=clo-iso-$$
EXT_NETNS=$EXT EXT_BRIDGE=$EXTBR
NETNS_LIST="cln-$A clf-$A cln-$B clf-$B $EXT"
netns_add "$OUT"
agent_start

apply() { ctl raw "$(jq -c '{op:"net.apply",args:.}' <<<"$1")"; }
applied() { apply "$1" | jq -e .ok >/dev/null || fail "net.apply refused: $(apply "$1")"; }

RULE_A80='{"direction":"ingress","action":"allow","protocol":"tcp","port_min":80,"port_max":81,"local":"10.1.0.10/32"}'
STATE_A() {
	jq -cn --arg t "$A" --arg m "$MODE" --argjson rules "$1" '{tenant:$t, mode:$m, networks:[{id:"main",cidr:"10.1.0.0/24"}],
	  external:{address:"198.18.0.10/24"}, addresses:[{address:"198.18.0.11",vm:"10.1.0.10"}],
	  rules:$rules}'
}
STATE_B=$(jq -cn --arg t "$B" --arg m "$MODE" '{tenant:$t, mode:$m, networks:[{id:"main",cidr:"10.2.0.0/24"}],
  external:{address:"198.18.0.20/24"}, addresses:[{address:"198.18.0.21",vm:"10.2.0.10"}], rules:[]}')
applied "$(STATE_A "[$RULE_A80]")"
applied "$STATE_B"

# The outside computer: a namespace on the external bridge.
outside_attach "$OUT"

for v in a1:$A:10.1.0.10 a2:$A:10.1.0.11 b1:$B:10.2.0.10 b2:$B:10.2.0.11; do
	IFS=: read -r n t ip <<<"$v"
	ctl vm create "$n" --image web-hosting --vcpus 1 --memory 160 --disk 1 --provision cold \
		--nic "network=$t/main,address=$ip/24" >/dev/null || fail "create $n"
done
for n in a1 a2 b1 b2; do ctl vm wait "$n" ready --timeout 240 >/dev/null || fail "$n not ready"; done
log "4 VMs ready"

# reach FROM KIND TARGET: FROM is a VM name or "out"; KIND icmp|tcp.
reach() {
	from=$1 kind=$2 dst=$3
	if [ "$kind" = icmp ]; then cmd="ping -c 1 -W 2 $dst >/dev/null 2>&1"
	else cmd="printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 $dst 80 | grep -q 'HTTP/1.[01] 200'"; fi
	if [ "$from" = out ]; then
		if [ "$kind" = icmp ]; then ip netns exec "$OUT" ping -c 1 -W 2 "$dst" >/dev/null 2>&1
		else ip netns exec "$OUT" curl -s -o /dev/null --max-time 3 "http://$dst/"; fi
	else
		guest_sh "$from" "$cmd" >/dev/null
	fi
}
expect_reach() {
	for k in $3; do
		if reach "$1" "$k" "$2"; then got=yes; else got=no; fi
		[ "$got" = "$4" ] || fail "$1 -> $2 ($k): expected reachable=$4, got $got"
		log "$1 -> $2 $k: $got"
	done
}

# From the outside: only A1's port 80 through its external address.
expect_reach out 198.18.0.11 tcp yes
expect_reach out 198.18.0.11 icmp no
expect_reach out 198.18.0.10 "tcp icmp" no
expect_reach out 198.18.0.21 "tcp icmp" no
expect_reach out 198.18.0.20 "tcp icmp" no
expect_reach out 10.1.0.10 "tcp icmp" no
expect_reach out 10.2.0.10 "tcp icmp" no
# Inside a tenant: its own network is open.
expect_reach a1 10.1.0.11 "tcp icmp" yes
expect_reach a2 10.1.0.10 "tcp icmp" yes
expect_reach b1 10.2.0.11 "tcp icmp" yes
expect_reach b2 10.2.0.10 "tcp icmp" yes
# Across tenants: private addresses never; public ones only by the rules.
for f in a1 a2; do expect_reach "$f" 10.2.0.10 "tcp icmp" no; expect_reach "$f" 10.2.0.11 "tcp icmp" no
	expect_reach "$f" 198.18.0.21 "tcp icmp" no; done
for f in b1 b2; do expect_reach "$f" 10.1.0.10 "tcp icmp" no; expect_reach "$f" 10.1.0.11 "tcp icmp" no
	expect_reach "$f" 198.18.0.11 icmp no; done
expect_reach b1 198.18.0.11 tcp yes
# Outbound is allowed (source NAT to the tenant's address).
expect_reach a2 198.18.0.254 icmp yes
expect_reach b2 198.18.0.254 icmp yes
# The firewall answers ping on the gateway, not from outside.
expect_reach a1 10.1.0.1 icmp yes
expect_reach out 198.18.0.10 icmp no

# Source NAT: the outside sees A2 as A's address, A1 as its own.
snat_seen() {
	rm -f "$T/peer"
	ip netns exec "$OUT" socat -T 5 TCP-LISTEN:7001,reuseaddr SYSTEM:"echo \$SOCAT_PEERADDR >$T/peer" &
	sp=$!
	sleep 0.3
	guest_sh "$1" "echo hi | nc -w 2 198.18.0.254 7001" >/dev/null || true
	wait "$sp" 2>/dev/null || true
	cat "$T/peer" 2>/dev/null || echo none
}
expect_eq "$(snat_seen a2)" 198.18.0.10 "source address of a2 seen outside"
expect_eq "$(snat_seen a1)" 198.18.0.11 "source address of a1 seen outside"

# An established connection outlives the rule; new ones are refused.
guest_sh a1 "(nc -l -p 81 > /tmp/got81 &)" >/dev/null
sleep 0.5
mkfifo "$T/hold"
ip netns exec "$OUT" socat -u "OPEN:$T/hold" TCP:198.18.0.11:81 2>"$T/socat.log" &
HOLD_PID=$!
exec 7>"$T/hold"
echo "before" >&7
sleep 1
kill -0 "$HOLD_PID" 2>/dev/null || fail "connection to port 81 failed: $(cat "$T/socat.log")"
applied "$(STATE_A '[]')"
expect_reach out 198.18.0.11 tcp no
echo "after-removal" >&7
sleep 1
got=$(guest_sh a1 "cat /tmp/got81")
expect_match "$got" "after-removal" "data on the established connection"
exec 7>&-
kill "$HOLD_PID" 2>/dev/null || true
applied "$(STATE_A "[$RULE_A80]")"
expect_reach out 198.18.0.11 tcp yes

# Anti-spoofing: a VM that takes another address or MAC gets nothing out.
guest_sh a2 "ip addr add 10.1.0.50/24 dev eth0 && ip addr del 10.1.0.11/24 dev eth0" >/dev/null
expect_reach a2 10.1.0.10 icmp no
expect_reach a2 198.18.0.254 icmp no
guest_sh a2 "ip addr add 10.1.0.11/24 dev eth0 && ip addr del 10.1.0.50/24 dev eth0 && ip route add default via 10.1.0.1" >/dev/null || true
expect_reach a2 10.1.0.10 icmp yes
mac=$(vm_field a2 '.nics[0].mac')
guest_sh a2 "ip link set eth0 down; ip link set eth0 address 52:54:00:de:ad:01; ip link set eth0 up" >/dev/null
expect_reach a2 10.1.0.10 icmp no
guest_sh a2 "ip link set eth0 down; ip link set eth0 address $mac; ip link set eth0 up; ip route add default via 10.1.0.1 2>/dev/null" >/dev/null || true
expect_reach a2 10.1.0.10 icmp yes

# DHCP: dnsmasq in the tenant's namespace hands out the assigned address.
lease=$(guest_sh b2 "udhcpc -i eth0 -n -q -t 3 -s /bin/true 2>&1" 30 || true)
expect_match "$lease" "10.2.0.11" "DHCP lease of b2"
log "DHCP: $(printf '%s' "$lease" | grep -o 'lease of [0-9.]* obtained' | head -n1)"

# Repeated apply and an agent restart leave the kernel's rule sets as they were.
rules() {
	for ns in cln-$A cln-$B; do ip netns exec "$ns" nft list ruleset; done
	if [ "$MODE" = vm ]; then
		# The appliance's own console lines (a configuration the agent
		# sent again after its restart, applied while we list) are not
		# rules: only nft's output counts.
		for t in $A $B; do
			guest_sh "fw-$t" "nft list ruleset" | grep -v '^cloudlet: firewall: '
		done
	else
		for ns in clf-$A clf-$B; do ip netns exec "$ns" nft list ruleset; done
	fi
}
rules >"$T/rules.1"
applied "$(STATE_A "[$RULE_A80]")"
applied "$STATE_B"
rules >"$T/rules.2"
cmp -s "$T/rules.1" "$T/rules.2" || fail "re-applying changed the rule sets: $(diff "$T/rules.1" "$T/rules.2" | head)"
agent_stop
agent_start
# A restarted agent sends the firewall appliance its configuration again
# (the same one): its console line may land in the middle of a listing,
# so a listing is taken again until two agree. A real change never agrees
# with rules.1.
for k in 1 2 3 4 5; do
	rules >"$T/rules.3"
	cmp -s "$T/rules.1" "$T/rules.3" && break
	sleep 1
done
cmp -s "$T/rules.1" "$T/rules.3" || fail "agent restart changed the rule sets: $(diff "$T/rules.1" "$T/rules.3" | head)"
expect_eq "$(ctl raw "{\"op\":\"net.show\",\"args\":{\"tenant\":\"$A\"}}" | jq -r .result.in_sync)" true "in_sync after restart"
if [ "$MODE" = vm ]; then
	guest_sh "fw-$A" "nft flush ruleset" >/dev/null
	expect_reach out 198.18.0.11 tcp no
else
	ip netns exec "clf-$A" nft flush ruleset
	expect_eq "$(ctl raw "{\"op\":\"net.show\",\"args\":{\"tenant\":\"$A\"}}" | jq -r .result.in_sync)" false "in_sync after an outside flush"
fi
applied "$(STATE_A "[$RULE_A80]")"
rules >"$T/rules.4"
cmp -s "$T/rules.1" "$T/rules.4" || fail "re-apply did not restore the rule sets"
expect_reach out 198.18.0.11 tcp yes

# Bad rules get a clear error and change nothing.
bad() {
	out=$(apply "$(STATE_A "[$1]")" || true)
	expect_eq "$(jq -r .error.code <<<"$out")" invalid "code for $1"
	expect_match "$(jq -r .error.message <<<"$out")" "$2" "message for $1"
}
bad '{"direction":"ingress","action":"allow","protocol":"tcp","port_min":80,"local":"10.1.0.10/33"}' "local"
bad '{"direction":"ingress","action":"allow","protocol":"tcp","port_min":80,"remote":"1.2.3.4/8","local":"10.1.0.10/32"}' "host bits zero"
bad '{"direction":"ingress","action":"allow","protocol":"tcp","port_min":0,"local":"10.1.0.10/32"}' "1 to 65535"
bad '{"direction":"ingress","action":"allow","protocol":"tcp","port_min":65536,"local":"10.1.0.10/32"}' "1 to 65535"
bad '{"direction":"ingress","action":"allow","protocol":"sctp","local":"10.1.0.10/32"}' "tcp, udp, icmp or any"
bad '{"direction":"ingress","action":"allow","protocol":"icmp","port_min":5,"local":"10.1.0.10/32"}' "ports need"
bad '{"direction":"ingress","action":"allow","protocol":"tcp","local":"10.2.0.10/32"}' "not inside the tenant"
bad '{"direction":"sideways","action":"allow","protocol":"tcp","local":"10.1.0.10/32"}' "ingress or egress"
bad '{"direction":"ingress","action":"allow","protocol":"tcp","local":"10.1.0.10/32","x":1}' "x"
many=$(jq -cn '[range(1025) | {direction:"ingress",action:"allow",protocol:"tcp",port_min:(. + 1),local:"10.1.0.10/32"}]')
bad "$(jq -c '.[]' <<<"$many" | paste -sd,)" "at most 1024"
rules >"$T/rules.5"
cmp -s "$T/rules.1" "$T/rules.5" || fail "a refused apply changed the rule sets"

# Deleting: VMs first (a network with VMs on it is refused), then tenants.
out=$(ctl raw "{\"op\":\"net.delete\",\"args\":{\"tenant\":\"$A\"}}" || true)
expect_eq "$(jq -r .error.code <<<"$out")" conflict "delete with VMs"
dpids=$(ctl raw "{\"op\":\"net.show\",\"args\":{\"tenant\":\"$A\"}}" | jq -r .result.dhcp_pid)
for n in a1 a2 b1 b2; do ctl vm delete "$n" >/dev/null; done
for t in $A $B; do
	ctl raw "{\"op\":\"net.delete\",\"args\":{\"tenant\":\"$t\"}}" | jq -e .ok >/dev/null || fail "delete $t"
done
for ns in cln-$A clf-$A cln-$B clf-$B; do
	ip netns list | grep -qw "$ns" && fail "namespace $ns left behind"
done
left=$(ip -n "$EXT" -o link show | grep -c "xf-" || true)
expect_eq "$left" 0 "firewall ports left on the external bridge"
proc_alive "$dpids" && fail "dnsmasq $dpids left running"
[ -z "$(ls "$T/state/net")" ] || fail "state left in $T/state/net"
