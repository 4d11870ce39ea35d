#!/bin/bash
# Authorization matrix (every route x {no token, wrong token, tenant A,
# tenant B, operator}) and the bad-input table of the HTTP API. One real VM
# of tenant A is the object of the VM routes.
. "$(dirname "$0")/lib.sh"
cp_start

read -r TA A <<<"$(new_tenant acme)"
read -r TB B <<<"$(new_tenant bravo)"
WRONG=clt_0000000000000000000000000000000000000000000000000000000000000000
expect_api 202 POST /v1/vms "$A" '{"name":"a1","service":"web-hosting"}'
OPA=$(printf '%s' "$BODY" | jq -r .id)
VM=$(printf '%s' "$BODY" | jq -r .vm_id)
wait_op "$OPA" "$A" >/dev/null

# route | body | none wrong A B operator
matrix() {
	cat <<M
GET /v1/health|| 200 200 200 200 200
GET /v1/tenants|| 401 401 403 403 200
POST /v1/tenants|{"name":""}| 401 401 403 403 400
GET /v1/tenants/$TA|| 401 401 403 403 200
POST /v1/tenants/$TA/tokens|| 401 401 403 403 201
GET /v1/tenants/$TA/quota|| 401 401 403 403 200
PUT /v1/tenants/$TA/quota|{}| 401 401 403 403 400
DELETE /v1/tenants/$TA|| 401 401 403 403 409
GET /v1/services|| 401 401 200 200 200
GET /v1/images|| 401 401 200 200 200
GET /v1/vms|| 401 401 200 200 200
POST /v1/vms|{"name":"x"}| 401 401 400 400 403
GET /v1/vms/$VM|| 401 401 200 404 200
PATCH /v1/vms/$VM|{}| 401 401 400 404 400
POST /v1/vms/$VM/actions|{"action":"fly"}| 401 401 400 404 400
GET /v1/vms/$VM/console|| 401 401 200 404 200
POST /v1/vms/$VM/console/input|{"data":5}| 401 401 400 404 400
GET /v1/operations/$OPA|| 401 401 200 404 200
GET /v1/events|| 401 401 200 200 200
M
}
n=0
while IFS='|' read -r route body expected; do
	set -- $route
	method=$1 path=$2
	read -r -a wants <<<"$expected"
	i=0
	for who in none wrong A B op; do
		case $who in
		none) tok= ;; wrong) tok=$WRONG ;; A) tok=$A ;; B) tok=$B ;; op) tok=$OPERATOR ;;
		esac
		want=${wants[$i]}
		i=$((i + 1))
		if [ -z "$tok" ]; then
			STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -X "$method" \
				${body:+--data-binary "$body"} "$URL$path")
			BODY=$(cat "$T/resp")
		else
			api "$method" "$path" "$tok" "$body"
		fi
		[ "$STATUS" = "$want" ] || fail "$method $path as $who: expected $want, got $STATUS: $BODY"
		case $STATUS in
		4*) printf '%s' "$BODY" | jq -e '.error.code and .error.message' >/dev/null ||
			fail "$method $path as $who: error body is not {error:{code,message}}: $BODY" ;;
		esac
		n=$((n + 1))
	done
done <<<"$(matrix)"
log "authorization matrix: $n requests as expected"

# DELETE of A's VM: nobody else can; routes of the matrix that would destroy.
expect_api 401 DELETE "/v1/vms/$VM" "$WRONG"
expect_api 404 DELETE "/v1/vms/$VM" "$B"
# B sees nothing of A's.
expect_api 200 GET /v1/vms "$B"
expect_eq "$(printf '%s' "$BODY" | jq length)" 0 "B's VM list"
expect_api 200 GET /v1/events "$B"
printf '%s' "$BODY" | jq -e "all(.[]; .tenant_id == \"$TB\")" >/dev/null || fail "B sees others' events"
expect_api 200 GET /v1/vms "$OPERATOR"
expect_eq "$(printf '%s' "$BODY" | jq length)" 1 "operator sees all VMs"

# ---- bad input: 4xx with {error}, nothing half-made -------------------
bad() { # status method path token body [message-pattern]
	expect_api "$1" "$2" "$3" "$4" "$5"
	printf '%s' "$BODY" | jq -e '.error.code and .error.message' >/dev/null ||
		fail "$2 $3 $5: no error body: $BODY"
	[ -z "${6-}" ] || expect_match "$BODY" "$6" "$2 $3 $5"
}
bad 400 POST /v1/vms "$A" '{"name":"b1","service":' "malformed JSON"
bad 400 POST /v1/vms "$A" '[]' "JSON"
bad 400 POST /v1/vms "$A" '"x"' "JSON"
bad 400 POST /v1/vms "$A" '{"name":"b1","service":"web-hosting","tenant_id":"'"$TB"'"}' "unknown field"
bad 400 POST /v1/vms "$A" '{"name":"b1","service":"web-hosting","vcpus":"2"}' "vcpus must be an integer"
bad 400 POST /v1/vms "$A" '{"name":"b1","service":"web-hosting","vcpus":-1}' "vcpus must be between"
bad 400 POST /v1/vms "$A" '{"name":"b1","service":"web-hosting","memory_mib":1e99}' "memory_mib must be an integer"
bad 400 POST /v1/vms "$A" '{"name":"b1","service":"web-hosting","disk_gib":99999999999999999999}' ""
bad 400 POST /v1/vms "$A" '{"name":"b1","service":"web-hosting","vcpus":64}' "outside what service"
bad 400 POST /v1/vms "$A" '{"name":"b1","service":"nope"}' "unknown service"
bad 400 POST /v1/vms "$A" '{"name":"b1","service":"web-hosting","user_data":7}' "user_data must be a string"
for name in "a'b" 'a"b' 'a;rm -rf /' "x' OR '1'='1" '$(reboot)' 'a b' '../etc' '-x' '' \
	"$(printf 'y%.0s' $(seq 64))" 'a\u0000b' 'a\nb' 'ümlaut'; do
	body=$(jq -cn --arg n "$name" '{name: $n, service: "web-hosting"}')
	[ "$name" = 'a\u0000b' ] && body='{"name":"a\u0000b","service":"web-hosting"}'
	[ "$name" = 'a\nb' ] && body='{"name":"a\nb","service":"web-hosting"}'
	bad 400 POST /v1/vms "$A" "$body"
done
{ printf '{"name":"big","service":"web-hosting","user_data":"'; head -c 70000 /dev/zero | tr '\0' a; printf '"}'; } >"$T/big"
bad 413 POST /v1/vms "$A" - "larger than" <"$T/big"
expect_api 409 POST /v1/vms "$A" '{"name":"a1","service":"web-hosting"}'

bad 400 POST /v1/tenants "$OPERATOR" '{"name":"a b"}'
bad 400 POST /v1/tenants "$OPERATOR" '{"name":"x","quota":1}' "unknown field"
bad 409 POST /v1/tenants "$OPERATOR" '{"name":"acme"}'
bad 400 PUT "/v1/tenants/$TA/quota" "$OPERATOR" '{"max_vcpus":-1,"max_memory_mib":1,"max_disk_gib":1,"max_vms":1}'
bad 400 PUT "/v1/tenants/$TA/quota" "$OPERATOR" '{"max_vcpus":1,"max_memory_mib":1,"max_disk_gib":1}' "max_vms is required"
bad 400 PUT "/v1/tenants/$TA/quota" "$OPERATOR" '{"max_vcpus":"1","max_memory_mib":1,"max_disk_gib":1,"max_vms":1}'
bad 404 PUT "/v1/tenants/t-0000000000000000/quota" "$OPERATOR" '{"max_vcpus":1,"max_memory_mib":1,"max_disk_gib":1,"max_vms":1}'

bad 400 PATCH "/v1/vms/$VM" "$A" '{"disk_gib":0}'
bad 400 PATCH "/v1/vms/$VM" "$A" '{"vcpus":99}' "outside what service"
bad 400 PATCH "/v1/vms/$VM" "$A" '{"name":"renamed"}' "unknown field"
bad 400 POST "/v1/vms/$VM/actions" "$A" '{"action":"stop","force":"yes"}' "force must be"
bad 409 POST "/v1/vms/$VM/actions" "$A" '{"action":"start"}' "cannot start"
bad 400 GET "/v1/vms/$VM/console?bytes=abc" "$A" ""
bad 400 GET "/v1/vms/$VM/console?bytes=0" "$A" ""
bad 400 GET "/v1/events?limit=0" "$A" ""
bad 404 GET "/v1/vms/..%2F..%2Fetc%2Fpasswd" "$A" ""
bad 404 GET "/v1/vms/a'b" "$A" ""
bad 404 GET "/v1/nothing" "$A" ""
bad 405 PUT "/v1/vms" "$A" '{}'

# Nothing half-made: A still has exactly its one VM, the host one VM.
expect_api 200 GET /v1/vms "$A"
expect_eq "$(printf '%s' "$BODY" | jq -r '[.[].name] | join(",")')" a1 "A's VMs after bad input"
expect_eq "$(agent_vms | wc -l)" 1 "VMs on the host after bad input"
kill -0 "$CP_PID" || fail "cloudletd died"

# The owner deletes; the operator cannot delete a tenant that has VMs (above),
# then can once it is empty.
expect_api 202 DELETE "/v1/vms/$VM" "$A"
wait_op "$(printf '%s' "$BODY" | jq -r .id)" "$A" >/dev/null
expect_api 404 GET "/v1/vms/$VM" "$A"
expect_eq "$(agent_vms | wc -l)" 0 "VMs on the host after delete"
expect_api 204 DELETE "/v1/tenants/$TA" "$OPERATOR"
expect_api 401 GET /v1/vms "$A"
log "bad input refused, tenant deleted, its token dead"
