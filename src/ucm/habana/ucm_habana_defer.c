/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * Unmaps and frees the driver refused while a dma-buf of the memory was
 * alive (a NIC registration in UCX's registration cache): the application
 * was told success; they are retried with a growing delay on later memory
 * ioctls, at once when an allocation runs out of memory, and when the
 * habana memory domain closes.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "ucm_habana_priv.h"

#include <drm/habanalabs_accel.h>
#include <errno.h>
#include <string.h>
#include <time.h>

static uint64_t ucm_habana_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int ucm_habana_driver_memory(const ucm_habana_deferred_t *d,
                                    uint32_t op)
{
    union hl_mem_args args;

    memset(&args, 0, sizeof(args));
    args.in.op = op;
    if (op == HL_MEM_OP_UNMAP) {
        args.in.unmap.device_virt_addr = d->va;
    } else {
        args.in.free.handle = d->handle;
    }
    return ucm_habana.orig_ioctl(d->fd, d->request, &args);
}

/* Lock held.  Returns 1 when @d is done (or its context is gone). */
static int ucm_habana_deferred_retry_one(ucm_habana_deferred_t *d,
                                         uint64_t now, int force)
{
    if (ucm_habana_fd_rdev(d->fd) != d->rdev) {
        return 1; /* closed: the context and its memory go with the last
                     dma-buf reference */
    }

    if (!force && (now < d->next_try_ns)) {
        return 0;
    }

    if (d->unmap_pending) {
        if (ucm_habana_driver_memory(d, HL_MEM_OP_UNMAP) != 0) {
            goto later;
        }
        d->unmap_pending = 0;
    }

    if (d->free_pending &&
        (ucm_habana_driver_memory(d, HL_MEM_OP_FREE) != 0) &&
        ((errno == EINVAL) || (errno == EBUSY))) {
        goto later; /* exported by handle: still referenced */
    }

    return !d->unmap_pending;

later:
    d->next_try_ns = now + d->delay_ns;
    d->delay_ns    = (d->delay_ns * 2 < UCM_HABANA_RETRY_MAX_NS) ?
                     (d->delay_ns * 2) : UCM_HABANA_RETRY_MAX_NS;
    return 0;
}

unsigned ucm_habana_deferred_retry(int force)
{
    uint64_t now = ucm_habana_now_ns();
    unsigned i, pending;

    pthread_mutex_lock(&ucm_habana.lock);
    for (i = 0; i < ucm_habana.num_deferred;) {
        if (ucm_habana_deferred_retry_one(&ucm_habana.deferred[i], now,
                                          force)) {
            ucm_habana.deferred[i] =
                    ucm_habana.deferred[--ucm_habana.num_deferred];
        } else {
            ++i;
        }
    }
    pending = ucm_habana.num_deferred;
    pthread_mutex_unlock(&ucm_habana.lock);
    return pending;
}

int ucm_habana_deferred_add(int fd, dev_t rdev, unsigned long request,
                            uint64_t va, uint64_t handle, int unmap_pending)
{
    ucm_habana_deferred_t *d;

    if ((ucm_habana.num_deferred == ucm_habana.max_deferred) &&
        (ucm_habana_grow((void**)&ucm_habana.deferred,
                         &ucm_habana.max_deferred, sizeof(*d)) != 0)) {
        return -1;
    }

    d                = &ucm_habana.deferred[ucm_habana.num_deferred++];
    d->fd            = fd;
    d->rdev          = rdev;
    d->request       = request;
    d->va            = va;
    d->handle        = handle;
    d->unmap_pending = unmap_pending;
    d->free_pending  = !unmap_pending;
    d->delay_ns      = UCM_HABANA_RETRY_MIN_NS;
    d->next_try_ns   = 0;
    ++ucm_habana.total_deferred;
    return 0;
}

/* A FREE the driver refused because the allocation is exported (by
 * handle): retried like a deferred unmap.  Returns 1 if deferred. */
int ucm_habana_defer_refused_free(int fd, unsigned long request,
                                         uint64_t handle)
{
    ucm_habana_alloc_t *alloc;
    int deferred = 0;

    pthread_mutex_lock(&ucm_habana.lock);
    alloc = ucm_habana_alloc_find(fd, handle);
    if ((alloc != NULL) && alloc->exported) {
        deferred = (ucm_habana_deferred_add(fd, ucm_habana_fd_rdev(fd),
                                            request, 0, handle, 0) == 0);
    }
    pthread_mutex_unlock(&ucm_habana.lock);
    return deferred;
}

/* FREE of a handle whose unmap is deferred: deferred with it */
int ucm_habana_defer_free(int fd, uint64_t handle)
{
    ucm_habana_deferred_t *d;
    int deferred = 0;

    pthread_mutex_lock(&ucm_habana.lock);
    for (d = ucm_habana.deferred;
         d < ucm_habana.deferred + ucm_habana.num_deferred; ++d) {
        if ((d->fd == fd) && (d->handle == handle) && !d->free_pending) {
            d->free_pending = 1;
            deferred        = 1;
            break;
        }
    }
    pthread_mutex_unlock(&ucm_habana.lock);
    return deferred;
}

unsigned ucm_habana_deferred_flush(void)
{
    return (ucm_habana.orig_ioctl != NULL) ? ucm_habana_deferred_retry(1) : 0;
}

void ucm_habana_deferred_stats(ucm_habana_deferred_stats_t *stats)
{
    pthread_mutex_lock(&ucm_habana.lock);
    stats->deferred = ucm_habana.total_deferred;
    stats->pending  = ucm_habana.num_deferred;
    pthread_mutex_unlock(&ucm_habana.lock);
}
