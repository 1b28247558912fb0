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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <drm/habanalabs_accel.h>
#include "../include/uapi/hlsim.h"

struct bench {
	int fd;
	__u64 va;
	__u64 size;
	char *host_src;
	char *host_dst;
};

typedef int (*bench_op_t)(struct bench *b);

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int mem_ioctl(int fd, union hl_mem_args *args)
{
	return ioctl(fd, DRM_IOCTL_HL_MEMORY, args);
}

static __u64 device_alloc(int fd, __u64 size)
{
	union hl_mem_args args;
	__u64 handle;

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

static int dma(struct bench *b, __u64 dst, __u64 src, int dir)
{
	struct hlsim_dma_copy copy = {
		.dst = dst, .src = src, .size = b->size, .dir = dir
	};

	return ioctl(b->fd, HLSIM_IOCTL_DMA_COPY, &copy);
}

static int op_memcpy(struct bench *b)
{
	memcpy(b->host_dst, b->host_src, b->size);
	return 0;
}

static int op_h2d(struct bench *b)
{
	return dma(b, b->va, (__u64)(unsigned long)b->host_src,
		   HLSIM_COPY_HOST_TO_DEVICE);
}

static int op_d2h(struct bench *b)
{
	return dma(b, (__u64)(unsigned long)b->host_dst, b->va,
		   HLSIM_COPY_DEVICE_TO_HOST);
}

/* Export the whole mapping and drop the dma-buf again */
static int op_export(struct bench *b)
{
	union hl_mem_args args;

	memset(&args, 0, sizeof(args));
	args.in.op = HL_MEM_OP_EXPORT_DMABUF_FD;
	args.in.flags = O_RDWR | O_CLOEXEC;
	args.in.export_dmabuf_fd.addr = b->va;
	args.in.export_dmabuf_fd.mem_size = b->size;
	if (mem_ioctl(b->fd, &args))
		return -1;
	return close(args.out.fd);
}

/* Operations per second of @op, repeated for at least @seconds */
static double rate(struct bench *b, bench_op_t op, double seconds)
{
	double start = now(), elapsed;
	unsigned long n = 0;

	do {
		if (op(b)) {
			fprintf(stderr, "hlsim_bench: %s\n", strerror(errno));
			return -1;
		}
		++n;
		elapsed = now() - start;
	} while (elapsed < seconds);

	return n / elapsed;
}

static int setup(struct bench *b, __u64 size)
{
	b->size = size;
	b->fd = open("/dev/accel/accel0", O_RDWR | O_CLOEXEC);
	b->host_src = malloc(size);
	b->host_dst = malloc(size);
	if (b->fd < 0 || !b->host_src || !b->host_dst) {
		perror("hlsim_bench: open /dev/accel/accel0 or buffers");
		return -1;
	}
	memset(b->host_src, 0x5a, size);
	memset(b->host_dst, 0, size);
	b->va = device_alloc(b->fd, size);
	if (!b->va) {
		perror("hlsim_bench: device allocation");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	__u64 mb = argc > 1 ? strtoull(argv[1], NULL, 0) : 64;
	double seconds = argc > 2 ? atof(argv[2]) : 1.0;
	double copy, h2d, d2h, exports;
	struct bench b;

	if (setup(&b, mb << 20))
		return 1;

	copy = rate(&b, op_memcpy, seconds) * b.size;
	h2d = rate(&b, op_h2d, seconds) * b.size;
	d2h = rate(&b, op_d2h, seconds) * b.size;
	exports = rate(&b, op_export, seconds);
	if (copy < 0 || h2d < 0 || d2h < 0 || exports < 0)
		return 1;

	printf("hlsim_bench: %llu MiB buffers\n", (unsigned long long)mb);
	printf("  memcpy host->host      %9.1f MB/s\n", copy / 1e6);
	printf("  DMA copy host->device  %9.1f MB/s  (%.2f x memcpy)\n",
	       h2d / 1e6, h2d / copy);
	printf("  DMA copy device->host  %9.1f MB/s  (%.2f x memcpy)\n",
	       d2h / 1e6, d2h / copy);
	printf("  dma-buf exports        %9.0f /s\n", exports);
	printf("  goal copy >= 0.9 x memcpy: %s\n",
	       (h2d >= 0.9 * copy && d2h >= 0.9 * copy) ? "met" : "NOT met");
	close(b.fd);
	free(b.host_src);
	free(b.host_dst);
	return 0;
}
