#!/bin/bash
# Networks through the API: a tenant gets a default network, a firewall and
# an external address; a web-hosting VM is created on it with its service
# port opened by a visible rule; an external address mapped to it is
# reachable from an "outside computer" namespace on the external network
# exactly while a rule allows it; other tenants' objects are invisible; bad
# rules are refused; deleting everything leaves nothing in the kernel.
. "$(dirname "$0")/lib.sh"
OUT=clo-api-$$
netns_add "$OUT"
cp_start
read -r TA A < <(new_tenant neta)
read -r TB B < <(new_tenant netb)

# Defaults: one network, a firewall in namespace mode with an address.
expect_api 200 GET /v1/networks "$A"
expect_eq "$(jq -r '.[0].name + " " + .[0].cidr' <<<"$BODY")" "default 10.0.0.0/24" "default network"
expect_api 200 GET /v1/firewall "$A"
expect_eq "$(jq -r .mode <<<"$BODY")" namespace "firewall mode"
EXTA=$(jq -r .external_address <<<"$BODY")
expect_match "$EXTA" '^198\.18\.0\.' "tenant external address"
ip netns list | grep -qw "clf-$TA" || fail "no firewall namespace for $TA"

# The outside computer, on the external bridge.
outside_attach "$OUT"

# A second network, and bad networks.
expect_api 201 POST /v1/networks "$A" '{"name":"backend"}'
expect_eq "$(jq -r .cidr <<<"$BODY")" 10.1.0.0/24 "automatic subnet"
NB=$(jq -r .id <<<"$BODY")
expect_api 409 POST /v1/networks "$A" '{"name":"backend"}'
expect_api 409 POST /v1/networks "$A" '{"name":"clash","cidr":"10.0.0.0/16"}'
expect_api 400 POST /v1/networks "$A" '{"name":"bad","cidr":"10.0.0.1/24"}'
expect_api 400 POST /v1/networks "$A" '{"name":"bad","cidr":"10.0.0.0/8"}'
expect_api 400 POST /v1/networks "$A" '{"name":"x y"}'
expect_api 404 GET "/v1/networks/$NB" "$B"

# A web VM on both networks: port 80 is opened by its service.
expect_api 202 POST /v1/vms "$A" '{"name":"web","service":"web-hosting","memory_mib":160,"networks":["default","backend"]}'
VM=$(jq -r .vm_id <<<"$BODY")
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
expect_api 200 GET "/v1/vms/$VM" "$A"
expect_eq "$(jq -r '[.nics[].address] | join(" ")' <<<"$BODY")" "10.0.0.10/24 10.1.0.10/24" "NIC addresses"
expect_api 200 GET /v1/firewall/rules "$A"
expect_eq "$(jq -r '.[] | select(.target_vm == "'"$VM"'") | .origin + " " + .protocol + " " + (.port_min|tostring)' <<<"$BODY")" \
	"service:web-hosting tcp 80" "service rule"
SVC_RULE=$(jq -r '.[0].id' <<<"$BODY")
expect_api 400 POST /v1/vms "$A" '{"name":"web2","service":"web-hosting","networks":["nope"]}'
expect_api 400 POST /v1/vms "$B" '{"name":"w","service":"web-hosting","networks":["default","default"]}'

# An external address mapped to the VM.
expect_api 201 POST /v1/addresses "$A" "{\"vm\":\"$VM\"}"
PUB=$(jq -r .address <<<"$BODY")
ADDR=$(jq -r .id <<<"$BODY")
expect_api 404 PUT "/v1/addresses/$ADDR" "$B" '{"vm":null}'
expect_api 404 POST /v1/addresses "$B" "{\"vm\":\"$VM\"}"
reach() { ip netns exec "$OUT" curl -s -o /dev/null --max-time 3 "http://$1/"; }
i=0
until reach "$PUB"; do
	i=$((i + 1)); [ $i -lt 60 ] || fail "web VM not reachable at $PUB"; sleep 1
done
log "web VM reachable from outside at $PUB"
reach "$EXTA" && fail "the tenant's own address has no forward yet but answered"
ip netns exec "$OUT" ping -c 1 -W 2 "$PUB" >/dev/null && fail "ping allowed without a rule"

# Removing the service rule closes the port; a user rule opens it again.
expect_api 204 DELETE "/v1/firewall/rules/$SVC_RULE" "$A"
reach "$PUB" && fail "port 80 still open after its rule was deleted"
expect_api 201 POST /v1/firewall/rules "$A" "{\"direction\":\"ingress\",\"protocol\":\"tcp\",\"port\":80,\"source\":\"198.18.0.0/24\",\"target_vm\":\"$VM\"}"
reach "$PUB" || fail "a user rule did not open port 80"
expect_api 201 POST /v1/firewall/rules "$A" '{"protocol":"icmp","source":"198.18.0.254/32","priority":5}'
ip netns exec "$OUT" ping -c 1 -W 2 "$PUB" >/dev/null || fail "icmp rule for all networks did not apply"

# A port forward on the tenant's own address.
expect_api 201 POST /v1/forwards "$A" "{\"address\":\"$EXTA\",\"protocol\":\"tcp\",\"port\":8080,\"vm\":\"$VM\",\"to_port\":80}"
FWD=$(jq -r .id <<<"$BODY")
reach "$EXTA:8080" || fail "port forward $EXTA:8080 -> 80 does not answer"
expect_api 204 DELETE "/v1/forwards/$FWD" "$A"
reach "$EXTA:8080" && fail "port forward still answers after delete"

# Switching the firewall to an appliance VM and back keeps the rules.
expect_api 200 PUT /v1/firewall "$A" '{"mode":"vm"}'
expect_eq "$(jq -r .mode <<<"$BODY")" vm "firewall mode after the switch"
ip netns list | grep -qw "clf-$TA" && fail "firewall namespace still there in mode vm"
reach "$PUB" || fail "port 80 not open through the firewall VM"
ip netns exec "$OUT" ping -c 1 -W 2 "$PUB" >/dev/null || fail "icmp rule not kept in mode vm"
expect_api 400 PUT /v1/firewall "$A" '{"mode":"bridge"}'
expect_api 200 PUT /v1/firewall "$A" '{"mode":"namespace"}'
reach "$PUB" || fail "port 80 not open after switching back"
log "firewall mode vm and back: rules kept"

# Bad rules: clear errors, nothing stored.
for bad in '{"protocol":"sctp"}' '{"protocol":"tcp","port":0}' '{"protocol":"tcp","port":65536}' \
	'{"protocol":"tcp","port":80,"source":"10.0.0.1/24"}' '{"protocol":"tcp","port":80,"source":"nonsense"}' \
	'{"protocol":"icmp","port":7}' '{"protocol":"tcp","port_min":90,"port_max":80}' \
	'{"protocol":"tcp","direction":"up"}' '{"protocol":"tcp","priority":0}' '{"protocol":"tcp","colour":"red"}' \
	'[1]' '{"protocol":"tcp","target_vm":5}'; do
	expect_api 400 POST /v1/firewall/rules "$A" "$bad"
	expect_match "$(jq -r .error.message <<<"$BODY")" '.' "error message for $bad"
done
expect_api 404 POST /v1/firewall/rules "$B" "{\"protocol\":\"tcp\",\"port\":80,\"target_vm\":\"$VM\"}"
expect_api 404 POST /v1/firewall/rules "$B" "{\"protocol\":\"tcp\",\"port\":80,\"target_network\":\"$NB\"}"
expect_api 404 DELETE "/v1/firewall/rules/$SVC_RULE" "$B"
expect_api 200 GET /v1/firewall/rules "$B"
expect_eq "$(jq length <<<"$BODY")" 0 "tenant B's rules"
expect_api 200 GET /v1/firewall/rules "$A"
expect_eq "$(jq length <<<"$BODY")" 2 "tenant A's rules after the refusals"

# A network with a VM on it stays; the VM goes, then everything else.
expect_api 409 DELETE "/v1/networks/$NB" "$A"
expect_api 409 DELETE "/v1/tenants/$TA" "$OPERATOR"
expect_api 202 DELETE "/v1/vms/$VM" "$A"
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
expect_api 204 DELETE "/v1/networks/$NB" "$A"
reach "$PUB" && fail "address still answers after its VM was deleted"
expect_api 204 DELETE "/v1/tenants/$TA" "$OPERATOR"
expect_api 204 DELETE "/v1/tenants/$TB" "$OPERATOR"
for ns in "cln-$TA" "clf-$TA" "cln-$TB" "clf-$TB"; do
	ip netns list | grep -qw "$ns" && fail "namespace $ns left after the tenant was deleted"
done
expect_eq "$(ip -n "clx-$$" -o link show | grep -c 'xf-' || true)" 0 "firewall ports left on the external bridge"
pgrep -f "dnsmasq.*$T/" >/dev/null && fail "dnsmasq left running"
log "tenants deleted, nothing left in the kernel"
