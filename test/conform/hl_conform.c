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
 * the export, DRAM usage accounting.  Two models that pass it give the
 * same answers.  Accel uapi only.  Ends with "N passed, N failed".
 *
 *   hl_conform [DEVICE]     default /dev/accel/accel0
 */
#include <drm/habanalabs_accel.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const char *path = "/dev/accel/accel0";
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
	return ioctl(fd, DRM_IOCTL_HL_MEMORY, args) ? -errno : 0;
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
	return ioctl(fd, DRM_IOCTL_HL_INFO, &a) ? -errno : 0;
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

int main(int argc, char **argv)
{
	struct hl_info_hw_ip_info hw = { 0 };
	int fd, fd2;

	if (argc > 1)
		path = argv[1];
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
	case_refusals(fd);
	case_dram_usage(fd);
	close(fd);
	case_context_va_space();

	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
