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
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "ucm_habana.h"
#include "ucm_habana_int.h"

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

#define UCM_HABANA_LEGACY_MEMORY _IOWR('H', 0x05, union hl_mem_args)

/* Device VAs of Gaudi2 and later: non-canonical, never host memory */
#define UCM_HABANA_VA_START      0x1001000000000000ull
#define UCM_HABANA_VA_END        0x2000000000000000ull

typedef int (*ucm_habana_ioctl_func_t)(int fd, unsigned long request, ...);

/* An allocation: handle -> size, per compute descriptor */
typedef struct {
    int      fd;
    uint64_t handle;
    size_t   size;
} ucm_habana_alloc_t;

typedef struct {
    ucm_habana_mapping_t mapping;
    dev_t                rdev;   /* device of fd when mapped */
} ucm_habana_entry_t;

static struct {
    pthread_mutex_t         lock;
    ucm_habana_ioctl_func_t orig_ioctl;
    ucm_habana_alloc_t      *allocs;
    unsigned                num_allocs, max_allocs;
    ucm_habana_entry_t      *maps;
    unsigned                num_maps, max_maps;
} ucm_habana = {
    .lock = PTHREAD_MUTEX_INITIALIZER
};

static int ucm_habana_grow(void **array, unsigned *max, size_t elem_size)
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

static dev_t ucm_habana_fd_rdev(int fd)
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
    event->mem_type.sys_dev  = UCS_SYS_DEVICE_ID_UNKNOWN;
}

static void ucm_habana_dispatch(ucm_event_type_t type, uint64_t va,
                                size_t size)
{
    ucm_event_t event;

    ucm_habana_event_init(&event, va, size);
    ucm_event_enter();
    ucm_event_dispatch(type, &event);
    ucm_event_leave();
}

static ucm_habana_alloc_t *ucm_habana_alloc_find(int fd, uint64_t handle)
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
    if ((ucm_habana.num_allocs < ucm_habana.max_allocs) ||
        (ucm_habana_grow((void**)&ucm_habana.allocs, &ucm_habana.max_allocs,
                         sizeof(*alloc)) == 0)) {
        alloc         = &ucm_habana.allocs[ucm_habana.num_allocs++];
        alloc->fd     = fd;
        alloc->handle = handle;
        alloc->size   = size;
    }
    pthread_mutex_unlock(&ucm_habana.lock);
}

static void ucm_habana_on_free(int fd, uint64_t handle)
{
    ucm_habana_alloc_t *alloc;

    pthread_mutex_lock(&ucm_habana.lock);
    alloc = ucm_habana_alloc_find(fd, handle);
    if (alloc != NULL) {
        *alloc = ucm_habana.allocs[--ucm_habana.num_allocs];
    }
    pthread_mutex_unlock(&ucm_habana.lock);
}

static void ucm_habana_on_map(int fd, uint64_t handle, uint64_t va)
{
    ucm_habana_alloc_t *alloc;
    ucm_habana_entry_t *entry;
    size_t size = 0;

    if ((va < UCM_HABANA_VA_START) || (va >= UCM_HABANA_VA_END)) {
        return; /* Gaudi1 physical addresses: not supported */
    }

    pthread_mutex_lock(&ucm_habana.lock);
    alloc = ucm_habana_alloc_find(fd, handle);
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
        entry->rdev           = ucm_habana_fd_rdev(fd);
    }
    pthread_mutex_unlock(&ucm_habana.lock);

    if (size != 0) {
        ucm_habana_dispatch(UCM_EVENT_MEM_TYPE_ALLOC, va, size);
    }
}

/* Tell UCX before the driver sees the unmap; forget it once it is done */
static size_t ucm_habana_before_unmap(int fd, uint64_t va)
{
    size_t size = 0;
    int index;

    pthread_mutex_lock(&ucm_habana.lock);
    index = ucm_habana_map_index(fd, va);
    if (index >= 0) {
        size = ucm_habana.maps[index].mapping.size;
    }
    pthread_mutex_unlock(&ucm_habana.lock);

    if (size != 0) {
        ucm_habana_dispatch(UCM_EVENT_MEM_TYPE_FREE, va, size);
    }
    return size;
}

static void ucm_habana_after_unmap(int fd, uint64_t va)
{
    int index;

    pthread_mutex_lock(&ucm_habana.lock);
    index = ucm_habana_map_index(fd, va);
    if (index >= 0) {
        ucm_habana.maps[index] = ucm_habana.maps[--ucm_habana.num_maps];
    }
    pthread_mutex_unlock(&ucm_habana.lock);
}

static int ucm_habana_is_memory_request(unsigned long request)
{
    return (request == DRM_IOCTL_HL_MEMORY) ||
           (request == UCM_HABANA_LEGACY_MEMORY);
}

static int ucm_habana_memory_ioctl(int fd, unsigned long request,
                                   union hl_mem_args *args)
{
    /* in and out share the argument: read the inputs before the call */
    uint32_t op   = args->in.op;
    uint64_t size = args->in.alloc.mem_size;
    uint64_t handle, va;
    int ret, unmapping;

    handle    = (op == HL_MEM_OP_MAP) ? args->in.map_device.handle :
                args->in.free.handle;
    va        = args->in.unmap.device_virt_addr;
    unmapping = (op == HL_MEM_OP_UNMAP) && ucm_habana_before_unmap(fd, va);
    ret       = ucm_habana.orig_ioctl(fd, request, args);
    if (ret != 0) {
        return ret;
    }

    switch (op) {
    case HL_MEM_OP_ALLOC:
        ucm_habana_on_alloc(fd, args->out.handle, size);
        break;
    case HL_MEM_OP_FREE:
        ucm_habana_on_free(fd, handle);
        break;
    case HL_MEM_OP_MAP:
        if (!(args->in.flags & HL_MEM_USERPTR)) {
            ucm_habana_on_map(fd, handle, args->out.device_virt_addr);
        }
        break;
    case HL_MEM_OP_UNMAP:
        if (unmapping) {
            ucm_habana_after_unmap(fd, va);
        }
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

int ucm_habana_mapping_find(const void *addr, ucm_habana_mapping_t *mapping)
{
    uint64_t p = (uintptr_t)addr;
    ucm_habana_entry_t *entry;
    int found = 0;
    unsigned i;

    pthread_mutex_lock(&ucm_habana.lock);
    for (i = 0; i < ucm_habana.num_maps; ++i) {
        entry = &ucm_habana.maps[i];
        if ((p >= entry->mapping.va) &&
            (p - entry->mapping.va < entry->mapping.size) &&
            (ucm_habana_fd_rdev(entry->mapping.fd) == entry->rdev)) {
            *mapping = entry->mapping;
            found    = 1;
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
        if (!installed) {
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
    ucm_habana_report(handler, UCM_HABANA_VA_START,
                      UCM_HABANA_VA_END - UCM_HABANA_VA_START);
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
