#!/bin/sh
# setup.sh - install what cloudlet needs on a Debian 12 host, idempotently.
# Run as root (make setup, make test and make demo call it).
set -eu
cd "$(dirname "$0")/.."

# Build, runtime and test dependencies, all from Debian's archive.
PKGS="
build-essential pkg-config
libjansson-dev libyaml-dev libcmocka-dev libmicrohttpd-dev libsqlite3-dev libsodium-dev libcurl4-openssl-dev
libpq-dev postgresql-15
qemu-system-x86 qemu-utils
e2fsprogs dosfstools mtools
busybox-static cpio lz4 xz-utils kmod
iproute2 iputils-ping curl socat jq wrk redis-tools
clang libclang-rt-14-dev
nftables libnftables-dev dnsmasq-base iperf3
wireguard-go wireguard-tools qrencode libqrencode-dev
libgnutls28-dev openssl
libclamav-dev libyara-dev libnbd-bin
libhyperscan-dev libpcre2-dev libpcap-dev libseccomp-dev
tcpdump tcpreplay nmap hping3 bind9-dnsutils openssl iputils-arping
grub-pc-bin
"
if [ -f guest/deps.txt ]; then
	PKGS="$PKGS $(grep -v '^#' guest/deps.txt | tr '\n' ' ')"
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "setup: missing packages:$missing (run as root to install)" >&2
		exit 1
	fi
	echo "setup: installing$missing"
	apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
fi

# QEMU runs as this unprivileged user; the control plane joins the group
# that may use the agent's socket.
if [ "$(id -u)" = 0 ]; then
	getent group cloudlet >/dev/null || groupadd --system cloudlet
	# cloudletd runs as cloudlet; its group may use the agent's socket.
	getent passwd cloudlet >/dev/null ||
		useradd --system --gid cloudlet --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin cloudlet
	# The storage server (src/storage) owns the pool's devices as this user.
	getent passwd cloudlet-storage >/dev/null ||
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin cloudlet-storage
	# The IDS sensor (src/ids) runs as this user; it opens nothing privileged.
	getent passwd cloudlet-ids >/dev/null ||
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin cloudlet-ids
	# The tests' own PostgreSQL servers (tests/integration/pg_lib.sh) run
	# as this user: initdb and postgres refuse root.
	getent passwd cloudlet-pg >/dev/null ||
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin cloudlet-pg
	getent passwd cloudlet-vm >/dev/null ||
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin cloudlet-vm
fi
echo "setup: ok"
