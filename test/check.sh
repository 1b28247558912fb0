#!/bin/bash
#
# The check helper of the test runners (test/run-tests.sh, the VM suite,
# the two-node tests), sourced: check NAME CMD... runs CMD, prints
# "PASS: NAME" or "FAIL: NAME" and counts into $passed and $failed, which
# the runner prints as "N passed, N failed" at its end.
#
passed=0
failed=0

check() {
	local name=$1
	shift
	echo "--- $name"
	if "$@"; then
		echo "PASS: $name"
		passed=$((passed + 1))
	else
		echo "FAIL: $name"
		failed=$((failed + 1))
	fi
}
