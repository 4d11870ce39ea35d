#!/bin/bash
# Disaster recovery of VMs, driven by the control planes (issue #15,
# docs/dr.md): site a (primary, host h1) and site b (standby, host h2),
# both hosts recorded at a with their site. Checked:
#   - a VM created at a runs on a's host only, and a's cloudletd replicates
#     its disk to b's host by itself: points advance, the lag is shown in
#     GET /v1/site and `cloudlet site show`;
#   - b's host stops answering (SIGSTOP): the lag passes the alert mark and
#     a replica.lag event is raised; it answers again: the stream catches
#     up with an incremental point (bytes far below the disk's size) and a
#     second event says so;
#   - a marker written and synced in the guest, then a complete point taken
#     after it; then site a dies at once (kill -9 of its cloudletd, its
#     PostgreSQL, its agent and the VM's QEMU);
#   - failover at b: b starts the VM from its replica on h2 by itself (same
#     id, ready), the marker is in it, the VM's record names h2, it answers
#     HTTP at the same external address from an outside computer on site
#     b's external network (it did from site a's before), and a vm.recover
#     event says how long it took. The failover-to-ready time (the RTO of
#     this one VM) is printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts_lib.sh"
. "$(dirname "$0")/site_lib.sh"
trap 'rc=$?; set +e; hosts_stop; (exit $rc); cleanup' EXIT
SITE_ARGS="--replica-lag-alert-ms 2500"

sites_up
URL=${SURL[a]}
expect_eq "$(cli --json host list | jq -r '[.[] | .name + ":" + .site] | join(",")')" "h1:a,h2:b" "hosts and their sites"
api POST /v1/hosts "$OPERATOR" '{"name":"h3","socket":"/nonexistent","site":"Bad Site"}'
expect_eq "$STATUS" 400 "a host with a bad site name"

read -r TA KA <<<"$(new_tenant dr)"
expect_api 202 POST /v1/vms "$KA" '{"name":"d1","service":"web-hosting","memory_mib":128,"disk_gib":1}'
VM=$(jq -r .vm_id <<<"$BODY")

ready "$KA" "$VM"
api GET "/v1/vms/$VM" "$OPERATOR"
H1=$(cli --json host show h1 | jq -r .id)
H2=$(cli --json host show h2 | jq -r .id)
expect_eq "$(jq -r .host_id <<<"$BODY")" "$H1" "d1's host (site a's only host)"
log "d1 ($VM) ready on h1"

# Its external address, reached from an outside computer on each site's
# external network (h1's at site a, h2's at site b; the same pool).
tcli() { CLOUDLET_URL=$URL CLOUDLET_TOKEN=$KA "$CLI_BIN" "$@"; }
PUB=$(tcli --json address create --vm d1 | jq -r .address)
expect_match "$PUB" '^198\.18\.0\.' "d1's external address"
site_outside 1
site_outside 2
# outside N: one HTTP GET of d1's page from site N's outside computer, a
# status line or 000; tried for up to 60 s until an answer.
outside() {
	local code=000
	for _ in $(seq 1 60); do
		code=$(ip netns exec "clo$1-$$" curl -s -o /dev/null --max-time 3 -w '%{http_code}' "http://$PUB/" || true)
		[ "$code" = 200 ] && break
		sleep 1
	done
	echo "$code"
}
expect_eq "$(outside 1)" 200 "d1 from site a's outside computer at $PUB"
log "d1 answers HTTP at $PUB from site a's outside computer"

# repl_field JQ: the VM's replication entry at a.
repl() { site_get a; jq -r --arg v "$VM" ".replication.vms[] | select(.vm == \$v) | $1" <<<"$BODY"; }
wait_points() { # N: until N points more than now are complete
	local want=$(($(repl .points 2>/dev/null || echo 0) + $1)) i=0
	while [ "$(repl .points)" -lt "$want" ]; do
		i=$((i + 1))
		[ $i -lt 600 ] || fail "replication stuck at $(repl .points) points: $(site_get a; jq -c .replication <<<"$BODY")"
		sleep 0.2
	done
}
for _ in $(seq 1 300); do [ -n "$(repl .points)" ] && break; sleep 0.2; done
wait_points 3
expect_eq "$(repl .replica_host)" "$H2" "d1's replica host"
log "replicating: $(repl '"point \(.point), lag \(.lag_ms) ms, last \(.last_bytes) bytes in \(.last_ms) ms"')"
CLOUDLET_URL=${SURL[a]} CLOUDLET_TOKEN=$OPERATOR "$CLI_BIN" site show >"$T/show" || fail "site show"
grep -q "disk replication" "$T/show" && grep -q "vm $VM: replicating" "$T/show" ||
	fail "site show: $(cat "$T/show")"

# An interruption: h2 stops answering; the lag passes the mark (alert),
# then h2 answers again and the stream catches up incrementally.
lag_events() { api GET /v1/events "$OPERATOR"; jq -r --arg v "$VM" '[.[] | select(.action == "replica.lag" and .target == $v) | .outcome] | join(",")' <<<"$BODY"; }
before=$(lag_events)
kill -STOP "${APID[2]}"
for _ in $(seq 1 150); do [ "$(repl .lag_alert)" = true ] && break; sleep 0.2; done
expect_eq "$(repl .lag_alert)" true "the lag alert while h2 does not answer"
log "h2 stopped: lag $(repl .lag_ms) ms, alert raised"
kill -CONT "${APID[2]}"
wait_points 2
for _ in $(seq 1 100); do [ "$(repl .lag_alert)" = false ] && break; sleep 0.1; done
expect_eq "$(repl .lag_alert)" false "the alert after catching up"
bytes=$(repl .last_bytes)
[ "$bytes" -lt $((256 * 1024 * 1024)) ] || fail "the point after the interruption copied $bytes bytes (not incremental)"
# Newest first: what came since the stop ends with the alert and its end
# (the lag may also have passed the mark before, under this machine's load).
after=$(lag_events)
since=${after%"$before"}
expect_match "$since" "^succeeded,failed" "the lag events since h2 stopped (before: '$before')"
log "h2 answered again: caught up with a point of $bytes bytes"

# A marker in the guest, synced; then a point taken after it.
on() { (ONH=$1; ctl() { "$AGENT_BIN" ctl --socket "$T/h$ONH/agent.sock" "$@"; }; guest_sh "$2" "$3" 60); }
MARK=dr-$$-$RANDOM
on 1 "$VM" "echo $MARK > /root/marker && sync" >/dev/null || fail "the marker"
SYNCED=$(($(date +%s%N) / 1000000))
i=0
while [ "$(repl .last_taken_at_ms)" -le "$SYNCED" ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "no point after the marker"
	sleep 0.1
done

# The points' one-time TLS keys pass through a's cloudletd: in no log.
leaks=$(grep -l -e "PRIVATE KEY" "$T"/site-*.log "$T"/h*/agent.log 2>/dev/null || true)
expect_eq "$leaks" "" "logs holding a private key"

# Site a dies at once.
QPID=$("$AGENT_BIN" ctl --socket "$T/h1/agent.sock" --json vm show "$VM" | jq -r .pid)
[ "$QPID" -gt 0 ] 2>/dev/null || fail "d1's QEMU pid: $QPID"
kill -9 "${SPID[a]}" "${APID[1]}" ${QPID:+"$QPID"} 2>/dev/null
SPID[a]=
APID[1]=
"$ROOT/scripts/site-pg.sh" stop "$T/pg-a" >/dev/null 2>&1 || true
log "site a killed (cloudletd, PostgreSQL, agent, QEMU $QPID)"

T0=$(date +%s%N)
at b POST /v1/site/failover "$OPERATOR"
expect_eq "$STATUS" 200 "failover at b: $BODY"
URL=${SURL[b]}
i=0
while :; do
	api GET "/v1/vms/$VM" "$OPERATOR"
	[ "$(jq -r '.host_id + "/" + .state + "/" + (.ready | tostring)' <<<"$BODY")" = "$H2/running/true" ] && break
	i=$((i + 1))
	[ $i -lt 1200 ] || fail "d1 did not come up at b: $BODY; $(tail -n 20 "$T/site-b.log")"
	sleep 0.2
done
RTO=$((($(date +%s%N) - T0) / 1000000))
api GET "/v1/vms/$VM" "$KA"
expect_eq "$STATUS" 200 "the tenant sees d1 at b"
expect_eq "$(outside 2)" 200 "d1 from site b's outside computer at the same $PUB"
log "d1 answers HTTP at the same $PUB from site b's outside computer"
# Its console may take a line sent at the first prompt before the shell
# reads (a cold boot just ended): asked up to four times.
on() { (ONH=$1; ctl() { "$AGENT_BIN" ctl --socket "$T/h$ONH/agent.sock" "$@"; }; guest_sh "$2" "$3" "${4:-60}"); }
for _ in 1 2 3 4; do
	got=$(on 2 "$VM" "cat /root/marker" 15 2>/dev/null | tr -d '\r' | grep -x "$MARK" || true)
	[ -z "$got" ] || break
done
[ "$got" = "$MARK" ] || fail "the marker is not in the VM started from its replica; its console:" \
	"$("$AGENT_BIN" ctl --socket "$T/h2/agent.sock" vm console "$VM" --bytes 3000)"
api GET /v1/events "$OPERATOR"
ev=$(jq -r --arg v "$VM" '[.[] | select(.action == "vm.recover" and .target == $v)][0] | .outcome + ": " + .detail' <<<"$BODY")
expect_match "$ev" "^succeeded: started at host" "the recovery event"
site_get b
expect_eq "$(jq -r .replication.recovery.vms_started <<<"$BODY")" 1 "b's recovery view"
log "failover to d1 ready at b: $RTO ms ($ev)"
