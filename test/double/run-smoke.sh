#!/usr/bin/env bash
#
# Build the hl_double preload library and its smoke test, then run every
# smoke case for both ABIs (accel, misc).
#
#   test/double/run-smoke.sh [BUILD_DIR]      (default: build-double)
#
# Needs the sid root's headers (<drm/habanalabs_accel.h>); from the host:
#   contrib/devroot.sh run test/double/run-smoke.sh
#
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-build-double}
case $build in /*) ;; *) build=$top/$build ;; esac
cc=${CC:-gcc}
cflags=(-std=gnu11 -Wall -Wextra -Werror -O2 -g -I"$top" -I"$top/test/double")

mkdir -p "$build" || exit 1
set -e
"$cc" "${cflags[@]}" -fPIC -shared -fvisibility=hidden \
	-o "$build/libhl_double.so" \
	"$top/test/double/hl_double.c" "$top/test/double/hl_double_dev.c" \
	"$top/test/double/hl_double_cs.c" \
	-ldl -lpthread
"$cc" "${cflags[@]}" -o "$build/hl_double_smoke" "$top/test/double/smoke.c" \
	-L"$build" -Wl,-rpath,"$build" -lhl_double -lpthread
set +e

passed=0
failed=0

# run ABI CASE [VAR=VALUE...]
run() {
	local abi=$1 name=$2
	shift 2
	if env -i PATH="$PATH" LD_PRELOAD="$build/libhl_double.so" \
		HL_DOUBLE_ABI="$abi" "$@" "$build/hl_double_smoke" "$name"; then
		echo "PASS $abi $name $*"
		passed=$((passed + 1))
	else
		echo "FAIL $abi $name $*"
		failed=$((failed + 1))
	fi
}

for abi in accel misc; do
	run "$abi" devices HL_DOUBLE_DEVICES=0
	run "$abi" devices HL_DOUBLE_DEVICES=1
	run "$abi" devices HL_DOUBLE_DEVICES=2
	run "$abi" ebusy
	run "$abi" busy_env HL_DOUBLE_BUSY=1
	run "$abi" info
	run "$abi" memory
	run "$abi" memory HL_DOUBLE_PAGE_SIZE=4096
	run "$abi" export_pins
	run "$abi" copy
	run "$abi" no_export HL_DOUBLE_NO_EXPORT=1
	run "$abi" export_errno HL_DOUBLE_EXPORT_ERRNO=95
	run "$abi" rdev
	run "$abi" sysfs HL_DOUBLE_DEVICES=2
	run "$abi" sysfs HL_DOUBLE_NUMA=1
	run "$abi" helpers
	run "$abi" threads
	run "$abi" cs
	run "$abi" cs HL_DOUBLE_SHARED_VA=1
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
