#!/bin/bash
# API tokens a tenant manages (/v1/tokens): named, with an optional
# expiry, listed with when they were last used and never with a secret,
# revoked at once (401 on every route from then on); another tenant can
# neither list nor revoke them; the operator can, for any tenant, but not
# its own last token. No VM is needed.
. "$(dirname "$0")/lib.sh"
cp_start
read -r TA A < <(new_tenant toka)
read -r TB B < <(new_tenant tokb)

expect_api 201 POST /v1/tokens "$A" '{"name":"ci"}'
CI=$(jq -r .token <<<"$BODY") CI_ID=$(jq -r .id <<<"$BODY")
expect_api 201 POST /v1/tokens "$A" '{"name":"short","ttl_s":2}'
SHORT=$(jq -r .token <<<"$BODY")
for bad in '{}' '{"name":"a b"}' '{"name":"x","ttl_s":0}' '{"name":"x","ttl_s":"1"}' \
	'{"name":"x","tenant":"t-0000000000000000"}' '{"name":"x","z":1}'; do
	expect_api 400 POST /v1/tokens "$A" "$bad"
done
expect_api 200 GET /v1/vms "$CI"
expect_api 200 GET /v1/tokens "$A"
expect_eq "$(jq -r '[.[] | has("token") or has("hash")] | any' <<<"$BODY")" false "a secret in the list"
expect_eq "$(jq -r '[.[].name] | sort | join(" ")' <<<"$BODY")" " ci short" "A's tokens (the first has no name)"
expect_match "$(jq -r --arg i "$CI_ID" '.[] | select(.id == $i) | .last_used' <<<"$BODY")" '^20' "last_used of ci"
log "A made tokens ci and short (2 s); the list has names and last use, no secret"

# Another tenant: nothing of A's.
expect_api 200 GET /v1/tokens "$B"
expect_eq "$(jq length <<<"$BODY")" 1 "B's tokens"
expect_api 404 DELETE "/v1/tokens/$CI_ID" "$B"
expect_api 200 GET /v1/vms "$CI"

# Expiry and revocation: 401 on every route at once.
sleep 3
expect_api 401 GET /v1/vms "$SHORT"
expect_api 204 DELETE "/v1/tokens/$CI_ID" "$A"
for route in "GET /v1/vms" "GET /v1/networks" "GET /v1/volumes" "GET /v1/tokens" "POST /v1/tokens"; do
	set -- $route
	expect_api 401 "$1" "$2" "$CI" '{"name":"again"}'
done
log "the expired token and the revoked one get 401 everywhere at once"

# The operator: any tenant's tokens, not its own last one.
expect_api 200 GET "/v1/tokens?tenant=$TB" "$OPERATOR"
B_ID=$(jq -r '.[0].id' <<<"$BODY")
expect_api 201 POST /v1/tokens "$OPERATOR" "{\"name\":\"for-b\",\"tenant\":\"$TB\"}"
B2=$(jq -r .token <<<"$BODY")
expect_api 204 DELETE "/v1/tokens/$B_ID" "$OPERATOR"
expect_api 401 GET /v1/vms "$B"
expect_api 200 GET /v1/vms "$B2"
expect_api 200 GET /v1/tokens "$OPERATOR"
OP_ID=$(jq -r '.[0].id' <<<"$BODY")
expect_api 409 DELETE "/v1/tokens/$OP_ID" "$OPERATOR"
expect_api 200 GET /v1/tenants "$OPERATOR"
tcli() { CLOUDLET_URL=$URL CLOUDLET_TOKEN=$A "$CLI_BIN" "$@"; }
NEW=$(tcli token create laptop --ttl 3600) || fail "cloudlet token create"
expect_match "$NEW" '^clt_' "the new token"
tcli token list | grep -q " laptop " || fail "cloudlet token list: $(tcli token list)"
LID=$(tcli --json token list | jq -r '.[] | select(.name == "laptop") | .id')
tcli token revoke "$LID" >/dev/null || fail "cloudlet token revoke"
expect_api 401 GET /v1/vms "$NEW"
grep -q "$NEW\|${CI#clt_}" "$T/cp.log" && fail "a token in cloudletd's log"
log "the operator revoked B's token and made another; its own last one stays; the CLI makes, lists, revokes"
