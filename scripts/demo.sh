#!/bin/bash
# demo.sh - the main job: start the host agent, boot a web-hosting VM on a
# bridge in a namespace of its own, show its console and fetch its page.
# Interactive: waits for Enter before cleaning up. Run by `make demo`.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
AGENT=$ROOT/build/bin/cloudlet-agent
D=${CLOUDLET_DEMO_DIR:-/tmp/cloudlet-demo}
NS=cloudlet-demo
SOCK=$D/agent.sock
AGENT_PID=

cleanup() {
	set +e
	if [ -n "$AGENT_PID" ]; then
		"$AGENT" ctl --socket "$SOCK" vm delete demo >/dev/null 2>&1
		kill "$AGENT_PID"
	fi
	ip netns del "$NS" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT

rm -rf "$D"
mkdir -p "$D"
chmod 711 "$D"
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link add br0 type bridge
ip -n "$NS" addr add 192.168.77.1/24 dev br0
ip -n "$NS" link set br0 up

"$AGENT" serve --socket "$SOCK" --state-dir "$D/state" >"$D/agent.log" 2>&1 &
AGENT_PID=$!
until [ -S "$SOCK" ]; do sleep 0.1; done
ctl() { "$AGENT" ctl --socket "$SOCK" "$@"; }

echo "== host"
ctl --json host | jq -c .
echo "== images"
ctl --json image list | jq -r '.[] | "\(.name): \(.description)"'
cat >"$D/user-data" <<'UD'
#!/bin/sh
echo "hello from $(hostname): $(nproc) vCPU, $(awk '/MemTotal/ {print $2}' /proc/meminfo) kB"
UD
echo "== creating VM 'demo' (web-hosting, 1 vCPU, 256 MiB, 2 GiB)"
time ctl vm create demo --image web-hosting --vcpus 1 --memory 256 --disk 2 \
	--user-data "$D/user-data" \
	--nic "netns=$NS,bridge=br0,address=192.168.77.2/24,gateway=192.168.77.1"
time ctl vm wait demo ready --timeout 180
echo "== console"
ctl vm console demo | tail -n 15
echo
echo "== HTTP from the namespace $NS"
for i in $(seq 30); do
	if ip netns exec "$NS" curl -s --max-time 3 http://192.168.77.2/; then break; fi
	sleep 1
done
echo "== vm list"
ctl vm list
if [ -t 0 ]; then
	echo
	echo "Try: $AGENT ctl --socket $SOCK vm console demo --attach   (Ctrl-] detaches)"
	read -r -p "Press Enter to stop the demo and clean up... " _
fi
