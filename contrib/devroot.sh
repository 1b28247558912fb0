#!/usr/bin/env bash
#
# Development root: a cached Debian sid tree with a UCX >= 1.23 and the
# rest of the tool chain, used on hosts (e.g. Debian bookworm) whose own
# UCX cannot host the plugin.  See DESIGN notes in README.md.
#
#   contrib/devroot.sh ensure          create or update the cached root
#   contrib/devroot.sh run CMD [ARG..] run CMD inside it, in the work tree
#   contrib/devroot.sh path            print the root's directory
#
# The root lives outside the work tree, in $UCX_HABANA_DEVROOT (default
# ~/.cache/ucx-habana/sid-root).  It is rebuilt from scratch only when the
# stamp is missing; a changed package set is installed into the existing
# root.  The work tree is mounted at its own path, also when it lives
# under /tmp (the root gets a tmpfs there; contrib/devroot-selftest.sh).
# The host's apt sources are never touched.  Mounts are made in a
# private mount namespace, so they vanish with the command, also on failure.
#
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=${UCX_HABANA_DEVROOT:-${HOME:-/root}/.cache/ucx-habana/sid-root}
mirror=${UCX_HABANA_MIRROR:-http://deb.debian.org/debian}
suite=sid

# Everything the build, the tests, the VM suite and the MPI tests need.
packages=(
	build-essential autoconf automake libtool pkg-config
	libucx-dev ucx-utils libucx0
	openmpi-bin libopenmpi-dev libpmix-dev libucc-dev
	libibverbs-dev librdmacm-dev ibverbs-providers ibverbs-utils rdma-core
	libhwloc-dev hwloc-nox
	googletest libgtest-dev
	linux-headers-amd64 kmod iproute2 procps
	python3 perl file xz-utils ca-certificates
	debhelper dh-dkms dkms dpkg-dev fakeroot lintian
)

log() { printf 'devroot: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

need_root() {
	[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot)"
}

stamp_wanted() {
	printf '%s\n' "$suite" "${packages[@]}" | sort | sha256sum | cut -c1-16
}

# Run a command in a private mount namespace with the root prepared.
enter() {
	unshare --mount --propagation private -- bash -euc '
		root=$1; top=$2; shift 2
		mount --rbind /proc "$root/proc"
		mount --rbind /sys "$root/sys"
		mount --rbind /dev "$root/dev"
		mkdir -p "$root/tmp"
		mount -t tmpfs tmpfs "$root/tmp"
		# after the tmpfs: a work tree under /tmp stays visible
		mkdir -p "$root/$top"
		mount --bind "$top" "$root/$top"
		cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || :
		exec chroot "$root" /usr/bin/env -i \
			HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			CI="${CI:-}" MAKEFLAGS="${MAKEFLAGS:-}" \
			bash -c "cd \"\$0\" && exec \"\$@\"" "$top" "$@"
	' devroot "$root" "$top" "$@"
}

install_packages() {
	enter sh -c 'export DEBIAN_FRONTEND=noninteractive;
		apt-get update -qq &&
		apt-get install -y -qq --no-install-recommends "$@" >/dev/null' \
		sh "${packages[@]}"
}

create() {
	command -v debootstrap >/dev/null ||
		die "debootstrap is missing: apt-get install debootstrap"
	log "creating Debian $suite root in $root (once; cached)"
	rm -rf "$root.new"
	mkdir -p "$(dirname "$root")"
	debootstrap --variant=minbase \
		--include=ca-certificates "$suite" "$root.new" "$mirror" \
		>"$root.new.log" 2>&1 ||
		{ tail -20 "$root.new.log" >&2; die "debootstrap failed"; }
	mv "$root.new" "$root"
	rm -f "$root.new.log"
	printf 'deb %s %s main\n' "$mirror" "$suite" \
		>"$root/etc/apt/sources.list"
	# The mirror may serve a frozen snapshot of sid whose Release file
	# is past its Valid-Until date; signatures are still checked.
	echo 'Acquire::Check-Valid-Until "false";' \
		>"$root/etc/apt/apt.conf.d/99ucx-habana"
}

ensure() {
	need_root
	local want
	want=$(stamp_wanted)
	if [ -f "$root/.ucx-habana-stamp" ] &&
	   [ "$(cat "$root/.ucx-habana-stamp")" = "$want" ]; then
		return 0
	fi
	[ -x "$root/usr/bin/apt-get" ] || create
	log "installing the package set into $root"
	install_packages
	echo "$want" >"$root/.ucx-habana-stamp"
	log "ready: $(enter ucx_info -v | head -1)"
}

case "${1:-}" in
ensure)
	ensure
	;;
run)
	shift
	[ $# -gt 0 ] || die "usage: $0 run CMD [ARG...]"
	ensure
	enter "$@"
	;;
path)
	echo "$root"
	;;
*)
	echo "usage: $0 {ensure|run CMD...|path}" >&2
	exit 2
	;;
esac
