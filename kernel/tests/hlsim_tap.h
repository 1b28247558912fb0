/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the hlsim user-space tests: TAP output, device lookup
 * and thin ioctl wrappers.
 */
#ifndef HLSIM_TAP_H
#define HLSIM_TAP_H

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <drm/habanalabs_accel.h>
#include "../include/uapi/hlsim.h"
#include "hlsim_import_test.h"

typedef __u64 u64;
typedef __u32 u32;

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static int tap_n, tap_pass, tap_fail;

static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (cond)
		tap_pass++;
	else
		tap_fail++;
	return cond;
}

static inline int tap_done(void)
{
	printf("%d passed, %d failed\n", tap_pass, tap_fail);
	return tap_fail ? 1 : 0;
}

/* Result of an ioctl as 0 or -errno */
static inline int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

/*
 * Accel index of the @nth hlsim device (in module order), from sysfs:
 * /sys/class/accel/accelN/device points to the faux device "hlsim<k>".
 */
static inline int hlsim_accel_index(int nth)
{
	char path[300], link[300], want[32];
	struct dirent *de;
	int found = -1;
	ssize_t len;
	DIR *dir;

	snprintf(want, sizeof(want), "/hlsim%d", nth);
	dir = opendir("/sys/class/accel");
	if (!dir)
		return -1;
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, "accel", 5) || !isdigit(de->d_name[5]))
			continue;
		snprintf(path, sizeof(path), "/sys/class/accel/%s/device",
			 de->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = 0;
		len = strlen(link) - strlen(want);
		if (len >= 0 && !strcmp(link + len, want)) {
			found = atoi(de->d_name + 5);
			break;
		}
	}
	closedir(dir);
	return found;
}

/* A bool module parameter of hlsim: 1 for Y, 0 for N or when unreadable */
static inline int hlsim_param_on(const char *name)
{
	char path[128];
	FILE *f;
	int c;

	snprintf(path, sizeof(path), "/sys/module/hlsim/parameters/%s", name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	c = fgetc(f);
	fclose(f);
	return c == 'Y' || c == '1';
}

static inline int hlsim_open_compute(int accel)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/accel/accel%d", accel);
	return open(path, O_RDWR | O_CLOEXEC);
}

static inline int hlsim_open_control(int accel)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/accel/accel_controlD%d", accel);
	return open(path, O_RDWR | O_CLOEXEC);
}

static inline int hl_info(int fd, u32 op, void *buf, u32 size)
{
	struct hl_info_args a = {
		.return_pointer = (uintptr_t)buf,
		.return_size = size,
		.op = op,
	};

	return xioctl(fd, DRM_IOCTL_HL_INFO, &a);
}

static inline int hl_dram_usage(int fd, u64 *free_mem, u64 *ctx_mem)
{
	struct hl_info_dram_usage u = {};
	int ret = hl_info(fd, HL_INFO_DRAM_USAGE, &u, sizeof(u));

	if (free_mem)
		*free_mem = u.dram_free_mem;
	if (ctx_mem)
		*ctx_mem = u.ctx_dram_mem;
	return ret;
}

static inline int hl_alloc(int fd, u64 size, u64 page_size,
			   u32 flags, u64 *handle)
{
	union hl_mem_args a = {};
	int ret;

	a.in.op = HL_MEM_OP_ALLOC;
	a.in.flags = flags;
	a.in.alloc.mem_size = size;
	a.in.alloc.page_size = page_size;
	ret = xioctl(fd, DRM_IOCTL_HL_MEMORY, &a);
	if (!ret && handle)
		*handle = a.out.handle;
	return ret;
}

static inline int hl_free(int fd, u64 handle)
{
	union hl_mem_args a = {};

	a.in.op = HL_MEM_OP_FREE;
	a.in.free.handle = handle;
	return xioctl(fd, DRM_IOCTL_HL_MEMORY, &a);
}

static inline int hl_map(int fd, u64 handle, u64 hint,
			 u32 flags, u64 *va)
{
	union hl_mem_args a = {};
	int ret;

	a.in.op = HL_MEM_OP_MAP;
	a.in.flags = flags;
	a.in.map_device.handle = handle;
	a.in.map_device.hint_addr = hint;
	ret = xioctl(fd, DRM_IOCTL_HL_MEMORY, &a);
	if (!ret && va)
		*va = a.out.device_virt_addr;
	return ret;
}

static inline int hl_unmap(int fd, u64 va)
{
	union hl_mem_args a = {};

	a.in.op = HL_MEM_OP_UNMAP;
	a.in.unmap.device_virt_addr = va;
	return xioctl(fd, DRM_IOCTL_HL_MEMORY, &a);
}

/* Returns the dma-buf fd or -errno */
static inline int hl_export(int fd, u64 addr, u64 size,
			    u64 offset, u32 flags)
{
	union hl_mem_args a = {};
	int ret;

	a.in.op = HL_MEM_OP_EXPORT_DMABUF_FD;
	a.in.flags = flags;
	a.in.export_dmabuf_fd.addr = addr;
	a.in.export_dmabuf_fd.mem_size = size;
	a.in.export_dmabuf_fd.offset = offset;
	ret = xioctl(fd, DRM_IOCTL_HL_MEMORY, &a);
	return ret ? ret : a.out.fd;
}

static inline int hl_copy(int fd, u64 dst, u64 src, u64 size,
			  u32 dir)
{
	struct hlsim_dma_copy c = {
		.dst = dst, .src = src, .size = size, .dir = dir,
	};

	return xioctl(fd, HLSIM_IOCTL_DMA_COPY, &c);
}

/* Import @dmabuf through the test importer; 0 or -errno */
static inline int import_check(int imp, int dmabuf, unsigned long cmd,
			       struct hlsim_import_check *chk)
{
	memset(chk, 0, sizeof(*chk));
	chk->fd = dmabuf;
	return xioctl(imp, cmd, chk);
}

#endif /* HLSIM_TAP_H */
