/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifndef UCT_HABANA_DEV_H_
#define UCT_HABANA_DEV_H_

#include "habana_abi.h"

#include <src/common/habana_dma.h>
#include <src/common/habana_uapi.h>

#include <ucs/datastruct/string_buffer.h>
#include <ucs/sys/topo/base/topo.h>
#include <pthread.h>
#include <sys/types.h>

#define UCT_HABANA_MAX_DEVICES  16
#define UCT_HABANA_DEV_NAME_MAX 16

/* Device VAs of Gaudi2 and later (src/common/habana_uapi.h) */
#define UCT_HABANA_VA_START     HABANA_VA_START
#define UCT_HABANA_VA_END       HABANA_VA_END

/*
 * The compute context of one device in this process: one per device node,
 * shared by every memory domain (the device allows a single compute open).
 * The descriptor is the application's (borrowed) or ours; ours is closed
 * when the last device list that holds the device is cleaned up.
 */
typedef struct uct_habana_dev_ctx {
    dev_t        rdev;
    unsigned     refcount;   /* device lists holding this device */
    int          compute_fd; /* -1 until needed */
    uint64_t     fd_epoch;   /* its epoch when last checked (0: unknown) */
    int          owns_fd;    /* opened by us */
    habana_dma_t *dma;       /* copy engine in this context, or NULL */
    int          dma_fd;     /* the descriptor it was opened on */
    uint64_t     dma_epoch;  /* and that descriptor's epoch */
    int          dma_failed; /* said why there is none */
} uct_habana_dev_ctx_t;

typedef struct uct_habana_dev {
    char                   name[UCT_HABANA_DEV_NAME_MAX]; /* habanaN */
    int                    index;          /* minor index in its uapi */
    const uct_habana_abi_t *abi;
    int                    legacy_numbers; /* 'H' ioctls on an accel node */
    char                   compute_path[64];
    dev_t                  rdev;           /* of the compute node */
    char                   bus_id[32];     /* PCI BDF, "" if not PCI */
    int                    numa_node;
    ucs_sys_device_t       sys_dev;
    uct_habana_hw_info_t   hw;
    uct_habana_dev_ctx_t   *ctx;           /* process-wide, refcounted */
} uct_habana_dev_t;

typedef struct uct_habana_dev_list {
    unsigned         count;
    uct_habana_dev_t dev[UCT_HABANA_MAX_DEVICES];
} uct_habana_dev_list_t;


ucs_status_t uct_habana_dev_list_discover(uct_habana_dev_list_t *list);

void uct_habana_dev_list_cleanup(uct_habana_dev_list_t *list);

ucs_status_t uct_habana_dev_compute_fd(uct_habana_dev_t *dev, int *fd_p);

/*
 * The copy engine of the device's compute context (opened on first use,
 * UCX_HABANA_DMA_BACKEND); UCS_ERR_UNSUPPORTED, said once, without one
 */
ucs_status_t uct_habana_dev_dma(uct_habana_dev_t *dev, habana_dma_t **dma_p);

/* UCX_HABANA_DMA_BACKEND: "auto", "cs" or "synapse" */
void uct_habana_dev_dma_backend_set(const char *name);

/* Does this process hold the device's compute context (any fd)? */
int uct_habana_dev_is_held(uct_habana_dev_t *dev);

/* " <dev>_host_maps=N <dev>_bounced_copies=N" of the device's copy engine,
 * nothing if it has none (the summary; never opens one) */
void uct_habana_dev_dma_format(uct_habana_dev_t *dev,
                               ucs_string_buffer_t *strb);

/*
 * The device for a new allocation: the one @sys_dev names, else the one
 * the process already holds, else the first that can be opened; NULL if
 * none can
 */
uct_habana_dev_t *uct_habana_dev_list_select(uct_habana_dev_list_t *list,
                                             ucs_sys_device_t sys_dev);

static inline int uct_habana_va_in_device_range(const void *addr,
                                                size_t length)
{
    uint64_t start = (uintptr_t)addr;

    return (start >= UCT_HABANA_VA_START) && (start < UCT_HABANA_VA_END) &&
           (length <= UCT_HABANA_VA_END - start);
}

#endif
