/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * hlmpi reductions: every MPI reduction called on the buffers as they are
 * (device memory with -d habana), verified element by element.  For the
 * MPI library's own (coll habana) staging; no staging here.
 *
 *   reductions   allreduce, reduce, reduce_scatter_block, reduce_scatter,
 *                scan, exscan, reduce_local and the non-blocking forms;
 *                int/float/double; sum/max/min/prod (+ band for int); in
 *                place and not; 1 element up to -m MAX bytes (4 MiB).
 *                Small sizes: every case; 256 KiB: sum and max; larger:
 *                sum only (the time of the host suite)
 *   mixed        the same in one communicator with host and device buffers
 *                mixed: even ranks device / odd ranks host, then send
 *                buffers on the device and receive buffers on the host, then
 *                the reverse; plus host collectives on a split communicator
 *   collectives  the other collectives on device buffers, bytes verified:
 *                bcast, gather(v), scatter(v), allgather(v), alltoall(v),
 *                barrier, ibcast, igather, iscatter, iallgather, ialltoall
 *   persistent   MPI_Allreduce_init on device buffers: one clear error
 *                (MPI_ERRORS_RETURN), never a crash
 */
#include "hlmpi.h"

#include "src/tools/hlmem/hlmem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    R_ALLREDUCE, R_REDUCE, R_RSB, R_RS, R_SCAN, R_EXSCAN, R_LOCAL,
    R_IALLREDUCE, R_IREDUCE, R_IRSB, R_IRS, R_ISCAN, R_IEXSCAN, R_NUM
} red_kind_t;

static const char *red_names[R_NUM] = {
    "allreduce", "reduce", "reduce_scatter_block", "reduce_scatter", "scan",
    "exscan", "reduce_local", "iallreduce", "ireduce", "ireduce_scatter_block",
    "ireduce_scatter", "iscan", "iexscan"
};

static const struct {
    MPI_Datatype dt;
    const char   *name;
    size_t       size;
} red_types[] = {
    {MPI_INT, "int", sizeof(int)},
    {MPI_FLOAT, "float", sizeof(float)},
    {MPI_DOUBLE, "double", sizeof(double)},
};
#define RED_NTYPES 3

typedef enum { OP_SUM, OP_MAX, OP_MIN, OP_PROD, OP_BAND, OP_NUM } red_op_t;
static const char *op_names[OP_NUM] = {"sum", "max", "min", "prod", "band"};

static MPI_Op red_mpi_op(red_op_t op)
{
    static MPI_Op ops[OP_NUM];

    ops[OP_SUM] = MPI_SUM; ops[OP_MAX] = MPI_MAX; ops[OP_MIN] = MPI_MIN;
    ops[OP_PROD] = MPI_PROD; ops[OP_BAND] = MPI_BAND;
    return ops[op];
}

/* Inputs exact in every type: small integers; products of at most 4 ranks
 * of 1 or 2; band of 16-bit masks */
static long red_val(red_op_t op, int rank, size_t i)
{
    switch (op) {
    case OP_PROD:
        return 1 + (long)((i + rank) % 2);
    case OP_BAND:
        return 0xffff ^ (1L << ((i * 3 + rank) % 16));
    default:
        return (long)((i * 7 + rank * 3) % 11) + 1 + (long)(i % 3) * 100;
    }
}

static long red_fold(red_op_t op, long a, long b)
{
    switch (op) {
    case OP_SUM:  return a + b;
    case OP_MAX:  return (a > b) ? a : b;
    case OP_MIN:  return (a < b) ? a : b;
    case OP_PROD: return a * b;
    default:      return a & b;
    }
}

/* op over ranks [first, last] of element i */
static long red_expect(red_op_t op, int first, int last, size_t i)
{
    long v = red_val(op, first, i);
    int r;

    for (r = first + 1; r <= last; ++r) {
        v = red_fold(op, v, red_val(op, r, i));
    }
    return v;
}

static void red_set(void *a, int t, size_t i, long v)
{
    switch (t) {
    case 0:  ((int *)a)[i] = (int)v; break;
    case 1:  ((float *)a)[i] = (float)v; break;
    default: ((double *)a)[i] = (double)v; break;
    }
}

static long red_get(const void *a, int t, size_t i, int *exact)
{
    double d;

    switch (t) {
    case 0:
        *exact = 1;
        return ((const int *)a)[i];
    case 1:
        d = ((const float *)a)[i];
        break;
    default:
        d = ((const double *)a)[i];
        break;
    }
    *exact = (d == floor(d));
    return (long)d;
}

/* Where each rank's buffers live */
typedef struct {
    hlmpi_mem_t s, r;
} red_place_t;

typedef struct {
    hlmpi_buf_t s[2], r[2];     /* [HOST, DEVICE] */
    void        *hs, *hr;       /* host scratch for inputs and results */
    size_t      cap;
    long        cases, failed;
    int         reported;
} red_ctx_t;

static void red_ctx_init(red_ctx_t *c, size_t max_bytes)
{
    int n = hlmpi_opts.nprocs;
    size_t cap = max_bytes * (size_t)(n + 1) + 64;

    memset(c, 0, sizeof(*c));
    c->cap = cap;
    hlmpi_buf_alloc(&c->s[HLMPI_MEM_HOST], HLMPI_MEM_HOST, cap);
    hlmpi_buf_alloc(&c->r[HLMPI_MEM_HOST], HLMPI_MEM_HOST, cap);
    if (hlmpi_opts.device) {
        hlmpi_buf_alloc(&c->s[HLMPI_MEM_DEVICE], HLMPI_MEM_DEVICE, cap);
        hlmpi_buf_alloc(&c->r[HLMPI_MEM_DEVICE], HLMPI_MEM_DEVICE, cap);
    }
    c->hs = malloc(cap);
    c->hr = malloc(cap);
    if ((c->hs == NULL) || (c->hr == NULL)) {
        hlmpi_die(HLMPI_EXIT_FAIL, "malloc(%zu) failed", cap);
    }
}

static void red_ctx_fini(red_ctx_t *c)
{
    int i;

    for (i = 0; i < 2; ++i) {
        if (c->s[i].ptr != NULL) {
            hlmpi_buf_free(&c->s[i]);
        }
        if (c->r[i].ptr != NULL) {
            hlmpi_buf_free(&c->r[i]);
        }
    }
    free(c->hs);
    free(c->hr);
}

static int red_wait(MPI_Request *req)
{
    return MPI_Wait(req, MPI_STATUS_IGNORE);
}

/*
 * One case.  Returns 1 if this rank verified its result.
 */
static int red_case(red_ctx_t *c, red_kind_t kind, int t, red_op_t op,
                    int in_place, size_t count, red_place_t pl, int root)
{
    const int me = hlmpi_opts.rank, n = hlmpi_opts.nprocs;
    const size_t es = red_types[t].size;
    MPI_Datatype dt = red_types[t].dt;
    hlmpi_buf_t *sb = &c->s[pl.s], *rb = &c->r[pl.r];
    size_t in_count, out_count, out_off = 0, i, total = 0;
    int rcounts[64] = {0}, first = 0, last = n - 1, check = 1, rc = MPI_SUCCESS;
    int is_reduce = (kind == R_REDUCE) || (kind == R_IREDUCE);
    MPI_Request req;
    const void *sarg;
    int exact, j;
    long got, want;

    /* input: element i of rank me; in place: in the receive buffer */
    switch (kind) {
    case R_RSB: case R_IRSB:
        in_count = count * n;
        out_count = count;
        out_off   = count * me;
        break;
    case R_RS: case R_IRS:
        for (j = 0; j < n; ++j) {
            rcounts[j] = (int)count + (j % 2);
            if (j < me) {
                out_off += rcounts[j];
            }
            total += rcounts[j];
        }
        in_count  = total;
        out_count = rcounts[me];
        break;
    default:
        in_count = out_count = count;
        break;
    }
    if (is_reduce && (me != root)) {
        in_place = 0;          /* MPI_IN_PLACE only at the root */
    }

    for (i = 0; i < in_count; ++i) {
        red_set(c->hs, t, i, red_val(op, (kind == R_LOCAL) ? 1 : me, i));
    }
    if (in_place) {
        hlmpi_store(rb, 0, c->hs, in_count * es);
        sarg = MPI_IN_PLACE;
    } else {
        hlmpi_store(sb, 0, c->hs, in_count * es);
        if (kind == R_LOCAL) {
            for (i = 0; i < count; ++i) {
                red_set(c->hr, t, i, red_val(op, 0, i));
            }
            hlmpi_store(rb, 0, c->hr, count * es);
        } else {
            hlmpi_clear(rb, 0, in_count * es);
        }
        sarg = sb->ptr;
    }

    switch (kind) {
    case R_ALLREDUCE:
        rc = MPI_Allreduce(sarg, rb->ptr, (int)count, dt, red_mpi_op(op), MPI_COMM_WORLD);
        break;
    case R_REDUCE:
        rc = MPI_Reduce(sarg, rb->ptr, (int)count, dt, red_mpi_op(op), root, MPI_COMM_WORLD);
        break;
    case R_RSB:
        rc = MPI_Reduce_scatter_block(sarg, rb->ptr, (int)count, dt, red_mpi_op(op), MPI_COMM_WORLD);
        break;
    case R_RS:
        rc = MPI_Reduce_scatter(sarg, rb->ptr, rcounts, dt, red_mpi_op(op), MPI_COMM_WORLD);
        break;
    case R_SCAN:
        rc = MPI_Scan(sarg, rb->ptr, (int)count, dt, red_mpi_op(op), MPI_COMM_WORLD);
        break;
    case R_EXSCAN:
        rc = MPI_Exscan(sarg, rb->ptr, (int)count, dt, red_mpi_op(op), MPI_COMM_WORLD);
        break;
    case R_LOCAL:
        rc = MPI_Reduce_local(sb->ptr, rb->ptr, (int)count, dt, red_mpi_op(op));
        break;
    case R_IALLREDUCE:
        rc = MPI_Iallreduce(sarg, rb->ptr, (int)count, dt, red_mpi_op(op), MPI_COMM_WORLD, &req);
        break;
    case R_IREDUCE:
        rc = MPI_Ireduce(sarg, rb->ptr, (int)count, dt, red_mpi_op(op), root, MPI_COMM_WORLD, &req);
        break;
    case R_IRSB:
        rc = MPI_Ireduce_scatter_block(sarg, rb->ptr, (int)count, dt, red_mpi_op(op), MPI_COMM_WORLD, &req);
        break;
    case R_IRS:
        rc = MPI_Ireduce_scatter(sarg, rb->ptr, rcounts, dt, red_mpi_op(op), MPI_COMM_WORLD, &req);
        break;
    case R_ISCAN:
        rc = MPI_Iscan(sarg, rb->ptr, (int)count, dt, red_mpi_op(op), MPI_COMM_WORLD, &req);
        break;
    case R_IEXSCAN:
        rc = MPI_Iexscan(sarg, rb->ptr, (int)count, dt, red_mpi_op(op), MPI_COMM_WORLD, &req);
        break;
    default:
        break;
    }
    if ((rc == MPI_SUCCESS) && (kind >= R_IALLREDUCE)) {
        rc = red_wait(&req);
    }
    if (rc != MPI_SUCCESS) {
        fprintf(stderr, "hlmpi reductions [rank %d]: %s returned %d\n", me,
                red_names[kind], rc);
        return 0;
    }

    switch (kind) {
    case R_REDUCE: case R_IREDUCE:
        check = (me == root);
        break;
    case R_SCAN: case R_ISCAN:
        last = me;
        break;
    case R_EXSCAN: case R_IEXSCAN:
        check = (me > 0);
        last  = me - 1;
        break;
    case R_LOCAL:
        last = 1;
        break;
    default:
        break;
    }
    if (!check) {
        return 1;
    }
    if (hlmpi_load(c->hr, rb, 0, out_count * es) != 0) {
        return 0;
    }
    for (i = 0; i < out_count; ++i) {
        want = red_expect(op, first, last, out_off + i);
        got  = red_get(c->hr, t, i, &exact);
        if (!exact || (got != want)) {
            if (c->reported++ < 5) {
                fprintf(stderr, "hlmpi reductions [rank %d]: MISMATCH %s %s %s%s "
                        "count %zu (s %s, r %s): element %zu is %ld, expected %ld\n",
                        me, red_names[kind], red_types[t].name, op_names[op],
                        in_place ? " in place" : "", count,
                        hlmpi_mem_name(pl.s), hlmpi_mem_name(pl.r), i, got, want);
            }
            return 0;
        }
    }
    return 1;
}

/* The matrix for one placement; returns the number of failed cases */
static long red_matrix(red_ctx_t *c, red_place_t pl, size_t max_bytes,
                       const char *what)
{
    static const size_t sizes[] = {4, 28, 4000, 262144, 4194304};
    long cases = 0, failed = 0;
    size_t si, count;
    int k, t, op, ip, ok, nops, root = 0;

    for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); ++si) {
        if (sizes[si] > max_bytes) {
            break;
        }
        nops = (sizes[si] <= 4000) ? OP_NUM : (sizes[si] <= 262144) ? 2 : 1;
        for (k = 0; k < R_NUM; ++k) {
            for (t = 0; t < RED_NTYPES; ++t) {
                count = sizes[si] / red_types[t].size;
                if (count == 0) {
                    count = 1;
                }
                for (op = 0; op < nops; ++op) {
                    if ((op == OP_BAND) && (t != 0)) {
                        continue;
                    }
                    for (ip = 0; ip < ((k == R_LOCAL) ? 1 : 2); ++ip) {
                        root = (int)(cases % hlmpi_opts.nprocs);
                        ok   = red_case(c, (red_kind_t)k, t, (red_op_t)op, ip,
                                        count, pl, root);
                        ok   = hlmpi_all_ok(ok);
                        cases++;
                        failed += !ok;
                    }
                }
            }
        }
    }
    if (hlmpi_opts.rank == 0) {
        printf("# reductions, %s, %d ranks: %ld cases, %ld failed: %s\n", what,
               hlmpi_opts.nprocs, cases, failed, failed ? "Fail" : "Pass");
    }
    c->cases  += cases;
    c->failed += failed;
    return failed;
}

static size_t red_max_bytes(void)
{
    /* -m given: its MAX; default 4 MiB */
    return (hlmpi_opts.max_size && (hlmpi_opts.max_size != 1048576)) ?
           hlmpi_opts.max_size : 4194304;
}

int hlmpi_cmd_reductions(void)
{
    hlmpi_mem_t mem = hlmpi_opts.device ? HLMPI_MEM_DEVICE : HLMPI_MEM_HOST;
    red_place_t pl  = {mem, mem};
    size_t max      = red_max_bytes();
    red_ctx_t c;
    char what[64];

    if (hlmpi_opts.nprocs > 64) {
        hlmpi_die(HLMPI_EXIT_USAGE, "at most 64 ranks");
    }
    red_ctx_init(&c, max);
    snprintf(what, sizeof(what), "buffers %s, 1 element to %zu bytes",
             hlmpi_mem_name(mem), max);
    red_matrix(&c, pl, max, what);
    red_ctx_fini(&c);
    return c.failed ? HLMPI_EXIT_FAIL : HLMPI_EXIT_OK;
}

int hlmpi_cmd_mixed(void)
{
    const int me = hlmpi_opts.rank;
    size_t max   = red_max_bytes();
    red_place_t pl;
    MPI_Comm half;
    red_ctx_t c;
    int v, sum, ok;

    if (!hlmpi_opts.device) {
        hlmpi_die(HLMPI_EXIT_USAGE, "mixed needs -d habana");
    }
    red_ctx_init(&c, max);

    pl.s = pl.r = (me % 2) ? HLMPI_MEM_HOST : HLMPI_MEM_DEVICE;
    red_matrix(&c, pl, max, "even ranks device, odd ranks host");
    pl.s = HLMPI_MEM_DEVICE;
    pl.r = HLMPI_MEM_HOST;
    red_matrix(&c, pl, max, "send buffers device, receive buffers host");
    pl.s = HLMPI_MEM_HOST;
    pl.r = HLMPI_MEM_DEVICE;
    red_matrix(&c, pl, max, "send buffers host, receive buffers device");

    /* host reductions on a split communicator between device ones */
    MPI_Comm_split(MPI_COMM_WORLD, me % 2, me, &half);
    v  = me;
    MPI_Allreduce(&v, &sum, 1, MPI_INT, MPI_SUM, half);
    ok = 0;
    {
        int r, want = 0, n = hlmpi_opts.nprocs;

        for (r = me % 2; r < n; r += 2) {
            want += r;
        }
        ok = (sum == want);
    }
    pl.s = pl.r = HLMPI_MEM_DEVICE;
    ok = red_case(&c, R_ALLREDUCE, 0, OP_SUM, 0, 1000, pl, 0) && ok;
    ok = hlmpi_all_ok(ok);
    MPI_Comm_free(&half);
    if (me == 0) {
        printf("# host allreduce on a split communicator between device ones: %s\n",
               ok ? "Pass" : "Fail");
    }
    red_ctx_fini(&c);
    return (c.failed || !ok) ? HLMPI_EXIT_FAIL : HLMPI_EXIT_OK;
}

/* ---- other collectives: bytes ----------------------------------------------- */

static unsigned char coll_byte(int src, int dst, size_t i)
{
    return (unsigned char)(src * 31 + dst * 7 + i * 13 + 1);
}

int hlmpi_cmd_collectives(void)
{
    const int me = hlmpi_opts.rank, n = hlmpi_opts.nprocs;
    hlmpi_mem_t mem = hlmpi_opts.device ? HLMPI_MEM_DEVICE : HLMPI_MEM_HOST;
    static const char *names[] = {
        "bcast", "gather", "gatherv", "scatter", "scatterv", "allgather",
        "allgatherv", "alltoall", "alltoallv", "barrier", "ibcast", "igather",
        "iscatter", "iallgather", "ialltoall"
    };
    const int ncoll = (int)(sizeof(names) / sizeof(names[0]));
    const size_t blk = 4096 + 8;
    int counts[64], displs[64], root, k, j, ok, failed = 0;
    unsigned char *hs, *hr;
    hlmpi_buf_t s, r;
    MPI_Request req;
    size_t i;

    if (n > 64) {
        hlmpi_die(HLMPI_EXIT_USAGE, "at most 64 ranks");
    }
    hlmpi_buf_alloc(&s, mem, blk * n);
    hlmpi_buf_alloc(&r, mem, blk * n);
    hs = malloc(blk * n);
    hr = malloc(blk * n);
    for (j = 0; j < n; ++j) {
        counts[j] = (int)blk;
        displs[j] = (int)(blk * j);
    }

    for (k = 0; k < ncoll; ++k) {
        const char *nm = names[k];
        int rooted = !strcmp(nm, "bcast") || strstr(nm, "gather") == nm + (nm[0] == 'i') ||
                     strstr(nm, "scatter") == nm + (nm[0] == 'i') || !strcmp(nm, "ibcast");
        int a2a = strstr(nm, "alltoall") != NULL;

        root = k % n;
        /* send block for destination j: coll_byte(me, j) (bcast/allgather:
         * the same block for all, j = 0) */
        for (j = 0; j < n; ++j) {
            for (i = 0; i < blk; ++i) {
                hs[j * blk + i] = coll_byte(me, (a2a || strstr(nm, "scatter")) ? j : 0, i);
            }
        }
        hlmpi_store(&s, 0, hs, blk * n);
        hlmpi_clear(&r, 0, blk * n);
        (void)rooted;

        if (!strcmp(nm, "bcast") || !strcmp(nm, "ibcast")) {
            hlmpi_buf_t *b = (me == root) ? &s : &r;

            if (nm[0] == 'i') {
                MPI_Ibcast(b->ptr, (int)blk, MPI_BYTE, root, MPI_COMM_WORLD, &req);
                MPI_Wait(&req, MPI_STATUS_IGNORE);
            } else {
                MPI_Bcast(b->ptr, (int)blk, MPI_BYTE, root, MPI_COMM_WORLD);
            }
            if (me == root) {
                hlmpi_store(&r, 0, hs, blk);
            }
        } else if (!strcmp(nm, "gather")) {
            MPI_Gather(s.ptr, (int)blk, MPI_BYTE, r.ptr, (int)blk, MPI_BYTE, root, MPI_COMM_WORLD);
        } else if (!strcmp(nm, "igather")) {
            MPI_Igather(s.ptr, (int)blk, MPI_BYTE, r.ptr, (int)blk, MPI_BYTE, root, MPI_COMM_WORLD, &req);
            MPI_Wait(&req, MPI_STATUS_IGNORE);
        } else if (!strcmp(nm, "gatherv")) {
            MPI_Gatherv(s.ptr, (int)blk, MPI_BYTE, r.ptr, counts, displs, MPI_BYTE, root, MPI_COMM_WORLD);
        } else if (!strcmp(nm, "scatter")) {
            MPI_Scatter(s.ptr, (int)blk, MPI_BYTE, r.ptr, (int)blk, MPI_BYTE, root, MPI_COMM_WORLD);
        } else if (!strcmp(nm, "iscatter")) {
            MPI_Iscatter(s.ptr, (int)blk, MPI_BYTE, r.ptr, (int)blk, MPI_BYTE, root, MPI_COMM_WORLD, &req);
            MPI_Wait(&req, MPI_STATUS_IGNORE);
        } else if (!strcmp(nm, "scatterv")) {
            MPI_Scatterv(s.ptr, counts, displs, MPI_BYTE, r.ptr, (int)blk, MPI_BYTE, root, MPI_COMM_WORLD);
        } else if (!strcmp(nm, "allgather")) {
            MPI_Allgather(s.ptr, (int)blk, MPI_BYTE, r.ptr, (int)blk, MPI_BYTE, MPI_COMM_WORLD);
        } else if (!strcmp(nm, "iallgather")) {
            MPI_Iallgather(s.ptr, (int)blk, MPI_BYTE, r.ptr, (int)blk, MPI_BYTE, MPI_COMM_WORLD, &req);
            MPI_Wait(&req, MPI_STATUS_IGNORE);
        } else if (!strcmp(nm, "allgatherv")) {
            MPI_Allgatherv(s.ptr, (int)blk, MPI_BYTE, r.ptr, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
        } else if (!strcmp(nm, "alltoall")) {
            MPI_Alltoall(s.ptr, (int)blk, MPI_BYTE, r.ptr, (int)blk, MPI_BYTE, MPI_COMM_WORLD);
        } else if (!strcmp(nm, "ialltoall")) {
            MPI_Ialltoall(s.ptr, (int)blk, MPI_BYTE, r.ptr, (int)blk, MPI_BYTE, MPI_COMM_WORLD, &req);
            MPI_Wait(&req, MPI_STATUS_IGNORE);
        } else if (!strcmp(nm, "alltoallv")) {
            MPI_Alltoallv(s.ptr, counts, displs, MPI_BYTE, r.ptr, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
        } else {
            MPI_Barrier(MPI_COMM_WORLD);
        }

        /* expected receive buffer */
        ok = 1;
        if (strcmp(nm, "barrier")) {
            int nblk = 1, from_all = 0, check = 1;

            if (strstr(nm, "gather") || a2a) {
                nblk     = n;
                from_all = 1;
                check    = strstr(nm, "allgather") || a2a || (me == root);
            }
            if (check) {
                hlmpi_load(hr, &r, 0, blk * nblk);
                for (j = 0; (j < nblk) && ok; ++j) {
                    int src = from_all ? j : root;
                    int dst = (a2a || strstr(nm, "scatter")) ? me : 0;

                    for (i = 0; i < blk; ++i) {
                        if (hr[j * blk + i] != coll_byte(src, dst, i)) {
                            fprintf(stderr, "hlmpi collectives [rank %d]: MISMATCH "
                                    "%s block %d byte %zu\n", me, nm, j, i);
                            ok = 0;
                            break;
                        }
                    }
                }
            }
        }
        ok = hlmpi_all_ok(ok);
        failed += !ok;
        if (me == 0) {
            printf("# %-12s %s, %d ranks: %s\n", nm, hlmpi_mem_name(mem), n,
                   ok ? "Pass" : "Fail");
        }
    }
    free(hs);
    free(hr);
    hlmpi_buf_free(&s);
    hlmpi_buf_free(&r);
    return failed ? HLMPI_EXIT_FAIL : HLMPI_EXIT_OK;
}

/* Persistent reductions are not staged: one error, not a crash */
int hlmpi_cmd_persistent(void)
{
    hlmpi_mem_t mem = hlmpi_opts.device ? HLMPI_MEM_DEVICE : HLMPI_MEM_HOST;
    hlmpi_buf_t s, r;
    MPI_Request req;
    char msg[MPI_MAX_ERROR_STRING];
    int rc, len = 0, ok;

    hlmpi_buf_alloc(&s, mem, 4096);
    hlmpi_buf_alloc(&r, mem, 4096);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    rc = MPI_Allreduce_init(s.ptr, r.ptr, 16, MPI_INT, MPI_SUM, MPI_COMM_WORLD,
                            MPI_INFO_NULL, &req);
    if (rc == MPI_SUCCESS) {
        MPI_Start(&req);
        MPI_Wait(&req, MPI_STATUS_IGNORE);
        MPI_Request_free(&req);
    } else {
        MPI_Error_string(rc, msg, &len);
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    /* device: refused; host: works */
    ok = hlmpi_opts.device ? (rc != MPI_SUCCESS) : (rc == MPI_SUCCESS);
    if (hlmpi_opts.rank == 0) {
        printf("# MPI_Allreduce_init on %s buffers: %s%s%s\n", hlmpi_mem_name(mem),
               (rc == MPI_SUCCESS) ? "started and completed" : "refused: ",
               (rc == MPI_SUCCESS) ? "" : msg, ok ? " (Pass)" : " (Fail)");
    }
    hlmpi_buf_free(&s);
    hlmpi_buf_free(&r);
    return hlmpi_all_ok(ok) ? HLMPI_EXIT_OK : HLMPI_EXIT_FAIL;
}

/* ---- figures: allreduce latency, device vs host buffers, one run --------- */

static double dh_time(void *s, void *r, size_t count, int iters, int warmup)
{
    double t0 = 0, local, max;
    int i;

    for (i = 0; i < warmup + iters; ++i) {
        if (i == warmup) {
            MPI_Barrier(MPI_COMM_WORLD);
            t0 = MPI_Wtime();
        }
        MPI_Allreduce(s, r, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
    local = (MPI_Wtime() - t0) * 1e6 / iters;
    MPI_Allreduce(&local, &max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return max;
}

int hlmpi_cmd_allreduce_dh(void)
{
    static const size_t sizes[] = {8, 65536, 1048576, 16777216};
    const int me = hlmpi_opts.rank;
    hlmpi_buf_t hs, hr, ds, dr;
    red_place_t dd = {HLMPI_MEM_DEVICE, HLMPI_MEM_DEVICE};
    red_ctx_t c;
    size_t si, count;
    double th, td;
    int iters, ok;

    if (!hlmpi_opts.device) {
        hlmpi_die(HLMPI_EXIT_USAGE, "allreduce_dh needs -d habana");
    }
    hlmpi_buf_alloc(&hs, HLMPI_MEM_HOST, sizes[3]);
    hlmpi_buf_alloc(&hr, HLMPI_MEM_HOST, sizes[3]);
    hlmpi_buf_alloc(&ds, HLMPI_MEM_DEVICE, sizes[3]);
    hlmpi_buf_alloc(&dr, HLMPI_MEM_DEVICE, sizes[3]);
    red_ctx_init(&c, sizes[3] / (size_t)(hlmpi_opts.nprocs + 1) + 1);
    if (me == 0) {
        printf("# hlmpi Allreduce latency, MPI_FLOAT MPI_SUM, device (D) vs host (H) "
               "buffers, %d ranks, max over ranks\n", hlmpi_opts.nprocs);
        printf("%-12s %14s %14s %8s %8s %12s\n", "# Size", "H (us)", "D (us)",
               "D/H", "Iters", "Validation");
    }
    for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); ++si) {
        count = sizes[si] / sizeof(float);
        iters = (sizes[si] >= (1u << 20)) ? hlmpi_opts.iters / 10 :
                hlmpi_opts.iters;
        if (iters < 1) {
            iters = 1;
        }
        th = dh_time(hs.ptr, hr.ptr, count, iters, 2);
        td = dh_time(ds.ptr, dr.ptr, count, iters, 2);
        /* the device result verified once per size */
        ok = hlmpi_all_ok(red_case(&c, R_ALLREDUCE, 1, OP_SUM, 0, count, dd, 0));
        if (me == 0) {
            printf("%-12zu %14.2f %14.2f %8.2f %8d %12s\n", sizes[si], th, td,
                   td / th, iters, ok ? "Pass" : "Fail");
        }
    }
    red_ctx_fini(&c);
    hlmpi_buf_free(&hs);
    hlmpi_buf_free(&hr);
    hlmpi_buf_free(&ds);
    hlmpi_buf_free(&dr);
    return HLMPI_EXIT_OK;
}
