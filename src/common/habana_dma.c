/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_dma_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Copies up to this size go through the bounce buffer */
#define HABANA_DMA_BOUNCE_SIZE    (1ul << 20)
/* With the cache, copies above this size map the caller's pages */
#define HABANA_DMA_CACHED_MIN     (64ul << 10)
/* Smaller copies above this size go direct where the pages stay mapped
 * (cached, or in a registered region): a bounce adds a CPU copy.  Up to it
 * the bounce's copy is small beside the launch, and the bounce buffer is
 * warm in the CPU's cache (hl_double: 16 KiB over sm 4 % faster bounced,
 * 64 KiB 9 % faster direct) */
#define HABANA_DMA_DIRECT_MIN     (16ul << 10)
/* Bounds of the cache (hlsim pins at most 1 GiB per context by default:
 * room is left for the bounce buffer and mappings of one copy) */
#define HABANA_DMA_CACHE_BYTES    (768ul << 20)
/* Entries, unless the caller says: the sm transport's sender attaches each
 * of the receiver's staging fragments apart (ucp_ep_peer_mem_get), 1024 of
 * them at 16 MiB messages, and keeps them */
#define HABANA_DMA_CACHE_ENTRIES  2048
/* Entries used within this many lookups, per entry, are in use (see
 * habana_dma_cache_thrashing) */
#define HABANA_DMA_CACHE_RECENT   4

/* Engine calls this thread is inside (see habana_dma_thread_busy()) */
static __thread unsigned habana_dma_depth;

static void habana_dma_lock(habana_dma_t *dma)
{
    pthread_mutex_lock(&dma->lock);
    ++habana_dma_depth;
}

static void habana_dma_unlock(habana_dma_t *dma)
{
    --habana_dma_depth;
    pthread_mutex_unlock(&dma->lock);
}

int habana_dma_thread_busy(void)
{
    return habana_dma_depth > 0;
}

static const habana_dma_backend_t *const habana_dma_backends[] = {
    &habana_dma_backend_cs,
    &habana_dma_backend_synapse,
    NULL
};

int habana_dma_fail(habana_dma_t *dma, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(dma->error, sizeof(dma->error), fmt, ap);
    va_end(ap);
    return err;
}

static uintptr_t habana_dma_page_down(uintptr_t addr)
{
    return addr & ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);
}

static uintptr_t habana_dma_page_up(uintptr_t addr)
{
    uintptr_t page = sysconf(_SC_PAGESIZE);

    return (addr + page - 1) & ~(page - 1);
}

/*
 * The cache is an array sorted by start address.  Entries may overlap (a
 * whole registered region and an earlier mapping of some of its pages), so
 * a lookup walks back from the last entry starting at or below the address
 * as far as the widest entry could reach: a copy on a hit costs a binary
 * search, not a walk of every entry (there are 2048 of them with many
 * staging fragments attached).
 */

/* Index of the first entry that starts above @addr */
static unsigned habana_dma_cache_upper(const habana_dma_t *dma, uintptr_t addr)
{
    unsigned low = 0, high = dma->count, mid;

    while (low < high) {
        mid = low + (high - low) / 2;
        if (dma->maps[mid].start <= addr) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    return low;
}

/* Out of the cache first: unmapping may re-enter (see habana_dma_open) */
static void habana_dma_cache_drop(habana_dma_t *dma, unsigned i)
{
    habana_dma_host_map_t map = dma->maps[i];

    memmove(&dma->maps[i], &dma->maps[i + 1],
            (dma->count - i - 1) * sizeof(*dma->maps));
    if (--dma->count == 0) {
        dma->widest = 0;
    }
    dma->pinned -= map.end - map.start;
    dma->backend->unmap_host(dma, (void*)map.start, map.end - map.start,
                             map.dev_addr);
}

/* The cache has room */
static void habana_dma_cache_insert(habana_dma_t *dma, uintptr_t start,
                                    uintptr_t end, uint64_t dev_addr)
{
    unsigned i = habana_dma_cache_upper(dma, start);
    habana_dma_host_map_t *map;

    memmove(&dma->maps[i + 1], &dma->maps[i],
            (dma->count - i) * sizeof(*dma->maps));
    ++dma->count;
    map           = &dma->maps[i];
    map->start    = start;
    map->end      = end;
    map->dev_addr = dev_addr;
    map->last_use = ++dma->clock;
    dma->pinned  += end - start;
    if (end - start > dma->widest) {
        dma->widest = end - start;
    }
}

/* The least recently used entry (the cache is not empty) */
static unsigned habana_dma_cache_lru(const habana_dma_t *dma)
{
    unsigned i, lru = 0;

    for (i = 1; i < dma->count; ++i) {
        if (dma->maps[i].last_use < dma->maps[lru].last_use) {
            lru = i;
        }
    }
    return lru;
}

static void habana_dma_cache_flush(habana_dma_t *dma)
{
    while (dma->count > 0) {
        habana_dma_cache_drop(dma, dma->count - 1);
    }
}

static int habana_dma_cache_lookup(habana_dma_t *dma, uintptr_t addr,
                                   size_t length, uint64_t *dev_addr)
{
    unsigned i = habana_dma_cache_upper(dma, addr);
    habana_dma_host_map_t *map;

    /* an entry that contains the range starts above addr + length - widest */
    while (i-- > 0) {
        map = &dma->maps[i];
        if (map->start + dma->widest < addr + length) {
            break;
        }
        if (addr + length <= map->end) {
            map->last_use = ++dma->clock;
            *dev_addr     = map->dev_addr + (addr - map->start);
            return 1;
        }
    }
    return 0;
}

/* Map whole pages; ENOMEM from the driver retried once on an empty cache */
static int habana_dma_map_pages(habana_dma_t *dma, uintptr_t start,
                                uintptr_t end, uint64_t *dev_addr)
{
    int ret;

    ret = dma->backend->map_host(dma, (void*)start, end - start, dev_addr);
    if ((ret == -ENOMEM) && (dma->count > 0)) {
        habana_dma_cache_flush(dma);
        ret = dma->backend->map_host(dma, (void*)start, end - start,
                                     dev_addr);
    }
    dma->host_maps += (ret == 0);
    return ret;
}

static int habana_dma_cache_full(const habana_dma_t *dma, size_t length)
{
    return (dma->count == dma->capacity) ||
           (dma->pinned + length > HABANA_DMA_CACHE_BYTES);
}

/*
 * The cache is full and every entry was used within the last few copies:
 * the caller cycles through more host memory than the cache holds (UCX's
 * staging fragments of large messages do), and mapping each copy anew,
 * evicting what the next copies need, costs more than the bounce buffer.
 * Entries the caller stopped using age out, and are evicted again.
 */
static int habana_dma_cache_thrashing(const habana_dma_t *dma)
{
    return (dma->count > 0) &&
           (dma->clock - dma->maps[habana_dma_cache_lru(dma)].last_use <
            HABANA_DMA_CACHE_RECENT * (uint64_t)dma->capacity);
}

/*
 * Whether a miss of [addr, addr + length) maps the region it lies in: one
 * mapping then serves every fragment of a staging pool (UCX keeps more of
 * them in flight than the cache has entries).  Not a region so large that
 * it would take more than a quarter of the cache's pinned budget.
 */
static int habana_dma_region_maps(const habana_dma_region_t *region,
                                  uintptr_t addr, size_t length)
{
    return (region != NULL) && (addr >= region->start) &&
           (addr + length <= region->start + region->length) &&
           (region->length > length) &&
           (region->length <= HABANA_DMA_CACHE_BYTES / 4);
}

/*
 * The device address of host memory [addr, addr + length): from the cache,
 * else newly mapped (kept in the cache when the engine has one, else
 * *temporary is set and the caller unmaps it).
 */
static int habana_dma_host_addr(habana_dma_t *dma, const void *addr,
                                size_t length,
                                const habana_dma_region_t *region,
                                uint64_t *dev_addr,
                                habana_dma_host_map_t *temporary)
{
    uintptr_t start = habana_dma_page_down((uintptr_t)addr);
    uintptr_t end   = habana_dma_page_up((uintptr_t)addr + length);
    uint64_t base;
    int ret, whole;

    temporary->start = 0;
    if (dma->params.cache_host &&
        habana_dma_cache_lookup(dma, (uintptr_t)addr, length, dev_addr)) {
        return 0;
    }

    whole = dma->params.cache_host &&
            habana_dma_region_maps(region, (uintptr_t)addr, length);
    if (whole) {
        start = habana_dma_page_down(region->start);
        end   = habana_dma_page_up(region->start + region->length);
    }

    ++dma->clock; /* misses age the entries too */
    if (dma->params.cache_host && (length <= HABANA_DMA_BOUNCE_SIZE) &&
        habana_dma_cache_full(dma, end - start) &&
        habana_dma_cache_thrashing(dma)) {
        ++dma->bounced_misses;
        return -ENOSPC; /* the caller bounces it */
    }

    if (dma->params.cache_host) {
        while ((dma->count > 0) && habana_dma_cache_full(dma, end - start)) {
            habana_dma_cache_drop(dma, habana_dma_cache_lru(dma));
        }
    }

    ret = habana_dma_map_pages(dma, start, end, &base);
    if ((ret != 0) && whole) {
        /* the region cannot be pinned whole (the driver's budget, a part
         * it cannot pin): the copy's own pages may still be */
        start = habana_dma_page_down((uintptr_t)addr);
        end   = habana_dma_page_up((uintptr_t)addr + length);
        ret   = habana_dma_map_pages(dma, start, end, &base);
    }
    if (ret != 0) {
        return ret;
    }

    *dev_addr = base + ((uintptr_t)addr - start);
    if (!dma->params.cache_host ||
        (end - start > HABANA_DMA_CACHE_BYTES)) {
        temporary->start    = start;
        temporary->end      = end;
        temporary->dev_addr = base;
        return 0;
    }

    habana_dma_cache_insert(dma, start, end, base);
    return 0;
}

/* Through the bounce buffer, in pieces of its size */
static int habana_dma_copy_bounced(habana_dma_t *dma, void *dst,
                                   const void *src, size_t length,
                                   habana_dma_dir_t dir)
{
    size_t offset, chunk;
    int ret;

    for (offset = 0; offset < length; offset += chunk) {
        chunk = length - offset;
        if (chunk > HABANA_DMA_BOUNCE_SIZE) {
            chunk = HABANA_DMA_BOUNCE_SIZE;
        }

        if (dir == HABANA_DMA_H2D) {
            memcpy(dma->bounce, (const char*)src + offset, chunk);
            ret = dma->backend->copy(dma, (uintptr_t)dst + offset,
                                     dma->bounce_dev, chunk, dir);
        } else {
            ret = dma->backend->copy(dma, dma->bounce_dev,
                                     (uintptr_t)src + offset, chunk, dir);
            if (ret == 0) {
                memcpy((char*)dst + offset, dma->bounce, chunk);
            }
        }
        if (ret != 0) {
            return ret;
        }
    }
    return 0;
}

/*
 * The device address of the host side of a copy that goes direct, rather
 * than through the bounce buffer; nonzero: it is bounced.  Mapping costs
 * more than bouncing a small copy, unless the mapping is kept: small
 * copies go direct only from pages already in the cache, or in a region
 * the caller registered (UCX's staging chunks), which is mapped once for
 * all its fragments.
 */
static int habana_dma_host_direct(habana_dma_t *dma, const void *host,
                                  size_t length,
                                  const habana_dma_region_t *region,
                                  uint64_t *host_dev,
                                  habana_dma_host_map_t *temporary)
{
    if (length <= (dma->params.cache_host ? HABANA_DMA_DIRECT_MIN :
                                            HABANA_DMA_BOUNCE_SIZE)) {
        return -1;
    }

    if (dma->params.cache_host && (length <= HABANA_DMA_CACHED_MIN) &&
        !habana_dma_region_maps(region, (uintptr_t)host, length)) {
        temporary->start = 0;
        return habana_dma_cache_lookup(dma, (uintptr_t)host, length,
                                       host_dev) ? 0 : -1;
    }

    return habana_dma_host_addr(dma, host, length, region, host_dev,
                                temporary);
}

static int habana_dma_copy_host(habana_dma_t *dma, void *dst, const void *src,
                                size_t length, habana_dma_dir_t dir,
                                const habana_dma_region_t *region)
{
    void *host = (dir == HABANA_DMA_H2D) ? (void*)src : dst;
    habana_dma_host_map_t temporary;
    uint64_t host_dev;
    int ret;

    if (habana_dma_host_direct(dma, host, length, region, &host_dev,
                               &temporary) != 0) {
        /* small, or the pages cannot be mapped (a pin limit): bounced */
        return habana_dma_copy_bounced(dma, dst, src, length, dir);
    }

    if (dir == HABANA_DMA_H2D) {
        ret = dma->backend->copy(dma, (uintptr_t)dst, host_dev, length, dir);
    } else {
        ret = dma->backend->copy(dma, host_dev, (uintptr_t)src, length, dir);
    }

    if (temporary.start != 0) {
        dma->backend->unmap_host(dma, (void*)temporary.start,
                                 temporary.end - temporary.start,
                                 temporary.dev_addr);
    }
    return ret;
}

int habana_dma_copy(habana_dma_t *dma, void *dst, const void *src,
                    size_t length, habana_dma_dir_t dir)
{
    return habana_dma_copy_in(dma, dst, src, length, dir, NULL);
}

int habana_dma_copy_in(habana_dma_t *dma, void *dst, const void *src,
                       size_t length, habana_dma_dir_t dir,
                       const habana_dma_region_t *host_region)
{
    int ret;

    if (length == 0) {
        return 0;
    }

    habana_dma_lock(dma);
    if (dir == HABANA_DMA_D2D) {
        ret = dma->backend->copy(dma, (uintptr_t)dst, (uintptr_t)src, length,
                                 dir);
    } else {
        ret = habana_dma_copy_host(dma, dst, src, length, dir, host_region);
    }
    habana_dma_unlock(dma);
    return ret;
}

void habana_dma_host_unmapped(habana_dma_t *dma, const void *addr,
                              size_t length)
{
    uintptr_t start = (uintptr_t)addr;
    unsigned i;

    if (length == 0) {
        return;
    }

    habana_dma_lock(dma);
    /* entries that start in the range, and before it as far as the widest
     * entry reaches */
    for (i = habana_dma_cache_upper(dma, start + length - 1); i-- > 0;) {
        if (dma->maps[i].start + dma->widest <= start) {
            break;
        }
        if (start < dma->maps[i].end) {
            habana_dma_cache_drop(dma, i);
        }
    }
    habana_dma_unlock(dma);
}

static int habana_dma_open_backend(habana_dma_t *dma,
                                   const habana_dma_backend_t *backend,
                                   char *why, size_t max)
{
    size_t bounce = HABANA_DMA_BOUNCE_SIZE;
    int ret;

    dma->backend = backend;
    ret          = backend->open(dma, why, max);
    if (ret != 0) {
        return ret;
    }

    ret = backend->map_host(dma, dma->bounce, bounce, &dma->bounce_dev);
    if (ret != 0) {
        snprintf(why, max, "%s: mapping the bounce buffer: %s", backend->name,
                 dma->error);
        backend->close(dma);
    }
    return ret;
}

int habana_dma_open(const habana_dma_params_t *params, habana_dma_t **dma_p,
                    char *why, size_t max)
{
    const habana_dma_backend_t *const *backend;
    pthread_mutexattr_t attr;
    size_t used = 0;
    habana_dma_t *dma;
    int ret = -ENODEV;

    dma = calloc(1, sizeof(*dma));
    if (dma == NULL) {
        snprintf(why, max, "out of memory");
        return -ENOMEM;
    }

    dma->params = *params;
    if (params->pci_bus != NULL) {
        snprintf(dma->pci_bus, sizeof(dma->pci_bus), "%s", params->pci_bus);
        dma->params.pci_bus = dma->pci_bus;
    }
    /* Recursive: a driver call may free host memory, and the caller's
     * VM_UNMAPPED handler then calls habana_dma_host_unmapped() */
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&dma->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    dma->capacity = (params->cache_entries > 0) ? params->cache_entries :
                                                  HABANA_DMA_CACHE_ENTRIES;
    dma->maps     = calloc(dma->capacity, sizeof(*dma->maps));
    if ((dma->maps == NULL) ||
        (posix_memalign(&dma->bounce, sysconf(_SC_PAGESIZE),
                        HABANA_DMA_BOUNCE_SIZE) != 0)) {
        snprintf(why, max, "out of memory");
        ret = -ENOMEM;
        goto err;
    }

    why[0] = '\0';
    for (backend = habana_dma_backends; *backend != NULL; ++backend) {
        if ((params->backend != NULL) &&
            strcmp(params->backend, (*backend)->name)) {
            continue;
        }

        ret = habana_dma_open_backend(dma, *backend, why + used, max - used);
        if (ret == 0) {
            *dma_p = dma;
            return 0;
        }

        used = strlen(why);
        if (used + 3 < max) {
            strcpy(why + used, "; ");
            used += 2;
        }
    }

    if (used == 0) {
        snprintf(why, max, "no DMA backend named '%s'", params->backend);
    } else {
        why[used - 2] = '\0';
    }

err:
    free(dma->bounce);
    free(dma->maps);
    pthread_mutex_destroy(&dma->lock);
    free(dma);
    return ret;
}

void habana_dma_close(habana_dma_t *dma)
{
    habana_dma_lock(dma);
    habana_dma_cache_flush(dma);
    dma->backend->unmap_host(dma, dma->bounce, HABANA_DMA_BOUNCE_SIZE,
                             dma->bounce_dev);
    dma->backend->close(dma);
    habana_dma_unlock(dma);
    pthread_mutex_destroy(&dma->lock);
    free(dma->bounce);
    free(dma->maps);
    free(dma);
}

void habana_dma_forget(habana_dma_t *dma)
{
    dma->count          = 0;
    dma->params.fd      = -1;
    dma->backend->close(dma);
    pthread_mutex_destroy(&dma->lock);
    free(dma->bounce);
    free(dma->maps);
    free(dma);
}

void habana_dma_set_fd(habana_dma_t *dma, int fd)
{
    habana_dma_lock(dma);
    dma->params.fd = fd;
    habana_dma_unlock(dma);
}

#define HABANA_DMA_LAUNCH_SAMPLES 5

static double habana_dma_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + (ts.tv_nsec * 1e-9);
}

double habana_dma_launch_time(habana_dma_t *dma)
{
    double best = 0, start, t;
    unsigned i;

    habana_dma_lock(dma);
    if (dma->launch_measured || (dma->backend->launch == NULL)) {
        goto out;
    }

    for (i = 0; i < HABANA_DMA_LAUNCH_SAMPLES; ++i) {
        start = habana_dma_now();
        if (dma->backend->launch(dma) != 0) {
            best = 0; /* a failing device: no figure */
            break;
        }
        t    = habana_dma_now() - start;
        best = ((best == 0) || (t < best)) ? t : best;
    }
    dma->launch_time     = best;
    dma->launch_measured = 1;

out:
    habana_dma_unlock(dma);
    return dma->launch_time;
}

const char *habana_dma_backend_name(const habana_dma_t *dma)
{
    return dma->backend->name;
}

const char *habana_dma_error(const habana_dma_t *dma)
{
    return dma->error;
}

void habana_dma_usage(const habana_dma_t *dma, habana_dma_usage_t *usage)
{
    pthread_mutex_lock((pthread_mutex_t*)&dma->lock);
    usage->capacity  = dma->capacity;
    usage->cached    = dma->count;
    usage->pinned    = dma->pinned;
    usage->host_maps = dma->host_maps;
    usage->bounced   = dma->bounced_misses;
    pthread_mutex_unlock((pthread_mutex_t*)&dma->lock);
}
