#!/bin/sh
#
# /init (PID 1, busybox sh) of the test VM built by contrib/vm/run.sh.
#
# Mounts the host root (9p, read-only) under a tmpfs overlay at /newroot,
# prepares /proc, /sys, /dev, /tmp, /run and /lib/modules/<kver> in it,
# runs the job (argv in /job/argv) chrooted there, prints its exit status
# after a marker and powers off.  /job/env (from run.sh) sets NONCE, KVER,
# MODDIR (host path of the booted kernel's modules), JOBCWD, DEVROOT (the
# dev root), TOP (the work tree).
#
PATH=/bin
hostname ucx-habana-vm 2>/dev/null
/bin/busybox --install -s /bin

say() { echo "$@" >/dev/console; }
fail() {
	say "UCX-HABANA-VM-FAIL-${NONCE:-none}: $*"
	poweroff -f
	sleep 60
}

mount_base() {
	mount -t proc proc /proc &&
	mount -t sysfs sysfs /sys &&
	mount -t devtmpfs devtmpfs /dev
}

load_modules() {
	for m in $(cat /modules/order); do
		insmod "/modules/$m.ko" || fail "insmod $m"
	done
}

# /host: the host root as is; /newroot: it with a writable tmpfs layer,
# so mount points can be made (writes are lost at power off).
mount_root() {
	mkdir -p /host /rw /newroot
	mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=262144,cache=loose \
		hostroot /host || fail "9p mount of the host root"
	mount -t tmpfs -o mode=0755 tmpfs /rw &&
	mkdir -p /rw/upper /rw/work &&
	mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work \
		overlay /newroot || fail "overlay mount on the host root"
}

mount_system() {
	r=/newroot
	mount -t proc proc $r/proc &&
	mount -t sysfs sysfs $r/sys &&
	mount -t devtmpfs devtmpfs $r/dev &&
	mkdir -p $r/dev/pts $r/dev/shm &&
	mount -t devpts -o newinstance,ptmxmode=0666 devpts $r/dev/pts &&
	mount -t tmpfs -o mode=1777 tmpfs $r/dev/shm &&
	mount -t tmpfs -o mode=1777 tmpfs $r/tmp &&
	mount -t tmpfs -o mode=0755 tmpfs $r/run || fail "system mounts"
	mount -t configfs configfs $r/sys/kernel/config 2>/dev/null || :
	# /lib may be a symlink (merged /usr): resolve it here, not in /.
	lib=$r/lib
	[ -L $lib ] && lib=$r/usr/lib
	kmods=${lib#/newroot}/modules/$KVER
	mkdir -p "/newroot$kmods" &&
	mount --bind "/host$MODDIR" "/newroot$kmods" ||
		fail "bind of $MODDIR on /lib/modules/$KVER"
}

# The kernel's module autoloading (request_module) runs its helper in the
# initramfs' root: let it use the host root's modprobe and our modules.
modprobe_helper() {
	printf '#!/bin/sh\nexec /bin/chroot /newroot /sbin/modprobe "$@"\n' \
		>/bin/modprobe-vm &&
	chmod 755 /bin/modprobe-vm &&
	echo /bin/modprobe-vm >/proc/sys/kernel/modprobe ||
		fail "modprobe helper"
}

# Prepare the dev root for contrib/vm/in-devroot.sh once, here, instead of
# at every call: the VM's /proc, /sys, /dev, /tmp, /run, modules and the
# work tree bound into it (the VM is disposable; the host root is not
# written).
bind_devroot() {
	d=/newroot$DEVROOT
	[ -x "$d/usr/bin/env" ] || return 0
	# Shared: later mounts (e.g. /run/netns/*) show in both views.  Its
	# own mount, so that its / is a mount point (ip netns exec needs it).
	mount --make-rshared /newroot &&
	mount -o bind "$d" "$d" || fail "bind of the dev root"
	for m in /proc /sys /dev /tmp /run $kmods $TOP; do
		mkdir -p "$d$m" && mount -o rbind "/newroot$m" "$d$m" ||
			fail "bind of $m into the dev root"
	done
	echo "$DEVROOT" >/newroot/run/ucx-habana-vm/devroot-bound
}

run_job() {
	cp /job/argv /newroot/run/ucx-habana-vm/argv || fail "job copy"
	say "UCX-HABANA-VM-START-$NONCE"
	chroot /newroot /usr/bin/env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root TERM=dumb LANG=C.UTF-8 \
		UCX_HABANA_VM=1 UCX_HABANA_DEVROOT="$DEVROOT" \
		/bin/bash -c '
			mapfile -d "" -t argv </run/ucx-habana-vm/argv
			cd "$1" 2>/dev/null || cd /
			exec "${argv[@]}"' job "$JOBCWD" \
		</dev/null >/dev/console 2>&1
	rc=$?
	say "UCX-HABANA-VM-EXIT-$NONCE: $rc"
}

mount_base || fail "base mounts"
. /job/env || fail "no /job/env"
load_modules
mount_root
mount_system
modprobe_helper
mkdir -p /newroot/run/ucx-habana-vm
bind_devroot
run_job
poweroff -f
sleep 60
