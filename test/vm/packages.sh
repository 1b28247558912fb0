#!/bin/bash
#
# Install like a user (issue 13), INSIDE the test VM, as root: the Debian
# packages of contrib/build-debs.sh (BUILD/debs) go into the development
# root (the VM's view of it is a throw-away overlay: nothing survives the
# VM), DKMS builds hlsim for the VM's kernel, and then, from the installed
# files only (no UCX_PLUGIN_PATH, no build tree): ucx_info -d lists the
# habana component, the main job runs two MPI ranks on two hlsim devices,
# and an MPI collective test passes.  Needs hlsim unloaded.  Ends with
# "N passed, N failed".
#
#   test/vm/packages.sh [DEBS_DIR]         default: build/debs
#
set -u

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
debs=$(cd "${1:-$top/build/debs}" 2>/dev/null && pwd) ||
	{ echo "packages: no ${1:-build/debs} (contrib/build-debs.sh)"; exit 1; }
in_devroot=$top/contrib/vm/in-devroot.sh
kver=$(uname -r)
# shellcheck source=test/check.sh
. "$top/test/check.sh"

devroot() { (cd / && "$in_devroot" "$@"); }

# The VM's module tree (bound read-only from the host) gets a writable
# overlay for what DKMS installs
writable_modules() {
	local dir
	dir=${UCX_HABANA_DEVROOT:-}$(devroot sh -c "cd /lib/modules/$kver && pwd -P")
	mkdir -p /run/pkg-mods/upper /run/pkg-mods/work &&
	mount -t overlay overlay -o "lowerdir=$dir,upperdir=/run/pkg-mods/upper,workdir=/run/pkg-mods/work" "$dir"
}

install_packages() {
	writable_modules || { echo "no writable overlay on the module tree"; return 1; }
	# a user's machine has the headers' build link; the VM's module tree
	# comes from the unpacked kernel package, without it
	devroot sh -ec "
		[ -e /lib/modules/$kver/build ] ||
			ln -s /usr/src/linux-headers-$kver /lib/modules/$kver/build
		export DEBIAN_FRONTEND=noninteractive
		dpkg -i $debs/ucx-habana_*.deb $debs/ucx-habana-tools_*.deb \
			$debs/hlsim-dkms_*.deb"
}

dkms_installed() {
	local status
	status=$(devroot dkms status hlsim)
	echo "$status"
	grep -q "hlsim/0.1, $kver, .*: installed" <<<"$status"
}

load_dkms_module() {
	devroot modprobe hlsim num_devices=2 &&
	[ -c /dev/accel/accel0 ] && [ -c /dev/accel/accel1 ] &&
	devroot sh -c "modinfo -n hlsim" | grep -q "/updates/dkms/"
}

ucx_info_installed() {
	local out
	out=$(devroot env -u UCX_PLUGIN_PATH ucx_info -d 2>&1)
	grep -q "Memory domain: habana" <<<"$out" &&
	grep -q "Transport: habana" <<<"$out"
}

main_job_installed() {
	# few iterations: the VM emulates its CPUs
	devroot env -u UCX_PLUGIN_PATH MAIN_JOB_TLS=self,sm,habana MAIN_JOB_ITERS=5 \
		"$top/contrib/main-job.sh" --installed
}

mpi_bcast_installed() {
	devroot env -u UCX_PLUGIN_PATH OMPI_ALLOW_RUN_AS_ROOT=1 \
		OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 300 mpirun \
		--map-by :OVERSUBSCRIBE --mca pml ucx --mca pml_ucx_tls any \
		--mca pml_ucx_devices any -x UCX_TLS=self,sm,habana \
		-x UCX_WARN_UNUSED_ENV_VARS=n \
		-np 1 -x HLMEM_DEVICE=0 /usr/libexec/ucx-habana/hlmpi_test bcast \
			-d habana -m 1:1048576 -i 5 : \
		-np 1 -x HLMEM_DEVICE=1 /usr/libexec/ucx-habana/hlmpi_test bcast \
			-d habana -m 1:1048576 -i 5 >/tmp/pkg-bcast.out 2>&1
	local rc=$?
	tail -n 15 /tmp/pkg-bcast.out
	[ "$rc" -eq 0 ] && grep -q "Pass" /tmp/pkg-bcast.out &&
		! grep -q " Fail$" /tmp/pkg-bcast.out
}

unload_clean() {
	rmmod hlsim &&
	! dmesg | grep -E "BUG|WARNING|Oops|refcount_t|general protection"
}

# check NAME CMD... and whether it passed
checked() { local before=$failed; check "$@"; [ "$failed" -eq "$before" ]; }

if checked "packages install (dpkg -i; DKMS builds hlsim for $kver)" \
	install_packages; then
	check "dkms status: hlsim installed for $kver" dkms_installed
	if checked "hlsim from DKMS loads (2 devices)" load_dkms_module; then
		check "ucx_info -d lists habana from the installed module dir" \
			ucx_info_installed
		check "main job from the installed files" main_job_installed
		check "MPI bcast on device buffers from the installed files" \
			mpi_bcast_installed
		check "DKMS hlsim unloads, kernel log clean" unload_clean
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
