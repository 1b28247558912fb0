/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * The "cs" backend: copies with the upstream habanalabs uapi of a Gaudi2.
 * Host memory is pinned into the device's address space (HL_MEM_OP_MAP +
 * HL_MEM_USERPTR); a command buffer of LIN_DMA packets, itself in such a
 * mapping (Gaudi2's queues take user-allocated CBs only), is submitted to
 * a PDMA queue (host<->device) or an EDMA queue (device<->device) with
 * HL_IOCTL_CS; HL_IOCTL_WAIT_CS polls, then waits, for its completion.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_dma_int.h"
#include "habana_sys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* tsize is 32 bits: larger copies are split into packets of this size */
#define HABANA_CS_MAX_PACKET       (1ul << 30)
#define HABANA_CS_CB_SIZE          (64ul << 10)

/* WAIT_CS: this many polls (timeout 0) before sleeping waits */
#define HABANA_CS_SPIN_POLLS       64
#define HABANA_CS_WAIT_US          10000
/* A CS that has not ended in this time is abandoned (the driver's own CS
 * timeout, 30 s by default, normally ends it first) */
#define HABANA_CS_GIVE_UP_SEC      120
/* EAGAIN (all in-flight slots of the context taken): retried this long */
#define HABANA_CS_EAGAIN_SEC       1

_Static_assert(sizeof(struct habana_pkt_lin_dma) == 24, "LIN_DMA packet");
_Static_assert(sizeof(struct habana_pkt_nop) == 8, "NOP packet");

typedef struct habana_dma_cs {
    void     *cb;
    uint64_t cb_dev;
} habana_dma_cs_t;

static unsigned long habana_dma_cs_cmd(const habana_dma_t *dma,
                                       unsigned long accel_cmd,
                                       unsigned long legacy_cmd)
{
    return dma->params.legacy_numbers ? legacy_cmd : accel_cmd;
}

static int habana_dma_cs_ioctl(habana_dma_t *dma, unsigned long cmd,
                               void *arg)
{
    return habana_sys_ioctl(dma->params.fd, cmd, arg);
}

static int habana_dma_cs_memory(habana_dma_t *dma, union hl_mem_args *args)
{
    return habana_dma_cs_ioctl(dma,
                               habana_dma_cs_cmd(dma,
                                                 dma->params.gen->memory_cmd,
                                                 HABANA_LEGACY_MEMORY),
                               args);
}

static int habana_dma_cs_map_host(habana_dma_t *dma, void *addr,
                                  size_t length, uint64_t *dev_addr)
{
    union hl_mem_args args;
    int ret;

    memset(&args, 0, sizeof(args));
    args.in.op                       = HL_MEM_OP_MAP;
    args.in.flags                    = HL_MEM_USERPTR;
    args.in.map_host.host_virt_addr  = (uintptr_t)addr;
    args.in.map_host.mem_size        = length;
    ret = habana_dma_cs_memory(dma, &args);
    if (ret != 0) {
        return habana_dma_fail(dma, ret, "HL_MEM_OP_MAP(HL_MEM_USERPTR) of "
                               "%p, %zu bytes: %s", addr, length,
                               strerror(-ret));
    }

    *dev_addr = args.out.device_virt_addr;
    return 0;
}

static void habana_dma_cs_unmap_host(habana_dma_t *dma, void *addr,
                                     size_t length, uint64_t dev_addr)
{
    union hl_mem_args args;
    int ret;

    memset(&args, 0, sizeof(args));
    args.in.op                      = HL_MEM_OP_UNMAP;
    args.in.unmap.device_virt_addr  = dev_addr;
    ret = habana_dma_cs_memory(dma, &args);
    if (ret != 0) {
        /* the context is gone (the fd was closed): so is the mapping */
        habana_dma_fail(dma, ret, "HL_MEM_OP_UNMAP of host %p at 0x%llx: %s",
                        addr, (unsigned long long)dev_addr, strerror(-ret));
    }
}

static double habana_dma_cs_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Submit @cb_size bytes of packets to @queue; the CS's sequence number */
static int habana_dma_cs_submit(habana_dma_t *dma, uint32_t queue,
                                uint32_t cb_size, uint64_t *seq)
{
    habana_dma_cs_t *cs = dma->priv;
    struct hl_cs_chunk chunk;
    union hl_cs_args args;
    double deadline = 0;
    unsigned pause  = 1;
    int ret;

    memset(&chunk, 0, sizeof(chunk));
    chunk.cb_handle      = cs->cb_dev;
    chunk.queue_index    = queue;
    chunk.cb_size        = cb_size;
    chunk.cs_chunk_flags = HL_CS_CHUNK_FLAGS_USER_ALLOC_CB;

    for (;;) {
        memset(&args, 0, sizeof(args));
        args.in.chunks_execute     = (uintptr_t)&chunk;
        args.in.num_chunks_execute = 1;
        ret = habana_dma_cs_ioctl(dma,
                                  habana_dma_cs_cmd(dma,
                                                    dma->params.gen->cs_cmd,
                                                    HABANA_LEGACY_CS),
                                  &args);
        if (ret != -EAGAIN) {
            break;
        }

        /* other users of the context fill its in-flight slots */
        if (deadline == 0) {
            deadline = habana_dma_cs_now() + HABANA_CS_EAGAIN_SEC;
        } else if (habana_dma_cs_now() > deadline) {
            break;
        }
        usleep(pause);
        pause = (pause < 1000) ? pause * 2 : pause;
    }

    if (ret != 0) {
        return habana_dma_fail(dma, ret, "HL_IOCTL_CS on queue %u (%u bytes "
                               "of packets): %s", queue, cb_size,
                               strerror(-ret));
    }

    *seq = args.out.seq;
    return 0;
}

static int habana_dma_cs_wait(habana_dma_t *dma, uint64_t seq)
{
    union hl_wait_cs_args args;
    unsigned polls = 0;
    double give_up = 0;
    int ret;

    for (;;) {
        memset(&args, 0, sizeof(args));
        args.in.seq        = seq;
        args.in.timeout_us = (polls < HABANA_CS_SPIN_POLLS) ? 0 :
                             HABANA_CS_WAIT_US;
        ret = habana_dma_cs_ioctl(dma,
                                  habana_dma_cs_cmd(dma,
                                                    dma->params.gen->wait_cs_cmd,
                                                    HABANA_LEGACY_WAIT_CS),
                                  &args);
        if (ret != 0) {
            return habana_dma_fail(dma, ret, "HL_IOCTL_WAIT_CS of CS %llu: "
                                   "%s (status %u)", (unsigned long long)seq,
                                   strerror(-ret), args.out.status);
        }

        if (args.out.status == HL_WAIT_CS_STATUS_COMPLETED) {
            return 0;
        }

        if (args.out.status != HL_WAIT_CS_STATUS_BUSY) {
            return habana_dma_fail(dma, -EIO, "CS %llu ended with status %u",
                                   (unsigned long long)seq, args.out.status);
        }

        if (++polls == HABANA_CS_SPIN_POLLS) {
            give_up = habana_dma_cs_now() + HABANA_CS_GIVE_UP_SEC;
        } else if ((polls > HABANA_CS_SPIN_POLLS) &&
                   (habana_dma_cs_now() > give_up)) {
            return habana_dma_fail(dma, -ETIMEDOUT, "CS %llu still busy "
                                   "after %d s", (unsigned long long)seq,
                                   HABANA_CS_GIVE_UP_SEC);
        }
    }
}

static int habana_dma_cs_run(habana_dma_t *dma, uint32_t queue,
                             uint32_t cb_size)
{
    uint64_t seq;
    int ret;

    ret = habana_dma_cs_submit(dma, queue, cb_size, &seq);
    return (ret != 0) ? ret : habana_dma_cs_wait(dma, seq);
}

static const uint32_t habana_dma_cs_queue[] = {
    [HABANA_DMA_H2D] = HABANA_QUEUE_PDMA_0_0,
    [HABANA_DMA_D2H] = HABANA_QUEUE_PDMA_1_0,
    [HABANA_DMA_D2D] = HABANA_QUEUE_EDMA_0_0
};

static int habana_dma_cs_copy(habana_dma_t *dma, uint64_t dst, uint64_t src,
                              size_t length, habana_dma_dir_t dir)
{
    habana_dma_cs_t *cs = dma->priv;
    struct habana_pkt_lin_dma *pkt = cs->cb;
    size_t max_pkts = HABANA_CS_CB_SIZE / sizeof(*pkt);
    size_t offset, chunk;
    unsigned n;
    int ret;

    for (offset = 0; offset < length;) {
        for (n = 0; (n < max_pkts) && (offset < length); ++n) {
            chunk = length - offset;
            if (chunk > HABANA_CS_MAX_PACKET) {
                chunk = HABANA_CS_MAX_PACKET;
            }
            pkt[n].tsize = chunk;
            pkt[n].ctl   = HABANA_PKT_CTL(HABANA_PKT_LIN_DMA) |
                           HABANA_PKT_EB | HABANA_PKT_MB;
            pkt[n].src   = src + offset;
            pkt[n].dst   = dst + offset;
            offset      += chunk;
        }

        ret = habana_dma_cs_run(dma, habana_dma_cs_queue[dir],
                                n * sizeof(*pkt));
        if (ret != 0) {
            return ret;
        }
    }
    return 0;
}

/* A NOP on the host->device queue: is there a queue user CBs may use? */
static int habana_dma_cs_probe(habana_dma_t *dma)
{
    habana_dma_cs_t *cs       = dma->priv;
    struct habana_pkt_nop *nop = cs->cb;

    nop->reserved = 0;
    nop->ctl      = HABANA_PKT_CTL(HABANA_PKT_NOP) | HABANA_PKT_MB;
    return habana_dma_cs_run(dma, HABANA_QUEUE_PDMA_0_0, sizeof(*nop));
}

static void habana_dma_cs_close(habana_dma_t *dma)
{
    habana_dma_cs_t *cs = dma->priv;

    if (cs->cb_dev != 0) {
        habana_dma_cs_unmap_host(dma, cs->cb, HABANA_CS_CB_SIZE, cs->cb_dev);
    }
    free(cs->cb);
    free(cs);
    dma->priv = NULL;
}

static int habana_dma_cs_open(habana_dma_t *dma, char *why, size_t max)
{
    habana_dma_cs_t *cs;
    int ret;

    if ((dma->params.gen->cs_cmd == 0) || (dma->params.fd < 0)) {
        snprintf(why, max, "cs: no compute descriptor");
        return -ENODEV;
    }

    cs = calloc(1, sizeof(*cs));
    if ((cs == NULL) || (posix_memalign(&cs->cb, sysconf(_SC_PAGESIZE),
                                        HABANA_CS_CB_SIZE) != 0)) {
        free(cs);
        snprintf(why, max, "cs: out of memory");
        return -ENOMEM;
    }

    dma->priv = cs;
    ret       = habana_dma_cs_map_host(dma, cs->cb, HABANA_CS_CB_SIZE,
                                       &cs->cb_dev);
    if (ret != 0) {
        cs->cb_dev = 0;
        snprintf(why, max, "cs: the driver cannot map host memory (%s)",
                 dma->error);
        goto err;
    }

    ret = habana_dma_cs_probe(dma);
    if (ret != 0) {
        snprintf(why, max, "cs: no user-submittable DMA queue (%s; Gaudi2 "
                 "has them, Gaudi3 does not)", dma->error);
        goto err;
    }
    return 0;

err:
    habana_dma_cs_close(dma);
    return ret;
}

const habana_dma_backend_t habana_dma_backend_cs = {
    .name       = "cs",
    .open       = habana_dma_cs_open,
    .close      = habana_dma_cs_close,
    .map_host   = habana_dma_cs_map_host,
    .unmap_host = habana_dma_cs_unmap_host,
    .copy       = habana_dma_cs_copy,
    .launch     = habana_dma_cs_probe
};
