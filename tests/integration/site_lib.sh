# site_lib.sh - two disaster-recovery sites on this machine (docs/dr.md),
# for tests and benches that source lib.sh first.
#
# Site a is the primary, site b its standby. Each has its own PostgreSQL
# (scripts/site-pg.sh: a's streams to b over TLS on 127.0.0.1) and its own
# cloudletd ($T/site-X, log $T/site-X.log) with a site link on a loopback
# port; each pins the other's certificate. Everything is stopped by
# lib.sh's cleanup through CLEANUP_HOOKS, also when the test fails.

declare -A SPID SURL SLINK SFPR # site -> cloudletd PID, API URL, link address, fingerprint
CP_HOSTS=1
SITE_PG_PORT=$((20000 + RANDOM % 30000))
SITE_LEASE_MS=${SITE_LEASE_MS:-3000}
CLEANUP_HOOKS="${CLEANUP_HOOKS-} sites_stop"

site_pg_url() { echo "postgresql:///cloudlet?host=$T/pg-$1&port=$SITE_PG_PORT&user=postgres"; }

# sites_make: both databases (b a hot standby of a), the operator token
# (OPERATOR, made at a), both identities and link ports.
sites_make() {
	PG_FSYNC=off "$ROOT/scripts/site-pg.sh" primary "$T/pg-a" 127.0.0.1 "$SITE_PG_PORT" ||
		fail "site a's PostgreSQL"
	PG_FSYNC=off "$ROOT/scripts/site-pg.sh" standby "$T/pg-b" 127.0.0.1 "$SITE_PG_PORT" \
		"$T/pg-a/server.crt" "$T/pg-a/replication.pass" || fail "site b's PostgreSQL"
	OPERATOR=$("$CLOUDLETD_BIN" init --state-dir "$T/site-a" --store "$(site_pg_url a)" \
		2>>"$T/site-a.log") || fail "cloudletd init"
	for s in a b; do
		SFPR[$s]=$("$CLOUDLETD_BIN" fingerprint --state-dir "$T/site-$s") || fail "fingerprint $s"
		SLINK[$s]=127.0.0.1:$((20000 + RANDOM % 30000))
	done
}

# site_start S ROLE [PEER_FINGERPRINT]: cloudletd of site S (its role when
# its site.json is new), pinning the other site (or the fingerprint given).
# SITE_ARGS: more cloudletd flags (one word each).
site_start() {
	local s=$1 role=$2 o=a
	[ "$s" = a ] && o=b
	# shellcheck disable=SC2086 # SITE_ARGS is a list of words
	cp_launch "$T/site-$s" "$T/site-$s.log" --store "$(site_pg_url "$s")" \
		--site-name "$s" --site-role "$role" --site-listen "${SLINK[$s]}" \
		--site-peer "${SLINK[$o]}" --site-peer-fingerprint "${3:-${SFPR[$o]}}" \
		--site-lease-ms "$SITE_LEASE_MS" ${SITE_ARGS-} || fail "cloudletd of site $s did not start"
	SPID[$s]=$LAUNCH_PID
	SURL[$s]=$LAUNCH_URL
}

# site_kill S [SIGNAL]: stop site S's cloudletd (default SIGTERM).
site_kill() {
	kill "-${2:-TERM}" "${SPID[$1]}" 2>/dev/null
	wait "${SPID[$1]}" 2>/dev/null || true
	SPID[$1]=
}

# site_wait_writable S: until S takes writes (its lease held), 10 s at most.
site_wait_writable() {
	for _ in $(seq 1 100); do
		site_get "$1"
		[ "$(jq -r .writable <<<"$BODY")" = true ] && return 0
		sleep 0.1
	done
	fail "site $1 is not writable: $BODY"
}

# sites_hosts_add: hosts h1 (site a) and h2 (site b), hosts_lib.sh's agents,
# recorded at a (the primary), h1 up.
sites_hosts_add() {
	URL=${SURL[a]} cli host add h1 --socket "$T/h1/agent.sock" --underlay 192.168.251.1 --site a \
		>/dev/null || fail "host add h1"
	URL=${SURL[a]} cli host add h2 --socket "$T/h2/agent.sock" --underlay 192.168.251.2 --site b \
		>/dev/null || fail "host add h2"
	for _ in $(seq 1 50); do [ "$(URL=${SURL[a]} hstate h1)" = up ] && return 0; sleep 0.2; done
	fail "host h1 is not up"
}

# sites_up: the usual pair with hosts: the datacenter and agents h1 and h2
# (hosts_lib.sh), both sites' databases and cloudletds (a primary, b its
# standby, a writable), h1 of site a and h2 of site b recorded at a.
sites_up() {
	dc_make 2
	host_start 1
	host_start 2
	sites_make
	site_start a primary
	site_start b standby
	site_wait_writable a
	sites_hosts_add
}

# site_outside N: the outside computer of host N's site: namespace
# clo<N>-$$ on host N's external network.
site_outside() {
	netns_add "clo$1-$$"
	EXT_NETNS=clhx$1-$$ EXT_BRIDGE=chx$1$$ outside_attach "clo$1-$$" "s$1"
}

# site_get S: GET /v1/site at S (operator) into BODY.
site_get() { URL=${SURL[$1]} api GET /v1/site "$OPERATOR"; }

# at S METHOD PATH TOKEN [BODY]: api against site S.
at() {
	local s=$1
	shift
	URL=${SURL[$s]} api "$@"
}

sites_stop() {
	for s in "${!SPID[@]}"; do
		[ -n "${SPID[$s]}" ] && kill -9 "${SPID[$s]}" 2>/dev/null && wait "${SPID[$s]}" 2>/dev/null
	done
	for s in a b; do
		[ -d "$T/pg-$s/data" ] && "$ROOT/scripts/site-pg.sh" stop "$T/pg-$s" 2>/dev/null
	done
	return 0
}
