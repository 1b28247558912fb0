/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * A TEST DOUBLE of SynapseAI's libSynapse.so: the nine C functions the
 * "synapse" DMA backend (src/common/habana_dma_syn.c) loads, with the
 * statuses of the public API, over the hl_double preload (copies through
 * its hl_double_memcpy_* helpers).  It checks what the real library
 * requires: an initialized library, an acquired device, a stream, host
 * memory mapped with synHostMap() for host<->device copies.  Never
 * installed; it lets the gtest suite exercise the backend without Habana
 * hardware, not confirm SynapseAI's behaviour.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define SYN_SUCCESS                  0
#define SYN_INVALID_ARGUMENT         2
#define SYN_UNINITIALIZED            6
#define SYN_DEVICE_ALREADY_ACQUIRED  20
#define SYN_MAPPING_NOT_FOUND        34
#define SYN_FAIL                     44

#define SYN_DOUBLE_MAX_MAPS          1024

enum { HOST_TO_DRAM, DRAM_TO_HOST, DRAM_TO_DRAM };

typedef int (*syn_double_copy_fn)(void *dst, const void *src, size_t size);

static struct {
    pthread_mutex_t lock;
    int             initialized;
    int             acquired;
    int             stream; /* the one stream's handle points here */
    struct {
        uintptr_t start, end;
    }               maps[SYN_DOUBLE_MAX_MAPS];
    unsigned        num_maps;
    unsigned long   copies;
} syn_double = {
    .lock = PTHREAD_MUTEX_INITIALIZER
};

__attribute__((visibility("default"))) unsigned long
synapse_double_copies(void)
{
    return __atomic_load_n(&syn_double.copies, __ATOMIC_RELAXED);
}

__attribute__((visibility("default"))) unsigned synapse_double_host_maps(void)
{
    return __atomic_load_n(&syn_double.num_maps, __ATOMIC_RELAXED);
}

__attribute__((visibility("default"))) int synInitialize(void)
{
    syn_double.initialized = 1;
    return SYN_SUCCESS;
}

__attribute__((visibility("default"))) int
synDeviceAcquire(uint32_t *device, const char *pci_bus)
{
    int status = SYN_SUCCESS;

    pthread_mutex_lock(&syn_double.lock);
    if (!syn_double.initialized) {
        status = SYN_UNINITIALIZED;
    } else if (syn_double.acquired) {
        status = SYN_DEVICE_ALREADY_ACQUIRED;
    } else {
        syn_double.acquired = 1;
        *device             = 0;
    }
    pthread_mutex_unlock(&syn_double.lock);
    return status;
}

__attribute__((visibility("default"))) int synDeviceRelease(uint32_t device)
{
    if ((device != 0) || !syn_double.acquired) {
        return SYN_INVALID_ARGUMENT;
    }
    syn_double.acquired = 0;
    return SYN_SUCCESS;
}

__attribute__((visibility("default"))) int
synStreamCreateGeneric(void **stream, uint32_t device, uint32_t flags)
{
    if ((device != 0) || !syn_double.acquired) {
        return SYN_INVALID_ARGUMENT;
    }
    *stream = &syn_double.stream;
    return SYN_SUCCESS;
}

__attribute__((visibility("default"))) int synStreamDestroy(void *stream)
{
    return (stream == &syn_double.stream) ? SYN_SUCCESS :
                                            SYN_INVALID_ARGUMENT;
}

__attribute__((visibility("default"))) int synStreamSynchronize(void *stream)
{
    return (stream == &syn_double.stream) ? SYN_SUCCESS :
                                            SYN_INVALID_ARGUMENT;
}

__attribute__((visibility("default"))) int
synHostMap(uint32_t device, uint64_t size, const void *buffer)
{
    int status = SYN_SUCCESS;

    pthread_mutex_lock(&syn_double.lock);
    if ((device != 0) || (size == 0)) {
        status = SYN_INVALID_ARGUMENT;
    } else if (syn_double.num_maps == SYN_DOUBLE_MAX_MAPS) {
        status = SYN_FAIL;
    } else {
        syn_double.maps[syn_double.num_maps].start = (uintptr_t)buffer;
        syn_double.maps[syn_double.num_maps].end   = (uintptr_t)buffer + size;
        ++syn_double.num_maps;
    }
    pthread_mutex_unlock(&syn_double.lock);
    return status;
}

__attribute__((visibility("default"))) int
synHostUnmap(uint32_t device, const void *buffer)
{
    int status = SYN_MAPPING_NOT_FOUND;
    unsigned i;

    pthread_mutex_lock(&syn_double.lock);
    for (i = 0; i < syn_double.num_maps; ++i) {
        if (syn_double.maps[i].start == (uintptr_t)buffer) {
            syn_double.maps[i] = syn_double.maps[--syn_double.num_maps];
            status             = SYN_SUCCESS;
            break;
        }
    }
    pthread_mutex_unlock(&syn_double.lock);
    return status;
}

static int syn_double_is_mapped(uint64_t addr, uint64_t size)
{
    unsigned i;
    int found = 0;

    pthread_mutex_lock(&syn_double.lock);
    for (i = 0; (i < syn_double.num_maps) && !found; ++i) {
        found = (addr >= syn_double.maps[i].start) &&
                (addr + size <= syn_double.maps[i].end);
    }
    pthread_mutex_unlock(&syn_double.lock);
    return found;
}

__attribute__((visibility("default"))) int
synMemCopyAsync(void *stream, uint64_t src, uint64_t size, uint64_t dst,
                int direction)
{
    static const char *const helpers[] = {
        [HOST_TO_DRAM] = "hl_double_memcpy_h2d",
        [DRAM_TO_HOST] = "hl_double_memcpy_d2h",
        [DRAM_TO_DRAM] = "hl_double_memcpy_d2d"
    };
    syn_double_copy_fn copy;
    uint64_t host;

    if ((stream != &syn_double.stream) || (direction < HOST_TO_DRAM) ||
        (direction > DRAM_TO_DRAM)) {
        return SYN_INVALID_ARGUMENT;
    }

    host = (direction == HOST_TO_DRAM) ? src : dst;
    if ((direction != DRAM_TO_DRAM) && !syn_double_is_mapped(host, size)) {
        return SYN_MAPPING_NOT_FOUND; /* the real library needs synHostMap */
    }

    copy = (syn_double_copy_fn)dlsym(RTLD_DEFAULT, helpers[direction]);
    if ((copy == NULL) ||
        (copy((void*)(uintptr_t)dst, (const void*)(uintptr_t)src, size) !=
         0)) {
        return SYN_FAIL;
    }

    __atomic_add_fetch(&syn_double.copies, 1, __ATOMIC_RELAXED);
    return SYN_SUCCESS;
}
