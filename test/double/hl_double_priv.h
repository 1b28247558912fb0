/*
 * hl_double internals shared by the interposition layer (hl_double.c) and
 * the device model (hl_double_dev.c).  Not for tests.
 */
#ifndef HL_DOUBLE_PRIV_H_
#define HL_DOUBLE_PRIV_H_

#include <src/common/habana_uapi.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define HLD_API			__attribute__((visibility("default")))
#define HLD_MAX_DEVICES		8

/*
 * Gaudi2-like geometry.  Device VAs start at the DRAM base; each device
 * gets its own 1 TiB window so addresses never collide across devices.
 */
#define HLD_DEVICE_ID		0x1020
#define HLD_PCI_VENDOR		0x1da3
#define HLD_DRAM_BASE		HABANA_VA_START
#define HLD_VA_WINDOW		(1ULL << 40)

/* Fake device numbers (st_rdev) of the emulated nodes */
#define HLD_ACCEL_MAJOR		261	/* accel: compute N, control 64 + N */
#define HLD_ACCEL_CTL_MINOR	64
#define HLD_MISC_MAJOR		240	/* misc: compute 2N, control 2N + 1 */

enum hld_abi {
	HLD_ABI_ACCEL,		/* <drm/habanalabs_accel.h>, Linux >= 6.3 */
	HLD_ABI_MISC,		/* <misc/habanalabs.h>, Linux 5.16 - 6.2 */
};

struct hld_config {
	int		loaded;
	unsigned	ndev;
	enum hld_abi	abi;
	uint64_t	hbm_size;
	uint64_t	page_size;
	int		numa;
	int		busy;		/* runtime-changeable knobs follow */
	int		no_export;
	int		export_errno;
	int		unmap_errno;
	int		shared_va;	/* every device maps from one base */
	int		cs_disable;	/* next n CSs: "queue disabled" */
	int		cs_hang;	/* next n CSs hang, then time out */
	int		cs_abort;	/* next n CSs are aborted */
	int		cs_timeout_ms;	/* CS timeout without CUSTOM_TIMEOUT */
};

extern struct hld_config hld_cfg;

/* What an emulated path names */
enum hld_node {
	HLD_NODE_NONE,		/* not ours: pass through to libc */
	HLD_NODE_ENOENT,	/* in our namespace but absent */
	HLD_NODE_COMPUTE,	/* /dev/accel/accelN, /dev/hlN */
	HLD_NODE_CONTROL,	/* .../accel_controlDN, /dev/hl_controlDN */
	HLD_NODE_DIR,		/* /dev/accel, /sys/class/..., .../accelN */
	HLD_NODE_DEVICE_LINK,	/* .../accelN/device */
	HLD_NODE_DRIVER_LINK,	/* .../accelN/device/driver */
	HLD_NODE_ATTR,		/* .../accelN/device/<attribute> */
};

/* Device model, hl_double_dev.c; all return -1 with errno on failure */
int hld_dev_open(enum hld_node node, unsigned dev, int flags);
/* A compute descriptor was closed: release what nothing refers to */
void hld_dev_after_close(void);
/* Nonzero while a compute context exists (close() must look at fds) */
int hld_dev_tracking(void);
/* 1 and *ret set when @fd is an emulated node, 0 to pass the call on */
int hld_dev_ioctl(int fd, unsigned long request, void *arg, int *ret);
/* Rewrite a stat of one of our node descriptors; 1 when rewritten */
int hld_dev_patch_stat(struct stat *st);
/* The node an open descriptor's stat belongs to; HLD_NODE_NONE if none */
enum hld_node hld_dev_node_of(const struct stat *st, unsigned *dev);

/* For the CS model: the heap memory behind a device range of one mapping
 * of @ctx, or NULL; a user copy that fails with -EFAULT on a bad pointer */
struct hld_ctx;
unsigned char *hld_dev_range(struct hld_ctx *ctx, uint64_t va, uint64_t size);
int hld_user_copy(void *local, uint64_t remote, size_t n, int to_remote);

/*
 * Host memory mapping and command submission, hl_double_cs.c; per-context
 * state behind an opaque pointer the context owns.  Host mappings get
 * device VAs from Gaudi2's PMMU range (VA_HOST_SPACE_PAGE_START).
 */
#define HLD_HOST_VA_BASE	HABANA_HOST_VA_START
struct hld_cs_ctx;
struct hl_mem_in;
int hld_userptr_map(struct hld_cs_ctx **csp, unsigned dev,
		    const struct hl_mem_in *in, uint64_t *va);
int hld_userptr_unmap(struct hld_cs_ctx *cs, uint64_t va);
/* USERPTR mappings made since the start (global lock held) */
unsigned long hld_userptr_maps(void);
int hld_cs_ioctl(struct hld_ctx *ctx, struct hld_cs_ctx **csp, void *arg);
/* WAIT_CS returns HLD_RETRY to sleep (without the lock) and ask again */
#define HLD_RETRY		1
int hld_wait_cs_ioctl(struct hld_cs_ctx **csp, void *arg);
void hld_wait_cs_reset(void);
void hld_cs_ctx_free(struct hld_cs_ctx *cs);

/* Interposition layer, hl_double.c */
void hld_init(void);
dev_t hld_node_rdev(enum hld_node node, unsigned dev);
int hld_node_path(enum hld_node node, unsigned dev, char *buf, size_t len);
int hld_sys_fstat(int fd, struct stat *st);
int hld_sys_close(int fd);

#endif /* HL_DOUBLE_PRIV_H_ */
