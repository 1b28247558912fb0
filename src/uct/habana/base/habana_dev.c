/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_dev.h"
#include "habana_mem.h"

#include <src/common/habana_sys.h>

#include <ucm/api/ucm.h>
#include <ucs/debug/log_def.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Descriptors a context may move through (dup, then close) between two
 * uses of its copy engine */
#define UCT_HABANA_DEV_MAX_FD_MOVES 8


static void uct_habana_dev_sysfs_path(const uct_habana_dev_t *dev,
                                      const char *leaf, char *buf,
                                      size_t max)
{
    int len = snprintf(buf, max, dev->abi->sysfs_fmt, dev->index);

    if (leaf != NULL) {
        snprintf(buf + len, max - len, "/%s", leaf);
    }
}

/* Accel node names are shared with other drivers */
static int uct_habana_dev_driver_known(const uct_habana_dev_t *dev)
{
    char path[PATH_MAX], driver[64];

    uct_habana_dev_sysfs_path(dev, NULL, path, sizeof(path));
    if (habana_sys_is_habana(path, driver, sizeof(driver))) {
        return 1;
    }

    ucs_debug("habana: %s is driven by '%s', not a habanalabs device",
              dev->compute_path, driver);
    return 0;
}

static int uct_habana_dev_read_numa(const uct_habana_dev_t *dev)
{
    char path[PATH_MAX], value[16] = {0};
    ssize_t len;
    int fd;

    uct_habana_dev_sysfs_path(dev, "numa_node", path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }

    len = read(fd, value, sizeof(value) - 1);
    close(fd);
    return (len > 0) ? atoi(value) : -1;
}

static int uct_habana_dev_is_pci_bdf(const char *name)
{
    unsigned domain, bus, slot, function;
    char tail;

    return sscanf(name, "%x:%x:%x.%x%c", &domain, &bus, &slot, &function,
                  &tail) == 4;
}

/*
 * A device not on PCI (hlsim's faux devices) gets a system device of its
 * own, at a bus id in the last PCI domain named after its node's minor.
 * Without one, UCP holds the device's memory in its memory-type cache as
 * incomplete (no system device, and no flags when it is staged) and
 * queries the memory domains on every operation on it.
 */
static ucs_status_t uct_habana_dev_virtual_sys_dev(uct_habana_dev_t *dev)
{
    ucs_sys_bus_id_t bus_id = {
        .domain   = 0xffff,
        .bus      = 0xff,
        .slot     = minor(dev->rdev) & 0x1f,
        .function = (minor(dev->rdev) >> 5) & 0x7
    };

    return ucs_topo_find_device_by_bus_id(&bus_id, &dev->sys_dev);
}

/* The device's UCX system device was found (@status), at @where: name it */
static void uct_habana_dev_name_sys_dev(uct_habana_dev_t *dev,
                                        ucs_status_t status, const char *where)
{
    if (status != UCS_OK) {
        ucs_debug("habana: no system device for %s (%s): %s", dev->name,
                  where, ucs_status_string(status));
        dev->sys_dev = UCS_SYS_DEVICE_ID_UNKNOWN;
        return;
    }

    ucs_topo_sys_device_set_name(dev->sys_dev, dev->name, 10);
}

/* PCI location and NUMA node, so UCX topology can pair it with a NIC */
static void uct_habana_dev_read_topology(uct_habana_dev_t *dev)
{
    char path[PATH_MAX], parent[sizeof(dev->bus_id)];

    dev->sys_dev   = UCS_SYS_DEVICE_ID_UNKNOWN;
    dev->numa_node = uct_habana_dev_read_numa(dev);
    uct_habana_dev_sysfs_path(dev, NULL, path, sizeof(path));
    habana_sys_link_name(path, parent, sizeof(parent));
    if (!uct_habana_dev_is_pci_bdf(parent)) {
        dev->bus_id[0] = '\0';
        ucs_debug("habana: %s is not a PCI device ('%s')", dev->name,
                  parent);
        uct_habana_dev_name_sys_dev(dev, uct_habana_dev_virtual_sys_dev(dev),
                                    "off PCI");
        return;
    }

    snprintf(dev->bus_id, sizeof(dev->bus_id), "%s", parent);
    uct_habana_dev_name_sys_dev(dev,
                                ucs_topo_find_device_by_bdf_name(
                                        dev->bus_id, &dev->sys_dev),
                                dev->bus_id);
}

/* A descriptor of this process that already refers to the compute node:
 * the device allows only one compute open, which the application's runtime
 * usually holds. */
static int uct_habana_dev_find_open_fd(const uct_habana_dev_t *dev)
{
    return habana_sys_find_open_fd(dev->rdev);
}

static int uct_habana_dev_fd_is_compute(const uct_habana_dev_t *dev, int fd)
{
    struct stat st;

    return (fd >= 0) && (fstat(fd, &st) == 0) && S_ISCHR(st.st_mode) &&
           (st.st_rdev == dev->rdev);
}

/* Every device list of the process shares these contexts */
static struct {
    pthread_mutex_t      lock;
    uct_habana_dev_ctx_t ctx[2 * UCT_HABANA_MAX_DEVICES]; /* both uapis */
} uct_habana_dev_ctxs = {
    .lock = PTHREAD_MUTEX_INITIALIZER
};

/*
 * ctx->dma and ctx->dma_fd are guarded by their own lock: the VM_UNMAPPED
 * handler takes it, and host memory can be unmapped (by free()) wherever
 * the contexts' lock is held.  Nothing is freed or unmapped under it.
 */
static struct {
    pthread_mutex_t lock;
    char            backend[16]; /* UCX_HABANA_DMA_BACKEND; "" = auto */
    unsigned        engines;     /* open: the VM_UNMAPPED handler is set */
} uct_habana_dev_dma_cfg = {
    .lock = PTHREAD_MUTEX_INITIALIZER
};

/* Lock held */
static uct_habana_dev_ctx_t *uct_habana_dev_ctx_get(dev_t rdev)
{
    uct_habana_dev_ctx_t *ctx, *unused = NULL;

    for (ctx = uct_habana_dev_ctxs.ctx;
         ctx < uct_habana_dev_ctxs.ctx +
               ucs_static_array_size(uct_habana_dev_ctxs.ctx); ++ctx) {
        if ((ctx->refcount > 0) && (ctx->rdev == rdev)) {
            ++ctx->refcount;
            return ctx;
        }
        if ((ctx->refcount == 0) && (unused == NULL)) {
            unused = ctx;
        }
    }

    if (unused != NULL) {
        unused->rdev       = rdev;
        unused->refcount   = 1;
        unused->compute_fd = -1;
        unused->fd_epoch   = 0;
        unused->owns_fd    = 0;
    }
    return unused;
}

/*
 * Lock held.  What the caller must release after unlocking: the engine
 * (closed while its descriptor is still open) and our descriptor (its
 * close may unmap host memory, which calls back into UCM's handlers).
 */
static void uct_habana_dev_ctx_put(uct_habana_dev_t *dev,
                                   habana_dma_t **dma_p, int *alive_p,
                                   int *fd_p)
{
    uct_habana_dev_ctx_t *ctx = dev->ctx;

    dev->ctx = NULL;
    if (--ctx->refcount > 0) {
        return;
    }

    pthread_mutex_lock(&uct_habana_dev_dma_cfg.lock);
    *dma_p   = ctx->dma;
    *alive_p = (ctx->dma != NULL) && (ctx->dma_fd == ctx->compute_fd) &&
               uct_habana_dev_fd_is_compute(dev, ctx->compute_fd);
    ctx->dma = NULL;
    pthread_mutex_unlock(&uct_habana_dev_dma_cfg.lock);
    if (ctx->owns_fd && uct_habana_dev_fd_is_compute(dev, ctx->compute_fd)) {
        ucs_debug("habana: closing fd %d of %s: no memory domain uses it",
                  ctx->compute_fd, dev->compute_path);
        *fd_p = ctx->compute_fd;
    }
    ctx->dma        = NULL;
    ctx->dma_failed = 0;
    ctx->compute_fd = -1;
    ctx->fd_epoch   = 0;
    ctx->owns_fd    = 0;
}

/* Lock held */
static ucs_status_t uct_habana_dev_open_compute(uct_habana_dev_t *dev,
                                                ucs_log_level_t busy_level)
{
    int fd = open(dev->compute_path, O_RDWR | O_CLOEXEC);
    int err;

    if (fd >= 0) {
        dev->ctx->compute_fd = fd;
        dev->ctx->owns_fd    = 1;
        ucs_debug("habana: opened %s as fd %d", dev->compute_path, fd);
        return UCS_OK;
    }

    err = errno;
    if (err == EBUSY) {
        ucs_log(busy_level, "habana: %s is busy: another process holds its "
                "compute context (the device allows one open at a time)",
                dev->compute_path);
        return UCS_ERR_BUSY;
    }

    ucs_error("habana: open(%s) failed: %s", dev->compute_path,
              strerror(err));
    return (err == EACCES) ? UCS_ERR_UNREACHABLE : UCS_ERR_NO_DEVICE;
}

/*
 * Lock held.  Is the descriptor still the open file checked last time?
 * libucm_habana's epoch answers without a system call; without it, or
 * after a close of that number, fstat() says whether it is (again) the
 * device.
 */
static int uct_habana_dev_ctx_fd_valid(uct_habana_dev_t *dev)
{
    uct_habana_dev_ctx_t *ctx = dev->ctx;
    uint64_t epoch            = uct_habana_mem_fd_epoch(ctx->compute_fd);

    if ((epoch != 0) && (epoch == ctx->fd_epoch)) {
        return 1;
    }

    if (!uct_habana_dev_fd_is_compute(dev, ctx->compute_fd)) {
        return 0;
    }

    if ((ctx->fd_epoch != 0) && (epoch != ctx->fd_epoch)) {
        /* closed and opened again under the same number: not ours */
        ucs_debug("habana: fd %d of %s was reopened", ctx->compute_fd,
                  dev->compute_path);
        ctx->owns_fd = 0;
    }
    ctx->fd_epoch = epoch;
    return 1;
}

static ucs_status_t uct_habana_dev_get_compute_fd(uct_habana_dev_t *dev,
                                                  ucs_log_level_t busy_level,
                                                  int *fd_p,
                                                  uint64_t *epoch_p)
{
    uct_habana_dev_ctx_t *ctx = dev->ctx;
    ucs_status_t status       = UCS_OK;
    int fd;

    pthread_mutex_lock(&uct_habana_dev_ctxs.lock);
    if (!uct_habana_dev_ctx_fd_valid(dev)) {
        /* The descriptor we borrowed was closed, or never found */
        ctx->compute_fd = -1;
        ctx->owns_fd    = 0;
        fd              = uct_habana_dev_find_open_fd(dev);
        if (fd >= 0) {
            ctx->compute_fd = fd;
            ucs_debug("habana: reusing the application's fd %d for %s", fd,
                      dev->compute_path);
        } else {
            status = uct_habana_dev_open_compute(dev, busy_level);
        }
        ctx->fd_epoch = uct_habana_mem_fd_epoch(ctx->compute_fd);
    }

    *fd_p    = ctx->compute_fd;
    *epoch_p = ctx->fd_epoch;
    pthread_mutex_unlock(&uct_habana_dev_ctxs.lock);
    return status;
}

ucs_status_t uct_habana_dev_compute_fd(uct_habana_dev_t *dev, int *fd_p)
{
    uint64_t epoch;

    return uct_habana_dev_get_compute_fd(dev, UCS_LOG_LEVEL_ERROR, fd_p,
                                         &epoch);
}

/* ---- copy engines ---- */

void uct_habana_dev_dma_backend_set(const char *name)
{
    snprintf(uct_habana_dev_dma_cfg.backend,
             sizeof(uct_habana_dev_dma_cfg.backend), "%s",
             strcmp(name, "auto") ? name : "");
}

/* Host memory went away: no engine may keep it pinned in its cache */
static void uct_habana_dev_vm_unmapped(ucm_event_type_t type,
                                       ucm_event_t *event, void *arg)
{
    uct_habana_dev_ctx_t *ctx;

    if (habana_dma_thread_busy()) {
        return; /* freed inside a driver call, see habana_dma.h */
    }

    pthread_mutex_lock(&uct_habana_dev_dma_cfg.lock);
    for (ctx = uct_habana_dev_ctxs.ctx;
         ctx < uct_habana_dev_ctxs.ctx +
               ucs_static_array_size(uct_habana_dev_ctxs.ctx); ++ctx) {
        if (ctx->dma != NULL) {
            habana_dma_host_unmapped(ctx->dma, event->vm_unmapped.address,
                                     event->vm_unmapped.size);
        }
    }
    pthread_mutex_unlock(&uct_habana_dev_dma_cfg.lock);
}

/* No lock held (the handler takes it, UCM's lock is taken first) */
static void uct_habana_dev_dma_subscribe(int on)
{
    ucs_status_t status;

    if (on && (__atomic_fetch_add(&uct_habana_dev_dma_cfg.engines, 1,
                                  __ATOMIC_ACQ_REL) == 0)) {
        status = ucm_set_event_handler(UCM_EVENT_VM_UNMAPPED, 1000,
                                       uct_habana_dev_vm_unmapped, NULL);
        if (status != UCS_OK) {
            ucs_diag("habana: no VM_UNMAPPED events (%s): host buffers "
                     "stay pinned until the engine closes",
                     ucs_status_string(status));
        }
    } else if (!on && (__atomic_sub_fetch(&uct_habana_dev_dma_cfg.engines, 1,
                                          __ATOMIC_ACQ_REL) == 0)) {
        ucm_unset_event_handler(UCM_EVENT_VM_UNMAPPED,
                                uct_habana_dev_vm_unmapped, NULL);
    }
}

/* No lock held.  @alive: its context still exists, unmap what it mapped */
static void uct_habana_dev_dma_release(habana_dma_t *dma, int alive)
{
    if (alive) {
        habana_dma_close(dma);
    } else {
        habana_dma_forget(dma);
    }
    uct_habana_dev_dma_subscribe(0);
}

/* No lock held: opening and freeing may map and unmap host memory */
static habana_dma_t *uct_habana_dev_dma_open(uct_habana_dev_t *dev, int fd,
                                             int *failed_p)
{
    habana_dma_params_t params = {
        .gen            = dev->abi,
        .fd             = fd,
        .legacy_numbers = dev->legacy_numbers,
        .pci_bus        = (dev->bus_id[0] != '\0') ? dev->bus_id : NULL,
        .cache_host     = 1,
        .backend        = (uct_habana_dev_dma_cfg.backend[0] != '\0') ?
                          uct_habana_dev_dma_cfg.backend : NULL
    };
    habana_dma_t *dma;
    char why[512];

    if (habana_dma_open(&params, &dma, why, sizeof(why)) != 0) {
        if (!__atomic_exchange_n(failed_p, 1, __ATOMIC_RELAXED)) {
            ucs_error("habana: %s has no way to copy between host and device "
                      "memory (%s): staged transfers of its memory fail, "
                      "zero copy is unaffected", dev->name, why);
        }
        return NULL;
    }

    ucs_debug("habana: %s copies through the '%s' DMA backend on fd %d",
              dev->name, habana_dma_backend_name(dma), fd);
    uct_habana_dev_dma_subscribe(1);
    return dma;
}

/*
 * Engine lock held.  The descriptor the engine was opened on was closed:
 * if its open file (the context) stayed with descriptor @fd at @epoch,
 * through one dup or a chain of them, the engine and what it mapped live
 * on, on @fd.
 */
static int uct_habana_dev_dma_moved(uct_habana_dev_ctx_t *ctx, int fd,
                                    uint64_t epoch)
{
    uint64_t at = ctx->dma_epoch, next_epoch;
    int from    = ctx->dma_fd, hops, next;

    for (hops = 0; hops < UCT_HABANA_DEV_MAX_FD_MOVES; ++hops) {
        next = uct_habana_mem_fd_successor(from, at, &next_epoch);
        if (next < 0) {
            return 0;
        }
        if ((next == fd) && (next_epoch == epoch)) {
            ucs_debug("habana: copy engine moves from fd %d to fd %d, "
                      "a descriptor of the same context", ctx->dma_fd, fd);
            habana_dma_set_fd(ctx->dma, fd);
            ctx->dma_fd    = fd;
            ctx->dma_epoch = epoch;
            return 1;
        }
        from = next;
        at   = next_epoch;
    }
    return 0;
}

ucs_status_t uct_habana_dev_dma(uct_habana_dev_t *dev, habana_dma_t **dma_p)
{
    uct_habana_dev_ctx_t *ctx = dev->ctx;
    habana_dma_t *stale = NULL, *dma;
    ucs_status_t status;
    uint64_t epoch;
    int fd;

    status = uct_habana_dev_get_compute_fd(dev, UCS_LOG_LEVEL_ERROR, &fd,
                                           &epoch);
    if (status != UCS_OK) {
        return status;
    }

    pthread_mutex_lock(&uct_habana_dev_dma_cfg.lock);
    if ((ctx->dma != NULL) &&
        (((ctx->dma_fd == fd) && (ctx->dma_epoch == epoch)) ||
         uct_habana_dev_dma_moved(ctx, fd, epoch))) {
        *dma_p = ctx->dma;
        pthread_mutex_unlock(&uct_habana_dev_dma_cfg.lock);
        return UCS_OK;
    }
    /* the descriptor it was opened on was closed: so is its context */
    stale    = ctx->dma;
    ctx->dma = NULL;
    pthread_mutex_unlock(&uct_habana_dev_dma_cfg.lock);

    if (stale != NULL) {
        uct_habana_dev_dma_release(stale, 0);
    }

    dma = uct_habana_dev_dma_open(dev, fd, &ctx->dma_failed);
    if (dma == NULL) {
        return UCS_ERR_UNSUPPORTED;
    }

    pthread_mutex_lock(&uct_habana_dev_dma_cfg.lock);
    if (ctx->dma == NULL) {
        ctx->dma       = dma;
        ctx->dma_fd    = fd;
        ctx->dma_epoch = epoch;
        dma            = NULL;
    }
    *dma_p = ctx->dma;
    pthread_mutex_unlock(&uct_habana_dev_dma_cfg.lock);

    if (dma != NULL) {
        uct_habana_dev_dma_release(dma, 1); /* another thread was first */
    }
    return UCS_OK;
}

void uct_habana_dev_dma_format(uct_habana_dev_t *dev,
                               ucs_string_buffer_t *strb)
{
    habana_dma_usage_t usage;
    int have;

    pthread_mutex_lock(&uct_habana_dev_dma_cfg.lock);
    have = (dev->ctx != NULL) && (dev->ctx->dma != NULL);
    if (have) {
        habana_dma_usage(dev->ctx->dma, &usage);
    }
    pthread_mutex_unlock(&uct_habana_dev_dma_cfg.lock);

    if (have) {
        ucs_string_buffer_appendf(strb, " %s_host_maps=%" PRIu64
                                  " %s_bounced_copies=%" PRIu64, dev->name,
                                  usage.host_maps, dev->name, usage.bounced);
    }
}

int uct_habana_dev_is_held(uct_habana_dev_t *dev)
{
    int held;

    pthread_mutex_lock(&uct_habana_dev_ctxs.lock);
    held = uct_habana_dev_fd_is_compute(dev, dev->ctx->compute_fd) ||
           (uct_habana_dev_find_open_fd(dev) >= 0);
    pthread_mutex_unlock(&uct_habana_dev_ctxs.lock);
    return held;
}

uct_habana_dev_t *uct_habana_dev_list_select(uct_habana_dev_list_t *list,
                                             ucs_sys_device_t sys_dev)
{
    uct_habana_dev_t *dev;
    uint64_t epoch;
    int fd;

    for (dev = list->dev; dev < list->dev + list->count; ++dev) {
        if ((sys_dev != UCS_SYS_DEVICE_ID_UNKNOWN) &&
            (dev->sys_dev == sys_dev)) {
            return dev;
        }
    }

    for (dev = list->dev; dev < list->dev + list->count; ++dev) {
        if (uct_habana_dev_is_held(dev)) {
            return dev;
        }
    }

    /* Nobody holds one yet: the first we can open (others may be busy) */
    for (dev = list->dev; dev < list->dev + list->count; ++dev) {
        if (uct_habana_dev_get_compute_fd(dev, UCS_LOG_LEVEL_DEBUG, &fd,
                                          &epoch) == UCS_OK) {
            return dev;
        }
    }

    return NULL;
}

/* HW_IP_INFO via the control node, which does not take the compute open */
static ucs_status_t uct_habana_dev_query_info(uct_habana_dev_t *dev)
{
    char control_path[64];
    ucs_status_t status;
    int fd;

    snprintf(control_path, sizeof(control_path), dev->abi->control_fmt,
             dev->index);
    fd = open(control_path, O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        status = uct_habana_abi_hw_info(dev->abi, fd, &dev->legacy_numbers,
                                        &dev->hw);
        close(fd);
        return status;
    }

    ucs_debug("habana: open(%s) failed: %m", control_path);
    fd = uct_habana_dev_find_open_fd(dev);
    if (fd < 0) {
        return UCS_ERR_NO_DEVICE;
    }

    return uct_habana_abi_hw_info(dev->abi, fd, &dev->legacy_numbers,
                                  &dev->hw);
}

static ucs_status_t uct_habana_dev_probe(uct_habana_dev_t *dev,
                                         const uct_habana_abi_t *abi,
                                         int index, unsigned number)
{
    struct stat st;
    ucs_status_t status;

    memset(dev, 0, sizeof(*dev));
    dev->abi        = abi;
    dev->index      = index;
    snprintf(dev->name, sizeof(dev->name), "habana%u", number);
    snprintf(dev->compute_path, sizeof(dev->compute_path), abi->compute_fmt,
             index);

    if ((stat(dev->compute_path, &st) != 0) || !S_ISCHR(st.st_mode)) {
        return UCS_ERR_NO_DEVICE;
    }

    dev->rdev = st.st_rdev;
    if (abi->check_driver && !uct_habana_dev_driver_known(dev)) {
        return UCS_ERR_NO_DEVICE;
    }

    status = uct_habana_dev_query_info(dev);
    if (status != UCS_OK) {
        ucs_diag("habana: %s present but not usable: cannot query its "
                 "HW_IP_INFO", dev->compute_path);
        return status;
    }

    pthread_mutex_lock(&uct_habana_dev_ctxs.lock);
    dev->ctx = uct_habana_dev_ctx_get(dev->rdev);
    pthread_mutex_unlock(&uct_habana_dev_ctxs.lock);
    if (dev->ctx == NULL) {
        ucs_error("habana: too many device nodes, %s ignored",
                  dev->compute_path);
        return UCS_ERR_EXCEEDS_LIMIT;
    }

    uct_habana_dev_read_topology(dev);
    ucs_debug("habana: %s: %s (%s uapi%s) device id 0x%x, dram %" PRIu64
              " MiB, page %" PRIu64 ", pci '%s', numa %d", dev->name,
              dev->compute_path, abi->name,
              dev->legacy_numbers ? ", legacy ioctl numbers" : "",
              dev->hw.device_id, dev->hw.dram_size >> 20,
              dev->hw.dram_page_size, dev->bus_id, dev->numa_node);
    return UCS_OK;
}

ucs_status_t uct_habana_dev_list_discover(uct_habana_dev_list_t *list)
{
    const uct_habana_abi_t *const *abi;
    uct_habana_dev_t *dev;
    int index;

    list->count = 0;
    for (abi = habana_uapi_gens; *abi != NULL; ++abi) {
        for (index = 0; index < UCT_HABANA_MAX_DEVICES; ++index) {
            if (list->count == UCT_HABANA_MAX_DEVICES) {
                return UCS_OK;
            }

            dev = &list->dev[list->count];
            if (uct_habana_dev_probe(dev, *abi, index, list->count) ==
                UCS_OK) {
                ++list->count;
            }
        }
    }

    return UCS_OK;
}

void uct_habana_dev_list_cleanup(uct_habana_dev_list_t *list)
{
    uct_habana_dev_t *dev;
    habana_dma_t *dma;
    int fd, alive;

    for (dev = list->dev; dev < list->dev + list->count; ++dev) {
        dma = NULL;
        fd  = -1;
        pthread_mutex_lock(&uct_habana_dev_ctxs.lock);
        uct_habana_dev_ctx_put(dev, &dma, &alive, &fd);
        pthread_mutex_unlock(&uct_habana_dev_ctxs.lock);
        if (dma != NULL) {
            uct_habana_dev_dma_release(dma, alive);
        }
        if (fd >= 0) {
            close(fd);
        }
    }

    list->count = 0;
}
