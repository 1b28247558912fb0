/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifndef UCT_HABANA_COPY_IFACE_H_
#define UCT_HABANA_COPY_IFACE_H_

#include "habana_copy_md.h"

/* UCT transport names are at most 9 characters (UCT_TL_NAME_MAX), so
 * "habana_copy" cannot be one: the copy transport is "habana", which is
 * also what UCX_TLS=...,habana selects. */
#define UCT_HABANA_COPY_TL_NAME "habana"

typedef uint64_t uct_habana_copy_iface_addr_t;

typedef struct uct_habana_copy_iface_config {
    uct_iface_config_t super;
    double             bandwidth;
    double             latency;
    double             overhead;
} uct_habana_copy_iface_config_t;

typedef struct uct_habana_copy_iface {
    uct_base_iface_t             super;
    uct_habana_copy_iface_addr_t id;     /* unique per process and iface */
    struct {
        double                   bandwidth;
        double                   latency;
        double                   overhead;
    } config;
} uct_habana_copy_iface_t;

extern uct_tl_t uct_habana_copy_tl;

#endif
