# pg_lib.sh - a real PostgreSQL 15 for one test (Debian's postgresql-15):
# initdb into a fresh directory as the unprivileged user cloudlet-pg
# (scripts/setup.sh creates it), listening on a unix socket in that
# directory only (no TCP), trust authentication for the socket (only
# processes on this machine that can reach the directory connect).
#
# pg_start sets PG_DIR and PG_URL; pg_restart restarts the server (same
# data); pg_stop stops it (pg_ctl stop, then kill -9 of its postmaster by
# PID) and removes the directory. Sourced after lib.sh: pg_stop runs from
# lib.sh's cleanup (the EXIT trap) through CLEANUP_HOOKS, also when the test
# fails. Unit tests use it from tests/unit/pg_store_tests.sh.
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=${PG_USER:-cloudlet-pg}
PG_DIR=
PG_PID=
PG_URL=

CLEANUP_HOOKS="${CLEANUP_HOOKS-} pg_stop"

pg_as() { runuser -u "$PG_USER" -- "$@"; }

pg_start() {
	[ -x "$PG_BIN/initdb" ] || { echo "pg_lib: no $PG_BIN/initdb (make setup)" >&2; return 1; }
	PG_DIR=$(mktemp -d /tmp/cltest-pg.XXXXXX)
	chown "$PG_USER" "$PG_DIR"
	chmod 755 "$PG_DIR" # the socket is reached by cloudletd (user cloudlet)
	pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --no-sync \
		>"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
	pg_server start
	pg_as "$PG_BIN/createdb" -h "$PG_DIR" -U postgres cloudlet
	PG_URL="postgresql:///cloudlet?host=$PG_DIR&user=postgres"
}

# Start or restart the server and note its postmaster's PID. fsync off:
# a test's database need not survive a crash of the machine.
pg_server() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
		-o "-c listen_addresses='' -k $PG_DIR -c fsync=off -c max_connections=200" \
		"$1" >/dev/null
	PG_PID=$(head -n 1 "$PG_DIR/data/postmaster.pid")
}

pg_restart() { pg_server restart; }

pg_stop() {
	[ -n "$PG_DIR" ] || return 0
	if [ -f "$PG_DIR/data/postmaster.pid" ]; then
		pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 10 stop \
			>/dev/null 2>&1 || true
	fi
	# Still there (stop failed): by PID, once it is sure to be ours.
	if [ -n "$PG_PID" ] && tr '\0' ' ' <"/proc/$PG_PID/cmdline" 2>/dev/null | grep -q "$PG_DIR"; then
		kill -9 "$PG_PID" 2>/dev/null || true
	fi
	rm -rf "$PG_DIR"
	PG_DIR=
	PG_PID=
}
