#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the kernel's checkpatch.pl --strict on the hlsim sources.
#
#   kernel/checkpatch.sh [FILE...]      default: kernel/*.[ch] kernel/tests/*.c
#
# checkpatch.pl is not in Debian's kernel headers packages, and it is not
# committed here.  It is taken from Debian's kernel source package
# ($CHECKPATCH_PKG, default linux-source-7.2) on first use, with the data
# files it reads, and cached in ${UCX_HABANA_CACHE:-~/.cache/ucx-habana}/
# checkpatch/<package>/.  The package is downloaded with apt-get download,
# from the local archive when it has the package, else from the
# development root (contrib/devroot.sh).
#
# Exit status: 0 when checkpatch reports no error, warning or check.
#
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")
pkg=${CHECKPATCH_PKG:-linux-source-7.2}
cache=${UCX_HABANA_CACHE:-${HOME:-/root}/.cache/ucx-habana}/checkpatch/$pkg
files=(checkpatch.pl spelling.txt const_structs.checkpatch)

log() { printf 'checkpatch.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

# Write the .deb of $pkg to stdout.
download() {
	local tmp
	if apt-cache show "$pkg" >/dev/null 2>&1; then
		tmp=$(mktemp -d)
		(cd "$tmp" && apt-get download -qq "$pkg" >/dev/null 2>&1) ||
			{ rm -rf "$tmp"; return 1; }
		cat "$tmp"/*.deb
		rm -rf "$tmp"
	else
		"$top/contrib/devroot.sh" run sh -c '
			cd /tmp && chown _apt . 2>/dev/null
			apt-get download -qq "$1" >/dev/null 2>&1 &&
			cat ./*.deb' sh "$pkg"
	fi
}

fetch() {
	local tmp tarball f want=()

	log "fetching checkpatch.pl from $pkg (once; cached in $cache)"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	download >"$tmp/pkg.deb" && [ -s "$tmp/pkg.deb" ] ||
		die "cannot download $pkg"
	dpkg-deb --fsys-tarfile "$tmp/pkg.deb" |
		tar -x -C "$tmp" --wildcards './usr/src/linux-source-*.tar.*' ||
		die "no source tarball in $pkg"
	rm -f "$tmp/pkg.deb"
	tarball=$(ls "$tmp"/usr/src/linux-source-*.tar.*)
	for f in "${files[@]}"; do
		want+=("--wildcards" "*/scripts/$f")
	done
	tar -x -C "$tmp" -f "$tarball" "${want[@]}" ||
		die "cannot extract checkpatch.pl from $tarball"
	mkdir -p "$cache.new"
	for f in "${files[@]}"; do
		cp "$(ls "$tmp"/linux-source-*/scripts/"$f")" "$cache.new/$f"
	done
	chmod +x "$cache.new/checkpatch.pl"
	rm -rf "$cache"
	mv "$cache.new" "$cache"
}

[ -x "$cache/checkpatch.pl" ] || fetch
command -v perl >/dev/null || die "perl is needed"

cd "$top"
if [ $# -eq 0 ]; then
	set -- $(ls kernel/*.[ch] kernel/tests/*.[ch] | grep -v '\.mod\.c$')
fi

# --no-tree: no kernel tree here; --strict: also report CHECKs.  Out of
# tree, the SPDX tag and the file list are all there is to check.
out=$("$cache/checkpatch.pl" --strict --no-tree --no-summary --quiet --terse \
	--ignore FILE_PATH_CHANGES --show-types -f "$@" 2>&1) || :
if [ -n "$out" ]; then
	printf '%s\n' "$out"
	log "problems found"
	exit 1
fi
log "clean: $*"
