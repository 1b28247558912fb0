#!/usr/bin/env bash
#
# MPI tests on Habana device buffers: hlmpi_test under `mpirun -np 2` with
# Open MPI's pml ucx, the habana plugin and the hl_double device (each rank
# preloads the double and gets its own emulated device), over
# UCX_TLS=self,sm,habana and self,tcp,habana.  Data are verified by the
# program; refusals (reductions, alltoall, allgather not in place on device
# memory) must be clean exits with a message, never a crash.  Ends with
# "N passed, N failed".
#
#   test/mpi/run.sh [-q] [BUILD_DIR]     (default BUILD_DIR: ./build)
#
# -q runs a smaller set (make check).  Outside a root with UCX >= 1.22 the
# script re-runs itself in the project's development root.  HLMPI_VERBOSE=1
# prints every table; logs are in BUILD_DIR/test/mpi/logs.
#
set -u

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
quick=0
if [ "${1:-}" = "-q" ]; then
	quick=1
	shift
fi
builddir=$(cd "${1:-${top_builddir:-$srcdir/build}}" && pwd) || exit 1

if ! ucx_info -v 2>/dev/null | grep -q "^# Library version: 1\.\(2[2-9]\|[3-9][0-9]\)\."; then
	[ -z "${HLMPI_IN_DEVROOT:-}" ] ||
		{ echo "run.sh: no UCX >= 1.22 here" >&2; exit 1; }
	args=()
	[ "$quick" -eq 1 ] && args+=(-q)
	exec "$srcdir/contrib/devroot.sh" run env HLMPI_IN_DEVROOT=1 \
		HLMPI_VERBOSE="${HLMPI_VERBOSE:-}" "$0" "${args[@]}" "$builddir"
fi

prog=$builddir/test/mpi/hlmpi_test
double=$builddir/test/double/.libs/libhl_double.so
plugin_dir=$builddir/.libs
logdir=$builddir/test/mpi/logs
for f in "$prog" "$double" "$plugin_dir/libuct_habana.so.0"; do
	[ -e "$f" ] || { echo "run.sh: $f is missing (make; make check TESTS=)" >&2; exit 1; }
done
mkdir -p "$logdir"

# small sizes and counts: the point is correctness and the path taken
sizes="-m 1:262144 -i 10 -x 2 -r 1"
passed=0
failed=0

# hlmpi TLS [mpirun options ...] -- ARGS...: run hlmpi_test on 2 ranks
hlmpi() {
	local tls=$1 opts=()
	shift
	while [ "$1" != "--" ]; do
		opts+=("$1")
		shift
	done
	shift
	env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
		timeout 120 mpirun -np "${hlmpi_np:-2}" --map-by :OVERSUBSCRIBE --mca pml ucx \
		--mca pml_ucx_tls any --mca pml_ucx_devices any \
		-x LD_PRELOAD="$double" -x UCX_PLUGIN_PATH="$plugin_dir" \
		-x UCX_TLS="self,$tls" -x UCX_WARN_UNUSED_ENV_VARS=n \
		"${opts[@]}" "$prog" "$@"
}

# check NAME EXPECTED_RC GREP_PATTERN TLS [mpirun opts] -- ARGS...
check() {
	local name=$1 want=$2 pattern=$3 log rc ok=1
	shift 3
	log=$logdir/$(tr -c 'A-Za-z0-9_.,-' '_' <<<"$name").log
	hlmpi "$@" >"$log" 2>&1
	rc=$?
	[ "$rc" -eq "$want" ] || ok=0
	if [ -n "$pattern" ] && ! grep -q -- "$pattern" "$log"; then
		ok=0
	fi
	# never a crash, and every verified row passed (unless a Fail is wanted)
	grep -q "Segmentation fault\|signal 11" "$log" && ok=0
	if [ "$want" -eq 0 ] && grep -q " Fail$" "$log"; then
		ok=0
	fi
	if [ "$ok" -eq 1 ]; then
		echo "PASS: $name"
		passed=$((passed + 1))
	else
		echo "FAIL: $name (exit $rc, wanted $want; log $log)"
		tail -n 30 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
	if [ -n "${HLMPI_VERBOSE:-}" ]; then
		grep -v '^\[' "$log"
	fi
}

# UCX_PROTO_INFO=y prints UCP's protocol selection per memory type: for
# device buffers ("from gaudi/habana0") the rendezvous goes through the
# habana copy transport and host fragments ("habana, ... write to remote,
# frag host, habana, frag host"): the path taken is checked on bw D D
staged_rndv="rendezvous habana, .* write to remote, frag host, habana, frag host"

for tls in sm,habana tcp,habana; do
	t="UCX_TLS=self,$tls"
	check "bw D D $t, staged through habana (UCX_PROTO_INFO)" 0 \
		"$staged_rndv" "$tls" -x UCX_PROTO_INFO=y -- bw -d habana $sizes D D
	check "latency D D $t" 0 "Pass" "$tls" -- latency -d habana $sizes D D
	check "bcast D $t" 0 "Pass" "$tls" -- bcast -d habana $sizes
	check "allgather D in place $t" 0 "Pass" "$tls" -- \
		allgather -I -d habana $sizes
	check "allreduce D staged $t" 0 "Pass" "$tls" -- \
		allreduce -S -d habana $sizes
	[ "$quick" -eq 1 ] && continue
	check "bibw D H $t" 0 "Pass" "$tls" -- bibw -d habana $sizes D H
	check "alltoall D staged $t" 0 "Pass" "$tls" -- \
		alltoall -S -d habana $sizes
	check "bw H H $t" 0 "Pass" "$tls" -- bw -d host $sizes H H
	check "latency H D $t" 0 "Pass" "$tls" -- latency -d habana $sizes H D
	check "allgather D staged $t" 0 "Pass" "$tls" -- \
		allgather -S -d habana $sizes
	check "reduce D staged $t" 0 "Pass" "$tls" -- reduce -S -d habana $sizes
	check "alltoall H $t" 0 "Pass" "$tls" -- alltoall -d host $sizes
	check "allreduce H $t" 0 "Pass" "$tls" -- allreduce -d host $sizes
done

# Refusals on device memory: exit 3, a message, no SIGSEGV
tls=sm,habana
check "allreduce D refused" 3 "refused: MPI_Allreduce on Habana device memory" \
	"$tls" -- allreduce -d habana $sizes
if [ "$quick" -eq 0 ]; then
	check "alltoall D refused" 3 "refused: MPI_Alltoall on Habana device memory" \
		"$tls" -- alltoall -d habana $sizes
	check "reduce D refused" 3 "refused: MPI_Reduce on Habana device memory" \
		"$tls" -- reduce -d habana $sizes
	check "allgather D (not in place) refused" 3 \
		"refused: MPI_Allgather on Habana device memory" \
		"$tls" -- allgather -d habana $sizes
fi

# Open MPI accelerator component (mca_accelerator_habana.so, built when
# configure finds Open MPI's development headers): with it, Open MPI copies
# device buffers through libhlmem, so allgather and alltoall run on device
# memory in every coll tuned algorithm.  hlmpi_test calls them when told
# (-A) or when MPI provides the memory kind habana:device; reductions stay
# refused (no coll component stages them in Debian's build).  2 and 3 ranks.
acc_so=$plugin_dir/mca_accelerator_habana.so
acc=(--mca mca_base_component_path "$plugin_dir" --mca accelerator habana
	-x LD_LIBRARY_PATH="$plugin_dir")
acc_kind=(-x OMPI_MCA_mpi_memory_alloc_kinds=system,habana:device)
acc_listed() {
	env OMPI_MCA_mca_base_component_path="$plugin_dir" \
		LD_LIBRARY_PATH="$plugin_dir" ompi_info |
		grep -q "MCA accelerator: habana"
}
if [ -e "$acc_so" ]; then
	if acc_listed; then
		echo "PASS: ompi_info lists accelerator habana"
		passed=$((passed + 1))
	else
		echo "FAIL: ompi_info does not list accelerator habana ($acc_so)"
		failed=$((failed + 1))
	fi
	hlmpi_np=3 check "accelerator: allgather D, 3 ranks, sm" 0 \
		"Habana accelerator component (-A)" sm,habana "${acc[@]}" -- \
		allgather -A -d habana $sizes
	check "accelerator: alltoall D (memory kind), 2 ranks, tcp" 0 \
		"memory kind habana:device" tcp,habana "${acc[@]}" "${acc_kind[@]}" -- \
		alltoall -d habana $sizes
	hlmpi_np=3 check "accelerator: alltoall D in place, 3 ranks, tcp" 0 "Pass" \
		tcp,habana "${acc[@]}" -- alltoall -A -I -d habana $sizes
	check "accelerator: allreduce D still refused" 3 \
		"no coll component stages reductions" sm,habana "${acc[@]}" -- \
		allreduce -A -d habana $sizes
	check "memory kind habana:device not provided without the component" 3 \
		"refused: MPI_Alltoall" sm,habana "${acc_kind[@]}" -- \
		alltoall -d habana $sizes
	if [ "$quick" -eq 0 ]; then
		# the other ranks x TLS combinations, and forced coll tuned
		# algorithms that copy blocks locally (3 ranks; allgather 6 is
		# two-process only); fewer sizes: ~27 s
		acc_sizes="-m 1:65536 -i 3 -x 0 -r 1"
		for run in "2 sm allgather" "2 sm alltoall" "3 sm alltoall" \
			"2 tcp allgather" "3 tcp allgather" "3 tcp alltoall"; do
			set -- $run
			hlmpi_np=$1 check "accelerator: $3 D, $1 ranks, $2" 0 "Pass" \
				"$2,habana" "${acc[@]}" -- $3 -A -d habana $acc_sizes
		done
		for run in "3 allgather 1" "3 allgather 2" "3 allgather 7" \
			"3 alltoall 3" "3 alltoall 2 -I" "2 allgather 6"; do
			set -- $run
			hlmpi_np=$1 check "accelerator: $2${4:+ $4} D algorithm $3, $1 ranks" \
				0 "Pass" sm,habana "${acc[@]}" \
				--mca coll_tuned_use_dynamic_rules 1 \
				--mca "coll_tuned_${2}_algorithm" "$3" -- \
				"$2" -A ${4:-} -d habana $acc_sizes
		done
	fi
else
	echo "SKIP: Open MPI accelerator component not built ($acc_so)"
fi

# Open MPI coll component (mca_coll_habana.so): stages every reduction on
# device buffers through host memory, in front of tuned/han/ucc.  The
# reduction matrix (hlmpi_test reductions: allreduce, reduce,
# reduce_scatter(_block), scan, exscan, reduce_local and the non-blocking
# forms x int/float/double x sum/max/min/prod/band x in place or not, every
# element verified) at 2, 3 and 4 ranks over sm and tcp: up to 4 MiB at 2
# ranks sm and 4 ranks tcp, up to 256 KiB for the others (time of make
# check); host and device buffers mixed in one communicator; the other
# collectives on device buffers; persistent reductions refused; coll/ucc
# on host buffers, and with it enabled device buffers still staged.
coll_so=$plugin_dir/mca_coll_habana.so
coll=(--mca mca_base_component_path "$plugin_dir" --mca accelerator habana
	-x LD_LIBRARY_PATH="$plugin_dir")
ucc=(--mca coll_ucc_enable 1 --mca coll_ucc_priority 80)
if [ -e "$coll_so" ] && [ -e "$acc_so" ]; then
	if env OMPI_MCA_mca_base_component_path="$plugin_dir" \
		LD_LIBRARY_PATH="$plugin_dir" ompi_info | grep -q "MCA coll: habana"; then
		echo "PASS: ompi_info lists coll habana"
		passed=$((passed + 1))
	else
		echo "FAIL: ompi_info does not list coll habana ($coll_so)"
		failed=$((failed + 1))
	fi
	for run in "2 sm 4194304" "3 sm 262144" "4 sm 262144" \
		"2 tcp 262144" "3 tcp 262144" "4 tcp 4194304"; do
		set -- $run
		[ "$quick" -eq 0 ] && set -- "$1" "$2" 4194304
		hlmpi_np=$1 check "coll habana: reduction matrix D, $1 ranks, $2, to $3 B" 0 \
			"cases, 0 failed: Pass" "$2,habana" "${coll[@]}" \
			--mca coll_habana_verbose 1 -- reductions -d habana -m "$3"
	done
	hlmpi_np=3 check "coll habana: host and device buffers mixed, 3 ranks, sm" 0 \
		"split communicator between device ones: Pass" sm,habana "${coll[@]}" -- \
		mixed -d habana -m 262144
	hlmpi_np=3 check "coll habana: other collectives D, 3 ranks, tcp" 0 \
		"ialltoall .* Pass" tcp,habana "${coll[@]}" -- collectives -d habana
	check "coll habana: MPI_Allreduce_init D refused (MPI_ERR_BUFFER)" 0 \
		"refused: MPI_ERR_BUFFER" sm,habana "${coll[@]}" -- persistent -d habana
	check "coll habana: staging buffers pooled" 0 \
		"pool_allocs=[0-9] pool_hits=[0-9][0-9][0-9]" sm,habana "${coll[@]}" \
		--mca coll_habana_verbose 1 -- reductions -d habana -m 4000
	hlmpi_np=3 check "coll ucc: reduction matrix H, 3 ranks, sm" 0 \
		"running ucc allreduce" sm,habana "${coll[@]}" "${ucc[@]}" \
		--mca coll_ucc_verbose 3 -- reductions -d host -m 262144
	check "coll ucc enabled: reduction matrix D staged by coll habana, 2 ranks, tcp" 0 \
		"cases, 0 failed: Pass" tcp,habana "${coll[@]}" "${ucc[@]}" -- \
		reductions -d habana -m 262144
	if [ "$quick" -eq 0 ]; then
		hlmpi_np=4 check "coll habana: host and device buffers mixed, 4 ranks, tcp" 0 \
			"split communicator between device ones: Pass" tcp,habana "${coll[@]}" -- \
			mixed -d habana
		check "coll habana: reduction matrix H, 2 ranks, sm" 0 \
			"cases, 0 failed: Pass" sm,habana "${coll[@]}" -- reductions -d host
	fi
else
	echo "SKIP: Open MPI coll component not built ($coll_so)"
fi

# A corrupted byte is reported and fails the run
check "corruption detected" 1 "MISMATCH" "$tls" \
	-x HLMPI_TEST_CORRUPT=1 -- bw -d habana -m 4096:4096 -i 2 -x 0 -r 0 D D

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
