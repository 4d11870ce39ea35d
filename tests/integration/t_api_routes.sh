#!/bin/bash
# The API description (api/openapi.yaml) and the routes cloudletd serves
# list exactly the same (method, path) pairs.
. "$(dirname "$0")/lib.sh"

awk '
	/^paths:/ { inpaths = 1; next }
	/^[a-z]/ { inpaths = 0 }
	inpaths && /^  \/[^ ]*:$/ { path = $1; sub(/:$/, "", path); next }
	inpaths && /^    (get|post|put|patch|delete):/ { m = $1; sub(/:$/, "", m); print toupper(m), path }
' "$ROOT/api/openapi.yaml" | sort >"$T/documented"
"$CLOUDLETD_BIN" routes | sort >"$T/served"
[ -s "$T/documented" ] || fail "no routes parsed from api/openapi.yaml"
if ! diff -u "$T/documented" "$T/served" >"$T/diff"; then
	cat "$T/diff"
	fail "api/openapi.yaml and cloudletd disagree on the routes (- documented, + served)"
fi
log "$(wc -l <"$T/served") routes documented and served"
