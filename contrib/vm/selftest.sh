#!/usr/bin/env bash
#
# Checks the test VM's environment; run it inside the VM:
#
#   contrib/vm/run.sh contrib/vm/selftest.sh
#
# Prints "ok N - ..." / "not ok N - ..." (a failing check's output follows
# as "# " lines) and "N passed, N failed"; exits 1 if a check failed.
# Also shows the soft-RoCE set-up later tests use: veth0 (10.11.0.1, this
# namespace) <-> veth1 (10.11.0.2, netns ns1), rxe0 on veth0, rxe1 on
# veth1 (two rxe devices on one veth pair need two namespaces).
#
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
top=$(cd "$here/../.." && pwd -P)
dev=$here/in-devroot.sh
kver=$(uname -r)
root=${UCX_HABANA_DEVROOT:-}
n=0 passed=0 failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# check DESCRIPTION CMD [ARG...]: one TAP line for CMD's status.
check() {
	local what=$1
	shift
	n=$((n + 1))
	if "$@" >"$out" 2>&1; then
		passed=$((passed + 1))
		echo "ok $n - $what"
	else
		failed=$((failed + 1))
		echo "not ok $n - $what"
		sed 's/^/# /' "$out"
	fi
}

# The checks: each prints what helps when it fails.
has_headers() { ls -d "$root/usr/src/linux-headers-$kver"; }
has_modules() { ls "/lib/modules/$kver/modules.dep" "/lib/modules/$kver/kernel"; }
rxe_module() { modprobe rdma_rxe && test -d /sys/module/rdma_rxe; }
veth_pair() {
	ip link add veth0 type veth peer name veth1 &&
	ip netns add ns1 &&
	ip link set veth1 netns ns1 &&
	ip addr add 10.11.0.1/24 dev veth0 && ip link set veth0 up &&
	ip -n ns1 addr add 10.11.0.2/24 dev veth1 &&
	ip -n ns1 link set veth1 up && ip -n ns1 link set lo up
}
devroot_there() { ls -l "$root/usr/bin/ucx_info"; }
ucx_version() {
	local v
	v=$("$dev" ucx_info -v) && echo "$v" && grep -q 'version: 1\.23\.' <<<"$v"
}
devroot_cwd() { [ "$(cd "$top" && "$dev" pwd)" = "$top" ]; }
kbuild_dir() { "$dev" ls "/lib/modules/$kver/build/Makefile"; }
rxe_link() { "$dev" rdma link add rxe0 type rxe netdev veth0; }
ibv_lists() {
	local v
	modprobe ib_uverbs && v=$("$dev" ibv_devices) && echo "$v" &&
		grep -q '^ *rxe0 ' <<<"$v"
}
# rxe1 in ns1, then an RC ping-pong rxe0 <-> rxe1 over RoCE v2 (GID 1 =
# the IPv4 address); one dev-root call, as each costs about a second.
rxe_pingpong() {
	"$dev" bash -euc '
		ip netns exec ns1 rdma link add rxe1 type rxe netdev veth1
		timeout 60 ibv_rc_pingpong -d rxe0 -g 1 -n 100 & srv=$!
		for i in 1 2 3 4 5 6 7 8 9 10; do
			sleep 1
			ip netns exec ns1 timeout 60 \
				ibv_rc_pingpong -d rxe1 -g 1 -n 100 10.11.0.1 && break
		done
		wait $srv'
}
dmabuf_exporters() { test -c /dev/udmabuf && test -c /dev/dma_heap/system; }

main() {
	if [ "${UCX_HABANA_VM:-}" != 1 ] || [ -z "$root" ]; then
		echo "Bail out! not in the test VM; use contrib/vm/run.sh $0"
		exit 2
	fi
	check "kernel $kver is the dev root's headers' one" has_headers
	check "/lib/modules/$kver is there" has_modules
	check "modprobe rdma_rxe" rxe_module
	check "veth pair veth0 <-> veth1 (in netns ns1)" veth_pair
	check "dev root reachable at $root" devroot_there
	check "in-devroot.sh ucx_info -v: UCX 1.23" ucx_version
	check "in-devroot.sh keeps the cwd" devroot_cwd
	check "kbuild dir /lib/modules/$kver/build in the dev root" kbuild_dir
	check "rdma link add rxe0 type rxe netdev veth0" rxe_link
	check "ibv_devices lists rxe0" ibv_lists
	check "rxe1 in ns1; ibv_rc_pingpong rxe0 <-> rxe1" rxe_pingpong
	check "dma-buf exporters /dev/udmabuf, /dev/dma_heap/system" \
		dmabuf_exporters
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

main "$@"
