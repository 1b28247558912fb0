/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hlsim - a software Habana device speaking the habanalabs uapi.
 *
 * Internal declarations shared by the memory core, the DRM accel front end,
 * the control node and the legacy misc front end.
 */
#ifndef HLSIM_H
#define HLSIM_H

#include <linux/atomic.h>
#include <linux/cdev.h>
#include <linux/kref.h>
#include <linux/maple_tree.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <drm/drm_device.h>

#include <drm/habanalabs_accel.h>
#include "include/uapi/hlsim.h"

#define HLSIM_MAX_DEVICES	8

/* Gaudi2-like identity */
#define HLSIM_PCI_ID		0x1020
#define HLSIM_DRAM_VA_BASE	0x1001000000000000ULL
/* 2^48 bytes of device virtual address space per context */
#define HLSIM_DRAM_VA_LAST	(HLSIM_DRAM_VA_BASE + (1ULL << 48) - 1)
#define HLSIM_DRAM_PAGE_SIZE	PAGE_SIZE
/* Gaudi2's host VA range (VA_HOST_SPACE_PAGE_START..END): USERPTR mappings */
#define HLSIM_HOST_VA_BASE	0xFFF0000000000000ULL
#define HLSIM_HOST_VA_LAST	(0xFFF0800000000000ULL - 1)
/* Largest allocation page size accepted by HL_MEM_OP_ALLOC */
#define HLSIM_MAX_ALLOC_PAGE_SIZE	SZ_2M

struct hlsim_device;

/**
 * struct hlsim_alloc - one device memory allocation (HL_MEM_OP_ALLOC)
 * @ref: held by the owning context's handle table, by every mapping and
 *       (through its mapping) by every exported dma-buf
 * @hdev: device whose HBM budget this allocation is charged to
 * @pages: backing pages, one per PAGE_SIZE of @size
 * @npages: number of entries in @pages
 * @size: allocation size in bytes (a multiple of @page_size)
 * @page_size: allocation page size (alignment of size and device VA)
 * @map_count: live mappings; protected by the owning context's lock
 * @nr_exports: live dma-bufs exported from this allocation
 *
 * The pages of an allocation are only freed when the last reference drops,
 * so a DMA copy that holds a reference can run without the context lock.
 */
struct hlsim_alloc {
	struct kref ref;
	struct hlsim_device *hdev;
	struct page **pages;
	unsigned long npages;
	u64 size;
	u64 page_size;
	unsigned int map_count;
	atomic_t nr_exports;
};

/**
 * struct hlsim_map - a device VA range bound to an allocation (HL_MEM_OP_MAP)
 *                    or to pinned host pages (HL_MEM_OP_MAP + HL_MEM_USERPTR)
 * @ref: held by the context's VA tree, by every dma-buf exported from it and
 *       by every submitted CS that uses it
 * @va: first mapped device virtual address (the VA returned to user space)
 * @size: length of the mapping in bytes
 * @tree_va: first VA of the page range the mapping occupies in the VA tree
 *           (@va rounded down to a page)
 * @alloc: the mapped allocation (a reference is held), NULL for USERPTR
 * @pages: backing pages: the allocation's, or the pinned host pages
 * @npages: number of pinned pages (USERPTR only)
 * @pg_off: offset of @va in its first page (USERPTR only, else 0)
 * @nr_exports: live dma-bufs exported from this mapping
 */
struct hlsim_map {
	struct kref ref;
	u64 va;
	u64 size;
	u64 tree_va;
	struct hlsim_alloc *alloc;
	struct page **pages;
	unsigned long npages;
	unsigned int pg_off;
	atomic_t nr_exports;
};

struct hlsim_cs;

/* Gaudi2's max_pending_cs: in-flight CSs per context */
#define HLSIM_MAX_PENDING_CS	64

/**
 * struct hlsim_cs_ctx - command submission state of a context
 * @lock: protects @next_seq, @pending and the CS states
 * @next_seq: sequence number of the next CS (the first is 1)
 * @pending: CS of sequence number s in slot s % HLSIM_MAX_PENDING_CS
 *           (a reference is held)
 * @wq: ordered workqueue executing the CSs of the context
 * @exec_lock: held while a CS executes, on @wq or in the submitting thread
 * @queued: CSs queued on @wq whose execution has not ended
 * @closing: the context is being destroyed: running CSs stop copying
 */
struct hlsim_cs_ctx {
	spinlock_t lock;	/* protects next_seq, pending */
	u64 next_seq;
	struct hlsim_cs *pending[HLSIM_MAX_PENDING_CS];
	struct workqueue_struct *wq;
	struct mutex exec_lock;	/* one CS of the context executes at a time */
	atomic_t queued;
	bool closing;
};

/**
 * struct hlsim_ctx - per compute-open state
 * @hdev: the device
 * @lock: serializes all memory operations of this context
 * @handles: allocation handle -> struct hlsim_alloc
 * @vas: device VA range -> struct hlsim_map
 * @dram_mem: bytes allocated through this context and not yet freed
 * @nr_allocs: live handles in @handles
 * @nr_maps: live DRAM mappings in @vas
 * @nr_userptrs: live USERPTR mappings in @vas
 * @pinned_pages: pages pinned by the live USERPTR mappings
 * @cs: command submission state
 */
struct hlsim_ctx {
	struct hlsim_device *hdev;
	struct mutex lock;	/* protects handles, vas, map counts */
	struct xarray handles;
	struct maple_tree vas;
	u64 dram_mem;
	unsigned int nr_allocs;
	unsigned int nr_maps;
	unsigned int nr_userptrs;
	u64 pinned_pages;
	struct hlsim_cs_ctx cs;
};

/**
 * struct hlsim_device - one simulated device
 * @drm: DRM accel device (/dev/accel/accelN)
 * @fdev: parent device
 * @id: index of this device in the module (0..num_devices-1)
 * @dram_size: HBM size in bytes
 * @dram_used: HBM bytes charged to live allocations
 * @open_lock: protects @compute_open
 * @compute_open: a compute context exists (DRM or legacy node)
 * @ctrl_dev: control node device (/dev/accel/accel_controlDN)
 * @ctrl_cdev: character device behind @ctrl_dev
 * @registered: the DRM device has been registered
 * @legacy: legacy misc front end (/dev/hlN), if enabled
 * @legacy_ctrl: legacy control node (/dev/hl_controlDN), if enabled
 * @legacy_name: name of @legacy
 * @legacy_ctrl_name: name of @legacy_ctrl
 * @legacy_added: @legacy and @legacy_ctrl are registered
 */
struct hlsim_device {
	struct drm_device drm;
	struct faux_device *fdev;
	unsigned int id;
	u64 dram_size;
	atomic64_t dram_used;
	struct mutex open_lock;	/* protects compute_open */
	bool compute_open;
	struct device *ctrl_dev;
	struct cdev ctrl_cdev;
	bool registered;
	struct miscdevice legacy;
	struct miscdevice legacy_ctrl;
	char legacy_name[16];
	char legacy_ctrl_name[24];
	bool legacy_added;
};

/* hlsim_mem.c: the core shared by every front end */
int hlsim_mem_check_params(void);
struct hlsim_ctx *hlsim_ctx_create(struct hlsim_device *hdev);
void hlsim_ctx_destroy(struct hlsim_ctx *ctx);
int hlsim_info(struct hlsim_device *hdev, struct hlsim_ctx *ctx,
	       struct hl_info_args *args);
int hlsim_memory(struct hlsim_ctx *ctx, union hl_mem_args *args);
int hlsim_memory_legacy(struct hlsim_ctx *ctx, union hl_mem_args *args);
int hlsim_dma_copy(struct hlsim_ctx *ctx, struct hlsim_dma_copy *args);
void hlsim_map_put(struct hlsim_map *map);
struct hlsim_map *hlsim_map_find(struct hlsim_ctx *ctx, u64 addr, u64 size);
int hlsim_va_pick(struct hlsim_ctx *ctx, u64 first, u64 last, u64 size,
		  u64 align, u64 *va);
int hlsim_va_insert(struct hlsim_ctx *ctx, struct hlsim_map *map, u64 hint,
		    u64 first, u64 last, u64 size, u64 align, bool force);

/* Page of @map holding device address @addr, and the offset inside it */
static inline struct page *hlsim_map_page(struct hlsim_map *map, u64 addr,
					  size_t *off)
{
	u64 delta = addr - map->va + map->pg_off;

	*off = offset_in_page(delta);
	return map->pages[delta >> PAGE_SHIFT];
}

/* hlsim_userptr.c: HL_MEM_OP_MAP of host memory (HL_MEM_USERPTR) */
int hlsim_userptr_check_params(void);
int hlsim_userptr_map(struct hlsim_ctx *ctx, union hl_mem_args *args);
void hlsim_userptr_removed(struct hlsim_ctx *ctx, struct hlsim_map *map);
void hlsim_userptr_release(struct hlsim_map *map);

/* hlsim_cs.c: command submission (DRM_IOCTL_HL_CS, DRM_IOCTL_HL_WAIT_CS) */
int hlsim_cs_ctx_init(struct hlsim_ctx *ctx);
void hlsim_cs_ctx_fini(struct hlsim_ctx *ctx);
int hlsim_cs_submit(struct hlsim_ctx *ctx, union hl_cs_args *args);
int hlsim_cs_wait(struct hlsim_ctx *ctx, union hl_wait_cs_args *args);

/* hlsim_cdev.c: control nodes and the legacy front end */
int hlsim_ctrl_init(void);
void hlsim_ctrl_exit(void);
int hlsim_ctrl_add(struct hlsim_device *hdev, unsigned int index);
void hlsim_ctrl_del(struct hlsim_device *hdev);
int hlsim_legacy_add(struct hlsim_device *hdev);
void hlsim_legacy_del(struct hlsim_device *hdev);

/* hlsim_drv.c: single compute open per device, shared by both generations */
struct hlsim_ctx *hlsim_compute_open(struct hlsim_device *hdev);
void hlsim_compute_close(struct hlsim_ctx *ctx);

#endif /* HLSIM_H */
