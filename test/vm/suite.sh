#!/bin/bash
#
# The VM suite: runs INSIDE the test VM as root (contrib/vm/run.sh boots
# it; ./contrib/quickstart.sh check does both).  Against the hlsim kernel
# driver instead of the hl_double preload:
#   1. the kernel suite (kernel/tests/vm-suite.sh: functional tests,
#      in-kernel importer, fuzzer, dmesg check, unload);
#   2. the plugin on hlsim: ucx_info, habana_demo, the gtest suites that
#      apply to a real driver, UCP transfers over tcp and sm;
#   3. soft RoCE: habana_zcopy_check on an rxe device, without and with
#      the NIC test double (dma-buf "import" through hlsim's test-only
#      mmap; RDMA to device memory by device VA); MPI between two
#      network namespaces ("nodes"), one hlsim device each, over tcp on a
#      veth pair (test/vm/mpi-two-node.sh); zero copy between the two
#      nodes with a UCX that has the IB transport (contrib/ucx-ib.sh):
#      rc on plain rxe (staged) and on the importing NIC double
#      (test/vm/zcopy-two-node.sh);
#   4. the kernel log stays clean and hlsim unloads.
# Ends with "N passed, N failed".
#
set -u

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$top/build
in_devroot=$top/contrib/vm/in-devroot.sh
# shellcheck source=test/check.sh
. "$top/test/check.sh"

devroot() { (cd "$build" && "$in_devroot" "$@"); }

plugin_env="UCX_PLUGIN_PATH=$build/.libs HL_DOUBLE_DEVICES=2"

# 20,000 calls: at least 10,000 of them on USERPTR/CS/WAIT_CS
kernel_suite() { "$top/kernel/tests/vm-suite.sh" "${FUZZ_CALLS:-20000}"; }

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
		--gtest_filter='habana_ucm*:hlmem*:habana_md_dev.detects*:habana_md_dev.host_pointer*:habana_md_copy_conform.remapped_host_memory*:-hlmem_untracked*' &&
	devroot env $plugin_env ./test/gtest/gtest_habana --gtest_brief=1 \
		--gtest_filter='hlmem_untracked*'
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

# The NIC test double (test/double/nic_dmabuf_double.c, LD_PRELOAD) on the
# rxe device above, with hlsim's test-only dma-buf mmap switched on: the
# "import" succeeds (zero copy YES for both devices) and RDMA WRITE/READ by
# device VA over a loopback RC connection reaches device memory, checked
# with the DMA copy.  Without the preload rxe still refuses (EOPNOTSUPP);
# with the preload but the switch off the double refuses the same way.
nic_double=$build/test/double/.libs/libnic_dmabuf_double.so
mmap_param=/sys/module/hlsim/parameters/test_dmabuf_mmap

# zcopy_counts FILE: counts of "zero-copy: YES", "zero-copy: NO" and EOPNOTSUPP
zcopy_counts() {
	printf '%s %s %s\n' "$(grep -c 'zero-copy: YES' "$1")" \
		"$(grep -c 'zero-copy: NO' "$1")" \
		"$(grep -c 'error: ibv_reg_dmabuf_mr: Operation not supported' "$1")"
}

zcopy_nic_double_on_rxe() {
	# the binary itself, not libtool's wrapper script (whose shells would
	# load the preload too)
	local preload="LD_PRELOAD=$nic_double NIC_DMABUF_DOUBLE_VERBOSE=1
		LD_LIBRARY_PATH=$build/.libs"
	local zcopy_check=./.libs/habana_zcopy_check
	local out=/tmp/nic-double rc=0 dev
	if [ ! -e "$nic_double" ]; then
		echo "missing $nic_double (make test/double/libnic_dmabuf_double.la)"
		return 1
	fi
	[ -x "$build/test/vm/nic_double_rdma" ] ||
		{ echo "missing test/vm/nic_double_rdma (make)"; return 1; }
	[ -e /sys/class/infiniband/rxe0 ] ||
		{ echo "no rxe0 (set up by zcopy_check_on_rxe)"; return 1; }
	echo 1 >"$mmap_param" || return 1

	echo "- with the double, test_dmabuf_mmap=1"
	devroot env $preload $zcopy_check >$out.1 2>&1 || rc=1
	cat $out.1
	grep -q "Habana devices: 2, RDMA devices: 1" $out.1 &&
	[ "$(zcopy_counts $out.1)" = "2 0 0" ] &&
	grep -q "nic_dmabuf_double.*loaded: TEST DOUBLE" $out.1 || rc=1
	for dev in 0 1; do
		devroot env $preload HLMEM_DEVICE=$dev \
			./test/vm/nic_double_rdma -d rxe0 >$out.2 2>&1 || rc=1
		cat $out.2
		grep -q "^nic_double_rdma: OK" $out.2 || rc=1
	done

	echo "- without the double: rxe cannot import"
	devroot ./habana_zcopy_check >$out.3 2>&1 || rc=1
	cat $out.3
	[ "$(zcopy_counts $out.3)" = "0 2 2" ] || rc=1
	devroot ./test/vm/nic_double_rdma -r -d rxe0 >$out.4 2>&1 || rc=1
	cat $out.4

	echo "- with the double, test_dmabuf_mmap=0: refused like rxe"
	echo 0 >"$mmap_param" || rc=1
	devroot env $preload $zcopy_check >$out.5 2>&1 || rc=1
	cat $out.5
	[ "$(zcopy_counts $out.5)" = "0 2 2" ] || rc=1
	devroot env $preload ./test/vm/nic_double_rdma -r -d rxe0 \
		>$out.6 2>&1 || rc=1
	cat $out.6
	return $rc
}

# figures, side by side: DMA copy vs memcpy, exports per second; the
# plugin's DMA engine (CS path) vs hlsim's private copy ioctl vs memcpy
driver_figures() {
	"$top/kernel/tests/hlsim_bench" 64 1 &&
	devroot ./contrib/bench/dma_bench /dev/accel/accel0 0.2
}

unload_hlsim_clean_log() {
	rmmod hlsim || return 1
	! dmesg | grep -E "BUG|WARNING|Oops|refcount_t|general protection"
}

check "kernel suite (hlsim)" kernel_suite
if check "hlsim loads with 2 devices" load_hlsim; then
	check "hlsim answers as the driver (hl_conform, as hl_double)" \
		devroot ./test/conform/hl_conform
	check "ucx_info -d lists the hlsim device" ucx_info_lists_hlsim
	check "habana_demo exports through hlsim" demo_on_hlsim
	check "gtest against hlsim" gtest_on_hlsim
	check "gtest UCP tcp,habana and sm,habana against hlsim" gtest_ucp_on_hlsim
	check "habana_zcopy_check on soft RoCE" zcopy_check_on_rxe
	check "NIC test double on soft RoCE: zero copy and RDMA by device VA" \
		zcopy_nic_double_on_rxe
	check "hlsim figures (copy vs memcpy, exports/s, DMA engine vs ioctl)" \
		driver_figures
	check "MPI on two nodes (namespaces, veth, accel0/accel1)" \
		"$top/test/vm/mpi-two-node.sh"
	if ucx_ib=$("$top/contrib/ucx-ib.sh" prefix 2>/dev/null); then
		check "zero copy on two nodes (UCX with IB, rc on soft RoCE)" \
			env UCX_IB_PREFIX="$ucx_ib" "$top/test/vm/zcopy-two-node.sh"
	else
		echo "SKIP: zero copy on two nodes: no UCX with the IB transport" \
		     "(contrib/ucx-ib.sh needs ../shared/ucx)"
	fi
	check "hlsim unloads, kernel log clean" unload_hlsim_clean_log
	if ls "$build"/debs/hlsim-dkms_*.deb >/dev/null 2>&1; then
		check "install from the Debian packages, hlsim by DKMS" \
			"$top/test/vm/packages.sh" "$build/debs"
	else
		echo "SKIP: install from packages: no $build/debs (contrib/build-debs.sh)"
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
