#!/usr/bin/env bash
#
# README command 1:  ./contrib/quickstart.sh
#   installs what the host needs, creates the cached development root (a
#   Debian sid tree with UCX 1.23), builds the plugin and runs the main job:
#   two MPI ranks exchanging device buffers on the embedded default device
#   (the hl_double test double): an OSU-style table, D<->D beside H<->H,
#   and the path the bytes took (contrib/main-job.sh).
# README command 2:  ./contrib/quickstart.sh check
#   the same build, then every test: make check (the host suite, on the
#   hl_double device; again against a UCX with IB, see contrib/ucx-ib.sh),
#   checkpatch --strict on the kernel driver, and the VM suite (the hlsim
#   driver in Debian's sid kernel under qemu, soft RoCE).
#
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=build
cd "$top"

log() { printf 'quickstart: %s\n' "$*" >&2; }

install_host_tools() {
	command -v debootstrap >/dev/null && return 0
	[ "$(id -u)" -eq 0 ] || { log "run as root (debootstrap, chroot)"; exit 1; }
	log "installing debootstrap on the host"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq debootstrap >/dev/null
}

devroot() { "$top/contrib/devroot.sh" run "$@"; }

build() {
	log "building in the development root ($build/)"
	devroot sh -ec "
		[ -x configure ] || ./autogen.sh >/dev/null
		mkdir -p $build && cd $build
		[ -f Makefile ] || ../configure -q
		make -j\$(nproc) >/dev/null
		make -j\$(nproc) test/double/libhl_double.la \
			test/double/libnic_dmabuf_double.la >/dev/null"
}

build_kernel() {
	log "building the hlsim kernel module and its tests"
	devroot sh -ec '
		kdir=$(ls -d /usr/src/linux-headers-*-amd64 | sort -V | tail -1)
		make -s -C kernel KDIR="$kdir" >/dev/null
		make -s -C kernel tests >/dev/null'
}

main_job() {
	log "main job: 2 MPI ranks, device buffers, on the hl_double device"
	devroot sh -ec "
		cd $build
		LD_PRELOAD=\$PWD/test/double/.libs/libhl_double.so \
		UCX_PLUGIN_PATH=\$PWD/.libs \
			ucx_info -d | sed -n '/Memory domain: habana/,/Transport: habana/p'
		../contrib/main-job.sh ."
}

# "N passed, N failed" of a suite's output, added to the totals
total_passed=0
total_failed=0
count() {
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
	total_passed=$((total_passed + $(echo "$line" | cut -d' ' -f1)))
	total_failed=$((total_failed + $(echo "$line" | cut -d' ' -f3)))
}

run_suite() {
	local name=$1 log
	shift
	log=$(mktemp)
	log "$name"
	if "$@" 2>&1 | tee "$log"; then
		count "$log"
	else
		count "$log"
		grep -qE '^[0-9]+ passed, [0-9]+ failed' "$log" ||
			total_failed=$((total_failed + 1))
	fi
	rm -f "$log"
}

# host_suite [BUILDDIR]: make check in BUILDDIR (default: build/)
host_suite() {
	devroot sh -ec "cd ${1:-$build} && make -j\$(nproc) check >/dev/null ||
		{ cat test/run-tests.sh.log; exit 1; }
		grep -E '^(PASS|FAIL|SKIP):|passed, |^running with|^habana: ' test/run-tests.sh.log"
}

# The host suite again, with each UCX built from ../shared/ucx with the IB
# transport in release configuration (contrib/ucx-ib.sh -r REL; skipped in
# one line without ../shared/ucx): the 1.23.0 snapshot in build-ib/, 1.22.0
# in build-1.22/
ib_suite() {
	local release=$1 dir=$2
	"$top/contrib/ucx-ib.sh" -r "$release" plugin && host_suite "$dir"
}

# One binary for the range: the plugin and tests of build/ (Debian's
# 1.23.0~rc1 headers) under another release's libraries
cross_suite() {
	local prefix=$1
	devroot sh -ec "cd $build && ucx_prefix=$prefix top_builddir=\$PWD \
		top_srcdir=\$PWD/.. ../test/run-tests.sh >run-tests-cross.log 2>&1 ||
		{ cat run-tests-cross.log; exit 1; }
		grep -E '^(PASS|FAIL|SKIP):|passed, |^running with|^habana: ' run-tests-cross.log"
}

ib_checks() {
	local release name dir prefix
	for release in 1.23 1.22; do
		case $release in
		1.23) name="UCX 1.23.0 snapshot with IB (release build)" dir=build-ib ;;
		1.22) name="UCX 1.22.0 with IB (release build)" dir=build-1.22 ;;
		esac
		if ! "$top/contrib/ucx-ib.sh" -r "$release" ensure; then
			log "building $name failed: counted as a failed suite"
			total_failed=$((total_failed + 1))
			continue
		fi
		# without a prefix, ensure said why in one line
		prefix=$("$top/contrib/ucx-ib.sh" -r "$release" prefix) || continue
		run_suite "host suite against $name" ib_suite "$release" "$dir"
		if [ "$release" = 1.22 ]; then
			run_suite "host suite of $build/ (built with Debian's 1.23.0~rc1 headers) run with $name" \
				cross_suite "$prefix"
		fi
	done
	return 0
}

checkpatch() {
	if "$top/kernel/checkpatch.sh"; then
		echo "1 passed, 0 failed"
	else
		echo "0 passed, 1 failed"
		return 1
	fi
}

# dpkg-buildpackage + lintian (contrib/build-debs.sh); the VM suite then
# installs them (test/vm/packages.sh)
packages() {
	local out
	if out=$("$top/contrib/build-debs.sh" "$top/$build/debs" 2>&1) &&
	   grep -q "ucx/libuct_habana.so.0$" <<<"$out" &&
	   grep -q "ucx/libucx_perftest_habana.so.0$" <<<"$out" &&
	   grep -q "usr/src/hlsim-0.1/dkms.conf$" <<<"$out"; then
		grep -E "^(lintian|[a-z-]+_.*deb:|  Depends)" <<<"$out"
		echo "1 passed, 0 failed"
	else
		echo "$out" | tail -n 40
		echo "0 passed, 1 failed"
		return 1
	fi
}

vm_suite() { "$top/contrib/vm/run.sh" --timeout 1800 "$top/test/vm/suite.sh"; }

run_checks() {
	run_suite "host suite (make check, hl_double device)" host_suite
	run_suite "devroot.sh: a work tree under /tmp" \
		"$top/contrib/devroot-selftest.sh"
	ib_checks
	run_suite "checkpatch --strict on kernel/" checkpatch
	run_suite "Debian packages (dpkg-buildpackage, lintian)" packages
	run_suite "VM suite (hlsim driver, sid kernel in qemu)" vm_suite
	echo "total: $total_passed passed, $total_failed failed"
	[ "$total_failed" -eq 0 ]
}

install_host_tools
"$top/contrib/devroot.sh" ensure
build
case "${1:-}" in
"")    main_job ;;
check) build_kernel; run_checks ;;
*)     echo "usage: $0 [check]" >&2; exit 2 ;;
esac
