/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_mem.h"
#include "habana_stats.h"

#include <src/ucm/habana/ucm_habana.h>
#include <ucm/api/ucm.h>
#include <ucs/debug/log_def.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * A dma-buf exported for one whole mapping, kept until it is unmapped (or
 * its context closed).  The device and VA do not name a mapping: a new
 * context of the device hands out the same VAs, so the tracker's mapping
 * id is part of the key.
 */
typedef struct {
    dev_t    rdev;
    uint64_t id;
    uint64_t va;
    size_t   size;
    int      dmabuf_fd;
} uct_habana_export_t;

static struct {
    pthread_mutex_t                  lock;     /* the export cache */
    unsigned                         refcount; /* under init_lock */
    ucm_habana_mapping_find_func_t   find;
    ucm_habana_deferred_flush_func_t deferred_flush;
    ucm_habana_deferred_stats_func_t deferred_stats;
    ucm_habana_fd_epoch_func_t       fd_epoch;
    ucm_habana_fd_successor_func_t   fd_successor;
    uct_habana_export_t              *exports;
    unsigned                         count;
    unsigned                         capacity;
} uct_habana_mem = {
    .lock = PTHREAD_MUTEX_INITIALIZER
};

static void uct_habana_mem_remove_at(unsigned i)
{
    close(uct_habana_mem.exports[i].dmabuf_fd);
    uct_habana_mem.exports[i] =
            uct_habana_mem.exports[--uct_habana_mem.count];
}

void uct_habana_mem_forget(const void *addr, size_t length)
{
    uint64_t start = (uintptr_t)addr, end = start + length;
    uct_habana_export_t *exp;
    unsigned i;

    pthread_mutex_lock(&uct_habana_mem.lock);
    for (i = 0; i < uct_habana_mem.count;) {
        exp = &uct_habana_mem.exports[i];
        if ((exp->va < end) && (start < exp->va + exp->size)) {
            ucs_debug("habana: dropping dma-buf fd %d of va 0x%" PRIx64,
                      exp->dmabuf_fd, exp->va);
            uct_habana_mem_remove_at(i);
        } else {
            ++i;
        }
    }
    pthread_mutex_unlock(&uct_habana_mem.lock);
}

/* UCM reports device frees before the driver sees them: the driver
 * refuses to unmap memory while a dma-buf of it is alive. */
static void uct_habana_mem_free_event(ucm_event_type_t event_type,
                                      ucm_event_t *event, void *arg)
{
    if (event->mem_type.mem_type == UCS_MEMORY_TYPE_GAUDI) {
        uct_habana_mem_forget(event->mem_type.address, event->mem_type.size);
    }
}

/* libucm_habana is loaded with RTLD_LOCAL by the UCM module loader */
static void *uct_habana_mem_tracker_sym(const char *name)
{
    void *handle = dlopen(UCM_HABANA_LIBRARY, RTLD_LAZY | RTLD_NOLOAD);
    void *func   = NULL;

    if (handle != NULL) {
        func = dlsym(handle, name);
        dlclose(handle);
    }

    return (func != NULL) ? func : dlsym(RTLD_DEFAULT, name);
}

int uct_habana_mem_deferred_stats(uct_habana_deferred_stats_t *stats)
{
    ucm_habana_deferred_stats_t ucm_stats;

    if (uct_habana_mem.deferred_stats == NULL) {
        return 0;
    }

    uct_habana_mem.deferred_stats(&ucm_stats);
    stats->deferred = ucm_stats.deferred;
    stats->pending  = ucm_stats.pending;
    return 1;
}

void uct_habana_mem_deferred_flush(void)
{
    unsigned pending;

    if (uct_habana_mem.deferred_flush != NULL) {
        pending = uct_habana_mem.deferred_flush();
        ucs_debug("habana: %u deferred unmap(s) still wait for their "
                  "dma-bufs to be released", pending);
    }
}

/*
 * Serializes init and cleanup, the subscription included: a second init
 * returns only when the first one has subscribed, a cleanup unsubscribes
 * before a later init subscribes again.  Lock order: init_lock, then UCM's
 * event lock (inside ucm_set_event_handler), then uct_habana_mem.lock (our
 * free-event handler, called from UCM's dispatch); so uct_habana_mem.lock
 * is never held across a UCM call.
 */
static pthread_mutex_t uct_habana_mem_init_lock = PTHREAD_MUTEX_INITIALIZER;

static void uct_habana_mem_subscribe(void)
{
    ucs_status_t status;

    /* Subscribing loads the UCM modules, libucm_habana among them */
    status = ucm_set_event_handler(UCM_EVENT_MEM_TYPE_FREE, 1000,
                                   uct_habana_mem_free_event, NULL);
    if (status != UCS_OK) {
        ucs_diag("habana: cannot subscribe to device free events: %s",
                 ucs_status_string(status));
    }

    uct_habana_mem.find           = (ucm_habana_mapping_find_func_t)
            uct_habana_mem_tracker_sym(UCM_HABANA_MAPPING_FIND_SYM);
    uct_habana_mem.deferred_flush = (ucm_habana_deferred_flush_func_t)
            uct_habana_mem_tracker_sym(UCM_HABANA_DEFERRED_FLUSH_SYM);
    uct_habana_mem.deferred_stats = (ucm_habana_deferred_stats_func_t)
            uct_habana_mem_tracker_sym(UCM_HABANA_DEFERRED_STATS_SYM);
    __atomic_store_n(&uct_habana_mem.fd_successor,
                     (ucm_habana_fd_successor_func_t)
                     uct_habana_mem_tracker_sym(UCM_HABANA_FD_SUCCESSOR_SYM),
                     __ATOMIC_RELEASE);
    __atomic_store_n(&uct_habana_mem.fd_epoch, (ucm_habana_fd_epoch_func_t)
                     uct_habana_mem_tracker_sym(UCM_HABANA_FD_EPOCH_SYM),
                     __ATOMIC_RELEASE);
    ucs_debug("habana: device allocation tracking %s",
              (uct_habana_mem.find != NULL) ? "by libucm_habana" :
              "unavailable (libucm_habana not loaded)");
}

static void uct_habana_mem_drop_exports(void)
{
    pthread_mutex_lock(&uct_habana_mem.lock);
    while (uct_habana_mem.count > 0) {
        uct_habana_mem_remove_at(0);
    }
    free(uct_habana_mem.exports);
    uct_habana_mem.exports  = NULL;
    uct_habana_mem.capacity = 0;
    pthread_mutex_unlock(&uct_habana_mem.lock);
}

ucs_status_t uct_habana_mem_init(void)
{
    pthread_mutex_lock(&uct_habana_mem_init_lock);
    if (uct_habana_mem.refcount++ == 0) {
        uct_habana_mem_subscribe();
    }
    pthread_mutex_unlock(&uct_habana_mem_init_lock);
    return UCS_OK;
}

void uct_habana_mem_cleanup(void)
{
    pthread_mutex_lock(&uct_habana_mem_init_lock);
    if (uct_habana_mem.refcount == 0) {
        ucs_error("habana: device memory tracking cleaned up more often "
                  "than initialized");
    } else if (--uct_habana_mem.refcount == 0) {
        ucm_unset_event_handler(UCM_EVENT_MEM_TYPE_FREE,
                                uct_habana_mem_free_event, NULL);
        uct_habana_mem_drop_exports();
    }
    pthread_mutex_unlock(&uct_habana_mem_init_lock);
}

uint64_t uct_habana_mem_fd_epoch(int fd)
{
    ucm_habana_fd_epoch_func_t epoch = __atomic_load_n(
            &uct_habana_mem.fd_epoch, __ATOMIC_ACQUIRE);

    return (epoch != NULL) ? epoch(fd) : 0;
}

int uct_habana_mem_fd_successor(int fd, uint64_t epoch, uint64_t *epoch_p)
{
    ucm_habana_fd_successor_func_t successor = __atomic_load_n(
            &uct_habana_mem.fd_successor, __ATOMIC_ACQUIRE);

    return (successor != NULL) ? successor(fd, epoch, epoch_p) : -1;
}

/*
 * The device of a tracked mapping's descriptor.  The descriptor's epoch
 * (libucm_habana) says it is still the file seen last time, which spares
 * an fstat() per operation; one remembered descriptor per thread.
 */
static uct_habana_dev_t *
uct_habana_mem_dev_of(uct_habana_dev_list_t *devs, int fd)
{
    static __thread struct {
        int      fd;
        uint64_t epoch;
        dev_t    rdev;
    } last = {.fd = -1};
    uint64_t epoch = uct_habana_mem_fd_epoch(fd);
    struct stat st;
    unsigned i;

    if ((epoch == 0) || (fd != last.fd) || (epoch != last.epoch)) {
        if (fstat(fd, &st) != 0) {
            return NULL;
        }
        last.fd    = fd;
        last.epoch = epoch;
        last.rdev  = st.st_rdev;
    }

    for (i = 0; i < devs->count; ++i) {
        if (devs->dev[i].rdev == last.rdev) {
            return &devs->dev[i];
        }
    }

    return NULL;
}

/* Said once per process for each reason: UCX asks again per operation */
static void uct_habana_mem_report_ambiguous(const void *addr)
{
    static int reported = 0;

    if (!__atomic_exchange_n(&reported, 1, __ATOMIC_RELAXED)) {
        ucs_error("habana: %p is device memory of two devices of this "
                  "process (each device maps the same VAs): UCX cannot tell "
                  "them apart, so it gets no dma-buf and no copy; use one "
                  "Habana device per process", addr);
    }
}

static void uct_habana_mem_report_unowned(const void *addr)
{
    static int reported = 0;

    if (!__atomic_exchange_n(&reported, 1, __ATOMIC_RELAXED)) {
        ucs_error("habana: %p is a device address, but this process holds "
                  "no habana device open: freed or wrong pointer; it gets "
                  "no dma-buf and no copy", addr);
    }
}

/*
 * A device VA libucm_habana did not see mapped (mapped before tracking
 * started) belongs to the device this process holds open.  Every device
 * maps the same VAs: with two held the owner cannot be known, with none
 * there is no device memory.  Either way it stays device memory for UCX
 * (a host copy of it would fault), marked ambiguous.
 */
static void uct_habana_mem_untracked_owner(uct_habana_dev_list_t *devs,
                                           const void *addr,
                                           uct_habana_mem_info_t *info)
{
    unsigned i, held = 0;

    info->dev = &devs->dev[0];
    for (i = 0; i < devs->count; ++i) {
        if (uct_habana_dev_is_held(&devs->dev[i]) && (held++ == 0)) {
            info->dev = &devs->dev[i];
        }
    }

    info->ambiguous = (held != 1);
    if (held == 0) {
        uct_habana_mem_report_unowned(addr);
    } else if (held > 1) {
        uct_habana_mem_report_ambiguous(addr);
    }
}

ucs_status_t uct_habana_mem_resolve(uct_habana_dev_list_t *devs,
                                    const void *addr, size_t length,
                                    uct_habana_mem_info_t *info)
{
    ucm_habana_mapping_t tracked;
    int found;

    if ((devs->count == 0) || !uct_habana_va_in_device_range(addr, length)) {
        return UCS_ERR_INVALID_ADDR;
    }

    found = (uct_habana_mem.find != NULL) ?
            uct_habana_mem.find(addr, &tracked) : 0;
    if (found != 0) {
        info->dev             = uct_habana_mem_dev_of(devs, tracked.fd);
        info->mapping.va      = tracked.va;
        info->mapping.handle  = tracked.handle;
        info->tracked         = 1;
        info->tracked_size    = tracked.size;
        info->id              = tracked.id;
        info->ambiguous       = (found < 0);
        if (info->ambiguous) {
            uct_habana_mem_report_ambiguous(addr);
        }
        if (info->dev == NULL) {
            ucs_error("habana: %p is mapped on fd %d, which is no known "
                      "habana device", addr, tracked.fd);
            return UCS_ERR_NO_DEVICE;
        }
        /* The application's size; the driver mapped whole pages */
        info->mapping.size    = uct_habana_mem_page_align(info->dev,
                                                          tracked.size);
        return UCS_OK;
    }

    uct_habana_mem_untracked_owner(devs, addr, info);
    info->mapping.va     = (uintptr_t)addr;
    info->mapping.size   = length;
    info->mapping.handle = UCT_HABANA_HANDLE_UNKNOWN;
    info->tracked        = 0;
    info->tracked_size   = 0;
    info->id             = 0;
    return UCS_OK;
}

/* Lock held.  An export of the same device and VA but of another mapping
 * is stale (its free or close went unseen): dropped. */
static uct_habana_export_t *
uct_habana_mem_find_export(const uct_habana_mem_info_t *info)
{
    uct_habana_export_t *exp;
    unsigned i;

    for (i = 0; i < uct_habana_mem.count; ++i) {
        exp = &uct_habana_mem.exports[i];
        if ((exp->rdev != info->dev->rdev) ||
            (exp->va != info->mapping.va)) {
            continue;
        }

        if ((exp->id == info->id) && (exp->size == info->mapping.size)) {
            return exp;
        }

        ucs_debug("habana: dropping stale dma-buf fd %d of va 0x%" PRIx64
                  " (mapping %" PRIu64 ", now %" PRIu64 ")", exp->dmabuf_fd,
                  exp->va, exp->id, info->id);
        uct_habana_mem_remove_at(i);
        return NULL;
    }

    return NULL;
}

static ucs_status_t uct_habana_mem_add_export(const uct_habana_mem_info_t *info,
                                              int dmabuf_fd)
{
    uct_habana_export_t *exports;
    unsigned capacity;

    if (uct_habana_mem.count == uct_habana_mem.capacity) {
        capacity = (uct_habana_mem.capacity == 0) ? 16 :
                   (2 * uct_habana_mem.capacity);
        exports  = realloc(uct_habana_mem.exports,
                           capacity * sizeof(*exports));
        if (exports == NULL) {
            ucs_error("habana: failed to grow the dma-buf cache to %u",
                      capacity);
            return UCS_ERR_NO_MEMORY;
        }
        uct_habana_mem.exports  = exports;
        uct_habana_mem.capacity = capacity;
    }

    exports = &uct_habana_mem.exports[uct_habana_mem.count++];
    exports->rdev      = info->dev->rdev;
    exports->id        = info->id;
    exports->va        = info->mapping.va;
    exports->size      = info->mapping.size;
    exports->dmabuf_fd = dmabuf_fd;
    return UCS_OK;
}

static ucs_status_t uct_habana_mem_do_export(const uct_habana_mem_info_t *info,
                                             size_t length,
                                             ucs_log_level_t level,
                                             int *dmabuf_fd_p)
{
    uct_habana_dev_t *dev = info->dev;
    ucs_status_t status;
    int fd;

    status = uct_habana_dev_compute_fd(dev, &fd);
    if (status != UCS_OK) {
        return status;
    }

    status = uct_habana_abi_export(dev->abi, fd, dev->legacy_numbers,
                                   &info->mapping, 0, length, level,
                                   dmabuf_fd_p);
    if (status == UCS_OK) {
        uct_habana_stat_add(UCT_HABANA_STAT_EXPORTS, 1);
    }
    return status;
}

size_t uct_habana_mem_page_align(const uct_habana_dev_t *dev, size_t length)
{
    size_t page = dev->hw.dram_page_size ? dev->hw.dram_page_size : 4096;

    return (length + page - 1) / page * page;
}

ucs_status_t uct_habana_mem_export(const uct_habana_mem_info_t *info,
                                   ucs_log_level_t level, int *dmabuf_fd_p)
{
    uct_habana_export_t *exp;
    ucs_status_t status;
    int fd;

    if (!info->tracked) {
        /* The extent is unknown, so nothing would tell us when to drop a
         * cached export: hand out a one-off export of [addr, addr+len),
         * which the driver accepts only if addr starts a mapping. */
        return uct_habana_mem_do_export(
                info, uct_habana_mem_page_align(info->dev, info->mapping.size),
                level, dmabuf_fd_p);
    }

    pthread_mutex_lock(&uct_habana_mem.lock);
    exp = uct_habana_mem_find_export(info);
    if (exp == NULL) {
        status = uct_habana_mem_do_export(info, info->mapping.size, level,
                                          &fd);
        if (status != UCS_OK) {
            goto out;
        }

        status = uct_habana_mem_add_export(info, fd);
        if (status != UCS_OK) {
            close(fd);
            goto out;
        }
        exp = &uct_habana_mem.exports[uct_habana_mem.count - 1];
    } else {
        uct_habana_stat_add(UCT_HABANA_STAT_EXPORT_CACHE_HITS, 1);
    }

    *dmabuf_fd_p = dup(exp->dmabuf_fd);
    if (*dmabuf_fd_p < 0) {
        ucs_error("habana: dup(dma-buf fd %d) failed: %m", exp->dmabuf_fd);
        status = UCS_ERR_NO_RESOURCE;
    } else {
        status = UCS_OK;
    }

out:
    pthread_mutex_unlock(&uct_habana_mem.lock);
    return status;
}
