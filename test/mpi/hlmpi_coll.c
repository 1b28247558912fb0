/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * hlmpi collectives: bcast, allgather and alltoall move bytes only, so they
 * work on device buffers as long as the MPI library moves every byte with
 * its point-to-point layer (pml ucx -> UCP, which stages device memory).
 * reduce and allreduce compute on the CPU inside the MPI library: on device
 * pointers they are refused with a clear message (exit 3), unless -S
 * stages the buffers through host memory or -F forces the call.  When the
 * MPI library copies device memory itself (Open MPI with
 * mca_accelerator_habana: -A, or the memory kind habana:device), allgather
 * and alltoall are called on device buffers; reductions stay refused.
 */
#include "hlmpi.h"

#include "src/tools/hlmem/hlmem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { COLL_BCAST, COLL_ALLGATHER, COLL_ALLTOALL } coll_kind_t;

/* Seed of the block rank src sends to rank dst */
static uint32_t block_seed(coll_kind_t kind, int src, int dst, int idx,
                           int round)
{
    if (kind == COLL_ALLTOALL) {
        return hlmpi_seed(src * hlmpi_opts.nprocs + dst, idx, round);
    }
    return hlmpi_seed(src, idx, round);
}

static void coll_prepare(coll_kind_t kind, hlmpi_buf_t *s, hlmpi_buf_t *r,
                         size_t size, int idx, int round, int root)
{
    const int me = hlmpi_opts.rank, n = hlmpi_opts.nprocs;
    int j;

    switch (kind) {
    case COLL_BCAST:
        if (me == root) {
            hlmpi_fill(s, 0, size, block_seed(kind, root, me, idx, round));
        } else {
            hlmpi_clear(s, 0, size);
        }
        break;
    case COLL_ALLGATHER:
        hlmpi_clear(r, 0, size * n);
        /* in place: the own block is already in the receive buffer */
        hlmpi_fill(hlmpi_opts.in_place ? r : s,
                   hlmpi_opts.in_place ? me * size : 0, size,
                   block_seed(kind, me, 0, idx, round));
        break;
    case COLL_ALLTOALL:
        hlmpi_clear(r, 0, size * n);
        for (j = 0; j < n; ++j) {
            hlmpi_fill(hlmpi_opts.in_place ? r : s, j * size, size,
                       block_seed(kind, me, j, idx, round));
        }
        break;
    }
}

static int coll_check(coll_kind_t kind, hlmpi_buf_t *s, hlmpi_buf_t *r,
                      size_t size, int idx, int round, int root)
{
    const int me = hlmpi_opts.rank, n = hlmpi_opts.nprocs;
    char what[80];
    long bad = 0;
    int j;

    if (kind == COLL_BCAST) {
        snprintf(what, sizeof(what), "round %d, root %d", round, root);
        return hlmpi_check(s, 0, size,
                           block_seed(kind, root, me, idx, round), what) == 0;
    }
    for (j = 0; j < n; ++j) {
        snprintf(what, sizeof(what), "round %d, block from rank %d", round, j);
        bad += hlmpi_check(r, j * size, size,
                           block_seed(kind, j, me, idx, round), what);
    }
    return bad == 0;
}

static void coll_mpi(coll_kind_t kind, void *s, void *r, size_t size,
                     int root)
{
    const int n = (int)size;

    switch (kind) {
    case COLL_BCAST:
        MPI_Bcast(s, n, MPI_CHAR, root, MPI_COMM_WORLD);
        break;
    case COLL_ALLGATHER:
        if (hlmpi_opts.in_place) {
            MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, r, n, MPI_CHAR,
                          MPI_COMM_WORLD);
        } else {
            MPI_Allgather(s, n, MPI_CHAR, r, n, MPI_CHAR, MPI_COMM_WORLD);
        }
        break;
    case COLL_ALLTOALL:
        if (hlmpi_opts.in_place) {
            MPI_Alltoall(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, r, n, MPI_CHAR,
                         MPI_COMM_WORLD);
        } else {
            MPI_Alltoall(s, n, MPI_CHAR, r, n, MPI_CHAR, MPI_COMM_WORLD);
        }
        break;
    }
}

/* One collective; with -S on device buffers, through host buffers hs/hr */
static void coll_call(coll_kind_t kind, hlmpi_buf_t *s, hlmpi_buf_t *r,
                      hlmpi_buf_t *hs, hlmpi_buf_t *hr, size_t size, int root)
{
    const size_t n = (size_t)hlmpi_opts.nprocs;
    size_t slen    = size * (kind == COLL_ALLTOALL ? n : 1);
    size_t rlen    = size * (kind == COLL_BCAST ? 1 : n);

    if (!hlmpi_opts.stage || s->mem == HLMPI_MEM_HOST) {
        coll_mpi(kind, s->ptr, r->ptr, size, root);
        return;
    }
    if (kind == COLL_BCAST) {
        if (hlmpi_opts.rank == root) {
            hlmpi_load(hs->ptr, s, 0, size);
        }
        coll_mpi(kind, hs->ptr, NULL, size, root);
        if (hlmpi_opts.rank != root) {
            hlmpi_store(s, 0, hs->ptr, size);
        }
        return;
    }
    if (hlmpi_opts.in_place) {
        hlmpi_load(hr->ptr, r, 0, rlen);
    } else {
        hlmpi_load(hs->ptr, s, 0, slen);
    }
    coll_mpi(kind, hs->ptr, hr->ptr, size, root);
    hlmpi_store(r, 0, hr->ptr, rlen);
}

/*
 * Open MPI (6.0, coll tuned/basic, no accelerator component for Habana)
 * copies the caller's own block with the CPU in every allgather algorithm
 * unless in place, and in every alltoall algorithm, in place or not
 * (ompi_datatype_sndrcv, mca_coll_base_alltoall_intra_basic_inplace): on
 * device memory that is a SIGSEGV.  Reductions compute on the CPU.
 * Returns 1 (refused, message printed) or 0.
 */
/*
 * Does the MPI library copy device buffers itself (Open MPI with the
 * mca_accelerator_habana component)?  -A says so; otherwise ask MPI 4.1's
 * memory allocation kinds: when "habana:device" was requested
 * (OMPI_MCA_mpi_memory_alloc_kinds, mpiexec --memory-alloc-kinds), Open MPI
 * provides it only if its selected accelerator component is Habana's.
 * Same answer on every rank.
 */
static int coll_mpi_has_accel(void)
{
    static int known = -1;
    char value[256];
    int flag = 0, len = sizeof(value) - 1, local, all;
    MPI_Info info;

    if (known >= 0) {
        return known;
    }
    local = hlmpi_opts.accel;
    if (!local && MPI_Comm_get_info(MPI_COMM_WORLD, &info) == MPI_SUCCESS) {
        if ((MPI_Info_get_string(info, "mpi_memory_alloc_kinds", &len, value,
                                 &flag) == MPI_SUCCESS) && flag) {
            value[sizeof(value) - 1] = '\0';
            local = (strstr(value, "habana:device") != NULL);
        }
        MPI_Info_free(&info);
    }
    MPI_Allreduce(&local, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    known = all;
    if (known && hlmpi_opts.rank == 0 && hlmpi_opts.device) {
        printf("# MPI copies device buffers: Habana accelerator component (%s)\n",
               hlmpi_opts.accel ? "-A" : "memory kind habana:device");
    }
    return known;
}

static int coll_refuse(const char *call, const char *why, const void *s,
                       const void *r)
{
    int dev = hlmem_is_device_ptr(s) || hlmem_is_device_ptr(r);
    int any = 0;

    MPI_Allreduce(&dev, &any, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
    if (!any || why == NULL || hlmpi_opts.stage || hlmpi_opts.force) {
        return 0;
    }
    if (dev) {
        fprintf(stderr,
                "hlmpi %s [rank %d]: refused: %s on Habana device memory "
                "(send %p, receive %p): %s\n",
                hlmpi_opts.cmd, hlmpi_opts.rank, call, s, r, why);
    }
    return 1;
}

static const char *coll_why(coll_kind_t kind)
{
    if (coll_mpi_has_accel()) {
        return NULL;   /* local copies go through the accelerator component */
    }
    if (kind == COLL_ALLGATHER && !hlmpi_opts.in_place) {
        return "the MPI library copies the own block into the receive "
               "buffer with the CPU (Open MPI: ompi_datatype_sndrcv; no "
               "accelerator component knows Habana memory) and would "
               "dereference a device pointer (SIGSEGV). Use -I "
               "(MPI_IN_PLACE; with Open MPI at 2 ranks, a power of two, "
               "or coll_tuned_allgather_algorithm 4 or 5) or -S (stage "
               "through host memory).";
    }
    if (kind == COLL_ALLTOALL) {
        return "every Open MPI alltoall algorithm, in place or not, copies "
               "the own block with the CPU and would dereference a device "
               "pointer (SIGSEGV). Use -S (stage through host memory).";
    }
    return NULL;
}

/* Average, min and max over ranks of a per-rank time, rank 0 gets them */
static void coll_times(double t, double *avg, double *min, double *max)
{
    MPI_Reduce(&t, avg, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Reduce(&t, min, 1, MPI_DOUBLE, MPI_MIN, 0, MPI_COMM_WORLD);
    MPI_Reduce(&t, max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    *avg /= hlmpi_opts.nprocs;
}

static void coll_columns(void)
{
    if (hlmpi_opts.rank == 0) {
        printf("%-10s%18s%18s%18s%12s%18s\n", "# Size", "Avg Latency(us)",
               "Min Latency(us)", "Max Latency(us)", "Iterations",
               "Validation");
    }
}

static int coll_run(coll_kind_t kind)
{
    static const char *titles[] = {"Broadcast Latency", "Allgather Latency",
                                   "All-to-All Latency"};
    const int n = hlmpi_opts.nprocs;
    int all_ok = 1, ok, idx, round, iters, root, i;
    double t0, t, avg, min, max;
    static const char *calls[] = {"MPI_Bcast", "MPI_Allgather",
                                  "MPI_Alltoall"};
    hlmpi_buf_t s, r, hs = {0}, hr = {0};
    size_t size, slen, rlen;

    slen = hlmpi_opts.max_size * (kind == COLL_ALLTOALL ? n : 1);
    rlen = hlmpi_opts.max_size * (kind == COLL_BCAST ? 1 : n);
    hlmpi_buf_alloc(&s, hlmpi_opts.mem[0], slen);
    hlmpi_buf_alloc(&r, hlmpi_opts.mem[0], rlen);
    if (coll_refuse(calls[kind], coll_why(kind), s.ptr, r.ptr)) {
        hlmpi_buf_free(&s);
        hlmpi_buf_free(&r);
        return HLMPI_EXIT_REFUSED;
    }
    if (hlmpi_opts.stage && s.mem == HLMPI_MEM_DEVICE) {
        hlmpi_buf_alloc(&hs, HLMPI_MEM_HOST, slen);
        hlmpi_buf_alloc(&hr, HLMPI_MEM_HOST, rlen);
    }

    hlmpi_header(titles[kind], "coll");
    if (hlmpi_opts.rank == 0 && hs.ptr != NULL) {
        printf("# staged: device -> host, %s on host buffers, host -> "
               "device\n", calls[kind]);
    }
    coll_columns();

    for (size = hlmpi_opts.min_size, idx = 0; size <= hlmpi_opts.max_size;
         size = size ? size * 2 : 1, ++idx) {
        iters = hlmpi_iters(size);
        coll_prepare(kind, &s, &r, size, idx, 0, 0);
        for (i = 0; i < hlmpi_warmup(size); ++i) {
            coll_call(kind, &s, &r, &hs, &hr, size, 0);
        }
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
        for (i = 0; i < iters; ++i) {
            coll_call(kind, &s, &r, &hs, &hr, size, 0);
        }
        t = (MPI_Wtime() - t0) * 1e6 / iters;
        /* an in-place alltoall is its own inverse: after an even number
         * of calls the blocks are back home; one more (untimed) call
         * leaves the exchanged blocks that coll_check expects */
        if (kind == COLL_ALLTOALL && hlmpi_opts.in_place &&
            (hlmpi_warmup(size) + iters) % 2 == 0) {
            coll_call(kind, &s, &r, &hs, &hr, size, 0);
        }
        ok = coll_check(kind, &s, &r, size, idx, 0, 0);

        /* untimed rounds: fresh pattern, the root rotates */
        for (round = 1; round <= hlmpi_opts.verify_rounds; ++round) {
            root = round % n;
            coll_prepare(kind, &s, &r, size, idx, round, root);
            coll_call(kind, &s, &r, &hs, &hr, size, root);
            ok = coll_check(kind, &s, &r, size, idx, round, root) && ok;
        }

        ok      = hlmpi_all_ok(ok);
        all_ok &= ok;
        coll_times(t, &avg, &min, &max);
        hlmpi_row_coll(size, avg, min, max, ok, iters);
    }

    hlmpi_buf_free(&hs);
    hlmpi_buf_free(&hr);
    hlmpi_buf_free(&s);
    hlmpi_buf_free(&r);
    return all_ok ? HLMPI_EXIT_OK : HLMPI_EXIT_FAIL;
}

int hlmpi_cmd_bcast(void)
{
    return coll_run(COLL_BCAST);
}

int hlmpi_cmd_allgather(void)
{
    return coll_run(COLL_ALLGATHER);
}

int hlmpi_cmd_alltoall(void)
{
    return coll_run(COLL_ALLTOALL);
}

/*
 * Reductions: MPI_SUM of MPI_INT elements.
 */
static int red_value(int rank, size_t k, int idx, int round)
{
    return (int)((k * 7 + (size_t)rank * 13 + (size_t)round * 31 + idx) &
                 0xffff);
}

/* One reduction of count ints; with -S on device buffers, through hs/hr */
static void red_call(int all, hlmpi_buf_t *s, hlmpi_buf_t *r, hlmpi_buf_t *hs,
                     hlmpi_buf_t *hr, size_t count, int root)
{
    const size_t len = count * sizeof(int);
    hlmpi_buf_t *sp = s, *rp = r;

    if (hlmpi_opts.stage && s->mem == HLMPI_MEM_DEVICE) {
        hlmpi_load(hs->ptr, s, 0, len);
        sp = hs;
        rp = hr;
    }
    if (all) {
        MPI_Allreduce(sp->ptr, rp->ptr, (int)count, MPI_INT, MPI_SUM,
                      MPI_COMM_WORLD);
    } else {
        MPI_Reduce(sp->ptr, rp->ptr, (int)count, MPI_INT, MPI_SUM, root,
                   MPI_COMM_WORLD);
    }
    if (rp == hr && (all || hlmpi_opts.rank == root)) {
        hlmpi_store(r, 0, hr->ptr, len);
    }
}

static int red_run(int all)
{
    const char *call = all ? "MPI_Allreduce" : "MPI_Reduce";
    int all_ok = 1, ok, idx, round, root, i, iters, expect, bad;
    size_t size, count, k, max_count;
    hlmpi_buf_t s, r, hs, hr;
    double t0, t, avg, min, max;
    int *host;

    max_count = hlmpi_opts.max_size / sizeof(int);
    if (max_count == 0) {
        max_count = 1;
    }
    hlmpi_buf_alloc(&s, hlmpi_opts.mem[0], max_count * sizeof(int));
    hlmpi_buf_alloc(&r, hlmpi_opts.mem[0], max_count * sizeof(int));
    if (coll_refuse(call, coll_mpi_has_accel() ?
                    "the MPI library computes reductions on the CPU; its "
                    "Habana accelerator component copies device memory, but "
                    "no coll component stages reductions (Open MPI: "
                    "coll/accelerator is not built for it) and the CPU would "
                    "dereference device pointers (SIGSEGV). Stage through "
                    "host memory (-S)." :
                    "the MPI library computes reductions on the CPU and "
                    "would dereference device pointers (SIGSEGV). Stage "
                    "through host memory (-S) or use a collective library "
                    "with a Habana backend.", s.ptr, r.ptr)) {
        hlmpi_buf_free(&s);
        hlmpi_buf_free(&r);
        return HLMPI_EXIT_REFUSED;
    }
    /* host staging buffers (used with -S on device memory) */
    hlmpi_buf_alloc(&hs, HLMPI_MEM_HOST, max_count * sizeof(int));
    hlmpi_buf_alloc(&hr, HLMPI_MEM_HOST, max_count * sizeof(int));
    host = malloc(max_count * sizeof(int));
    if (host == NULL) {
        hlmpi_die(HLMPI_EXIT_FAIL, "out of memory");
    }

    hlmpi_header(all ? "Allreduce Latency" : "Reduce Latency", "coll");
    if (hlmpi_opts.rank == 0 && hlmpi_opts.stage &&
        s.mem == HLMPI_MEM_DEVICE) {
        printf("# staged: device -> host, %s on host buffers, host -> device\n",
               call);
    }
    coll_columns();

    for (size = hlmpi_opts.min_size < sizeof(int) ? sizeof(int) :
                hlmpi_opts.min_size, idx = 0;
         size <= max_count * sizeof(int); size *= 2, ++idx) {
        count = size / sizeof(int);
        iters = hlmpi_iters(size);
        ok    = 1;
        t     = 0;
        for (round = 0; round <= hlmpi_opts.verify_rounds; ++round) {
            root = round % hlmpi_opts.nprocs;
            for (k = 0; k < count; ++k) {
                host[k] = red_value(hlmpi_opts.rank, k, idx, round);
            }
            hlmpi_store(&s, 0, host, count * sizeof(int));
            hlmpi_clear(&r, 0, count * sizeof(int));
            /* round 0 is timed (warm-up, then iters calls on the same
             * data), the others run once */
            if (round == 0) {
                for (i = 0; i < hlmpi_warmup(size); ++i) {
                    red_call(all, &s, &r, &hs, &hr, count, root);
                }
            }
            MPI_Barrier(MPI_COMM_WORLD);
            t0 = MPI_Wtime();
            for (i = 0; i < (round == 0 ? iters : 1); ++i) {
                red_call(all, &s, &r, &hs, &hr, count, root);
            }
            if (round == 0) {
                t = (MPI_Wtime() - t0) * 1e6 / iters;
            }
            if (!all && hlmpi_opts.rank != root) {
                continue;
            }
            hlmpi_load(host, &r, 0, count * sizeof(int));
            for (k = 0, bad = 0; k < count; ++k) {
                expect = 0;
                for (i = 0; i < hlmpi_opts.nprocs; ++i) {
                    expect += red_value(i, k, idx, round);
                }
                if (host[k] != expect && bad++ == 0) {
                    fprintf(stderr,
                            "hlmpi %s [rank %d]: MISMATCH round %d: element "
                            "%zu is %d, expected %d\n", hlmpi_opts.cmd,
                            hlmpi_opts.rank, round, k, host[k], expect);
                }
            }
            ok = ok && (bad == 0);
        }
        ok      = hlmpi_all_ok(ok);
        all_ok &= ok;
        coll_times(t, &avg, &min, &max);
        hlmpi_row_coll(size, avg, min, max, ok, iters);
    }

    free(host);
    hlmpi_buf_free(&hs);
    hlmpi_buf_free(&hr);
    hlmpi_buf_free(&s);
    hlmpi_buf_free(&r);
    return all_ok ? HLMPI_EXIT_OK : HLMPI_EXIT_FAIL;
}

int hlmpi_cmd_reduce(void)
{
    return red_run(0);
}

int hlmpi_cmd_allreduce(void)
{
    return red_run(1);
}
