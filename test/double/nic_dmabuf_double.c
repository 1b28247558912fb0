/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * nic_dmabuf_double: a TEST DOUBLE of a NIC that imports dma-bufs.
 *
 * Soft RoCE (rxe) cannot import dma-bufs, so ibv_reg_dmabuf_mr() of a
 * Habana export fails with EOPNOTSUPP and zero copy cannot be exercised
 * without RDMA hardware.  Preloaded (LD_PRELOAD) into a verbs application
 * on a machine where hlsim is loaded with test_dmabuf_mmap=1 (a test-only
 * switch: real HBM has no CPU mapping), this library replaces
 *
 *   ibv_reg_dmabuf_mr(pd, offset, length, iova, fd, access)
 *
 * by a CPU mapping of the dma-buf (the page-aligned window around
 * [offset, offset + length)) registered with the ordinary
 * ibv_reg_mr_iova2(pd, window + in-page offset, length, iova, access):
 * the NIC pins the export's pages and remote keys address the buffer by
 * iova, the device virtual address, exactly as with a real importer.
 * ibv_dereg_mr() of such an MR deregisters it, then unmaps the window.
 *
 *   fd < 0           fails with EBADF, as the kernel does: UCX's IB memory
 *                    domain probes with fd -1 and takes EBADF for "dma-buf
 *                    registration supported"
 *   mmap refused     fails with EOPNOTSUPP, like a NIC that cannot import
 *                    (hlsim without test_dmabuf_mmap, any other exporter
 *                    without mmap)
 *
 * NIC_DMABUF_DOUBLE_VERBOSE=1 prints one line at load and, in a process
 * that registered, counts at exit; 2 also one line per registration.
 *
 * What it does NOT prove: PCIe peer-to-peer between a NIC and device
 * memory, or the import path of a real driver (mlx5, efa, ...): the NIC
 * here reaches the memory through the CPU mapping's struct pages.
 * Never preload it in production.
 */
#define _GNU_SOURCE
#include <infiniband/verbs.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define NDD_API __attribute__((visibility("default")))

/* One MR registered through the double, and the mapping behind it */
struct ndd_mr {
	struct ibv_mr	*mr;
	void		*map;
	size_t		map_len;
	struct ndd_mr	*next;
};

static pthread_mutex_t ndd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ndd_mr *ndd_mrs;		/* under ndd_lock */
static unsigned long ndd_regs, ndd_deregs, ndd_refused;	/* under ndd_lock */
static int ndd_verbose;
static int (*ndd_real_dereg_mr)(struct ibv_mr *mr);

static void ndd_log(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void ndd_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "nic_dmabuf_double[%d]: ", (int)getpid());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int (*ndd_resolve(void))(struct ibv_mr *)
{
	int (*real)(struct ibv_mr *);
	void *sym;

	real = __atomic_load_n(&ndd_real_dereg_mr, __ATOMIC_ACQUIRE);
	if (real != NULL)
		return real;
	/* the default version of libibverbs (IBVERBS_1.1) */
	sym = dlvsym(RTLD_NEXT, "ibv_dereg_mr", "IBVERBS_1.1");
	if (sym == NULL)
		sym = dlsym(RTLD_NEXT, "ibv_dereg_mr");
	if (sym == NULL) {
		ndd_log("cannot find the real ibv_dereg_mr: %s", dlerror());
		abort();
	}
	real = (int (*)(struct ibv_mr *))sym;
	__atomic_store_n(&ndd_real_dereg_mr, real, __ATOMIC_RELEASE);
	return real;
}

__attribute__((constructor)) static void ndd_init(void)
{
	const char *v = getenv("NIC_DMABUF_DOUBLE_VERBOSE");

	ndd_verbose = (v != NULL) ? atoi(v) : 0;
	(void)ndd_resolve();
	if (ndd_verbose > 0)
		ndd_log("loaded: TEST DOUBLE, ibv_reg_dmabuf_mr = mmap of the "
			"dma-buf + ibv_reg_mr_iova2 (iova kept)");
}

__attribute__((destructor)) static void ndd_fini(void)
{
	/* nothing for processes that never registered (shells, forks) */
	if ((ndd_verbose > 0) && (ndd_regs + ndd_refused > 0))
		ndd_log("%lu dma-buf registrations, %lu deregistered, "
			"%lu refused", ndd_regs, ndd_deregs, ndd_refused);
}

static struct ibv_mr *ndd_fail(int err)
{
	pthread_mutex_lock(&ndd_lock);
	ndd_refused++;
	pthread_mutex_unlock(&ndd_lock);
	errno = err;
	return NULL;
}

NDD_API struct ibv_mr *ibv_reg_dmabuf_mr(struct ibv_pd *pd, uint64_t offset,
					 size_t length, uint64_t iova, int fd,
					 int access)
{
	const unsigned int writable = IBV_ACCESS_LOCAL_WRITE |
				      IBV_ACCESS_REMOTE_WRITE |
				      IBV_ACCESS_REMOTE_ATOMIC;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t first, end, in_page;
	struct ndd_mr *entry;
	struct ibv_mr *mr;
	size_t map_len;
	void *map;
	int err;

	if (fd < 0)
		return ndd_fail(EBADF);
	if (pd == NULL || length == 0 || offset + length < offset ||
	    offset + length > UINT64_MAX - page)
		return ndd_fail(EINVAL);

	first   = offset & ~(page - 1);
	end     = (offset + length + page - 1) & ~(page - 1);
	in_page = offset - first;
	map_len = (size_t)(end - first);

	map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   (off_t)first);
	if (map == MAP_FAILED && errno == EACCES &&
	    !((unsigned int)access & writable))
		map = mmap(NULL, map_len, PROT_READ, MAP_SHARED, fd,
			   (off_t)first);
	if (map == MAP_FAILED) {
		err = errno;
		if (ndd_verbose > 1)
			ndd_log("fd %d: mmap of [%#llx, +%zu) failed (%d), "
				"answering EOPNOTSUPP", fd,
				(unsigned long long)first, map_len, err);
		/* a NIC that cannot import this dma-buf */
		return ndd_fail(EOPNOTSUPP);
	}

	entry = calloc(1, sizeof(*entry));
	if (entry == NULL) {
		munmap(map, map_len);
		return ndd_fail(ENOMEM);
	}

	mr = ibv_reg_mr_iova2(pd, (char *)map + in_page, length, iova,
			      (unsigned int)access);
	if (mr == NULL) {
		err = errno ? errno : EINVAL;
		if (ndd_verbose > 1)
			ndd_log("fd %d: ibv_reg_mr_iova2 failed (%d)", fd, err);
		free(entry);
		munmap(map, map_len);
		return ndd_fail(err);
	}

	entry->mr      = mr;
	entry->map     = map;
	entry->map_len = map_len;
	pthread_mutex_lock(&ndd_lock);
	entry->next = ndd_mrs;
	ndd_mrs     = entry;
	ndd_regs++;
	pthread_mutex_unlock(&ndd_lock);

	if (ndd_verbose > 1)
		ndd_log("fd %d offset %#llx length %zu iova %#llx: lkey %#x "
			"rkey %#x", fd, (unsigned long long)offset, length,
			(unsigned long long)iova, mr->lkey, mr->rkey);
	return mr;
}

/* Take the entry of @mr off the list; NULL when @mr is not ours */
static struct ndd_mr *ndd_take(struct ibv_mr *mr)
{
	struct ndd_mr **link, *entry = NULL;

	pthread_mutex_lock(&ndd_lock);
	for (link = &ndd_mrs; *link != NULL; link = &(*link)->next) {
		if ((*link)->mr == mr) {
			entry = *link;
			*link = entry->next;
			break;
		}
	}
	pthread_mutex_unlock(&ndd_lock);
	return entry;
}

NDD_API int ibv_dereg_mr(struct ibv_mr *mr)
{
	struct ndd_mr *entry;
	int ret;

	entry = (mr != NULL) ? ndd_take(mr) : NULL;
	ret   = ndd_resolve()(mr);
	if (entry == NULL)
		return ret;

	if (ret != 0) {
		/* the MR still exists, and so must its mapping */
		pthread_mutex_lock(&ndd_lock);
		entry->next = ndd_mrs;
		ndd_mrs     = entry;
		pthread_mutex_unlock(&ndd_lock);
		return ret;
	}

	munmap(entry->map, entry->map_len);
	free(entry);
	pthread_mutex_lock(&ndd_lock);
	ndd_deregs++;
	pthread_mutex_unlock(&ndd_lock);
	return 0;
}
