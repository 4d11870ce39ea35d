#!/bin/bash
# A tenant's WireGuard gateway, road warrior to a network (agent level,
# issue #17): one web VM behind the tenant's firewall, the gateway in the
# firewall namespace, an "outside computer" namespace on the external
# network running wg-quick with wireguard-go and a config this test wrote.
# Checked: ping and HTTP through the tunnel; on the outer interface only
# UDP to the gateway's port while a marker goes through (0 times outside,
# >= 1 inside); the client's AllowedIPs are wider than its reach, and what
# is outside its reach stays unreachable (a host on the tenant network,
# reachable once reach is widened); the UDP port is a rule in the rule
# set; net.show has the public key and per-peer counters, never the
# private key; an agent restart keeps the gateway (same key, same peers),
# a killed gateway is started again; expired peers are cut off;
# revoking the peer cuts it off at once; net.delete stops the gateway; no
# private key in any log or command line.
. "$(dirname "$0")/lib.sh"

A=va-$$
EXT=clx-vpn-$$ EXTBR=cv$$ OUT=clo-vpn-$$ HOST=clh-vpn-$$
EXT_NETNS=$EXT EXT_BRIDGE=$EXTBR
NETNS_LIST="cln-$A clf-$A $EXT"
OIF=wgo$$  # the outside computer's WireGuard interface
PORT=51820
OUT_WG_PID=
CAP_PIDS=

# Processes this test started itself, by PID (the outside wireguard-go is
# found by its exact command line, then killed by PID; lib.sh's cleanup
# stops the agent's gateway by its pid file).
vpn_cleanup() {
	for p in $CAP_PIDS $OUT_WG_PID; do kill "$p" 2>/dev/null; done
	rm -f "/var/run/wireguard/$OIF.sock"
}
CLEANUP_HOOKS="vpn_cleanup"

netns_add "$OUT"
netns_add "$HOST"
agent_start

umask 077
wg genkey >"$T/gw.key"
wg genkey >"$T/client.key"
GW_PUB=$(wg pubkey <"$T/gw.key")
CL_PRIV=$(cat "$T/client.key")
CL_PUB=$(wg pubkey <"$T/client.key")

# The state goes to the agent on stdin: the key is never in an argv.
apply_vpn() {
	jq -cn --arg t "$A" --rawfile k "$T/gw.key" --argjson port "$PORT" --argjson peers "$1" \
		'($k | rtrimstr("\n")) as $k | {op:"net.apply", args:{tenant:$t, networks:[{id:"main",cidr:"10.1.0.0/24"}],
		  external:{address:"198.18.0.10/24"}, rules:[],
		  vpn:{listen_port:$port, private_key:$k, address:"10.99.0.1/24", peers:$peers}}}' |
		ctl raw -
}
applied() { out=$(apply_vpn "$1" || true); jq -e .ok >/dev/null <<<"$out" || fail "net.apply refused: $out"; }
peer() { jq -cn --arg k "$CL_PUB" --argjson reach "$1" '[{public_key:$k, allowed_ips:["10.99.0.2/32"], reach:$reach}]'; }
show() { ctl raw "{\"op\":\"net.show\",\"args\":{\"tenant\":\"$A\"}}"; }

applied "$(peer '["10.1.0.10/32"]')"
outside_attach "$OUT"

ctl vm create web1 --image web-hosting --vcpus 1 --memory 160 --disk 1 --provision cold \
	--nic "network=$A/main,address=10.1.0.10/24" >/dev/null || fail "create web1"

# A host on the tenant network outside the peer's reach (a namespace on
# the tenant bridge, not a VM tap: the same path through the firewall).
BR=$(show | jq -r '.result.networks[0].bridge')
ip link add "h$$" type veth peer name "hp$$"
ip link set "h$$" netns "$HOST"
ip link set "hp$$" netns "cln-$A"
ip -n "cln-$A" link set "hp$$" master "$BR" up
ip -n "$HOST" addr add 10.1.0.50/24 dev "h$$"
ip -n "$HOST" link set "h$$" up
ip -n "$HOST" link set lo up
ip -n "$HOST" route add default via 10.1.0.1

# The gateway: wireguard-go in the firewall namespace, its port a rule.
v=$(show | jq -c .result.vpn)
expect_eq "$(jq -r .public_key <<<"$v")" "$GW_PUB" "gateway public key"
expect_eq "$(jq -r .running <<<"$v")" true "gateway running"
WGIF=$(jq -r .interface <<<"$v")
GW_PID=$(jq -r .pid <<<"$v")
ip -n "clf-$A" link show "$WGIF" >/dev/null || fail "no $WGIF in the firewall namespace"
ip netns exec "clf-$A" nft list ruleset | grep -q "ip daddr 198.18.0.10 udp dport $PORT accept" ||
	fail "no rule for the gateway's port"
ip netns exec "clf-$A" nft list ruleset | grep -q "maxseg size set rt mtu" || fail "no MSS clamping"
show | grep -qF -f "$T/gw.key" && fail "net.show holds the private key"
tr '\0' ' ' <"/proc/$GW_PID/cmdline" | grep -qF -f "$T/gw.key" && fail "private key on a command line"
expect_eq "$(stat -c %a "$T/state/net/$A/desired.json")" 600 "state file mode"
log "gateway $WGIF (pid $GW_PID) in clf-$A"

# The outside computer: its config routes the whole tenant network into
# the tunnel, wider than its reach.
cat >"$T/$OIF.conf" <<EOF
[Interface]
PrivateKey = $CL_PRIV
Address = 10.99.0.2/32

[Peer]
PublicKey = $GW_PUB
Endpoint = 198.18.0.10:$PORT
AllowedIPs = 10.1.0.0/24
EOF
WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go ip netns exec "$OUT" wg-quick up "$T/$OIF.conf" \
	>"$T/wg-quick.log" 2>&1 || { cat "$T/wg-quick.log"; fail "wg-quick up"; }
for p in $(pgrep -x wireguard-go); do
	[ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "wireguard-go $OIF " ] && OUT_WG_PID=$p
done
[ -n "$OUT_WG_PID" ] || fail "the outside wireguard-go is not running"

ctl vm wait web1 ready --timeout 240 >/dev/null || fail "web1 not ready"
log "web1 ready"

out_ping() { ip netns exec "$OUT" ping -c 1 -W 2 "$1" >/dev/null 2>&1; }
out_get() { ip netns exec "$OUT" curl -s -o /dev/null --max-time 5 "http://$1/${2:-}"; }
# The first packet waits for the handshake: a few tries, none timed.
tries() { for _ in 1 2 3 4 5; do "$@" && return 0; done; return 1; }

tries out_ping 10.1.0.10 || fail "no ping through the tunnel"
out_get 10.1.0.10 || fail "no HTTP through the tunnel"
log "ping and HTTP to 10.1.0.10 through the tunnel"

# Encrypted: the marker in the tunnel, never on the wire.
capture() { # NS IF FILE
	ip netns exec "$1" tcpdump -Z root --immediate-mode -i "$2" -U -n -w "$3" >"$3.log" 2>&1 &
	CAP_PIDS="$CAP_PIDS $!"
	for _ in $(seq 100); do grep -q "listening on" "$3.log" && return 0; sleep 0.1; done
	fail "tcpdump on $2 did not start"
}
capture "$OUT" "o$$" "$T/outer.pcap"
capture "$OUT" "$OIF" "$T/inner.pcap"
MARK="cloudletmark$$x$RANDOM"
out_get 10.1.0.10 "?$MARK" || fail "no HTTP with the marker"
# Stop once the marker's packets are written (-U: packet by packet).
for _ in $(seq 50); do
	tcpdump -r "$T/inner.pcap" -A -n 2>/dev/null | grep -q "$MARK" && break
	sleep 0.1
done
for p in $CAP_PIDS; do kill -INT "$p"; wait "$p" 2>/dev/null; done
CAP_PIDS=
outer=$(tcpdump -r "$T/outer.pcap" -A -n 2>/dev/null | grep -c "$MARK" || true)
inner=$(tcpdump -r "$T/inner.pcap" -A -n 2>/dev/null | grep -c "$MARK" || true)
other=$(tcpdump -r "$T/outer.pcap" -n "ip and not udp port $PORT" 2>/dev/null | wc -l)
udp=$(tcpdump -r "$T/outer.pcap" -n "udp port $PORT" 2>/dev/null | wc -l)
expect_eq "$outer" 0 "marker on the outer interface"
[ "$inner" -ge 1 ] || fail "marker not seen inside the tunnel"
expect_eq "$other" 0 "IP packets on the outer interface besides WireGuard's"
[ "$udp" -ge 1 ] || fail "no WireGuard packets on the outer interface"
log "marker: $inner inside, 0 outside; $udp UDP packets to port $PORT, nothing else"

# Reach, not AllowedIPs: 10.1.0.50 is routed into the tunnel by the
# client, and dropped at the gateway, until reach includes it.
out_ping 10.1.0.50 && fail "10.1.0.50 reached outside the peer's reach"
applied "$(peer '["10.1.0.0/24"]')"
out_ping 10.1.0.50 || fail "10.1.0.50 not reachable with reach widened"
applied "$(peer '["10.1.0.10/32"]')"
out_ping 10.1.0.50 && fail "10.1.0.50 still reachable after reach was narrowed"
out_ping 10.1.0.10 || fail "10.1.0.10 lost after reach changed"
log "reach enforced at the gateway (10.1.0.50: no, yes with reach widened, no again)"

# Per-peer status from the gateway.
p=$(show | jq -c .result.vpn.peers[0])
[ "$(jq -r .last_handshake <<<"$p")" -gt 0 ] || fail "no handshake in net.show: $p"
[ "$(jq -r .rx_bytes <<<"$p")" -gt 0 ] || fail "no rx_bytes in net.show: $p"
[ "$(jq -r .tx_bytes <<<"$p")" -gt 0 ] || fail "no tx_bytes in net.show: $p"
log "peer status: $(jq -c '{last_handshake, rx_bytes, tx_bytes}' <<<"$p")"

# Agent restart: the gateway is adopted with the same key and peer.
agent_stop
agent_start
v=$(show | jq -c .result.vpn)
expect_eq "$(jq -r .public_key <<<"$v")" "$GW_PUB" "public key after restart"
expect_eq "$(jq -r .pid <<<"$v")" "$GW_PID" "gateway adopted after restart"
expect_eq "$(jq -r '.peers | length' <<<"$v")" 1 "peers after restart"
out_ping 10.1.0.10 || fail "no ping through the tunnel after an agent restart"
out_get 10.1.0.10 || fail "no HTTP through the tunnel after an agent restart"
log "agent restart: gateway adopted (pid $GW_PID), same key, tunnel works"

# wireguard-go killed: the agent's watch starts it again with the same
# key and peers; the client's next handshake gets through.
kill -9 "$GW_PID"
for _ in $(seq 60); do
	v=$(show | jq -c .result.vpn)
	[ "$(jq -r .pid <<<"$v")" != "$GW_PID" ] && [ "$(jq -r .running <<<"$v")" = true ] && break
	sleep 0.5
done
NEW_PID=$(jq -r .pid <<<"$v")
[ "$NEW_PID" != "$GW_PID" ] || fail "the killed gateway was not started again"
expect_eq "$(jq -r .public_key <<<"$v")" "$GW_PUB" "public key after the gateway's restart"
GW_PID=$NEW_PID
ok=no
for _ in $(seq 30); do out_ping 10.1.0.10 && { ok=yes; break; }; done
expect_eq "$ok" yes "tunnel after the gateway was restarted"
log "killed gateway restarted by the agent (pid $GW_PID), tunnel works again"

# Revoked: cut off at once, also the established session.
applied '[]'
out_ping 10.1.0.10 && fail "a revoked peer still reaches 10.1.0.10"
out_get 10.1.0.10 && fail "a revoked peer still gets the page"
expect_eq "$(show | jq -r '.result.vpn.peers | length')" 0 "peers after revoke"
ip netns exec "clf-$A" nft list ruleset | grep -q "10.99.0.2" && fail "the revoked peer's rule is left"
log "revoked peer cut off at once"

# Expiry: a peer whose time has passed gets nothing; one whose time runs
# out while connected is cut off by the agent's watch.
expiring() { jq -cn --arg k "$CL_PUB" --argjson e "$1" '[{public_key:$k, allowed_ips:["10.99.0.2/32"], reach:["10.1.0.10/32"], expires:$e}]'; }
applied "$(expiring $(($(date +%s) - 1)))"
expect_eq "$(show | jq -r '.result.vpn.peers[0].expired')" true "expired flag"
out_ping 10.1.0.10 && fail "an expired peer reaches 10.1.0.10"
applied "$(expiring $(($(date +%s) + 3600)))"
tries out_ping 10.1.0.10 || fail "the peer added again gets no ping through"
applied "$(expiring $(($(date +%s) + 2)))"
for _ in $(seq 60); do
	[ "$(show | jq -r '.result.vpn.peers[0].expired')" = true ] &&
		! ip netns exec "clf-$A" nft list ruleset | grep -q "10.99.0.2" && break
	sleep 0.5
done
ip netns exec "clf-$A" nft list ruleset | grep -q "10.99.0.2" && fail "the expired peer's rule is left"
out_ping 10.1.0.10 && fail "a peer past its expiry still reaches 10.1.0.10"
log "expired peers are refused and cut off"

# Bad input changes nothing: a malformed key, too many peers.
bad=$(jq -cn '[{public_key:"not-a-key", allowed_ips:["10.99.0.3/32"], reach:["10.1.0.10/32"]}]')
out=$(apply_vpn "$bad" || true)
expect_eq "$(jq -r .error.code <<<"$out")" invalid "malformed key"
many=$(jq -cn '[range(257) | {public_key:"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", allowed_ips:["10.99.0.3/32"], reach:["10.1.0.10/32"]}]')
expect_match "$(apply_vpn "$many" | jq -r .error.message)" "at most 256" "too many peers"
expect_eq "$(show | jq -r .result.vpn.pid)" "$GW_PID" "gateway after refused applies"

# No private key in any log, and none on the agent's command lines.
for f in "$T/agent.log" "$T/state/net/$A/wg.log" "$T/wg-quick.log" "$T"/*.pcap.log \
	"$ROOT/build/test-logs${LOGS_SUFFIX:-}/$TNAME.log"; do
	[ -f "$f" ] || continue
	grep -qF -f "$T/gw.key" -f "$T/client.key" "$f" && fail "a private key in $f"
done
log "no private key in the logs"

# net.delete (no VMs left) stops the gateway and removes its socket.
ctl vm delete web1 >/dev/null
ip -n "$HOST" link del "h$$"
ctl raw "{\"op\":\"net.delete\",\"args\":{\"tenant\":\"$A\"}}" | jq -e .ok >/dev/null || fail "net.delete"
proc_alive "$GW_PID" && fail "wireguard-go $GW_PID left running"
[ -e "/var/run/wireguard/$WGIF.sock" ] && fail "UAPI socket left behind"
ip netns exec "$OUT" wg-quick down "$T/$OIF.conf" >/dev/null 2>&1 || true
log "net.delete removed the gateway"
