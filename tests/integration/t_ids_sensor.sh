#!/bin/bash
# t_ids_sensor.sh - the IDS sensor (cloudlet-ids) against real traffic
# between network namespaces this test makes, and nothing else:
#
#   tenant A and tenant B: the same topology and the same addresses
#   (10.77.0.0/24): namespace "vm" (10.77.0.5, a web server), namespace
#   "atk" (10.77.0.100) and a bridge namespace "br" joining them, as a
#   tenant bridge does. HOME_NET is 10.77.0.0/28, so the attacker, on the
#   same segment, is $EXTERNAL_NET. One sensor, running unprivileged with
#   seccomp, gets both bridges' AF_PACKET sockets from ids-handoff (the
#   agent's stand-in), each with its tenant's configuration.
#
# Checked, with jq on the EVE file: curl attacks fire the project's rules
# (tests/ids/rules: SQLi in http.uri, shellshock in http.header, path
# traversal, sqlmap user agent, pcre), a pattern split over two segments,
# a DNS query (dig) and a TLS SNI (openssl s_client); nmap SYN and UDP
# scans, an hping3 SYN flood, a forged ARP and a rogue DHCP server (busybox
# udhcpd) are reported; clean traffic gives nothing; each tenant sees only
# its own alerts and its own custom rules; a suppression silences one rule;
# bad rules are skipped with their reasons and a catastrophic pcre does not
# stall the sensor; a crafted pcap (tests/ids/verify) gives exactly the
# expected alerts, offline and replayed with tcpreplay on a third bridge.
. "$(dirname "$0")/lib.sh"

IDS=$ROOT/build/bin/cloudlet-ids
HANDOFF=$ROOT/build/bin/ids-handoff
MKPCAP=$ROOT/build/bin/ids-mkpcap
RULES=$ROOT/tests/ids/rules
[ -x "$IDS" ] && [ -x "$HANDOFF" ] && [ -x "$MKPCAP" ] || fail "build cloudlet-ids first (make)"
for t in curl dig openssl nmap hping3 tcpreplay arping jq; do
	command -v $t >/dev/null || fail "missing $t (scripts/setup.sh installs it)"
done
getent passwd cloudlet-ids >/dev/null || fail "no user cloudlet-ids (scripts/setup.sh)"

P=i$$ # namespace and link prefix: unique to this run
PIDS=
# Each helper runs in a session of its own (setsid), so its process group
# (ip netns exec's child, a pipeline's members) goes with it.
ids_cleanup() {
	for p in $PIDS; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	PIDS=
}
# (set +e: with -e, "(exit 1)" would end the trap before lib.sh's cleanup)
trap 'rc=$?; ids_cleanup; set +e; (exit $rc); cleanup' EXIT
bg() { setsid "$@" & PIDS="$PIDS $!"; }

chmod 755 "$T"
EVE=$T/eve.json
CTL=$T/ids.sock
mkdir -p "$T/www" && echo "hello from web1" >"$T/www/index.html" && chmod -R a+rX "$T/www"

# ---- topology --------------------------------------------------------
# tenant X: br$X (bridge b0), vm$X (eth0 10.77.0.5), atk$X (eth0 10.77.0.100)
make_tenant() {
	X=$1
	netns_add "${P}br$X"
	netns_add "${P}vm$X"
	netns_add "${P}atk$X"
	ip -n "${P}br$X" link add b0 type bridge
	ip -n "${P}br$X" link set b0 up
	for side in vm atk; do
		ip link add "${P}$side$X" type veth peer name "${P}${side}p$X"
		ip link set "${P}$side$X" netns "${P}$side$X"
		ip link set "${P}${side}p$X" netns "${P}br$X"
		ip -n "${P}$side$X" link set "${P}$side$X" name eth0
		ip -n "${P}br$X" link set "${P}${side}p$X" master b0 up
		ip -n "${P}$side$X" link set lo up
	done
	ip -n "${P}vm$X" link set eth0 address 02:00:00:77:00:05 up
	ip -n "${P}atk$X" link set eth0 address 02:00:00:77:00:64 up
	ip -n "${P}vm$X" addr add 10.77.0.5/24 dev eth0
	ip -n "${P}atk$X" addr add 10.77.0.100/24 dev eth0
}
make_tenant A
make_tenant B

cfg() { # tenant network custom-rules
	jq -n --arg t "$1" --arg n "$2" --arg rules "$RULES" --arg custom "$3" '{
		tenant_id: $t, network_id: $n, home_net: ["10.77.0.0/28"],
		rule_dirs: [$rules], custom_rules: $custom,
		assigned: [{mac: "02:00:00:77:00:05", ip: "10.77.0.5", vm: "web1"},
			   {mac: "02:00:00:77:00:64", ip: "10.77.0.100", vm: "other1"}],
		dhcp_server: {mac: "02:00:00:77:00:01", ip: "10.77.0.1"},
		alert_rate: {per_second: 50, burst: 100}}'
}
cfg tenant-a net-a 'alert http any any -> $HOME_NET any (msg:"TENANT-A custom rule"; http.uri; content:"/tenant-a-only"; sid:5000001; rev:1;)' >"$T/a.json"
cfg tenant-b net-b 'alert http any any -> $HOME_NET any (msg:"TENANT-B custom rule"; http.uri; content:"/tenant-b-only"; sid:5000002; rev:1;)
alert http any any -> $HOME_NET any (msg:"TENANT-B slow pcre"; http.uri; content:"/aaaa"; pcre:"/(a+)+$/U"; sid:5000003; rev:1;)
alert http any any -> any any (msg:"broken"; content:"x"; sid:5000004;
alert http any any -> any any (msg:"unknown keyword"; ja3.hash; content:"x"; sid:5000005;)
alert http any any -> any any (msg:"huge content"; content:"'"$(head -c 3000 /dev/zero | tr '\0' A)"'"; sid:5000006;)' >"$T/b.json"

# ---- the sensor ------------------------------------------------------
bg "$IDS" serve --control "$CTL" --eve "$EVE" --user cloudlet-ids --stats-interval 2
SENSOR=${PIDS##* }
i=0
while [ ! -S "$CTL" ]; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "sensor did not open its control socket"
	kill -0 "$SENSOR" 2>/dev/null || fail "sensor exited at start"
	sleep 0.05
done
[ "$(stat -c %U "/proc/$SENSOR")" = cloudlet-ids ] || fail "sensor does not run as cloudlet-ids"
grep -q '^Seccomp:[[:space:]]*2' "/proc/$SENSOR/status" || fail "sensor has no seccomp filter"

out=$("$HANDOFF" --control "$CTL" --config "$T/a.json" --netns "${P}brA" --iface b0 --network-id net-a) ||
	fail "handoff A: $out"
expect_eq "$(printf '%s\n' "$out" | head -1 | jq .result.loaded)" 12 "tenant A rules loaded"
out=$("$HANDOFF" --control "$CTL" --config "$T/b.json" --netns "${P}brB" --iface b0 --network-id net-b) ||
	fail "handoff B: $out"
sumB=$(printf '%s\n' "$out" | head -1)
expect_eq "$(printf '%s' "$sumB" | jq .result.loaded)" 13 "tenant B rules loaded"
expect_eq "$(printf '%s' "$sumB" | jq .result.skipped)" 3 "tenant B rules skipped"
printf '%s' "$sumB" | jq -e '.result.skipped_by_reason | has("unknown keyword ja3.hash") and has("content longer than 2048 bytes")' >/dev/null ||
	fail "skip reasons: $sumB"
log "sensor up (pid $SENSOR, uid cloudlet-ids, seccomp); A: 12 rules; B: 13 loaded, 3 skipped with reasons"

# the control protocol refuses bad requests with a reason and keeps going
bad() { # REQUEST CODE
	out=$("$HANDOFF" --control "$CTL" --op "$1" 2>&1) && fail "accepted: $1"
	printf '%s' "$out" | jq -e --arg c "$2" '.ok == false and .error.code == $c' >/dev/null ||
		fail "$1: expected error $2, got $out"
}
bad '{"op":"nope"}' invalid
bad '{"op":"hello","extra":1}' invalid
bad '{"op":"capture.add","args":{"network_id":"net-a","iface":"b0"}}' invalid
bad '{"op":"network.delete","args":{"network_id":"nope"}}' not_found
bad '{"op":"network.set","args":{"tenant_id":"tenant-b","network_id":"net-a","home_net":["10.77.0.0/28"]}}' conflict
bad '{"op":"network.set","args":{"tenant_id":"x","network_id":"y","home_net":["10.0.0.0/33"]}}' invalid
bad '{"op":"network.set","args":{"tenant_id":"x","network_id":"y","home_net":["10.0.0.0/24"],"color":"red"}}' invalid
bad '{"op":"suppress.set","args":{"network_id":"net-a","suppress":[{"sid":1,"track":"by_src"}]}}' invalid
out=$("$HANDOFF" --control "$CTL" --op '{"op":"hello"}') || fail "hello: $out"
expect_eq "$(printf '%s' "$out" | jq -c '[(.result.networks | sort | .[]), (.result.captures | length)]')" '["net-a","net-b",2]' "hello after bad requests"
log "control protocol: bad requests refused with their codes, the sensor unaffected"

# alerts NET SID: the EVE alert lines of a network and sid
alerts() { jq -c --arg n "$1" --argjson s "$2" 'select(.event_type=="alert" and .network_id==$n and .alert.signature_id==$s)' "$EVE" 2>/dev/null; }
wait_alert() { # NET SID [timeout s]
	i=0
	while [ -z "$(alerts "$1" "$2")" ]; do
		i=$((i + 1)); [ $i -lt $((${3:-10} * 10)) ] || fail "no alert $2 for $1 (EVE: $(tail -n 5 "$EVE"))"
		kill -0 "$SENSOR" 2>/dev/null || fail "the sensor died"
		sleep 0.1
	done
}
inA() { ip netns exec "${P}$1A" "${@:2}"; }
# A listener started in the background is waited for, not slept for: under
# load 0.2 s was not always enough (the client then met a refused port).
wait_listen() { # NETNS PORT
	for _ in $(seq 100); do
		ip netns exec "$1" ss -ltn 2>/dev/null | grep -q ":$2 " && return 0
		sleep 0.1
	done
	fail "nothing listens on port $2 in $1"
}
inB() { ip netns exec "${P}$1B" "${@:2}"; }

bg ip netns exec "${P}vmA" busybox httpd -f -p 80 -h "$T/www"
bg ip netns exec "${P}vmB" busybox httpd -f -p 80 -h "$T/www"
sleep 0.3

# ---- clean traffic first: nothing may fire ---------------------------
for k in 1 2 3; do
	expect_eq "$(inA atk curl -s http://10.77.0.5/index.html)" "hello from web1" "clean page"
done
inA vm ping -c 1 -W 1 10.77.0.100 >/dev/null || fail "ping"
sleep 1
n=$(jq -c 'select(.event_type=="alert")' "$EVE" | wc -l)
expect_eq "$n" 0 "alerts from clean traffic (web pages, ping, ARP of assigned addresses)"
log "clean traffic: no alert"

# ---- HTTP attacks (tenant A) -----------------------------------------
inA atk curl -s -o /dev/null "http://10.77.0.5/item.php?id=1%20UNION%20ALL%20SELECT%20password%20FROM%20users"
inA atk curl -s -o /dev/null -H 'X-Probe: () { :; }; /bin/cat /etc/passwd' http://10.77.0.5/cgi-bin/status
inA atk curl -s -o /dev/null --path-as-is "http://10.77.0.5/static/../../../etc/passwd"
inA atk curl -s -o /dev/null -A 'sqlmap/1.7.2#stable (https://sqlmap.org)' http://10.77.0.5/
inA atk curl -s -o /dev/null "http://10.77.0.5/admin/login.php?user=root&pass=guess"
inA atk curl -s -o /dev/null "http://10.77.0.5/tenant-a-only"
for s in 1000001 1000002 1000003 1000004 1000005 5000001; do wait_alert net-a $s; done
a=$(alerts net-a 1000001)
expect_eq "$(printf '%s' "$a" | jq -r '[.src_ip,.dest_ip,.dest_port,.proto,.app_proto,.tenant_id,.in_iface,.dest_vm,.alert.category,.alert.severity,.alert.action]|join(" ")')" \
	"10.77.0.100 10.77.0.5 80 TCP http tenant-a b0 web1 Web Application Attack 1 allowed" "SQLi alert fields"
printf '%s' "$a" | jq -e '.flow_id > 0 and (.timestamp|test("^20[0-9-]+T[0-9:.]+\\+0000$"))' >/dev/null || fail "flow_id/timestamp: $a"
log "HTTP attacks: SQLi, shellshock header, path traversal, sqlmap UA, pcre, custom rule"

# ---- a pattern split over two TCP segments ---------------------------
# the listener's input stays open, or it would close the connection early
bg ip netns exec "${P}vmA" sh -c 'sleep 10 | busybox nc -l -p 7000 >/dev/null'
wait_listen "${P}vmA" 7000
(printf 'hello SPLIT-ACROSS-'; sleep 0.4; printf 'SEGMENTS-MARKER bye\n'; sleep 0.3) | inA atk busybox nc 10.77.0.5 7000 || true
wait_alert net-a 1000008
log "split-segment pattern matched"

# ---- DNS query and TLS SNI from the VM --------------------------------
inA vm dig @10.77.0.100 www.evil-c2.example +tries=1 +time=1 >/dev/null 2>&1 || true
wait_alert net-a 1000006
bg ip netns exec "${P}atkA" sh -c 'sleep 10 | busybox nc -l -p 443 >/dev/null'
wait_listen "${P}atkA" 443
inA vm timeout 3 openssl s_client -connect 10.77.0.100:443 -servername bad.example.org </dev/null >/dev/null 2>&1 || true
wait_alert net-a 1000007
log "dns.query and tls.sni rules fired"

# ---- scans and a SYN flood --------------------------------------------
inA atk nmap -sS -p 1-200 -T4 -n -Pn --max-retries 0 10.77.0.5 >/dev/null 2>&1
wait_alert net-a 9100001
inA atk nmap -sU -p 1-40 -T5 -n -Pn --max-retries 0 10.77.0.5 >/dev/null 2>&1
wait_alert net-a 9100002
inA atk hping3 -q -S -p 80 -i u200 -c 3000 10.77.0.5 >/dev/null 2>&1 || true
wait_alert net-a 9100010
log "nmap SYN scan, nmap UDP scan, hping3 SYN flood reported"

# ---- a forged ARP: the other VM claims web1's address -----------------
ip -n "${P}atkA" addr add 10.77.0.5/32 dev eth0
inA atk arping -q -U -c 2 -I eth0 -s 10.77.0.5 10.77.0.5 || true
ip -n "${P}atkA" addr del 10.77.0.5/32 dev eth0
wait_alert net-a 9100020
printf '%s' "$(alerts net-a 9100020 | head -1)" | jq -e '.cloudlet.mac=="02:00:00:77:00:64" and .cloudlet.assigned_vm=="web1"' >/dev/null ||
	fail "ARP spoof details: $(alerts net-a 9100020 | head -1)"
log "ARP spoof reported (MAC 02:00:00:77:00:64 claimed web1's 10.77.0.5)"

# ---- a rogue DHCP server in the attacker's namespace --------------------
cat >"$T/udhcpd.conf" <<CONF
interface eth0
start 10.77.0.50
end 10.77.0.60
lease_file $T/udhcpd.leases
option subnet 255.255.255.0
CONF
touch "$T/udhcpd.leases"
bg ip netns exec "${P}atkA" busybox udhcpd -f "$T/udhcpd.conf"
sleep 0.3
inA vm timeout 5 busybox udhcpc -i eth0 -n -q -t 2 -T 1 -s /bin/true >/dev/null 2>&1 || true
wait_alert net-a 9100030
log "rogue DHCP server reported"

# ---- tenant B: same addresses, its own rules, its own alerts ------------
inB atk curl -s -o /dev/null -A 'sqlmap/1.7' http://10.77.0.5/tenant-b-only
inB atk curl -s -o /dev/null http://10.77.0.5/tenant-a-only
t0=$(date +%s%N)
inB atk curl -s -o /dev/null "http://10.77.0.5/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"
wait_alert net-b 5000002
wait_alert net-b 1000004
expect_eq "$(alerts net-b 5000001 | wc -l)" 0 "tenant A's custom rule in tenant B"
expect_eq "$(alerts net-a 5000002 | wc -l)" 0 "tenant B's custom rule in tenant A"
expect_eq "$(jq -c 'select(.event_type=="alert" and .tenant_id=="tenant-b" and .network_id!="net-b")' "$EVE" | wc -l)" 0 "records mixing tenants"
expect_eq "$(jq -c 'select(.event_type=="alert" and .in_iface=="b0" and .network_id=="net-b" and .alert.signature_id==1000004)' "$EVE" | wc -l)" 1 "tenant B sqlmap alerts"
# the catastrophic pcre cost bounded work: the sensor still answers at once
out=$("$HANDOFF" --control "$CTL" --op '{"op":"stats","args":{"network_id":"net-b"}}') || fail "stats: $out"
log "tenant B: own rules only; pcre limit hits $(printf '%s' "$out" | jq '.result["net-b"].pcre_limit_hits'), answered $((($(date +%s%N) - t0) / 1000000)) ms after the slow URI"

# ---- suppression: tenant A silences sid 1000004 ------------------------
before=$(alerts net-a 1000004 | wc -l)
"$HANDOFF" --control "$CTL" --op '{"op":"suppress.set","args":{"network_id":"net-a","suppress":[{"sid":1000004}]}}' >/dev/null ||
	fail "suppress.set"
inA atk curl -s -o /dev/null -A 'sqlmap/1.7' "http://10.77.0.5/?q=again"
inA atk curl -s -o /dev/null "http://10.77.0.5/tenant-a-only?after-suppress"
i=0
while [ "$(alerts net-a 5000001 | wc -l)" -lt 2 ]; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "no second 5000001"
	sleep 0.1
done
expect_eq "$(alerts net-a 1000004 | wc -l)" "$before" "sid 1000004 alerts after its suppression"
inB atk curl -s -o /dev/null -A 'sqlmap/1.7' "http://10.77.0.5/?q=b-again"
i=0
while [ "$(alerts net-b 1000004 | wc -l)" -lt 2 ]; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "tenant B lost sid 1000004 to A's suppression"
	sleep 0.1
done
out=$("$HANDOFF" --control "$CTL" --op '{"op":"stats","args":{"network_id":"net-a"}}')
[ "$(printf '%s' "$out" | jq '.result["net-a"].alerts_suppressed')" -ge 1 ] || fail "suppressed count: $out"
log "suppression of 1000004 in tenant A only"

# ---- exactly the alerts expected from tenant A ------------------------
got=$(jq -r 'select(.event_type=="alert" and .network_id=="net-a") | .alert.signature_id' "$EVE" | sort -u | tr '\n' ' ')
expect_eq "$got" "1000001 1000002 1000003 1000004 1000005 1000006 1000007 1000008 5000001 9100001 9100002 9100010 9100020 9100030 " "tenant A's sids"

# ---- the suricata-verify cases: pcap + rules + expected alerts ---------
for case in "$ROOT"/tests/ids/verify/*/; do
	name=$(basename "$case")
	"$MKPCAP" "$T/$name.pcap" <"$case/traffic" || fail "mkpcap $name"
	"$IDS" pcap --tenant-config "$case/config.json" --rules "$RULES" --eve "$T/$name.eve" "$T/$name.pcap" 2>/dev/null ||
		fail "pcap mode on $name"
	jq -r 'select(.event_type=="alert") | "\(.alert.signature_id) \(.src_ip) \(.src_port // "-") \(.dest_ip) \(.dest_port // "-") \(.app_proto // "-")"' \
		"$T/$name.eve" | sort >"$T/$name.got"
	grep -v '^#' "$case/expected" | sort | diff -u - "$T/$name.got" || fail "verify $name (pcap mode)"
	log "verify $name: offline alerts exactly as expected ($(wc -l <"$T/$name.got"))"
done
# replayed on a third bridge through serve mode
netns_add "${P}brC"
ip -n "${P}brC" link add b0 type bridge
ip -n "${P}brC" link set b0 up
ip -n "${P}brC" link add rp0 type veth peer name rp1
ip -n "${P}brC" link set rp1 master b0 up
ip -n "${P}brC" link set rp0 up
jq '.rule_dirs = [$r]' --arg r "$RULES" "$ROOT/tests/ids/verify/basic/config.json" >"$T/c.json"
"$HANDOFF" --control "$CTL" --config "$T/c.json" --netns "${P}brC" --iface b0 --network-id n-verify >/dev/null ||
	fail "handoff C"
ip netns exec "${P}brC" tcpreplay -q -i rp0 --pps 2000 "$T/basic.pcap" >/dev/null 2>&1 || fail "tcpreplay"
want=$(grep -vc '^#' "$ROOT/tests/ids/verify/basic/expected")
i=0
while [ "$(jq -c 'select(.event_type=="alert" and .network_id=="n-verify")' "$EVE" | wc -l)" -lt "$want" ]; do
	i=$((i + 1)); [ $i -lt 100 ] || break
	sleep 0.1
done
sleep 0.5
jq -r 'select(.event_type=="alert" and .network_id=="n-verify") | "\(.alert.signature_id) \(.src_ip) \(.src_port // "-") \(.dest_ip) \(.dest_port // "-") \(.app_proto // "-")"' \
	"$EVE" | sort >"$T/replay.got"
grep -v '^#' "$ROOT/tests/ids/verify/basic/expected" | sort | diff -u - "$T/replay.got" ||
	fail "verify basic replayed with tcpreplay on a bridge (serve mode)"
log "verify basic: tcpreplay on a bridge, serve mode: exactly the expected $want alerts"

# ---- a reload under traffic: inspection goes on --------------------------
# network n-verify gets 10,000 more rules (bench/ids-rules.awk) while
# traffic flows through its bridge; the reload compiles on the builder
# thread: another connection is answered meanwhile, no packet is dropped
# or missed, and afterwards the new rule set is in force.
mkdir -p "$T/big"
awk -v N=10000 -f "$ROOT/bench/ids-rules.awk" >"$T/big/bench.rules"
cp "$RULES"/*.rules "$T/big/"
chmod -R a+rX "$T/big"
echo "mix 300" | "$MKPCAP" "$T/mix.pcap"
sent=$(tcpdump -r "$T/mix.pcap" -qn 2>/dev/null | wc -l)
vstat() { "$HANDOFF" --control "$CTL" --op '{"op":"stats","args":{"network_id":"n-verify"}}' | jq ".result[\"n-verify\"].$1"; }
# IPv4 frames (the bridge's own IPv6 chatter is counted as not decoded)
v4() { "$HANDOFF" --control "$CTL" --op '{"op":"stats","args":{"network_id":"n-verify"}}' | jq '.result["n-verify"] | .packets - .not_decoded'; }
before=$(v4)
jq '.rule_dirs = [$d]' --arg d "$T/big" "$T/c.json" >"$T/c2.json"
bg ip netns exec "${P}brC" tcpreplay -q -i rp0 --pps 4000 "$T/mix.pcap"
REPLAY=${PIDS##* }
sleep 0.3
"$HANDOFF" --control "$CTL" --config "$T/c2.json" >"$T/reload.out" 2>&1 &
RELOAD=$!
sleep 0.05
t0=$(date +%s%N)
"$HANDOFF" --control "$CTL" --op '{"op":"hello"}' >/dev/null || fail "hello during the reload"
hello_ms=$((($(date +%s%N) - t0) / 1000000))
wait "$RELOAD" || fail "reload: $(cat "$T/reload.out")"
expect_eq "$(jq .result.loaded "$T/reload.out")" 10014 "rules after the reload"
wait "$REPLAY" 2>/dev/null || true
PIDS=${PIDS/ $REPLAY/}
sleep 0.5
expect_eq "$(vstat kernel_drops)" 0 "kernel drops during the reload"
got=$(($(v4) - before))
# every replayed frame (the bridge may add one of its own now and then)
[ "$got" -ge "$sent" ] && [ "$got" -le $((sent + 5)) ] || fail "packets inspected during the reload: $got of $sent: $("$HANDOFF" --control "$CTL" --op '{"op":"stats","args":{"network_id":"n-verify"}}')"
n0=$(jq -c 'select(.event_type=="alert" and .network_id=="n-verify")' "$EVE" | wc -l)
ip netns exec "${P}brC" tcpreplay -q -i rp0 --pps 2000 "$T/basic.pcap" >/dev/null 2>&1 || fail "tcpreplay"
i=0
while [ $(($(jq -c 'select(.event_type=="alert" and .network_id=="n-verify")' "$EVE" | wc -l) - n0)) -lt "$want" ]; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "alerts after the reload"
	sleep 0.1
done
log "reload of 10,014 rules under traffic: hello answered in $hello_ms ms meanwhile, $got frames inspected for $sent sent, 0 dropped, the verify alerts again"

# ---- stats records, and a clean stop ------------------------------------
sleep 2.2
jq -e 'select(.event_type=="stats" and .network_id=="net-a") | .stats.packets > 0' "$EVE" >/dev/null ||
	fail "no stats record for net-a"
kill "$SENSOR"
st=0
wait "$SENSOR" 2>/dev/null || st=$?
PIDS=${PIDS/ $SENSOR/}
expect_eq "$st" 0 "the sensor's exit status after SIGTERM"
last=$(jq -c 'select(.event_type=="stats" and .network_id=="net-b") | .stats.alerts' "$EVE" | tail -n 1)
[ "${last:-0}" -gt 0 ] || fail "no final stats for net-b: '$last' $(jq -c . "$EVE" 2>&1 | tail -n 2)"
log "stats records written; sensor stopped cleanly"

# ---- started directly as cloudlet-ids (as the agent will start it) -------
mkdir -p "$T/np"
chown cloudlet-ids "$T/np"
bg setpriv --reuid=cloudlet-ids --regid="$(id -g cloudlet-ids)" --clear-groups \
	"$IDS" serve --control "$T/np/ids.sock" --eve "$T/np/eve.json" --stats-interval 0
NP=${PIDS##* }
i=0
while [ ! -S "$T/np/ids.sock" ]; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "unprivileged sensor did not start"
	sleep 0.05
done
out=$("$HANDOFF" --control "$T/np/ids.sock" --config "$T/a.json" --netns "${P}brA" --iface b0 --network-id net-a) ||
	fail "handoff to the unprivileged sensor: $out"
inA atk curl -s -o /dev/null -A 'sqlmap/1.7' http://10.77.0.5/
i=0
until jq -e 'select(.event_type=="alert" and .alert.signature_id==1000004)' "$T/np/eve.json" >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "no alert from the unprivileged sensor"
	kill -0 "$NP" 2>/dev/null || fail "the unprivileged sensor died"
	sleep 0.1
done
grep -q '^Seccomp:[[:space:]]*2' "/proc/$NP/status" || fail "no seccomp"
log "started as cloudlet-ids without --user: rules, capture, alert, seccomp"
