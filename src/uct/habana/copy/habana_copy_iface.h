/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifndef UCT_HABANA_COPY_IFACE_H_
#define UCT_HABANA_COPY_IFACE_H_

#include "habana_copy_md.h"

#include <pthread.h>

/* UCT transport names are at most 9 characters (UCT_TL_NAME_MAX), so
 * "habana_copy" cannot be one: the copy transport is "habana", which is
 * also what UCX_TLS=...,habana selects. */
#define UCT_HABANA_COPY_TL_NAME "habana"

typedef uint64_t uct_habana_copy_iface_addr_t;

/* What a zero-copy operation does when the request ring is full */
typedef enum {
    /* Copy in the calling thread and return UCS_OK: UCP's memory-type copies
     * (rendezvous staging) cannot take UCS_ERR_NO_RESOURCE */
    UCT_HABANA_COPY_RING_FULL_COPY,
    /* Return UCS_ERR_NO_RESOURCE; the caller uses uct_ep_pending_add() */
    UCT_HABANA_COPY_RING_FULL_NO_RESOURCE,
    UCT_HABANA_COPY_RING_FULL_LAST
} uct_habana_copy_ring_full_t;

typedef struct uct_habana_copy_iface_config {
    uct_iface_config_t          super;
    double                      bandwidth;
    char                        *latency;  /* "auto" or a time */
    double                      overhead;
    size_t                      async_thresh;
    unsigned                    max_outstanding;
    uct_habana_copy_ring_full_t ring_full;
} uct_habana_copy_iface_config_t;

/*
 * One copy.  Resolved (memory, device, descriptor) by the UCX thread that
 * posts it; executed by the copy thread, which only runs the copy ioctl or
 * memcpy() on it and stores @status.
 */
typedef struct uct_habana_copy_req {
    uct_completion_t       *comp;
    void                   *dst;
    const void             *src;
    size_t                 length;
    habana_dma_t           *dma;            /* NULL: host to host */
    habana_dma_dir_t       dir;
    habana_dma_region_t    host_region;     /* the host side's memory
                                               handle; length 0: none */
    ucs_status_t           status;
} uct_habana_copy_req_t;

/*
 * The copy engine of one iface: a ring of requests and a thread.  Three
 * counters, which only grow, split the ring:
 *   [tail, done)  executed, completion not yet reported (UCX thread)
 *   [done, head)  posted, waiting for or in the copy thread
 * head and tail belong to the UCX thread; done to the copy thread, which
 * publishes it with release semantics after storing the request's status.
 * head is handed to the copy thread under @lock.
 */
typedef struct uct_habana_copy_engine {
    uct_habana_copy_req_t *reqs;
    unsigned              size;
    uint64_t              head;
    uint64_t              done;     /* atomic */
    uint64_t              tail;
    uint64_t              fence;    /* ops posted before the last fence */
    int                   armed;    /* atomic: signal the event fd */
    int                   stop;     /* atomic: copy thread must exit */
    int                   sleeping; /* copy thread waits on @cond */
    int                   running;  /* copy thread was started */
    int                   failed;   /* starting it failed: copy inline */
    pthread_mutex_t       lock;
    pthread_cond_t        cond;
    pthread_t             thread;
} uct_habana_copy_engine_t;

typedef struct uct_habana_copy_iface {
    uct_base_iface_t             super;
    uct_habana_copy_iface_addr_t id;           /* unique per process, iface */
    uct_habana_copy_engine_t     engine;
    int                          event_fd;     /* eventfd: copies completed */
    ucs_list_link_t              pending;      /* uct_pending_req_t, FIFO */
    ucs_list_link_t              pending_kept; /* kept by a running dispatch */
    uint64_t                     pending_gen;  /* dispatch rounds so far */
    ucs_list_link_t              flush_comps;  /* ep flushes, by seq */
    struct {
        double                      bandwidth;
        double                      latency;  /* 0: measure (auto) */
        double                      overhead;
        size_t                      async_thresh;
        uct_habana_copy_ring_full_t ring_full;
    } config;
} uct_habana_copy_iface_t;

extern uct_tl_t uct_habana_copy_tl;

/* The iface's internal ops by name, and laid out for the running UCX (at
 * module load, habana_base.c) */
extern const uct_habana_iface_internal_ops_t
        uct_habana_copy_iface_internal_ops;
extern uct_iface_internal_ops_t uct_habana_copy_iface_internal_slots;


/* uct_invoke_completion() is an inline of UCX's uninstalled uct_iface.h */
static UCS_F_ALWAYS_INLINE void
uct_habana_copy_invoke_completion(uct_completion_t *comp, ucs_status_t status)
{
    uct_completion_update_status(comp, status);
    if (--comp->count == 0) {
        comp->func(comp);
    }
}

static UCS_F_ALWAYS_INLINE int
uct_habana_copy_iface_has_space(const uct_habana_copy_iface_t *iface)
{
    return (iface->engine.head - iface->engine.tail) < iface->engine.size;
}

/* Progress has pending requests to run */
static UCS_F_ALWAYS_INLINE int
uct_habana_copy_iface_pending_ready(const uct_habana_copy_iface_t *iface)
{
    return !ucs_list_is_empty(&iface->pending) &&
           uct_habana_copy_iface_has_space(iface);
}

static UCS_F_ALWAYS_INLINE int
uct_habana_copy_iface_is_idle(const uct_habana_copy_iface_t *iface)
{
    return iface->engine.head == iface->engine.tail;
}

/* Hand @req to the copy thread: UCS_INPROGRESS, or UCS_ERR_NO_RESOURCE when
 * the ring is full, or an error if the copy thread cannot be started */
ucs_status_t uct_habana_copy_iface_post(uct_habana_copy_iface_t *iface,
                                        const uct_habana_copy_req_t *req);

/* Operations posted from now on are ordered after those posted before */
void uct_habana_copy_iface_set_fence(uct_habana_copy_iface_t *iface);

/* Before a copy in the calling thread: wait until the copies posted before
 * the last fence are executed */
void uct_habana_copy_iface_fence_wait(uct_habana_copy_iface_t *iface);

/* Completes @comp once everything posted so far is complete */
ucs_status_t uct_habana_copy_iface_add_flush(uct_habana_copy_iface_t *iface,
                                             uct_completion_t *comp);

#endif
