#!/usr/bin/env bash
#
# mpirun-bind.sh: run one MPI rank next to its Habana device.  Each rank
# takes device (local rank mod number of devices), the RDMA device nearest
# to it on PCI (UCX_NET_DEVICES) and its NUMA node (CPUs and memory, by
# hwloc-bind, else numactl), as habana_zcopy_check -t reports them:
#
#   mpirun -np 8 --map-by ppr:8:node --bind-to none \
#          --mca pml ucx -x UCX_TLS=rc,self,sm,habana \
#          contrib/mpirun-bind.sh ./app
#
# --bind-to none: the wrapper binds (mpirun's binding would be replaced).
# Exported to the rank: HLMEM_DEVICE (libhlmem's device: hlmpi_test, OMB),
# HABANA_BIND_DEVICE (the index, for an application that opens its device
# itself; the plugin uses the device the process holds),
# HABANA_BIND_NUMA, and UCX_NET_DEVICES=<nic>:1 unless already set.
# The local rank comes from OMPI_COMM_WORLD_LOCAL_RANK (Open MPI), else
# MPI_LOCALRANKID (MPICH), SLURM_LOCALID, or 0.
#
# HABANA_BIND_DEVICES="2,3": the devices to use, in local-rank order.
# HABANA_ZCOPY_CHECK: the habana_zcopy_check to run (default: from PATH).
# HABANA_BIND_DRYRUN=1: print the command instead of running it.
#
set -u

rank=${OMPI_COMM_WORLD_LOCAL_RANK:-${MPI_LOCALRANKID:-${SLURM_LOCALID:-0}}}
check=${HABANA_ZCOPY_CHECK:-habana_zcopy_check}

say() {
	echo "mpirun-bind: local rank $rank: $*" >&2
}

if [ $# -eq 0 ]; then
	echo "usage: mpirun ... $0 PROGRAM [ARGS...]" >&2
	exit 2
fi

topo=$("$check" -t 2>/dev/null)
count=$(sed -n 's/^Habana devices: \([0-9]*\),.*/\1/p' <<<"$topo")
if [ "${count:-0}" -eq 0 ]; then
	say "no Habana device ($check -t), running unbound"
	exec "$@"
fi

if [ -n "${HABANA_BIND_DEVICES:-}" ]; then
	IFS=, read -r -a devices <<<"$HABANA_BIND_DEVICES"
	dev=${devices[$((rank % ${#devices[@]}))]}
else
	dev=$((rank % count))
fi

# "habanaN (BDF): numa L, nearest RDMA device NIC (CLASS)"
line=$(grep "^habana$dev (" <<<"$topo")
numa=$(sed -n 's/.*: numa \([0-9][0-9]*\).*/\1/p' <<<"$line")
nic=$(sed -n 's/.*, nearest RDMA device \([^ ]*\) .*/\1/p' <<<"$line")
export HLMEM_DEVICE=$dev HABANA_BIND_DEVICE=$dev
if [ -n "$nic" ] && [ -z "${UCX_NET_DEVICES:-}" ]; then
	export UCX_NET_DEVICES=$nic:1
fi

bind=()
if [ -n "$numa" ]; then
	export HABANA_BIND_NUMA=$numa
	if command -v hwloc-bind >/dev/null; then
		bind=(hwloc-bind -p --cpubind "node:$numa" --membind "node:$numa" --)
	elif command -v numactl >/dev/null; then
		bind=(numactl "--cpunodebind=$numa" "--membind=$numa")
	fi
fi
[ ${#bind[@]} -gt 0 ] || say "habana$dev: NUMA node unknown or no hwloc-bind/numactl, CPUs unbound"

if [ "${HABANA_BIND_DRYRUN:-0}" = 1 ]; then
	echo "HLMEM_DEVICE=$dev UCX_NET_DEVICES=${UCX_NET_DEVICES:-} ${bind[*]} $*"
	exit 0
fi
exec "${bind[@]}" "$@"
