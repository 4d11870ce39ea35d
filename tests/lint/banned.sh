#!/bin/sh
# banned.sh - functions that invite overflows or silent garbage stay out of
# src/ (in the spirit of curl's checksrc): sprintf, vsprintf, strcpy,
# strcat, strncat, gets, atoi, atol. Use snprintf, memcpy after a length
# check, util_parse_uint / util_parse_pid / strtoul with an end check.
#
# A use that is truly needed goes into tests/lint/banned.allow as
# "path:function  # why", one per line; the check fails on anything else
# (and on an allow entry that no longer matches, so the list stays short).
set -eu
cd "$(dirname "$0")/../.."
ALLOW=tests/lint/banned.allow
hits=$(mktemp)
trap 'rm -f "$hits"' EXIT
# Comments are not code: drop /* ... */ on one line and lines inside a
# block comment that start with " *".
B='sprintf|vsprintf|strcpy|strcat|strncat|gets|atoi|atol'
find src -name '*.c' -o -name '*.h' | sort | while read -r f; do
	sed -e 's#/\*.*\*/##g' -e 's#^[[:space:]]*\*.*##' -e 's#//.*##' "$f" |
		grep -nE "(^|[^A-Za-z0-9_])($B)[[:space:]]*\(" |
		while IFS=: read -r line text; do
			for fn in $(printf '%s\n' "$text" | grep -oE "(^|[^A-Za-z0-9_])($B)[[:space:]]*\(" |
				grep -oE "$B" ); do
				echo "$f:$fn:$line"
			done
		done || true
done >"$hits"
fail=0
while IFS=: read -r f fn line; do
	if [ -f "$ALLOW" ] && grep -q "^$f:$fn[[:space:]]" "$ALLOW"; then
		continue
	fi
	echo "banned: $f:$line uses $fn()" >&2
	fail=1
done <"$hits"
if [ -f "$ALLOW" ]; then
	grep -v '^#' "$ALLOW" | while read -r entry _; do
		[ -n "$entry" ] || continue
		grep -q "^${entry}:" "$hits" || { echo "banned: stale allow entry $entry" >&2; exit 1; }
	done || fail=1
fi
[ $fail -eq 0 ] && echo "banned: ok (no sprintf, strcpy, strcat, gets, atoi in src/)"
exit $fail
