/*
 * hl_double: the device model behind the emulated nodes.
 *
 * One global mutex guards everything.  Node descriptors are memfds: each
 * compute open gets its own (its inode identifies the context, so dups
 * and descriptors passed around the process keep working); control opens
 * get dups of one private memfd per device.  Device memory lives in this
 * library's heap, never at the device VA the product code sees.
 *
 * Liveness of descriptors (compute contexts, exported dma-bufs) is decided
 * by scanning /proc/self/fd for descriptors on the same inode: close() of a
 * compute descriptor triggers the scan; exports are collected lazily when
 * something they pin is needed (UNMAP, FREE, a compute open, the test API).
 */
#define _GNU_SOURCE
#include "hl_double_priv.h"
#include "hl_double.h"

#include <drm/drm.h>
#include <drm/habanalabs_accel.h>
#include "kernel/include/uapi/hlsim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/*
 * The misc generation's ioctl numbers (<misc/habanalabs.h>, Linux
 * 5.16-6.2).  The sid root only has the accel header; struct hl_info_args
 * and union hl_mem_args have the same size and layout in both generations
 * for every field used here (misc export_dmabuf_fd {handle, mem_size}
 * overlays accel {addr, mem_size}), so the numbers are built on the accel
 * structures (so do hl_cs_args and hl_wait_cs_args).  Checked against
 * bookworm's header: 0xc0184801, 0xc0284805, 0xc0304803, 0xc0384804.
 */
_Static_assert(HABANA_LEGACY_INFO == 0xc0184801UL, "misc INFO number");
_Static_assert(HABANA_LEGACY_MEMORY == 0xc0284805UL, "misc MEMORY number");
_Static_assert(HABANA_LEGACY_CS == 0xc0304803UL, "misc CS number");
_Static_assert(HABANA_LEGACY_WAIT_CS == 0xc0384804UL, "misc WAIT_CS number");
_Static_assert(sizeof(size_t) == sizeof(uint64_t), "LP64 hosts only");

struct hld_alloc {
	struct hld_alloc	*next;
	uint64_t		handle;
	uint64_t		size;
	unsigned char		*mem;
	unsigned		maps;
	unsigned		exports;	/* misc: exports pin the handle */
};

struct hld_map {
	struct hld_map		*next;
	uint64_t		va;
	uint64_t		size;
	struct hld_alloc	*alloc;
	unsigned		exports;	/* accel: exports pin the VA */
};

struct hld_ctx {
	dev_t			sdev;		/* memfd identity */
	ino_t			ino;
	int			fd;		/* the descriptor handed out */
	unsigned		dev;
	int			closed;		/* no descriptor left */
	int			seen;
	unsigned		exports;	/* live exports pin the context */
	uint64_t		used;
	struct hld_alloc	*allocs;
	struct hld_map		*maps;
	struct hld_cs_ctx	*cs;		/* host mappings, CSs */
};

struct hld_export {
	struct hld_export	*next;
	dev_t			sdev;
	ino_t			ino;
	int			priv_fd;	/* keeps the identity unique */
	int			seen;
	struct hld_ctx		*ctx;
	struct hld_map		*map;		/* accel */
	struct hld_alloc	*alloc;
	uint64_t		offset;
	uint64_t		size;
};

struct hld_device {
	struct hld_ctx		*ctx;
	int			has_control;
	int			control_fd;
	dev_t			control_sdev;
	ino_t			control_ino;
	uint64_t		used;
};

static pthread_mutex_t hld_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hld_device hld_devs[HLD_MAX_DEVICES];
static struct hld_export *hld_exports;
static unsigned long hld_export_total;
static atomic_int hld_contexts;
static int hld_no_pvm;	/* process_vm_* refused: plain memcpy */

/* ---- small helpers ------------------------------------------------------ */

static int same_file(const struct stat *st, dev_t sdev, ino_t ino)
{
	return st->st_dev == sdev && st->st_ino == ino;
}

static int is_memfd_stat(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_nlink == 0;
}

static int is_aligned(uint64_t v, uint64_t align)
{
	return (v & (align - 1)) == 0;
}

static int is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/* memfd name shown in /proc/self/fd: "hl_double:<node basename>" */
static void memfd_name(enum hld_node node, unsigned dev, char *buf,
		       size_t len)
{
	char path[40];
	const char *base;

	hld_node_path(node, dev, path, sizeof(path));
	base = strrchr(path, '/');
	snprintf(buf, len, "hl_double:%.30s", base != NULL ? base + 1 : path);
}

/* Kernel-style user copies: a bad user pointer is EFAULT, not a crash */
static int pvm_copy(void *local, void *remote, size_t n, int to_remote)
{
	struct iovec l = { local, n }, r = { remote, n };
	ssize_t done;

	if (n == 0)
		return 0;
	if (!hld_no_pvm) {
		done = to_remote ? process_vm_writev(getpid(), &l, 1, &r, 1, 0)
				 : process_vm_readv(getpid(), &l, 1, &r, 1, 0);
		if (done == (ssize_t)n)
			return 0;
		if (done >= 0 || errno == EFAULT)
			return -EFAULT;
		hld_no_pvm = 1;		/* ENOSYS, EPERM (seccomp) */
	}
	if (to_remote)
		memcpy(remote, local, n);
	else
		memcpy(local, remote, n);
	return 0;
}

static int copy_from_user(void *dst, const void *usrc, size_t n)
{
	return pvm_copy(dst, (void *)usrc, n, 0);
}

static int copy_to_user(void *udst, const void *src, size_t n)
{
	return pvm_copy((void *)src, udst, n, 1);
}

int hld_user_copy(void *local, uint64_t remote, size_t n, int to_remote)
{
	return pvm_copy(local, (void *)(uintptr_t)remote, n, to_remote);
}

/* ---- descriptor scanning ------------------------------------------------ */

struct hld_dirent64 {
	uint64_t	d_ino;
	int64_t		d_off;
	unsigned short	d_reclen;
	unsigned char	d_type;
	char		d_name[];
};

typedef int (*hld_fd_visit)(int fd, const struct stat *st, void *arg);

static int visit_entry(const char *name, int dirfd, hld_fd_visit visit,
		       void *arg)
{
	struct stat st;
	char *end;
	long fd = strtol(name, &end, 10);

	if (*name == '.' || *end != '\0' || fd == dirfd ||
	    hld_sys_fstat((int)fd, &st) != 0 || !is_memfd_stat(&st))
		return 0;
	return visit((int)fd, &st, arg);
}

/*
 * Call @visit for every open memfd of the process until it returns
 * nonzero.  Raw syscalls only: no allocation, no interposed calls.
 * Returns -1 when /proc is not available.
 */
static int scan_fds(hld_fd_visit visit, void *arg)
{
	char buf[4096] __attribute__((aligned(8)));
	int dirfd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/fd",
				 O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long n;

	if (dirfd < 0)
		return -1;
	while ((n = syscall(SYS_getdents64, dirfd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct hld_dirent64 *d = (void *)(buf + off);

			off += d->d_reclen;
			if (visit_entry(d->d_name, dirfd, visit, arg)) {
				hld_sys_close(dirfd);
				return 0;
			}
		}
	}
	hld_sys_close(dirfd);
	return 0;
}

/* ---- contexts and exports ------------------------------------------------ */

static void free_maps(struct hld_map *m)
{
	while (m != NULL) {
		struct hld_map *next = m->next;

		free(m);
		m = next;
	}
}

static void destroy_context(struct hld_ctx *ctx)
{
	struct hld_alloc *a = ctx->allocs;

	free_maps(ctx->maps);
	hld_cs_ctx_free(ctx->cs);	/* host mappings go with the context */
	while (a != NULL) {
		struct hld_alloc *next = a->next;

		free(a->mem);
		free(a);
		a = next;
	}
	hld_devs[ctx->dev].used -= ctx->used;
	hld_devs[ctx->dev].ctx = NULL;
	atomic_fetch_sub(&hld_contexts, 1);
	free(ctx);
}

/* Every descriptor is gone; live exports keep the context (and device) */
static void close_context(struct hld_ctx *ctx)
{
	ctx->closed = 1;
	if (ctx->exports == 0)
		destroy_context(ctx);
}

static void release_export(struct hld_export **link)
{
	struct hld_export *e = *link;
	struct hld_ctx *ctx = e->ctx;

	*link = e->next;
	if (e->map != NULL)
		e->map->exports--;
	else
		e->alloc->exports--;
	hld_sys_close(e->priv_fd);
	free(e);
	if (--ctx->exports == 0 && ctx->closed)
		destroy_context(ctx);
}

static int mark_seen(int fd, const struct stat *st, void *arg)
{
	(void)arg;
	for (struct hld_export *e = hld_exports; e != NULL; e = e->next)
		if (fd != e->priv_fd && same_file(st, e->sdev, e->ino))
			e->seen = 1;
	for (unsigned i = 0; i < HLD_MAX_DEVICES; i++) {
		struct hld_ctx *ctx = hld_devs[i].ctx;

		if (ctx != NULL && same_file(st, ctx->sdev, ctx->ino))
			ctx->seen = 1;
	}
	return 0;
}

/*
 * Release exports and contexts no descriptor of the process refers to.
 * @keep (the context an ioctl is running on, or NULL) is never closed
 * here, even if another thread is closing its last descriptor meanwhile.
 */
static void collect_locked(struct hld_ctx *keep)
{
	struct hld_export **link = &hld_exports;

	for (struct hld_export *e = hld_exports; e != NULL; e = e->next)
		e->seen = 0;
	for (unsigned i = 0; i < HLD_MAX_DEVICES; i++)
		if (hld_devs[i].ctx != NULL)
			hld_devs[i].ctx->seen = 0;
	if (scan_fds(mark_seen, NULL) != 0)
		return;		/* no /proc: keep everything */
	while (*link != NULL) {
		if ((*link)->seen)
			link = &(*link)->next;
		else
			release_export(link);
	}
	for (unsigned i = 0; i < HLD_MAX_DEVICES; i++) {
		struct hld_ctx *ctx = hld_devs[i].ctx;

		if (ctx != NULL && ctx != keep && !ctx->closed && !ctx->seen)
			close_context(ctx);
	}
}

/* ---- node descriptors --------------------------------------------------- */

static int memfd_identity(int fd, dev_t *sdev, ino_t *ino)
{
	struct stat st;

	if (hld_sys_fstat(fd, &st) != 0)
		return -errno;
	*sdev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

static int open_compute_locked(unsigned dev, int flags)
{
	struct hld_device *d = &hld_devs[dev];
	struct hld_ctx *ctx;
	char name[48];
	int fd, rc;

	if (hld_cfg.busy)
		return -EBUSY;
	if (d->ctx != NULL)
		collect_locked(NULL);
	if (d->ctx != NULL)
		return -EBUSY;	/* one compute open per device */
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return -ENOMEM;
	memfd_name(HLD_NODE_COMPUTE, dev, name, sizeof(name));
	fd = memfd_create(name, (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
	rc = fd < 0 ? -errno : memfd_identity(fd, &ctx->sdev, &ctx->ino);
	if (rc != 0) {
		if (fd >= 0)
			hld_sys_close(fd);
		free(ctx);
		return rc;
	}
	ctx->fd = fd;
	ctx->dev = dev;
	d->ctx = ctx;
	atomic_fetch_add(&hld_contexts, 1);
	return fd;
}

static int open_control_locked(unsigned dev, int flags)
{
	struct hld_device *d = &hld_devs[dev];
	char name[48];
	int fd, rc;

	if (!d->has_control) {
		memfd_name(HLD_NODE_CONTROL, dev, name, sizeof(name));
		fd = memfd_create(name, MFD_CLOEXEC);
		if (fd < 0)
			return -errno;
		rc = memfd_identity(fd, &d->control_sdev, &d->control_ino);
		if (rc != 0) {
			hld_sys_close(fd);
			return rc;
		}
		d->control_fd = fd;
		d->has_control = 1;
	}
	fd = fcntl(d->control_fd, (flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC :
		   F_DUPFD, 0);
	return fd < 0 ? -errno : fd;
}

int hld_dev_open(enum hld_node node, unsigned dev, int flags)
{
	int rc;

	pthread_mutex_lock(&hld_lock);
	rc = node == HLD_NODE_COMPUTE ? open_compute_locked(dev, flags)
				      : open_control_locked(dev, flags);
	pthread_mutex_unlock(&hld_lock);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return rc;
}

int hld_dev_tracking(void)
{
	return atomic_load(&hld_contexts) != 0;
}

void hld_dev_after_close(void)
{
	pthread_mutex_lock(&hld_lock);
	collect_locked(NULL);
	pthread_mutex_unlock(&hld_lock);
}

static enum hld_node node_of_locked(const struct stat *st, unsigned *dev,
				    struct hld_ctx **ctxp)
{
	for (unsigned i = 0; i < hld_cfg.ndev; i++) {
		struct hld_device *d = &hld_devs[i];

		*dev = i;
		if (d->ctx != NULL && !d->ctx->closed &&
		    same_file(st, d->ctx->sdev, d->ctx->ino)) {
			*ctxp = d->ctx;
			return HLD_NODE_COMPUTE;
		}
		if (d->has_control &&
		    same_file(st, d->control_sdev, d->control_ino)) {
			*ctxp = NULL;
			return HLD_NODE_CONTROL;
		}
	}
	return HLD_NODE_NONE;
}

enum hld_node hld_dev_node_of(const struct stat *st, unsigned *dev)
{
	struct hld_ctx *ctx;
	enum hld_node node;
	unsigned idx;

	if (!is_memfd_stat(st))
		return HLD_NODE_NONE;
	pthread_mutex_lock(&hld_lock);
	node = node_of_locked(st, &idx, &ctx);
	pthread_mutex_unlock(&hld_lock);
	if (dev != NULL)
		*dev = idx;
	return node;
}

int hld_dev_patch_stat(struct stat *st)
{
	unsigned dev;
	enum hld_node node = hld_dev_node_of(st, &dev);

	if (node == HLD_NODE_NONE)
		return 0;
	st->st_mode = S_IFCHR | 0666;
	st->st_rdev = hld_node_rdev(node, dev);
	st->st_nlink = 1;
	st->st_size = 0;
	return 1;
}

/* ---- INFO ---------------------------------------------------------------- */

static void fill_hw_ip(struct hl_info_hw_ip_info *hw)
{
	memset(hw, 0, sizeof(*hw));
	hw->sram_base_address = 0x1000000007fe0000ULL;
	hw->sram_size = 0x2000000;
	hw->dram_base_address = HLD_DRAM_BASE;
	hw->dram_size = hld_cfg.hbm_size;
	hw->dram_enabled = 1;
	hw->device_id = HLD_DEVICE_ID;
	hw->dram_page_size = hld_cfg.page_size;
	hw->device_mem_alloc_default_page_size = hld_cfg.page_size;
	snprintf((char *)hw->card_name, sizeof(hw->card_name), "hl_double");
	snprintf((char *)hw->cpucp_version, sizeof(hw->cpucp_version),
		 "hl_double");
}

static int ioctl_info(unsigned dev, struct hld_ctx *ctx, void *arg)
{
	union {
		struct hl_info_hw_ip_info	hw;
		struct hl_info_dram_usage	dram;
		struct hl_info_device_status	status;
	} out;
	struct hl_info_args a;
	size_t len;

	if (copy_from_user(&a, arg, sizeof(a)) != 0)
		return -EFAULT;
	if (a.return_pointer == 0 || a.return_size == 0)
		return -EINVAL;
	memset(&out, 0, sizeof(out));
	switch (a.op) {
	case HL_INFO_HW_IP_INFO:
		fill_hw_ip(&out.hw);
		len = sizeof(out.hw);
		break;
	case HL_INFO_DRAM_USAGE:
		out.dram.dram_free_mem = hld_cfg.hbm_size - hld_devs[dev].used;
		out.dram.ctx_dram_mem = ctx != NULL ? ctx->used : 0;
		len = sizeof(out.dram);
		break;
	case HL_INFO_DEVICE_STATUS:
		out.status.status = HL_DEVICE_STATUS_OPERATIONAL;
		len = sizeof(out.status);
		break;
	default:
		return -EINVAL;
	}
	if (len > a.return_size)
		len = a.return_size;
	return copy_to_user((void *)(uintptr_t)a.return_pointer, &out, len);
}

/* DRM_IOCTL_VERSION, which every DRM accel node answers */
static int put_string(const char *s, char *ubuf, __kernel_size_t *len)
{
	size_t n = strlen(s);
	int rc = 0;

	if (*len > 0 && ubuf != NULL)
		rc = copy_to_user(ubuf, s, n < *len ? n : *len);
	*len = n;
	return rc;
}

static int ioctl_version(void *arg)
{
	struct drm_version v;

	if (copy_from_user(&v, arg, sizeof(v)) != 0)
		return -EFAULT;
	v.version_major = 1;
	v.version_minor = 0;
	v.version_patchlevel = 0;
	if (put_string("habanalabs", v.name, &v.name_len) != 0 ||
	    put_string("20190505", v.date, &v.date_len) != 0 ||
	    put_string("HabanaLabs Driver (hl_double)", v.desc,
		       &v.desc_len) != 0)
		return -EFAULT;
	return copy_to_user(arg, &v, sizeof(v));
}

/* ---- MEMORY -------------------------------------------------------------- */

static struct hld_alloc *find_alloc(struct hld_ctx *ctx, uint64_t handle)
{
	struct hld_alloc *a = ctx->allocs;

	while (a != NULL && a->handle != handle)
		a = a->next;
	return a;
}

static struct hld_map *find_map(struct hld_ctx *ctx, uint64_t va)
{
	struct hld_map *m = ctx->maps;

	while (m != NULL && m->va != va)
		m = m->next;
	return m;
}

/* Host pointer to [va, va + size) if it lies inside one mapping */
static unsigned char *dev_range(struct hld_ctx *ctx, uint64_t va,
				uint64_t size)
{
	for (struct hld_map *m = ctx->maps; m != NULL; m = m->next)
		if (va >= m->va && size <= m->size &&
		    va - m->va <= m->size - size)
			return m->alloc->mem + (va - m->va);
	return NULL;
}

unsigned char *hld_dev_range(struct hld_ctx *ctx, uint64_t va, uint64_t size)
{
	return dev_range(ctx, va, size);
}

static int mem_alloc(struct hld_ctx *ctx, const struct hl_mem_in *in,
		     uint64_t *handle)
{
	uint64_t page = in->alloc.page_size ? in->alloc.page_size
					    : hld_cfg.page_size;
	uint64_t size = in->alloc.mem_size;
	struct hld_device *d = &hld_devs[ctx->dev];
	struct hld_alloc *a;

	if (size == 0 || !is_pow2(page) ||
	    !is_aligned(page, hld_cfg.page_size) || size > UINT64_MAX - page)
		return -EINVAL;
	size = (size + page - 1) & ~(page - 1);
	if (size > hld_cfg.hbm_size - d->used)
		return -ENOMEM;
	a = calloc(1, sizeof(*a));
	if (a == NULL || (a->mem = calloc(1, size)) == NULL) {
		free(a);
		return -ENOMEM;
	}
	/* the lowest free id, as the driver's idr */
	for (a->handle = 1; find_alloc(ctx, a->handle) != NULL; ++a->handle)
		;
	a->size = size;
	a->next = ctx->allocs;
	ctx->allocs = a;
	ctx->used += size;
	d->used += size;
	*handle = a->handle;
	return 0;
}

static int mem_free(struct hld_ctx *ctx, uint64_t handle)
{
	struct hld_alloc **link = &ctx->allocs, *a;

	while (*link != NULL && (*link)->handle != handle)
		link = &(*link)->next;
	a = *link;
	if (a == NULL || a->maps != 0)
		return -EINVAL;	/* unknown, or "handle is mapped" */
	if (a->exports != 0)
		collect_locked(ctx);
	if (a->exports != 0)
		return -EINVAL;	/* "handle is exported" */
	*link = a->next;
	ctx->used -= a->size;
	hld_devs[ctx->dev].used -= a->size;
	free(a->mem);
	free(a);
	return 0;
}

/* Does [va, va + size) overlap a live mapping of @ctx? */
static int va_in_use(const struct hld_ctx *ctx, uint64_t va, uint64_t size)
{
	const struct hld_map *m;

	for (m = ctx->maps; m != NULL; m = m->next)
		if (va < m->va + m->size && m->va < va + size)
			return 1;
	return 0;
}

/* The mapping of @ctx that overlaps [va, va + size), or NULL */
static const struct hld_map *va_overlap(const struct hld_ctx *ctx, uint64_t va,
					uint64_t size)
{
	const struct hld_map *m;

	for (m = ctx->maps; m != NULL; m = m->next)
		if (va < m->va + m->size && m->va < va + size)
			return m;
	return NULL;
}

/*
 * A device VA for @size bytes, as the driver's per-context VA allocator
 * answers: the hint when it is aligned, inside the device's window and
 * free, else the lowest free range (first fit).  A new context starts
 * from the bottom of the window again.
 */
static int pick_va(const struct hld_ctx *ctx, unsigned dev, uint64_t hint,
		   int force, uint64_t size, uint64_t *va)
{
	uint64_t base = HLD_DRAM_BASE + (hld_cfg.shared_va ? 0 :
					 dev * HLD_VA_WINDOW);
	uint64_t end = base + HLD_VA_WINDOW;
	const struct hld_map *m;
	uint64_t start = base;

	if (hint != 0 && is_aligned(hint, hld_cfg.page_size) &&
	    hint >= base && hint < end && end - hint >= size &&
	    !va_in_use(ctx, hint, size)) {
		*va = hint;
		return 0;
	}
	if (force)
		return -EINVAL;
	while ((m = va_overlap(ctx, start, size)) != NULL)
		start = m->va + m->size;
	if (start >= end || end - start < size)
		return -ENOMEM;
	*va = start;
	return 0;
}

static int mem_map(struct hld_ctx *ctx, const struct hl_mem_in *in,
		   uint64_t *va)
{
	struct hld_alloc *a;
	struct hld_map *m;
	int rc;

	if (in->flags & HL_MEM_USERPTR)
		return hld_userptr_map(&ctx->cs, ctx->dev, in, va);
	a = find_alloc(ctx, in->map_device.handle);
	if (a == NULL)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	rc = pick_va(ctx, ctx->dev, in->map_device.hint_addr,
		     !!(in->flags & HL_MEM_FORCE_HINT), a->size, &m->va);
	if (rc != 0) {
		free(m);
		return rc;
	}
	m->size = a->size;
	m->alloc = a;
	m->next = ctx->maps;
	ctx->maps = m;
	a->maps++;
	*va = m->va;
	return 0;
}

static int mem_unmap(struct hld_ctx *ctx, uint64_t va)
{
	struct hld_map **link = &ctx->maps, *m;

	while (*link != NULL && (*link)->va != va)
		link = &(*link)->next;
	m = *link;
	if (m == NULL)
		return hld_userptr_unmap(ctx->cs, va);	/* host, or EINVAL */
	if (hld_cfg.unmap_errno)
		return -hld_cfg.unmap_errno;	/* fault injection */
	if (m->exports != 0)
		collect_locked(ctx);
	if (m->exports != 0)
		return -EINVAL;	/* "memory is exported", as the driver */
	*link = m->next;
	m->alloc->maps--;
	free(m);
	return 0;
}

/* Which memory an export request names; sets e->map/alloc/offset/size */
static int export_target(struct hld_ctx *ctx, const struct hl_mem_in *in,
			 struct hld_export *e)
{
	uint64_t page = hld_cfg.page_size;
	uint64_t addr = in->export_dmabuf_fd.addr;

	if (hld_cfg.abi == HLD_ABI_MISC) {	/* {handle, mem_size} */
		e->alloc = find_alloc(ctx, addr);
		if (e->alloc == NULL)
			return -EINVAL;
		e->size = e->alloc->size;	/* mem_size: Gaudi1 only */
		return 0;
	}
	e->map = find_map(ctx, addr);		/* {addr, mem_size, offset} */
	e->offset = in->export_dmabuf_fd.offset;
	e->size = in->export_dmabuf_fd.mem_size;
	if (e->map == NULL || e->size == 0 || !is_aligned(e->size, page) ||
	    !is_aligned(e->offset, page) || e->offset > e->map->size ||
	    e->size > e->map->size - e->offset)
		return -EINVAL;
	e->alloc = e->map->alloc;
	return 0;
}

static int export_fd(struct hld_export *e, int flags)
{
	int fd = memfd_create("hl_double_dmabuf",
			      (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
	int rc;

	if (fd < 0)
		return -errno;
	rc = ftruncate(fd, (off_t)e->size) != 0 ? -errno
		: memfd_identity(fd, &e->sdev, &e->ino);
	if (rc == 0 && (e->priv_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		rc = -errno;
	if (rc != 0) {
		hld_sys_close(fd);
		return rc;
	}
	return fd;
}

static int mem_export(struct hld_ctx *ctx, const struct hl_mem_in *in,
		      int *fd)
{
	struct hld_export *e;
	int rc;

	if (hld_cfg.no_export)
		return -EINVAL;	/* an old driver: unknown memory op */
	if (in->flags & ~(uint32_t)(O_ACCMODE | O_CLOEXEC))
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	rc = export_target(ctx, in, e);
	if (rc == 0 && hld_cfg.export_errno)
		rc = -hld_cfg.export_errno;
	if (rc == 0)
		rc = export_fd(e, (int)in->flags);
	if (rc < 0) {
		free(e);
		return rc;
	}
	*fd = rc;
	if (e->map != NULL)
		e->map->exports++;
	else
		e->alloc->exports++;
	e->ctx = ctx;
	ctx->exports++;
	e->next = hld_exports;
	hld_exports = e;
	hld_export_total++;
	return 0;
}

/* Undo a successful op whose result could not be copied out */
static void mem_undo(struct hld_ctx *ctx, uint32_t op,
		     const struct hl_mem_out *out)
{
	if (op == HL_MEM_OP_ALLOC)
		mem_free(ctx, out->handle);
	else if (op == HL_MEM_OP_MAP)
		mem_unmap(ctx, out->device_virt_addr);
	else if (op == HL_MEM_OP_EXPORT_DMABUF_FD)
		hld_sys_close(out->fd);	/* collected lazily */
}

/*
 * hl_double_after_memory_op(): a test's function, run once after the next
 * memory ioctl of an op that succeeds, without the lock, before its caller
 * sees the result: what another thread could do at that moment.
 */
static struct {
	uint32_t op;
	void	 (*fn)(void *arg);
	void	 *arg;
} hld_after_op;
static __thread int hld_memory_op_done = -1;	/* op of this call, or -1 */

static int ioctl_memory(struct hld_ctx *ctx, void *arg)
{
	union hl_mem_args a;
	struct hl_mem_out out;
	uint64_t value = 0;
	int rc;

	if (copy_from_user(&a, arg, sizeof(a)) != 0)
		return -EFAULT;
	memset(&out, 0, sizeof(out));
	switch (a.in.op) {
	case HL_MEM_OP_ALLOC:
		rc = mem_alloc(ctx, &a.in, &value);
		out.handle = value;
		break;
	case HL_MEM_OP_FREE:
		rc = mem_free(ctx, a.in.free.handle);
		break;
	case HL_MEM_OP_MAP:
		rc = mem_map(ctx, &a.in, &value);
		out.device_virt_addr = value;
		break;
	case HL_MEM_OP_UNMAP:
		rc = mem_unmap(ctx, a.in.unmap.device_virt_addr);
		break;
	case HL_MEM_OP_EXPORT_DMABUF_FD:
		rc = mem_export(ctx, &a.in, &out.fd);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	if (rc == 0 && copy_to_user(arg, &out, sizeof(out)) != 0) {
		mem_undo(ctx, a.in.op, &out);
		rc = -EFAULT;
	}
	if (rc == 0)
		hld_memory_op_done = (int)a.in.op;
	return rc;
}

/* Lock not held */
static void run_after_memory_op(void)
{
	void (*fn)(void *arg) = NULL;
	void *arg = NULL;

	pthread_mutex_lock(&hld_lock);
	if (hld_after_op.fn != NULL &&
	    hld_memory_op_done == (int)hld_after_op.op) {
		fn = hld_after_op.fn;
		arg = hld_after_op.arg;
		hld_after_op.fn = NULL;
	}
	pthread_mutex_unlock(&hld_lock);
	hld_memory_op_done = -1;
	if (fn != NULL)
		fn(arg);
}

/* ---- hlsim DMA copy --------------------------------------------------------- */

/* Errors as hlsim's: EINVAL for bad arguments or a device range outside
 * the context's mappings, EFAULT for a bad host pointer */
static int dma_copy(struct hld_ctx *ctx, const struct hlsim_dma_copy *c)
{
	unsigned char *dst, *src;

	if (c->flags != 0 || c->size == 0)
		return -EINVAL;
	switch (c->dir) {
	case HLSIM_COPY_HOST_TO_DEVICE:
		dst = dev_range(ctx, c->dst, c->size);
		return dst == NULL ? -EINVAL :
		       copy_from_user(dst, (void *)(uintptr_t)c->src, c->size);
	case HLSIM_COPY_DEVICE_TO_HOST:
		src = dev_range(ctx, c->src, c->size);
		return src == NULL ? -EINVAL :
		       copy_to_user((void *)(uintptr_t)c->dst, src, c->size);
	case HLSIM_COPY_DEVICE_TO_DEVICE:
		dst = dev_range(ctx, c->dst, c->size);
		src = dev_range(ctx, c->src, c->size);
		if (dst == NULL || src == NULL)
			return -EINVAL;
		memmove(dst, src, c->size);
		return 0;
	default:
		return -EINVAL;
	}
}

/* HL_DOUBLE_COPY_EAGAIN (hl_double_set only): the next n copies fail with
 * EAGAIN, as a driver momentarily out of a resource answers */
static int hld_copy_eagain;

static int ioctl_dma_copy(struct hld_ctx *ctx, void *arg)
{
	struct hlsim_dma_copy c;

	if (hld_copy_eagain > 0) {
		--hld_copy_eagain;
		return -EAGAIN;
	}
	if (copy_from_user(&c, arg, sizeof(c)) != 0)
		return -EFAULT;
	return dma_copy(ctx, &c);
}

/* ---- dispatch ---------------------------------------------------------------- */

static int dispatch_locked(enum hld_node node, unsigned dev,
			   struct hld_ctx *ctx, unsigned long request,
			   void *arg)
{
	int accel = hld_cfg.abi == HLD_ABI_ACCEL;

	if (request == (accel ? DRM_IOCTL_HL_INFO : HABANA_LEGACY_INFO))
		return ioctl_info(dev, ctx, arg);
	if (node != HLD_NODE_COMPUTE)
		return -ENOTTY;	/* the control node serves INFO only */
	if (request == (accel ? DRM_IOCTL_HL_MEMORY : HABANA_LEGACY_MEMORY))
		return ioctl_memory(ctx, arg);
	if (request == (accel ? HLSIM_IOCTL_DMA_COPY
			      : HLSIM_IOCTL_DMA_COPY_LEGACY))
		return ioctl_dma_copy(ctx, arg);
	if (request == (accel ? DRM_IOCTL_HL_CS : HABANA_LEGACY_CS))
		return hld_cs_ioctl(ctx, &ctx->cs, arg);
	if (request == (accel ? DRM_IOCTL_HL_WAIT_CS : HABANA_LEGACY_WAIT_CS))
		return hld_wait_cs_ioctl(&ctx->cs, arg);
	if (accel && request == DRM_IOCTL_VERSION)
		return ioctl_version(arg);
	return -ENOTTY;
}

int hld_dev_ioctl(int fd, unsigned long request, void *arg, int *ret)
{
	struct hld_ctx *ctx = NULL;
	enum hld_node node;
	struct stat st;
	unsigned dev;
	int rc, retry;

	if (hld_sys_fstat(fd, &st) != 0 || !is_memfd_stat(&st))
		return 0;
	for (retry = 0;; retry = 1) {
		pthread_mutex_lock(&hld_lock);
		node = node_of_locked(&st, &dev, &ctx);
		rc = node == HLD_NODE_NONE ? (retry ? -EBADF : 0) :
		     dispatch_locked(node, dev, ctx, request, arg);
		pthread_mutex_unlock(&hld_lock);
		if (node == HLD_NODE_NONE && !retry)
			return 0;
		if (rc != HLD_RETRY)	/* only WAIT_CS answers it */
			break;
		/* a WAIT_CS on a running CS: sleep without the lock */
		if (nanosleep(&(struct timespec){ 0, 200000 }, NULL) != 0) {
			rc = -EINTR;
			break;
		}
	}
	if (retry)
		hld_wait_cs_reset();
	if (hld_memory_op_done >= 0)
		run_after_memory_op();
	*ret = rc < 0 ? -1 : rc;
	if (rc < 0)
		errno = -rc;
	return 1;
}

/* ---- test API ------------------------------------------------------------------ */

HLD_API void hl_double_after_memory_op(uint32_t op, void (*fn)(void *arg),
				       void *arg)
{
	hld_init();
	pthread_mutex_lock(&hld_lock);
	hld_after_op.op = op;
	hld_after_op.fn = fn;
	hld_after_op.arg = arg;
	pthread_mutex_unlock(&hld_lock);
}

HLD_API unsigned long hl_double_export_count(void)
{
	unsigned long n;

	pthread_mutex_lock(&hld_lock);
	n = hld_export_total;
	pthread_mutex_unlock(&hld_lock);
	return n;
}

HLD_API unsigned long hl_double_userptr_maps(void)
{
	unsigned long n;

	pthread_mutex_lock(&hld_lock);
	n = hld_userptr_maps();
	pthread_mutex_unlock(&hld_lock);
	return n;
}

HLD_API unsigned long hl_double_live_exports(void)
{
	unsigned long n = 0;

	pthread_mutex_lock(&hld_lock);
	collect_locked(NULL);
	for (struct hld_export *e = hld_exports; e != NULL; e = e->next)
		n++;
	pthread_mutex_unlock(&hld_lock);
	return n;
}

HLD_API void hl_double_reset_counters(void)
{
	pthread_mutex_lock(&hld_lock);
	hld_export_total = 0;
	pthread_mutex_unlock(&hld_lock);
}

static int find_ctx_fd(int fd, const struct stat *st, void *arg)
{
	struct hld_ctx *ctx = *(struct hld_ctx **)arg;

	if (!same_file(st, ctx->sdev, ctx->ino))
		return 0;
	ctx->fd = fd;
	*(struct hld_ctx **)arg = NULL;		/* found */
	return 1;
}

/* A live descriptor of an open context, or -ENOENT */
static int ctx_fd_locked(unsigned dev)
{
	struct hld_ctx *ctx = hld_devs[dev].ctx, *search;
	struct stat st;

	if (ctx == NULL || ctx->closed)
		return -ENOENT;
	if (hld_sys_fstat(ctx->fd, &st) == 0 &&
	    same_file(&st, ctx->sdev, ctx->ino))
		return ctx->fd;
	search = ctx;
	if (scan_fds(find_ctx_fd, &search) == 0 && search == NULL)
		return ctx->fd;
	return -ENOENT;
}

HLD_API int hl_double_compute_fd(int dev)
{
	int fd;

	hld_init();
	if (dev < 0 || (unsigned)dev >= hld_cfg.ndev) {
		errno = ENOENT;
		return -1;
	}
	pthread_mutex_lock(&hld_lock);
	fd = ctx_fd_locked((unsigned)dev);
	pthread_mutex_unlock(&hld_lock);
	if (fd < 0) {
		errno = -fd;
		return -1;
	}
	return fd;
}

static int alloc_map_locked(unsigned dev, size_t size, uint64_t *va)
{
	struct hld_ctx *ctx = hld_devs[dev].ctx;
	struct hl_mem_in in;
	uint64_t handle;
	int rc;

	if (ctx == NULL || ctx->closed)
		return -ENOENT;	/* closed meanwhile */
	memset(&in, 0, sizeof(in));
	in.alloc.mem_size = size;
	rc = mem_alloc(ctx, &in, &handle);
	if (rc != 0)
		return rc;
	memset(&in, 0, sizeof(in));
	in.map_device.handle = handle;
	rc = mem_map(ctx, &in, va);
	if (rc != 0)
		mem_free(ctx, handle);
	return rc;
}

HLD_API void *hl_double_alloc(int dev, size_t size)
{
	uint64_t va = 0;
	int rc;

	if (hl_double_compute_fd(dev) < 0) {
		if (errno != ENOENT ||
		    (unsigned)dev >= hld_cfg.ndev || dev < 0)
			return NULL;
		if (hld_dev_open(HLD_NODE_COMPUTE, (unsigned)dev,
				 O_RDWR | O_CLOEXEC) < 0)
			return NULL;
	}
	pthread_mutex_lock(&hld_lock);
	rc = alloc_map_locked((unsigned)dev, size, &va);
	pthread_mutex_unlock(&hld_lock);
	if (rc != 0) {
		errno = -rc;
		return NULL;
	}
	return (void *)(uintptr_t)va;
}

/* The open context holding a mapping that contains [va, va + size) */
static struct hld_ctx *ctx_of_range(uint64_t va, uint64_t size)
{
	for (unsigned i = 0; i < HLD_MAX_DEVICES; i++) {
		struct hld_ctx *ctx = hld_devs[i].ctx;

		if (ctx != NULL && !ctx->closed && dev_range(ctx, va, size))
			return ctx;
	}
	return NULL;
}

HLD_API int hl_double_free(void *dev_va)
{
	uint64_t va = (uintptr_t)dev_va;
	struct hld_ctx *ctx;
	struct hld_map *m;
	uint64_t handle;
	int rc = -EINVAL;

	pthread_mutex_lock(&hld_lock);
	ctx = ctx_of_range(va, 1);
	m = ctx != NULL ? find_map(ctx, va) : NULL;
	if (m != NULL) {
		handle = m->alloc->handle;
		rc = mem_unmap(ctx, va);
		if (rc == 0)
			rc = mem_free(ctx, handle);
	}
	pthread_mutex_unlock(&hld_lock);
	if (rc != 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

/* Host pointer for a device range on any open context, or NULL */
static unsigned char *any_dev_range(const void *va, size_t size)
{
	uint64_t addr = (uintptr_t)va;
	struct hld_ctx *ctx = ctx_of_range(addr, size);

	return ctx != NULL ? dev_range(ctx, addr, size) : NULL;
}

/* Copies for tests; the device sides may be on different devices */
static int test_copy(void *dst, const void *src, size_t size, int dst_dev,
		     int src_dev)
{
	unsigned char *dp, *sp;
	int rc = 0;

	if (size == 0)
		return 0;
	pthread_mutex_lock(&hld_lock);
	dp = dst_dev ? any_dev_range(dst, size) : dst;
	sp = src_dev ? any_dev_range(src, size) : (unsigned char *)src;
	if (dp == NULL || sp == NULL)
		rc = -EFAULT;
	else if (dst_dev && src_dev)
		memmove(dp, sp, size);
	else if (dst_dev)
		rc = copy_from_user(dp, sp, size);
	else
		rc = copy_to_user(dp, sp, size);
	pthread_mutex_unlock(&hld_lock);
	if (rc != 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

HLD_API int hl_double_memcpy_h2d(void *dev_dst, const void *host_src,
				 size_t size)
{
	return test_copy(dev_dst, host_src, size, 1, 0);
}

HLD_API int hl_double_memcpy_d2h(void *host_dst, const void *dev_src,
				 size_t size)
{
	return test_copy(host_dst, dev_src, size, 0, 1);
}

HLD_API int hl_double_memcpy_d2d(void *dev_dst, const void *dev_src,
				 size_t size)
{
	return test_copy(dev_dst, dev_src, size, 1, 1);
}

static uint64_t first_map_va(struct hld_ctx *ctx, struct hld_alloc *a)
{
	for (struct hld_map *m = ctx->maps; m != NULL; m = m->next)
		if (m->alloc == a)
			return m->va;
	return 0;
}

HLD_API int hl_double_dmabuf_info(int fd, uint64_t *dev_va, uint64_t *size)
{
	struct hld_export *e;
	struct stat st;

	if (hld_sys_fstat(fd, &st) != 0)
		return -1;
	pthread_mutex_lock(&hld_lock);
	for (e = hld_exports; e != NULL; e = e->next)
		if (fd != e->priv_fd && same_file(&st, e->sdev, e->ino))
			break;
	if (e != NULL) {
		*dev_va = e->map != NULL ? e->map->va + e->offset
					 : first_map_va(e->ctx, e->alloc);
		*size = e->size;
	}
	pthread_mutex_unlock(&hld_lock);
	if (e == NULL) {
		errno = EBADF;
		return -1;
	}
	return 0;
}

HLD_API int hl_double_set(const char *name, long value)
{
	int *knob = NULL;

	hld_init();
	if (strcmp(name, "HL_DOUBLE_COPY_EAGAIN") == 0 && value >= 0 &&
	    value < (1L << 30))
		knob = &hld_copy_eagain;
	else if (strcmp(name, "HL_DOUBLE_BUSY") == 0 && (value | 1) == 1)
		knob = &hld_cfg.busy;
	else if (strcmp(name, "HL_DOUBLE_NO_EXPORT") == 0 && (value | 1) == 1)
		knob = &hld_cfg.no_export;
	else if (strcmp(name, "HL_DOUBLE_EXPORT_ERRNO") == 0 &&
		 value >= 0 && value < 4096)
		knob = &hld_cfg.export_errno;
	else if (strcmp(name, "HL_DOUBLE_UNMAP_ERRNO") == 0 &&
		 value >= 0 && value < 4096)
		knob = &hld_cfg.unmap_errno;
	else if (strcmp(name, "HL_DOUBLE_SHARED_VA") == 0 && (value | 1) == 1)
		knob = &hld_cfg.shared_va;
	else if (strcmp(name, "HL_DOUBLE_CS_TIMEOUT_MS") == 0 && value >= 1 &&
		 value < (1L << 30))
		knob = &hld_cfg.cs_timeout_ms;
	else if (value >= 0 && value < (1L << 30))
		knob = strcmp(name, "HL_DOUBLE_CS_DISABLE") == 0 ?
			&hld_cfg.cs_disable :
		       strcmp(name, "HL_DOUBLE_CS_HANG") == 0 ? &hld_cfg.cs_hang :
		       strcmp(name, "HL_DOUBLE_CS_ABORT") == 0 ?
			&hld_cfg.cs_abort : NULL;
	if (knob == NULL) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&hld_lock);
	*knob = (int)value;
	pthread_mutex_unlock(&hld_lock);
	return 0;
}
