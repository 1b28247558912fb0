/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * The "synapse" backend: copies through Habana's runtime (libSynapse.so,
 * SynapseAI), loaded at run time - no build dependency.  For devices whose
 * driver has no user-submittable queue (Gaudi3).  Only the public C API is
 * used: synInitialize, synDeviceAcquire, synStreamCreateGeneric,
 * synHostMap/synHostUnmap, synMemCopyAsync, synStreamSynchronize.
 *
 * NOT EXERCISED against a real SynapseAI here (no Habana hardware); the
 * gtest suite runs it against test/double/synapse_double.c.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_dma_int.h"

#include <dlfcn.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The SynapseAI C API's types and values (synapse_api_types.h) */
typedef int      habana_syn_status_t;     /* synStatus: synSuccess = 0 */
typedef uint32_t habana_syn_device_t;     /* synDeviceId */
typedef void     *habana_syn_stream_t;    /* synStreamHandle */

#define HABANA_SYN_SUCCESS                 0
#define HABANA_SYN_DEVICE_ALREADY_ACQUIRED 20
#define HABANA_SYN_LIBRARY                 "libSynapse.so"

/* synDmaDir */
static const int habana_syn_dir[] = {
    [HABANA_DMA_H2D] = 0, /* HOST_TO_DRAM */
    [HABANA_DMA_D2H] = 1, /* DRAM_TO_HOST */
    [HABANA_DMA_D2D] = 2  /* DRAM_TO_DRAM */
};

typedef struct habana_dma_syn {
    void                *lib;
    habana_syn_device_t device;
    int                 acquired;  /* by us: released at close */
    habana_syn_stream_t stream;

    habana_syn_status_t (*initialize)(void);
    habana_syn_status_t (*device_acquire)(habana_syn_device_t*, const char*);
    habana_syn_status_t (*device_release)(habana_syn_device_t);
    habana_syn_status_t (*stream_create)(habana_syn_stream_t*,
                                         habana_syn_device_t, uint32_t);
    habana_syn_status_t (*stream_destroy)(habana_syn_stream_t);
    habana_syn_status_t (*stream_synchronize)(habana_syn_stream_t);
    habana_syn_status_t (*host_map)(habana_syn_device_t, uint64_t,
                                    const void*);
    habana_syn_status_t (*host_unmap)(habana_syn_device_t, const void*);
    habana_syn_status_t (*mem_copy_async)(habana_syn_stream_t, uint64_t,
                                          uint64_t, uint64_t, int);
} habana_dma_syn_t;

static int habana_dma_syn_resolve(habana_dma_syn_t *syn, char *why,
                                  size_t max)
{
    static const struct {
        const char *name;
        size_t     offset;
    } symbols[] = {
#define HABANA_SYN_SYMBOL(_field, _name) \
        {_name, offsetof(habana_dma_syn_t, _field)}
        HABANA_SYN_SYMBOL(initialize, "synInitialize"),
        HABANA_SYN_SYMBOL(device_acquire, "synDeviceAcquire"),
        HABANA_SYN_SYMBOL(device_release, "synDeviceRelease"),
        HABANA_SYN_SYMBOL(stream_create, "synStreamCreateGeneric"),
        HABANA_SYN_SYMBOL(stream_destroy, "synStreamDestroy"),
        HABANA_SYN_SYMBOL(stream_synchronize, "synStreamSynchronize"),
        HABANA_SYN_SYMBOL(host_map, "synHostMap"),
        HABANA_SYN_SYMBOL(host_unmap, "synHostUnmap"),
        HABANA_SYN_SYMBOL(mem_copy_async, "synMemCopyAsync")
#undef HABANA_SYN_SYMBOL
    };
    void *sym;
    size_t i;

    for (i = 0; i < sizeof(symbols) / sizeof(symbols[0]); ++i) {
        sym = dlsym(syn->lib, symbols[i].name);
        if (sym == NULL) {
            snprintf(why, max, "synapse: %s has no %s", HABANA_SYN_LIBRARY,
                     symbols[i].name);
            return -ENOSYS;
        }
        memcpy((char*)syn + symbols[i].offset, &sym, sizeof(sym));
    }
    return 0;
}

static void habana_dma_syn_close(habana_dma_t *dma)
{
    habana_dma_syn_t *syn = dma->priv;

    if (syn->stream != NULL) {
        syn->stream_destroy(syn->stream);
    }
    if (syn->acquired) {
        syn->device_release(syn->device);
    }
    dlclose(syn->lib);
    free(syn);
    dma->priv = NULL;
}

/*
 * The application's runtime may have acquired the device already (it then
 * holds the compute descriptor): SynapseAI serves one device per process,
 * so its id is the one to use.
 */
static int habana_dma_syn_acquire(habana_dma_syn_t *syn, const char *pci_bus,
                                  char *why, size_t max)
{
    habana_syn_status_t status;

    status = syn->initialize();
    if (status != HABANA_SYN_SUCCESS) {
        snprintf(why, max, "synapse: synInitialize() failed: status %d",
                 status);
        return -EIO;
    }

    status = syn->device_acquire(&syn->device, pci_bus);
    if (status == HABANA_SYN_DEVICE_ALREADY_ACQUIRED) {
        syn->device = 0;
    } else if (status != HABANA_SYN_SUCCESS) {
        snprintf(why, max, "synapse: synDeviceAcquire(%s) failed: status %d",
                 pci_bus ? pci_bus : "any", status);
        return -EBUSY;
    } else {
        syn->acquired = 1;
    }

    status = syn->stream_create(&syn->stream, syn->device, 0);
    if (status != HABANA_SYN_SUCCESS) {
        syn->stream = NULL;
        snprintf(why, max, "synapse: synStreamCreateGeneric() failed: "
                 "status %d", status);
        return -EIO;
    }
    return 0;
}

static int habana_dma_syn_open(habana_dma_t *dma, char *why, size_t max)
{
    habana_dma_syn_t *syn;
    int ret;

    syn = calloc(1, sizeof(*syn));
    if (syn == NULL) {
        snprintf(why, max, "synapse: out of memory");
        return -ENOMEM;
    }

    syn->lib = dlopen(HABANA_SYN_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (syn->lib == NULL) {
        snprintf(why, max, "synapse: %s", dlerror());
        free(syn);
        return -ENOENT;
    }

    dma->priv = syn;
    ret       = habana_dma_syn_resolve(syn, why, max);
    if (ret == 0) {
        ret = habana_dma_syn_acquire(syn, dma->params.pci_bus, why, max);
    }
    if (ret != 0) {
        habana_dma_syn_close(dma);
    }
    return ret;
}

static int habana_dma_syn_map_host(habana_dma_t *dma, void *addr,
                                   size_t length, uint64_t *dev_addr)
{
    habana_dma_syn_t *syn = dma->priv;
    habana_syn_status_t status;

    status = syn->host_map(syn->device, length, addr);
    if (status != HABANA_SYN_SUCCESS) {
        return habana_dma_fail(dma, -ENOMEM, "synHostMap(%p, %zu) failed: "
                               "status %d", addr, length, status);
    }

    *dev_addr = (uintptr_t)addr; /* SynapseAI takes host pointers */
    return 0;
}

static void habana_dma_syn_unmap_host(habana_dma_t *dma, void *addr,
                                      size_t length, uint64_t dev_addr)
{
    habana_dma_syn_t *syn = dma->priv;

    syn->host_unmap(syn->device, addr);
}

static int habana_dma_syn_copy(habana_dma_t *dma, uint64_t dst, uint64_t src,
                               size_t length, habana_dma_dir_t dir)
{
    habana_dma_syn_t *syn = dma->priv;
    habana_syn_status_t status;

    status = syn->mem_copy_async(syn->stream, src, length, dst,
                                 habana_syn_dir[dir]);
    if (status == HABANA_SYN_SUCCESS) {
        status = syn->stream_synchronize(syn->stream);
    }
    if (status != HABANA_SYN_SUCCESS) {
        return habana_dma_fail(dma, -EIO, "synMemCopyAsync(0x%llx <- 0x%llx, "
                               "%zu bytes) failed: status %d",
                               (unsigned long long)dst,
                               (unsigned long long)src, length, status);
    }
    return 0;
}

const habana_dma_backend_t habana_dma_backend_synapse = {
    .name       = "synapse",
    .open       = habana_dma_syn_open,
    .close      = habana_dma_syn_close,
    .map_host   = habana_dma_syn_map_host,
    .unmap_host = habana_dma_syn_unmap_host,
    .copy       = habana_dma_syn_copy
};
