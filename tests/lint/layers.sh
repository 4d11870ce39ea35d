#!/bin/sh
# layers.sh - the agent's modules import one way (docs/architecture.md).
#
# 1. No import circle: every `#include "x.h"` between the agent's modules
#    (a module is x.c with its x.h) is an edge; tsort(1) finds any loop.
# 2. Folders in layers: a file may include headers of its own folder and of
#    folders below it only:
#      base < engine < net, storage < vm < appliance < (agent.c, control, ctl)
#    net and storage are side by side: neither includes the other.
set -eu
cd "$(dirname "$0")/../.."
A=src/agent
fail=0

rank() {
	case "$1" in
	base) echo 0 ;; engine) echo 1 ;; net) echo 2 ;; storage) echo 2 ;;
	vm) echo 3 ;; appliance) echo 4 ;; .) echo 5 ;; *) echo 9 ;;
	esac
}

# Where each agent header lives: "name folder".
headers=$(cd $A && find . -name '*.h' | sed 's|^\./||' |
	awk -F/ '{ if (NF == 1) print $1, "."; else print $2, $1 }')
folder_of() { echo "$headers" | awk -v h="$1" '$1 == h { print $2 }'; }

edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
for f in $(find $A -name '*.c' -o -name '*.h'); do
	rel=${f#$A/}
	case "$rel" in */*) dir=${rel%%/*} ;; *) dir=. ;; esac
	mod=$(basename "$f"); mod=${mod%.*}
	for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
		hdir=$(folder_of "$inc")
		[ -n "$hdir" ] || continue # src/common: below everything
		hmod=${inc%.h}
		[ "$hmod" = "$mod" ] && continue
		echo "$mod $hmod" >>"$edges"
		if [ "$dir" != "$hdir" ]; then
			if [ "$(rank "$dir")" -le "$(rank "$hdir")" ]; then
				echo "layers: $rel includes $inc from $hdir/, which is not below $dir/" >&2
				fail=1
			fi
		fi
	done
done
if ! tsort "$edges" >/dev/null 2>"$edges.err"; then
	echo "layers: the agent's modules import in a circle:" >&2
	cat "$edges.err" >&2
	fail=1
fi
rm -f "$edges.err"
[ $fail -eq 0 ] && echo "layers: ok ($(sort -u "$edges" | wc -l) imports, no circle)"
exit $fail
