#!/bin/bash
# Differential: the same random writes (unaligned, across extent
# boundaries), write-zeroes, trims and flushes through cloudlet-storaged's
# NBD export and against a plain file; the contents must agree, for a
# mirrored and a striped volume, and after a restart of the server.
. "$(dirname "$0")/storage_lib.sh"

SIZE=$((48 * 1024 * 1024))
sd_devices 3 512M
sd_start
sctl volume.create "{\"name\":\"m1\",\"tenant\":\"a\",\"size\":$SIZE}" >/dev/null
sctl volume.create "{\"name\":\"s1\",\"tenant\":\"a\",\"size\":$SIZE,\"redundancy\":\"stripe\"}" >/dev/null
sctl export.create '{"vm":"vm1","tenant":"a","volumes":["m1","s1"]}' >/dev/null

# N random operations as qemu-io commands (seeded, printed for replay).
gen_ops() {
	awk -v seed="$1" -v n="$2" -v size="$SIZE" 'BEGIN {
		srand(seed);
		for (i = 0; i < n; i++) {
			r = rand();
			if (r < 0.70) {
				len = 1 + int(rand() * 300000);
				if (rand() < 0.5) len = 4096 * (1 + int(rand() * 64));
				off = int(rand() * (size - len));
				if (rand() < 0.5) off -= off % 4096;
				printf "write -P %d %d %d\n", 1 + int(rand() * 250), off, len;
			} else if (r < 0.82) {
				len = 1 + int(rand() * 2000000);
				off = int(rand() * (size - len));
				printf "write -z %d %d\n", off, len;
			} else if (r < 0.94) {
				len = 65536 * (1 + int(rand() * 40));
				off = 65536 * int(rand() * ((size - len) / 65536));
				printf "discard %d %d\n", off, len;
			} else {
				print "flush";
			}
		}
	}'
}

for vol in m1 s1; do
	seed=$((RANDOM * 32768 + RANDOM))
	log "$vol: 400 random operations, seed $seed"
	gen_ops "$seed" 400 >"$T/ops.$vol"
	truncate -s $SIZE "$T/ref.$vol"
	qemu-io -f raw "$T/ref.$vol" <"$T/ops.$vol" >"$T/ref.out" 2>&1 ||
		fail "qemu-io on the file failed"
	qemu-io -f raw "$(nbd_uri $vol vm1)" <"$T/ops.$vol" >"$T/nbd.out" 2>&1 ||
		fail "qemu-io over NBD failed: $(tail -3 "$T/nbd.out")"
	if grep -qi 'error\|failed' "$T/nbd.out"; then
		fail "$vol: an NBD request failed: $(grep -i 'error\|failed' "$T/nbd.out" | head -3)"
	fi
	nops=$(grep -c "wrote [0-9]\|discard [0-9]" "$T/nbd.out" || true)
	[ "$nops" -gt 300 ] || fail "$vol: only $nops operations ran"
	qemu-img compare -f raw -F raw "$T/ref.$vol" "$(nbd_uri $vol vm1)" >"$T/cmp.out" 2>&1 ||
		fail "$vol: contents differ (seed $seed): $(cat "$T/cmp.out")"
	log "$vol: identical to the reference file"
done

log "restart: contents survive"
sd_stop
sd_start
for vol in m1 s1; do
	qemu-img compare -f raw -F raw "$T/ref.$vol" "$(nbd_uri $vol vm1)" >"$T/cmp.out" 2>&1 ||
		fail "$vol after restart: $(cat "$T/cmp.out")"
done
expect_eq "$(sctl pool.info | jq -r .clean_start)" true "clean_start after SIGTERM"
sc=$(sctl scrub)
expect_eq "$(printf '%s' "$sc" | jq -r .errors)" 0 "scrub errors"
log "scrub clean: $sc"
