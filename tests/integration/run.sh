#!/bin/bash
# run.sh - run every integration test (t_*.sh), JOBS at a time (default 2:
# each test boots real VMs under emulation, one per core is what this
# machine has). Output of each test goes to build/test-logs/<name>.log.
set -u
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
LOGS=$ROOT/build/test-logs${LOGS_SUFFIX:-}
JOBS=${JOBS:-2}
mkdir -p "$LOGS"
[ "$(id -u)" = 0 ] || { echo "integration tests need root (namespaces, taps)"; exit 1; }

tests=${TESTS:-$(ls t_*.sh)}
failed=0
running=0
pids=
start=$(date +%s)
for t in $tests; do
	name=${t%.sh}
	bash "./$t" >"$LOGS/$name.log" 2>&1 &
	pids="$pids $!:$name"
	running=$((running + 1))
	if [ $running -ge "$JOBS" ]; then
		wait -n 2>/dev/null || true
		running=$((running - 1))
	fi
done
for pn in $pids; do
	pid=${pn%%:*}
	name=${pn#*:}
	if wait "$pid"; then
		echo "ok    $name"
	else
		echo "FAIL  $name (log: $LOGS/$name.log)"
		# The reason first (a console dump after it can be long), then the tail.
		grep -m 3 '^FAIL \[' "$LOGS/$name.log" | cut -c1-2000
		tail -n 60 "$LOGS/$name.log"
		failed=$((failed + 1))
	fi
done
echo "integration: $(echo $tests | wc -w) tests, $failed failed, $(($(date +%s) - start)) s"
[ $failed -eq 0 ]
