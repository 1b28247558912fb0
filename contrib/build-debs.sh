#!/usr/bin/env bash
#
# Debian packages of the project, built with dpkg-buildpackage -b in the
# development root from the committed tree (git archive of HEAD, or of
# BUILD_DEBS_REV), then checked with lintian (errors fail):
#   ucx-habana        the UCX modules, into UCX's module directory
#   ucx-habana-tools  habana_zcopy_check, libhlmem, the perftest module,
#                     the Open MPI accelerator component
#   hlsim-dkms        the companion driver's sources for DKMS
#
#   contrib/build-debs.sh [OUT_DIR]       default: build/debs
#
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$top/build/debs}
scratch=$top/build/deb-src   # inside the work tree: the root sees it

log() { printf 'build-debs: %s\n' "$*" >&2; }

rm -rf "$scratch"
mkdir -p "$scratch/ucx-habana" "$out"
git -C "$top" archive "${BUILD_DEBS_REV:-HEAD}" | tar -x -C "$scratch/ucx-habana" ||
	{ log "git archive failed"; exit 1; }
rm -f "$out"/*.deb

# DKMS signs the modules it builds and would make its key pair in the
# test VM, where RSA key generation takes minutes: the root gets one here
"$top/contrib/devroot.sh" run sh -c '
	[ -f /var/lib/dkms/mok.key ] && exit 0
	mkdir -p /var/lib/dkms &&
	openssl req -new -x509 -nodes -days 36500 -subj "/CN=ucx-habana test VM DKMS key/" \
		-newkey rsa:2048 -keyout /var/lib/dkms/mok.key -outform DER \
		-out /var/lib/dkms/mok.pub >/dev/null 2>&1' ||
	log "no DKMS signing key made (the VM makes one, slowly)"

log "dpkg-buildpackage -b in the development root"
"$top/contrib/devroot.sh" run sh -ec "
	cd $scratch/ucx-habana
	dpkg-buildpackage -b -us -uc >$scratch/build.log 2>&1 ||
		{ tail -n 40 $scratch/build.log; exit 1; }
	cd $scratch
	lintian --fail-on error --suppress-tags \
		no-manual-page,no-copyright-file,initial-upload-closes-no-bugs \
		*.changes >$scratch/lintian.log 2>&1 ||
		{ cat $scratch/lintian.log; exit 1; }
	grep -c '^E:' $scratch/lintian.log | sed 's/^/lintian errors: /'
	grep -c '^W:' $scratch/lintian.log | sed 's/^/lintian warnings: /'
	for deb in *.deb; do
		echo \"\$deb:\"
		dpkg-deb -f \"\$deb\" Depends | sed 's/^/  Depends: /'
		dpkg-deb -c \"\$deb\" | awk '{ print \"  \" \$6 }' | grep -v '/\$'
	done"
cp "$scratch"/*.deb "$out"/
log "packages in $out"
