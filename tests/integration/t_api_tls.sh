#!/bin/bash
# The API over HTTPS with cloudletd's own identity (cloudletd serve --tls,
# docs/hosts.md "Joining and TLS"), and a host joining through it:
#   - the API answers HTTPS only (TLS 1.2+), with the certificate of
#     cloudletd's identity; `cloudletd pin` is that key's pin, the same as
#     openssl computes from the certificate;
#   - the CLI refuses the self-signed certificate unless pinned
#     (CLOUDLET_PIN), and with a wrong pin;
#   - a join token names the https URL and carries the pin; an agent joins
#     with it and comes up over mutual TLS;
#   - a token whose pin is not the API's: the join fails in the handshake,
#     before its secret is sent (the same secret still joins afterwards);
#   - a token naming a plain-http API on another machine: the agent refuses
#     to send the secret at all.
. "$(dirname "$0")/lib.sh"

NETNS_LIST="$NETNS_LIST clhx1-$$"
APORT=$((20000 + RANDOM % 15000))
OPERATOR=$("$CLOUDLETD_BIN" init --state-dir "$T/cp" 2>>"$T/cp.log") || fail "cloudletd init"
PIN=$("$CLOUDLETD_BIN" pin --state-dir "$T/cp") || fail "cloudletd pin"
CERT=$T/cp/tls/cert.pem
want=$(openssl x509 -in "$CERT" -pubkey -noout | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64)
expect_eq "$PIN" "sha256//$want" "cloudletd pin against openssl's"
# A random port may be taken by another test: another one, up to 5 times.
for attempt in 1 2 3 4 5; do
	port=$((35000 + RANDOM % 15000))
	"$CLOUDLETD_BIN" serve --state-dir "$T/cp" --no-local-host --listen "127.0.0.1:$port" --tls \
		>>"$T/cp.log" 2>&1 &
	CP_PID=$!
	URL=https://127.0.0.1:$port
	i=0
	until curl -sfk "$URL/v1/health" >/dev/null 2>&1; do
		i=$((i + 1))
		kill -0 "$CP_PID" 2>/dev/null || break
		[ $i -lt 100 ] || fail "cloudletd did not serve HTTPS"
		sleep 0.1
	done
	kill -0 "$CP_PID" 2>/dev/null && break
	wait "$CP_PID" 2>/dev/null || true
	CP_PID=
	[ "$attempt" -lt 5 ] || fail "cloudletd did not serve HTTPS (5 ports tried)"
done
expect_match "$(cat "$T/cp.log")" "listening on https://127.0.0.1:$port" "cloudletd's log"
if curl -sf "http://127.0.0.1:$port/v1/health" >/dev/null 2>&1; then fail "plain HTTP answered"; fi
served=$(openssl s_client -connect "127.0.0.1:$port" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 |
	sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
expect_eq "$served" "$("$CLOUDLETD_BIN" fingerprint --state-dir "$T/cp")" "the API's certificate"
if openssl s_client -connect "127.0.0.1:$port" -tls1_1 </dev/null >/dev/null 2>&1; then
	fail "TLS 1.1 accepted"
fi
log "API on HTTPS with cloudletd's certificate ($PIN); plain HTTP and TLS 1.1 refused"

cli() { CLOUDLET_URL=$URL CLOUDLET_TOKEN=$OPERATOR "$CLI_BIN" "$@"; }
out=$(must_fail cli host list)
expect_match "$out" "certificate" "the CLI without a pin"
other=$(openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
	-keyout "$T/other.key" -days 1 2>/dev/null | openssl x509 -pubkey -noout |
	openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
out=$(CLOUDLET_PIN="sha256//$other" must_fail cli host list)
expect_match "$out" "pinned public key" "the CLI with another key's pin"
CLOUDLET_PIN=$PIN cli host list >/dev/null || fail "the CLI with the pin"
pcli() { CLOUDLET_PIN=$PIN cli "$@"; }
log "the CLI: refused without a pin and with another key's pin, works with cloudletd's"

# A token: https URL, the pin.
TOK=$(pcli host token create h1 2>/dev/null) || fail "token create"
b64d() {
	t=$1
	while [ $((${#t} % 4)) -ne 0 ]; do t="$t="; done
	printf '%s' "$t" | basenc --base64url -d
}
b64e() { basenc --base64url -w0 | tr -d '='; }
expect_eq "$(b64d "$TOK" | jq -r '.url + " " + .pin')" "$URL $PIN" "the token's URL and pin"

# A copy with another key's pin: refused in the handshake, nothing sent.
BAD=$(b64d "$TOK" | jq -c --arg p "sha256//$other" '.pin = $p' | b64e)
mkdir -p "$T/h1"
if "$AGENT_BIN" join - --listen "127.0.0.1:$APORT" --state-dir "$T/h1/state" <<<"$BAD" \
	>"$T/h1/join.out" 2>&1; then
	fail "joined with another key's pin"
fi
expect_match "$(cat "$T/h1/join.out")" "pinned public key" "the refused join"
expect_eq "$(pcli --json host token list | jq length)" 1 "tokens after the refused join (the secret was not sent)"
# A plain-http URL to another machine: not sent at all.
HTTPTOK=$(b64d "$TOK" | jq -c '.url = "http://192.0.2.7:8470" | del(.pin)' | b64e)
if "$AGENT_BIN" join - --listen "127.0.0.1:$APORT" --state-dir "$T/h1/state" <<<"$HTTPTOK" \
	>"$T/h1/join.out" 2>&1; then
	fail "joined over plain http to another machine"
fi
expect_match "$(cat "$T/h1/join.out")" "in clear" "the refusal of plain http"
log "a token with another key's pin fails in the handshake (token kept); plain http elsewhere is refused"

"$AGENT_BIN" join - --listen "127.0.0.1:$APORT" --state-dir "$T/h1/state" <<<"$TOK" \
	>"$T/h1/join.out" 2>&1 || fail "join over HTTPS: $(cat "$T/h1/join.out")"
expect_eq "$(pcli --json host token list | jq length)" 0 "tokens after the join"
mkdir -p "$T/h1/shm"
chmod 711 "$T/h1"
chmod 1777 "$T/h1/shm"
"$AGENT_BIN" serve --socket "$T/h1/agent.sock" --state-dir "$T/h1/state" \
	--guest-dir "$GUEST_DIR" --template-ram-dir "$T/h1/shm" --auto-templates off \
	--external-netns "clhx1-$$" --external-bridge "cht1$$" --name-prefix "k1" \
	--listen "127.0.0.1:$APORT" >>"$T/h1/agent.log" 2>&1 &
AGENT_PID=$!
i=0
until [ "$(pcli --json host show h1 | jq -r .state)" = up ]; do
	i=$((i + 1))
	[ $i -lt 75 ] || fail "h1 is not up: $(pcli --json host show h1)"
	sleep 0.2
done
secret=$(b64d "$TOK" | jq -r .secret)
for f in "$T/cp.log" "$T/h1/agent.log" "$T/h1/join.out" "$T"/cp/cloudlet.db*; do
	grep -q "$secret" "$f" && fail "the token's secret is in $f"
done
log "h1 joined over HTTPS (pinned) and is up over mutual TLS; its secret is in no log or database"
