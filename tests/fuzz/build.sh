#!/bin/sh
# Build the libFuzzer harnesses into build/fuzz/ (clang with ASan and UBSan).
#
#   tests/fuzz/build.sh              build
#   tests/fuzz/build.sh run [SECS]   build, then fuzz each harness for SECS
#                                    seconds (default 60): the agent's spec
#                                    parser, its ssh key parser (sshkey),
#                                    cloudletd's request parsing, user-data
#                                    and its #cloud-config translation, the
#                                    NBD parser, network state, the JSON line
#                                    reader (msg), the QMP client (qmp), join
#                                    tokens and join requests (join), and the
#                                    IDS sensor's rule parser, app-layer parsers
#                                    and packet path (idsrule, idsapp, idspkt),
#                                    the agent's EVE reader (idseve), the
#                                    replica operations' arguments (replica),
#                                    the site link's hellos (sitemsg)
#
# New inputs go to build/fuzz/corpus/NAME (seeded from tests/fuzz/corpus/NAME,
# NAME = spec, sshkey, request, nbd, netstate, msg, qmp, replica, ...); a crash leaves
# build/fuzz/crash-* (spec) or build/fuzz/NAME-crash-* to replay with
# build/fuzz/fuzz_NAME FILE. `run` fuzzes every harness even after one
# fails and exits non-zero if any found a crash, leak or broken invariant.
# Needs clang and its libFuzzer runtime (Debian: clang, libclang-rt-*-dev).
# WERROR= turns warnings back into warnings, as in the Makefile.
set -eu

cd "$(dirname "$0")/../.."
CC=${CC:-clang}
OUT=${OUT:-build/fuzz}
WERROR=${WERROR--Werror}

WARN="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
      -Wpointer-arith -Wcast-qual -Wno-missing-field-initializers $WERROR"
SAN="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
# Only what spec parsing and the texts and argv built from a spec need.
SRC="src/agent/base/spec.c src/common/sshkey.c src/common/userdata.c src/agent/engine/disk.c src/agent/engine/qemu.c src/agent/engine/tap.c \
     src/common/strv.c src/common/util.c src/common/log.c src/common/jsonv.c"
# Request parsing is pure: request.c, the catalog's types, the common library.
# tlsid.c and tlsconn.c (GnuTLS) are TLS and sshkey.c (libsodium) the ssh
# key parser, wgkey.c (libsodium) WireGuard keys: nothing a request parser uses.
# userdata.c checks user_data (libyaml; sshkey.c and libsodium for its keys).
REQ_SRC="src/daemon/request.c src/daemon/catalog.c $(ls src/common/*.c | grep -v -e /tls -e /wgkey.c)"

mkdir -p "$OUT/corpus/spec" "$OUT/corpus/request"
# shellcheck disable=SC2086 # word splitting of the flag lists is intended
"$CC" -std=gnu11 -g -O1 -fno-omit-frame-pointer $SAN $WARN \
	-Isrc/common -Isrc/agent/base -Isrc/agent/engine -Isrc/agent/net \
	-o "$OUT/fuzz_spec" tests/fuzz/fuzz_spec.c $SRC -ljansson -lsodium -lyaml -pthread
echo "built $OUT/fuzz_spec"
# shellcheck disable=SC2086
"$CC" -std=gnu11 -g -O1 -fno-omit-frame-pointer $SAN $WARN \
	-Isrc/daemon -Isrc/common \
	-o "$OUT/fuzz_request" tests/fuzz/fuzz_request.c $REQ_SRC -ljansson -lsodium -lyaml -pthread
echo "built $OUT/fuzz_request"
# OpenSSH public key lines (a VM's ssh_keys): sshkey.c with libsodium's base64.
mkdir -p "$OUT/corpus/sshkey"
# shellcheck disable=SC2086
"$CC" -std=gnu11 -g -O1 -fno-omit-frame-pointer $SAN $WARN -Isrc/common \
	-o "$OUT/fuzz_sshkey" tests/fuzz/fuzz_sshkey.c src/common/sshkey.c -lsodium
echo "built $OUT/fuzz_sshkey"
# A VM's user-data and its #cloud-config translated for the busybox images.
mkdir -p "$OUT/corpus/userdata"
# shellcheck disable=SC2086
"$CC" -std=gnu11 -g -O1 -fno-omit-frame-pointer $SAN $WARN -Isrc/common \
	-o "$OUT/fuzz_userdata" tests/fuzz/fuzz_userdata.c src/common/userdata.c \
	src/common/sshkey.c -lyaml -lsodium
echo "built $OUT/fuzz_userdata"
# The NBD parser is pure: nbd.c alone.
mkdir -p "$OUT/corpus/nbd"
# shellcheck disable=SC2086
"$CC" -std=gnu11 -g -O1 -fno-omit-frame-pointer $SAN $WARN -Isrc/storage \
	-o "$OUT/fuzz_nbd" tests/fuzz/fuzz_nbd.c src/storage/nbd.c
echo "built $OUT/fuzz_nbd"
# A tenant's network state and the nftables text made from it (pure).
mkdir -p "$OUT/corpus/netstate"
# shellcheck disable=SC2086
"$CC" -std=gnu11 -g -O1 -fno-omit-frame-pointer $SAN $WARN -Isrc/common -Isrc/agent/base -Isrc/agent/engine -Isrc/agent/net \
	-o "$OUT/fuzz_netstate" tests/fuzz/fuzz_netstate.c src/agent/net/netstate.c src/agent/net/nft.c \
	src/common/jsonv.c src/common/idssup.c -ljansson
echo "built $OUT/fuzz_netstate"
# The JSON line reader of the control socket and of QMP (msg.c, fed in
# pieces and through a socketpair), and the QMP client's reading of what
# QEMU sends (qmp.c on top of it). Both pure but for msg_read's socket.
mkdir -p "$OUT/corpus/msg" "$OUT/corpus/qmp"
# shellcheck disable=SC2086
"$CC" -std=gnu11 -g -O1 -fno-omit-frame-pointer $SAN $WARN -Isrc/common \
	-o "$OUT/fuzz_msg" tests/fuzz/fuzz_msg.c src/common/msg.c src/common/util.c \
	src/common/log.c -ljansson -pthread
echo "built $OUT/fuzz_msg"
# shellcheck disable=SC2086
"$CC" -std=gnu11 -g -O1 -fno-omit-frame-pointer $SAN $WARN -Isrc/common -Isrc/agent/engine \
	-o "$OUT/fuzz_qmp" tests/fuzz/fuzz_qmp.c src/agent/engine/qmp.c src/common/msg.c \
	src/common/util.c src/common/log.c -ljansson -pthread
echo "built $OUT/fuzz_qmp"
# Join tokens and join requests (pure: jointoken.c).
mkdir -p "$OUT/corpus/join"
# shellcheck disable=SC2086
"$CC" -std=gnu11 -g -O1 -fno-omit-frame-pointer $SAN $WARN -Isrc/common \
	-o "$OUT/fuzz_join" tests/fuzz/fuzz_join.c src/common/jointoken.c src/common/util.c \
	src/common/log.c -ljansson -pthread
echo "built $OUT/fuzz_join"

# The arguments of the replica operations and a replica's state.json disks
# (pure: replica_args.c, op_fail).
mkdir -p "$OUT/corpus/replica"
# shellcheck disable=SC2086
"$CC" -std=gnu11 -g -O1 -fno-omit-frame-pointer $SAN $WARN -Isrc/agent/vm -Isrc/agent/base \
	-o "$OUT/fuzz_replica" tests/fuzz/fuzz_replica.c src/agent/vm/replica_args.c \
	src/agent/base/operr.c -ljansson
echo "built $OUT/fuzz_replica"

# What the other site sends on the site link, and site names (pure:
# sitemsg.c, on the JSON line reader).
mkdir -p "$OUT/corpus/sitemsg"
# shellcheck disable=SC2086
"$CC" -std=gnu11 -g -O1 -fno-omit-frame-pointer $SAN $WARN -Isrc/daemon -Isrc/common \
	-o "$OUT/fuzz_sitemsg" tests/fuzz/fuzz_sitemsg.c src/daemon/sitemsg.c src/common/msg.c \
	src/common/util.c src/common/log.c -ljansson -pthread
echo "built $OUT/fuzz_sitemsg"

# The agent's reader of the sensor's EVE output and its alert ring (pure).
mkdir -p "$OUT/corpus/idseve"
# shellcheck disable=SC2086
"$CC" -std=gnu11 -g -O1 -fno-omit-frame-pointer $SAN $WARN -Isrc/agent/appliance \
	-o "$OUT/fuzz_idseve" tests/fuzz/fuzz_idseve.c src/agent/appliance/idseve.c -ljansson
echo "built $OUT/fuzz_idseve"

# The IDS sensor (src/ids): its rule parser, its app-layer parsers, and the
# whole packet path under one tenant's rules and detectors.
IDS_SRC="src/ids/addr.c src/ids/rule.c src/ids/rulekw.c src/ids/ruleset.c src/ids/mpm.c src/ids/match.c \
	src/ids/detect.c src/ids/detect_build.c src/ids/detect_aidx.c src/ids/detect_thresh.c \
	src/ids/decode.c src/ids/stream.c src/ids/flow.c src/ids/http.c \
	src/ids/dns.c src/ids/tls.c src/ids/portscan.c src/ids/spoof.c src/ids/gate.c \
	src/ids/eve.c src/ids/netcfg.c src/ids/sensor.c src/common/log.c src/common/util.c \
	src/common/jsonv.c"
IDS_LIBS="$(pkg-config --libs libhs libpcre2-8) -ljansson -lm"
for h in idsrule idsapp idspkt; do
	mkdir -p "$OUT/corpus/$h"
	# shellcheck disable=SC2086
	"$CC" -std=gnu11 -g -O1 -fno-omit-frame-pointer $SAN $WARN -Isrc/ids -Isrc/common \
		$(pkg-config --cflags libhs) -o "$OUT/fuzz_$h" tests/fuzz/fuzz_$h.c $IDS_SRC $IDS_LIBS
	echo "built $OUT/fuzz_$h"
done

# The request bodies' field names and the values on their limits.
cat >"$OUT/request.dict" <<'DICT'
"\"name\""
"\"service\""
"\"image\""
"\"vcpus\""
"\"memory_mib\""
"\"disk_gib\""
"\"user_data\""
"\"max_vcpus\""
"\"max_memory_mib\""
"\"max_disk_gib\""
"\"max_vms\""
"\"action\""
"\"force\""
"\"start\""
"\"stop\""
"\"reboot\""
"\"web-hosting\""
"true"
"false"
"null"
"1073741824"
"1073741825"
"1048576"
"1048577"
"100000"
"100001"
"9223372036854775807"
"-9223372036854775808"
"999999999999999999"
"\\u0000"
DICT

if [ "${1-}" = run ]; then
	secs=${2-60}
	failed=
	"$OUT/fuzz_spec" -max_total_time="$secs" -dict=tests/fuzz/spec.dict \
		-max_len=4096 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$OUT/" "$OUT/corpus/spec" tests/fuzz/corpus/spec ||
		failed="$failed spec"
	# -max_len covers a full-size user_data now and then (REQ_USER_DATA_MAX
	# is 16 KiB); the 64 KiB body limit is checked once at start-up.
	"$OUT/fuzz_request" -max_total_time="$secs" -dict="$OUT/request.dict" \
		-max_len=40000 -len_control=200 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$OUT/request-" "$OUT/corpus/request" tests/fuzz/corpus/request ||
		failed="$failed request"
	"$OUT/fuzz_sshkey" -max_total_time="$secs" -max_len=5000 -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$OUT/sshkey-" "$OUT/corpus/sshkey" \
		tests/fuzz/corpus/sshkey || failed="$failed sshkey"
	"$OUT/fuzz_userdata" -max_total_time="$secs" -dict=tests/fuzz/userdata.dict \
		-max_len=17000 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$OUT/userdata-" "$OUT/corpus/userdata" \
		tests/fuzz/corpus/userdata || failed="$failed userdata"
	"$OUT/fuzz_nbd" -max_total_time="$secs" -max_len=4096 -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$OUT/nbd-" "$OUT/corpus/nbd" \
		tests/fuzz/corpus/nbd || failed="$failed nbd"
	"$OUT/fuzz_netstate" -max_total_time="$secs" -max_len=8192 -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$OUT/netstate-" "$OUT/corpus/netstate" \
		tests/fuzz/corpus/netstate || failed="$failed netstate"
	"$OUT/fuzz_msg" -max_total_time="$secs" -dict=tests/fuzz/msg.dict -max_len=8192 \
		-timeout=10 -print_final_stats=1 -artifact_prefix="$OUT/msg-" "$OUT/corpus/msg" \
		tests/fuzz/corpus/msg || failed="$failed msg"
	"$OUT/fuzz_qmp" -max_total_time="$secs" -dict=tests/fuzz/qmp.dict -max_len=8192 \
		-timeout=10 -print_final_stats=1 -artifact_prefix="$OUT/qmp-" "$OUT/corpus/qmp" \
		tests/fuzz/corpus/qmp || failed="$failed qmp"
	"$OUT/fuzz_join" -max_total_time="$secs" -dict=tests/fuzz/join.dict -max_len=4096 \
		-timeout=10 -print_final_stats=1 -artifact_prefix="$OUT/join-" "$OUT/corpus/join" \
		tests/fuzz/corpus/join || failed="$failed join"
	"$OUT/fuzz_idseve" -max_total_time="$secs" -max_len=8192 -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$OUT/idseve-" "$OUT/corpus/idseve" \
		tests/fuzz/corpus/idseve || failed="$failed idseve"
	"$OUT/fuzz_replica" -max_total_time="$secs" -dict=tests/fuzz/replica.dict \
		-max_len=4096 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$OUT/replica-" "$OUT/corpus/replica" \
		tests/fuzz/corpus/replica || failed="$failed replica"
	"$OUT/fuzz_sitemsg" -max_total_time="$secs" -max_len=8192 -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$OUT/sitemsg-" "$OUT/corpus/sitemsg" \
		tests/fuzz/corpus/sitemsg || failed="$failed sitemsg"
	# The IDS: rule text (dictionary of its keywords), app-layer bytes, frames.
	for h in idsrule idsapp idspkt; do
		dict=
		[ -f "tests/fuzz/$h.dict" ] && dict="-dict=tests/fuzz/$h.dict"
		# shellcheck disable=SC2086
		"$OUT/fuzz_$h" -max_total_time="$secs" $dict -max_len=8192 -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$OUT/$h-" \
			"$OUT/corpus/$h" "tests/fuzz/corpus/$h" || failed="$failed $h"
	done
	if [ -n "$failed" ]; then
		echo "fuzzing failed:$failed (see the crash-* files in $OUT)" >&2
		exit 1
	fi
fi
