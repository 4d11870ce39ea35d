# storage_lib.sh - shared by the storage integration tests (t_storage_*.sh).
# Each test gets its own temp dir with sparse device files, its own
# cloudlet-storaged (killed by PID on exit) and helpers for the control
# socket. Needs no VM, no network, no lib.sh.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STORAGED_BIN=${STORAGED_BIN:-$ROOT/build/bin/cloudlet-storaged}
TNAME=$(basename "$0" .sh)
T=$(mktemp -d /tmp/clstor.XXXXXX)
chmod 711 "$T"
SD_PID=
EXTRA_PIDS=

log() { printf '%s [%s] %s\n' "$(date +%T)" "$TNAME" "$*"; }

fail() {
	echo "FAIL [$TNAME]: $*" >&2
	echo "---- storaged log" >&2
	tail -n 40 "$T/sd.log" >&2 2>/dev/null || true
	exit 1
}

cleanup() {
	rc=$?
	set +e
	for p in $EXTRA_PIDS; do kill -9 "$p" 2>/dev/null; done
	[ -n "$SD_PID" ] && kill -9 "$SD_PID" 2>/dev/null && wait "$SD_PID" 2>/dev/null
	rm -rf "$T"
	if [ $rc -eq 0 ]; then log "PASS"; else log "FAIL (exit $rc)"; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# sd_devices N SIZE: N sparse device files $T/dev0 .. (once).
sd_devices() {
	i=0
	while [ $i -lt "$1" ]; do
		[ -f "$T/dev$i" ] || truncate -s "$2" "$T/dev$i"
		i=$((i + 1))
	done
	SD_DEVS=
	i=0
	while [ $i -lt "$1" ]; do
		SD_DEVS="$SD_DEVS --device $T/dev$i"
		i=$((i + 1))
	done
}

# sd_start [extra args]: start the server on $T (devices from sd_devices).
sd_start() {
	# shellcheck disable=SC2086 # SD_DEVS is a list of options
	"$STORAGED_BIN" serve --pool-dir "$T/pool" $SD_DEVS --control "$T/ctl.sock" \
		--export-dir "$T/exp" "$@" >>"$T/sd.log" 2>&1 &
	SD_PID=$!
	i=0
	while ! sctl_raw '{"op":"pool.info"}' >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "storaged did not answer"
		kill -0 "$SD_PID" 2>/dev/null || fail "storaged exited at start"
		sleep 0.05
	done
}

sd_stop() {
	kill "${1:--TERM}" "$SD_PID" 2>/dev/null || true
	wait "$SD_PID" 2>/dev/null || true
	SD_PID=
}

sctl_raw() { printf '%s\n' "$1" | socat -t 60 - "UNIX-CONNECT:$T/ctl.sock"; }

# sctl OP ARGS_JSON: prints .result, fails on an error reply.
sctl() {
	out=$(sctl_raw "{\"op\":\"$1\",\"args\":${2:-{\}}}") || fail "control $1: no answer"
	[ "$(printf '%s' "$out" | jq -r .ok)" = true ] || fail "control $1 $2: $out"
	printf '%s' "$out" | jq -c .result
}

# sctl_err OP ARGS_JSON: prints the error code, fails on success.
sctl_err() {
	out=$(sctl_raw "{\"op\":\"$1\",\"args\":${2:-{\}}}") || fail "control $1: no answer"
	[ "$(printf '%s' "$out" | jq -r .ok)" = false ] || fail "control $1 $2 should fail: $out"
	printf '%s' "$out" | jq -r .error.code
}

# An NBD URI for volume $1 on the export of VM $2.
nbd_uri() { echo "nbd+unix:///$1?socket=$T/exp/$2.sock"; }

expect_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"; }

# The storage test driver (tests/integration/storage_driver.c), built once.
storage_driver() {
	drv=$ROOT/build/tests/storage/storage_driver
	if [ ! -x "$drv" ] || [ "$ROOT/tests/integration/storage_driver.c" -nt "$drv" ]; then
		mkdir -p "$(dirname "$drv")"
		cc -O2 -Wall -o "$drv.tmp.$$" "$ROOT/tests/integration/storage_driver.c" &&
			mv "$drv.tmp.$$" "$drv"
	fi
	echo "$drv"
}
