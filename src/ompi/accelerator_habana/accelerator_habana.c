/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * mca_accelerator_habana: an Open MPI (6.0) accelerator framework component
 * for Habana device memory.
 *
 * Open MPI asks the selected accelerator module whether a buffer is device
 * memory (check_addr) before its datatype engine and collective components
 * touch it, and then copies through mem_copy/mem_move instead of memcpy.
 * With this component the local copies of MPI_Allgather, MPI_Alltoall etc.
 * on Habana buffers go through libhlmem's device copies; the transfers
 * themselves still go through pml ucx and the habana UCX plugin.
 *
 * Device memory is recognized by its address range (Gaudi2 and later map
 * device memory at non-canonical x86-64 addresses), so check_addr costs two
 * compares.  The device has no streams or events this component could use:
 * every asynchronous operation is done synchronously, so streams, events
 * and their queries are trivial and always complete.  There is no IPC.
 *
 * Selection: Open MPI 6.0 initializes every opened accelerator component
 * and picks the one that is not "null" (it has no priorities).  init()
 * returns NULL when the machine has no Habana device, so an installed
 * component is harmless there; `--mca accelerator habana` selects it
 * explicitly (and fails MPI_Init without a device).  Nothing opens the
 * device's (single) compute node at MPI_Init: libhlmem opens it, or reuses
 * the runtime's descriptor, at the first copy or allocation.
 */
#include "accelerator_habana_ompi.h"

#include <src/common/habana_uapi.h>
#include <src/tools/hlmem/hlmem.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HABANA_EXPORT __attribute__((visibility("default")))


/* Nominal HBM bandwidth reported by get_mem_bw (GB/s, Gaudi2) */
#define HABANA_MEM_BW_GBS 2450.0f

/* Bounce buffer limit for overlapping device->device moves */
#define HABANA_MOVE_CHUNK (4u << 20)

static struct {
    int             device;      /* this process's device (HLMEM_DEVICE) */
    int             num_devices;
    pthread_mutex_t lock;        /* allocs */
    struct habana_alloc {
        void  *ptr;
        size_t size;
        opal_accelerator_buffer_id_t id;
    } *allocs;
    size_t          num_allocs, max_allocs;
    opal_accelerator_buffer_id_t next_id;
} habana_acc = {
    .device = 0,
    .lock   = PTHREAD_MUTEX_INITIALIZER,
    .next_id = 1
};

static inline int habana_is_dev(const void *addr)
{
    uintptr_t p = (uintptr_t)addr;

    return (p >= HABANA_VA_START) && (p < HABANA_VA_END);
}

static int habana_error(const char *what, int ret, const void *dst,
                        const void *src, size_t size)
{
    fprintf(stderr, "[%d] accelerator/habana: %s %p <- %p (%zu bytes) failed: %s\n",
            (int)getpid(), what, dst, src, size, strerror(-ret));
    return (ret == -ENOMEM) ? OPAL_ERR_OUT_OF_RESOURCE : OPAL_ERROR;
}

/* ---- addresses ---------------------------------------------------------- */

static int habana_check_addr(const void *addr, int *dev_id, uint64_t *flags)
{
    *flags = 0;      /* device memory only, never unified */
    if (habana_is_dev(addr)) {
        *dev_id = habana_acc.device;
        return 1;
    }
    *dev_id = MCA_ACCELERATOR_NO_DEVICE_ID;
    return 0;
}

/* ---- streams and events: everything completes synchronously -------------- */

static int habana_create_stream(int dev_id, opal_accelerator_stream_t **stream)
{
    *stream = OBJ_NEW(opal_accelerator_stream_t);
    if (*stream == NULL) {
        return OPAL_ERR_OUT_OF_RESOURCE;
    }
    (*stream)->stream = NULL;
    return OPAL_SUCCESS;
}

static int habana_sync_stream(opal_accelerator_stream_t *stream)
{
    return OPAL_SUCCESS;
}

static int habana_create_event(int dev_id, opal_accelerator_event_t **event,
                               bool enable_ipc)
{
    if (enable_ipc) {
        return OPAL_ERR_NOT_SUPPORTED;
    }
    *event = OBJ_NEW(opal_accelerator_event_t);
    if (*event == NULL) {
        return OPAL_ERR_OUT_OF_RESOURCE;
    }
    (*event)->event = NULL;
    return OPAL_SUCCESS;
}

static int habana_record_event(int dev_id, opal_accelerator_event_t *event,
                               opal_accelerator_stream_t *stream)
{
    return OPAL_SUCCESS;
}

static int habana_query_event(int dev_id, opal_accelerator_event_t *event)
{
    return OPAL_SUCCESS;     /* the work before it is already done */
}

static int habana_wait_event(int dev_id, opal_accelerator_event_t *event,
                             opal_accelerator_stream_t *stream)
{
    return OPAL_SUCCESS;
}

/* ---- copies ------------------------------------------------------------- */

static int habana_memcpy(int dest_dev_id, int src_dev_id, void *dest,
                         const void *src, size_t size,
                         opal_accelerator_transfer_type_t type)
{
    int ret;

    if (size == 0) {
        return OPAL_SUCCESS;
    }
    if (!habana_is_dev(dest) && !habana_is_dev(src)) {
        memcpy(dest, src, size);
        return OPAL_SUCCESS;
    }

    ret = hlmem_copy(dest, src, size);
    return (ret == 0) ? OPAL_SUCCESS : habana_error("copy", ret, dest, src, size);
}

/* Overlapping device ranges: through host memory, in chunks ordered so
 * that no source byte is overwritten before it is read */
static int habana_move_overlapping(char *dest, const char *src, size_t size)
{
    size_t chunk = (size < HABANA_MOVE_CHUNK) ? size : HABANA_MOVE_CHUNK;
    size_t done, len, off;
    void *bounce;
    int ret = 0;

    bounce = malloc(chunk);
    if (bounce == NULL) {
        return -ENOMEM;
    }

    for (done = 0; (done < size) && (ret == 0); done += len) {
        len = ((size - done) < chunk) ? (size - done) : chunk;
        /* moving down: front to back; moving up: back to front */
        off = (dest < src) ? done : (size - done - len);
        ret = hlmem_copy(bounce, src + off, len);
        if (ret == 0) {
            ret = hlmem_copy(dest + off, bounce, len);
        }
    }

    free(bounce);
    return ret;
}

static int habana_memmove(int dest_dev_id, int src_dev_id, void *dest,
                          const void *src, size_t size,
                          opal_accelerator_transfer_type_t type)
{
    const char *d = dest, *s = src;
    int ret;

    if ((size == 0) || (dest == src)) {
        return OPAL_SUCCESS;
    }
    if (!habana_is_dev(dest) && !habana_is_dev(src)) {
        memmove(dest, src, size);
        return OPAL_SUCCESS;
    }

    if (habana_is_dev(dest) && habana_is_dev(src) &&
        (d < s + size) && (s < d + size)) {
        ret = habana_move_overlapping(dest, src, size);
    } else {
        ret = hlmem_copy(dest, src, size);
    }
    return (ret == 0) ? OPAL_SUCCESS : habana_error("move", ret, dest, src, size);
}

static int habana_memcpy_async(int dest_dev_id, int src_dev_id, void *dest,
                               const void *src, size_t size,
                               opal_accelerator_stream_t *stream,
                               opal_accelerator_transfer_type_t type)
{
    return habana_memcpy(dest_dev_id, src_dev_id, dest, src, size, type);
}

static int habana_memmove_async(int dest_dev_id, int src_dev_id, void *dest,
                                const void *src, size_t size,
                                opal_accelerator_stream_t *stream,
                                opal_accelerator_transfer_type_t type)
{
    return habana_memmove(dest_dev_id, src_dev_id, dest, src, size, type);
}

/* ---- device memory ------------------------------------------------------ */

static struct habana_alloc *habana_find_locked(const void *ptr)
{
    const char *p = ptr;
    size_t i;

    for (i = 0; i < habana_acc.num_allocs; ++i) {
        const char *base = habana_acc.allocs[i].ptr;

        if ((p >= base) && (p < base + habana_acc.allocs[i].size)) {
            return &habana_acc.allocs[i];
        }
    }
    return NULL;
}

static int habana_track(void *ptr, size_t size)
{
    struct habana_alloc *a;
    size_t max;

    pthread_mutex_lock(&habana_acc.lock);
    if (habana_acc.num_allocs == habana_acc.max_allocs) {
        max = habana_acc.max_allocs ? (2 * habana_acc.max_allocs) : 16;
        a   = realloc(habana_acc.allocs, max * sizeof(*a));
        if (a == NULL) {
            pthread_mutex_unlock(&habana_acc.lock);
            return OPAL_ERR_OUT_OF_RESOURCE;
        }
        habana_acc.allocs     = a;
        habana_acc.max_allocs = max;
    }
    a       = &habana_acc.allocs[habana_acc.num_allocs++];
    a->ptr  = ptr;
    a->size = size;
    a->id   = habana_acc.next_id++;
    pthread_mutex_unlock(&habana_acc.lock);
    return OPAL_SUCCESS;
}

static int habana_mem_alloc(int dev_id, void **ptr, size_t size)
{
    int device = (dev_id == MCA_ACCELERATOR_NO_DEVICE_ID) ? habana_acc.device :
                                                            dev_id;
    void *p;

    if (size == 0) {
        *ptr = NULL;
        return OPAL_SUCCESS;
    }

    p = hlmem_alloc_on(device, size);
    if (p == NULL) {
        habana_error("alloc", -errno, NULL, NULL, size);
        return OPAL_ERR_OUT_OF_RESOURCE;
    }
    if (habana_track(p, size) != OPAL_SUCCESS) {
        hlmem_free(p);
        return OPAL_ERR_OUT_OF_RESOURCE;
    }
    *ptr = p;
    return OPAL_SUCCESS;
}

static int habana_mem_release(int dev_id, void *ptr)
{
    struct habana_alloc *a;
    int ret;

    if (ptr == NULL) {
        return OPAL_SUCCESS;
    }

    pthread_mutex_lock(&habana_acc.lock);
    a = habana_find_locked(ptr);
    if ((a == NULL) || (a->ptr != ptr)) {
        pthread_mutex_unlock(&habana_acc.lock);
        return OPAL_ERR_BAD_PARAM;
    }
    *a = habana_acc.allocs[--habana_acc.num_allocs];
    pthread_mutex_unlock(&habana_acc.lock);

    ret = hlmem_free(ptr);
    return (ret == 0) ? OPAL_SUCCESS : habana_error("free", ret, ptr, NULL, 0);
}

static int habana_mem_alloc_stream(int dev_id, void **ptr, size_t size,
                                   opal_accelerator_stream_t *stream)
{
    return habana_mem_alloc(dev_id, ptr, size);
}

static int habana_mem_release_stream(int dev_id, void *ptr,
                                     opal_accelerator_stream_t *stream)
{
    return habana_mem_release(dev_id, ptr);
}

/* Known for this component's allocations only: a mapping made by someone
 * else (the application through libhlmem, a runtime) is not visible here */
static int habana_get_address_range(int dev_id, const void *ptr, void **base,
                                    size_t *size)
{
    struct habana_alloc *a;
    int ret = OPAL_ERR_NOT_FOUND;

    pthread_mutex_lock(&habana_acc.lock);
    a = habana_find_locked(ptr);
    if (a != NULL) {
        if (base != NULL) {
            *base = a->ptr;
        }
        if (size != NULL) {
            *size = a->size;
        }
        ret = OPAL_SUCCESS;
    }
    pthread_mutex_unlock(&habana_acc.lock);
    return ret;
}

static int habana_get_buffer_id(int dev_id, const void *addr,
                                opal_accelerator_buffer_id_t *buf_id)
{
    struct habana_alloc *a;
    int ret = OPAL_ERR_NOT_FOUND;

    pthread_mutex_lock(&habana_acc.lock);
    a = habana_find_locked(addr);
    if (a != NULL) {
        *buf_id = a->id;
        ret     = OPAL_SUCCESS;
    }
    pthread_mutex_unlock(&habana_acc.lock);
    return ret;
}

/* ---- IPC: not supported (device memory is shared through UCX) ------------ */

static bool habana_is_ipc_enabled(void)
{
    return false;
}

static int habana_get_ipc_handle(int dev_id, void *dev_ptr,
                                 opal_accelerator_ipc_handle_t *handle)
{
    return OPAL_ERR_NOT_SUPPORTED;
}

static int habana_import_ipc_handle(int dev_id,
                                    uint8_t ipc_handle[IPC_MAX_HANDLE_SIZE],
                                    opal_accelerator_ipc_handle_t *handle)
{
    return OPAL_ERR_NOT_SUPPORTED;
}

static int habana_open_ipc_handle(int dev_id,
                                  opal_accelerator_ipc_handle_t *handle,
                                  void **dev_ptr)
{
    return OPAL_ERR_NOT_SUPPORTED;
}

static int habana_compare_ipc_handles(uint8_t handle_1[IPC_MAX_HANDLE_SIZE],
                                      uint8_t handle_2[IPC_MAX_HANDLE_SIZE])
{
    return OPAL_ERR_NOT_SUPPORTED;
}

static int habana_get_ipc_event_handle(opal_accelerator_event_t *event,
                                       opal_accelerator_ipc_event_handle_t *handle)
{
    return OPAL_ERR_NOT_SUPPORTED;
}

static int habana_import_ipc_event_handle(uint8_t ipc_handle[IPC_MAX_HANDLE_SIZE],
                                          opal_accelerator_ipc_event_handle_t *handle)
{
    return OPAL_ERR_NOT_SUPPORTED;
}

static int habana_open_ipc_event_handle(opal_accelerator_ipc_event_handle_t *handle,
                                        opal_accelerator_event_t *event)
{
    return OPAL_ERR_NOT_SUPPORTED;
}

/* ---- host memory: the copies take any host buffer, nothing to pin ------- */

static int habana_host_register(int dev_id, void *ptr, size_t size)
{
    return OPAL_SUCCESS;
}

static int habana_host_unregister(int dev_id, void *ptr)
{
    return OPAL_SUCCESS;
}

/* ---- devices ------------------------------------------------------------ */

static int habana_get_device(int *dev_id)
{
    *dev_id = habana_acc.device;
    return OPAL_SUCCESS;
}

/* PCI address of @dev_id, in libhlmem's device order */
static int habana_get_device_pci_attr(int dev_id, opal_accelerator_pci_attr_t *attr)
{
    unsigned domain, bus, dev, fn;
    char bus_id[32];

    if ((hlmem_device_pci_bus_id(dev_id, bus_id, sizeof(bus_id)) != 0) ||
        (sscanf(bus_id, "%x:%x:%x.%x", &domain, &bus, &dev, &fn) != 4)) {
        return OPAL_ERR_NOT_FOUND;    /* absent, or not on PCI (hlsim) */
    }

    attr->domain_id   = domain;
    attr->bus_id      = bus;
    attr->device_id   = dev;
    attr->function_id = fn;
    return OPAL_SUCCESS;
}

/* Copies between two devices are not implemented by libhlmem */
static int habana_device_can_access_peer(int *access, int dev1, int dev2)
{
    *access = (dev1 == dev2);
    return OPAL_SUCCESS;
}

static int habana_get_num_devices(int *num_devices)
{
    *num_devices = habana_acc.num_devices;
    return OPAL_SUCCESS;
}

static int habana_get_mem_bw(int device, float *bw)
{
    *bw = HABANA_MEM_BW_GBS;
    return OPAL_SUCCESS;
}

/* MPI 4.1 memory kind "habana:device" (strings freed by Open MPI) */
static void habana_get_memkind(ompi_memkind_t *memkind)
{
    memkind->im_name            = strdup("habana");
    memkind->im_no_restrictors  = false;
    memkind->im_num_restrictors = 1;
    memkind->im_restrictors[0]  = strdup("device");
}

static opal_accelerator_base_module_t habana_module = {
    .check_addr             = habana_check_addr,

    .create_stream          = habana_create_stream,
    .sync_stream            = habana_sync_stream,
    .create_event           = habana_create_event,
    .record_event           = habana_record_event,
    .query_event            = habana_query_event,
    .wait_event             = habana_wait_event,

    .mem_copy_async         = habana_memcpy_async,
    .mem_copy               = habana_memcpy,
    .mem_move_async         = habana_memmove_async,
    .mem_move               = habana_memmove,

    .mem_alloc              = habana_mem_alloc,
    .mem_release            = habana_mem_release,
    .mem_alloc_stream       = habana_mem_alloc_stream,
    .mem_release_stream     = habana_mem_release_stream,
    .get_address_range      = habana_get_address_range,

    .is_ipc_enabled         = habana_is_ipc_enabled,
    .get_ipc_handle         = habana_get_ipc_handle,
    .import_ipc_handle      = habana_import_ipc_handle,
    .open_ipc_handle        = habana_open_ipc_handle,
    .compare_ipc_handles    = habana_compare_ipc_handles,
    .get_ipc_event_handle   = habana_get_ipc_event_handle,
    .import_ipc_event_handle = habana_import_ipc_event_handle,
    .open_ipc_event_handle  = habana_open_ipc_event_handle,

    .host_register          = habana_host_register,
    .host_unregister        = habana_host_unregister,

    .get_device             = habana_get_device,
    .get_device_pci_attr    = habana_get_device_pci_attr,
    .device_can_access_peer = habana_device_can_access_peer,

    .get_buffer_id          = habana_get_buffer_id,

    .num_devices            = habana_get_num_devices,
    .get_mem_bw             = habana_get_mem_bw,
    .get_memkind            = habana_get_memkind
};

/* ---- component ---------------------------------------------------------- */

static int habana_component_open(void)
{
    return OPAL_SUCCESS;
}

static int habana_component_close(void)
{
    return OPAL_SUCCESS;
}

/* No device (or HLMEM_DEVICE out of range): not selected */
static opal_accelerator_base_module_t *habana_component_init(void)
{
    const char *env = getenv("HLMEM_DEVICE");

    habana_acc.num_devices = hlmem_device_count();
    habana_acc.device      = (env != NULL) ? atoi(env) : 0;
    if ((habana_acc.num_devices <= 0) || (habana_acc.device < 0) ||
        (habana_acc.device >= habana_acc.num_devices)) {
        return NULL;
    }
    return &habana_module;
}

/* Buffers still allocated belong to callers that did not release them;
 * the process is finalizing, libhlmem frees them with the device */
static void habana_component_finalize(opal_accelerator_base_module_t *module)
{
    pthread_mutex_lock(&habana_acc.lock);
    free(habana_acc.allocs);
    habana_acc.allocs     = NULL;
    habana_acc.num_allocs = habana_acc.max_allocs = 0;
    pthread_mutex_unlock(&habana_acc.lock);
}

HABANA_EXPORT opal_accelerator_base_component_t mca_accelerator_habana_component = {
    .base_version = {
        OPAL_ACCELERATOR_BASE_VERSION_1_0_0,
        .mca_component_name = "habana",
        /* this project's version, not Open MPI's */
        MCA_BASE_MAKE_VERSION(component, 0, 1, 0),
        .mca_open_component  = habana_component_open,
        .mca_close_component = habana_component_close,
    },
    .base_data = {
        MCA_BASE_METADATA_PARAM_CHECKPOINT
    },
    .accelerator_init     = habana_component_init,
    .accelerator_finalize = habana_component_finalize,
};
