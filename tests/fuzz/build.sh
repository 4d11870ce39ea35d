#!/bin/sh
# Build the libFuzzer harnesses into build/fuzz/ (clang with ASan and UBSan).
#
#   tests/fuzz/build.sh              build
#   tests/fuzz/build.sh run [SECS]   build, then fuzz the spec parser for SECS
#                                    seconds (default 60)
#
# New inputs go to build/fuzz/corpus/spec (seeded from tests/fuzz/corpus/spec);
# a crash leaves build/fuzz/crash-* to replay with build/fuzz/fuzz_spec FILE.
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
SRC="src/agent/spec.c src/agent/disk.c src/agent/qemu.c src/agent/tap.c \
     src/common/strv.c src/common/util.c src/common/log.c"

mkdir -p "$OUT/corpus/spec"
# shellcheck disable=SC2086 # word splitting of the flag lists is intended
"$CC" -std=gnu11 -g -O1 -fno-omit-frame-pointer $SAN $WARN \
	-Isrc/common -Isrc/agent \
	-o "$OUT/fuzz_spec" tests/fuzz/fuzz_spec.c $SRC -ljansson -pthread
echo "built $OUT/fuzz_spec"

if [ "${1-}" = run ]; then
	secs=${2-60}
	"$OUT/fuzz_spec" -max_total_time="$secs" -dict=tests/fuzz/spec.dict \
		-max_len=4096 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$OUT/" "$OUT/corpus/spec" tests/fuzz/corpus/spec
fi
