// SPDX-License-Identifier: GPL-2.0
/*
 * hlsim - character device front ends that are not DRM:
 *  - the control node /dev/accel/accel_controlDN (INFO only, any number of
 *    opens), as the real driver offers beside its accel node;
 *  - optionally the pre-6.3 generation: /dev/hlN (compute, 'H' ioctls) and
 *    /dev/hl_controlDN.
 */

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/device/faux.h>
#include <linux/fs.h>
#include <linux/ioctl.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <drm/drm.h>

#include "hlsim.h"

/* ioctl numbers of the legacy generation (<misc/habanalabs.h>) */
#define HLSIM_LEGACY_INFO	_IOWR('H', 0x01, struct hl_info_args)
#define HLSIM_LEGACY_CS		_IOWR('H', 0x03, union hl_cs_args)
#define HLSIM_LEGACY_WAIT_CS	_IOWR('H', 0x04, union hl_wait_cs_args)
#define HLSIM_LEGACY_MEMORY	_IOWR('H', 0x05, union hl_mem_args)

static dev_t hlsim_ctrl_base;

static char *hlsim_ctrl_devnode(const struct device *dev, umode_t *mode)
{
	return kasprintf(GFP_KERNEL, "accel/%s", dev_name(dev));
}

static const struct class hlsim_ctrl_class = {
	.name = "hlsim",
	.devnode = hlsim_ctrl_devnode,
};

/*
 * Copy an ioctl argument in, as the DRM core does: the user's size may
 * differ from ours; missing bytes read as zero, extra bytes are ignored.
 */
static int hlsim_arg_in(unsigned int cmd, unsigned long arg, void *karg,
			size_t ksize)
{
	size_t usize = _IOC_SIZE(cmd);

	memset(karg, 0, ksize);
	if (!(_IOC_DIR(cmd) & _IOC_WRITE))
		return 0;
	if (copy_from_user(karg, (void __user *)arg, min(usize, ksize)))
		return -EFAULT;
	return 0;
}

static int hlsim_arg_out(unsigned int cmd, unsigned long arg,
			 const void *karg, size_t ksize)
{
	size_t usize = _IOC_SIZE(cmd);

	if (!(_IOC_DIR(cmd) & _IOC_READ))
		return 0;
	if (copy_to_user((void __user *)arg, karg, min(usize, ksize)))
		return -EFAULT;
	return 0;
}

static long hlsim_info_ioctl(struct hlsim_device *hdev, struct hlsim_ctx *ctx,
			     unsigned int cmd, unsigned long arg)
{
	struct hl_info_args args;
	int ret;

	ret = hlsim_arg_in(cmd, arg, &args, sizeof(args));
	if (ret)
		return ret;
	ret = hlsim_info(hdev, ctx, &args);
	if (ret)
		return ret;
	return hlsim_arg_out(cmd, arg, &args, sizeof(args));
}

/* ------------------------------------------------------------------ */
/* Control nodes                                                        */
/* ------------------------------------------------------------------ */

static int hlsim_ctrl_open(struct inode *inode, struct file *filp)
{
	filp->private_data = container_of(inode->i_cdev, struct hlsim_device,
					  ctrl_cdev);
	return nonseekable_open(inode, filp);
}

static long hlsim_ctrl_ioctl(struct file *filp, unsigned int cmd,
			     unsigned long arg)
{
	/* the real driver matches the INFO number only */
	if (_IOC_TYPE(cmd) != DRM_IOCTL_BASE ||
	    _IOC_NR(cmd) != DRM_COMMAND_BASE + HL_IOCTL_INFO)
		return -ENOTTY;
	return hlsim_info_ioctl(filp->private_data, NULL, cmd, arg);
}

static const struct file_operations hlsim_ctrl_fops = {
	.owner = THIS_MODULE,
	.open = hlsim_ctrl_open,
	.unlocked_ioctl = hlsim_ctrl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

int hlsim_ctrl_init(void)
{
	int ret;

	ret = alloc_chrdev_region(&hlsim_ctrl_base, 0, HLSIM_MAX_DEVICES,
				  "hlsim_ctrl");
	if (ret)
		return ret;
	ret = class_register(&hlsim_ctrl_class);
	if (ret)
		unregister_chrdev_region(hlsim_ctrl_base, HLSIM_MAX_DEVICES);
	return ret;
}

void hlsim_ctrl_exit(void)
{
	class_unregister(&hlsim_ctrl_class);
	unregister_chrdev_region(hlsim_ctrl_base, HLSIM_MAX_DEVICES);
}

int hlsim_ctrl_add(struct hlsim_device *hdev, unsigned int index)
{
	dev_t devt = hlsim_ctrl_base + hdev->id;
	struct device *dev;
	int ret;

	cdev_init(&hdev->ctrl_cdev, &hlsim_ctrl_fops);
	hdev->ctrl_cdev.owner = THIS_MODULE;
	ret = cdev_add(&hdev->ctrl_cdev, devt, 1);
	if (ret)
		return ret;

	dev = device_create(&hlsim_ctrl_class, &hdev->fdev->dev, devt, hdev,
			    "accel_controlD%u", index);
	if (IS_ERR(dev)) {
		cdev_del(&hdev->ctrl_cdev);
		return PTR_ERR(dev);
	}
	hdev->ctrl_dev = dev;
	return 0;
}

void hlsim_ctrl_del(struct hlsim_device *hdev)
{
	if (!hdev->ctrl_dev)
		return;
	device_destroy(&hlsim_ctrl_class, hdev->ctrl_dev->devt);
	cdev_del(&hdev->ctrl_cdev);
	hdev->ctrl_dev = NULL;
}

/* ------------------------------------------------------------------ */
/* Legacy generation: /dev/hlN and /dev/hl_controlDN                    */
/* ------------------------------------------------------------------ */

static int hlsim_legacy_open(struct inode *inode, struct file *filp)
{
	struct hlsim_device *hdev = container_of(filp->private_data,
						 struct hlsim_device, legacy);
	struct hlsim_ctx *ctx = hlsim_compute_open(hdev);

	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	filp->private_data = ctx;
	return nonseekable_open(inode, filp);
}

static int hlsim_legacy_release(struct inode *inode, struct file *filp)
{
	hlsim_compute_close(filp->private_data);
	return 0;
}

static long hlsim_legacy_ioctl(struct file *filp, unsigned int cmd,
			       unsigned long arg)
{
	struct hlsim_ctx *ctx = filp->private_data;
	union hl_wait_cs_args wait;
	struct hlsim_dma_copy copy;
	union hl_mem_args mem;
	union hl_cs_args cs;
	int ret;

	if (_IOC_TYPE(cmd) != 'H')
		return -ENOTTY;

	switch (_IOC_NR(cmd)) {
	case _IOC_NR(HLSIM_LEGACY_INFO):
		return hlsim_info_ioctl(ctx->hdev, ctx, cmd, arg);

	case _IOC_NR(HLSIM_LEGACY_MEMORY):
		ret = hlsim_arg_in(cmd, arg, &mem, sizeof(mem));
		if (!ret)
			ret = hlsim_memory_legacy(ctx, &mem);
		if (!ret)
			ret = hlsim_arg_out(cmd, arg, &mem, sizeof(mem));
		return ret;

	/* like the driver's _hl_ioctl, CS and WAIT_CS copy out on errors too */
	case _IOC_NR(HLSIM_LEGACY_CS):
		ret = hlsim_arg_in(cmd, arg, &cs, sizeof(cs));
		if (ret)
			return ret;
		ret = hlsim_cs_submit(ctx, &cs);
		return hlsim_arg_out(cmd, arg, &cs, sizeof(cs)) ?: ret;

	case _IOC_NR(HLSIM_LEGACY_WAIT_CS):
		ret = hlsim_arg_in(cmd, arg, &wait, sizeof(wait));
		if (ret)
			return ret;
		ret = hlsim_cs_wait(ctx, &wait);
		return hlsim_arg_out(cmd, arg, &wait, sizeof(wait)) ?: ret;

	case HLSIM_IOCTL_DMA_COPY_NR:
		ret = hlsim_arg_in(cmd, arg, &copy, sizeof(copy));
		if (!ret)
			ret = hlsim_dma_copy(ctx, &copy);
		return ret;

	default:
		return -ENOTTY;
	}
}

static int hlsim_legacy_mmap(struct file *filp, struct vm_area_struct *vma)
{
	return -EINVAL;
}

static const struct file_operations hlsim_legacy_fops = {
	.owner = THIS_MODULE,
	.open = hlsim_legacy_open,
	.release = hlsim_legacy_release,
	.unlocked_ioctl = hlsim_legacy_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = hlsim_legacy_mmap,
	.llseek = noop_llseek,
};

static int hlsim_legacy_ctrl_open(struct inode *inode, struct file *filp)
{
	filp->private_data = container_of(filp->private_data,
					  struct hlsim_device, legacy_ctrl);
	return nonseekable_open(inode, filp);
}

static long hlsim_legacy_ctrl_ioctl(struct file *filp, unsigned int cmd,
				    unsigned long arg)
{
	if (_IOC_TYPE(cmd) != 'H' ||
	    _IOC_NR(cmd) != _IOC_NR(HLSIM_LEGACY_INFO))
		return -ENOTTY;
	return hlsim_info_ioctl(filp->private_data, NULL, cmd, arg);
}

static const struct file_operations hlsim_legacy_ctrl_fops = {
	.owner = THIS_MODULE,
	.open = hlsim_legacy_ctrl_open,
	.unlocked_ioctl = hlsim_legacy_ctrl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

int hlsim_legacy_add(struct hlsim_device *hdev)
{
	int ret;

	snprintf(hdev->legacy_name, sizeof(hdev->legacy_name), "hl%u",
		 hdev->id);
	snprintf(hdev->legacy_ctrl_name, sizeof(hdev->legacy_ctrl_name),
		 "hl_controlD%u", hdev->id);

	hdev->legacy.minor = MISC_DYNAMIC_MINOR;
	hdev->legacy.name = hdev->legacy_name;
	hdev->legacy.fops = &hlsim_legacy_fops;
	hdev->legacy.parent = &hdev->fdev->dev;
	ret = misc_register(&hdev->legacy);
	if (ret)
		return ret;

	hdev->legacy_ctrl.minor = MISC_DYNAMIC_MINOR;
	hdev->legacy_ctrl.name = hdev->legacy_ctrl_name;
	hdev->legacy_ctrl.fops = &hlsim_legacy_ctrl_fops;
	hdev->legacy_ctrl.parent = &hdev->fdev->dev;
	ret = misc_register(&hdev->legacy_ctrl);
	if (ret) {
		misc_deregister(&hdev->legacy);
		return ret;
	}
	hdev->legacy_added = true;
	return 0;
}

void hlsim_legacy_del(struct hlsim_device *hdev)
{
	if (!hdev->legacy_added)
		return;
	misc_deregister(&hdev->legacy_ctrl);
	misc_deregister(&hdev->legacy);
	hdev->legacy_added = false;
}
