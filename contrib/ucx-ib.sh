#!/usr/bin/env bash
#
# A UCX with the InfiniBand transport, for the tests: Debian's UCX is built
# without it.  Built from the upstream snapshot in ../shared/ucx (see its
# README) inside the development root, release configuration
# (contrib/configure-release: no assertions), installed and cached in the
# root itself, so it is visible in the root and in the VM.
#
#   contrib/ucx-ib.sh ensure     build and install it once (cached)
#   contrib/ucx-ib.sh prefix     print its prefix inside the root (exit 1
#                                when it is not built)
#   contrib/ucx-ib.sh plugin     configure and build the plugin against it
#                                in build-ib/ (after ensure)
#   contrib/ucx-ib.sh -r 1.22 CMD   the same for another release of the
#                                test matrix (../shared/ucx): 1.23 (the
#                                default, the development snapshot, plugin
#                                in build-ib/) or 1.22 (1.22.0, plugin in
#                                build-1.22/)
#
# The prefix is /opt/ucx-ib/<first 16 hex digits of the tarball's sha256>
# in the root; a stamp written after "make install" marks it complete.
# One UCX build at a time (a lock in the root): the machine is small.
# Without ../shared/ucx (or $UCX_HABANA_UCX_SRC), "ensure" says so in one
# line and succeeds: callers skip what needs this UCX.
#
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=${UCX_HABANA_UCX_SRC:-$top/../shared/ucx}
release=1.23
if [ "${1:-}" = -r ]; then
	release=${2:-}
	shift 2 || true
fi
case "$release" in
1.23) tarball=ucx-1.23.0-9466d104a3.tar.xz builddir=build-ib ;;
1.22) tarball=ucx-1.22.0.tar.xz builddir=build-1.22 ;;
*)
	echo "$0: unknown release '$release' (1.22 or 1.23)" >&2
	exit 2
	;;
esac
scratch=/var/tmp/ucx-ib-build-$release
stamp=.ucx-ib-stamp

log() { printf 'ucx-ib: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

devroot() { "$top/contrib/devroot.sh" "$@"; }

have_src() { [ -f "$src/$tarball" ] && [ -f "$src/SHA256SUMS" ]; }

# sha256 of the tarball, checked against SHA256SUMS
checked_sha() {
	local want got
	want=$(awk -v f="$tarball" '$2 == f || $2 == "*" f { print $1 }' \
		"$src/SHA256SUMS")
	[ -n "$want" ] || die "$tarball is not listed in $src/SHA256SUMS"
	got=$(sha256sum "$src/$tarball" | cut -d' ' -f1)
	[ "$got" = "$want" ] ||
		die "$src/$tarball: sha256 $got, SHA256SUMS says $want"
	echo "$got"
}

# the prefix inside the root for this tarball
prefix_of() { echo "/opt/ucx-ib/$(checked_sha | cut -c1-16)"; }

built() { [ -f "$(devroot path)$1/$stamp" ]; }

build_ucx() {
	local prefix=$1 root logfile module
	root=$(devroot path)
	logfile=$root$scratch.log
	log "building UCX ($tarball, verbs, rdmacm, release) into $prefix" \
	    "(once; cached; about 5 minutes on 2 cores)"
	rm -rf "$root$scratch" "$root$prefix"
	mkdir -p "$root$scratch"
	cp "$src/$tarball" "$root$scratch/"
	if ! devroot run sh -ec '
		scratch=$1; prefix=$2; tarball=$3
		cd "$scratch"
		tar xf "$tarball"
		cd "$(tar tf "$tarball" | head -1 | cut -d/ -f1)"
		./autogen.sh
		mkdir build && cd build
		../contrib/configure-release --prefix="$prefix" \
			--with-verbs --with-rdmacm --enable-mt \
			--without-java --without-go --disable-doxygen-doc
		make -j"$(nproc)" CFLAGS=-Wno-error=deprecated-openmp
		make install' \
		sh "$scratch" "$prefix" "$tarball" >"$logfile" 2>&1; then
		tail -30 "$logfile" >&2
		die "UCX build failed (log: $logfile in the root)"
	fi
	for module in ib rdmacm; do
		[ -e "$root$prefix/lib/ucx/libuct_$module.so.0" ] ||
			die "UCX built without libuct_$module (log: $logfile in the root)"
	done
	rm -rf "$root$scratch" "$logfile"
	date -u +%FT%TZ >"$root$prefix/$stamp"
	log "ready: $prefix"
}

ensure() {
	local prefix lock
	if ! have_src; then
		log "$src/$tarball not found: tests with UCX $release from" \
		    "../shared/ucx are skipped"
		return 0
	fi
	prefix=$(prefix_of)
	built "$prefix" && return 0
	devroot ensure
	lock=$(devroot path)/opt/ucx-ib/.lock
	mkdir -p "$(dirname "$lock")"
	exec 9>"$lock"
	flock 9
	built "$prefix" || build_ucx "$prefix"
	exec 9>&-
}

prefix() {
	local prefix
	have_src || exit 1
	prefix=$(prefix_of)
	built "$prefix" || exit 1
	echo "$prefix"
}

plugin() {
	local prefix
	prefix=$(prefix) || die "no IB UCX built: run $0 ensure first"
	log "building the plugin against $prefix in $builddir/"
	devroot run sh -ec '
		builddir=$1; prefix=$2
		[ -x configure ] || ./autogen.sh >/dev/null
		mkdir -p "$builddir" && cd "$builddir"
		grep -qx "UCX_PREFIX = $prefix" Makefile 2>/dev/null ||
			../configure -q --with-ucx="$prefix"
		make -j"$(nproc)" >/dev/null
		make -j"$(nproc)" test/double/libhl_double.la >/dev/null' \
		sh "$builddir" "$prefix"
}

case "${1:-}" in
ensure) ensure ;;
prefix) prefix ;;
plugin) plugin ;;
*)
	echo "usage: $0 [-r 1.22|1.23] {ensure|prefix|plugin}" >&2
	exit 2
	;;
esac
