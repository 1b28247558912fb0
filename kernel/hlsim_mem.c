// SPDX-License-Identifier: GPL-2.0
/*
 * hlsim - device memory core: contexts, allocations, device VAs, dma-buf
 * export and the DMA-copy extension.  Front ends (DRM accel, legacy misc,
 * control node) only decode their ioctls and call into this file.
 *
 * Lifetime rules:
 *  - a context (one compute open) owns handles and mappings;
 *  - a mapping holds a reference on its allocation (a USERPTR mapping, see
 *    hlsim_userptr.c, holds its pinned pages instead);
 *  - a submitted CS (hlsim_cs.c) holds references on the mappings it uses;
 *  - a dma-buf holds a reference on the mapping it was exported from (or,
 *    for a legacy handle export, on the allocation), never on the context,
 *    so it stays valid after the device file is closed;
 *  - the HBM budget is given back when the last reference on an
 *    allocation drops.
 */

#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/fcntl.h>
#include <linux/highmem.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/overflow.h>
#include <linux/scatterlist.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include <drm/drm_drv.h>

#include "hlsim.h"

MODULE_IMPORT_NS("DMA_BUF");

/*
 * Everything a context creates on behalf of user space is charged to the
 * caller's memory cgroup (GFP_KERNEL_ACCOUNT); device pages also fail
 * rather than invoke the OOM killer, like any large user allocation.
 */
#define HLSIM_GFP_PAGES	(GFP_HIGHUSER | __GFP_ZERO | __GFP_NOWARN | \
			 __GFP_ACCOUNT | __GFP_RETRY_MAYFAIL)

/*
 * Bounds on what one context may hold.  Reaching one answers -ENOMEM, as
 * the habanalabs driver does when it runs out of device VA blocks.
 */
#define HLSIM_MAX_LIMIT	BIT(24)

static unsigned int max_allocs_per_ctx = 65536;
module_param(max_allocs_per_ctx, uint, 0444);
MODULE_PARM_DESC(max_allocs_per_ctx,
		 "Live allocations per context (1-16777216, default 65536)");

static unsigned int max_maps_per_ctx = 65536;
module_param(max_maps_per_ctx, uint, 0444);
MODULE_PARM_DESC(max_maps_per_ctx,
		 "Live mappings per context (1-16777216, default 65536)");

static unsigned int max_maps_per_alloc = 4096;
module_param(max_maps_per_alloc, uint, 0444);
MODULE_PARM_DESC(max_maps_per_alloc,
		 "Live mappings of one allocation (1-16777216, default 4096)");

int hlsim_mem_check_params(void)
{
	if (!max_allocs_per_ctx || max_allocs_per_ctx > HLSIM_MAX_LIMIT ||
	    !max_maps_per_ctx || max_maps_per_ctx > HLSIM_MAX_LIMIT ||
	    !max_maps_per_alloc || max_maps_per_alloc > HLSIM_MAX_LIMIT) {
		pr_err("hlsim: max_allocs_per_ctx, max_maps_per_ctx and max_maps_per_alloc must be 1..%lu\n",
		       HLSIM_MAX_LIMIT);
		return -EINVAL;
	}
	return hlsim_userptr_check_params();
}

/* Allocation page sizes accepted by HL_MEM_OP_ALLOC, as a bitmask of orders */
#define HLSIM_PAGE_ORDER_MASK \
	GENMASK_ULL(ilog2(HLSIM_MAX_ALLOC_PAGE_SIZE), PAGE_SHIFT)

/**
 * struct hlsim_export - private data of one exported dma-buf
 * @alloc: allocation whose pages back the dma-buf (a reference is held)
 * @map: mapping it was exported from (a reference is held), or NULL for a
 *       legacy export by handle
 * @first: index of the first page of @alloc in the dma-buf
 * @npages: number of pages in the dma-buf
 * @nr_attach: live attachments, for sanity checks at release
 */
struct hlsim_export {
	struct hlsim_alloc *alloc;
	struct hlsim_map *map;
	unsigned long first;
	unsigned long npages;
	atomic_t nr_attach;
};

/* ------------------------------------------------------------------ */
/* Allocations                                                          */
/* ------------------------------------------------------------------ */

static void hlsim_alloc_release(struct kref *ref)
{
	struct hlsim_alloc *alloc = container_of(ref, struct hlsim_alloc, ref);
	unsigned long i;

	WARN_ON(alloc->map_count);
	WARN_ON(atomic_read(&alloc->nr_exports));

	for (i = 0; i < alloc->npages; i++)
		if (alloc->pages[i])
			__free_page(alloc->pages[i]);
	kvfree(alloc->pages);

	atomic64_sub(alloc->size, &alloc->hdev->dram_used);
	drm_dev_put(&alloc->hdev->drm);
	kfree(alloc);
}

static void hlsim_alloc_put(struct hlsim_alloc *alloc)
{
	kref_put(&alloc->ref, hlsim_alloc_release);
}

static bool hlsim_dram_charge(struct hlsim_device *hdev, u64 size)
{
	s64 used = atomic64_add_return(size, &hdev->dram_used);

	if (used < 0 || (u64)used > hdev->dram_size) {
		atomic64_sub(size, &hdev->dram_used);
		return false;
	}
	return true;
}

static struct hlsim_alloc *hlsim_alloc_create(struct hlsim_device *hdev,
					      u64 size, u64 page_size)
{
	struct hlsim_alloc *alloc;
	unsigned long i;

	if (!hlsim_dram_charge(hdev, size))
		return ERR_PTR(-ENOMEM);

	alloc = kzalloc_obj(*alloc, GFP_KERNEL_ACCOUNT);
	if (!alloc)
		goto err_uncharge;

	alloc->npages = size >> PAGE_SHIFT;
	alloc->pages = kvcalloc(alloc->npages, sizeof(*alloc->pages),
				GFP_KERNEL_ACCOUNT);
	if (!alloc->pages)
		goto err_free;

	for (i = 0; i < alloc->npages; i++) {
		alloc->pages[i] = alloc_page(HLSIM_GFP_PAGES);
		if (!alloc->pages[i])
			goto err_pages;
		if (!(i % 256)) {
			if (fatal_signal_pending(current)) {
				i++;
				goto err_pages;
			}
			cond_resched();
		}
	}

	kref_init(&alloc->ref);
	alloc->hdev = hdev;
	alloc->size = size;
	alloc->page_size = page_size;
	atomic_set(&alloc->nr_exports, 0);
	drm_dev_get(&hdev->drm);
	return alloc;

err_pages:
	while (i--)
		__free_page(alloc->pages[i]);
	kvfree(alloc->pages);
err_free:
	kfree(alloc);
err_uncharge:
	atomic64_sub(size, &hdev->dram_used);
	return ERR_PTR(-ENOMEM);
}

/* ------------------------------------------------------------------ */
/* Mappings                                                             */
/* ------------------------------------------------------------------ */

static void hlsim_map_release(struct kref *ref)
{
	struct hlsim_map *map = container_of(ref, struct hlsim_map, ref);

	WARN_ON(atomic_read(&map->nr_exports));
	if (map->alloc)
		hlsim_alloc_put(map->alloc);
	else
		hlsim_userptr_release(map);
	kfree(map);
}

void hlsim_map_put(struct hlsim_map *map)
{
	kref_put(&map->ref, hlsim_map_release);
}

/* Remove @map from @ctx; the caller holds ctx->lock */
static void hlsim_map_remove(struct hlsim_ctx *ctx, struct hlsim_map *map)
{
	mtree_erase(&ctx->vas, map->tree_va);
	if (map->alloc) {
		map->alloc->map_count--;
		ctx->nr_maps--;
	} else {
		hlsim_userptr_removed(ctx, map);
	}
	hlsim_map_put(map);
}

/*
 * Mapping (device or host memory) that contains [addr, addr + size), or
 * NULL; the caller holds ctx->lock and @size is not 0.
 */
struct hlsim_map *hlsim_map_find(struct hlsim_ctx *ctx, u64 addr, u64 size)
{
	struct hlsim_map *map;

	if (!(addr >= HLSIM_DRAM_VA_BASE && addr <= HLSIM_DRAM_VA_LAST) &&
	    !(addr >= HLSIM_HOST_VA_BASE && addr <= HLSIM_HOST_VA_LAST))
		return NULL;
	map = mtree_load(&ctx->vas, addr);
	if (!map || addr < map->va)
		return NULL;
	if (size > map->size - (addr - map->va))
		return NULL;
	return map;
}

/* Device memory mapping that contains [addr, addr + size), or NULL */
static struct hlsim_map *hlsim_dram_map_find(struct hlsim_ctx *ctx, u64 addr,
					     u64 size)
{
	struct hlsim_map *map = hlsim_map_find(ctx, addr, size);

	return map && map->alloc ? map : NULL;
}

/* ------------------------------------------------------------------ */
/* Contexts                                                             */
/* ------------------------------------------------------------------ */

struct hlsim_ctx *hlsim_ctx_create(struct hlsim_device *hdev)
{
	struct hlsim_ctx *ctx;

	ctx = kzalloc_obj(*ctx, GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return NULL;
	ctx->hdev = hdev;
	mutex_init(&ctx->lock);
	xa_init_flags(&ctx->handles, XA_FLAGS_ALLOC1 | XA_FLAGS_ACCOUNT);
	/* free ranges are looked up with mas_empty_area(): track gaps */
	mt_init_flags(&ctx->vas, MT_FLAGS_ALLOC_RANGE);
	if (hlsim_cs_ctx_init(ctx)) {
		mutex_destroy(&ctx->lock);
		kfree(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * Tear down a context when its file is closed: unmap everything and drop the
 * handles.  Allocations that back live dma-bufs survive through the
 * references those dma-bufs hold.
 */
void hlsim_ctx_destroy(struct hlsim_ctx *ctx)
{
	struct hlsim_alloc *alloc;
	struct hlsim_map *map;
	unsigned long index;

	/* first stop and release the CSs: they hold mapping references */
	hlsim_cs_ctx_fini(ctx);

	mutex_lock(&ctx->lock);

	index = 0;
	while ((map = mt_find(&ctx->vas, &index, ULONG_MAX)))
		hlsim_map_remove(ctx, map);
	mtree_destroy(&ctx->vas);

	xa_for_each(&ctx->handles, index, alloc) {
		xa_erase(&ctx->handles, index);
		ctx->dram_mem -= alloc->size;
		ctx->nr_allocs--;
		hlsim_alloc_put(alloc);
	}
	xa_destroy(&ctx->handles);
	WARN_ON(ctx->dram_mem || ctx->nr_allocs || ctx->nr_maps ||
		ctx->nr_userptrs || ctx->pinned_pages);

	mutex_unlock(&ctx->lock);
	mutex_destroy(&ctx->lock);
	kfree(ctx);
}

/* ------------------------------------------------------------------ */
/* INFO                                                                 */
/* ------------------------------------------------------------------ */

static int hlsim_info_copy(struct hl_info_args *args, const void *data,
			   size_t size)
{
	void __user *out = u64_to_user_ptr(args->return_pointer);

	if (!args->return_size || !out)
		return -EINVAL;
	if (copy_to_user(out, data, min_t(size_t, args->return_size, size)))
		return -EFAULT;
	return 0;
}

static int hlsim_info_hw_ip(struct hlsim_device *hdev,
			    struct hl_info_args *args)
{
	struct hl_info_hw_ip_info *hw_ip;
	int ret;

	/* too large for the stack */
	hw_ip = kzalloc_obj(*hw_ip, GFP_KERNEL);
	if (!hw_ip)
		return -ENOMEM;

	hw_ip->device_id = HLSIM_PCI_ID;
	hw_ip->module_id = hdev->id;
	hw_ip->dram_base_address = HLSIM_DRAM_VA_BASE;
	hw_ip->dram_size = hdev->dram_size;
	hw_ip->dram_enabled = 1;
	hw_ip->dram_page_size = HLSIM_DRAM_PAGE_SIZE;
	hw_ip->device_mem_alloc_default_page_size = HLSIM_DRAM_PAGE_SIZE;
	hw_ip->revision_id = 1;
	strscpy(hw_ip->cpucp_version, "hlsim-1.0", sizeof(hw_ip->cpucp_version));
	strscpy(hw_ip->card_name, "hlsim", sizeof(hw_ip->card_name));

	ret = hlsim_info_copy(args, hw_ip, sizeof(*hw_ip));
	kfree(hw_ip);
	return ret;
}

int hlsim_info(struct hlsim_device *hdev, struct hlsim_ctx *ctx,
	       struct hl_info_args *args)
{
	struct hl_info_dev_memalloc_page_sizes page_sizes = {};
	struct hl_info_device_status status = {};
	struct hl_info_dram_usage usage = {};

	if (args->pad)
		return -EINVAL;

	switch (args->op) {
	case HL_INFO_HW_IP_INFO:
		return hlsim_info_hw_ip(hdev, args);

	case HL_INFO_DRAM_USAGE:
		usage.dram_free_mem = hdev->dram_size -
				      atomic64_read(&hdev->dram_used);
		if (ctx) {
			mutex_lock(&ctx->lock);
			usage.ctx_dram_mem = ctx->dram_mem;
			mutex_unlock(&ctx->lock);
		}
		return hlsim_info_copy(args, &usage, sizeof(usage));

	case HL_INFO_DEVICE_STATUS:
		status.status = HL_DEVICE_STATUS_OPERATIONAL;
		return hlsim_info_copy(args, &status, sizeof(status));

	case HL_INFO_DEV_MEM_ALLOC_PAGE_SIZES:
		page_sizes.page_order_bitmask = HLSIM_PAGE_ORDER_MASK;
		return hlsim_info_copy(args, &page_sizes, sizeof(page_sizes));

	default:
		return -EINVAL;
	}
}

/* ------------------------------------------------------------------ */
/* dma-buf exporter                                                     */
/* ------------------------------------------------------------------ */

static int hlsim_dmabuf_attach(struct dma_buf *dmabuf,
			       struct dma_buf_attachment *attach)
{
	struct hlsim_export *exp = dmabuf->priv;

	/* The importer maps our pages for its own DMA: it needs a mask */
	if (!attach->dev || !attach->dev->dma_mask)
		return -EINVAL;
	atomic_inc(&exp->nr_attach);
	return 0;
}

static void hlsim_dmabuf_detach(struct dma_buf *dmabuf,
				struct dma_buf_attachment *attach)
{
	struct hlsim_export *exp = dmabuf->priv;

	atomic_dec(&exp->nr_attach);
}

static struct sg_table *hlsim_dmabuf_map(struct dma_buf_attachment *attach,
					 enum dma_data_direction dir)
{
	struct hlsim_export *exp = attach->dmabuf->priv;
	unsigned int max_seg;
	struct sg_table *sgt;
	int ret;

	sgt = kzalloc_obj(*sgt, GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);

	/* merge contiguous pages, within the importer's segment limit */
	max_seg = max_t(unsigned int, dma_get_max_seg_size(attach->dev) &
			PAGE_MASK, PAGE_SIZE);
	ret = sg_alloc_table_from_pages_segment(sgt,
						exp->alloc->pages + exp->first,
						exp->npages, 0,
						(unsigned long)exp->npages <<
						PAGE_SHIFT, max_seg,
						GFP_KERNEL);
	if (ret)
		goto err_free;

	ret = dma_map_sgtable(attach->dev, sgt, dir, 0);
	if (ret)
		goto err_table;

	return sgt;

err_table:
	sg_free_table(sgt);
err_free:
	kfree(sgt);
	return ERR_PTR(ret);
}

static void hlsim_dmabuf_unmap(struct dma_buf_attachment *attach,
			       struct sg_table *sgt,
			       enum dma_data_direction dir)
{
	dma_unmap_sgtable(attach->dev, sgt, dir, 0);
	sg_free_table(sgt);
	kfree(sgt);
}

static void hlsim_export_free(struct hlsim_export *exp)
{
	WARN_ON(atomic_read(&exp->nr_attach));
	atomic_dec(&exp->alloc->nr_exports);
	if (exp->map) {
		atomic_dec(&exp->map->nr_exports);
		hlsim_map_put(exp->map);
	} else {
		hlsim_alloc_put(exp->alloc);
	}
	kfree(exp);
}

static void hlsim_dmabuf_release(struct dma_buf *dmabuf)
{
	hlsim_export_free(dmabuf->priv);
}

/*
 * TEST ONLY: CPU mappings of exported dma-bufs.
 *
 * HBM has no CPU mapping and the habanalabs driver never lets a dma-buf be
 * mmap'ed, so by default neither does hlsim.  With test_dmabuf_mmap=1 an
 * exported dma-buf can be mapped MAP_SHARED; the mapping shows the
 * export's pages, which user space can pin with pin_user_pages(FOLL_LONGTERM)
 * (ib_umem_get).  That is what the NIC test double in test/double builds
 * on to stand in for a dma-buf importing NIC.  The flag is read at mmap
 * time only; existing mappings stay valid when it is cleared.
 */
static bool test_dmabuf_mmap;
module_param(test_dmabuf_mmap, bool, 0644);
MODULE_PARM_DESC(test_dmabuf_mmap,
		 "TEST ONLY: allow mmap of exported dma-bufs (never on real HBM; default 0)");

/*
 * The dma-buf core pins vma->vm_file, the dma-buf, for the life of the vma:
 * the export (its pages, mapping and allocation) outlives every mapping.
 */
static vm_fault_t hlsim_dmabuf_fault(struct vm_fault *vmf)
{
	struct hlsim_export *exp = vmf->vma->vm_private_data;
	struct page *page;

	/* vmf->pgoff counts pages from the start of the dma-buf */
	if (vmf->pgoff >= exp->npages)
		return VM_FAULT_SIGBUS;
	page = exp->alloc->pages[exp->first + vmf->pgoff];
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct hlsim_dmabuf_vm_ops = {
	.fault = hlsim_dmabuf_fault,
};

/* Device memory is not CPU accessible, exactly like HBM (see above) */
static int hlsim_dmabuf_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	struct hlsim_export *exp = dmabuf->priv;

	if (!READ_ONCE(test_dmabuf_mmap))
		return -EINVAL;
	/* a private mapping would copy on write instead of reaching the device */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_pgoff >= exp->npages ||
	    vma_pages(vma) > exp->npages - vma->vm_pgoff)
		return -EINVAL;

	/* struct pages, not PFNMAP: GUP (and so ib_umem_get) must accept it */
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &hlsim_dmabuf_vm_ops;
	vma->vm_private_data = exp;
	return 0;
}

static const struct dma_buf_ops hlsim_dmabuf_ops = {
	.attach = hlsim_dmabuf_attach,
	.detach = hlsim_dmabuf_detach,
	.map_dma_buf = hlsim_dmabuf_map,
	.unmap_dma_buf = hlsim_dmabuf_unmap,
	.release = hlsim_dmabuf_release,
	.mmap = hlsim_dmabuf_mmap,
};

/*
 * Export pages [first, first + npages) of @alloc.  With @map the dma-buf
 * pins the mapping (and through it the allocation), else the allocation.
 * Returns the new fd or a negative error; the caller holds ctx->lock.
 */
static int hlsim_export(struct hlsim_alloc *alloc, struct hlsim_map *map,
			unsigned long first, unsigned long npages, u32 flags)
{
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	struct hlsim_export *exp;
	struct dma_buf *dmabuf;
	int fd;

	if (flags & ~(O_CLOEXEC | O_ACCMODE))
		return -EINVAL;

	exp = kzalloc_obj(*exp, GFP_KERNEL_ACCOUNT);
	if (!exp)
		return -ENOMEM;
	exp->alloc = alloc;
	exp->map = map;
	exp->first = first;
	exp->npages = npages;
	atomic_set(&exp->nr_attach, 0);

	if (map)
		kref_get(&map->ref);
	else
		kref_get(&alloc->ref);
	atomic_inc(&alloc->nr_exports);
	if (map)
		atomic_inc(&map->nr_exports);

	info.ops = &hlsim_dmabuf_ops;
	info.size = (size_t)npages << PAGE_SHIFT;
	info.flags = O_RDWR;
	info.priv = exp;
	dmabuf = dma_buf_export(&info);
	if (IS_ERR(dmabuf)) {
		/* release() is not called for a failed export */
		hlsim_export_free(exp);
		return PTR_ERR(dmabuf);
	}

	fd = dma_buf_fd(dmabuf, flags & O_CLOEXEC);
	if (fd < 0)
		dma_buf_put(dmabuf);	/* calls hlsim_dmabuf_release() */
	return fd;
}

/* ------------------------------------------------------------------ */
/* MEMORY ioctl                                                         */
/* ------------------------------------------------------------------ */

static int hlsim_mem_alloc(struct hlsim_ctx *ctx, union hl_mem_args *args)
{
	struct hlsim_device *hdev = ctx->hdev;
	u64 size = args->in.alloc.mem_size;
	u64 page_size = args->in.alloc.page_size;
	struct hlsim_alloc *alloc;
	u32 handle;
	int ret;

	if (args->in.flags & ~HL_MEM_CONTIGUOUS)
		return -EINVAL;
	if (!page_size)
		page_size = HLSIM_DRAM_PAGE_SIZE;
	if (!is_power_of_2(page_size) || page_size < PAGE_SIZE ||
	    page_size > HLSIM_MAX_ALLOC_PAGE_SIZE)
		return -EINVAL;
	if (!size)
		return -EINVAL;
	if (size > hdev->dram_size)
		return -ENOMEM;
	if (ctx->nr_allocs >= max_allocs_per_ctx)
		return -ENOMEM;
	size = round_up(size, page_size);

	alloc = hlsim_alloc_create(hdev, size, page_size);
	if (IS_ERR(alloc))
		return PTR_ERR(alloc);

	ret = xa_alloc(&ctx->handles, &handle, alloc, xa_limit_31b,
		       GFP_KERNEL_ACCOUNT);
	if (ret) {
		hlsim_alloc_put(alloc);
		return ret == -EBUSY ? -ENOMEM : ret;
	}
	ctx->dram_mem += size;
	ctx->nr_allocs++;

	memset(args, 0, sizeof(*args));
	args->out.handle = handle;
	return 0;
}

static int hlsim_mem_free(struct hlsim_ctx *ctx, union hl_mem_args *args)
{
	u64 handle = args->in.free.handle;
	struct hlsim_alloc *alloc;

	if (args->in.flags || !handle || handle > U32_MAX)
		return -EINVAL;
	alloc = xa_load(&ctx->handles, handle);
	if (!alloc)
		return -EINVAL;
	/*
	 * Like the habanalabs driver: a mapped allocation cannot be freed
	 * ("handle is mapped"), nor (5.16-6.2) one a dma-buf exported by
	 * handle still holds ("handle is exported"); both are -EINVAL.
	 */
	if (alloc->map_count)
		return -EINVAL;
	if (atomic_read(&alloc->nr_exports))
		return -EINVAL;

	xa_erase(&ctx->handles, handle);
	ctx->dram_mem -= alloc->size;
	ctx->nr_allocs--;
	hlsim_alloc_put(alloc);
	return 0;
}

/*
 * Pick a free, @align aligned range of @size bytes in [first, last]; the
 * caller holds ctx->lock.
 */
int hlsim_va_pick(struct hlsim_ctx *ctx, u64 first, u64 last, u64 size,
		  u64 align, u64 *va)
{
	MA_STATE(mas, &ctx->vas, 0, 0);
	u64 want = size + align - PAGE_SIZE;
	int ret;

	mtree_lock(&ctx->vas);
	ret = mas_empty_area(&mas, first, last, want);
	mtree_unlock(&ctx->vas);
	if (ret)
		return -ENOMEM;
	*va = ALIGN((u64)mas.index, align);
	return 0;
}

/*
 * Put @map at @hint if it is @align aligned, inside [first, last] and free,
 * else (unless @force) at the lowest free aligned range of @size bytes.
 * Returns the VA or a negative error: -EINVAL for an unusable hint with
 * @force, -ENOMEM when no range is free.  The caller holds ctx->lock.
 */
int hlsim_va_insert(struct hlsim_ctx *ctx, struct hlsim_map *map, u64 hint,
		    u64 first, u64 last, u64 size, u64 align, bool force)
{
	u64 va = 0;
	int ret = -EINVAL;

	if (hint && IS_ALIGNED(hint, align) && hint >= first && hint <= last &&
	    size - 1 <= last - hint) {
		ret = mtree_insert_range(&ctx->vas, hint, hint + size - 1, map,
					 GFP_KERNEL_ACCOUNT);
		if (!ret)
			va = hint;
	}
	if (ret == -ENOMEM)
		return ret;
	if (ret && force)
		return -EINVAL;
	if (ret) {
		ret = hlsim_va_pick(ctx, first, last, size, align, &va);
		if (ret)
			return ret;
		ret = mtree_insert_range(&ctx->vas, va, va + size - 1, map,
					 GFP_KERNEL_ACCOUNT);
		if (ret)
			return ret;
	}
	map->tree_va = va;
	return 0;
}

static int hlsim_mem_map(struct hlsim_ctx *ctx, union hl_mem_args *args)
{
	u64 hint = args->in.map_device.hint_addr;
	u64 handle = args->in.map_device.handle;
	u32 flags = args->in.flags;
	struct hlsim_alloc *alloc;
	struct hlsim_map *map;
	int ret;

	/* Host memory: pinned and mapped in the host VA range */
	if (flags & HL_MEM_USERPTR)
		return hlsim_userptr_map(ctx, args);
	if (flags & ~HL_MEM_FORCE_HINT)
		return -EINVAL;
	if (!handle || handle > U32_MAX)
		return -EINVAL;
	alloc = xa_load(&ctx->handles, handle);
	if (!alloc)
		return -EINVAL;
	if (ctx->nr_maps >= max_maps_per_ctx ||
	    alloc->map_count >= max_maps_per_alloc)
		return -ENOMEM;

	map = kzalloc_obj(*map, GFP_KERNEL_ACCOUNT);
	if (!map)
		return -ENOMEM;

	ret = hlsim_va_insert(ctx, map, hint, HLSIM_DRAM_VA_BASE,
			      HLSIM_DRAM_VA_LAST, alloc->size, alloc->page_size,
			      flags & HL_MEM_FORCE_HINT);
	if (ret) {
		kfree(map);
		return ret;
	}

	kref_init(&map->ref);
	map->va = map->tree_va;
	map->size = alloc->size;
	map->alloc = alloc;
	map->pages = alloc->pages;
	atomic_set(&map->nr_exports, 0);
	kref_get(&alloc->ref);
	alloc->map_count++;
	ctx->nr_maps++;

	memset(args, 0, sizeof(*args));
	args->out.device_virt_addr = map->va;
	return 0;
}

static int hlsim_mem_unmap(struct hlsim_ctx *ctx, union hl_mem_args *args)
{
	u64 va = args->in.unmap.device_virt_addr;
	struct hlsim_map *map;

	if (args->in.flags)
		return -EINVAL;
	map = hlsim_map_find(ctx, va, 1);
	if (!map || map->va != va)
		return -EINVAL;
	/*
	 * An exported mapping stays until its last dma-buf is released; the
	 * habanalabs driver answers -EINVAL ("memory is exported").
	 */
	if (atomic_read(&map->nr_exports))
		return -EINVAL;

	hlsim_map_remove(ctx, map);
	return 0;
}

static int hlsim_mem_export(struct hlsim_ctx *ctx, union hl_mem_args *args)
{
	u64 addr = args->in.export_dmabuf_fd.addr;
	u64 size = args->in.export_dmabuf_fd.mem_size;
	u64 offset = args->in.export_dmabuf_fd.offset;
	struct hlsim_map *map;
	int fd;

	if (!PAGE_ALIGNED(addr) || !size || !PAGE_ALIGNED(size) ||
	    !PAGE_ALIGNED(offset))
		return -EINVAL;

	/* addr must be the base of a device memory mapping of this context */
	map = hlsim_dram_map_find(ctx, addr, 1);
	if (!map || map->va != addr)
		return -EINVAL;
	if (offset >= map->size || size > map->size - offset)
		return -EINVAL;

	fd = hlsim_export(map->alloc, map, offset >> PAGE_SHIFT,
			  size >> PAGE_SHIFT, args->in.flags);
	if (fd < 0)
		return fd;

	memset(args, 0, sizeof(*args));
	args->out.fd = fd;
	return 0;
}

int hlsim_memory(struct hlsim_ctx *ctx, union hl_mem_args *args)
{
	int ret;

	mutex_lock(&ctx->lock);
	switch (args->in.op) {
	case HL_MEM_OP_ALLOC:
		ret = hlsim_mem_alloc(ctx, args);
		break;
	case HL_MEM_OP_FREE:
		ret = hlsim_mem_free(ctx, args);
		break;
	case HL_MEM_OP_MAP:
		ret = hlsim_mem_map(ctx, args);
		break;
	case HL_MEM_OP_UNMAP:
		ret = hlsim_mem_unmap(ctx, args);
		break;
	case HL_MEM_OP_EXPORT_DMABUF_FD:
		ret = hlsim_mem_export(ctx, args);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	mutex_unlock(&ctx->lock);
	return ret;
}

/*
 * Legacy generation (Linux 5.16-6.2 <misc/habanalabs.h>): identical except
 * that EXPORT_DMABUF_FD takes {handle, mem_size} and exports the whole
 * allocation; mem_size is only meaningful for Gaudi1 and is ignored.  The
 * legacy layout overlays the first two words of the current one.
 */
int hlsim_memory_legacy(struct hlsim_ctx *ctx, union hl_mem_args *args)
{
	struct hlsim_alloc *alloc;
	u64 handle;
	int fd;

	if (args->in.op != HL_MEM_OP_EXPORT_DMABUF_FD)
		return hlsim_memory(ctx, args);

	handle = args->in.export_dmabuf_fd.addr;
	if (!handle || handle > U32_MAX)
		return -EINVAL;

	mutex_lock(&ctx->lock);
	alloc = xa_load(&ctx->handles, handle);
	if (!alloc) {
		mutex_unlock(&ctx->lock);
		return -EINVAL;
	}
	fd = hlsim_export(alloc, NULL, 0, alloc->npages, args->in.flags);
	mutex_unlock(&ctx->lock);
	if (fd < 0)
		return fd;

	memset(args, 0, sizeof(*args));
	args->out.fd = fd;
	return 0;
}

/* ------------------------------------------------------------------ */
/* DMA copy                                                             */
/* ------------------------------------------------------------------ */

static size_t hlsim_chunk(u64 addr, u64 left)
{
	return min_t(u64, PAGE_SIZE - offset_in_page(addr), left);
}

static int hlsim_copy_host(struct hlsim_map *map, u64 dev, u64 host,
			   u64 size, bool to_device)
{
	while (size) {
		size_t off, len = hlsim_chunk(dev, size);
		struct page *page = hlsim_map_page(map, dev, &off);
		void __user *uptr = u64_to_user_ptr(host);
		unsigned long left;
		void *kaddr;

		kaddr = kmap_local_page(page);
		if (to_device)
			left = copy_from_user(kaddr + off, uptr, len);
		else
			left = copy_to_user(uptr, kaddr + off, len);
		kunmap_local(kaddr);
		if (left)
			return -EFAULT;

		dev += len;
		host += len;
		size -= len;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

static int hlsim_copy_d2d(struct hlsim_map *dmap, u64 dst,
			  struct hlsim_map *smap, u64 src, u64 size)
{
	while (size) {
		size_t doff, soff;
		size_t len = min(hlsim_chunk(dst, size), hlsim_chunk(src, size));
		struct page *dpage = hlsim_map_page(dmap, dst, &doff);
		struct page *spage = hlsim_map_page(smap, src, &soff);
		void *d, *s;

		d = kmap_local_page(dpage);
		s = kmap_local_page(spage);
		memmove(d + doff, s + soff, len);
		kunmap_local(s);
		kunmap_local(d);

		dst += len;
		src += len;
		size -= len;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

/* Do two device ranges share backing memory? */
static bool hlsim_overlap(struct hlsim_map *a, u64 aaddr,
			  struct hlsim_map *b, u64 baddr, u64 size)
{
	u64 aoff = aaddr - a->va, boff = baddr - b->va;

	if (a->alloc != b->alloc)
		return false;
	return aoff < boff + size && boff < aoff + size;
}

/*
 * Device memory mapping containing [addr, addr + size) with a reference
 * taken, or NULL;
 * the caller holds ctx->lock.  The reference keeps the mapping, its
 * allocation and the pages alive after an UNMAP or FREE by another thread.
 */
static struct hlsim_map *hlsim_map_get(struct hlsim_ctx *ctx, u64 addr,
				       u64 size)
{
	struct hlsim_map *map = hlsim_dram_map_find(ctx, addr, size);

	if (map)
		kref_get(&map->ref);
	return map;
}

/*
 * The context lock is only held to look the mappings up: the copy itself
 * may take long and fault on user pages, and must not stall the other
 * memory operations of the context.
 */
int hlsim_dma_copy(struct hlsim_ctx *ctx, struct hlsim_dma_copy *args)
{
	struct hlsim_map *dmap = NULL, *smap = NULL;
	u64 size = args->size;
	int ret = -EINVAL;

	if (args->flags || !size)
		return -EINVAL;

	mutex_lock(&ctx->lock);
	switch (args->dir) {
	case HLSIM_COPY_HOST_TO_DEVICE:
		dmap = hlsim_map_get(ctx, args->dst, size);
		break;
	case HLSIM_COPY_DEVICE_TO_HOST:
		smap = hlsim_map_get(ctx, args->src, size);
		break;
	case HLSIM_COPY_DEVICE_TO_DEVICE:
		dmap = hlsim_dram_map_find(ctx, args->dst, size);
		smap = hlsim_dram_map_find(ctx, args->src, size);
		if (!dmap || !smap ||
		    hlsim_overlap(dmap, args->dst, smap, args->src, size)) {
			dmap = NULL;
			smap = NULL;
			break;
		}
		kref_get(&dmap->ref);
		kref_get(&smap->ref);
		break;
	default:
		break;
	}
	mutex_unlock(&ctx->lock);

	switch (args->dir) {
	case HLSIM_COPY_HOST_TO_DEVICE:
		if (dmap)
			ret = hlsim_copy_host(dmap, args->dst, args->src, size,
					      true);
		break;
	case HLSIM_COPY_DEVICE_TO_HOST:
		if (smap)
			ret = hlsim_copy_host(smap, args->src, args->dst, size,
					      false);
		break;
	case HLSIM_COPY_DEVICE_TO_DEVICE:
		if (dmap && smap)
			ret = hlsim_copy_d2d(dmap, args->dst, smap, args->src,
					     size);
		break;
	default:
		break;
	}

	if (dmap)
		hlsim_map_put(dmap);
	if (smap)
		hlsim_map_put(smap);
	return ret;
}
