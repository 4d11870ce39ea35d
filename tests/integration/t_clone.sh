#!/bin/bash
# Clones restored from a booted template: each gets its own identity
# (hostname, MAC, instance-id), its own randomness, its own disk, and both
# reach the network; a template whose image changed is rebuilt, not reused.
. "$(dirname "$0")/lib.sh"
ns=clt-clone-$$
netns_add "$ns"
ip -n "$ns" link add br0 type bridge
ip -n "$ns" addr add 10.232.0.1/24 dev br0
ip -n "$ns" link set br0 up
# A private copy of the guest directory (hard links), so this test can
# change an image without touching other tests.
cp -al "$GUEST_DIR" "$T/guest"
GUEST_DIR=$T/guest agent_start

cat >"$T/ud" <<'UD'
#!/bin/sh
echo "identity: host=$(hostname) mac=$(cat /sys/class/net/eth0/address) iid=$(cat /run/cloudlet/instance-id) clock=$(date +%s) rand=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
UD
for k in 1 2; do
	ctl vm create "c$k" --image base --vcpus 1 --memory 128 --disk 1 --provision clone \
		--user-data "$T/ud" --nic "netns=$ns,bridge=br0,address=10.232.0.1$k/24" >/dev/null ||
		fail "clone c$k"
	ctl vm wait "c$k" ready --timeout 60 >/dev/null || fail "c$k not ready"
done
expect_eq "$(ctl --json template list | jq length)" 1 "templates"
tpl=$(ctl --json template list | jq -r '.[0].key')
# host.info tells the control plane which fits this host can clone.
expect_eq "$(ctl raw '{"op":"host.info"}' | jq -c .result.templates)" '["base/1/128/1"]' "host.info templates"
ident() { console "$1" | tr -d '\r' | grep '^identity: ' | tail -n 1; }
base_templates() {
	ctl --json template list | jq '[.[] | select(.identity | test("\nimage=base\n"))] | length'
}
# (lib.sh's helpers use $i themselves: loop with $k)
for k in 1 2; do
	expect_eq "$(vm_field "c$k" .provision)" clone "c$k provisioned by"
	wait_console "c$k" '^identity: '
	line=$(ident "c$k")
	expect_match "$line" "host=c$k " "c$k hostname"
	expect_match "$line" "mac=$(vm_field "c$k" '.nics[0].mac') " "c$k MAC"
	expect_match "$line" "iid=$(vm_field "c$k" .id) " "c$k instance-id"
	log "c$k: $line (boot $(vm_field "c$k" .boot_ms) ms spawn to restored)"
done
grep -q "cloudlet: template-ready" "$T/state/templates/$tpl/console.log" || fail "template log"
r1=$(ident c1 | sed 's/.*rand=//')
r2=$(ident c2 | sed 's/.*rand=//')
[ ${#r1} -eq 64 ] || fail "no random bytes from c1"
[ "$r1" != "$r2" ] || fail "two clones gave the same random bytes: $r1"
m1=$(vm_field c1 '.nics[0].mac')
m2=$(vm_field c2 '.nics[0].mac')
[ "$m1" != "$m2" ] || fail "clones share a MAC"

# Both reach the network, each with its own MAC.
for k in 1 2; do
	ip netns exec "$ns" ping -c 1 -W 5 "10.232.0.1$k" >/dev/null || fail "c$k does not answer ping"
done
ip -n "$ns" neigh show 10.232.0.11 | grep -qi "$m1" || fail "c1 does not use its MAC"
ip -n "$ns" neigh show 10.232.0.12 | grep -qi "$m2" || fail "c2 does not use its MAC"

# A clone of a service image: the service runs (started by the clone's
# cloudlet-identity, docs/guest.md) and answers.
ctl vm create w1 --image web-hosting --vcpus 1 --memory 256 --disk 1 --provision clone \
	--nic "netns=$ns,bridge=br0,address=10.232.0.15/24" >/dev/null || fail "clone w1"
ctl vm wait w1 ready --timeout 90 >/dev/null || fail "w1 not ready"
expect_eq "$(vm_field w1 .provision)" clone "w1 provisioned by"
page=$(ip netns exec "$ns" curl -s --max-time 20 --retry 5 --retry-connrefused \
	http://10.232.0.15/) || fail "w1 serves no page"
expect_match "$page" "cloudlet web-hosting" "w1's page"
ctl vm delete w1 >/dev/null

# A kernel crash inside a clone (panic=-1) boots its kernel again, cold, in
# the same QEMU, from the clone's own seed disk: the one written into the
# file QEMU had open already.
id2=$(vm_field c2 .id)
pid2=$(vm_field c2 .pid)
echo 'echo c >/proc/sysrq-trigger' | ctl vm console c2 --attach >/dev/null
k=0
while [ "$(console c2 | grep -c "cloudlet: ready $id2")" -lt 2 ]; do
	k=$((k + 1))
	[ $k -lt 600 ] || fail "c2 not ready again after a crash inside it"
	sleep 0.2
done
expect_eq "$(vm_field c2 .pid)" "$pid2" "c2's QEMU after the crash"
line=$(ident c2)
expect_match "$line" "host=c2 " "c2 hostname after its crash"
expect_match "$line" "iid=$id2 " "c2 instance-id after its crash"
ip netns exec "$ns" ping -c 1 -W 5 10.232.0.12 >/dev/null || fail "c2 unreachable after its crash"

# Writes in one clone are invisible to the other and to the template.
echo 'echo c1-secret >/root/marker; sync; echo wrote-$((40 + 2))' | ctl vm console c1 --attach >/dev/null
wait_console c1 'wrote-42' 30
echo 'cat /root/marker || echo no-marker-$((40 + 2))' | ctl vm console c2 --attach >/dev/null
wait_console c2 'no-marker-42' 30
debugfs -R 'stat /root/marker' "$T/state/templates/$tpl/root.raw" 2>&1 | grep -q 'not found' ||
	fail "the template's disk changed"

# The image changes: the next clone gets a new template, never the stale one.
jq '.id = "changed-by-test"' "$T/guest/images/base/image.json" >"$T/image.json"
mv "$T/image.json" "$T/guest/images/base/image.json"
ctl vm create c3 --image base --vcpus 1 --memory 128 --disk 1 --provision clone >/dev/null
ctl vm wait c3 ready --timeout 60 >/dev/null || fail "c3 not ready"
expect_eq "$(base_templates)" 2 "templates of base after its image changed"
ctl --json template list | jq -r '.[].identity' | grep -q 'image_id=changed-by-test' ||
	fail "no template for the changed image"

# A cold create of the same fit still works and says so.
ctl vm create c4 --image base --vcpus 1 --memory 128 --disk 1 --provision cold >/dev/null
expect_eq "$(vm_field c4 .provision)" cold "cold path"
ctl vm delete c4 >/dev/null
# A clone stopped and started again boots cold from its own disk, which
# kept what was written.
ctl vm stop c1 >/dev/null
ctl vm start c1 >/dev/null
ctl vm wait c1 ready --timeout 120 >/dev/null || fail "c1 not ready after restart"
echo 'cat /root/marker' | ctl vm console c1 --attach >/dev/null
wait_console c1 '^c1-secret' 30
# The wall clock: a clone restored well after its template was saved has
# the host's time, not the template's.
tpl2=$(ctl --json template list | jq -r '.[] | select(.identity | test("image_id=changed-by-test")) | .key')
saved=$(stat -c %Y "$T/state/templates/$tpl2/state")
[ $(($(date +%s) - saved)) -ge 5 ] || sleep $((5 - ($(date +%s) - saved)))
ctl vm create c5 --image base --vcpus 1 --memory 128 --disk 1 --provision clone \
	--user-data "$T/ud" >/dev/null || fail "clone c5"
ctl vm wait c5 ready --timeout 60 >/dev/null || fail "c5 not ready"
wait_console c5 '^identity: '
clock=$(ident c5 | sed 's/.*clock=\([0-9]*\).*/\1/')
now=$(date +%s)
[ $((now - clock)) -le 2 ] && [ $((clock - now)) -le 2 ] ||
	fail "c5's clock is $((clock - now)) s off the host's (template saved $((now - saved)) s ago)"
log "c5: clock $((clock - now)) s off the host's, template saved $((now - saved)) s before"
ctl vm delete c5 >/dev/null

# The stale template: its RAM and state go at once, its disk while clones
# (c1, c2) still use it as backing file; then all of it.
gc=$(ctl --json template gc)
expect_eq "$(jq -r '.kept_for_clones | join(" ")' <<<"$gc")" "$tpl" "stale template kept for its clones"
[ -e "$T/shm/cloudlet-$tpl.ram" ] && fail "a stale template's RAM file is still there"
[ -f "$T/state/templates/$tpl/root.raw" ] || fail "the clones' backing disk was removed"
echo 'cat /root/marker' | ctl vm console c1 --attach >/dev/null
wait_console c1 '^c1-secret' 30
ctl vm delete c1 >/dev/null
ctl vm delete c2 >/dev/null
gc=$(ctl --json template gc)
expect_eq "$(jq -r '.removed | join(" ")' <<<"$gc")" "$tpl" "stale template removed once unused"
[ -d "$T/state/templates/$tpl" ] && fail "the stale template's directory is still there"
expect_eq "$(base_templates)" 1 "templates of base after gc (the current one stays)"
log "clones: own identity, randomness, MACs, disks; template rebuilt on image change, the stale one collected"
