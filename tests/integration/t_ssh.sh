#!/bin/bash
# SSH into VMs with the keys of their spec (ssh_keys -> the seed's
# meta-data public-keys): a busybox VM (dropbear, root) and a debian-12 VM
# (OpenSSH, cloud-init's default user "debian"), reached with the real
# OpenSSH client from a namespace on the VMs' bridge. A wrong key is
# refused, password logins are not offered, the debian-12 VM applied its
# cloud-config (hostname, write_files, runcmd; packages fails offline,
# visibly; after a reboot cloud-init's status is done), and two clones of
# one template have different host keys (debian-12 clones:
# t_debian_clone.sh).
# The debian-12 VM boots cold under emulation (slow): it is created first
# and everything else runs while it boots.
. "$(dirname "$0")/lib.sh"
ns=clt-ssh-$$
netns_add "$ns"
ip -n "$ns" link add br0 type bridge
ip -n "$ns" addr add 10.233.0.1/24 dev br0
ip -n "$ns" link set br0 up
ip -n "$ns" link set lo up
agent_start

# The keys: made here, private halves only in $T (never on a command line
# or in a log).
ssh-keygen -q -t ed25519 -N '' -C t_ssh -f "$T/key"
ssh-keygen -q -t ed25519 -N '' -C wrong -f "$T/wrong"
SSHOPTS="-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
	-o LogLevel=ERROR -o ConnectTimeout=20 -o IdentitiesOnly=yes -F /dev/null"
# vssh KEY USER@ADDR CMD...: ssh from the namespace
vssh() {
	k=$1 dest=$2
	shift 2
	# shellcheck disable=SC2086 # the option list
	ip netns exec "$ns" ssh $SSHOPTS -i "$k" "$dest" "$@"
}
# hostkey ADDR: the ed25519 host key the server at ADDR shows
hostkey() {
	ip netns exec "$ns" ssh-keyscan -T 20 -t ed25519 "$1" 2>/dev/null | awk '{print $3}'
}

# debian-12 first: cloud-config with write_files, runcmd and a package that
# cannot be installed offline (the namespace has no way out).
cat >"$T/ud-debian" <<'UD'
#cloud-config
write_files:
  - path: /etc/cloudlet-test
    content: "written-by-cloud-init\n"
  - path: /etc/cloudlet-b64
    encoding: b64
    content: YjY0LWJ5LWNsb3VkLWluaXQK
    permissions: '0600'
runcmd:
  - [sh, -c, "echo runcmd-ran >/var/tmp/runcmd-marker"]
packages: [hello]
UD
t0=$(date +%s%N)
ctl vm create deb1 --image debian-12 --vcpus 1 --memory 512 --disk 2 --ssh-key "$T/key.pub" \
	--user-data "$T/ud-debian" \
	--nic "netns=$ns,bridge=br0,address=10.233.0.20/24,gateway=10.233.0.1" >/dev/null ||
	fail "create deb1"

# A busybox VM, cold, with a user-data script that writes a file.
cat >"$T/ud-bb" <<'UD'
#!/bin/sh
echo written-by-user-data >/root/ud-marker
UD
ctl vm create bb1 --image base --vcpus 1 --memory 128 --disk 1 --provision cold \
	--ssh-key "$T/key.pub" --user-data "$T/ud-bb" \
	--nic "netns=$ns,bridge=br0,address=10.233.0.11/24" >/dev/null || fail "create bb1"
ctl vm wait bb1 ready --timeout 180 >/dev/null || fail "bb1 not ready"
out=$(vssh "$T/key" root@10.233.0.11 'hostname; cat /root/ud-marker; id -u') ||
	fail "ssh into bb1 with its key"
expect_eq "$(echo "$out" | sed -n 1p)" bb1 "bb1's hostname over ssh"
expect_eq "$(echo "$out" | sed -n 2p)" written-by-user-data "bb1's user-data file"
expect_eq "$(echo "$out" | sed -n 3p)" 0 "bb1's login user"
vssh "$T/wrong" root@10.233.0.11 true 2>/dev/null && fail "bb1 let a wrong key in"
# Password logins are not even offered (dropbear -s).
err=$(ip netns exec "$ns" ssh $SSHOPTS -o PreferredAuthentications=password,keyboard-interactive \
	-o PubkeyAuthentication=no root@10.233.0.11 true 2>&1) && fail "bb1: a login without a key"
expect_match "$err" "Permission denied (publickey)" "bb1's refusal of a password"
hk_bb1=$(hostkey 10.233.0.11)
[ -n "$hk_bb1" ] || fail "bb1 shows no ed25519 host key"
log "bb1: ssh ok ($(echo "$out" | tr '\n' ' '))"

# Two clones of one web-hosting template (its service prestarted in the
# template): each makes its own host keys.
for k in 1 2; do
	ctl vm create "cw$k" --image web-hosting --vcpus 1 --memory 192 --disk 1 --provision clone \
		--ssh-key "$T/key.pub" --nic "netns=$ns,bridge=br0,address=10.233.0.1$((k + 1))/24" \
		>/dev/null || fail "clone cw$k"
	ctl vm wait "cw$k" ready --timeout 120 >/dev/null || fail "cw$k not ready"
	expect_eq "$(vm_field "cw$k" .provision)" clone "cw$k provisioned by"
done
expect_eq "$(ctl --json template list | jq length)" 1 "templates"
for k in 1 2; do
	expect_eq "$(vssh "$T/key" root@10.233.0.1$((k + 1)) hostname)" "cw$k" "cw$k's hostname over ssh"
done
hk1=$(hostkey 10.233.0.12)
hk2=$(hostkey 10.233.0.13)
[ -n "$hk1" ] && [ -n "$hk2" ] || fail "a clone shows no ed25519 host key"
[ "$hk1" != "$hk2" ] || fail "two clones of one template share their ssh host key"
[ "$hk1" != "$hk_bb1" ] || fail "a clone has bb1's host key"
# The same key at the next connection (it is kept, not made anew).
expect_eq "$(hostkey 10.233.0.12)" "$hk1" "cw1's host key at a second look"
ctl vm delete cw1 >/dev/null
ctl vm delete cw2 >/dev/null
ctl vm delete bb1 >/dev/null

# A spec with a bad key is refused, and nothing is created.
ssh-keygen -q -t rsa -b 1024 -N '' -f "$T/rsa1024" 2>/dev/null
err=$(must_fail ctl vm create bad1 --image base --vcpus 1 --memory 128 --disk 1 \
	--ssh-key "$T/rsa1024.pub")
expect_match "$err" "RSA keys need at least 2048 bits" "an RSA 1024 key's refusal"
# A private key given by mistake (a throwaway one: the login key's private
# half goes nowhere but ssh -i) is refused without being quoted back.
ssh-keygen -q -t ed25519 -N '' -f "$T/pasted"
err=$(must_fail ctl vm create bad2 --image base --vcpus 1 --memory 128 --disk 1 \
	--ssh-key "$T/pasted")
printf '%s' "$err" | grep -q "PRIVATE KEY\|$(sed -n 2p "$T/pasted" | cut -c1-20)" &&
	fail "the refusal quotes the private key"
expect_match "$err" "not a public key" "a private key's refusal"
ctl vm show bad2 >/dev/null 2>&1 && fail "a refused create left a VM"

# debian-12: ready once cloud-init's final stage is over (its unit
# cloudlet-ready); the time from create to ready is reported.
ctl vm wait deb1 ready --timeout 1200 >/dev/null || fail "deb1 not ready"
t1=$(date +%s%N)
log "deb1: create to ready $(((t1 - t0) / 1000000)) ms (cold boot, TCG, 1 vCPU)"
out=$(vssh "$T/key" debian@10.233.0.20 \
	'hostname; cat /etc/cloudlet-test; cat /var/tmp/runcmd-marker; sudo -n id -u; cloud-init status || true') ||
	fail "ssh into deb1 as debian with its key"
expect_eq "$(echo "$out" | sed -n 1p)" deb1 "deb1's hostname over ssh"
expect_eq "$(echo "$out" | sed -n 2p)" written-by-cloud-init "deb1's write_files file"
expect_eq "$(echo "$out" | sed -n 3p)" runcmd-ran "deb1's runcmd marker"
expect_eq "$(echo "$out" | sed -n 4p)" 0 "sudo as debian"
# packages: [hello] cannot work offline: cloud-init says so, and the
# console too; the boot went on.
expect_match "$(echo "$out" | sed -n 5p)" "status: error" "cloud-init status"
console deb1 | grep -q "cloudlet: warning: cloud-init reported errors" ||
	fail "deb1's console does not show cloud-init's errors"
vssh "$T/wrong" debian@10.233.0.20 true 2>/dev/null && fail "deb1 let a wrong key in"
err=$(ip netns exec "$ns" ssh $SSHOPTS -o PreferredAuthentications=password,keyboard-interactive \
	-o PubkeyAuthentication=no debian@10.233.0.20 true 2>&1) && fail "deb1: a login without a key"
expect_match "$err" "Permission denied (publickey)" "deb1's refusal of a password"
hk_deb=$(hostkey 10.233.0.20)
[ -n "$hk_deb" ] || fail "deb1 shows no ed25519 host key"
grep -q "$hk_deb" "$GUEST_DIR/images/debian-12/rootfs/etc/ssh/"*.pub 2>/dev/null &&
	fail "deb1's host key comes from the image"
# The same cloud-config dialect as the busybox images (t_userdata.sh):
# a b64 file with its permissions.
out=$(vssh "$T/key" debian@10.233.0.20 'sudo -n cat /etc/cloudlet-b64; sudo -n stat -c %a /etc/cloudlet-b64') ||
	fail "ssh into deb1 for the b64 file"
expect_eq "$out" "b64-by-cloud-init
600" "deb1's b64 write_files file and its permissions"
# A reboot: cloud-init's per-instance modules (packages among them) do not
# run again, so its status is done now, and the files stay.
ctl vm reboot deb1 >/dev/null || fail "reboot deb1"
k=0
while [ "$(console deb1 | grep -c 'cloudlet: ready')" -lt 2 ]; do
	k=$((k + 1))
	[ $k -lt 1200 ] || fail "deb1 not ready again after its reboot"
	sleep 0.5
done
out=$(vssh "$T/key" debian@10.233.0.20 'cat /etc/cloudlet-test; cloud-init status || true') ||
	fail "ssh into deb1 after its reboot"
expect_eq "$(echo "$out" | sed -n 1p)" written-by-cloud-init "deb1's write_files file after the reboot"
expect_match "$(echo "$out" | sed -n 2p)" "status: done" "cloud-init status after the reboot"
expect_eq "$(hostkey 10.233.0.20)" "$hk_deb" "deb1's host key after the reboot"
log "deb1: b64 write_files 0600; after a reboot cloud-init status done, files and host key kept"
ctl vm delete deb1 >/dev/null
