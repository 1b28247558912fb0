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
 *
 * Oracle: a shadow model of the device (allocations, mappings, dma-bufs,
 * HBM use, the module's bounds) predicts the result of every call: success
 * or the exact errno, the VA rules of MAP, and the figures DRAM_USAGE
 * reports.  Any difference is printed with the call and fails the run.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include "hlsim_cs_util.h"

#define VA_BASE		0x1001000000000000ULL
#define VA_LAST		(VA_BASE + (1ULL << 48) - 1)
#define PAGE		4096ULL
#define MB		(1024ULL * 1024)
#define HOST_BUF	(8 * MB)
#define SLOTS		48

#define LEGACY_INFO	_IOWR('H', 0x01, struct hl_info_args)
#define LEGACY_MEMORY	_IOWR('H', 0x05, union hl_mem_args)

#define NA		64	/* allocations the model tracks */
#define NM		64	/* mappings */
#define NE		SLOTS	/* dma-bufs */
#define SCRATCH		(64 * 1024)

/* The shadow model: what the driver must hold and answer */
struct m_alloc {
	int live;		/* charged to HBM */
	u64 handle;		/* 0 once freed or its context closed */
	u64 size, page_size;
	int ctx_maps;		/* mappings in the context (map_count) */
};

struct m_map {
	int live;
	int in_ctx;		/* in the context's VA tree */
	u64 va, size;
	int alloc;
};

struct m_exp {
	int live;
	int fd;			/* -1 once closed */
	int held;		/* by the test importer */
	int map;		/* -1: legacy export by handle */
	int alloc;
	u64 npages;
};

static struct {
	int legacy;
	int accel;
	int fd;			/* compute */
	int ctl;		/* control */
	int imp;		/* test importer, or -1 */
	u64 dram_size;
	u64 max_allocs, max_maps, max_maps_alloc;
	struct m_alloc a[NA];
	struct m_map m[NM];
	struct m_exp e[NE];
	unsigned char *host;	/* HOST_BUF bytes, then a guard */
	unsigned char *scratch;	/* SCRATCH bytes for INFO and raw ioctls */
} st;

static unsigned long long calls, ok_calls, mismatches;
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

/* ---- model helpers ---- */

static int find_handle(u64 h)
{
	int i;

	for (i = 0; i < NA; i++)
		if (st.a[i].live && st.a[i].handle && st.a[i].handle == h)
			return i;
	return -1;
}

/* the context's mapping containing [addr, addr + size), or -1 */
static int find_map(u64 addr, u64 size)
{
	int i;

	if (addr < VA_BASE || addr > VA_LAST)
		return -1;
	for (i = 0; i < NM; i++) {
		struct m_map *m = &st.m[i];

		if (m->live && m->in_ctx && addr >= m->va &&
		    addr - m->va < m->size)
			return size > m->size - (addr - m->va) ? -1 : i;
	}
	return -1;
}

static int map_exports(int mi)
{
	int i, n = 0;

	for (i = 0; i < NE; i++)
		n += st.e[i].live && st.e[i].map == mi;
	return n;
}

static int alloc_exports(int ai)
{
	int i, n = 0;

	for (i = 0; i < NE; i++)
		n += st.e[i].live && st.e[i].alloc == ai;
	return n;
}

/* drop what nothing holds any more, as the driver's references do */
static void gc(void)
{
	int i, j, used;

	for (i = 0; i < NE; i++)
		if (st.e[i].live && st.e[i].fd < 0 && !st.e[i].held)
			st.e[i].live = 0;
	for (i = 0; i < NM; i++)
		if (st.m[i].live && !st.m[i].in_ctx && !map_exports(i))
			st.m[i].live = 0;
	for (i = 0; i < NA; i++) {
		if (!st.a[i].live || st.a[i].handle || alloc_exports(i))
			continue;
		used = 0;
		for (j = 0; j < NM; j++)
			used |= st.m[j].live && st.m[j].alloc == i;
		if (!used)
			st.a[i].live = 0;
	}
}

static u64 dram_used(void)
{
	u64 n = 0;
	int i;

	for (i = 0; i < NA; i++)
		if (st.a[i].live)
			n += st.a[i].size;
	return n;
}

static u64 ctx_mem(void)
{
	u64 n = 0;
	int i;

	for (i = 0; i < NA; i++)
		if (st.a[i].live && st.a[i].handle)
			n += st.a[i].size;
	return n;
}

static unsigned int count_ctx(int maps)
{
	unsigned int n = 0;
	int i;

	for (i = 0; i < (maps ? NM : NA); i++)
		n += maps ? st.m[i].live && st.m[i].in_ctx :
			    st.a[i].live && st.a[i].handle != 0;
	return n;
}

static int free_slot(int alloc)
{
	int i;

	for (i = 0; i < (alloc ? NA : NM); i++)
		if (alloc ? !st.a[i].live : !st.m[i].live)
			return i;
	return -1;
}

static int free_exp_slot(void)
{
	int i;

	for (i = 0; i < NE; i++)
		if (!st.e[i].live)
			return i;
	return -1;
}

/* [p, p + len) inside the host buffer or the scratch buffer */
static int host_ok(u64 p, u64 len)
{
	u64 h = (uintptr_t)st.host, sc = (uintptr_t)st.scratch;

	return (p >= h && p <= h + HOST_BUF && len <= h + HOST_BUF - p) ||
	       (p >= sc && p <= sc + SCRATCH && len <= sc + SCRATCH - p);
}

/* Compare a call's result with the model's prediction */
static int expect(int ret, int want, const char *fmt, ...)
{
	va_list ap;

	calls++;
	if (!ret)
		ok_calls++;
	if (ret == want)
		return 1;
	mismatches++;
	printf("# MISMATCH call %llu: ", calls);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(": got %d, model says %d\n", ret, want);
	return 0;
}

static u64 pick_handle(void)
{
	int i = below(NA);

	if (chance(80) && st.a[i].live && st.a[i].handle)
		return st.a[i].handle;
	if (chance(60)) {
		for (i = 0; i < NA; i++)
			if (st.a[i].live && st.a[i].handle && chance(30))
				return st.a[i].handle;
	}
	return chance(50) ? below(NA * 4) : any_u64();
}

static struct m_map *pick_map(void)
{
	unsigned int i, start = below(NM);

	for (i = 0; i < NM; i++) {
		struct m_map *m = &st.m[(start + i) % NM];

		if (m->live && m->in_ctx)
			return m;
	}
	return NULL;
}

static u64 pick_dev_addr(void)
{
	struct m_map *m = chance(85) ? pick_map() : NULL;

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

/* ---- operations ---- */

static void op_info(void)
{
	struct hl_info_args a = {};
	struct hl_info_dram_usage *u = (void *)st.scratch;
	int on_ctl = chance(50), fd = on_ctl ? st.ctl : st.fd, want, ret;
	u64 len = 0;
	const u32 ops[] = { HL_INFO_HW_IP_INFO, HL_INFO_DRAM_USAGE,
			    HL_INFO_DEVICE_STATUS,
			    HL_INFO_DEV_MEM_ALLOC_PAGE_SIZES };

	a.op = chance(70) ? ops[below(4)] :
	       (chance(50) ? below(48) : rnd());
	a.return_size = chance(60) ? SCRATCH : (u32)any_u64();
	if (a.return_size > SCRATCH && chance(90))
		a.return_size = below(SCRATCH);
	a.return_pointer = chance(85) ? (uintptr_t)st.scratch : pick_host();
	if (a.return_pointer == (uintptr_t)st.scratch &&
	    a.return_size > SCRATCH)
		a.return_size = SCRATCH;
	if (chance(5))
		a.pad = rnd();
	if (chance(5))
		a.dcore_id = rnd();

	switch (a.op) {
	case HL_INFO_HW_IP_INFO:
		len = sizeof(struct hl_info_hw_ip_info);
		break;
	case HL_INFO_DRAM_USAGE:
		len = sizeof(struct hl_info_dram_usage);
		break;
	case HL_INFO_DEVICE_STATUS:
		len = sizeof(struct hl_info_device_status);
		break;
	case HL_INFO_DEV_MEM_ALLOC_PAGE_SIZES:
		len = sizeof(struct hl_info_dev_memalloc_page_sizes);
		break;
	}
	if (a.pad || !len || !a.return_size || !a.return_pointer)
		want = -EINVAL;
	else if (!host_ok(a.return_pointer, len < a.return_size ?
			  len : a.return_size))
		want = -EFAULT;
	else
		want = 0;
	memset(st.scratch, 0xa5, sizeof(*u));
	ret = do_info(fd, &a);
	if (!expect(ret, want, "INFO op %u size %u ptr %#llx pad %u on %s",
		    a.op, a.return_size, (unsigned long long)a.return_pointer,
		    a.pad, on_ctl ? "control" : "compute") || ret)
		return;
	if (a.op == HL_INFO_DRAM_USAGE &&
	    a.return_pointer == (uintptr_t)st.scratch &&
	    a.return_size >= sizeof(*u)) {
		u64 want_ctx = on_ctl ? 0 : ctx_mem();

		if (u->dram_free_mem != st.dram_size - dram_used() ||
		    u->ctx_dram_mem != want_ctx) {
			mismatches++;
			printf("# MISMATCH call %llu: DRAM_USAGE %llu %llu, model %llu %llu\n",
			       calls, (unsigned long long)u->dram_free_mem,
			       (unsigned long long)u->ctx_dram_mem,
			       (unsigned long long)(st.dram_size - dram_used()),
			       (unsigned long long)want_ctx);
		}
	}
}

static void op_free(void);

static void op_alloc(void)
{
	union hl_mem_args a = {};
	u64 size = alloc_size(), ps, rounded;
	int slot = free_slot(1), want, ret;

	if (slot < 0) {
		op_free();
		return;
	}
	a.in.op = HL_MEM_OP_ALLOC;
	a.in.alloc.mem_size = size;
	a.in.alloc.page_size = chance(70) ? 0 :
			       (chance(50) ? PAGE << below(11) : any_u64());
	a.in.flags = chance(90) ? 0 : (chance(50) ? HL_MEM_CONTIGUOUS : rnd());

	ps = a.in.alloc.page_size ? a.in.alloc.page_size : PAGE;
	rounded = (size + ps - 1) & ~(ps - 1);	/* wraps only when refused */
	if (a.in.flags & ~HL_MEM_CONTIGUOUS)
		want = -EINVAL;
	else if ((ps & (ps - 1)) || ps < PAGE || ps > 2 * MB)
		want = -EINVAL;
	else if (!size)
		want = -EINVAL;
	else if (size > st.dram_size)
		want = -ENOMEM;
	else if (count_ctx(0) >= st.max_allocs)
		want = -ENOMEM;
	else if (rounded > st.dram_size - dram_used())
		want = -ENOMEM;
	else
		want = 0;
	ret = do_mem(&a);
	if (!expect(ret, want, "ALLOC size %#llx page_size %#llx flags %#x",
		    (unsigned long long)size,
		    (unsigned long long)a.in.alloc.page_size, a.in.flags) ||
	    ret)
		return;
	if (find_handle(a.out.handle) >= 0 || !a.out.handle) {
		mismatches++;
		printf("# MISMATCH call %llu: ALLOC gave handle %llu, live or zero\n",
		       calls, (unsigned long long)a.out.handle);
		return;
	}
	st.a[slot] = (struct m_alloc){ .live = 1, .handle = a.out.handle,
				       .size = rounded, .page_size = ps };
}

static void op_free(void)
{
	union hl_mem_args a = {};
	u64 h = pick_handle();
	int i = find_handle(h), want, ret;

	a.in.op = HL_MEM_OP_FREE;
	a.in.free.handle = h;
	if (chance(5))
		a.in.flags = rnd();
	if (a.in.flags || !h || h > 0xffffffffULL || i < 0)
		want = -EINVAL;
	else if (st.a[i].ctx_maps || alloc_exports(i))
		want = -EINVAL;
	else
		want = 0;
	ret = do_mem(&a);
	if (expect(ret, want, "FREE handle %llu flags %#x",
		   (unsigned long long)h, a.in.flags) && !ret) {
		st.a[i].handle = 0;
		gc();
	}
}

static int va_free(u64 va, u64 size)
{
	int i;

	for (i = 0; i < NM; i++) {
		struct m_map *m = &st.m[i];

		if (m->live && m->in_ctx && va < m->va + m->size &&
		    m->va < va + size)
			return 0;
	}
	return 1;
}

static void op_unmap(void);

static void op_map(void)
{
	union hl_mem_args a = {};
	u64 h = pick_handle(), hint, va;
	int i = find_handle(h), slot = free_slot(0), want, ret, hint_ok = 0;
	struct m_alloc *al = i >= 0 ? &st.a[i] : NULL;

	if (slot < 0) {
		op_unmap();
		return;
	}
	a.in.op = HL_MEM_OP_MAP;
	a.in.map_device.handle = h;
	hint = chance(60) ? 0 : pick_dev_addr();
	if (hint && chance(30))
		hint &= ~(PAGE - 1);
	a.in.map_device.hint_addr = hint;
	if (chance(15))
		a.in.flags = chance(50) ? HL_MEM_FORCE_HINT :
			     (chance(50) ? HL_MEM_USERPTR : rnd());

	if (al)
		hint_ok = hint && !(hint % al->page_size) && hint >= VA_BASE &&
			  hint <= VA_LAST && al->size - 1 <= VA_LAST - hint &&
			  va_free(hint, al->size);
	if (a.in.flags & HL_MEM_USERPTR)
		want = -EINVAL;	/* USERPTR: flags, or mem_size 0 */
	else if (a.in.flags & ~HL_MEM_FORCE_HINT)
		want = -EINVAL;
	else if (!h || h > 0xffffffffULL || !al)
		want = -EINVAL;
	else if (count_ctx(1) >= st.max_maps ||
		 (u64)al->ctx_maps >= st.max_maps_alloc)
		want = -ENOMEM;
	else if (!hint_ok && (a.in.flags & HL_MEM_FORCE_HINT))
		want = -EINVAL;
	else
		want = 0;
	ret = do_mem(&a);
	if (!expect(ret, want, "MAP handle %llu hint %#llx flags %#x",
		    (unsigned long long)h, (unsigned long long)hint,
		    a.in.flags) || ret)
		return;
	va = a.out.device_virt_addr;
	if ((hint_ok && va != hint) || va % al->page_size || va < VA_BASE ||
	    va > VA_LAST || al->size - 1 > VA_LAST - va ||
	    !va_free(va, al->size)) {
		mismatches++;
		printf("# MISMATCH call %llu: MAP gave VA %#llx (hint %#llx, size %#llx)\n",
		       calls, (unsigned long long)va, (unsigned long long)hint,
		       (unsigned long long)al->size);
	}
	st.m[slot] = (struct m_map){ .live = 1, .in_ctx = 1, .va = va,
				     .size = al->size, .alloc = i };
	al->ctx_maps++;
}

static void op_unmap(void)
{
	union hl_mem_args a = {};
	u64 va = pick_dev_addr();
	int i = find_map(va, 1), want, ret;

	a.in.op = HL_MEM_OP_UNMAP;
	a.in.unmap.device_virt_addr = va;
	if (chance(3))
		a.in.flags = rnd();
	if (a.in.flags || i < 0 || st.m[i].va != va)
		want = -EINVAL;
	else if (map_exports(i))
		want = -EINVAL;
	else
		want = 0;
	ret = do_mem(&a);
	if (expect(ret, want, "UNMAP va %#llx flags %#x",
		   (unsigned long long)va, a.in.flags) && !ret) {
		st.m[i].in_ctx = 0;
		st.a[st.m[i].alloc].ctx_maps--;
		gc();
	}
}

static void op_close_dmabuf(void);

static void op_export(void)
{
	struct m_map *m = pick_map();
	int slot = free_exp_slot(), want, ret, mi = -1, ai = -1;
	union hl_mem_args a = {};
	u64 addr, size, off, npages = 0;

	if (slot < 0) {
		op_close_dmabuf();
		return;
	}
	a.in.op = HL_MEM_OP_EXPORT_DMABUF_FD;
	a.in.flags = chance(80) ? O_CLOEXEC : (chance(50) ? 0 : rnd());
	if (st.legacy) {
		addr = pick_handle();
		a.in.export_dmabuf_fd.addr = addr;
		a.in.export_dmabuf_fd.mem_size = chance(50) ? 0 : any_u64();
		ai = find_handle(addr);
		if (!addr || addr > 0xffffffffULL || ai < 0)
			want = -EINVAL;
		else if (a.in.flags & ~(O_CLOEXEC | O_ACCMODE))
			want = -EINVAL;
		else
			want = 0;
		if (ai >= 0)
			npages = st.a[ai].size / PAGE;
	} else {
		addr = chance(80) && m ? m->va : pick_dev_addr();
		if (m && chance(70)) {
			u64 pages = m->size / PAGE;

			off = below(pages) * PAGE;
			size = (below(pages - off / PAGE) + 1) * PAGE;
		} else {
			off = any_u64();
			size = any_u64();
		}
		a.in.export_dmabuf_fd.addr = addr;
		a.in.export_dmabuf_fd.offset = off;
		a.in.export_dmabuf_fd.mem_size = size;
		mi = find_map(addr, 1);
		if ((addr | size | off) & (PAGE - 1) || !size)
			want = -EINVAL;
		else if (mi < 0 || st.m[mi].va != addr)
			want = -EINVAL;
		else if (off >= st.m[mi].size || size > st.m[mi].size - off)
			want = -EINVAL;
		else if (a.in.flags & ~(O_CLOEXEC | O_ACCMODE))
			want = -EINVAL;
		else
			want = 0;
		if (mi >= 0)
			ai = st.m[mi].alloc;
		npages = size / PAGE;
	}
	ret = do_mem(&a);
	if (!expect(ret, want, "EXPORT addr %#llx size %#llx offset %#llx flags %#x",
		    (unsigned long long)a.in.export_dmabuf_fd.addr,
		    (unsigned long long)a.in.export_dmabuf_fd.mem_size,
		    (unsigned long long)a.in.export_dmabuf_fd.offset,
		    a.in.flags) || ret)
		return;
	st.e[slot] = (struct m_exp){ .live = 1, .fd = a.out.fd, .map = mi,
				     .alloc = ai, .npages = npages };
}

static int pick_dmabuf_slot(void)
{
	unsigned int i, start = below(NE);

	for (i = 0; i < NE; i++)
		if (st.e[(start + i) % NE].live &&
		    st.e[(start + i) % NE].fd >= 0)
			return (start + i) % NE;
	return -1;
}

static void op_close_dmabuf(void)
{
	int s = pick_dmabuf_slot();

	if (s < 0)
		return;
	close(st.e[s].fd);
	st.e[s].fd = -1;
	gc();
}

static void op_import(void)
{
	struct hlsim_import_check chk;
	int s = pick_dmabuf_slot(), fd, want, ret, i, held = -1;

	if (st.imp < 0)
		return;
	for (i = 0; i < NE; i++)
		if (st.e[i].live && st.e[i].held)
			held = i;
	if (held >= 0 && chance(40)) {
		expect(xioctl(st.imp, HLSIM_IMPORT_DROP, NULL), 0, "DROP");
		st.e[held].held = 0;
		gc();
		return;
	}
	if (held < 0 && s >= 0 && chance(20)) {
		ret = import_check(st.imp, st.e[s].fd, HLSIM_IMPORT_HOLD, &chk);
		if (expect(ret, 0, "HOLD of a dma-buf") && !ret)
			st.e[s].held = 1;
		return;
	}
	fd = s >= 0 && chance(90) ? st.e[s].fd : (int)below(64);
	want = -EBADF;
	for (i = 0; i < NE; i++)
		if (st.e[i].live && st.e[i].fd == fd)
			want = 0;
	if (want && fcntl(fd, F_GETFD) >= 0)
		want = -EINVAL;
	ret = import_check(st.imp, fd, HLSIM_IMPORT_CHECK, &chk);
	expect(ret, want, "IMPORT of fd %d", fd);
	if (!ret && !chk.match) {
		mismatches++;
		printf("# MISMATCH: import of a dma-buf: size %llu sg %llu dma %llu\n",
		       (unsigned long long)chk.size,
		       (unsigned long long)chk.sg_len,
		       (unsigned long long)chk.dma_len);
	}
}

/* two ranges of the context backed by the same pages? */
static int overlap(int di, u64 dst, int si, u64 src, u64 size)
{
	u64 doff = dst - st.m[di].va, soff = src - st.m[si].va;

	if (st.m[di].alloc != st.m[si].alloc)
		return 0;
	return doff < soff + size && soff < doff + size;
}

static void op_copy(void)
{
	struct hlsim_dma_copy c = {};
	int want, di, si;

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

	if (c.flags || !c.size) {
		want = -EINVAL;
	} else if (c.dir == HLSIM_COPY_HOST_TO_DEVICE) {
		want = find_map(c.dst, c.size) < 0 ? -EINVAL :
		       host_ok(c.src, c.size) ? 0 : -EFAULT;
	} else if (c.dir == HLSIM_COPY_DEVICE_TO_HOST) {
		want = find_map(c.src, c.size) < 0 ? -EINVAL :
		       host_ok(c.dst, c.size) ? 0 : -EFAULT;
	} else if (c.dir == HLSIM_COPY_DEVICE_TO_DEVICE) {
		di = find_map(c.dst, c.size);
		si = find_map(c.src, c.size);
		want = di < 0 || si < 0 || overlap(di, c.dst, si, c.src, c.size) ?
		       -EINVAL : 0;
	} else {
		want = -EINVAL;
	}
	expect(do_copy(&c), want, "COPY dir %u dst %#llx src %#llx size %#llx flags %#x",
	       c.dir, (unsigned long long)c.dst, (unsigned long long)c.src,
	       (unsigned long long)c.size, c.flags);
}

/* a MEMORY op that does not exist (or is not simulated) */
static void op_bad_mem(void)
{
	union hl_mem_args a = {};
	const u32 bad[] = { HL_MEM_OP_MAP_BLOCK, HL_MEM_OP_TS_ALLOC, 7, 8 };

	a.in.op = chance(80) ? bad[below(4)] : (u32)rnd() | 16;
	a.in.alloc.mem_size = PAGE;
	expect(do_mem(&a), -EINVAL, "MEMORY op %u", a.in.op);
}

/*
 * A random command number the driver has no handler for, random size and
 * bytes: EINVAL from the DRM core on the accel node, ENOTTY on the
 * control nodes and the legacy nodes.
 */
static void op_raw(void)
{
	unsigned int dir = below(4), size = below(chance(80) ? 64 : 300);
	int on_ctl = chance(30), fd = on_ctl ? st.ctl : st.fd;
	unsigned int nr, i;
	unsigned long cmd;
	int want;

	if (st.legacy) {
		do
			nr = chance(70) ? below(0x48) : below(256);
		while (nr == 0x01 || nr == 0x03 || nr == 0x04 || nr == 0x05 ||
		       nr == HLSIM_IOCTL_DMA_COPY_NR);
		cmd = _IOC(dir, 'H', nr, size);
		want = -ENOTTY;
	} else {
		/* DRM_COMMAND_BASE..DRM_COMMAND_END, minus our handlers */
		do
			nr = 0x40 + (chance(70) ? below(0x48) : below(0x60));
		while (nr == 0x40 + HL_IOCTL_INFO ||
		       nr == 0x40 + HL_IOCTL_MEMORY ||
		       nr == 0x40 + HL_IOCTL_CS ||
		       nr == 0x40 + HL_IOCTL_WAIT_CS ||
		       nr == 0x40 + HLSIM_IOCTL_DMA_COPY_NR);
		cmd = _IOC(dir, 'd', nr, size);
		want = on_ctl ? -ENOTTY : -EINVAL;
	}
	for (i = 0; i < 320; i += 8) {
		u64 v = chance(50) ? boundary() : rnd() | (1ULL << 63);

		memcpy(st.scratch + i, &v, 8);
	}
	expect(xioctl(fd, cmd, st.scratch), want, "raw ioctl %#lx on %s", cmd,
	       on_ctl ? "control" : "compute");
}

static void op_mmap(void)
{
	int s = pick_dmabuf_slot();
	int on_node = chance(50) || s < 0;
	int fd = on_node ? st.fd : st.e[s].fd;
	u64 len = 1 + below(4), pgoff = below(4);
	int want = -EINVAL;
	void *p;

	if (!on_node && dmabuf_mmap_allowed && pgoff < st.e[s].npages &&
	    len <= st.e[s].npages - pgoff)
		want = 0;
	p = mmap(NULL, len * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 pgoff * PAGE);
	expect(p == MAP_FAILED ? -errno : 0, want, "mmap %llu pages at %llu of %s",
	       (unsigned long long)len, (unsigned long long)pgoff,
	       on_node ? "the compute node" : "a dma-buf");
	if (p != MAP_FAILED) {
		if (!on_node) {
			mmap_dmabuf_ok++;
			/* fault the first page in */
			__atomic_load_n((unsigned char *)p, __ATOMIC_RELAXED);
		}
		munmap(p, len * PAGE);
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

static void cs_reset(void);

static void op_reopen(void)
{
	unsigned int i;
	int fd2;

	fd2 = open_compute();
	expect(fd2 >= 0 ? 0 : -errno, -EBUSY, "second compute open");
	if (fd2 >= 0)
		close(fd2);
	if (!chance(30))
		return;
	close(st.fd);
	/* the context goes; dma-bufs stay open on purpose: they outlive it */
	for (i = 0; i < NA; i++)
		st.a[i].handle = 0;
	for (i = 0; i < NM; i++)
		st.m[i].in_ctx = 0;
	for (i = 0; i < NA; i++)
		st.a[i].ctx_maps = 0;
	gc();
	for (i = 0; i < 10 && (st.fd = open_compute()) < 0; i++)
		usleep(1000);
	if (st.fd < 0) {
		printf("# reopen failed: %s\n", strerror(errno));
		mismatches++;
		exit(tap_done());
	}
	cs_reset();
}

/* ---- the Gaudi2 copy uapi: USERPTR maps, CS, WAIT_CS ---- */

static u64 param(const char *name, u64 dflt);

#define NU		32	/* USERPTR mappings the model tracks */
#define CB_BUF		(64 * 1024)
#define CB_CHUNK	4096	/* CB region of one chunk */

struct m_uptr {
	int live;
	int cb;			/* the fuzzer's CB mapping: never unmapped */
	u64 va, size, tree_va, npages;
};

static struct {
	struct m_uptr u[NU];
	u64 max_uptr, max_pinned;	/* pages */
	unsigned char *cbbuf;		/* CB_BUF bytes, then a guard */
	u64 cb_va;
	u64 next_seq, done_upto, last_ok;
	u64 seq_num[64];
	int seq_ok[64];
	unsigned long long cs_calls;	/* USERPTR, CS and WAIT_CS calls */
} cs;

static unsigned int uptr_live(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < NU; i++)
		n += cs.u[i].live;
	return n;
}

static u64 uptr_pinned(void)
{
	u64 n = 0;
	unsigned int i;

	for (i = 0; i < NU; i++)
		if (cs.u[i].live)
			n += cs.u[i].npages;
	return n;
}

/* USERPTR mapping containing [addr, addr + size), or -1 */
static int find_uptr(u64 addr, u64 size)
{
	int i;

	for (i = 0; i < NU; i++) {
		struct m_uptr *u = &cs.u[i];

		if (u->live && addr >= u->va && addr - u->va < u->size)
			return size > u->size - (addr - u->va) ? -1 : i;
	}
	return -1;
}

static int uptr_range_free(u64 first, u64 len)
{
	int i;

	for (i = 0; i < NU; i++) {
		struct m_uptr *u = &cs.u[i];

		if (u->live && first < u->tree_va + u->npages * PAGE &&
		    u->tree_va < first + len)
			return 0;
	}
	return 1;
}

static int do_uptr_map(u64 addr, u64 size, u64 hint, u32 flags, u64 *va)
{
	union hl_mem_args a = {};
	int ret;

	a.in.op = HL_MEM_OP_MAP;
	a.in.flags = flags;
	a.in.map_host.host_virt_addr = addr;
	a.in.map_host.mem_size = size;
	a.in.map_host.hint_addr = hint;
	ret = do_mem(&a);
	*va = a.out.device_virt_addr;
	return ret;
}

static int uptr_slot(void)
{
	int i;

	for (i = 0; i < NU; i++)
		if (!cs.u[i].live)
			return i;
	return -1;
}

/* is [p, p + len) pinnable memory of ours (the host buffer or the CBs)? */
static int pinnable(u64 p, u64 len)
{
	u64 h = (uintptr_t)st.host, c = (uintptr_t)cs.cbbuf;

	return (p >= h && len <= HOST_BUF && p - h <= HOST_BUF - len) ||
	       (p >= c && len <= CB_BUF && p - c <= CB_BUF - len);
}

static void op_unmap_host(void);

static void op_map_host(void)
{
	u64 h = (uintptr_t)st.host, addr, size, hint = 0, va, end, npages = 0;
	u32 flags = HL_MEM_USERPTR;
	int slot = uptr_slot(), want, ret, hint_ok = 0, user = 1;

	if (slot < 0) {
		op_unmap_host();
		return;
	}
	switch (below(12)) {
	case 0:		/* into the guard */
		addr = h + HOST_BUF - below(2 * PAGE);
		size = 1 + below(4 * PAGE);
		break;
	case 1:
		addr = h + below(HOST_BUF);
		size = 0;
		break;
	case 2:		/* overflow */
		addr = -below(2 * PAGE) - 1;
		size = 2 * PAGE + below(PAGE);
		break;
	case 3:		/* not user memory, or nothing mapped there */
		switch (below(3)) {
		case 0:
			addr = 0xffff888000000000ULL + below(1ULL << 30);
			user = 0;
			break;
		case 1:
			addr = 0x8000000000000000ULL + below(PAGE);
			user = 0;
			break;
		default:
			addr = below(PAGE * 16);
			break;
		}
		size = 1 + below(2 * PAGE);
		break;
	default:
		size = chance(80) ? 1 + below(64 * 1024) : 1 + below(HOST_BUF);
		addr = h + below(HOST_BUF - size + 1);
		break;
	}
	if (chance(10))
		flags |= HL_MEM_FORCE_HINT;
	if (chance(3))
		flags |= 1u << below(32);
	if (chance(30)) {
		switch (below(4)) {
		case 0:
			hint = HOST_VA_BASE + below(1ULL << 40) * PAGE;
			break;
		case 1: {
			int i = below(NU);

			hint = cs.u[i].live ? cs.u[i].tree_va : HOST_VA_BASE;
			break;
		}
		case 2:
			hint = VA_BASE + below(1ULL << 30) * PAGE;
			break;
		default:
			hint = any_u64();
			break;
		}
	}

	if (size && !__builtin_add_overflow(addr, size, &end) && user) {
		npages = ((end + PAGE - 1) / PAGE) - addr / PAGE;
		hint_ok = hint && !(hint % PAGE) && hint >= HOST_VA_BASE &&
			  hint < HOST_VA_END &&
			  npages * PAGE - 1 <= HOST_VA_END - 1 - hint &&
			  uptr_range_free(hint, npages * PAGE);
	}
	if (flags & ~(HL_MEM_USERPTR | HL_MEM_FORCE_HINT))
		want = -EINVAL;
	else if (!size || __builtin_add_overflow(addr, size, &end))
		want = -EINVAL;
	else if (!user)
		want = -EFAULT;
	else if (uptr_live() >= cs.max_uptr)
		want = -ENOMEM;
	else if (npages > cs.max_pinned - uptr_pinned())
		want = -ENOMEM;
	else if (!pinnable(addr, size))
		want = -EFAULT;
	else if ((flags & HL_MEM_FORCE_HINT) && !hint_ok)
		want = -EINVAL;
	else
		want = 0;
	cs.cs_calls++;
	ret = do_uptr_map(addr, size, hint, flags, &va);
	if (!expect(ret, want, "MAP USERPTR %#llx + %#llx hint %#llx flags %#x",
		    (unsigned long long)addr, (unsigned long long)size,
		    (unsigned long long)hint, flags) || ret) {
		if (!ret && want)	/* keep the model usable */
			do_uptr_map(0, 0, 0, 0, &va);
		return;
	}
	if (va < HOST_VA_BASE || va >= HOST_VA_END || va % PAGE != addr % PAGE ||
	    (hint_ok && va - va % PAGE != hint) ||
	    !uptr_range_free(va - va % PAGE, npages * PAGE)) {
		mismatches++;
		printf("# MISMATCH call %llu: USERPTR MAP gave VA %#llx (addr %#llx, hint %#llx)\n",
		       calls, (unsigned long long)va, (unsigned long long)addr,
		       (unsigned long long)hint);
	}
	cs.u[slot] = (struct m_uptr){ .live = 1, .va = va, .size = size,
				      .tree_va = va - va % PAGE,
				      .npages = npages };
}

static void op_unmap_host(void)
{
	union hl_mem_args a = {};
	int i = below(NU), j, want, ret;
	u64 va;

	if (!cs.u[i].live || cs.u[i].cb)
		va = HOST_VA_BASE + below(1ULL << 36);
	else
		va = cs.u[i].va + (chance(80) ? 0 : below(3) - 1);
	for (j = 0; j < NU; j++)
		if (cs.u[j].live && cs.u[j].va == va)
			break;
	want = j < NU && !cs.u[j].cb ? 0 : -EINVAL;
	if (j < NU && cs.u[j].cb)
		va = HOST_VA_BASE + below(1ULL << 36) * PAGE + 1;
	a.in.op = HL_MEM_OP_UNMAP;
	a.in.unmap.device_virt_addr = va;
	cs.cs_calls++;
	ret = do_mem(&a);
	if (expect(ret, want, "UNMAP USERPTR va %#llx", (unsigned long long)va) &&
	    !ret)
		cs.u[j].live = 0;
}

/* An address for a LIN_DMA of @size bytes: mostly inside some mapping */
static u64 pick_cs_addr(u64 size, int dst)
{
	int i;

	if (chance(50)) {
		struct m_map *m = pick_map();

		if (m && m->size >= size && chance(90))
			return m->va + below(m->size - size + 1);
		if (m)
			return m->va + below(m->size + 1);
	}
	for (i = 0; i < 4; i++) {
		struct m_uptr *u = &cs.u[below(NU)];

		if (!u->live || (dst && u->cb))
			continue;
		if (u->size >= size && chance(90))
			return u->va + below(u->size - size + 1);
		return u->va - (chance(50) ? 1 : 0) + below(u->size + 1);
	}
	return chance(50) ? HOST_VA_BASE + below(1ULL << 40) : any_u64();
}

/* Result of the CS model for one LIN_DMA: 0 or -EINVAL */
static int model_dma(u32 ctl, u32 tsize, u64 src, u64 dst)
{
	if (ctl & ~(0xff000000u | LIN_DMA_WRCOMP | LIN_DMA_MEMSET) ||
	    (ctl & 0x1f000000u) != (PKT_LIN_DMA << 24) || !tsize)
		return -EINVAL;
	if (find_map(dst, tsize) < 0 && find_uptr(dst, tsize) < 0)
		return -EINVAL;
	if (!(ctl & LIN_DMA_MEMSET) && find_map(src, tsize) < 0 &&
	    find_uptr(src, tsize) < 0)
		return -EINVAL;
	return 0;
}

static const u32 good_queues[] = { 0, 1, 4, 8, 15, 48, 91, 127 };

/* Write the packets of chunk @i into its CB region; the model's result */
static int build_cb(struct hl_cs_chunk *c, unsigned int i)
{
	unsigned char *cb = cs.cbbuf + i * CB_CHUNK;
	unsigned int k, npkt = 1 + below(5);
	size_t off = 0;
	int want = 0;
	u32 q;

	for (k = 0; k < npkt; k++) {
		if (chance(25)) {
			u32 ctl = (PKT_NOP << 24) | (chance(50) ? PKT_EB | PKT_MB : 0);
			int bad = chance(5);

			if (bad)
				ctl |= chance(50) ? 1u << below(24) : 0x0f000000u;
			off += put_nop(cb + off, ctl);
			if (bad && !want)
				want = -EINVAL;
		} else {
			u32 ctl = lin_dma_ctl(chance(20) ? LIN_DMA_MEMSET : 0);
			u32 tsize = chance(3) ? 0 : 1 + below(chance(90) ? 4096 : 256 * 1024);
			u64 dst = pick_cs_addr(tsize, 1), src;
			int r;

			if (chance(30))
				ctl |= LIN_DMA_WRCOMP;
			if (chance(4))
				ctl ^= 1u << below(32);
			src = ctl & LIN_DMA_MEMSET ? rnd() : pick_cs_addr(tsize, 0);
			off += put_lin_dma(cb + off, ctl, tsize, src, dst);
			r = model_dma(ctl, tsize, src, dst);
			if (r && !want)
				want = r;
		}
	}
	chunk_set(c, cs.cb_va + i * CB_CHUNK, off, 0);
	q = chance(90) ? good_queues[below(ARRAY_SIZE(good_queues))] :
	    (chance(50) ? below(140) : (u32)rnd());
	c->queue_index = q;
	if (chance(3))
		c->cs_chunk_flags = chance(50) ? 0 : (u32)rnd() & ~1u;
	if (chance(3)) {
		/* cut the last packet, or too small */
		c->cb_size = chance(50) ? off - 1 - below(7) : below(8);
		if (c->cb_size >= 8 && !want) {
			/* re-parse: the packets before the cut, then a cut */
			want = -EINVAL;
		}
	}
	if (chance(2))
		c->cb_size = 2 * 1024 * 1024 - 32 + 1 + below(64);
	if (chance(3))
		c->cb_handle = chance(50) ? pick_dev_addr() :
			       cs.cb_va + CB_BUF - below(8);

	/* the chunk's checks, in the kernel's order */
	if (!queue_enabled(c->queue_index) ||
	    !(c->cs_chunk_flags & HL_CS_CHUNK_FLAGS_USER_ALLOC_CB) ||
	    c->cb_size < 8 || c->cb_size > 2 * 1024 * 1024 - 32)
		return -EINVAL;
	{
		int u = find_uptr(c->cb_handle, c->cb_size);

		if (u < 0 || !cs.u[u].cb)
			return -EFAULT;
	}
	if (c->cb_size != off && c->cb_size < off) {
		/* packets up to the cut decide, then the cut is -EINVAL */
		return -EINVAL;
	}
	return want;
}

static void cs_wait_all(void);

static void op_cs(void)
{
	struct hl_cs_chunk ch[4];
	union hl_cs_args a = {};
	unsigned int n = 1 + below(3), i;
	int want = 0, ret, pre = 0;
	u64 seq = cs.next_seq;

	if (!cs.cb_va)
		return;
	/* keep the in-flight table from filling: no EAGAIN to predict */
	if (cs.seq_ok[seq % 64] && cs.seq_num[seq % 64] + 64 == seq &&
	    cs.seq_num[seq % 64] > cs.done_upto)
		cs_wait_all();

	for (i = 0; i < n; i++) {
		int r = build_cb(&ch[i], i);

		if (r && !want)
			want = r;
	}
	a.in.chunks_execute = (uintptr_t)ch;
	a.in.num_chunks_execute = n;
	if (chance(8)) {
		switch (below(8)) {
		case 0:
			a.in.cs_flags = HL_CS_FLAGS_STAGED_SUBMISSION;
			want = -EPERM;
			pre = 1;
			break;
		case 1:
			a.in.cs_flags = HL_CS_FLAGS_SIGNAL | HL_CS_FLAGS_WAIT;
			want = -EINVAL;
			pre = 1;
			break;
		case 2:
			a.in.cs_flags = chance(50) ? HL_CS_FLAGS_TIMESTAMP :
					HL_CS_FLAGS_FORCE_RESTORE;
			want = -EINVAL;
			pre = 1;
			break;
		case 3:
			a.in.num_chunks_execute = chance(50) ? 0 : 513 + below(5);
			want = -EINVAL;
			pre = 1;
			break;
		case 4:
			a.in.chunks_execute = chance(50) ? 16 : (uintptr_t)st.host + HOST_BUF;
			want = -EFAULT;
			pre = 1;
			break;
		case 5:
			a.in.pad[below(4)] = 1 + below(255);
			want = -EINVAL;
			pre = 1;
			break;
		case 6:
			a.in.cs_flags = HL_CS_FLAGS_CUSTOM_TIMEOUT |
					(chance(50) ? HL_CS_FLAGS_SKIP_RESET_ON_TIMEOUT : 0);
			a.in.timeout = 30;
			break;
		default:
			a.in.cs_flags = (u32)rnd() | HL_CS_FLAGS_ENGINES_COMMAND;
			want = (a.in.cs_flags & HL_CS_FLAGS_STAGED_SUBMISSION) ?
			       -EPERM : -EINVAL;
			pre = 1;
			break;
		}
	}
	/* the pre-seq checks come first: pad, staged, flags, count, copy */
	if (a.in.pad[0] | a.in.pad[1] | a.in.pad[2] | a.in.pad[3]) {
		want = -EINVAL;
		pre = 1;
	}
	cs.cs_calls++;
	ret = xioctl(st.fd, cs_cmd(st.legacy), &a);
	expect(ret, want, "CS %u chunks flags %#x (seq %llu)",
	       a.in.num_chunks_execute, a.in.cs_flags, (unsigned long long)seq);
	if (!ret) {
		if (a.out.seq != seq) {
			mismatches++;
			printf("# MISMATCH call %llu: CS seq %llu, model %llu\n",
			       calls, (unsigned long long)a.out.seq,
			       (unsigned long long)seq);
		}
		cs.next_seq = a.out.seq + 1;
		cs.seq_num[a.out.seq % 64] = a.out.seq;
		cs.seq_ok[a.out.seq % 64] = 1;
		cs.last_ok = a.out.seq;
		return;
	}
	if (a.out.seq != ~0ULL || (int)a.out.status != ret) {
		mismatches++;
		printf("# MISMATCH call %llu: failed CS out.seq %#llx status %d\n",
		       calls, (unsigned long long)a.out.seq, (int)a.out.status);
	}
	if (!pre) {
		cs.seq_num[seq % 64] = seq;
		cs.seq_ok[seq % 64] = 0;
		cs.next_seq = seq + 1;
	}
}

static int do_wait(u64 seq, u64 timeout_us, u32 flags, __u8 pad,
		   union hl_wait_cs_args *w)
{
	memset(w, 0, sizeof(*w));
	w->in.seq = seq;
	w->in.timeout_us = timeout_us;
	w->in.flags = flags;
	w->in.pad[0] = pad;
	cs.cs_calls++;
	return xioctl(st.fd, wait_cmd(st.legacy), w);
}

/* Wait for the last successful CS: every CS before it is then complete */
static void cs_wait_all(void)
{
	union hl_wait_cs_args w;
	int ret;

	if (cs.last_ok <= cs.done_upto)
		return;
	ret = do_wait(cs.last_ok, 20000000, 0, 0, &w);
	if (expect(ret, 0, "WAIT_CS %llu (drain)", (unsigned long long)cs.last_ok) &&
	    w.out.status == HL_WAIT_CS_STATUS_COMPLETED)
		cs.done_upto = cs.last_ok;
	else
		mismatches += w.out.status != HL_WAIT_CS_STATUS_COMPLETED;
}

static void op_wait(void)
{
	union hl_wait_cs_args w;
	u64 seq, next = cs.next_seq, timeout = chance(50) ? 0 : 10000000;
	u32 flags = 0, want_status = HL_WAIT_CS_STATUS_COMPLETED, want_flags = 0;
	int want = 0, ret, known, busy_ok = 0;
	__u8 pad = 0;

	switch (below(10)) {
	case 0:
		seq = next + (chance(50) ? below(4) : rnd() >> 1);
		want = -EINVAL;
		want_status = 0;
		break;
	case 1:
		seq = next > 66 && chance(70) ? below(next - 65) : 0;
		want_flags = HL_WAIT_CS_STATUS_FLAG_GONE;
		break;
	default:
		seq = next > 1 ? next - 1 - below(next - 1 < 64 ? next - 1 : 64) : 0;
		if (!seq)
			want_flags = HL_WAIT_CS_STATUS_FLAG_GONE;
		break;
	}
	if (chance(4)) {
		flags = chance(50) ? HL_WAIT_CS_FLAGS_INTERRUPT : HL_WAIT_CS_FLAGS_MULTI_CS;
		pad = chance(30) ? 1 + below(255) : 0;
		want = flags == HL_WAIT_CS_FLAGS_MULTI_CS && pad ? -EINVAL : -EPERM;
	} else if (chance(3)) {
		flags = 0x1 | (chance(50) ? 0x10 : 0);	/* ignored bits */
	}
	known = !cs.seq_ok[seq % 64] || cs.seq_num[seq % 64] != seq ||
		seq <= cs.done_upto;
	if (!want && !want_flags && !known && !timeout)
		busy_ok = 1;
	ret = do_wait(seq, timeout, flags, pad, &w);
	if (want || flags & (HL_WAIT_CS_FLAGS_INTERRUPT | HL_WAIT_CS_FLAGS_MULTI_CS)) {
		expect(ret, want, "WAIT_CS seq %llu flags %#x", (unsigned long long)seq, flags);
		return;
	}
	expect(ret, 0, "WAIT_CS seq %llu timeout %llu", (unsigned long long)seq,
	       (unsigned long long)timeout);
	if (ret)
		return;
	if ((w.out.status != want_status &&
	     !(busy_ok && w.out.status == HL_WAIT_CS_STATUS_BUSY)) ||
	    w.out.flags != want_flags) {
		mismatches++;
		printf("# MISMATCH call %llu: WAIT_CS seq %llu gave status %u flags %#x,",
		       calls, (unsigned long long)seq, w.out.status, w.out.flags);
		printf(" model %u %#x\n", want_status, want_flags);
	}
	if (w.out.status == HL_WAIT_CS_STATUS_COMPLETED && !want_flags &&
	    cs.seq_ok[seq % 64] && cs.seq_num[seq % 64] == seq &&
	    seq > cs.done_upto)
		cs.done_upto = seq;
}

/* A fresh context: sequence numbers from 1, the CB mapping again */
static void cs_reset(void)
{
	u64 va;
	int ret;

	memset(cs.u, 0, sizeof(cs.u));
	memset(cs.seq_ok, 0, sizeof(cs.seq_ok));
	cs.next_seq = 1;
	cs.done_upto = 0;
	cs.last_ok = 0;
	cs.cb_va = 0;
	ret = do_uptr_map((uintptr_t)cs.cbbuf, CB_BUF, 0, HL_MEM_USERPTR, &va);
	if (expect(ret, cs.max_uptr && cs.max_pinned >= CB_BUF / PAGE ? 0 : -ENOMEM,
		   "MAP USERPTR of the CBs") && !ret) {
		cs.cb_va = va;
		cs.u[0] = (struct m_uptr){ .live = 1, .cb = 1, .va = va,
					   .size = CB_BUF, .tree_va = va,
					   .npages = CB_BUF / PAGE };
	}
}

static void cs_init(void)
{
	cs.max_uptr = param("max_userptr_per_ctx", 65536);
	cs.max_pinned = param("max_pinned_mb_per_ctx", 1024) * MB / PAGE;
	cs.cbbuf = mmap(NULL, CB_BUF + PAGE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(cs.cbbuf + CB_BUF, PAGE, PROT_NONE);
	cs_reset();
}

static void cleanup(void)
{
	unsigned int i;

	for (i = 0; i < NE; i++)
		if (st.e[i].live && st.e[i].fd >= 0)
			close(st.e[i].fd);
	if (st.imp >= 0)
		close(st.imp);
	close(st.fd);
}

/* Close every descriptor a call may have created behind our back */
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

static u64 param(const char *name, u64 dflt)
{
	char path[128];
	unsigned long long v;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/hlsim/parameters/%s", name);
	f = fopen(path, "r");
	if (!f)
		return dflt;
	if (fscanf(f, "%llu", &v) != 1)
		v = dflt;
	fclose(f);
	return v;
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
	dmabuf_mmap_allowed = hlsim_param_on("test_dmabuf_mmap");
	st.max_allocs = param("max_allocs_per_ctx", 65536);
	st.max_maps = param("max_maps_per_ctx", 65536);
	st.max_maps_alloc = param("max_maps_per_alloc", 4096);
	{
		u64 free_mem = 0;
		struct hl_info_dram_usage u = {};
		struct hl_info_args a = {
			.return_pointer = (uintptr_t)&u,
			.return_size = sizeof(u),
			.op = HL_INFO_DRAM_USAGE,
		};

		do_info(st.ctl, &a);
		free_mem = u.dram_free_mem;
		if (!tap_ok(free_mem == st.dram_size,
			    "the device is unused at the start (free %llu)",
			    (unsigned long long)free_mem))
			return tap_done();
	}

	cs_init();
	while (calls < target) {
		unsigned int r = below(44);

		if (r >= 20) {
			if (r < 26)
				op_map_host();
			else if (r < 28)
				op_unmap_host();
			else if (r < 37)
				op_cs();
			else
				op_wait();
			continue;
		}
		switch (r) {
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
		case 16:
			op_raw();
			break;
		case 17:
			if (chance(20))
				op_bad_mem();
			else
				op_free();
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
	printf("fuzz: %llu calls (%llu ok; %llu USERPTR/CS/WAIT_CS, ", calls,
	       ok_calls, cs.cs_calls);
	printf("last context at seq %llu), seed %llu, %s nodes, mismatches: %llu\n",
	       cs.next_seq - 1, seed, st.legacy ? "legacy" : "accel",
	       mismatches);
	tap_ok(calls >= target, "%llu calls made", calls);
	tap_ok(!mismatches, "results as predicted (%llu mismatches; dma-buf mmaps %s: %llu)",
	       mismatches, dmabuf_mmap_allowed ? "allowed" : "refused",
	       mmap_dmabuf_ok);
	tap_ok(free_mem == st.dram_size,
	       "DRAM_USAGE: all %llu bytes free again (free %llu)",
	       (unsigned long long)st.dram_size,
	       (unsigned long long)free_mem);
	close(st.ctl);
	return tap_done();
}
