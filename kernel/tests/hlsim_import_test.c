// SPDX-License-Identifier: GPL-2.0
/*
 * hlsim_import_test - a test-only dma-buf importer.
 *
 * /dev/hlsim_import_test takes a dma-buf fd, imports it the way a NIC driver
 * would (dma_buf_get, attach, map for DMA against its own device), measures
 * the sg table and releases everything again, or keeps the mapping until
 * told to drop it.  It never touches the pages with the CPU.
 */

#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/device/faux.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "hlsim_import_test.h"

MODULE_IMPORT_NS("DMA_BUF");

static struct faux_device *hit_fdev;

/**
 * struct hit_import - one imported dma-buf
 * @dmabuf: the buffer (a reference is held)
 * @attach: our attachment
 * @sgt: the mapped sg table
 */
struct hit_import {
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
};

/**
 * struct hit_file - per open file state
 * @lock: protects @held
 * @held: import kept by HLSIM_IMPORT_HOLD
 */
struct hit_file {
	struct mutex lock;	/* protects held */
	struct hit_import held;
};

static void hit_release_import(struct hit_import *imp)
{
	if (imp->sgt)
		dma_buf_unmap_attachment_unlocked(imp->attach, imp->sgt,
						  DMA_BIDIRECTIONAL);
	if (imp->attach)
		dma_buf_detach(imp->dmabuf, imp->attach);
	if (imp->dmabuf)
		dma_buf_put(imp->dmabuf);
	memset(imp, 0, sizeof(*imp));
}

static int hit_import(struct hlsim_import_check *chk, struct hit_import *imp)
{
	struct scatterlist *sg;
	unsigned int i;
	int ret;

	memset(imp, 0, sizeof(*imp));
	imp->dmabuf = dma_buf_get(chk->fd);
	if (IS_ERR(imp->dmabuf)) {
		ret = PTR_ERR(imp->dmabuf);
		imp->dmabuf = NULL;
		return ret;
	}

	imp->attach = dma_buf_attach(imp->dmabuf, &hit_fdev->dev);
	if (IS_ERR(imp->attach)) {
		ret = PTR_ERR(imp->attach);
		imp->attach = NULL;
		goto err;
	}

	imp->sgt = dma_buf_map_attachment_unlocked(imp->attach,
						   DMA_BIDIRECTIONAL);
	if (IS_ERR(imp->sgt)) {
		ret = PTR_ERR(imp->sgt);
		imp->sgt = NULL;
		goto err;
	}

	chk->size = imp->dmabuf->size;
	chk->orig_nents = imp->sgt->orig_nents;
	chk->nents = imp->sgt->nents;
	chk->sg_len = 0;
	chk->dma_len = 0;
	for_each_sgtable_sg(imp->sgt, sg, i)
		chk->sg_len += sg->length;
	chk->max_dma_seg = 0;
	for_each_sgtable_dma_sg(imp->sgt, sg, i) {
		chk->dma_len += sg_dma_len(sg);
		chk->max_dma_seg = max_t(u64, chk->max_dma_seg,
					 sg_dma_len(sg));
	}
	chk->match = chk->sg_len == chk->size && chk->dma_len == chk->size;
	return 0;

err:
	hit_release_import(imp);
	return ret;
}

static int hit_open(struct inode *inode, struct file *filp)
{
	struct hit_file *hf;

	hf = kzalloc_obj(*hf, GFP_KERNEL);
	if (!hf)
		return -ENOMEM;
	mutex_init(&hf->lock);
	filp->private_data = hf;
	return 0;
}

static int hit_release(struct inode *inode, struct file *filp)
{
	struct hit_file *hf = filp->private_data;

	hit_release_import(&hf->held);
	mutex_destroy(&hf->lock);
	kfree(hf);
	return 0;
}

static long hit_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct hlsim_import_check __user *uchk = (void __user *)arg;
	struct hit_file *hf = filp->private_data;
	struct hlsim_import_check chk;
	struct hit_import imp;
	int ret;

	if (cmd == HLSIM_IMPORT_DROP) {
		mutex_lock(&hf->lock);
		ret = hf->held.dmabuf ? 0 : -ENOENT;
		hit_release_import(&hf->held);
		mutex_unlock(&hf->lock);
		return ret;
	}
	if (cmd != HLSIM_IMPORT_CHECK && cmd != HLSIM_IMPORT_HOLD)
		return -ENOTTY;

	if (copy_from_user(&chk, uchk, sizeof(chk)))
		return -EFAULT;
	if (chk.flags || chk.pad)
		return -EINVAL;

	mutex_lock(&hf->lock);
	if (cmd == HLSIM_IMPORT_HOLD && hf->held.dmabuf) {
		ret = -EBUSY;
		goto out;
	}
	ret = hit_import(&chk, &imp);
	if (ret)
		goto out;
	if (cmd == HLSIM_IMPORT_HOLD)
		hf->held = imp;
	else
		hit_release_import(&imp);
	if (copy_to_user(uchk, &chk, sizeof(chk)))
		ret = -EFAULT;
out:
	mutex_unlock(&hf->lock);
	return ret;
}

static const struct file_operations hit_fops = {
	.owner = THIS_MODULE,
	.open = hit_open,
	.release = hit_release,
	.unlocked_ioctl = hit_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice hit_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "hlsim_import_test",
	.fops = &hit_fops,
};

static int __init hit_init(void)
{
	int ret;

	hit_fdev = faux_device_create("hlsim_import_test", NULL, NULL);
	if (!hit_fdev)
		return -ENODEV;
	ret = dma_coerce_mask_and_coherent(&hit_fdev->dev, DMA_BIT_MASK(64));
	if (ret)
		goto err;
	ret = misc_register(&hit_misc);
	if (ret)
		goto err;
	return 0;
err:
	faux_device_destroy(hit_fdev);
	return ret;
}

static void __exit hit_exit(void)
{
	misc_deregister(&hit_misc);
	faux_device_destroy(hit_fdev);
}

module_init(hit_init);
module_exit(hit_exit);

MODULE_DESCRIPTION("hlsim test-only dma-buf importer");
MODULE_LICENSE("GPL");
