#!/bin/bash
# A VM whose service never listens does not get ready (agent level): the
# guest prints "cloudlet: service-failed: ..." instead of its readiness
# line (docs/guest.md), and the agent's wait for "ready" ends at once with
# that reason instead of running into its timeout. A healthy database VM
# beside it gets ready.
. "$(dirname "$0")/lib.sh"
agent_start

printf '#!/bin/sh\necho "no-such-directive yes" >/etc/redis/local.conf\n' >"$T/crash.sh"
ctl vm create bad --image database --vcpus 1 --memory 192 --disk 1 --provision cold \
	--user-data "$T/crash.sh" >/dev/null || fail "create bad"
ctl vm create good --image database --vcpus 1 --memory 192 --disk 1 --provision cold >/dev/null ||
	fail "create good"

out=$(ctl raw '{"op":"vm.wait","args":{"name":"bad","for":"ready","timeout_s":240}}' || true)
expect_eq "$(jq -r .error.code <<<"$out")" internal "code of the failed wait"
expect_match "$(jq -r .error.message <<<"$out")" "did not get ready: the service exited with status 1 before port 6379/tcp listened" "message of the failed wait"
expect_match "$(ctl --json vm show bad | jq -r .ready_error)" "exited with status 1" "ready_error in the view"
expect_eq "$(ctl --json vm show bad | jq -r .ready)" false "bad ready"
log "bad: $(jq -r .error.message <<<"$out")"

ctl vm wait good ready --timeout 240 >/dev/null || fail "good did not get ready"
expect_eq "$(ctl --json vm show good | jq -r '.ready_error // "none"')" none "good's ready_error"
log "good: ready"

# A restart of the guest (a new boot) clears the reason until it fails again.
ctl vm reboot bad >/dev/null || fail "reboot bad"
out=$(ctl raw '{"op":"vm.wait","args":{"name":"bad","for":"ready","timeout_s":240}}' || true)
expect_match "$(jq -r .error.message <<<"$out")" "did not get ready" "after the reboot"
log "bad after a reboot: failed again with its reason"
