#!/bin/bash
# Hosts that join with a one-time token and are reached over mutual TLS 1.3
# (docs/hosts.md, issue 13 items 1 and 2): one cloudletd (no implicit host)
# and two agents on loopback TCP ports.
#   - `cloudlet host token create` prints a token once; `token list` shows
#     it without its secret; `token delete` removes one;
#   - `cloudlet-agent join` (token on stdin) registers each host with its
#     address and certificate fingerprint and pins cloudletd's; heartbeats
#     over TLS bring both up; a VM is created on each and deleted, with the
#     agents' unix sockets removed (every call goes over TLS);
#   - a token used twice, an expired token, a malformed token or join
#     request, an agent of a protocol cloudletd cannot speak (joining, or
#     added directly): refused, nothing registered, an audit event each;
#   - an agent presenting another host's certificate, an agent pinning
#     another control plane, and a host added with a wrong fingerprint:
#     never up, the reason on the host, no request reaches the agent (its
#     log shows the refused handshakes);
#   - a client without a certificate gets nothing from an agent;
#   - no token secret in any log, event or database file.
. "$(dirname "$0")/lib.sh"

declare -A APID PORT
PORT[1]=$((20000 + RANDOM % 15000))
PORT[2]=$((PORT[1] + 1))
PORT[3]=$((PORT[1] + 2))
NETNS_LIST="$NETNS_LIST clhx1-$$ clhx2-$$"

# start N [TLSDIR]: agent hN serving on its TCP port (and a unix socket,
# which the test removes: cloudletd must not need it).
start() {
	n=$1 tls=${2:-$T/h$1/state/tls}
	mkdir -p "$T/h$n/shm"
	chmod 711 "$T/h$n"
	chmod 1777 "$T/h$n/shm"
	rm -f "$T/h$n/agent.sock"
	"$AGENT_BIN" serve --socket "$T/h$n/agent.sock" --state-dir "$T/h$n/state" \
		--guest-dir "$GUEST_DIR" --stop-timeout 20 --template-ram-dir "$T/h$n/shm" \
		--auto-templates off --external-netns "clhx$n-$$" --external-bridge "chx$n$$" \
		--name-prefix "j$n" --listen "127.0.0.1:${PORT[$n]}" --tls-dir "$tls" \
		>>"$T/h$n/agent.log" 2>&1 &
	APID[$n]=$!
	i=0
	until ss -ltn | grep -q ":${PORT[$n]} "; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "agent h$n did not listen: $(tail -3 "$T/h$n/agent.log")"
		kill -0 "${APID[$n]}" 2>/dev/null || fail "agent h$n exited: $(tail -3 "$T/h$n/agent.log")"
		sleep 0.1
	done
	rm -f "$T/h$n/agent.sock"
}
stop() {
	[ -n "${APID[$1]-}" ] || return 0
	kill "${APID[$1]}" 2>/dev/null || true
	wait "${APID[$1]}" 2>/dev/null || true
	APID[$1]=
	return 0
}
FAKE_PID=
stop_all() {
	[ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null
	[ -n "$CP_PID" ] && kill "$CP_PID" 2>/dev/null && wait "$CP_PID" 2>/dev/null
	CP_PID=
	for n in 1 2; do stop "$n"; done
	for n in 1 2; do
		for d in "$T"/h$n/state/net/*/; do
			[ -d "$d" ] || continue
			k=$(basename "$d")
			ip netns del "j${n}n-$k" 2>/dev/null
			ip netns del "j${n}f-$k" 2>/dev/null
		done
	done
	return 0
}
hdump() {
	for n in 1 2; do echo "---- agent h$n"; tail -n 15 "$T/h$n/agent.log" 2>/dev/null; done
	echo "---- cloudletd"; tail -n 40 "$T/cp.log" 2>/dev/null
}
trap 'rc=$?; set +e; [ $rc -eq 0 ] || hdump >&2; stop_all; (exit $rc); cleanup' EXIT

# cloudletd with no implicit host, and its identity.
OPERATOR=$("$CLOUDLETD_BIN" init --state-dir "$T/cp") || fail "cloudletd init"
CP_FPR=$("$CLOUDLETD_BIN" fingerprint --state-dir "$T/cp") || fail "cloudletd fingerprint"
expect_match "$CP_FPR" '^[0-9a-f]\{64\}$' "cloudletd's fingerprint"
expect_eq "$(stat -c %a "$T/cp/tls/key.pem")" 600 "mode of cloudletd's key"
port=$((35000 + RANDOM % 15000))
"$CLOUDLETD_BIN" serve --state-dir "$T/cp" --no-local-host --listen "127.0.0.1:$port" \
	>>"$T/cp.log" 2>&1 &
CP_PID=$!
URL=http://127.0.0.1:$port
i=0
until curl -sf "$URL/v1/health" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "cloudletd did not start"
	sleep 0.1
done
expect_match "$(cat "$T/cp.log")" "fingerprint $CP_FPR" "cloudletd's log"
cli() { CLOUDLET_URL=$URL CLOUDLET_TOKEN=$OPERATOR "$CLI_BIN" "$@"; }
hstate() { cli --json host show "$1" | jq -r .state; }
nhosts() { cli --json host list | jq length; }

# token NAME [TTL]: a join token (stdout), made by the CLI.
token() { cli host token create "$1" --ttl "${2:-1h}" 2>/dev/null; }
# secret TOKEN: the secret inside (base64url JSON), to look for later.
secret() {
	t=$1
	while [ $((${#t} % 4)) -ne 0 ]; do t="$t="; done
	printf '%s' "$t" | basenc --base64url -d | jq -r .secret
}
TOK1=$(token h1) || fail "token create h1"
TOK2=$(token h2) || fail "token create h2"
SECRETS="$(secret "$TOK1") $(secret "$TOK2")"
expect_match "$(secret "$TOK1")" '^[0-9a-f]\{64\}$' "a token's secret"
printf '%s' "$TOK1" | basenc -d --base64url 2>/dev/null | jq -r .fingerprint >"$T/tokfpr" || true
expect_eq "$(cli --json host token list | jq -r '[.[].name] | join(" ")')" "h1 h2" "token list"
expect_eq "$(cli --json host token list | jq -r '[.[] | has("token") or has("secret") or has("hash")] | any')" \
	false "a secret in the token list"
log "tokens for h1 and h2 made (listed without their secrets)"

# join N TOKEN: cloudlet-agent join with the token on stdin.
join() {
	mkdir -p "$T/h$1"
	"$AGENT_BIN" join - --listen "127.0.0.1:${PORT[$1]}" --state-dir "$T/h$1/state" \
		<<<"$2" >>"$T/h$1/join.out" 2>&1
}
for n in 1 2; do
	tok=TOK$n
	join "$n" "${!tok}" || fail "join h$n: $(cat "$T/h$n/join.out")"
	expect_eq "$(cat "$T/h$n/state/tls/peer.fpr")" "$CP_FPR" "h$n's pinned control plane"
	expect_match "$(cat "$T/h$n/join.out")" "cloudlet-agent serve --listen 127.0.0.1:${PORT[$n]}" \
		"join's advice"
	start "$n"
done
expect_eq "$(cli --json host token list | jq length)" 0 "tokens left after both joins"
for n in 1 2; do
	i=0
	until [ "$(hstate "h$n")" = up ]; do
		i=$((i + 1))
		[ $i -lt 75 ] || fail "host h$n is not up: $(cli --json host show "h$n")"
		sleep 0.2
	done
	h=$(cli --json host show "h$n")
	expect_eq "$(jq -r .address <<<"$h")" "127.0.0.1:${PORT[$n]}" "h$n's address"
	expect_eq "$(jq -r .fingerprint <<<"$h")" "$("$AGENT_BIN" cert --dir "$T/h$n/state/tls")" \
		"h$n's pinned fingerprint"
	expect_eq "$(jq -r .socket <<<"$h")" "" "h$n's socket"
	expect_eq "$(jq -r .protocol <<<"$h")" "1-1" "h$n's protocol range"
done
cli host list
log "h1 and h2 joined and up over TLS (no unix socket left)"

# A VM on each host (two tenants: spread puts the second on h2), then gone.
read -r TA KA <<<"$(new_tenant join-a)"
read -r TB KB <<<"$(new_tenant join-b)"
vm() {
	expect_api 202 POST /v1/vms "$1" "{\"name\":\"$2\",\"service\":\"web-hosting\",\"memory_mib\":128}"
	printf '%s' "$BODY" | jq -r .vm_id
}
ready() { # ready TOKEN ID
	i=0
	while :; do
		api GET "/v1/vms/$2" "$1"
		[ "$(printf '%s' "$BODY" | jq -r '.state + "/" + (.ready | tostring)')" = running/true ] && return 0
		[ "$(printf '%s' "$BODY" | jq -r .state)" = null ] && fail "VM $2 is gone: $BODY"
		i=$((i + 1))
		[ $i -lt 900 ] || fail "VM $2 not ready: $BODY"
		sleep 0.2
	done
}
A1=$(vm "$KA" a1)
B1=$(vm "$KB" b1)
ready "$KA" "$A1"
ready "$KB" "$B1"
host_of() { api GET "/v1/vms/$1" "$OPERATOR"; printf '%s' "$BODY" | jq -r .host_id; }
expect_eq "$(cli --json host show "$(host_of "$A1")" | jq -r .name) $(cli --json host show "$(host_of "$B1")" | jq -r .name)" \
	"h1 h2" "placement"
for n in 1 2; do
	expect_eq "$(find "$T/h$n/state/vms" -name qemu.pid | wc -l)" 1 "VMs on h$n's agent"
done
log "a VM on h1 and one on h2, made and ready over TLS"
expect_api 202 DELETE "/v1/vms/$A1" "$KA"
wait_op "$(printf '%s' "$BODY" | jq -r .id)" "$KA" >/dev/null
expect_api 202 DELETE "/v1/vms/$B1" "$KB"
wait_op "$(printf '%s' "$BODY" | jq -r .id)" "$KB" >/dev/null
for n in 1 2; do
	expect_eq "$(find "$T/h$n/state/vms" -name qemu.pid 2>/dev/null | wc -l)" 0 "VMs left on h$n"
done
log "both deleted"

# Tokens are the operator's; none for a name a host has.
expect_api 403 POST /v1/hosts/tokens "$KA" '{"name":"h5"}'
expect_api 403 GET /v1/hosts/tokens "$KA"
expect_match "$(must_fail cli host token create h1)" "already exists" "a token for a name taken"

# join_api BODY: POST /v1/hosts/join without a bearer token.
join_api() {
	STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		--data-binary "$1" "$URL/v1/hosts/join")
	BODY=$(cat "$T/resp")
}
# The same token again (another host trying it): refused, nothing registered.
must_fail join 3 "$TOK1" >/dev/null
expect_match "$(cat "$T/h3/join.out")" "403 forbidden.*unknown or was used already" "a token used twice"
[ ! -f "$T/h3/state/tls/peer.fpr" ] || fail "a refused join pinned the control plane"
expect_eq "$(nhosts)" 2 "hosts after a token used twice"
# Expired.
TOK3=$(token h3 1s) || fail "token create h3"
SECRETS="$SECRETS $(secret "$TOK3")"
sleep 2
must_fail join 3 "$TOK3" >/dev/null
expect_match "$(cat "$T/h3/join.out")" "403 forbidden.*expired" "an expired token"
expect_eq "$(nhosts)" 2 "hosts after an expired token"
# Malformed: the agent will not send it; the API refuses malformed requests.
expect_match "$(must_fail "$AGENT_BIN" join not-a-token --listen 127.0.0.1:1 --state-dir "$T/h4")" \
	"not a join token" "a malformed token"
join_api '{"secret":"zz","name":"h4","address":"127.0.0.1:1","fingerprint":"00","protocol":{"min":1,"max":1}}'
expect_eq "$STATUS" 400 "a malformed join request"
expect_match "$BODY" "secret" "a malformed join request's answer"
join_api 'not json'
expect_eq "$STATUS" 400 "a join request that is not JSON"
# An agent of protocols 2-3: refused, and its token still usable.
TOK4=$(token h4) || fail "token create h4"
S4=$(secret "$TOK4")
SECRETS="$SECRETS $S4"
j4() { printf '{"secret":"%s","name":"h4","address":"127.0.0.1:9","fingerprint":"%s","protocol":{"min":%s,"max":%s}}' \
	"$S4" "$(printf '%064d' 0)" "$1" "$2"; }
join_api "$(j4 2 3)"
expect_eq "$STATUS" 400 "an agent of protocols 2-3"
expect_match "$BODY" '"code":"protocol".*versions 2-3, this control plane speaks 1' "the protocol refusal"
expect_eq "$(nhosts)" 2 "hosts after a protocol refusal"
expect_eq "$(cli --json host token list | jq -r '.[].name')" h4 "the token after a protocol refusal"
cli host token delete "$(cli --json host token list | jq -r '.[0].id')" >/dev/null || fail "token delete"
join_api "$(j4 1 1)"
expect_eq "$STATUS" 403 "a deleted token"
expect_eq "$(nhosts)" 2 "hosts after a deleted token"
# A host added directly whose agent speaks only protocols 2-3 (a fake
# agent: socat answering host.info): refused at once, not registered.
printf '%s\n' '{"ok":true,"result":{"cpus":1,"memory_mib":1024,"protocol":{"min":2,"max":3}}}' >"$T/fake.json"
socat UNIX-LISTEN:"$T/fake.sock",fork,mode=777 SYSTEM:"read l; cat $T/fake.json" &
FAKE_PID=$!
for i in $(seq 50); do [ -S "$T/fake.sock" ] && break; sleep 0.1; done
expect_match "$(must_fail cli host add old --socket "$T/fake.sock")" \
	"protocol: the agent speaks versions 2-3, this control plane speaks 1" "an old agent added"
kill "$FAKE_PID" 2>/dev/null || true
wait "$FAKE_PID" 2>/dev/null || true
FAKE_PID=
expect_eq "$(nhosts)" 2 "hosts after an agent of another protocol"
api GET "/v1/events?limit=100" "$OPERATOR"
expect_eq "$(printf '%s' "$BODY" | jq '[.[] | select(.action == "host.join" and .outcome == "failed")] | length')" 6 \
	"failed joins in the audit log"
expect_eq "$(printf '%s' "$BODY" | jq '[.[] | select(.action == "host.join" and .outcome == "succeeded")] | length')" 2 \
	"joins in the audit log"
log "token used twice, expired, malformed, wrong protocol, deleted: refused (403/400), nothing registered, audited; an agent of protocols 2-3 added: refused"

# An impostor: h2's port served with h1's identity. cloudletd refuses it in
# the handshake (h2 goes down with the reason); the impostor's log shows
# the handshakes refused, never a request.
stop 2
: >"$T/h2/agent.log"
start 2 "$T/h1/state/tls"
i=0
until [ "$(hstate h2)" = down ]; do
	i=$((i + 1))
	[ $i -lt 75 ] || fail "h2 with h1's certificate is not down: $(cli --json host show h2)"
	sleep 0.2
done
expect_match "$(cli --json host show h2 | jq -r .reason)" "tls\|is not the pinned" "h2's reason"
expect_match "$(cli --json host show h2 | jq -r .reason)" "nothing was run" "h2's reason"
expect_match "$(grep -c 'remote: 127.0.0.1 refused' "$T/h2/agent.log")" '^[1-9]' "the impostor's refusals"
log "h2 with h1's certificate: down ($(cli --json host show h2 | jq -r .reason))"
# The other way round: h2's own identity, but pinning another control
# plane. The agent refuses cloudletd's certificate and runs nothing.
stop 2
"$AGENT_BIN" cert --dir "$T/other" >/dev/null
"$AGENT_BIN" pin --dir "$T/h2/state/tls" "$("$AGENT_BIN" cert --dir "$T/other")"
: >"$T/h2/agent.log"
start 2
i=0
until cli --json host show h2 | jq -r .reason | grep -q "refused cloudletd's certificate"; do
	i=$((i + 1))
	[ $i -lt 50 ] || fail "h2 pinning another control plane: $(cli --json host show h2)"
	sleep 0.2
done
expect_eq "$(hstate h2)" down "h2 pinning another control plane"
expect_match "$(grep -c 'remote: 127.0.0.1 refused: its certificate' "$T/h2/agent.log")" '^[1-9]' \
	"h2's refusals of cloudletd"
log "h2 pinning another control plane: down ($(cli --json host show h2 | jq -r .reason))"
stop 2
"$AGENT_BIN" pin --dir "$T/h2/state/tls" "$CP_FPR"
start 2
i=0
until [ "$(hstate h2)" = up ]; do
	i=$((i + 1))
	[ $i -lt 75 ] || fail "h2 is not back up: $(cli --json host show h2)"
	sleep 0.2
done
expect_eq "$(cli --json host show h2 | jq -r .reason)" "" "h2's reason once up"
# A host added with a wrong fingerprint for h1's agent: never up.
cli host add h9 --address "127.0.0.1:${PORT[1]}" --fingerprint "$(printf '%064d' 0)" >/dev/null ||
	fail "host add h9"
i=0
until cli --json host show h9 | jq -r .reason | grep -q "is not the pinned"; do
	i=$((i + 1))
	[ $i -lt 50 ] || fail "h9 has no reason: $(cli --json host show h9)"
	sleep 0.2
done
expect_eq "$(hstate h9)" down "h9's state"
cli host remove h9 >/dev/null || fail "host remove h9"
log "h2 back with its own certificate: up; a wrong pinned fingerprint: down with the reason"

# A client without a certificate, or with another one, gets nothing.
for c in "" "-cert $T/other/cert.pem -key $T/other/key.pem"; do
	# shellcheck disable=SC2086
	out=$({ printf '{"op":"host.info"}\n'; sleep 1; } |
		timeout 5 openssl s_client -connect "127.0.0.1:${PORT[1]}" $c -quiet 2>/dev/null || true)
	[ -z "$out" ] || fail "a client ${c:+with another certificate }${c:-without a certificate} got: $out"
done
log "clients without a certificate or with another one: nothing"

# No secret anywhere: logs, events, the database (and its WAL).
api GET "/v1/events?limit=1000" "$OPERATOR"
printf '%s' "$BODY" >"$T/events.json"
for s in $SECRETS; do
	for f in "$T/cp.log" "$T"/h*/agent.log "$T/events.json" "$T"/cp/cloudlet.db*; do
		[ -f "$f" ] || continue
		grep -aqF "$s" "$f" && fail "a token's secret is in $f"
	done
done
for t in "$TOK1" "$TOK2"; do grep -aqF "$t" "$T/cp.log" "$T"/cp/cloudlet.db* && fail "a token is stored or logged"; done
log "no token or secret in $(ls "$T"/cp/cloudlet.db* "$T/cp.log" "$T"/h*/agent.log | wc -l) files nor the events"
