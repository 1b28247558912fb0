/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the hlsim tests for the Gaudi2 copy uapi: USERPTR mappings,
 * CBs of LIN_DMA/NOP packets, CS and WAIT_CS on either node generation.
 */
#ifndef HLSIM_CS_UTIL_H
#define HLSIM_CS_UTIL_H

#include "hlsim_tap.h"

#ifndef BIT
#define BIT(n)		(1u << (n))
#endif

/* Gaudi2's host VA range (VA_HOST_SPACE_PAGE_START..END) */
#define HOST_VA_BASE	0xFFF0000000000000ULL
#define HOST_VA_END	0xFFF0800000000000ULL

/* legacy generation numbers, <misc/habanalabs.h> */
#define LEGACY_CS	_IOWR('H', 0x03, union hl_cs_args)
#define LEGACY_WAIT_CS	_IOWR('H', 0x04, union hl_wait_cs_args)

#define PKT_LIN_DMA	0x9u
#define PKT_NOP		0xAu
#define PKT_EB		BIT(29)
#define PKT_RB		BIT(30)
#define PKT_MB		BIT(31)
#define LIN_DMA_WRCOMP	BIT(0)
#define LIN_DMA_MEMSET	BIT(4)
#define LIN_DMA_SIZE	24
#define NOP_SIZE	8

#define Q_PDMA_0_0	0
#define Q_PDMA_0_1	1
#define Q_PDMA_1_0	4
#define Q_EDMA_0_0	8

static inline int queue_enabled(u32 q)
{
	return q == 0 || q == 1 || q == 4 || (q >= 8 && q <= 15) ||
	       (q >= 48 && q <= 55) || (q >= 84 && q <= 91) ||
	       (q >= 120 && q <= 127);
}

static inline unsigned long cs_cmd(int legacy)
{
	return legacy ? LEGACY_CS : DRM_IOCTL_HL_CS;
}

static inline unsigned long wait_cmd(int legacy)
{
	return legacy ? LEGACY_WAIT_CS : DRM_IOCTL_HL_WAIT_CS;
}

static inline unsigned long mem_cmd(int legacy)
{
	return legacy ? _IOWR('H', 0x05, union hl_mem_args) :
			DRM_IOCTL_HL_MEMORY;
}

/* HL_MEM_OP_MAP of host memory; 0 or -errno */
static inline int hl_map_host_cmd(int fd, unsigned long cmd, const void *p,
				  u64 size, u64 hint, u32 flags, u64 *va)
{
	union hl_mem_args a = {};
	int ret;

	a.in.op = HL_MEM_OP_MAP;
	a.in.flags = HL_MEM_USERPTR | flags;
	a.in.map_host.host_virt_addr = (uintptr_t)p;
	a.in.map_host.mem_size = size;
	a.in.map_host.hint_addr = hint;
	ret = xioctl(fd, cmd, &a);
	if (!ret && va)
		*va = a.out.device_virt_addr;
	return ret;
}

static inline int hl_map_host(int fd, const void *p, u64 size, u64 *va)
{
	return hl_map_host_cmd(fd, DRM_IOCTL_HL_MEMORY, p, size, 0, 0, va);
}

static inline u32 lin_dma_ctl(u32 extra)
{
	return (PKT_LIN_DMA << 24) | PKT_EB | PKT_MB | extra;
}

/* Write a LIN_DMA packet at @p; returns the bytes written */
static inline size_t put_lin_dma(void *p, u32 ctl, u32 tsize, u64 src,
				 u64 dst)
{
	unsigned char *b = p;

	memcpy(b, &tsize, 4);
	memcpy(b + 4, &ctl, 4);
	memcpy(b + 8, &src, 8);
	memcpy(b + 16, &dst, 8);
	return LIN_DMA_SIZE;
}

static inline size_t put_nop(void *p, u32 ctl)
{
	u32 zero = 0;

	memcpy(p, &zero, 4);
	memcpy((unsigned char *)p + 4, &ctl, 4);
	return NOP_SIZE;
}

static inline void chunk_set(struct hl_cs_chunk *c, u64 cb, u32 size, u32 q)
{
	memset(c, 0, sizeof(*c));
	c->cb_handle = cb;
	c->cb_size = size;
	c->queue_index = q;
	c->cs_chunk_flags = HL_CS_CHUNK_FLAGS_USER_ALLOC_CB;
}

/* DRM_IOCTL_HL_CS; 0 or -errno, the output in *seq and *status */
static inline int hl_cs_cmd(int fd, unsigned long cmd,
			    struct hl_cs_chunk *chunks, u32 n, u32 flags,
			    u64 *seq, u32 *status)
{
	union hl_cs_args a = {};
	int ret;

	a.in.chunks_execute = (uintptr_t)chunks;
	a.in.num_chunks_execute = n;
	a.in.cs_flags = flags;
	ret = xioctl(fd, cmd, &a);
	if (seq)
		*seq = a.out.seq;
	if (status)
		*status = a.out.status;
	return ret;
}

/* DRM_IOCTL_HL_WAIT_CS; 0 or -errno, the output in *status, *flags */
static inline int hl_wait_cmd(int fd, unsigned long cmd, u64 seq,
			      u64 timeout_us, u32 *status, u32 *flags)
{
	union hl_wait_cs_args a = {};
	int ret;

	a.in.seq = seq;
	a.in.timeout_us = timeout_us;
	ret = xioctl(fd, cmd, &a);
	if (status)
		*status = a.out.status;
	if (flags)
		*flags = a.out.flags;
	return ret;
}

/*
 * A tiny copy engine: one CB page in pinned host memory, one LIN_DMA per
 * CS.  Enough for tests and the benchmark.
 */
struct hcs {
	int fd;
	int legacy;
	unsigned char *cb;
	u64 cb_va;
};

static inline int hcs_init(struct hcs *e, int fd, int legacy)
{
	e->fd = fd;
	e->legacy = legacy;
	e->cb = aligned_alloc(4096, 4096);
	if (!e->cb)
		return -ENOMEM;
	memset(e->cb, 0, 4096);
	return hl_map_host_cmd(fd, mem_cmd(legacy), e->cb, 4096, 0, 0,
			       &e->cb_va);
}

/* Submit one LIN_DMA on queue @q; the sequence number in *seq */
static inline int hcs_copy(struct hcs *e, u32 q, u64 dst, u64 src, u32 size,
			   u32 extra, u64 *seq)
{
	struct hl_cs_chunk c;
	u32 status;

	put_lin_dma(e->cb, lin_dma_ctl(extra), size, src, dst);
	chunk_set(&c, e->cb_va, LIN_DMA_SIZE, q);
	return hl_cs_cmd(e->fd, cs_cmd(e->legacy), &c, 1, 0, seq, &status);
}

static inline int hcs_wait(struct hcs *e, u64 seq, u64 timeout_us,
			   u32 *status)
{
	return hl_wait_cmd(e->fd, wait_cmd(e->legacy), seq, timeout_us, status,
			   NULL);
}

/* Copy and wait (10 s); 0 when COMPLETED */
static inline int hcs_copy_sync(struct hcs *e, u32 q, u64 dst, u64 src,
				u32 size, u32 extra)
{
	u32 status = ~0u;
	u64 seq;
	int ret;

	ret = hcs_copy(e, q, dst, src, size, extra, &seq);
	if (ret)
		return ret;
	ret = hcs_wait(e, seq, 10000000, &status);
	if (ret)
		return ret;
	return status == HL_WAIT_CS_STATUS_COMPLETED ? 0 : -EBUSY;
}

#endif /* HLSIM_CS_UTIL_H */
