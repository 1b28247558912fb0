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
#      device buffers, the reduction matrix and mixed host/device
#      reductions through coll habana, data verified; the veth's byte
#      counters must grow.
# Prints the tables and "N passed, N failed"; removes the namespaces.
#
set -u

# shellcheck source=test/vm/nodes.sh
. "$(dirname "${BASH_SOURCE[0]}")/nodes.sh"
build=$top/build
prog=$build/test/mpi/hlmpi_test
logdir=/tmp/mpi-two-node
# sizes up to 1 MiB, few iterations: TCG runs user space ~20x slower
sizes="-m 1:1048576 -i 4 -x 1 -r 1"

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

# the run of this test: Debian's UCX, tcp on the veth, staged through habana
two_node() {
	two_node_mpirun "UCX_NET_DEVICES=$vethA" "UCX_NET_DEVICES=$vethB" \
		-x UCX_PLUGIN_PATH="$build/.libs" \
		-x LD_LIBRARY_PATH="$build/.libs" \
		-x UCX_TLS=self,tcp,habana "$@"
}

# mpi NAME [PATTERN] [mpirun opts] -- ARGS: run, show the table, verify
mpi() {
	local name=$1 pattern=$2 log rc before after t0 ok=0 opts=()
	shift 2
	while [ "$1" != "--" ]; do
		opts+=("$1")
		shift
	done
	shift
	log=$logdir/$name.log
	before=$(veth_bytes)
	t0=$(date +%s)
	two_node "${opts[@]}" -- "$prog" "$@" >"$log" 2>&1
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

hlsim_ready_prog() { hlsim_ready && [ -x "$prog" ]; }

# the staged rendezvous for device memory, tcp on node A's veth
staged_rndv="rendezvous habana, .* write to remote, frag host, habana, frag host .*tcp/$vethA"

main() {
	mkdir -p "$logdir"
	trap nodes_cleanup EXIT
	nodes_cleanup
	check "hlsim has 2 devices and $prog" hlsim_ready_prog || return 1
	check "two nodes: namespaces $nsA, $nsB, veth $vethA-$vethB" make_nodes ||
		return 1
	check "soft RoCE ($rxeA, $rxeB) on the veth ends" soft_roce
	check "UCX in $nsA: tcp on $vethA, habana (rc/ud?)" ucx_transports
	check "bw D D across the veth, staged through habana" mpi bw \
		"$staged_rndv" -x UCX_PROTO_INFO=y -- bw -d habana $sizes -W 8 D D
	check "latency D D across the veth" mpi latency "" -- \
		latency -d habana $sizes D D
	check "bcast D across the veth" mpi bcast "" -- bcast -d habana $sizes
	# coll habana: the reduction matrix (every reduction, type, op, in
	# place or not, to 256 KiB) and host/device buffers mixed, staged
	# through host memory by Open MPI's coll habana, across the veth
	check "reduction matrix D across the veth (coll habana)" mpi reductions "" \
		--mca mca_base_component_path "$build/.libs" --mca accelerator habana -- \
		reductions -d habana -m 262144
	check "reductions with host and device buffers mixed across the veth" \
		mpi mixed "" --mca mca_base_component_path "$build/.libs" \
		--mca accelerator habana -- mixed -d habana -m 4000
}

main
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
