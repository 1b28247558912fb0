#!/usr/bin/env bash
#
# Boot Debian sid's kernel (the one whose headers the development root
# has) in qemu and run SCRIPT inside, with the host root as its root.
#
#   contrib/vm/run.sh [--timeout SECONDS] [--mem MB] SCRIPT [ARG...]
#
# In the VM SCRIPT runs as root in the host's root file system (read-only
# 9p share under a tmpfs overlay: writes succeed but are lost), cwd = the
# caller's cwd, with fresh /proc, /sys, /dev, /dev/shm, /tmp and /run and
# the booted kernel's modules on /lib/modules/<kver> (modprobe works).
# SCRIPT and files it needs must not live under /tmp or /run, which are
# fresh in the VM.  contrib/vm/in-devroot.sh CMD runs CMD in the
# development root from inside the VM.  UCX_HABANA_VM=1 is set there.
#
# Environment: UCX_HABANA_VM_APPEND adds kernel parameters (loglevel=7
# shows the boot messages), UCX_HABANA_VM_CPU replaces qemu's -cpu max,
# UCX_HABANA_VM_TCG_THREAD=multi gives each vCPU a host thread,
# UCX_HABANA_VM_QEMU_OPTS adds qemu options.
#
# Exit status: SCRIPT's, or 125 when the VM failed (timeout, panic, no
# exit marker); the full console log's path is printed then.
#
# Cache: ${UCX_HABANA_CACHE:-~/.cache/ucx-habana}/vm/<kver>/ holds the
# unpacked kernel packages and the initramfs; logs/ the console logs.
#
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd -P)
devroot_sh=$top/contrib/devroot.sh
cache=$(realpath -m "${UCX_HABANA_CACHE:-${HOME:-/root}/.cache/ucx-habana}/vm")
host_packages=(qemu-system-x86 busybox-static kmod iproute2 util-linux)
timeout=600
mem=2048
# Multi-threaded TCG let sid's kernel oops now and then at boot ("Oops:
# int3" in code being live-patched) on a loaded host; one thread for the
# two vCPUs cost little here.
tcg_thread=${UCX_HABANA_VM_TCG_THREAD:-single}
# Loaded in the initramfs, with their dependencies (from modules.dep).
initrd_modules=(9p 9pnet_virtio overlay)

log() { printf 'vm: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 125; }

usage() {
	echo "usage: $0 [--timeout SECONDS] [--mem MB] SCRIPT [ARG...]" >&2
	exit 2
}

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--timeout) [ $# -ge 2 ] || usage; timeout=$2; shift 2 ;;
		--mem) [ $# -ge 2 ] || usage; mem=$2; shift 2 ;;
		--help|-h) usage ;;
		--) shift; break ;;
		-*) usage ;;
		*) break ;;
		esac
	done
	[ $# -gt 0 ] || usage
	[[ $timeout =~ ^[0-9]+$ && $mem =~ ^[0-9]+$ ]] ||
		die "--timeout and --mem take numbers"
	job=("$@")
}

ensure_host_tools() {
	local missing=() p
	for p in "${host_packages[@]}"; do
		[ "$(dpkg-query -W -f '${Status}' "$p" 2>/dev/null)" = \
		  "install ok installed" ] || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}; run as root"
	log "installing host packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null || die "apt-get install ${missing[*]}"
}

# A path that exists in the VM too: not on the VM's fresh file systems.
check_vm_path() {
	case $1/ in
	/tmp/*|/run/*|/proc/*|/sys/*|/dev/*)
		die "$2 $1 is under a file system the VM replaces (/tmp, /run, ...)" ;;
	esac
}

resolve_job() {
	local s=${job[0]}
	if [[ $s == */* ]]; then
		[ -e "$s" ] || die "no such script: $s"
		[ -x "$s" ] || die "script is not executable: $s"
		s=$(realpath "$s")
		check_vm_path "$s" script
		job[0]=$s
	fi
	jobcwd=$(pwd -P)
	case $jobcwd/ in /tmp/*|/run/*) jobcwd=/ ;; esac
}

# The kernel whose headers the dev root has: version and package version.
kernel_version() {
	local admin=$droot/var/lib/dpkg deps
	deps=$(dpkg-query --admindir="$admin" -W -f '${Depends}' \
		linux-headers-amd64) || die "no linux-headers-amd64 in $droot"
	kver=$(grep -o 'linux-headers-[^ ,]*-amd64' <<<"$deps" | head -1)
	kver=${kver#linux-headers-}
	[ -n "$kver" ] || die "cannot tell the kernel version from: $deps"
	kpkgver=$(dpkg-query --admindir="$admin" -W -f '${Version}' \
		"linux-headers-$kver")
}

# linux-image-<kver> and its same-version parts (sid: linux-binary-,
# linux-modules-, linux-base-<kver>).
kernel_packages() {
	"$devroot_sh" run apt-cache show "linux-image-$kver=$kpkgver" |
		sed -n 's/^Depends: //p' | tr ',' '\n' |
		sed -n "s/^ *\(linux-[a-z]*-$kver\) .*/\1/p" | sort -u
	echo "linux-image-$kver"
}

download_kernel() {
	local dl=$1 rel pkgs=()
	rel=${dl#"$droot"}
	mapfile -t pkgs < <(kernel_packages)
	log "downloading ${pkgs[*]} ($kpkgver)"
	"$devroot_sh" run sh -c 'cd "$1" && shift && chown _apt . &&
		apt-get download -qq "$@"' sh "$rel" \
		"${pkgs[@]/%/=$kpkgver}" || die "apt-get download failed"
}

# Unpack (not install) the kernel packages into $kdir/root; depmod there.
fetch_kernel() {
	local want="$kver $kpkgver" dl new deb mods
	[ "$(cat "$kdir/kernel.stamp" 2>/dev/null)" = "$want" ] && return 0
	dl=$(mktemp -d "$droot/var/tmp/ucx-habana-vm.XXXXXX")
	new=$kdir/root.new
	rm -rf "$new" "$kdir/root"
	mkdir -p "$new"
	download_kernel "$dl"
	for deb in "$dl"/*.deb; do
		dpkg-deb -x "$deb" "$new" || die "dpkg-deb -x $deb"
	done
	rm -rf "$dl"
	[ -e "$new/lib" ] || ln -s usr/lib "$new/lib"
	mods=$new/lib/modules/$kver
	[ -f "$mods/vmlinuz" ] || ln -s "../../../../boot/vmlinuz-$kver" \
		"$mods/vmlinuz"
	[ -f "$mods/vmlinuz" ] || die "no vmlinuz in the kernel packages"
	depmod -b "$new" "$kver" || die "depmod failed"
	mv "$new" "$kdir/root"
	echo "$want" >"$kdir/kernel.stamp"
	log "kernel $kver unpacked in $kdir/root"
}

# The dev root's build/source links to its headers (kbuild), so that the
# modules dir bound over the dev root's in the VM keeps them.
link_headers() {
	local l src=$droot/usr/lib/modules/$kver
	for l in build source; do
		[ -L "$src/$l" ] && [ ! -e "$moddir/$l" ] && [ ! -L "$moddir/$l" ] &&
			cp -P "$src/$l" "$moddir/$l"
	done
	return 0
}

# Modules for the initramfs in load order: dependencies first.
module_order() {
	local -A path=() seen=()
	local line key
	while IFS= read -r line; do
		key=${line%%:*}
		key=${key##*/}
		path[${key%%.ko*}]=$line
	done <"$moddir/modules.dep"
	add_module() {
		local m=$1 deps d i
		[ -n "${seen[$m]:-}" ] && return 0
		[ -n "${path[$m]:-}" ] || die "module $m not in modules.dep"
		read -ra deps <<<"${path[$m]#*:}"
		for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
			d=${deps[i]##*/}
			add_module "${d%%.ko*}"
		done
		seen[$m]=1
		echo "$m ${path[$m]%%:*}"
	}
	for line in "${initrd_modules[@]}"; do
		add_module "$line"
	done
}

initrd_stamp() {
	{
		sha256sum /bin/busybox "$here/init.sh"
		echo "$kver $kpkgver ${initrd_modules[*]}"
	} | sha256sum | cut -c1-16
}

build_initrd() {
	local want st m f
	want=$(initrd_stamp)
	[ "$(cat "$kdir/initrd.stamp" 2>/dev/null)" = "$want" ] && return 0
	st=$(mktemp -d "$kdir/initrd.XXXXXX")
	mkdir -p "$st"/{bin,dev,proc,sys,modules}
	cp /bin/busybox "$st/bin/busybox"
	ln -s busybox "$st/bin/sh"
	mknod -m 600 "$st/dev/console" c 5 1
	cp "$here/init.sh" "$st/init"
	chmod 755 "$st/init"
	while read -r m f; do
		busybox unxz -c "$moddir/$f" >"$st/modules/$m.ko" 2>/dev/null ||
			cp "$moddir/$f" "$st/modules/$m.ko"
		echo "$m" >>"$st/modules/order"
	done < <(module_order)
	(cd "$st" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) \
		>"$kdir/initrd.gz.new"
	mv "$kdir/initrd.gz.new" "$kdir/initrd.gz"
	log "initramfs built: $kdir/initrd.gz (modules:" \
		"$(tr '\n' ' ' <"$st/modules/order"))"
	rm -rf "$st"
	echo "$want" >"$kdir/initrd.stamp"
}

q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# The cached initramfs plus a small archive with this run's job.
make_run_initrd() {
	local j=$work/job pad
	mkdir -p "$j/job"
	{
		echo "NONCE=$nonce"
		echo "KVER=$(q "$kver")"
		echo "MODDIR=$(q "$moddir")"
		echo "JOBCWD=$(q "$jobcwd")"
		echo "DEVROOT=$(q "$droot")"
		echo "TOP=$(q "$top")"
	} >"$j/job/env"
	printf '%s\0' "${job[@]}" >"$j/job/argv"
	cp "$kdir/initrd.gz" "$work/initrd"
	pad=$(( (4 - $(stat -c %s "$work/initrd") % 4) % 4 ))
	head -c "$pad" /dev/zero >>"$work/initrd"
	(cd "$j" && find job | busybox cpio -o -H newc 2>/dev/null) \
		>>"$work/initrd"
}

# Console → log file; the job's part (between the markers) → stdout.
show_job_output() {
	local line on=
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		case $line in
		*"UCX-HABANA-VM-START-$nonce"*) on=1 ;;
		*"UCX-HABANA-VM-EXIT-$nonce"*) on= ;;
		*"UCX-HABANA-VM-FAIL-"*) printf '%s\n' "$line" ;;
		*) [ -z "$on" ] || printf '%s\n' "$line" ;;
		esac
	done
}

# TCG emulates "rep movsb" a byte at a time: with ERMS/FSRM the kernel's
# copy_{to,from}_user and glibc's memcpy take that path and run 3-5x slower
# than their wide-move variants, which distorts every copy figure measured
# in the VM.  Without the two flags both use wide moves, as a real CPU's
# fast string copies would compare.
default_cpu=max,-fsrm,-erms

boot() {
	local append="console=ttyS0 panic=-1 quiet loglevel=3" extra=()
	append+=" ${UCX_HABANA_VM_APPEND:-}"
	read -ra extra <<<"${UCX_HABANA_VM_QEMU_OPTS:-}"
	set +e
	timeout -k 10 "$timeout" qemu-system-x86_64 \
		-machine q35 -accel "tcg,thread=$tcg_thread" \
		-cpu "${UCX_HABANA_VM_CPU:-$default_cpu}" -m "$mem" -smp 2 \
		-nographic -no-reboot -nic none \
		-kernel "$moddir/vmlinuz" -initrd "$work/initrd" \
		-append "$append" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		"${extra[@]}" </dev/null 2>&1 | tee "$console" | show_job_output
	qemu_rc=${PIPESTATUS[0]}
	set -e
}

vm_failed() {
	log "error: $*"
	log "console log: $console"
	tail -n 15 "$console" | tr -d '\r' |
		sed -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\x1b.//g' \
			-e 's/^/vm:   /' >&2
	exit 125
}

result() {
	local rc
	rc=$(tr -d '\r' <"$console" |
		sed -n "s/.*UCX-HABANA-VM-EXIT-$nonce: \([0-9]*\).*/\1/p")
	[ -n "$rc" ] && exit "$rc"
	[ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ] &&
		vm_failed "timeout after ${timeout}s"
	grep -q 'Kernel panic' "$console" && vm_failed "kernel panic"
	grep -q "UCX-HABANA-VM-FAIL-$nonce" "$console" &&
		vm_failed "VM setup failed"
	vm_failed "no exit marker on the console (qemu exit status $qemu_rc;" \
		"UCX_HABANA_VM_APPEND=loglevel=7 shows the boot messages)"
}

setup_logs() {
	mkdir -p "$cache/logs"
	find "$cache/logs" -name 'console.*.log' -mtime +7 -delete
	console=$(mktemp --suffix=.log "$cache/logs/console.XXXXXX")
}

main() {
	parse_args "$@"
	resolve_job
	ensure_host_tools
	"$devroot_sh" ensure
	droot=$(realpath "$("$devroot_sh" path)")
	check_vm_path "$droot" "the dev root"
	kernel_version
	kdir=$cache/$kver
	mkdir -p "$kdir"
	exec 9>"$kdir/.lock"
	flock 9
	fetch_kernel
	moddir=$(realpath "$kdir/root/lib/modules/$kver")
	link_headers
	build_initrd
	flock -u 9
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	nonce=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
	make_run_initrd
	setup_logs
	boot
	# A VM that died before starting the job (e.g. a boot oops) is
	# booted once more; the first console log is kept.
	if ! grep -q "UCX-HABANA-VM-START-$nonce" "$console" &&
	   [ "$qemu_rc" -ne 124 ] && [ "$qemu_rc" -ne 137 ]; then
		log "the VM failed before the job started (log: $console);" \
			"booting again"
		setup_logs
		boot
	fi
	result
}

main "$@"
