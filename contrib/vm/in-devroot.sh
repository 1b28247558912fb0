#!/usr/bin/env bash
#
# Run CMD in the development root (contrib/devroot.sh) from inside the
# test VM (contrib/vm/run.sh), as root, with cwd = the current directory:
#
#   contrib/vm/in-devroot.sh CMD [ARG...]
#
# In a private mount namespace (the mounts vanish with CMD) it binds the
# VM's /proc, /sys, /dev (with /dev/pts, /dev/shm), /tmp and /run, the
# booted kernel's /lib/modules/<kver> (modprobe works), the work tree
# and the cwd into the dev root and chroots there.  Files in /tmp and
# /run are shared with the VM's host-root view.  The environment is kept
# (PATH reset).  The dev root is $UCX_HABANA_DEVROOT (run.sh sets it in
# the VM) or `contrib/devroot.sh path`.
#
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
top=$(cd "$here/../.." && pwd -P)

die() { printf 'in-devroot: error: %s\n' "$*" >&2; exit 125; }

[ $# -gt 0 ] || { echo "usage: $0 CMD [ARG...]" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "must run as root (mount, chroot)"
root=${UCX_HABANA_DEVROOT:-$("$here/../devroot.sh" path)}
[ -x "$root/usr/bin/env" ] || die "no dev root at $root"
[ "${UCX_HABANA_VM:-}" = 1 ] ||
	echo "in-devroot: warning: not in the test VM (use contrib/devroot.sh run)" >&2

exec unshare --mount --propagation private -- bash -euc '
	root=$1 top=$2 cwd=$3
	shift 3
	bind() {	# bind SRC onto the same path in the dev root
		mkdir -p "$root$1" && mount --rbind "$1" "$root$1"
	}
	for d in /proc /sys /dev /tmp /run; do
		bind $d
	done
	kmods=/lib/modules/$(uname -r)
	[ -d "$kmods" ] && bind "$(realpath "$kmods")"
	bind "$top"
	case $cwd/ in
	"$top"/*|/tmp/*|/run/*|/proc/*|/sys/*|/dev/*) ;;
	*) [ -d "$root$cwd" ] || bind "$cwd" ;;
	esac
	exec chroot "$root" /usr/bin/env \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		bash -c "cd \"\$0\" && exec \"\$@\"" "$cwd" "$@"
' in-devroot "$root" "$top" "$(pwd -P)" "$@"
