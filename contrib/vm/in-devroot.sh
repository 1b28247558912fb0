#!/usr/bin/env bash
#
# Run CMD in the development root (contrib/devroot.sh) from inside the
# test VM (contrib/vm/run.sh), as root, with cwd = the current directory:
#
#   contrib/vm/in-devroot.sh CMD [ARG...]
#
# The dev root sees the VM's /proc, /sys, /dev (with /dev/pts, /dev/shm),
# /tmp and /run (files there are shared with the VM's host-root view),
# the booted kernel's /lib/modules/<kver> (modprobe works) and the work
# tree.  The VM's init binds these at boot, so a call is just a chroot;
# elsewhere (or for a cwd the dev root lacks) the binds are made in a
# private mount namespace that vanishes with CMD.  The environment is
# kept, PATH reset.  The dev root is $UCX_HABANA_DEVROOT (set in the VM)
# or `contrib/devroot.sh path`.
#
set -euo pipefail

die() { printf 'in-devroot: error: %s\n' "$*" >&2; exit 125; }

[ $# -gt 0 ] || { echo "usage: $0 CMD [ARG...]" >&2; exit 2; }
[ "$EUID" -eq 0 ] || die "must run as root (mount, chroot)"
here=$(cd "${BASH_SOURCE[0]%/*}" && pwd -P)
top=${here%/contrib/vm}
root=${UCX_HABANA_DEVROOT:-$("$top/contrib/devroot.sh" path)}
[ -x "$root/usr/bin/env" ] || die "no dev root at $root"
cwd=$(pwd -P)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
run='cd "$0" && exec "$@"'

bound=
[ -f /run/ucx-habana-vm/devroot-bound ] &&
	[ "$(</run/ucx-habana-vm/devroot-bound)" = "$root" ] && bound=1
if [ -n "$bound" ]; then
	case $cwd/ in
	"$top"/*|/tmp/*|/run/*|/proc/*|/sys/*|/dev/*)
		exec chroot "$root" /bin/bash -c "$run" "$cwd" "$@" ;;
	esac
fi

[ "${UCX_HABANA_VM:-}" = 1 ] ||
	echo "in-devroot: warning: not in the test VM (use contrib/devroot.sh run)" >&2
exec unshare --mount --propagation private -- bash -euc '
	root=$1 top=$2 cwd=$3 bound=$4 run=$5
	shift 5
	bind() {	# bind SRC onto the same path in the dev root
		[ -d "$root$1" ] || mkdir -p "$root$1"
		mount --rbind "$1" "$root$1"
	}
	if [ -z "$bound" ]; then
		mount --bind "$root" "$root"	# / a mount point in the chroot
		for d in /proc /sys /dev /tmp /run; do
			bind $d
		done
		kmods=/lib/modules/$(</proc/sys/kernel/osrelease)
		[ -d "$kmods" ] && bind "$(cd "$kmods" && pwd -P)"
		bind "$top"
	fi
	case $cwd/ in
	"$top"/*|/tmp/*|/run/*|/proc/*|/sys/*|/dev/*) ;;
	*) [ -d "$root$cwd" ] || bind "$cwd" ;;
	esac
	exec chroot "$root" /bin/bash -c "$run" "$cwd" "$@"
' in-devroot "$root" "$top" "$cwd" "$bound" "$run" "$@"
