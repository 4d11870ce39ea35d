#!/bin/bash
# demo-hosts.sh - several hosts behind one control plane on one machine
# (make demo-hosts; docs/hosts.md): a PostgreSQL 15 started here, cloudletd
# on it serving the API over HTTPS, three simulated hosts h1..h3 that join
# with one-time tokens and are reached over mutual TLS, each its own agent
# with its own state, name prefix, external network and underlay address on
# a "datacenter" bridge in a namespace made here. Two tenants get VMs that
# land on different hosts, each reached through its own firewall from an
# "outside computer"; a VM moves live to another host, whose agent is then
# killed (the host down, its VMs unknown, nothing lost) and started again.
# Interactive: waits for Enter before cleaning up (CLOUDLET_DEMO_WAIT=0:
# not). Everything it made is removed at the end, also on failure.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/bin
GUEST=$ROOT/build/guest
D=${CLOUDLET_DEMO_DIR:-/tmp/cloudlet-demo-hosts}
PORT=${CLOUDLET_DEMO_PORT:-8480}
PG_BIN=/usr/lib/postgresql/15/bin
declare -A APID
CP_PID=
PG_UP=

cleanup() {
	set +e
	[ -n "$CP_PID" ] && kill "$CP_PID"
	for n in "${!APID[@]}"; do kill "${APID[$n]}"; done
	for n in "${!APID[@]}"; do wait "${APID[$n]}" 2>/dev/null; done
	# What outlives an agent by design (QEMU, dnsmasq, the IDS sensor).
	for p in $(pgrep -f "qemu-system.*$D/"); do kill -9 "$p"; done
	for p in $(pgrep -f "dnsmasq.*$D/"); do kill "$p"; done
	for p in $(pgrep -f "cloudlet-ids serve .*$D/"); do kill -9 "$p"; done
	for n in 1 2 3; do
		for d in "$D"/h$n/state/net/*/; do
			[ -d "$d" ] || continue
			ip netns del "d${n}n-$(basename "$d")" 2>/dev/null
			ip netns del "d${n}f-$(basename "$d")" 2>/dev/null
		done
		ip netns del "cldh-u$n" 2>/dev/null
		ip netns del "cldh-x$n" 2>/dev/null
		ip netns del "cldh-o$n" 2>/dev/null
	done
	ip netns del cldh-dc 2>/dev/null
	[ -n "$PG_UP" ] && runuser -u cloudlet-pg -- "$PG_BIN/pg_ctl" -D "$D/pg/data" -m fast -w stop >/dev/null
	wait 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
agent() { # N: host hN's agent, serving over mutual TLS
	"$BIN/cloudlet-agent" serve --socket "$D/h$1/agent.sock" --state-dir "$D/h$1/state" \
		--guest-dir "$GUEST" --template-ram-dir "$D/h$1/shm" --name-prefix "d$1" \
		--external-netns "cldh-x$1" --external-bridge "cldhx$1" \
		--underlay-netns "cldh-u$1" --underlay-address "192.168.252.$1" \
		--listen "127.0.0.1:$((PORT + $1))" >>"$D/h$1/agent.log" 2>&1 &
	APID[$1]=$!
}
up() { # NAME: wait until host NAME is up
	until [ "$(cli --json host show "$1" | jq -r .state)" = up ]; do sleep 0.3; done
}

[ "$(id -u)" = 0 ] || { echo "run as root (namespaces, bridges, VMs)" >&2; exit 1; }
rm -rf "$D"
mkdir -p "$D"
chmod 711 "$D"

step "PostgreSQL 15 (as cloudlet-pg, a unix socket in $D/pg only)"
mkdir -p "$D/pg"
chown cloudlet-pg "$D/pg"
chmod 755 "$D/pg"
runuser -u cloudlet-pg -- "$PG_BIN/initdb" -D "$D/pg/data" -U postgres -A trust -E UTF8 >/dev/null
runuser -u cloudlet-pg -- "$PG_BIN/pg_ctl" -D "$D/pg/data" -l "$D/pg/server.log" -w \
	-o "-c listen_addresses='' -k $D/pg" start >/dev/null
PG_UP=1
runuser -u cloudlet-pg -- "$PG_BIN/createdb" -h "$D/pg" -U postgres cloudlet
DB="postgresql:///cloudlet?host=$D/pg&user=postgres"

step "cloudletd on PostgreSQL, the API over HTTPS with its own certificate"
OPERATOR=$("$BIN/cloudletd" init --state-dir "$D/cp" --store "$DB" 2>/dev/null)
"$BIN/cloudletd" serve --state-dir "$D/cp" --store "$DB" --no-local-host --tls \
	--listen "127.0.0.1:$PORT" >"$D/cp.log" 2>&1 &
CP_PID=$!
export CLOUDLET_URL=https://127.0.0.1:$PORT CLOUDLET_CONFIG=/dev/null
CLOUDLET_PIN=$("$BIN/cloudletd" pin --state-dir "$D/cp")
export CLOUDLET_PIN
until curl -skf "$CLOUDLET_URL/v1/health" >/dev/null; do
	kill -0 "$CP_PID" 2>/dev/null || { cat "$D/cp.log"; exit 1; }
	sleep 0.1
done
cli() { CLOUDLET_TOKEN=$OPERATOR "$BIN/cloudlet" "$@"; }
echo "API $CLOUDLET_URL, key pin $CLOUDLET_PIN"

step "the datacenter network: a bridge (MTU 1550, room for VXLAN) and an underlay address per host"
ip netns add cldh-dc
ip -n cldh-dc link add dcbr type bridge
ip -n cldh-dc link set dcbr mtu 1550 up
for n in 1 2 3; do
	ip netns add "cldh-u$n"
	ip link add "cldh-u$n" mtu 1550 type veth peer name "cldh-d$n" mtu 1550
	ip link set "cldh-u$n" netns "cldh-u$n"
	ip link set "cldh-d$n" netns cldh-dc
	ip -n cldh-dc link set "cldh-d$n" master dcbr up
	ip -n "cldh-u$n" addr add "192.168.252.$n/24" dev "cldh-u$n"
	ip -n "cldh-u$n" link set "cldh-u$n" up
	ip -n "cldh-u$n" link set lo up
done

step "h1..h3 join with one-time tokens, then serve over mutual TLS"
for n in 1 2 3; do
	mkdir -p "$D/h$n/shm"
	chmod 711 "$D/h$n"
	chmod 1777 "$D/h$n/shm"
	tok=$(cli host token create "h$n")
	"$BIN/cloudlet-agent" join - --listen "127.0.0.1:$((PORT + n))" --underlay-address "192.168.252.$n" \
		--state-dir "$D/h$n/state" <<<"$tok" | head -n 1
	agent "$n"
done
for n in 1 2 3; do up "h$n"; done
cli host list

step "two tenants; their VMs are spread over the hosts"
tenant() { # NAME: its token
	local id
	id=$(cli --json tenant create "$1" | jq -r .id)
	cli --json tenant token "$id" | jq -r .token
}
TA=$(tenant acme)
TB=$(tenant globex)
ta() { CLOUDLET_TOKEN=$TA "$BIN/cloudlet" "$@"; }
tb() { CLOUDLET_TOKEN=$TB "$BIN/cloudlet" "$@"; }
ta vm create web1 --service web-hosting --memory 160 >/dev/null
tb vm create shop1 --service web-hosting --memory 160 >/dev/null
ta vm create web2 --service web-hosting --memory 160 >/dev/null
tb vm create shop2 --service web-hosting --memory 160 >/dev/null
cli vm list

step "each tenant's web VM from outside, through its own firewall (on its home host)"
reach() { # TENANT-CLI VM
	local vm=$2 addr host n
	addr=$($1 --json address create --vm "$vm" | jq -r .address)
	host=$(cli --json vm list | jq -r --arg v "$vm" '.[] | select(.name == $v) | .host_id')
	n=$(cli --json host show "$host" | jq -r .name | tr -dc 0-9)
	# The outside computer on that host's external network.
	if ! ip netns list | grep -qw "cldh-o$n"; then
		ip netns add "cldh-o$n"
		ip link add "cldh-o$n" type veth peer name "cldh-p$n"
		ip link set "cldh-o$n" netns "cldh-o$n"
		ip link set "cldh-p$n" netns "cldh-x$n"
		ip -n "cldh-x$n" link set "cldh-p$n" master "cldhx$n" up
		ip -n "cldh-o$n" addr add 198.18.0.254/24 dev "cldh-o$n"
		ip -n "cldh-o$n" link set "cldh-o$n" up
	fi
	printf '%s at %s (host h%s): ' "$vm" "$addr" "$n"
	ip netns exec "cldh-o$n" curl -s --max-time 10 "http://$addr/" | sed -n 's/.*<h1>\(.*\)<\/h1>.*/\1/p'
}
reach ta web1
reach tb shop1

step "web2 moves live to another host (the operator)"
time cli vm migrate web2
cli vm list

# The host web2 runs on now.
V=$(cli --json host show "$(cli --json vm list | jq -r '.[] | select(.name == "web2") | .host_id')" |
	jq -r .name | tr -dc 0-9)
step "h$V's agent is killed: h$V goes down, its VMs unknown, nothing is deleted"
kill -9 "${APID[$V]}"
wait "${APID[$V]}" 2>/dev/null || true
until [ "$(cli --json host show "h$V" | jq -r .state)" = down ]; do sleep 0.5; done
cli host list
cli vm list
step "h$V's agent is back: up, its VMs running again (the same QEMU processes)"
agent "$V"
up "h$V"
until [ "$(cli --json vm list | jq -r '[.[] | .state] | unique | join(",")')" = running ]; do
	sleep 0.5
done
cli vm list

cat <<MSG

Go on in another terminal while this demo runs:
  export CLOUDLET_URL=$CLOUDLET_URL CLOUDLET_PIN='$CLOUDLET_PIN' CLOUDLET_CONFIG=/dev/null
  CLOUDLET_TOKEN=$OPERATOR $BIN/cloudlet host list
  CLOUDLET_TOKEN=$OPERATOR $BIN/cloudlet host evacuate h2
MSG
if [ -t 0 ] && [ "${CLOUDLET_DEMO_WAIT:-1}" != 0 ]; then
	read -r -p "Press Enter to stop the demo and clean up... " _
fi
