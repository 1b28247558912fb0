#!/bin/bash
#
# The VM suite: runs INSIDE the test VM as root (contrib/vm/run.sh boots
# it; ./contrib/quickstart.sh check does both).  Against the hlsim kernel
# driver instead of the hl_double preload:
#   1. the kernel suite (kernel/tests/vm-suite.sh: functional tests,
#      in-kernel importer, fuzzer, dmesg check, unload);
#   2. the plugin on hlsim: ucx_info, habana_demo, the gtest suites that
#      apply to a real driver, UCP transfers over tcp and sm;
#   3. soft RoCE: habana_zcopy_check on an rxe device; MPI between two
#      network namespaces ("nodes"), one hlsim device each, over tcp on a
#      veth pair (test/vm/mpi-two-node.sh);
#   4. the kernel log stays clean and hlsim unloads.
# Ends with "N passed, N failed".
#
set -u

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$top/build
in_devroot=$top/contrib/vm/in-devroot.sh
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

devroot() { (cd "$build" && "$in_devroot" "$@"); }

plugin_env="UCX_PLUGIN_PATH=$build/.libs HL_DOUBLE_DEVICES=2"

kernel_suite() { "$top/kernel/tests/vm-suite.sh" "${FUZZ_CALLS:-10000}"; }

load_hlsim() {
	ip link set lo up &&
	modprobe drm &&
	insmod "$top/kernel/hlsim.ko" num_devices=2 &&
	[ -c /dev/accel/accel0 ] && [ -c /dev/accel/accel_controlD0 ]
}

ucx_info_lists_hlsim() {
	devroot env $plugin_env ucx_info -d >/tmp/ucx_info.out 2>&1
	grep -q "Memory domain: habana" /tmp/ucx_info.out &&
	grep -q "Device: habana0" /tmp/ucx_info.out
}

demo_on_hlsim() {
	devroot env $plugin_env ./test/apps/habana_demo >/tmp/demo.out 2>&1
	cat /tmp/demo.out
	grep -q "dma-buf fd [0-9]" /tmp/demo.out &&
	grep -q "habana_demo: OK" /tmp/demo.out
}

# what does not need the double's fault knobs
gtest_on_hlsim() {
	devroot env $plugin_env ./test/gtest/gtest_habana --gtest_brief=1 \
		--gtest_filter='habana_ucm*:hlmem*:habana_md_dev.detects*:habana_md_dev.host_pointer*'
}

gtest_ucp_on_hlsim() {
	local tls
	for tls in tcp,habana sm,habana; do
		devroot env $plugin_env UCX_TLS=$tls ./test/gtest/gtest_habana \
			--gtest_brief=1 \
			--gtest_filter='mem/habana_ucp.tag/*:mem/habana_ucp_rma.put/gaudi*:habana_ucp_device*' &&
		devroot env $plugin_env UCX_TLS=$tls ./test/gtest/gtest_habana \
			--gtest_brief=1 --gtest_filter='*habana_ucp_preexisting*' ||
			return 1
	done
}

# rxe cannot import dma-bufs: the check must say so, with the fix
zcopy_check_on_rxe() {
	modprobe rdma_rxe && modprobe ib_uverbs || return 1
	ip link add veth0 type veth peer name veth1 &&
	ip addr add 10.12.0.1/24 dev veth0 && ip link set veth0 up &&
	ip link set veth1 up || return 1
	devroot rdma link add rxe0 type rxe netdev veth0 || return 1
	devroot ./habana_zcopy_check >/tmp/zcopy.out 2>&1
	local rc=$?
	cat /tmp/zcopy.out
	[ $rc -eq 0 ] &&
	grep -q "Habana devices: 2, RDMA devices: 1" /tmp/zcopy.out &&
	[ "$(grep -c 'zero-copy: NO' /tmp/zcopy.out)" -eq 2 ] &&
	[ "$(grep -c 'error: ibv_reg_dmabuf_mr: Operation not supported' \
		/tmp/zcopy.out)" -eq 2 ] &&
	grep -q "the NIC driver cannot import dma-bufs" /tmp/zcopy.out
}

# figures, side by side: DMA copy vs memcpy, exports per second
driver_figures() { "$top/kernel/tests/hlsim_bench" 64 1; }

unload_hlsim_clean_log() {
	rmmod hlsim || return 1
	! dmesg | grep -E "BUG|WARNING|Oops|refcount_t|general protection"
}

check "kernel suite (hlsim)" kernel_suite
if check "hlsim loads with 2 devices" load_hlsim; then
	check "ucx_info -d lists the hlsim device" ucx_info_lists_hlsim
	check "habana_demo exports through hlsim" demo_on_hlsim
	check "gtest against hlsim" gtest_on_hlsim
	check "gtest UCP tcp,habana and sm,habana against hlsim" gtest_ucp_on_hlsim
	check "habana_zcopy_check on soft RoCE" zcopy_check_on_rxe
	check "hlsim figures (copy vs memcpy, exports/s)" driver_figures
	check "MPI on two nodes (namespaces, veth, accel0/accel1)" \
		"$top/test/vm/mpi-two-node.sh"
	check "hlsim unloads, kernel log clean" unload_hlsim_clean_log
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
