/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * habana_zcopy_check: can the RDMA NICs of this machine read and write
 * Habana device memory directly (GPUDirect-style zero copy)?
 *
 * For every Habana device it allocates a test buffer and exports it as a
 * dma-buf, exactly as the habana memory domain does for UCX; for every
 * RDMA device it then registers that dma-buf with ibv_reg_dmabuf_mr, as
 * UCX's IB memory domain does.  It prints, per pair, whether zero copy
 * works and, if not, the cause and the fix.
 *
 * Exit status: 0 if the check ran (whatever its verdicts), 1 if there is
 * no Habana device or no RDMA device, 2 on a usage error.
 */
#include <src/tools/hlmem/hlmem.h>
#include <src/uct/habana/base/habana_nic.h>

#include <infiniband/verbs.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_SIZE (2 * 1024 * 1024)

typedef struct {
    const char *cause;
    const char *fix;
    const char *call;   /* the call that failed */
    int        err;
} verdict_t;

/* Why the accelerator side failed to export */
static verdict_t export_verdict_cause(int err)
{
    switch (err) {
    case ENOTTY:
    case ENOSYS:
    case EINVAL:
        return (verdict_t){"the habanalabs driver cannot export dma-bufs",
                           "use Linux >= 5.16 (accel generation: >= 6.3) or "
                           "Intel's habanalabs driver with dma-buf export"};
    case EOPNOTSUPP:
    case EPERM:
    case EREMOTEIO:
        return (verdict_t){"PCIe peer-to-peer to the device is blocked",
                           "disable ACS on the switches between NIC and "
                           "device, boot with iommu=pt, and place NIC and "
                           "device under the same PCIe switch"};
    default:
        return (verdict_t){strerror(err), "check dmesg for the habanalabs "
                                          "driver's reason"};
    }
}

/* Why the NIC side failed to import */
static verdict_t import_verdict_cause(int err)
{
    switch (err) {
    case EOPNOTSUPP:
    case ENOSYS:
        return (verdict_t){"the NIC driver cannot import dma-bufs "
                           "(soft RoCE rxe and siw cannot)",
                           "use a NIC whose driver imports dma-bufs (mlx5, "
                           "efa, irdma, bnxt_re, mana, ionic); until then "
                           "UCX stages device buffers through host memory"};
    case ENODEV:
    case EPROTONOSUPPORT:
        return (verdict_t){"libibverbs or the kernel is too old for "
                           "ibv_reg_dmabuf_mr",
                           "use rdma-core >= 34 and Linux >= 5.12"};
    case EFAULT:
    case EINVAL:
    case EREMOTEIO:
        return (verdict_t){"the NIC could not map the device memory "
                           "(no PCIe peer-to-peer path)",
                           "disable ACS between NIC and device, use "
                           "iommu=pt, place both under one PCIe switch"};
    default:
        return (verdict_t){strerror(err), "check dmesg for the NIC driver's "
                                          "reason"};
    }
}

static verdict_t export_verdict(int err)
{
    verdict_t verdict = export_verdict_cause(err);

    verdict.call = "HL_MEM_OP_EXPORT_DMABUF_FD";
    verdict.err  = err;
    return verdict;
}

static verdict_t import_verdict(int err)
{
    verdict_t verdict = import_verdict_cause(err);

    verdict.call = "ibv_reg_dmabuf_mr";
    verdict.err  = err;
    return verdict;
}

static void print_verdict(const char *acc, const char *nic, int ok,
                          verdict_t verdict)
{
    if (ok) {
        printf("%-10s <-> %-12s zero-copy: YES\n", acc, nic);
    } else {
        printf("%-10s <-> %-12s zero-copy: NO\n", acc, nic);
        printf("    error: %s: %s (errno %d)\n", verdict.call,
               strerror(verdict.err), verdict.err);
        printf("    cause: %s\n    fix:   %s\n", verdict.cause, verdict.fix);
    }
}

static void check_accelerator(int acc, struct ibv_device **nics, int num_nics,
                              size_t size)
{
    char name[24];
    size_t offset;
    int fd, ret, i;
    void *ptr;

    snprintf(name, sizeof(name), "habana%d", acc);
    ptr = hlmem_alloc_on(acc, size);
    if (ptr == NULL) {
        printf("%-10s cannot allocate %zu bytes: %s\n", name, size,
               strerror(errno));
        return;
    }

    ret = hlmem_export_dmabuf(ptr, &fd, &offset);
    for (i = 0; i < num_nics; ++i) {
        if (ret < 0) {
            print_verdict(name, ibv_get_device_name(nics[i]), 0,
                          export_verdict(-ret));
            continue;
        }
        int err = uct_habana_nic_try_import(nics[i], fd, offset, size,
                                            (uintptr_t)ptr);
        print_verdict(name, ibv_get_device_name(nics[i]), err == 0,
                      import_verdict(err));
    }

    if (ret == 0) {
        close(fd);
    }
    hlmem_free(ptr);
}

int main(int argc, char **argv)
{
    size_t size = DEFAULT_SIZE;
    struct ibv_device **nics;
    int num_accs, num_nics, opt, acc;

    while ((opt = getopt(argc, argv, "s:h")) != -1) {
        switch (opt) {
        case 's':
            size = strtoull(optarg, NULL, 0);
            break;
        default:
            fprintf(stderr, "usage: %s [-s buffer_size]\n", argv[0]);
            return 2;
        }
    }

    num_accs = hlmem_device_count();
    nics     = ibv_get_device_list(&num_nics);
    printf("Habana devices: %d, RDMA devices: %d\n", num_accs,
           (nics != NULL) ? num_nics : 0);
    if (num_accs == 0) {
        printf("no Habana device: load the habanalabs (or hlsim) driver\n");
    }
    if ((nics == NULL) || (num_nics == 0)) {
        printf("no RDMA device: UCX will use tcp/sm and stage device "
               "buffers through host memory\n");
    }
    if ((num_accs == 0) || (nics == NULL) || (num_nics == 0)) {
        if (nics != NULL) {
            ibv_free_device_list(nics);
        }
        return 1;
    }

    for (acc = 0; acc < num_accs; ++acc) {
        check_accelerator(acc, nics, num_nics, size);
    }

    ibv_free_device_list(nics);
    return 0;
}
