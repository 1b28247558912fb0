// SPDX-License-Identifier: GPL-2.0
/*
 * hlsim_bench: figures for the hlsim driver, measured side by side in one
 * run, for 4 KiB, 1 MiB and 16 MiB (and SIZE_MB): copy throughput
 * host->device and device->host through the Gaudi2 uapi (a LIN_DMA CS on a
 * USERPTR mapping, completion polled with WAIT_CS) and through hlsim's
 * private DMA-copy ioctl, against memcpy of the same size; the launch +
 * completion cost of an 8-byte copy (CS + WAIT_CS poll loop, CS + WAIT_CS
 * sleeping wait, the private ioctl) in us, and, when the module parameter
 * cs_inline_mb is set, the same CS figures with it 0 (every CS handed to
 * the context's workqueue); and dma-buf exports per second.
 *
 *   hlsim_bench [SIZE_MB] [SECONDS_PER_FIGURE]
 *
 * Each figure is the best of 5 rounds, the paths measured in turn in every
 * round (the VM's host is shared).  Prints the figures and the ratios;
 * the goal (copy >= 0.9 x memcpy) is reported, not enforced: exit status
 * 0 unless a call fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "hlsim_cs_util.h"

struct bench {
	int fd;
	__u64 va;
	__u64 size;
	char *host_src;
	char *host_dst;
	struct hcs e;		/* CB for the CS path */
	__u64 src_va, dst_va;	/* USERPTR mappings of host_src, host_dst */
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

/* One LIN_DMA CS of b->size bytes, completion polled with WAIT_CS */
static int cs_copy(struct bench *b, __u64 dst, __u64 src)
{
	__u32 status;
	__u64 seq;
	int ret;

	ret = hcs_copy(&b->e, Q_PDMA_0_0, dst, src, b->size, 0, &seq);
	while (!ret) {
		ret = hcs_wait(&b->e, seq, 0, &status);
		if (!ret && status == HL_WAIT_CS_STATUS_COMPLETED)
			return 0;
	}
	errno = -ret;
	return -1;
}

static int op_cs_h2d(struct bench *b)
{
	return cs_copy(b, b->va, b->src_va);
}

/* One LIN_DMA CS host->device, completion awaited (WAIT_CS sleeps) */
static int op_cs_h2d_wait(struct bench *b)
{
	__u32 status;
	__u64 seq;
	int ret;

	ret = hcs_copy(&b->e, Q_PDMA_0_0, b->va, b->src_va, b->size, 0, &seq);
	while (!ret) {
		ret = hcs_wait(&b->e, seq, 1000000, &status);
		if (!ret && status == HL_WAIT_CS_STATUS_COMPLETED)
			return 0;
	}
	errno = -ret;
	return -1;
}

static int op_cs_d2h(struct bench *b)
{
	return cs_copy(b, b->dst_va, b->va);
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

#define INLINE_PARAM "/sys/module/hlsim/parameters/cs_inline_mb"

/* Read (@val NULL) or set the module parameter cs_inline_mb; -1: none */
static long inline_mb(const char *val)
{
	FILE *f = fopen(INLINE_PARAM, val ? "w" : "r");
	long v = -1;

	if (!f)
		return -1;
	if (val)
		v = fputs(val, f) < 0 ? -1 : 0;
	else if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	if (fclose(f))
		v = -1;
	return v;
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

/*
 * Best rate of each of the @n ops, measured in ROUNDS interleaved rounds of
 * @seconds / ROUNDS each: the host running the VM is shared, and the best
 * round of each path, taken in the same stretches of time, compares them
 * more fairly than one long measurement after the other.
 */
#define ROUNDS 5

static int rates(struct bench *b, const bench_op_t *ops, double *out,
		 unsigned int n, double seconds)
{
	unsigned int r, i;
	double v;

	for (i = 0; i < n; i++)
		out[i] = 0;
	for (r = 0; r < ROUNDS; r++)
		for (i = 0; i < n; i++) {
			v = rate(b, ops[i], seconds / ROUNDS);
			if (v < 0)
				return -1;
			if (v > out[i])
				out[i] = v;
		}
	return 0;
}

static int setup(struct bench *b, __u64 size)
{
	memset(b, 0, sizeof(*b));
	b->size = size;
	b->fd = open("/dev/accel/accel0", O_RDWR | O_CLOEXEC);
	b->host_src = aligned_alloc(4096, size);
	b->host_dst = aligned_alloc(4096, size);
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
	if (hcs_init(&b->e, b->fd, 0) ||
	    hl_map_host(b->fd, b->host_src, size, &b->src_va) ||
	    hl_map_host(b->fd, b->host_dst, size, &b->dst_va)) {
		perror("hlsim_bench: USERPTR mappings");
		return -1;
	}
	return 0;
}

static void teardown(struct bench *b)
{
	close(b->fd);
	free(b->host_src);
	free(b->host_dst);
	free(b->e.cb);
}

static const char *human(__u64 size, char *buf, size_t n)
{
	if (size >= (1 << 20))
		snprintf(buf, n, "%llu MiB", (unsigned long long)size >> 20);
	else
		snprintf(buf, n, "%llu KiB", (unsigned long long)size >> 10);
	return buf;
}

/* Throughput of each path at @size; returns the worst CS/memcpy ratio */
static double bandwidth(__u64 size, double seconds, double *worst)
{
	const bench_op_t ops[] = {
		op_memcpy, op_cs_h2d, op_cs_d2h, op_h2d, op_d2h
	};
	double copy, h2d, d2h, cs_h2d, cs_d2h, r[ARRAY_SIZE(ops)];
	struct bench b;
	char name[32];
	int ret;

	if (setup(&b, size))
		return -1;
	ret = rates(&b, ops, r, ARRAY_SIZE(ops), seconds);
	teardown(&b);
	if (ret)
		return -1;
	copy = r[0] * size;
	cs_h2d = r[1] * size;
	cs_d2h = r[2] * size;
	h2d = r[3] * size;
	d2h = r[4] * size;
	printf("  %-8s memcpy %8.1f MB/s", human(size, name, sizeof(name)),
	       copy / 1e6);
	printf(" | CS h2d %8.1f (%.2fx) d2h %8.1f (%.2fx)", cs_h2d / 1e6,
	       cs_h2d / copy, cs_d2h / 1e6, cs_d2h / copy);
	printf(" | ioctl h2d %8.1f (%.2fx) d2h %8.1f (%.2fx)", h2d / 1e6,
	       h2d / copy, d2h / 1e6, d2h / copy);
	printf(" | CS/ioctl %.2f %.2f\n", cs_h2d / h2d, cs_d2h / d2h);
	if (cs_h2d / copy < *worst)
		*worst = cs_h2d / copy;
	if (cs_d2h / copy < *worst)
		*worst = cs_d2h / copy;
	return 0;
}

int main(int argc, char **argv)
{
	__u64 mb = argc > 1 ? strtoull(argv[1], NULL, 0) : 16;
	double seconds = argc > 2 ? strtod(argv[2], NULL) : 0.5;
	const __u64 sizes[] = { 4096, 1 << 20, 16 << 20 };
	const bench_op_t ops8[] = { op_cs_h2d, op_cs_h2d_wait, op_h2d };
	double worst = 1e9, cs8, cs8w, io8, exports, r[ARRAY_SIZE(ops8)];
	double async8 = -1, async8w = -1;
	long inl = inline_mb(NULL);
	char inl_str[32];
	struct bench b;
	unsigned int i;

	printf("hlsim_bench: copy bandwidth, CS (LIN_DMA, WAIT_CS poll)");
	printf(" vs private DMA-copy ioctl vs memcpy\n");
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		if (bandwidth(sizes[i], seconds, &worst))
			return 1;
	if (mb != 16 && mb && bandwidth(mb << 20, seconds, &worst))
		return 1;
	printf("  worst CS / memcpy ratio %.2f (goal >= 0.9)\n", worst);

	if (setup(&b, 8))
		return 1;
	if (rates(&b, ops8, r, ARRAY_SIZE(ops8), seconds))
		return 1;
	cs8 = r[0];
	cs8w = r[1];
	io8 = r[2];
	/* the same with every CS handed to the context's workqueue */
	if (inl > 0 && !inline_mb("0")) {
		if (!rates(&b, ops8, r, 2, seconds)) {
			async8 = r[0];
			async8w = r[1];
		}
		snprintf(inl_str, sizeof(inl_str), "%ld", inl);
		inline_mb(inl_str);
	}
	teardown(&b);
	if (setup(&b, 1 << 20))
		return 1;
	exports = rate(&b, op_export, seconds);
	teardown(&b);
	if (exports < 0)
		return 1;
	printf("  8 B copy, launch + completion: CS + WAIT_CS poll %.2f us,",
	       1e6 / cs8);
	printf(" CS + WAIT_CS wait %.2f us, private ioctl %.2f us",
	       1e6 / cs8w, 1e6 / io8);
	printf(" (CS/ioctl %.2f)\n", io8 / cs8);
	if (async8 > 0 && async8w > 0)
		printf("  8 B copy, CS on the workqueue (cs_inline_mb=0): %s %.2f us, %s %.2f us\n",
		       "poll", 1e6 / async8, "wait", 1e6 / async8w);
	printf("  dma-buf exports        %9.0f /s\n", exports);
	return 0;
}
