# hosts_lib.sh - several simulated hosts on this machine (docs/hosts.md),
# for tests and benches that source lib.sh first.
#
# Each host N is its own agent: its own state directory, socket and
# template RAM directory under $T/hN, the name prefix hN for every kernel
# object it makes, its own external namespace clhxN-$$, and an underlay
# namespace clhuN-$$ with the address 192.168.251.N on a "datacenter"
# bridge (MTU 1550, room for VXLAN) in the namespace cldc-$$ made here.
# Everything is removed by hosts_stop and lib.sh's cleanup, also on failure:
# call `trap 'rc=$?; set +e; hosts_stop; (exit $rc); cleanup' EXIT`.

declare -A APID # host number -> its agent's PID
CP_HOSTS=1      # lib.sh's cp_start: no implicit host
DC=cldc-$$
HOSTS_N=0

# dc_make N: the datacenter bridge and N underlay namespaces.
dc_make() {
	HOSTS_N=$1
	netns_add "$DC"
	ip -n "$DC" link add dcbr type bridge
	ip -n "$DC" link set dcbr mtu 1550 up
	for n in $(seq 1 "$HOSTS_N"); do
		netns_add "clhu$n-$$"
		ip link add "hu$n$$" mtu 1550 type veth peer name "hd$n$$" mtu 1550
		ip link set "hu$n$$" netns "clhu$n-$$"
		ip link set "hd$n$$" netns "$DC"
		ip -n "$DC" link set "hd$n$$" master dcbr up
		ip -n "clhu$n-$$" addr add "192.168.251.$n/24" dev "hu$n$$"
		ip -n "clhu$n-$$" link set "hu$n$$" up
		ip -n "clhu$n-$$" link set lo up
		NETNS_LIST="$NETNS_LIST clhx$n-$$"
	done
}

# host_start N [AGENT ARGS...]: start agent hN and wait for its socket.
host_start() {
	local n=$1 i=0
	shift
	mkdir -p "$T/h$n/shm"
	chmod 711 "$T/h$n"
	chmod 1777 "$T/h$n/shm"
	rm -f "$T/h$n/agent.sock"
	"$AGENT_BIN" serve --socket "$T/h$n/agent.sock" --state-dir "$T/h$n/state" \
		--guest-dir "$GUEST_DIR" --stop-timeout 20 --template-ram-dir "$T/h$n/shm" \
		--auto-templates off --external-netns "clhx$n-$$" --external-bridge "chx$n$$" \
		--name-prefix "h$n" --underlay-netns "clhu$n-$$" --underlay-address "192.168.251.$n" \
		"$@" >>"$T/h$n/agent.log" 2>&1 &
	APID[$n]=$!
	while [ ! -S "$T/h$n/agent.sock" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "agent h$n did not start: $(tail -3 "$T/h$n/agent.log")"
		kill -0 "${APID[$n]}" 2>/dev/null || fail "agent h$n exited: $(tail -3 "$T/h$n/agent.log")"
		sleep 0.1
	done
}

# The operator's CLI against that control plane.
cli() { CLOUDLET_URL=$URL CLOUDLET_TOKEN=$OPERATOR "$CLI_BIN" "$@"; }
hstate() { cli --json host show "$1" | jq -r .state; }

# hosts_add: register h1..hN over their sockets and wait until all are up.
hosts_add() {
	local n i
	for n in $(seq 1 "$HOSTS_N"); do
		cli host add "h$n" --socket "$T/h$n/agent.sock" --underlay "192.168.251.$n" \
			>/dev/null || fail "host add h$n"
	done
	for n in $(seq 1 "$HOSTS_N"); do
		i=0
		until [ "$(hstate "h$n")" = up ]; do
			i=$((i + 1))
			[ $i -lt 50 ] || fail "host h$n is not up: $(cli --json host show "h$n")"
			sleep 0.2
		done
	done
}

# ready TOKEN ID: wait until the VM is running and ready.
ready() {
	local i=0
	while :; do
		api GET "/v1/vms/$2" "$1"
		[ "$(printf '%s' "$BODY" | jq -r '.state + "/" + (.ready | tostring)')" = running/true ] && return 0
		[ "$(printf '%s' "$BODY" | jq -r .state)" = null ] && fail "VM $2 is gone: $BODY"
		i=$((i + 1))
		[ $i -lt 900 ] || fail "VM $2 not ready: $BODY"
		sleep 0.2
	done
}

hosts_stop() {
	local n d k
	[ -n "$CP_PID" ] && kill "$CP_PID" 2>/dev/null && wait "$CP_PID" 2>/dev/null
	CP_PID=
	for n in "${!APID[@]}"; do [ -n "${APID[$n]}" ] && kill "${APID[$n]}" 2>/dev/null; done
	for n in "${!APID[@]}"; do [ -n "${APID[$n]}" ] && wait "${APID[$n]}" 2>/dev/null; done
	# Their QEMUs go with lib.sh's cleanup (kill_qemus).
	for n in $(seq 1 "$HOSTS_N"); do
		for d in "$T"/h$n/state/net/*/; do
			[ -d "$d" ] || continue
			k=$(basename "$d")
			ip netns del "h${n}n-$k" 2>/dev/null
			ip netns del "h${n}f-$k" 2>/dev/null
		done
	done
	return 0
}

hosts_dump() {
	local n
	for n in $(seq 1 "$HOSTS_N"); do echo "---- agent h$n"; tail -n 15 "$T/h$n/agent.log" 2>/dev/null; done
	echo "---- cloudletd"; tail -n 40 "$T/cp.log" 2>/dev/null
}
