#!/bin/bash
# Scanning: EICAR written across an extent boundary (and split over two
# writes) is reported by the inline mode at its offset; an on-demand scan of
# the volume (from a snapshot, the client stays connected) finds it too; a
# clean volume reports nothing.
. "$(dirname "$0")/storage_lib.sh"

sd_devices 2 256M
sd_start --signatures "$ROOT/signatures" --scan-inline on
sctl volume.create '{"name":"dirty","tenant":"ta","size":16777216}' >/dev/null
sctl volume.create '{"name":"clean","tenant":"ta","size":16777216}' >/dev/null
sctl export.create '{"vm":"vm1","tenant":"ta","volumes":["dirty","clean"]}' >/dev/null
printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >"$T/eicar"
head -c 34 "$T/eicar" >"$T/e1"
tail -c +35 "$T/eicar" >"$T/e2"
OFF=$((1024 * 1024 - 34)) # crosses the first extent boundary
head -c 8M /dev/urandom >"$T/noise"
qemu-img convert -n -f raw -O raw "$T/noise" "$(nbd_uri clean vm1)" || fail "clean data"
qemu-io -f raw -c "write -s $T/e1 $OFF 34" -c "write -s $T/e2 $((OFF + 34)) 34" \
	"$(nbd_uri dirty vm1)" >/dev/null || fail "writing EICAR"
i=0
while ! sctl alert.list | jq -e '.alerts[] | select(.kind == "malware" and .source == "inline")' >/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "no inline alert"; sleep 0.1
done
al=$(sctl alert.list | jq -c '[.alerts[] | select(.kind == "malware")]')
log "inline alerts: $al"
printf '%s' "$al" | jq -e ".[] | select(.volume == \"dirty\" and .offset == $OFF and .tenant == \"ta\")" >/dev/null ||
	fail "no alert at offset $OFF"
printf '%s' "$al" | jq -e '.[] | select(.volume == "clean")' >/dev/null && fail "clean volume alerted"

rep=$(sctl scan '{"volume":"dirty"}')
log "on-demand scan: $(printf '%s' "$rep" | jq -c '{bytes_scanned, duration_ms, n: (.findings | length)}')"
printf '%s' "$rep" | jq -e ".findings[] | select(.offset == $OFF and .source == \"scan\")" >/dev/null ||
	fail "on-demand scan missed EICAR: $rep"
rep=$(sctl scan '{"volume":"clean"}')
expect_eq "$(printf '%s' "$rep" | jq '.findings | length')" 0 "findings on the clean volume"
expect_eq "$(sctl volume.list | jq length)" 2 "scan snapshots removed"
rep=$(sctl scan '{"volume":"dirty","quarantine":true}')
snap=$(printf '%s' "$rep" | jq -r .snapshot)
sctl volume.show "{\"name\":\"$snap\"}" | jq -e .readonly >/dev/null || fail "quarantine snapshot missing"
log "quarantine keeps $snap"
