/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Test-only dma-buf importer for hlsim: /dev/hlsim_import_test.
 * Not a stable interface; used by kernel/tests only.
 */
#ifndef _HLSIM_IMPORT_TEST_H_
#define _HLSIM_IMPORT_TEST_H_

#include <linux/types.h>
#include <linux/ioctl.h>

/**
 * struct hlsim_import_check - import a dma-buf and inspect its mapping
 * @fd: dma-buf file descriptor (in)
 * @flags: must be 0 (in)
 * @size: size of the dma-buf (out)
 * @sg_len: sum of the CPU segment lengths of the sg table (out)
 * @dma_len: sum of the DMA segment lengths of the sg table (out)
 * @orig_nents: CPU entries of the sg table (out)
 * @nents: DMA entries of the sg table (out)
 * @match: 1 when @sg_len and @dma_len both equal @size (out)
 * @pad: zero
 * @max_dma_seg: longest DMA segment of the sg table (out)
 */
struct hlsim_import_check {
	__s32 fd;
	__u32 flags;
	__u64 size;
	__u64 sg_len;
	__u64 dma_len;
	__u32 orig_nents;
	__u32 nents;
	__u32 match;
	__u32 pad;
	__u64 max_dma_seg;
};

#define HLSIM_IMPORT_MAGIC	0xE8

/* get, attach, map, measure, unmap, detach, put */
#define HLSIM_IMPORT_CHECK	_IOWR(HLSIM_IMPORT_MAGIC, 1, struct hlsim_import_check)
/* like CHECK but keep the mapping (one per open file) until DROP or close */
#define HLSIM_IMPORT_HOLD	_IOWR(HLSIM_IMPORT_MAGIC, 2, struct hlsim_import_check)
#define HLSIM_IMPORT_DROP	_IO(HLSIM_IMPORT_MAGIC, 3)

#endif /* _HLSIM_IMPORT_TEST_H_ */
