#!/bin/bash
# guest/build.sh OUTDIR: build the cloudlet guest kernel, initramfs and images
# from Debian packages (apt-get download + dpkg -x only; nothing is installed
# on the host).  See docs/guest.md.
#
# Outputs (contract):
#   OUTDIR/vmlinux                      uncompressed ELF kernel (PVH entry)
#   OUTDIR/kernel.version               e.g. 6.1.0-56-cloud-amd64
#   OUTDIR/initrd.cpio.gz               initramfs shared by all images
#   OUTDIR/images/index.json            JSON array of image names
#   OUTDIR/images/<name>/rootfs/        tree for mke2fs -d
#   OUTDIR/images/<name>/image.json     image metadata
#
# Every step is skipped when the sha256 of its inputs (this script, the data
# files it reads, the resolved Debian package versions) is unchanged.
set -eu

die() { echo "guest/build.sh: error: $*" >&2; exit 1; }
note() { echo "guest: $*" >&2; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
GUEST=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
CACHE=$OUT/cache
WORK=$OUT/work
STAMPS=$OUT/.stamps
mkdir -p "$CACHE" "$WORK" "$STAMPS" "$OUT/images"

# Fixed timestamp for every generated file (reproducible cpio and ext4 images).
EPOCH=1700000000
export LC_ALL=C TZ=UTC

KERNEL_META=linux-image-cloud-amd64
SCRIPT_HASH=$(sha256sum "$0" | cut -d' ' -f1)

sha() { sha256sum | cut -d' ' -f1; }

# Hash of a directory tree (names, modes, link targets, contents); "-" if absent.
tree_hash() {
    if [ -d "$1" ]; then
        tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
            -C "$1" -cf - . | sha
    else
        echo -
    fi
}

stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { echo "$2" >"$STAMPS/$1"; }

# ---------------------------------------------------------------- packages
# apt-cache with a persistent binary cache (the Debian container config
# disables it, which makes every apt-cache call take ~1 s).
APT_CACHE="apt-cache -o Dir::Cache::pkgcache=$CACHE/pkgcache.bin -o Dir::Cache::srcpkgcache=$CACHE/srcpkgcache.bin"
PKGDB=$WORK/packages.resolved

# resolve_packages PKG...: candidate "name version arch" of every package,
# in one apt-cache call, into PKGDB
resolve_packages() {
    if ! $APT_CACHE show --no-all-versions "$@" 2>/dev/null |
        awk '/^Package: /{p=$2} /^Version: /{v=$2} /^Architecture: /{a=$2}
             /^$/{if (p != "") print p, v, a; p=""} END{if (p != "") print p, v, a}' >"$PKGDB"; then
        for p in "$@"; do
            $APT_CACHE show --no-all-versions "$p" >/dev/null 2>&1 ||
                die "Debian package '$p' not found (apt-get update?)"
        done
    fi
}

# pkg_version PKG -> resolved version
pkg_version() {
    v=$(awk -v p="$1" '$1 == p {print $2; exit}' "$PKGDB")
    [ -n "$v" ] || die "Debian package '$1' not resolved"
    echo "$v"
}

# pkg_fetch PKG VERSION -> prints path of the cached .deb (downloads if needed)
pkg_fetch() {
    arch=$(awk -v p="$1" '$1 == p {print $3; exit}' "$PKGDB")
    f=$CACHE/$1_$(echo "$2" | sed 's/:/%3a/')_$arch.deb
    if [ ! -s "$f" ]; then
        note "downloading $1 $2"
        sandbox=
        [ "$(id -u)" -ne 0 ] || sandbox="-o APT::Sandbox::User=root"
        # shellcheck disable=SC2086
        (cd "$CACHE" && apt-get -q $sandbox download "$1=$2" >/dev/null) ||
            die "apt-get download $1=$2 failed"
        [ -s "$f" ] || die "download of $1 did not produce $f"
    fi
    echo "$f"
}

# ---------------------------------------------------------------- kernel
KPKG=$($APT_CACHE depends "$KERNEL_META" 2>/dev/null |
       sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)
[ -n "$KPKG" ] || die "cannot resolve $KERNEL_META with apt-cache depends"
IMAGE_PKGS=$(cat "$GUEST"/images/*.image 2>/dev/null | sed -n 's/^[[:space:]]*\(packages\|include\)[[:space:]]*=//p')
# shellcheck disable=SC2086
resolve_packages "$KPKG" busybox-static $IMAGE_PKGS
KVER_PKG=$(pkg_version "$KPKG")
KREL=${KPKG#linux-image-}
BB_VER=$(pkg_version busybox-static)
MODLIST=$GUEST/initrd/modules

u8() { od -An -j"$2" -N1 -tu1 "$1" | tr -d ' '; }
u32() { od -An -j"$2" -N4 -tu4 --endian=little "$1" | tr -d ' '; }

# extract_vmlinux BZIMAGE OUT: use the boot protocol header to locate the
# compressed payload (setup_sects @0x1f1, payload_offset @0x248,
# payload_length @0x24c, counted from the start of the protected-mode code).
# The payload ends with the 4-byte little-endian uncompressed size.
extract_vmlinux() {
    bz=$1 dst=$2
    [ "$(dd if="$bz" bs=1 skip=514 count=4 2>/dev/null)" = HdrS ] ||
        die "$bz is not a bzImage"
    ss=$(u8 "$bz" 497)
    [ "$ss" -ne 0 ] || ss=4
    poff=$(u32 "$bz" 584)
    plen=$(u32 "$bz" 588)
    off=$(( (ss + 1) * 512 + poff ))
    usize=$(u32 "$bz" $((off + plen - 4)))
    magic=$(od -An -j"$off" -N4 -tx1 "$bz" | tr -d ' \n')
    case $magic in
        02214c18) dec="lz4 -dc" ;;     # legacy lz4 frame (cloud flavour)
        fd377a58) dec="xz -dc" ;;      # xz (generic flavour)
        1f8b*) dec="gzip -dc" ;;
        *) die "unknown kernel payload magic $magic at offset $off" ;;
    esac
    tail -c +$((off + 1)) "$bz" | head -c $((plen - 4)) | $dec >"$dst.tmp" ||
        die "decompressing kernel payload ($dec) failed"
    [ "$(od -An -N4 -tx1 "$dst.tmp" | tr -d ' \n')" = 7f454c46 ] ||
        die "decompressed kernel is not an ELF file"
    [ "$(stat -c %s "$dst.tmp")" -eq "$usize" ] ||
        die "decompressed kernel size mismatch"
    mv "$dst.tmp" "$dst"
}

# Kernel step: vmlinux, kernel.version, and the selected modules (with their
# dependencies, in load order) staged in WORK/kmods.
K_HASH=$(printf '%s\n' "$SCRIPT_HASH" "$KPKG=$KVER_PKG" "$(sha <"$MODLIST")" | sha)
if stamp_ok kernel "$K_HASH" && [ -f "$OUT/vmlinux" ] && [ -d "$WORK/kmods" ]; then
    :
else
    note "kernel: $KPKG $KVER_PKG"
    deb=$(pkg_fetch "$KPKG" "$KVER_PKG")
    kx=$WORK/kernel-x
    rm -rf "$kx" "$WORK/kmods"
    dpkg -x "$deb" "$kx"
    extract_vmlinux "$kx/boot/vmlinuz-$KREL" "$OUT/vmlinux"
    echo "$KREL" >"$OUT/kernel.version"
    depmod -b "$kx" "$KREL"
    config=$kx/boot/config-$KREL
    mdir=lib/modules/$KREL
    mkdir -p "$WORK/kmods/$mdir"
    : >"$WORK/kmods/order"
    # add_mod NAME: append NAME's dependencies, then NAME, to the load order
    add_mod() {
        rel=$(sed -n "s#^\\(\\([^:]*/\\)\\?$1\\.ko[^:]*\\):.*#\\1#p" "$kx/$mdir/modules.dep" | head -n1)
        [ -n "$rel" ] || return 1
        # modules.dep lists deps, nearest first; load them deepest first
        deps=$(sed -n "s#^$rel: *##p" "$kx/$mdir/modules.dep")
        for d in $(echo "$deps" | tr ' ' '\n' | sed '/^$/d' | tac); do
            grep -qx "$d" "$WORK/kmods/order" || echo "$d" >>"$WORK/kmods/order"
        done
        grep -qx "$rel" "$WORK/kmods/order" || echo "$rel" >>"$WORK/kmods/order"
    }
    # modules file: "NAME [CONFIG_SYMBOL] [optional]" per line
    sed 's/#.*//' "$MODLIST" | while read -r name sym opt; do
        [ -n "$name" ] || continue
        if [ "$sym" = optional ]; then opt=optional sym=; fi
        if [ -n "$sym" ] && grep -qx "$sym=y" "$config"; then
            note "kernel: $name is built in ($sym=y)"
            continue
        fi
        add_mod "$name" && continue
        [ "$opt" = optional ] && { note "kernel: optional module $name absent"; continue; }
        die "module $name not found in $KPKG"
    done
    while read -r rel; do
        mkdir -p "$WORK/kmods/$mdir/$(dirname "$rel")"
        cp "$kx/$mdir/$rel" "$WORK/kmods/$mdir/$rel"
    done <"$WORK/kmods/order"
    cp "$kx/$mdir/modules.order" "$kx/$mdir/modules.builtin" \
       "$kx/$mdir/modules.builtin.modinfo" "$WORK/kmods/$mdir/" 2>/dev/null || true
    depmod -b "$WORK/kmods" "$KREL"
    cp "$config" "$WORK/kmods/config"
    rm -rf "$kx"
    stamp_set kernel "$K_HASH"
fi

# ---------------------------------------------------------------- busybox
BB_DIR=$WORK/busybox
if ! stamp_ok busybox "$BB_VER" || [ ! -x "$BB_DIR/bin/busybox" ]; then
    rm -rf "$BB_DIR"
    dpkg -x "$(pkg_fetch busybox-static "$BB_VER")" "$BB_DIR"
    stamp_set busybox "$BB_VER"
fi

# busybox_links ROOT: create a symlink for every applet that is not a file yet
busybox_links() {
    "$1/bin/busybox" --list-full | while read -r p; do
        [ -e "$1/$p" ] || [ -L "$1/$p" ] && continue
        mkdir -p "$1/$(dirname "$p")"
        ln -s /bin/busybox "$1/$p"
    done
}

# fix_times DIR: reproducible mtimes
fix_times() { find "$1" -exec touch -h -d "@$EPOCH" {} +; }

# ---------------------------------------------------------------- initrd
I_HASH=$(printf '%s\n' "$SCRIPT_HASH" "$K_HASH" "busybox=$BB_VER" \
         "$(tree_hash "$GUEST/initrd")" | sha)
if stamp_ok initrd "$I_HASH" && [ -f "$OUT/initrd.cpio.gz" ]; then
    :
else
    note "initrd: building"
    ir=$WORK/initrd
    rm -rf "$ir"
    mkdir -p "$ir/bin" "$ir/dev" "$ir/proc" "$ir/sys" "$ir/newroot" "$ir/etc" "$ir/lib"
    cp "$BB_DIR/bin/busybox" "$ir/bin/busybox"
    busybox_links "$ir"
    cp -R "$WORK/kmods/lib/modules" "$ir/lib/"
    sed "s#^#/lib/modules/$KREL/#" "$WORK/kmods/order" >"$ir/etc/modules.load"
    install -m 0755 "$GUEST/initrd/init" "$ir/init"
    [ "$(id -u)" -ne 0 ] || mknod -m 600 "$ir/dev/console" c 5 1
    fix_times "$ir"
    (cd "$ir" && find . | sort | cpio -o -H newc -R 0:0 --reproducible --quiet) |
        gzip -n -9 >"$OUT/initrd.cpio.gz.tmp"
    mv "$OUT/initrd.cpio.gz.tmp" "$OUT/initrd.cpio.gz"
    rm -rf "$ir"
    stamp_set initrd "$I_HASH"
fi

# ---------------------------------------------------------------- tools
# Our own small guest programs (guest/tools/*.c), static, installed into
# every root image's /usr/sbin. Rebuilt only when their sources change.
TOOLS_HASH=$(tree_hash "$GUEST/tools")
TOOLS_DIR=$WORK/tools
if ! stamp_ok tools "$TOOLS_HASH" || [ ! -d "$TOOLS_DIR" ]; then
    note "tools: building"
    rm -rf "$TOOLS_DIR"
    mkdir -p "$TOOLS_DIR"
    for c in "$GUEST"/tools/*.c; do
        gcc -static -Os -s -Wall -Wextra -Werror -o "$TOOLS_DIR/$(basename "$c" .c)" "$c" ||
            die "cannot build $c (needs gcc and libc6-dev)"
    done
    stamp_set tools "$TOOLS_HASH"
fi

# ---------------------------------------------------------------- images
# img_get FILE KEY: value of KEY (exit status 1 if the key is absent)
img_get() {
    awk -v k="$2" '
        /^[ \t]*(#|$)/ { next }
        { i = index($0, "="); if (!i) next
          key = substr($0, 1, i - 1); gsub(/[ \t]/, "", key)
          if (key == k) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v); val = v; found = 1 } }
        END { if (found) print val; exit !found }' "$1"
}

json_str() {
    printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g; s/\t/\\t/g')"
}

# image_def NAME: path of the definition
image_def() {
    f=$GUEST/images/$1.image
    [ -f "$f" ] || die "image '$1' has no definition ($f)"
    echo "$f"
}

# image_field NAME KEY: KEY of image NAME, inherited from its base if absent
image_field() {
    _f=$(image_def "$1")
    if img_get "$_f" "$2"; then return 0; fi
    _b=$(img_get "$_f" base || true)
    [ -z "$_b" ] || image_field "$_b" "$2"
}

# image_modules ROOTFS NAME...: copy kernel modules NAME (and what they need,
# from modules.dep) into ROOTFS and write their load order, deepest
# dependency first, to ROOTFS/etc/cloudlet/modules (for the image's service;
# modules every VM needs are in the initramfs instead).
image_modules() {
    local r=$1 kx mdir m rel deps d
    shift
    kx=$WORK/image-kernel-x
    mdir=lib/modules/$KREL
    rm -rf "$kx"
    dpkg -x "$(pkg_fetch "$KPKG" "$KVER_PKG")" "$kx"
    depmod -b "$kx" "$KREL"
    : >"$WORK/image-mod-order"
    for m in "$@"; do
        rel=$(sed -n "s#^\\(\\([^:]*/\\)\\?$m\\.ko[^:]*\\):.*#\\1#p" "$kx/$mdir/modules.dep" | head -n1)
        [ -n "$rel" ] || die "module $m not found in $KPKG"
        deps=$(sed -n "s#^$rel: *##p" "$kx/$mdir/modules.dep")
        for d in $(echo "$deps" | tr ' ' '\n' | sed '/^$/d' | tac) "$rel"; do
            grep -qx "$d" "$WORK/image-mod-order" || echo "$d" >>"$WORK/image-mod-order"
        done
    done
    while read -r rel; do
        mkdir -p "$r/$mdir/$(dirname "$rel")"
        cp "$kx/$mdir/$rel" "$r/$mdir/$rel"
    done <"$WORK/image-mod-order"
    mkdir -p "$r/etc/cloudlet"
    sed "s#^#/$mdir/#" "$WORK/image-mod-order" >"$r/etc/cloudlet/modules"
    rm -rf "$kx"
}

# apt_sources: the machine's configured apt sources, one file per line
# (mmdebstrap takes a one-line or deb822 file as a mirror argument)
apt_sources() {
    f=/etc/apt/sources.list
    [ ! -f "$f" ] || ! grep -q '^[[:space:]]*deb[[:space:]]' "$f" || echo "$f"
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && echo "$f"
    done
    return 0
}

# bootstrap_rootfs SUITE ROOT KEY PKG...: a Debian tree made by mmdebstrap
# from the machine's apt sources (minbase + PKG and their dependencies, with
# maintainer scripts run), without man pages, docs and translations. The
# tree is kept as CACHE/bootstrap-KEY.tar (KEY: a hash of the suite and the
# packages' versions), so a change of the overlay or the customize script
# does not bootstrap again.
BOOTSTRAP_REV=1 # change when the mmdebstrap command line changes
bootstrap_rootfs() {
    local suite=$1 root=$2 key=$3 inc srcs tar mode
    shift 3
    tar=$CACHE/bootstrap-$key.tar
    if [ ! -s "$tar" ]; then
        command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (scripts/setup.sh installs it)"
        inc=$(echo "$*" | tr ' ' ',')
        srcs=$(apt_sources)
        [ -n "$srcs" ] || die "no apt sources in /etc/apt/sources.list*"
        note "bootstrap: mmdebstrap $suite ($# packages and their dependencies)"
        rm -f "$CACHE"/bootstrap-*.tar
        # As root (make guest under make test/demo) it runs the packages'
        # maintainer scripts in a chroot; otherwise mmdebstrap picks a mode
        # it can use (unshare needs uidmap).
        mode=auto
        [ "$(id -u)" -ne 0 ] || mode=root
        # shellcheck disable=SC2086 # one argument per sources file
        mmdebstrap --quiet --mode=$mode --variant=minbase --include="$inc" \
            --dpkgopt='path-exclude=/usr/share/man/*' \
            --dpkgopt='path-exclude=/usr/share/doc/*' \
            --dpkgopt='path-exclude=/usr/share/info/*' \
            --dpkgopt='path-exclude=/usr/share/locale/*' \
            --dpkgopt='path-include=/usr/share/locale/locale.alias' \
            "$suite" "$tar.tmp.tar" $srcs >&2 || { rm -f "$tar.tmp.tar"; die "mmdebstrap $suite failed"; }
        mv "$tar.tmp.tar" "$tar"
    fi
    mkdir -p "$root"
    tar --numeric-owner -C "$root" -xpf "$tar" || die "cannot unpack $tar"
}

# build_image NAME DEPTH: prints nothing, leaves WORK/id.NAME with the image id
build_image() {
    local name=$1 depth=$2 def dname base base_id pkgs overlay pkgvers p ovl_hash id dir tmp r
    local pv d used_k min_mib desc ports pj mods boot incvers cust cust_hash
    [ "$depth" -lt 10 ] || die "image base chain too deep (cycle?) at $name"
    [ -f "$WORK/id.$name" ] && return 0
    def=$(image_def "$name")
    dname=$(img_get "$def" name || echo "$name")
    [ "$dname" = "$name" ] || die "$def: name=$dname does not match file name"
    base=$(img_get "$def" base || true)
    base_id=-
    if [ -n "$base" ]; then
        build_image "$base" $((depth + 1))
        base_id=$(cat "$WORK/id.$base")
    fi
    pkgs=$(img_get "$def" packages || true)
    overlay=$(img_get "$def" overlay || true)
    pkgvers=
    for p in $pkgs; do pkgvers="$pkgvers $p=$(pkg_version "$p")"; done
    ovl_hash=-
    [ -z "$overlay" ] || {
        [ -d "$GUEST/overlays/$overlay" ] || die "$def: overlay dir guest/overlays/$overlay missing"
        ovl_hash=$(tree_hash "$GUEST/overlays/$overlay")
    }
    mods=$(img_get "$def" modules || true)
    # bootstrap=SUITE: the tree is a Debian system made by mmdebstrap with
    # include= (the whole distribution, maintainer scripts run), instead of
    # dpkg -x of packages=; customize= is a script (under guest/) run on
    # the finished tree as "SCRIPT ROOTFS".
    boot=$(img_get "$def" bootstrap || true)
    incvers=
    for p in $(img_get "$def" include || true); do incvers="$incvers $p=$(pkg_version "$p")"; done
    cust=$(img_get "$def" customize || true)
    cust_hash=-
    if [ -n "$cust" ]; then
        [ -f "$GUEST/$cust" ] || die "$def: customize script guest/$cust missing"
        cust_hash=$(sha <"$GUEST/$cust")
    fi
    [ -z "$boot" ] || [ -z "$base" ] || die "$def: bootstrap and base exclude each other"
    id=$(printf '%s\n' "$SCRIPT_HASH" "$(sha <"$def")" "base=$base_id" \
         "packages=$pkgvers" "overlay=$ovl_hash" "tools=$TOOLS_HASH" \
         "modules=$mods ${mods:+$K_HASH}" "bootstrap=$boot include=$incvers" \
         "customize=$cust_hash" | sha)
    dir=$OUT/images/$name
    if stamp_ok "image.$name" "$id" && [ -d "$dir/rootfs" ] && [ -f "$dir/image.json" ]; then
        echo "$id" >"$WORK/id.$name"
        return 0
    fi
    note "image $name: building"
    tmp=$OUT/images/.$name.tmp
    rm -rf "$tmp"
    mkdir -p "$tmp"
    r=$tmp/rootfs
    if [ -n "$boot" ]; then
        # shellcheck disable=SC2046 # the package list
        bootstrap_rootfs "$boot" "$r" \
            "$(printf '%s\n' "$BOOTSTRAP_REV" "$boot" "$incvers" | sha | cut -c1-16)" \
            $(echo "$incvers" | sed 's/=[^ ]*//g')
    elif [ -n "$base" ]; then
        cp -a "$OUT/images/$base/rootfs" "$r"
    else
        mkdir -p "$r/usr/sbin"
        cp "$TOOLS_DIR"/* "$r/usr/sbin/"
    fi
    for pv in $pkgvers; do
        dpkg -x "$(pkg_fetch "${pv%%=*}" "${pv#*=}")" "$r"
    done
    [ ! -x "$r/bin/busybox" ] || busybox_links "$r"
    # shellcheck disable=SC2086 # a list of module names
    [ -z "$mods" ] || image_modules "$r" $mods
    if [ -n "$overlay" ]; then
        tar --owner=0 --group=0 --numeric-owner -C "$GUEST/overlays/$overlay" -cf - . |
            tar -C "$r" -xpf -
    fi
    # A bootstrapped tree gets cloudlet-identity too: its template waits in
    # it for a clone's identity (--seed-dir; docs/guest.md, debian-12).
    if [ -n "$boot" ]; then
        mkdir -p "$r/usr/sbin"
        cp "$TOOLS_DIR/cloudlet-identity" "$r/usr/sbin/"
    fi
    [ -z "$cust" ] || "$GUEST/$cust" "$r" || die "$def: guest/$cust failed"
    for d in dev proc sys run tmp root mnt srv etc/cloudlet var/log; do
        mkdir -p "$r/$d"
    done
    chmod 1777 "$r/tmp"
    chmod 0700 "$r/root"
    rm -rf "$r/usr/share/doc" "$r/usr/share/man" "$r/usr/share/info" "$r/usr/share/lintian"
    echo "$name" >"$r/etc/cloudlet/image"
    image_field "$name" service >"$r/etc/cloudlet/service" || : >"$r/etc/cloudlet/service"
    # prestart=yes: a template starts the service before it is saved, so
    # clones have it listening already; refresh= is what a clone runs
    # instead of restarting it (guest/tools/finish.h, docs/guest.md).
    rm -f "$r/etc/cloudlet/prestart" "$r/etc/cloudlet/refresh"
    case $(image_field "$name" prestart || true) in
        yes) : >"$r/etc/cloudlet/prestart" ;;
        ''|no) ;;
        *) die "$def: prestart: yes or no" ;;
    esac
    image_field "$name" refresh >"$r/etc/cloudlet/refresh" || rm -f "$r/etc/cloudlet/refresh"
    # The service's ports, one per line: the guest's readiness line waits
    # until each accepts connections (guest/tools/finish.h). Empty: none.
    ports=$(image_field "$name" ports || true)
    : >"$r/etc/cloudlet/ports"
    for p in $(echo "$ports" | tr ',' ' '); do
        case ${p%/*}:${p##*/} in
            *[!0-9]*:*|:*|*:*[!a-z]*) die "$def: ports: '$p' is not PORT/tcp or PORT/udp" ;;
            *:tcp|*:udp) ;;
            *) die "$def: ports: '$p' is not PORT/tcp or PORT/udp" ;;
        esac
        echo "$p" >>"$r/etc/cloudlet/ports"
    done
    # A bootstrapped tree keeps its packages' mtimes: Python checks its
    # .pyc files against the mtime of their source, and with every mtime
    # changed each VM recompiled cloud-init and the standard library at
    # boot, under emulation.
    [ -n "$boot" ] || fix_times "$r"
    used_k=$(du -sk "$r" | cut -f1)
    min_mib=$(( ((used_k / 1024 * 2 + 64) + 63) / 64 * 64 ))
    desc=$(image_field "$name" description || true)
    pj=
    for p in $(echo "$ports" | tr ',' ' '); do
        pj="$pj${pj:+, }$(json_str "$p")"
    done
    {
        printf '{\n  "name": %s,\n' "$(json_str "$name")"
        printf '  "description": %s,\n' "$(json_str "$desc")"
        printf '  "ports": [%s],\n' "$pj"
        printf '  "min_disk_mib": %d,\n' "$min_mib"
        # template=no: the guest has no template mode (the agent boots
        # its VMs cold and builds no template for it)
        case $(image_field "$name" template || true) in
            no) printf '  "template": false,\n' ;;
            ''|yes) ;;
            *) die "$def: template: yes or no" ;;
        esac
        # template_timeout=SECONDS: how long the agent waits for the
        # template's boot (default 180 s; debian-12 boots for minutes)
        tt=$(image_field "$name" template_timeout || true)
        case $tt in
            '') ;;
            *[!0-9]*) die "$def: template_timeout: a number of seconds" ;;
            *) printf '  "template_timeout_s": %d,\n' "$tt" ;;
        esac
        printf '  "id": "%s"\n}\n' "$id"
    } >"$tmp/image.json"
    rm -rf "$dir"
    mv "$tmp" "$dir"
    stamp_set "image.$name" "$id"
    echo "$id" >"$WORK/id.$name"
}

rm -f "$WORK"/id.*
names=
for f in "$GUEST"/images/*.image; do
    [ -f "$f" ] || continue
    n=$(basename "$f" .image)
    case $n in *[!A-Za-z0-9._-]*|.*) die "bad image name '$n'" ;; esac
    build_image "$n" 0
    names="$names $n"
done
[ -n "$names" ] || die "no images defined in $GUEST/images"

# drop images that no longer have a definition
for d in "$OUT"/images/*/; do
    n=$(basename "$d")
    case " $names " in *" $n "*) ;; *) note "removing stale image $n"; rm -rf "$d"; rm -f "$STAMPS/image.$n" ;; esac
done

{
    printf '['
    sep=
    for n in $names; do printf '%s%s' "$sep" "$(json_str "$n")"; sep=', '; done
    printf ']\n'
} >"$OUT/images/index.json.tmp"
mv "$OUT/images/index.json.tmp" "$OUT/images/index.json"
rm -f "$WORK"/id.*
note "done: kernel $KREL, images:$names"
