#!/bin/sh
# customize/debian.sh ROOTFS: finish a Debian tree made by mmdebstrap for
# cloudlet (guest/build.sh runs it after the overlay; docs/guest.md).
# Runs on the build host, never inside the tree: nothing is executed from it.
set -eu
r=$1
[ -x "$r/lib/systemd/systemd" ] || { echo "customize/debian.sh: $r is not a Debian tree" >&2; exit 1; }

# Per-VM identity: no SSH host keys and no machine-id in the image.
# cloud-init's ssh module makes the host keys on each VM's first boot (and
# again for a new instance-id); systemd makes the machine-id.
rm -f "$r"/etc/ssh/ssh_host_*
: >"$r/etc/machine-id"
rm -f "$r/var/lib/dbus/machine-id"
rm -f "$r/etc/hostname"

# Boot speed under emulation (every unit is a process or more, ~0.5-1 s of
# one emulated vCPU each): nothing periodic, no VGA console, no pstore, no
# file systems or modules a VM of this platform does not use (hugepages,
# mqueue, debugfs, tracefs, configfs, fuse, binfmt_misc, device-mapper).
for u in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
         e2scrub_all.timer fstrim.timer e2scrub_reap.service getty@tty1.service \
         systemd-pstore.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
         dev-hugepages.mount dev-mqueue.mount sys-kernel-debug.mount \
         sys-kernel-tracing.mount sys-kernel-config.mount sys-fs-fuse-connections.mount \
         modprobe@dm_mod.service modprobe@fuse.service modprobe@configfs.service \
         modprobe@drm.service modprobe@efi_pstore.service modprobe@loop.service; do
    find "$r/etc/systemd/system" -name "$u" -type l -delete
    ln -sf /dev/null "$r/etc/systemd/system/$u"
done

# The readiness line for the agent, after cloud-init's last stage.
mkdir -p "$r/etc/systemd/system/cloud-init.target.wants"
ln -sf /etc/systemd/system/cloudlet-ready.service \
    "$r/etc/systemd/system/cloud-init.target.wants/cloudlet-ready.service"
# Template mode (only with the kernel option cloudlet.template=1).
ln -sf /etc/systemd/system/cloudlet-template.service \
    "$r/etc/systemd/system/cloud-init.target.wants/cloudlet-template.service"

# DHCP: give up after 15 s instead of 60 (a NIC whose network has no
# server must not hold the boot for a minute).
grep -q '^timeout ' "$r/etc/dhcp/dhclient.conf" ||
    echo 'timeout 15;' >>"$r/etc/dhcp/dhclient.conf"

# The journal in memory only: no flush to /var/log/journal at boot.
mkdir -p "$r/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$r/etc/systemd/journald.conf.d/cloudlet.conf"

# /etc/fstab: the root the agent makes (mke2fs -L cloudlet-root).
printf 'LABEL=cloudlet-root / ext4 rw,errors=remount-ro 0 1\n' >"$r/etc/fstab"

# No name server from the build host: DHCP (or nothing) sets it. A stale
# one made every lookup wait for its timeout (apt: 20 s per source).
: >"$r/etc/resolv.conf"
