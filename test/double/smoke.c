/*
 * Smoke test of the hl_double preload library.
 *
 *   LD_PRELOAD=libhl_double.so [HL_DOUBLE_...=...] smoke <case>
 *
 * Each case talks to the double through plain libc calls, like product
 * code, and exits non-zero on the first failed check.  run-smoke.sh runs
 * every case for both ABIs with the environment the case expects.
 */
#define _GNU_SOURCE
#include "hl_double.h"

#include <src/common/habana_uapi.h>
#include "kernel/include/uapi/hlsim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define DRAM_BASE		HABANA_VA_START

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: %s: check failed: %s (errno %d "\
			"%s)\n", __FILE__, __LINE__, __func__, #cond,	\
			errno, strerror(errno));			\
		exit(1);						\
	}								\
} while (0)

#define CHECK_ERR(expr, err) do {					\
	errno = 0;							\
	CHECK((expr) == -1 && errno == (err));				\
} while (0)

static int misc;
static uint64_t page;

static const char *node_path(int control, int dev)
{
	static char buf[4][64];
	static int slot;
	char *p = buf[slot++ % 4];

	if (misc)
		snprintf(p, 64, control ? "/dev/hl_controlD%d" : "/dev/hl%d", dev);
	else
		snprintf(p, 64, control ? "/dev/accel/accel_controlD%d"
				       : "/dev/accel/accel%d", dev);
	return p;
}

static const char *sys_path(int dev, const char *sub)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "%s%d%s", misc ? "/sys/class/habanalabs/hl"
		 : "/sys/class/accel/accel", dev, sub);
	return buf;
}

static unsigned long req_info(void)
{
	return misc ? HABANA_LEGACY_INFO : DRM_IOCTL_HL_INFO;
}

static unsigned long req_memory(void)
{
	return misc ? HABANA_LEGACY_MEMORY : DRM_IOCTL_HL_MEMORY;
}

static unsigned long req_copy(void)
{
	return misc ? HLSIM_IOCTL_DMA_COPY_LEGACY : HLSIM_IOCTL_DMA_COPY;
}

static int open_compute(int dev)
{
	return open(node_path(0, dev), O_RDWR | O_CLOEXEC);
}

static int info(int fd, uint32_t op, void *out, uint32_t size)
{
	struct hl_info_args a = {
		.return_pointer = (uintptr_t)out, .return_size = size, .op = op,
	};

	return ioctl(fd, req_info(), &a);
}

static int mem(int fd, union hl_mem_args *a)
{
	return ioctl(fd, req_memory(), a);
}

static int alloc(int fd, uint64_t size, uint64_t *handle)
{
	union hl_mem_args a = { .in.op = HL_MEM_OP_ALLOC,
				.in.alloc.mem_size = size };
	int rc = mem(fd, &a);

	*handle = a.out.handle;
	return rc;
}

static int map(int fd, uint64_t handle, uint64_t *va)
{
	union hl_mem_args a = { .in.op = HL_MEM_OP_MAP,
				.in.map_device.handle = handle };
	int rc = mem(fd, &a);

	*va = a.out.device_virt_addr;
	return rc;
}

static int unmap(int fd, uint64_t va)
{
	union hl_mem_args a = { .in.op = HL_MEM_OP_UNMAP,
				.in.unmap.device_virt_addr = va };

	return mem(fd, &a);
}

static int free_handle(int fd, uint64_t handle)
{
	union hl_mem_args a = { .in.op = HL_MEM_OP_FREE,
				.in.free.handle = handle };

	return mem(fd, &a);
}

/* accel: {addr, size, offset}; misc: {handle, size} */
static int export(int fd, uint64_t addr_or_handle, uint64_t size,
		  uint64_t offset)
{
	union hl_mem_args a = { .in.op = HL_MEM_OP_EXPORT_DMABUF_FD,
				.in.flags = O_RDWR | O_CLOEXEC };

	a.in.export_dmabuf_fd.addr = addr_or_handle;
	a.in.export_dmabuf_fd.mem_size = size;
	a.in.export_dmabuf_fd.offset = offset;
	if (mem(fd, &a) != 0)
		return -1;
	return a.out.fd;
}

static int dma(int fd, uint32_t dir, uint64_t dst, uint64_t src, uint64_t n)
{
	struct hlsim_dma_copy c = { .dst = dst, .src = src, .size = n,
				    .dir = dir };

	return ioctl(fd, req_copy(), &c);
}

static uint64_t dram_free(int fd)
{
	struct hl_info_dram_usage u;

	CHECK(info(fd, HL_INFO_DRAM_USAGE, &u, sizeof(u)) == 0);
	return u.dram_free_mem;
}

/* ---- cases ---------------------------------------------------------------- */

static void case_devices(void)
{
	int n = atoi(getenv("HL_DOUBLE_DEVICES") ? getenv("HL_DOUBLE_DEVICES")
						 : "1");
	struct stat st;

	for (int i = 0; i < n; i++) {
		CHECK(stat(node_path(0, i), &st) == 0 && S_ISCHR(st.st_mode));
		CHECK(stat(node_path(1, i), &st) == 0 && S_ISCHR(st.st_mode));
		CHECK(access(node_path(0, i), R_OK | W_OK) == 0);
		CHECK(stat(sys_path(i, ""), &st) == 0 && S_ISDIR(st.st_mode));
	}
	CHECK_ERR(stat(node_path(0, n), &st), ENOENT);
	CHECK_ERR(access(node_path(1, n), F_OK), ENOENT);
	CHECK_ERR(open(node_path(0, n), O_RDWR), ENOENT);
	/* the other generation's nodes are absent */
	CHECK_ERR(access(misc ? "/dev/accel/accel0" : "/dev/hl0", F_OK),
		  ENOENT);
}

static void case_ebusy(void)
{
	int fd = open_compute(0), fd2, c1, c2;

	CHECK(fd >= 0);
	CHECK_ERR(open_compute(0), EBUSY);
	c1 = open(node_path(1, 0), O_RDWR);
	c2 = open(node_path(1, 0), O_RDWR);
	CHECK(c1 >= 0 && c2 >= 0 && c1 != c2);
	/* a dup keeps the device open */
	fd2 = dup(fd);
	CHECK(fd2 >= 0 && close(fd) == 0);
	CHECK_ERR(open_compute(0), EBUSY);
	CHECK(hl_double_compute_fd(0) == fd2);
	CHECK(close(fd2) == 0);
	CHECK(hl_double_compute_fd(0) == -1);
	fd = open_compute(0);
	CHECK(fd >= 0);
	CHECK(close(fd) == 0 && close(c1) == 0 && close(c2) == 0);
}

static void case_busy_env(void)
{
	int c = open(node_path(1, 0), O_RDWR);

	CHECK_ERR(open_compute(0), EBUSY);
	CHECK(c >= 0 && close(c) == 0);
	CHECK(hl_double_set("HL_DOUBLE_BUSY", 0) == 0);
	c = open_compute(0);
	CHECK(c >= 0 && close(c) == 0);
}

static void case_info(void)
{
	struct hl_info_hw_ip_info hw;
	struct hl_info_device_status status;
	unsigned char small[16];
	uint64_t handle;
	int c = open(node_path(1, 0), O_RDWR), fd = open_compute(0);

	CHECK(c >= 0 && fd >= 0);
	memset(&hw, 0, sizeof(hw));
	CHECK(info(c, HL_INFO_HW_IP_INFO, &hw, sizeof(hw)) == 0);
	CHECK(hw.device_id == 0x1020 && hw.dram_base_address == DRAM_BASE);
	CHECK(hw.dram_page_size == page && hw.dram_size == 256ULL << 20);
	CHECK(hw.device_mem_alloc_default_page_size == page);
	/* return_size smaller than the struct: only that much is written */
	memset(small, 0xa5, sizeof(small));
	CHECK(info(fd, HL_INFO_HW_IP_INFO, small, 8) == 0);
	CHECK(small[8] == 0xa5 && small[15] == 0xa5);
	CHECK_ERR(info(fd, HL_INFO_HW_IP_INFO, NULL, sizeof(hw)), EINVAL);
	CHECK_ERR(info(fd, 9999, &hw, sizeof(hw)), EINVAL);
	CHECK(info(c, HL_INFO_DEVICE_STATUS, &status, sizeof(status)) == 0);
	CHECK(status.status == HL_DEVICE_STATUS_OPERATIONAL);
	CHECK(dram_free(c) == 256ULL << 20);
	CHECK(alloc(fd, 1, &handle) == 0);
	CHECK(dram_free(c) == (256ULL << 20) - page);
	/* the control node serves INFO only */
	CHECK_ERR(alloc(c, page, &handle), ENOTTY);
	if (!misc) {
		char name[32] = "";
		struct drm_version v = { .name = name,
					 .name_len = sizeof(name) - 1 };

		CHECK(ioctl(fd, DRM_IOCTL_VERSION, &v) == 0);
		CHECK(strcmp(name, "habanalabs") == 0 && v.name_len == 10);
	}
	CHECK(close(fd) == 0);
	CHECK(dram_free(c) == 256ULL << 20);	/* context released */
	CHECK(close(c) == 0);
}

static void check_alloc_map(int fd, uint64_t *h, uint64_t *va)
{
	uint64_t h2, va2;

	CHECK(alloc(fd, 3 * page + 1, h) == 0 && *h != 0);
	CHECK(map(fd, *h, va) == 0);
	CHECK(*va >= DRAM_BASE && *va % page == 0);
	CHECK(alloc(fd, page, &h2) == 0 && h2 != *h);
	CHECK(map(fd, h2, &va2) == 0);
	CHECK(va2 >= *va + 4 * page || va2 + page <= *va);	/* disjoint */
	CHECK(unmap(fd, va2) == 0 && free_handle(fd, h2) == 0);
	CHECK_ERR(free_handle(fd, *h), EINVAL);		/* still mapped */
	CHECK_ERR(free_handle(fd, 777), EINVAL);
	CHECK_ERR(unmap(fd, *va + page), EINVAL);	/* not a base VA */
	CHECK_ERR(alloc(fd, 512ULL << 20, &h2), ENOMEM);
	CHECK_ERR(alloc(fd, 0, &h2), EINVAL);
}

static void case_export_accel(int fd, uint64_t h, uint64_t va)
{
	int buf, dup1;

	CHECK_ERR(export(fd, va + page, page, 0), EINVAL);	/* not base */
	CHECK_ERR(export(fd, va, page, 1), EINVAL);		/* alignment */
	CHECK_ERR(export(fd, va, page + 1, 0), EINVAL);
	CHECK_ERR(export(fd, va, 4 * page, page), EINVAL);	/* too long */
	CHECK_ERR(export(fd, va, 0, 0), EINVAL);
	buf = export(fd, va, 2 * page, page);
	CHECK(buf >= 0);
	CHECK(hl_double_export_count() == 1 && hl_double_live_exports() == 1);
	dup1 = dup(buf);
	CHECK(dup1 >= 0 && close(buf) == 0);
	CHECK_ERR(unmap(fd, va), EINVAL);	/* a dup is still open */
	CHECK(hl_double_live_exports() == 1);
	CHECK(close(dup1) == 0);
	CHECK(unmap(fd, va) == 0);		/* released lazily */
	CHECK(hl_double_live_exports() == 0);
	CHECK(free_handle(fd, h) == 0);
}

static void case_export_misc(int fd, uint64_t h, uint64_t va)
{
	int buf, dup1;
	uint64_t info_va, info_size;

	CHECK_ERR(export(fd, h + 100, 0, 0), EINVAL);	/* unknown handle */
	buf = export(fd, h, 0, 0);
	CHECK(buf >= 0);
	CHECK(hl_double_dmabuf_info(buf, &info_va, &info_size) == 0);
	CHECK(info_va == va && info_size == 4 * page);
	CHECK(hl_double_export_count() == 1 && hl_double_live_exports() == 1);
	dup1 = dup(buf);
	CHECK(dup1 >= 0 && close(buf) == 0);
	CHECK(unmap(fd, va) == 0);		/* misc exports pin the handle */
	CHECK_ERR(free_handle(fd, h), EINVAL);
	CHECK(close(dup1) == 0);
	CHECK(free_handle(fd, h) == 0);
	CHECK(hl_double_live_exports() == 0);
}

static void case_memory(void)
{
	int fd = open_compute(0);
	uint64_t h, va;

	CHECK(fd >= 0);
	check_alloc_map(fd, &h, &va);
	if (misc)
		case_export_misc(fd, h, va);
	else
		case_export_accel(fd, h, va);
	hl_double_reset_counters();
	CHECK(hl_double_export_count() == 0);
	CHECK(close(fd) == 0);
}

/* An export outlives the compute descriptor and keeps the device busy */
static void case_export_pins(void)
{
	int fd = open_compute(0), buf;
	uint64_t h, va;

	CHECK(fd >= 0 && alloc(fd, page, &h) == 0 && map(fd, h, &va) == 0);
	buf = export(fd, misc ? h : va, page, 0);
	CHECK(buf >= 0 && close(fd) == 0);
	CHECK_ERR(open_compute(0), EBUSY);
	CHECK(close(buf) == 0);
	fd = open_compute(0);
	CHECK(fd >= 0 && close(fd) == 0);
}

static void case_copy(void)
{
	int fd = open_compute(0), c = open(node_path(1, 0), O_RDWR);
	char out[4096], in[4096], back[4096];
	uint64_t h, va, h2, va2;

	CHECK(fd >= 0 && c >= 0);
	CHECK(alloc(fd, page, &h) == 0 && map(fd, h, &va) == 0);
	CHECK(alloc(fd, page, &h2) == 0 && map(fd, h2, &va2) == 0);
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7 + 3);
	CHECK(dma(fd, HLSIM_COPY_HOST_TO_DEVICE, va + 100, (uintptr_t)out,
		  sizeof(out)) == 0);
	CHECK(dma(fd, HLSIM_COPY_DEVICE_TO_DEVICE, va2 + 5, va + 100,
		  sizeof(out)) == 0);
	memset(in, 0, sizeof(in));
	CHECK(dma(fd, HLSIM_COPY_DEVICE_TO_HOST, (uintptr_t)in, va2 + 5,
		  sizeof(in)) == 0);
	CHECK(memcmp(in, out, sizeof(in)) == 0);
	/* device range outside a mapping, bad host pointer, bad args */
	CHECK_ERR(dma(fd, HLSIM_COPY_HOST_TO_DEVICE, va + page - 8,
		      (uintptr_t)out, 16), EINVAL);
	CHECK_ERR(dma(fd, HLSIM_COPY_DEVICE_TO_HOST, (uintptr_t)in, va - page,
		      16), EINVAL);
	CHECK_ERR(dma(fd, HLSIM_COPY_HOST_TO_DEVICE, va, (uintptr_t)out, 0),
		  EINVAL);
	CHECK_ERR(dma(fd, HLSIM_COPY_HOST_TO_DEVICE, va, 16, 16), EFAULT);
	CHECK_ERR(dma(fd, 7, va, va2, 16), EINVAL);
	CHECK_ERR(dma(c, HLSIM_COPY_DEVICE_TO_HOST, (uintptr_t)in, va, 16),
		  ENOTTY);
	/* the test helpers see the same memory */
	CHECK(hl_double_memcpy_d2h(back, (void *)(uintptr_t)(va + 100),
				   sizeof(back)) == 0);
	CHECK(memcmp(back, out, sizeof(back)) == 0);
	CHECK(close(fd) == 0 && close(c) == 0);
}

static void case_no_export(void)
{
	int fd = open_compute(0);
	uint64_t h, va;

	CHECK(fd >= 0 && alloc(fd, page, &h) == 0 && map(fd, h, &va) == 0);
	CHECK_ERR(export(fd, misc ? h : va, page, 0), EINVAL);
	CHECK(hl_double_export_count() == 0);
	CHECK(close(fd) == 0);
}

static void case_export_errno(void)
{
	int fd = open_compute(0), buf;
	uint64_t h, va;

	CHECK(fd >= 0 && alloc(fd, page, &h) == 0 && map(fd, h, &va) == 0);
	CHECK_ERR(export(fd, misc ? h : va, page, 0), EOPNOTSUPP);
	CHECK(hl_double_set("HL_DOUBLE_EXPORT_ERRNO", 0) == 0);
	buf = export(fd, misc ? h : va, page, 0);
	CHECK(buf >= 0 && close(buf) == 0 && close(fd) == 0);
}

/* Find a compute descriptor by device number, as product code does */
static int scan_for_rdev(dev_t rdev)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = -1;

	CHECK(d != NULL);
	while ((e = readdir(d)) != NULL && found < 0) {
		struct stat st;
		int fd = atoi(e->d_name);

		if (e->d_name[0] != '.' && fd != dirfd(d) &&
		    fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) &&
		    st.st_rdev == rdev)
			found = fd;
	}
	closedir(d);
	return found;
}

static void case_rdev(void)
{
	struct stat st, fst, pst, cst;
	struct statx sx;
	char link[64], proc[64];
	int fd = open_compute(0), c = open(node_path(1, 0), O_RDONLY);
	ssize_t n;

	CHECK(fd >= 0 && c >= 0);
	CHECK(stat(node_path(0, 0), &st) == 0 && fstat(fd, &fst) == 0);
	CHECK(S_ISCHR(fst.st_mode) && st.st_rdev == fst.st_rdev);
	CHECK(stat(node_path(1, 0), &cst) == 0 && cst.st_rdev != st.st_rdev);
	CHECK(fstat(c, &fst) == 0 && fst.st_rdev == cst.st_rdev);
	CHECK(major(st.st_rdev) == (misc ? 240u : 261u));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	CHECK(stat(proc, &pst) == 0 && pst.st_rdev == st.st_rdev);
	n = readlink(proc, link, sizeof(link) - 1);
	CHECK(n > 0);
	link[n] = '\0';
	CHECK(strcmp(link, node_path(0, 0)) == 0);
	CHECK(statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) == 0);
	CHECK(S_ISCHR(sx.stx_mode) &&
	      makedev(sx.stx_rdev_major, sx.stx_rdev_minor) == st.st_rdev);
	CHECK(statx(AT_FDCWD, node_path(0, 0), 0, STATX_BASIC_STATS, &sx) == 0);
	CHECK(makedev(sx.stx_rdev_major, sx.stx_rdev_minor) == st.st_rdev);
	CHECK(scan_for_rdev(st.st_rdev) == fd);
	CHECK(close(fd) == 0 && close(c) == 0);
	CHECK(scan_for_rdev(st.st_rdev) == -1);
}

static void case_sysfs(void)
{
	char buf[128];
	const char *want_numa = getenv("HL_DOUBLE_NUMA") ? getenv("HL_DOUBLE_NUMA")
							 : "0";
	ssize_t n;
	FILE *f;
	int fd;

	n = readlink(sys_path(0, "/device"), buf, sizeof(buf) - 1);
	CHECK(n > 0);
	buf[n] = '\0';
	CHECK(strcmp(strrchr(buf, '/') + 1, "0000:3a:00.0") == 0);
	n = readlink(sys_path(0, "/device/driver"), buf, sizeof(buf) - 1);
	CHECK(n > 0);
	buf[n] = '\0';
	CHECK(strcmp(strrchr(buf, '/') + 1, "habanalabs") == 0);
	fd = open(sys_path(0, "/device/numa_node"), O_RDONLY);
	CHECK(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	CHECK(n > 0 && close(fd) == 0);
	buf[n] = '\0';
	CHECK(atoi(buf) == atoi(want_numa) && buf[n - 1] == '\n');
	f = fopen(sys_path(0, "/device/vendor"), "re");
	CHECK(f != NULL && fgets(buf, sizeof(buf), f) != NULL);
	CHECK(strcmp(buf, "0x1da3\n") == 0 && fclose(f) == 0);
	CHECK(fopen(sys_path(0, "/device/vendor"), "w") == NULL);
	CHECK_ERR(readlink(sys_path(0, "/device/bogus"), buf, sizeof(buf)),
		  ENOENT);
	if (getenv("HL_DOUBLE_DEVICES") && atoi(getenv("HL_DOUBLE_DEVICES")) > 1) {
		n = readlink(sys_path(1, "/device"), buf, sizeof(buf) - 1);
		CHECK(n > 0);
		buf[n] = '\0';
		CHECK(strcmp(strrchr(buf, '/') + 1, "0000:3b:00.0") == 0);
	}
}

static void case_helpers(void)
{
	int fd = open_compute(0);	/* "the runtime" opened it */
	char out[1000], in[1000];
	uint64_t va_info, size_info;
	void *a, *b;

	CHECK(fd >= 0);
	a = hl_double_alloc(0, 1000);
	b = hl_double_alloc(0, 3 * page);
	CHECK(a != NULL && b != NULL && a != b);
	CHECK((uintptr_t)a >= DRAM_BASE);
	CHECK(hl_double_compute_fd(0) == fd);	/* reused, no EBUSY */
	memset(out, 0x5c, sizeof(out));
	CHECK(hl_double_memcpy_h2d(a, out, sizeof(out)) == 0);
	CHECK(hl_double_memcpy_d2d((char *)b + 1, a, sizeof(out)) == 0);
	CHECK(hl_double_memcpy_d2h(in, (char *)b + 1, sizeof(in)) == 0);
	CHECK(memcmp(in, out, sizeof(in)) == 0);
	CHECK_ERR(hl_double_memcpy_h2d((char *)a + page - 10, out, 20),
		  EFAULT);
	CHECK_ERR(hl_double_dmabuf_info(fd, &va_info, &size_info), EBADF);
	CHECK(hl_double_free(a) == 0 && hl_double_free(b) == 0);
	CHECK_ERR(hl_double_free(a), EINVAL);
	CHECK(close(fd) == 0);
	/* without a runtime: the helper opens the node itself */
	a = hl_double_alloc(0, 10);
	CHECK(a != NULL && hl_double_compute_fd(0) >= 0);
	CHECK_ERR(open_compute(0), EBUSY);
	CHECK(hl_double_free(a) == 0);
	CHECK(hl_double_alloc(99, 10) == NULL);
}

struct worker {
	int	id;
	int	ok;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char out[256], in[256];
	struct stat st;

	w->ok = 1;
	for (int i = 0; i < 200 && w->ok; i++) {
		void *va = hl_double_alloc(0, sizeof(out));

		memset(out, w->id + i, sizeof(out));
		w->ok = va != NULL &&
			hl_double_memcpy_h2d(va, out, sizeof(out)) == 0 &&
			hl_double_memcpy_d2h(in, va, sizeof(in)) == 0 &&
			memcmp(in, out, sizeof(in)) == 0 &&
			stat(node_path(0, 0), &st) == 0 &&
			hl_double_free(va) == 0;
	}
	return NULL;
}

static void case_threads(void)
{
	struct worker w[8];
	pthread_t t[8];
	int fd = open_compute(0);

	CHECK(fd >= 0);
	for (int i = 0; i < 8; i++) {
		w[i].id = i;
		CHECK(pthread_create(&t[i], NULL, worker_main, &w[i]) == 0);
	}
	for (int i = 0; i < 8; i++) {
		CHECK(pthread_join(t[i], NULL) == 0);
		CHECK(w[i].ok);
	}
	CHECK(dram_free(fd) == 256ULL << 20);
	CHECK(close(fd) == 0);
}

/* ---- host mappings and command submission ------------------------------- */

#define LIN_DMA_CTL		(HABANA_PKT_CTL(HABANA_PKT_LIN_DMA) | HABANA_PKT_EB | \
				 HABANA_PKT_MB)

static int map_host(int fd, const void *p, uint64_t size, uint64_t *va)
{
	union hl_mem_args a = { .in.op = HL_MEM_OP_MAP,
				.in.flags = HL_MEM_USERPTR };
	int rc;

	a.in.map_host.host_virt_addr = (uintptr_t)p;
	a.in.map_host.mem_size = size;
	rc = mem(fd, &a);
	*va = a.out.device_virt_addr;
	return rc;
}

/* One LIN_DMA in the CB (host @cb, device VA @cb_va), on @queue */
static int cs_copy(int fd, void *cb, uint64_t cb_va, uint32_t queue,
		   uint64_t dst, uint64_t src, uint32_t n, uint64_t *seq)
{
	struct habana_pkt_lin_dma p = { n, LIN_DMA_CTL, src, dst };
	struct hl_cs_chunk c = { .cb_handle = cb_va, .queue_index = queue,
				 .cb_size = sizeof(p),
				 .cs_chunk_flags = HL_CS_CHUNK_FLAGS_USER_ALLOC_CB };
	union hl_cs_args a;
	int rc;

	memcpy(cb, &p, sizeof(p));
	memset(&a, 0, sizeof(a));
	a.in.chunks_execute = (uintptr_t)&c;
	a.in.num_chunks_execute = 1;
	rc = ioctl(fd, misc ? HABANA_LEGACY_CS : DRM_IOCTL_HL_CS, &a);
	*seq = a.out.seq;
	return rc;
}

static int wait_cs(int fd, uint64_t seq, uint64_t timeout_us,
		   uint32_t *status)
{
	union hl_wait_cs_args a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.in.seq = seq;
	a.in.timeout_us = timeout_us;
	rc = ioctl(fd, misc ? HABANA_LEGACY_WAIT_CS : DRM_IOCTL_HL_WAIT_CS, &a);
	*status = a.out.status;
	return rc;
}

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void case_cs(void)
{
	int fd = open_compute(0);
	unsigned char *host = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *cb = host + 3 * 4096, *gone;
	uint64_t h, dev, hva, cbva, gva, seq, seq2;
	uint32_t st;
	int64_t t0;

	CHECK(fd >= 0 && host != MAP_FAILED);
	CHECK(alloc(fd, page, &h) == 0 && map(fd, h, &dev) == 0);
	CHECK(map_host(fd, host + 1, 2 * 4096, &hva) == 0);
	CHECK(hva >= HABANA_HOST_VA_START && (hva & 0xfff) == 1);
	CHECK(map_host(fd, cb, 4096, &cbva) == 0);
	for (int i = 0; i < 4096; i++)
		host[1 + i] = (unsigned char)(i * 13);

	/* host -> device -> host, checked */
	CHECK(cs_copy(fd, cb, cbva, 0, dev, hva, 4096, &seq) == 0);
	CHECK(wait_cs(fd, seq, 0, &st) == 0 && st == HL_WAIT_CS_STATUS_COMPLETED);
	CHECK(cs_copy(fd, cb, cbva, 4, hva + 4096, dev, 4096, &seq2) == 0);
	CHECK(seq2 == seq + 1);
	CHECK(wait_cs(fd, seq2, 1000, &st) == 0 &&
	      st == HL_WAIT_CS_STATUS_COMPLETED);
	CHECK(memcmp(host + 1, host + 1 + 4096, 4096) == 0);
	/* refusals */
	CHECK_ERR(cs_copy(fd, cb, cbva, 2, dev, hva, 64, &seq), EINVAL);
	CHECK(seq == UINT64_MAX);
	CHECK_ERR(cs_copy(fd, cb, cbva + 4096, 0, dev, hva, 64, &seq), EFAULT);
	CHECK_ERR(cs_copy(fd, cb, cbva, 0, dev, hva + 8192, 64, &seq), EINVAL);
	CHECK_ERR(wait_cs(fd, seq2 + 100, 0, &st), EINVAL);

	/* HL_DOUBLE_CS_DISABLE: the next CS fails as on a disabled queue */
	CHECK(hl_double_set("HL_DOUBLE_CS_DISABLE", 1) == 0);
	CHECK_ERR(cs_copy(fd, cb, cbva, 0, dev, hva, 64, &seq), EINVAL);
	CHECK(cs_copy(fd, cb, cbva, 0, dev, hva, 64, &seq) == 0);
	/* HL_DOUBLE_CS_ABORT: accepted, nothing copied, WAIT_CS EIO */
	memset(host + 1 + 4096, 0, 4096);
	CHECK(hl_double_set("HL_DOUBLE_CS_ABORT", 1) == 0);
	CHECK(cs_copy(fd, cb, cbva, 4, hva + 4096, dev, 4096, &seq) == 0);
	CHECK_ERR(wait_cs(fd, seq, 0, &st), EIO);
	CHECK(st == HL_WAIT_CS_STATUS_ABORTED && host[2 + 4096] == 0);
	/* HL_DOUBLE_CS_HANG: BUSY until the CS timeout, then TIMEDOUT */
	CHECK(hl_double_set("HL_DOUBLE_CS_TIMEOUT_MS", 300) == 0);
	CHECK(hl_double_set("HL_DOUBLE_CS_HANG", 1) == 0);
	CHECK(cs_copy(fd, cb, cbva, 4, hva + 4096, dev, 4096, &seq) == 0);
	CHECK(wait_cs(fd, seq, 0, &st) == 0 && st == HL_WAIT_CS_STATUS_BUSY);
	t0 = ms_now();
	CHECK(wait_cs(fd, seq, 50000, &st) == 0 && st == HL_WAIT_CS_STATUS_BUSY);
	CHECK(ms_now() - t0 >= 40);
	CHECK_ERR(wait_cs(fd, seq, 5000000, &st), ETIMEDOUT);
	CHECK(st == HL_WAIT_CS_STATUS_TIMEDOUT && ms_now() - t0 < 2000);
	CHECK(host[2 + 4096] == 0);
	/* 64 hung CSs fill the in-flight table: the 65th is EAGAIN */
	CHECK(hl_double_set("HL_DOUBLE_CS_HANG", 64) == 0);
	for (int i = 0; i < 64; i++)
		CHECK(cs_copy(fd, cb, cbva, 0, dev, hva, 64, &seq) == 0);
	CHECK_ERR(cs_copy(fd, cb, cbva, 0, dev, hva, 64, &seq2), EAGAIN);
	CHECK_ERR(wait_cs(fd, seq, 2000000, &st), ETIMEDOUT);
	CHECK(cs_copy(fd, cb, cbva, 0, dev, hva, 64, &seq2) == 0 &&
	      seq2 == seq + 1);
	CHECK(wait_cs(fd, seq2, 0, &st) == 0 && st == HL_WAIT_CS_STATUS_COMPLETED);

	/* host memory unmapped after the MAP: the double cannot pin, the
	 * CS ends aborted instead of reading freed pages */
	gone = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(gone != MAP_FAILED && map_host(fd, gone, 4096, &gva) == 0);
	CHECK(munmap(gone, 4096) == 0);
	CHECK(cs_copy(fd, cb, cbva, 0, dev, gva, 64, &seq) == 0);
	CHECK_ERR(wait_cs(fd, seq, 0, &st), EIO);

	/* exact-VA unmap; the context's host mappings go with it */
	CHECK_ERR(unmap(fd, hva - 1), EINVAL);
	CHECK(unmap(fd, hva) == 0);
	CHECK(close(fd) == 0);
	fd = open_compute(0);
	CHECK(fd >= 0 && map_host(fd, host, 4096, &gva) == 0);
	CHECK(gva == (hva & ~0xfffULL));
	CHECK(close(fd) == 0);
	munmap(host, 4 * 4096);
}

static const struct {
	const char	*name;
	void		(*run)(void);
} cases[] = {
	{ "devices", case_devices },	 { "ebusy", case_ebusy },
	{ "busy_env", case_busy_env },	 { "info", case_info },
	{ "memory", case_memory },	 { "export_pins", case_export_pins },
	{ "copy", case_copy },		 { "no_export", case_no_export },
	{ "export_errno", case_export_errno }, { "rdev", case_rdev },
	{ "sysfs", case_sysfs },	 { "helpers", case_helpers },
	{ "threads", case_threads },	 { "cs", case_cs },
};

int main(int argc, char **argv)
{
	const char *abi = getenv("HL_DOUBLE_ABI");
	const char *ps = getenv("HL_DOUBLE_PAGE_SIZE");

	misc = abi != NULL && strcmp(abi, "misc") == 0;
	page = ps != NULL ? strtoull(ps, NULL, 0) : 64 * 1024;
	for (size_t i = 0; argc == 2 && i < sizeof(cases) / sizeof(cases[0]);
	     i++) {
		if (strcmp(argv[1], cases[i].name) == 0) {
			cases[i].run();
			return 0;
		}
	}
	fprintf(stderr, "usage: %s CASE (unknown case)\n", argv[0]);
	return 2;
}
