/*
 * hl_double: host memory mapping (HL_MEM_OP_MAP + HL_MEM_USERPTR) and
 * command submission (DRM_IOCTL_HL_CS with user-allocated CBs of LIN_DMA
 * and NOP packets, DRM_IOCTL_HL_WAIT_CS), answering as a Gaudi2 under the
 * habanalabs driver and as hlsim (kernel/README.md) do.
 *
 * Everything runs under hl_double_dev.c's global mutex.  A USERPTR "pin"
 * records the host range only; host memory is read and written with
 * process_vm_readv/writev (hld_user_copy), so a bad host pointer is EFAULT
 * and never a crash.  A CS is validated whole, then executed at
 * submission: WAIT_CS finds it COMPLETED (or TIMEDOUT / ABORTED when a
 * fault was injected).
 */
#define _GNU_SOURCE
#include "hl_double_priv.h"

#include <drm/drm.h>
#include <drm/habanalabs_accel.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/*
 * Gaudi2 facts (Linux drivers/accel/habanalabs/gaudi2/gaudi2P.h, gaudi2.c,
 * include/gaudi2/gaudi2_packets.h).  Host mappings come from the PMMU
 * range VA_HOST_SPACE_PAGE_START..END; as for device memory each device
 * gets its own 1 TiB window of it unless HL_DOUBLE_SHARED_VA.
 */
#define HLD_HOST_PAGE		4096ULL
#define HLD_MAX_PENDING_CS	64	/* GAUDI2_MAX_PENDING_CS */
#define HLD_MAX_QUEUES		256	/* beyond: "Queue index is invalid" */
#define HLD_MAX_UMAPS		65536	/* per context, as hlsim's bounds */

#define PKT_OPCODE(ctl)		(((ctl) >> 24) & 0x1f)
#define PKT_LIN_DMA		0x9
#define PKT_NOP			0xa
#define LIN_DMA_MEMSET		(1U << 4)
#define LIN_DMA_SIZE		24
#define NOP_SIZE		8

struct hld_umap {
	struct hld_umap		*next;
	uint64_t		block;		/* reserved VA block, page aligned */
	uint64_t		block_size;
	uint64_t		va;		/* block + the host in-page offset */
	uint64_t		host;
	uint64_t		size;
};

struct hld_fence {
	uint64_t		seq;		/* 0: slot unused */
	int			error;		/* 0, -ETIMEDOUT or -EIO */
	int64_t			ts_ns;
};

struct hld_cs_ctx {
	struct hld_umap		*maps;
	unsigned		nmaps;
	uint64_t		next_seq;	/* hl_ctx_init: cs_sequence = 1 */
	struct hld_fence	pending[HLD_MAX_PENDING_CS];
};

static struct hld_cs_ctx *cs_state(struct hld_cs_ctx **csp)
{
	if (*csp == NULL) {
		*csp = calloc(1, sizeof(**csp));
		if (*csp != NULL)
			(*csp)->next_seq = 1;
	}
	return *csp;
}

void hld_cs_ctx_free(struct hld_cs_ctx *cs)
{
	if (cs == NULL)
		return;
	while (cs->maps != NULL) {
		struct hld_umap *next = cs->maps->next;

		free(cs->maps);
		cs->maps = next;
	}
	free(cs);
}

/* ---- USERPTR ------------------------------------------------------------- */

static uint64_t host_window(unsigned dev)
{
	return HLD_HOST_VA_BASE + (hld_cfg.shared_va ? 0 : dev * HLD_VA_WINDOW);
}

static const struct hld_umap *block_overlap(const struct hld_cs_ctx *cs,
					    uint64_t va, uint64_t size)
{
	for (const struct hld_umap *m = cs->maps; m != NULL; m = m->next)
		if (va < m->block + m->block_size && m->block < va + size)
			return m;
	return NULL;
}

/* The hint when it is page aligned, inside the window and free; else the
 * lowest free block (first fit), as the driver's get_va_block() */
static int pick_block(const struct hld_cs_ctx *cs, unsigned dev, uint64_t hint,
		      int force, uint64_t size, uint64_t *block)
{
	uint64_t base = host_window(dev), end = base + HLD_VA_WINDOW;
	uint64_t start = base;
	const struct hld_umap *m;

	if (hint != 0 && (hint & (HLD_HOST_PAGE - 1)) == 0 && hint >= base &&
	    hint < end && end - hint >= size &&
	    block_overlap(cs, hint, size) == NULL) {
		*block = hint;
		return 0;
	}
	if (force)
		return -EINVAL;
	while ((m = block_overlap(cs, start, size)) != NULL)
		start = m->block + m->block_size;
	if (start >= end || end - start < size)
		return -ENOMEM;
	*block = start;
	return 0;
}

/*
 * The pages must exist in the process (hl_pin_host_memory: a range that
 * cannot be pinned is EFAULT).  mincore() answers ENOMEM for a range with
 * an unmapped page.  Write permission is not checked.
 */
static int host_range_mapped(uint64_t start, uint64_t npages)
{
	unsigned char vec[256];

	while (npages > 0) {
		uint64_t n = npages < sizeof(vec) ? npages : sizeof(vec);

		if (mincore((void *)(uintptr_t)start, n * HLD_HOST_PAGE,
			    vec) != 0)
			return errno == ENOMEM ? -EFAULT : -errno;
		start += n * HLD_HOST_PAGE;
		npages -= n;
	}
	return 0;
}

/* memory.c map_device_va() with HL_MEM_USERPTR, hl_pin_host_memory() */
int hld_userptr_map(struct hld_cs_ctx **csp, unsigned dev,
		    const struct hl_mem_in *in, uint64_t *va)
{
	uint64_t addr = in->map_host.host_virt_addr;
	uint64_t size = in->map_host.mem_size;
	uint64_t start, end, block;
	struct hld_cs_ctx *cs;
	struct hld_umap *m;
	int rc;

	if (size == 0)
		return -EINVAL;		/* "size to pin is invalid" */
	if (addr + size < addr || addr + size > UINT64_MAX - HLD_HOST_PAGE)
		return -EINVAL;		/* "causes integer overflow" */
	if (addr + size > 0x800000000000ULL)
		return -EFAULT;		/* !access_ok(): not a user address */
	start = addr & ~(HLD_HOST_PAGE - 1);
	end = (addr + size + HLD_HOST_PAGE - 1) & ~(HLD_HOST_PAGE - 1);
	rc = host_range_mapped(start, (end - start) / HLD_HOST_PAGE);
	if (rc != 0)
		return rc;
	cs = cs_state(csp);
	if (cs == NULL)
		return -ENOMEM;
	if (cs->nmaps >= HLD_MAX_UMAPS)
		return -ENOMEM;
	rc = pick_block(cs, dev, in->map_host.hint_addr,
			!!(in->flags & HL_MEM_FORCE_HINT), end - start, &block);
	if (rc != 0)
		return rc;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	m->block = block;
	m->block_size = end - start;
	m->va = block + (addr - start);	/* the in-page offset is kept */
	m->host = addr;
	m->size = size;
	m->next = cs->maps;
	cs->maps = m;
	cs->nmaps++;
	*va = m->va;
	return 0;
}

/* memory.c unmap_device_va(): only the exact VA MAP returned names it */
int hld_userptr_unmap(struct hld_cs_ctx *cs, uint64_t va)
{
	struct hld_umap **link;

	if (cs == NULL)
		return -EINVAL;
	for (link = &cs->maps; *link != NULL; link = &(*link)->next)
		if ((*link)->va == va)
			break;
	if (*link == NULL)
		return -EINVAL;	/* "no mem hnode for vaddr" */
	{
		struct hld_umap *m = *link;

		*link = m->next;
		cs->nmaps--;
		free(m);
	}
	return 0;
}

/* Host address behind [va, va + size) of one host mapping, or 0 */
static uint64_t host_range(const struct hld_cs_ctx *cs, uint64_t va,
			   uint64_t size)
{
	for (const struct hld_umap *m = cs->maps; m != NULL; m = m->next)
		if (va >= m->va && size <= m->size && va - m->va <= m->size - size)
			return m->host + (va - m->va);
	return 0;
}

/* ---- command submission ------------------------------------------------ */

/*
 * Queues a user may submit to on Gaudi2 with user-allocated CBs: PDMA_0_0,
 * PDMA_0_1, PDMA_1_0 and the EDMA queues of the four dcores
 * (gaudi2_is_queue_enabled(); the others are NA, binned out or the
 * driver's own).
 */
static int queue_enabled(uint32_t q)
{
	return q == 0 || q == 1 || q == 4 || (q >= 8 && q <= 15) ||
	       (q >= 48 && q <= 55) || (q >= 84 && q <= 91) ||
	       (q >= 120 && q <= 127);
}

/* One side of a transfer: a device range, or a host range behind a
 * USERPTR mapping */
struct hld_side {
	unsigned char	*dev;	/* device memory in the double's heap */
	uint64_t	host;	/* host address, when dev is NULL */
};

static int translate(struct hld_ctx *ctx, const struct hld_cs_ctx *cs,
		     uint64_t va, uint64_t size, struct hld_side *side)
{
	side->dev = hld_dev_range(ctx, va, size);
	side->host = side->dev == NULL ? host_range(cs, va, size) : 0;
	return side->dev != NULL || side->host != 0 ? 0 : -EINVAL;
}

/*
 * Move @n bytes from @src to @dst, or fill @dst with the 8-byte
 * little-endian pattern @value (memset).  Host sides go through
 * process_vm_readv/writev.
 */
static int dma_move(const struct hld_side *dst, const struct hld_side *src,
		    uint64_t value, uint64_t n, int fill)
{
	unsigned char buf[4096] __attribute__((aligned(8)));
	uint64_t done = 0;

	if (fill) {
		for (size_t i = 0; i < sizeof(buf); i += 8)
			memcpy(buf + i, &value, 8);
	} else if (dst->dev != NULL && src->dev != NULL) {
		memmove(dst->dev, src->dev, n);
		return 0;
	} else if (dst->dev != NULL) {
		return hld_user_copy(dst->dev, src->host, n, 0);
	} else if (src->dev != NULL) {
		return hld_user_copy(src->dev, dst->host, n, 1);
	}
	while (done < n) {	/* memset, or host to host */
		size_t len = n - done < sizeof(buf) ? n - done : sizeof(buf);

		if (!fill && hld_user_copy(buf, src->host + done, len, 0) != 0)
			return -EFAULT;
		if (dst->dev != NULL)
			memcpy(dst->dev + done, buf, len);
		else if (hld_user_copy(buf, dst->host + done, len, 1) != 0)
			return -EFAULT;
		done += len;
	}
	return 0;
}

struct hld_job {
	uint32_t	queue;
	uint64_t	cb_host;	/* the CB's host address */
	uint32_t	cb_size;
};

/*
 * Walk the packets of one CB.  With @run 0 it validates (opcodes, sizes,
 * every address inside one mapping of the context); with @run 1 it moves
 * the data.  Validation errors are EINVAL; a CB that cannot be read is
 * EFAULT.
 */
static int cb_walk(struct hld_ctx *ctx, const struct hld_cs_ctx *cs,
		   const struct hld_job *job, int run)
{
	uint32_t off = 0;

	while (off < job->cb_size) {
		uint32_t hdr[2], tsize, ctl;
		uint64_t addr[2];
		struct hld_side src, dst;
		int rc;

		if (job->cb_size - off < NOP_SIZE)
			return -EINVAL;		/* a truncated packet */
		if (hld_user_copy(hdr, job->cb_host + off, sizeof(hdr), 0))
			return -EFAULT;
		tsize = hdr[0];
		ctl = hdr[1];
		if (PKT_OPCODE(ctl) == PKT_NOP) {
			off += NOP_SIZE;
			continue;
		}
		if (PKT_OPCODE(ctl) != PKT_LIN_DMA ||
		    job->cb_size - off < LIN_DMA_SIZE)
			return -EINVAL;
		if (hld_user_copy(addr, job->cb_host + off + 8, sizeof(addr),
				  0))
			return -EFAULT;
		off += LIN_DMA_SIZE;
		if (tsize == 0)
			continue;
		if (translate(ctx, cs, addr[1], tsize, &dst) != 0)
			return -EINVAL;
		if (ctl & LIN_DMA_MEMSET) {
			src.dev = NULL;
			src.host = 0;
		} else if (translate(ctx, cs, addr[0], tsize, &src) != 0) {
			return -EINVAL;
		}
		if (!run)
			continue;
		rc = dma_move(&dst, &src, addr[0], tsize,
			      !!(ctl & LIN_DMA_MEMSET));
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int take_knob(int *knob)
{
	if (*knob <= 0)
		return 0;
	--*knob;
	return 1;
}

/* command_submission.c hl_cs_ioctl(): hl_cs_sanity_checks(),
 * hl_cs_copy_chunk_array(), validate_queue_index(), gaudi2_cs_parser() /
 * gaudi2_validate_cb_address(), allocate_cs(), then the out fields */
static int cs_submit(struct hld_ctx *ctx, struct hld_cs_ctx *cs,
		     const struct hl_cs_in *in, uint64_t *seq)
{
	struct hl_cs_chunk chunk;
	struct hld_job *jobs;
	struct hld_fence *slot = &cs->pending[cs->next_seq &
					      (HLD_MAX_PENDING_CS - 1)];
	uint32_t n = in->num_chunks_execute;
	int rc = 0, error = 0;

	for (size_t i = 0; i < sizeof(in->pad); i++)
		if (in->pad[i] != 0)
			return -EINVAL;	/* "Padding bytes must be 0" */
	if (in->cs_flags != 0)
		return -EINVAL;		/* only execute CSs are emulated */
	if (n == 0 || n > HL_MAX_JOBS_PER_CS)
		return -EINVAL;
	jobs = calloc(n, sizeof(*jobs));
	if (jobs == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		if (hld_user_copy(&chunk, in->chunks_execute + i * sizeof(chunk),
				  sizeof(chunk), 0) != 0) {
			rc = -EFAULT;
			break;
		}
		if (!queue_enabled(chunk.queue_index) ||
		    !(chunk.cs_chunk_flags & HL_CS_CHUNK_FLAGS_USER_ALLOC_CB)) {
			rc = -EINVAL;	/* not a user queue / no kernel CBs */
			break;
		}
		jobs[i].queue = chunk.queue_index;
		jobs[i].cb_size = chunk.cb_size;
		jobs[i].cb_host = host_range(cs, chunk.cb_handle,
					     chunk.cb_size ? chunk.cb_size : 1);
		if (jobs[i].cb_host == 0)
			rc = -EFAULT;	/* "CB address ... is not valid" */
		else
			rc = cb_walk(ctx, cs, &jobs[i], 0);
	}
	if (rc == 0 && take_knob(&hld_cfg.cs_disabled_queue))
		rc = -EINVAL;		/* "h/w queue %d is disabled" */
	if (rc != 0) {
		free(jobs);
		return rc;
	}
	if (take_knob(&hld_cfg.cs_timeout))
		error = -ETIMEDOUT;
	else if (take_knob(&hld_cfg.cs_abort))
		error = -EIO;
	for (uint32_t i = 0; i < n && error == 0; i++)
		if (cb_walk(ctx, cs, &jobs[i], 1) != 0)
			error = -EIO;	/* host memory gone since the MAP */
	free(jobs);
	slot->seq = cs->next_seq++;
	slot->error = error;
	slot->ts_ns = now_ns();
	*seq = slot->seq;
	return 0;
}

int hld_cs_ioctl(struct hld_ctx *ctx, struct hld_cs_ctx **csp, void *arg)
{
	union hl_cs_args a;
	struct hld_cs_ctx *cs;
	uint64_t seq = UINT64_MAX;
	int rc;

	if (hld_user_copy(&a, (uintptr_t)arg, sizeof(a), 0) != 0)
		return -EFAULT;
	cs = cs_state(csp);
	rc = cs == NULL ? -ENOMEM : cs_submit(ctx, cs, &a.in, &seq);
	if (rc == -EAGAIN)
		return rc;		/* the driver leaves args alone */
	memset(&a, 0, sizeof(a));
	a.out.seq = seq;
	a.out.status = (uint32_t)rc;
	if (hld_user_copy(&a, (uintptr_t)arg, sizeof(a), 1) != 0 && rc == 0)
		rc = -EFAULT;
	return rc;
}

/* command_submission.c hl_cs_wait_ioctl(), hl_wait_for_fence(),
 * context.c hl_ctx_get_fence() */
int hld_wait_cs_ioctl(struct hld_cs_ctx **csp, void *arg)
{
	union hl_wait_cs_args a;
	struct hld_cs_ctx *cs;
	const struct hld_fence *f;
	uint64_t seq;
	int rc = 0;

	if (hld_user_copy(&a, (uintptr_t)arg, sizeof(a), 0) != 0)
		return -EFAULT;
	if (a.in.flags & (HL_WAIT_CS_FLAGS_INTERRUPT | HL_WAIT_CS_FLAGS_MULTI_CS))
		return -EINVAL;		/* not emulated */
	cs = cs_state(csp);
	if (cs == NULL)
		return -ENOMEM;
	seq = a.in.seq;
	if (seq >= cs->next_seq)
		return -EINVAL;		/* "current CS is at seq %llu" */
	f = &cs->pending[seq & (HLD_MAX_PENDING_CS - 1)];
	memset(&a, 0, sizeof(a));
	if (seq + HLD_MAX_PENDING_CS < cs->next_seq || f->seq != seq) {
		a.out.status = HL_WAIT_CS_STATUS_COMPLETED;	/* gone */
		a.out.flags = HL_WAIT_CS_STATUS_FLAG_GONE;
	} else if (f->error == -ETIMEDOUT) {
		a.out.status = HL_WAIT_CS_STATUS_TIMEDOUT;
		rc = -ETIMEDOUT;
	} else if (f->error == -EIO) {
		a.out.status = HL_WAIT_CS_STATUS_ABORTED;
		rc = -EIO;
	} else {
		a.out.status = HL_WAIT_CS_STATUS_COMPLETED;
		a.out.flags = HL_WAIT_CS_STATUS_FLAG_TIMESTAMP_VLD;
		a.out.timestamp_nsec = f->ts_ns;
	}
	if (hld_user_copy(&a, (uintptr_t)arg, sizeof(a), 1) != 0)
		return -EFAULT;
	return rc;
}
