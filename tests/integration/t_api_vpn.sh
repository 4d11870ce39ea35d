#!/bin/bash
# VPN channels through the API and the CLI, as a customer (issue #17).
# The outside computer is a namespace on the external network running
# wg-quick (wireguard-go) with the configuration the CLI wrote; the office
# is a second namespace (a WireGuard router) with a LAN namespace behind it.
# Checked:
# - network-client (with a preshared key made by the CLI): ping and a 1 MB
#   TCP transfer with its checksum to a VM; on the outer interface only
#   WireGuard's UDP while a marker goes through the tunnel (0 times outside, >= 1 inside); per-peer counters
#   and handshake in the peer list; revoking cuts the peer off at once;
# - the gateway's UDP port is in GET /v1/firewall/rules and
#   `cloudlet firewall rule list`;
# - a key pair and a preshared key made by the API are in that response
#   only (the config downloaded again has placeholders);
# - vm-client: reaches its VM, not the other VM (also with the client's
#   AllowedIPs widened, and after an agent restart); an expiring peer is
#   cut off;
# - network-network: a VM pings a host of the office LAN and back, and
#   the office host sees the VM's own address (no NAT);
# - tenant B gets 404 on A's channel and peer ids and cannot add peers;
#   B's own peer pointed at A's gateway gets no handshake;
# - bad input: a clear 4xx, nothing changed; the peer limit; networks
#   that clash with the VPN are refused, a network in use stays;
# - no private or preshared key in the database, the logs, the events or
#   the views; the daemon's key files are mode 600.
. "$(dirname "$0")/lib.sh"

OUT=clo-vpn-$$ OFF=clo-off-$$ LAN=clo-lan-$$
NETNS_LIST="$OUT $OFF $LAN"
OIF=wgo$$ FIF=wgf$$ # the WireGuard interfaces of the outside computer and the office
PORT=51820
CAP_PIDS=
WG_PIDS=
vpn_cleanup() {
	for p in $CAP_PIDS $WG_PIDS; do kill "$p" 2>/dev/null; done
	rm -f "/var/run/wireguard/$OIF.sock" "/var/run/wireguard/$FIF.sock"
}
CLEANUP_HOOKS="vpn_cleanup"
for ns in $NETNS_LIST; do ip netns add "$ns"; done

cp_start
read -r TA A < <(new_tenant vpna)
read -r _ B < <(new_tenant vpnb)
cli() { CLOUDLET_URL=$URL CLOUDLET_TOKEN=$1 "$CLI_BIN" "${@:2}"; }
umask 077

# Two VMs of A, booting while the API is checked.
expect_api 202 POST /v1/vms "$A" '{"name":"web1","service":"web-hosting","memory_mib":160}'
VM1=$(jq -r .vm_id <<<"$BODY") OP1=$(jq -r .id <<<"$BODY")
expect_api 404 POST /v1/vpn "$B" "{\"name\":\"x\",\"kind\":\"vm-client\",\"vms\":[\"$VM1\"]}"
expect_api 202 POST /v1/vms "$A" '{"name":"web2","service":"web-hosting","memory_mib":160}'
OP2=$(jq -r .id <<<"$BODY")
expect_api 200 GET /v1/firewall "$A"
EXTA=$(jq -r .external_address <<<"$BODY")

# The outside computer (198.18.0.254) and the office router (198.18.0.253)
# on the external bridge; the office LAN 192.168.77.0/24 behind the router.
outside_attach "$OUT"
ip link add "f$$" type veth peer name "fp$$"
ip link set "f$$" netns "$OFF"
ip link set "fp$$" netns "clx-$$"
ip -n "clx-$$" link set "fp$$" master "cx$$" up
ip -n "$OFF" addr add 198.18.0.253/24 dev "f$$"
ip -n "$OFF" link set "f$$" up
ip -n "$OFF" link set lo up
ip link add "l$$" type veth peer name "lp$$"
ip link set "l$$" netns "$LAN"
ip link set "lp$$" netns "$OFF"
ip -n "$OFF" addr add 192.168.77.1/24 dev "lp$$"
ip -n "$OFF" link set "lp$$" up
ip -n "$LAN" addr add 192.168.77.10/24 dev "l$$"
ip -n "$LAN" link set "l$$" up
ip -n "$LAN" link set lo up
ip -n "$LAN" route add default via 192.168.77.1
ip netns exec "$OFF" sysctl -qw net.ipv4.ip_forward=1

# ---- network-client: a laptop into the default network ----------------
out=$(cli "$A" vpn create laptops --kind network-client) || fail "vpn create: $out"
expect_match "$out" "kind: *network-client" "vpn create output"
expect_api 200 GET /v1/vpn/laptops "$A"
CH=$(jq -r .id <<<"$BODY")
GW_PUB=$(jq -r .gateway.public_key <<<"$BODY")
expect_eq "$(jq -r .gateway.address <<<"$BODY"):$(jq -r .gateway.listen_port <<<"$BODY")" "$EXTA:$PORT" "gateway endpoint"
expect_eq "$(jq -r .network <<<"$BODY")" default "channel network"

# Its port is a rule of the tenant's firewall, in the API and the CLI.
expect_api 200 GET /v1/firewall/rules "$A"
expect_eq "$(jq -r '.[] | select(.origin == "vpn") | .protocol + " " + (.port_min|tostring) + " " + .local' <<<"$BODY")" \
	"udp $PORT $EXTA" "the gateway's rule"
cli "$A" firewall rule list | grep -q "$PORT" || fail "cloudlet firewall rule list has no gateway port"
ip netns exec "clf-$TA" nft list ruleset | grep -q "ip daddr $EXTA udp dport $PORT accept" ||
	fail "no rule for the gateway's port in the firewall"

# The CLI makes the pair here and writes the config (0600) with the key.
cli "$A" vpn peer add laptops alice --psk --out "$T/$OIF.conf" >"$T/alice.out" || fail "peer add alice"
expect_eq "$(stat -c %a "$T/$OIF.conf")" 600 "config file mode"
grep -q '^PrivateKey = [A-Za-z0-9+/]\{43\}=$' "$T/$OIF.conf" || fail "no private key in alice's config"
grep -q '^PresharedKey = [A-Za-z0-9+/]\{43\}=$' "$T/$OIF.conf" || fail "no preshared key in alice's config"
sed -n 's/^PrivateKey = //p' "$T/$OIF.conf" >"$T/alice.key"
sed -n 's/^PresharedKey = //p' "$T/$OIF.conf" >"$T/alice.psk"
ALICE_PUB=$(wg pubkey <"$T/alice.key")
expect_api 200 GET "/v1/vpn/$CH/peers" "$A"
expect_eq "$(jq -r '.[0].public_key' <<<"$BODY")" "$ALICE_PUB" "the stored public key is alice's"
ALICE=$(jq -r '.[0].id' <<<"$BODY")
grep -q "^Endpoint = $EXTA:$PORT$" "$T/$OIF.conf" || fail "config endpoint: $(cat "$T/$OIF.conf")"
grep -q "^AllowedIPs = 10.0.0.0/24$" "$T/$OIF.conf" || fail "config AllowedIPs"
grep -q "^MTU = 1420$" "$T/$OIF.conf" || fail "config MTU"
cli "$A" vpn peer config laptops alice --qr | grep -q $'\xe2\x96\x88' || fail "no QR code"
cli "$A" vpn peer config laptops alice >"$T/alice.again"
grep -q '^PrivateKey = (your private key' "$T/alice.again" || fail "the downloaded config has no placeholder"
grep -q '^PresharedKey = (your preshared key' "$T/alice.again" || fail "the downloaded config has no PSK placeholder"
expect_eq "$(jq -r '.[0].preshared_key' <<<"$BODY")" true "alice has a preshared key"

wgq() { # NS CONF up|down
	WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go ip netns exec "$1" wg-quick "$3" "$2" \
		>>"$T/wg-quick.log" 2>&1
}
wg_pid() { for p in $(pgrep -x wireguard-go); do
	[ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "wireguard-go $1 " ] && echo "$p"; done; }
wgq "$OUT" "$T/$OIF.conf" up || { cat "$T/wg-quick.log"; fail "wg-quick up (alice)"; }
WG_PIDS="$WG_PIDS $(wg_pid "$OIF")"

wait_op "$OP1" "$A" >/dev/null
wait_op "$OP2" "$A" >/dev/null
IP1=$(cli "$A" --json vm show web1 | jq -r '.nics[0].address' | cut -d/ -f1)
IP2=$(cli "$A" --json vm show web2 | jq -r '.nics[0].address' | cut -d/ -f1)
log "web1 $IP1, web2 $IP2 ready"

out_ping() { ip netns exec "$OUT" ping -c 1 -W 2 "$1" >/dev/null 2>&1; }
tries() { for _ in 1 2 3 4 5; do "$@" && return 0; done; return 1; }
ok=no # the first packets wait for the handshake and the VM's boot
for _ in $(seq 60); do out_ping "$IP1" && { ok=yes; break; }; sleep 1; done
expect_eq "$ok" yes "ping to web1 through the tunnel"
out_ping "$IP2" || fail "no ping to web2 through the tunnel"

# 1 MB through the tunnel into web1, checked on both ends.
head -c 1000000 /dev/urandom >"$T/blob"
SUM=$(sha256sum "$T/blob" | cut -d' ' -f1)
guest_sh "$VM1" "(nc -l -p 9000 > /tmp/blob &)" >/dev/null
sleep 1
ip netns exec "$OUT" socat -u "FILE:$T/blob" "TCP:$IP1:9000,connect-timeout=5" || fail "TCP transfer"
got=""
for _ in $(seq 20); do
	got=$(guest_sh "$VM1" "sha256sum /tmp/blob" | tr -d '\r' | awk '/blob/ {print $1}')
	[ "$got" = "$SUM" ] && break
	sleep 0.5
done
expect_eq "$got" "$SUM" "checksum of 1 MB sent through the tunnel"
log "network-client: ping web1 and web2, 1 MB to web1 with its checksum"

# Encrypted: a marker through the tunnel, never on the outer interface.
capture() { # NS IF FILE
	ip netns exec "$1" tcpdump -Z root --immediate-mode -i "$2" -U -n -w "$3" >"$3.log" 2>&1 &
	CAP_PIDS="$CAP_PIDS $!"
	for _ in $(seq 100); do grep -q "listening on" "$3.log" 2>/dev/null && return 0; sleep 0.1; done
	fail "tcpdump on $2 did not start"
}
capture "$OUT" "o$$" "$T/outer.pcap"
capture "$OUT" "$OIF" "$T/inner.pcap"
MARK="cloudletmark$$x$RANDOM"
ip netns exec "$OUT" curl -s -o /dev/null --max-time 5 "http://$IP1/?$MARK" || fail "HTTP with the marker"
for _ in $(seq 50); do
	tcpdump -r "$T/inner.pcap" -A -n 2>/dev/null | grep -q "$MARK" && break
	sleep 0.1
done
for p in $CAP_PIDS; do kill -INT "$p"; wait "$p" 2>/dev/null; done
CAP_PIDS=
outer=$(tcpdump -r "$T/outer.pcap" -A -n 2>/dev/null | grep -c "$MARK" || true)
inner=$(tcpdump -r "$T/inner.pcap" -A -n 2>/dev/null | grep -c "$MARK" || true)
other=$(tcpdump -r "$T/outer.pcap" -n "ip and not udp port $PORT" 2>/dev/null | wc -l)
expect_eq "$outer" 0 "marker on the outer interface"
[ "$inner" -ge 1 ] || fail "marker not seen inside the tunnel"
expect_eq "$other" 0 "IP packets on the outer interface besides WireGuard's"
log "marker: $inner inside, 0 outside"

# Counters and handshake from the gateway, in the peer list.
expect_api 200 GET "/v1/vpn/$CH/peers/$ALICE" "$A"
[ "$(jq -r .last_handshake <<<"$BODY")" -gt 0 ] || fail "no handshake: $BODY"
[ "$(jq -r .rx_bytes <<<"$BODY")" -gt 1000000 ] || fail "rx_bytes: $BODY"
[ "$(jq -r .tx_bytes <<<"$BODY")" -gt 0 ] || fail "tx_bytes: $BODY"
cli "$A" vpn peer list laptops | grep -q "alice .*s ago" || fail "peer list: $(cli "$A" vpn peer list laptops)"

# Tenant B: A's ids are not found; B cannot add a peer to A's channel.
expect_api 404 GET "/v1/vpn/$CH" "$B"
expect_api 404 GET "/v1/vpn/$CH/peers" "$B"
expect_api 404 GET "/v1/vpn/$CH/peers/$ALICE" "$B"
expect_api 404 GET "/v1/vpn/$CH/peers/$ALICE/config" "$B"
expect_api 404 DELETE "/v1/vpn/$CH/peers/$ALICE" "$B"
expect_api 404 DELETE "/v1/vpn/$CH" "$B"
expect_api 404 POST "/v1/vpn/$CH/peers" "$B" "{\"name\":\"mallory\",\"public_key\":\"$ALICE_PUB\"}"
expect_api 200 GET /v1/vpn "$B"
expect_eq "$BODY" "[]" "B's channel list"
expect_api 401 GET /v1/vpn ""
expect_api 401 POST "/v1/vpn/$CH/peers" clt_0000000000000000000000000000000000000000000000000000000000000000 '{"name":"x"}'
expect_api 403 GET /v1/vpn "$OPERATOR" # a tenant's token: the tenant comes from it
must_fail cli "$B" vpn peer add "$CH" mallory >/dev/null 2>&1
expect_api 200 GET "/v1/vpn/$CH/peers" "$A"
expect_eq "$(jq length <<<"$BODY")" 1 "A's peers after B's tries"

# A pair made by the API: the private key in this response only.
expect_api 201 POST "/v1/vpn/$CH/peers" "$A" '{"name":"bob","preshared_key":true}'
jq -r .config <<<"$BODY" | sed -n 's/^PrivateKey = //p' >"$T/bob.key"
jq -r .config <<<"$BODY" | sed -n 's/^PresharedKey = //p' >"$T/bob.psk"
[ -s "$T/bob.key" ] || fail "no private key in the API's answer"
[ -s "$T/bob.psk" ] || fail "no preshared key in the API's answer"
BOB=$(jq -r .id <<<"$BODY")
expect_eq "$(wg pubkey <"$T/bob.key")" "$(jq -r .public_key <<<"$BODY")" "bob's key pair"
expect_api 200 GET "/v1/vpn/$CH/peers/$BOB/config" "$A"
grep -qF -f "$T/bob.key" -f "$T/bob.psk" <<<"$BODY" && fail "the API returned bob's keys twice"
expect_api 200 GET "/v1/vpn/$CH/peers/$BOB" "$A"
grep -qF -f "$T/bob.key" -f "$T/bob.psk" <<<"$BODY" && fail "the peer view holds bob's keys"
expect_eq "$(stat -c %a "$T/cp/vpn/$TA/$BOB.psk")" 600 "bob's preshared key file mode"
# The same through the CLI: the API's pair and key go into the file only.
cli "$A" --json vpn peer add laptops carl --server-key --psk --out "$T/carl.conf" >"$T/carl.json" ||
	fail "peer add carl --server-key --psk"
jq -e '.config == null and .preshared_key == true' "$T/carl.json" >/dev/null || fail "carl's answer: $(cat "$T/carl.json")"
expect_eq "$(stat -c %a "$T/carl.conf")" 600 "carl's config mode"
sed -n 's/^PrivateKey = //p' "$T/carl.conf" >"$T/carl.key"
sed -n 's/^PresharedKey = //p' "$T/carl.conf" >"$T/carl.psk"
expect_eq "$(wg pubkey <"$T/carl.key")" "$(jq -r .public_key "$T/carl.json")" "carl's key pair"
[ "$(wc -c <"$T/carl.psk")" = 45 ] || fail "no preshared key in carl's config"

# Revoked: cut off at once.
cli "$A" vpn peer revoke laptops alice >/dev/null || fail "revoke"
out_ping "$IP1" && fail "a revoked peer still reaches web1"
ip netns exec "$OUT" curl -s -o /dev/null --max-time 3 "http://$IP1/" && fail "a revoked peer still gets the page"
log "revoked peer cut off at once"
wgq "$OUT" "$T/$OIF.conf" down || true

# ---- vm-client: one VM, nothing else -----------------------------------
cli "$A" vpn create dbonly --kind vm-client --vms web2 >/dev/null || fail "vm-client create"
cli "$A" vpn peer add dbonly carol --out "$T/$OIF.conf" >/dev/null || fail "peer add carol"
grep -q "^AllowedIPs = $IP2/32$" "$T/$OIF.conf" || fail "vm-client AllowedIPs: $(cat "$T/$OIF.conf")"
# The customer widens AllowedIPs to the whole network: still only web2.
sed -i "s|^AllowedIPs = .*|AllowedIPs = 10.0.0.0/24|" "$T/$OIF.conf"
wgq "$OUT" "$T/$OIF.conf" up || { cat "$T/wg-quick.log"; fail "wg-quick up (carol)"; }
WG_PIDS="$WG_PIDS $(wg_pid "$OIF")"
tries out_ping "$IP2" || fail "vm-client: no ping to its VM"
ip netns exec "$OUT" curl -s -o /dev/null --max-time 5 "http://$IP2/" || fail "vm-client: no HTTP to its VM"
out_ping "$IP1" && fail "vm-client reaches another VM"
ip netns exec "$OUT" curl -s -o /dev/null --max-time 3 "http://$IP1/" && fail "vm-client gets another VM's page"
log "vm-client: web2 yes, web1 no (also with AllowedIPs widened)"

# An agent restart: the gateway comes back with the same key and peers.
agent_stop
agent_start
expect_api 200 GET /v1/vpn/dbonly "$A"
expect_eq "$(jq -r .gateway.public_key <<<"$BODY")" "$GW_PUB" "gateway key after an agent restart"
tries out_ping "$IP2" || fail "vm-client: no ping after an agent restart"
out_ping "$IP1" && fail "vm-client reaches another VM after an agent restart"
log "agent restart: same gateway key, the tunnel works"
wgq "$OUT" "$T/$OIF.conf" down || true

# An expiring peer: refused once its time has passed.
expect_api 201 POST /v1/vpn/dbonly/peers "$A" "{\"name\":\"dave\",\"public_key\":\"$(wg genkey | wg pubkey)\",\"expires\":$(($(date +%s) + 3))}"
DAVE_IP=$(jq -r .address <<<"$BODY")
ip netns exec "clf-$TA" nft list ruleset | grep -q "$DAVE_IP" || fail "no rule for dave"
for _ in $(seq 40); do
	api GET /v1/vpn/dbonly/peers/dave "$A"
	[ "$(jq -r .expired <<<"$BODY")" = true ] &&
		! ip netns exec "clf-$TA" nft list ruleset | grep -q "$DAVE_IP" && break
	sleep 0.5
done
expect_eq "$(jq -r .expired <<<"$BODY")" true "dave expired"
ip netns exec "clf-$TA" nft list ruleset | grep -q "$DAVE_IP" && fail "an expired peer's rule is left"
log "an expired peer is cut off"

# ---- network-network: the office ---------------------------------------
wg genkey >"$T/office.key"
OFFICE_PUB=$(wg pubkey <"$T/office.key")
cli "$A" vpn create office --kind network-network --remote-key "$OFFICE_PUB" \
	--remote-cidrs 192.168.77.0/24 --remote-endpoint 198.18.0.253:$PORT >/dev/null ||
	fail "network-network create"
expect_api 200 GET /v1/vpn/office/peers "$A"
expect_eq "$(jq -r '.[0].name + " " + .[0].public_key' <<<"$BODY")" "remote $OFFICE_PUB" "the office peer"
cli "$A" vpn peer config office remote --key "$T/office.key" --out "$T/$FIF.conf" || fail "office config"
grep -q "^ListenPort = $PORT$" "$T/$FIF.conf" || fail "office ListenPort: $(cat "$T/$FIF.conf")"
grep -q "^AllowedIPs = 10.0.0.0/24$" "$T/$FIF.conf" || fail "office AllowedIPs"
wgq "$OFF" "$T/$FIF.conf" up || { cat "$T/wg-quick.log"; fail "wg-quick up (office)"; }
WG_PIDS="$WG_PIDS $(wg_pid "$FIF")"
# The office host sees the VM's own address: no NAT on the way.
ip netns exec "$LAN" socat -T 10 TCP-LISTEN:7001,reuseaddr SYSTEM:"echo \$SOCAT_PEERADDR >$T/peer" &
LPID=$!
WG_PIDS="$WG_PIDS $LPID"
ok=no
for _ in 1 2 3 4 5; do
	guest_sh "$VM1" "ping -c 1 -W 2 192.168.77.10" >/dev/null && { ok=yes; break; }
done
expect_eq "$ok" yes "web1 pings the office LAN"
guest_sh "$VM1" "echo hi | nc -w 2 192.168.77.10 7001" >/dev/null || true
for _ in $(seq 20); do [ -s "$T/peer" ] && break; sleep 0.2; done
expect_eq "$(cat "$T/peer" 2>/dev/null)" "$IP1" "source address seen in the office"
ip netns exec "$LAN" ping -c 1 -W 2 "$IP1" >/dev/null || fail "the office LAN does not reach web1"
log "network-network: web1 <-> 192.168.77.10, not NATed"
wgq "$OFF" "$T/$FIF.conf" down || true

# Tenant B's peer cannot use A's gateway: pointed at it, it gets nothing.
cli "$B" vpn create blaptops --kind network-client >/dev/null || fail "B's channel"
cli "$B" vpn peer add blaptops eve --out "$T/$OIF.conf" >/dev/null || fail "B's peer"
sed -i -e "s|^Endpoint = .*|Endpoint = $EXTA:$PORT|" -e "s|^PublicKey = .*|PublicKey = $GW_PUB|" "$T/$OIF.conf"
sed -n 's/^PrivateKey = //p' "$T/$OIF.conf" >"$T/eve.key"
wgq "$OUT" "$T/$OIF.conf" up || { cat "$T/wg-quick.log"; fail "wg-quick up (eve)"; }
WG_PIDS="$WG_PIDS $(wg_pid "$OIF")"
tries out_ping "$IP1" && fail "B's peer reaches A's VM through A's gateway"
expect_eq "$(ip netns exec "$OUT" wg show "$OIF" latest-handshakes | awk '{print $2}')" 0 "B's peer's handshake with A's gateway"
wgq "$OUT" "$T/$OIF.conf" down || true
log "B's peer gets no handshake from A's gateway"

# ---- bad input: a clear 4xx and nothing changed -------------------------
expect_api 200 GET /v1/vpn "$A"
BEFORE=$BODY
for b in '{"kind":"network-client"}' '{"name":"x","kind":"vm-vm"}' '{"name":"x"}' \
	'{"name":"x y","kind":"network-client"}' '{"name":"x","kind":"network-client","extra":1}' \
	'{"name":"x","kind":"vm-client"}' '{"name":"x","kind":"vm-client","vms":[]}' \
	'{"name":"x","kind":"network-client","dns":"nope"}' \
	'{"name":"x","kind":"network-network","remote":{"public_key":"bad","cidrs":["192.168.9.0/24"]}}' \
	"{\"name\":\"x\",\"kind\":\"network-network\",\"remote\":{\"public_key\":\"$OFFICE_PUB\",\"cidrs\":[\"192.168.9.1/24\"]}}" \
	"{\"name\":\"x\",\"kind\":\"network-network\",\"remote\":{\"public_key\":\"$OFFICE_PUB\",\"cidrs\":[\"0.0.0.0/0\"]}}" \
	"{\"name\":\"x\",\"kind\":\"network-network\",\"remote\":{\"public_key\":\"$OFFICE_PUB\",\"cidrs\":[]}}" \
	"{\"name\":\"x\",\"kind\":\"network-network\",\"remote\":{\"public_key\":\"$OFFICE_PUB\",\"cidrs\":[\"192.168.9.0/24\"],\"endpoint\":\"1.2.3.4\"}}"; do
	expect_api 400 POST /v1/vpn "$A" "$b"
done
expect_api 404 POST /v1/vpn "$A" '{"name":"x","kind":"vm-client","vms":["nope"]}'
expect_api 404 POST /v1/vpn "$A" '{"name":"x","kind":"network-client","network":"nope"}'
expect_api 409 POST /v1/vpn "$A" "{\"name\":\"x\",\"kind\":\"network-network\",\"remote\":{\"public_key\":\"$ALICE_PUB\",\"cidrs\":[\"10.0.0.0/16\"]}}"
expect_api 409 POST /v1/vpn "$A" "{\"name\":\"x\",\"kind\":\"network-network\",\"remote\":{\"public_key\":\"$ALICE_PUB\",\"cidrs\":[\"192.168.77.128/25\"]}}"
expect_api 409 POST /v1/vpn "$A" '{"name":"laptops","kind":"network-client"}'
POOL=$(curl -s -H "Authorization: Bearer $A" "$URL/v1/vpn/laptops" | jq -r .gateway.pool)
expect_api 409 POST /v1/networks "$A" "{\"name\":\"clash\",\"cidr\":\"$POOL\"}"
expect_api 409 POST /v1/networks "$A" '{"name":"clash","cidr":"192.168.77.0/24"}'
expect_api 201 POST /v1/networks "$A" '{"name":"lab"}'
cli "$A" vpn create labvpn --kind network-client --network lab >/dev/null || fail "channel on lab"
expect_api 409 DELETE /v1/networks/lab "$A"
cli "$A" vpn delete labvpn >/dev/null || fail "delete labvpn"
expect_api 204 DELETE /v1/networks/lab "$A"
expect_api 200 GET /v1/vpn "$A"
expect_eq "$(jq -c '[.[] | del(.peers)]' <<<"$BODY")" "$(jq -c '[.[] | del(.peers)]' <<<"$BEFORE")" "channels after bad input"
expect_api 200 GET "/v1/vpn/$CH/peers" "$A"
PEERS_BEFORE=$BODY
for b in '{"public_key":"bad"}' '{"name":"p","public_key":"bad"}' \
	'{"name":"p","public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}' \
	'{"name":"p","expires":1}' '{"name":"p","expires":"soon"}' '{"name":"p","x":1}' \
	'{"name":"p","preshared_key":"bad"}' '{"name":"p","preshared_key":5}'; do
	expect_api 400 POST "/v1/vpn/$CH/peers" "$A" "$b"
done
expect_api 409 POST "/v1/vpn/$CH/peers" "$A" "{\"name\":\"p\",\"public_key\":\"$(jq -r '.[0].public_key' <<<"$PEERS_BEFORE")\"}"
expect_api 409 POST /v1/vpn/office/peers "$A" '{"name":"p"}'
expect_api 200 GET "/v1/vpn/$CH/peers" "$A"
expect_eq "$BODY" "$PEERS_BEFORE" "peers after bad input"

# The peer limit (64 per tenant): the 65th is refused, nothing added.
n=$(curl -s -H "Authorization: Bearer $A" "$URL/v1/vpn" | jq '[.[].peers] | add')
while [ "$n" -lt 64 ]; do
	expect_api 201 POST "/v1/vpn/$CH/peers" "$A" "{\"name\":\"p$n\",\"public_key\":\"$(wg genkey | wg pubkey)\"}"
	n=$((n + 1))
done
expect_api 403 POST "/v1/vpn/$CH/peers" "$A" "{\"name\":\"p65\",\"public_key\":\"$(wg genkey | wg pubkey)\"}"
log "bad input refused; the 65th peer refused"

# ---- no private key anywhere it does not belong -------------------------
GWKEY=$(jq -r .vpn.private_key "$T/state/net/$TA/desired.json")
[ "$(wg pubkey <<<"$GWKEY")" = "$GW_PUB" ] || fail "the agent's gateway key is not the channel's"
printf '%s\n' "$GWKEY" >"$T/gw.key"
expect_eq "$(stat -c %a "$T/cp/vpn/$TA.key")" 600 "the daemon's gateway key file mode"
expect_api 200 GET "/v1/events?limit=1000" "$A"
printf '%s' "$BODY" >"$T/events.json"
expect_api 200 GET "/v1/vpn" "$A"
printf '%s' "$BODY" >"$T/views.json"
for f in "$T"/cp/cloudlet.db* "$T/cp.log" "$T/agent.log" "$T/events.json" "$T/views.json" \
	"$T"/state/net/*/wg.log "$T/wg-quick.log"; do
	[ -f "$f" ] || continue
	grep -qF -f "$T/alice.key" -f "$T/alice.psk" -f "$T/bob.key" -f "$T/bob.psk" -f "$T/office.key" \
		-f "$T/eve.key" -f "$T/carl.key" -f "$T/carl.psk" -f "$T/gw.key" "$f" &&
		fail "a private key in $f"
done
log "no private key in the database, logs, events or views"

# Deleting the channels removes the gateway.
for c in laptops dbonly office; do cli "$A" vpn delete "$c" >/dev/null || fail "delete $c"; done
expect_api 200 GET /v1/firewall/rules "$A"
expect_eq "$(jq '[.[] | select(.origin == "vpn")] | length' <<<"$BODY")" 0 "gateway rule after delete"
expect_api 404 GET "/v1/vpn/$CH" "$A"
