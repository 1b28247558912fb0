/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_copy_iface.h"
#include "habana_copy_ep.h"

#include <ucs/config/parser.h>
#include <ucs/sys/math.h>
#include <ucs/sys/string.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

/*
 * ASYNC_THRESH=auto: the copy thread pays off only with a core of its own.
 * hl_double and hlsim copy with the CPU; on 2 CPUs, two busy-polling ranks
 * and their copy threads share the cores, and tag_bw D<->D measured
 * 35-55% lower at 64 KiB-1 MiB than copying inline.
 */
#define UCT_HABANA_COPY_AUTO_ASYNC_THRESH   (64 * 1024)
#define UCT_HABANA_COPY_AUTO_ASYNC_MIN_CPUS 4
/* The copy latency UCX plans with until the engine is measured */
#define UCT_HABANA_COPY_LAT_FALLBACK_US     8

static const char *uct_habana_copy_ring_full_names[] = {
    [UCT_HABANA_COPY_RING_FULL_COPY]        = "copy",
    [UCT_HABANA_COPY_RING_FULL_NO_RESOURCE] = "no_resource",
    [UCT_HABANA_COPY_RING_FULL_LAST]        = NULL
};

/* An ep flush waiting for the copies posted before it */
typedef struct {
    ucs_list_link_t  list;
    uint64_t         seq;  /* complete when engine.tail reaches it */
    uct_completion_t *comp;
} uct_habana_copy_flush_comp_t;

static ucs_config_field_t uct_habana_copy_iface_config_table[] = {
    {"", "", NULL, ucs_offsetof(uct_habana_copy_iface_config_t, super),
     UCS_CONFIG_TYPE_TABLE(uct_iface_config_table)},

    {"BW", "10000MBs",
     "Bandwidth of host<->device copies, used in performance estimates",
     ucs_offsetof(uct_habana_copy_iface_config_t, bandwidth),
     UCS_CONFIG_TYPE_BW},

    {"LAT", "auto",
     "Fixed cost of one host<->device copy, used in performance estimates\n"
     "(as CPU time of the caller, who waits for copies below ASYNC_THRESH):\n"
     "a time, or \"auto\": what the device's copy engine takes to launch and\n"
     "complete an empty submission, measured once the application holds the\n"
     "device (" UCS_PP_MAKE_STRING(UCT_HABANA_COPY_LAT_FALLBACK_US)
     "us until then, and where the engine cannot tell)",
     ucs_offsetof(uct_habana_copy_iface_config_t, latency),
     UCS_CONFIG_TYPE_STRING},

    {"OVERHEAD", "2us",
     "CPU overhead of posting one copy, used in performance estimates",
     ucs_offsetof(uct_habana_copy_iface_config_t, overhead),
     UCS_CONFIG_TYPE_TIME},

    {"ASYNC_THRESH", "auto",
     "Zero-copy transfers of at least this size are executed by a copy\n"
     "thread of the interface and complete from its progress; smaller ones\n"
     "are copied by the caller. \"inf\": never start the copy thread;\n"
     "\"auto\": 64k if the process may run on at least 4 CPUs, else inf.",
     ucs_offsetof(uct_habana_copy_iface_config_t, async_thresh),
     UCS_CONFIG_TYPE_MEMUNITS},

    {"MAX_OUTSTANDING", "64",
     "Size of the interface's request ring: zero-copy transfers posted to\n"
     "the copy thread and not yet completed",
     ucs_offsetof(uct_habana_copy_iface_config_t, max_outstanding),
     UCS_CONFIG_TYPE_UINT},

    {"RING_FULL", "copy",
     "What a zero-copy transfer does when the request ring is full:\n"
     " copy        - copy in the calling thread and return UCS_OK (UCP's\n"
     "               memory-type staging copies cannot be retried)\n"
     " no_resource - return UCS_ERR_NO_RESOURCE (uct_ep_pending_add)",
     ucs_offsetof(uct_habana_copy_iface_config_t, ring_full),
     UCS_CONFIG_TYPE_ENUM(uct_habana_copy_ring_full_names)},

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

/* Why an address is unreachable, in the caller's info string (what
 * UCX's uct_iface_fill_info_str_buf does for its transports) */
static void UCS_F_PRINTF(2, 3)
uct_habana_copy_iface_unreachable_info(
        const uct_iface_is_reachable_params_t *params, const char *fmt, ...)
{
    va_list ap;

    if (!(params->field_mask & UCT_IFACE_IS_REACHABLE_FIELD_INFO_STRING) ||
        !(params->field_mask &
          UCT_IFACE_IS_REACHABLE_FIELD_INFO_STRING_LENGTH) ||
        (params->info_string == NULL) || (params->info_string_length == 0)) {
        return;
    }

    va_start(ap, fmt);
    vsnprintf(params->info_string, params->info_string_length, fmt, ap);
    va_end(ap);
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
        uct_habana_copy_iface_unreachable_info(params,
                                               "no interface address");
        return 0;
    }

    memcpy(&id, params->iface_addr, sizeof(id));
    if (id != iface->id) {
        uct_habana_copy_iface_unreachable_info(
                params, "habana interface 0x%" PRIx64 " is not this one "
                "(0x%" PRIx64 "): copies reach only their own process",
                id, iface->id);
        return 0;
    }

    if (!(params->field_mask & UCT_IFACE_IS_REACHABLE_FIELD_DEVICE_ADDR)) {
        return 1; /* the scope check needs the device address */
    }

    return uct_iface_scope_is_reachable(tl_iface, params);
}

/*
 * The copy latency UCX plans with.  "auto" measures the engine of the
 * device the application holds; UCX asks before that (worker creation),
 * and opening the device ourselves then would take it from the
 * application (one compute open per device): the fallback until then.
 */
static double uct_habana_copy_iface_latency(uct_habana_copy_iface_t *iface)
{
    uct_habana_md_t *md = ucs_derived_of(iface->super.md, uct_habana_md_t);
    const double fallback = UCT_HABANA_COPY_LAT_FALLBACK_US * 1e-6;
    double launch;
    habana_dma_t *dma;
    unsigned i;

    if (iface->config.latency > 0) {
        return iface->config.latency;
    }

    for (i = 0; i < md->devs.count; ++i) {
        if (uct_habana_dev_is_held(&md->devs.dev[i]) &&
            (uct_habana_dev_dma(&md->devs.dev[i], &dma) == UCS_OK)) {
            break;
        }
    }
    if (i == md->devs.count) {
        return fallback; /* asked again once a device is held */
    }

    /* The engine answered (0: its backend cannot tell): final */
    launch = habana_dma_launch_time(dma);
    ucs_debug("habana_copy: %s's copy engine ('%s') launches in %.2f us%s",
              md->devs.dev[i].name, habana_dma_backend_name(dma), launch * 1e6,
              (launch > 0) ? "" : ": unknown, using the fallback");
    iface->config.latency = (launch > 0) ? launch : fallback;
    return iface->config.latency;
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
    attr->cap.event_flags         = UCT_IFACE_FLAG_EVENT_SEND_COMP |
                                    UCT_IFACE_FLAG_EVENT_FD;
    attr->latency                 = ucs_linear_func_make(
                                        uct_habana_copy_iface_latency(iface),
                                        0);
    attr->bandwidth.dedicated     = 0;
    attr->bandwidth.shared        = iface->config.bandwidth;
    attr->overhead                = iface->config.overhead;
    attr->priority                = 0;
    return UCS_OK;
}

static UCS_CLASS_DECLARE_DELETE_FUNC(uct_habana_copy_iface_t, uct_iface_t);

/*
 * Copies are one-sided, nothing happens on the receive side.  The caller
 * posts a copy and, below ASYNC_THRESH (every copy where the copy thread is
 * off), waits for it: the engine's launch and completion are CPU time of
 * the caller, not latency that overlaps with other work.  UCP adds the
 * latency of a zero-copy memory-type copy to a factor it overlaps with the
 * CPU's, and so rated rendezvous (two zero-copy copies beside three
 * messages) below eager (two copies in the CPU's time) for 8-byte device
 * messages over sm: 11.1 against 20.3 us.  For copies above ASYNC_THRESH
 * the launch is counted as CPU time too, which bytes / bandwidth dwarf.
 */
static ucs_status_t uct_habana_copy_iface_estimate_perf(uct_iface_h tl_iface,
                                                       uct_perf_attr_t *attr)
{
    uct_habana_copy_iface_t *iface = ucs_derived_of(tl_iface,
                                                    uct_habana_copy_iface_t);

    if (attr->field_mask & UCT_PERF_ATTR_FIELD_SEND_PRE_OVERHEAD) {
        attr->send_pre_overhead = iface->config.overhead +
                                  uct_habana_copy_iface_latency(iface);
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
        attr->latency = ucs_linear_func_make(0, 0);
    }
    if (attr->field_mask & UCT_PERF_ATTR_FIELD_MAX_INFLIGHT_EPS) {
        attr->max_inflight_eps = SIZE_MAX;
    }
    if (attr->field_mask & UCT_PERF_ATTR_FIELD_FLAGS) {
        attr->flags = 0;
    }

    return UCS_OK;
}

/* ---- copy engine ---- */

static void uct_habana_copy_iface_signal(uct_habana_copy_iface_t *iface)
{
    uint64_t one = 1;
    ssize_t ret;

    do {
        ret = write(iface->event_fd, &one, sizeof(one));
    } while ((ret < 0) && (errno == EINTR));
    /* EAGAIN: the counter is saturated, the fd is readable anyway */
}

/*
 * The copy thread: executes posted requests in order.  It touches nothing
 * but the ring (under the lock, or its own slots), the copy ioctl or
 * memcpy(), and the event fd; a failing ioctl is logged by
 * uct_habana_abi_copy() (UCX logging is thread safe).
 */
static void *uct_habana_copy_iface_thread(void *arg)
{
    uct_habana_copy_iface_t *iface   = arg;
    uct_habana_copy_engine_t *engine = &iface->engine;
    uct_habana_copy_req_t *req;
    uint64_t seq, head;

    pthread_mutex_lock(&engine->lock);
    for (;;) {
        while (!engine->stop &&
               (__atomic_load_n(&engine->done, __ATOMIC_RELAXED) ==
                engine->head)) {
            engine->sleeping = 1;
            pthread_cond_wait(&engine->cond, &engine->lock);
            engine->sleeping = 0;
        }

        if (engine->stop) {
            break;
        }

        head = engine->head;
        pthread_mutex_unlock(&engine->lock);

        for (seq = __atomic_load_n(&engine->done, __ATOMIC_RELAXED);
             (seq < head) && !__atomic_load_n(&engine->stop, __ATOMIC_RELAXED);
             ++seq) {
            req         = &engine->reqs[seq % engine->size];
            req->status = uct_habana_copy_req_exec(req);
            /* Publishes req->status; sequentially consistent with 'armed'
             * against uct_habana_copy_iface_event_arm() */
            __atomic_store_n(&engine->done, seq + 1, __ATOMIC_SEQ_CST);
            if (__atomic_exchange_n(&engine->armed, 0, __ATOMIC_SEQ_CST)) {
                uct_habana_copy_iface_signal(iface);
            }
        }

        pthread_mutex_lock(&engine->lock);
    }
    pthread_mutex_unlock(&engine->lock);

    return NULL;
}

static ucs_status_t
uct_habana_copy_iface_start_thread(uct_habana_copy_iface_t *iface)
{
    uct_habana_copy_engine_t *engine = &iface->engine;
    sigset_t all, saved;
    int ret;

    /* Signals are for the application's threads and UCX's async thread */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    ret = pthread_create(&engine->thread, NULL, uct_habana_copy_iface_thread,
                         iface);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (ret != 0) {
        ucs_error("habana_copy: pthread_create() failed: %s; copying "
                  "synchronously", strerror(ret));
        engine->failed = 1;
        return UCS_ERR_IO_ERROR;
    }

    pthread_setname_np(engine->thread, "habana_copy");
    engine->running = 1;
    ucs_debug("habana_copy: iface %p started its copy thread (ring of %u)",
              iface, engine->size);
    return UCS_OK;
}

static void uct_habana_copy_iface_stop_thread(uct_habana_copy_iface_t *iface)
{
    uct_habana_copy_engine_t *engine = &iface->engine;
    uint64_t done;
    int ret;

    if (!engine->running) {
        return;
    }

    /* Copies not started yet are dropped; a running one is finished */
    pthread_mutex_lock(&engine->lock);
    __atomic_store_n(&engine->stop, 1, __ATOMIC_RELAXED);
    pthread_cond_signal(&engine->cond);
    pthread_mutex_unlock(&engine->lock);

    ret = pthread_join(engine->thread, NULL);
    if (ret != 0) {
        ucs_error("habana_copy: pthread_join() failed: %s", strerror(ret));
    }

    engine->running = 0;
    done            = __atomic_load_n(&engine->done, __ATOMIC_ACQUIRE);
    if (engine->head != engine->tail) {
        ucs_debug("habana_copy: iface %p closed with %" PRIu64 " copies not "
                  "reported complete (%" PRIu64 " not executed)", iface,
                  engine->head - engine->tail, engine->head - done);
    }
}

ucs_status_t uct_habana_copy_iface_post(uct_habana_copy_iface_t *iface,
                                        const uct_habana_copy_req_t *req)
{
    uct_habana_copy_engine_t *engine = &iface->engine;
    ucs_status_t status;

    if (!uct_habana_copy_iface_has_space(iface)) {
        return UCS_ERR_NO_RESOURCE;
    }

    if (ucs_unlikely(!engine->running)) {
        if (engine->failed) {
            return UCS_ERR_IO_ERROR;
        }

        status = uct_habana_copy_iface_start_thread(iface);
        if (status != UCS_OK) {
            return status;
        }
    }

    /* The slot is free: completed (tail moved past it) and not read by the
     * copy thread until head covers it */
    engine->reqs[engine->head % engine->size] = *req;

    pthread_mutex_lock(&engine->lock);
    ++engine->head;
    if (engine->sleeping) {
        pthread_cond_signal(&engine->cond);
    }
    pthread_mutex_unlock(&engine->lock);

    return UCS_INPROGRESS;
}

void uct_habana_copy_iface_set_fence(uct_habana_copy_iface_t *iface)
{
    iface->engine.fence = iface->engine.head;
}

void uct_habana_copy_iface_fence_wait(uct_habana_copy_iface_t *iface)
{
    uct_habana_copy_engine_t *engine = &iface->engine;

    /* The copy thread never waits for us: this ends (fences are rare) */
    while (__atomic_load_n(&engine->done, __ATOMIC_ACQUIRE) < engine->fence) {
        sched_yield();
    }
}

ucs_status_t uct_habana_copy_iface_add_flush(uct_habana_copy_iface_t *iface,
                                             uct_completion_t *comp)
{
    uct_habana_copy_flush_comp_t *flush;

    flush = malloc(sizeof(*flush));
    if (flush == NULL) {
        ucs_error("habana_copy: failed to allocate a flush completion");
        return UCS_ERR_NO_MEMORY;
    }

    flush->seq  = iface->engine.head;
    flush->comp = comp;
    ucs_list_add_tail(&iface->flush_comps, &flush->list);
    return UCS_INPROGRESS;
}

static void
uct_habana_copy_iface_complete_flushes(uct_habana_copy_iface_t *iface)
{
    uct_habana_copy_flush_comp_t *flush;

    while (!ucs_list_is_empty(&iface->flush_comps)) {
        flush = ucs_list_head(&iface->flush_comps,
                              uct_habana_copy_flush_comp_t, list);
        if (flush->seq > iface->engine.tail) {
            break;
        }

        ucs_list_del(&flush->list);
        uct_habana_copy_invoke_completion(flush->comp, UCS_OK);
        free(flush);
    }
}

/* Report executed copies, then complete flushes and run pending requests */
static unsigned uct_habana_copy_iface_progress(uct_iface_h tl_iface)
{
    uct_habana_copy_iface_t *iface   = ucs_derived_of(tl_iface,
                                                      uct_habana_copy_iface_t);
    uct_habana_copy_engine_t *engine = &iface->engine;
    uint64_t done = __atomic_load_n(&engine->done, __ATOMIC_ACQUIRE);
    uct_habana_copy_req_t *req;
    uct_completion_t *comp;
    ucs_status_t status;
    unsigned count;

    if (ucs_likely(engine->tail == done) &&
        !uct_habana_copy_iface_pending_ready(iface)) {
        return 0;
    }

    for (count = 0; engine->tail < done; ++count) {
        req    = &engine->reqs[engine->tail % engine->size];
        comp   = req->comp;
        status = req->status;
        /* Free the slot first: the callback may post again */
        ++engine->tail;
        if (comp != NULL) {
            uct_habana_copy_invoke_completion(comp, status);
        }
    }

    uct_habana_copy_iface_complete_flushes(iface);
    /* Also when nothing completed: a request that made progress without
     * finishing (UCS_INPROGRESS) waits for the next round */
    return count + uct_habana_copy_iface_dispatch_pending(iface);
}

static ucs_status_t uct_habana_copy_iface_flush(uct_iface_h tl_iface,
                                                unsigned flags,
                                                uct_completion_t *comp)
{
    uct_habana_copy_iface_t *iface = ucs_derived_of(tl_iface,
                                                    uct_habana_copy_iface_t);

    if (comp != NULL) {
        return UCS_ERR_UNSUPPORTED;
    }

    return uct_habana_copy_iface_is_idle(iface) ? UCS_OK : UCS_INPROGRESS;
}

static ucs_status_t uct_habana_copy_iface_fence(uct_iface_h tl_iface,
                                                unsigned flags)
{
    uct_habana_copy_iface_set_fence(ucs_derived_of(tl_iface,
                                                   uct_habana_copy_iface_t));
    return UCS_OK;
}

static ucs_status_t uct_habana_copy_iface_event_fd_get(uct_iface_h tl_iface,
                                                       int *fd_p)
{
    uct_habana_copy_iface_t *iface = ucs_derived_of(tl_iface,
                                                    uct_habana_copy_iface_t);

    *fd_p = iface->event_fd;
    return UCS_OK;
}

/* The event fd becomes readable when a copy completes after arming */
static ucs_status_t uct_habana_copy_iface_event_arm(uct_iface_h tl_iface,
                                                    unsigned events)
{
    uct_habana_copy_iface_t *iface   = ucs_derived_of(tl_iface,
                                                      uct_habana_copy_iface_t);
    uct_habana_copy_engine_t *engine = &iface->engine;
    uint64_t value;
    ssize_t ret;

    if (!(events & UCT_EVENT_SEND_COMP)) {
        return UCS_OK; /* nothing else is ever signaled */
    }

    do {
        ret = read(iface->event_fd, &value, sizeof(value));
    } while ((ret < 0) && (errno == EINTR));
    if ((ret < 0) && (errno != EAGAIN)) {
        ucs_error("habana_copy: read(event fd %d) failed: %s",
                  iface->event_fd, strerror(errno));
        return UCS_ERR_IO_ERROR;
    }

    /* Arm, then look: a copy finishing in between either is seen here or
     * sees 'armed' and signals (both sides sequentially consistent) */
    __atomic_store_n(&engine->armed, 1, __ATOMIC_SEQ_CST);
    if ((engine->tail != __atomic_load_n(&engine->done, __ATOMIC_SEQ_CST)) ||
        uct_habana_copy_iface_pending_ready(iface)) {
        return UCS_ERR_BUSY;
    }

    return UCS_OK;
}

static uct_iface_ops_t uct_habana_copy_iface_ops = {
    .ep_put_short             = uct_habana_copy_ep_put_short,
    .ep_get_short             = uct_habana_copy_ep_get_short,
    .ep_put_zcopy             = uct_habana_copy_ep_put_zcopy,
    .ep_get_zcopy             = uct_habana_copy_ep_get_zcopy,
    .ep_pending_add           = uct_habana_copy_ep_pending_add,
    .ep_pending_purge         = uct_habana_copy_ep_pending_purge,
    .ep_flush                 = uct_habana_copy_ep_flush,
    .ep_fence                 = uct_habana_copy_ep_fence,
    .ep_create                = UCS_CLASS_NEW_FUNC_NAME(uct_habana_copy_ep_t),
    .ep_destroy               = UCS_CLASS_DELETE_FUNC_NAME(uct_habana_copy_ep_t),
    .iface_flush              = uct_habana_copy_iface_flush,
    .iface_fence              = uct_habana_copy_iface_fence,
    .iface_progress_enable    = uct_base_iface_progress_enable,
    .iface_progress_disable   = uct_base_iface_progress_disable,
    .iface_progress           = uct_habana_copy_iface_progress,
    .iface_event_fd_get       = uct_habana_copy_iface_event_fd_get,
    .iface_event_arm          = uct_habana_copy_iface_event_arm,
    .iface_close              = UCS_CLASS_DELETE_FUNC_NAME(
                                        uct_habana_copy_iface_t),
    .iface_query              = uct_habana_copy_iface_query,
    .iface_get_device_address = (void*)ucs_empty_function_return_success,
    .iface_get_address        = uct_habana_copy_iface_get_address,
    .iface_is_reachable       = uct_base_iface_is_reachable
};

uct_iface_internal_ops_t uct_habana_copy_iface_internal_slots;

const uct_habana_iface_internal_ops_t uct_habana_copy_iface_internal_ops = {
    .iface_query_v2         = NULL, /* UCX's uct_iface_base_query_v2 */
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

static size_t uct_habana_copy_iface_async_thresh(size_t config_thresh)
{
    cpu_set_t cpus;
    int num_cpus;

    if (config_thresh != UCS_MEMUNITS_AUTO) {
        return config_thresh;
    }

    if (sched_getaffinity(0, sizeof(cpus), &cpus) != 0) {
        ucs_debug("habana_copy: sched_getaffinity() failed: %s",
                  strerror(errno));
        num_cpus = 1;
    } else {
        num_cpus = CPU_COUNT(&cpus);
    }

    ucs_debug("habana_copy: %d CPUs: asynchronous copies %s", num_cpus,
              (num_cpus >= UCT_HABANA_COPY_AUTO_ASYNC_MIN_CPUS) ?
              "from 64 KiB" : "off");
    return (num_cpus >= UCT_HABANA_COPY_AUTO_ASYNC_MIN_CPUS) ?
           UCT_HABANA_COPY_AUTO_ASYNC_THRESH : UCS_MEMUNITS_INF;
}

static ucs_status_t uct_habana_copy_iface_parse_latency(const char *value,
                                                        double *latency_p)
{
    if (!strcmp(value, "auto")) {
        *latency_p = 0;
        return UCS_OK;
    }

    if (!ucs_config_sscanf_time(value, latency_p, NULL) || (*latency_p <= 0)) {
        ucs_error("habana_copy: UCX_HABANA_COPY_LAT=%s is neither \"auto\" "
                  "nor a positive time such as 8us", value);
        return UCS_ERR_INVALID_PARAM;
    }
    return UCS_OK;
}

static UCS_CLASS_INIT_FUNC(uct_habana_copy_iface_t, uct_md_h md,
                           uct_worker_h worker,
                           const uct_iface_params_t *params,
                           const uct_iface_config_t *tl_config)
{
    const uct_habana_copy_iface_config_t *config =
            ucs_derived_of(tl_config, uct_habana_copy_iface_config_t);
    uct_habana_copy_engine_t *engine = &self->engine;
    ucs_status_t status;
    int ret;

    UCS_CLASS_CALL_SUPER_INIT(uct_base_iface_t, &uct_habana_copy_iface_ops,
                              &uct_habana_copy_iface_internal_slots, md,
                              worker, params, tl_config,
                              UCT_HABANA_BASE_IFACE_STATS_ARGS(params,
                                                               "habana"));

    if (config->max_outstanding == 0) {
        ucs_error("habana_copy: MAX_OUTSTANDING must be at least 1");
        return UCS_ERR_INVALID_PARAM;
    }

    if (getrandom(&self->id, sizeof(self->id), 0) != sizeof(self->id)) {
        self->id = (uintptr_t)self ^ ((uint64_t)getpid() << 32);
    }

    self->config.bandwidth    = config->bandwidth;
    status = uct_habana_copy_iface_parse_latency(config->latency,
                                                 &self->config.latency);
    if (status != UCS_OK) {
        return status;
    }

    self->config.overhead     = config->overhead;
    self->config.async_thresh = uct_habana_copy_iface_async_thresh(
                                        config->async_thresh);
    self->config.ring_full    = config->ring_full;
    ucs_list_head_init(&self->pending);
    ucs_list_head_init(&self->pending_kept);
    self->pending_gen = 0;
    ucs_list_head_init(&self->flush_comps);

    memset(engine, 0, sizeof(*engine));
    engine->size = config->max_outstanding;
    engine->reqs = calloc(engine->size, sizeof(*engine->reqs));
    if (engine->reqs == NULL) {
        ucs_error("habana_copy: failed to allocate a ring of %u requests",
                  engine->size);
        return UCS_ERR_NO_MEMORY;
    }

    ret = pthread_mutex_init(&engine->lock, NULL);
    if (ret != 0) {
        ucs_error("habana_copy: pthread_mutex_init() failed: %s",
                  strerror(ret));
        status = UCS_ERR_IO_ERROR;
        goto err_free_reqs;
    }

    ret = pthread_cond_init(&engine->cond, NULL);
    if (ret != 0) {
        ucs_error("habana_copy: pthread_cond_init() failed: %s",
                  strerror(ret));
        status = UCS_ERR_IO_ERROR;
        goto err_destroy_lock;
    }

    self->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->event_fd < 0) {
        ucs_error("habana_copy: eventfd() failed: %s", strerror(errno));
        status = UCS_ERR_IO_ERROR;
        goto err_destroy_cond;
    }

    return UCS_OK;

err_destroy_cond:
    pthread_cond_destroy(&engine->cond);
err_destroy_lock:
    pthread_mutex_destroy(&engine->lock);
err_free_reqs:
    free(engine->reqs);
    return status;
}

static UCS_CLASS_CLEANUP_FUNC(uct_habana_copy_iface_t)
{
    uct_habana_copy_flush_comp_t *flush;

    uct_base_iface_progress_disable(&self->super.super,
                                    UCT_PROGRESS_SEND | UCT_PROGRESS_RECV);
    uct_habana_copy_iface_stop_thread(self);

    /* Outstanding completions are not reported after close */
    while (!ucs_list_is_empty(&self->flush_comps)) {
        flush = ucs_list_extract_head(&self->flush_comps,
                                      uct_habana_copy_flush_comp_t, list);
        free(flush);
    }

    close(self->event_fd);
    pthread_cond_destroy(&self->engine.cond);
    pthread_mutex_destroy(&self->engine.lock);
    free(self->engine.reqs);
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
