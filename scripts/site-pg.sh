#!/bin/bash
# site-pg.sh - the PostgreSQL 15 of a disaster-recovery site (docs/dr.md):
# the primary's, serving its cloudletd on a unix socket and streaming its
# WAL to the standby over TLS; or the standby's, a hot standby made from
# the primary with pg_basebackup, which its cloudletd reads until failover.
# Replication is PostgreSQL's own; this script only sets it up.
#
#   site-pg.sh primary DIR LISTEN_IP PORT
#       initdb in DIR/data (as PG_USER), a self-signed TLS certificate for
#       LISTEN_IP (DIR/server.crt: what the standby pins), a replication
#       role "replicator" with a random password (DIR/replication.pass,
#       0600), pg_hba: replication over TLS from anywhere with that
#       password (scram-sha-256), nothing else over TCP. Starts it.
#   site-pg.sh standby DIR PRIMARY_IP PORT PRIMARY_CERT PASSFILE
#       pg_basebackup from the primary (sslmode=verify-ca against
#       PRIMARY_CERT), -R: a hot standby streaming from it. Starts it.
#   site-pg.sh start|stop DIR
#
# Every server listens on the unix socket in DIR (cloudletd connects
# there: postgresql:///cloudlet?host=DIR&user=postgres). fsync stays on
# unless PG_FSYNC=off (tests). Run as root; the server runs as PG_USER.
set -eu
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=${PG_USER:-cloudlet-pg}

as() { runuser -u "$PG_USER" -- "$@"; }
die() { echo "site-pg: $*" >&2; exit 1; }

server() { # start|stop DIR
	local dir=$1 mode=$2
	if [ "$mode" = start ]; then
		as "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
			-o "-k $dir -c fsync=${PG_FSYNC:-on} -c max_connections=200" start >/dev/null
	else
		[ -f "$dir/data/postmaster.pid" ] || return 0
		as "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 20 stop >/dev/null 2>&1 ||
			as "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
	fi
}

primary() {
	local dir=$1 ip=$2 port=$3 pass
	[ -x "$PG_BIN/initdb" ] || die "no $PG_BIN/initdb (make setup)"
	mkdir -p "$dir"
	chown "$PG_USER" "$dir"
	chmod 755 "$dir"
	as "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
		die "initdb: $(tail -3 "$dir/initdb.log")"
	# The server's TLS identity: ECDSA P-256, self-signed for its address.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
		-subj "/CN=$ip" -addext "subjectAltName=IP:$ip" \
		-keyout "$dir/data/server.key" -out "$dir/data/server.crt" 2>/dev/null
	chown "$PG_USER" "$dir/data/server.key" "$dir/data/server.crt"
	chmod 600 "$dir/data/server.key"
	cp "$dir/data/server.crt" "$dir/server.crt"
	umask 077
	pass=$(openssl rand -hex 24)
	printf '%s\n' "$pass" >"$dir/replication.pass"
	cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '$ip'
port = $port
ssl = on
ssl_min_protocol_version = 'TLSv1.3'
password_encryption = 'scram-sha-256'
wal_level = replica
max_wal_senders = 10
wal_keep_size = '256MB'
EOF
	cat >"$dir/data/pg_hba.conf" <<EOF
local   all          all                         trust
hostssl replication  replicator  0.0.0.0/0       scram-sha-256
EOF
	server "$dir" start
	# The password on stdin (psql's \password would prompt): never in argv.
	printf "CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '%s';\n" "$pass" |
		as "$PG_BIN/psql" -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 >/dev/null
	as "$PG_BIN/createdb" -h "$dir" -p "$port" -U postgres cloudlet
}

standby() {
	local dir=$1 ip=$2 port=$3 cert=$4 passfile=$5 pgpass
	mkdir -p "$dir"
	chown "$PG_USER" "$dir"
	chmod 755 "$dir"
	cp "$cert" "$dir/primary.crt"
	chown "$PG_USER" "$dir/primary.crt"
	# libpq's password file, readable by the server's user alone; -R names
	# it in primary_conninfo (postgresql.auto.conf): the standby reconnects
	# with it, the password is in no configuration file and no argv.
	pgpass=$dir/.pgpass
	( umask 077; printf '%s:%s:replication:replicator:%s\n' "$ip" "$port" "$(cat "$passfile")" >"$pgpass" )
	chown "$PG_USER" "$pgpass"
	as env PGPASSFILE="$pgpass" "$PG_BIN/pg_basebackup" -D "$dir/data" -R -X stream -c fast \
		-d "host=$ip port=$port user=replicator sslmode=verify-ca sslrootcert=$dir/primary.crt" \
		>"$dir/basebackup.log" 2>&1 || die "pg_basebackup: $(tail -3 "$dir/basebackup.log")"
	# Its own port for the socket's name; it listens on no address.
	cat >>"$dir/data/postgresql.auto.conf" <<EOF
listen_addresses = ''
port = $port
hot_standby = on
EOF
	server "$dir" start
}

cmd=${1:-}
shift || true
case $cmd in
primary) [ $# -eq 3 ] || die "usage: site-pg.sh primary DIR LISTEN_IP PORT"; primary "$@" ;;
standby) [ $# -eq 5 ] || die "usage: site-pg.sh standby DIR PRIMARY_IP PORT PRIMARY_CERT PASSFILE"; standby "$@" ;;
start | stop) [ $# -eq 1 ] || die "usage: site-pg.sh $cmd DIR"; server "$1" "$cmd" ;;
*) die "usage: site-pg.sh primary|standby|start|stop ..." ;;
esac
