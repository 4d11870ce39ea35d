#!/bin/sh
# The web-hosting image serves HTTP, reached from the host side through a
# tap on a bridge inside a network namespace this test made (never the
# machine's uplink).
. "$(dirname "$0")/lib.sh"
ns=clt-web-$$
netns_add "$ns"
ip -n "$ns" link add br0 type bridge
ip -n "$ns" addr add 10.231.0.1/24 dev br0
ip -n "$ns" link set br0 up
ip -n "$ns" link set lo up
agent_start

ctl vm create www --image web-hosting --vcpus 1 --memory 192 --disk 1 \
	--nic "netns=$ns,bridge=br0,address=10.231.0.2/24,gateway=10.231.0.1" >/dev/null
ctl vm wait www ready --timeout 180 >/dev/null || fail "www not ready"
mac=$(vm_field www '.nics[0].mac')
# The tap is in the test's namespace, on its bridge, not in the host's.
tap=$(ip -n "$ns" -o link show master br0 | awk -F': ' '{print $2}' | cut -d@ -f1 | head -n1)
[ -n "$tap" ] || fail "no tap on br0 in $ns"
ip link show "$tap" >/dev/null 2>&1 && fail "tap $tap leaked into the host namespace"

page=
i=0
while [ $i -lt 60 ]; do
	page=$(ip netns exec "$ns" curl -s --max-time 5 http://10.231.0.2/ || true)
	case "$page" in *"cloudlet web-hosting"*) break ;; esac
	i=$((i + 1))
	sleep 1
done
expect_match "$page" "cloudlet web-hosting" "HTTP page"
expect_match "$page" "www" "page names the host"
ip -n "$ns" neigh show 10.231.0.2 | grep -qi "$mac" || fail "guest does not use its MAC $mac"
log "HTTP from $ns: $(printf '%s' "$page" | head -c 80)"

ctl vm delete www >/dev/null
sleep 0.5
[ -z "$(ip -n "$ns" -o link show master br0)" ] || fail "tap left behind after delete"
