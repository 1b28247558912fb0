/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_copy_iface.h"
#include "habana_copy_ep.h"

#include <ucs/sys/math.h>
#include <limits.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static ucs_config_field_t uct_habana_copy_iface_config_table[] = {
    {"", "", NULL, ucs_offsetof(uct_habana_copy_iface_config_t, super),
     UCS_CONFIG_TYPE_TABLE(uct_iface_config_table)},

    {"BW", "10000MBs",
     "Bandwidth of host<->device copies, used in performance estimates",
     ucs_offsetof(uct_habana_copy_iface_config_t, bandwidth),
     UCS_CONFIG_TYPE_BW},

    {"LAT", "8us",
     "Latency of one host<->device copy, used in performance estimates",
     ucs_offsetof(uct_habana_copy_iface_config_t, latency),
     UCS_CONFIG_TYPE_TIME},

    {"OVERHEAD", "2us",
     "CPU overhead of posting one copy, used in performance estimates",
     ucs_offsetof(uct_habana_copy_iface_config_t, overhead),
     UCS_CONFIG_TYPE_TIME},

    {NULL}
};

static ucs_status_t
uct_habana_copy_iface_get_address(uct_iface_h tl_iface,
                                  uct_iface_addr_t *iface_addr)
{
    uct_habana_copy_iface_t *iface = ucs_derived_of(tl_iface,
                                                    uct_habana_copy_iface_t);

    memcpy(iface_addr, &iface->id, sizeof(iface->id));
    return UCS_OK;
}

/* Copies reach only this process's memory: only ourselves are reachable */
static int uct_habana_copy_iface_is_reachable_v2(
        const uct_iface_h tl_iface,
        const uct_iface_is_reachable_params_t *params)
{
    uct_habana_copy_iface_t *iface = ucs_derived_of(tl_iface,
                                                    uct_habana_copy_iface_t);
    uct_habana_copy_iface_addr_t id;

    if (!(params->field_mask & UCT_IFACE_IS_REACHABLE_FIELD_IFACE_ADDR) ||
        (params->iface_addr == NULL)) {
        return 0;
    }

    memcpy(&id, params->iface_addr, sizeof(id));
    if (id != iface->id) {
        return 0;
    }

    return uct_iface_scope_is_reachable(tl_iface, params);
}

static ucs_status_t uct_habana_copy_iface_query(uct_iface_h tl_iface,
                                                uct_iface_attr_t *attr)
{
    uct_habana_copy_iface_t *iface = ucs_derived_of(tl_iface,
                                                    uct_habana_copy_iface_t);

    uct_base_iface_query(&iface->super, attr);
    attr->iface_addr_len          = sizeof(uct_habana_copy_iface_addr_t);
    attr->device_addr_len         = 0;
    attr->ep_addr_len             = 0;
    attr->cap.flags               = UCT_IFACE_FLAG_CONNECT_TO_IFACE |
                                    UCT_IFACE_FLAG_GET_SHORT |
                                    UCT_IFACE_FLAG_PUT_SHORT |
                                    UCT_IFACE_FLAG_GET_ZCOPY |
                                    UCT_IFACE_FLAG_PUT_ZCOPY |
                                    UCT_IFACE_FLAG_PENDING;
    attr->cap.put.max_short       = UINT_MAX;
    attr->cap.put.max_zcopy       = SIZE_MAX;
    attr->cap.put.opt_zcopy_align = 1;
    attr->cap.put.align_mtu       = 1;
    attr->cap.put.max_iov         = 1;
    attr->cap.get.max_short       = UINT_MAX;
    attr->cap.get.max_zcopy       = SIZE_MAX;
    attr->cap.get.opt_zcopy_align = 1;
    attr->cap.get.align_mtu       = 1;
    attr->cap.get.max_iov         = 1;
    attr->latency                 = ucs_linear_func_make(
                                        iface->config.latency, 0);
    attr->bandwidth.dedicated     = 0;
    attr->bandwidth.shared        = iface->config.bandwidth;
    attr->overhead                = iface->config.overhead;
    attr->priority                = 0;
    return UCS_OK;
}

static UCS_CLASS_DECLARE_DELETE_FUNC(uct_habana_copy_iface_t, uct_iface_t);

/* Copies are one-sided and synchronous: the CPU posts (and waits for)
 * them, nothing happens on the receive side */
static ucs_status_t uct_habana_copy_iface_estimate_perf(uct_iface_h tl_iface,
                                                       uct_perf_attr_t *attr)
{
    uct_habana_copy_iface_t *iface = ucs_derived_of(tl_iface,
                                                    uct_habana_copy_iface_t);

    if (attr->field_mask & UCT_PERF_ATTR_FIELD_SEND_PRE_OVERHEAD) {
        attr->send_pre_overhead = iface->config.overhead;
    }
    if (attr->field_mask & UCT_PERF_ATTR_FIELD_SEND_POST_OVERHEAD) {
        attr->send_post_overhead = 0;
    }
    if (attr->field_mask & UCT_PERF_ATTR_FIELD_RECV_OVERHEAD) {
        attr->recv_overhead = 0;
    }
    if (attr->field_mask & UCT_PERF_ATTR_FIELD_BANDWIDTH) {
        attr->bandwidth.dedicated = iface->config.bandwidth;
        attr->bandwidth.shared    = 0;
    }
    if (attr->field_mask & UCT_PERF_ATTR_FIELD_PATH_BANDWIDTH) {
        attr->path_bandwidth.dedicated = iface->config.bandwidth;
        attr->path_bandwidth.shared    = 0;
    }
    if (attr->field_mask & UCT_PERF_ATTR_FIELD_LATENCY) {
        attr->latency = ucs_linear_func_make(iface->config.latency, 0);
    }
    if (attr->field_mask & UCT_PERF_ATTR_FIELD_MAX_INFLIGHT_EPS) {
        attr->max_inflight_eps = SIZE_MAX;
    }
    if (attr->field_mask & UCT_PERF_ATTR_FIELD_FLAGS) {
        attr->flags = 0;
    }

    return UCS_OK;
}

static uct_iface_ops_t uct_habana_copy_iface_ops = {
    .ep_put_short             = uct_habana_copy_ep_put_short,
    .ep_get_short             = uct_habana_copy_ep_get_short,
    .ep_put_zcopy             = uct_habana_copy_ep_put_zcopy,
    .ep_get_zcopy             = uct_habana_copy_ep_get_zcopy,
    .ep_pending_add           = (void*)ucs_empty_function_return_busy,
    .ep_pending_purge         = (void*)ucs_empty_function,
    .ep_flush                 = uct_base_ep_flush,
    .ep_fence                 = uct_base_ep_fence,
    .ep_create                = UCS_CLASS_NEW_FUNC_NAME(uct_habana_copy_ep_t),
    .ep_destroy               = UCS_CLASS_DELETE_FUNC_NAME(uct_habana_copy_ep_t),
    .iface_flush              = uct_base_iface_flush,
    .iface_fence              = uct_base_iface_fence,
    .iface_progress_enable    = (void*)ucs_empty_function,
    .iface_progress_disable   = (void*)ucs_empty_function,
    .iface_progress           = (void*)ucs_empty_function_return_zero,
    .iface_event_fd_get       = (void*)ucs_empty_function_return_unsupported,
    .iface_event_arm          = (void*)ucs_empty_function_return_unsupported,
    .iface_close              = UCS_CLASS_DELETE_FUNC_NAME(
                                        uct_habana_copy_iface_t),
    .iface_query              = uct_habana_copy_iface_query,
    .iface_get_device_address = (void*)ucs_empty_function_return_success,
    .iface_get_address        = uct_habana_copy_iface_get_address,
    .iface_is_reachable       = uct_base_iface_is_reachable
};

static uct_iface_internal_ops_t uct_habana_copy_iface_internal_ops = {
    .iface_query_v2         = (void*)uct_iface_base_query_v2,
    .iface_estimate_perf    = uct_habana_copy_iface_estimate_perf,
    .iface_vfs_refresh      = (void*)ucs_empty_function,
    .ep_query               = (void*)ucs_empty_function_return_unsupported,
    .ep_invalidate          = (void*)ucs_empty_function_return_unsupported,
    .ep_connect_to_ep_v2    = (void*)ucs_empty_function_return_unsupported,
    .iface_is_reachable_v2  = uct_habana_copy_iface_is_reachable_v2,
    .ep_is_connected        = (void*)uct_base_ep_is_connected,
    .ep_get_device_ep       = (void*)ucs_empty_function_return_unsupported,
    .ep_put_sgl_zcopy       = (void*)ucs_empty_function_return_unsupported,
    .ep_get_sgl_zcopy       = (void*)ucs_empty_function_return_unsupported,
    .ep_outstanding_purge   = (void*)ucs_empty_function_return_unsupported
};

static UCS_CLASS_INIT_FUNC(uct_habana_copy_iface_t, uct_md_h md,
                           uct_worker_h worker,
                           const uct_iface_params_t *params,
                           const uct_iface_config_t *tl_config)
{
    const uct_habana_copy_iface_config_t *config =
            ucs_derived_of(tl_config, uct_habana_copy_iface_config_t);

    UCS_CLASS_CALL_SUPER_INIT(uct_base_iface_t, &uct_habana_copy_iface_ops,
                              &uct_habana_copy_iface_internal_ops, md, worker,
                              params, tl_config);

    if (getrandom(&self->id, sizeof(self->id), 0) != sizeof(self->id)) {
        self->id = (uintptr_t)self ^ ((uint64_t)getpid() << 32);
    }

    self->config.bandwidth = config->bandwidth;
    self->config.latency   = config->latency;
    self->config.overhead  = config->overhead;
    return UCS_OK;
}

static UCS_CLASS_CLEANUP_FUNC(uct_habana_copy_iface_t)
{
}

UCS_CLASS_DEFINE(uct_habana_copy_iface_t, uct_base_iface_t);
static UCS_CLASS_DEFINE_DELETE_FUNC(uct_habana_copy_iface_t, uct_iface_t);
static UCS_CLASS_DEFINE_NEW_FUNC(uct_habana_copy_iface_t, uct_iface_t,
                                 uct_md_h, uct_worker_h,
                                 const uct_iface_params_t*,
                                 const uct_iface_config_t*);

static ucs_status_t
uct_habana_copy_query_devices(uct_md_h tl_md,
                              uct_tl_device_resource_t **devices_p,
                              unsigned *num_devices_p)
{
    uct_habana_md_t *md = ucs_derived_of(tl_md, uct_habana_md_t);

    /* One copy engine serves every device of the memory domain */
    return uct_single_device_resource(tl_md, md->devs.dev[0].name,
                                      UCT_DEVICE_TYPE_ACC,
                                      md->devs.dev[0].sys_dev, devices_p,
                                      num_devices_p);
}

uct_tl_t uct_habana_copy_tl = {
    .name          = UCT_HABANA_COPY_TL_NAME,
    .query_devices = uct_habana_copy_query_devices,
    .iface_open    = UCS_CLASS_NEW_FUNC_NAME(uct_habana_copy_iface_t),
    .config        = {
        .name      = UCT_HABANA_COPY_TL_NAME " transport",
        .prefix    = "HABANA_COPY_",
        .table     = uct_habana_copy_iface_config_table,
        .size      = sizeof(uct_habana_copy_iface_config_t)
    }
};
