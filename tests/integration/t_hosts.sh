#!/bin/bash
# Several hosts behind one control plane (docs/hosts.md, issue 13): one
# cloudletd (on PostgreSQL, no implicit host) and three agents h1..h3 on this
# machine, each with its own state, socket, name prefix, external
# namespace and underlay namespace on a "datacenter" bridge (MTU 1550),
# registered with `cloudlet host add`.
#   - the hosts come up (heartbeats) with the agents' capacity;
#   - VMs of two tenants are spread over the three hosts; vm show gives the
#     host to the operator only;
#   - within a tenant, VMs reach each other across hosts (ICMP and TCP);
#     nothing crosses between the tenants (both use 10.0.0.0/24);
#   - each host has only the namespaces of the tenants with VMs there; the
#     tenant's home host has its firewall, the others are members;
#   - every host drained: a create fails with the reason and leaves
#     nothing; a host with VMs cannot be removed;
#   - kill -9 of h3's agent: h3 goes down, its VM unknown (nothing
#     deleted, QEMU still running); restarted: up, the VM running again and
#     reachable; the same for the control plane's PostgreSQL restarting:
#     nothing lost, the hosts stay up, creates work again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts_lib.sh"
. "$(dirname "$0")/pg_lib.sh"

# The control plane on PostgreSQL (a real server started for the test).
pg_start
CP_STORE=$PG_URL
dc_make 3
trap 'rc=$?; set +e; [ $rc -eq 0 ] || hosts_dump >&2; hosts_stop; (exit $rc); cleanup' EXIT
for n in 1 2 3; do host_start "$n"; done
cp_start
hosts_add
must_fail cli host add h1 --socket "$T/h1/agent.sock" >/dev/null
cpus=$(cli --json host show h1 | jq -r .cpus)
[ "$cpus" -ge 1 ] || fail "h1 reports no CPUs"
log "h1..h3 added and up ($cpus CPUs, $(cli --json host show h1 | jq -r .memory_budget_mib) MiB budget each)"
cli host list

read -r TA KA <<<"$(new_tenant hosts-a)"
read -r TB KB <<<"$(new_tenant hosts-b)"

# vm TOKEN NAME: created through the API; prints its id.
vm() {
	expect_api 202 POST /v1/vms "$1" "{\"name\":\"$2\",\"service\":\"web-hosting\",\"memory_mib\":128}"
	printf '%s' "$BODY" | jq -r .vm_id
}
# Spread: each VM to the least used host (ties by name).
A1=$(vm "$KA" a1) A2=$(vm "$KA" a2) A3=$(vm "$KA" a3)
B1=$(vm "$KB" b1) B2=$(vm "$KB" b2)
host_of() { api GET "/v1/vms/$1" "$OPERATOR"; printf '%s' "$BODY" | jq -r .host_id; }
hname() { cli --json host show "$1" | jq -r .name; }
declare -A HOST
for v in "$A1" "$A2" "$A3" "$B1" "$B2"; do HOST[$v]=$(hname "$(host_of "$v")"); done
expect_eq "${HOST[$A1]} ${HOST[$A2]} ${HOST[$A3]} ${HOST[$B1]} ${HOST[$B2]}" "h1 h2 h3 h1 h2" "placement (spread)"
api GET "/v1/vms/$A1" "$KA"
expect_eq "$(printf '%s' "$BODY" | jq -r 'has("host_id")')" false "a tenant sees its VM's host"
api GET /v1/vms "$KA"
expect_eq "$(printf '%s' "$BODY" | jq -r '[.[] | has("host_id")] | any')" false "host_id in a tenant's list"
api GET /v1/vms "$OPERATOR"
expect_eq "$(printf '%s' "$BODY" | jq -r '[.[] | .host_id] | length')" 5 "host_id in the operator's list"
cli vm list | head -1 | grep -qw HOST || fail "the operator's vm list has no HOST column"
expect_eq "$(cli vm list | grep -c ' h-[0-9a-f]*$')" 5 "operator's vm list rows with a host"
CLOUDLET_URL=$URL CLOUDLET_TOKEN=$KA "$CLI_BIN" vm list | head -1 | grep -qw HOST &&
	fail "a tenant's vm list has a HOST column"
log "a1 h1, a2 h2, a3 h3, b1 h1, b2 h2 (spread); the host shown to the operator only"

for v in "$A1" "$A2" "$A3"; do ready "$KA" "$v"; done
for v in "$B1" "$B2"; do ready "$KB" "$v"; done
addr() { api GET "/v1/vms/$1" "$OPERATOR"; printf '%s' "$BODY" | jq -r '.nics[0].address | split("/")[0]'; }
declare -A IP
for v in "$A1" "$A2" "$A3" "$B1" "$B2"; do IP[$v]=$(addr "$v"); done
log "all five ready: a ${IP[$A1]} ${IP[$A2]} ${IP[$A3]}, b ${IP[$B1]} ${IP[$B2]}"

# What each host holds of each tenant: A (home h1) on h1..h3, B (home h1)
# on h1 and h2 only.
ip netns list | grep -qw "h1f-$TA" || fail "tenant A's firewall is not on its home host h1"
ip netns list | grep -qw "h2f-$TA" && fail "a member host (h2) has tenant A's firewall"
ip netns list | grep -qw "h3n-$TA" || fail "h3 has no network of tenant A"
ip netns list | grep -qw "h3n-$TB" && fail "h3 has tenant B's network without a VM of B"
vni=$(ip -d -j -n "h3n-$TA" link show | jq -r '[.[] | select(.ifname | startswith("vx-")) | .linkinfo.info_data.id][0]')
[ "$vni" -ge 1 ] 2>/dev/null || fail "no VXLAN port of tenant A on h3"
log "h1 home of A and B (firewall), h2/h3 members; h3 has nothing of B; A's VNI $vni"

# on VM CMD: a shell command on the VM's console, through its host's agent.
on() {
	CTL_SOCK=$T/${HOST[$1]}/agent.sock
	guest_sh "$1" "$2" "${3:-60}"
}
ctl() { "$AGENT_BIN" ctl --socket "$CTL_SOCK" "$@"; }
reach() { on "$1" "ping -c 1 -W 2 $2 >/dev/null 2>&1" >/dev/null; }
tcp() { on "$1" "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 $2 80 | grep -q 'HTTP/1.[01] 200'" >/dev/null; }

reach "$A3" "${IP[$A1]}" || fail "a3 (h3) cannot ping a1 (h1)"
reach "$A1" "${IP[$A2]}" || fail "a1 (h1) cannot ping a2 (h2)"
reach "$A2" "${IP[$A3]}" || fail "a2 (h2) cannot ping a3 (h3)"
tcp "$A3" "${IP[$A1]}" || fail "a3 (h3) cannot reach a1's web server (h1)"
tcp "$A1" "${IP[$A2]}" || fail "a1 (h1) cannot reach a2's web server (h2)"
on "$A3" "ping -c 2 -W 2 -s 1472 ${IP[$A2]} >/dev/null 2>&1" >/dev/null || fail "full-size ping a3 -> a2"
# a3's DHCP lease comes from the home host h1 (its remote_ports).
lease=$(on "$A3" "udhcpc -i eth0 -n -q -t 3 -s /bin/true 2>&1" 30 || true)
expect_match "$lease" "${IP[$A3]}" "a3's DHCP lease from h1"
reach "$B1" "${IP[$B2]}" || fail "b1 (h1) cannot ping b2 (h2)"
tcp "$B2" "${IP[$B1]}" || fail "b2 (h2) cannot reach b1's web server (h1)"
log "within a tenant across hosts: ICMP (also 1500 bytes) and TCP both ways; a3 (h3) leased ${IP[$A3]} from h1"
# A's third address exists only in tenant A (B has two VMs on the same subnet).
if reach "$B1" "${IP[$A3]}"; then fail "b1 (tenant B) reached a3 (tenant A, h3)"; fi
if reach "$B2" "${IP[$A3]}"; then fail "b2 (tenant B) reached a3 (tenant A, h3)"; fi
if tcp "$B1" "${IP[$A3]}"; then fail "b1 (tenant B) reached a3's web server"; fi
if reach "$A3" "${IP[$B1]}" && [ "${IP[$B1]}" != "${IP[$A1]}" ] && [ "${IP[$B1]}" != "${IP[$A2]}" ]; then
	fail "a3 reached b1"
fi
log "across tenants: b1, b2 reach nothing of a3 (ICMP, TCP)"

# Placement that cannot be done: every host drained.
for n in 1 2 3; do cli host drain "h$n" >/dev/null || fail "drain h$n"; done
api GET /v1/vms "$OPERATOR"
before=$(printf '%s' "$BODY" | jq length)
expect_api 409 POST /v1/vms "$KA" '{"name":"a4","service":"web-hosting","memory_mib":128}'
expect_match "$BODY" "draining" "the refusal"
why=$(printf '%s' "$BODY" | jq -r .error.message)
api GET /v1/vms "$OPERATOR"
expect_eq "$(printf '%s' "$BODY" | jq length)" "$before" "VMs after a create that could not be placed"
log "all hosts drained: 409 '$why', no record left"
for n in 1 2 3; do cli host undrain "h$n" >/dev/null || fail "undrain h$n"; done
must_fail cli host remove h3 | grep -q "holds VMs" || fail "removing a host with VMs was not refused"

# Anti-affinity: three VMs of group web on three hosts (one through the
# CLI), a fourth has nowhere to go: 409, nothing stored. Tenant B's group
# of the same name is its own.
tcli() { CLOUDLET_URL=$URL CLOUDLET_TOKEN=$KA "$CLI_BIN" "$@"; }
tcli vm create g1 --service web-hosting --memory 128 --group web --anti-affinity --no-wait >/dev/null ||
	fail "vm create --group --anti-affinity"
G1=$(tcli --json vm list | jq -r '.[] | select(.name == "g1") | .id')
gvm() { # NAME: in group web with anti-affinity; prints its id
	expect_api 202 POST /v1/vms "$KA" "{\"name\":\"$1\",\"service\":\"web-hosting\",\"memory_mib\":128,\"group\":\"web\",\"anti_affinity\":true}"
	printf '%s' "$BODY" | jq -r .vm_id
}
G2=$(gvm g2) G3=$(gvm g3)
ghosts=$(for v in "$G1" "$G2" "$G3"; do host_of "$v"; done | sort -u | wc -l)
expect_eq "$ghosts" 3 "hosts of the three VMs of group web"
api GET /v1/vms "$OPERATOR"
before=$(printf '%s' "$BODY" | jq length)
expect_api 409 POST /v1/vms "$KA" '{"name":"g4","service":"web-hosting","memory_mib":128,"group":"web","anti_affinity":true}'
expect_match "$BODY" "anti-affinity" "the fourth's refusal"
expect_match "$BODY" "group web" "the fourth's refusal"
gwhy=$(printf '%s' "$BODY" | jq -r .error.message)
api GET /v1/vms "$OPERATOR"
expect_eq "$(printf '%s' "$BODY" | jq length)" "$before" "VMs after the fourth of the group"
api GET "/v1/vms/$G2" "$KA"
expect_eq "$(printf '%s' "$BODY" | jq -r '.group + " " + (.anti_affinity | tostring)')" "web true" "g2's group in its view"
expect_api 400 POST /v1/vms "$KA" '{"name":"g5","service":"web-hosting","anti_affinity":true}'
expect_api 400 POST /v1/vms "$KA" '{"name":"g5","service":"web-hosting","group":"a b"}'
expect_api 400 POST /v1/vms "$KA" '{"name":"g5","service":"web-hosting","group":"web","anti_affinity":"yes"}'
expect_api 202 POST /v1/vms "$KB" '{"name":"gb","service":"web-hosting","memory_mib":128,"group":"web","anti_affinity":true}'
GB=$(printf '%s' "$BODY" | jq -r .vm_id)
log "anti-affinity: g1..g3 on three hosts, g4 refused ($gwhy), nothing stored; B's group web is its own"
for v in "$G1" "$G2" "$G3"; do ready "$KA" "$v"; done
ready "$KB" "$GB"
for v in "$G1" "$G2" "$G3"; do
	expect_api 202 DELETE "/v1/vms/$v" "$KA"
	wait_op "$(printf '%s' "$BODY" | jq -r .id)" "$KA" >/dev/null
done
expect_api 202 DELETE "/v1/vms/$GB" "$KB"
wait_op "$(printf '%s' "$BODY" | jq -r .id)" "$KB" >/dev/null

# kill -9 of h3's agent: h3 down, a3 unknown (kept), QEMU running.
hpid() { "$AGENT_BIN" ctl --socket "$T/h$1/agent.sock" --json vm show "$2" | jq -r .pid; }
qpid=$(hpid 3 "$A3")
[ "$qpid" -gt 0 ] || fail "no QEMU pid for a3"
t0=$(date +%s.%N)
kill -9 "${APID[3]}"
wait "${APID[3]}" 2>/dev/null || true
APID[3]=
i=0
until [ "$(hstate h3)" = down ]; do
	i=$((i + 1))
	[ $i -lt 50 ] || fail "h3 not down 10 s after its agent was killed"
	sleep 0.2
done
t1=$(date +%s.%N)
api GET "/v1/vms/$A3" "$OPERATOR"
expect_eq "$(printf '%s' "$BODY" | jq -r .state)" unknown "a3's state with h3 down"
expect_eq "$(printf '%s' "$BODY" | jq -r .last_state)" running "a3's last state"
api GET /v1/vms "$OPERATOR"
expect_eq "$(printf '%s' "$BODY" | jq length)" 5 "VM records with h3 down"
proc_alive "$qpid" || fail "a3's QEMU died with its agent"
reach "$A1" "${IP[$A2]}" || fail "a1 cannot reach a2 while h3 is down"
log "h3's agent killed: down after $(echo "$t1 - $t0" | bc) s, a3 unknown (last running), 5 records kept"

host_start 3
i=0
until [ "$(hstate h3)" = up ]; do
	i=$((i + 1))
	[ $i -lt 50 ] || fail "h3 not up after its agent restarted"
	sleep 0.2
done
i=0
while :; do
	api GET "/v1/vms/$A3" "$OPERATOR"
	[ "$(printf '%s' "$BODY" | jq -r .state)" = running ] && break
	i=$((i + 1))
	[ $i -lt 50 ] || fail "a3 not running after h3 came back: $BODY"
	sleep 0.2
done
t2=$(date +%s.%N)
expect_eq "$(hpid 3 "$A3")" "$qpid" "a3's QEMU after the restart"
reach "$A3" "${IP[$A1]}" || fail "a3 cannot reach a1 after h3 came back"
tcp "$A1" "${IP[$A3]}" || fail "a1 cannot reach a3's web server after h3 came back"
api GET /v1/vms "$OPERATOR"
expect_eq "$(printf '%s' "$BODY" | jq -r '[.[] | .state] | join(",")')" "running,running,running,running,running" "states at the end"
log "h3's agent restarted: up, a3 running again $(echo "$t2 - $t1" | bc) s after h3 went down; reachable"

# An agent that hangs (SIGSTOP: it accepts, never answers): h2 goes down,
# h1 and h3 stay up (heartbeats do not wait for each other); SIGCONT: back.
kill -STOP "${APID[2]}"
t0=$(date +%s.%N)
i=0
until [ "$(hstate h2)" = down ]; do
	i=$((i + 1))
	[ $i -lt 50 ] || { kill -CONT "${APID[2]}"; fail "h2 not down 10 s after its agent hung"; }
	sleep 0.2
done
t1=$(date +%s.%N)
up13="$(hstate h1) $(hstate h3)"
api GET "/v1/vms/$A2" "$OPERATOR"
a2st=$(printf '%s' "$BODY" | jq -r .state)
kill -CONT "${APID[2]}"
expect_eq "$up13" "up up" "h1 and h3 while h2 hangs"
expect_eq "$a2st" unknown "a2's state while h2 hangs"
i=0
while :; do
	api GET "/v1/vms/$A2" "$OPERATOR"
	[ "$(hstate h2)/$(printf '%s' "$BODY" | jq -r .state)" = up/running ] && break
	i=$((i + 1))
	[ $i -lt 50 ] || fail "h2 and a2 not back after SIGCONT: $(hstate h2) $BODY"
	sleep 0.2
done
log "h2's agent hung (SIGSTOP): down after $(echo "$t1 - $t0" | bc) s, h1 and h3 up, a2 unknown; SIGCONT: up, a2 running"

# The control plane's PostgreSQL restarts: nothing lost, hosts still up.
api GET /v1/vms "$OPERATOR"
nvms=$(printf '%s' "$BODY" | jq length)
pg_restart
api GET /v1/vms "$OPERATOR"
expect_eq "$(printf '%s' "$BODY" | jq length)" "$nvms" "VM records after PostgreSQL restarted"
i=0
until [ "$(hstate h1) $(hstate h2) $(hstate h3)" = "up up up" ]; do
	i=$((i + 1))
	[ $i -lt 50 ] || fail "hosts not up after PostgreSQL restarted"
	sleep 0.2
done
log "PostgreSQL restarted: $nvms VM records kept, h1..h3 up"

# The last VM of B on h2 goes: h2 gets net.delete for B; h1 keeps B (home).
expect_api 202 DELETE "/v1/vms/$B2" "$KB"
wait_op "$(printf '%s' "$BODY" | jq -r .id)" "$KB" >/dev/null
ip netns list | grep -qw "h2n-$TB" && fail "h2 kept tenant B's network after its last VM of B left"
ip netns list | grep -qw "h1f-$TB" || fail "h1 (B's home) lost B's firewall"
ip netns list | grep -qw "h2n-$TA" || fail "h2 lost tenant A's network"
log "b2 deleted: h2 has nothing of B any more, h1 keeps B's firewall"

# Placement is charged in the create's transaction: cloudletd again with
# --vcpu-overcommit 1 (2 vCPUs per host), one slot filled, then three
# creates at once for the last slot: exactly one is placed.
cp_stop
cp_start --vcpu-overcommit 1
# Used now: h1 a1+b1 = 2, h2 a2 = 1, h3 a3 = 1: room for 2. Fill one slot first.
expect_api 202 POST /v1/vms "$KA" '{"name":"a5","service":"web-hosting","memory_mib":128}'
cpids=
for k in 1 2 3; do
	curl -s -o "$T/c$k" -w '%{http_code}' -X POST -H "Authorization: Bearer $KB" \
		-H 'Content-Type: application/json' \
		--data-binary "{\"name\":\"c$k\",\"service\":\"web-hosting\",\"memory_mib\":128}" \
		"$URL/v1/vms" >"$T/s$k" &
	cpids="$cpids $!"
done
for p in $cpids; do wait "$p" || true; done
codes=$(cat "$T/s1" "$T/s2" "$T/s3" | fold -w3 | sort | tr '\n' ' ')
expect_eq "$codes" "202 409 409 " "three concurrent creates with room for one"
grep -h -o 'not enough vCPUs[^"]*' "$T/c1" "$T/c2" "$T/c3" | head -1 | grep -q . ||
	fail "the refusals do not say why: $(cat "$T/c1" "$T/c2" "$T/c3")"
api GET /v1/hosts "$OPERATOR"
expect_eq "$(printf '%s' "$BODY" | jq -r '[.[] | .used_vcpus] | join(",")')" "2,2,2" "vCPUs used per host"
expect_eq "$(printf '%s' "$BODY" | jq -r '[.[] | .vms] | add')" 6 "VMs placed"
log "room for one: three concurrent creates, one placed, two refused ($(grep -h -o 'host h[0-9] has not enough vCPUs[^"]*' "$T/c1" "$T/c2" "$T/c3" | head -1))"
