/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifndef UCT_HABANA_COPY_MD_H_
#define UCT_HABANA_COPY_MD_H_

#include <src/uct/habana/base/habana_uct_int.h>
#include <src/uct/habana/base/habana_dev.h>
#include <src/uct/habana/base/habana_nic.h>

#define UCT_HABANA_COMPONENT_NAME "habana"

extern uct_component_t uct_habana_component;

typedef struct uct_habana_md_config {
    uct_md_config_t          super;
    ucs_ternary_auto_value_t dmabuf;
    char                     *dma_backend;
    int                      summary;
} uct_habana_md_config_t;

/*
 * A memory handle of this MD: the range it covers.  The copy engine maps
 * registered host memory (UCX's staging pools) to a device whole, at the
 * first copy that needs it, instead of each fragment's pages.
 */
typedef struct uct_habana_memh {
    void   *address;
    size_t length;
} uct_habana_memh_t;

/* Zero copy for one device: decided at its first device buffer */
typedef struct uct_habana_md_zcopy {
    int                      probed;
    uct_habana_nic_verdict_t verdict;
} uct_habana_md_zcopy_t;

typedef struct uct_habana_md {
    uct_md_t                 super;
    uct_habana_dev_list_t    devs;
    ucs_ternary_auto_value_t dmabuf;
    int                      summary;
    unsigned                 num_nics;  /* usable RDMA devices at open */
    char                     nics[256];
    pthread_mutex_t          lock;      /* protects zcopy[] */
    uct_habana_md_zcopy_t    zcopy[UCT_HABANA_MAX_DEVICES];
} uct_habana_md_t;

#endif
