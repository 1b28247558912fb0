// SPDX-License-Identifier: GPL-2.0
/*
 * hlsim - module entry and the DRM accel front end (/dev/accel/accelN).
 */

#include <linux/device/faux.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sizes.h>

#include <drm/drm_accel.h>
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_print.h>

#include "hlsim.h"

#define DRM_IOCTL_HLSIM_DMA_COPY	HLSIM_IOCTL_DMA_COPY

static unsigned int num_devices = 1;
module_param(num_devices, uint, 0444);
MODULE_PARM_DESC(num_devices, "Number of simulated devices (1-8, default 1)");

static unsigned int hbm_mb = 256;
module_param(hbm_mb, uint, 0444);
MODULE_PARM_DESC(hbm_mb, "Device memory per device in MiB (default 256)");

static bool legacy;
module_param(legacy, bool, 0444);
MODULE_PARM_DESC(legacy,
		 "Be a pre-6.3 kernel: misc nodes /dev/hlN and /dev/hl_controlDN instead of the accel nodes");

static struct hlsim_device *hlsim_devs[HLSIM_MAX_DEVICES];

static struct hlsim_device *to_hlsim(struct drm_device *drm)
{
	return container_of(drm, struct hlsim_device, drm);
}

static int hlsim_compute_get(struct hlsim_device *hdev)
{
	int ret = 0;

	mutex_lock(&hdev->open_lock);
	if (hdev->compute_open)
		ret = -EBUSY;
	else
		hdev->compute_open = true;
	mutex_unlock(&hdev->open_lock);
	return ret;
}

static void hlsim_compute_put(struct hlsim_device *hdev)
{
	mutex_lock(&hdev->open_lock);
	hdev->compute_open = false;
	mutex_unlock(&hdev->open_lock);
}

/* Take the device's single compute open, with a fresh context for it */
struct hlsim_ctx *hlsim_compute_open(struct hlsim_device *hdev)
{
	struct hlsim_ctx *ctx;
	int ret;

	ret = hlsim_compute_get(hdev);
	if (ret)
		return ERR_PTR(ret);
	ctx = hlsim_ctx_create(hdev);
	if (!ctx) {
		hlsim_compute_put(hdev);
		return ERR_PTR(-ENOMEM);
	}
	return ctx;
}

void hlsim_compute_close(struct hlsim_ctx *ctx)
{
	struct hlsim_device *hdev = ctx->hdev;

	hlsim_ctx_destroy(ctx);
	hlsim_compute_put(hdev);
}

static int hlsim_drm_open(struct drm_device *drm, struct drm_file *file)
{
	struct hlsim_ctx *ctx = hlsim_compute_open(to_hlsim(drm));

	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	file->driver_priv = ctx;
	return 0;
}

static void hlsim_drm_postclose(struct drm_device *drm, struct drm_file *file)
{
	hlsim_compute_close(file->driver_priv);
	file->driver_priv = NULL;
}

static int hlsim_ioctl_info(struct drm_device *drm, void *data,
			    struct drm_file *file)
{
	return hlsim_info(to_hlsim(drm), file->driver_priv, data);
}

static int hlsim_ioctl_memory(struct drm_device *drm, void *data,
			      struct drm_file *file)
{
	return hlsim_memory(file->driver_priv, data);
}

static int hlsim_ioctl_cs(struct drm_device *drm, void *data,
			  struct drm_file *file)
{
	return hlsim_cs_submit(file->driver_priv, data);
}

static int hlsim_ioctl_wait_cs(struct drm_device *drm, void *data,
			       struct drm_file *file)
{
	return hlsim_cs_wait(file->driver_priv, data);
}

static int hlsim_ioctl_dma_copy(struct drm_device *drm, void *data,
				struct drm_file *file)
{
	return hlsim_dma_copy(file->driver_priv, data);
}

static const struct drm_ioctl_desc hlsim_drm_ioctls[] = {
	DRM_IOCTL_DEF_DRV(HL_INFO, hlsim_ioctl_info, 0),
	DRM_IOCTL_DEF_DRV(HL_CS, hlsim_ioctl_cs, 0),
	DRM_IOCTL_DEF_DRV(HL_WAIT_CS, hlsim_ioctl_wait_cs, 0),
	DRM_IOCTL_DEF_DRV(HL_MEMORY, hlsim_ioctl_memory, 0),
	DRM_IOCTL_DEF_DRV(HLSIM_DMA_COPY, hlsim_ioctl_dma_copy, 0),
};

/* Device memory is not CPU accessible, exactly like HBM */
static int hlsim_drm_mmap(struct file *filp, struct vm_area_struct *vma)
{
	return -EINVAL;
}

static const struct file_operations hlsim_drm_fops = {
	.owner = THIS_MODULE,
	.open = accel_open,
	.release = drm_release,
	.unlocked_ioctl = drm_ioctl,
	.compat_ioctl = drm_compat_ioctl,
	.poll = drm_poll,
	.read = drm_read,
	.llseek = noop_llseek,
	.mmap = hlsim_drm_mmap,
	.fop_flags = FOP_UNSIGNED_OFFSET,
};

static const struct drm_driver hlsim_drm_driver = {
	.driver_features = DRIVER_COMPUTE_ACCEL,
	.open = hlsim_drm_open,
	.postclose = hlsim_drm_postclose,
	.ioctls = hlsim_drm_ioctls,
	.num_ioctls = ARRAY_SIZE(hlsim_drm_ioctls),
	.fops = &hlsim_drm_fops,
	.name = HLSIM_DRIVER_NAME,
	.desc = "Software Habana Gaudi device",
	.major = 1,
	.minor = 0,
};

static int hlsim_device_add(unsigned int id)
{
	struct hlsim_device *hdev;
	struct faux_device *fdev;
	char name[16];
	int ret;

	snprintf(name, sizeof(name), "hlsim%u", id);
	fdev = faux_device_create(name, NULL, NULL);
	if (!fdev)
		return -ENODEV;

	hdev = devm_drm_dev_alloc(&fdev->dev, &hlsim_drm_driver,
				  struct hlsim_device, drm);
	if (IS_ERR(hdev)) {
		faux_device_destroy(fdev);
		return PTR_ERR(hdev);
	}
	hdev->fdev = fdev;
	hdev->id = id;
	hdev->dram_size = (u64)hbm_mb * SZ_1M;
	atomic64_set(&hdev->dram_used, 0);
	mutex_init(&hdev->open_lock);
	hlsim_devs[id] = hdev;

	/*
	 * One generation of nodes per device, as on a real kernel: the misc
	 * nodes before 6.3, the accel nodes since.  Offering both would list
	 * every device twice to anything that looks for either.  The DRM
	 * device still exists unregistered: allocations hold it.
	 */
	if (legacy) {
		ret = hlsim_legacy_add(hdev);
		if (ret)
			return ret;
		dev_info(&fdev->dev, "hlsim%u: hl%u (legacy nodes), %u MiB device memory\n",
			 id, id, hbm_mb);
		return 0;
	}

	ret = drm_dev_register(&hdev->drm, 0);
	if (ret)
		return ret;
	hdev->registered = true;

	ret = hlsim_ctrl_add(hdev, hdev->drm.accel->index);
	if (ret)
		return ret;

	drm_info(&hdev->drm, "hlsim%u: accel%d, %u MiB device memory\n", id,
		 hdev->drm.accel->index, hbm_mb);
	return 0;
}

static void hlsim_device_del(unsigned int id)
{
	struct hlsim_device *hdev = hlsim_devs[id];
	struct faux_device *fdev;

	if (!hdev)
		return;
	hlsim_legacy_del(hdev);
	hlsim_ctrl_del(hdev);
	if (hdev->registered)
		drm_dev_unregister(&hdev->drm);
	fdev = hdev->fdev;
	hlsim_devs[id] = NULL;
	/* drops the devm reference; the last drm_dev_put() frees hdev */
	faux_device_destroy(fdev);
}

static int __init hlsim_init(void)
{
	unsigned int i;
	u64 ram_mb;
	int ret;

	if (!num_devices || num_devices > HLSIM_MAX_DEVICES) {
		pr_err("hlsim: num_devices must be 1..%d\n", HLSIM_MAX_DEVICES);
		return -EINVAL;
	}
	if (!hbm_mb || hbm_mb > SZ_64K) {
		pr_err("hlsim: hbm_mb must be 1..%u\n", SZ_64K);
		return -EINVAL;
	}
	/* device memory is host pages: all devices full must fit in RAM */
	ram_mb = (totalram_pages() << PAGE_SHIFT) / SZ_1M;
	if ((u64)hbm_mb * num_devices > ram_mb) {
		pr_err("hlsim: hbm_mb=%u x num_devices=%u exceeds the %llu MiB of RAM\n",
		       hbm_mb, num_devices, ram_mb);
		return -EINVAL;
	}
	ret = hlsim_mem_check_params();
	if (ret)
		return ret;

	ret = hlsim_ctrl_init();
	if (ret)
		return ret;

	for (i = 0; i < num_devices; i++) {
		ret = hlsim_device_add(i);
		if (ret) {
			pr_err("hlsim: device %u: error %d\n", i, ret);
			goto err;
		}
	}
	return 0;

err:
	for (i = 0; i < num_devices; i++)
		hlsim_device_del(i);
	hlsim_ctrl_exit();
	return ret;
}

static void __exit hlsim_exit(void)
{
	unsigned int i;

	for (i = 0; i < num_devices; i++)
		hlsim_device_del(i);
	hlsim_ctrl_exit();
}

module_init(hlsim_init);
module_exit(hlsim_exit);

MODULE_DESCRIPTION("Software Habana Gaudi device (habanalabs uapi, DRM accel)");
MODULE_AUTHOR("ucx-habana project");
MODULE_LICENSE("GPL");
