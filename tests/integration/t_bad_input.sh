#!/bin/sh
# Every bad request gets a clear error and creates nothing; the agent
# survives malformed, oversized and mistyped requests.
. "$(dirname "$0")/lib.sh"
agent_start

nothing_left() {
	expect_eq "$(ctl --json vm list | jq length)" "${1:-0}" "VM count after: $2"
	expect_eq "$(ls "$T/state/vms" | wc -l)" "${1:-0}" "VM directories after: $2"
}

# bad_create EXPECTED-MESSAGE-PATTERN JSON-ARGS
bad_create() {
	out=$(must_fail ctl raw "{\"op\":\"vm.create\",\"args\":$2}")
	expect_match "$out" '"invalid"' "error code for $2"
	expect_match "$out" "$1" "error message for $2"
	nothing_left 0 "$2"
}

host_cpus=$(ctl --json host | jq .cpus)
host_mem=$(ctl --json host | jq .memory_mib)
ok='"image":"base","vcpus":1,"memory_mib":128,"disk_gib":1'

bad_create "vcpus must be at least 1" '{"name":"a","image":"base","vcpus":0,"memory_mib":128,"disk_gib":1}'
bad_create "more than this host can give" '{"name":"a","image":"base","vcpus":'$((host_cpus + 1))',"memory_mib":128,"disk_gib":1}'
bad_create "more than this host can give" '{"name":"a","image":"base","vcpus":1,"memory_mib":'$((host_mem * 2))',"disk_gib":1}'
bad_create "duplicate" '{"name":"a","name":"b",'"$ok"'}'
bad_create "unknown image" '{"name":"a","image":"nope","vcpus":1,"memory_mib":128,"disk_gib":1}'
bad_create "unknown image" '{"name":"a","image":"../../etc","vcpus":1,"memory_mib":128,"disk_gib":1}'
bad_create "path separator" '{"name":"a/b",'"$ok"'}'
bad_create "path separator" '{"name":"..\\\\x",'"$ok"'}'
bad_create "control characters" '{"name":"a\u0001b",'"$ok"'}'
bad_create "control characters" '{"name":"a\nb",'"$ok"'}'
bad_create "u0000 is not allowed" '{"name":"a\u0000b",'"$ok"'}'
bad_create "longer than 63" '{"name":"'"$(printf 'x%.0s' $(seq 64))"'",'"$ok"'}'
bad_create "must not be empty" '{"name":"",'"$ok"'}'
bad_create "must start with a letter" '{"name":"..",'"$ok"'}'
bad_create "vcpus must be an integer" '{"name":"a","image":"base","vcpus":"2","memory_mib":128,"disk_gib":1}'
bad_create "memory_mib must be an integer" '{"name":"a","image":"base","vcpus":1,"memory_mib":1.5,"disk_gib":1}'
bad_create "disk_gib must be between" '{"name":"a","image":"base","vcpus":1,"memory_mib":128,"disk_gib":-1}'
bad_create "unknown field" '{"name":"a",'"$ok"',"owner":"other"}'
bad_create "name is required" '{'"$ok"'}'
bad_create "nic address" '{"name":"a",'"$ok"',"nics":[{"bridge":"br0","address":"10.0.0.1/33"}]}'
bad_create "nic bridge" '{"name":"a",'"$ok"',"nics":[{"bridge":"br0;rm -rf /"}]}'

# 63 characters is fine, and a duplicate name is refused.
long=$(printf 'y%.0s' $(seq 63))
ctl vm create "$long" --image base --vcpus 1 --memory 128 --disk 1 --no-start >/dev/null ||
	fail "63-character name refused"
out=$(must_fail ctl vm create "$long" --image base --vcpus 1 --memory 128 --disk 1 --no-start)
expect_match "$out" "already exists" "duplicate name"
nothing_left 1 "duplicate"

# Malformed requests: the agent answers and keeps going.
out=$(must_fail ctl raw '{"op": "vm.create", "args": ')
expect_match "$out" "not valid JSON" "malformed JSON"
out=$(must_fail ctl raw '[1,2,3]')
expect_match "$out" "not a JSON object" "array request"
out=$(must_fail ctl raw '{"op": "vm.explode"}')
expect_match "$out" "unknown op" "unknown op"
out=$(must_fail ctl raw '{"op": 7}')
expect_match "$out" "string \\\\\"op\\\\\"" "op type"
out=$(must_fail ctl raw '{"op": "vm.show", "args": []}')
expect_match "$out" "must be an object" "args type"
out=$(must_fail ctl raw '{"op": "vm.show", "args": {"name": "nope"}}')
expect_match "$out" '"code": "not_found"' "unknown VM"
out=$(must_fail ctl raw '{"op": "vm.stop", "args": {"name": "'"$long"'", "force": "yes"}}')
expect_match "$out" "force must be" "force type"
# An oversized request (1 MiB) is refused and the connection closed.
{ printf '{"op":"vm.list","pad":"'; head -c 1048576 /dev/zero | tr '\0' 'a'; printf '"}\n'; } >"$T/big"
out=$(must_fail ctl raw - <"$T/big")
expect_match "$out" "request too large" "oversized request"
kill -0 "$AGENT_PID" || fail "agent died on an oversized request"
ctl vm list >/dev/null || fail "agent does not answer after an oversized request"
# A protocol version the agent does not speak is refused before anything.
out=$(must_fail ctl raw '{"op":"vm.delete","v":2,"args":{"name":"x"}}')
expect_match "$out" "speaks protocol 1 to 1" "protocol 2"
out=$(must_fail ctl raw '{"op":"host.info","v":"1"}')
expect_match "$out" "unsupported" "protocol as a string"
ctl raw '{"op":"host.info","v":1}' | jq -e '.result.protocol.max == 1' >/dev/null || fail "protocol 1 refused"
# Stopping a VM that is not running is a clear conflict.
out=$(must_fail ctl vm stop "$long")
expect_match "$out" "not running" "stop a stopped VM"

ctl vm delete "$long" >/dev/null
nothing_left 0 "delete"
kill -0 "$AGENT_PID" || fail "agent died"
log "all bad inputs refused, agent alive"
