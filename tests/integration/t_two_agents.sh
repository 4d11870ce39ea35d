#!/bin/bash
# Two agents on one machine (the simulated hosts of docs/hosts.md): each
# with its own state directory, socket, external network and name prefix
# (--name-prefix h1 / h2). The same tenant key with the same subnet on
# both: each agent makes its own namespaces (h1n-, h1f- / h2n-, h2f-), a VM
# on each gets ready and reaches its own gateway, and deleting the tenant on
# one agent leaves the other's untouched.
. "$(dirname "$0")/lib.sh"

K=tw-$$
NETNS_LIST="h1n-$K h1f-$K h2n-$K h2f-$K clx-tw1-$$ clx-tw2-$$"
PIDS=

start() { # start N: agent hN
	n=$1
	mkdir -p "$T/h$n/shm"
	chmod 711 "$T/h$n"
	chmod 1777 "$T/h$n/shm"
	"$AGENT_BIN" serve --socket "$T/h$n/agent.sock" --state-dir "$T/h$n/state" \
		--guest-dir "$GUEST_DIR" --stop-timeout 20 --template-ram-dir "$T/h$n/shm" \
		--auto-templates off --external-netns "clx-tw$n-$$" --external-bridge "cxw$n$$" \
		--name-prefix "h$n" >>"$T/h$n/agent.log" 2>&1 &
	PIDS="$PIDS $!"
	i=0
	while [ ! -S "$T/h$n/agent.sock" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "agent h$n did not open its socket: $(tail -3 "$T/h$n/agent.log")"
		sleep 0.1
	done
}
hctl() { n=$1; shift; "$AGENT_BIN" ctl --socket "$T/h$n/agent.sock" "$@"; }
# lib.sh's guest_sh talks through ctl: point it at one agent.
CTL_SOCK=
ctl() { "$AGENT_BIN" ctl --socket "$CTL_SOCK" "$@"; }
stop_all() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	# Their QEMUs and dnsmasqs (which outlive an agent by design) go
	# with lib.sh's cleanup.
}
trap 'rc=$?; set +e; stop_all; (exit $rc); cleanup' EXIT

start 1
start 2
STATE=$(jq -cn --arg t "$K" '{tenant:$t, mode:"namespace", networks:[{id:"main",cidr:"10.77.0.0/24"}],
  external:{address:"198.18.0.77/24"}, rules:[]}')
for n in 1 2; do
	hctl $n raw "$(jq -c '{op:"net.apply",args:.}' <<<"$STATE")" | jq -e .ok >/dev/null ||
		fail "net.apply on h$n"
done
for ns in h1n-$K h1f-$K h2n-$K h2f-$K; do
	ip netns list | grep -qw "$ns" || fail "namespace $ns missing"
done
ip netns list | grep -qw "cln-$K" && fail "an agent with a prefix made cln-$K"
ip -n "clx-tw1-$$" -o link show | grep -q "h1x-" || fail "h1's firewall port is not named h1x-*"
log "each agent made its own namespaces and firewall port for tenant $K"

for n in 1 2; do
	hctl $n vm create "v$n" --image web-hosting --vcpus 1 --memory 128 --disk 1 --provision cold \
		--nic "network=$K/main,address=10.77.0.10/24" >/dev/null || fail "create on h$n"
done
for n in 1 2; do
	hctl $n vm wait "v$n" ready --timeout 240 >/dev/null || fail "v$n not ready"
	# The same address on both: each reaches its own gateway.
	CTL_SOCK=$T/h$n/agent.sock
	guest_sh "v$n" "ping -c 1 -W 2 10.77.0.1 >/dev/null 2>&1" >/dev/null || fail "v$n cannot ping its gateway"
done
log "v1 on h1 and v2 on h2, same address, each reaches its own gateway"

hctl 1 vm delete v1 >/dev/null || fail "delete v1"
hctl 1 raw "{\"op\":\"net.delete\",\"args\":{\"tenant\":\"$K\"}}" | jq -e .ok >/dev/null || fail "net.delete on h1"
ip netns list | grep -qw "h1n-$K" && fail "h1n-$K left after the delete"
ip netns list | grep -qw "h2n-$K" || fail "h2's namespace went with h1's delete"
expect_eq "$(hctl 2 --json vm show v2 | jq -r .state)" running "v2 after h1's delete"
expect_eq "$(hctl 2 raw "{\"op\":\"net.show\",\"args\":{\"tenant\":\"$K\"}}" | jq -r .result.in_sync)" true "h2 in sync"
log "deleting the tenant on h1 left h2's tenant, VM and rules as they were"
