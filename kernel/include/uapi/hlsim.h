/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * hlsim: a software Habana device that speaks the habanalabs uapi
 * (<drm/habanalabs_accel.h>, optionally <misc/habanalabs.h>).
 *
 * This header only adds what the real driver does not have: a synchronous
 * DMA copy between host memory and device memory.  Its ioctl number lies
 * outside the range the habanalabs driver uses (HL_IOCTL_INFO..HL_IOCTL_DEBUG).
 *
 * PRODUCT CODE MUST NOT USE HLSIM_IOCTL_DMA_COPY: no real Gaudi has it.
 * Copy as on a Gaudi2, with the habanalabs uapi that hlsim implements:
 * HL_MEM_OP_MAP + HL_MEM_USERPTR for host memory, DRM_IOCTL_HL_CS with
 * LIN_DMA packets in a USERPTR-mapped CB, DRM_IOCTL_HL_WAIT_CS (see
 * kernel/README.md).  The private ioctl stays for the benchmark that
 * compares the two paths (kernel/tests/hlsim_bench.c).
 *
 * The habanalabs ioctls answer as the driver does, errors included:
 * HL_MEM_OP_UNMAP of a mapping a live dma-buf was exported from, and
 * HL_MEM_OP_FREE of a mapped allocation (or, in the legacy generation, of
 * one a live dma-buf exported by handle), fail with EINVAL, not EBUSY.
 *
 * Dma-bufs cannot be mmap'ed, like HBM, unless the module parameter
 * test_dmabuf_mmap is set: a test-only switch the real driver does not
 * have (see kernel/README.md).
 */
#ifndef _UAPI_HLSIM_H_
#define _UAPI_HLSIM_H_

#include <linux/types.h>
#include <linux/ioctl.h>

#define HLSIM_DRIVER_NAME		"hlsim"

/* Driver-private ioctl number, relative to the habanalabs command base */
#define HLSIM_IOCTL_DMA_COPY_NR		0x40

/* Direction of a copy; device addresses are device virtual addresses */
enum hlsim_copy_dir {
	HLSIM_COPY_HOST_TO_DEVICE = 0,
	HLSIM_COPY_DEVICE_TO_HOST = 1,
	HLSIM_COPY_DEVICE_TO_DEVICE = 2,
};

/**
 * struct hlsim_dma_copy - copy @size bytes from @src to @dst
 * @dst: destination; a user pointer or a device virtual address
 * @src: source; a user pointer or a device virtual address
 * @size: number of bytes; the device side must lie inside one mapping
 *        of the calling context
 * @dir: one of enum hlsim_copy_dir
 * @flags: must be 0
 *
 * Errors: EINVAL for a bad @dir, non-zero @flags, zero @size or a device
 * range outside the calling context's mappings; EFAULT for a host range
 * the caller cannot access.
 */
struct hlsim_dma_copy {
	__u64 dst;
	__u64 src;
	__u64 size;
	__u32 dir;
	__u32 flags;
};

/* On the DRM accel node (/dev/accel/accelN): DRM_COMMAND_BASE + nr */
#define HLSIM_IOCTL_DMA_COPY \
	_IOWR('d', 0x40 + HLSIM_IOCTL_DMA_COPY_NR, struct hlsim_dma_copy)

/* On the legacy misc node (/dev/hlN): the habanalabs 'H' space */
#define HLSIM_IOCTL_DMA_COPY_LEGACY \
	_IOWR('H', HLSIM_IOCTL_DMA_COPY_NR, struct hlsim_dma_copy)

#endif /* _UAPI_HLSIM_H_ */
