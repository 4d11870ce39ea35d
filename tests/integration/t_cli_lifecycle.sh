#!/bin/bash
# The whole life of a real VM through the `cloudlet` CLI, as a new customer
# would live it: a tenant and its token from the operator, the catalog, a
# VM whose spec the service determines (and one with overrides within the
# service's bounds), the guest seeing that spec, a resize applied by a
# reboot, the interactive console, stop/start, delete, the audit log.
. "$(dirname "$0")/lib.sh"
cp_start
: >"$T/config"
export CLOUDLET_URL=$URL CLOUDLET_CONFIG=$T/config
op() { CLOUDLET_TOKEN=$OPERATOR "$CLI_BIN" "$@"; }
cl() { CLOUDLET_TOKEN=$TOKEN "$CLI_BIN" "$@"; }

tid=$(op --json tenant create shop | jq -r .id)
TOKEN=$(op --json tenant token "$tid" | jq -r .token)
op quota set "$tid" --vcpus 4 --memory 1024 --disk 10 --vms 3 >/dev/null

services=$(cl --json service list)
expect_eq "$(printf '%s' "$services" | jq length)" 12 "services in the catalog"
for s in file-hosting app-hosting database data-warehouse knowledge-base media-production \
	streaming web-hosting ecommerce hpc messaging neuro; do
	printf '%s' "$services" | jq -e --arg s "$s" 'any(.[]; .id == $s)' >/dev/null ||
		fail "service $s missing from the catalog"
done
defaults=$(printf '%s' "$services" | jq -c '.[] | select(.id == "web-hosting") | .defaults')

spec_user_data >"$T/ud"
cl vm create web1 --service web-hosting --user-data "$T/ud" >"$T/created" 2>"$T/progress" ||
	fail "vm create: $(cat "$T/progress")"
grep -q "%" "$T/progress" || fail "the CLI showed no progress"
vm=$(cl --json vm show web1)
expect_eq "$(printf '%s' "$vm" | jq -c '{vcpus, memory_mib, disk_gib}')" "$defaults" "spec from the service"
expect_eq "$(printf '%s' "$vm" | jq -r .state)" running "state"
case "$(printf '%s' "$vm" | jq -r .provision)" in clone | cold) ;; *) fail "provision not reported: $vm" ;; esac
id=$(printf '%s' "$vm" | jq -r .id)

# The guest sees what the service determined (console through the API).
console() { CLOUDLET_TOKEN=$TOKEN "$CLI_BIN" vm console "$1" --bytes 1000000; }
wait_console web1 '^spec: '
check_spec web1 "$(jq -r .vcpus <<<"$defaults")" "$(jq -r .memory_mib <<<"$defaults")" \
	"$(jq -r .disk_gib <<<"$defaults")"

# Overrides within the service's bounds are taken; outside them refused.
out=$(cl vm create big --service web-hosting --vcpus 9 2>&1) && fail "vcpus 9 accepted"
expect_match "$out" "outside what service" "override outside bounds"
cl vm create web2 --service web-hosting --vcpus 2 --memory 256 >/dev/null
expect_eq "$(cl --json vm show web2 | jq -c '[.vcpus, .memory_mib]')" "[2,256]" "overrides"

# Resize: recorded at once, applied by the reboot; the guest sees it.
cl vm resize web1 --vcpus 2 --memory 256 --disk 2 >/dev/null
expect_eq "$(cl --json vm show web1 | jq -r .restart_required)" true "restart_required"
cl vm reboot web1 >/dev/null
wait_console web1 '^spec: .*nproc=2'
check_spec web1 2 256 2
out=$(cl vm resize web1 --disk 1 2>&1) && fail "shrink accepted"
expect_match "$out" "shrink" "shrink refused"

# The interactive console: typed input runs in the guest.
out=$(echo 'echo typed-$((6 * 7))' | cl vm console web1 --attach)
expect_match "$out" "typed-42" "console attach"

cl vm stop web1 >/dev/null
expect_eq "$(cl --json vm show web1 | jq -r .state)" stopped "stopped"
cl vm start web1 >/dev/null
expect_eq "$(cl --json vm show web1 | jq -r .state)" running "started"

cl vm delete web1 >/dev/null
cl vm delete web2 >/dev/null
expect_eq "$(cl --json vm list | jq length)" 0 "VMs left"
expect_eq "$(agent_vms | wc -l)" 0 "VMs left on the host"
events=$(cl --json events --limit 100)
for a in vm.create vm.reconfigure vm.reboot vm.stop vm.start vm.delete; do
	printf '%s' "$events" | jq -e --arg a "$a" 'any(.[]; .action == $a)' >/dev/null ||
		fail "no $a in the audit log"
done
out=$(cl vm show nope 2>&1) && fail "showing a missing VM succeeded"
expect_match "$out" "not_found" "CLI error text"
log "lifecycle through the CLI done"
