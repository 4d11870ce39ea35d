#!/bin/bash
# Operations survive restarts of the agent and of cloudletd. Four clients
# (two over the API with curl, two with the cloudlet CLI) create and delete
# web-hosting VMs in loops (every third one is kept, so VMs made across the
# restarts are there at the end); meanwhile the agent is killed with -9 and back
# within ~1 s (same state directory and socket), later cloudletd is killed
# with -9 and started again (same store and port), then the agent once
# more. Afterwards: every operation has ended and none failed, the API's
# VMs are exactly the agent's, all running and ready (none in a transitional
# state), and the tenant's quota usage is what exists on the host.
. "$(dirname "$0")/lib.sh"

CLIENT_PIDS=
stop_clients() {
	touch "$T/stop"
	for p in $CLIENT_PIDS; do kill "$p" 2>/dev/null; done
	CLIENT_PIDS=
}
# QEMUs the agent may have spawned for a create it was killed in (their VM
# directory may be gone, so lib.sh's pid-file sweep would miss them).
kill_stray_qemus() {
	for p in $(pgrep -f "qemu-system.*$T/" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
}
# (set +e: under set -e, "(exit 1)" would end the trap before cleanup)
trap 'rc0=$?; set +e; stop_clients; kill_stray_qemus; (exit $rc0); cleanup' EXIT

cp_start
CP_PORT=$port
read -r TA A <<<"$(new_tenant restarts)"
expect_api 200 PUT "/v1/tenants/$TA/quota" "$OPERATOR" \
	'{"max_vcpus":32,"max_memory_mib":16384,"max_disk_gib":64,"max_vms":32}'

# The store, read as cloudletd's own user (its files stay its own).
sql() { runuser -u cloudlet -- sqlite3 -bail "$T/cp/cloudlet.db" "$1"; }
ops_active() { sql "SELECT count(*) FROM operations WHERE state IN ('pending','running')"; }
ops_succeeded() { sql "SELECT count(*) FROM operations WHERE state = 'succeeded'"; }

# capi K METHOD PATH [BODY]: the client K's own request; sets CS (000 when
# cloudletd did not answer) and CB.
capi() {
	local k=$1 m=$2 p=$3 b=${4-} args=()
	[ -z "$b" ] || args=(-H 'Content-Type: application/json' --data-binary "$b")
	CS=$(curl -s -m 60 -o "$T/c$k.resp" -w '%{http_code}' -X "$m" \
		-H "Authorization: Bearer $A" "${args[@]}" "$URL$p") || CS=000
	CB=$(cat "$T/c$k.resp" 2>/dev/null || true)
}
# Until the operation has ended (cloudletd may be down for a while).
cwait_op() {
	local k=$1 op=$2 n=0 st
	while [ $n -lt 900 ]; do
		capi "$k" GET "/v1/operations/$op"
		if [ "$CS" = 200 ]; then
			st=$(printf '%s' "$CB" | jq -r .state)
			case $st in succeeded | failed) echo "$st"; return ;; esac
		fi
		n=$((n + 1))
		sleep 0.2
	done
	echo unended
}
# The id of the client's VM called NAME ("" if there is none), once cloudletd answers.
find_vm() {
	local k=$1 name=$2 n=0
	while [ $n -lt 300 ]; do
		capi "$k" GET /v1/vms
		if [ "$CS" = 200 ]; then
			printf '%s' "$CB" | jq -r --arg n "$name" '.[] | select(.name == $n) | .id'
			return
		fi
		n=$((n + 1))
		sleep 0.2
	done
}
# Delete VM through the API until it is gone (a 409 means an operation
# on it is still going on: wait for it).
api_delete() {
	local k=$1 vm=$2 n=0 op
	while [ $n -lt 300 ]; do
		capi "$k" DELETE "/v1/vms/$vm"
		case $CS in
		202)
			op=$(printf '%s' "$CB" | jq -r .id)
			echo "$(cwait_op "$k" "$op") delete $op" >>"$T/results"
			;;
		404) return ;;
		esac
		capi "$k" GET "/v1/vms/$vm"
		[ "$CS" = 404 ] && return
		n=$((n + 1))
		sleep 0.3
	done
	echo "client $k: could not delete $vm" >>"$T/results"
}

# A client over the API: create, wait, delete, wait, again.
client_api() {
	local k=$1 i=0 name op vm st
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		name=a$k-$i
		capi "$k" POST /v1/vms "{\"name\":\"$name\",\"service\":\"web-hosting\"}"
		if [ "$CS" = 202 ]; then
			op=$(printf '%s' "$CB" | jq -r .id)
			st=$(cwait_op "$k" "$op")
			echo "$st create $op" >>"$T/results"
			[ "$st" = succeeded ] && [ $((i % 3)) = 0 ] && continue # kept
		elif [ "$CS" != 000 ]; then
			echo "client $k: create $name answered $CS: $CB" >>"$T/results"
		fi
		vm=$(find_vm "$k" "$name")
		[ -z "$vm" ] || api_delete "$k" "$vm"
	done
}

# A client with the CLI; when a command fails (cloudletd was down while it
# followed the operation), it finds out through the API and goes on.
client_cli() {
	local k=$1 i=0 name vm
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		name=l$k-$i
		if CLOUDLET_TOKEN=$A "$CLI_BIN" vm create "$name" --service web-hosting \
			>/dev/null 2>>"$T/cli$k.err"; then
			echo "cli create $name" >>"$T/cli-ok"
			[ $((i % 3)) = 0 ] && continue # kept
		fi
		if CLOUDLET_TOKEN=$A "$CLI_BIN" vm delete "$name" >/dev/null 2>>"$T/cli$k.err"; then
			echo "cli delete $name" >>"$T/cli-ok"
			continue
		fi
		vm=$(find_vm "$k" "$name")
		[ -z "$vm" ] || api_delete "$k" "$vm"
	done
}

: >"$T/config"
export CLOUDLET_URL=$URL CLOUDLET_CONFIG=$T/config
: >"$T/results"
client_api 1 &
CLIENT_PIDS="$CLIENT_PIDS $!"
client_api 2 &
CLIENT_PIDS="$CLIENT_PIDS $!"
client_cli 3 &
CLIENT_PIDS="$CLIENT_PIDS $!"
client_cli 4 &
CLIENT_PIDS="$CLIENT_PIDS $!"

# Wait until at least N operations have succeeded and one is in progress.
busy_after() {
	local want=$1 n=0
	while [ "$(ops_succeeded)" -lt "$want" ] || [ "$(ops_active)" -lt 1 ]; do
		n=$((n + 1))
		[ $n -lt 1500 ] || fail "the clients made no progress ($(ops_succeeded) operations succeeded)"
		sleep 0.2
	done
}

kill_agent() {
	local active
	active=$(ops_active)
	kill -9 "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
	AGENT_PID=
	log "agent killed with -9 ($active operations in progress, $(ops_succeeded) succeeded so far)"
	sleep 1
	agent_start
	log "agent started again"
}

busy_after 4
kill_agent

busy_after $(($(ops_succeeded) + 4))
active=$(ops_active)
cp_stop -KILL
log "cloudletd killed with -9 ($active operations in progress)"
sleep 1
"$CLOUDLETD_BIN" serve --state-dir "$T/cp" --agent-socket "$T/agent.sock" \
	--listen "127.0.0.1:$CP_PORT" >>"$T/cp.log" 2>&1 &
CP_PID=$!
n=0
until curl -sf "$URL/v1/health" >/dev/null 2>&1; do
	n=$((n + 1))
	[ $n -lt 300 ] || fail "cloudletd did not start again on port $CP_PORT"
	kill -0 "$CP_PID" 2>/dev/null || fail "cloudletd exited at its restart"
	sleep 0.1
done
log "cloudletd started again"

busy_after $(($(ops_succeeded) + 4))
kill_agent

busy_after $(($(ops_succeeded) + 4))
touch "$T/stop"
log "stopping the clients"
for p in $CLIENT_PIDS; do
	n=0
	while kill -0 "$p" 2>/dev/null; do
		n=$((n + 1))
		[ $n -lt 1500 ] || fail "client $p did not finish its round"
		sleep 0.2
	done
done
CLIENT_PIDS=

# Every operation ends.
n=0
while [ "$(ops_active)" != 0 ]; do
	n=$((n + 1))
	[ $n -lt 600 ] || fail "operations still in progress: $(sql "SELECT id, kind, state, message FROM operations WHERE state IN ('pending','running')")"
	sleep 0.2
done
total=$(sql "SELECT count(*) FROM operations")
failed=$(sql "SELECT kind || ' ' || vm_id || ': ' || error FROM operations WHERE state = 'failed'")
log "$total operations, $(ops_succeeded) succeeded; client results: $(sort "$T/results" | awk '{print $1, $2}' | uniq -c | tr -s ' \n' ' ')"
[ -z "$failed" ] || fail "operations failed: $failed"
! grep -q '^unended\|could not delete\|answered' "$T/results" || fail "clients saw: $(grep '^unended\|could not delete\|answered' "$T/results")"

# The API's VMs are the agent's (reconciliation included), none transitional.
n=0
while :; do
	api GET /v1/vms "$OPERATOR"
	[ "$STATUS" = 200 ] || fail "GET /v1/vms: $STATUS $BODY"
	api_ids=$(printf '%s' "$BODY" | jq -r '.[].id' | sort | tr '\n' ' ')
	agent_ids=$(agent_vms | grep '^vm-' | sort | tr '\n' ' ')
	[ "$api_ids" = "$agent_ids" ] && break
	n=$((n + 1))
	[ $n -lt 100 ] || fail "the API's VMs ($api_ids) are not the agent's ($agent_ids)"
	sleep 0.2
done
trans=$(printf '%s' "$BODY" | jq -r '.[] | select(.state != "running" or .ready != true) | "\(.id) \(.state) ready=\(.ready)"')
[ -z "$trans" ] || fail "VMs not running and ready: $trans"
[ -n "$api_ids" ] || fail "no VM was kept: the checks below would compare nothing"
log "API and agent agree: $(echo "$api_ids" | wc -w) VMs, all running and ready ($api_ids)"

# The quota counts what exists on the host.
expect_api 200 GET "/v1/tenants/$TA/quota" "$OPERATOR"
used=$(printf '%s' "$BODY" | jq -c .used)
have=$(ctl --json vm list | jq -c '[.[] | select(.name | startswith("vm-"))] |
	{vcpus: (map(.vcpus) | add // 0), memory_mib: (map(.memory_mib) | add // 0),
	 disk_gib: (map(.disk_gib) | add // 0), vms: length}')
expect_eq "$used" "$have" "quota used vs. the host's VMs"
log "quota used $used = the host's VMs"
# QEMUs the agent does not know (one it spawned just before it was killed,
# before it recorded the start): the agent's to find (not cloudletd's), so
# only reported here; kill_stray_qemus removes them on exit.
known=$(ctl --json vm list | jq -r '.[] | select(.pid > 0) | .pid' | sort -n | tr '\n' ' ')
stray=
for p in $(pgrep -f "qemu-system.*$T/state/vms/" 2>/dev/null); do
	case " $known " in *" $p "*) ;; *) stray="$stray $p" ;; esac
done
log "QEMU processes the agent does not know: ${stray:-none}"
# What cloudletd did about the restarts (for the log).
grep -E 'trying again|answered after|resuming|carrying on|again$|reconcile' "$T/cp.log" | cut -c 12- | sed 's/^/    /' || true
