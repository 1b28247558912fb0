/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * libucm_habana: reports Habana device allocations to UCM.
 *
 * Habana runtimes (hl-thunk, Synapse, or an application itself) allocate
 * device memory with the habanalabs memory ioctl: ALLOC gives a handle,
 * MAP gives the device virtual address, UNMAP and FREE release them.  This
 * module patches the ioctl relocations of the loaded objects (UCM's reloc
 * mechanism), keeps a table of the live mappings, and dispatches UCM
 * memory-type events: MEM_TYPE_ALLOC after a successful MAP, MEM_TYPE_FREE
 * before UNMAP reaches the driver, which refuses to unmap memory that a
 * dma-buf (ours, or a NIC registration) still references.
 *
 * UCX drops its NIC registrations lazily (the registration cache frees
 * them after the event, or when an operation on them completes), so the
 * driver may still refuse the unmap of an exported mapping.  The
 * application is then told success, and the unmap, and the free of the
 * allocation behind it, are retried with a growing delay on later memory
 * ioctls, at once when an allocation runs out of memory, and when the
 * habana memory domain closes (ucm_habana_deferred_flush()).
 *
 * Closing a compute descriptor ends its context and the context's memory
 * (once the last dma-buf of it is released): close is patched too, the
 * descriptor's mappings are reported freed and forgotten.  A new context
 * hands out the same VAs and handles, so each mapping has an id that is
 * never reused, and entries of a context whose close was not seen are
 * dropped when the same descriptor maps or allocates over them.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "ucm_habana.h"
#include "ucm_habana_priv.h"
#include "ucm_habana_int.h"

#include <src/common/habana_uapi.h>
#include <drm/habanalabs_accel.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>



ucm_habana_state_t ucm_habana = {
    .lock = PTHREAD_MUTEX_INITIALIZER
};

int ucm_habana_grow(void **array, unsigned *max, size_t elem_size)
{
    unsigned new_max = (*max == 0) ? 32 : (2 * *max);
    void *new_array  = realloc(*array, new_max * elem_size);

    if (new_array == NULL) {
        return -1;
    }

    *array = new_array;
    *max   = new_max;
    return 0;
}

dev_t ucm_habana_fd_rdev(int fd)
{
    struct stat st;

    return (fstat(fd, &st) == 0) ? st.st_rdev : 0;
}

/* A GAUDI memory-type event for [va, va + size) */
static void ucm_habana_event_init(ucm_event_t *event, uint64_t va,
                                  size_t size)
{
    memset(event, 0, sizeof(*event));
    event->mem_type.address  = (void*)(uintptr_t)va;
    event->mem_type.size     = size;
    event->mem_type.mem_type = UCS_MEMORY_TYPE_GAUDI;
#ifdef HAVE_UCM_EVENT_T_MEM_TYPE_SYS_DEV
    event->mem_type.sys_dev  = UCS_SYS_DEVICE_ID_UNKNOWN; /* UCX >= 1.22 */
#endif
}

void ucm_habana_dispatch(ucm_event_type_t type, uint64_t va, size_t size)
{
    ucm_event_t event;

    ucm_habana_event_init(&event, va, size);
    ucm_event_enter();
    ucm_event_dispatch(type, &event);
    ucm_event_leave();
}

ucm_habana_alloc_t *ucm_habana_alloc_find(int fd, uint64_t handle)
{
    unsigned i;

    for (i = 0; i < ucm_habana.num_allocs; ++i) {
        if ((ucm_habana.allocs[i].fd == fd) &&
            (ucm_habana.allocs[i].handle == handle)) {
            return &ucm_habana.allocs[i];
        }
    }
    return NULL;
}

static int ucm_habana_map_index(int fd, uint64_t va)
{
    unsigned i;

    for (i = 0; i < ucm_habana.num_maps; ++i) {
        if ((ucm_habana.maps[i].mapping.fd == fd) &&
            (ucm_habana.maps[i].mapping.va == va)) {
            return (int)i;
        }
    }
    return -1;
}

static void ucm_habana_on_alloc(int fd, uint64_t handle, size_t size)
{
    ucm_habana_alloc_t *alloc;

    pthread_mutex_lock(&ucm_habana.lock);
    alloc = ucm_habana_alloc_find(fd, handle);
    if (alloc == NULL) {
        alloc = ((ucm_habana.num_allocs < ucm_habana.max_allocs) ||
                 (ucm_habana_grow((void**)&ucm_habana.allocs,
                                  &ucm_habana.max_allocs,
                                  sizeof(*alloc)) == 0)) ?
                &ucm_habana.allocs[ucm_habana.num_allocs++] : NULL;
    } /* else: the handle of a context closed behind our back */

    if (alloc != NULL) {
        alloc->fd       = fd;
        alloc->handle   = handle;
        alloc->size     = size;
        alloc->exported = 0;
        alloc->id       = ++ucm_habana.last_id;
    }
    pthread_mutex_unlock(&ucm_habana.lock);
}

/* The id of allocation @handle of @fd, 0 if untracked */
static uint64_t ucm_habana_alloc_id(int fd, uint64_t handle)
{
    ucm_habana_alloc_t *alloc;
    uint64_t id;

    pthread_mutex_lock(&ucm_habana.lock);
    alloc = ucm_habana_alloc_find(fd, handle);
    id    = (alloc != NULL) ? alloc->id : 0;
    pthread_mutex_unlock(&ucm_habana.lock);
    return id;
}

/*
 * Allocation @id (taken before the driver's call) is gone.  Not simply
 * (fd, handle): once the driver freed it, another thread's allocation may
 * have got the same handle, and been recorded, before this runs.
 */
static void ucm_habana_on_free(int fd, uint64_t handle, uint64_t id)
{
    ucm_habana_alloc_t *alloc;

    pthread_mutex_lock(&ucm_habana.lock);
    alloc = ucm_habana_alloc_find(fd, handle);
    if ((alloc != NULL) && (alloc->id == id)) {
        *alloc = ucm_habana.allocs[--ucm_habana.num_allocs];
    }
    pthread_mutex_unlock(&ucm_habana.lock);
}

/* Lock held.  A context never maps overlapping ranges: entries of @fd that
 * overlap [va, va + size) belong to a context closed behind our back.
 * Drops them and widens [*start, *end) to cover them. */
static void ucm_habana_drop_stale(int fd, uint64_t va, size_t size,
                                  uint64_t *start, uint64_t *end)
{
    ucm_habana_mapping_t *m;
    unsigned i;

    for (i = 0; i < ucm_habana.num_maps;) {
        m = &ucm_habana.maps[i].mapping;
        if ((m->fd == fd) && (m->va < va + size) && (va < m->va + m->size)) {
            *start             = (m->va < *start) ? m->va : *start;
            *end               = (m->va + m->size > *end) ?
                                 (m->va + m->size) : *end;
            ucm_habana.maps[i] = ucm_habana.maps[--ucm_habana.num_maps];
        } else {
            ++i;
        }
    }
}

static void ucm_habana_on_map(int fd, uint64_t handle, uint64_t va)
{
    uint64_t stale_start = va, stale_end = va;
    ucm_habana_alloc_t *alloc;
    ucm_habana_entry_t *entry;
    size_t size = 0;

    if ((va < HABANA_VA_START) || (va >= HABANA_VA_END)) {
        return; /* Gaudi1 physical addresses: not supported */
    }

    pthread_mutex_lock(&ucm_habana.lock);
    alloc = ucm_habana_alloc_find(fd, handle);
    if (alloc != NULL) {
        ucm_habana_drop_stale(fd, va, alloc->size, &stale_start, &stale_end);
    }
    if ((alloc != NULL) &&
        ((ucm_habana.num_maps < ucm_habana.max_maps) ||
         (ucm_habana_grow((void**)&ucm_habana.maps, &ucm_habana.max_maps,
                          sizeof(*entry)) == 0))) {
        size                  = alloc->size;
        entry                 = &ucm_habana.maps[ucm_habana.num_maps++];
        entry->mapping.va     = va;
        entry->mapping.size   = size;
        entry->mapping.handle = handle;
        entry->mapping.fd     = fd;
        entry->mapping.id     = ++ucm_habana.last_id;
        entry->rdev           = ucm_habana_fd_rdev(fd);
        entry->exported       = 0;
    }
    pthread_mutex_unlock(&ucm_habana.lock);

    if (stale_end > stale_start) {
        ucm_habana_dispatch(UCM_EVENT_MEM_TYPE_FREE, stale_start,
                            stale_end - stale_start);
    }
    if (size != 0) {
        ucm_habana_dispatch(UCM_EVENT_MEM_TYPE_ALLOC, va, size);
    }
}

/* A dma-buf was exported by device address (accel) or by handle (misc) */
static void ucm_habana_on_export(int fd, uint64_t addr_or_handle)
{
    ucm_habana_entry_t *entry;
    ucm_habana_alloc_t *alloc;
    uint64_t handle = addr_or_handle;

    pthread_mutex_lock(&ucm_habana.lock);
    for (entry = ucm_habana.maps;
         entry < ucm_habana.maps + ucm_habana.num_maps; ++entry) {
        if ((entry->mapping.fd == fd) &&
            ((entry->mapping.va == addr_or_handle) ||
             (entry->mapping.handle == addr_or_handle))) {
            entry->exported = 1;
            handle          = entry->mapping.handle;
        }
    }

    alloc = ucm_habana_alloc_find(fd, handle);
    if (alloc != NULL) {
        alloc->exported = 1;
    }
    pthread_mutex_unlock(&ucm_habana.lock);
}

/* Tell UCX before the driver sees the unmap; returns the mapping's size,
 * 0 if untracked, and its id */
static size_t ucm_habana_before_unmap(int fd, uint64_t va, int *exported_p,
                                      uint64_t *id_p)
{
    size_t size = 0;
    int index;

    pthread_mutex_lock(&ucm_habana.lock);
    index = ucm_habana_map_index(fd, va);
    if (index >= 0) {
        size        = ucm_habana.maps[index].mapping.size;
        *exported_p = ucm_habana.maps[index].exported;
        *id_p       = ucm_habana.maps[index].mapping.id;
    }
    pthread_mutex_unlock(&ucm_habana.lock);

    if (size != 0) {
        ucm_habana_dispatch(UCM_EVENT_MEM_TYPE_FREE, va, size);
    }
    return size;
}

/* Lock held */
static int ucm_habana_map_index_of_id(uint64_t id)
{
    unsigned i;

    for (i = 0; i < ucm_habana.num_maps; ++i) {
        if (ucm_habana.maps[i].mapping.id == id) {
            return (int)i;
        }
    }
    return -1;
}

/*
 * Forget mapping @id; if the driver refused to unmap it because it is
 * exported, keep it for a retry.  Returns 1 if deferred.  By id: once the
 * driver unmapped it, another thread may have mapped the same VA on the
 * same descriptor, and been recorded, before this runs.
 */
static int ucm_habana_after_unmap(int fd, unsigned long request, uint64_t va,
                                  uint64_t id, int refused)
{
    int index, deferred = 0;

    pthread_mutex_lock(&ucm_habana.lock);
    index = ucm_habana_map_index_of_id(id);
    if (index < 0) {
        goto out;
    }

    if (refused) {
        if (ucm_habana_deferred_add(fd, ucm_habana.maps[index].rdev, request,
                                    va, ucm_habana.maps[index].mapping.handle,
                                    1) != 0) {
            goto out; /* cannot remember it: the application sees the error */
        }
        deferred = 1;
    }

    ucm_habana.maps[index] = ucm_habana.maps[--ucm_habana.num_maps];
out:
    pthread_mutex_unlock(&ucm_habana.lock);
    return deferred;
}

/*
 * Each device's context has a VA space of its own, so two devices of one
 * process can map the same VAs.  UCX keeps memory types by address: after
 * the FREE of one device's mapping, what other devices still map in that
 * range is reported again.
 */
static void ucm_habana_report_survivors(uint64_t va, size_t size)
{
    ucm_habana_mapping_t *survivors;
    ucm_habana_entry_t *entry;
    unsigned i, count = 0;

    pthread_mutex_lock(&ucm_habana.lock);
    survivors = malloc((ucm_habana.num_maps + 1) * sizeof(*survivors));
    for (i = 0; (survivors != NULL) && (i < ucm_habana.num_maps); ++i) {
        entry = &ucm_habana.maps[i];
        if ((entry->mapping.va < va + size) &&
            (va < entry->mapping.va + entry->mapping.size)) {
            survivors[count++] = entry->mapping;
        }
    }
    pthread_mutex_unlock(&ucm_habana.lock);

    for (i = 0; i < count; ++i) {
        ucm_habana_dispatch(UCM_EVENT_MEM_TYPE_ALLOC, survivors[i].va,
                            survivors[i].size);
    }
    free(survivors);
}

static int ucm_habana_is_memory_request(unsigned long request)
{
    return (request == DRM_IOCTL_HL_MEMORY) ||
           (request == HABANA_LEGACY_MEMORY);
}

/* The driver refuses to unmap an exported mapping: EINVAL ("memory is
 * exported", habanalabs), EBUSY (older hlsim) */
static int ucm_habana_unmap_refused(int ret, int exported)
{
    return (ret != 0) && exported && ((errno == EINVAL) || (errno == EBUSY));
}

/*
 * UCX was told of the free before the driver saw the unmap.  If the
 * mapping survives (the driver failed it for another reason than a live
 * export, or the deferral could not be recorded), it is reported again so
 * that UCX sees the memory it dropped from its caches.
 */
static int ucm_habana_unmap(int fd, unsigned long request,
                            union hl_mem_args *args)
{
    uint64_t va  = args->in.unmap.device_virt_addr;
    uint64_t id  = 0;
    int exported = 0;
    int ret, err, refused, deferred;
    size_t size;

    size = ucm_habana_before_unmap(fd, va, &exported, &id);
    ret  = ucm_habana.orig_ioctl(fd, request, args);
    err  = errno;
    if (size == 0) {
        return ret;
    }

    refused  = ucm_habana_unmap_refused(ret, exported);
    deferred = ((ret == 0) || refused) &&
               ucm_habana_after_unmap(fd, request, va, id, refused);

    /* UCX dropped [va, va + size) at the FREE: what is still mapped there
     * (this mapping when the unmap failed, other devices' mappings) is
     * reported again */
    ucm_habana_report_survivors(va, size);
    if (deferred) {
        return 0;
    }

    errno = err;
    return ret;
}

static int ucm_habana_alloc(int fd, unsigned long request,
                            union hl_mem_args *args)
{
    union hl_mem_args in = *args;
    int ret;

    ret = ucm_habana.orig_ioctl(fd, request, args);
    if ((ret != 0) && (errno == ENOMEM) &&
        (__atomic_load_n(&ucm_habana.num_deferred, __ATOMIC_RELAXED) > 0)) {
        /* memory that only waits for a deferred unmap may be free now */
        ucm_habana_deferred_retry(1);
        *args = in;
        ret   = ucm_habana.orig_ioctl(fd, request, args);
    }

    if (ret == 0) {
        ucm_habana_on_alloc(fd, args->out.handle, in.in.alloc.mem_size);
    }
    return ret;
}

static int ucm_habana_memory_ioctl(int fd, unsigned long request,
                                   union hl_mem_args *args)
{
    /* in and out share the argument: read the inputs before the call */
    uint32_t op    = args->in.op;
    uint32_t flags = args->in.flags;
    uint64_t alloc_id = 0, handle, addr;
    int ret;

    if (__atomic_load_n(&ucm_habana.num_deferred, __ATOMIC_RELAXED) > 0) {
        ucm_habana_deferred_retry(0);
    }

    switch (op) {
    case HL_MEM_OP_ALLOC:
        return ucm_habana_alloc(fd, request, args);
    case HL_MEM_OP_UNMAP:
        return ucm_habana_unmap(fd, request, args);
    case HL_MEM_OP_FREE:
        alloc_id = ucm_habana_alloc_id(fd, args->in.free.handle);
        if (ucm_habana_defer_free(fd, args->in.free.handle)) {
            ucm_habana_on_free(fd, args->in.free.handle, alloc_id);
            return 0;
        }
        break;
    }

    handle = (op == HL_MEM_OP_MAP) ? args->in.map_device.handle :
             args->in.free.handle;
    addr   = args->in.export_dmabuf_fd.addr;
    ret    = ucm_habana.orig_ioctl(fd, request, args);
    if ((ret != 0) && (op == HL_MEM_OP_FREE) &&
        ((errno == EINVAL) || (errno == EBUSY)) &&
        ucm_habana_defer_refused_free(fd, request, handle)) {
        ucm_habana_on_free(fd, handle, alloc_id);
        return 0;
    }

    if (ret != 0) {
        return ret;
    }

    switch (op) {
    case HL_MEM_OP_FREE:
        ucm_habana_on_free(fd, handle, alloc_id);
        break;
    case HL_MEM_OP_MAP:
        if (!(flags & HL_MEM_USERPTR)) {
            ucm_habana_on_map(fd, handle, args->out.device_virt_addr);
        }
        break;
    case HL_MEM_OP_EXPORT_DMABUF_FD:
        ucm_habana_on_export(fd, addr);
        break;
    }

    return ret;
}

static int ucm_habana_ioctl(int fd, unsigned long request, ...)
{
    union hl_mem_args *args;
    va_list ap;

    va_start(ap, request);
    args = va_arg(ap, union hl_mem_args*);
    va_end(ap);

    if (!ucm_habana_is_memory_request(request) || (args == NULL)) {
        return ucm_habana.orig_ioctl(fd, request, args);
    }

    return ucm_habana_memory_ioctl(fd, request, args);
}

int ucm_habana_tracking(void)
{
    return (__atomic_load_n(&ucm_habana.num_maps, __ATOMIC_RELAXED) > 0) ||
           (__atomic_load_n(&ucm_habana.num_allocs, __ATOMIC_RELAXED) > 0) ||
           (__atomic_load_n(&ucm_habana.num_deferred, __ATOMIC_RELAXED) > 0);
}

/* Lock held.  Forget every allocation, mapping and deferred unmap made on
 * @fd; the mappings are returned in *gone_p (malloc'ed) to report them. */
unsigned ucm_habana_forget_fd(int fd, ucm_habana_mapping_t **gone_p)
{
    ucm_habana_mapping_t *gone;
    unsigned i, count = 0;

    gone = malloc((ucm_habana.num_maps + 1) * sizeof(*gone));
    for (i = 0; i < ucm_habana.num_maps;) {
        if (ucm_habana.maps[i].mapping.fd != fd) {
            ++i;
            continue;
        }
        if (gone != NULL) {
            gone[count++] = ucm_habana.maps[i].mapping;
        }
        ucm_habana.maps[i] = ucm_habana.maps[--ucm_habana.num_maps];
    }

    for (i = 0; i < ucm_habana.num_allocs;) {
        if (ucm_habana.allocs[i].fd == fd) {
            ucm_habana.allocs[i] = ucm_habana.allocs[--ucm_habana.num_allocs];
        } else {
            ++i;
        }
    }

    /* the context goes with its last dma-buf; never retry on a new one
     * that gets the same descriptor number */
    for (i = 0; i < ucm_habana.num_deferred;) {
        if (ucm_habana.deferred[i].fd == fd) {
            ucm_habana.deferred[i] =
                    ucm_habana.deferred[--ucm_habana.num_deferred];
        } else {
            ++i;
        }
    }

    *gone_p = gone;
    return count;
}

/* Lock held.  Add @fd to @fds (@count of them, up to @max) if new */
static void ucm_habana_fd_collect(int fd, int first, int last, int *fds,
                                  unsigned *count, unsigned max)
{
    unsigned i;

    if ((fd < first) || (fd > last) || (*count == max)) {
        return;
    }
    for (i = 0; i < *count; ++i) {
        if (fds[i] == fd) {
            return;
        }
    }
    fds[(*count)++] = fd;
}

unsigned ucm_habana_tracked_fds(int first, int last, int *fds, unsigned max)
{
    unsigned i, count = 0;

    for (i = 0; i < ucm_habana.num_maps; ++i) {
        ucm_habana_fd_collect(ucm_habana.maps[i].mapping.fd, first, last, fds,
                              &count, max);
    }
    for (i = 0; i < ucm_habana.num_allocs; ++i) {
        ucm_habana_fd_collect(ucm_habana.allocs[i].fd, first, last, fds,
                              &count, max);
    }
    for (i = 0; i < ucm_habana.num_deferred; ++i) {
        ucm_habana_fd_collect(ucm_habana.deferred[i].fd, first, last, fds,
                              &count, max);
    }
    return count;
}

void ucm_habana_move_fd(int fd, int to)
{
    unsigned i;

    for (i = 0; i < ucm_habana.num_maps; ++i) {
        if (ucm_habana.maps[i].mapping.fd == fd) {
            ucm_habana.maps[i].mapping.fd = to;
        }
    }
    for (i = 0; i < ucm_habana.num_allocs; ++i) {
        if (ucm_habana.allocs[i].fd == fd) {
            ucm_habana.allocs[i].fd = to;
        }
    }
    for (i = 0; i < ucm_habana.num_deferred; ++i) {
        if (ucm_habana.deferred[i].fd == fd) {
            ucm_habana.deferred[i].fd = to;
        }
    }
}

int ucm_habana_mapping_find(const void *addr, ucm_habana_mapping_t *mapping)
{
    uint64_t p = (uintptr_t)addr;
    ucm_habana_entry_t *entry;
    dev_t found_rdev = 0;
    int found = 0;
    unsigned i;

    pthread_mutex_lock(&ucm_habana.lock);
    for (i = 0; i < ucm_habana.num_maps; ++i) {
        entry = &ucm_habana.maps[i];
        if ((p < entry->mapping.va) ||
            (p - entry->mapping.va >= entry->mapping.size) ||
            (!ucm_habana_fd_hooked() &&
             (ucm_habana_fd_rdev(entry->mapping.fd) != entry->rdev))) {
            continue;
        }

        if (!found) {
            *mapping   = entry->mapping;
            found_rdev = entry->rdev;
            found      = 1;
        } else if (entry->rdev != found_rdev) {
            found = -1; /* mapped on two devices: ambiguous */
            break;
        }
    }
    pthread_mutex_unlock(&ucm_habana.lock);
    return found;
}

static ucm_reloc_patch_t ucm_habana_patch = {
    .symbol = "ioctl",
    .value  = (void*)ucm_habana_ioctl
};

static ucs_status_t ucm_habana_install(int events)
{
    static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
    static int installed                = 0;
    ucs_status_t status                 = UCS_OK;

    if (!(events & (UCM_EVENT_MEM_TYPE_ALLOC | UCM_EVENT_MEM_TYPE_FREE))) {
        return UCS_OK;
    }

    pthread_mutex_lock(&install_lock);
    if (!installed) {
        /* The first definition in global scope: libc's, or an
         * interposer's such as a driver test double */
        ucm_habana.orig_ioctl = (ucm_habana_ioctl_func_t)dlsym(RTLD_DEFAULT,
                                                               "ioctl");
        status = (ucm_habana.orig_ioctl != NULL) ?
                 ucm_reloc_modify(&ucm_habana_patch) : UCS_ERR_UNSUPPORTED;
        installed = (status == UCS_OK);
        if (installed) {
            ucm_habana_install_fd_hooks();
        } else {
            fprintf(stderr, "ucm_habana: cannot hook ioctl: %s\n",
                    ucs_status_string(status));
        }
    }
    pthread_mutex_unlock(&install_lock);
    return status;
}

static int ucm_habana_device_present(void)
{
    static const char *fmts[] = {"/dev/accel/accel%d", "/dev/hl%d"};
    char path[64];
    struct stat st;
    unsigned i;
    int index;

    for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); ++i) {
        for (index = 0; index < 16; ++index) {
            snprintf(path, sizeof(path), fmts[i], index);
            if ((stat(path, &st) == 0) && S_ISCHR(st.st_mode)) {
                return 1;
            }
        }
    }
    return 0;
}

static void ucm_habana_report(ucm_event_handler_t *handler, uint64_t va,
                              size_t size)
{
    ucm_event_t event;

    ucm_habana_event_init(&event, va, size);
    handler->cb(UCM_EVENT_MEM_TYPE_ALLOC, &event, handler->arg);
}

/*
 * Mappings made before this module was loaded are unknown, but every
 * pointer in the device VA range is device memory: report the range, then
 * the exact mappings we know on top of it.
 */
static void ucm_habana_get_existing_alloc(ucm_event_handler_t *handler)
{
    ucm_habana_mapping_t *known = NULL;
    unsigned i, count = 0;

    if (!(handler->events & UCM_EVENT_MEM_TYPE_ALLOC) ||
        !ucm_habana_device_present()) {
        return;
    }

    pthread_mutex_lock(&ucm_habana.lock);
    known = malloc((ucm_habana.num_maps + 1) * sizeof(*known));
    for (i = 0; (known != NULL) && (i < ucm_habana.num_maps); ++i) {
        known[count++] = ucm_habana.maps[i].mapping;
    }
    pthread_mutex_unlock(&ucm_habana.lock);

    ucm_event_enter();
    ucm_habana_report(handler, HABANA_VA_START,
                      HABANA_VA_END - HABANA_VA_START);
    for (i = 0; i < count; ++i) {
        ucm_habana_report(handler, known[i].va, known[i].size);
    }
    ucm_event_leave();
    free(known);
}

static ucm_event_installer_t ucm_habana_installer = {
    .install            = ucm_habana_install,
    .get_existing_alloc = ucm_habana_get_existing_alloc
};

UCS_STATIC_INIT
{
    ucs_list_add_tail(&ucm_event_installer_list, &ucm_habana_installer.list);
}

UCS_STATIC_CLEANUP
{
    ucs_list_del(&ucm_habana_installer.list);
}
