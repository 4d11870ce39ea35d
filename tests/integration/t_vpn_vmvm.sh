#!/bin/bash
# VM-to-VM VPN channels (kind vm-vm, docs/networks.md "VM to VM"): one
# cloudletd and two agents h1, h2 whose underlay namespaces share a
# "datacenter" bridge (hosts_lib.sh). Tenant A has a1 and a3 on h1 and a2
# on h2 (spread placement), 128 MiB each.
#   - bad input (one VM, a VM twice, another tenant's VM, wrong types, extra
#     fields, a peer for the channel) gets a 4xx and changes nothing;
#     tenant B gets 404 for A's VMs and A's channel;
#   - without a channel the capture on the datacenter bridge sees a marker
#     sent from a1 to a2 (the capture works and VXLAN is plain);
#   - with channel [a1, a2]: ping, and 1 MB over TCP a1 -> a2 with its
#     checksum; the marker appears 0 times on the bridge, and between the
#     hosts' underlay addresses nothing but UDP to the tenant's WireGuard
#     port passes (`not udp port P` sees none of the VMs' traffic);
#   - a3 (h1, not in the channel) still reaches a2: the tunnel carries the
#     tenant's whole VXLAN between the paired hosts, so a3's traffic to h2
#     is encrypted too; the channel decides which hosts are paired, not
#     who may talk (that is the firewall's job);
#   - agent restart (h1 and h2): the same public keys, the tunnel works;
#   - no host private key in the database, the logs, the events or views;
#   - channel deleted: the tunnel interfaces go, the marker is plain again;
#   - a chosen VM deleted: it drops out of the channel (its id stays
#     listed), and a channel whose other VMs share one host pairs nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts_lib.sh"

dc_make 2
CAP_PIDS=
trap 'rc=$?; set +e; for p in $CAP_PIDS; do kill "$p" 2>/dev/null; done; [ $rc -eq 0 ] || hosts_dump >&2; hosts_stop; (exit $rc); cleanup' EXIT
host_start 1
host_start 2
cp_start
hosts_add

read -r TA KA <<<"$(new_tenant vmvm-a)"
read -r TB KB <<<"$(new_tenant vmvm-b)"
vm() {
	expect_api 202 POST /v1/vms "$1" "{\"name\":\"$2\",\"service\":\"web-hosting\",\"memory_mib\":128}"
	printf '%s' "$BODY" | jq -r .vm_id
}
A1=$(vm "$KA" a1)
A2=$(vm "$KA" a2)
A3=$(vm "$KA" a3)
declare -A HOST IP
for v in "$A1" "$A2" "$A3"; do
	api GET "/v1/vms/$v" "$OPERATOR"
	HOST[$v]=$(cli --json host show "$(printf '%s' "$BODY" | jq -r .host_id)" | jq -r .name)
done
expect_eq "${HOST[$A1]} ${HOST[$A2]} ${HOST[$A3]}" "h1 h2 h1" "placement (spread)"
for v in "$A1" "$A2" "$A3"; do ready "$KA" "$v"; done
for v in "$A1" "$A2" "$A3"; do
	api GET "/v1/vms/$v" "$KA"
	IP[$v]=$(printf '%s' "$BODY" | jq -r '.nics[0].address | split("/")[0]')
done
log "a1 ${IP[$A1]} (h1), a2 ${IP[$A2]} (h2), a3 ${IP[$A3]} (h1): ready"

on() {
	CTL_SOCK=$T/${HOST[$1]}/agent.sock
	guest_sh "$1" "$2" "${3:-60}"
}
ctl() { "$AGENT_BIN" ctl --socket "$CTL_SOCK" "$@"; }
reach() { on "$1" "ping -c 1 -W 2 $2 >/dev/null 2>&1" >/dev/null; }
tries() { for _ in 1 2 3 4 5; do "$@" && return 0; sleep 1; done; return 1; }
# marker FROM TO WORD: an HTTP request whose path is WORD, from one VM to
# the other's web server (the words cross the link once per request).
marker() { on "$1" "printf 'GET /$3 HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${IP[$2]} 80 >/dev/null" >/dev/null || true; }
capture() { # FILE: the datacenter bridge
	ip netns exec "$DC" tcpdump -Z root --immediate-mode -i dcbr -U -n -w "$1" >"$1.log" 2>&1 &
	CAP_PID=$!
	CAP_PIDS="$CAP_PIDS $CAP_PID"
	for _ in $(seq 100); do grep -q "listening on" "$1.log" 2>/dev/null && return 0; sleep 0.1; done
	fail "tcpdump on the datacenter bridge did not start"
}
cap_stop() { sleep 1; kill "$CAP_PID"; wait "$CAP_PID" 2>/dev/null || true; }
count() { grep -aoF "$2" "$1" | wc -l; } # FILE WORD
UL="host 192.168.251.1 and host 192.168.251.2"

# ---- without a channel the link is plain ------------------------------
tries reach "$A1" "${IP[$A2]}" || fail "a1 cannot ping a2 (plain VXLAN)"
W0=plainmark$$
capture "$T/plain.pcap"
marker "$A1" "$A2" "$W0"
cap_stop
n=$(count "$T/plain.pcap" "$W0")
[ "$n" -ge 1 ] || fail "the marker was not seen on the plain link (the capture does not work?)"
log "no channel: marker seen $n times on the datacenter link"

# ---- bad input changes nothing ----------------------------------------
bad() { # STATUS BODY [TOKEN]
	expect_api "$1" POST /v1/vpn "${3:-$KA}" "$2"
	expect_match "$BODY" '"error"' "error body"
}
bad 400 "{\"name\":\"x\",\"kind\":\"vm-vm\",\"vms\":[\"$A1\"]}"
bad 400 "{\"name\":\"x\",\"kind\":\"vm-vm\",\"vms\":[\"$A1\",\"a1\"]}"
bad 400 "{\"name\":\"x\",\"kind\":\"vm-vm\",\"vms\":\"$A1\"}"
bad 400 "{\"name\":\"x\",\"kind\":\"vm-vm\",\"vms\":[1,2]}"
bad 400 "{\"name\":\"x\",\"kind\":\"vm-vm\",\"vms\":[\"$A1\",\"$A2\"],\"network\":\"default\"}"
bad 400 "{\"name\":\"x\",\"kind\":\"vm-vm\",\"vms\":[\"$A1\",\"$A2\"],\"colour\":1}"
bad 400 "{\"name\":\"x\",\"kind\":\"vm-vmm\",\"vms\":[\"$A1\",\"$A2\"]}"
bad 404 "{\"name\":\"x\",\"kind\":\"vm-vm\",\"vms\":[\"$A1\",\"nosuchvm\"]}"
bad 404 "{\"name\":\"x\",\"kind\":\"vm-vm\",\"vms\":[\"$A1\",\"$A2\"]}" "$KB"
expect_api 200 GET /v1/vpn "$KA"
expect_eq "$(jq length <<<"$BODY")" 0 "channels after bad input"
for n in 1 2; do
	ip -n "clhu$n-$$" -o link show | grep -q "h${n}e" && fail "a tunnel interface on h$n after bad input"
done
log "bad input: 400/404, no channel, no tunnel"

# ---- the channel ------------------------------------------------------
CLOUDLET_URL=$URL CLOUDLET_TOKEN=$KA "$CLI_BIN" --json vpn create db --kind vm-vm --vm a1 --vm "$A2" \
	>"$T/create.json" 2>&1 || fail "cloudlet vpn create --kind vm-vm: $(cat "$T/create.json")"
CH=$(jq -r .id "$T/create.json")
expect_eq "$(jq -r '.kind + " " + (.vms | length | tostring)' "$T/create.json")" "vm-vm 2" "the channel"
expect_eq "$(jq 'has("gateway")' "$T/create.json")" false "a vm-vm channel's gateway"
expect_api 404 GET "/v1/vpn/$CH" "$KB"
expect_api 404 DELETE "/v1/vpn/$CH" "$KB"
expect_api 409 POST "/v1/vpn/$CH/peers" "$KA" '{"name":"p"}'
expect_api 409 POST /v1/vpn "$KA" "{\"name\":\"db\",\"kind\":\"vm-vm\",\"vms\":[\"$A1\",\"$A3\"]}"
expect_api 200 GET "/v1/vpn/$CH" "$KA"
expect_eq "$(jq -r '.vms | sort | join(",")' <<<"$BODY")" "$(printf '%s\n' "$A1" "$A2" | sort | paste -sd,)" "the channel's VMs"
WG1=$(ip -n "clhu1-$$" -o link show | grep -o "h1e[0-9a-f]*" | head -1)
WG2=$(ip -n "clhu2-$$" -o link show | grep -o "h2e[0-9a-f]*" | head -1)
[ -n "$WG1" ] && [ -n "$WG2" ] || fail "no tunnel interface on h1 or h2"
view() { "$AGENT_BIN" ctl --socket "$T/h$1/agent.sock" raw "{\"op\":\"net.show\",\"args\":{\"tenant\":\"$TA\"}}" | jq -c .result.vmvm; }
P=$(view 1 | jq -r .listen_port)
PUB1=$(view 1 | jq -r .public_key)
PUB2=$(view 2 | jq -r .public_key)
expect_eq "$(view 2 | jq -r '.peers[0].public_key')" "$PUB1" "h2's peer is h1's key"
expect_eq "$(view 1 | jq -r '.peers[0].public_key')" "$PUB2" "h1's peer is h2's key"
log "channel $CH: $WG1 on h1, $WG2 on h2, UDP port $P"

tries reach "$A1" "${IP[$A2]}" || fail "a1 cannot ping a2 through the tunnel"
on "$A2" "ping -c 2 -W 2 -s 1472 ${IP[$A1]} >/dev/null 2>&1" >/dev/null || fail "full-size ping a2 -> a1"
W1=tunnelmark$$
capture "$T/tunnel.pcap"
marker "$A1" "$A2" "$W1"
marker "$A2" "$A1" "$W1"
# 1 MB made on a1, served by its web server, fetched by a2 over TCP,
# compared by checksum.
on "$A1" "head -c 1000000 /dev/urandom > /srv/www/blob; chmod 644 /srv/www/blob; sha256sum /srv/www/blob" >"$T/a1sum"
SUM=$(tr -d '\r' <"$T/a1sum" | awk '$2 == "/srv/www/blob" && length($1) == 64 {print $1}')
[ -n "$SUM" ] || fail "no checksum on a1: $(cat "$T/a1sum")"
got=$(on "$A2" "wget -q -O - http://${IP[$A1]}/blob | sha256sum" 120 | tr -d '\r' | awk '$2 == "-" && length($1) == 64 {print $1}')
expect_eq "$got" "$SUM" "checksum of 1 MB a1 -> a2 (HTTP) through the tunnel"
cap_stop
n=$(count "$T/tunnel.pcap" "$W1")
expect_eq "$n" 0 "marker on the datacenter link with the channel"
other=$(tcpdump -r "$T/tunnel.pcap" -n "$UL and not udp port $P" 2>/dev/null | wc -l)
wgpk=$(tcpdump -r "$T/tunnel.pcap" -n "$UL and udp port $P" 2>/dev/null | wc -l)
expect_eq "$other" 0 "packets between the hosts that are not UDP port $P"
[ "$wgpk" -ge 100 ] || fail "only $wgpk WireGuard packets for 1 MB"
log "channel: ping (also 1500 bytes), 1 MB with its checksum; on the link: marker 0 times, $wgpk packets all UDP $P"

# ---- a3 (h1) is not in the channel ------------------------------------
W3=thirdmark$$
capture "$T/third.pcap"
tries reach "$A3" "${IP[$A2]}" || fail "a3 cannot ping a2"
marker "$A3" "$A2" "$W3"
cap_stop
expect_eq "$(count "$T/third.pcap" "$W3")" 0 "a3's marker on the link (h1-h2 is encrypted for the tenant)"
log "a3 (h1, not in the channel) reaches a2; its traffic to h2 is in the same tunnel (marker 0 times)"

# ---- agent restart: the same keys -------------------------------------
for n in 1 2; do
	kill "${APID[$n]}"
	wait "${APID[$n]}" 2>/dev/null || true
	host_start "$n"
done
for _ in $(seq 50); do [ "$(hstate h1)/$(hstate h2)" = up/up ] && break; sleep 0.2; done
expect_eq "$(view 1 | jq -r .public_key)" "$PUB1" "h1's key after its restart"
expect_eq "$(view 2 | jq -r .public_key)" "$PUB2" "h2's key after its restart"
expect_eq "$(view 1 | jq -r .running)" true "h1's tunnel after its restart"
tries reach "$A1" "${IP[$A2]}" || fail "a1 cannot ping a2 after the agents' restart"
W2=restartmark$$
capture "$T/restart.pcap"
marker "$A2" "$A1" "$W2"
cap_stop
expect_eq "$(count "$T/restart.pcap" "$W2")" 0 "marker on the link after the restart"
log "agents restarted: the same keys, the tunnel carries the VMs again"

# ---- no host private key where it does not belong ---------------------
for n in 1 2; do
	jq -r .vmvm.private_key "$T/h$n/state/net/$TA/desired.json" >>"$T/hostkeys"
done
[ "$(wc -l <"$T/hostkeys")" = 2 ] && ! grep -q null "$T/hostkeys" || fail "no host keys in the agents' states"
expect_eq "$(wg pubkey <"$(ls "$T"/cp/vpn/"$TA"/vmvm-*.key | head -1)" | grep -cxF -e "$PUB1" -e "$PUB2")" 1 "a key file's public key"
expect_eq "$(stat -c %a "$(ls "$T"/cp/vpn/"$TA"/vmvm-*.key | head -1)")" 600 "host key file mode"
expect_api 200 GET "/v1/events?limit=1000" "$KA"
printf '%s' "$BODY" >"$T/events.json"
expect_api 200 GET /v1/vpn "$KA"
printf '%s' "$BODY" >"$T/views.json"
"$AGENT_BIN" ctl --socket "$T/h1/agent.sock" raw "{\"op\":\"net.show\",\"args\":{\"tenant\":\"$TA\"}}" >"$T/netshow.json"
for f in "$T"/cp/cloudlet.db* "$T/cp.log" "$T"/h*/agent.log "$T/events.json" "$T/views.json" \
	"$T/netshow.json" "$T"/h*/state/net/*/vmvm/wg.log; do
	[ -f "$f" ] || continue
	grep -qF -f "$T/hostkeys" "$f" && fail "a host's private key in $f"
done
ps -eo args | grep -qF -f "$T/hostkeys" && fail "a host's private key on a command line"
log "no host private key in the database, logs, events, views or command lines"

# ---- delete -----------------------------------------------------------
CLOUDLET_URL=$URL CLOUDLET_TOKEN=$KA "$CLI_BIN" vpn list | grep -q "^db .*vm-vm" || fail "db not in vpn list"
expect_api 204 DELETE "/v1/vpn/$CH" "$KA"
for n in 1 2; do
	ip -n "clhu$n-$$" -o link show | grep -q "h${n}e" && fail "the tunnel interface is still on h$n"
done
tries reach "$A1" "${IP[$A2]}" || fail "a1 cannot ping a2 after the channel's delete"
W4=aftermark$$
capture "$T/after.pcap"
marker "$A1" "$A2" "$W4"
cap_stop
n=$(count "$T/after.pcap" "$W4")
[ "$n" -ge 1 ] || fail "the marker is not plain after the delete"
log "channel deleted: tunnels gone, the marker plain again ($n times)"

# ---- a chosen VM deleted ----------------------------------------------
expect_api 201 POST /v1/vpn "$KA" "{\"name\":\"all\",\"kind\":\"vm-vm\",\"vms\":[\"$A1\",\"$A2\",\"$A3\"]}"
CH2=$(printf '%s' "$BODY" | jq -r .id)
ip -n "clhu1-$$" -o link show | grep -q "h1e" || fail "no tunnel on h1 for channel all"
expect_api 202 DELETE "/v1/vms/$A2" "$KA"
wait_op "$(printf '%s' "$BODY" | jq -r .id)" "$KA" >/dev/null
ip -n "clhu1-$$" -o link show | grep -q "h1e" && fail "h1 keeps its tunnel with no VM of the channel elsewhere"
expect_api 200 GET "/v1/vpn/$CH2" "$KA"
expect_eq "$(jq '.vms | length' <<<"$BODY")" 3 "the channel's listed VMs after a delete"
tries reach "$A1" "${IP[$A3]}" || fail "a1 cannot ping a3 (same host) after a2's delete"
log "a2 deleted: the channel keeps its id listed, pairs no hosts (a1, a3 share h1), no tunnel on h1"
