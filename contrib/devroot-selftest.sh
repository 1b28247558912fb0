#!/usr/bin/env bash
#
# contrib/devroot.sh with a work tree under /tmp, where the root mounts a
# fresh tmpfs of its own: the tree is seen (and writable) inside the root
# at the same path, and the rest of the root's /tmp stays its own.  Ends
# with "N passed, N failed".
#
set -u

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=test/check.sh
. "$top/test/check.sh"

scratch=$(mktemp -d /tmp/devroot-selftest.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# A minimal work tree: the script finds its tree from its own location
mkdir -p "$scratch/tree/contrib"
cp "$top/contrib/devroot.sh" "$scratch/tree/contrib/"
echo "marker $$" >"$scratch/tree/marker"

tmp_tree_visible() {
	local out
	out=$("$scratch/tree/contrib/devroot.sh" run sh -c 'pwd; cat marker' 2>&1)
	printf '%s\n' "$out" | sed 's/^/  /'
	[ "$out" = "$(printf '%s\nmarker %s' "$scratch/tree" "$$")" ]
}

tmp_tree_writable() {
	"$scratch/tree/contrib/devroot.sh" run sh -c 'echo out >written' &&
	[ "$(cat "$scratch/tree/written")" = out ]
}

# /tmp stays private to the root: its files are not the host's
root_tmp_is_fresh() {
	local host_file
	host_file=$(mktemp /tmp/devroot-selftest-host.XXXXXX)
	"$scratch/tree/contrib/devroot.sh" run sh -c "! test -e '$host_file'"
	local rc=$?
	rm -f "$host_file"
	return $rc
}

check "work tree under /tmp is visible in the root at the same path" \
	tmp_tree_visible
check "work tree under /tmp is writable from the root" tmp_tree_writable
check "the root's /tmp is its own" root_tmp_is_fresh
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
