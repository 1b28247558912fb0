/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * Per-process counters of the two data paths: what went to NICs as
 * dma-bufs (zero copy) and what the habana transport copied between host
 * and device memory (staging).  Read through UCX's VFS while a process
 * runs (ucx_vfs: uct/component/habana/memory_domain/habana/stats/) and
 * printed when the memory domain closes with UCX_HABANA_SUMMARY=y.
 */
#ifndef UCT_HABANA_STATS_H_
#define UCT_HABANA_STATS_H_

#include <ucs/datastruct/string_buffer.h>
#include <stdint.h>

typedef enum {
    UCT_HABANA_STAT_EXPORTS,           /* dma-bufs exported by the driver */
    UCT_HABANA_STAT_EXPORT_CACHE_HITS, /* export served from the cache */
    UCT_HABANA_STAT_DMABUF_FDS,        /* dma-buf fds handed to UCX */
    UCT_HABANA_STAT_REG_BUFFERS,       /* answered "registrable" */
    UCT_HABANA_STAT_STAGED_BUFFERS,    /* answered "not registrable" */
    UCT_HABANA_STAT_STAGED_H2D_BYTES,  /* host -> device copies */
    UCT_HABANA_STAT_STAGED_D2H_BYTES,  /* device -> host copies */
    UCT_HABANA_STAT_D2D_BYTES,         /* device -> device copies */
    UCT_HABANA_STAT_COPIES,            /* copy operations */
    UCT_HABANA_STAT_LAST
} uct_habana_stat_t;

extern uint64_t uct_habana_stats[UCT_HABANA_STAT_LAST];
extern const char *uct_habana_stat_names[UCT_HABANA_STAT_LAST];

static inline void uct_habana_stat_add(uct_habana_stat_t stat, uint64_t value)
{
    __atomic_fetch_add(&uct_habana_stats[stat], value, __ATOMIC_RELAXED);
}

static inline uint64_t uct_habana_stat_get(uct_habana_stat_t stat)
{
    return __atomic_load_n(&uct_habana_stats[stat], __ATOMIC_RELAXED);
}

/* "name=value ..." of every counter, and of libucm_habana's */
void uct_habana_stats_format(ucs_string_buffer_t *strb);

/* Make the counters readable in UCX's VFS under @md_obj */
void uct_habana_stats_vfs_init(void *md_obj);

#endif
