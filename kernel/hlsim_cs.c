// SPDX-License-Identifier: GPL-2.0
/*
 * hlsim - command submission as on a Gaudi2: DRM_IOCTL_HL_CS with execute
 * chunks whose user CBs (in USERPTR mappings) hold LIN_DMA and NOP packets,
 * and DRM_IOCTL_HL_WAIT_CS.
 *
 * The real Gaudi2 hands user CBs to the queue hardware unparsed.  hlsim
 * parses a CB at submission instead: every address is translated through
 * the caller's mappings and bounds-checked, a reference is taken on each
 * mapping used, and anything malformed is refused with -EINVAL.  The copies
 * then run on the context's ordered workqueue, so UNMAP, FREE and close
 * during execution never free memory a CS still uses.
 *
 * Sequence numbers and the in-flight bound follow habanalabs' allocate_cs()
 * and hl_ctx_get_fence(): CS s lives in slot s % HLSIM_MAX_PENDING_CS until
 * CS s + HLSIM_MAX_PENDING_CS replaces it; older CSs are "gone".
 */

#include <linux/bitfield.h>
#include <linux/completion.h>
#include <linux/highmem.h>
#include <linux/jiffies.h>
#include <linux/kref.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/unaligned.h>

#include <drm/drm_print.h>

#include "hlsim.h"

/* Largest CB, as habanalabs' HL_MAX_CB_SIZE */
#define HLSIM_MAX_CB_SIZE	(SZ_2M - 32)
/* LIN_DMA packets in one CS: bounds the memory a submission takes */
#define HLSIM_MAX_CS_DMA_PKTS	65536
/* Chunks and LIN_DMA packets held without an allocation (small CSs) */
#define HLSIM_CS_STACK_CHUNKS	2
#define HLSIM_CS_SMALL_OPS	2

/* Gaudi2 packets (include/gaudi2/gaudi2_packets.h) */
#define HLSIM_PKT_OPCODE	GENMASK(28, 24)
#define HLSIM_PKT_EB		BIT(29)
#define HLSIM_PKT_RB		BIT(30)
#define HLSIM_PKT_MB		BIT(31)
#define HLSIM_PKT_COMMON	(HLSIM_PKT_OPCODE | HLSIM_PKT_EB | \
				 HLSIM_PKT_RB | HLSIM_PKT_MB)
#define HLSIM_LIN_DMA_WRCOMP	BIT(0)
#define HLSIM_LIN_DMA_MEMSET	BIT(4)
#define HLSIM_PKT_LIN_DMA	0x9
#define HLSIM_PKT_NOP		0xA
#define HLSIM_LIN_DMA_SIZE	24
#define HLSIM_NOP_SIZE		8

/* CS flags hlsim executes; other flags are not simulated */
#define HLSIM_CS_FLAGS_OK	(HL_CS_FLAGS_CUSTOM_TIMEOUT | \
				 HL_CS_FLAGS_SKIP_RESET_ON_TIMEOUT)
/* Mutually exclusive CS types (habanalabs' HL_CS_FLAGS_TYPE_MASK) */
#define HLSIM_CS_FLAGS_TYPE	(HL_CS_FLAGS_SIGNAL | HL_CS_FLAGS_WAIT | \
				 HL_CS_FLAGS_COLLECTIVE_WAIT | \
				 HL_CS_FLAGS_RESERVE_SIGNALS_ONLY | \
				 HL_CS_FLAGS_UNRESERVE_SIGNALS_ONLY | \
				 HL_CS_FLAGS_ENGINE_CORE_COMMAND | \
				 HL_CS_FLAGS_ENGINES_COMMAND | \
				 HL_CS_FLAGS_FLUSH_PCI_HBW_WRITES)

/*
 * Fault injection, writable at run time: each is a count of CSs to come.
 * fault_cs_disable: refused as on a disabled queue (-EINVAL);
 * fault_cs_hang: never executed, timed out after the CS timeout;
 * fault_cs_abort: completed aborted without copying.
 */
static unsigned int fault_cs_disable;
module_param(fault_cs_disable, uint, 0644);
MODULE_PARM_DESC(fault_cs_disable,
		 "TEST: the next N CSs fail as if their queue were disabled");

static unsigned int fault_cs_hang;
module_param(fault_cs_hang, uint, 0644);
MODULE_PARM_DESC(fault_cs_hang,
		 "TEST: the next N CSs never complete and time out after the CS timeout");

static unsigned int fault_cs_abort;
module_param(fault_cs_abort, uint, 0644);
MODULE_PARM_DESC(fault_cs_abort,
		 "TEST: the next N CSs complete aborted");

static unsigned int cs_inline_mb = 16;
module_param(cs_inline_mb, uint, 0644);
MODULE_PARM_DESC(cs_inline_mb,
		 "A CS moving at most this many MiB runs in the submitting thread when its context is idle (0: never; default 16)");

static unsigned int cs_timeout_ms = 30000;
module_param(cs_timeout_ms, uint, 0644);
MODULE_PARM_DESC(cs_timeout_ms,
		 "Timeout of a CS without HL_CS_FLAGS_CUSTOM_TIMEOUT, ms (default 30000)");

/**
 * struct hlsim_dma_op - one LIN_DMA packet, translated
 * @dst_map: mapping holding the destination (a reference is held)
 * @src_map: mapping holding the source (a reference is held), NULL for memset
 * @dst: destination device VA
 * @src: source device VA, or the memset value
 * @size: bytes to copy or set
 */
struct hlsim_dma_op {
	struct hlsim_map *dst_map;
	struct hlsim_map *src_map;
	u64 dst;
	u64 src;
	u64 size;
};

/**
 * struct hlsim_cs - one command submission
 * @ref: held by the context's slot, by the queued work, by the timeout and
 *       by the submitting thread executing the CS itself
 * @ctx: the submitting context (outlives the CS's work: see fini)
 * @seq: sequence number
 * @done: completed (executed, refused, timed out or aborted)
 * @finished: @done is completed or about to be
 * @error: 0, -EBUSY (refused), -ETIMEDOUT or -EIO; valid once @done
 * @abort: complete aborted without copying (fault injection)
 * @work: execution on the context's ordered workqueue
 * @tdr: timeout of a hung CS (fault injection)
 * @timeout: delay of @tdr, in jiffies
 * @ops: translated LIN_DMA packets
 * @nr_ops: entries used in @ops
 * @max_ops: entries allocated in @ops
 * @bytes: bytes the LIN_DMA packets copy or set
 * @small_ops: @ops of a CS with at most HLSIM_CS_SMALL_OPS packets
 */
struct hlsim_cs {
	struct kref ref;
	struct hlsim_ctx *ctx;
	u64 seq;
	struct completion done;
	atomic_t finished;
	int error;
	bool abort;
	struct work_struct work;
	struct delayed_work tdr;
	unsigned long timeout;
	struct hlsim_dma_op *ops;
	unsigned int nr_ops;
	unsigned int max_ops;
	u64 bytes;
	struct hlsim_dma_op small_ops[HLSIM_CS_SMALL_OPS];
};

#define hlsim_cs_dbg(ctx, fmt, ...) \
	dev_dbg_ratelimited((ctx)->hdev->drm.dev, "hlsim: CS: " fmt, \
			    ##__VA_ARGS__)

/* Take one from a fault injection count */
static bool hlsim_fault_take(unsigned int *count)
{
	unsigned int v = READ_ONCE(*count);

	do {
		if (!v)
			return false;
	} while (!try_cmpxchg(count, &v, v - 1));
	return true;
}

/* Gaudi2's driver-enabled PDMA queues and the EDMA queues of dcores 0-3 */
static bool hlsim_queue_enabled(u32 q)
{
	if (q == 0 || q == 1 || q == 4)
		return true;
	return (q >= 8 && q <= 15) || (q >= 48 && q <= 55) ||
	       (q >= 84 && q <= 91) || (q >= 120 && q <= 127);
}

/* ------------------------------------------------------------------ */
/* CS objects                                                           */
/* ------------------------------------------------------------------ */

static void hlsim_cs_free_ops(struct hlsim_cs *cs)
{
	if (cs->ops != cs->small_ops)
		kvfree(cs->ops);
	cs->ops = NULL;
}

static void hlsim_cs_release_ops(struct hlsim_cs *cs)
{
	unsigned int i;

	for (i = 0; i < cs->nr_ops; i++) {
		hlsim_map_put(cs->ops[i].dst_map);
		if (cs->ops[i].src_map)
			hlsim_map_put(cs->ops[i].src_map);
	}
	hlsim_cs_free_ops(cs);
	cs->nr_ops = 0;
}

static void hlsim_cs_free(struct kref *ref)
{
	struct hlsim_cs *cs = container_of(ref, struct hlsim_cs, ref);

	WARN_ON(cs->nr_ops);
	hlsim_cs_free_ops(cs);
	kfree(cs);
}

static void hlsim_cs_put(struct hlsim_cs *cs)
{
	kref_put(&cs->ref, hlsim_cs_free);
}

/* Complete @cs with @error, once */
static void hlsim_cs_finish(struct hlsim_cs *cs, int error)
{
	if (atomic_xchg(&cs->finished, 1))
		return;
	cs->error = error;
	complete_all(&cs->done);
}

/* ------------------------------------------------------------------ */
/* Execution                                                            */
/* ------------------------------------------------------------------ */

/* Fill @len bytes with the 8-byte pattern @val, starting at phase @pos */
static void hlsim_fill(u8 *d, size_t len, u64 val, u64 pos)
{
	u8 pat[16];
	const u8 *p = pat + (pos & 7);

	put_unaligned_le64(val, pat);
	put_unaligned_le64(val, pat + 8);
	for (; len >= 8; len -= 8, d += 8)
		memcpy(d, p, 8);
	memcpy(d, p, len);
}

/* Run one LIN_DMA; false when the context is closing */
static bool hlsim_cs_exec_op(struct hlsim_ctx *ctx, struct hlsim_dma_op *op)
{
	u64 dst = op->dst, src = op->src, left = op->size;

	while (left) {
		size_t doff, soff, len;
		struct page *dpage = hlsim_map_page(op->dst_map, dst, &doff);
		u8 *d;

		len = min_t(u64, PAGE_SIZE - doff, left);
		d = kmap_local_page(dpage);
		if (op->src_map) {
			struct page *spage = hlsim_map_page(op->src_map, src,
							    &soff);
			u8 *s;

			len = min_t(size_t, len, PAGE_SIZE - soff);
			s = kmap_local_page(spage);
			memmove(d + doff, s + soff, len);
			kunmap_local(s);
			src += len;
		} else {
			hlsim_fill(d + doff, len, op->src, op->size - left);
		}
		kunmap_local(d);
		flush_dcache_page(dpage);

		dst += len;
		left -= len;
		if (READ_ONCE(ctx->cs.closing))
			return false;
		cond_resched();
	}
	return true;
}

/*
 * Execute @cs and complete it; the caller holds ctx->cs.exec_lock, so @cs
 * is completed before the next CS of the context starts.
 */
static void hlsim_cs_exec(struct hlsim_cs *cs)
{
	int error = cs->abort ? -EIO : 0;
	unsigned int i;

	for (i = 0; !error && i < cs->nr_ops; i++)
		if (!hlsim_cs_exec_op(cs->ctx, &cs->ops[i]))
			error = -EIO;

	hlsim_cs_release_ops(cs);
	hlsim_cs_finish(cs, error);
}

static void hlsim_cs_work(struct work_struct *work)
{
	struct hlsim_cs *cs = container_of(work, struct hlsim_cs, work);
	struct hlsim_cs_ctx *csc = &cs->ctx->cs;

	mutex_lock(&csc->exec_lock);
	hlsim_cs_exec(cs);
	mutex_unlock(&csc->exec_lock);
	atomic_dec(&csc->queued);
	hlsim_cs_put(cs);
}

/* A hung CS (fault injection) reaches its timeout */
static void hlsim_cs_timeout(struct work_struct *work)
{
	struct hlsim_cs *cs = container_of(to_delayed_work(work),
					   struct hlsim_cs, tdr);

	hlsim_cs_release_ops(cs);
	hlsim_cs_finish(cs, -ETIMEDOUT);
	hlsim_cs_put(cs);
}

/* ------------------------------------------------------------------ */
/* Submission                                                           */
/* ------------------------------------------------------------------ */

/* Copy @len bytes at device VA @addr of @map (host pages) into @buf */
static void hlsim_map_read(struct hlsim_map *map, u64 addr, void *buf,
			   size_t len)
{
	while (len) {
		size_t off, n;
		struct page *page = hlsim_map_page(map, addr, &off);

		n = min_t(size_t, PAGE_SIZE - off, len);
		memcpy_from_page(buf, page, off, n);
		buf += n;
		addr += n;
		len -= n;
	}
}

/* Translate one LIN_DMA packet into an op of @cs; caller holds ctx->lock */
static int hlsim_cs_add_dma(struct hlsim_ctx *ctx, struct hlsim_cs *cs,
			    u32 ctl, u32 tsize, u64 src, u64 dst)
{
	struct hlsim_map *dmap, *smap = NULL;
	struct hlsim_dma_op *op;

	if (ctl & ~(HLSIM_PKT_COMMON | HLSIM_LIN_DMA_WRCOMP |
		    HLSIM_LIN_DMA_MEMSET)) {
		hlsim_cs_dbg(ctx, "LIN_DMA ctl %#x has unknown bits\n", ctl);
		return -EINVAL;
	}
	if (!tsize) {
		hlsim_cs_dbg(ctx, "LIN_DMA with tsize 0\n");
		return -EINVAL;
	}
	if (cs->nr_ops >= cs->max_ops) {
		hlsim_cs_dbg(ctx, "more than %u LIN_DMA packets\n",
			     HLSIM_MAX_CS_DMA_PKTS);
		return -EINVAL;
	}
	dmap = hlsim_map_find(ctx, dst, tsize);
	if (!dmap) {
		hlsim_cs_dbg(ctx, "LIN_DMA dst %#llx + %#x outside the mappings\n",
			     dst, tsize);
		return -EINVAL;
	}
	if (!(ctl & HLSIM_LIN_DMA_MEMSET)) {
		smap = hlsim_map_find(ctx, src, tsize);
		if (!smap) {
			hlsim_cs_dbg(ctx, "LIN_DMA src %#llx + %#x outside the mappings\n",
				     src, tsize);
			return -EINVAL;
		}
		kref_get(&smap->ref);
	}
	kref_get(&dmap->ref);

	op = &cs->ops[cs->nr_ops++];
	cs->bytes += tsize;
	op->dst_map = dmap;
	op->src_map = smap;
	op->dst = dst;
	op->src = src;
	op->size = tsize;
	return 0;
}

/* Parse the CB [cb, cb + size) of @cbmap; caller holds ctx->lock */
static int hlsim_cs_parse_cb(struct hlsim_ctx *ctx, struct hlsim_cs *cs,
			     struct hlsim_map *cbmap, u64 cb, u32 size)
{
	u8 pkt[HLSIM_LIN_DMA_SIZE];
	u32 off = 0, ctl;
	int ret;

	while (off < size) {
		if (size - off < HLSIM_NOP_SIZE) {
			hlsim_cs_dbg(ctx, "packet cut at CB offset %u\n", off);
			return -EINVAL;
		}
		hlsim_map_read(cbmap, cb + off, pkt, HLSIM_NOP_SIZE);
		ctl = get_unaligned_le32(pkt + 4);

		switch (FIELD_GET(HLSIM_PKT_OPCODE, ctl)) {
		case HLSIM_PKT_NOP:
			if (ctl & ~HLSIM_PKT_COMMON) {
				hlsim_cs_dbg(ctx, "NOP ctl %#x has unknown bits\n",
					     ctl);
				return -EINVAL;
			}
			off += HLSIM_NOP_SIZE;
			break;

		case HLSIM_PKT_LIN_DMA:
			if (size - off < HLSIM_LIN_DMA_SIZE) {
				hlsim_cs_dbg(ctx, "LIN_DMA cut at CB offset %u\n",
					     off);
				return -EINVAL;
			}
			hlsim_map_read(cbmap, cb + off, pkt,
				       HLSIM_LIN_DMA_SIZE);
			ret = hlsim_cs_add_dma(ctx, cs, ctl,
					       get_unaligned_le32(pkt),
					       get_unaligned_le64(pkt + 8),
					       get_unaligned_le64(pkt + 16));
			if (ret)
				return ret;
			off += HLSIM_LIN_DMA_SIZE;
			break;

		default:
			hlsim_cs_dbg(ctx, "opcode %#lx at CB offset %u not supported\n",
				     FIELD_GET(HLSIM_PKT_OPCODE, ctl), off);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Validate the chunks and translate their CBs, chunk by chunk in order as
 * cs_ioctl_default() (validate_queue_index(), then the parser); the caller
 * holds ctx->lock.
 */
static int hlsim_cs_parse(struct hlsim_ctx *ctx, struct hlsim_cs *cs,
			  struct hl_cs_chunk *chunks, u32 nr)
{
	struct hlsim_map *cbmap;
	u64 max_ops = 0;
	u32 i;
	int ret;

	/* room for every LIN_DMA the CBs can hold, up to the bound */
	for (i = 0; i < nr; i++)
		max_ops += min_t(u32, chunks[i].cb_size, HLSIM_MAX_CB_SIZE) /
			   HLSIM_LIN_DMA_SIZE;
	cs->max_ops = min_t(u64, max_ops, HLSIM_MAX_CS_DMA_PKTS);
	if (cs->max_ops <= HLSIM_CS_SMALL_OPS) {
		cs->ops = cs->small_ops;
	} else {
		cs->ops = kvmalloc_array(cs->max_ops, sizeof(*cs->ops),
					 GFP_KERNEL_ACCOUNT);
		if (!cs->ops)
			return -ENOMEM;
	}

	for (i = 0; i < nr; i++) {
		struct hl_cs_chunk *c = &chunks[i];

		if (!hlsim_queue_enabled(c->queue_index)) {
			hlsim_cs_dbg(ctx, "queue %u is disabled or invalid\n",
				     c->queue_index);
			return -EINVAL;
		}
		if (!(c->cs_chunk_flags & HL_CS_CHUNK_FLAGS_USER_ALLOC_CB)) {
			hlsim_cs_dbg(ctx, "queue %u has no kernel CBs\n",
				     c->queue_index);
			return -EINVAL;
		}
		if (c->cb_size < HLSIM_NOP_SIZE ||
		    c->cb_size > HLSIM_MAX_CB_SIZE) {
			hlsim_cs_dbg(ctx, "CB size %u invalid\n", c->cb_size);
			return -EINVAL;
		}
		cbmap = hlsim_map_find(ctx, c->cb_handle, c->cb_size);
		if (!cbmap || cbmap->alloc) {
			hlsim_cs_dbg(ctx, "CB %#llx + %#x not in a host mapping\n",
				     c->cb_handle, c->cb_size);
			return -EFAULT;
		}
		ret = hlsim_cs_parse_cb(ctx, cs, cbmap, c->cb_handle,
					c->cb_size);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Give @cs the next sequence number and its slot, as allocate_cs(): -EAGAIN
 * while the CS HLSIM_MAX_PENDING_CS numbers before is not completed.
 */
static int hlsim_cs_alloc_seq(struct hlsim_ctx *ctx, struct hlsim_cs *cs)
{
	struct hlsim_cs_ctx *csc = &ctx->cs;
	struct hlsim_cs *other;
	unsigned int slot;

	spin_lock(&csc->lock);
	slot = csc->next_seq % HLSIM_MAX_PENDING_CS;
	other = csc->pending[slot];
	if (other && !completion_done(&other->done)) {
		spin_unlock(&csc->lock);
		return -EAGAIN;
	}
	cs->seq = csc->next_seq++;
	kref_get(&cs->ref);
	csc->pending[slot] = cs;
	spin_unlock(&csc->lock);

	if (other)
		hlsim_cs_put(other);
	return 0;
}

static unsigned long hlsim_cs_timeout_jiffies(struct hl_cs_in *in)
{
	if (in->cs_flags & HL_CS_FLAGS_CUSTOM_TIMEOUT)
		return min_t(u64, (u64)in->timeout * HZ, MAX_JIFFY_OFFSET);
	return msecs_to_jiffies(READ_ONCE(cs_timeout_ms));
}

/* Checks that come before a sequence number is taken (hl_cs_sanity_checks) */
static int hlsim_cs_check_args(struct hl_cs_in *in)
{
	u32 flags = in->cs_flags, type = flags & HLSIM_CS_FLAGS_TYPE;

	if (memchr_inv(in->pad, 0, sizeof(in->pad)))
		return -EINVAL;
	if (flags & HL_CS_FLAGS_STAGED_SUBMISSION)
		return -EPERM;
	if (type && !is_power_of_2(type))
		return -EINVAL;
	if (flags & ~HLSIM_CS_FLAGS_OK)
		return -EINVAL;
	if (!in->num_chunks_execute ||
	    in->num_chunks_execute > HL_MAX_JOBS_PER_CS)
		return -EINVAL;
	return 0;
}

/*
 * May @cs run in the submitting thread?  Only when no CS of the context is
 * queued or running (so it is next in order) and it is small; on true the
 * caller holds ctx->cs.exec_lock.  The caller holds ctx->lock, so no other
 * CS of the context is submitted meanwhile.
 */
static bool hlsim_cs_claim_inline(struct hlsim_ctx *ctx, struct hlsim_cs *cs)
{
	struct hlsim_cs_ctx *csc = &ctx->cs;

	if (cs->bytes > (u64)READ_ONCE(cs_inline_mb) * SZ_1M)
		return false;
	if (atomic_read(&csc->queued))
		return false;
	/* busy: another submitting thread executes its CS */
	return mutex_trylock(&csc->exec_lock);
}

/*
 * Submit a CS that got its sequence number; the caller holds ctx->lock.
 * Hands the caller's reference to the work or to the timeout, or, with
 * *@now set, leaves it to the caller, who holds ctx->cs.exec_lock and runs
 * the CS.
 */
static int hlsim_cs_launch(struct hlsim_ctx *ctx, struct hlsim_cs *cs,
			   struct hl_cs_chunk *chunks, u32 nr, bool *now)
{
	int ret;

	if (hlsim_fault_take(&fault_cs_disable)) {
		hlsim_cs_dbg(ctx, "queue disabled (fault injection)\n");
		ret = -EINVAL;
		goto err;
	}

	ret = hlsim_cs_parse(ctx, cs, chunks, nr);
	if (ret)
		goto err;

	if (hlsim_fault_take(&fault_cs_hang)) {
		queue_delayed_work(ctx->cs.wq, &cs->tdr, cs->timeout);
		return 0;
	}
	cs->abort = hlsim_fault_take(&fault_cs_abort);
	*now = hlsim_cs_claim_inline(ctx, cs);
	if (!*now) {
		atomic_inc(&ctx->cs.queued);
		queue_work(ctx->cs.wq, &cs->work);
	}
	return 0;

err:
	/* refused: completed, as habanalabs' fence of a CS not submitted */
	hlsim_cs_release_ops(cs);
	hlsim_cs_finish(cs, -EBUSY);
	hlsim_cs_put(cs);
	return ret;
}

int hlsim_cs_submit(struct hlsim_ctx *ctx, union hl_cs_args *args)
{
	struct hl_cs_chunk stack_chunks[HLSIM_CS_STACK_CHUNKS];
	struct hl_cs_in *in = &args->in;
	struct hl_cs_chunk *chunks = stack_chunks;
	struct hlsim_cs *cs;
	u64 seq = ULLONG_MAX;
	bool now = false;
	u32 nr;
	int ret;

	ret = hlsim_cs_check_args(in);
	if (ret)
		goto out;
	nr = in->num_chunks_execute;

	if (nr > ARRAY_SIZE(stack_chunks)) {
		chunks = kvmalloc_array(nr, sizeof(*chunks),
					GFP_KERNEL_ACCOUNT);
		if (!chunks) {
			ret = -ENOMEM;
			goto out;
		}
	}
	if (copy_from_user(chunks, u64_to_user_ptr(in->chunks_execute),
			   nr * sizeof(*chunks))) {
		ret = -EFAULT;
		goto out_chunks;
	}

	cs = kzalloc_obj(*cs, GFP_KERNEL_ACCOUNT);
	if (!cs) {
		ret = -ENOMEM;
		goto out_chunks;
	}
	kref_init(&cs->ref);
	cs->ctx = ctx;
	init_completion(&cs->done);
	atomic_set(&cs->finished, 0);
	INIT_WORK(&cs->work, hlsim_cs_work);
	INIT_DELAYED_WORK(&cs->tdr, hlsim_cs_timeout);
	cs->timeout = hlsim_cs_timeout_jiffies(in);

	/*
	 * ctx->lock from the sequence number to the queueing: the CSs of the
	 * context are queued (or run) in the order of their numbers.
	 */
	mutex_lock(&ctx->lock);
	ret = hlsim_cs_alloc_seq(ctx, cs);
	if (ret) {
		mutex_unlock(&ctx->lock);
		/* -EAGAIN: as the driver, the argument is left untouched */
		hlsim_cs_put(cs);
		if (chunks != stack_chunks)
			kvfree(chunks);
		return ret;
	}
	seq = cs->seq;
	ret = hlsim_cs_launch(ctx, cs, chunks, nr, &now);
	mutex_unlock(&ctx->lock);
	if (ret) {
		seq = ULLONG_MAX;
	} else if (now) {
		hlsim_cs_exec(cs);
		mutex_unlock(&ctx->cs.exec_lock);
		hlsim_cs_put(cs);
	}

out_chunks:
	if (chunks != stack_chunks)
		kvfree(chunks);
out:
	memset(args, 0, sizeof(*args));
	args->out.seq = seq;
	args->out.status = ret;
	return ret;
}

/* ------------------------------------------------------------------ */
/* Wait                                                                 */
/* ------------------------------------------------------------------ */

static unsigned long hlsim_usecs_to_jiffies(u64 us)
{
	if (us > U64_MAX / NSEC_PER_USEC)
		return MAX_SCHEDULE_TIMEOUT;
	return min_t(u64, nsecs_to_jiffies64(us * NSEC_PER_USEC),
		     MAX_SCHEDULE_TIMEOUT);
}

int hlsim_cs_wait(struct hlsim_ctx *ctx, union hl_wait_cs_args *args)
{
	struct hlsim_cs_ctx *csc = &ctx->cs;
	u64 seq = args->in.seq, timeout_us = args->in.timeout_us;
	u32 flags = args->in.flags;
	struct hlsim_cs *cs = NULL;
	bool done;
	long left;
	int ret = 0;

	/* no user interrupts, no multi-CS wait: the driver's -EPERM */
	if (flags & HL_WAIT_CS_FLAGS_INTERRUPT)
		return -EPERM;
	if (flags & HL_WAIT_CS_FLAGS_MULTI_CS) {
		if (memchr_inv(args->in.pad, 0, sizeof(args->in.pad)))
			return -EINVAL;
		return -EPERM;
	}

	spin_lock(&csc->lock);
	if (seq >= csc->next_seq) {
		spin_unlock(&csc->lock);
		memset(args, 0, sizeof(*args));
		return -EINVAL;
	}
	if (seq + HLSIM_MAX_PENDING_CS >= csc->next_seq) {
		cs = csc->pending[seq % HLSIM_MAX_PENDING_CS];
		if (cs && cs->seq == seq)
			kref_get(&cs->ref);
		else
			cs = NULL;
	}
	spin_unlock(&csc->lock);

	memset(args, 0, sizeof(*args));
	if (!cs) {
		/* the fence is gone: long completed */
		args->out.status = HL_WAIT_CS_STATUS_COMPLETED;
		args->out.flags = HL_WAIT_CS_STATUS_FLAG_GONE;
		return 0;
	}

	if (!timeout_us) {
		done = completion_done(&cs->done);
	} else {
		unsigned long t = hlsim_usecs_to_jiffies(timeout_us);

		left = wait_for_completion_interruptible_timeout(&cs->done, t);
		if (left < 0) {
			ret = -EINTR;
			goto out;
		}
		done = left > 0 || completion_done(&cs->done);
	}

	if (!done) {
		args->out.status = HL_WAIT_CS_STATUS_BUSY;
	} else if (cs->error == -ETIMEDOUT) {
		args->out.status = HL_WAIT_CS_STATUS_TIMEDOUT;
		ret = -ETIMEDOUT;
	} else if (cs->error == -EIO) {
		args->out.status = HL_WAIT_CS_STATUS_ABORTED;
		ret = -EIO;
	} else {
		args->out.status = HL_WAIT_CS_STATUS_COMPLETED;
	}
out:
	hlsim_cs_put(cs);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Context                                                              */
/* ------------------------------------------------------------------ */

int hlsim_cs_ctx_init(struct hlsim_ctx *ctx)
{
	struct hlsim_cs_ctx *csc = &ctx->cs;

	spin_lock_init(&csc->lock);
	mutex_init(&csc->exec_lock);
	atomic_set(&csc->queued, 0);
	csc->next_seq = 1;
	csc->wq = alloc_ordered_workqueue("hlsim%u_cs", 0, ctx->hdev->id);
	return csc->wq ? 0 : -ENOMEM;
}

/*
 * Close: running CSs stop at their next page and end aborted, hung ones
 * are aborted at once; when this returns no CS work runs and every CS
 * reference on the context's mappings is gone.
 */
void hlsim_cs_ctx_fini(struct hlsim_ctx *ctx)
{
	struct hlsim_cs_ctx *csc = &ctx->cs;
	struct hlsim_cs *cs;
	unsigned int i;

	WRITE_ONCE(csc->closing, true);

	/* only a CS still in its slot can have its timeout pending */
	for (i = 0; i < HLSIM_MAX_PENDING_CS; i++) {
		cs = csc->pending[i];
		if (cs && cancel_delayed_work_sync(&cs->tdr)) {
			hlsim_cs_release_ops(cs);
			hlsim_cs_finish(cs, -EIO);
			hlsim_cs_put(cs);
		}
	}
	/*
	 * waits for every queued and running CS work and timeout; no CS runs
	 * in a submitting thread: no ioctl of the context is in progress
	 */
	destroy_workqueue(csc->wq);
	WARN_ON(atomic_read(&csc->queued));
	mutex_destroy(&csc->exec_lock);

	for (i = 0; i < HLSIM_MAX_PENDING_CS; i++) {
		cs = csc->pending[i];
		csc->pending[i] = NULL;
		if (cs) {
			WARN_ON(!completion_done(&cs->done));
			hlsim_cs_put(cs);
		}
	}
}
