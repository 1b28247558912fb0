/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "hlmem.h"

#include <drm/habanalabs_accel.h>
#include <src/common/habana_dma.h>
#include <src/common/habana_sys.h>
#include <src/common/habana_uapi.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define HLMEM_MAX_DEVICES HABANA_MAX_DEVICES

#define HLMEM_BOUNCE_SIZE (1024 * 1024)


typedef habana_uapi_gen_t hlmem_abi_t;

typedef struct {
    const hlmem_abi_t *abi;
    char              path[64];
    dev_t             rdev;
    char              parent[NAME_MAX + 1]; /* sysfs parent: PCI BDF, ... */
    int               fd;        /* compute descriptor, -1 until opened */
    uint64_t          page_size;
    habana_dma_t      *dma;      /* copy engine, NULL until the first copy */
} hlmem_device_t;

typedef struct {
    uint64_t va;
    size_t   size;
    uint64_t handle;
    int      device;
} hlmem_alloc_t;

static struct {
    pthread_mutex_t lock;
    pthread_once_t  once;
    hlmem_device_t  devices[HLMEM_MAX_DEVICES];
    int             num_devices;
    hlmem_alloc_t   *allocs;
    unsigned        num_allocs, max_allocs;
} hlmem = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .once = PTHREAD_ONCE_INIT
};

static int hlmem_ioctl(int fd, unsigned long cmd, void *arg)
{
    return habana_sys_ioctl(fd, cmd, arg);
}

static void hlmem_probe(const hlmem_abi_t *abi, int index)
{
    hlmem_device_t *dev = &hlmem.devices[hlmem.num_devices];
    char link[PATH_MAX], driver[NAME_MAX + 1];
    struct stat st;

    snprintf(dev->path, sizeof(dev->path), abi->compute_fmt, index);
    if ((stat(dev->path, &st) != 0) || !S_ISCHR(st.st_mode)) {
        return;
    }

    snprintf(link, sizeof(link), abi->sysfs_fmt, index);
    if (abi->check_driver &&
        !habana_sys_is_habana(link, driver, sizeof(driver))) {
        return;
    }

    habana_sys_link_name(link, dev->parent, sizeof(dev->parent));
    dev->abi  = abi;
    dev->rdev = st.st_rdev;
    dev->fd   = -1;
    ++hlmem.num_devices;
}

static void hlmem_discover(void)
{
    const hlmem_abi_t *const *abi;
    int index;

    for (abi = habana_uapi_gens; *abi != NULL; ++abi) {
        for (index = 0; (index < HLMEM_MAX_DEVICES) &&
                        (hlmem.num_devices < HLMEM_MAX_DEVICES); ++index) {
            hlmem_probe(*abi, index);
        }
    }
}

int hlmem_device_count(void)
{
    pthread_once(&hlmem.once, hlmem_discover);
    return hlmem.num_devices;
}

/* The runtime may already hold the single compute open of the device */
static int hlmem_find_open_fd(const hlmem_device_t *dev)
{
    return habana_sys_find_open_fd(dev->rdev);
}

static int hlmem_query_page_size(hlmem_device_t *dev)
{
    struct hl_info_hw_ip_info hw_ip;
    struct hl_info_args args;
    int ret;

    memset(&args, 0, sizeof(args));
    memset(&hw_ip, 0, sizeof(hw_ip));
    args.op             = HL_INFO_HW_IP_INFO;
    args.return_pointer = (uintptr_t)&hw_ip;
    args.return_size    = sizeof(hw_ip);
    ret                 = hlmem_ioctl(dev->fd, dev->abi->info_cmd, &args);
    if (ret < 0) {
        return ret;
    }

    dev->page_size = hw_ip.device_mem_alloc_default_page_size ?
                     hw_ip.device_mem_alloc_default_page_size :
                     hw_ip.dram_page_size;
    if (dev->page_size == 0) {
        dev->page_size = 4096;
    }
    return 0;
}

static int hlmem_open_locked(int device)
{
    hlmem_device_t *dev;
    int fd;

    if ((device < 0) || (device >= hlmem_device_count())) {
        return -ENODEV;
    }

    dev = &hlmem.devices[device];
    if (dev->fd >= 0) {
        return 0;
    }

    fd = hlmem_find_open_fd(dev);
    if (fd < 0) {
        fd = open(dev->path, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            return -errno;
        }
    }

    dev->fd = fd;
    return hlmem_query_page_size(dev);
}

static int hlmem_default_device(void)
{
    const char *env = getenv("HLMEM_DEVICE");

    return (env != NULL) ? atoi(env) : 0;
}

int hlmem_device_pci_bus_id(int device, char *bus_id, size_t max)
{
    unsigned domain, bus, slot, function;
    const char *parent;
    char tail;

    if ((device < 0) || (device >= hlmem_device_count())) {
        return -ENODEV;
    }

    parent = hlmem.devices[device].parent;
    if (sscanf(parent, "%x:%x:%x.%x%c", &domain, &bus, &slot, &function,
               &tail) != 4) {
        return -ENOENT;
    }

    return (snprintf(bus_id, max, "%s", parent) < (int)max) ? 0 : -ENOSPC;
}

int hlmem_init(int device)
{
    int ret;

    pthread_mutex_lock(&hlmem.lock);
    ret = hlmem_open_locked(device);
    pthread_mutex_unlock(&hlmem.lock);
    return ret;
}

static int hlmem_memory(hlmem_device_t *dev, union hl_mem_args *args)
{
    return hlmem_ioctl(dev->fd, dev->abi->memory_cmd, args);
}

static int hlmem_record(uint64_t va, size_t size, uint64_t handle,
                        int device)
{
    hlmem_alloc_t *allocs;
    unsigned max;

    if (hlmem.num_allocs == hlmem.max_allocs) {
        max    = hlmem.max_allocs ? 2 * hlmem.max_allocs : 64;
        allocs = realloc(hlmem.allocs, max * sizeof(*allocs));
        if (allocs == NULL) {
            return -ENOMEM;
        }
        hlmem.allocs     = allocs;
        hlmem.max_allocs = max;
    }

    hlmem.allocs[hlmem.num_allocs++] = (hlmem_alloc_t){va, size, handle,
                                                       device};
    return 0;
}

static int hlmem_alloc_locked(int device, size_t size, void **ptr)
{
    union hl_mem_args args;
    hlmem_device_t *dev;
    uint64_t handle;
    int ret;

    ret = hlmem_open_locked(device);
    if (ret < 0) {
        return ret;
    }

    dev  = &hlmem.devices[device];
    size = (size + dev->page_size - 1) / dev->page_size * dev->page_size;
    memset(&args, 0, sizeof(args));
    args.in.op             = HL_MEM_OP_ALLOC;
    args.in.alloc.mem_size = size ? size : dev->page_size;
    ret                    = hlmem_memory(dev, &args);
    if (ret < 0) {
        return ret;
    }

    handle = args.out.handle;
    size   = size ? size : dev->page_size;
    memset(&args, 0, sizeof(args));
    args.in.op                = HL_MEM_OP_MAP;
    args.in.map_device.handle = handle;
    ret                       = hlmem_memory(dev, &args);
    if (ret == 0) {
        *ptr = (void*)(uintptr_t)args.out.device_virt_addr;
        ret  = hlmem_record(args.out.device_virt_addr, size, handle, device);
        if (ret == 0) {
            return 0;
        }
        memset(&args, 0, sizeof(args));
        args.in.op                     = HL_MEM_OP_UNMAP;
        args.in.unmap.device_virt_addr = (uintptr_t)*ptr;
        hlmem_memory(dev, &args);
    }

    memset(&args, 0, sizeof(args));
    args.in.op          = HL_MEM_OP_FREE;
    args.in.free.handle = handle;
    hlmem_memory(dev, &args);
    return ret;
}

void *hlmem_alloc_on(int device, size_t size)
{
    void *ptr = NULL;
    int ret;

    pthread_mutex_lock(&hlmem.lock);
    ret = hlmem_alloc_locked(device, size, &ptr);
    pthread_mutex_unlock(&hlmem.lock);
    if (ret < 0) {
        errno = -ret;
        return NULL;
    }
    return ptr;
}

void *hlmem_alloc(size_t size)
{
    return hlmem_alloc_on(hlmem_default_device(), size);
}

/*
 * The device of memory another allocator mapped (a UCX memory domain):
 * HLMEM_DEVICE if set, else the device this process already uses (a
 * compute context exists only once per device and process), else 0
 */
static int hlmem_untracked_device_locked(void)
{
    int device;

    if (getenv("HLMEM_DEVICE") != NULL) {
        return hlmem_default_device();
    }

    for (device = 0; device < hlmem_device_count(); ++device) {
        if ((hlmem.devices[device].fd >= 0) ||
            (hlmem_find_open_fd(&hlmem.devices[device]) >= 0)) {
            return device;
        }
    }
    return 0;
}

/* The allocation holding [ptr, ptr + size), or NULL */
static hlmem_alloc_t *hlmem_find_locked(const void *ptr, size_t size)
{
    uint64_t p = (uintptr_t)ptr;
    hlmem_alloc_t *a;

    for (a = hlmem.allocs; a < hlmem.allocs + hlmem.num_allocs; ++a) {
        if ((p >= a->va) && (p - a->va < a->size) &&
            (size <= a->size - (p - a->va))) {
            return a;
        }
    }
    return NULL;
}

int hlmem_is_device_ptr(const void *ptr)
{
    int found;

    pthread_mutex_lock(&hlmem.lock);
    found = (hlmem_find_locked(ptr, 0) != NULL);
    pthread_mutex_unlock(&hlmem.lock);
    return found;
}

int hlmem_free(void *ptr)
{
    union hl_mem_args args;
    hlmem_device_t *dev;
    hlmem_alloc_t *a;
    int ret;

    pthread_mutex_lock(&hlmem.lock);
    a = hlmem_find_locked(ptr, 0);
    if ((a == NULL) || (a->va != (uintptr_t)ptr)) {
        ret = -EINVAL;
        goto out;
    }

    dev = &hlmem.devices[a->device];
    memset(&args, 0, sizeof(args));
    args.in.op                     = HL_MEM_OP_UNMAP;
    args.in.unmap.device_virt_addr = a->va;
    ret                            = hlmem_memory(dev, &args);
    if (ret < 0) {
        goto out;
    }

    memset(&args, 0, sizeof(args));
    args.in.op          = HL_MEM_OP_FREE;
    args.in.free.handle = a->handle;
    ret                 = hlmem_memory(dev, &args);
    *a                  = hlmem.allocs[--hlmem.num_allocs];
out:
    pthread_mutex_unlock(&hlmem.lock);
    return ret;
}

static int hlmem_in_device_range(const void *ptr)
{
    return ((uintptr_t)ptr >= HABANA_VA_START) &&
           ((uintptr_t)ptr < HABANA_VA_END);
}

/*
 * The device whose DMA copies @dev_ptr: the one of our allocation holding
 * it, else (memory another user of the device mapped in this process, e.g.
 * UCX) the default device; the driver checks the range.
 */
static hlmem_device_t *hlmem_copy_device_of(const void *dev_ptr, size_t size)
{
    hlmem_device_t *dev = NULL;
    hlmem_alloc_t *a;
    int device;

    pthread_mutex_lock(&hlmem.lock);
    a = hlmem_find_locked(dev_ptr, size);
    if (a != NULL) {
        dev = &hlmem.devices[a->device];
    } else if (hlmem_in_device_range(dev_ptr)) {
        device = hlmem_untracked_device_locked();
        if (hlmem_open_locked(device) == 0) {
            dev = &hlmem.devices[device];
        }
    }
    pthread_mutex_unlock(&hlmem.lock);
    return dev;
}

/* Lock held.  The device's copy engine (HLMEM_DMA_BACKEND: cs, synapse) */
static int hlmem_dma_engine_locked(hlmem_device_t *dev)
{
    habana_dma_params_t params = {
        .gen            = dev->abi,
        .fd             = dev->fd,
        .legacy_numbers = 0,
        .pci_bus        = dev->parent,
        .cache_host     = 0, /* nobody tells libhlmem of unmapped memory */
        .backend        = getenv("HLMEM_DMA_BACKEND")
    };
    char why[512];
    int ret;

    if (dev->dma != NULL) {
        return 0;
    }

    ret = habana_dma_open(&params, &dev->dma, why, sizeof(why));
    if (ret != 0) {
        fprintf(stderr, "libhlmem: %s: no way to copy to and from the "
                "device: %s\n", dev->path, why);
        dev->dma = NULL;
    }
    return ret;
}

/* One DMA copy; @dev_ptr is the device side (either for device->device) */
static int hlmem_dma(void *dst, const void *src, size_t size,
                     const void *dev_ptr, habana_dma_dir_t dir)
{
    hlmem_device_t *dev;
    int ret;

    if (size == 0) {
        return 0;
    }

    dev = hlmem_copy_device_of(dev_ptr, size);
    if (dev == NULL) {
        return -EFAULT;
    }

    pthread_mutex_lock(&hlmem.lock);
    ret = hlmem_dma_engine_locked(dev);
    pthread_mutex_unlock(&hlmem.lock);
    if (ret == 0) {
        ret = habana_dma_copy(dev->dma, dst, src, size, dir);
        if ((ret != 0) && (getenv("HLMEM_DEBUG") != NULL)) {
            fprintf(stderr, "libhlmem: %s\n", habana_dma_error(dev->dma));
        }
    }
    return ret;
}

int hlmem_copy_to_device(void *dev_dst, const void *host_src, size_t size)
{
    return hlmem_dma(dev_dst, host_src, size, dev_dst, HABANA_DMA_H2D);
}

int hlmem_copy_from_device(void *host_dst, const void *dev_src, size_t size)
{
    return hlmem_dma(host_dst, dev_src, size, dev_src, HABANA_DMA_D2H);
}

int hlmem_copy_device(void *dev_dst, const void *dev_src, size_t size)
{
    if (!hlmem_in_device_range(dev_src)) {
        return -EFAULT;
    }
    return hlmem_dma(dev_dst, dev_src, size, dev_dst, HABANA_DMA_D2D);
}

int hlmem_copy(void *dst, const void *src, size_t size)
{
    int dst_dev = hlmem_in_device_range(dst);
    int src_dev = hlmem_in_device_range(src);

    if (dst_dev && src_dev) {
        return hlmem_copy_device(dst, src, size);
    } else if (dst_dev) {
        return hlmem_copy_to_device(dst, src, size);
    } else if (src_dev) {
        return hlmem_copy_from_device(dst, src, size);
    }

    memmove(dst, src, size);
    return 0;
}

int hlmem_export_dmabuf(const void *ptr, int *fd_p, size_t *offset_p)
{
    union hl_mem_args args;
    hlmem_device_t *dev;
    hlmem_alloc_t *a;
    int ret;

    memset(&args, 0, sizeof(args));
    pthread_mutex_lock(&hlmem.lock);
    a = hlmem_find_locked(ptr, 0);
    if (a == NULL) {
        pthread_mutex_unlock(&hlmem.lock);
        return -EINVAL;
    }

    dev = &hlmem.devices[a->device];
    args.in.op    = HL_MEM_OP_EXPORT_DMABUF_FD;
    args.in.flags = O_RDWR | O_CLOEXEC;
    if (dev->abi->export_by_handle) {
        /* the old uapi exports by handle, the whole allocation */
        args.in.export_dmabuf_fd.addr = a->handle;
    } else {
        args.in.export_dmabuf_fd.addr = a->va;
    }
    args.in.export_dmabuf_fd.mem_size = a->size;
    *offset_p = (uintptr_t)ptr - a->va;
    pthread_mutex_unlock(&hlmem.lock);

    ret = hlmem_memory(dev, &args);
    if (ret == 0) {
        *fd_p = args.out.fd;
    }
    return ret;
}

int hlmem_memset(void *dev_dst, int value, size_t size)
{
    size_t chunk = (size < HLMEM_BOUNCE_SIZE) ? size : HLMEM_BOUNCE_SIZE;
    size_t offset, len;
    char *bounce;
    int ret = 0;

    if (size == 0) {
        return 0;
    }

    bounce = malloc(chunk);
    if (bounce == NULL) {
        return -ENOMEM;
    }

    memset(bounce, value, chunk);
    for (offset = 0; (ret == 0) && (offset < size); offset += len) {
        len = (size - offset < chunk) ? (size - offset) : chunk;
        ret = hlmem_copy_to_device((char*)dev_dst + offset, bounce, len);
    }

    free(bounce);
    return ret;
}
