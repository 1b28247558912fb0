#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# hlsim kernel test suite.  Runs INSIDE the test VM as root, e.g.
#
#   contrib/devroot.sh run make -C kernel KDIR=/usr/src/linux-headers-<kver>
#   contrib/devroot.sh run make -C kernel tests
#   contrib/vm/run.sh kernel/tests/vm-suite.sh
#
# Loads hlsim.ko (num_devices=2) and the test importer, runs the functional
# tests (with the Gaudi2 copy uapi: USERPTR, CS, WAIT_CS, fault injection)
# and the fuzzer (at least 10,000 of its calls on that uapi), prints
# hlsim_bench's figures, then the tests of the test-only dma-buf mmap with
# test_dmabuf_mmap set at run time, checks the kernel log, unloads (which
# must succeed), then repeats short rounds with test_dmabuf_mmap=1 given
# at load time and with the legacy nodes.  Exits non-zero on any
# failure.  The first argument (or FUZZ_CALLS; default 20000) sets the
# fuzzer's length: contrib/vm/run.sh kernel/tests/vm-suite.sh 200000
#
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kdir=$(dirname "$here")
fuzz_calls=${1:-${FUZZ_CALLS:-20000}}
# the oracle fuzzer makes at least 10,000 calls per generation
[ "$fuzz_calls" -ge 10000 ] 2>/dev/null || fuzz_calls=10000
failures=0

say() { printf 'vm-suite: %s\n' "$*"; }
fail() { say "FAIL: $*"; failures=$((failures + 1)); }

[ "$(id -u)" -eq 0 ] || { say "must run as root"; exit 2; }
for f in "$kdir/hlsim.ko" "$kdir/hlsim_import_test.ko" \
	 "$here/hlsim_test" "$here/hlsim_fuzz" "$here/hlsim_stress" \
	 "$here/hlsim_bench"; do
	[ -e "$f" ] || { say "missing $f (build it first)"; exit 2; }
done

say "kernel $(uname -r)"
dmesg -C 2>/dev/null || :
modprobe drm || { say "modprobe drm failed"; exit 2; }

load() {
	rmmod hlsim_import_test 2>/dev/null
	rmmod hlsim 2>/dev/null
	insmod "$kdir/hlsim.ko" "$@" || { fail "insmod hlsim.ko $*"; return 1; }
	insmod "$kdir/hlsim_import_test.ko" ||
		{ fail "insmod hlsim_import_test.ko"; return 1; }
	say "loaded hlsim $*: $(ls /dev/accel | tr '\n' ' ')"
}

unload() {
	rmmod hlsim_import_test || fail "rmmod hlsim_import_test"
	rmmod hlsim || fail "rmmod hlsim (still in use?)"
	if [ -e /sys/module/hlsim ]; then
		fail "hlsim still loaded"
	fi
}

# run NAME CMD...: a TAP program; its last line is "N passed, N failed"
run() {
	local name=$1 out rc
	shift
	say "running $name"
	out=$("$@" 2>&1)
	rc=$?
	last_out=$out
	printf '%s\n' "$out"
	[ $rc -eq 0 ] || fail "$name exited with $rc"
	printf '%s\n' "$out" | tail -n 1 | grep -q '^[0-9]* passed, 0 failed$' ||
		fail "$name did not report 0 failures"
}

check_dmesg() {
	local bad
	bad=$(dmesg | grep -E 'BUG|WARNING|Oops|KASAN|UBSAN|refcount_t|general protection|list_(add|del) corruption')
	if [ -n "$bad" ]; then
		printf '%s\n' "$bad"
		fail "kernel log shows problems ($1)"
	else
		say "kernel log clean ($1)"
	fi
}

# kmemleak, where the kernel has it: nothing the tests allocated leaks
kmemleak=/sys/kernel/debug/kmemleak
kmemleak_check() {
	[ -e $kmemleak ] || mount -t debugfs none /sys/kernel/debug 2>/dev/null
	if [ ! -w $kmemleak ]; then
		say "kmemleak: not in this kernel"
		return
	fi
	echo scan >$kmemleak
	echo scan >$kmemleak
	if grep -q hlsim $kmemleak; then
		grep -A20 hlsim $kmemleak | head -60
		fail "kmemleak reports hlsim leaks"
	else
		say "kmemleak: no hlsim leak reported"
	fi
}

# module parameters: out-of-range values are refused, 8 devices load
rmmod hlsim_import_test 2>/dev/null
rmmod hlsim 2>/dev/null
# (hbm_mb=65536: more than the VM's RAM; the limits must be 1..2^24)
for bad in num_devices=0 num_devices=9 hbm_mb=0 hbm_mb=65536 \
	   "num_devices=8 hbm_mb=1024" max_maps_per_ctx=0 \
	   max_allocs_per_ctx=16777217 max_maps_per_alloc=0 \
	   max_userptr_per_ctx=0 max_pinned_mb_per_ctx=16777217; do
	if insmod "$kdir/hlsim.ko" $bad 2>/dev/null; then
		fail "insmod hlsim.ko $bad succeeded"
		rmmod hlsim
	fi
done
if insmod "$kdir/hlsim.ko" num_devices=8 hbm_mb=1; then
	n=$(ls /dev/accel | grep -c '^accel_controlD')
	[ "$n" -eq 8 ] || fail "num_devices=8 gave $n control nodes"
	rmmod hlsim || fail "rmmod after num_devices=8"
else
	fail "insmod hlsim.ko num_devices=8"
fi

mmap_param=/sys/module/hlsim/parameters/test_dmabuf_mmap
# cgroup v2, for the test of memory cgroup accounting
[ -e /sys/fs/cgroup/cgroup.controllers ] ||
	mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null || :

if load num_devices=2; then
	[ "$(cat $mmap_param)" = N ] || fail "test_dmabuf_mmap is not off by default"
	run hlsim_test "$here/hlsim_test"
	run hlsim_fuzz "$here/hlsim_fuzz" -n "$fuzz_calls"
	# at least 10,000 of them on the Gaudi2 copy uapi (USERPTR, CS, WAIT_CS)
	n=$(printf '%s\n' "$last_out" | sed -n 's/.*; \([0-9]*\) USERPTR\/CS\/WAIT_CS.*/\1/p')
	if [ "${n:-0}" -ge 10000 ]; then
		say "hlsim_fuzz: $n USERPTR/CS/WAIT_CS calls"
	else
		fail "hlsim_fuzz made only ${n:-0} USERPTR/CS/WAIT_CS calls"
	fi
	# both devices at once: one fuzzer each, sharing the importer
	"$here/hlsim_fuzz" -n 5000 -d 1 >"/tmp/hlsim_fuzz1.log" 2>&1 &
	pid=$!
	run "hlsim_fuzz -d 0 (parallel)" "$here/hlsim_fuzz" -n 5000 -d 0
	wait $pid
	rc=$?
	cat /tmp/hlsim_fuzz1.log
	[ $rc -eq 0 ] || fail "hlsim_fuzz -d 1 (parallel) exited with $rc"
	# the test-only CPU mapping of dma-bufs, switched on at run time
	if echo 1 >$mmap_param; then
		run "hlsim_test --mmap" "$here/hlsim_test" --mmap
		run "hlsim_fuzz (dma-buf mmap allowed)" "$here/hlsim_fuzz" -n 3000
		echo 0 >$mmap_param
	else
		fail "cannot set $mmap_param"
	fi
	# 8 threads on both devices, then a process killed with live exports
	run "hlsim_stress" "$here/hlsim_stress" -n "${STRESS_OPS:-100000}" -t 8
	# figures, not a test: CS copy vs memcpy vs the private DMA-copy ioctl
	say "running hlsim_bench"
	if "$here/hlsim_bench" 16 "${BENCH_SECONDS:-0.5}" >/tmp/hlsim_bench.log 2>&1; then
		sed 's/^/vm-suite: bench: /' /tmp/hlsim_bench.log
	else
		cat /tmp/hlsim_bench.log
		fail "hlsim_bench failed"
	fi
	check_dmesg "after tests"
	unload
	kmemleak_check
fi

if load num_devices=1 test_dmabuf_mmap=1; then
	run "hlsim_test --mmap (set at load)" "$here/hlsim_test" --mmap
	unload
fi

if load num_devices=1 max_allocs_per_ctx=6 max_maps_per_ctx=8 \
	max_maps_per_alloc=3 max_userptr_per_ctx=5 max_pinned_mb_per_ctx=2; then
	run "hlsim_test --limits" "$here/hlsim_test" --limits
	run "hlsim_fuzz (bounds 6/8/3, USERPTR 5/2 MiB)" "$here/hlsim_fuzz" -n 3000
	unload
fi

# legacy=1: the pre-6.3 nodes only, each device once
if load num_devices=2 hbm_mb=64 legacy=1; then
	run "hlsim_test --legacy" "$here/hlsim_test" --legacy
	run "hlsim_fuzz --legacy" "$here/hlsim_fuzz" -n "$fuzz_calls" --legacy
	unload
fi
check_dmesg "after unload"

if [ $failures -eq 0 ]; then
	say "PASS"
	exit 0
fi
say "FAILED: $failures problem(s)"
exit 1
