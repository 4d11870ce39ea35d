#!/bin/bash
# demo.sh - the main job (make demo): the host agent and cloudletd on the
# embedded SQLite store, a tenant, a web-hosting VM booted through the
# customer CLI, its console, its page fetched inside the guest and from an
# "outside computer" through the tenant's firewall, and a mirrored volume
# on which a planted EICAR string becomes an alert.
# Interactive: waits for Enter before cleaning up.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/bin
D=${CLOUDLET_DEMO_DIR:-/tmp/cloudlet-demo}
PORT=${CLOUDLET_DEMO_PORT:-8470}
AGENT_PID=
CP_PID=

cleanup() {
	set +e
	[ -n "$CP_PID" ] && kill "$CP_PID"
	if [ -n "$AGENT_PID" ]; then
		for vm in $("$BIN/cloudlet-agent" ctl --socket "$D/agent.sock" --json vm list |
			jq -r '.[].name'); do
			"$BIN/cloudlet-agent" ctl --socket "$D/agent.sock" vm delete "$vm" >/dev/null
		done
		kill "$AGENT_PID"
	fi
	# Tenant namespaces, their dnsmasq, the external network and the
	# demo's outside computer.
	for p in $(pgrep -f "dnsmasq.*$D/"); do kill "$p"; done
	for n in "$D"/agent/net/*/; do
		[ -d "$n" ] || continue
		ip netns del "cln-$(basename "$n")" 2>/dev/null
		ip netns del "clf-$(basename "$n")" 2>/dev/null
	done
	ip netns del clo-demo 2>/dev/null
	ip netns del cloudlet-demo-ext 2>/dev/null
	# The storage server outlives the agent by design (like QEMU).
	[ -f "$D/agent/storage/storaged.pid" ] && kill "$(cat "$D/agent/storage/storaged.pid")"
	# The IDS sensor (it outlives the agent by design, like QEMU).
	for p in $(pgrep -f "cloudlet-ids serve .*$D/"); do kill -9 "$p"; done
	# A template the agent was still building in the background.
	for p in $(pgrep -f "qemu-system.*$D/"); do kill -9 "$p"; done
	wait 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

rm -rf "$D"
mkdir -p "$D"
chmod 711 "$D"

step "host agent (root; a storage pool on two sparse device files) and cloudletd (user cloudlet, SQLite in $D/cp)"
mkdir -m 1777 "$D/shm" # template RAM (default /dev/shm), removed with $D
"$BIN/cloudlet-agent" serve --socket "$D/agent.sock" --state-dir "$D/agent" --template-ram-dir "$D/shm" \
	--storage-device "$D/dev0" --storage-device "$D/dev1" --storage-device-size 4G \
	--storage-signatures "$ROOT/signatures" \
	--external-netns cloudlet-demo-ext --external-bridge cldemo0 >"$D/agent.log" 2>&1 &
AGENT_PID=$!
until [ -S "$D/agent.sock" ]; do sleep 0.1; done
OPERATOR=$("$BIN/cloudletd" init --state-dir "$D/cp")
"$BIN/cloudletd" serve --state-dir "$D/cp" --agent-socket "$D/agent.sock" \
	--listen "127.0.0.1:$PORT" >"$D/cp.log" 2>&1 &
CP_PID=$!
until curl -sf "http://127.0.0.1:$PORT/v1/health" >/dev/null; do
	kill -0 "$CP_PID" 2>/dev/null || { cat "$D/cp.log"; exit 1; }
	sleep 0.1
done
export CLOUDLET_URL=http://127.0.0.1:$PORT
: >"$D/config"
export CLOUDLET_CONFIG=$D/config
echo "cloudletd on $CLOUDLET_URL; operator token printed once by cloudletd init"

step "operator: a tenant and its token"
TENANT=$(CLOUDLET_TOKEN=$OPERATOR "$BIN/cloudlet" --json tenant create demo | jq -r .id)
export CLOUDLET_TOKEN=$(CLOUDLET_TOKEN=$OPERATOR "$BIN/cloudlet" --json tenant token "$TENANT" | jq -r .token)
CLOUDLET_TOKEN=$OPERATOR "$BIN/cloudlet" quota show "$TENANT"

step "customer: the service catalog"
"$BIN/cloudlet" service list

step "customer: cloudlet vm create web1 --service web-hosting"
time "$BIN/cloudlet" vm create web1 --service web-hosting
"$BIN/cloudlet" vm list

step "the VM's console"
"$BIN/cloudlet" vm console web1 | tail -n 12

step "its page, fetched inside the guest through the console"
printf 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc 127.0.0.1 80\n' |
	"$BIN/cloudlet" vm console web1 --attach | tr -d '\r' | sed -n '/<html/,/<\/html>/p' | head -n 20

step "from outside: web1 gets an external address; its firewall lets in port 80 (opened by the service), nothing else"
# The "outside computer": a namespace on the demo's external bridge.
ip netns add clo-demo
ip link add clo-demo0 type veth peer name clo-demo1
ip link set clo-demo0 netns clo-demo
ip link set clo-demo1 netns cloudlet-demo-ext
ip -n cloudlet-demo-ext link set clo-demo1 master cldemo0 up
ip -n clo-demo addr add 198.18.0.254/24 dev clo-demo0
ip -n clo-demo link set clo-demo0 up
"$BIN/cloudlet" firewall rule list
ADDR=$("$BIN/cloudlet" --json address create --vm web1 | jq -r .address)
"$BIN/cloudlet" address list
echo "outside -> http://$ADDR/:"
ip netns exec clo-demo curl -s --max-time 5 "http://$ADDR/" | sed -n '/<h1>/p'
if ip netns exec clo-demo ping -c 1 -W 2 "$ADDR" >/dev/null; then echo "ping: answered"; else echo "ping: dropped by the firewall"; fi
if ip netns exec clo-demo curl -s --max-time 3 -o /dev/null "telnet://$ADDR:22" </dev/null; then
	echo "port 22: open"; else echo "port 22: dropped by the firewall"; fi

step "customer: a mirrored volume for web1 (attached at its next start: cloudlet vm reboot)"
"$BIN/cloudlet" volume create data --size 1
"$BIN/cloudlet" volume attach data web1 | tail -n 1
"$BIN/cloudlet" vm reboot web1 >/dev/null
"$BIN/cloudlet" volume list

step "inside web1: the volume is /dev/vdc; the EICAR test string written to it..."
printf '%s\n' 'cat /sys/block/vdc/serial; echo; printf "%s" "X5O!P%@AP[4\PZX54(P^)7CC)7}\$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!\$H+H*" | dd of=/dev/vdc bs=4096 seek=10 conv=fsync' |
	"$BIN/cloudlet" vm console web1 --attach | tr -d '\r' | grep -E '^v-|records out' || true
sleep 4
step "... is an alert (inline scan of written data); an on-demand scan finds it too"
"$BIN/cloudlet" alert list
"$BIN/cloudlet" volume scan data

step "audit log"
"$BIN/cloudlet" events --limit 5

cat <<MSG

Go on with the CLI in another terminal while this demo runs:
  export CLOUDLET_URL=$CLOUDLET_URL CLOUDLET_TOKEN=$CLOUDLET_TOKEN CLOUDLET_CONFIG=/dev/null
  $BIN/cloudlet vm resize web1 --vcpus 2 --memory 256   # then: cloudlet vm reboot web1
  $BIN/cloudlet vm create db1 --service database
  $BIN/cloudlet volume snapshot data before && $BIN/cloudlet volume list
  $BIN/cloudlet vm console web1 --attach                # Ctrl-] detaches
MSG
if [ -t 0 ]; then
	read -r -p "Press Enter to stop the demo and clean up... " _
fi
