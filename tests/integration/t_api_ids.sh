#!/bin/bash
# Intrusion detection through the API (docs/ids.md, /v1/ids): every tenant
# network is watched by the host's sensor; a tenant adds its own Suricata
# rules, reads the sensor's status for its networks and its alerts, pulled
# by cloudletd from the host. Tenant A's web VM is reached from an
# "outside computer" through its external address:
#   - defaults: on, no own rules; bad settings refused, the operator may
#     read but not set;
#   - A's own rule (sid 9000001) is loaded (status) and a request that
#     matches it, and a path traversal the operator's rule set catches
#     (sid 1000003), come back in GET /v1/ids/alerts with A's VM as the
#     destination; filters by sid and VM; the CLI shows them;
#   - tenant B sees none of A's alerts; the operator sees them with the host;
#   - a rule of A's the sensor cannot run is listed as skipped with its
#     reason (GET /v1/ids/skipped, cloudlet ids skipped), not in B's list;
#   - A suppresses its rule 9000001 (CLI): the same requests again give a
#     new 1000003 alert and no new 9000001; deleted, 9000001 fires again;
#     bad suppressions are refused, B neither sees nor deletes A's;
#   - A turns IDS off: its network leaves the sensor.
. "$(dirname "$0")/lib.sh"
OUT=clo-ids-$$
netns_add "$OUT"
agent_start --ids-rules "$ROOT/tests/ids/rules"
cp_start
read -r TA A < <(new_tenant idsa)
read -r TB B < <(new_tenant idsb)
outside_attach "$OUT"

expect_api 200 GET /v1/ids "$A"
expect_eq "$(jq -c . <<<"$BODY")" '{"enabled":true,"custom_rules":""}' "A's defaults"
for bad in '{}' '{"enabled":"yes"}' '{"custom_rules":5}' '{"x":1}' '[1]' 'nope'; do
	expect_api 400 PUT /v1/ids "$A" "$bad"
done
head -c 70000 /dev/zero | tr '\0' a | jq -Rs '{custom_rules: .}' >"$T/big"
api PUT /v1/ids "$A" - <"$T/big"
expect_eq "$STATUS" 413 "rules over 64 KiB (the body limit)"
expect_api 403 PUT /v1/ids "$OPERATOR" '{"enabled":false}'
expect_api 400 GET /v1/ids "$OPERATOR"
expect_api 200 GET "/v1/ids?tenant=$TA" "$OPERATOR"

expect_api 202 POST /v1/vms "$A" '{"name":"web","service":"web-hosting","memory_mib":160}'
VM=$(jq -r .vm_id <<<"$BODY")
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
expect_api 202 POST /v1/vms "$B" '{"name":"web","service":"web-hosting","memory_mib":160}'
VMB=$(jq -r .vm_id <<<"$BODY")
OPB=$(jq -r .id <<<"$BODY")
expect_api 201 POST /v1/addresses "$A" "{\"vm\":\"$VM\"}"
PUB=$(jq -r .address <<<"$BODY")

RULE='alert http any any -> $HOME_NET any (msg:"tenant rule: probe"; flow:to_server; http.uri; content:"/cloudlet-probe"; classtype:web-application-attack; sid:9000001; rev:1;)'
# A rule the sensor cannot run: skipped with its reason, the rest loads.
BADRULE='alert tcp any any -> $HOME_NET any (msg:"unsupported"; cloudlet_no_such_kw:1; sid:9000002; rev:1;)'
RULE="$RULE
$BADRULE"
jq -n --arg r "$RULE" '{custom_rules: $r}' >"$T/rule"
api PUT /v1/ids "$A" - <"$T/rule"
expect_eq "$STATUS" 200 "PUT own rules"
expect_eq "$(jq -r .custom_rules <<<"$BODY")" "$RULE" "the stored rules"
i=0
while :; do
	expect_api 200 GET /v1/ids/status "$A"
	st=$(jq -c '[.networks[] | {capture, rules_loaded: .stats.rules_loaded}]' <<<"$BODY")
	[ "$(jq -r '.[0].capture' <<<"$st")" = true ] && [ "$(jq -r '.[0].rules_loaded' <<<"$st")" -ge 2 ] 2>/dev/null && break
	i=$((i + 1))
	[ $i -lt 100 ] || fail "A's network not watched with its rule: $BODY"
	sleep 0.3
done
expect_eq "$(jq -r '[.networks[] | has("host_id")] | any' <<<"$BODY")" false "host_id in the tenant's status"
log "A's network watched: $st"
expect_api 200 GET /v1/ids/skipped "$A"
sk=$(jq -c '[.[] | select(.sid == 9000002)][0]' <<<"$BODY")
grep -q "cloudlet_no_such_kw" <<<"$(jq -r .reason <<<"$sk")" || fail "the skipped rule's reason: $BODY"
expect_eq "$(jq -r '[.[] | select(.sid == 9000001)] | length' <<<"$BODY")" 0 "the good rule in the skipped list"
expect_api 200 GET /v1/ids/skipped "$B"
expect_eq "$(jq -r '[.[] | select(.sid == 9000002)] | length' <<<"$BODY")" 0 "A's skipped rule in B's list"
log "skipped: $(jq -c '{sid, reason}' <<<"$sk")"

reach() { ip netns exec "$OUT" curl -s -o /dev/null --max-time 3 --path-as-is "http://$PUB$1"; }
i=0
until reach /; do
	i=$((i + 1)); [ $i -lt 60 ] || fail "web VM not reachable at $PUB"; sleep 1
done
reach /cloudlet-probe || true
reach /cgi-bin/../../etc/passwd || true
i=0
while :; do
	expect_api 200 GET /v1/ids/alerts "$A"
	sids=$(jq -r '[.[].sid | select(. == 1000003 or . == 9000001)] | unique | map(tostring) | join(" ")' <<<"$BODY")
	[ "$sids" = "1000003 9000001" ] && break
	i=$((i + 1))
	[ $i -lt 100 ] || fail "alerts 1000003 and 9000001 expected, got: $BODY"
	sleep 0.3
done
a=$(jq -c '[.[] | select(.sid == 9000001)][0]' <<<"$BODY")
expect_eq "$(jq -r .dest_vm <<<"$a")" "$VM" "the alert's destination VM"
expect_eq "$(jq -r .tenant <<<"$a")" "$TA" "the alert's tenant"
expect_eq "$(jq -r .signature <<<"$a")" "tenant rule: probe" "the alert's signature"
expect_eq "$(jq -r '.eve.alert.signature_id' <<<"$a")" 9000001 "the EVE record"
expect_eq "$(jq -r 'has("host_id")' <<<"$a")" false "host_id in the tenant's alert"
log "alerts: $(jq -c '[.[] | {sid, signature, src_ip, dest_ip, dest_port}] | unique' <<<"$BODY")"

expect_api 200 GET "/v1/ids/alerts?sid=9000001" "$A"
expect_eq "$(jq -r '[.[].sid] | unique | join(" ")' <<<"$BODY")" 9000001 "filter by sid"
expect_api 200 GET "/v1/ids/alerts?vm=$VMB" "$A"
expect_eq "$BODY" "[]" "A's alerts about B's VM"
expect_api 400 GET "/v1/ids/alerts?limit=0" "$A"
expect_api 400 GET "/v1/ids/alerts?sid=x" "$A"
expect_api 200 GET /v1/ids/alerts "$B"
expect_eq "$BODY" "[]" "B's alerts"
expect_api 200 GET /v1/ids/alerts "$OPERATOR"
expect_eq "$(jq -r '[.[] | select(.sid == 9000001) | .host_id] | unique | join(" ")' <<<"$BODY")" local \
	"the operator sees the host"
tcli() { CLOUDLET_URL=$URL CLOUDLET_TOKEN=$A "$CLI_BIN" "$@"; }
tcli ids alerts --sid 9000001 | grep -q "tenant rule: probe" || fail "cloudlet ids alerts"
tcli ids status | grep -q "^default\|^n-" || fail "cloudlet ids status: $(tcli ids status)"
tcli ids show | grep -q "enabled: yes" || fail "cloudlet ids show"
tcli ids skipped | grep -q 9000002 || fail "cloudlet ids skipped: $(tcli ids skipped)"
log "filters, tenant isolation, the operator's view and the CLI"

# Suppressions: A silences its own rule; the operator's rule goes on.
for bad in '{}' '{"sid":0}' '{"sid":1,"track":"by_src"}' '{"sid":1,"track":"x","ip":"10.0.0.1"}' \
	'{"sid":1,"track":"by_dst","ip":"300.1.1.1"}' '{"sid":1,"ttl_s":0}' '{"sid":1,"expires":5,"ttl_s":5}' \
	'{"sid":1,"x":1}' '[1]'; do
	expect_api 400 POST /v1/ids/suppressions "$A" "$bad"
done
expect_api 400 POST /v1/ids/suppressions "$OPERATOR" '{"sid":1}'
count() { api GET "/v1/ids/alerts?sid=$1&limit=1000" "$A"; jq length <<<"$BODY"; }
SUP=$(tcli --json ids suppress add 9000001 --ttl 3600 | jq -r .id)
[ -n "$SUP" ] && [ "$SUP" != null ] || fail "cloudlet ids suppress add"
tcli ids suppress list | grep -q "$SUP" || fail "cloudlet ids suppress list"
expect_api 200 GET /v1/ids/suppressions "$B"
expect_eq "$BODY" "[]" "B's suppressions"
expect_api 404 DELETE "/v1/ids/suppressions/$SUP" "$B"
expect_api 200 GET "/v1/ids/suppressions?tenant=$TA" "$OPERATOR"
expect_eq "$(jq -r '.[0].sid' <<<"$BODY")" 9000001 "the operator sees A's suppression"
# again_until SID: the probe and the traversal again, until a new alert of
# SID (the traversal's, sent after the probe) has been pulled.
again_until() {
	local before i=0
	before=$(count "$1")
	while :; do
		reach /cloudlet-probe || true
		reach /cgi-bin/../../etc/passwd || true
		sleep 1
		[ "$(count "$1")" -gt "$before" ] && return 0
		i=$((i + 1))
		[ $i -lt 60 ] || fail "no new alert $1"
	done
}
# One round for the suppression to reach the sensor (with the network
# state), then the rule must stay silent.
again_until 1000003
n0=$(count 9000001)
again_until 1000003
again_until 1000003
expect_eq "$(count 9000001)" "$n0" "alerts of the suppressed rule"
tcli ids suppress delete "$SUP" >/dev/null || fail "cloudlet ids suppress delete"
again_until 9000001
log "suppressed, rule 9000001 stayed silent while 1000003 fired; deleted, it fires again"

wait_op "$OPB" "$B" >/dev/null
tcli ids disable >/dev/null || fail "cloudlet ids disable"
i=0
while :; do
	expect_api 200 GET /v1/ids/status "$A"
	[ "$(jq -r '.enabled' <<<"$BODY") $(jq '.networks | length' <<<"$BODY")" = "false 0" ] && break
	i=$((i + 1))
	[ $i -lt 100 ] || fail "A's network still in the sensor: $BODY"
	sleep 0.3
done
log "A turned IDS off: its network left the sensor"
