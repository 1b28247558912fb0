#!/usr/bin/env bash
#
# PCI path classes from hwloc against test/topo/two-switch.xml (README.md
# here): libhabana_topo (topo_test), habana_zcopy_check and the plugin's
# nearest-NIC debug line on hl_double + verbs_double, HWLOC_XMLFILE set.
# Usage: run.sh BUILDDIR [SRCDIR].  Exit 1 if any check fails.
#
set -u

builddir=$1
srcdir=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
xml=$srcdir/test/topo/two-switch.xml
topo_test=$builddir/test/topo/topo_test
doubles=$builddir/test/double/.libs/libhl_double.so:$builddir/test/double/.libs/libverbs_double.so
nics=mlx5_0:import,mlx5_1:import,mlx5_2:eopnotsupp,mlx5_3:import
fail=0

if [ ! -x "$topo_test" ]; then
	echo "SKIP: PCI path classes (built without hwloc)"
	exit 0
fi

# expect OUTPUT REGEX WHAT
expect() {
	if grep -qE "$2" <<<"$1"; then
		echo "ok  : $3"
	else
		echo "FAIL: $3 (no line matching '$2')"
		fail=1
	fi
}

"$topo_test" "$xml" || fail=1
# the parser a plugin gets when libhwloc is not loaded RTLD_GLOBAL
out=$(HWLOC_LIBXML=0 "$topo_test" "$xml")
expect "$out" "^21 passed, 0 failed$" "topo_test with hwloc's minimalistic XML parser"

if [ ! -x "$builddir/habana_zcopy_check" ]; then
	echo "SKIP: habana_zcopy_check and the plugin (built without libibverbs)"
	exit $fail
fi

out=$(env LD_PRELOAD="$doubles" HL_DOUBLE_DEVICES=2 VERBS_DOUBLE_NICS=$nics \
	HWLOC_XMLFILE="$xml" "$builddir/habana_zcopy_check" 2>&1)
echo "$out" | sed 's/^/    | /'
row() {
	expect "$out" "^habana$1 +<-> $2 +zero-copy: $3 +path: $4 +numa $5\$" \
		"habana_zcopy_check: habana$1 <-> $2: $4, numa ${5//\\/}"
}
row 0 mlx5_0 YES "same PCIe switch" "0\|0"
row 0 mlx5_1 YES "same host bridge" "0\|0"
row 0 mlx5_2 NO "same socket" "0\|0"
row 0 mlx5_3 YES "across sockets" "0\|1"
row 1 mlx5_0 YES "across sockets" "1\|0"
row 1 mlx5_1 YES "across sockets" "1\|0"
row 1 mlx5_2 NO "across sockets" "1\|0"
row 1 mlx5_3 YES "same PCIe switch" "1\|1"
expect "$out" "^habana0 \(0000:3a:00.0\): numa 0, nearest RDMA device mlx5_0 \(same PCIe switch\)$" \
	"habana_zcopy_check: habana0's nearest is mlx5_0"
expect "$out" "^habana1 \(0000:3b:00.0\): numa 1, nearest RDMA device mlx5_3 \(same PCIe switch\)$" \
	"habana_zcopy_check: habana1's nearest is mlx5_3"

# -t: the topology alone, for scripts (contrib/mpirun-bind.sh)
out=$(env LD_PRELOAD="$doubles" HL_DOUBLE_DEVICES=2 VERBS_DOUBLE_NICS=mlx5_2:import,mlx5_1:import \
	HWLOC_XMLFILE="$xml" "$builddir/habana_zcopy_check" -t 2>&1)
expect "$out" "^habana0 \(0000:3a:00.0\): numa 0, nearest RDMA device mlx5_1 \(same host bridge\)$" \
	"habana_zcopy_check -t: without mlx5_0, habana0's nearest is mlx5_1"
expect "$out" "^habana1 +<-> mlx5_2 +path: across sockets +numa 1\|0$" \
	"habana_zcopy_check -t: habana1 <-> mlx5_2 across sockets"
if grep -q "zero-copy" <<<"$out"; then
	echo "FAIL: habana_zcopy_check -t checked zero copy"
	fail=1
fi

# contrib/mpirun-bind.sh: each local rank's device, NIC and NUMA node
bind() {
	env -u UCX_NET_DEVICES LD_PRELOAD="$doubles" HL_DOUBLE_DEVICES=2 \
		VERBS_DOUBLE_NICS=$nics HWLOC_XMLFILE="$xml" \
		HABANA_ZCOPY_CHECK="$builddir/habana_zcopy_check" \
		HABANA_BIND_DRYRUN=1 "$@" "$srcdir/contrib/mpirun-bind.sh" ./app 2>&1
}
bind_expect() {
	local want=$1
	shift
	out=$(bind "$@")
	if [ "$out" = "$want" ]; then
		echo "ok  : mpirun-bind.sh $*: $want"
	else
		echo "FAIL: mpirun-bind.sh $*: '$out', expected '$want'"
		fail=1
	fi
}
if command -v hwloc-bind >/dev/null; then
	hb="hwloc-bind -p --cpubind node:%s --membind node:%s --"
	bind_expect "HLMEM_DEVICE=0 UCX_NET_DEVICES=mlx5_0:1 $(printf "$hb" 0 0) ./app" \
		OMPI_COMM_WORLD_LOCAL_RANK=0
	bind_expect "HLMEM_DEVICE=1 UCX_NET_DEVICES=mlx5_3:1 $(printf "$hb" 1 1) ./app" \
		OMPI_COMM_WORLD_LOCAL_RANK=1
	bind_expect "HLMEM_DEVICE=0 UCX_NET_DEVICES=mlx5_0:1 $(printf "$hb" 0 0) ./app" \
		OMPI_COMM_WORLD_LOCAL_RANK=2
	bind_expect "HLMEM_DEVICE=1 UCX_NET_DEVICES=mlx5_3:1 $(printf "$hb" 1 1) ./app" \
		OMPI_COMM_WORLD_LOCAL_RANK=0 HABANA_BIND_DEVICES=1
else
	echo "SKIP: mpirun-bind.sh (no hwloc-bind)"
fi

# the plugin, at MD open, at debug level (without UCX's rdmacm module: in
# a UCX built with it, librdmacm asks verbs_double's devices for their GUID
# and crashes)
out=$(env LD_PRELOAD="$doubles" UCX_PLUGIN_PATH="$builddir/.libs" UCX_MODULES='^rdmacm' \
	HL_DOUBLE_DEVICES=2 VERBS_DOUBLE_NICS=$nics HWLOC_XMLFILE="$xml" \
	UCX_LOG_LEVEL=debug ucx_info -d 2>&1 | grep -o 'habana: habana[0-9] (.*')
expect "$out" "^habana: habana0 \(0000:3a:00.0\): nearest RDMA device mlx5_0 \(same PCIe switch\), numa 0$" \
	"plugin: habana0's nearest RDMA device mlx5_0 (same PCIe switch)"
expect "$out" "^habana: habana1 \(0000:3b:00.0\): nearest RDMA device mlx5_3 \(same PCIe switch\), numa 1$" \
	"plugin: habana1's nearest RDMA device mlx5_3 (same PCIe switch)"

exit $fail
