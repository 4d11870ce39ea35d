#!/bin/bash
# kill -9 of the server during writes: after a restart every write that was
# acknowledged after a flush (or with FUA) is intact and the metadata is
# consistent (scrub finds nothing, snapshots and refcounts still agree).
. "$(dirname "$0")/storage_lib.sh"

sd_devices 2 512M
sd_start
sctl volume.create '{"name":"v","tenant":"a","size":268435456}' >/dev/null
sctl export.create '{"vm":"vm1","tenant":"a","volumes":["v"]}' >/dev/null
URI=$(nbd_uri v vm1)

for round in 1 2 3; do
	: >"$T/acked"
	(
		i=0
		while :; do
			off=$(((i * 7919 % 4000) * 65536))
			pat=$(((i + round * 31) % 250 + 1))
			if [ $((i % 2)) -eq 0 ]; then
				qemu-io -f raw -c "write -P $pat $off 65536" -c flush "$URI" >/dev/null 2>&1 || break
			else
				qemu-io -f raw -c "write -f -P $pat $off 65536" "$URI" >/dev/null 2>&1 || break
			fi
			echo "$off $pat" >>"$T/acked"
			i=$((i + 1))
		done
	) &
	wpid=$!
	EXTRA_PIDS="$EXTRA_PIDS $wpid"
	sleep "1.$((RANDOM % 9))"
	kill -9 "$SD_PID"
	wait "$SD_PID" 2>/dev/null || true
	SD_PID=
	wait "$wpid" 2>/dev/null || true
	n=$(wc -l <"$T/acked")
	log "round $round: killed after $n acknowledged writes"
	sd_start
	expect_eq "$(sctl pool.info | jq -r .clean_start)" false "clean_start after kill -9"
	# The latest pattern of each offset must be there.
	awk '{last[$1] = $2} END {for (o in last) print o, last[o]}' "$T/acked" >"$T/expect"
	cmds=$(awk '{printf "-c \"read -P %d %d 65536\" ", $2, $1}' "$T/expect")
	out=$(eval qemu-io -f raw $cmds '"$URI"' 2>&1) || fail "read back: $out"
	if printf '%s' "$out" | grep -q 'Pattern verification failed'; then
		fail "round $round: an acknowledged write was lost: $(printf '%s' "$out" | grep -m3 -B1 'verification')"
	fi
	log "round $round: $(wc -l <"$T/expect") acknowledged writes intact"
	sc=$(sctl scrub)
	expect_eq "$(printf '%s' "$sc" | jq -r .unrecoverable)" 0 "unrecoverable blocks"
	sctl volume.snapshot "{\"name\":\"v\",\"snapshot\":\"snap$round\"}" >/dev/null
done
expect_eq "$(sctl volume.list | jq length)" 4 "volumes after 3 crashes"
sd_stop
sd_start
expect_eq "$(sctl pool.info | jq -r .clean_start)" true "clean start after SIGTERM"
