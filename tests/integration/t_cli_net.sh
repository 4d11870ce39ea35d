#!/bin/bash
# Networks, the firewall, external addresses and port forwards through the
# `cloudlet` CLI, as a customer would use them: a second network, rules
# (good ones listed for people and for scripts, bad ones refused with the
# right exit status and message), an address, a web VM on two networks
# whose NICs `vm show` lists, the address attached to it, a forward to it,
# and everything removed again.
. "$(dirname "$0")/lib.sh"
cp_start
: >"$T/config"
export CLOUDLET_URL=$URL CLOUDLET_CONFIG=$T/config
read -r TID TOKEN < <(new_tenant netcli)
cl() { CLOUDLET_TOKEN=$TOKEN "$CLI_BIN" "$@"; }

# refused STATUS PATTERN ARGS...: the CLI must exit with STATUS and say PATTERN.
refused() {
	want=$1 pattern=$2
	shift 2
	if out=$(cl "$@" 2>&1); then rc=0; else rc=$?; fi
	[ "$rc" = "$want" ] || fail "cloudlet $*: exit $rc, expected $want: $out"
	expect_match "$out" "$pattern" "cloudlet $*"
}

# ---- networks
out=$(cl net list)
expect_match "$out" '^default  .*10\.0\.0\.0/24' "net list"
out=$(cl net create backend --cidr 10.9.0.0/24)
expect_match "$out" '^cidr: *10\.9\.0\.0/24$' "net create"
NB=$(cl --json net show backend | jq -r .id)
expect_eq "$(cl --json net show "$NB" | jq -r .name)" backend "net show by id"
expect_eq "$(cl --json net list | jq -r '[.[].name] | join(" ")')" "default backend" "networks"
refused 1 'conflict' net create backend
refused 1 'bad_request: cidr must be' net create bad --cidr 10.0.0.1/24
refused 1 'conflict' net delete default
refused 1 'not_found' net show nope
refused 2 'missing argument' net create
refused 2 "unknown option '--cird'" net create x --cird 10.1.0.0/24

# ---- the firewall
out=$(cl firewall show)
expect_match "$out" '^mode: *namespace$' "firewall mode"
EXT=$(cl --json firewall show | jq -r .external_address)
expect_match "$EXT" '^198\.18\.0\.' "external address"
expect_eq "$(cl --json firewall mode vm | jq -r .mode)" vm "mode vm"
refused 1 'bad_request: mode must be' firewall mode bogus
expect_match "$(cl firewall mode namespace)" '^mode: *namespace$' "mode back"
refused 2 "'firewall rule' needs a subcommand" firewall rule

# ---- rules: good ones
R1=$(cl --json firewall rule add --proto tcp --port 443 --source 203.0.113.0/24 \
	--network backend --priority 10 | jq -r .id)
R2=$(cl --json firewall rule add --egress --deny --proto udp --ports 5000-5010 \
	--destination 192.0.2.0/24 | jq -r .id)
rules=$(cl --json firewall rule list)
expect_eq "$(jq -r --arg id "$R1" '.[] | select(.id == $id) |
	[.direction, .action, .protocol, .port_min, .port_max, .remote, .target_network, .priority] |
	map(tostring) | join(" ")' <<<"$rules")" \
	"ingress allow tcp 443 443 203.0.113.0/24 $NB 10" "rule 1"
expect_eq "$(jq -r --arg id "$R2" '.[] | select(.id == $id) |
	[.direction, .action, .protocol, .port_min, .port_max, .remote] |
	map(tostring) | join(" ")' <<<"$rules")" \
	"egress deny udp 5000 5010 192.0.2.0/24" "rule 2"
out=$(cl firewall rule list)
expect_match "$out" "^$R1  *10  *ingress  *allow  *tcp  *443  *203\.0\.113\.0/24  *net:backend" "rule list (1)"
expect_match "$out" "^$R2 .* egress  *deny  *udp  *5000-5010  *192\.0\.2\.0/24  *all" "rule list (2)"
n_rules=$(jq length <<<"$rules")

# ---- rules: bad ones. The client refuses what the options cannot mean
# (exit 2, with the usage line); the server what it cannot accept (exit 1).
refused 2 '--proto is required' firewall rule add --port 80
refused 2 '--ports must be A-B' firewall rule add --proto tcp --ports 9-x
refused 2 'usage: cloudlet firewall rule add' firewall rule add --proto tcp --ports 90-80
refused 2 'not both' firewall rule add --proto tcp --port 80 --ports 80-81
refused 2 '--egress rules match --destination' firewall rule add --egress --proto tcp --source 10.0.0.0/8
refused 2 'must be a non-negative integer' firewall rule add --proto tcp --port -1
refused 2 "unexpected argument" firewall rule add tcp
refused 1 'bad_request: ports need protocol tcp or udp' firewall rule add --proto icmp --port 80
refused 1 'bad_request: protocol must be' firewall rule add --proto sctp
refused 1 'bad_request: priority must be' firewall rule add --proto tcp --priority 0
refused 1 'bad_request: port must be' firewall rule add --proto tcp --port 70000
refused 1 'bad_request: source must be a network in CIDR form' firewall rule add --proto tcp --source 10.0.0.1/24
refused 1 "not_found: no VM with the id or name 'nope'" firewall rule add --proto tcp --vm nope
refused 1 'not_found: no such network' firewall rule add --proto tcp --network nope
refused 1 'not_found' firewall rule delete r-nope
expect_eq "$(cl --json firewall rule list | jq length)" "$n_rules" "rules after the bad ones"
expect_eq "$(cl firewall rule delete "$R2")" "deleted rule $R2" "rule delete"
cl --json firewall rule list | jq -e --arg id "$R2" 'all(.[]; .id != $id)' >/dev/null ||
	fail "rule $R2 still listed"

# ---- an address, and a VM on two networks
ADDR=$(cl --json address create | jq -r .address)
expect_match "$ADDR" '^198\.18\.0\.' "new address"
expect_eq "$(cl --json address list | jq length)" 2 "addresses"
out=$(cl address list)
expect_match "$out" "^$EXT .* yes  *-" "the tenant's address in the list"
expect_match "$out" "^$ADDR .* no  *-" "the new address in the list"

cl vm create web --service web-hosting --memory 160 --network default --network backend \
	>"$T/created" 2>"$T/progress" || fail "vm create: $(cat "$T/progress")"
expect_match "$(cat "$T/created")" '^NIC  *NETWORK  *ADDRESS' "NICs after vm create"
vm=$(cl --json vm show web)
VM=$(jq -r .id <<<"$vm")
expect_eq "$(jq -r .state <<<"$vm")" running "state"
expect_eq "$(jq -r '[.nics[] | "\(.idx) \(.network) \(.address)"] | join(", ")' <<<"$vm")" \
	"0 default 10.0.0.10/24, 1 backend 10.9.0.10/24" "NICs"
out=$(cl vm show web)
expect_match "$out" '^0  *default  *10\.0\.0\.10/24  *10\.0\.0\.0/24' "vm show NIC 0"
expect_match "$out" "^1  *backend  *10\.9\.0\.10/24  *10\.9\.0\.0/24  *$NB" "vm show NIC 1"
refused 1 "bad_request: no network 'nope'" vm create web2 --service web-hosting --network nope
refused 1 'bad_request: networks\[1\] is listed twice' \
	vm create web2 --service web-hosting --network default --network default
refused 2 '--network needs a value' vm create web2 --service web-hosting --network
refused 1 'conflict: the network still has VMs' net delete backend

# A rule for the VM, by name.
R3=$(cl --json firewall rule add --proto tcp --ports 8000-8080 --vm web | jq -r .id)
expect_eq "$(cl --json firewall rule list | jq -r --arg id "$R3" '.[] | select(.id == $id) | .target_vm')" \
	"$VM" "rule target by name"
expect_match "$(cl firewall rule list)" "^$R3 .* tcp  *8000-8080  *0\.0\.0\.0/0  *vm:web" "rule list (vm)"

# ---- the address attached to the VM
out=$(cl address attach "$ADDR" web)
expect_match "$out" "^vm_id: *$VM$" "address attach"
expect_match "$(cl address list)" "^$ADDR .* no  *web" "address list with its VM"
refused 1 'conflict: that VM already has an external address' address create --vm web
refused 1 'conflict' address attach "$EXT" web
refused 1 'not_found' address attach 198.18.0.250 web
refused 1 "not_found: no VM with the id or name 'nope'" address attach "$ADDR" nope
refused 2 'missing argument' address attach "$ADDR"

# ---- a forward on the tenant's own address
F1=$(cl --json forward add "$EXT" --proto tcp --port 8080 --vm web --to-port 80 | jq -r .id)
fwd=$(cl --json forward list)
expect_eq "$(jq -r '.[0] | [.address, .protocol, .port, .vm_id, .to_port] | map(tostring) | join(" ")' <<<"$fwd")" \
	"$EXT tcp 8080 $VM 80" "forward"
expect_match "$(cl forward list)" "^$F1  *$EXT  *tcp  *8080  *web  *80" "forward list"
refused 2 '--vm is required' forward add "$EXT" --proto tcp --port 8081
refused 1 'bad_request: a forward needs' forward add "$EXT" --proto icmp --port 8081 --vm web
refused 1 'not_found' forward add 198.18.0.250 --proto tcp --port 8081 --vm web
refused 1 'not_found' forward delete f-nope

# ---- everything removed again
expect_eq "$(cl forward delete "$F1")" "deleted forward $F1" "forward delete"
expect_match "$(cl address detach "$ADDR")" '^address: ' "address detach"
expect_eq "$(cl --json address list | jq -r --arg a "$ADDR" '.[] | select(.address == $a) | .vm_id')" \
	null "detached"
expect_eq "$(cl address delete "$ADDR")" "deleted address $ADDR" "address delete"
refused 1 'conflict' address delete "$EXT"
cl firewall rule delete "$R1" >/dev/null
cl firewall rule delete "$R3" >/dev/null
cl vm delete web >/dev/null
expect_eq "$(cl net delete backend)" "deleted network backend" "net delete"
expect_eq "$(cl --json net list | jq -r '[.[].name] | join(" ")')" default "networks left"
expect_eq "$(cl --json address list | jq -r '[.[].address] | join(" ")')" "$EXT" "addresses left"
expect_eq "$(cl --json forward list | jq length)" 0 "forwards left"
expect_eq "$(cl --json firewall rule list | jq '[.[] | select(.origin == "user")] | length')" 0 \
	"user rules left"
expect_eq "$(agent_vms | wc -l)" 0 "VMs left on the host"
log "networks, firewall, addresses and forwards through the CLI done"
