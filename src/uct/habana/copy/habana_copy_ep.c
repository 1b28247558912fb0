/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_copy_ep.h"

#include <src/uct/habana/base/habana_mem.h>
#include <string.h>

static UCS_CLASS_INIT_FUNC(uct_habana_copy_ep_t, const uct_ep_params_t *params)
{
    uct_habana_copy_iface_t *iface = ucs_derived_of(params->iface,
                                                    uct_habana_copy_iface_t);

    UCS_CLASS_CALL_SUPER_INIT(uct_base_ep_t, &iface->super);
    return UCS_OK;
}

static UCS_CLASS_CLEANUP_FUNC(uct_habana_copy_ep_t)
{
}

UCS_CLASS_DEFINE(uct_habana_copy_ep_t, uct_base_ep_t);
UCS_CLASS_DEFINE_NEW_FUNC(uct_habana_copy_ep_t, uct_ep_t,
                          const uct_ep_params_t*);
UCS_CLASS_DEFINE_DELETE_FUNC(uct_habana_copy_ep_t, uct_ep_t);

static uct_habana_md_t *uct_habana_copy_ep_md(uct_ep_h tl_ep)
{
    uct_base_iface_t *iface = ucs_derived_of(tl_ep->iface, uct_base_iface_t);

    return ucs_derived_of(iface->md, uct_habana_md_t);
}

/* Copy between any two of host and device memory of this process */
static ucs_status_t uct_habana_copy_ep_copy(uct_ep_h tl_ep, void *dst,
                                            const void *src, size_t length)
{
    uct_habana_md_t *md = uct_habana_copy_ep_md(tl_ep);
    uct_habana_mem_info_t dst_info, src_info;
    uct_habana_copy_dir_t dir;
    uct_habana_dev_t *dev;
    ucs_status_t status;
    int dst_dev, src_dev, fd;

    if (length == 0) {
        return UCS_OK;
    }

    dst_dev = (uct_habana_mem_resolve(&md->devs, dst, length, &dst_info) ==
               UCS_OK);
    src_dev = (uct_habana_mem_resolve(&md->devs, src, length, &src_info) ==
               UCS_OK);
    if (!dst_dev && !src_dev) {
        memcpy(dst, src, length);
        return UCS_OK;
    }

    if (dst_dev && src_dev) {
        if (dst_info.dev != src_info.dev) {
            ucs_error("habana_copy: %p and %p are on different devices",
                      dst, src);
            return UCS_ERR_UNSUPPORTED;
        }
        dir = UCT_HABANA_COPY_D2D;
        dev = dst_info.dev;
    } else if (dst_dev) {
        dir = UCT_HABANA_COPY_H2D;
        dev = dst_info.dev;
    } else {
        dir = UCT_HABANA_COPY_D2H;
        dev = src_info.dev;
    }

    status = uct_habana_dev_compute_fd(dev, &fd);
    if (status != UCS_OK) {
        return status;
    }

    return uct_habana_abi_copy(dev->abi, fd, dev->legacy_numbers, dst, src,
                               length, dir);
}

ucs_status_t uct_habana_copy_ep_put_short(uct_ep_h tl_ep, const void *buffer,
                                          unsigned length,
                                          uint64_t remote_addr,
                                          uct_rkey_t rkey)
{
    return uct_habana_copy_ep_copy(tl_ep, (void*)(uintptr_t)remote_addr,
                                   buffer, length);
}

ucs_status_t uct_habana_copy_ep_get_short(uct_ep_h tl_ep, void *buffer,
                                          unsigned length,
                                          uint64_t remote_addr,
                                          uct_rkey_t rkey)
{
    return uct_habana_copy_ep_copy(tl_ep, buffer,
                                   (const void*)(uintptr_t)remote_addr,
                                   length);
}

/* One iov entry: count elements of length bytes, stride apart */
static ucs_status_t uct_habana_copy_ep_iov(uct_ep_h tl_ep, const uct_iov_t *iov,
                                           uint64_t *remote_p, int put)
{
    unsigned count = ucs_max(iov->count, 1u);
    ucs_status_t status;
    void *local, *remote;
    unsigned i;

    for (i = 0; i < count; ++i) {
        local  = UCS_PTR_BYTE_OFFSET(iov->buffer, (size_t)i * iov->stride);
        remote = (void*)(uintptr_t)*remote_p;
        status = put ? uct_habana_copy_ep_copy(tl_ep, remote, local,
                                               iov->length) :
                       uct_habana_copy_ep_copy(tl_ep, local, remote,
                                               iov->length);
        if (status != UCS_OK) {
            return status;
        }
        *remote_p += iov->length;
    }

    return UCS_OK;
}

/* The copy ioctl is synchronous: zcopy completes before returning */
static ucs_status_t uct_habana_copy_ep_zcopy(uct_ep_h tl_ep,
                                             const uct_iov_t *iov,
                                             size_t iovcnt,
                                             uint64_t remote_addr, int put)
{
    ucs_status_t status;
    size_t i;

    for (i = 0; i < iovcnt; ++i) {
        status = uct_habana_copy_ep_iov(tl_ep, &iov[i], &remote_addr, put);
        if (status != UCS_OK) {
            return status;
        }
    }

    return UCS_OK;
}

ucs_status_t uct_habana_copy_ep_put_zcopy(uct_ep_h tl_ep, const uct_iov_t *iov,
                                          size_t iovcnt, uint64_t remote_addr,
                                          uct_rkey_t rkey,
                                          uct_completion_t *comp)
{
    return uct_habana_copy_ep_zcopy(tl_ep, iov, iovcnt, remote_addr, 1);
}

ucs_status_t uct_habana_copy_ep_get_zcopy(uct_ep_h tl_ep, const uct_iov_t *iov,
                                          size_t iovcnt, uint64_t remote_addr,
                                          uct_rkey_t rkey,
                                          uct_completion_t *comp)
{
    return uct_habana_copy_ep_zcopy(tl_ep, iov, iovcnt, remote_addr, 0);
}
