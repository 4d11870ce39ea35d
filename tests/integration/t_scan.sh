#!/bin/bash
# cloudlet-scan on ext4 images built with mke2fs -d: an EICAR file (at the
# start of one file, in the middle of another) is reported by both engines
# at the byte offset where the file's data block puts it on the device
# (debugfs bmap); a clean image exits 0 with no output; a broken signature
# directory exits 2. Then scan throughput per engine is printed, not asserted.
. "$(dirname "$0")/lib.sh"
SCAN_BIN=${SCAN_BIN:-$ROOT/build/bin/cloudlet-scan}
SIGS=$ROOT/signatures
[ -x "$SCAN_BIN" ] || fail "$SCAN_BIN not built"
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
BS=4096

# A small tree of harmless files; the EICAR ones only when asked.
make_tree() {
	dir=$1 infected=$2
	mkdir -p "$dir/etc" "$dir/var/www/upload" "$dir/home/user"
	echo "clean config" >"$dir/etc/app.conf"
	head -c 300000 /dev/urandom >"$dir/home/user/blob.bin"
	head -c 70000 /dev/urandom >"$dir/var/www/upload/photo.jpg"
	if [ "$infected" = yes ]; then
		printf '%s' "$EICAR" >"$dir/var/www/upload/eicar.com"
		# EICAR at byte 50000 of a larger file: block 12, 848 bytes in.
		{
			head -c 50000 /dev/urandom
			printf '%s' "$EICAR"
			head -c 30000 /dev/urandom
		} >"$dir/home/user/report.pdf"
	fi
}

# Physical byte offset of byte `off` of file `path` inside image `img`.
phys_offset() {
	img=$1 path=$2 off=$3
	blk=$(debugfs -R "bmap $path $((off / BS))" "$img" 2>/dev/null | tail -n 1)
	case "$blk" in '' | *[!0-9]*) fail "debugfs bmap $path: '$blk'" ;; esac
	[ "$blk" -gt 0 ] || fail "$path: block $((off / BS)) not mapped"
	echo $((blk * BS + off % BS))
}

# The offsets one engine reported for a signature prefix, sorted.
offsets() { jq -r --arg e "$1" --arg s "$2" \
	'select(.engine == $e and (.signature | startswith($s))) | .offset' "$3" | sort -n; }

make_tree "$T/dirty" yes
make_tree "$T/clean" no
mke2fs -q -F -t ext4 -b $BS -d "$T/dirty" "$T/dirty.img" 64M >/dev/null || fail "mke2fs dirty"
mke2fs -q -F -t ext4 -b $BS -d "$T/clean" "$T/clean.img" 64M >/dev/null || fail "mke2fs clean"

# Infected image: exit 1, each EICAR reported once per engine, at the offset
# where the file system put its bytes.
rc=0
"$SCAN_BIN" --signatures "$SIGS" --json "$T/dirty.img" >"$T/hits.json" 2>"$T/scan.err" || rc=$?
[ $rc -eq 1 ] || { cat "$T/scan.err"; fail "infected image: exit $rc, expected 1"; }
log "hits: $(tr '\n' ' ' <"$T/hits.json")"
want1=$(phys_offset "$T/dirty.img" /var/www/upload/eicar.com 0)
want2=$(phys_offset "$T/dirty.img" /home/user/report.pdf 50000)
want=$(printf '%s\n%s\n' "$want1" "$want2" | sort -n)
for e in clamav:Cloudlet.Test.EICAR yara:Cloudlet_Test_EICAR; do
	got=$(offsets "${e%%:*}" "${e#*:}" "$T/hits.json")
	expect_eq "$got" "$want" "${e%%:*} EICAR offsets"
done
# The brief's check, spelled out: each offset lies inside the file's data block.
blk=$(debugfs -R "bmap /var/www/upload/eicar.com 0" "$T/dirty.img" 2>/dev/null | tail -n 1)
for e in clamav:Cloudlet.Test.EICAR yara:Cloudlet_Test_EICAR; do
	n=0
	for o in $(offsets "${e%%:*}" "${e#*:}" "$T/hits.json"); do
		[ "$o" -ge $((blk * BS)) ] && [ "$o" -lt $(((blk + 1) * BS)) ] && n=$((n + 1))
	done
	expect_eq "$n" 1 "${e%%:*} hits inside eicar.com's block $blk"
done
expect_eq "$(wc -l <"$T/hits.json")" 4 "number of hits"
log "EICAR at $want1 and $want2 (debugfs bmap), found there by clamav and yara"

# The plain-text output says the same.
"$SCAN_BIN" --signatures "$SIGS" "$T/dirty.img" 2>/dev/null | grep -q "offset $want1: clamav Cloudlet.Test.EICAR" ||
	fail "text output lacks the EICAR line"

# Clean image: exit 0, nothing printed.
rc=0
out=$("$SCAN_BIN" --signatures "$SIGS" "$T/clean.img" 2>"$T/scan.err") || rc=$?
[ $rc -eq 0 ] || { cat "$T/scan.err"; fail "clean image: exit $rc, expected 0"; }
expect_eq "$out" "" "clean image output"

# The .hdb sample: a whole-file hash, found when the file is scanned by itself.
rc=0
out=$("$SCAN_BIN" --signatures "$SIGS" "$SIGS/samples/hash-sample.txt" 2>/dev/null) || rc=$?
expect_eq "$rc" 1 "hash sample exit"
expect_match "$out" "offset 0: clamav Cloudlet.Test.HashSample"

# Broken signature directory: exit 2 and the file named.
mkdir "$T/badsigs"
echo 'rule broken { condition: $nope }' >"$T/badsigs/broken.yar"
rc=0
err=$("$SCAN_BIN" --signatures "$T/badsigs" "$T/clean.img" 2>&1 >/dev/null) || rc=$?
expect_eq "$rc" 2 "broken signatures exit"
expect_match "$err" "broken.yar"
mkdir "$T/nosigs"
rc=0
"$SCAN_BIN" --signatures "$T/nosigs" "$T/clean.img" 2>/dev/null || rc=$?
expect_eq "$rc" 2 "empty signature directory exit"

# Throughput on random data, per engine (printed, not asserted).
MB=${SCAN_BENCH_MB:-256} RUNS=1 SCAN_BIN="$SCAN_BIN" "$ROOT/bench/scan" |
	while read -r line; do log "$line"; done
