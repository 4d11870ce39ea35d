# bench/lib.sh - helpers shared by the benches (sourced; needs $T, the
# bench's directory).

# Wait for a line containing LINE in FILE without taking CPU from the guest
# being timed: polling with grep and sleep every few ms kept most of a core
# busy (fork and exec), and on two cores that slowed the very VM being
# timed. tail -F wakes on inotify.
wait_line() { # FILE LINE
	local tp
	# tail -F polls once a second for a file that is not there yet
	until [ -e "$1" ]; do sleep 0.01; done
	rm -f "$T/wait.fifo"
	mkfifo "$T/wait.fifo"
	tail -n +1 -F "$1" >"$T/wait.fifo" 2>/dev/null &
	tp=$!
	grep -q -m1 -F -- "$2" <"$T/wait.fifo"
	kill "$tp" 2>/dev/null || true
	wait "$tp" 2>/dev/null || true
}
