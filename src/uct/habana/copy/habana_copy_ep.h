/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifndef UCT_HABANA_COPY_EP_H_
#define UCT_HABANA_COPY_EP_H_

#include "habana_copy_iface.h"

typedef struct uct_habana_copy_ep {
    uct_base_ep_t super;
    unsigned      pending_count; /* requests in the iface's pending lists */
    uint64_t      pending_gen;   /* dispatch round that must skip this ep */
} uct_habana_copy_ep_t;

UCS_CLASS_DECLARE_NEW_FUNC(uct_habana_copy_ep_t, uct_ep_t,
                           const uct_ep_params_t*);
UCS_CLASS_DECLARE_DELETE_FUNC(uct_habana_copy_ep_t, uct_ep_t);

ucs_status_t uct_habana_copy_ep_put_short(uct_ep_h tl_ep, const void *buffer,
                                          unsigned length,
                                          uint64_t remote_addr,
                                          uct_rkey_t rkey);

ucs_status_t uct_habana_copy_ep_get_short(uct_ep_h tl_ep, void *buffer,
                                          unsigned length,
                                          uint64_t remote_addr,
                                          uct_rkey_t rkey);

ucs_status_t uct_habana_copy_ep_put_zcopy(uct_ep_h tl_ep, const uct_iov_t *iov,
                                          size_t iovcnt, uint64_t remote_addr,
                                          uct_rkey_t rkey,
                                          uct_completion_t *comp);

ucs_status_t uct_habana_copy_ep_get_zcopy(uct_ep_h tl_ep, const uct_iov_t *iov,
                                          size_t iovcnt, uint64_t remote_addr,
                                          uct_rkey_t rkey,
                                          uct_completion_t *comp);

ucs_status_t uct_habana_copy_ep_pending_add(uct_ep_h tl_ep,
                                            uct_pending_req_t *req,
                                            unsigned flags);

void uct_habana_copy_ep_pending_purge(uct_ep_h tl_ep,
                                      uct_pending_purge_callback_t cb,
                                      void *arg);

ucs_status_t uct_habana_copy_ep_flush(uct_ep_h tl_ep, unsigned flags,
                                      uct_completion_t *comp);

ucs_status_t uct_habana_copy_ep_fence(uct_ep_h tl_ep, unsigned flags);

/* Run the pending requests while the ring has space (UCX thread); returns
 * how many made progress */
unsigned uct_habana_copy_iface_dispatch_pending(uct_habana_copy_iface_t *iface);

/* Execute one resolved copy; called by the copy thread (and inline) */
ucs_status_t uct_habana_copy_req_exec(const uct_habana_copy_req_t *req);

#endif
