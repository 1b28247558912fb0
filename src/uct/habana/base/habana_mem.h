/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * Device pointers: which mapping and device they belong to, and the
 * dma-buf exported for each mapping (exported once, cached until the
 * mapping goes away).
 */
#ifndef UCT_HABANA_MEM_H_
#define UCT_HABANA_MEM_H_

#include "habana_dev.h"

typedef struct uct_habana_mem_info {
    uct_habana_dev_t     *dev;
    uct_habana_mapping_t mapping;  /* va/size: the whole mapping if known */
    int                  tracked;  /* reported by libucm_habana */
    size_t               tracked_size; /* as UCM reported it, 0: untracked */
    uint64_t             id;       /* of the tracked mapping, 0: unknown */
    int                  ambiguous; /* the owning device cannot be known
                                       (two map it, or none is open): no
                                       dma-buf, no copy */
} uct_habana_mem_info_t;

ucs_status_t uct_habana_mem_init(void);

void uct_habana_mem_cleanup(void);

ucs_status_t uct_habana_mem_resolve(uct_habana_dev_list_t *devs,
                                    const void *addr, size_t length,
                                    uct_habana_mem_info_t *info);

/* libucm_habana's epoch of descriptor @fd (ucm_habana_fd_epoch), 0 if
 * unknown */
uint64_t uct_habana_mem_fd_epoch(int fd);

/* libucm_habana's successor of descriptor @fd closed at @epoch
 * (ucm_habana_fd_successor), -1 if none or unknown */
int uct_habana_mem_fd_successor(int fd, uint64_t epoch, uint64_t *epoch_p);

/* Failures are logged at @level */
ucs_status_t uct_habana_mem_export(const uct_habana_mem_info_t *info,
                                   ucs_log_level_t level, int *dmabuf_fd_p);

void uct_habana_mem_forget(const void *addr, size_t length);

/* Unmaps deferred by libucm_habana (see ucm_habana.h); 0 without it */
typedef struct uct_habana_deferred_stats {
    uint64_t deferred;
    uint64_t pending;
} uct_habana_deferred_stats_t;

int uct_habana_mem_deferred_stats(uct_habana_deferred_stats_t *stats);

/* Retry libucm_habana's deferred unmaps now */
void uct_habana_mem_deferred_flush(void);

/* @length rounded up to the device's DRAM page, as the driver maps it */
size_t uct_habana_mem_page_align(const uct_habana_dev_t *dev, size_t length);

#endif
