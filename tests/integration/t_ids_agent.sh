#!/bin/bash
# t_ids_agent.sh - the agent runs the IDS sensor for every tenant network
# (docs/ids.md, src/agent/appliance/ids.c), against real attacks:
#
#   tenant A: network main 10.1.0.0/24, VMs a1 (web, 10.1.0.10, port
#   forward 198.18.0.10:8080 -> 80) and a2 (10.1.0.11, 1:1 address
#   198.18.0.12), inbound TCP allowed to both; tenant B: the same subnet,
#   VM b1 at a1's address (10.1.0.10, port forward 198.18.0.20:8080 -> 80);
#   an "outside" namespace on the external bridge.
#
# Checked: the sensor runs as cloudlet-ids with seccomp and has a capture
# for each network; an nmap SYN scan of a2 and a curl path traversal to a1
# (the project's rule 1000003, tests/ids/rules) come back from ids.alerts
# with tenant A, network main, the VM's address and the signature; tenant B
# gets none of them, and the same attack on B's VM is B's alone; kill -9 of the sensor: the agent starts it again, hands
# it the networks again, and a new attack is seen; an agent restart adopts
# the running sensor and the alert sequence goes on; "ids": {"enabled":
# false} takes a tenant's networks out of the sensor.
. "$(dirname "$0")/lib.sh"

for t in nmap curl jq; do command -v $t >/dev/null || fail "missing $t (scripts/setup.sh)"; done
getent passwd cloudlet-ids >/dev/null || fail "no user cloudlet-ids (scripts/setup.sh)"

A=da-$$ B=db-$$
EXT=clx-ids-$$ EXTBR=cx$$ OUT=clo-ids-$$
EXT_NETNS=$EXT EXT_BRIDGE=$EXTBR
NETNS_LIST="cln-$A clf-$A cln-$B clf-$B $EXT"
RULES=$ROOT/tests/ids/rules
netns_add "$OUT"
agent_start --ids-rules "$RULES"

apply() {
	r=$(ctl raw "$(jq -c '{op:"net.apply",args:.}' <<<"$1")")
	jq -e .ok <<<"$r" >/dev/null || fail "net.apply refused: $r"
}
ALLOW_TCP='[{"direction":"ingress","action":"allow","protocol":"tcp","local":"10.1.0.0/24"}]'
STATE_A=$(jq -cn --arg t "$A" --argjson r "$ALLOW_TCP" '{tenant:$t, networks:[{id:"main",cidr:"10.1.0.0/24"}],
  external:{address:"198.18.0.10/24"}, addresses:[{address:"198.18.0.12",vm:"10.1.0.11"}],
  forwards:[{address:"198.18.0.10",protocol:"tcp",port:8080,to:"10.1.0.10",to_port:80}], rules:$r}')
state_b() {
	jq -cn --arg t "$B" --argjson r "$ALLOW_TCP" --argjson ids "$1" '{tenant:$t,
	  networks:[{id:"main",cidr:"10.1.0.0/24"}], external:{address:"198.18.0.20/24"}, rules:$r, ids:$ids,
	  forwards:[{address:"198.18.0.20",protocol:"tcp",port:8080,to:"10.1.0.10",to_port:80}]}'
}
apply "$STATE_A"
apply "$(state_b '{"enabled":true}')"

# The outside computer.
outside_attach "$OUT"

for v in a1:$A:10.1.0.10 a2:$A:10.1.0.11 b1:$B:10.1.0.10; do
	IFS=: read -r n t ip <<<"$v"
	ctl vm create "$n" --image web-hosting --vcpus 1 --memory 160 --disk 1 --provision cold \
		--nic "network=$t/main,address=$ip/24" >/dev/null || fail "create $n"
done
for n in a1 a2 b1; do ctl vm wait "$n" ready --timeout 240 >/dev/null || fail "$n not ready"; done
log "3 VMs ready"

status() { ctl raw '{"op":"ids.status"}' | jq -c .result; }
sensor_pid() { status | jq -r .sensor_pid; }
# wait_for JQ-EXPR WHAT: poll ids.status until the expression holds.
wait_status() {
	i=0
	until status | jq -e "$1" >/dev/null; do
		i=$((i + 1))
		[ $i -lt 300 ] || fail "$2: $(status)"
		sleep 0.2
	done
}
# Networks in the sensor, with a capture, as the agent sees them.
captured() { wait_status "[.networks[] | select(.tenant == \"$1\" and .network == \"main\" and .capture and .stats != null)] | length == 1" "$1/main not captured"; }
captured "$A"
captured "$B"

pid=$(sensor_pid)
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
expect_eq "$uid" "$(id -u cloudlet-ids)" "uid of the sensor"
expect_eq "$(awk '/^Seccomp:/ {print $2}' "/proc/$pid/status")" 2 "seccomp mode of the sensor"
log "sensor pid $pid runs as cloudlet-ids (uid $uid) with seccomp"

alerts() { ctl raw "$(jq -cn --argjson a "${1:-0}" '{op:"ids.alerts",args:{since:$a}}')" | jq -c .result; }
# wait_alert JQ-SELECT WHAT [SINCE]: the first alert after SINCE that matches.
wait_alert() {
	i=0
	while :; do
		got=$(alerts "${3:-0}" | jq -c "[.alerts[] | select($1)] | first // empty")
		[ -n "$got" ] && break
		i=$((i + 1))
		[ $i -lt 150 ] || fail "no alert for $2: $(alerts "${3:-0}")"
		sleep 0.2
	done
	printf '%s' "$got"
}
# traversal TRY [EXTERNAL ADDRESS]: through a port forward to a web VM.
traversal() {
	ip netns exec "$OUT" curl -s -o /dev/null --max-time 5 --path-as-is \
		"http://${2:-198.18.0.10}:8080/cgi-bin/../../etc/passwd?try=$1" || true
}

# A real scan through the firewall (a2's 1:1 address), and a web attack
# through the port forward.
ip netns exec "$OUT" nmap -sS -Pn -n -p 1-200 --max-retries 0 198.18.0.12 >"$T/nmap.log" 2>&1 ||
	fail "nmap: $(cat "$T/nmap.log")"
traversal 1
scan=$(wait_alert '.alert.signature_id == 9100001 and .dest_ip == "10.1.0.11"' "the nmap SYN scan")
web=$(wait_alert '.alert.signature_id == 1000003 and .dest_ip == "10.1.0.10"' "the path traversal")
for a in "$scan" "$web"; do
	expect_eq "$(jq -r .tenant_id <<<"$a")" "$A" "tenant of an alert"
	expect_eq "$(jq -r .network_id <<<"$a")" main "network of an alert"
	expect_eq "$(jq -r .src_ip <<<"$a")" 198.18.0.254 "source of an alert"
done
expect_eq "$(jq -r .dest_vm <<<"$scan")" a2 "VM of the scan alert"
expect_eq "$(jq -r .dest_vm <<<"$web")" a1 "VM of the web alert"
expect_match "$(jq -r .alert.signature <<<"$web")" "path traversal" "signature"
log "scan: $(jq -c '{seq, sig: .alert.signature, dest_ip, dest_vm}' <<<"$scan")"
log "web:  $(jq -c '{seq, sig: .alert.signature, dest_ip, dest_port, dest_vm}' <<<"$web")"

# The platform's own traffic is clean: a DHCP exchange with the tenant's
# dnsmasq and the VMs' ARP give no rogue-DHCP or spoofing alert (the attack
# after it marks how far the sensor has got).
lease=$(guest_sh a2 "udhcpc -i eth0 -n -q -t 3 -s /bin/true 2>&1" 30 || true)
expect_match "$lease" "10.1.0.11" "DHCP lease of a2"
seen=$(alerts | jq .last)
traversal dhcp
wait_alert '.alert.signature_id == 1000003' "the marker attack after DHCP" "$seen" >/dev/null
bad=$(alerts | jq -c '[.alerts[] | select(.alert.signature_id >= 9100020 and .alert.signature_id <= 9100030)]')
expect_eq "$(jq length <<<"$bad")" 0 "spoofing or rogue-DHCP alerts for the platform's own traffic ($bad)"
log "DHCP from the tenant's dnsmasq and the VMs' ARP: no spoofing or rogue-DHCP alert"

# Tenant B (same subnet, b1 at a1's address) sees none of it; the same
# attack on b1 is B's alone.
alerts_of() { ctl raw "$(jq -cn --arg t "$1" '{op:"ids.alerts",args:{tenant:$t}}')" | jq -c .result.alerts; }
expect_eq "$(alerts_of "$B" | jq length)" 0 "alerts of tenant B"
expect_eq "$(alerts | jq --arg t "$B" '[.alerts[] | select(.tenant_id == $t)] | length')" 0 "tenant B in all alerts"
n_a=$(alerts_of "$A" | jq length)
traversal b 198.18.0.20
webb=$(wait_alert '.alert.signature_id == 1000003 and .tenant_id == "'"$B"'"' "the path traversal on b1")
expect_eq "$(jq -r .dest_vm <<<"$webb")" b1 "VM of tenant B's alert"
expect_eq "$(jq -r .dest_ip <<<"$webb")" 10.1.0.10 "address of tenant B's alert"
expect_eq "$(alerts_of "$A" | jq length)" "$n_a" "tenant A's alerts after the attack on B"
log "tenant B: $(jq -c '{seq, sig: .alert.signature, dest_ip, dest_vm}' <<<"$webb"); tenant A's alerts unchanged"
# Bad arguments are refused.
expect_match "$(ctl raw '{"op":"ids.alerts","args":{"limit":5000}}')" '"invalid"' "limit 5000"
expect_match "$(ctl raw '{"op":"ids.alerts","args":{"bogus":1}}')" '"invalid"' "unknown field"

# The same state again does not reload the sensor's rules; ids.reload does,
# once per network.
swapped() { grep -c "network $1.main: rules swapped in" "$T/state/ids/ids.log" || true; }
sa=$(swapped "$A") sb=$(swapped "$B")
apply "$STATE_A"
ctl raw '{"op":"ids.reload"}' | jq -e .ok >/dev/null || fail "ids.reload refused"
i=0
until [ "$(swapped "$A")" -gt "$sa" ] && [ "$(swapped "$B")" -gt "$sb" ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "ids.reload did not reload both networks"
	sleep 0.2
done
expect_eq "$(swapped "$A")" $((sa + 1)) "rule loads of $A/main after an unchanged apply and ids.reload"
log "an unchanged net.apply does not reload the IDS rules; ids.reload does"

# The sensor killed: started again, handed both networks again, sees again.
last=$(alerts | jq .last)
kill -9 "$pid"
wait_status ".sensor_restarts >= 1 and .sensor_pid != $pid and .sensor_answers" "sensor not restarted"
captured "$A"
captured "$B"
pid2=$(sensor_pid)
log "sensor restarted: pid $pid -> $pid2"
traversal 2
again=$(wait_alert '.alert.signature_id == 1000003 and .tenant_id == "'"$A"'"' "an attack after the restart" "$last")
log "after the sensor's restart: $(jq -c '{seq, sig: .alert.signature}' <<<"$again")"

# An agent restart adopts the running sensor; the sequence goes on.
last=$(jq .seq <<<"$again")
agent_stop
agent_start --ids-rules "$RULES"
wait_status ".sensor_pid == $pid2 and .sensor_answers" "sensor not adopted"
captured "$A"
grep -q "ids: adopted cloudlet-ids, pid $pid2" "$T/agent.log" || fail "agent log does not say it adopted the sensor"
traversal 3
later=$(wait_alert '.alert.signature_id == 1000003' "an attack after the agent's restart" "$last")
[ "$(jq .seq <<<"$later")" -gt "$last" ] || fail "sequence went back: $later after $last"
expect_eq "$(alerts "$last" | jq '[.alerts[] | select(.seq <= '"$last"')] | length')" 0 "old alerts again"
log "after the agent's restart: same sensor, $(jq -c '{seq, sig: .alert.signature}' <<<"$later")"

# IDS off for tenant B: its network leaves the sensor.
apply "$(state_b '{"enabled":false}')"
wait_status "[.networks[] | select(.tenant == \"$B\")] | length == 0" "tenant B still in the sensor"
captured "$A"
log "ids.enabled false: tenant B's network left the sensor"

# --ids off: the agent stops the sensor it left running and answers without it.
pid3=$(sensor_pid)
agent_stop
agent_start --ids off
i=0
while proc_alive "$pid3"; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "--ids off left the sensor $pid3 running"
	sleep 0.1
done
expect_eq "$(status | jq -c .)" '{"enabled":false}' "ids.status with --ids off"
# Without the binary the agent works as before and says so once.
agent_stop
agent_start --ids-bin "$T/no-such-cloudlet-ids"
expect_eq "$(status | jq .enabled)" false "ids.status without the binary"
expect_eq "$(ctl --json vm list | jq length)" 3 "VMs listed without the sensor"
apply "$STATE_A"
expect_eq "$(grep -c 'no-such-cloudlet-ids.*intrusion detection is off' "$T/agent.log")" 1 "log lines about the missing binary"
log "--ids off stops the sensor; a missing binary leaves the agent working"
