#!/bin/bash
#
# Two "nodes" in the test VM: MPI between Habana device buffers of two
# hlsim devices, one rank per network namespace, over tcp on a veth pair.
# Runs INSIDE the VM as root (contrib/vm/run.sh) with hlsim already
# loaded with num_devices=2 (test/vm/suite.sh calls it after loading).
#
#   1. namespaces hlmpiA and hlmpiB joined by a veth pair (10.13.0.1/.2),
#      lo up in each, a soft RoCE (rxe) device on each end; records that
#      Debian's UCX has no IB transport (rc/ud) that could use it;
#   2. mpirun -np 2, MPMD, mpirun and rank 0 in hlmpiA on
#      /dev/accel/accel0, rank 1 under `ip netns exec hlmpiB` on accel1
#      (HLMEM_DEVICE), UCX_TLS=self,tcp,habana, UCX_NET_DEVICES = the
#      veth end of the rank's namespace.  PMIx 7 clients reach their
#      server only over TCP (no unix sockets), so the server listens on
#      hlmpiA's veth address (pmix_remote_connections, prte_if_include);
#   3. hlmpi_test bw (with UCX_PROTO_INFO=y: staged rendezvous habana ->
#      host fragment -> tcp on the veth -> habana), latency and bcast on
#      device buffers, data verified; the veth's byte counters must grow.
# Prints the tables and "N passed, N failed"; removes the namespaces.
#
set -u

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$top/build
in_devroot=$top/contrib/vm/in-devroot.sh
prog=$build/test/mpi/hlmpi_test
logdir=/tmp/mpi-two-node
nsA=hlmpiA nsB=hlmpiB
vethA=hlveth0 vethB=hlveth1
ipA=10.13.0.1 ipB=10.13.0.2
rxeA=rxehlA rxeB=rxehlB
# sizes up to 1 MiB, few iterations: TCG runs user space ~20x slower
sizes="-m 1:1048576 -i 4 -x 1 -r 1"
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

cleanup() {
	[ -e "/sys/class/infiniband/$rxeA" ] &&
		"$in_devroot" rdma link delete "$rxeA" 2>/dev/null
	[ -e "/sys/class/infiniband/$rxeB" ] &&
		"$in_devroot" rdma link delete "$rxeB" 2>/dev/null
	ip netns delete "$nsA" 2>/dev/null	# takes the veth pair with it
	ip netns delete "$nsB" 2>/dev/null
	return 0
}

hlsim_ready() {
	[ -c /dev/accel/accel0 ] && [ -c /dev/accel/accel1 ] && [ -x "$prog" ] ||
		{ echo "needs hlsim with 2 devices and $prog"; return 1; }
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

# soft RoCE on both ends: there for a verbs transport to use
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

# what UCX offers in node A: tcp on the veth and habana; no rc/ud
ucx_transports() {
	local log=$logdir/ucx_info.log tls
	"$in_devroot" ip netns exec "$nsA" env UCX_PLUGIN_PATH="$build/.libs" \
		ucx_info -d >"$log" 2>&1 || { cat "$log"; return 1; }
	tls=$(sed -n 's/^# *Transport: *//p' "$log" | sort -u | tr '\n' ' ')
	echo "UCX transports in $nsA: $tls"
	grep -E "^# *(Memory domain|Transport|Device):" "$log" | sed 's/^/    /'
	if grep -Eq "^# *Transport: *(rc|rc_verbs|rc_mlx5|ud|ud_verbs|ud_mlx5|dc_mlx5)$" \
		"$log"; then
		echo "NOTE: UCX has an IB transport: the rxe devices could carry it"
	else
		echo "NOTE: this UCX has no IB transport (no rc/ud in ucx_info -d):" \
			"the rxe devices are unused; MPI traffic goes over tcp on $vethA"
	fi
	grep -q "^# *Device: *$vethA$" "$log" &&
	grep -q "^# *Transport: *habana$" "$log"
}

# bytes through node A's veth end, both directions
veth_bytes() {
	local d=/sys/class/net/$vethA/statistics tx rx
	tx=$(ip netns exec "$nsA" cat "$d/tx_bytes") &&
	rx=$(ip netns exec "$nsA" cat "$d/rx_bytes") &&
	echo $((tx + rx))
}

# two_node [mpirun options ...] -- ARGS...: mpirun on node A; rank 0 in
# node A on accel0, rank 1 in node B on accel1.  PMIx 7 has no unix socket
# transport (usock is gone): its clients reach the server over TCP, by
# default on 127.0.0.1 of the server's namespace, which node B cannot
# reach; pmix_remote_connections + prte_if_include make it listen on
# node A's veth address instead.  `ip netns exec` runs inside the dev
# root: it remounts /sys for the namespace, and UCX's tcp transport finds
# its interfaces in /sys/class/net (the dev root's /sys, bound at boot,
# shows the VM's initial namespace).
two_node() {
	local opts=()
	while [ "$1" != "--" ]; do
		opts+=("$1")
		shift
	done
	shift
	"$in_devroot" ip netns exec "$nsA" env OMPI_ALLOW_RUN_AS_ROOT=1 \
		OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
		timeout 300 mpirun --map-by :OVERSUBSCRIBE \
		--prtemca pmix_remote_connections 1 \
		--prtemca prte_if_include "$vethA" \
		--mca pml ucx --mca pml_ucx_tls any --mca pml_ucx_devices any \
		-x UCX_PLUGIN_PATH="$build/.libs" \
		-x LD_LIBRARY_PATH="$build/.libs" \
		-x UCX_TLS=self,tcp,habana -x UCX_WARN_UNUSED_ENV_VARS=n \
		"${opts[@]}" \
		-np 1 env HLMEM_DEVICE=0 UCX_NET_DEVICES="$vethA" \
			"$prog" "$@" : \
		-np 1 ip netns exec "$nsB" env HLMEM_DEVICE=1 \
			UCX_NET_DEVICES="$vethB" "$prog" "$@"
}

# proto_table WHAT <log: the first UCX_PROTO_INFO table whose title has WHAT
proto_table() {
	sed 's/^\[[^]]*\] *\[[^]]*\] *//' | awk -v what="$1" '
		!on && /^\| / && index($0, what) { on = 1; n = 0 }
		on { print "    " $0 }
		on && /^\+--/ && ++n == 3 { exit }'
}

# mpi NAME [PATTERN] [mpirun opts] -- ARGS: run, show the table, verify
mpi() {
	local name=$1 pattern=$2 log rc before after t0 ok=0
	shift 2
	log=$logdir/$name.log
	before=$(veth_bytes)
	t0=$(date +%s)
	two_node "$@" >"$log" 2>&1
	rc=$?
	after=$(veth_bytes)
	grep -E '^(#|[0-9])' "$log"
	echo "($name: exit $rc, $(( $(date +%s) - t0 )) s," \
		"$((after - before)) bytes over $vethA)"
	if [ "$rc" -eq 0 ] && grep -q " Pass$" "$log" &&
	   ! grep -q " Fail$\|MISMATCH\|Segmentation fault\|signal 11" "$log" &&
	   [ $((after - before)) -gt 1048576 ]; then
		ok=1
	fi
	if [ -n "$pattern" ]; then
		echo "protocol selection of rank 0 (UCX_PROTO_INFO), gaudi memory:"
		proto_table "from gaudi" <"$log"
		grep -q -- "$pattern" "$log" || { echo "no '$pattern'"; ok=0; }
		# rank 1 selects its protocols on node B's veth end
		grep -q "| tcp/$vethB *|" "$log" ||
			{ echo "no protocol on tcp/$vethB (rank 1)"; ok=0; }
	fi
	[ "$ok" -eq 1 ] || tail -n 30 "$log" | sed 's/^/    /'
	[ "$ok" -eq 1 ]
}

# the staged rendezvous for device memory, tcp on node A's veth
staged_rndv="rendezvous habana, .* write to remote, frag host, habana, frag host .*tcp/$vethA"

main() {
	mkdir -p "$logdir"
	trap cleanup EXIT
	cleanup
	check "hlsim has 2 devices" hlsim_ready || return 1
	check "two nodes: namespaces $nsA, $nsB, veth $vethA-$vethB" make_nodes ||
		return 1
	check "soft RoCE ($rxeA, $rxeB) on the veth ends" soft_roce
	check "UCX in $nsA: tcp on $vethA, habana (rc/ud?)" ucx_transports
	check "bw D D across the veth, staged through habana" mpi bw \
		"$staged_rndv" -x UCX_PROTO_INFO=y -- bw -d habana $sizes -W 8 D D
	check "latency D D across the veth" mpi latency "" -- \
		latency -d habana $sizes D D
	check "bcast D across the veth" mpi bcast "" -- bcast -d habana $sizes
}

main
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
