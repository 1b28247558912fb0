#!/usr/bin/env bash
#
# The main job: what an MPI user came for.  Two MPI ranks (Open MPI, pml
# ucx) exchange device buffers through UCX and the habana plugin, on the
# embedded default device (the hl_double test double: each rank gets an
# emulated Gaudi2), over shared memory.  Prints an OSU-style table
# (latency and bandwidth, device<->device beside host<->host, a few sizes,
# every message verified) and the path the bytes took, from the plugin's
# own counters (UCX_HABANA_SUMMARY): zero copy (dma-buf exports handed to
# a NIC) or staged through host memory by the DMA engine.
#
#   contrib/main-job.sh [BUILD_DIR]        (inside the development root;
#                                           ./contrib/quickstart.sh runs it)
#   contrib/main-job.sh --installed        the installed packages only (no
#                                           UCX_PLUGIN_PATH, no build tree),
#                                           on the machine's habanalabs or
#                                           hlsim devices
#
# MAIN_JOB_TLS (default self,sm,habana) picks the UCX transports,
# MAIN_JOB_ITERS (default 200) the iterations per size.
#
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tls=${MAIN_JOB_TLS:-self,sm,habana}
iters=${MAIN_JOB_ITERS:-200}
sizes="8 4096 65536 1048576 4194304"
if [ "${1:-}" = "--installed" ]; then
	prog=/usr/libexec/ucx-habana/hlmpi_test
	device="the installed plugin, on this machine's devices"
	env_opts=()
	per_rank_device=1
	need=("$prog")
else
	build=$(cd "${1:-$top/build}" && pwd)
	prog=$build/test/mpi/hlmpi_test
	double=$build/test/double/.libs/libhl_double.so
	device="the hl_double device (an emulated Gaudi2 per rank)"
	env_opts=(-x LD_PRELOAD="$double" -x UCX_PLUGIN_PATH="$build/.libs")
	need=("$prog" "$double" "$build/.libs/libuct_habana.so.0")
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/main-job.XXXXXX")
trap 'rm -rf "$work"' EXIT

for f in "${need[@]}"; do
	[ -e "$f" ] || { echo "main-job: $f is missing (build first)" >&2; exit 1; }
done

# run NAME TEST DEVICE SEND RECV: one 2-rank run; output in $work/NAME.
# With real devices each rank takes its own (HLMEM_DEVICE = its rank)
run() {
	local name=$1 test=$2 device=$3 send=$4 recv=$5 r args apps=()
	args=("$prog" "$test" -d "$device" -m 8:4194304 -i "$iters"
	      -x $((iters / 10 + 1)) "$send" "$recv")
	if [ -n "${per_rank_device:-}" ]; then
		for r in 0 1; do
			[ "$r" -eq 0 ] || apps+=(:)
			apps+=(-np 1 -x HLMEM_DEVICE=$r "${args[@]}")
		done
	else
		apps=(-np 2 "${args[@]}")
	fi
	env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
		timeout 300 mpirun --map-by :OVERSUBSCRIBE --mca pml ucx \
		--mca pml_ucx_tls any --mca pml_ucx_devices any \
		"${env_opts[@]}" -x UCX_TLS="$tls" -x UCX_HABANA_SUMMARY=y \
		-x UCX_WARN_UNUSED_ENV_VARS=n "${apps[@]}" >"$work/$name" 2>&1 ||
		{ echo "main-job: $test $send $recv failed:" >&2
		  tail -n 20 "$work/$name" >&2; exit 1; }
	if grep -q " Fail$" "$work/$name"; then
		echo "main-job: $test $send $recv: data mismatch" >&2
		exit 1
	fi
}

# value NAME SIZE: the figure of that row
value() { awk -v s="$2" '$1 == s && NF == 3 { print $2 }' "$work/$1"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }

echo "main job: 2 MPI ranks, device buffers through UCX ($tls) and the"
echo "habana plugin, on $device"
ucx_info -v | head -1
run lat_dd latency habana D D
run lat_hh latency host H H
run bw_dd bw habana D D
run bw_hh bw host H H

echo
printf "%-9s | %-32s | %-32s\n" "" "  latency (us)" "  bandwidth (MB/s)"
printf "%-9s | %12s %12s %6s | %12s %12s %6s\n" "size" "D<->D" "H<->H" \
	"D/H" "D<->D" "H<->H" "D/H"
for s in $sizes; do
	ld=$(value lat_dd "$s") lh=$(value lat_hh "$s")
	bd=$(value bw_dd "$s") bh=$(value bw_hh "$s")
	printf "%-9s | %12s %12s %6s | %12s %12s %6s\n" "$s" "$ld" "$lh" \
		"$(ratio "$ld" "$lh")" "$bd" "$bh" "$(ratio "$bd" "$bh")"
done
echo "(every message verified; D<->D latency is half a round trip)"

# the path: the plugin's counters, summed over the ranks of the D runs
echo
cat "$work/lat_dd" "$work/bw_dd" | awk '
	/^habana: summary pid/ {
		for (i = 5; i <= NF; ++i) { split($i, kv, "="); v[kv[1]] += kv[2] }
	}
	END {
		staged = v["staged_h2d_bytes"] + v["staged_d2h_bytes"]
		printf "path: %d dma-buf exports, %d dma-buf fds to NICs (zero copy)\n",
		       v["exports"], v["dmabuf_fds"]
		printf "      %.0f bytes staged through host memory by the DMA engine" \
		       " (%.0f host->device, %.0f device->host) in %d copies\n",
		       staged, v["staged_h2d_bytes"], v["staged_d2h_bytes"],
		       v["copies"]
		if (v["dmabuf_fds"] == 0)
			print "      (sm has no NIC: device messages are staged; with" \
			      " UCX_TLS=rc and a dma-buf NIC they go zero copy)"
	}'
