// SPDX-License-Identifier: GPL-2.0
/*
 * hlsim - host memory mappings: HL_MEM_OP_MAP with HL_MEM_USERPTR.
 *
 * As on a Gaudi2, the pages of a user range are pinned (FOLL_LONGTERM) and
 * mapped at a device VA in the host range, distinct from the DRAM range.
 * The returned VA keeps the in-page offset of the host address and only
 * that exact VA unmaps.  A mapping is a struct hlsim_map without an
 * allocation: it holds the pinned pages, and a CS that uses it holds a
 * reference, so the pages stay pinned until the last CS using them ends.
 */

#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/overflow.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "hlsim.h"

#define HLSIM_USERPTR_LIMIT	BIT(24)

static unsigned int max_userptr_per_ctx = 65536;
module_param(max_userptr_per_ctx, uint, 0444);
MODULE_PARM_DESC(max_userptr_per_ctx,
		 "Live USERPTR (host memory) mappings per context (1-16777216, default 65536)");

static unsigned int max_pinned_mb_per_ctx = 1024;
module_param(max_pinned_mb_per_ctx, uint, 0444);
MODULE_PARM_DESC(max_pinned_mb_per_ctx,
		 "MiB of host memory a context may pin with USERPTR mappings (1-16777216, default 1024)");

int hlsim_userptr_check_params(void)
{
	if (!max_userptr_per_ctx || max_userptr_per_ctx > HLSIM_USERPTR_LIMIT ||
	    !max_pinned_mb_per_ctx ||
	    max_pinned_mb_per_ctx > HLSIM_USERPTR_LIMIT) {
		pr_err("hlsim: max_userptr_per_ctx and max_pinned_mb_per_ctx must be 1..%lu\n",
		       HLSIM_USERPTR_LIMIT);
		return -EINVAL;
	}
	return 0;
}

/* Pinned page budget of a context, in pages */
static u64 hlsim_pinned_limit(void)
{
	return ((u64)max_pinned_mb_per_ctx * SZ_1M) >> PAGE_SHIFT;
}

/* Pin @npages pages from @start into @pages; 0 or the driver's errno */
static int hlsim_userptr_pin(u64 start, unsigned long npages,
			     struct page **pages)
{
	unsigned long done = 0;
	int ret;

	while (done < npages) {
		/* pin_user_pages_fast() takes an int count */
		int n = min_t(unsigned long, npages - done, SZ_64K);

		ret = pin_user_pages_fast(start + (done << PAGE_SHIFT), n,
					  FOLL_WRITE | FOLL_LONGTERM,
					  pages + done);
		if (ret < 0)
			goto err;
		done += ret;
		if (ret != n) {
			/* as the driver: a partial pin is -EFAULT */
			ret = -EFAULT;
			goto err;
		}
	}
	return 0;

err:
	if (done) {
		unpin_user_pages(pages, done);
		ret = -EFAULT;
	}
	return ret;
}

/*
 * HL_MEM_OP_MAP with HL_MEM_USERPTR; the caller holds ctx->lock.  The
 * errors follow habanalabs' map_device_va() and hl_pin_host_memory(); the
 * bounds per context are hlsim's and answer -ENOMEM like an exhausted VA
 * range.
 */
int hlsim_userptr_map(struct hlsim_ctx *ctx, union hl_mem_args *args)
{
	u64 addr = args->in.map_host.host_virt_addr;
	u64 size = args->in.map_host.mem_size;
	u64 hint = args->in.map_host.hint_addr;
	u32 flags = args->in.flags;
	struct hlsim_map *map;
	u64 start, end, npages;
	int ret;

	if (flags & ~(HL_MEM_USERPTR | HL_MEM_FORCE_HINT))
		return -EINVAL;
	if (!size || check_add_overflow(addr, size, &end))
		return -EINVAL;
	/* a user range: its end rounds up to a page without overflow */
	if (!access_ok(u64_to_user_ptr(addr), size))
		return -EFAULT;
	if (ctx->nr_userptrs >= max_userptr_per_ctx)
		return -ENOMEM;

	start = addr & PAGE_MASK;
	npages = (PAGE_ALIGN(end) - start) >> PAGE_SHIFT;
	if (npages > hlsim_pinned_limit() - ctx->pinned_pages)
		return -ENOMEM;

	map = kzalloc_obj(*map, GFP_KERNEL_ACCOUNT);
	if (!map)
		return -ENOMEM;
	map->pages = kvcalloc(npages, sizeof(*map->pages), GFP_KERNEL_ACCOUNT);
	if (!map->pages) {
		ret = -ENOMEM;
		goto err_map;
	}

	ret = hlsim_userptr_pin(start, npages, map->pages);
	if (ret)
		goto err_pages;

	ret = hlsim_va_insert(ctx, map, hint, HLSIM_HOST_VA_BASE,
			      HLSIM_HOST_VA_LAST, npages << PAGE_SHIFT,
			      PAGE_SIZE, flags & HL_MEM_FORCE_HINT);
	if (ret)
		goto err_unpin;

	kref_init(&map->ref);
	map->npages = npages;
	map->pg_off = offset_in_page(addr);
	map->va = map->tree_va + map->pg_off;
	map->size = size;
	atomic_set(&map->nr_exports, 0);
	ctx->nr_userptrs++;
	ctx->pinned_pages += npages;

	memset(args, 0, sizeof(*args));
	args->out.device_virt_addr = map->va;
	return 0;

err_unpin:
	unpin_user_pages(map->pages, npages);
err_pages:
	kvfree(map->pages);
err_map:
	kfree(map);
	return ret;
}

/* @map left the context's VA tree (UNMAP or close); caller holds ctx->lock */
void hlsim_userptr_removed(struct hlsim_ctx *ctx, struct hlsim_map *map)
{
	ctx->nr_userptrs--;
	ctx->pinned_pages -= map->npages;
}

/* Last reference on a USERPTR mapping: the device may have written pages */
void hlsim_userptr_release(struct hlsim_map *map)
{
	unpin_user_pages_dirty_lock(map->pages, map->npages, true);
	kvfree(map->pages);
}
