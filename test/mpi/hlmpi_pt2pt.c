/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * hlmpi point-to-point: latency (ping-pong), bw and bibw (windows of
 * non-blocking messages), between ranks 0 and 1, each with its buffers in
 * the memory its placement argument names.  The send buffer holds a pattern
 * of (rank, size, round); the receiver checks it after the timed loop and
 * after every verification round (a fresh pattern each, receive buffer
 * cleared before).
 */
#include "hlmpi.h"

#include <stdio.h>
#include <stdlib.h>

#define HLMPI_TAG      1
#define HLMPI_TAG_ACK  2

typedef struct {
    hlmpi_buf_t s;
    hlmpi_buf_t r;
    int         peer;
} pt2pt_t;

static int pt2pt_setup(pt2pt_t *p)
{
    hlmpi_mem_t mem;

    if (hlmpi_opts.nprocs != 2) {
        if (hlmpi_opts.rank == 0) {
            fprintf(stderr, "hlmpi %s: needs exactly 2 ranks\n", hlmpi_opts.cmd);
        }
        return -1;
    }
    mem     = hlmpi_opts.mem[hlmpi_opts.rank];
    p->peer = 1 - hlmpi_opts.rank;
    hlmpi_buf_alloc(&p->s, mem, hlmpi_opts.max_size);
    hlmpi_buf_alloc(&p->r, mem, hlmpi_opts.max_size);
    return 0;
}

static void pt2pt_cleanup(pt2pt_t *p)
{
    hlmpi_buf_free(&p->s);
    hlmpi_buf_free(&p->r);
}

/* Fill own send buffer for (size_idx, round), clear the receive buffer */
static void pt2pt_prepare(pt2pt_t *p, size_t size, int idx, int round)
{
    hlmpi_fill(&p->s, 0, size, hlmpi_seed(hlmpi_opts.rank, idx, round));
    hlmpi_clear(&p->r, 0, size);
}

static int pt2pt_check(pt2pt_t *p, size_t size, int idx, int round,
                       int receives)
{
    char what[64];

    if (!receives) {
        return 1;
    }
    snprintf(what, sizeof(what), "round %d", round);
    return hlmpi_check(&p->r, 0, size, hlmpi_seed(p->peer, idx, round),
                       what) == 0;
}

static void pingpong(pt2pt_t *p, size_t size, int n)
{
    int i;

    for (i = 0; i < n; ++i) {
        if (hlmpi_opts.rank == 0) {
            MPI_Send(p->s.ptr, (int)size, MPI_CHAR, 1, HLMPI_TAG,
                     MPI_COMM_WORLD);
            MPI_Recv(p->r.ptr, (int)size, MPI_CHAR, 1, HLMPI_TAG,
                     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else {
            MPI_Recv(p->r.ptr, (int)size, MPI_CHAR, 0, HLMPI_TAG,
                     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(p->s.ptr, (int)size, MPI_CHAR, 0, HLMPI_TAG,
                     MPI_COMM_WORLD);
        }
    }
}

/* n windows; bi: both ranks send and receive, else 0 sends, 1 receives */
static void windows(pt2pt_t *p, size_t size, int n, int bi, MPI_Request *req)
{
    const int w = hlmpi_opts.window;
    int i, j, k, ack = 0;

    for (i = 0; i < n; ++i) {
        k = 0;
        if (bi || hlmpi_opts.rank == 1) {
            for (j = 0; j < w; ++j) {
                MPI_Irecv(p->r.ptr, (int)size, MPI_CHAR, p->peer, HLMPI_TAG,
                          MPI_COMM_WORLD, &req[k++]);
            }
        }
        if (bi || hlmpi_opts.rank == 0) {
            for (j = 0; j < w; ++j) {
                MPI_Isend(p->s.ptr, (int)size, MPI_CHAR, p->peer, HLMPI_TAG,
                          MPI_COMM_WORLD, &req[k++]);
            }
        }
        MPI_Waitall(k, req, MPI_STATUSES_IGNORE);
        if (!bi) {
            if (hlmpi_opts.rank == 1) {
                MPI_Send(&ack, 1, MPI_INT, 0, HLMPI_TAG_ACK, MPI_COMM_WORLD);
            } else {
                MPI_Recv(&ack, 1, MPI_INT, 1, HLMPI_TAG_ACK, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE);
            }
        }
    }
}

typedef enum { RUN_LATENCY, RUN_BW, RUN_BIBW } run_kind_t;

static int run(run_kind_t kind)
{
    static const char *titles[] = {"Latency", "Bandwidth",
                                   "Bi-Directional Bandwidth"};
    static const char *columns[] = {"Latency (us)", "Bandwidth (MB/s)",
                                    "Bandwidth (MB/s)"};
    int all_ok = 1, receives, ok, idx, round, iters;
    MPI_Request *req = NULL;
    double t0, t, value;
    size_t size;
    pt2pt_t p;

    if (pt2pt_setup(&p) != 0) {
        return HLMPI_EXIT_USAGE;
    }
    if (kind != RUN_LATENCY) {
        req = calloc(2 * hlmpi_opts.window, sizeof(*req));
        if (req == NULL) {
            hlmpi_die(HLMPI_EXIT_FAIL, "out of memory");
        }
    }
    receives = (kind != RUN_BW) || (hlmpi_opts.rank == 1);

    hlmpi_header(titles[kind], "pt2pt");
    if (hlmpi_opts.rank == 0) {
        printf("%-10s%*s%*s\n", "# Size", 18, columns[kind], 18, "Validation");
    }

    for (size = hlmpi_opts.min_size, idx = 0; size <= hlmpi_opts.max_size;
         size = size ? size * 2 : 1, ++idx) {
        iters = hlmpi_iters(size);
        pt2pt_prepare(&p, size, idx, 0);
        MPI_Barrier(MPI_COMM_WORLD);

        /* warm-up, then the timed loop, same data */
        if (kind == RUN_LATENCY) {
            pingpong(&p, size, hlmpi_warmup(size));
        } else {
            windows(&p, size, hlmpi_warmup(size), kind == RUN_BIBW, req);
        }
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
        if (kind == RUN_LATENCY) {
            pingpong(&p, size, iters);
        } else {
            windows(&p, size, iters, kind == RUN_BIBW, req);
        }
        t = MPI_Wtime() - t0;
        ok = pt2pt_check(&p, size, idx, 0, receives);

        /* untimed rounds, a new pattern each */
        for (round = 1; round <= hlmpi_opts.verify_rounds; ++round) {
            pt2pt_prepare(&p, size, idx, round);
            MPI_Barrier(MPI_COMM_WORLD);
            if (kind == RUN_LATENCY) {
                pingpong(&p, size, 1);
            } else {
                windows(&p, size, 1, kind == RUN_BIBW, req);
            }
            ok = pt2pt_check(&p, size, idx, round, receives) && ok;
        }

        ok      = hlmpi_all_ok(ok);
        all_ok &= ok;
        if (kind == RUN_LATENCY) {
            value = t * 1e6 / (2.0 * iters);
        } else {
            value = (double)size / 1e6 * iters * hlmpi_opts.window *
                    (kind == RUN_BIBW ? 2 : 1) / t;
        }
        /* rank 0 timed the loop; for bw that is the sender's view, as OSU */
        hlmpi_row(size, value, ok);
    }

    free(req);
    pt2pt_cleanup(&p);
    return all_ok ? HLMPI_EXIT_OK : HLMPI_EXIT_FAIL;
}

int hlmpi_cmd_latency(void)
{
    return run(RUN_LATENCY);
}

int hlmpi_cmd_bw(void)
{
    return run(RUN_BW);
}

int hlmpi_cmd_bibw(void)
{
    return run(RUN_BIBW);
}
