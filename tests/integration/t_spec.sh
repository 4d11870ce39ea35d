#!/bin/sh
# Two VMs with different specs run at the same time; inside each, nproc,
# MemTotal and the root disk match the spec. Then the customer reconfigures
# one: vCPUs/memory apply at the next start, the disk grows (and the guest
# sees it), shrinking is refused.
. "$(dirname "$0")/lib.sh"
agent_start
spec_user_data >"$T/ud"

ctl vm create big --image base --vcpus 2 --memory 384 --disk 2 --user-data "$T/ud" >/dev/null
ctl vm create small --image base --vcpus 1 --memory 192 --disk 1 --user-data "$T/ud" >/dev/null
ctl vm wait big ready --timeout 180 >/dev/null || fail "big not ready"
ctl vm wait small ready --timeout 180 >/dev/null || fail "small not ready"
expect_eq "$(vm_field big .state)" running "big state"
expect_eq "$(vm_field small .state)" running "small state"
expect_eq "$(vm_field big .accel)" "$(ctl --json host | jq -r .accel)" "accelerator recorded"
wait_console big '^spec: '
wait_console small '^spec: '
check_spec big 2 384 2
check_spec small 1 192 1
# QEMU runs unprivileged, sandboxed, one process per VM.
for n in big small; do
	pid=$(vm_field $n .pid)
	expect_eq "$(ps -o user= -p "$pid")" cloudlet-vm "$n QEMU user"
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "-sandbox on" || fail "$n QEMU not sandboxed"
done
# Both really run at once: two live QEMU processes.
kill -0 "$(vm_field big .pid)" && kill -0 "$(vm_field small .pid)" || fail "not both running"

# Reconfigure while running: accepted, applies at the next start.
ctl vm resize small --vcpus 2 --memory 256 --disk 3 >/dev/null
expect_eq "$(vm_field small .restart_required)" true "restart_required"
out=$(must_fail ctl vm resize small --disk 2)
expect_match "$out" "shrink" "shrink error"
ctl vm stop small >/dev/null
expect_eq "$(vm_field small .state)" stopped "small stopped"
ctl vm start small >/dev/null
ctl vm wait small ready --timeout 180 >/dev/null || fail "small not ready after resize"
wait_console small '^spec: .*nproc=2'
check_spec small 2 256 3
expect_eq "$(vm_field small .restart_required)" false "restart_required after restart"

# Stopped VM: growing applies at once; shrinking still refused.
ctl vm stop big >/dev/null
ctl vm resize big --disk 4 >/dev/null
out=$(must_fail ctl vm resize big --disk 1)
expect_match "$out" "shrink" "shrink error (stopped)"
ctl vm start big >/dev/null
ctl vm wait big ready --timeout 180 >/dev/null || fail "big not ready after grow"
check_spec big 2 384 4

ctl vm delete big >/dev/null
ctl vm delete small >/dev/null
expect_eq "$(ctl --json vm list | jq length)" 0 "VMs left"
expect_eq "$(ls "$T/state/vms" | wc -l)" 0 "VM directories left"
