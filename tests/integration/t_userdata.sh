#!/bin/bash
# User-data in cloud-init's format through the API (docs/guest.md, "User-data
# on the busybox images"):
#   - a web-hosting VM with a #cloud-config (hostname, ssh_authorized_keys,
#     write_files with text and b64 content, permissions and owner, runcmd
#     as strings and lists, and an unsupported key): the effects are read
#     over SSH through the tenant's firewall with the key the user-data
#     gave, and the console says the unsupported key was ignored;
#   - a base VM with a #! script: it ran, and after a reboot it has not run
#     again (once per instance), while its hostname and files stay;
#   - oversized (413), malformed YAML, another format, a bad key, a relative
#     path (400) are refused, and nothing is created; the CLI's
#     --user-data gives the same refusal.
. "$(dirname "$0")/lib.sh"
OUT=clo-ud-$$
netns_add "$OUT"
cp_start
read -r _ A < <(new_tenant udata)
outside_attach "$OUT"
ssh-keygen -q -t ed25519 -N '' -C t_userdata -f "$T/key"

# --- refusals first (cheap): each a clear 4xx, no VM left ------------------
bad_ud() { # STATUS TEXT USERDATA-FILE
	jq -n --rawfile u "$3" '{name: "bad", service: "web-hosting", user_data: $u}' >"$T/req"
	api POST /v1/vms "$A" - <"$T/req"
	expect_eq "$STATUS" "$1" "status for $(head -c 40 "$3" | tr '\n' ' ')"
	expect_match "$BODY" "$2" "refusal"
}
{ printf '#!/bin/sh\n'; head -c 16400 /dev/zero | tr '\0' '#'; } >"$T/big"
bad_ud 413 "larger than 16384 bytes" "$T/big"
printf '#cloud-config\nruncmd: [a, b\nhostname: x\n' >"$T/malformed"
bad_ud 400 "malformed YAML at line" "$T/malformed"
printf 'hostname: x\n' >"$T/other"
bad_ud 400 "must start with #cloud-config or #!" "$T/other"
printf '#cloud-config\nssh_authorized_keys: ["ssh-ed25519 AAAAnotakey"]\n' >"$T/badkey"
bad_ud 400 "ssh_authorized_keys\[0\]" "$T/badkey"
printf '#cloud-config\nwrite_files:\n  - path: etc/x\n    content: x\n' >"$T/relpath"
bad_ud 400 "absolute path" "$T/relpath"
printf '#cloud-config\n- a list\n' >"$T/list"
bad_ud 400 "YAML mapping" "$T/list"
expect_api 200 GET /v1/vms "$A"
expect_eq "$BODY" "[]" "VMs after the refusals"
out=$(CLOUDLET_URL=$URL CLOUDLET_TOKEN=$A must_fail "$CLI_BIN" vm create bad --service web-hosting \
	--user-data "$T/malformed")
expect_match "$out" "malformed YAML" "cloudlet vm create --user-data of malformed YAML"
log "refused: 16400-byte user-data (413), malformed YAML, another format, a bad key, a relative path, a list (400); CLI too"

# --- a #cloud-config on a busybox service VM ------------------------------
B64=$(printf 'decoded from base64\n' | base64)
cat >"$T/cc" <<EOF
#cloud-config
hostname: ud-host
ssh_authorized_keys:
  - $(cat "$T/key.pub")
write_files:
  - path: /srv/www/ud/hello.txt
    content: |
      hello from write_files
      second line
    permissions: '0640'
    owner: www-data:www-data
  - path: /etc/ud-b64
    encoding: b64
    content: $B64
runcmd:
  - echo "runcmd string \$(hostname)" > /root/runcmd1
  - [sh, -c, "echo \"it's a list\" > /root/runcmd2"]
packages: [nginx]
EOF
jq -n --rawfile u "$T/cc" '{name: "web", service: "web-hosting", memory_mib: 160, user_data: $u}' >"$T/req"
api POST /v1/vms "$A" - <"$T/req"
expect_eq "$STATUS" 202 "create web: $BODY"
VM=$(jq -r .vm_id <<<"$BODY")
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
expect_api 201 POST /v1/firewall/rules "$A" "{\"direction\":\"ingress\",\"protocol\":\"tcp\",\"port\":22,\"target_vm\":\"$VM\"}"
expect_api 201 POST /v1/addresses "$A" "{\"vm\":\"$VM\"}"
PUB=$(jq -r .address <<<"$BODY")
SSHOPTS="-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 -o LogLevel=ERROR -o IdentitiesOnly=yes -F /dev/null"
# shellcheck disable=SC2086
vssh() { ip netns exec "$OUT" ssh $SSHOPTS -i "$T/key" "root@$PUB" "$@"; }
i=0
until out=$(vssh 'hostname; cat /srv/www/ud/hello.txt; stat -c "%a %U:%G" /srv/www/ud/hello.txt; cat /etc/ud-b64; cat /root/runcmd1 /root/runcmd2; sha256sum </run/cloudlet/seed/user-data' 2>&1); do
	i=$((i + 1))
	[ $i -lt 30 ] || fail "ssh root@$PUB with the user-data's key: $out"
	sleep 2
done
out=$(printf '%s' "$out" | tr -d '\r')
expect_eq "$(sed -n 1p <<<"$out")" ud-host "hostname from user-data"
expect_eq "$(sed -n 2,3p <<<"$out")" "hello from write_files
second line" "write_files text content"
expect_eq "$(sed -n 4p <<<"$out")" "640 www-data:www-data" "write_files permissions and owner"
expect_eq "$(sed -n 5p <<<"$out")" "decoded from base64" "write_files b64 content"
expect_eq "$(sed -n 6p <<<"$out")" "runcmd string ud-host" "runcmd string item"
expect_eq "$(sed -n 7p <<<"$out")" "it's a list" "runcmd list item"
expect_eq "$(sed -n 8p <<<"$out" | awk '{print $1}')" "$(sha256sum <"$T/cc" | awk '{print $1}')" "the seed's user-data (passed unchanged)"
api GET "/v1/vms/$VM/console?bytes=1000000" "$A"
expect_match "$BODY" "cloudlet: user-data: packages ignored" "the console's note of the unsupported key"
log "web: hostname, ssh_authorized_keys (login through the firewall), write_files (text, b64, 0640 www-data), runcmd (string, list) applied; 'packages' reported ignored"

# --- a #! script on a base VM: once per instance -----------------------------
printf '#!/bin/sh\necho "script-ran-$((6 * 7))"\necho kept >/root/script-file\n' >"$T/script"
jq -n --rawfile u "$T/script" '{name: "plain", service: "web-hosting", memory_mib: 160, user_data: $u}' >"$T/req"
api POST /v1/vms "$A" - <"$T/req"
expect_eq "$STATUS" 202 "create plain: $BODY"
VM2=$(jq -r .vm_id <<<"$BODY")
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
api GET "/v1/vms/$VM2/console?bytes=1000000" "$A"
expect_eq "$(grep -c '^script-ran-42' <<<"$BODY")" 1 "script runs at the first boot"
expect_api 202 POST "/v1/vms/$VM2/actions" "$A" '{"action":"reboot"}'
wait_op "$(jq -r .id <<<"$BODY")" "$A" >/dev/null
i=0
while :; do
	api GET "/v1/vms/$VM2/console?bytes=1000000" "$A"
	[ "$(grep -c 'cloudlet: ready' <<<"$BODY")" -lt 2 ] || break
	i=$((i + 1))
	[ $i -lt 300 ] || fail "plain not ready again after its reboot"
	sleep 0.5
done
expect_eq "$(grep -c '^script-ran-42' <<<"$BODY")" 1 "script runs once (not again at the reboot)"
expect_eq "$(guest_sh "$VM2" 'cat /root/script-file' | tr -d '\r' | grep -x kept)" kept "the script's file after the reboot"
log "plain: the #! script ran at the first boot and not at the reboot"

# --- a clone of a template: the translation reaches it in its identity ----
cat >"$T/cc2" <<'EOF'
#cloud-config
hostname: clone-host
write_files:
  - path: /srv/www/index.html
    content: "page from user-data\n"
runcmd:
  - [sh, -c, "echo runcmd-in-clone-$((40 + 2))"]
bootcmd: [true]
EOF
ctl vm create cl1 --image web-hosting --vcpus 1 --memory 160 --disk 1 --provision clone \
	--user-data "$T/cc2" >/dev/null || fail "clone cl1"
ctl vm wait cl1 ready --timeout 180 >/dev/null || fail "cl1 not ready"
expect_eq "$(vm_field cl1 .provision)" clone "cl1 provisioned by"
expect_match "$(console cl1)" "runcmd-in-clone-42" "the clone's runcmd output"
expect_match "$(console cl1)" "cloudlet: user-data: bootcmd ignored" "the clone's note of bootcmd"
out=$(guest_sh cl1 'hostname; cat /srv/www/index.html' | tr -d '\r')
expect_match "$out" "clone-host" "the clone's hostname"
expect_match "$out" "page from user-data" "the clone's write_files (the service restarted after it)"
log "clone cl1: hostname, write_files, runcmd from the identity's cloudlet-config; bootcmd reported ignored"
