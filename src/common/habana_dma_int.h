/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * habana_dma internals: the engine and its backends' table.
 */
#ifndef HABANA_DMA_INT_H_
#define HABANA_DMA_INT_H_

#include "habana_dma.h"

#include <pthread.h>

/* One backend: every function returns 0 or -errno (and sets the error) */
typedef struct habana_dma_backend {
    const char *name;
    int        (*open)(habana_dma_t *dma, char *why, size_t max);
    void       (*close)(habana_dma_t *dma);
    /* Make [addr, addr + length) of host memory reachable by the device */
    int        (*map_host)(habana_dma_t *dma, void *addr, size_t length,
                           uint64_t *dev_addr);
    void       (*unmap_host)(habana_dma_t *dma, void *addr, size_t length,
                             uint64_t dev_addr);
    /* Copy between device-reachable addresses; returns when done */
    int        (*copy)(habana_dma_t *dma, uint64_t dst, uint64_t src,
                       size_t length, habana_dma_dir_t dir);
    /* Optional: launch and complete one empty submission (lock held) */
    int        (*launch)(habana_dma_t *dma);
} habana_dma_backend_t;

/* A range of host memory the device reaches */
typedef struct habana_dma_host_map {
    uintptr_t start;     /* page aligned */
    uintptr_t end;
    uint64_t  dev_addr;  /* of start */
    uint64_t  last_use;
} habana_dma_host_map_t;

struct habana_dma {
    habana_dma_params_t        params;
    char                       pci_bus[32];
    const habana_dma_backend_t *backend;
    void                       *priv;          /* the backend's */
    pthread_mutex_t            lock;

    void                       *bounce;
    uint64_t                   bounce_dev;

    habana_dma_host_map_t      *maps;          /* the cache, by start */
    unsigned                   capacity;
    unsigned                   count;
    size_t                     pinned;
    size_t                     widest;         /* entry, since it was empty */
    uint64_t                   clock;
    uint64_t                   bounced_misses; /* see cache_thrashing */
    uint64_t                   host_maps;

    char                       error[256];
    double                     launch_time;    /* seconds, 0: unknown */
    int                        launch_measured;
};

extern const habana_dma_backend_t habana_dma_backend_cs;
extern const habana_dma_backend_t habana_dma_backend_synapse;

/* Record the reason of a failure; returns @err (a negative errno) */
int habana_dma_fail(habana_dma_t *dma, int err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
