/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_copy_ep.h"

#include <src/uct/habana/base/habana_mem.h>
#include <src/uct/habana/base/habana_stats.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* One trace_data line per put and get, as UCX's copy transports log */
#define uct_habana_copy_trace_data(_name, _local, _length, _remote_addr, \
                                   _status) \
    ucs_trace_data("%s [local %p length %zu] remote 0x%" PRIx64 ": %s", \
                   _name, _local, (size_t)(_length), \
                   (uint64_t)(_remote_addr), ucs_status_string(_status))

/* Where an ep's pending request sits in the iface's pending list */
typedef struct {
    ucs_list_link_t      list;
    uct_habana_copy_ep_t *ep;
} uct_habana_copy_pending_priv_t;

static UCS_F_ALWAYS_INLINE uct_habana_copy_pending_priv_t *
uct_habana_copy_pending_priv(uct_pending_req_t *req)
{
    return (uct_habana_copy_pending_priv_t*)req->priv;
}

static UCS_F_ALWAYS_INLINE uct_habana_copy_iface_t *
uct_habana_copy_ep_iface(uct_ep_h tl_ep)
{
    return ucs_derived_of(tl_ep->iface, uct_habana_copy_iface_t);
}

static UCS_CLASS_INIT_FUNC(uct_habana_copy_ep_t, const uct_ep_params_t *params)
{
    uct_habana_copy_iface_t *iface = ucs_derived_of(params->iface,
                                                    uct_habana_copy_iface_t);

    UCS_CLASS_CALL_SUPER_INIT(uct_base_ep_t, &iface->super);
    self->pending_count = 0;
    self->pending_gen   = 0;
    return UCS_OK;
}

static UCS_CLASS_CLEANUP_FUNC(uct_habana_copy_ep_t)
{
    /* UCT users purge an ep's pending requests before destroying it */
    if (self->pending_count != 0) {
        ucs_warn("habana_copy: ep %p destroyed with %u pending requests",
                 self, self->pending_count);
        uct_habana_copy_ep_pending_purge(&self->super.super, NULL, NULL);
    }
}

UCS_CLASS_DEFINE(uct_habana_copy_ep_t, uct_base_ep_t);
UCS_CLASS_DEFINE_NEW_FUNC(uct_habana_copy_ep_t, uct_ep_t,
                          const uct_ep_params_t*);
UCS_CLASS_DEFINE_DELETE_FUNC(uct_habana_copy_ep_t, uct_ep_t);

/*
 * Resolve a copy between any two of host and device memory of this
 * process: direction, device and its compute descriptor.  Runs in the UCX
 * thread (it consults the mapping tracker and may open the device).
 */
static ucs_status_t uct_habana_copy_ep_resolve(uct_ep_h tl_ep, void *dst,
                                               const void *src, size_t length,
                                               uct_habana_copy_req_t *req)
{
    uct_habana_copy_iface_t *iface = uct_habana_copy_ep_iface(tl_ep);
    uct_habana_md_t *md            = ucs_derived_of(iface->super.md,
                                                    uct_habana_md_t);
    uct_habana_mem_info_t dst_info, src_info;
    uct_habana_dev_t *dev;
    int dst_dev, src_dev;

    req->dst                = dst;
    req->src                = src;
    req->length             = length;
    req->status             = UCS_OK;
    req->host_region.length = 0;

    dst_dev = (uct_habana_mem_resolve(&md->devs, dst, length, &dst_info) ==
               UCS_OK);
    src_dev = (uct_habana_mem_resolve(&md->devs, src, length, &src_info) ==
               UCS_OK);
    if ((dst_dev && dst_info.ambiguous) || (src_dev && src_info.ambiguous)) {
        return UCS_ERR_INVALID_ADDR; /* said once by uct_habana_mem */
    }

    if (!dst_dev && !src_dev) {
        req->dma = NULL;
        req->dir = HABANA_DMA_H2D; /* unused */
        return UCS_OK;
    }

    if (dst_dev && src_dev) {
        if (dst_info.dev != src_info.dev) {
            ucs_error("habana_copy: %p and %p are on different devices",
                      dst, src);
            return UCS_ERR_UNSUPPORTED;
        }
        req->dir = HABANA_DMA_D2D;
        dev      = dst_info.dev;
    } else if (dst_dev) {
        req->dir = HABANA_DMA_H2D;
        dev      = dst_info.dev;
    } else {
        req->dir = HABANA_DMA_D2H;
        dev      = src_info.dev;
    }

    return uct_habana_dev_dma(dev, &req->dma);
}

/*
 * Resolve a copy of @length bytes between @local and @remote (@put: to
 * @remote).  When the local side is the host side, @local_memh goes with
 * it: the engine maps the whole registered range at a miss (see
 * uct_habana_memh).
 */
static ucs_status_t uct_habana_copy_ep_prepare(uct_ep_h tl_ep, void *local,
                                               uct_mem_h local_memh,
                                               void *remote, size_t length,
                                               int put,
                                               uct_habana_copy_req_t *req)
{
    const uct_habana_memh_t *memh = local_memh;
    ucs_status_t status;

    status = put ? uct_habana_copy_ep_resolve(tl_ep, remote, local, length,
                                              req) :
                   uct_habana_copy_ep_resolve(tl_ep, local, remote, length,
                                              req);
    if ((status != UCS_OK) || (memh == UCT_MEM_HANDLE_NULL) ||
        (req->dma == NULL) ||
        (req->dir != (put ? HABANA_DMA_H2D : HABANA_DMA_D2H))) {
        return status;
    }

    req->host_region.start  = (uintptr_t)memh->address;
    req->host_region.length = memh->length;
    return UCS_OK;
}

static const uct_habana_stat_t uct_habana_copy_ep_stat[] = {
    [HABANA_DMA_H2D] = UCT_HABANA_STAT_STAGED_H2D_BYTES,
    [HABANA_DMA_D2H] = UCT_HABANA_STAT_STAGED_D2H_BYTES,
    [HABANA_DMA_D2D] = UCT_HABANA_STAT_D2D_BYTES
};

ucs_status_t uct_habana_copy_req_exec(const uct_habana_copy_req_t *req)
{
    int ret;

    if (req->dma == NULL) {
        memcpy(req->dst, req->src, req->length);
        return UCS_OK;
    }

    ret = habana_dma_copy_in(req->dma, req->dst, req->src, req->length,
                             req->dir, (req->host_region.length > 0) ?
                                       &req->host_region : NULL);
    if (ret != 0) {
        ucs_error("habana_copy: %p <- %p (%zu bytes) failed: %s", req->dst,
                  req->src, req->length, habana_dma_error(req->dma));
        return (ret == -ENOMEM)    ? UCS_ERR_NO_MEMORY :
               (ret == -EAGAIN)    ? UCS_ERR_BUSY :
               (ret == -ETIMEDOUT) ? UCS_ERR_TIMED_OUT : UCS_ERR_IO_ERROR;
    }

    uct_habana_stat_add(uct_habana_copy_ep_stat[req->dir], req->length);
    uct_habana_stat_add(UCT_HABANA_STAT_COPIES, 1);
    return UCS_OK;
}

/*
 * Copy @length bytes between @local and @remote (@put: to @remote) in the
 * calling thread, ordered after fenced copies
 */
static ucs_status_t uct_habana_copy_ep_copy(uct_ep_h tl_ep, void *local,
                                            uct_mem_h local_memh,
                                            void *remote, size_t length,
                                            int put)
{
    uct_habana_copy_req_t req;
    ucs_status_t status;

    if (length == 0) {
        return UCS_OK;
    }

    status = uct_habana_copy_ep_prepare(tl_ep, local, local_memh, remote,
                                        length, put, &req);
    if (status != UCS_OK) {
        return status;
    }

    uct_habana_copy_iface_fence_wait(uct_habana_copy_ep_iface(tl_ep));
    return uct_habana_copy_req_exec(&req);
}

ucs_status_t uct_habana_copy_ep_put_short(uct_ep_h tl_ep, const void *buffer,
                                          unsigned length,
                                          uint64_t remote_addr,
                                          uct_rkey_t rkey)
{
    ucs_status_t status;

    status = uct_habana_copy_ep_copy(tl_ep, (void*)buffer,
                                     UCT_MEM_HANDLE_NULL,
                                     (void*)(uintptr_t)remote_addr, length, 1);
    uct_habana_copy_trace_data("PUT_SHORT", buffer, length, remote_addr,
                               status);
    return status;
}

ucs_status_t uct_habana_copy_ep_get_short(uct_ep_h tl_ep, void *buffer,
                                          unsigned length,
                                          uint64_t remote_addr,
                                          uct_rkey_t rkey)
{
    ucs_status_t status;

    status = uct_habana_copy_ep_copy(tl_ep, buffer, UCT_MEM_HANDLE_NULL,
                                     (void*)(uintptr_t)remote_addr, length, 0);
    uct_habana_copy_trace_data("GET_SHORT", buffer, length, remote_addr,
                               status);
    return status;
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
        status = uct_habana_copy_ep_copy(tl_ep, local, iov->memh, remote,
                                         iov->length, put);
        if (status != UCS_OK) {
            return status;
        }
        *remote_p += iov->length;
    }

    return UCS_OK;
}

/* Bytes an iov array describes (uct_iov_total_length is not installed) */
static size_t uct_habana_copy_iov_length(const uct_iov_t *iov, size_t iovcnt)
{
    size_t total = 0;
    size_t i;

    for (i = 0; i < iovcnt; ++i) {
        total += iov[i].length * ucs_max(iov[i].count, 1u);
    }
    return total;
}

/* Strided or multi-entry transfers: copied in the calling thread */
static ucs_status_t uct_habana_copy_ep_zcopy_inline(uct_ep_h tl_ep,
                                                    const uct_iov_t *iov,
                                                    size_t iovcnt,
                                                    uint64_t remote_addr,
                                                    int put)
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

/*
 * A contiguous transfer of at least ASYNC_THRESH bytes goes to the copy
 * thread (UCS_INPROGRESS, @comp completed from iface progress); smaller
 * ones, and all when the ring is full (RING_FULL=copy), are copied here.
 */
static ucs_status_t uct_habana_copy_ep_zcopy(uct_ep_h tl_ep,
                                             const uct_iov_t *iov,
                                             size_t iovcnt,
                                             uint64_t remote_addr,
                                             uct_completion_t *comp, int put)
{
    uct_habana_copy_iface_t *iface = uct_habana_copy_ep_iface(tl_ep);
    uct_habana_copy_req_t req;
    ucs_status_t status;

    if ((iovcnt != 1) || (iov->count > 1) ||
        (iov->length < iface->config.async_thresh)) {
        return uct_habana_copy_ep_zcopy_inline(tl_ep, iov, iovcnt,
                                               remote_addr, put);
    }

    status = uct_habana_copy_ep_prepare(tl_ep, iov->buffer, iov->memh,
                                        (void*)(uintptr_t)remote_addr,
                                        iov->length, put, &req);
    if (status != UCS_OK) {
        return status;
    }

    req.comp = comp;
    status   = uct_habana_copy_iface_post(iface, &req);
    if ((status == UCS_INPROGRESS) ||
        ((status == UCS_ERR_NO_RESOURCE) &&
         (iface->config.ring_full == UCT_HABANA_COPY_RING_FULL_NO_RESOURCE))) {
        return status;
    }

    /* Ring full, or no copy thread: copy here */
    uct_habana_copy_iface_fence_wait(iface);
    return uct_habana_copy_req_exec(&req);
}

ucs_status_t uct_habana_copy_ep_put_zcopy(uct_ep_h tl_ep, const uct_iov_t *iov,
                                          size_t iovcnt, uint64_t remote_addr,
                                          uct_rkey_t rkey,
                                          uct_completion_t *comp)
{
    ucs_status_t status;

    status = uct_habana_copy_ep_zcopy(tl_ep, iov, iovcnt, remote_addr, comp,
                                      1);
    uct_habana_copy_trace_data("PUT_ZCOPY", iov->buffer,
                               uct_habana_copy_iov_length(iov, iovcnt),
                               remote_addr, status);
    return status;
}

ucs_status_t uct_habana_copy_ep_get_zcopy(uct_ep_h tl_ep, const uct_iov_t *iov,
                                          size_t iovcnt, uint64_t remote_addr,
                                          uct_rkey_t rkey,
                                          uct_completion_t *comp)
{
    ucs_status_t status;

    status = uct_habana_copy_ep_zcopy(tl_ep, iov, iovcnt, remote_addr, comp,
                                      0);
    uct_habana_copy_trace_data("GET_ZCOPY", iov->buffer,
                               uct_habana_copy_iov_length(iov, iovcnt),
                               remote_addr, status);
    return status;
}

/* The ring is shared by the iface's eps: so is the pending list (FIFO).
 * Requests are accepted only while posting would be refused. */
ucs_status_t uct_habana_copy_ep_pending_add(uct_ep_h tl_ep,
                                            uct_pending_req_t *req,
                                            unsigned flags)
{
    uct_habana_copy_iface_t *iface      = uct_habana_copy_ep_iface(tl_ep);
    uct_habana_copy_ep_t *ep            = ucs_derived_of(tl_ep,
                                                         uct_habana_copy_ep_t);
    uct_habana_copy_pending_priv_t *priv = uct_habana_copy_pending_priv(req);

    UCS_STATIC_ASSERT(sizeof(uct_habana_copy_pending_priv_t) <=
                      UCT_PENDING_REQ_PRIV_LEN);

    /* With RING_FULL=copy, operations never refuse for lack of space */
    if ((iface->config.ring_full == UCT_HABANA_COPY_RING_FULL_COPY) ||
        uct_habana_copy_iface_has_space(iface)) {
        return UCS_ERR_BUSY;
    }

    priv->ep = ep;
    ucs_list_add_tail(&iface->pending, &priv->list);
    ++ep->pending_count;
    return UCS_OK;
}

static void
uct_habana_copy_ep_pending_purge_list(uct_habana_copy_ep_t *ep,
                                      ucs_list_link_t *list,
                                      uct_pending_purge_callback_t cb,
                                      void *arg)
{
    uct_habana_copy_pending_priv_t *priv, *tmp;

    ucs_list_for_each_safe(priv, tmp, list, list) {
        if (priv->ep != ep) {
            continue;
        }

        ucs_list_del(&priv->list);
        --ep->pending_count;
        if (cb != NULL) {
            cb(ucs_container_of((void*)priv, uct_pending_req_t, priv), arg);
        }
    }
}

void uct_habana_copy_ep_pending_purge(uct_ep_h tl_ep,
                                      uct_pending_purge_callback_t cb,
                                      void *arg)
{
    uct_habana_copy_iface_t *iface = uct_habana_copy_ep_iface(tl_ep);
    uct_habana_copy_ep_t *ep       = ucs_derived_of(tl_ep,
                                                    uct_habana_copy_ep_t);

    /* From inside a dispatch, requests it kept are in pending_kept */
    uct_habana_copy_ep_pending_purge_list(ep, &iface->pending_kept, cb, arg);
    uct_habana_copy_ep_pending_purge_list(ep, &iface->pending, cb, arg);
}

/*
 * One round over the pending list while the ring has space, as UCX's
 * arbiter does per ep: UCS_OK removes a request; UCS_INPROGRESS (progress
 * made, not done) keeps it in its place and skips the rest of its ep's
 * requests in this round; anything else keeps it and ends the round.
 * Requests are taken off the list while they run (a callback may purge or
 * add); kept ones wait in pending_kept and go back to the head, in order.
 */
unsigned uct_habana_copy_iface_dispatch_pending(uct_habana_copy_iface_t *iface)
{
    uint64_t gen   = ++iface->pending_gen;
    unsigned count = 0;
    uct_habana_copy_pending_priv_t *priv;
    uct_pending_req_t *req;
    ucs_status_t status;

    while (uct_habana_copy_iface_pending_ready(iface)) {
        priv = ucs_list_extract_head(&iface->pending,
                                     uct_habana_copy_pending_priv_t, list);
        if (priv->ep->pending_gen == gen) {
            /* an earlier request of this ep is not done yet */
            ucs_list_add_tail(&iface->pending_kept, &priv->list);
            continue;
        }

        --priv->ep->pending_count;
        req    = ucs_container_of((void*)priv, uct_pending_req_t, priv);
        status = req->func(req);
        if (status == UCS_OK) {
            ++count;
            continue;
        }

        ucs_list_add_tail(&iface->pending_kept, &priv->list);
        ++priv->ep->pending_count;
        if (status != UCS_INPROGRESS) {
            break;
        }

        ++count;
        priv->ep->pending_gen = gen;
    }

    /* pending = kept + pending */
    ucs_list_splice_tail(&iface->pending_kept, &iface->pending);
    ucs_list_head_init(&iface->pending);
    ucs_list_splice_tail(&iface->pending, &iface->pending_kept);
    ucs_list_head_init(&iface->pending_kept);
    return count;
}

/*
 * The ring is per iface and executes in order: an ep is flushed when
 * everything posted on the iface so far is complete.
 */
ucs_status_t uct_habana_copy_ep_flush(uct_ep_h tl_ep, unsigned flags,
                                      uct_completion_t *comp)
{
    uct_habana_copy_iface_t *iface = uct_habana_copy_ep_iface(tl_ep);
    uct_habana_copy_ep_t *ep       = ucs_derived_of(tl_ep,
                                                    uct_habana_copy_ep_t);

    /* Requests waiting in the pending list come first */
    if (ep->pending_count != 0) {
        return UCS_ERR_NO_RESOURCE;
    }

    if (uct_habana_copy_iface_is_idle(iface)) {
        return UCS_OK;
    }

    if (comp == NULL) {
        return UCS_INPROGRESS;
    }

    return uct_habana_copy_iface_add_flush(iface, comp);
}

ucs_status_t uct_habana_copy_ep_fence(uct_ep_h tl_ep, unsigned flags)
{
    uct_habana_copy_iface_set_fence(uct_habana_copy_ep_iface(tl_ep));
    return UCS_OK;
}
