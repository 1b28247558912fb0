#!/usr/bin/env bash
#
# README command 1:  ./contrib/quickstart.sh
#   installs what the host needs, creates the cached development root (a
#   Debian sid tree with UCX 1.23), builds the plugin and runs the main job:
#   habana_demo on the embedded default device (the hl_double test double).
# README command 2:  ./contrib/quickstart.sh check
#   the same build, then every test (make check).
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
		make -j\$(nproc) test/double/libhl_double.la >/dev/null"
}

main_job() {
	log "main job: habana_demo on the hl_double device"
	devroot sh -ec "
		cd $build
		ucx_info -v | head -1
		LD_PRELOAD=\$PWD/test/double/.libs/libhl_double.so \
		UCX_PLUGIN_PATH=\$PWD/.libs \
			ucx_info -d | sed -n '/Memory domain: habana/,/Transport: habana/p'
		LD_PRELOAD=\$PWD/test/double/.libs/libhl_double.so \
		UCX_PLUGIN_PATH=\$PWD/.libs ./test/apps/habana_demo"
}

run_checks() {
	log "running every test (make check)"
	devroot sh -ec "cd $build && make -j\$(nproc) check ||
		{ cat test/run-tests.sh.log; exit 1; }
		cat test/run-tests.sh.log | grep -E '^(PASS|FAIL):|passed, '"
}

install_host_tools
"$top/contrib/devroot.sh" ensure
build
case "${1:-}" in
"")    main_job ;;
check) run_checks ;;
*)     echo "usage: $0 [check]" >&2; exit 2 ;;
esac
