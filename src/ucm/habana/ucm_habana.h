/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * What libucm_habana offers the habana UCT component: the device mappings
 * it saw the application create through the habanalabs memory ioctl.  The
 * UCT component finds this function at run time (dlsym), so it also works
 * without the UCM module, for memory it can detect on its own.
 */
#ifndef UCM_HABANA_H_
#define UCM_HABANA_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UCM_HABANA_LIBRARY          "libucm_habana.so.0"
#define UCM_HABANA_MAPPING_FIND_SYM "ucm_habana_mapping_find"

typedef struct ucm_habana_mapping {
    uint64_t va;        /* device VA returned by HL_MEM_OP_MAP */
    size_t   size;      /* length of the mapping */
    uint64_t handle;    /* handle of the allocation behind it */
    int      fd;        /* compute fd the mapping was made on */
    uint64_t id;        /* unique per mapping in the process, never reused
                           (a new context hands out the same VAs and
                           handles); 0: unknown */
} ucm_habana_mapping_t;

/*
 * Unmaps that the driver refused because a dma-buf of the mapping was still
 * alive (a NIC registration in UCX's registration cache, typically): the
 * application was told success, the unmap and the free behind it are
 * retried until the last dma-buf reference is gone.
 */
typedef struct ucm_habana_deferred_stats {
    uint64_t deferred;  /* unmaps deferred so far */
    uint64_t pending;   /* still waiting */
} ucm_habana_deferred_stats_t;

#define UCM_HABANA_DEFERRED_FLUSH_SYM "ucm_habana_deferred_flush"
#define UCM_HABANA_DEFERRED_STATS_SYM "ucm_habana_deferred_stats"

/* Retry every deferred unmap now; returns the number still pending */
typedef unsigned (*ucm_habana_deferred_flush_func_t)(void);
typedef void (*ucm_habana_deferred_stats_func_t)(
        ucm_habana_deferred_stats_t *stats);

__attribute__((visibility("default"))) unsigned
ucm_habana_deferred_flush(void);

__attribute__((visibility("default"))) void
ucm_habana_deferred_stats(ucm_habana_deferred_stats_t *stats);

/* Return 1 and fill *mapping if addr lies inside a live mapping; -1 (and
 * fill one of them) if it lies inside live mappings of two devices, whose
 * contexts have VA spaces of their own */
typedef int (*ucm_habana_mapping_find_func_t)(const void *addr,
                                              ucm_habana_mapping_t *mapping);

__attribute__((visibility("default"))) int
ucm_habana_mapping_find(const void *addr, ucm_habana_mapping_t *mapping);

/*
 * The epoch of descriptor number @fd: it advances each time the number is
 * closed (close, or dup2/dup3 over it).  The same non-zero epoch as at a
 * check means the same open file; 0: unknown, check again.
 */
#define UCM_HABANA_FD_EPOCH_SYM "ucm_habana_fd_epoch"
typedef uint64_t (*ucm_habana_fd_epoch_func_t)(int fd);

__attribute__((visibility("default"))) uint64_t ucm_habana_fd_epoch(int fd);

/*
 * A descriptor whose number was closed while another descriptor of its
 * open file stayed open (a dup of it) keeps its context: its mappings moved
 * to that descriptor.  For @fd at @epoch (its epoch before that close)
 * returns the descriptor they moved to and sets *epoch_p to its epoch at
 * the move; -1 if the close at @epoch ended the file, or is unknown.
 */
#define UCM_HABANA_FD_SUCCESSOR_SYM "ucm_habana_fd_successor"
typedef int (*ucm_habana_fd_successor_func_t)(int fd, uint64_t epoch,
                                              uint64_t *epoch_p);

__attribute__((visibility("default"))) int
ucm_habana_fd_successor(int fd, uint64_t epoch, uint64_t *epoch_p);

#ifdef __cplusplus
}
#endif

#endif
