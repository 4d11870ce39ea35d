#!/bin/bash
# Ready means the service answers: for every service of the catalog, a VM
# created through the CLI (which returns when the VM is ready) answers its
# service's protocol at once, at the first attempt and without retries,
# both from the tenant's network and from an "outside computer" on the
# external network through an external address and the service's firewall
# rule. Done twice: the first creates boot cold (the agent builds a
# template for each fit in the background), the second, once the
# templates exist, are clones (cloudlet-identity finishes their boot).
# All VMs of a round are created at once.
. "$(dirname "$0")/lib.sh"
AUTO_TEMPLATES=on
OUT=clo-rdy-$$
netns_add "$OUT"
# All twelve VMs of a round at once: one operation worker per service.
cp_start --workers 12 --default-quota 64,32768,2000,40
read -r TA A < <(new_tenant ready)
export CLOUDLET_URL=$URL CLOUDLET_TOKEN=$A
cli() { "$CLI_BIN" "$@"; }
TNET=cln-$TA # the tenant's network namespace: its bridges carry .2 of each network
ip netns list | grep -qw "$TNET" || fail "no tenant network namespace $TNET"

# The outside computer, on the external bridge.
outside_attach "$OUT"

SERVICES=$(jq -r '.services[].id' "$ROOT/catalog/services.json")
[ "$(echo $SERVICES | wc -w)" -eq 12 ] || fail "expected 12 services in the catalog: $SERVICES"
R=$T/results
mkdir -p "$R"

# probe NETNS SERVICE HOST PORT: one protocol exchange with a real client,
# once. Prints what it saw; exit status 0 when the service answered.
probe() {
	local ns=$1 svc=$2 host=$3 port=$4 out code
	case $svc in
	database)
		out=$(ip netns exec "$ns" redis-cli -h "$host" -p "$port" PING 2>&1)
		[ "$out" = PONG ] || { echo "redis-cli PING: $out"; return 1; }
		echo "redis-cli PING: PONG" ;;
	messaging)
		# QoS 1: CONNECT/CONNACK, then PUBLISH/PUBACK
		out=$(ip netns exec "$ns" mosquitto_pub -h "$host" -p "$port" -q 1 -t cloudlet/ready \
			-m "$svc" 2>&1) || { echo "mosquitto_pub: $out"; return 1; }
		echo "mosquitto_pub QoS 1: acknowledged" ;;
	file-hosting)
		out=$(ip netns exec "$ns" rsync --contimeout=10 --timeout=20 "rsync://$host:$port/" 2>&1) ||
			{ echo "rsync module list: $out"; return 1; }
		case $out in *files*archive* | *archive*files*) ;; *)
			echo "rsync module list without files and archive: $out"; return 1 ;; esac
		echo "rsync module list: files, archive" ;;
	*)
		# Any HTTP status line is an answer (some services have no page
		# at /); a refused or reset connection is code 000.
		code=$(ip netns exec "$ns" curl -s -o /dev/null --max-time 20 -w '%{http_code}' \
			"http://$host:$port/")
		case $code in [1-5][0-9][0-9]) ;; *) echo "curl GET /: code '$code'"; return 1 ;; esac
		echo "curl GET /: HTTP $code" ;;
	esac
}

svc_port() { jq -r --arg s "$1" '.services[] | select(.id == $s) | .ports[0]' "$ROOT/catalog/services.json"; }

# create_and_probe NAME SERVICE: create through the CLI (returns when ready),
# then at once the first exchange from the tenant's network. Results in $R.
create_and_probe() {
	local name=$1 svc=$2 p t0 t1 addr
	p=$(svc_port "$svc")
	t0=$(date +%s%N)
	if ! cli --json vm create "$name" --service "$svc" >"$R/$name.json" 2>"$R/$name.err"; then
		echo "create failed: $(tail -n 3 "$R/$name.err" | tr '\n' ' ')" >"$R/$name.fail"
		return
	fi
	t1=$(date +%s%N)
	addr=$(jq -r '.nics[0].address | split("/")[0]' "$R/$name.json")
	if probe "$TNET" "$svc" "$addr" "${p%/*}" >"$R/$name.tenant" 2>&1; then
		echo $(((t1 - t0) / 1000000)) >"$R/$name.create_ms"
	else
		echo "from the tenant network, first try after ready: $(cat "$R/$name.tenant")" >"$R/$name.fail"
	fi
}

# round SUFFIX PROVISION: all services at once, then the outside checks.
round() {
	local suf=$1 want=$2 svc name pids= p pub rules waited prov
	for svc in $SERVICES; do
		create_and_probe "$svc-$suf" "$svc" &
		pids="$pids $!"
	done
	for p in $pids; do wait "$p"; done
	for svc in $SERVICES; do
		name=$svc-$suf
		[ ! -f "$R/$name.fail" ] || fail "$name ($want): $(cat "$R/$name.fail")"
		prov=$(cli --json vm show "$name" | jq -r .provision)
		expect_eq "$prov" "$want" "$name provision"
		expect_eq "$(jq -r .ready "$R/$name.json")" true "$name ready"
	done
	# From outside: an external address 1:1 to each VM; the service's port
	# is open by the rule its service added (origin service:<id>).
	rules=$(cli --json firewall rule list)
	for svc in $SERVICES; do
		name=$svc-$suf
		p=$(svc_port "$svc")
		vm=$(jq -r .id "$R/$name.json")
		expect_eq "$(jq -r --arg v "$vm" '.[] | select(.target_vm == $v) | .origin + " " + (.port_min|tostring) + "/" + .protocol' <<<"$rules")" \
			"service:$svc $p" "$name's firewall rule"
		pub=$(cli --json address create --vm "$name" | jq -r .address)
		expect_match "$pub" '^198\.18\.0\.' "$name's external address"
		echo "$pub" >"$R/$name.pub"
		probe "$OUT" "$svc" "$pub" "${p%/*}" >"$R/$name.outside" 2>&1 ||
			fail "$name ($want) from outside at $pub, first try: $(cat "$R/$name.outside");" \
				"its NIC: $(jq -r '.nics[0].address' "$R/$name.json") $(ctl --json vm show "$vm" | jq -r '.nics[0].mac');" \
				"the firewall's neighbours: $(ip -n "clf-$TA" neigh | tr '\n' ';')"
		waited=$(cli vm console "$name" --bytes 1000000 | tr -d '\r' |
			sed -n 's/^cloudlet: service-up: .* after \([0-9]*\) ms.*/\1/p' | tail -n 1)
		[ -n "$waited" ] || fail "$name: no 'cloudlet: service-up' line on its console"
		log "$name ($prov): ready after $(cat "$R/$name.create_ms") ms (guest waited ${waited} ms for $p);" \
			"tenant network: $(cat "$R/$name.tenant"); outside $pub: $(cat "$R/$name.outside")"
	done
}

round c cold

# The agent built a template per fit in the background: wait for all twelve
# (their build is work in progress, not the thing measured).
i=0
while :; do
	have=$(ctl --json template list | jq -r '.[].identity' | sed -n 's/^image=//p' | sort -u | tr '\n' ' ')
	missing=
	for svc in $SERVICES; do
		case " $have " in *" $svc "*) ;; *) missing="$missing $svc" ;; esac
	done
	[ -n "$missing" ] || break
	i=$((i + 1))
	[ $i -lt 1200 ] || fail "templates never built for:$missing"
	sleep 0.5
done
log "templates built for all twelve services"

# The cold VMs and their addresses go (CPU for the clones, addresses for
# the tenant's address quota); the templates stay.
pids=
for svc in $SERVICES; do
	cli address delete "$(cat "$R/$svc-c.pub")" >/dev/null || fail "deleting $svc-c's address failed"
	cli vm delete "$svc-c" >/dev/null 2>&1 &
	pids="$pids $!"
done
for p in $pids; do wait "$p" || fail "deleting a cold VM failed"; done

round k clone
