/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * habana_dma: host<->device and device<->device copies through the
 * device's DMA engines, for every part of the project (the UCT transport,
 * libhlmem, the perftest allocator).  Internal, never installed.
 *
 * A backend is a small table of functions:
 *  - "cs":       the upstream habanalabs uapi of a Gaudi2 - host memory
 *                pinned into the device's address space (HL_MEM_USERPTR),
 *                LIN_DMA packets in a user command buffer submitted with
 *                HL_IOCTL_CS and awaited with HL_IOCTL_WAIT_CS;
 *  - "synapse":  Habana's runtime library, loaded at run time (Gaudi3 has
 *                no user-submittable queue in the driver).
 *
 * Host memory reaches the device through mappings: copies up to the bounce
 * size go through a pinned bounce buffer, larger ones map the caller's
 * pages (or the whole region they were registered in) - kept in a cache
 * when the caller reports unmapped host memory (habana_dma_host_unmapped(),
 * e.g. from UCM's VM_UNMAPPED events), else mapped for the one copy.
 *
 * Calls on one engine are serialized by its lock; a copy returns when the
 * data has arrived.
 */
#ifndef HABANA_DMA_H_
#define HABANA_DMA_H_

#include "habana_uapi.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    HABANA_DMA_H2D,
    HABANA_DMA_D2H,
    HABANA_DMA_D2D
} habana_dma_dir_t;

typedef struct habana_dma habana_dma_t;

typedef struct habana_dma_params {
    const habana_uapi_gen_t *gen;
    int                     fd;             /* compute descriptor, not owned */
    int                     legacy_numbers; /* 'H' ioctl numbers on accel */
    const char              *pci_bus;       /* "0000:3a:00.0", or NULL */
    int                     cache_host;     /* keep host mappings until
                                               habana_dma_host_unmapped() */
    unsigned                cache_entries;  /* how many, 0: the default */
    const char              *backend;       /* "cs", "synapse", NULL: any */
} habana_dma_params_t;

/*
 * Open an engine on the device of @params->fd.  Returns 0, or -errno with
 * @why naming what is missing (every backend tried).
 */
int habana_dma_open(const habana_dma_params_t *params, habana_dma_t **dma_p,
                    char *why, size_t max);

/* Unmaps everything the engine mapped in the device context */
void habana_dma_close(habana_dma_t *dma);

/* The device context is gone (its descriptor was closed), and with it the
 * engine's mappings: free the engine without touching the device */
void habana_dma_forget(habana_dma_t *dma);

/* The engine's descriptor was closed, and @fd, another descriptor of the
 * same open file (a dup of it), holds the context since: use that one */
void habana_dma_set_fd(habana_dma_t *dma, int fd);

/*
 * Copy @length bytes; host pointers for the host side, device VAs for the
 * device side.  Returns 0, or -errno with the reason in habana_dma_error().
 */
int habana_dma_copy(habana_dma_t *dma, void *dst, const void *src,
                    size_t length, habana_dma_dir_t dir);

/* Host memory the caller registered as one piece (UCX's staging pool) */
typedef struct habana_dma_region {
    uintptr_t start;
    size_t    length;
} habana_dma_region_t;

/*
 * habana_dma_copy(), where the host side lies in @host_region (NULL: none
 * known): a cache miss maps the whole region, which later copies anywhere
 * in it then hit, instead of the copy's own pages
 */
int habana_dma_copy_in(habana_dma_t *dma, void *dst, const void *src,
                       size_t length, habana_dma_dir_t dir,
                       const habana_dma_region_t *host_region);

/* The host range [@addr, @addr + @length) was unmapped or remapped */
void habana_dma_host_unmapped(habana_dma_t *dma, const void *addr,
                              size_t length);

/*
 * Is this thread inside a call of an engine?  Host memory unmapped then was
 * freed by the driver or the runtime library (a test double, SynapseAI),
 * never memory an engine maps: a VM_UNMAPPED handler may skip it, and must
 * not take locks an engine call could be waiting for.
 */
int habana_dma_thread_busy(void);

const char *habana_dma_backend_name(const habana_dma_t *dma);

/*
 * What one copy costs besides its bytes: launch and completion of an empty
 * submission, in seconds, best of a few (measured once per engine); 0 if
 * the backend cannot tell.  The transport reports it to UCX.
 */
double habana_dma_launch_time(habana_dma_t *dma);

/* The last failure of this engine, for the caller's log */
const char *habana_dma_error(const habana_dma_t *dma);

/* What the host-mapping cache holds and did */
typedef struct habana_dma_usage {
    unsigned capacity;   /* host mappings the cache can keep */
    unsigned cached;     /* host mappings kept */
    size_t   pinned;     /* their bytes */
    uint64_t host_maps;  /* host mappings made (cached or temporary) */
    uint64_t bounced;    /* copies bounced: the cache was full of mappings
                            in use */
} habana_dma_usage_t;

void habana_dma_usage(const habana_dma_t *dma, habana_dma_usage_t *usage);

#endif
