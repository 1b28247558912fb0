#!/usr/bin/env bash
#
# Build OSU Micro-Benchmarks 7.5 with `-d habana` (device buffers through
# libhlmem) from a user-supplied OMB source tree:
#
#   contrib/omb/build-omb.sh OMB_SRC_DIR [PREFIX]
#
# OMB_SRC_DIR  an unpacked osu-micro-benchmarks-7.5[-1] release tree (the
#              tarball from mvapich.cse.ohio-state.edu); the patch
#              omb-7.5-habana.patch is applied once (skipped if applied)
# PREFIX       install there (make install); without it the benchmarks stay
#              in the tree (c/mpi/pt2pt/standard/osu_bw, ...)
#
# libhlmem is taken from HLMEM_PREFIX (include/hlmem.h, lib/libhlmem.so) if
# set, else from this work tree's build (src/tools/hlmem, BUILD_DIR/.libs,
# BUILD_DIR default ./build).  CC=mpicc unless MPICC is set.
#
# Run it where mpicc and libhlmem's dependencies are, e.g. in the dev root:
#   contrib/devroot.sh run contrib/omb/build-omb.sh /opt/omb-build/osu-micro-benchmarks-7.5-1
# (the dev root sees only this work tree and its own file system: put the
# OMB tree under the root, e.g. "$(contrib/devroot.sh path)/opt/omb-build").
#
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
patchfile=$here/omb-7.5-habana.patch

die() { echo "build-omb: $*" >&2; exit 1; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 OMB_SRC_DIR [PREFIX]"
src=$(cd "$1" && pwd) || die "no directory $1"
prefix=${2:-}
[ -f "$src/configure" ] && [ -f "$src/c/util/osu_util_mpi.c" ] ||
	die "$src is not an OMB release tree (configure, c/util/osu_util_mpi.c)"
version=$(sed -n 's/^AC_INIT(\[OSU-Micro-Benchmarks\], \[\([^]]*\)\].*/\1/p' \
	"$src/configure.ac" 2>/dev/null || true)
case "$version" in
7.5*) ;;
*) echo "build-omb: warning: OMB version '${version:-unknown}', the patch is for 7.5" >&2 ;;
esac

# libhlmem
if [ -n "${HLMEM_PREFIX:-}" ]; then
	inc=$HLMEM_PREFIX/include
	lib=$HLMEM_PREFIX/lib
else
	builddir=${BUILD_DIR:-$top/build}
	inc=$top/src/tools/hlmem
	lib=$builddir/.libs
fi
[ -f "$inc/hlmem.h" ] || die "hlmem.h not found in $inc (set HLMEM_PREFIX)"
ls "$lib"/libhlmem.so* >/dev/null 2>&1 ||
	die "libhlmem.so not found in $lib (build ucx-habana first, or set HLMEM_PREFIX)"
mpicc=${MPICC:-mpicc}
command -v "$mpicc" >/dev/null || die "$mpicc not found"

# patch, once
cd "$src"
if patch -p1 -R --dry-run -s -f <"$patchfile" >/dev/null 2>&1; then
	echo "build-omb: patch already applied"
else
	patch -p1 --dry-run -s -f <"$patchfile" >/dev/null ||
		die "the patch does not apply to $src (OMB $version)"
	patch -p1 -s <"$patchfile"
	echo "build-omb: patch applied"
fi

# configure and build (OMB's own build system is unchanged: no autoreconf)
echo "build-omb: configure (CC=$mpicc, libhlmem from $lib)"
./configure -q CC="$mpicc" CXX="${MPICXX:-mpicxx}" \
	CPPFLAGS="-D_ENABLE_HABANA_ -I$inc" \
	LDFLAGS="-L$lib -Wl,-rpath,$lib" LIBS="-lhlmem" \
	${prefix:+--prefix="$prefix"}
make -s -j"$(nproc 2>/dev/null || echo 2)"
if [ -n "$prefix" ]; then
	make -s install
	echo "build-omb: installed into $prefix/libexec/osu-micro-benchmarks"
else
	echo "build-omb: built in $src/c/mpi"
fi
