#!/bin/sh
# The agent restarts without stopping VMs and re-attaches to them; a VM
# whose QEMU is killed is reported crashed with the reason; a guest that
# powers itself off is stopped, not crashed; pause/resume work.
. "$(dirname "$0")/lib.sh"
agent_start

printf '#!/bin/sh\n(sleep 2; poweroff) &\n' >"$T/ud-off"
ctl vm create keep --image base --vcpus 1 --memory 128 --disk 1 >/dev/null
ctl vm create victim --image base --vcpus 1 --memory 128 --disk 1 >/dev/null
ctl vm create quitter --image base --vcpus 1 --memory 128 --disk 1 --user-data "$T/ud-off" >/dev/null
ctl vm wait keep ready --timeout 180 >/dev/null || fail "keep not ready"
ctl vm wait victim ready --timeout 180 >/dev/null || fail "victim not ready"

pid_keep=$(vm_field keep .pid)
pid_victim=$(vm_field victim .pid)

# Restart the agent: QEMUs keep running, the new agent finds them.
agent_stop
proc_alive "$pid_keep" || fail "VM died with the agent"
agent_start
expect_eq "$(vm_field keep .state)" running "keep after agent restart"
expect_eq "$(vm_field keep .pid)" "$pid_keep" "same QEMU after restart"

# Pause and resume through the new agent.
ctl vm pause keep >/dev/null
expect_eq "$(vm_field keep .state)" paused "paused"
ctl vm resume keep >/dev/null
expect_eq "$(vm_field keep .state)" running "resumed"

# Killing a QEMU started by the previous agent: crashed, never lost.
kill -9 "$pid_victim"
ctl vm wait victim crashed --timeout 30 >/dev/null || fail "victim not reported crashed"
reason=$(vm_field victim .reason)
expect_match "$reason" "QEMU" "crash reason"
log "victim: crashed: $reason"

# A crashed VM can be started again; killing a QEMU this agent started
# gives the exact signal.
ctl vm start victim >/dev/null
ctl vm wait victim running --timeout 30 >/dev/null
kill -9 "$(vm_field victim .pid)"
ctl vm wait victim crashed --timeout 30 >/dev/null || fail "victim not crashed (2)"
expect_match "$(vm_field victim .reason)" "signal 9" "crash reason names the signal"

# The guest powered itself off: stopped, with that reason.
ctl vm wait quitter stopped --timeout 180 >/dev/null || fail "quitter did not stop"
expect_match "$(vm_field quitter .reason)" "guest shut down" "guest poweroff reason"

# The serial console can be attached: a command typed there runs.
echo 'echo attached-$((6 * 7))' | ctl vm console keep --attach
wait_console keep 'attached-42' 30

# Graceful stop of the VM that survived the agent restart.
ctl vm stop keep >/dev/null
expect_eq "$(vm_field keep .state)" stopped "keep stopped"
proc_alive "$pid_keep" && fail "QEMU still running after stop"
expect_match "$(console keep)" "cloudlet: shutting down" "guest shut down cleanly"
true
