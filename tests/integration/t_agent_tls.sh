#!/bin/bash
# The agent's TCP listener (docs/hosts.md, src/agent/remote.h): mutual TLS
# 1.3 with pinned certificates. A client presenting the pinned control
# plane certificate gets answers to the usual protocol; a client without a
# certificate, with another certificate, or offering only TLS 1.2 gets a
# failed handshake and nothing else; an agent with no pinned control plane
# refuses to listen. The client checks the agent against its certificate
# too (the agent's is the only one it trusts). The private keys never show
# in the agent's log.
. "$(dirname "$0")/lib.sh"

"$AGENT_BIN" cert --dir "$T/tls-cp" --name control-plane >"$T/cp.fpr" || fail "cert for the control plane"
"$AGENT_BIN" cert --dir "$T/tls-other" --name someone-else >/dev/null || fail "cert for another"
AGENT_FPR=$("$AGENT_BIN" cert --dir "$T/state/tls") || fail "cert for the agent"
expect_eq "$(stat -c %a "$T/tls-cp/key.pem")" 600 "mode of a private key"
expect_match "$(cat "$T/cp.fpr")" '^[0-9a-f]\{64\}$' "a fingerprint"
# The same identity the next time, not a new one.
expect_eq "$("$AGENT_BIN" cert --dir "$T/state/tls")" "$AGENT_FPR" "fingerprint made again"
must_fail "$AGENT_BIN" pin --dir "$T/state/tls" 1234 | grep -q '64 hex digits' || fail "a bad pin was taken"

PORT=$((20000 + RANDOM % 30000))
# No pinned control plane: the agent does not listen at all.
if agent_start --listen "127.0.0.1:$PORT" 2>/dev/null; then
	sleep 0.5
	kill -0 "$AGENT_PID" 2>/dev/null && fail "the agent listened with no pinned control plane"
fi
expect_match "$(cat "$T/agent.log")" "no control plane is pinned" "agent log without a pin"
AGENT_PID=
rm -f "$T/agent.sock"

"$AGENT_BIN" pin --dir "$T/state/tls" "$(cat "$T/cp.fpr")" || fail "pin"
agent_start --listen "127.0.0.1:$PORT"
for i in $(seq 50); do ss -ltn | grep -q ":$PORT " && break; sleep 0.1; done

# ask CERTDIR [openssl options]: one request over TLS, the answer on stdout.
ask() {
	dir=$1
	shift
	certs=()
	[ -n "$dir" ] && certs=(-cert "$dir/cert.pem" -key "$dir/key.pem")
	{ printf '{"op":"host.info"}\n'; sleep 1; } |
		timeout 5 openssl s_client -connect "127.0.0.1:$PORT" "${certs[@]}" \
			-CAfile "$T/state/tls/cert.pem" -verify_return_error -quiet "$@" 2>"$T/ask.err" || true
}
out=$(ask "$T/tls-cp" -tls1_3)
expect_eq "$(jq -r .ok <<<"$out" 2>/dev/null)" true "the pinned control plane's request"
jq -e '.result.cpus > 0' <<<"$out" >/dev/null || fail "no host info in: $out"
log "pinned client over TLS 1.3: $(jq -c '{cpus: .result.cpus, accel: .result.accel}' <<<"$out")"

out=$(ask "" -tls1_3)
[ -z "$out" ] || fail "a client without a certificate got: $out"
out=$(ask "$T/tls-other" -tls1_3)
[ -z "$out" ] || fail "a client with another certificate got: $out"
out=$(ask "$T/tls-cp" -tls1_2)
[ -z "$out" ] || fail "a TLS 1.2 client got: $out"
log "no certificate, another certificate, TLS 1.2: refused, nothing answered"
expect_match "$(grep -c 'remote: 127.0.0.1 refused' "$T/agent.log")" '^[3-9]' "refusals logged"

# Bad input over TLS gets the same clear errors as on the unix socket.
out=$({ printf 'not json\n{"op":"nope"}\n'; sleep 1; } |
	timeout 5 openssl s_client -connect "127.0.0.1:$PORT" -cert "$T/tls-cp/cert.pem" \
		-key "$T/tls-cp/key.pem" -CAfile "$T/state/tls/cert.pem" -quiet 2>/dev/null || true)
expect_match "$out" '"code":"invalid"' "bad JSON over TLS"
expect_match "$out" "unknown op 'nope'" "unknown op over TLS"

# No private key in the agent's log.
for k in "$T/tls-cp/key.pem" "$T/state/tls/key.pem"; do
	body=$(grep -v -- '-----' "$k" | head -1)
	grep -qF -- "$body" "$T/agent.log" && fail "a private key is in the agent's log"
done
log "errors answered over TLS; no private key in the log"
log "refusals: $(grep -o "remote: 127.0.0.1 refused: .*" "$T/agent.log" | sort | uniq -c | tr -s " " | paste -sd ";" -)"
