#!/bin/bash
#
# Two "nodes" in the test VM, sourced by the two-node tests
# (mpi-two-node.sh, zcopy-two-node.sh): network namespaces $nsA and $nsB
# joined by a veth pair, a soft RoCE (rxe) device on each end, and the
# check helper that counts "N passed, N failed".  Runs INSIDE the VM as
# root (contrib/vm/run.sh).
#
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
in_devroot=$top/contrib/vm/in-devroot.sh
nsA=hlmpiA nsB=hlmpiB
vethA=hlveth0 vethB=hlveth1
ipA=10.13.0.1 ipB=10.13.0.2
rxeA=rxehlA rxeB=rxehlB
# shellcheck source=test/check.sh
. "$top/test/check.sh"

nodes_cleanup() {
	[ -e "/sys/class/infiniband/$rxeA" ] &&
		"$in_devroot" rdma link delete "$rxeA" 2>/dev/null
	[ -e "/sys/class/infiniband/$rxeB" ] &&
		"$in_devroot" rdma link delete "$rxeB" 2>/dev/null
	ip netns delete "$nsA" 2>/dev/null	# takes the veth pair with it
	ip netns delete "$nsB" 2>/dev/null
	return 0
}

hlsim_ready() {
	[ -c /dev/accel/accel0 ] && [ -c /dev/accel/accel1 ] ||
		{ echo "needs hlsim with 2 devices"; return 1; }
}

make_nodes() {
	ip netns add "$nsA" && ip netns add "$nsB" &&
	ip link add "$vethA" netns "$nsA" type veth peer name "$vethB" \
		netns "$nsB" &&
	ip -n "$nsA" addr add "$ipA/24" dev "$vethA" &&
	ip -n "$nsB" addr add "$ipB/24" dev "$vethB" &&
	ip -n "$nsA" link set lo up && ip -n "$nsB" link set lo up &&
	ip -n "$nsA" link set "$vethA" up && ip -n "$nsB" link set "$vethB" up ||
		return 1
	ip netns exec "$nsA" busybox ping -c 1 -W 5 "$ipB" || return 1
	ip -n "$nsA" -br addr show && ip -n "$nsB" -br addr show
}

# soft RoCE on both ends
soft_roce() {
	local out
	modprobe rdma_rxe && modprobe ib_uverbs || return 1
	"$in_devroot" ip netns exec "$nsA" rdma link add "$rxeA" type rxe \
		netdev "$vethA" &&
	"$in_devroot" ip netns exec "$nsB" rdma link add "$rxeB" type rxe \
		netdev "$vethB" || return 1
	"$in_devroot" ip netns exec "$nsA" rdma link show
	out=$("$in_devroot" ip netns exec "$nsA" ibv_devices) || return 1
	echo "ibv_devices in $nsA:"; echo "$out"
	grep -qw "$rxeA" <<<"$out" || return 1
	out=$("$in_devroot" ip netns exec "$nsB" ibv_devices) || return 1
	echo "ibv_devices in $nsB:"; echo "$out"
	grep -qw "$rxeB" <<<"$out"
}

# bytes through node A's veth end, both directions
veth_bytes() {
	local d=/sys/class/net/$vethA/statistics tx rx
	tx=$(ip netns exec "$nsA" cat "$d/tx_bytes") &&
	rx=$(ip netns exec "$nsA" cat "$d/rx_bytes") &&
	echo $((tx + rx))
}

# two_node_mpirun ENV_A ENV_B [mpirun options ...] -- PROG ARGS...:
# mpirun on node A; rank 0 in node A on accel0 with the environment words
# ENV_A, rank 1 in node B on accel1 with ENV_B.  PMIx 7 has no unix socket
# transport: its clients reach the server over TCP, by default on
# 127.0.0.1 of the server's namespace, which node B cannot reach;
# pmix_remote_connections + prte_if_include make it listen on node A's
# veth address instead.  `ip netns exec` runs inside the dev root: it
# remounts /sys for the namespace, and UCX's tcp transport finds its
# interfaces in /sys/class/net.
two_node_mpirun() {
	local env_a=$1 env_b=$2 opts=()
	shift 2
	while [ "$1" != "--" ]; do
		opts+=("$1")
		shift
	done
	shift
	# shellcheck disable=SC2086 # ENV_A/ENV_B are lists of words
	"$in_devroot" ip netns exec "$nsA" env OMPI_ALLOW_RUN_AS_ROOT=1 \
		OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
		timeout 600 mpirun --map-by :OVERSUBSCRIBE \
		--prtemca pmix_remote_connections 1 \
		--prtemca prte_if_include "$vethA" \
		--mca pml ucx --mca pml_ucx_tls any --mca pml_ucx_devices any \
		-x UCX_WARN_UNUSED_ENV_VARS=n \
		"${opts[@]}" \
		-np 1 env HLMEM_DEVICE=0 $env_a "$@" : \
		-np 1 ip netns exec "$nsB" env HLMEM_DEVICE=1 $env_b "$@"
}

# proto_table WHAT <log: the first UCX_PROTO_INFO table whose title has WHAT
proto_table() {
	sed 's/^\[[^]]*\] *\[[^]]*\] *//' | awk -v what="$1" '
		!on && /^\| / && index($0, what) { on = 1; n = 0 }
		on { print "    " $0 }
		on && /^\+--/ && ++n == 3 { exit }'
}
