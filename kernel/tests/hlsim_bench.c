// SPDX-License-Identifier: GPL-2.0
/*
 * hlsim_bench: figures for the hlsim driver, measured side by side in one
 * run: DMA-copy throughput host->device and device->host against memcpy of
 * the same size, and dma-buf exports per second.
 *
 *   hlsim_bench [SIZE_MB] [SECONDS_PER_FIGURE]
 *
 * Prints the figures and the ratios; the goal (copy >= 0.9 x memcpy) is
 * reported, not enforced: exit status 0 unless a call fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <drm/habanalabs_accel.h>
#include "../include/uapi/hlsim.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int mem_ioctl(int fd, union hl_mem_args *args)
{
	return ioctl(fd, DRM_IOCTL_HL_MEMORY, args);
}

static uint64_t device_alloc(int fd, uint64_t size)
{
	union hl_mem_args args;
	uint64_t handle;

	memset(&args, 0, sizeof(args));
	args.in.op = HL_MEM_OP_ALLOC;
	args.in.alloc.mem_size = size;
	if (mem_ioctl(fd, &args))
		return 0;
	handle = args.out.handle;
	memset(&args, 0, sizeof(args));
	args.in.op = HL_MEM_OP_MAP;
	args.in.map_device.handle = handle;
	if (mem_ioctl(fd, &args))
		return 0;
	return args.out.device_virt_addr;
}

/* Export the mapping at @va and drop the dma-buf again */
static int export_once(int fd, uint64_t va, uint64_t size)
{
	union hl_mem_args args;

	memset(&args, 0, sizeof(args));
	args.in.op = HL_MEM_OP_EXPORT_DMABUF_FD;
	args.in.flags = O_RDWR | O_CLOEXEC;
	args.in.export_dmabuf_fd.addr = va;
	args.in.export_dmabuf_fd.mem_size = size;
	if (mem_ioctl(fd, &args))
		return -1;
	return close(args.out.fd);
}

static int dma(int fd, uint64_t dst, uint64_t src, uint64_t size, int dir)
{
	struct hlsim_dma_copy copy = {
		.dst = dst, .src = src, .size = size, .dir = dir
	};

	return ioctl(fd, HLSIM_IOCTL_DMA_COPY, &copy);
}

/* Bytes per second of @op, repeated for at least @seconds */
#define RATE(_seconds, _bytes, _op) ({					\
	double _start = now(), _elapsed;				\
	unsigned long _n = 0;						\
	do {								\
		if (_op)						\
			goto fail;					\
		++_n;							\
		_elapsed = now() - _start;				\
	} while (_elapsed < (_seconds));				\
	(_bytes) * _n / _elapsed;					\
})

int main(int argc, char **argv)
{
	uint64_t size = (argc > 1 ? strtoull(argv[1], NULL, 0) : 64) << 20;
	double seconds = argc > 2 ? atof(argv[2]) : 1.0;
	double memcpy_bw, h2d_bw, d2h_bw, exports;
	char *src, *dst;
	uint64_t va;
	int fd;

	fd = open("/dev/accel/accel0", O_RDWR | O_CLOEXEC);
	src = malloc(size);
	dst = malloc(size);
	if (fd < 0 || !src || !dst) {
		perror("hlsim_bench: setup");
		return 1;
	}
	memset(src, 0x5a, size);
	memset(dst, 0, size);
	va = device_alloc(fd, size);
	if (!va) {
		perror("hlsim_bench: device allocation");
		return 1;
	}

	memcpy_bw = RATE(seconds, size, (memcpy(dst, src, size), 0));
	h2d_bw = RATE(seconds, size,
		      dma(fd, va, (uintptr_t)src, size,
			  HLSIM_COPY_HOST_TO_DEVICE));
	d2h_bw = RATE(seconds, size,
		      dma(fd, (uintptr_t)dst, va, size,
			  HLSIM_COPY_DEVICE_TO_HOST));

	exports = RATE(seconds, 1.0, export_once(fd, va, size));

	printf("hlsim_bench: %lu MiB buffers\n", (unsigned long)(size >> 20));
	printf("  memcpy host->host      %9.1f MB/s\n", memcpy_bw / 1e6);
	printf("  DMA copy host->device  %9.1f MB/s  (%.2f x memcpy)\n",
	       h2d_bw / 1e6, h2d_bw / memcpy_bw);
	printf("  DMA copy device->host  %9.1f MB/s  (%.2f x memcpy)\n",
	       d2h_bw / 1e6, d2h_bw / memcpy_bw);
	printf("  dma-buf exports        %9.0f /s\n", exports);
	printf("  goal copy >= 0.9 x memcpy: %s\n",
	       (h2d_bw >= 0.9 * memcpy_bw && d2h_bw >= 0.9 * memcpy_bw) ?
	       "met" : "NOT met");
	close(fd);
	return 0;
fail:
	fprintf(stderr, "hlsim_bench: %s\n", strerror(errno));
	return 1;
}
