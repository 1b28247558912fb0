#!/bin/bash
#
# Zero copy for real, across two VM "nodes" (network namespaces with a
# soft RoCE device each), with a UCX that has the IB transport
# (contrib/ucx-ib.sh, built from ../shared/ucx) and the plugin built
# against it (build-ib/).  Runs INSIDE the VM as root after hlsim was
# loaded with 2 devices (test/vm/suite.sh).
#
#   (a) host memory over rc: the IB UCX works on the rxe pair;
#   (b) device memory over rc on plain rxe, which cannot import dma-bufs:
#       transfers complete, staged through host memory, no error, the
#       plugin's fallback line once per process;
#   (c) device memory with the NIC test double (libnic_dmabuf_double +
#       hlsim test_dmabuf_mmap=1): UCX_PROTO_INFO shows zero-copy
#       rendezvous for gaudi memory, 0 bytes staged host<->device
#       (the plugin's counters), data verified 1 B - 16 MiB, at most one
#       export per buffer over 10,000 transfers, frees with UCX's
#       registration cache on, device memory back to full;
#   (d) Open MPI hlmpi_test bw/latency D D and H H across the nodes, an
#       OSU-style table: bandwidth with zero copy only; latency (blocking
#       sends) as UCP chooses: small messages eager, copied out at the
#       receiver, which the counters show.
# Each case prints one line: "zero-copy: ..." or "staged: ...".  Ends
# with "N passed, N failed".  Without an IB UCX it says so and passes 0.
#
set -u

# shellcheck source=test/vm/nodes.sh
. "$(dirname "${BASH_SOURCE[0]}")/nodes.sh"
build=$top/build
build_ib=$top/build-ib
prefix=${UCX_IB_PREFIX:-}
logdir=/tmp/zcopy-two-node
nic_double=$build/test/double/.libs/libnic_dmabuf_double.so
hlmpi=$build/test/mpi/hlmpi_test
port=13370
mib=1048576

# the environment of every process of this test, as words for env
ib_env() {
	echo "LD_LIBRARY_PATH=$prefix/lib:$build_ib/.libs" \
	     "UCX_PLUGIN_PATH=$build_ib/.libs UCX_HABANA_SUMMARY=y" \
	     "UCX_WARN_UNUSED_ENV_VARS=n"
}

# perf_pair NAME "ENV WORDS" PERFTEST ARGS...: ucx_perftest server in node
# B, client in node A (rc on each node's rxe); logs NAME.{client,server}
perf_pair() {
	local name=$1 extra=$2 log=$logdir/$1 server rc
	shift 2
	port=$((port + 1))
	# shellcheck disable=SC2046,SC2086
	"$in_devroot" ip netns exec "$nsB" env $(ib_env) $extra \
		UCX_NET_DEVICES="$rxeB:1" timeout 600 \
		"$prefix/bin/ucx_perftest" -p "$port" >"$log.server" 2>&1 &
	server=$!
	sleep 3
	# shellcheck disable=SC2046,SC2086
	"$in_devroot" ip netns exec "$nsA" env $(ib_env) $extra \
		UCX_NET_DEVICES="$rxeA:1" timeout 600 \
		"$prefix/bin/ucx_perftest" "$ipB" -p "$port" "$@" \
		>"$log.client" 2>&1
	rc=$?
	wait "$server" || rc=1
	grep -E "^Final:|^ *[0-9]+ +[0-9]" "$log.client" | tail -n 2
	if [ "$rc" -ne 0 ] || ! grep -q "^Final:" "$log.client" ||
	   grep -q "ERROR\|Segmentation\|signal 11" "$log.client" "$log.server"; then
		echo "$name: exit $rc"
		tail -n 25 "$log.client" "$log.server" | sed 's/^/    /'
		return 1
	fi
}

# counter NAME LOG...: the sum of a summary counter over the processes
counter() {
	local name=$1
	shift
	cat "$@" | grep "habana: summary pid" |
		grep -oE "(^|[ :])$name=[0-9]+" | sed 's/.*=//' |
		awk '{ s += $1 } END { print s + 0 }'
}

summaries() { cat "$@" | grep -c "habana: summary pid"; }

# device memory still held by the processes when their MDs closed
ctx_dram() {
	cat "$@" | grep -o "habana[0-9]*_ctx_dram_bytes=[0-9]*" |
		cut -d= -f2 | awk '{ s += $1 } END { print s + 0 }'
}

staged_bytes() {
	echo $(( $(counter staged_h2d_bytes "$@") + \
		 $(counter staged_d2h_bytes "$@") ))
}

rc_host() {
	local logs=("$logdir/host.client" "$logdir/host.server")
	perf_pair host "UCX_TLS=rc,self UCX_PROTO_INFO=y" \
		-t tag_bw -s $mib -n 20 -w 2 || return 1
	grep -q "rc_verbs/$rxeA:1" "${logs[0]}" ||
		{ echo "no rc_verbs lane on $rxeA"; return 1; }
	echo "host: rc_verbs host->host 1MiB verified-by-transport" \
	     "staged_bytes=$(staged_bytes "${logs[@]}")"
}

# (b) plain rxe: staged, no error, the fallback line once per process
rc_device_plain() {
	local l=$logdir/plain logs=() size lines staged
	for size in 1 65536 $mib; do
		perf_pair "plain-$size" "UCX_TLS=rc,self,habana" -t tag_lat \
			-m gaudi,gaudi -s "$size" -n 4 -w 1 -V || return 1
		logs+=("$l-$size.client" "$l-$size.server")
	done
	lines=$(cat "${logs[@]}" | grep -c "memory is staged through host memory: $rxeA\|memory is staged through host memory: $rxeB")
	staged=$(staged_bytes "${logs[@]}")
	echo "staged: rc_verbs gaudi->gaudi 1B-1MiB staged_bytes=$staged" \
	     "exports=$(counter exports "${logs[@]}")" \
	     "fallback_lines=$lines processes=${#logs[@]} verified"
	[ "$lines" -eq "${#logs[@]}" ] && [ "$staged" -gt 0 ]
}

# (c) the importing NIC double: zero copy, nothing staged
rc_device_zcopy() {
	local d=$logdir/zcopy logs=() size bw staged exports proto
	local env="UCX_TLS=rc,self,habana LD_PRELOAD=$nic_double"
	[ -f "$nic_double" ] || { echo "no $nic_double"; return 1; }
	echo 1 >/sys/module/hlsim/parameters/test_dmabuf_mmap || return 1
	# soft RoCE under TCG moves a few MB/s: few rounds of the large sizes
	for size in 1 4096 65536 $mib $((16 * mib)); do
		perf_pair "zcopy-$size" "$env" -t tag_lat -m gaudi,gaudi \
			-s "$size" -n $((size > 65536 ? 2 : 10)) -w 1 -V || return 1
		logs+=("$d-$size.client" "$d-$size.server")
	done
	perf_pair zcopy-bw "$env UCX_PROTO_INFO=y" -t tag_bw -m gaudi,gaudi \
		-s 4096 -n 10000 -w 10 || return 1
	bw=("$d-bw.client" "$d-bw.server")
	proto=$(proto_table "from gaudi" <"${bw[0]}")
	echo "protocols of the client for gaudi memory (UCX_PROTO_INFO):"
	echo "$proto"
	staged=$(staged_bytes "${logs[@]}" "${bw[@]}")
	exports=$(counter exports "${bw[@]}")
	echo "zero-copy: rc_verbs gaudi->gaudi 1B-16MiB" \
	     "staged_bytes=$staged exports=$exports buffers=4 transfers=10000" \
	     "ctx_dram_left=$(ctx_dram "${logs[@]}" "${bw[@]}")" \
	     "deferred_unmaps=$(counter deferred_unmaps "${logs[@]}" "${bw[@]}")" \
	     "deferred_pending=$(counter deferred_pending "${logs[@]}" "${bw[@]}")" \
	     "verified"
	grep -q "zero-copy" <<<"$proto" || { echo "no zero-copy protocol"; return 1; }
	[ "$staged" -eq 0 ] && [ "$exports" -ge 1 ] && [ "$exports" -le 4 ] &&
	[ "$(summaries "${logs[@]}" "${bw[@]}")" -eq $(( ${#logs[@]} + 2 )) ] &&
	[ "$(ctx_dram "${logs[@]}" "${bw[@]}")" -eq 0 ] &&
	[ "$(counter deferred_pending "${logs[@]}" "${bw[@]}")" -eq 0 ]
}

# hlmpi NAME ARGS...: hlmpi_test across the nodes, rc with the NIC double
hlmpi() {
	local name=$1 log=$logdir/mpi-$1.log rc
	shift
	two_node_mpirun \
		"LD_PRELOAD=$nic_double UCX_NET_DEVICES=$rxeA:1" \
		"LD_PRELOAD=$nic_double UCX_NET_DEVICES=$rxeB:1" \
		-x LD_LIBRARY_PATH="$prefix/lib:$build_ib/.libs" \
		-x UCX_PLUGIN_PATH="$build_ib/.libs" -x UCX_HABANA_SUMMARY=y \
		-x UCX_TLS=rc,self,habana -- "$hlmpi" "$@" >"$log" 2>&1
	rc=$?
	grep -E '^(#|[0-9])' "$log"
	if [ "$rc" -ne 0 ] || ! grep -q " Pass$" "$log" ||
	   grep -q " Fail$\|MISMATCH\|Segmentation fault\|signal 11" "$log"; then
		echo "$name: exit $rc"; tail -n 30 "$log" | sed 's/^/    /'
		return 1
	fi
	grep "habana: .*staged through\|habana: UCX_HABANA" "$log" |
		sort -u | cut -c1-300
	proto_table "from gaudi" <"$log"
	echo "$name: staged_bytes=$(staged_bytes "$log")" \
	     "exports=$(counter exports "$log")" \
	     "deferred_unmaps=$(counter deferred_unmaps "$log")" \
	     "ctx_dram_left=$(ctx_dram "$log")"
}

# side_by_side LOG_DD LOG_HH TITLE: the two hlmpi tables in one
side_by_side() {
	echo "$3"
	awk 'FNR == 1 { f++ } /^[0-9]+ / { v[f, $1] = $2; if (f == 1) s[++n] = $1 }
	     END { printf "%-10s %14s %14s\n", "size", "D D", "H H"
		   for (i = 1; i <= n; i++)
			printf "%-10s %14s %14s\n", s[i], v[1, s[i]], v[2, s[i]] }' \
		"$1" "$2"
}

mpi_zcopy() {
	local sizes="-m 1:1048576 -i 4 -x 1 -r 1" l=$logdir/mpi
	[ -x "$hlmpi" ] || { echo "no $hlmpi"; return 1; }
	hlmpi bw-dd bw -d habana $sizes -W 8 D D &&
	hlmpi bw-hh bw -d host $sizes -W 8 &&
	hlmpi lat-dd latency -d habana $sizes D D &&
	hlmpi lat-hh latency -d host $sizes || return 1
	side_by_side "$l-bw-dd.log" "$l-bw-hh.log" "bandwidth (MB/s), rc_verbs"
	side_by_side "$l-lat-dd.log" "$l-lat-hh.log" "latency (us), rc_verbs"
	# blocking sends of small messages go eager (UCP's estimate): zero
	# copy out of the sender's device memory, copied into the receiver's
	echo "zero-copy: MPI bw rc_verbs D->D 1B-1MiB" \
	     "staged_bytes=$(staged_bytes "$l-bw-dd.log")" \
	     "exports=$(counter exports "$l-bw-dd.log") verified;" \
	     "latency: staged_bytes=$(staged_bytes "$l-lat-dd.log") (eager copy-out)"
	[ "$(staged_bytes "$l-bw-dd.log")" -eq 0 ] &&
	[ "$(ctx_dram "$l-bw-dd.log" "$l-lat-dd.log")" -eq 0 ]
}

# ZCOPY_CASES=bd runs only those cases (all by default)
want() { [[ "${ZCOPY_CASES:-abcd}" == *$1* ]]; }

main() {
	# the prefix is a path inside the development root
	if [ -z "$prefix" ] ||
	   ! "$in_devroot" test -x "$prefix/bin/ucx_perftest" ||
	   [ ! -f "$build_ib/.libs/libuct_habana.so.0" ]; then
		echo "zcopy-two-node: no UCX with the IB transport (contrib/ucx-ib.sh;" \
		     "../shared/ucx absent?): skipped"
		return 0
	fi
	mkdir -p "$logdir"
	trap nodes_cleanup EXIT
	nodes_cleanup
	check "hlsim has 2 devices" hlsim_ready || return 1
	check "two nodes: namespaces $nsA, $nsB, veth $vethA-$vethB" make_nodes ||
		return 1
	check "soft RoCE ($rxeA, $rxeB) on the veth ends" soft_roce || return 1
	want a && check "(a) host memory over rc (IB UCX)" rc_host
	want b && check "(b) device memory over rc on plain rxe: staged, no error" \
		rc_device_plain
	want c && check "(c) device memory, importing NIC double: zero copy" \
		rc_device_zcopy
	want d && check "(d) MPI D D and H H across the nodes, zero copy" mpi_zcopy
	echo 0 >/sys/module/hlsim/parameters/test_dmabuf_mmap
}

main
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
