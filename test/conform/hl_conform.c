/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * hl_conform: the answers the habanalabs driver gives, asserted against
 * whichever device model is there: the hl_double preload on the host,
 * hlsim in the VM.  Each case is a rule of the real driver (Linux
 * drivers/accel/habanalabs/common/memory.c): per-context device VA space
 * allocated first-fit from its start, lowest free handle ids, EINVAL for
 * an exported mapping's unmap and a mapped handle's free, page rules of
 * the export, DRAM usage accounting; host memory mapped with
 * HL_MEM_USERPTR, command submission of LIN_DMA/NOP command buffers and
 * WAIT_CS (common/command_submission.c, gaudi2/gaudi2.c).  Two models
 * that pass it give the same answers.  A /dev/hlN node is driven with the
 * pre-6.3 (misc) ioctl numbers and skips the export rules, which differ
 * there.  Ends with "N passed, N failed".
 *
 *   hl_conform [DEVICE]     default /dev/accel/accel0; /dev/hl0: misc
 */
#include <src/common/habana_uapi.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static const char *path = "/dev/accel/accel0";
static int misc;	/* a /dev/hlN node: the pre-6.3 ioctl numbers */

/* The misc generation's numbers, on the accel structures: same sizes and
 * layouts */
#define REQ_INFO	(misc ? HABANA_LEGACY_INFO : DRM_IOCTL_HL_INFO)
#define REQ_CS		(misc ? HABANA_LEGACY_CS : DRM_IOCTL_HL_CS)
#define REQ_WAIT_CS	(misc ? HABANA_LEGACY_WAIT_CS : DRM_IOCTL_HL_WAIT_CS)
#define REQ_MEMORY	(misc ? HABANA_LEGACY_MEMORY : DRM_IOCTL_HL_MEMORY)
static int passed, failed;
static uint64_t page;

static void expect(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", cond ? "ok" : "MISMATCH");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (cond)
		passed++;
	else
		failed++;
}

static int mem(int fd, union hl_mem_args *args)
{
	return ioctl(fd, REQ_MEMORY, args) ? -errno : 0;
}

static int alloc(int fd, uint64_t size, uint64_t *handle)
{
	union hl_mem_args a = { .in.op = HL_MEM_OP_ALLOC };
	int rc;

	a.in.alloc.mem_size = size;
	rc = mem(fd, &a);
	*handle = rc ? 0 : a.out.handle;
	return rc;
}

static int map(int fd, uint64_t handle, uint64_t hint, uint64_t *va)
{
	union hl_mem_args a = { .in.op = HL_MEM_OP_MAP };
	int rc;

	a.in.map_device.handle = handle;
	a.in.map_device.hint_addr = hint;
	rc = mem(fd, &a);
	*va = rc ? 0 : a.out.device_virt_addr;
	return rc;
}

static int unmap(int fd, uint64_t va)
{
	union hl_mem_args a = { .in.op = HL_MEM_OP_UNMAP };

	a.in.unmap.device_virt_addr = va;
	return mem(fd, &a);
}

static int free_handle(int fd, uint64_t handle)
{
	union hl_mem_args a = { .in.op = HL_MEM_OP_FREE };

	a.in.free.handle = handle;
	return mem(fd, &a);
}

static int export(int fd, uint64_t va, uint64_t size, uint64_t offset)
{
	union hl_mem_args a = { .in.op = HL_MEM_OP_EXPORT_DMABUF_FD };
	int rc;

	a.in.flags = O_RDWR | O_CLOEXEC;
	a.in.export_dmabuf_fd.addr = va;
	a.in.export_dmabuf_fd.mem_size = size;
	a.in.export_dmabuf_fd.offset = offset;
	rc = mem(fd, &a);
	return rc ? rc : a.out.fd;
}

static int info(int fd, uint32_t op, void *out, size_t size)
{
	struct hl_info_args a = { .op = op };

	a.return_pointer = (uintptr_t)out;
	a.return_size = size;
	return ioctl(fd, REQ_INFO, &a) ? -errno : 0;
}

/* alloc + map one buffer of @pages pages */
static uint64_t buffer(int fd, unsigned pages, uint64_t *handle)
{
	uint64_t va = 0;

	if (alloc(fd, pages * page, handle) == 0 &&
	    map(fd, *handle, 0, &va) != 0)
		va = 0;
	return va;
}

static void release(int fd, uint64_t va, uint64_t handle)
{
	unmap(fd, va);
	free_handle(fd, handle);
}

static void case_context_va_space(void)
{
	uint64_t h1, h2, va1, va2;
	int fd = open(path, O_RDWR);

	va1 = buffer(fd, 1, &h1);
	close(fd);	/* the context and its memory go */
	fd = open(path, O_RDWR);
	va2 = buffer(fd, 1, &h2);
	expect(va1 != 0 && va2 == va1,
	       "a new context maps from the start of its VA space again "
	       "(%#llx, then %#llx)", (unsigned long long)va1,
	       (unsigned long long)va2);
	expect(h2 == h1, "and hands out the same first handle (%llu, %llu)",
	       (unsigned long long)h1, (unsigned long long)h2);
	release(fd, va2, h2);
	close(fd);
}

static void case_first_fit(int fd)
{
	uint64_t ha, hb, hc, va, vb, vc;

	va = buffer(fd, 2, &ha);
	vb = buffer(fd, 2, &hb);
	expect(vb > va, "VAs grow: %#llx, then %#llx", (unsigned long long)va,
	       (unsigned long long)vb);
	release(fd, va, ha);
	vc = buffer(fd, 2, &hc);
	expect(vc == va, "a freed range is reused first-fit (%#llx, got %#llx)",
	       (unsigned long long)va, (unsigned long long)vc);
	expect(hc == ha, "the freed handle id is reused (%llu, got %llu)",
	       (unsigned long long)ha, (unsigned long long)hc);
	release(fd, vb, hb);
	release(fd, vc, hc);
}

static void case_hint(int fd)
{
	uint64_t h, h2, va, va2, hint;

	va = buffer(fd, 1, &h);
	hint = va + 16 * page;
	expect(alloc(fd, page, &h2) == 0 && map(fd, h2, hint, &va2) == 0 &&
	       va2 == hint, "a free, aligned hint is honoured");
	release(fd, va2, h2);
	expect(alloc(fd, page, &h2) == 0 && map(fd, h2, va, &va2) == 0 &&
	       va2 != va, "a hint in use gives another VA");
	release(fd, va2, h2);
	release(fd, va, h);
}

static void case_refusals(int fd)
{
	uint64_t h, va, dummy;
	int dmabuf;

	va = buffer(fd, 2, &h);
	expect(alloc(fd, 0, &dummy) == -EINVAL, "ALLOC of 0 bytes: EINVAL");
	expect(unmap(fd, va + page) == -EINVAL,
	       "UNMAP inside a mapping: EINVAL");
	expect(free_handle(fd, h + 1000) == -EINVAL,
	       "FREE of an unknown handle: EINVAL");
	expect(free_handle(fd, h) == -EINVAL, "FREE of a mapped handle: EINVAL");
	expect(export(fd, va + page, page, 0) == -EINVAL,
	       "EXPORT not at a mapping's start: EINVAL");
	expect(export(fd, va, 0, 0) == -EINVAL, "EXPORT of 0 bytes: EINVAL");
	expect(export(fd, va, page + 1, 0) == -EINVAL,
	       "EXPORT of a size that is not a page multiple: EINVAL");
	expect(export(fd, va, 3 * page, 0) == -EINVAL,
	       "EXPORT beyond the mapping: EINVAL");
	dmabuf = export(fd, va, 2 * page, 0);
	expect(dmabuf >= 0, "EXPORT of the whole mapping");
	expect(unmap(fd, va) == -EINVAL,
	       "UNMAP of an exported mapping: EINVAL");
	if (dmabuf >= 0)
		close(dmabuf);
	expect(unmap(fd, va) == 0, "UNMAP once the dma-buf is released");
	expect(unmap(fd, va) == -EINVAL, "UNMAP twice: EINVAL");
	expect(free_handle(fd, h) == 0, "FREE after the unmap");
}

static void case_dram_usage(int fd)
{
	struct hl_info_dram_usage before = { 0 }, during = { 0 }, after = { 0 };
	uint64_t h, va;

	info(fd, HL_INFO_DRAM_USAGE, &before, sizeof(before));
	va = buffer(fd, 4, &h);
	info(fd, HL_INFO_DRAM_USAGE, &during, sizeof(during));
	release(fd, va, h);
	info(fd, HL_INFO_DRAM_USAGE, &after, sizeof(after));
	expect(before.dram_free_mem - during.dram_free_mem == 4 * page &&
	       during.ctx_dram_mem - before.ctx_dram_mem == 4 * page,
	       "DRAM usage counts an allocation (free -%llu, ctx +%llu)",
	       (unsigned long long)(before.dram_free_mem - during.dram_free_mem),
	       (unsigned long long)(during.ctx_dram_mem - before.ctx_dram_mem));
	expect(after.dram_free_mem == before.dram_free_mem &&
	       after.ctx_dram_mem == before.ctx_dram_mem,
	       "and gives it back on free");
}

/* ---- host memory mappings and command submission (Gaudi2) -------------- */

#define PKT_CTL(op)	(HABANA_PKT_CTL(op) | HABANA_PKT_EB | HABANA_PKT_MB)
#define QUEUE_H2D	HABANA_QUEUE_PDMA_0_0
#define QUEUE_D2H	HABANA_QUEUE_PDMA_1_0
#define QUEUE_D2D	HABANA_QUEUE_EDMA_0_0

static int map_host(int fd, const void *host, uint64_t size, uint64_t *va)
{
	union hl_mem_args a = { .in.op = HL_MEM_OP_MAP };
	int rc;

	a.in.flags = HL_MEM_USERPTR;
	a.in.map_host.host_virt_addr = (uintptr_t)host;
	a.in.map_host.mem_size = size;
	rc = mem(fd, &a);
	*va = rc ? 0 : a.out.device_virt_addr;
	return rc;
}

static void *host_pages(size_t n)
{
	void *p = mmap(NULL, n * 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A command buffer: host memory mapped for the device, packets appended */
struct cb {
	unsigned char	*host;
	uint64_t	va;
	uint32_t	size;
};

static int cb_init(int fd, struct cb *cb)
{
	cb->host = host_pages(4);
	cb->size = 0;
	return cb->host == NULL ? -ENOMEM : map_host(fd, cb->host, 4 * 4096,
						      &cb->va);
}

static void cb_fini(int fd, struct cb *cb)
{
	unmap(fd, cb->va);
	munmap(cb->host, 4 * 4096);
}

static void cb_lin(struct cb *cb, uint32_t ctl, uint64_t dst, uint64_t src,
		   uint32_t tsize)
{
	struct habana_pkt_lin_dma p = { tsize, ctl, src, dst };

	memcpy(cb->host + cb->size, &p, sizeof(p));
	cb->size += sizeof(p);
}

static void cb_copy(struct cb *cb, uint64_t dst, uint64_t src, uint32_t n)
{
	cb_lin(cb, PKT_CTL(HABANA_PKT_LIN_DMA), dst, src, n);
}

static void cb_word(struct cb *cb, uint32_t w0, uint32_t w1)
{
	memcpy(cb->host + cb->size, &w0, 4);
	memcpy(cb->host + cb->size + 4, &w1, 4);
	cb->size += 8;
}

static int cs_raw(int fd, struct hl_cs_chunk *chunks, uint32_t n,
		  uint64_t *seq)
{
	union hl_cs_args a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.in.chunks_execute = (uintptr_t)chunks;
	a.in.num_chunks_execute = n;
	rc = ioctl(fd, REQ_CS, &a) ? -errno : 0;
	if (seq != NULL)
		*seq = rc ? 0 : a.out.seq;
	return rc;
}

/* one chunk: @cb on @queue */
static int cs_submit(int fd, uint32_t queue, uint64_t cb_va, uint32_t size,
		     uint64_t *seq)
{
	struct hl_cs_chunk c;

	memset(&c, 0, sizeof(c));
	c.cb_handle = cb_va;
	c.queue_index = queue;
	c.cb_size = size;
	c.cs_chunk_flags = HL_CS_CHUNK_FLAGS_USER_ALLOC_CB;
	return cs_raw(fd, &c, 1, seq);
}

static int wait_cs(int fd, uint64_t seq, uint64_t timeout_us,
		   uint32_t *status)
{
	union hl_wait_cs_args a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.in.seq = seq;
	a.in.timeout_us = timeout_us;
	rc = ioctl(fd, REQ_WAIT_CS, &a) ? -errno : 0;
	*status = a.out.status;
	return rc;
}

/* WAIT_CS of seq 0 with @flags; GONE must come with seq 0 */
static int wait_cs_flags(int fd, uint32_t flags, uint32_t *status)
{
	union hl_wait_cs_args a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.in.flags = flags;
	rc = ioctl(fd, REQ_WAIT_CS, &a) ? -errno : 0;
	*status = a.out.status;
	if (rc == 0 && !(a.out.flags & HL_WAIT_CS_STATUS_FLAG_GONE))
		return -EPROTO;
	return rc;
}

/* Poll (timeout 0) until the CS is no longer BUSY, at most ~10 s */
static int poll_cs(int fd, uint64_t seq, uint32_t *status)
{
	struct timespec pause = { 0, 1000000 };
	int rc = 0;

	for (int i = 0; i < 10000; i++) {
		rc = wait_cs(fd, seq, 0, status);
		if (rc != 0 || *status != HL_WAIT_CS_STATUS_BUSY)
			break;
		nanosleep(&pause, NULL);
	}
	return rc;
}

/* Submit @cb on @queue and poll it to the end; 0 when COMPLETED */
static int run_cb(int fd, uint32_t queue, struct cb *cb, uint64_t *seq)
{
	uint32_t status = ~0U;
	int rc = cs_submit(fd, queue, cb->va, cb->size, seq);

	if (rc == 0)
		rc = poll_cs(fd, *seq, &status);
	cb->size = 0;
	return rc ? rc : status == HL_WAIT_CS_STATUS_COMPLETED ? 0 : -EPROTO;
}

static void case_userptr(int fd, const struct hl_info_hw_ip_info *hw)
{
	unsigned char *host = host_pages(4), *hole;
	uint64_t va = 0, va2 = 0, dummy;

	if (host == NULL)
		return;
	/* memory.c map_device_va(): a USERPTR VA keeps the in-page offset */
	expect(map_host(fd, host + 0x123, 5000, &va) == 0 &&
	       (va & 0xfff) == 0x123,
	       "USERPTR MAP keeps the in-page offset (%#llx)",
	       (unsigned long long)va);
	/* gaudi2.c: host mappings come from the PMMU range, not DRAM's */
	expect(va >= HABANA_HOST_VA_START && va < HABANA_HOST_VA_END &&
	       !(va >= hw->dram_base_address &&
		 va < hw->dram_base_address + (1ULL << 48)),
	       "USERPTR VA lies in the host range (VA_HOST_SPACE_PAGE_START)");
	/* a host range may be mapped twice: two VAs */
	expect(map_host(fd, host + 0x123, 5000, &va2) == 0 && va2 != va,
	       "the same host range mapped twice gets a second VA");
	unmap(fd, va2);
	/* memory.c unmap_device_va(): only the exact VA names the mapping */
	expect(unmap(fd, va - 0x123) == -EINVAL,
	       "UNMAP of the page start of a USERPTR mapping: EINVAL");
	expect(unmap(fd, va + 8) == -EINVAL,
	       "UNMAP inside a USERPTR mapping: EINVAL");
	expect(unmap(fd, va) == 0, "UNMAP of the exact USERPTR VA");
	expect(unmap(fd, va) == -EINVAL, "UNMAP of it twice: EINVAL");
	/* memory.c hl_pin_host_memory(): size 0 is EINVAL, unpinnable EFAULT */
	expect(map_host(fd, host, 0, &dummy) == -EINVAL,
	       "USERPTR MAP of 0 bytes: EINVAL");
	hole = host_pages(2);
	if (hole != NULL)
		munmap(hole, 2 * 4096);
	expect(hole != NULL && map_host(fd, hole, 4096, &dummy) == -EFAULT,
	       "USERPTR MAP of unmapped host memory: EFAULT");
	expect(map_host(fd, (void *)0xffff888000000000ULL, 4096, &dummy) ==
	       -EFAULT, "USERPTR MAP of a kernel address (access_ok): EFAULT");
	expect(map_host(fd, (void *)(uintptr_t)-4096, 8192, &dummy) == -EINVAL,
	       "USERPTR MAP whose end overflows: EINVAL");
	{
		union hl_mem_args a = { .in.op = HL_MEM_OP_MAP };

		a.in.flags = HL_MEM_USERPTR | HL_MEM_CONTIGUOUS;
		a.in.map_host.host_virt_addr = (uintptr_t)host;
		a.in.map_host.mem_size = 4096;
		expect(mem(fd, &a) == -EINVAL,
		       "USERPTR MAP with another flag (CONTIGUOUS): EINVAL");
	}
	/* map_device_va(): a free, page-aligned hint is honoured (the
	 * offset added); FORCE_HINT with an unusable hint is EINVAL */
	if (map_host(fd, host, 4096, &va) == 0) {
		union hl_mem_args a = { .in.op = HL_MEM_OP_MAP };
		uint64_t hint = (va & ~0xfffULL) + 64 * 4096;

		a.in.flags = HL_MEM_USERPTR;
		a.in.map_host.host_virt_addr = (uintptr_t)host + 0x10;
		a.in.map_host.mem_size = 100;
		a.in.map_host.hint_addr = hint;
		expect(mem(fd, &a) == 0 && a.out.device_virt_addr == hint + 0x10,
		       "USERPTR MAP honours a free page-aligned hint");
		va2 = a.out.device_virt_addr;
		a.in.op = HL_MEM_OP_MAP;
		a.in.flags = HL_MEM_USERPTR | HL_MEM_FORCE_HINT;
		a.in.map_host.host_virt_addr = (uintptr_t)host;
		a.in.map_host.mem_size = 100;
		a.in.map_host.hint_addr = hint;	/* in use now */
		expect(mem(fd, &a) == -EINVAL,
		       "USERPTR MAP with FORCE_HINT on a used hint: EINVAL");
		/* a host mapping is not device memory: no dma-buf */
		expect(misc || export(fd, va, 4096, 0) == -EINVAL,
		       "EXPORT_DMABUF_FD of a USERPTR VA: EINVAL");
		unmap(fd, va2);
		unmap(fd, va);
	}
	munmap(host, 4 * 4096);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 7 + (i >> 8));
}

static void case_cs_copies(int fd)
{
	enum { N = 3000, OFF = 100 };
	unsigned char *src = host_pages(2), *dst = host_pages(2);
	unsigned char want[N];
	uint64_t hd, hd2, dev, dev2, src_va, dst_va, seq, seq1 = 0, last = 0;
	uint32_t status;
	struct cb cb;
	int ok;

	if (src == NULL || dst == NULL || cb_init(fd, &cb) != 0) {
		expect(0, "CS setup (host buffers, CB mapping)");
		return;
	}
	dev = buffer(fd, 1, &hd);
	dev2 = buffer(fd, 1, &hd2);
	fill(src, 2 * 4096, 1);
	memset(dst, 0, 2 * 4096);
	map_host(fd, src, 2 * 4096, &src_va);
	map_host(fd, dst, 2 * 4096, &dst_va);

	/* gaudi2.c: PDMA queue, host -> device; then EDMA device -> device;
	 * then PDMA device -> host; the data arrives intact */
	cb_copy(&cb, dev + OFF, src_va + 5, N);
	ok = run_cb(fd, QUEUE_H2D, &cb, &seq) == 0;
	expect(ok && seq != 0, "CS host->device (PDMA_0_0) completes, seq %llu",
	       (unsigned long long)seq);
	seq1 = last = seq;
	cb_copy(&cb, dev2 + OFF * 2, dev + OFF, N);
	ok = run_cb(fd, QUEUE_D2D, &cb, &seq) == 0;
	expect(ok && seq > last, "CS device->device (EDMA) completes, seq grows");
	last = seq;
	cb_word(&cb, 0, PKT_CTL(HABANA_PKT_NOP));	/* NOP, then the copy */
	cb_copy(&cb, dst_va + 7, dev2 + OFF * 2, N);
	ok = run_cb(fd, QUEUE_D2H, &cb, &seq) == 0;
	expect(ok && seq > last,
	       "CS of NOP + device->host (PDMA_1_0) completes, seq grows");
	last = seq;
	expect(memcmp(dst + 7, src + 5, N) == 0 && dst[6] == 0 && dst[7 + N] == 0,
	       "H2D, D2D, D2H: the bytes arrive intact, nothing beyond");

	/* LIN_DMA memset (ctl bit 4): src is the value */
	cb_lin(&cb, PKT_CTL(HABANA_PKT_LIN_DMA) | HABANA_PKT_MEMSET, dev + OFF, 0, 64);
	cb_copy(&cb, dst_va, dev + OFF, 64);
	ok = run_cb(fd, QUEUE_H2D, &cb, &seq) == 0;
	memset(want, 0, 64);
	expect(ok && memcmp(dst, want, 64) == 0,
	       "memset packet (value 0), then device->host in one CB");
	cb_lin(&cb, PKT_CTL(HABANA_PKT_LIN_DMA) | HABANA_PKT_MEMSET, dev + OFF,
	       0x5a5a5a5a5a5a5a5aULL, 64);
	cb_copy(&cb, dst_va, dev + OFF, 64);
	ok = run_cb(fd, QUEUE_H2D, &cb, &seq) == 0;
	memset(want, 0x5a, 64);
	expect(ok && memcmp(dst, want, 64) == 0,
	       "memset packet (value 0x5a5a...) fills the range");

	/* two chunks in one CS, on two queues */
	{
		struct hl_cs_chunk c[2];

		memset(c, 0, sizeof(c));
		fill(src, 64, 9);
		cb_copy(&cb, dev2, src_va, 64);
		cb_copy(&cb, dev2 + 64, src_va, 64);
		for (int i = 0; i < 2; i++) {
			c[i].cb_handle = cb.va + i * sizeof(struct habana_pkt_lin_dma);
			c[i].cb_size = sizeof(struct habana_pkt_lin_dma);
			c[i].queue_index = i ? 1 : 0;
			c[i].cs_chunk_flags = HL_CS_CHUNK_FLAGS_USER_ALLOC_CB;
		}
		ok = cs_raw(fd, c, 2, &seq) == 0 &&
		     poll_cs(fd, seq, &status) == 0 &&
		     status == HL_WAIT_CS_STATUS_COMPLETED;
		cb.size = 0;
		cb_copy(&cb, dst_va, dev2, 128);
		ok = ok && run_cb(fd, QUEUE_D2H, &cb, &seq) == 0 &&
		     memcmp(dst, src, 64) == 0 && memcmp(dst + 64, src, 64) == 0;
		expect(ok, "a CS of two chunks (PDMA_0_0, PDMA_0_1) runs both");
		last = seq;
	}

	/* command_submission.c hl_wait_for_fence(): a completed CS polls
	 * COMPLETED again, also with a timeout; hl_ctx_get_fence(): a
	 * sequence not handed out yet is EINVAL */
	expect(wait_cs(fd, last, 0, &status) == 0 &&
	       status == HL_WAIT_CS_STATUS_COMPLETED,
	       "WAIT_CS poll of a completed CS: COMPLETED");
	expect(wait_cs(fd, last, 1000000, &status) == 0 &&
	       status == HL_WAIT_CS_STATUS_COMPLETED,
	       "WAIT_CS with a timeout on a completed CS: COMPLETED");
	expect(wait_cs(fd, seq1, 0, &status) == 0 &&
	       status == HL_WAIT_CS_STATUS_COMPLETED,
	       "WAIT_CS of an older completed CS: COMPLETED");
	expect(wait_cs(fd, last + 1000, 0, &status) == -EINVAL,
	       "WAIT_CS of a sequence not handed out: EINVAL");
	expect(wait_cs_flags(fd, 0, &status) == 0 &&
	       status == HL_WAIT_CS_STATUS_COMPLETED,
	       "WAIT_CS of seq 0 (fence gone): COMPLETED, FLAG_GONE");
	expect(wait_cs_flags(fd, HL_WAIT_CS_FLAGS_INTERRUPT, &status) == -EPERM,
	       "WAIT_CS for an interrupt: EPERM (no user interrupts)");
	expect(wait_cs_flags(fd, HL_WAIT_CS_FLAGS_MULTI_CS, &status) == -EPERM,
	       "WAIT_CS for multiple CSs: EPERM (no multi-CS)");

	unmap(fd, src_va);
	unmap(fd, dst_va);
	release(fd, dev, hd);
	release(fd, dev2, hd2);
	cb_fini(fd, &cb);
	munmap(src, 2 * 4096);
	munmap(dst, 2 * 4096);
}

/* A CS of the NOP(s) in @cb on PDMA_0_0 with @flags, polled to its end */
static int cs_flags(int fd, struct cb *cb, uint32_t flags)
{
	struct hl_cs_chunk c;
	union hl_cs_args a;
	uint32_t status;
	int rc;

	memset(&c, 0, sizeof(c));
	c.cb_handle = cb->va;
	c.cb_size = cb->size;
	c.queue_index = QUEUE_H2D;
	c.cs_chunk_flags = HL_CS_CHUNK_FLAGS_USER_ALLOC_CB;
	memset(&a, 0, sizeof(a));
	a.in.chunks_execute = (uintptr_t)&c;
	a.in.num_chunks_execute = 1;
	a.in.cs_flags = flags;
	a.in.timeout = 10;
	rc = ioctl(fd, REQ_CS, &a) ? -errno : 0;
	if (rc == 0)
		rc = poll_cs(fd, a.out.seq, &status);
	return rc;
}

/* A CS of one chunk whose CB holds the packet(s) built in @cb */
static int cs_of(int fd, uint32_t queue, struct cb *cb)
{
	uint64_t seq;
	uint32_t size = cb->size;

	cb->size = 0;
	return cs_submit(fd, queue, cb->va, size, &seq);
}

static void case_cs_refusals(int fd)
{
	static struct hl_cs_chunk many[HL_MAX_JOBS_PER_CS + 1];
	unsigned char *host = host_pages(1);
	uint64_t hd, dev, host_va, seq;
	union hl_cs_args a;
	struct cb cb;
	int rc;

	if (host == NULL || cb_init(fd, &cb) != 0) {
		expect(0, "CS setup (host buffer, CB mapping)");
		return;
	}
	dev = buffer(fd, 1, &hd);
	map_host(fd, host, 4096, &host_va);

	/* command_submission.c hl_cs_sanity_checks(): no chunks */
	expect(cs_raw(fd, many, 0, &seq) == -EINVAL, "CS of 0 chunks: EINVAL");
	/* hl_cs_copy_chunk_array(): more than HL_MAX_JOBS_PER_CS */
	for (int i = 0; i <= HL_MAX_JOBS_PER_CS; i++) {
		many[i].cb_handle = cb.va;
		many[i].cb_size = 0;
		many[i].queue_index = QUEUE_H2D;
		many[i].cs_chunk_flags = HL_CS_CHUNK_FLAGS_USER_ALLOC_CB;
	}
	cb_word(&cb, 0, PKT_CTL(HABANA_PKT_NOP));
	for (int i = 0; i <= HL_MAX_JOBS_PER_CS; i++)
		many[i].cb_size = 8;
	expect(cs_raw(fd, many, HL_MAX_JOBS_PER_CS + 1, &seq) == -EINVAL,
	       "CS of %d chunks: EINVAL", HL_MAX_JOBS_PER_CS + 1);
	cb.size = 0;
	/* hl_cs_sanity_checks(): the padding must be 0 */
	memset(&a, 0, sizeof(a));
	a.in.chunks_execute = (uintptr_t)many;
	a.in.num_chunks_execute = 1;
	a.in.pad[0] = 1;
	expect(ioctl(fd, REQ_CS, &a) == -1 && errno == EINVAL,
	       "CS with nonzero padding: EINVAL");
	/* hl_cs_ioctl(): the argument comes back with seq ULLONG_MAX and
	 * the errno as status */
	expect(a.out.seq == UINT64_MAX && a.out.status == (uint32_t)-EINVAL,
	       "a refused CS answers out.seq ULLONG_MAX, out.status -EINVAL");
	/* hl_cs_sanity_checks(): flags */
	cb_word(&cb, 0, PKT_CTL(HABANA_PKT_NOP));
	expect(cs_flags(fd, &cb, HL_CS_FLAGS_STAGED_SUBMISSION |
			HL_CS_FLAGS_STAGED_SUBMISSION_FIRST) == -EPERM,
	       "CS with STAGED_SUBMISSION: EPERM");
	expect(cs_flags(fd, &cb, HL_CS_FLAGS_SIGNAL | HL_CS_FLAGS_WAIT) ==
	       -EINVAL, "CS with two type flags (signal + wait): EINVAL");
	expect(cs_flags(fd, &cb, HL_CS_FLAGS_TIMESTAMP) == -EINVAL,
	       "CS with a flag not simulated (TIMESTAMP): EINVAL");
	expect(cs_flags(fd, &cb, HL_CS_FLAGS_CUSTOM_TIMEOUT) == 0,
	       "CS with CUSTOM_TIMEOUT is accepted");
	cb.size = 0;

	/* allocate_cs() runs before the chunks are validated: a CS refused
	 * for its queue consumes a sequence number (WAIT_CS: COMPLETED), one
	 * refused by the sanity checks does not */
	{
		uint64_t s1 = 0, s2 = 0, s3 = 0;
		uint32_t status = ~0U;

		cb_word(&cb, 0, PKT_CTL(HABANA_PKT_NOP));
		run_cb(fd, QUEUE_H2D, &cb, &s1);
		a.in.chunks_execute = (uintptr_t)many;
		ioctl(fd, REQ_CS, &a);	/* padding: no number */
		cb_word(&cb, 0, PKT_CTL(HABANA_PKT_NOP));
		run_cb(fd, QUEUE_H2D, &cb, &s2);
		cb_word(&cb, 0, PKT_CTL(HABANA_PKT_NOP));
		cs_of(fd, 3, &cb);			/* queue: a number */
		cb_word(&cb, 0, PKT_CTL(HABANA_PKT_NOP));
		run_cb(fd, QUEUE_H2D, &cb, &s3);
		expect(s1 != 0 && s2 == s1 + 1 && s3 == s2 + 2,
		       "a refused CS consumes a sequence number only after "
		       "the sanity checks (%llu, %llu, %llu)",
		       (unsigned long long)s1, (unsigned long long)s2,
		       (unsigned long long)s3);
		expect(wait_cs(fd, s2 + 1, 0, &status) == 0 &&
		       status == HL_WAIT_CS_STATUS_COMPLETED,
		       "WAIT_CS of the refused CS's number: COMPLETED");
	}

	/* validate_queue_index(): a queue index beyond the ASIC's */
	cb_word(&cb, 0, PKT_CTL(HABANA_PKT_NOP));
	expect(cs_of(fd, 100000, &cb) == -EINVAL,
	       "CS on queue 100000 (beyond max_queues): EINVAL");
	/* gaudi2_validate_cb_address(): a queue that is not enabled */
	cb_word(&cb, 0, PKT_CTL(HABANA_PKT_NOP));
	expect(cs_of(fd, 2, &cb) == -EINVAL,
	       "CS on a disabled queue (PDMA_0_2): EINVAL");
	/* validate_queue_index(): Gaudi2 queues take no kernel CBs */
	{
		struct hl_cs_chunk c;

		cb_word(&cb, 0, PKT_CTL(HABANA_PKT_NOP));
		memset(&c, 0, sizeof(c));
		c.cb_handle = cb.va;
		c.cb_size = 8;
		c.queue_index = QUEUE_H2D;
		expect(cs_raw(fd, &c, 1, &seq) == -EINVAL,
		       "CS chunk without USER_ALLOC_CB: EINVAL");
		cb.size = 0;
	}
	/* gaudi2_validate_cb_address(): the CB must lie in the PMMU range
	 * (hlsim: inside one USERPTR mapping) */
	cb_word(&cb, 0, PKT_CTL(HABANA_PKT_NOP));
	rc = cs_submit(fd, QUEUE_H2D, (uintptr_t)cb.host, 8, &seq);
	cb.size = 0;
	expect(rc == -EFAULT, "CB at a host address, not a mapping: EFAULT");
	rc = cs_submit(fd, QUEUE_H2D, cb.va + 4 * 4096 - 4, 8, &seq);
	expect(rc == -EFAULT, "CB running past its mapping's end: EFAULT");
	/* hlsim's rule, stricter than Gaudi2: gaudi2_validate_cb_address()
	 * also takes a CB in the DRAM/DMMU range */
	rc = cs_submit(fd, QUEUE_H2D, dev, 8, &seq);
	expect(rc == -EFAULT,
	       "CB in device memory (hlsim: only host mappings): EFAULT");

	/* malformed CBs (hlsim rejects what Gaudi2 would fault on) */
	cb_word(&cb, 0, PKT_CTL(0x1));	/* WREG_32 */
	expect(cs_of(fd, QUEUE_H2D, &cb) == -EINVAL,
	       "CB with another opcode (WREG_32): EINVAL");
	cb_word(&cb, 0, PKT_CTL(0x1f));
	expect(cs_of(fd, QUEUE_H2D, &cb) == -EINVAL,
	       "CB with an unknown opcode (0x1f): EINVAL");
	cb_copy(&cb, dev, host_va, 64);
	cb.size = 16;
	expect(cs_of(fd, QUEUE_H2D, &cb) == -EINVAL,
	       "CB ending inside a LIN_DMA packet: EINVAL");
	cb_word(&cb, 0, PKT_CTL(HABANA_PKT_NOP));
	cb.size = 4;
	expect(cs_of(fd, QUEUE_H2D, &cb) == -EINVAL,
	       "CB of 4 bytes (cb_size < 8): EINVAL");
	expect(cs_submit(fd, QUEUE_H2D, cb.va, 2 * 1024 * 1024, &seq) == -EINVAL,
	       "CB of 2 MiB (beyond HL_MAX_CB_SIZE): EINVAL");
	cb_lin(&cb, PKT_CTL(HABANA_PKT_LIN_DMA) | (1U << 1), dev, host_va, 64);
	expect(cs_of(fd, QUEUE_H2D, &cb) == -EINVAL,
	       "LIN_DMA with a ctl bit hlsim does not know (endian): EINVAL");
	cb_word(&cb, 0, PKT_CTL(HABANA_PKT_NOP) | HABANA_PKT_MEMSET);
	expect(cs_of(fd, QUEUE_H2D, &cb) == -EINVAL,
	       "NOP with a LIN_DMA bit (memset): EINVAL");
	cb_lin(&cb, PKT_CTL(HABANA_PKT_LIN_DMA), dev, host_va, 0);
	expect(cs_of(fd, QUEUE_H2D, &cb) == -EINVAL,
	       "LIN_DMA of tsize 0: EINVAL");
	cb_copy(&cb, dev + 64 * 1024 * 1024, host_va, 64);
	expect(cs_of(fd, QUEUE_H2D, &cb) == -EINVAL,
	       "LIN_DMA to an unmapped device address: EINVAL");
	cb_copy(&cb, dev, (uintptr_t)host, 64);
	expect(cs_of(fd, QUEUE_H2D, &cb) == -EINVAL,
	       "LIN_DMA from a host address, not a mapping: EINVAL");
	cb_copy(&cb, dev, host_va + 4096 - 32, 64);
	expect(cs_of(fd, QUEUE_H2D, &cb) == -EINVAL,
	       "LIN_DMA running past the end of the source mapping: EINVAL");
	cb_copy(&cb, dev + page - 32, host_va, 64);
	expect(cs_of(fd, QUEUE_H2D, &cb) == -EINVAL,
	       "LIN_DMA running past the end of the device mapping: EINVAL");
	cb_copy(&cb, dev, host_va, 0xffffffffU);
	expect(cs_of(fd, QUEUE_H2D, &cb) == -EINVAL,
	       "LIN_DMA of tsize 4 GiB - 1 beyond every mapping: EINVAL");
	cb_word(&cb, 0, PKT_CTL(HABANA_PKT_NOP));
	cb_copy(&cb, dev, 0x1234, 64);
	expect(cs_of(fd, QUEUE_H2D, &cb) == -EINVAL,
	       "a bad packet after a good one rejects the whole CS: EINVAL");
	/* after all refusals the context still works */
	cb_copy(&cb, dev, host_va, 64);
	expect(run_cb(fd, QUEUE_H2D, &cb, &seq) == 0,
	       "a good CS after the refusals completes");

	unmap(fd, host_va);
	release(fd, dev, hd);
	cb_fini(fd, &cb);
	munmap(host, 4096);
}

/* memory.c: host mappings are per context and go with it */
static void case_context_host_va_space(void)
{
	unsigned char *host = host_pages(1);
	uint64_t va1 = 0, va2 = 0;
	int fd = open(path, O_RDWR);

	if (host == NULL)
		return;
	map_host(fd, host, 4096, &va1);
	close(fd);	/* no UNMAP: the context's mappings go with it */
	fd = open(path, O_RDWR);
	map_host(fd, host, 4096, &va2);
	expect(va1 != 0 && va2 == va1,
	       "a new context maps host memory from the start of its range "
	       "again (%#llx, then %#llx)", (unsigned long long)va1,
	       (unsigned long long)va2);
	unmap(fd, va2);
	close(fd);
	munmap(host, 4096);
}

int main(int argc, char **argv)
{
	struct hl_info_hw_ip_info hw = { 0 };
	int fd, fd2;

	if (argc > 1)
		path = argv[1];
	misc = strncmp(path, "/dev/hl", 7) == 0;
	fd = open(path, O_RDWR);
	if (fd < 0 || info(fd, HL_INFO_HW_IP_INFO, &hw, sizeof(hw)) != 0) {
		printf("hl_conform: %s: %s\n", path, strerror(errno));
		printf("0 passed, 1 failed\n");
		return 1;
	}
	page = hw.dram_page_size ? hw.dram_page_size : 4096;
	fd2 = open(path, O_RDWR);
	expect(fd2 < 0 && errno == EBUSY, "a second compute open: EBUSY");
	if (fd2 >= 0)
		close(fd2);

	case_first_fit(fd);
	case_hint(fd);
	if (!misc)
		case_refusals(fd);	/* accel export rules */
	case_dram_usage(fd);
	case_userptr(fd, &hw);
	case_cs_copies(fd);
	case_cs_refusals(fd);
	close(fd);
	case_context_va_space();
	case_context_host_va_space();

	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
