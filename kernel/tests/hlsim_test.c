// SPDX-License-Identifier: GPL-2.0
/*
 * Functional tests of hlsim.ko through the habanalabs uapi (TAP output).
 *
 *   hlsim_test [--legacy]
 *
 * Needs hlsim.ko (num_devices >= 1; a second device is used when present)
 * and hlsim_import_test.ko.  --legacy runs the tests of the old misc
 * generation instead (hlsim.ko loaded with legacy=1); --mmap the tests of
 * the test-only dma-buf mmap (hlsim.ko with test_dmabuf_mmap=1).
 */
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <sys/wait.h>

#include <linux/io_uring.h>
#include <linux/userfaultfd.h>

#include "hlsim_cs_util.h"

#define HLSIM_MAX_PENDING	64

#define VA_BASE		0x1001000000000000ULL
#define PAGE		4096ULL
#define MB		(1024ULL * 1024)

/* legacy generation numbers, <misc/habanalabs.h> */
#define LEGACY_INFO	_IOWR('H', 0x01, struct hl_info_args)
#define LEGACY_MEMORY	_IOWR('H', 0x05, union hl_mem_args)

static u64 dram_size;
static int imp = -1;

static u64 read_param(const char *name)
{
	char path[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/hlsim/parameters/%s", name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

static int write_param(const char *name, const char *val)
{
	char path[128];
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "/sys/module/hlsim/parameters/%s", name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	ret = fputs(val, f) < 0 ? -EIO : 0;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

static void test_info(int accel)
{
	struct hl_info_hw_ip_info hw;
	struct hl_info_device_status st;
	struct hl_info_args a = {};
	unsigned char small[16];
	int c1, c2, fd;

	c1 = hlsim_open_control(accel);
	c2 = hlsim_open_control(accel);
	tap_ok(c1 >= 0 && c2 >= 0, "control node opens twice");

	memset(&hw, 0xa5, sizeof(hw));
	tap_ok(!hl_info(c1, HL_INFO_HW_IP_INFO, &hw, sizeof(hw)),
	       "HW_IP_INFO on the control node");
	tap_ok(hw.device_id == 0x1020, "device_id 0x1020 (got %#x)",
	       hw.device_id);
	tap_ok(hw.dram_base_address == VA_BASE, "dram_base_address %#llx",
	       (unsigned long long)hw.dram_base_address);
	tap_ok(hw.dram_size == dram_size, "dram_size = hbm_mb (%llu)",
	       (unsigned long long)hw.dram_size);
	tap_ok(hw.dram_page_size && !(hw.dram_page_size & (hw.dram_page_size - 1)),
	       "dram_page_size is a power of two (%llu)",
	       (unsigned long long)hw.dram_page_size);
	tap_ok(hw.device_mem_alloc_default_page_size == hw.dram_page_size,
	       "default alloc page size = dram page size");
	tap_ok(hw.dram_enabled == 1, "dram_enabled");

	memset(small, 0xa5, sizeof(small));
	tap_ok(!hl_info(c1, HL_INFO_HW_IP_INFO, small, 8) &&
	       small[8] == 0xa5 && small[15] == 0xa5,
	       "return_size limits the copy");
	tap_ok(hl_info(c1, HL_INFO_HW_IP_INFO, NULL, sizeof(hw)) == -EINVAL,
	       "NULL return_pointer -> EINVAL");
	tap_ok(hl_info(c1, HL_INFO_HW_IP_INFO, &hw, 0) == -EINVAL,
	       "zero return_size -> EINVAL");
	tap_ok(hl_info(c1, 9999, &hw, sizeof(hw)) == -EINVAL,
	       "unknown INFO op -> EINVAL");
	a.return_pointer = (uintptr_t)&hw;
	a.return_size = sizeof(hw);
	a.pad = 1;
	tap_ok(xioctl(c1, DRM_IOCTL_HL_INFO, &a) == -EINVAL,
	       "non-zero pad -> EINVAL");
	tap_ok(hl_info(c1, HL_INFO_HW_IP_INFO, (void *)16, sizeof(hw)) == -EFAULT,
	       "bad return_pointer -> EFAULT");
	tap_ok(xioctl(c1, DRM_IOCTL_HL_MEMORY, &a) == -ENOTTY,
	       "MEMORY on the control node -> ENOTTY");

	fd = hlsim_open_compute(accel);
	tap_ok(fd >= 0, "compute open while control nodes are open");
	memset(&st, 0xff, sizeof(st));
	tap_ok(!hl_info(fd, HL_INFO_DEVICE_STATUS, &st, sizeof(st)) &&
	       st.status == HL_DEVICE_STATUS_OPERATIONAL,
	       "DEVICE_STATUS operational");
	tap_ok(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) ==
	       MAP_FAILED && errno == EINVAL, "mmap of the compute node -> EINVAL");
	close(fd);
	close(c1);
	close(c2);
}

static void test_open(int accel, int accel2)
{
	int fd, fd2, c, other;

	fd = hlsim_open_compute(accel);
	tap_ok(fd >= 0, "first compute open");
	fd2 = hlsim_open_compute(accel);
	tap_ok(fd2 < 0 && errno == EBUSY, "second compute open -> EBUSY");
	if (fd2 >= 0)
		close(fd2);
	c = hlsim_open_control(accel);
	tap_ok(c >= 0, "control open while compute is open");
	if (accel2 >= 0) {
		other = hlsim_open_compute(accel2);
		tap_ok(other >= 0, "compute open of the second device");
		if (other >= 0)
			close(other);
	}
	close(c);
	close(fd);
	fd = hlsim_open_compute(accel);
	tap_ok(fd >= 0, "compute open after close");
	close(fd);
}

static void test_alloc_map(int accel)
{
	u64 h = 0, h2 = 0, va = 0, va2 = 0, va3 = 0, free_mem, ctx_mem;
	int fd = hlsim_open_compute(accel);

	tap_ok(!hl_alloc(fd, 1 * MB, 0, 0, &h) && h, "ALLOC 1 MiB");
	tap_ok(!hl_dram_usage(fd, &free_mem, &ctx_mem) &&
	       free_mem == dram_size - MB && ctx_mem == MB,
	       "DRAM_USAGE accounts the allocation");
	tap_ok(!hl_alloc(fd, 100, 0, 0, &h2), "ALLOC 100 bytes rounds up");
	tap_ok(!hl_dram_usage(fd, NULL, &ctx_mem) && ctx_mem == MB + PAGE,
	       "rounded to one page");
	tap_ok(!hl_free(fd, h2), "FREE");
	tap_ok(hl_free(fd, h2) == -EINVAL, "double FREE -> EINVAL");
	tap_ok(hl_alloc(fd, 0, 0, 0, &h2) == -EINVAL, "ALLOC 0 -> EINVAL");
	tap_ok(hl_alloc(fd, dram_size + 1, 0, 0, &h2) == -ENOMEM,
	       "ALLOC beyond HBM -> ENOMEM");
	tap_ok(hl_alloc(fd, dram_size, 0, 0, &h2) == -ENOMEM,
	       "ALLOC of all HBM while 1 MiB is used -> ENOMEM");
	tap_ok(hl_alloc(fd, ~0ULL, 0, 0, &h2) == -ENOMEM,
	       "ALLOC ~0 -> ENOMEM");
	tap_ok(hl_alloc(fd, PAGE, 3000, 0, &h2) == -EINVAL,
	       "ALLOC page_size 3000 -> EINVAL");
	tap_ok(hl_alloc(fd, PAGE, 1ULL << 40, 0, &h2) == -EINVAL,
	       "ALLOC page_size 1 TiB -> EINVAL");
	tap_ok(hl_alloc(fd, PAGE, 0, 0x80, &h2) == -EINVAL,
	       "ALLOC unknown flag -> EINVAL");

	tap_ok(!hl_map(fd, h, 0, 0, &va), "MAP");
	tap_ok(va >= VA_BASE && !(va % PAGE), "VA %#llx in the Gaudi2 range",
	       (unsigned long long)va);
	tap_ok(hl_free(fd, h) == -EINVAL, "FREE of a mapped handle -> EINVAL");
	tap_ok(!hl_map(fd, h, 0, 0, &va2) && va2 != va &&
	       (va2 >= va + MB || va2 + MB <= va),
	       "second MAP of the same handle gets a disjoint VA");
	tap_ok(!hl_unmap(fd, va2), "UNMAP of the second mapping");
	tap_ok(hl_map(fd, 12345, 0, 0, &va2) == -EINVAL,
	       "MAP of an unknown handle -> EINVAL");
	tap_ok(hl_map(fd, h, 0, HL_MEM_USERPTR, &va2) == -EINVAL,
	       "USERPTR MAP with mem_size 0 -> EINVAL");
	tap_ok(!hl_map(fd, h, VA_BASE + (1ULL << 40), 0, &va2) &&
	       va2 == VA_BASE + (1ULL << 40), "MAP honours a free hint");
	tap_ok(hl_map(fd, h, va2 + PAGE, HL_MEM_FORCE_HINT, &va3) == -EINVAL,
	       "FORCE_HINT on a used range -> EINVAL");
	tap_ok(!hl_map(fd, h, va2 + PAGE, 0, &va3) && va3 != va2 + PAGE,
	       "used hint without FORCE_HINT picks another VA");
	tap_ok(!hl_unmap(fd, va3) && !hl_unmap(fd, va2), "UNMAP both");
	tap_ok(hl_unmap(fd, va3) == -EINVAL, "UNMAP twice -> EINVAL");
	tap_ok(!hl_unmap(fd, va), "UNMAP the first mapping");
	tap_ok(hl_unmap(fd, 0x7f0000000000ULL) == -EINVAL,
	       "UNMAP of a host address -> EINVAL");
	tap_ok(!hl_free(fd, h), "FREE after the last UNMAP");
	tap_ok(!hl_dram_usage(fd, &free_mem, &ctx_mem) &&
	       free_mem == dram_size && !ctx_mem, "DRAM_USAGE back to zero");

	/* left mapped and allocated on purpose: freed by close */
	tap_ok(!hl_alloc(fd, 2 * MB, 0, 0, &h) && !hl_map(fd, h, 0, 0, &va),
	       "ALLOC+MAP left for close");
	close(fd);
	fd = hlsim_open_control(accel);
	tap_ok(!hl_dram_usage(fd, &free_mem, NULL) && free_mem == dram_size,
	       "close frees everything");
	close(fd);
}

static void test_export(int accel)
{
	struct hlsim_import_check chk;
	u64 h = 0, h2 = 0, va = 0, va2 = 0, big = 4 * MB;
	int fd = hlsim_open_compute(accel);
	int d1, d2, ret;

	hl_alloc(fd, big, 0, 0, &h);
	hl_map(fd, h, 0, 0, &va);
	hl_alloc(fd, MB, 0, 0, &h2);
	hl_map(fd, h2, 0, 0, &va2);

	d1 = hl_export(fd, va, big, 0, O_CLOEXEC);
	tap_ok(d1 >= 0, "EXPORT the whole mapping");
	ret = import_check(imp, d1, HLSIM_IMPORT_CHECK, &chk);
	tap_ok(!ret && chk.size == big && chk.sg_len == big &&
	       chk.dma_len == big && chk.match,
	       "importer maps it: size %llu sg %llu dma %llu nents %u/%u",
	       (unsigned long long)chk.size, (unsigned long long)chk.sg_len,
	       (unsigned long long)chk.dma_len, chk.orig_nents, chk.nents);
	tap_ok(chk.max_dma_seg && chk.max_dma_seg <= 65536,
	       "segments respect the importer's 64 KiB limit (max %llu)",
	       (unsigned long long)chk.max_dma_seg);
	tap_ok(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, d1, 0) == MAP_FAILED &&
	       errno == EINVAL, "mmap of the dma-buf -> EINVAL (test_dmabuf_mmap=%d)",
	       hlsim_param_on("test_dmabuf_mmap"));

	d2 = hl_export(fd, va, 2 * PAGE, PAGE, 0);
	tap_ok(d2 >= 0, "EXPORT with offset");
	ret = import_check(imp, d2, HLSIM_IMPORT_CHECK, &chk);
	tap_ok(!ret && chk.size == 2 * PAGE && chk.match,
	       "importer sees the sub-range size (%llu)",
	       (unsigned long long)chk.size);

	tap_ok(hl_export(fd, va, big, 100, 0) == -EINVAL,
	       "EXPORT unaligned offset -> EINVAL");
	tap_ok(hl_export(fd, va, 100, 0, 0) == -EINVAL,
	       "EXPORT unaligned size -> EINVAL");
	tap_ok(hl_export(fd, va, 0, 0, 0) == -EINVAL,
	       "EXPORT size 0 -> EINVAL");
	tap_ok(hl_export(fd, va + 1, PAGE, 0, 0) == -EINVAL,
	       "EXPORT unaligned addr -> EINVAL");
	tap_ok(hl_export(fd, va + PAGE, PAGE, 0, 0) == -EINVAL,
	       "EXPORT of an address that is not a mapping base -> EINVAL");
	tap_ok(hl_export(fd, va, big + PAGE, 0, 0) == -EINVAL,
	       "EXPORT beyond the mapping -> EINVAL");
	tap_ok(hl_export(fd, va, 2 * PAGE, big - PAGE, 0) == -EINVAL,
	       "EXPORT offset+size beyond the mapping -> EINVAL");
	tap_ok(hl_export(fd, va, 2 * PAGE, ~0ULL & ~(PAGE - 1), 0) == -EINVAL,
	       "EXPORT with overflowing offset -> EINVAL");
	tap_ok(hl_export(fd, va, ~0ULL & ~(PAGE - 1), PAGE, 0) == -EINVAL,
	       "EXPORT with overflowing size -> EINVAL");
	tap_ok(hl_export(fd, VA_BASE + (1ULL << 44), PAGE, 0, 0) == -EINVAL,
	       "EXPORT of a foreign (unmapped) VA -> EINVAL");
	tap_ok(hl_export(fd, 0x7f0000000000ULL, PAGE, 0, 0) == -EINVAL,
	       "EXPORT of a host address -> EINVAL");
	tap_ok(hl_export(fd, va, PAGE, 0, 0x40000000) == -EINVAL,
	       "EXPORT with bad fd flags -> EINVAL");

	tap_ok(hl_unmap(fd, va) == -EINVAL,
	       "UNMAP while exported -> EINVAL (as habanalabs)");
	tap_ok(hl_free(fd, h) == -EINVAL, "FREE while mapped -> EINVAL");
	close(d1);
	tap_ok(hl_unmap(fd, va) == -EINVAL,
	       "UNMAP while the second export lives -> EINVAL");
	close(d2);
	tap_ok(!hl_unmap(fd, va), "UNMAP after the dma-bufs are closed");
	tap_ok(!hl_free(fd, h), "FREE after UNMAP");

	/* a foreign context's VA: map on the second device or re-open */
	tap_ok(hl_export(fd, va, PAGE, 0, 0) == -EINVAL,
	       "EXPORT of an unmapped VA -> EINVAL");
	hl_unmap(fd, va2);
	hl_free(fd, h2);
	close(fd);
}

static void test_export_outlives_fd(int accel)
{
	struct hlsim_import_check chk;
	u64 h = 0, va = 0, free_mem;
	int fd, ctl, d, d2, fd2, ret;

	ctl = hlsim_open_control(accel);
	fd = hlsim_open_compute(accel);
	hl_alloc(fd, 2 * MB, 0, 0, &h);
	hl_map(fd, h, 0, 0, &va);
	d = hl_export(fd, va, 2 * MB, 0, O_CLOEXEC);
	d2 = hl_export(fd, va, MB, MB, O_CLOEXEC);
	tap_ok(d >= 0 && d2 >= 0, "two exports before closing the device");
	close(fd);

	tap_ok(!hl_dram_usage(ctl, &free_mem, NULL) &&
	       free_mem == dram_size - 2 * MB,
	       "memory stays allocated while dma-bufs live");
	ret = import_check(imp, d, HLSIM_IMPORT_CHECK, &chk);
	tap_ok(!ret && chk.match && chk.size == 2 * MB,
	       "dma-buf importable after the device fd closed");

	fd2 = hlsim_open_compute(accel);
	tap_ok(fd2 >= 0, "device can be reopened while old exports live");
	if (fd2 >= 0)
		close(fd2);

	ret = import_check(imp, d2, HLSIM_IMPORT_HOLD, &chk);
	tap_ok(!ret && chk.match && chk.size == MB, "importer holds a mapping");
	close(d);
	close(d2);
	tap_ok(!hl_dram_usage(ctl, &free_mem, NULL) &&
	       free_mem == dram_size - 2 * MB,
	       "memory stays allocated while an importer holds it");
	tap_ok(!xioctl(imp, HLSIM_IMPORT_DROP, NULL), "importer drops it");
	tap_ok(!hl_dram_usage(ctl, &free_mem, NULL) && free_mem == dram_size,
	       "memory given back after the last reference");
	close(ctl);
}

static void fill(unsigned char *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 7 + (i >> 9));
}

/*
 * Pin [p, p + len) with pin_user_pages(FOLL_WRITE | FOLL_LONGTERM), the
 * flags of ib_umem_get, through an io_uring fixed buffer.  0, -errno, or 1
 * when io_uring is not available.
 */
static int longterm_pin(void *p, size_t len)
{
	struct io_uring_params prm = {};
	struct iovec iov = { .iov_base = p, .iov_len = len };
	int ring, ret;

	ring = syscall(__NR_io_uring_setup, 4, &prm);
	if (ring < 0)
		return 1;
	ret = syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS,
		      &iov, 1) ? -errno : 0;
	if (!ret)
		syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS,
			NULL, 0);
	close(ring);
	return ret;
}

static int mmap_fails(size_t len, int prot, int flags, int fd, u64 off)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);

	if (p != MAP_FAILED) {
		munmap(p, len);
		return 0;
	}
	return errno == EINVAL;
}

/* test_dmabuf_mmap=1: exported dma-bufs can be mapped by the CPU */
static void test_mmap(int accel)
{
	size_t n = 16 * PAGE;
	unsigned char *src = malloc(n), *back = malloc(n), *p;
	int rw = PROT_READ | PROT_WRITE;
	u64 h = 0, va = 0, free_mem;
	int fd, ctl, d, ret, status;
	pid_t pid;

	tap_ok(hlsim_param_on("test_dmabuf_mmap"), "test_dmabuf_mmap=1");
	ctl = hlsim_open_control(accel);
	fd = hlsim_open_compute(accel);
	tap_ok(!hl_alloc(fd, n, 0, 0, &h) && !hl_map(fd, h, 0, 0, &va),
	       "ALLOC+MAP 16 pages");
	fill(src, n, 3);
	tap_ok(!hl_copy(fd, va, (uintptr_t)src, n, HLSIM_COPY_HOST_TO_DEVICE),
	       "fill the device memory");

	/* the dma-buf covers pages 2..9 of the mapping */
	d = hl_export(fd, va, 8 * PAGE, 2 * PAGE, O_CLOEXEC);
	tap_ok(d >= 0, "EXPORT 8 pages at offset 2 pages");
	tap_ok(mmap_fails(PAGE, PROT_READ, MAP_SHARED, d, 8 * PAGE),
	       "mmap at pgoff 8 (the end) -> EINVAL");
	tap_ok(mmap_fails(2 * PAGE, PROT_READ, MAP_SHARED, d, 7 * PAGE),
	       "mmap across the end -> EINVAL");
	tap_ok(mmap_fails(9 * PAGE, PROT_READ, MAP_SHARED, d, 0),
	       "mmap larger than the dma-buf -> EINVAL");
	tap_ok(mmap_fails(PAGE, PROT_READ, MAP_SHARED, d, 1ULL << 44),
	       "mmap at a huge pgoff -> EINVAL");
	tap_ok(mmap_fails(PAGE, rw, MAP_PRIVATE, d, 0),
	       "MAP_PRIVATE -> EINVAL");
	if (!write_param("test_dmabuf_mmap", "0")) {
		tap_ok(mmap_fails(PAGE, PROT_READ, MAP_SHARED, d, 0),
		       "parameter cleared at run time: mmap -> EINVAL");
		write_param("test_dmabuf_mmap", "1");
	}

	/* pages 1..4 of the dma-buf: pages 3..6 of the mapping */
	p = mmap(NULL, 4 * PAGE, rw, MAP_SHARED, d, PAGE);
	if (!tap_ok(p != MAP_FAILED, "mmap 4 pages at pgoff 1 (errno %d)",
		    p == MAP_FAILED ? errno : 0))
		goto out;
	tap_ok(!memcmp(p, src + 3 * PAGE, 4 * PAGE),
	       "reads show the device memory at export offset + pgoff");

	memset(p + PAGE + 100, 0x5a, 3000);
	memset(src + 4 * PAGE + 100, 0x5a, 3000);
	memset(back, 0, n);
	tap_ok(!hl_copy(fd, (uintptr_t)back, va, n,
			HLSIM_COPY_DEVICE_TO_HOST) && !memcmp(back, src, n),
	       "CPU writes reach device memory (DMA copy), nothing else changes");
	fill(src + 5 * PAGE, PAGE, 9);
	tap_ok(!hl_copy(fd, va + 5 * PAGE, (uintptr_t)(src + 5 * PAGE), PAGE,
			HLSIM_COPY_HOST_TO_DEVICE) &&
	       !memcmp(p + 2 * PAGE, src + 5 * PAGE, PAGE),
	       "DMA writes are seen through the mapping");

	ret = longterm_pin(p, 4 * PAGE);
	tap_ok(ret >= 0, "long-term pin for write, as ib_umem_get (%d)%s", ret,
	       ret == 1 ? " # SKIP no io_uring" : "");

	pid = fork();
	if (!pid)
		_exit(memcmp(p, src + 3 * PAGE, 4 * PAGE) ? 1 : 0);
	tap_ok(pid > 0 && waitpid(pid, &status, 0) == pid &&
	       WIFEXITED(status) && !WEXITSTATUS(status),
	       "a forked child reads the mapping");

	close(d);
	tap_ok(p[2 * PAGE] == src[5 * PAGE],
	       "mapping still works after the dma-buf fd is closed");
	tap_ok(hl_unmap(fd, va) == -EINVAL,
	       "UNMAP refused while the mmap holds the export");
	tap_ok(hl_free(fd, h) == -EINVAL, "FREE refused while mapped");

	/* split the vma: both halves keep the export */
	munmap(p + PAGE, PAGE);
	tap_ok(p[0] == src[3 * PAGE] && p[3 * PAGE] == src[6 * PAGE] &&
	       hl_unmap(fd, va) == -EINVAL,
	       "partial munmap: the rest still maps, the export lives");
	munmap(p, 4 * PAGE);
	tap_ok(!hl_unmap(fd, va) && !hl_free(fd, h),
	       "UNMAP and FREE succeed after munmap");
	tap_ok(!hl_dram_usage(ctl, &free_mem, NULL) && free_mem == dram_size,
	       "DRAM usage back to full");

	/* the mapping outlives both the dma-buf fd and the device fd */
	hl_alloc(fd, n, 0, 0, &h);
	hl_map(fd, h, 0, 0, &va);
	hl_copy(fd, va, (uintptr_t)src, n, HLSIM_COPY_HOST_TO_DEVICE);
	d = hl_export(fd, va, n, 0, O_CLOEXEC);
	p = mmap(NULL, n, rw, MAP_SHARED, d, 0);
	close(d);
	close(fd);
	fd = -1;
	if (!tap_ok(p != MAP_FAILED, "mmap of a whole export"))
		goto out;
	tap_ok(!hl_dram_usage(ctl, &free_mem, NULL) &&
	       free_mem == dram_size - n && !memcmp(p, src, n),
	       "device fd and dma-buf closed: memory stays and maps");
	munmap(p, n);
	tap_ok(!hl_dram_usage(ctl, &free_mem, NULL) && free_mem == dram_size,
	       "munmap frees everything");
out:
	if (fd >= 0)
		close(fd);
	close(ctl);
	free(src);
	free(back);
}

static void test_copy(int accel)
{
	size_t n = 3 * MB;
	unsigned char *src = malloc(n), *dst = malloc(n);
	u64 h = 0, h2 = 0, va = 0, va2 = 0;
	int fd = hlsim_open_compute(accel);

	hl_alloc(fd, 4 * MB, 0, 0, &h);
	hl_map(fd, h, 0, 0, &va);
	hl_alloc(fd, 4 * MB, 0, 0, &h2);
	hl_map(fd, h2, 0, 0, &va2);

	fill(src, n, 1);
	memset(dst, 0, n);
	tap_ok(!hl_copy(fd, va + 123, (uintptr_t)src, n,
			HLSIM_COPY_HOST_TO_DEVICE), "H2D at an unaligned offset");
	tap_ok(!hl_copy(fd, (uintptr_t)dst, va + 123, n,
			HLSIM_COPY_DEVICE_TO_HOST), "D2H");
	tap_ok(!memcmp(src, dst, n), "round trip preserves the data");

	memset(dst, 0, n);
	tap_ok(!hl_copy(fd, va2 + 4000, va + 123, n,
			HLSIM_COPY_DEVICE_TO_DEVICE), "D2D between allocations");
	tap_ok(!hl_copy(fd, (uintptr_t)dst, va2 + 4000, n,
			HLSIM_COPY_DEVICE_TO_HOST) && !memcmp(src, dst, n),
	       "D2D data is correct");
	tap_ok(hl_copy(fd, va + PAGE, va, 2 * PAGE,
		       HLSIM_COPY_DEVICE_TO_DEVICE) == -EINVAL,
	       "overlapping D2D -> EINVAL");

	tap_ok(hl_copy(fd, va + 4 * MB - 10, (uintptr_t)src, 11,
		       HLSIM_COPY_HOST_TO_DEVICE) == -EINVAL,
	       "H2D past the mapping end -> EINVAL");
	tap_ok(!hl_copy(fd, va + 4 * MB - 10, (uintptr_t)src, 10,
			HLSIM_COPY_HOST_TO_DEVICE),
	       "H2D up to the mapping end");
	tap_ok(hl_copy(fd, (uintptr_t)dst, va, ~0ULL,
		       HLSIM_COPY_DEVICE_TO_HOST) == -EINVAL,
	       "size ~0 -> EINVAL");
	tap_ok(hl_copy(fd, (uintptr_t)dst, ~0ULL - 10, 100,
		       HLSIM_COPY_DEVICE_TO_HOST) == -EINVAL,
	       "device address wrap -> EINVAL");
	tap_ok(hl_copy(fd, VA_BASE + (1ULL << 44), (uintptr_t)src, 10,
		       HLSIM_COPY_HOST_TO_DEVICE) == -EINVAL,
	       "unmapped device address -> EINVAL");
	tap_ok(hl_copy(fd, va, (uintptr_t)src, 0,
		       HLSIM_COPY_HOST_TO_DEVICE) == -EINVAL, "size 0 -> EINVAL");
	tap_ok(hl_copy(fd, va, (uintptr_t)src, 10, 7) == -EINVAL,
	       "unknown direction -> EINVAL");
	tap_ok(hl_copy(fd, va, 16, 10, HLSIM_COPY_HOST_TO_DEVICE) == -EFAULT,
	       "bad host pointer -> EFAULT");
	tap_ok(hl_copy(fd, 16, va, 10, HLSIM_COPY_DEVICE_TO_HOST) == -EFAULT,
	       "bad host destination -> EFAULT");
	{
		struct hlsim_dma_copy c = {
			.dst = va, .src = (uintptr_t)src, .size = 1,
			.flags = 1,
		};

		tap_ok(xioctl(fd, HLSIM_IOCTL_DMA_COPY, &c) == -EINVAL,
		       "non-zero flags -> EINVAL");
	}
	hl_unmap(fd, va);
	tap_ok(hl_copy(fd, va, (uintptr_t)src, 10,
		       HLSIM_COPY_HOST_TO_DEVICE) == -EINVAL,
	       "copy to an unmapped VA -> EINVAL");
	close(fd);
	free(src);
	free(dst);
}

static void test_bad_ops(int accel)
{
	union hl_mem_args a;
	int fd = hlsim_open_compute(accel);
	unsigned int op;

	for (op = HL_MEM_OP_MAP_BLOCK; op <= 9; op++) {
		if (op == HL_MEM_OP_EXPORT_DMABUF_FD)
			continue;
		memset(&a, 0, sizeof(a));
		a.in.op = op;
		tap_ok(xioctl(fd, DRM_IOCTL_HL_MEMORY, &a) == -EINVAL,
		       "MEMORY op %u -> EINVAL", op);
	}
	memset(&a, 0, sizeof(a));
	a.in.op = HL_MEM_OP_FREE;
	a.in.free.handle = 1ULL << 40;
	tap_ok(xioctl(fd, DRM_IOCTL_HL_MEMORY, &a) == -EINVAL,
	       "FREE of a 64-bit handle -> EINVAL");
	/* an ioctl number inside our range that has no handler */
	tap_ok(xioctl(fd, DRM_IOWR(DRM_COMMAND_BASE + HL_IOCTL_CS,
				   union hl_cs_args), &a) == -EINVAL,
	       "CS ioctl (not simulated) -> EINVAL");
	close(fd);
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * N live mappings of N one-page allocations in one context.  With @hints,
 * every mapping asks for a hint; every other hint is the VA of the
 * previous mapping (taken), so half the mappings fall back to a free range.
 */
#define MANY	10000
static void test_many_maps(int accel, int hints)
{
	u64 *h = calloc(MANY, sizeof(*h)), *va = calloc(MANY, sizeof(*va));
	u64 *sorted = calloc(MANY, sizeof(*sorted));
	u64 free_mem, ctx_mem, hint, base = VA_BASE + (1ULL << 40);
	int fd = hlsim_open_compute(accel), i, n, err = 0, honoured = 0;
	int distinct = 1, unmapped = 0, freed = 0;

	for (n = 0; n < MANY; n++) {
		err = hl_alloc(fd, PAGE, 0, 0, &h[n]);
		if (err)
			break;
		hint = 0;
		if (hints)
			hint = (n & 1) ? va[n - 1] : base + (u64)n * 2 * PAGE;
		err = hl_map(fd, h[n], hint, 0, &va[n]);
		if (err) {
			hl_free(fd, h[n]);
			break;
		}
		if (hints && !(n & 1) && va[n] == hint)
			honoured++;
	}
	printf("live mappings: %d%s\n", n, hints ? " (with hints)" : "");
	tap_ok(n == MANY, "%d live mappings of one-page allocations%s (error %d at %d)",
	       n, hints ? ", hinted" : "", err, n);
	if (hints)
		tap_ok(honoured == (n + 1) / 2, "free hints honoured (%d of %d)",
		       honoured, (n + 1) / 2);
	tap_ok(!hl_dram_usage(fd, &free_mem, &ctx_mem) &&
	       ctx_mem == (u64)n * PAGE, "DRAM_USAGE: %d pages in the context", n);
	memcpy(sorted, va, n * sizeof(*va));
	qsort(sorted, n, sizeof(*sorted), cmp_u64);
	for (i = 0; i < n; i++)
		if (sorted[i] < VA_BASE || sorted[i] % PAGE ||
		    (i && sorted[i] < sorted[i - 1] + PAGE))
			distinct = 0;
	tap_ok(distinct, "all %d VAs are distinct, aligned, in range and disjoint", n);
	for (i = 0; i < n; i++) {
		unmapped += !hl_unmap(fd, va[i]);
		freed += !hl_free(fd, h[i]);
	}
	tap_ok(unmapped == n && freed == n, "UNMAP and FREE of all (%d, %d)",
	       unmapped, freed);
	tap_ok(!hl_dram_usage(fd, &free_mem, &ctx_mem) &&
	       free_mem == dram_size && !ctx_mem, "DRAM_USAGE back to full");
	close(fd);
	free(h);
	free(va);
	free(sorted);
}

/*
 * A DMA copy stalled on a user page fault (userfaultfd) must not stall the
 * other memory operations of the context, and unmapping and freeing the
 * memory it copies into must be safe: the copy holds it until it ends.
 */
struct stall {
	int fd, uffd;
	u64 dst, size;
	void *src;
	int faulted, release, ret, done;
	double hold;
};

static void *stall_copy(void *arg)
{
	struct stall *s = arg;

	s->ret = hl_copy(s->fd, s->dst, (uintptr_t)s->src, s->size,
			 HLSIM_COPY_HOST_TO_DEVICE);
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* resolve faults only when told to (or after s->hold seconds) */
static void *stall_handler(void *arg)
{
	struct stall *s = arg;
	struct uffd_msg msg;
	struct pollfd pfd = { .fd = s->uffd, .events = POLLIN };
	double start;

	while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE)) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if (read(s->uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		__atomic_store_n(&s->faulted, 1, __ATOMIC_RELEASE);
		start = now_s();
		while (!__atomic_load_n(&s->release, __ATOMIC_ACQUIRE) &&
		       now_s() - start < s->hold)
			usleep(1000);
		{
			struct uffdio_zeropage zp = {
				.range = { .start = (uintptr_t)s->src,
					   .len = s->size },
			};

			ioctl(s->uffd, UFFDIO_ZEROPAGE, &zp);
		}
	}
	return NULL;
}

static void test_copy_unlocked(int accel)
{
	struct stall s = { .hold = 3.0 };
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	u64 hb = 0, vb = 0, ho = 0, vo = 0, h2 = 0, v2 = 0, free_mem;
	double t0, t_other, t_same;
	pthread_t tc, th;
	int ctl, r1, r2, r3, r4, r5;

	s.size = 16 * MB;
	s.fd = hlsim_open_compute(accel);
	ctl = hlsim_open_control(accel);
	s.uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (s.uffd < 0 || ioctl(s.uffd, UFFDIO_API, &api)) {
		tap_ok(1, "copy without the context lock # SKIP no userfaultfd (%d)",
		       errno);
		goto out;
	}
	s.src = mmap(NULL, s.size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	reg.range.start = (uintptr_t)s.src;
	reg.range.len = s.size;
	if (s.src == MAP_FAILED || ioctl(s.uffd, UFFDIO_REGISTER, &reg)) {
		tap_ok(1, "copy without the context lock # SKIP uffd register (%d)",
		       errno);
		goto out;
	}
	hl_alloc(s.fd, s.size, 0, 0, &hb);
	hl_map(s.fd, hb, 0, 0, &vb);
	hl_alloc(s.fd, MB, 0, 0, &ho);
	hl_map(s.fd, ho, 0, 0, &vo);
	s.dst = vb;
	pthread_create(&th, NULL, stall_handler, &s);
	pthread_create(&tc, NULL, stall_copy, &s);
	while (!__atomic_load_n(&s.faulted, __ATOMIC_ACQUIRE))
		usleep(1000);

	/* the copy is stalled in copy_from_user now */
	t0 = now_s();
	r1 = hl_unmap(s.fd, vo);
	r2 = hl_free(s.fd, ho);
	r3 = hl_alloc(s.fd, MB, 0, 0, &h2);
	r4 = hl_map(s.fd, h2, 0, 0, &v2);
	t_other = now_s() - t0;
	tap_ok(!r1 && !r2 && !r3 && !r4 && t_other < 1.0 &&
	       !__atomic_load_n(&s.done, __ATOMIC_ACQUIRE),
	       "UNMAP/FREE/ALLOC/MAP during a stalled copy: %.3f s (errors %d %d %d %d)",
	       t_other, r1, r2, r3, r4);
	t0 = now_s();
	r1 = hl_unmap(s.fd, vb);
	r2 = hl_free(s.fd, hb);
	t_same = now_s() - t0;
	tap_ok(!r1 && !r2 && t_same < 1.0 &&
	       !__atomic_load_n(&s.done, __ATOMIC_ACQUIRE),
	       "UNMAP and FREE of the mapping being copied: %.3f s (errors %d %d)",
	       t_same, r1, r2);
	r5 = hl_dram_usage(ctl, &free_mem, NULL);
	tap_ok(!r5 && free_mem == dram_size - s.size - MB,
	       "the copied memory stays allocated until the copy ends");
	__atomic_store_n(&s.release, 1, __ATOMIC_RELEASE);
	pthread_join(tc, NULL);
	pthread_join(th, NULL);
	tap_ok(!s.ret, "the stalled copy completes (%d)", s.ret);
	tap_ok(!hl_dram_usage(ctl, &free_mem, NULL) &&
	       free_mem == dram_size - MB,
	       "its memory is given back when it ends");
	hl_unmap(s.fd, v2);
	hl_free(s.fd, h2);
	tap_ok(hl_copy(s.fd, vb, (uintptr_t)s.src, PAGE,
		       HLSIM_COPY_HOST_TO_DEVICE) == -EINVAL,
	       "copy to the unmapped VA -> EINVAL");
out:
	if (s.src && s.src != MAP_FAILED)
		munmap(s.src, s.size);
	if (s.uffd >= 0)
		close(s.uffd);
	close(ctl);
	close(s.fd);
}

/*
 * Allocations are charged to the caller's memory cgroup: a process in a
 * cgroup limited to 16 MiB cannot allocate 64 MiB of device memory.
 */
static void test_memcg(int accel)
{
	const char *cg = "/sys/fs/cgroup/hlsim_test";
	char path[128];
	int status, fd;
	pid_t pid;
	FILE *f;

	f = fopen("/sys/fs/cgroup/cgroup.subtree_control", "w");
	if (f) {
		fputs("+memory", f);
		fclose(f);
	}
	mkdir(cg, 0755);
	snprintf(path, sizeof(path), "%s/memory.max", cg);
	f = fopen(path, "w");
	if (!f || fputs("16777216", f) < 0 || fclose(f)) {
		tap_ok(1, "allocations charged to the memory cgroup # SKIP no memory controller");
		rmdir(cg);
		return;
	}
	pid = fork();
	if (!pid) {
		u64 h;
		int ret;

		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		f = fopen(path, "w");
		if (!f || fprintf(f, "%d", getpid()) < 0 || fclose(f))
			_exit(3);
		fd = hlsim_open_compute(accel);
		ret = hl_alloc(fd, 64 * MB, 0, 0, &h);
		_exit(ret == -ENOMEM ? 0 : ret ? 2 : 1);
	}
	waitpid(pid, &status, 0);
	tap_ok((WIFEXITED(status) && !WEXITSTATUS(status)) ||
	       (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL),
	       "64 MiB in a 16 MiB memory cgroup -> ENOMEM (status %#x)", status);
	rmdir(cg);
	fd = hlsim_open_control(accel);
	{
		u64 free_mem;

		tap_ok(!hl_dram_usage(fd, &free_mem, NULL) && free_mem == dram_size,
		       "nothing left allocated");
	}
	close(fd);
}

/* hlsim.ko loaded with max_allocs_per_ctx=6 max_maps_per_ctx=8 max_maps_per_alloc=3 */
static void test_limits(int accel)
{
	u64 h[8] = {}, va[10] = {}, extra, v, free_mem;
	int fd = hlsim_open_compute(accel), i, ok;

	tap_ok(read_param("max_allocs_per_ctx") == 6 &&
	       read_param("max_maps_per_ctx") == 8 &&
	       read_param("max_maps_per_alloc") == 3, "limits 6/8/3 loaded");
	for (i = 0, ok = 0; i < 6; i++)
		ok += !hl_alloc(fd, PAGE, 0, 0, &h[i]);
	tap_ok(ok == 6, "6 allocations");
	tap_ok(hl_alloc(fd, PAGE, 0, 0, &extra) == -ENOMEM,
	       "7th allocation -> ENOMEM");
	tap_ok(!hl_free(fd, h[5]) && !hl_alloc(fd, PAGE, 0, 0, &h[5]),
	       "FREE one, ALLOC again");
	for (i = 0, ok = 0; i < 3; i++)
		ok += !hl_map(fd, h[0], 0, 0, &va[i]);
	tap_ok(ok == 3, "3 mappings of one allocation");
	tap_ok(hl_map(fd, h[0], 0, 0, &v) == -ENOMEM,
	       "4th mapping of the allocation -> ENOMEM");
	for (i = 3, ok = 0; i < 8; i++)
		ok += !hl_map(fd, h[i - 2], 0, 0, &va[i]);
	tap_ok(ok == 5, "8 mappings in the context");
	tap_ok(hl_map(fd, h[5], 0, 0, &v) == -ENOMEM,
	       "9th mapping of the context -> ENOMEM");
	tap_ok(hl_map(fd, h[5], VA_BASE + (1ULL << 40), HL_MEM_FORCE_HINT,
		      &v) == -ENOMEM, "... also with a forced hint");
	tap_ok(!hl_unmap(fd, va[0]) && !hl_map(fd, h[5], 0, 0, &va[0]),
	       "UNMAP one, MAP again");
	close(fd);
	fd = hlsim_open_compute(accel);
	for (i = 0, ok = 0; i < 6; i++)
		ok += !hl_alloc(fd, PAGE, 0, 0, &h[i]) &&
		      !hl_map(fd, h[i], 0, 0, &va[i]);
	tap_ok(ok == 6, "a new context starts from zero");
	close(fd);
	fd = hlsim_open_control(accel);
	tap_ok(!hl_dram_usage(fd, &free_mem, NULL) && free_mem == dram_size,
	       "DRAM_USAGE back to full");
	close(fd);
}

/* hlsim_drv's faux device behind a sysfs class entry, or -1 */
static int node_device(const char *link_path)
{
	char link[300];
	ssize_t len = readlink(link_path, link, sizeof(link) - 1);
	const char *p;

	if (len < 0)
		return -1;
	link[len] = 0;
	p = strstr(link, "/hlsim");
	if (!p || !isdigit((unsigned char)p[6]))
		return -1;
	return atoi(p + 6);
}

/*
 * legacy=1 is a pre-6.3 kernel: each device has /dev/hlN and
 * /dev/hl_controlDN and no accel node, so that discovery (which looks for
 * both generations) sees every device once.
 */
static void test_legacy_nodes(void)
{
	int count[16] = {}, nodes = 0, accel = 0, ndev = read_param("num_devices");
	char path[300];
	struct dirent *de;
	DIR *dir;
	int i, fd, once = 1, ids = 1;

	dir = opendir("/sys/class/accel");
	while (dir && (de = readdir(dir))) {
		snprintf(path, sizeof(path), "/sys/class/accel/%s/device",
			 de->d_name);
		if (de->d_name[0] != '.' && node_device(path) >= 0)
			accel++;
	}
	if (dir)
		closedir(dir);
	dir = opendir("/sys/class/misc");
	while (dir && (de = readdir(dir))) {
		int d;

		if (strncmp(de->d_name, "hl", 2) || !isdigit((unsigned char)de->d_name[2]))
			continue;
		snprintf(path, sizeof(path), "/sys/class/misc/%s/device",
			 de->d_name);
		d = node_device(path);
		if (d >= 0 && d < 16) {
			count[d]++;
			nodes++;
		}
	}
	if (dir)
		closedir(dir);
	for (i = 0; i < ndev; i++)
		once &= count[i] == 1;
	tap_ok(accel == 0, "no accel node of hlsim with legacy=1 (%d)", accel);
	tap_ok(nodes == ndev && once, "%d /dev/hlN nodes for %d devices, one each",
	       nodes, ndev);
	for (i = 0; i < ndev; i++) {
		struct hl_info_hw_ip_info hw = {};
		struct hl_info_args ia = {
			.return_pointer = (uintptr_t)&hw,
			.return_size = sizeof(hw),
			.op = HL_INFO_HW_IP_INFO,
		};

		snprintf(path, sizeof(path), "/dev/hl_controlD%d", i);
		fd = open(path, O_RDWR);
		if (fd < 0 || xioctl(fd, LEGACY_INFO, &ia) || hw.module_id != (u32)i)
			ids = 0;
		if (fd >= 0)
			close(fd);
	}
	tap_ok(ids, "INFO on /dev/hl_controlDN answers for device N");
}

struct race {
	int fd;
	u64 va;
	u64 h;
	int stop;
	unsigned long exports, unmaps, imports;
};

static void *race_export(void *arg)
{
	struct hlsim_import_check chk;
	struct race *r = arg;
	int d;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		d = hl_export(r->fd, r->va, 4 * PAGE, PAGE, O_CLOEXEC);
		if (d < 0)
			continue;
		r->exports++;
		if (!import_check(imp, d, HLSIM_IMPORT_CHECK, &chk))
			r->imports++;
		close(d);
	}
	return NULL;
}

static void *race_unmap(void *arg)
{
	struct race *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		if (hl_unmap(r->fd, r->va))
			continue;
		r->unmaps++;
		hl_map(r->fd, r->h, r->va, HL_MEM_FORCE_HINT, NULL);
	}
	return NULL;
}

/* exports, imports and unmaps of one mapping from three threads */
static void test_race(int accel)
{
	struct race r = { .fd = hlsim_open_compute(accel) };
	pthread_t t[3];
	u64 free_mem;
	int ctl, i;

	hl_alloc(r.fd, MB, 0, 0, &r.h);
	hl_map(r.fd, r.h, 0, 0, &r.va);
	pthread_create(&t[0], NULL, race_export, &r);
	pthread_create(&t[1], NULL, race_export, &r);
	pthread_create(&t[2], NULL, race_unmap, &r);
	usleep(1500 * 1000);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	tap_ok(r.exports && r.imports && r.unmaps,
	       "racing export/import/unmap: %lu exports, %lu imports, %lu unmaps",
	       r.exports, r.imports, r.unmaps);
	close(r.fd);
	ctl = hlsim_open_control(accel);
	tap_ok(!hl_dram_usage(ctl, &free_mem, NULL) && free_mem == dram_size,
	       "everything freed after the race");
	close(ctl);
}

static void test_legacy(void)
{
	struct hl_info_hw_ip_info hw = {};
	struct hlsim_import_check chk;
	struct hl_info_args ia = {};
	union hl_mem_args a = {};
	int fd, fd2, c, d, ret;
	u64 h, va;
	unsigned char buf[64], back[64];

	test_legacy_nodes();
	fd = open("/dev/hl0", O_RDWR);
	tap_ok(fd >= 0, "legacy /dev/hl0 opens");
	fd2 = open("/dev/hl0", O_RDWR);
	tap_ok(fd2 < 0 && errno == EBUSY, "second legacy compute open -> EBUSY");
	if (fd2 >= 0)
		close(fd2);
	c = open("/dev/hl_controlD0", O_RDWR);
	tap_ok(c >= 0, "legacy control node opens");
	ia.return_pointer = (uintptr_t)&hw;
	ia.return_size = sizeof(hw);
	ia.op = HL_INFO_HW_IP_INFO;
	tap_ok(!xioctl(c, LEGACY_INFO, &ia) && hw.device_id == 0x1020,
	       "legacy INFO on the control node");

	a.in.op = HL_MEM_OP_ALLOC;
	a.in.alloc.mem_size = MB;
	ret = xioctl(fd, LEGACY_MEMORY, &a);
	h = a.out.handle;
	tap_ok(!ret && h, "legacy ALLOC");
	memset(&a, 0, sizeof(a));
	a.in.op = HL_MEM_OP_MAP;
	a.in.map_device.handle = h;
	ret = xioctl(fd, LEGACY_MEMORY, &a);
	va = a.out.device_virt_addr;
	tap_ok(!ret && va >= VA_BASE, "legacy MAP");
	fill(buf, sizeof(buf), 5);
	{
		struct hlsim_dma_copy cp = {
			.dst = va, .src = (uintptr_t)buf, .size = sizeof(buf),
			.dir = HLSIM_COPY_HOST_TO_DEVICE,
		};

		ret = xioctl(fd, HLSIM_IOCTL_DMA_COPY_LEGACY, &cp);
		cp.dst = (uintptr_t)back;
		cp.src = va;
		cp.dir = HLSIM_COPY_DEVICE_TO_HOST;
		ret = ret ? ret : xioctl(fd, HLSIM_IOCTL_DMA_COPY_LEGACY, &cp);
		tap_ok(!ret && !memcmp(buf, back, sizeof(buf)),
		       "legacy DMA copy round trip");
	}

	memset(&a, 0, sizeof(a));
	a.in.op = HL_MEM_OP_EXPORT_DMABUF_FD;
	a.in.export_dmabuf_fd.addr = h;		/* legacy: the handle */
	a.in.export_dmabuf_fd.mem_size = 0;
	ret = xioctl(fd, LEGACY_MEMORY, &a);
	d = a.out.fd;
	tap_ok(!ret && d >= 0, "legacy EXPORT by handle");
	ret = import_check(imp, d, HLSIM_IMPORT_CHECK, &chk);
	tap_ok(!ret && chk.match && chk.size == MB,
	       "legacy export imports with the allocation size");

	memset(&a, 0, sizeof(a));
	a.in.op = HL_MEM_OP_UNMAP;
	a.in.unmap.device_virt_addr = va;
	tap_ok(!xioctl(fd, LEGACY_MEMORY, &a), "legacy UNMAP");
	memset(&a, 0, sizeof(a));
	a.in.op = HL_MEM_OP_FREE;
	a.in.free.handle = h;
	tap_ok(xioctl(fd, LEGACY_MEMORY, &a) == -EINVAL,
	       "legacy FREE while exported -> EINVAL (as habanalabs)");
	close(d);
	tap_ok(!xioctl(fd, LEGACY_MEMORY, &a), "legacy FREE after close");
	tap_ok(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED,
	       "legacy mmap fails");
	close(fd);
	close(c);
}

/* ---- Gaudi2 copy uapi: USERPTR, CS, WAIT_CS ---- */

static void test_userptr(int accel)
{
	unsigned char *buf = aligned_alloc(PAGE, 4 * PAGE);
	unsigned char *ro;
	u64 va, va2, va3;
	int fd, ret;
	union hl_mem_args a = {};

	fd = hlsim_open_compute(accel);
	ret = hl_map_host(fd, buf + 100, 1000, &va);
	tap_ok(!ret && va >= HOST_VA_BASE && va < HOST_VA_END,
	       "USERPTR map in the host VA range (%#llx)",
	       (unsigned long long)va);
	tap_ok((va & (PAGE - 1)) == 100, "USERPTR VA keeps the in-page offset");
	tap_ok(!hl_map_host(fd, buf + 100, 1000, &va2) && va2 != va &&
	       (va2 & (PAGE - 1)) == 100, "same range maps twice at another VA");
	tap_ok(!hl_map_host(fd, buf + PAGE - 1, 2, &va3) &&
	       (va3 & (PAGE - 1)) == PAGE - 1, "2 bytes across a page boundary");
	tap_ok(hl_unmap(fd, va + 1) == -EINVAL, "UNMAP inside a mapping -> EINVAL");
	tap_ok(hl_unmap(fd, va - 100) == -EINVAL,
	       "UNMAP of the page VA (not the returned VA) -> EINVAL");
	tap_ok(!hl_unmap(fd, va), "UNMAP by the exact returned VA");
	tap_ok(hl_unmap(fd, va) == -EINVAL, "second UNMAP -> EINVAL");
	tap_ok(hl_map_host(fd, buf, 0, &va) == -EINVAL, "mem_size 0 -> EINVAL");
	tap_ok(hl_map_host_cmd(fd, DRM_IOCTL_HL_MEMORY, (void *)-4096ULL, 8192, 0,
			       0, &va) == -EINVAL, "address + size overflows -> EINVAL");
	tap_ok(hl_map_host_cmd(fd, DRM_IOCTL_HL_MEMORY, (void *)0xffff888000000000ULL,
			       4096, 0, 0, &va) == -EFAULT, "kernel address -> EFAULT");
	tap_ok(hl_map_host_cmd(fd, DRM_IOCTL_HL_MEMORY, (void *)4096, 4096, 0, 0,
			       &va) == -EFAULT, "unmapped user address -> EFAULT");
	ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tap_ok(hl_map_host(fd, ro, PAGE, &va) == -EFAULT,
	       "read-only memory (FOLL_WRITE) -> EFAULT");
	munmap(ro, PAGE);
	tap_ok(hl_map_host_cmd(fd, DRM_IOCTL_HL_MEMORY, buf, 4096, 0, 0x8, &va) ==
	       -EINVAL, "USERPTR with another flag -> EINVAL");
	ret = hl_map_host_cmd(fd, DRM_IOCTL_HL_MEMORY, buf, 4096,
			      HOST_VA_BASE + 0x100000000ULL, 0, &va);
	tap_ok(!ret && va == HOST_VA_BASE + 0x100000000ULL, "free aligned hint honoured");
	tap_ok(hl_map_host_cmd(fd, DRM_IOCTL_HL_MEMORY, buf, 4096,
			       HOST_VA_BASE + 0x100000000ULL, HL_MEM_FORCE_HINT,
			       &va2) == -EINVAL, "FORCE_HINT on a used hint -> EINVAL");
	tap_ok(hl_map_host_cmd(fd, DRM_IOCTL_HL_MEMORY, buf, 4096, VA_BASE,
			       HL_MEM_FORCE_HINT, &va2) == -EINVAL,
	       "FORCE_HINT in the DRAM range -> EINVAL");
	tap_ok(hl_export(fd, va, PAGE, 0, 0) == -EINVAL,
	       "EXPORT of a host mapping -> EINVAL");
	tap_ok(hl_copy(fd, va, (uintptr_t)buf, 8, HLSIM_COPY_HOST_TO_DEVICE) == -EINVAL,
	       "private DMA copy to a host VA -> EINVAL");
	a.in.op = HL_MEM_OP_MAP;
	a.in.flags = HL_MEM_USERPTR;
	a.in.map_host.host_virt_addr = (uintptr_t)buf;
	a.in.map_host.mem_size = 16 * MB;	/* beyond the malloc'd area */
	tap_ok(xioctl(fd, DRM_IOCTL_HL_MEMORY, &a) == -EFAULT ||
	       !hl_unmap(fd, a.out.device_virt_addr),
	       "range running into unmapped memory -> EFAULT (or mapped)");
	/* mappings left on purpose: released on close */
	close(fd);
	fd = hlsim_open_compute(accel);
	tap_ok(!hl_map_host(fd, buf + 100, 1000, &va2) && va2 == HOST_VA_BASE + 100,
	       "close released the mappings (first fit again at the range start)");
	close(fd);
	free(buf);
}

static u64 dram_buf(int fd, u64 size, u64 *handle)
{
	u64 h = 0, va = 0;

	if (hl_alloc(fd, size, 0, 0, &h) || hl_map(fd, h, 0, 0, &va))
		return 0;
	if (handle)
		*handle = h;
	return va;
}

static void test_cs(int accel, int legacy)
{
	const size_t n = 3 * PAGE + 123;
	unsigned char *src = aligned_alloc(PAGE, 4 * PAGE);
	unsigned char *dst = aligned_alloc(PAGE, 4 * PAGE);
	unsigned char *cb = aligned_alloc(PAGE, 8 * PAGE);
	struct hl_cs_chunk ch[HL_MAX_JOBS_PER_CS + 1];
	u64 sva = 0, dva = 0, cbva = 0, d1, d2, seq, seq2, h1, pat;
	unsigned long cs = cs_cmd(legacy), wt = wait_cmd(legacy);
	unsigned long mem = mem_cmd(legacy);
	u32 status, flags, i;
	struct hcs e;
	size_t off;
	int fd, ret, bad;

	fd = legacy ? open("/dev/hl0", O_RDWR) : hlsim_open_compute(accel);
	fill(src, 4 * PAGE, 11);
	memset(dst, 0, 4 * PAGE);
	ret = hl_map_host_cmd(fd, mem, src + 7, n, 0, 0, &sva);
	ret = ret ? ret : hl_map_host_cmd(fd, mem, dst + 9, n, 0, 0, &dva);
	ret = ret ? ret : hl_map_host_cmd(fd, mem, cb, 8 * PAGE, 0, 0, &cbva);
	ret = ret ? ret : hcs_init(&e, fd, legacy);
	tap_ok(!ret, "%s: host buffers and CBs mapped", legacy ? "legacy" : "accel");
	if (legacy) {
		union hl_mem_args a = {};

		a.in.op = HL_MEM_OP_ALLOC;
		a.in.alloc.mem_size = MB;
		xioctl(fd, mem, &a);
		h1 = a.out.handle;
		memset(&a, 0, sizeof(a));
		a.in.op = HL_MEM_OP_MAP;
		a.in.map_device.handle = h1;
		xioctl(fd, mem, &a);
		d1 = a.out.device_virt_addr;
		memset(&a, 0, sizeof(a));
		a.in.op = HL_MEM_OP_ALLOC;
		a.in.alloc.mem_size = MB;
		xioctl(fd, mem, &a);
		h1 = a.out.handle;
		memset(&a, 0, sizeof(a));
		a.in.map_device.handle = h1;
		a.in.op = HL_MEM_OP_MAP;
		xioctl(fd, mem, &a);
		d2 = a.out.device_virt_addr;
	} else {
		d1 = dram_buf(fd, MB, &h1);
		d2 = dram_buf(fd, MB, NULL);
	}

	/* H2D on PDMA_0_0, D2D on EDMA, D2H on PDMA_1_0 */
	ret = hcs_copy_sync(&e, Q_PDMA_0_0, d1 + 5, sva, n, 0);
	tap_ok(!ret, "LIN_DMA host->device (PDMA_0_0) completes (%d)", ret);
	ret = hcs_copy_sync(&e, Q_EDMA_0_0, d2 + 1, d1 + 5, n, 0);
	tap_ok(!ret, "LIN_DMA device->device (EDMA) completes (%d)", ret);
	ret = hcs_copy_sync(&e, Q_PDMA_1_0, dva, d2 + 1, n, LIN_DMA_WRCOMP);
	tap_ok(!ret && !memcmp(dst + 9, src + 7, n) && !dst[8] && !dst[9 + n],
	       "LIN_DMA device->host: data round trip, nothing outside");

	/* memset: the 8-byte pattern of src */
	pat = 0x0807060504030201ULL;
	ret = hcs_copy_sync(&e, Q_PDMA_0_1, dva + 3, pat, 21, LIN_DMA_MEMSET);
	bad = 0;
	for (i = 0; i < 21; i++)
		bad |= dst[9 + 3 + i] != (unsigned char)(1 + (i % 8));
	tap_ok(!ret && !bad && dst[9 + 2] == src[7 + 2] &&
	       dst[9 + 24] == src[7 + 24], "LIN_DMA memset writes the 8-byte pattern");

	/* several chunks and packets, NOPs, in order */
	off = put_nop(cb, (PKT_NOP << 24) | PKT_EB | PKT_MB);
	off += put_lin_dma(cb + off, lin_dma_ctl(LIN_DMA_MEMSET), 64, 0xaaaaaaaaaaaaaaaaULL, dva);
	off += put_lin_dma(cb + off, lin_dma_ctl(LIN_DMA_MEMSET), 32,
			   0xbbbbbbbbbbbbbbbbULL, dva + 16);
	chunk_set(&ch[0], cbva, off, Q_PDMA_0_0);
	put_lin_dma(cb + PAGE, lin_dma_ctl(0), 8, sva, dva + 60);
	chunk_set(&ch[1], cbva + PAGE, LIN_DMA_SIZE, Q_PDMA_1_0);
	ret = hl_cs_cmd(fd, cs, ch, 2, 0, &seq, &status);
	tap_ok(!ret && !status && seq > 0, "CS of 2 chunks, NOP + 3 LIN_DMA (seq %llu)",
	       (unsigned long long)seq);
	ret = hl_wait_cmd(fd, wt, seq, 5000000, &status, &flags);
	tap_ok(!ret && status == HL_WAIT_CS_STATUS_COMPLETED && !flags,
	       "WAIT_CS: COMPLETED");
	tap_ok(dst[9] == 0xaa && dst[9 + 15] == 0xaa && dst[9 + 16] == 0xbb &&
	       dst[9 + 47] == 0xbb && dst[9 + 48] == 0xaa &&
	       !memcmp(dst + 9 + 60, src + 7, 8), "packets executed in order");
	ret = hl_wait_cmd(fd, wt, seq, 0, &status, NULL);
	tap_ok(!ret && status == HL_WAIT_CS_STATUS_COMPLETED, "poll of a completed CS");
	ret = hl_cs_cmd(fd, cs, ch, 1, 0, &seq2, &status);
	tap_ok(!ret && seq2 == seq + 1, "sequence numbers are monotonic");
	hl_wait_cmd(fd, wt, seq2, 5000000, NULL, NULL);
	tap_ok(hl_wait_cmd(fd, wt, seq2 + 1, 0, &status, NULL) == -EINVAL,
	       "WAIT_CS of a future seq -> EINVAL");
	tap_ok(!hl_wait_cmd(fd, wt, 0, 0, &status, &flags) &&
	       status == HL_WAIT_CS_STATUS_COMPLETED &&
	       flags == HL_WAIT_CS_STATUS_FLAG_GONE, "WAIT_CS of seq 0: GONE");

	/* refused CSs: the errno, out.seq = ULLONG_MAX, status = errno */
#define CS1(_ret, _what) do {						\
		int _want = (_ret);					\
		ret = hl_cs_cmd(fd, cs, ch, 1, 0, &seq, &status);	\
		tap_ok(ret == _want && seq == ~0ULL && (int)status == _want, \
		       "%s -> %d (got %d, seq %#llx)", _what, _want, ret, \
		       (unsigned long long)seq);			\
	} while (0)
	chunk_set(&ch[0], cbva, LIN_DMA_SIZE, 2);
	put_lin_dma(cb, lin_dma_ctl(0), 8, sva, dva);
	CS1(-EINVAL, "queue 2 (PDMA_0_2, not enabled)");
	ch[0].queue_index = 16;
	CS1(-EINVAL, "queue 16 (MME)");
	ch[0].queue_index = 1000;
	CS1(-EINVAL, "queue out of range");
	ch[0].queue_index = Q_PDMA_0_0;
	ch[0].cs_chunk_flags = 0;
	CS1(-EINVAL, "chunk without USER_ALLOC_CB");
	ch[0].cs_chunk_flags = HL_CS_CHUNK_FLAGS_USER_ALLOC_CB;
	ch[0].cb_size = 4;
	CS1(-EINVAL, "cb_size 4");
	ch[0].cb_size = 4 * MB;
	CS1(-EINVAL, "cb_size 4 MiB");
	ch[0].cb_size = LIN_DMA_SIZE;
	ch[0].cb_handle = d1;
	CS1(-EFAULT, "CB in device memory");
	ch[0].cb_handle = cbva + 8 * PAGE - 8;
	CS1(-EFAULT, "CB running out of its mapping");
	ch[0].cb_handle = HOST_VA_BASE + 0x7000000000ULL;
	CS1(-EFAULT, "CB at an unmapped host VA");
	ch[0].cb_handle = cbva;
	ch[0].cb_size = 16;
	CS1(-EINVAL, "LIN_DMA cut by cb_size");
	ch[0].cb_size = LIN_DMA_SIZE;
	put_lin_dma(cb, (0x5u << 24), 8, sva, dva);
	CS1(-EINVAL, "unknown opcode (MSG_LONG)");
	put_lin_dma(cb, lin_dma_ctl(1u << 8), 8, sva, dva);
	CS1(-EINVAL, "LIN_DMA with an unknown ctl bit");
	put_lin_dma(cb, lin_dma_ctl(0), 0, sva, dva);
	CS1(-EINVAL, "LIN_DMA tsize 0");
	put_lin_dma(cb, lin_dma_ctl(0), n + 1, sva, dva);
	CS1(-EINVAL, "LIN_DMA past the end of a USERPTR mapping");
	put_lin_dma(cb, lin_dma_ctl(0), 8, sva - 1, dva);
	CS1(-EINVAL, "LIN_DMA src before the returned VA");
	put_lin_dma(cb, lin_dma_ctl(0), 8, (uintptr_t)src, dva);
	CS1(-EINVAL, "LIN_DMA src a raw host pointer");
	put_lin_dma(cb, lin_dma_ctl(0), 0xfffffff0u, d1 + MB - 16, dva);
	CS1(-EINVAL, "LIN_DMA address range overflowing its mapping");
	put_lin_dma(cb, lin_dma_ctl(0), 8, sva, VA_BASE + (1ULL << 47));
	CS1(-EINVAL, "LIN_DMA dst outside the mappings");
	put_nop(cb, (PKT_NOP << 24) | 1);
	ch[0].cb_size = NOP_SIZE;
	CS1(-EINVAL, "NOP with a low ctl bit");
	ret = hl_cs_cmd(fd, cs, ch, 1, 0, &seq, &status);
	hl_cs_cmd(fd, cs, ch, 0, 0, &seq, &status);
	put_nop(cb, (PKT_NOP << 24));
	tap_ok(!hl_cs_cmd(fd, cs, ch, 1, 0, &seq, &status),
	       "a CB of one NOP is accepted");
	tap_ok(seq2 + 21 == seq, "every refused CS after the chunk copy took a seq (%llu, %llu)",
	       (unsigned long long)seq2, (unsigned long long)seq);
	ret = hl_wait_cmd(fd, wt, seq - 1, 1000000, &status, NULL);
	tap_ok(!ret && status == HL_WAIT_CS_STATUS_COMPLETED,
	       "WAIT_CS of a refused CS: COMPLETED");
	tap_ok(hl_cs_cmd(fd, cs, ch, 0, 0, &seq, &status) == -EINVAL,
	       "0 chunks -> EINVAL");
	for (i = 0; i <= HL_MAX_JOBS_PER_CS; i++)
		chunk_set(&ch[i], cbva, NOP_SIZE, Q_PDMA_0_0);
	tap_ok(!hl_cs_cmd(fd, cs, ch, HL_MAX_JOBS_PER_CS, 0, &seq, &status),
	       "512 chunks accepted");
	tap_ok(hl_cs_cmd(fd, cs, ch, HL_MAX_JOBS_PER_CS + 1, 0, &seq2, &status) == -EINVAL,
	       "513 chunks -> EINVAL");
	{
		union hl_cs_args a = {};

		a.in.chunks_execute = 16;
		a.in.num_chunks_execute = 1;
		tap_ok(xioctl(fd, cs, &a) == -EFAULT, "bad chunk array -> EFAULT");
		a.in.chunks_execute = (uintptr_t)ch;
		a.in.pad[0] = 1;
		tap_ok(xioctl(fd, cs, &a) == -EINVAL, "in.pad set -> EINVAL");
		a.in.pad[0] = 0;
		a.in.cs_flags = HL_CS_FLAGS_STAGED_SUBMISSION;
		tap_ok(xioctl(fd, cs, &a) == -EPERM, "staged submission -> EPERM");
		a.in.cs_flags = HL_CS_FLAGS_SIGNAL | HL_CS_FLAGS_WAIT;
		tap_ok(xioctl(fd, cs, &a) == -EINVAL, "two CS types -> EINVAL");
		a.in.cs_flags = HL_CS_FLAGS_TIMESTAMP;
		tap_ok(xioctl(fd, cs, &a) == -EINVAL, "TIMESTAMP -> EINVAL (not simulated)");
		a.in.cs_flags = HL_CS_FLAGS_FORCE_RESTORE;
		tap_ok(xioctl(fd, cs, &a) == -EINVAL, "FORCE_RESTORE -> EINVAL");
		/* the failed calls wrote out.seq and out.status back */
		memset(&a, 0, sizeof(a));
		a.in.chunks_execute = (uintptr_t)ch;
		a.in.num_chunks_execute = 1;
		a.in.cs_flags = HL_CS_FLAGS_CUSTOM_TIMEOUT | HL_CS_FLAGS_SKIP_RESET_ON_TIMEOUT;
		a.in.timeout = 5;
		ret = xioctl(fd, cs, &a);
		tap_ok(!ret, "CUSTOM_TIMEOUT | SKIP_RESET accepted (%d)", ret);
	}
	{
		union hl_wait_cs_args w = {};

		w.in.flags = HL_WAIT_CS_FLAGS_MULTI_CS;
		tap_ok(xioctl(fd, wt, &w) == -EPERM, "multi-CS wait -> EPERM");
		w.in.flags = HL_WAIT_CS_FLAGS_INTERRUPT;
		tap_ok(xioctl(fd, wt, &w) == -EPERM, "interrupt wait -> EPERM");
	}

	/* unmap and free during a long CS: the CS keeps the memory */
	{
		size_t big = 64 * MB;
		unsigned char *hb = aligned_alloc(PAGE, big);
		u64 hva, hd, dd;

		memset(hb, 0x5a, big);
		ret = hl_map_host_cmd(fd, mem, hb, big, 0, 0, &hva);
		dd = legacy ? 0 : dram_buf(fd, big, &hd);
		if (!legacy && !ret && dd) {
			ret = hcs_copy(&e, Q_PDMA_0_0, dd, hva, big, 0, &seq);
			tap_ok(!ret, "64 MiB CS submitted");
			tap_ok(!hl_unmap(fd, hva) && !hl_unmap(fd, dd) &&
			       !hl_free(fd, hd), "UNMAP + FREE during the CS succeed");
			ret = hl_wait_cmd(fd, wt, seq, 20000000, &status, NULL);
			tap_ok(!ret && status == HL_WAIT_CS_STATUS_COMPLETED,
			       "the CS completes after its memory was unmapped");
			ret = hcs_copy(&e, Q_PDMA_0_0, dd, hva, 8, 0, &seq);
			tap_ok(ret == -EINVAL, "a CS on the unmapped memory -> EINVAL");
		}
		free(hb);
	}
	close(fd);
	free(src);
	free(dst);
	free(cb);
}

/* One submitter of test_cs_inline's threads: in-order memsets of a word */
struct inline_thread {
	int fd;
	int ok;
	u64 word_va;		/* 8 bytes of @word, mapped */
	u64 big_va;		/* INLINE_BIG bytes of @big, mapped */
	u64 word;
	unsigned char *big;
};

#define INLINE_ROUNDS	200
#define INLINE_BIG	(17 * MB)

/* hcs_copy, again while the 64 in-flight slots are taken */
static int inline_copy(struct hcs *e, u32 q, u64 dst, u64 val, u32 size,
		       u64 *seq)
{
	int ret;

	do {
		ret = hcs_copy(e, q, dst, val, size, LIN_DMA_MEMSET, seq);
		if (ret == -EAGAIN)
			usleep(1000);
	} while (ret == -EAGAIN);
	return ret;
}

static void *inline_submitter(void *arg)
{
	struct inline_thread *t = arg;
	u32 status = 0;
	u64 seq = 0, i;
	struct hcs e;
	int ret;

	ret = hcs_init(&e, t->fd, 0);
	for (i = 1; i <= INLINE_ROUNDS && !ret; i++) {
		/* every 50th a memset larger than cs_inline_mb: queued */
		if (!(i % 50))
			ret = inline_copy(&e, Q_PDMA_0_0, t->big_va, i,
					  INLINE_BIG, &seq);
		ret = ret ? ret : inline_copy(&e, Q_PDMA_0_1, t->word_va, i, 8,
					      &seq);
	}
	ret = ret ? ret : hcs_wait(&e, seq, 20000000, &status);
	t->ok = !ret && status == HL_WAIT_CS_STATUS_COMPLETED &&
		t->word == INLINE_ROUNDS && t->big[0] == INLINE_ROUNDS &&
		t->big[INLINE_BIG - 8] == INLINE_ROUNDS;
	if (!t->ok)
		printf("# submitter: %d, status %u, word %llu, big %u\n", ret,
		       status, (unsigned long long)t->word, t->big[0]);
	free(e.cb);
	return NULL;
}

/*
 * A small CS submitted to an idle context runs before the ioctl returns
 * (cs_inline_mb); one submitted behind a queued CS waits its turn.
 */
static void test_cs_inline(int accel)
{
	size_t big = 32 * MB;
	unsigned char *src = aligned_alloc(PAGE, PAGE);
	unsigned char *dst = aligned_alloc(PAGE, PAGE);
	unsigned char *bs = aligned_alloc(PAGE, big);
	unsigned char *bd = aligned_alloc(PAGE, big);
	u64 inl = read_param("cs_inline_mb"), sva, dva, bsva, bdva, seq, seq2;
	struct inline_thread t[2] = {};
	pthread_t th[2];
	u32 st, st2;
	struct hcs e;
	char val[32];
	int fd, ret, i;

	tap_ok(inl == 16, "cs_inline_mb is 16 by default (%llu)",
	       (unsigned long long)inl);
	fd = hlsim_open_compute(accel);
	fill(src, PAGE, 3);
	memset(dst, 0, PAGE);
	memset(bs, 0x11, big);
	memset(bd, 0, big);
	ret = hcs_init(&e, fd, 0);
	ret = ret ? ret : hl_map_host(fd, src, PAGE, &sva);
	ret = ret ? ret : hl_map_host(fd, dst, PAGE, &dva);
	ret = ret ? ret : hl_map_host(fd, bs, big, &bsva);
	ret = ret ? ret : hl_map_host(fd, bd, big, &bdva);
	tap_ok(!ret, "host buffers mapped (%d)", ret);

	ret = hcs_copy(&e, Q_PDMA_0_0, dva, sva, 8, 0, &seq);
	tap_ok(!ret && !memcmp(dst, src, 8),
	       "an 8-byte CS to an idle context has copied when the ioctl returns");
	ret = ret ? ret : hcs_wait(&e, seq, 0, &st);
	tap_ok(!ret && st == HL_WAIT_CS_STATUS_COMPLETED, "and polls COMPLETED");

	/* 32 MiB (> cs_inline_mb) is queued; the 8-byte memset after it too */
	ret = hcs_copy(&e, Q_PDMA_0_0, bdva, bsva, big, 0, &seq);
	ret = ret ? ret : hcs_copy(&e, Q_PDMA_0_1, bdva, 0x2222222222222222ULL,
				   8, LIN_DMA_MEMSET, &seq2);
	ret = ret ? ret : hcs_wait(&e, seq2, 0, &st2);
	ret = ret ? ret : hcs_wait(&e, seq, 0, &st);
	tap_ok(!ret && (st2 != HL_WAIT_CS_STATUS_COMPLETED ||
			st == HL_WAIT_CS_STATUS_COMPLETED),
	       "a CS behind a queued one does not complete first (%u, %u)",
	       st, st2);
	ret = ret ? ret : hcs_wait(&e, seq2, 20000000, &st2);
	ret = ret ? ret : hcs_wait(&e, seq, 0, &st);
	tap_ok(!ret && st == HL_WAIT_CS_STATUS_COMPLETED &&
	       st2 == HL_WAIT_CS_STATUS_COMPLETED && bd[0] == 0x22 &&
	       bd[7] == 0x22 && bd[8] == 0x11 && bd[big - 1] == 0x11,
	       "both complete, in submission order");

	/* cs_inline_mb=0: every CS on the workqueue */
	tap_ok(!write_param("cs_inline_mb", "0"), "cs_inline_mb=0");
	memset(dst, 0, PAGE);
	tap_ok(!hcs_copy_sync(&e, Q_PDMA_0_0, dva, sva, PAGE, 0) &&
	       !memcmp(dst, src, PAGE), "a CS on the workqueue copies");
	snprintf(val, sizeof(val), "%llu", (unsigned long long)inl);
	write_param("cs_inline_mb", val);

	/* two threads submitting to one context, small and queued CSs mixed */
	for (i = 0; i < 2; i++) {
		t[i].fd = fd;
		t[i].big = i ? bd : bs;
		t[i].big_va = i ? bdva : bsva;
		ret = hl_map_host(fd, &t[i].word, 8, &t[i].word_va);
		if (ret)
			break;
	}
	for (i = 0; i < 2 && !ret; i++)
		pthread_create(&th[i], NULL, inline_submitter, &t[i]);
	for (i = 0; i < 2 && !ret; i++)
		pthread_join(th[i], NULL);
	tap_ok(!ret && t[0].ok && t[1].ok,
	       "two threads on one context: each one's CSs run in its order");
	close(fd);
	free(src);
	free(dst);
	free(bs);
	free(bd);
	free(e.cb);
}

static void test_cs_faults(int accel)
{
	unsigned char *buf = aligned_alloc(PAGE, PAGE);
	u32 status;
	u64 hva = 0, d, seq, seqs[HLSIM_MAX_PENDING];
	struct hcs e;
	int fd, ret, i;

	fd = hlsim_open_compute(accel);
	hcs_init(&e, fd, 0);
	hl_map_host(fd, buf, PAGE, &hva);
	d = dram_buf(fd, MB, NULL);

	tap_ok(!write_param("fault_cs_disable", "2"), "fault_cs_disable=2");
	tap_ok(hcs_copy(&e, Q_PDMA_0_0, d, hva, 8, 0, &seq) == -EINVAL &&
	       hcs_copy(&e, Q_PDMA_0_0, d, hva, 8, 0, &seq) == -EINVAL,
	       "two CSs refused as on a disabled queue");
	tap_ok(!hcs_copy_sync(&e, Q_PDMA_0_0, d, hva, 8, 0) &&
	       read_param("fault_cs_disable") == 0, "then CSs run again");

	write_param("fault_cs_abort", "1");
	ret = hcs_copy(&e, Q_PDMA_0_0, d, hva, 8, 0, &seq);
	tap_ok(!ret, "CS with fault_cs_abort submitted");
	ret = hcs_wait(&e, seq, 5000000, &status);
	tap_ok(ret == -EIO && status == HL_WAIT_CS_STATUS_ABORTED,
	       "aborted CS: WAIT_CS -> EIO, ABORTED (%d, %u)", ret, status);

	write_param("cs_timeout_ms", "300");
	write_param("fault_cs_hang", "1");
	ret = hcs_copy(&e, Q_PDMA_0_0, d, hva, 8, 0, &seq);
	ret = ret ? ret : hcs_wait(&e, seq, 0, &status);
	tap_ok(!ret && status == HL_WAIT_CS_STATUS_BUSY, "hung CS: poll -> BUSY");
	ret = hcs_wait(&e, seq, 50000, &status);
	tap_ok(!ret && status == HL_WAIT_CS_STATUS_BUSY,
	       "hung CS: a 50 ms wait ends BUSY, not an error");
	ret = hcs_wait(&e, seq, 5000000, &status);
	tap_ok(ret == -ETIMEDOUT && status == HL_WAIT_CS_STATUS_TIMEDOUT,
	       "hung CS after cs_timeout_ms: -ETIMEDOUT, TIMEDOUT (%d, %u)", ret, status);

	/* 64 in flight, the 65th -> EAGAIN */
	write_param("cs_timeout_ms", "30000");
	write_param("fault_cs_hang", "64");
	ret = 0;
	for (i = 0; i < HLSIM_MAX_PENDING && !ret; i++)
		ret = hcs_copy(&e, Q_PDMA_0_0, d, hva, 8, 0, &seqs[i]);
	tap_ok(!ret, "64 hung CSs in flight");
	{
		union hl_cs_args a = {};
		struct hl_cs_chunk c;

		chunk_set(&c, e.cb_va, LIN_DMA_SIZE, 0);
		a.in.chunks_execute = (uintptr_t)&c;
		a.in.num_chunks_execute = 1;
		ret = xioctl(fd, DRM_IOCTL_HL_CS, &a);
		tap_ok(ret == -EAGAIN && a.in.chunks_execute == (uintptr_t)&c,
		       "the 65th -> EAGAIN, argument untouched");
	}
	tap_ok(read_param("fault_cs_hang") == 0, "fault counter consumed");
	/* close with hung and running CSs */
	write_param("fault_cs_hang", "0");
	close(fd);
	tap_ok(1, "close with 64 CSs in flight returns");
	write_param("cs_timeout_ms", "30000");

	/* close while a long copy runs */
	fd = hlsim_open_compute(accel);
	{
		size_t big = 128 * MB;
		unsigned char *hb = aligned_alloc(PAGE, big);
		u64 dd;

		memset(hb, 1, big);
		hcs_init(&e, fd, 0);
		ret = hl_map_host(fd, hb, big, &hva);
		dd = dram_buf(fd, big, NULL);
		ret = ret ? ret : hcs_copy(&e, Q_PDMA_0_0, dd, hva, big, 0, &seq);
		tap_ok(!ret && dd, "128 MiB CS in flight");
		close(fd);
		tap_ok(1, "close with a running CS returns");
		fd = hlsim_open_compute(accel);
		tap_ok(fd >= 0, "device opens again");
		close(fd);
		free(hb);
	}
	free(buf);
}

static void test_userptr_limits(int accel)
{
	u64 nmax = read_param("max_userptr_per_ctx");
	u64 mb = read_param("max_pinned_mb_per_ctx");
	unsigned char *buf = aligned_alloc(PAGE, (mb + 1) * MB);
	u64 va, i;
	int fd = hlsim_open_compute(accel), ret = 0;

	for (i = 0; i < nmax && !ret; i++)
		ret = hl_map_host(fd, buf + i * PAGE, 1, &va);
	tap_ok(!ret, "%llu USERPTR mappings", (unsigned long long)nmax);
	tap_ok(hl_map_host(fd, buf, 1, &va) == -ENOMEM,
	       "one more -> ENOMEM (max_userptr_per_ctx)");
	close(fd);
	fd = hlsim_open_compute(accel);
	tap_ok(!hl_map_host(fd, buf, mb * MB, &va), "%llu MiB pinned",
	       (unsigned long long)mb);
	tap_ok(hl_map_host(fd, buf, 1, &va) == -ENOMEM,
	       "one page more -> ENOMEM (max_pinned_mb_per_ctx)");
	close(fd);
	free(buf);
}

int main(int argc, char **argv)
{
	int legacy = argc > 1 && !strcmp(argv[1], "--legacy");
	int mmap_only = argc > 1 && !strcmp(argv[1], "--mmap");
	int limits = argc > 1 && !strcmp(argv[1], "--limits");
	int accel = hlsim_accel_index(0), accel2 = hlsim_accel_index(1);

	setvbuf(stdout, NULL, _IOLBF, 0);
	dram_size = read_param("hbm_mb") * MB;
	imp = open("/dev/hlsim_import_test", O_RDWR | O_CLOEXEC);
	if (!tap_ok((legacy || accel >= 0) && dram_size && imp >= 0,
		    "hlsim (accel%d) and the test importer are present", accel))
		return tap_done();

	if (legacy) {
		test_legacy();
		test_cs(-1, 1);
		return tap_done();
	}
	if (mmap_only) {
		test_mmap(accel);
		return tap_done();
	}
	if (limits) {
		test_limits(accel);
		test_userptr_limits(accel);
		return tap_done();
	}
	if (argc > 1 && !strcmp(argv[1], "--many")) {
		test_many_maps(accel, 0);
		test_many_maps(accel, 1);
		return tap_done();
	}
	if (argc > 1 && !strcmp(argv[1], "--copy-unlocked")) {
		test_copy_unlocked(accel);
		return tap_done();
	}
	test_info(accel);
	test_open(accel, accel2);
	test_alloc_map(accel);
	test_export(accel);
	test_export_outlives_fd(accel);
	test_copy(accel);
	test_bad_ops(accel);
	test_race(accel);
	test_many_maps(accel, 0);
	test_many_maps(accel, 1);
	test_copy_unlocked(accel);
	test_memcg(accel);
	test_userptr(accel);
	test_cs(accel, 0);
	test_cs_inline(accel);
	test_cs_faults(accel);
	return tap_done();
}
