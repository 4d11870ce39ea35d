# lib.sh - shared by the integration tests. Each test sources it, gets its
# own agent (own socket and state dir under a fresh temp dir) so tests can
# run in parallel, and has everything it started removed on exit, also when
# it fails: the agent and QEMU processes (by PID), network namespaces, files.
set -eu

ROOT=${CLOUDLET_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
AGENT_BIN=${AGENT_BIN:-$ROOT/build/bin/cloudlet-agent}
GUEST_DIR=${GUEST_DIR:-$ROOT/build/guest}
TNAME=$(basename "$0" .sh)
T=$(mktemp -d /tmp/cltest.XXXXXX)
chmod 711 "$T" # QEMU runs as cloudlet-vm and must reach its VM directory
CLOUDLETD_BIN=${CLOUDLETD_BIN:-$ROOT/build/bin/cloudletd}
CLI_BIN=${CLI_BIN:-$ROOT/build/bin/cloudlet}
AGENT_PID=
CP_PID=
NETNS_LIST=
# Functions cleanup runs before it removes $T (pg_lib.sh adds pg_stop).
CLEANUP_HOOKS=

log() { printf '%s [%s] %s\n' "$(date +%T)" "$TNAME" "$*"; }

dump() {
	echo "---- agent log ($TNAME)"; tail -n 40 "$T/agent.log" 2>/dev/null || true
	echo "---- cloudletd log ($TNAME)"; tail -n 40 "$T/cp.log" 2>/dev/null || true
	for f in "$T"/site-*.log "$T"/h*/agent.log; do # sites' and hosts' daemons
		[ -f "$f" ] || continue
		echo "---- $f"; tail -n 25 "$f"
	done
	for d in "$T"/state/vms/*/; do
		[ -d "$d" ] || continue
		echo "---- console $d"; tail -c 3000 "$d/console.log" 2>/dev/null || true
		echo "---- qemu.log $d"; tail -n 5 "$d/qemu.log" 2>/dev/null || true
	done
}

fail() {
	echo "FAIL [$TNAME]: $*" >&2
	dump >&2
	exit 1
}

# Kill only the QEMU processes of this test: their pid files are in $T (or,
# for tests with several agents, in $T/h<N>/state) and their command lines
# name $T.
kill_qemus() {
	for f in "$T"/state/vms/*/qemu.pid "$T"/h*/state/vms/*/qemu.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null || true)
		[ -n "$pid" ] || continue
		if tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "$T"; then
			kill -9 "$pid" 2>/dev/null || true
		fi
	done
}

# Other helpers the agent started for this test (dnsmasq, cloudlet-storaged,
# cloudlet-ids, which outlive the agent by design): their command lines name $T.
kill_named_procs() {
	for p in $(pgrep -f "$T/" 2>/dev/null); do
		[ "$p" = $$ ] && continue
		case "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" in
		dnsmasq*"$T/"*) kill -9 "$p" 2>/dev/null ;;
		*cloudlet-storaged*"$T/"*) kill -9 "$p" 2>/dev/null ;;
		*cloudlet-ids*"$T/"*) kill -9 "$p" 2>/dev/null ;;
		# A replica's or a cold migration's storage daemon (own session).
		*qemu-storage-daemon*"$T/"* | *qemu-nbd*"$T/"*) kill -9 "$p" 2>/dev/null ;;
		esac
	done
	# Tenant VPN gateways and vm-vm tunnels (wireguard-go's command line
	# names only its interface): by the pid files in the test's state.
	for f in "$T"/state/net/*/wg.pid "$T"/h*/state/net/*/wg.pid "$T"/h*/state/net/*/vmvm/wg.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f" 2>/dev/null || true)
		c=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)
		case "$c" in
		wireguard-go*)
			kill -9 "$p" 2>/dev/null
			# Its UAPI socket stays behind after a SIGKILL.
			w=${c% }
			rm -f "/var/run/wireguard/${w##* }.sock"
			;;
		esac
	done
}

cleanup() {
	rc=$?
	set +e
	[ -n "$CP_PID" ] && kill "$CP_PID" 2>/dev/null && wait "$CP_PID" 2>/dev/null
	[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	kill_qemus
	kill_named_procs
	# Tenant networks the agent made (it keeps one directory per tenant).
	for d in "$T"/state/net/*/; do
		[ -d "$d" ] || continue
		k=$(basename "$d")
		ip netns del "cln-$k" 2>/dev/null
		ip netns del "clf-$k" 2>/dev/null
	done
	ip netns del "${EXT_NETNS:-clx-$$}" 2>/dev/null
	for ns in $NETNS_LIST; do ip netns del "$ns" 2>/dev/null; done
	for h in $CLEANUP_HOOKS; do "$h"; done
	sleep 0.2
	rm -rf "$T"
	if [ $rc -eq 0 ]; then log "PASS"; else log "FAIL (exit $rc)"; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

agent_start() {
	mkdir -p "$T/shm"
	chmod 1777 "$T/shm" # template RAM files, written by QEMU as cloudlet-vm
	# Its own external network, so tests running side by side never share one.
	"$AGENT_BIN" serve --socket "$T/agent.sock" --state-dir "$T/state" \
		--guest-dir "$GUEST_DIR" --stop-timeout 20 --template-ram-dir "$T/shm" \
		--auto-templates "${AUTO_TEMPLATES:-off}" \
		--external-netns "${EXT_NETNS:-clx-$$}" --external-bridge "${EXT_BRIDGE:-cx$$}" \
		"$@" >>"$T/agent.log" 2>&1 &
	AGENT_PID=$!
	i=0
	while [ ! -S "$T/agent.sock" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "agent did not open its socket"
		kill -0 "$AGENT_PID" 2>/dev/null || fail "agent exited at start"
		sleep 0.1
	done
}

agent_stop() {
	kill "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
	AGENT_PID=
	rm -f "$T/agent.sock"
}

ctl() { "$AGENT_BIN" ctl --socket "$T/agent.sock" "$@"; }

# jq over `ctl --json vm show NAME`
vm_field() { ctl --json vm show "$1" | jq -r "$2"; }

# The console text of a VM.
console() { ctl vm console "$1" --bytes 1000000; }

# Wait until the console shows a line matching a pattern.
wait_console() {
	name=$1 pattern=$2 timeout=${3:-120}
	i=0
	while ! console "$name" | grep -q "$pattern"; do
		i=$((i + 1))
		[ $i -lt $((timeout * 5)) ] || fail "console of $name never showed '$pattern'"
		sleep 0.2
	done
}

# A process that is gone (a zombie waiting for init to reap it counts as gone).
proc_alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

expect_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"; }
expect_match() { printf '%s' "$1" | grep -q -- "$2" || fail "${3:-text} does not match '$2': $1"; }

# Run a command that must fail; prints its stderr for matching.
must_fail() {
	if out=$("$@" 2>&1); then fail "expected failure: $*"; fi
	printf '%s' "$out"
}

# A network namespace that is removed on exit.
netns_add() {
	ip netns add "$1"
	NETNS_LIST="$NETNS_LIST $1"
}

# The "outside computer": namespace $1 (made with netns_add) on this test
# agent's external bridge, as 198.18.0.254/24.
# outside_attach NETNS [TAG]: NETNS (made) on the external bridge
# (EXT_NETNS/EXT_BRIDGE: the agent's, by default) as 198.18.0.254; TAG
# tells this pair of veths from another test's or another outside's.
outside_attach() {
	local o="o${2-}$$" p="op${2-}$$"
	ip link add "$o" type veth peer name "$p"
	ip link set "$o" netns "$1"
	ip link set "$p" netns "${EXT_NETNS:-clx-$$}"
	ip -n "${EXT_NETNS:-clx-$$}" link set "$p" master "${EXT_BRIDGE:-cx$$}" up
	ip -n "$1" addr add 198.18.0.254/24 dev "$o"
	ip -n "$1" link set "$o" up
	ip -n "$1" link set lo up
}

# A user-data script that prints the spec as the guest sees it, now and at
# every later boot: a user-data script runs once per instance (as with
# cloud-init), so it installs a per-boot script (/var/lib/cloud/scripts/
# per-boot, docs/guest.md) and runs it.
spec_user_data() {
	cat <<'UD'
#!/bin/sh
mkdir -p /var/lib/cloud/scripts/per-boot
cat >/var/lib/cloud/scripts/per-boot/spec <<'SPEC'
#!/bin/sh
root=$(findfs LABEL=cloudlet-root)
echo "spec: nproc=$(nproc) memtotal_kb=$(awk '/^MemTotal/ {print $2}' /proc/meminfo) disk_bytes=$(blockdev --getsize64 "$root") fs_kb=$(df -k / | awk 'NR==2 {print $2}')"
SPEC
chmod 755 /var/lib/cloud/scripts/per-boot/spec
exec /var/lib/cloud/scripts/per-boot/spec
UD
}

# Parse "spec: ..." of the latest boot: prints "nproc memtotal_kb disk_bytes fs_kb".
guest_spec() {
	console "$1" | grep '^spec: ' | tail -n 1 | tr -d '\r' |
		sed 's/.*nproc=\([0-9]*\) memtotal_kb=\([0-9]*\) disk_bytes=\([0-9]*\) fs_kb=\([0-9]*\).*/\1 \2 \3 \4/'
}

# Check the guest's view against vcpus, memory_mib, disk_gib.
check_spec() {
	name=$1 vcpus=$2 mem=$3 disk=$4
	set -- $(guest_spec "$name")
	[ $# -eq 4 ] || fail "no spec line on the console of $name"
	expect_eq "$1" "$vcpus" "$name nproc"
	# MemTotal is RAM minus what the kernel keeps for itself.
	[ "$2" -le $((mem * 1024)) ] && [ "$2" -ge $((mem * 1024 * 70 / 100)) ] ||
		fail "$name MemTotal $2 kB does not fit ${mem} MiB"
	expect_eq "$3" $((disk * 1024 * 1024 * 1024)) "$name root disk bytes"
	[ "$4" -ge $((disk * 1024 * 1024 * 90 / 100)) ] ||
		fail "$name root filesystem is $4 kB, not grown to ${disk} GiB"
	log "$name: nproc=$1 MemTotal=${2}kB disk=${3}B fs=${4}kB match ${vcpus} vCPU/${mem} MiB/${disk} GiB"
}

# ---- the control plane -------------------------------------------------

# cloudletd serve on a free loopback port with this test's agent (with
# CP_HOSTS set, hosts_lib.sh: no implicit host, only the hosts added to
# it), its state in DIR and its output in LOG: sets LAUNCH_PID and
# LAUNCH_URL, or returns 1.
cp_launch() {
	local dir=$1 logf=$2 where="--agent-socket $T/agent.sock"
	shift 2
	[ -z "${CP_HOSTS-}" ] || where=--no-local-host
	for attempt in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 30000))
		# shellcheck disable=SC2086 # $where is two words or one
		"$CLOUDLETD_BIN" serve --state-dir "$dir" $where \
			--listen "127.0.0.1:$port" "$@" >>"$logf" 2>&1 &
		LAUNCH_PID=$!
		LAUNCH_URL=http://127.0.0.1:$port
		i=0
		while [ $i -lt 100 ]; do
			curl -sf "$LAUNCH_URL/v1/health" >/dev/null 2>&1 && return 0
			kill -0 "$LAUNCH_PID" 2>/dev/null || break
			sleep 0.1
			i=$((i + 1))
		done
		kill "$LAUNCH_PID" 2>/dev/null
		wait "$LAUNCH_PID" 2>/dev/null
		LAUNCH_PID=
	done
	return 1
}

# Start cloudletd (and the agent if needed) on a free loopback port.
# Sets URL and OPERATOR (the operator token). cloudletd drops to the
# unprivileged user "cloudlet". CP_STORE: a PostgreSQL URI (pg_lib.sh)
# instead of SQLite in $T/cp.
cp_start() {
	[ -n "${CP_HOSTS-}" ] || [ -n "$AGENT_PID" ] || agent_start
	[ -z "${CP_STORE-}" ] || set -- --store "$CP_STORE" "$@"
	if [ ! -f "$T/cp/cloudlet.db" ] && [ ! -f "$T/operator" ]; then
		OPERATOR=$("$CLOUDLETD_BIN" init --state-dir "$T/cp" ${CP_STORE:+--store "$CP_STORE"} \
			2>>"$T/cp.log") || fail "cloudletd init"
		echo "$OPERATOR" >"$T/operator"
	fi
	OPERATOR=$(cat "$T/operator")
	if cp_launch "$T/cp" "$T/cp.log" "$@"; then
		CP_PID=$LAUNCH_PID
		URL=$LAUNCH_URL
		return 0
	fi
	fail "cloudletd did not start"
}

cp_stop() {
	kill "${1:--TERM}" "$CP_PID" 2>/dev/null
	wait "$CP_PID" 2>/dev/null || true
	CP_PID=
}

# api METHOD PATH TOKEN [BODY]: sets STATUS and BODY (BODY "-" reads stdin).
api() {
	set -- "$1" "$2" "$3" "${4-}"
	if [ -n "$4" ]; then
		if [ "$4" = "-" ]; then
			STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -X "$1" \
				-H "Authorization: Bearer $3" -H 'Content-Type: application/json' \
				--data-binary @- "$URL$2")
		else
			STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -X "$1" \
				-H "Authorization: Bearer $3" -H 'Content-Type: application/json' \
				--data-binary "$4" "$URL$2")
		fi
	else
		STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -X "$1" \
			-H "Authorization: Bearer $3" "$URL$2")
	fi
	BODY=$(cat "$T/resp")
}

# expect_api STATUS METHOD PATH TOKEN [BODY]
expect_api() {
	want=$1
	shift
	api "$@"
	[ "$STATUS" = "$want" ] || fail "$1 $2: expected $want, got $STATUS: $BODY"
}

# A tenant with a token: prints "tenant_id token".
new_tenant() {
	expect_api 201 POST /v1/tenants "$OPERATOR" "{\"name\":\"$1\"}"
	tid=$(printf '%s' "$BODY" | jq -r .id)
	expect_api 201 POST "/v1/tenants/$tid/tokens" "$OPERATOR"
	echo "$tid $(printf '%s' "$BODY" | jq -r .token)"
}

# Wait for an operation to end; prints its final JSON; fails if it failed
# (unless the second argument is "may-fail").
wait_op() {
	op=$1 token=$2
	i=0
	while :; do
		api GET "/v1/operations/$op" "$token"
		state=$(printf '%s' "$BODY" | jq -r .state)
		case "$state" in succeeded | failed) break ;; esac
		i=$((i + 1))
		[ $i -lt 1500 ] || fail "operation $op did not end: $BODY"
		sleep 0.2
	done
	[ "$state" = succeeded ] || [ "${3-}" = may-fail ] || fail "operation $op failed: $BODY"
	printf '%s' "$BODY"
}

# Agent VMs of this test's agent (names).
agent_vms() { ctl --json vm list | jq -r '.[].name'; }

# Run a shell command on a guest's serial console (a root shell) and print
# its output; returns the command's exit status. Needs a ready guest.
GSH_N=0
guest_sh() {
	gname=$1 gcmd=$2 gtimeout=${3:-60}
	GSH_N=$((GSH_N + 1))
	gtag="gsh$$x$GSH_N"
	gstart=$(ctl raw "$(jq -cn --arg n "$gname" '{op:"vm.console",args:{name:$n,bytes:1}}')" | jq -r .result.offset)
	# The marker is built by the shell, so the echoed command line never
	# matches it.
	gline="$gcmd; echo \"@@\$?@@\"\"$gtag\"
"
	ctl raw "$(jq -cn --arg n "$gname" --arg d "$gline" '{op:"vm.console.input",args:{name:$n,data:$d}}')" >/dev/null
	gi=0
	while :; do
		gout=$(ctl raw "$(jq -cn --arg n "$gname" --argjson o "$gstart" '{op:"vm.console",args:{name:$n,offset:$o,bytes:1000000}}')" | jq -r .result.output | tr -d '\r')
		if printf '%s' "$gout" | grep -q "@@[0-9]*@@$gtag"; then break; fi
		gi=$((gi + 1))
		[ $gi -lt $((gtimeout * 5)) ] || fail "no answer from $gname to: $gcmd"
		sleep 0.2
	done
	grc=$(printf '%s' "$gout" | sed -n "s/.*@@\([0-9]*\)@@$gtag.*/\1/p" | tail -n 1)
	printf '%s\n' "$gout" | sed -n "2,/@@[0-9]*@@$gtag/p" | grep -v "@@[0-9]*@@$gtag" || true
	return "$grc"
}
