/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_stats.h"
#include "habana_mem.h"

#include <ucs/vfs/base/vfs_cb.h>
#include <ucs/vfs/base/vfs_obj.h>
#include <inttypes.h>

uint64_t uct_habana_stats[UCT_HABANA_STAT_LAST];

const char *uct_habana_stat_names[UCT_HABANA_STAT_LAST] = {
    [UCT_HABANA_STAT_EXPORTS]           = "exports",
    [UCT_HABANA_STAT_EXPORT_CACHE_HITS] = "export_cache_hits",
    [UCT_HABANA_STAT_DMABUF_FDS]        = "dmabuf_fds",
    [UCT_HABANA_STAT_REG_BUFFERS]       = "zcopy_queries",
    [UCT_HABANA_STAT_STAGED_BUFFERS]    = "staged_queries",
    [UCT_HABANA_STAT_STAGED_H2D_BYTES]  = "staged_h2d_bytes",
    [UCT_HABANA_STAT_STAGED_D2H_BYTES]  = "staged_d2h_bytes",
    [UCT_HABANA_STAT_D2D_BYTES]         = "d2d_bytes",
    [UCT_HABANA_STAT_COPIES]            = "copies"
};

void uct_habana_stats_format(ucs_string_buffer_t *strb)
{
    uct_habana_deferred_stats_t deferred;
    unsigned i;

    for (i = 0; i < UCT_HABANA_STAT_LAST; ++i) {
        ucs_string_buffer_appendf(strb, "%s%s=%" PRIu64, (i > 0) ? " " : "",
                                  uct_habana_stat_names[i],
                                  uct_habana_stat_get(i));
    }

    if (uct_habana_mem_deferred_stats(&deferred)) {
        ucs_string_buffer_appendf(strb, " deferred_unmaps=%" PRIu64
                                  " deferred_pending=%" PRIu64,
                                  deferred.deferred, deferred.pending);
    }
}

static void uct_habana_stats_vfs_show(void *obj, ucs_string_buffer_t *strb,
                                      void *arg_ptr, uint64_t arg_u64)
{
    ucs_string_buffer_appendf(strb, "%" PRIu64 "\n",
                              uct_habana_stat_get((uct_habana_stat_t)arg_u64));
}

static void uct_habana_stats_vfs_show_all(void *obj, ucs_string_buffer_t *strb,
                                          void *arg_ptr, uint64_t arg_u64)
{
    uct_habana_stats_format(strb);
    ucs_string_buffer_appendf(strb, "\n");
}

void uct_habana_stats_vfs_init(void *md_obj)
{
    unsigned i;

    for (i = 0; i < UCT_HABANA_STAT_LAST; ++i) {
        ucs_vfs_obj_add_ro_file(md_obj, uct_habana_stats_vfs_show, NULL, i,
                                "stats/%s", uct_habana_stat_names[i]);
    }
    ucs_vfs_obj_add_ro_file(md_obj, uct_habana_stats_vfs_show_all, NULL, 0,
                            "stats/summary");
}
