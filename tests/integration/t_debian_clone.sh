#!/bin/bash
# Two debian-12 VMs cloned from one template, through the API, each with its
# own identity (docs/guest.md, "debian-12 clones"):
#   - the agent builds the template for the fit cloudletd asks for (1 vCPU,
#     512 MiB, 2 GiB, one NIC); both creates answer provision "clone";
#   - from the outside namespace, ssh (OpenSSH) logs in to each with the
#     tenant's registered key through the tenant's firewall (an external
#     address and a rule opening 22 per VM);
#   - the two clones show different SSH host keys (ssh-keyscan), neither
#     the template's; different machine-ids, their own hostnames, different
#     bytes from /dev/urandom; cloud-init status "done"; the user-data's
#     write_files file and runcmd effect in each (cloud-init ran its
#     per-instance modules again for the clone); a clock not behind the
#     moment the clone was asked for.
. "$(dirname "$0")/lib.sh"
OUT=clo-dcl-$$
netns_add "$OUT"
cp_start
read -r _ A < <(new_tenant debclone)
outside_attach "$OUT"

# The template first (the agent builds it on request; a cold debian-12
# boot, minutes under emulation).
t0=$(date +%s)
ctl template build --image debian-12 --vcpus 1 --memory 512 --disk 2 --nics 1 >/dev/null ||
	fail "building the debian-12 template: $(tail -n 5 "$T/agent.log")"
TPL=$(find "$T/state/templates" -mindepth 1 -maxdepth 1 -type d | head -n 1)
grep -q "cloudlet: template-ready" "$TPL/console.log" || fail "no template-ready line in the template's console"
# The host keys the template's own boot made (it printed them): no clone may have them.
TPL_KEYS=$(grep -o 'SHA256:[A-Za-z0-9+/]*' "$TPL/console.log" | sort -u)
[ -n "$TPL_KEYS" ] || fail "the template's boot printed no host key fingerprints"
log "template built in $(($(date +%s) - t0)) s ($(echo "$TPL_KEYS" | wc -l) host keys made and discarded by its boot)"

ssh-keygen -q -t ed25519 -N '' -C debclone -f "$T/key"
jq -n --rawfile k "$T/key.pub" '{name: "laptop", public_key: $k}' >"$T/add"
api POST /v1/keys "$A" - <"$T/add"
expect_eq "$STATUS" 201 "add a key"
cat >"$T/ud" <<'UD'
#cloud-config
write_files:
  - path: /etc/cloudlet-clone-test
    content: "written-in-the-clone\n"
runcmd:
  - [sh, -c, "hostname >/var/tmp/runcmd-host"]
UD

SSHOPTS="-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=20 -o LogLevel=ERROR -o IdentitiesOnly=yes -F /dev/null"
# shellcheck disable=SC2086 # the option list
vssh() { a=$1; shift; ip netns exec "$OUT" ssh $SSHOPTS -i "$T/key" "debian@$a" "$@"; }

declare -A VMID PUB
asked=$(date +%s)
for n in d1 d2; do
	jq -n --arg n "$n" --rawfile ud "$T/ud" '{name: $n, service: "web-hosting", image: "debian-12",
		vcpus: 1, memory_mib: 512, disk_gib: 2, keys: ["laptop"], user_data: $ud}' >"$T/create"
	api POST /v1/vms "$A" - <"$T/create"
	expect_eq "$STATUS" 202 "create $n: $BODY"
	VMID[$n]=$(jq -r .vm_id <<<"$BODY")
	jq -r .id <<<"$BODY" >"$T/op.$n"
done
for n in d1 d2; do
	wait_op "$(cat "$T/op.$n")" "$A" >/dev/null
	expect_api 200 GET "/v1/vms/${VMID[$n]}" "$A"
	expect_eq "$(jq -r .provision <<<"$BODY")" clone "$n's provision"
	expect_api 201 POST /v1/firewall/rules "$A" \
		"{\"direction\":\"ingress\",\"protocol\":\"tcp\",\"port\":22,\"target_vm\":\"${VMID[$n]}\"}"
	expect_api 201 POST /v1/addresses "$A" "{\"vm\":\"${VMID[$n]}\"}"
	PUB[$n]=$(jq -r .address <<<"$BODY")
done
log "d1 and d2 created through the API: provision clone; external addresses ${PUB[d1]} ${PUB[d2]}"

for n in d1 d2; do
	out=$(vssh "${PUB[$n]}" 'hostname; cat /etc/machine-id; head -c 32 /dev/urandom | od -An -tx1 | tr -d " \n"; echo;
		date +%s; cat /etc/cloudlet-clone-test; cat /var/tmp/runcmd-host; cloud-init status') ||
		fail "ssh debian@${PUB[$n]} ($n) with the registered key: $out"
	out=$(printf '%s\n' "$out" | tr -d '\r')
	echo "$out" >"$T/id.$n"
	expect_eq "$(sed -n 1p <<<"$out")" "$n" "$n's hostname"
	[[ $(sed -n 2p <<<"$out") =~ ^[0-9a-f]{32}$ ]] || fail "$n's machine-id: $(sed -n 2p <<<"$out")"
	[[ $(sed -n 3p <<<"$out") =~ ^[0-9a-f]{64}$ ]] || fail "$n's random bytes: $(sed -n 3p <<<"$out")"
	[ "$(sed -n 4p <<<"$out")" -ge "$asked" ] ||
		fail "$n's clock $(sed -n 4p <<<"$out") is behind the create request ($asked): the template's clock"
	expect_eq "$(sed -n 5p <<<"$out")" written-in-the-clone "$n's write_files file"
	expect_eq "$(sed -n 6p <<<"$out")" "$n" "$n's runcmd effect"
	expect_eq "$(sed -n 7p <<<"$out")" "status: done" "$n's cloud-init status"
	ip netns exec "$OUT" ssh-keyscan -T 20 "${PUB[$n]}" 2>/dev/null | ssh-keygen -l -E sha256 -f - |
		awk '{print $2}' | sort >"$T/hk.$n"
	[ "$(wc -l <"$T/hk.$n")" -ge 2 ] || fail "$n shows fewer than 2 host keys: $(cat "$T/hk.$n")"
	while read -r k; do
		if grep -qxF "$k" <<<"$TPL_KEYS"; then fail "$n serves the template's host key $k"; fi
	done <"$T/hk.$n"
done
for i in 2 3; do
	[ "$(sed -n ${i}p "$T/id.d1")" != "$(sed -n ${i}p "$T/id.d2")" ] ||
		fail "d1 and d2 share line $i (machine-id, random bytes): $(sed -n ${i}p "$T/id.d1")"
done
[ -z "$(comm -12 "$T/hk.d1" "$T/hk.d2")" ] || fail "d1 and d2 share host keys: $(comm -12 "$T/hk.d1" "$T/hk.d2")"
log "ssh through the firewall into both: hostnames d1/d2, machine-ids $(sed -n 2p "$T/id.d1" | cut -c1-8)…/$(sed -n 2p "$T/id.d2" | cut -c1-8)…, host keys $(head -n 1 "$T/hk.d1" | cut -c1-15)…/$(head -n 1 "$T/hk.d2" | cut -c1-15)… (none the template's), random bytes differ; cloud-init done, write_files and runcmd in each"
for n in d1 d2; do
	api GET "/v1/vms/${VMID[$n]}/console?bytes=1000000" "$A"
	grep -o 'cloudlet: clone: identity and cloud-init in [0-9]* ms' <<<"$BODY" | sed "s/^/$n: /" || true
done
