/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * libhlmem: Habana device memory for tests, benchmarks and examples.
 *
 * Not a runtime: it allocates and maps device memory and copies it to and
 * from host memory through the habanalabs uapi, on a real habanalabs
 * device (allocation only: copies need the hlsim DMA-copy extension, which
 * the hlsim driver and the hl_double test double provide) or on hlsim.
 * Device pointers are device virtual addresses: the CPU must never
 * dereference them.
 *
 * Every function is thread-safe.  Functions returning int return 0 on
 * success and a negative errno value on failure.
 */
#ifndef HLMEM_H_
#define HLMEM_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Open device @device (index among the present Habana devices; the
 * environment variable HLMEM_DEVICE overrides the default 0) for this
 * process, reusing a compute descriptor the process already holds.
 * Called implicitly by the other functions; calling it first gives a
 * clear error early.  Idempotent.
 */
int hlmem_init(int device);

/* Number of Habana devices present (0 if none, or no driver) */
int hlmem_device_count(void);

/*
 * PCI address ("DDDD:BB:DD.F") of @device, in the order of the other calls;
 * -ENOENT for a device that is not on PCI (hlsim), -ENODEV if absent.
 */
int hlmem_device_pci_bus_id(int device, char *bus_id, size_t max);

/* Allocate and map @size bytes (rounded up to the device page size) on
 * the default device / on @device.  NULL with errno set on failure. */
void *hlmem_alloc(size_t size);
void *hlmem_alloc_on(int device, size_t size);

/* Unmap and free memory from hlmem_alloc*() */
int hlmem_free(void *ptr);

/* Is @ptr inside an allocation of this library? */
int hlmem_is_device_ptr(const void *ptr);

/*
 * Synchronous copies.  A device range must lie inside one mapping of this
 * process: one of this library's, or one that another user of the device
 * in this process made (UCX, a runtime); those are copied by the default
 * device.  Device pointers are recognized by their address range.
 */
int hlmem_copy_to_device(void *dev_dst, const void *host_src, size_t size);
int hlmem_copy_from_device(void *host_dst, const void *dev_src, size_t size);
int hlmem_copy_device(void *dev_dst, const void *dev_src, size_t size);

/* Any direction: each pointer may be host or device memory */
int hlmem_copy(void *dst, const void *src, size_t size);

/*
 * Export the allocation holding @ptr as a dma-buf (what a NIC imports with
 * ibv_reg_dmabuf_mr): *fd_p gets a new descriptor the caller closes, and
 * *offset_p the offset of @ptr in it.
 */
int hlmem_export_dmabuf(const void *ptr, int *fd_p, size_t *offset_p);

/* Fill device memory with byte @value */
int hlmem_memset(void *dev_dst, int value, size_t size);

#ifdef __cplusplus
}
#endif

#endif
