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
 * works and, if not, the cause and the fix, beside the PCI path between
 * the two (same PCIe switch / same host bridge / same socket / across
 * sockets) and their NUMA nodes, from hwloc's topology (HWLOC_XMLFILE
 * replaces the machine's), and per accelerator its nearest RDMA device.
 * -t: the topology only (no allocation, no export).
 *
 * Exit status: 0 if the check ran (whatever its verdicts), 1 if there is
 * no Habana device or (without -t) no RDMA device, 2 on a usage error.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <src/tools/hlmem/hlmem.h>
#include <src/uct/habana/base/habana_nic.h>
#ifdef HAVE_HWLOC
#include <src/common/habana_topo.h>
#endif

#include <infiniband/verbs.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_SIZE (2 * 1024 * 1024)
#define MAX_NICS     64

/* How each accelerator x RDMA device pair is connected */
typedef struct {
    char bus_id[32];           /* the accelerator's PCI address, "" if none */
    char numa[32];             /* its NUMA nodes, "?" */
    char path[MAX_NICS][64];   /* per RDMA device: "path: ..., numa ..." */
} topo_row_t;

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
                          verdict_t verdict, const char *path)
{
    if (ok) {
        printf("%-10s <-> %-12s zero-copy: YES  %s\n", acc, nic, path);
    } else {
        printf("%-10s <-> %-12s zero-copy: NO   %s\n", acc, nic, path);
        printf("    error: %s: %s (errno %d)\n", verdict.call,
               strerror(verdict.err), verdict.err);
        printf("    cause: %s\n    fix:   %s\n", verdict.cause, verdict.fix);
    }
}

#ifdef HAVE_HWLOC
/*
 * The path classes of accelerator @acc to each RDMA device into @row, and
 * one line: its PCI address, NUMA nodes and nearest RDMA device
 */
static void topo_accelerator(habana_topo_t *topo, int acc,
                             struct ibv_device **nics, int num_nics,
                             topo_row_t *row)
{
    habana_topo_obj_t acc_obj, nic_obj[MAX_NICS];
    habana_topo_path_t path;
    char nic_numa[32];
    int i, nearest;

    if (hlmem_device_pci_bus_id(acc, row->bus_id, sizeof(row->bus_id)) != 0) {
        row->bus_id[0] = '\0';
    }
    acc_obj = habana_topo_find_pci(topo, row->bus_id);
    habana_topo_numa(topo, acc_obj, row->numa, sizeof(row->numa));
    for (i = 0; i < num_nics; ++i) {
        nic_obj[i] = habana_topo_find_rdma(topo,
                                           ibv_get_device_name(nics[i]),
                                           nics[i]->ibdev_path);
        path       = habana_topo_classify(topo, acc_obj, nic_obj[i]);
        habana_topo_numa(topo, nic_obj[i], nic_numa, sizeof(nic_numa));
        snprintf(row->path[i], sizeof(row->path[i]),
                 "path: %-17s numa %s|%s", habana_topo_path_name(path),
                 row->numa, nic_numa);
    }

    nearest = habana_topo_nearest(topo, acc_obj, nic_obj, num_nics, &path);
    if (acc_obj == NULL) {
        printf("habana%d (%s): not in the PCI topology\n", acc,
               (row->bus_id[0] != '\0') ? row->bus_id : "not on PCI");
    } else if (nearest < 0) {
        printf("habana%d (%s): numa %s, no RDMA device in the PCI "
               "topology\n", acc, row->bus_id, row->numa);
    } else {
        printf("habana%d (%s): numa %s, nearest RDMA device %s (%s)\n", acc,
               row->bus_id, row->numa, ibv_get_device_name(nics[nearest]),
               habana_topo_path_name(path));
    }
}
#endif

static void topo_rows(struct ibv_device **nics, int num_nics, int num_accs,
                      topo_row_t *rows)
{
#ifdef HAVE_HWLOC
    habana_topo_t *topo;
    char why[256];
    int acc;

    if (habana_topo_open(NULL, &topo, why, sizeof(why)) == 0) {
        for (acc = 0; acc < num_accs; ++acc) {
            topo_accelerator(topo, acc, nics, num_nics, &rows[acc]);
        }
        habana_topo_close(topo);
        return;
    }

    printf("no PCI topology: %s\n", why);
#else
    printf("no PCI topology: built without hwloc\n");
#endif
}

static void check_accelerator(int acc, struct ibv_device **nics, int num_nics,
                              size_t size, const topo_row_t *row)
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
                          export_verdict(-ret), row->path[i]);
            continue;
        }
        int err = uct_habana_nic_try_import(nics[i], fd, offset, size,
                                            (uintptr_t)ptr);
        print_verdict(name, ibv_get_device_name(nics[i]), err == 0,
                      import_verdict(err), row->path[i]);
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
    int num_accs, num_nics, opt, acc, i, topo_only = 0;
    topo_row_t *rows;

    while ((opt = getopt(argc, argv, "s:th")) != -1) {
        switch (opt) {
        case 's':
            size = strtoull(optarg, NULL, 0);
            break;
        case 't':
            topo_only = 1;
            break;
        default:
            fprintf(stderr, "usage: %s [-t] [-s buffer_size]\n"
                    "  -t  PCI paths and NUMA nodes only, no zero-copy "
                    "check\n", argv[0]);
            return 2;
        }
    }

    num_accs = hlmem_device_count();
    nics     = ibv_get_device_list(&num_nics);
    if (nics == NULL) {
        num_nics = 0;
    }
    printf("Habana devices: %d, RDMA devices: %d\n", num_accs,
           (nics != NULL) ? num_nics : 0);
    if (num_accs == 0) {
        printf("no Habana device: load the habanalabs (or hlsim) driver\n");
    }
    if ((nics == NULL) || (num_nics == 0)) {
        printf("no RDMA device: UCX will use tcp/sm and stage device "
               "buffers through host memory\n");
    }
    if ((num_accs == 0) || (!topo_only && (num_nics == 0))) {
        if (nics != NULL) {
            ibv_free_device_list(nics);
        }
        return 1;
    }

    if (num_nics > MAX_NICS) {
        printf("checking the first %d of %d RDMA devices\n", MAX_NICS,
               num_nics);
        num_nics = MAX_NICS;
    }

    rows = calloc(num_accs, sizeof(*rows)); /* paths "" without topology */
    if (rows == NULL) {
        printf("out of memory\n");
        if (nics != NULL) {
            ibv_free_device_list(nics);
        }
        return 1;
    }

    topo_rows(nics, num_nics, num_accs, rows);
    for (acc = 0; acc < num_accs; ++acc) {
        if (!topo_only) {
            check_accelerator(acc, nics, num_nics, size, &rows[acc]);
            continue;
        }
        for (i = 0; i < num_nics; ++i) {
            printf("habana%-4d <-> %-12s %s\n", acc,
                   ibv_get_device_name(nics[i]), rows[acc].path[i]);
        }
    }

    free(rows);
    if (nics != NULL) {
        ibv_free_device_list(nics);
    }
    return 0;
}
