#!/bin/bash
# SSH keys through the API (/v1/keys, docs/guest.md): a tenant registers
# its public key, creates a web VM with it, opens port 22 with a firewall
# rule and logs in over SSH from an "outside computer" through the
# tenant's firewall (the VM's external address).
#   - keys are checked by parsing: an RSA-1024 key, a private key, garbage,
#     a DSA-typed line, bad names are refused; the fingerprint is
#     ssh-keygen's; names are unique per tenant;
#   - another tenant neither sees the key nor can create a VM with it;
#   - a wrong key is refused at login;
#   - the CLI adds, lists and deletes keys, and refuses a private key
#     before sending anything.
. "$(dirname "$0")/lib.sh"
OUT=clo-key-$$
netns_add "$OUT"
cp_start
read -r TA A < <(new_tenant keya)
read -r TB B < <(new_tenant keyb)
outside_attach "$OUT"

ssh-keygen -q -t ed25519 -N '' -C keya -f "$T/key"
ssh-keygen -q -t ed25519 -N '' -C wrong -f "$T/wrong"
ssh-keygen -q -t rsa -b 1024 -N '' -f "$T/rsa1024" 2>/dev/null
jq -n --rawfile k "$T/key.pub" '{name: "laptop", public_key: $k}' >"$T/add"
api POST /v1/keys "$A" - <"$T/add"
expect_eq "$STATUS" 201 "add a key"
KEY=$(jq -r .id <<<"$BODY")
expect_eq "$(jq -r .fingerprint <<<"$BODY")" "$(ssh-keygen -l -E sha256 -f "$T/key.pub" | awk '{print $2}')" "fingerprint"
expect_eq "$(jq -r '.type + " " + (.bits|tostring)' <<<"$BODY")" "ssh-ed25519 256" "type"
api POST /v1/keys "$A" - <"$T/add"
expect_eq "$STATUS" 409 "the same name again"
for f in rsa1024.pub wrong; do
	jq -n --rawfile k "$T/$f" '{name: "bad", public_key: $k}' >"$T/bad"
	api POST /v1/keys "$A" - <"$T/bad"
	expect_eq "$STATUS" 400 "key $f"
done
expect_match "$BODY" "private key" "the refusal of a private key"
grep -q "$(sed -n 2p "$T/wrong")" "$T/cp.log" && fail "a private key reached the log"
for bad in '{"name":"x","public_key":"ssh-ed25519 AAAA"}' '{"name":"x","public_key":"ssh-dss AAAAB3NzaC1kc3MAAACBAP"}' \
	'{"name":"x y","public_key":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx"}' '{"name":"x"}' '{"public_key":"x"}' \
	'{"name":"x","public_key":7}' '{"name":"x","public_key":"a","z":1}'; do
	expect_api 400 POST /v1/keys "$A" "$bad"
done
expect_api 403 POST /v1/keys "$OPERATOR" '{"name":"x","public_key":"x"}'
expect_api 200 GET /v1/keys "$B"
expect_eq "$BODY" "[]" "B's keys"
expect_api 404 GET "/v1/keys/$KEY" "$B"
expect_api 404 DELETE "/v1/keys/$KEY" "$B"
expect_api 400 POST /v1/vms "$B" '{"name":"w","service":"web-hosting","keys":["laptop"]}'
expect_match "$BODY" "no SSH key" "B's create with A's key"
log "key checks: fingerprint $(jq -r .fingerprint <<<"$(api GET "/v1/keys/$KEY" "$A"; echo "$BODY")"); RSA-1024, a private key, bad lines refused; B sees nothing"

# A VM with the key, port 22 open, an external address.
expect_api 202 POST /v1/vms "$A" '{"name":"web","service":"web-hosting","memory_mib":160,"keys":["laptop"]}'
VM=$(jq -r .vm_id <<<"$BODY")
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
expect_api 201 POST /v1/firewall/rules "$A" "{\"direction\":\"ingress\",\"protocol\":\"tcp\",\"port\":22,\"target_vm\":\"$VM\"}"
expect_api 201 POST /v1/addresses "$A" "{\"vm\":\"$VM\"}"
PUB=$(jq -r .address <<<"$BODY")
SSHOPTS="-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 -o LogLevel=ERROR -o IdentitiesOnly=yes -F /dev/null"
# shellcheck disable=SC2086
vssh() { k=$1; shift; ip netns exec "$OUT" ssh $SSHOPTS -i "$k" "root@$PUB" "$@"; }
i=0
until out=$(vssh "$T/key" hostname 2>&1); do
	i=$((i + 1))
	[ $i -lt 30 ] || fail "ssh root@$PUB with the key: $out"
	sleep 2
done
expect_eq "$(printf '%s' "$out" | tr -d '\r')" web "the VM's hostname over ssh"
vssh "$T/wrong" true 2>/dev/null && fail "a wrong key logged in"
log "ssh root@$PUB (through the firewall) with the registered key: hostname web; a wrong key refused"

# The CLI.
tcli() { CLOUDLET_URL=$URL CLOUDLET_TOKEN=$A "$CLI_BIN" "$@"; }
tcli key add desk "$T/wrong.pub" >/dev/null || fail "cloudlet key add"
tcli key list | grep -q "^desk " || fail "cloudlet key list: $(tcli key list)"
out=$(must_fail tcli key add oops "$T/wrong")
expect_match "$out" "private key" "cloudlet key add of a private key"
tcli key delete desk >/dev/null || fail "cloudlet key delete"
expect_api 200 GET /v1/keys "$A"
expect_eq "$(jq -r '[.[].name] | join(" ")' <<<"$BODY")" laptop "A's keys at the end"
log "CLI: key add, list, delete; a private key refused before sending"
