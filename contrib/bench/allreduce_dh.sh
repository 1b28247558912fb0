#!/usr/bin/env bash
#
# MPI_Allreduce latency on device (D) and host (H) buffers side by side, in
# one MPI job: 8 B, 64 KiB, 1 MiB, 16 MiB (MPI_FLOAT, MPI_SUM, max over
# ranks; the device result verified), Open MPI with pml ucx, the habana
# accelerator and coll components, the hl_double device (host) or hlsim.
# A benchmark, not a test: prints the table and exits 0 unless it failed.
#
#   contrib/bench/allreduce_dh.sh [-n RANKS] [-t sm|tcp] [-i ITERS] [BUILD_DIR]
#
# Outside a root with UCX >= 1.23 it re-runs itself in the development
# root.  ITERS (default 200) up to 64 KiB, ITERS/10 from 1 MiB.
#
set -eu

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
np=2
tls=sm
iters=200
while getopts "n:t:i:" c; do
	case $c in
	n) np=$OPTARG ;;
	t) tls=$OPTARG ;;
	i) iters=$OPTARG ;;
	*) echo "usage: $0 [-n RANKS] [-t sm|tcp] [-i ITERS] [BUILD_DIR]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
builddir=$(cd "${1:-$srcdir/build}" && pwd)

if ! ucx_info -v 2>/dev/null | grep -q "^# Library version: 1\.\(2[3-9]\|[3-9][0-9]\)\."; then
	[ -z "${HLMPI_IN_DEVROOT:-}" ] || { echo "allreduce_dh: no UCX >= 1.23" >&2; exit 1; }
	exec "$srcdir/contrib/devroot.sh" run env HLMPI_IN_DEVROOT=1 \
		"$0" -n "$np" -t "$tls" -i "$iters" "$builddir"
fi

lib=$builddir/.libs
double=$builddir/test/double/.libs/libhl_double.so
preload=()
# the test double unless a real (or hlsim) device is there
ls /dev/accel/accel* /dev/hl* >/dev/null 2>&1 || preload=(-x LD_PRELOAD="$double")
echo "# allreduce_dh: $np ranks, UCX_TLS=self,$tls,habana, coll habana + accelerator habana"
env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
	mpirun -np "$np" --map-by :OVERSUBSCRIBE --mca pml ucx \
	--mca pml_ucx_tls any --mca pml_ucx_devices any \
	--mca mca_base_component_path "$lib" --mca accelerator habana \
	-x LD_LIBRARY_PATH="$lib" -x UCX_PLUGIN_PATH="$lib" "${preload[@]}" \
	-x UCX_TLS="self,$tls,habana" -x UCX_WARN_UNUSED_ENV_VARS=n \
	"$builddir/test/mpi/hlmpi_test" allreduce_dh -d habana -i "$iters"
