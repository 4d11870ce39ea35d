#!/bin/bash
# Two sites of a disaster-recovery pair, the control plane (issue #15,
# docs/dr.md): site a's PostgreSQL streams to site b's over TLS (a real
# hot standby), each cloudletd pins the other on the site link.
# Checked: b serves a's data read-only (a tenant's token works for reads
# there, every write is 503 read_only); a primary whose standby stops
# answering fences itself (503) and takes writes again when it answers; a
# standby pinning the wrong certificate gives a no lease (refused in the
# handshake, said in both views); a tenant's token cannot fail over; a
# kill -9 of all of site a while a client writes and counts what was
# acknowledged, failover at b: every record acknowledged more than 1 s
# before the kill is there (the rest is counted), b takes writes with the
# same tokens; the old primary started again learns of the new epoch and
# refuses every write, and the new primary restarted writes at once; no
# replication password in a log or a command line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/site_lib.sh"

writable() { site_get "$1" && [ "$(jq -r .writable <<<"$BODY")" = "$2" ]; }
wait_writable() { # S true|false
	for _ in $(seq 1 100); do writable "$1" "$2" && return 0; sleep 0.1; done
	fail "site $1 writable is not $2: $BODY"
}

ssh-keygen -q -t ed25519 -N '' -C k -f "$T/key"
KEYREQ=$(jq -cn --arg k "$(cat "$T/key.pub")" '{name:"k", public_key:$k}')
sites_make
site_start a primary
site_start b standby
wait_writable a true
site_get b
expect_eq "$(jq -r .role <<<"$BODY")" standby "b's role"
CLOUDLET_URL=${SURL[b]} CLOUDLET_TOKEN=$OPERATOR "$CLI_BIN" site show >"$T/show" || fail "site show"
grep -q "streaming" "$T/show" || fail "cloudlet site show: $(cat "$T/show")"
expect_eq "$(jq -r .database.standby <<<"$BODY")" true "b's database is a hot standby"
expect_eq "$(jq -r .database.receiver <<<"$BODY")" streaming "b's WAL receiver"
site_get a
expect_eq "$(jq -r '.database.standbys | length' <<<"$BODY")" 1 "a streams to one standby"
expect_eq "$(jq -r '.peer.role' <<<"$BODY")" standby "a's view of b"
log "a primary (lease held), b streaming"

# A tenant made at a, read at b with its own token.
URL=${SURL[a]}
read -r TID TOK <<<"$(new_tenant acme)"
for _ in $(seq 1 50); do
	at b GET /v1/vms "$TOK"
	[ "$STATUS" = 200 ] && break
	sleep 0.1
done
expect_eq "$STATUS" 200 "a tenant's token at the standby (reads)"
at b POST /v1/keys "$TOK" "$KEYREQ"
expect_eq "$STATUS" 503 "a write at the standby"
expect_eq "$(jq -r .error.code <<<"$BODY")" read_only "its code"
at b POST /v1/tenants "$OPERATOR" '{"name":"nope"}'
expect_eq "$STATUS" 503 "the operator's write at the standby"
at b POST /v1/site/failover "$TOK"
expect_eq "$STATUS" 403 "a tenant's failover"

# The lease: b stops answering, a fences itself; b answers, a writes.
kill -STOP "${SPID[b]}"
wait_writable a false
at a POST /v1/tenants "$OPERATOR" '{"name":"fenced"}'
expect_eq "$STATUS" 503 "a write at a fenced primary"
grep -q "fenced" <<<"$BODY" || fail "the 503 does not say why: $BODY"
kill -CONT "${SPID[b]}"
wait_writable a true
log "a fenced while b was stopped, writable again after"

# A standby that pins another certificate: the handshake fails both ways.
site_kill b
site_start b standby "$(printf '%064d' 0)"
sleep 2
wait_writable a false
site_get b
grep -q "certificate" <<<"$(jq -r .peer.error <<<"$BODY")" || fail "b's view: $BODY"
log "b says: $(jq -r .peer.error <<<"$BODY"); a's hellos: $(site_get a; jq -r .peer.error <<<"$BODY")"
site_kill b
site_start b standby
wait_writable a true
log "a wrong pin is refused (a fenced), the right one accepted"

# A client writing records (tenants named r<N>) at a and noting each
# acknowledged one with the time of its answer.
writer() {
	local n=0
	while :; do
		n=$((n + 1))
		code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $OPERATOR" \
			--data "{\"name\":\"r$n\"}" "${SURL[a]}/v1/tenants" 2>/dev/null) || code=000
		[ "$code" = 201 ] && echo "r$n $(date +%s.%N)" >>"$T/acked"
		sleep 0.02
	done
}
writer &
WPID=$!
sleep 3
# Site a dies at once: cloudletd and its PostgreSQL, SIGKILL.
PGA=$(head -n 1 "$T/pg-a/data/postmaster.pid")
# shellcheck disable=SC2046 # the postmaster's children, one word each
kill -9 "${SPID[a]}" "$PGA" $(pgrep -P "$PGA")
KILL_AT=$(date +%s.%N)
SPID[a]=
kill "$WPID"
wait "$WPID" 2>/dev/null || true
[ -s "$T/acked" ] || fail "the writer had nothing acknowledged"
t0=$(date +%s%N)
BODY=$(CLOUDLET_URL=${SURL[b]} CLOUDLET_TOKEN=$OPERATOR "$CLI_BIN" --json site failover) ||
	fail "cloudlet site failover at b: $BODY"
t1=$(date +%s%N)
expect_eq "$(jq -r .role <<<"$BODY")" primary "b's role after failover"
expect_eq "$(jq -r .epoch <<<"$BODY")" 2 "b's epoch"
log "failover took $(((t1 - t0) / 1000000)) ms"

# What b holds of the acknowledged records.
at b GET /v1/tenants "$OPERATOR"
jq -r '.[].name' <<<"$BODY" | sort >"$T/at-b"
lost=0 late=0
while read -r name ts; do
	grep -qx "$name" "$T/at-b" && continue
	lost=$((lost + 1))
	# Acknowledged more than 1 s before the kill and missing: data loss.
	[ "$(echo "$KILL_AT - $ts > 1" | bc)" = 1 ] && late=$((late + 1))
done <"$T/acked"
log "$(wc -l <"$T/acked") records acknowledged, $lost not at b (all within 1 s of the kill)"
expect_eq "$late" 0 "records acknowledged > 1 s before the kill and lost"

# b writes now, with the same tokens.
expect_eq "$(URL=${SURL[b]} new_tenant after-failover | wc -w)" 2 "a tenant made at b"
at b POST /v1/keys "$TOK" "$KEYREQ"
expect_eq "$STATUS" 201 "the tenant's write at b after failover: $BODY"
at b GET /v1/events "$OPERATOR"
jq -e 'map(select(.action == "site.failover")) | length == 1' <<<"$BODY" >/dev/null ||
	fail "no site.failover event"
at b POST /v1/site/failover "$OPERATOR"
expect_eq "$STATUS" 409 "a second failover"

# The old primary comes back (its own database, diverged): demoted.
"$ROOT/scripts/site-pg.sh" start "$T/pg-a" || fail "restart a's PostgreSQL"
site_start a primary
wait_writable a false
site_get a
expect_eq "$(jq -r .role <<<"$BODY")" demoted "a's role when it is back"
at a POST /v1/tenants "$OPERATOR" '{"name":"split"}'
expect_eq "$STATUS" 503 "a write at the demoted site"
for _ in $(seq 1 30); do
	site_get b
	[ "$(jq -r .peer.role <<<"$BODY")" = demoted ] && break
	sleep 0.1
done
expect_eq "$(jq -r .peer.role <<<"$BODY")" demoted "b's view of a"
log "the old primary is demoted and refuses writes"

# The new primary restarted: unpaired (its old primary is demoted), it
# writes and starts its workers at once.
site_kill b
n0=$(grep -c "ops: instance" "$T/site-b.log" || true)
site_start b standby
wait_writable b true
at b POST /v1/tenants "$OPERATOR" '{"name":"after-restart"}'
expect_eq "$STATUS" 201 "a write at the restarted new primary"
for _ in $(seq 1 50); do
	[ "$(grep -c "ops: instance" "$T/site-b.log")" -gt "$n0" ] && break
	sleep 0.1
done
[ "$(grep -c "ops: instance" "$T/site-b.log")" -gt "$n0" ] || fail "b's workers did not start after its restart"
log "the new primary restarted: writable, its workers started"

# The replication password: in its files only.
PASS=$(cat "$T/pg-a/replication.pass")
for f in "$T"/site-*.log "$T"/pg-*/server.log "$T"/pg-*/*.log; do
	[ -f "$f" ] || continue
	grep -qF "$PASS" "$f" && fail "the replication password is in $f"
done
for p in $(pgrep -u cloudlet-pg) ${SPID[a]} ${SPID[b]}; do
	tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "$PASS" && fail "the password in the argv of $p"
done
expect_eq "$(stat -c %a "$T/pg-b/.pgpass")" 600 "the standby's password file mode"
log "no replication password in logs or command lines"
