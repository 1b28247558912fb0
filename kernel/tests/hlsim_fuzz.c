// SPDX-License-Identifier: GPL-2.0
/*
 * Randomized ioctl fuzzer for hlsim.ko (TAP summary at the end).
 *
 *   hlsim_fuzz [-n CALLS] [-s SEED] [-d NTH] [--legacy]
 *
 * NTH selects the hlsim device (module order, default 0) for accel nodes.
 *
 * Mixes valid sequences (alloc, map, export, import, copy, unmap, free) with
 * random and boundary arguments for every operation, raw ioctls with random
 * numbers and sizes, mmap attempts, closes and reopens.  Host pointers are
 * only ever NULL, non-canonical, kernel addresses or inside a buffer that is
 * followed by a PROT_NONE guard, so a kernel bug cannot silently corrupt the
 * fuzzer.  At the end every descriptor is closed and DRAM_USAGE must show
 * the whole HBM free again.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include "hlsim_tap.h"

#define VA_BASE		0x1001000000000000ULL
#define VA_LAST		(VA_BASE + (1ULL << 48) - 1)
#define PAGE		4096ULL
#define MB		(1024ULL * 1024)
#define HOST_BUF	(8 * MB)
#define SLOTS		48

#define LEGACY_INFO	_IOWR('H', 0x01, struct hl_info_args)
#define LEGACY_MEMORY	_IOWR('H', 0x05, union hl_mem_args)

struct slot_map {
	u64 va;
	u64 size;
};

static struct {
	int legacy;
	int accel;
	int fd;			/* compute */
	int ctl;		/* control */
	int imp;		/* test importer, or -1 */
	int held;		/* importer holds a mapping */
	u64 dram_size;
	u64 handles[SLOTS];
	u64 hsize[SLOTS];
	struct slot_map maps[SLOTS];
	int dmabufs[SLOTS];
	unsigned char *host;	/* HOST_BUF bytes, then a guard */
	unsigned char *scratch;	/* 64 KiB for INFO and raw ioctls */
} st;

static unsigned long long calls, ok_calls, unexpected, mmap_ok, second_open;
/* with test_dmabuf_mmap=1 dma-bufs may be mapped (and are then touched) */
static unsigned long long mmap_dmabuf_ok;
static int dmabuf_mmap_allowed;
static u64 rng_state;

static u64 rnd(void)
{
	u64 x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static u64 below(u64 n)
{
	return n ? rnd() % n : 0;
}

static int chance(unsigned int percent)
{
	return below(100) < percent;
}

static u64 boundary(void)
{
	const u64 v[] = {
		0, 1, PAGE - 1, PAGE, PAGE + 1, 2 * PAGE, 3 * PAGE, MB - 1, MB,
		2 * MB, 4 * MB, st.dram_size - PAGE, st.dram_size,
		st.dram_size + PAGE, 1ULL << 31, 1ULL << 32, (1ULL << 32) - 1,
		1ULL << 48, 1ULL << 63, ~0ULL, ~0ULL - PAGE + 1, ~0ULL >> 1,
		VA_BASE, VA_BASE + PAGE, VA_LAST, VA_LAST + 1, VA_LAST - PAGE + 1,
	};

	return v[below(ARRAY_SIZE(v))];
}

static u64 any_u64(void)
{
	switch (below(4)) {
	case 0:
		return boundary();
	case 1:
		return below(8 * MB);
	case 2:
		return below(64) * PAGE;
	default:
		return rnd();
	}
}

/* a size that is usually a sensible allocation size */
static u64 alloc_size(void)
{
	if (chance(20))
		return any_u64();
	return (below(256) + 1) * PAGE - (chance(20) ? below(PAGE) : 0);
}

static u64 pick_handle(void)
{
	u64 h;

	if (chance(80)) {
		h = st.handles[below(SLOTS)];
		if (h)
			return h;
	}
	return chance(50) ? below(SLOTS * 4) : any_u64();
}

static struct slot_map *pick_map(void)
{
	unsigned int i, start = below(SLOTS);

	for (i = 0; i < SLOTS; i++) {
		struct slot_map *m = &st.maps[(start + i) % SLOTS];

		if (m->va)
			return m;
	}
	return NULL;
}

static u64 pick_dev_addr(void)
{
	struct slot_map *m = chance(85) ? pick_map() : NULL;

	if (!m)
		return chance(50) ? VA_BASE + below(1ULL << 40) : any_u64();
	switch (below(4)) {
	case 0:
		return m->va;
	case 1:
		return m->va + below(m->size + 1);
	case 2:
		return m->va + m->size - below(3 * PAGE);
	default:
		return m->va + below(m->size / PAGE + 1) * PAGE;
	}
}

/* host pointers never reach memory the fuzzer depends on */
static u64 pick_host(void)
{
	switch (below(10)) {
	case 0:
		return 0;
	case 1:
		return 16;
	case 2:
		return 0xffff888000000000ULL + below(MB);
	case 3:
		return 0x8000000000000000ULL;
	case 4:
		return (uintptr_t)st.host + HOST_BUF - below(2 * PAGE);
	default:
		return (uintptr_t)st.host + below(HOST_BUF);
	}
}

static u64 copy_size(void)
{
	if (chance(15))
		return any_u64();
	return below(chance(70) ? 3 * PAGE : 2 * MB) + (chance(10) ? 0 : 1);
}

/* Account one driver call; an unexpected errno counts as a failure */
static int account(int ret, const char *what)
{
	calls++;
	if (!ret) {
		ok_calls++;
		return 0;
	}
	switch (-ret) {
	case EINVAL: case ENOMEM: case EBUSY: case EFAULT: case ENOTTY:
	case EOPNOTSUPP: case EBADF: case ENOENT: case EINTR:
		return ret;
	default:
		unexpected++;
		printf("# unexpected %s error %d\n", what, ret);
		return ret;
	}
}

static int do_info(int fd, struct hl_info_args *a)
{
	return xioctl(fd, st.legacy ? LEGACY_INFO : DRM_IOCTL_HL_INFO, a);
}

static int do_mem(union hl_mem_args *a)
{
	return xioctl(st.fd, st.legacy ? LEGACY_MEMORY : DRM_IOCTL_HL_MEMORY, a);
}

static int do_copy(struct hlsim_dma_copy *c)
{
	return xioctl(st.fd, st.legacy ? HLSIM_IOCTL_DMA_COPY_LEGACY :
			     HLSIM_IOCTL_DMA_COPY, c);
}

static void op_info(void)
{
	struct hl_info_args a = {};
	int fd = chance(50) ? st.ctl : st.fd;

	a.op = chance(70) ? below(8) : (chance(50) ? below(48) : rnd());
	a.return_size = chance(60) ? 64 * 1024 : (u32)any_u64();
	if (a.return_size > 64 * 1024 && chance(90))
		a.return_size = below(64 * 1024);
	a.return_pointer = chance(85) ? (uintptr_t)st.scratch : pick_host();
	if (a.return_pointer == (uintptr_t)st.scratch &&
	    a.return_size > 64 * 1024)
		a.return_size = 64 * 1024;
	if (chance(5))
		a.pad = rnd();
	if (chance(5))
		a.dcore_id = rnd();
	account(do_info(fd, &a), "INFO");
}

static void op_alloc(void)
{
	union hl_mem_args a = {};
	u64 size = alloc_size();
	unsigned int i;

	a.in.op = HL_MEM_OP_ALLOC;
	a.in.alloc.mem_size = size;
	a.in.alloc.page_size = chance(70) ? 0 :
			       (chance(50) ? PAGE << below(11) : any_u64());
	a.in.flags = chance(90) ? 0 : (chance(50) ? HL_MEM_CONTIGUOUS : rnd());
	if (!account(do_mem(&a), "ALLOC")) {
		for (i = 0; i < SLOTS; i++)
			if (!st.handles[i]) {
				st.handles[i] = a.out.handle;
				st.hsize[i] = size;
				break;
			}
	}
}

static void forget_handle(u64 h)
{
	unsigned int i;

	for (i = 0; i < SLOTS; i++)
		if (st.handles[i] == h)
			st.handles[i] = 0;
}

static void op_free(void)
{
	union hl_mem_args a = {};
	u64 h = pick_handle();

	a.in.op = HL_MEM_OP_FREE;
	a.in.free.handle = h;
	if (chance(5))
		a.in.flags = rnd();
	if (!account(do_mem(&a), "FREE"))
		forget_handle(h);
}

static void op_map(void)
{
	union hl_mem_args a = {};
	u64 h = pick_handle(), size = 0;
	unsigned int i;

	for (i = 0; i < SLOTS; i++)
		if (st.handles[i] && st.handles[i] == h)
			size = st.hsize[i];
	a.in.op = HL_MEM_OP_MAP;
	a.in.map_device.handle = h;
	a.in.map_device.hint_addr = chance(60) ? 0 : pick_dev_addr();
	if (chance(15))
		a.in.flags = chance(50) ? HL_MEM_FORCE_HINT :
			     (chance(50) ? HL_MEM_USERPTR : rnd());
	if (account(do_mem(&a), "MAP"))
		return;
	for (i = 0; i < SLOTS; i++)
		if (!st.maps[i].va) {
			st.maps[i].va = a.out.device_virt_addr;
			/* at least one page; the exact size is rounded up */
			st.maps[i].size = size ? (size + PAGE - 1) & ~(PAGE - 1) :
					  PAGE;
			return;
		}
}

static void op_unmap(void)
{
	union hl_mem_args a = {};
	u64 va = pick_dev_addr();
	unsigned int i;

	a.in.op = HL_MEM_OP_UNMAP;
	a.in.unmap.device_virt_addr = va;
	if (chance(3))
		a.in.flags = rnd();
	if (account(do_mem(&a), "UNMAP"))
		return;
	for (i = 0; i < SLOTS; i++)
		if (st.maps[i].va == va)
			st.maps[i].va = 0;
}

static void keep_dmabuf(int fd)
{
	unsigned int i;

	for (i = 0; i < SLOTS; i++)
		if (st.dmabufs[i] < 0) {
			st.dmabufs[i] = fd;
			return;
		}
	close(fd);
}

static void op_export(void)
{
	struct slot_map *m = pick_map();
	union hl_mem_args a = {};
	int ret;

	a.in.op = HL_MEM_OP_EXPORT_DMABUF_FD;
	if (st.legacy) {
		a.in.export_dmabuf_fd.addr = pick_handle();
		a.in.export_dmabuf_fd.mem_size = chance(50) ? 0 : any_u64();
	} else {
		a.in.export_dmabuf_fd.addr = chance(80) && m ? m->va :
					     pick_dev_addr();
		if (m && chance(70)) {
			u64 pages = m->size / PAGE;
			u64 off = below(pages);

			a.in.export_dmabuf_fd.offset = off * PAGE;
			a.in.export_dmabuf_fd.mem_size =
				(below(pages - off) + 1) * PAGE;
		} else {
			a.in.export_dmabuf_fd.offset = any_u64();
			a.in.export_dmabuf_fd.mem_size = any_u64();
		}
	}
	a.in.flags = chance(80) ? O_CLOEXEC : (chance(50) ? 0 : rnd());
	ret = account(do_mem(&a), "EXPORT");
	if (!ret)
		keep_dmabuf(a.out.fd);
}

static int pick_dmabuf_slot(void)
{
	unsigned int i, start = below(SLOTS);

	for (i = 0; i < SLOTS; i++)
		if (st.dmabufs[(start + i) % SLOTS] >= 0)
			return (start + i) % SLOTS;
	return -1;
}

static void op_close_dmabuf(void)
{
	int s = pick_dmabuf_slot();

	if (s < 0)
		return;
	close(st.dmabufs[s]);
	st.dmabufs[s] = -1;
}

static void op_import(void)
{
	struct hlsim_import_check chk;
	int s = pick_dmabuf_slot();
	int fd = s >= 0 ? st.dmabufs[s] : (int)below(64);
	int ret;

	if (st.imp < 0)
		return;
	if (st.held && chance(40)) {
		account(xioctl(st.imp, HLSIM_IMPORT_DROP, NULL), "DROP");
		st.held = 0;
		return;
	}
	if (!st.held && s >= 0 && chance(20)) {
		ret = account(import_check(st.imp, fd, HLSIM_IMPORT_HOLD, &chk),
			      "HOLD");
		st.held = !ret;
		return;
	}
	ret = import_check(st.imp, fd, HLSIM_IMPORT_CHECK, &chk);
	if (s >= 0 && !ret && !chk.match) {
		unexpected++;
		printf("# import of a dma-buf: size %llu sg %llu dma %llu\n",
		       (unsigned long long)chk.size,
		       (unsigned long long)chk.sg_len,
		       (unsigned long long)chk.dma_len);
	}
	/* a non-dma-buf fd gives EBADF or EINVAL; both are fine */
	if (ret == -EBADF || ret == -EINVAL)
		ret = 0;
	account(ret, "IMPORT");
}

static void op_copy(void)
{
	struct hlsim_dma_copy c = {};

	c.dir = chance(95) ? below(3) : rnd();
	c.size = copy_size();
	switch (c.dir) {
	case HLSIM_COPY_HOST_TO_DEVICE:
		c.dst = pick_dev_addr();
		c.src = pick_host();
		break;
	case HLSIM_COPY_DEVICE_TO_HOST:
		c.dst = pick_host();
		c.src = pick_dev_addr();
		break;
	default:
		c.dst = pick_dev_addr();
		c.src = pick_dev_addr();
		break;
	}
	if (chance(3))
		c.flags = rnd();
	account(do_copy(&c), "COPY");
}

/* A random command in the driver's number range, random size and bytes */
static void op_raw(void)
{
	unsigned int dir = below(4), size = below(chance(80) ? 64 : 300);
	/* the driver's range, DRM_COMMAND_BASE..DRM_COMMAND_END */
	unsigned int nr = 0x40 + (chance(70) ? below(0x48) : below(0x60));
	int fd = chance(70) ? st.fd : st.ctl;
	unsigned long cmd;
	unsigned int i;
	int ret;

	if (st.legacy)
		cmd = _IOC(dir, 'H', chance(70) ? below(0x48) : below(256),
			   size);
	else
		cmd = _IOC(dir, 'd', nr, size);
	/* never hand out usable host pointers: fill with tagged garbage */
	for (i = 0; i < 320; i += 8) {
		u64 v = chance(50) ? boundary() : rnd() | (1ULL << 63);

		memcpy(st.scratch + i, &v, 8);
	}
	ret = xioctl(fd, cmd, st.scratch);
	/* a raw export may have produced a dma-buf fd we do not track */
	account(ret == -EPERM || ret == -EACCES || ret == -ENOSPC ||
		ret == -E2BIG ? 0 : ret, "RAW");
}

static void op_mmap(void)
{
	int s = pick_dmabuf_slot();
	int on_node = chance(50) || s < 0;
	int fd = on_node ? st.fd : st.dmabufs[s];
	size_t len = PAGE * (1 + below(4));
	void *p;

	calls++;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 below(4) * PAGE);
	if (p != MAP_FAILED) {
		if (on_node || !dmabuf_mmap_allowed) {
			mmap_ok++;
		} else {
			mmap_dmabuf_ok++;
			/* fault the first page in */
			__atomic_load_n((unsigned char *)p, __ATOMIC_RELAXED);
		}
		munmap(p, len);
	}
}

static int open_compute(void)
{
	char path[64];

	if (st.legacy)
		snprintf(path, sizeof(path), "/dev/hl0");
	else
		snprintf(path, sizeof(path), "/dev/accel/accel%d", st.accel);
	return open(path, O_RDWR | O_CLOEXEC);
}

static void op_reopen(void)
{
	unsigned int i;
	int fd2;

	calls++;
	fd2 = open_compute();
	if (fd2 >= 0 || errno != EBUSY) {
		second_open++;
		if (fd2 >= 0)
			close(fd2);
	}
	if (!chance(30))
		return;
	close(st.fd);
	memset(st.handles, 0, sizeof(st.handles));
	memset(st.maps, 0, sizeof(st.maps));
	/* dma-bufs stay open on purpose: they outlive the context */
	for (i = 0; i < 10 && (st.fd = open_compute()) < 0; i++)
		usleep(1000);
	if (st.fd < 0) {
		printf("# reopen failed: %s\n", strerror(errno));
		unexpected++;
		exit(tap_done());
	}
}

static void cleanup(void)
{
	unsigned int i;

	for (i = 0; i < SLOTS; i++)
		if (st.dmabufs[i] >= 0)
			close(st.dmabufs[i]);
	if (st.imp >= 0)
		close(st.imp);
	close(st.fd);
}

/* Close every descriptor a raw ioctl may have created behind our back */
static void close_strays(void)
{
	struct rlimit rl;
	int fd, max = 4096;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < 65536)
		max = rl.rlim_cur;
	for (fd = 3; fd < max; fd++)
		if (fd != st.ctl)
			close(fd);
}

int main(int argc, char **argv)
{
	unsigned long long target = 10000, seed = 0;
	int nth = 0;
	char path[64];
	u64 free_mem = 0;
	unsigned int i;

	for (i = 1; i < (unsigned int)argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < (unsigned int)argc)
			target = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-s") && i + 1 < (unsigned int)argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-d") && i + 1 < (unsigned int)argc)
			nth = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--legacy"))
			st.legacy = 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!seed)
		seed = ((unsigned long long)getpid() << 32 ^ time(NULL)) *
		       2654435761ULL;
	rng_state = seed | 1;
	printf("# seed %llu, %llu calls, %s nodes\n", seed, target,
	       st.legacy ? "legacy" : "accel");

	st.accel = hlsim_accel_index(nth);
	if (st.legacy)
		snprintf(path, sizeof(path), "/dev/hl_controlD0");
	else
		snprintf(path, sizeof(path), "/dev/accel/accel_controlD%d",
			 st.accel);
	st.ctl = open(path, O_RDWR | O_CLOEXEC);
	st.fd = open_compute();
	st.imp = open("/dev/hlsim_import_test", O_RDWR | O_CLOEXEC);
	st.host = mmap(NULL, HOST_BUF + 2 * MB, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	st.scratch = malloc(64 * 1024);
	if (!tap_ok(st.ctl >= 0 && st.fd >= 0 && st.host != MAP_FAILED &&
		    st.scratch, "device %s opened", path))
		return tap_done();
	mprotect(st.host + HOST_BUF, 2 * MB, PROT_NONE);
	{
		struct hl_info_hw_ip_info hw = {};
		struct hl_info_args a = {
			.return_pointer = (uintptr_t)&hw,
			.return_size = sizeof(hw),
			.op = HL_INFO_HW_IP_INFO,
		};

		do_info(st.ctl, &a);
		st.dram_size = hw.dram_size;
	}
	for (i = 0; i < SLOTS; i++)
		st.dmabufs[i] = -1;
	dmabuf_mmap_allowed = hlsim_param_on("test_dmabuf_mmap");

	while (calls < target) {
		switch (below(20)) {
		case 0: case 1:
			op_info();
			break;
		case 2: case 3: case 4:
			op_alloc();
			break;
		case 5:
			op_free();
			break;
		case 6: case 7: case 8:
			op_map();
			break;
		case 9:
			op_unmap();
			break;
		case 10: case 11:
			op_export();
			break;
		case 12:
			op_close_dmabuf();
			break;
		case 13:
			op_import();
			break;
		case 14: case 15:
			op_copy();
			break;
		case 16: case 17:
			op_raw();
			break;
		case 18:
			if (chance(10))
				op_mmap();
			else
				op_copy();
			break;
		default:
			if (chance(3))
				op_reopen();
			else
				op_info();
			break;
		}
	}

	cleanup();
	close_strays();
	{
		struct hl_info_args a = {};
		struct hl_info_dram_usage u = {};

		a.return_pointer = (uintptr_t)&u;
		a.return_size = sizeof(u);
		a.op = HL_INFO_DRAM_USAGE;
		do_info(st.ctl, &a);
		free_mem = u.dram_free_mem;
	}
	printf("fuzz: %llu calls (%llu succeeded), seed %llu\n", calls,
	       ok_calls, seed);
	tap_ok(calls >= target, "%llu calls made", calls);
	tap_ok(!unexpected, "no unexpected results (%llu)", unexpected);
	tap_ok(!mmap_ok, "no forbidden mmap succeeded (%llu; dma-buf mmaps %s: %llu)",
	       mmap_ok, dmabuf_mmap_allowed ? "allowed" : "refused",
	       mmap_dmabuf_ok);
	tap_ok(!second_open, "second compute open always EBUSY (%llu)",
	       second_open);
	tap_ok(free_mem == st.dram_size,
	       "DRAM_USAGE: all %llu bytes free again (free %llu)",
	       (unsigned long long)st.dram_size,
	       (unsigned long long)free_mem);
	close(st.ctl);
	return tap_done();
}
