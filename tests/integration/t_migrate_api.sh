#!/bin/bash
# Moving VMs between hosts through the API (docs/migration.md): two
# simulated hosts (hosts_lib.sh), one cloudletd; tenant A's web VM on h1
# with an external address, reached from an "outside computer" on h1's
# external network (the tenant's firewall lives on its home host h1).
#   - refusals: a tenant's token, an unknown host, a draining host, the
#     VM's own host, bad input;
#   - the web VM moves live to h2 while the outside polls it every 20 ms:
#     no connection is refused, the guest's uptime goes on, the record says
#     h2, h1 no longer has it, and the firewall and external address still
#     reach it; the operation has the migration's figures;
#   - a stopped VM moves cold to the other host and starts there with the
#     same address;
#   - `cloudlet host evacuate h2` moves both back to h1 and leaves h2
#     empty, without any namespace of the tenant.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts_lib.sh"

OUT=clo-mig-$$
dc_make 2
trap 'rc=$?; set +e; [ -n "${POLL_PID-}" ] && kill "$POLL_PID" 2>/dev/null; [ $rc -eq 0 ] || hosts_dump >&2; hosts_stop; (exit $rc); cleanup' EXIT
host_start 1
host_start 2
cp_start
hosts_add
read -r TA A <<<"$(new_tenant mig)"
hid() { cli --json host show "$1" | jq -r .id; }
H1=$(hid h1) H2=$(hid h2)
host_of() { api GET "/v1/vms/$1" "$OPERATOR"; printf '%s' "$BODY" | jq -r .host_id; }

expect_api 202 POST /v1/vms "$A" '{"name":"web","service":"web-hosting","memory_mib":160}'
WEB=$(jq -r .vm_id <<<"$BODY")
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
expect_api 202 POST /v1/vms "$A" '{"name":"cold","service":"web-hosting","memory_mib":128}'
COLD=$(jq -r .vm_id <<<"$BODY")
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
expect_eq "$(host_of "$WEB")" "$H1" "web's host"
expect_api 202 POST "/v1/vms/$COLD/actions" "$A" '{"action":"stop"}'
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
COLD_HOST=$(host_of "$COLD")
expect_api 201 POST /v1/addresses "$A" "{\"vm\":\"$WEB\"}"
PUB=$(jq -r .address <<<"$BODY")
netns_add "$OUT"
EXT_NETNS=clhx1-$$ EXT_BRIDGE=chx1$$ outside_attach "$OUT"
reach() { ip netns exec "$OUT" curl -s -o /dev/null --max-time 3 "http://$PUB/"; }
i=0
until reach; do
	i=$((i + 1)); [ $i -lt 60 ] || fail "web not reachable at $PUB"; sleep 1
done

# Refusals.
expect_api 403 POST "/v1/vms/$WEB/migrate" "$A" '{}'
expect_api 404 POST "/v1/vms/$WEB/migrate" "$OPERATOR" '{"host":"nope"}'
expect_api 409 POST "/v1/vms/$WEB/migrate" "$OPERATOR" '{"host":"h1"}'
expect_match "$BODY" "already runs" "migrate to its own host"
cli host drain h2 >/dev/null
expect_api 409 POST "/v1/vms/$WEB/migrate" "$OPERATOR" '{"host":"h2"}'
expect_match "$BODY" "draining" "migrate to a draining host"
cli host undrain h2 >/dev/null
for bad in '{"live":"yes"}' '{"downtime_ms":0}' '{"host":5}' '{"x":1}'; do
	expect_api 400 POST "/v1/vms/$WEB/migrate" "$OPERATOR" "$bad"
done
log "refused: a tenant, an unknown host, its own host, a draining host, bad input"

# Live, while the outside polls every 20 ms.
CTL_SOCK=$T/h1/agent.sock
ctl() { "$AGENT_BIN" ctl --socket "$CTL_SOCK" "$@"; }
up0=$(guest_sh "$WEB" "cut -d' ' -f1 /proc/uptime" | tr -d '\r' | grep '^[0-9]' | cut -d. -f1)
(
	while :; do
		t=$(date +%s%3N)
		ip netns exec "$OUT" curl -s -o /dev/null --max-time 2 "http://$PUB/"
		echo "$t $?"
		sleep 0.02
	done
) >"$T/poll" 2>/dev/null &
POLL_PID=$!
sleep 1
expect_api 202 POST "/v1/vms/$WEB/migrate" "$OPERATOR" '{"host":"h2"}'
OP=$(jq -r .id <<<"$BODY")
final=$(wait_op "$OP" "$OPERATOR")
sleep 1
kill "$POLL_PID"
wait "$POLL_PID" 2>/dev/null || true
POLL_PID=
expect_eq "$(host_of "$WEB")" "$H2" "web's host after the move"
"$AGENT_BIN" ctl --socket "$T/h1/agent.sock" --json vm list | jq -e --arg v "$WEB" 'all(.[]; .name != $v)' >/dev/null ||
	fail "h1 still has the web VM"
CTL_SOCK=$T/h2/agent.sock
up1=$(guest_sh "$WEB" "cut -d' ' -f1 /proc/uptime" | tr -d '\r' | grep '^[0-9]' | cut -d. -f1)
[ "$up1" -ge "$up0" ] || fail "the guest's uptime went back ($up0 -> $up1 s): it rebooted"
refused=$(awk '$2 == 7' "$T/poll" | wc -l)
late=$(awk '$2 != 0 && $2 != 7' "$T/poll" | wc -l)
gap=$(awk '$2 == 0 {if (p) {d = $1 - p; if (d > m) m = d}; p = $1} END {print m + 0}' "$T/poll")
expect_eq "$refused" 0 "connections refused while moving"
reach || fail "web not reachable through the firewall after the move"
log "web moved live h1 -> h2: $(jq -c '.timing | {migration_ms, qemu_downtime_ms}' <<<"$final"); the outside: $(wc -l <"$T/poll") polls, 0 refused, $late timed out, longest gap $gap ms; uptime $up0 -> $up1 s"

# Cold.
addr0=$(api GET "/v1/vms/$COLD" "$OPERATOR"; jq -r '.nics[0].address' <<<"$BODY")
DEST=h2
[ "$COLD_HOST" = "$H2" ] && DEST=h1
expect_api 202 POST "/v1/vms/$COLD/migrate" "$OPERATOR" "{\"host\":\"$DEST\"}"
wait_op "$(jq -r .id <<<"$BODY")" "$OPERATOR" >/dev/null
expect_eq "$(host_of "$COLD")" "$(hid "$DEST")" "the cold VM's host"
api GET "/v1/vms/$COLD" "$OPERATOR"
expect_eq "$(jq -r .state <<<"$BODY")" stopped "the cold VM's state after the move"
expect_api 202 POST "/v1/vms/$COLD/actions" "$A" '{"action":"start"}'
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
expect_eq "$(api GET "/v1/vms/$COLD" "$OPERATOR"; jq -r '.nics[0].address' <<<"$BODY")" "$addr0" "the cold VM's address after the move"
log "a stopped VM moved cold to $DEST and started there"

# Evacuate h2 (both are there or one is): everything back on h1.
cli host evacuate h2 >"$T/evac" 2>&1 || fail "host evacuate: $(cat "$T/evac")"
expect_eq "$(host_of "$WEB") $(host_of "$COLD")" "$H1 $H1" "hosts after evacuating h2"
api GET /v1/hosts "$OPERATOR"
expect_eq "$(jq -r --arg h "$H2" '.[] | select(.id == $h) | "\(.vms) \(.draining)"' <<<"$BODY")" "0 true" "h2 after the evacuation"
ip netns list | grep -q "h2n-$TA" && fail "h2 kept the tenant's network"
reach || fail "web not reachable after the evacuation"
log "host evacuate h2: both VMs on h1, h2 drained and empty, reachable"
