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

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/*
 * Gaudi2 facts (Linux drivers/accel/habanalabs/gaudi2/gaudi2P.h, gaudi2.c,
 * include/gaudi2/gaudi2_packets.h) and hlsim's bounds (kernel/README.md).
 * Host mappings come from the PMMU range VA_HOST_SPACE_PAGE_START..END,
 * first fit; as for device memory each device gets its own 1 TiB window
 * of it unless HL_DOUBLE_SHARED_VA (hlsim: one range for every context).
 */
#define HLD_HOST_PAGE		4096ULL
#define HLD_MAX_PENDING_CS	64	/* GAUDI2_MAX_PENDING_CS */
#define HLD_USER_END		0x800000000000ULL	/* x86-64 TASK_SIZE */
#define HLD_MAX_UMAPS		65536	/* hlsim max_userptr_per_ctx */
#define HLD_MAX_PINNED		(1024ULL << 20)	/* max_pinned_mb_per_ctx */
#define HLD_MAX_CB_SIZE		(2U * 1024 * 1024 - 32)	/* HL_MAX_CB_SIZE */
#define HLD_MAX_LIN_DMA		65536	/* per CS, hlsim bound */
#define HLD_CS_TYPE_MASK	(HL_CS_FLAGS_SIGNAL | HL_CS_FLAGS_WAIT | \
				 HL_CS_FLAGS_COLLECTIVE_WAIT | \
				 HL_CS_FLAGS_RESERVE_SIGNALS_ONLY | \
				 HL_CS_FLAGS_UNRESERVE_SIGNALS_ONLY | \
				 HL_CS_FLAGS_ENGINE_CORE_COMMAND | \
				 HL_CS_FLAGS_ENGINES_COMMAND | \
				 HL_CS_FLAGS_FLUSH_PCI_HBW_WRITES)

#define PKT_BARRIERS		(HABANA_PKT_EB | HABANA_PKT_RB | HABANA_PKT_MB)
#define NOP_CTL_BITS		(PKT_BARRIERS | HABANA_PKT_CTL(0x1f))
#define LIN_DMA_CTL_BITS	(NOP_CTL_BITS | HABANA_PKT_MEMSET | \
				 HABANA_PKT_WRCOMP)
#define LIN_DMA_SIZE		sizeof(struct habana_pkt_lin_dma)
#define NOP_SIZE		sizeof(struct habana_pkt_nop)

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
	int			error;		/* 0, or -EIO (aborted) */
	int64_t			hang_end_ns;	/* hung: times out then */
};

struct hld_cs_ctx {
	struct hld_umap		*maps;
	unsigned		nmaps;
	uint64_t		pinned;		/* bytes, whole pages */
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

/* USERPTR mappings made (hl_double_userptr_maps()) */
static unsigned long hld_userptr_total;

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

	if (in->flags & ~(uint32_t)(HL_MEM_USERPTR | HL_MEM_FORCE_HINT))
		return -EINVAL;		/* hlsim, as for a DRAM MAP */
	if (size == 0)
		return -EINVAL;		/* "size to pin is invalid" */
	if (addr + size < addr || addr + size > UINT64_MAX - HLD_HOST_PAGE)
		return -EINVAL;		/* "causes integer overflow" */
	start = addr & ~(HLD_HOST_PAGE - 1);
	end = (addr + size + HLD_HOST_PAGE - 1) & ~(HLD_HOST_PAGE - 1);
	cs = cs_state(csp);
	if (cs == NULL)
		return -ENOMEM;
	if (cs->nmaps >= HLD_MAX_UMAPS || end - start > HLD_MAX_PINNED ||
	    cs->pinned > HLD_MAX_PINNED - (end - start))
		return -ENOMEM;		/* hlsim's per-context bounds */
	if (end > HLD_USER_END)
		return -EFAULT;		/* !access_ok(): not a user address */
	rc = host_range_mapped(start, (end - start) / HLD_HOST_PAGE);
	if (rc != 0)
		return rc;		/* get_user_memory(): cannot pin */
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
	cs->pinned += m->block_size;
	hld_userptr_total++;
	*va = m->va;
	return 0;
}

unsigned long hld_userptr_maps(void)
{
	return hld_userptr_total;
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
		cs->pinned -= m->block_size;
		free(m);
	}
	return 0;
}

/*
 * Host address behind [va, va + size) of one host mapping, or 0.  The one
 * found moves to the front: a CS finds its CB and its host side in the
 * first entries however many mappings the engine keeps (the double's own
 * lookup would otherwise cost more than the engine's it is measured with).
 */
static uint64_t host_range(struct hld_cs_ctx *cs, uint64_t va, uint64_t size)
{
	struct hld_umap **link, *m;

	for (link = &cs->maps; *link != NULL; link = &(*link)->next) {
		m = *link;
		if (va >= m->va && size <= m->size &&
		    va - m->va <= m->size - size) {
			*link = m->next;
			m->next = cs->maps;
			cs->maps = m;
			return m->host + (va - m->va);
		}
	}
	return 0;
}

/* ---- command submission ------------------------------------------------ */

/*
 * Queues a user may submit to on Gaudi2 with user-allocated CBs: PDMA_0_0,
 * PDMA_0_1, PDMA_1_0 and the EDMA queues of the four dcores
 * (gaudi2_is_queue_enabled(); the others are NA, binned out or the
 * driver's own).  Any of them does any direction, as in hlsim.
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

static int translate(struct hld_ctx *ctx, struct hld_cs_ctx *cs,
		     uint64_t va, uint64_t size, struct hld_side *side)
{
	if (va + size < va)
		return -EINVAL;		/* the range overflows */
	side->dev = hld_dev_range(ctx, va, size);
	side->host = side->dev == NULL ? host_range(cs, va, size) : 0;
	return side->dev != NULL || side->host != 0 ? 0 : -EINVAL;
}

/*
 * Move @n bytes from @src to @dst, or fill @dst with the 8-byte
 * little-endian pattern @value (memset: byte i is byte i mod 8 of it).
 * Host sides go through process_vm_readv/writev.
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
	uint64_t	cb_host;	/* the CB's host address */
	uint32_t	cb_size;
};

/*
 * Walk the packets of one CB.  With @run 0 it validates (opcodes, ctl
 * bits, sizes, every address inside one mapping of the context) and
 * counts the LIN_DMA packets into *@nlin; with @run 1 it moves the data.
 * Malformed is EINVAL (hlsim: the hardware would fault); a CB that
 * cannot be read is EFAULT.
 */
static int cb_walk(struct hld_ctx *ctx, struct hld_cs_ctx *cs,
		   const struct hld_job *job, int run, uint32_t *nlin)
{
	uint32_t off = 0;

	while (off < job->cb_size) {
		uint32_t hdr[2], tsize, ctl;
		uint64_t addr[2];
		struct hld_side src, dst;
		int rc;

		if (job->cb_size - off < NOP_SIZE)
			return -EINVAL;		/* a packet cut by cb_size */
		if (hld_user_copy(hdr, job->cb_host + off, sizeof(hdr), 0))
			return -EFAULT;
		tsize = hdr[0];
		ctl = hdr[1];
		if (HABANA_PKT_OPCODE(ctl) == HABANA_PKT_NOP) {
			if (ctl & ~NOP_CTL_BITS)
				return -EINVAL;
			off += NOP_SIZE;
			continue;
		}
		if (HABANA_PKT_OPCODE(ctl) != HABANA_PKT_LIN_DMA ||
		    job->cb_size - off < LIN_DMA_SIZE ||
		    (ctl & ~LIN_DMA_CTL_BITS) || tsize == 0)
			return -EINVAL;
		if (hld_user_copy(addr, job->cb_host + off + 8, sizeof(addr),
				  0))
			return -EFAULT;
		off += LIN_DMA_SIZE;
		if (!run && ++*nlin > HLD_MAX_LIN_DMA)
			return -EINVAL;
		if (translate(ctx, cs, addr[1], tsize, &dst) != 0)
			return -EINVAL;
		if (ctl & HABANA_PKT_MEMSET) {
			src.dev = NULL;
			src.host = 0;
		} else if (translate(ctx, cs, addr[0], tsize, &src) != 0) {
			return -EINVAL;
		}
		if (!run)
			continue;
		rc = dma_move(&dst, &src, addr[0], tsize,
			      !!(ctl & HABANA_PKT_MEMSET));
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

/* Still running: only a hung CS, until its timeout */
static int fence_busy(const struct hld_fence *f, int64_t now)
{
	return f->seq != 0 && f->hang_end_ns != 0 && now < f->hang_end_ns;
}

/* The checks before allocate_cs(): no sequence number consumed */
static int cs_precheck(const struct hl_cs_in *in)
{
	const uint32_t allowed = HL_CS_FLAGS_CUSTOM_TIMEOUT |
				 HL_CS_FLAGS_SKIP_RESET_ON_TIMEOUT;
	uint32_t type = in->cs_flags & HLD_CS_TYPE_MASK;

	for (size_t i = 0; i < sizeof(in->pad); i++)
		if (in->pad[i] != 0)
			return -EINVAL;	/* "Padding bytes must be 0" */
	if (in->cs_flags & HL_CS_FLAGS_STAGED_SUBMISSION)
		return -EPERM;		/* "staged submission not supported" */
	if (type & (type - 1))
		return -EINVAL;		/* "CS type flags are mutually exclusive" */
	if (in->cs_flags & ~allowed)
		return -EINVAL;		/* hlsim: not simulated */
	if (in->num_chunks_execute == 0 ||
	    in->num_chunks_execute > HL_MAX_JOBS_PER_CS)
		return -EINVAL;
	return 0;
}

/* Per chunk, in order: queue, user CB, CB size, CB location, packets */
static int cs_check_chunks(struct hld_ctx *ctx, struct hld_cs_ctx *cs,
			   const struct hl_cs_chunk *chunks, uint32_t n,
			   struct hld_job *jobs)
{
	uint32_t nlin = 0;
	int rc;

	for (uint32_t i = 0; i < n; i++) {
		const struct hl_cs_chunk *c = &chunks[i];

		if (!queue_enabled(c->queue_index))
			return -EINVAL;	/* validate_queue_index() */
		if (!(c->cs_chunk_flags & HL_CS_CHUNK_FLAGS_USER_ALLOC_CB))
			return -EINVAL;	/* "doesn't support kernel CB" */
		if (c->cb_size < NOP_SIZE || c->cb_size > HLD_MAX_CB_SIZE)
			return -EINVAL;	/* hlsim bound */
		jobs[i].cb_size = c->cb_size;
		jobs[i].cb_host = host_range(cs, c->cb_handle, c->cb_size);
		if (jobs[i].cb_host == 0)
			return -EFAULT;	/* "CB address ... is not valid" */
		rc = cb_walk(ctx, cs, &jobs[i], 0, &nlin);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/*
 * command_submission.c hl_cs_ioctl(): hl_cs_sanity_checks(),
 * hl_cs_copy_chunk_array(), allocate_cs() (the sequence number is taken
 * here: a CS refused after it consumes one), validate_queue_index(),
 * gaudi2_cs_parser() / gaudi2_validate_cb_address(); hlsim's CB parsing
 * (kernel/README.md).  A valid CS runs here, before the ioctl returns.
 */
static int cs_submit(struct hld_ctx *ctx, struct hld_cs_ctx *cs,
		     const struct hl_cs_in *in, uint64_t *seq)
{
	uint32_t n = in->num_chunks_execute;
	struct hl_cs_chunk *chunks;
	struct hld_fence *slot;
	struct hld_job *jobs;
	int64_t now = now_ns();
	int rc = cs_precheck(in);

	if (rc != 0)
		return rc;
	chunks = calloc(n, sizeof(*chunks));
	jobs = calloc(n, sizeof(*jobs));
	if (chunks == NULL || jobs == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (hld_user_copy(chunks, in->chunks_execute, n * sizeof(*chunks),
			  0) != 0) {
		rc = -EFAULT;
		goto out;
	}
	slot = &cs->pending[cs->next_seq & (HLD_MAX_PENDING_CS - 1)];
	if (fence_busy(slot, now)) {
		rc = -EAGAIN;		/* "too many in-flights CS" */
		goto out;
	}
	/* allocate_cs(): from here on the CS has a sequence number */
	memset(slot, 0, sizeof(*slot));
	slot->seq = cs->next_seq++;
	if (take_knob(&hld_cfg.cs_disable))
		rc = -EINVAL;		/* "h/w queue %d is disabled" */
	else
		rc = cs_check_chunks(ctx, cs, chunks, n, jobs);
	if (rc != 0)
		goto out;		/* its fence completes (error unseen) */
	if (take_knob(&hld_cfg.cs_hang)) {
		uint64_t ms = (in->cs_flags & HL_CS_FLAGS_CUSTOM_TIMEOUT) ?
			      in->timeout * 1000ULL : (uint64_t)hld_cfg.cs_timeout_ms;

		slot->hang_end_ns = now + (int64_t)(ms * 1000000);
		if (slot->hang_end_ns == 0)
			slot->hang_end_ns = 1;
	} else if (take_knob(&hld_cfg.cs_abort)) {
		slot->error = -EIO;
	} else {
		for (uint32_t i = 0; i < n && slot->error == 0; i++)
			if (cb_walk(ctx, cs, &jobs[i], 1, NULL) != 0)
				slot->error = -EIO;	/* host memory gone */
	}
	*seq = slot->seq;
out:
	free(chunks);
	free(jobs);
	return rc;
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
	a.out.seq = seq;		/* ULLONG_MAX on failure */
	a.out.status = (uint32_t)rc;
	if (hld_user_copy(&a, (uintptr_t)arg, sizeof(a), 1) != 0 && rc == 0)
		rc = -EFAULT;
	return rc;
}

/* The deadline of a WAIT_CS that sleeps (hld_dev_ioctl() calls it again
 * after HLD_RETRY, without the lock) */
static __thread int64_t wait_deadline;

/*
 * command_submission.c hl_wait_ioctl(), hl_cs_wait_ioctl(),
 * hl_wait_for_fence(), context.c hl_ctx_get_fence(); as hlsim: no
 * timestamps, INTERRUPT and MULTI_CS waits are EPERM.  Other answers
 * write the argument back also on failure.
 */
int hld_wait_cs_ioctl(struct hld_cs_ctx **csp, void *arg)
{
	union hl_wait_cs_args a;
	const struct hld_fence *f;
	struct hld_cs_ctx *cs;
	int64_t now = now_ns();
	uint64_t seq;
	int rc = 0;

	if (hld_user_copy(&a, (uintptr_t)arg, sizeof(a), 0) != 0)
		return -EFAULT;
	/* no user interrupts, no multi-CS wait: -EPERM, the argument left
	 * as it is (hl_interrupt_wait_ioctl(), hl_multi_cs_wait_ioctl()) */
	if (a.in.flags & HL_WAIT_CS_FLAGS_INTERRUPT)
		return -EPERM;
	if (a.in.flags & HL_WAIT_CS_FLAGS_MULTI_CS) {
		for (size_t i = 0; i < sizeof(a.in.pad); i++)
			if (a.in.pad[i] != 0)
				return -EINVAL;	/* "Padding bytes must be 0" */
		return -EPERM;
	}
	cs = cs_state(csp);
	seq = a.in.seq;
	if (cs == NULL)
		rc = -ENOMEM;
	else if (seq >= cs->next_seq)
		rc = -EINVAL;		/* "current CS is at seq %llu" */
	if (rc != 0) {
		wait_deadline = 0;
		memset(&a, 0, sizeof(a));
		hld_user_copy(&a, (uintptr_t)arg, sizeof(a), 1);
		return rc;
	}
	f = &cs->pending[seq & (HLD_MAX_PENDING_CS - 1)];
	if (fence_busy(f, now) && f->seq == seq && a.in.timeout_us != 0) {
		if (wait_deadline == 0)
			wait_deadline = now + (int64_t)(a.in.timeout_us > INT64_MAX / 2000 ?
					INT64_MAX / 2 : a.in.timeout_us * 1000);
		if (now < wait_deadline)
			return HLD_RETRY;	/* sleep a little, ask again */
	}
	wait_deadline = 0;
	memset(&a, 0, sizeof(a));
	if (seq == 0 || seq + HLD_MAX_PENDING_CS < cs->next_seq ||
	    f->seq != seq) {
		a.out.status = HL_WAIT_CS_STATUS_COMPLETED;	/* gone */
		a.out.flags = HL_WAIT_CS_STATUS_FLAG_GONE;
	} else if (fence_busy(f, now)) {
		a.out.status = HL_WAIT_CS_STATUS_BUSY;
	} else if (f->hang_end_ns != 0) {
		a.out.status = HL_WAIT_CS_STATUS_TIMEDOUT;
		rc = -ETIMEDOUT;
	} else if (f->error == -EIO) {
		a.out.status = HL_WAIT_CS_STATUS_ABORTED;
		rc = -EIO;
	} else {
		a.out.status = HL_WAIT_CS_STATUS_COMPLETED;
	}
	if (hld_user_copy(&a, (uintptr_t)arg, sizeof(a), 1) != 0)
		return -EFAULT;
	return rc;
}

/* A WAIT_CS that slept ended (a signal, its descriptor closed) */
void hld_wait_cs_reset(void)
{
	wait_deadline = 0;
}
