#!/bin/bash
# guest/smoke.sh OUTDIR: boot the web-hosting image built by guest/build.sh
# under QEMU (TCG, microvm) with a NoCloud seed, check the readiness line, the
# user-data output, the network config and the web page, then stop the VM
# with QMP system_powerdown and check that QEMU exits and the root fs is clean.
#
# Needs: qemu-system-x86, e2fsprogs, dosfstools, mtools, socat.
# SMOKE_DHCP=1 uses "dhcp4: true" (QEMU user-mode DHCP) instead of a static
# address.  No host network configuration is touched: the guest NIC uses QEMU
# user-mode networking with one forwarded port on 127.0.0.1.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
OUT=$(cd "$1" && pwd)
IMAGE=${SMOKE_IMAGE:-web-hosting}
IID=smoke-$$
HOST=smoke-host-$$
MAC=52:54:00:12:34:56

T=$(mktemp -d /tmp/cloudlet-smoke.XXXXXX)
QPID=
cleanup() {
    if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
        kill "$QPID" 2>/dev/null || true
        wait "$QPID" 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "smoke: FAIL: $*" >&2
    echo "---- console ----" >&2
    cat "$T/console.log" >&2 2>/dev/null || true
    exit 1
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# ---- seed (NoCloud, vfat labelled CIDATA)
printf 'instance-id: %s\nlocal-hostname: %s\n' "$IID" "$HOST" >"$T/meta-data"
if [ "${SMOKE_DHCP:-0}" = 1 ]; then
    NETADDR=
    cat >"$T/network-config" <<EOF
version: 2
ethernets:
  eth0:
    match:
      macaddress: "$MAC"
    set-name: eth0
    dhcp4: true
EOF
else
    NETADDR=10.0.2.15/24
    cat >"$T/network-config" <<EOF
version: 2
ethernets:
  eth0:
    match:
      macaddress: "$MAC"
    set-name: eth0
    addresses: [$NETADDR]
    gateway4: 10.0.2.2
EOF
fi
cat >"$T/user-data" <<'EOF'
#!/bin/sh
echo "smoke: nproc=$(nproc)"
echo "smoke: memtotal_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
echo "smoke: rootdisk_bytes=$(blockdev --getsize64 "$(findfs LABEL=cloudlet-root)")"
echo "smoke: eth0=$(ip -4 -o addr show dev eth0 | awk '{print $4}')"
echo "smoke: hostname=$(hostname)"
EOF
mkfs.vfat -C "$T/seed.img" 1024 -n CIDATA >/dev/null
mcopy -i "$T/seed.img" "$T/meta-data" "$T/user-data" "$T/network-config" ::

# ---- root disk (1 GiB ext4 from the image's rootfs)
mke2fs -q -F -t ext4 -L cloudlet-root -d "$OUT/images/$IMAGE/rootfs" "$T/root.raw" 1G >/dev/null

KHZ=$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)
PORT=$(( 20000 + $$ % 20000 ))

# ---- boot
START=$(now)
qemu-system-x86_64 \
    -M microvm,x-option-roms=off,isa-serial=on,rtc=on \
    -accel tcg -cpu qemu64,+arat -smp 2 -m 256 \
    -nodefaults -no-user-config -nographic -serial stdio \
    -kernel "$OUT/vmlinux" -initrd "$OUT/initrd.cpio.gz" \
    -append "console=ttyS0 reboot=t panic=-1 quiet tsc_early_khz=$KHZ root=LABEL=cloudlet-root" \
    -drive file="$T/root.raw",format=raw,if=none,id=root -device virtio-blk-device,drive=root \
    -drive file="$T/seed.img",format=raw,if=none,id=seed,readonly=on -device virtio-blk-device,drive=seed \
    -netdev user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-:80 -device virtio-net-device,netdev=n0,mac=$MAC \
    -qmp unix:"$T/qmp.sock",server=on,wait=off \
    </dev/null >"$T/console.log" 2>&1 &
QPID=$!

ready=
for _ in $(seq 1200); do
    if grep -q "^cloudlet: ready $IID" "$T/console.log" 2>/dev/null; then ready=$(now); break; fi
    kill -0 "$QPID" 2>/dev/null || fail "QEMU exited before the ready line"
    sleep 0.05
done
[ -n "$ready" ] || fail "no 'cloudlet: ready $IID' within 60 s"
BOOT=$(elapsed "$START" "$ready")
echo "smoke: boot to ready: ${BOOT} s"

val() { sed -n "s/\r\$//; s/^smoke: $1=//p" "$T/console.log" | head -n1; }
[ "$(val nproc)" = 2 ] || fail "nproc is '$(val nproc)', want 2"
mem=$(val memtotal_kb)
[ -n "$mem" ] && [ "$mem" -gt 150000 ] && [ "$mem" -le 262144 ] || fail "MemTotal '$mem' kB not in (150000, 262144]"
[ "$(val rootdisk_bytes)" = 1073741824 ] || fail "root disk is '$(val rootdisk_bytes)' bytes, want 1073741824"
[ "$(val hostname)" = "$HOST" ] || fail "hostname is '$(val hostname)', want $HOST"
if [ -n "$NETADDR" ]; then
    [ "$(val eth0)" = "$NETADDR" ] || fail "eth0 has '$(val eth0)', want $NETADDR"
else
    [ -n "$(val eth0)" ] || fail "eth0 got no DHCP address"
fi
echo "smoke: user-data checks ok (nproc=2, MemTotal=$mem kB, root disk 1 GiB, eth0 $(val eth0))"

if [ "$IMAGE" = web-hosting ]; then
    page=
    for _ in $(seq 50); do
        page=$(printf 'GET / HTTP/1.0\r\nHost: smoke\r\n\r\n' |
               socat -t 3 - TCP:127.0.0.1:$PORT 2>/dev/null) &&
            case $page in *" 200 "*) break ;; esac
        sleep 0.2
    done
    case $page in *"cloudlet web-hosting"*"$HOST"*) ;; *) fail "web page wrong: $page" ;; esac
    echo "smoke: web page ok (contains 'cloudlet web-hosting' and $HOST)"
fi

# ---- graceful stop via QMP
STOP=$(now)
printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"system_powerdown"}' |
    socat -t 2 - UNIX-CONNECT:"$T/qmp.sock" >"$T/qmp.log" 2>&1 || fail "QMP failed: $(cat "$T/qmp.log")"
exited=
for _ in $(seq 600); do
    kill -0 "$QPID" 2>/dev/null || { exited=$(now); break; }
    sleep 0.05
done
[ -n "$exited" ] || fail "QEMU still running 30 s after system_powerdown"
wait "$QPID" || fail "QEMU exit status $?"
QPID=
grep -q '^cloudlet: shutting down' "$T/console.log" || fail "guest did not run its shutdown script"
state=$(dumpe2fs -h "$T/root.raw" 2>/dev/null | sed -n 's/^Filesystem state: *//p')
[ "$state" = clean ] || fail "root filesystem state after stop: '$state'"
echo "smoke: powerdown to QEMU exit: $(elapsed "$STOP" "$exited") s (root fs clean)"
echo "smoke: PASS"
