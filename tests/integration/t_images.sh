#!/bin/bash
# Images a tenant uploads (POST /v1/images, docs/images.md): the body is
# streamed to a file and checked before it is kept. Refused with a clear
# error, leaving no file and no record: a truncated qcow2, a qcow2 with a
# bad header, a qcow2 whose backing file is a host path, an image over the
# tenant's quota (by its virtual size, and by its bytes), an image with the
# EICAR test string inside (found by cloudlet-scan after conversion). A
# clean qcow2 is kept as raw, listed for its tenant only, and deleted; the
# CLI uploads, lists and deletes. Last, an image in the shape of a
# distribution's cloud image (an MBR-partitioned disk with GRUB, made here
# from the debian-12 build: its kernel, initramfs and cloud-init) is
# uploaded and a VM boots it with firmware (SeaBIOS on a PC machine, virtio
# over PCI) from its own boot loader, and applies its NoCloud seed.
. "$(dirname "$0")/lib.sh"
# The agent boots uploaded images from cloudletd's image dir.
agent_start --upload-dir "$T/cp/images"
cp_start --signatures "$ROOT/signatures"
read -r TA A < <(new_tenant imga)
read -r _ B < <(new_tenant imgb)
IMGDIR=$T/cp/images
W=$T/w
mkdir -p "$W"

# upload TOKEN NAME FILE: sets STATUS and BODY
upload() {
	STATUS=$(curl -s -o "$T/resp" -w "%{http_code}" -X POST -H "Authorization: Bearer $1" \
		-H 'Content-Type: application/octet-stream' -T "$3" \
		"$URL/v1/images?name=$2") || true # a refusal before the body may cut the upload
	BODY=$(cat "$T/resp")
}
# nothing_left NAME: no record, no file but the kept images'
nothing_left() {
	api GET "/v1/images/$1" "$A"
	expect_eq "$STATUS" 404 "a record of the refused image $1"
	left=$(find "$IMGDIR" -type f ! -name 'img-*.raw' | wc -l)
	expect_eq "$left" 0 "files left in the image dir after refusing $1: $(ls -a "$IMGDIR")"
}

# The inputs, made with qemu-img.
head -c 1048576 /dev/urandom >"$W/data.raw"
truncate -s 64M "$W/data.raw"
qemu-img convert -f raw -O qcow2 "$W/data.raw" "$W/good.qcow2"
cp "$W/good.qcow2" "$W/trunc.qcow2"
truncate -s 300000 "$W/trunc.qcow2"
cp "$W/good.qcow2" "$W/badver.qcow2"
printf '\x00\x00\x00\x63' | dd of="$W/badver.qcow2" bs=1 seek=4 conv=notrunc 2>/dev/null
qemu-img create -q -f qcow2 -b /etc/passwd -F raw "$W/backing.qcow2"
qemu-img create -q -f qcow2 "$W/huge.qcow2" 3G
cp "$W/data.raw" "$W/eicar.raw"
printf 'X5O!P%%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' |
	dd of="$W/eicar.raw" bs=1 seek=3145728 conv=notrunc 2>/dev/null
qemu-img convert -f raw -O qcow2 "$W/eicar.raw" "$W/eicar.qcow2"
# the EICAR string is in the file as it is uploaded only as qcow2 data
grep -c 'EICAR-STANDARD' "$W/eicar.qcow2" >/dev/null || fail "test input: no EICAR in the qcow2"

expect_api 200 PUT "/v1/tenants/$TA/quota" "$OPERATOR" '{"max_vcpus":4,"max_memory_mib":2048,"max_disk_gib":2,"max_vms":4}'

upload "$A" trunc "$W/trunc.qcow2"
expect_eq "$STATUS" 400 "truncated qcow2: $BODY"
expect_match "$BODY" "corrupt (qemu-img check: .*errors were found" "truncated qcow2's refusal"
nothing_left trunc
upload "$A" badver "$W/badver.qcow2"
expect_eq "$STATUS" 400 "qcow2 with a bad header: $BODY"
expect_match "$BODY" "not a valid qcow2 image: Unsupported qcow2 version 99" "bad header's refusal"
printf '%s' "$BODY" | grep -q "$T" && fail "a refusal names a server path: $BODY"
nothing_left badver
upload "$A" backing "$W/backing.qcow2"
expect_eq "$STATUS" 400 "qcow2 with a backing file: $BODY"
expect_match "$BODY" "has a backing file" "backing file's refusal"
nothing_left backing
upload "$A" huge "$W/huge.qcow2"
expect_eq "$STATUS" 413 "3 GiB virtual over a 2 GiB quota: $BODY"
expect_match "$BODY" "over the tenant's quota" "quota refusal"
nothing_left huge
upload "$A" eicar "$W/eicar.qcow2"
expect_eq "$STATUS" 422 "EICAR inside: $BODY"
expect_match "$BODY" "malware found in the image: Cloudlet.Test.EICAR" "EICAR's refusal"
expect_match "$BODY" "at byte 3145728" "EICAR's offset in the guest's view"
nothing_left eicar
log "refused: truncated qcow2, bad header, backing file /etc/passwd, 3 GiB over a 2 GiB quota (413), EICAR at 3 MiB (422); nothing left"

# By its bytes: a quota of 0 GiB left refuses before the body is read.
expect_api 200 PUT "/v1/tenants/$TA/quota" "$OPERATOR" '{"max_vcpus":4,"max_memory_mib":2048,"max_disk_gib":0,"max_vms":4}'
upload "$A" full "$W/good.qcow2"
expect_eq "$STATUS" 413 "upload with no room: $BODY"
nothing_left full
expect_api 200 PUT "/v1/tenants/$TA/quota" "$OPERATOR" '{"max_vcpus":4,"max_memory_mib":2048,"max_disk_gib":2,"max_vms":4}'

# Bad requests.
upload "$A" 'a%20b' "$W/good.qcow2"
expect_eq "$STATUS" 400 "a bad name"
upload "$OPERATOR" op "$W/good.qcow2"
expect_eq "$STATUS" 403 "the operator uploading"
upload nosuchtoken x "$W/good.qcow2"
expect_eq "$STATUS" 401 "no valid token"

# A clean image: kept as raw, its tenant's only.
upload "$A" good "$W/good.qcow2"
expect_eq "$STATUS" 201 "a clean qcow2: $BODY"
ID=$(jq -r .id <<<"$BODY")
expect_eq "$(jq -r '.source_format + " " + (.virtual_size|tostring)' <<<"$BODY")" "qcow2 67108864" "the kept image"
expect_eq "$(qemu-img info --output=json "$IMGDIR/$ID.raw" | jq -r .format)" raw "the stored format"
cmp -n 1048576 "$IMGDIR/$ID.raw" "$W/data.raw" || fail "the stored image's content"
upload "$A" good "$W/good.qcow2"
expect_eq "$STATUS" 409 "the same name again"
api GET /v1/images "$A"
expect_eq "$(jq -r --arg id "$ID" '[.[] | select(.id == $id)] | length' <<<"$BODY")" 1 "A's list"
api GET /v1/images "$B"
expect_eq "$(jq -r --arg id "$ID" '[.[] | select(.id == $id)] | length' <<<"$BODY")" 0 "B's list"
expect_api 404 GET "/v1/images/$ID" "$B"
expect_api 404 DELETE "/v1/images/$ID" "$B"
expect_api 409 POST /v1/vms "$B" "{\"name\":\"steal\",\"service\":\"web-hosting\",\"image\":\"$ID\",\"disk_gib\":1}"
expect_match "$BODY" "not available" "B's VM from A's image"
api GET "/v1/tenants/$TA/quota" "$OPERATOR"
expect_eq "$(jq -r .used.disk_gib <<<"$BODY")" 1 "the image counts against max_disk_gib"
expect_api 204 DELETE "/v1/images/$ID" "$A"
[ -e "$IMGDIR/$ID.raw" ] && fail "a deleted image's file is still there"
log "kept: a clean qcow2 as raw (same bytes), A's only, counted in the quota, deleted with its file"

# The CLI.
tcli() { CLOUDLET_URL=$URL CLOUDLET_TOKEN=$A "$CLI_BIN" "$@"; }
out=$(tcli image upload mine "$W/good.qcow2") || fail "cloudlet image upload: $out"
expect_match "$out" "uploaded image mine" "cloudlet image upload"
tcli image list | grep -q "^mine " || fail "cloudlet image list: $(tcli image list)"
out=$(must_fail tcli image upload bad "$W/backing.qcow2")
expect_match "$out" "backing file" "cloudlet image upload of a qcow2 with a backing file"
tcli image delete mine >/dev/null || fail "cloudlet image delete"
expect_eq "$(find "$IMGDIR" -type f | wc -l)" 0 "files at the end"
log "CLI: image upload, list, delete; a refusal printed"

# --- an image in the shape of a distribution's cloud image boots -----------
# mbr_part FILE START COUNT: one bootable Linux partition in the MBR
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }
mbr_part() {
	# shellcheck disable=SC2059 # the escapes are the bytes
	printf "\x80\xfe\xff\xff\x83\xfe\xff\xff$(le32 "$2")$(le32 "$3")" |
		dd of="$1" bs=1 seek=446 conv=notrunc 2>/dev/null
	printf '\x55\xaa' | dd of="$1" bs=1 seek=510 conv=notrunc 2>/dev/null
}
KV=$(cat "$GUEST_DIR/kernel.version")
ROOTFS=$GUEST_DIR/images/debian-12/rootfs
[ -f "$ROOTFS/boot/vmlinuz-$KV" ] || fail "no debian-12 build with its kernel in $ROOTFS"
# GRUB in the MBR and the gap after it (boot.img, then core.img at sector
# 1, where boot.img and core.img's own block list look by default), its
# configuration built into core.img.
cat >"$W/grub.cfg" <<EOF
set root=(hd0,msdos1)
linux /boot/vmlinuz-$KV root=LABEL=cloudlet-root ro console=ttyS0
initrd /boot/initrd.img-$KV
boot
EOF
grub-mkimage -O i386-pc -o "$W/core.img" -c "$W/grub.cfg" -p '(hd0,msdos1)/boot/grub' \
	biosdisk part_msdos ext2 linux boot || fail "grub-mkimage (package grub-pc-bin)"
truncate -s 2G "$W/cloud.raw"
mke2fs -q -F -t ext4 -L cloudlet-root -d "$ROOTFS" -E offset=1048576 "$W/cloud.raw" \
	$(((2048 - 1) * 1024))k || fail "mke2fs of the cloud image"
dd if=/usr/lib/grub/i386-pc/boot.img of="$W/cloud.raw" bs=440 count=1 conv=notrunc 2>/dev/null
dd if="$W/core.img" of="$W/cloud.raw" bs=512 seek=1 conv=notrunc 2>/dev/null
mbr_part "$W/cloud.raw" 2048 $((2 * 1024 * 1024 * 2 - 2048))
qemu-img convert -f raw -O qcow2 "$W/cloud.raw" "$W/cloud.qcow2"
rm -f "$W/cloud.raw"
expect_api 200 PUT "/v1/tenants/$TA/quota" "$OPERATOR" '{"max_vcpus":4,"max_memory_mib":2048,"max_disk_gib":8,"max_vms":4}'
upload "$A" cloud "$W/cloud.qcow2"
expect_eq "$STATUS" 201 "the cloud image: $BODY"
CID=$(jq -r .id <<<"$BODY")
cat >"$W/cc" <<'EOF'
#cloud-config
write_files:
  - path: /etc/fw-test
    content: "written from the seed\n"
runcmd:
  - [sh, -c, "echo \"fw-check: $(cat /etc/fw-test) on $(hostname)\" >/dev/console"]
EOF
jq -n --rawfile u "$W/cc" '{name: "fw1", service: "web-hosting", image: "cloud", memory_mib: 512, disk_gib: 3, user_data: $u}' >"$T/req"
t0=$(date +%s)
api POST /v1/vms "$A" - <"$T/req"
expect_eq "$STATUS" 202 "create fw1: $BODY"
FW=$(jq -r .vm_id <<<"$BODY")
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
t1=$(date +%s)
api GET "/v1/vms/$FW" "$A"
expect_eq "$(jq -r .image <<<"$BODY")" "$CID" "fw1's image"
api GET "/v1/vms/$FW/console?bytes=1000000" "$A"
CON=$(tr -d '\r' <<<"$BODY")
expect_match "$CON" "QEMU Standard PC (i440FX" "a PC machine"
expect_match "$CON" "BOOT_IMAGE=/boot/vmlinuz-$KV" "the kernel started by the image's GRUB"
expect_match "$CON" "fw-check: written from the seed on fw1" "the seed's write_files and runcmd, and its hostname"
expect_match "$CON" "DataSourceNoCloud" "cloud-init's NoCloud data source"
grep -q "virtio-blk-pci,drive=root.*bootindex=0" "$T/agent.log" || fail "the agent's command line has no bootable virtio-pci root"
grep -q -- "-kernel" <(grep "vm $FW" "$T/agent.log" | grep qemu-system) && fail "fw1 was booted with -kernel"
expect_api 202 DELETE "/v1/vms/$FW" "$A"
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
expect_api 204 DELETE "/v1/images/$CID" "$A"
log "cloud image (MBR, GRUB, debian-12 kernel and cloud-init; $(du -m "$W/cloud.qcow2" | cut -f1) MiB qcow2): uploaded and checked, fw1 booted with SeaBIOS and its GRUB, applied its seed; create to ready $((t1 - t0)) s"
