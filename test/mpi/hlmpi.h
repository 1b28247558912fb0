/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * hlmpi: MPI tests and OSU-style benchmarks on Habana device buffers
 * (libhlmem), data verified.  Shared declarations.
 */
#ifndef HLMPI_H_
#define HLMPI_H_

#include <mpi.h>

#include <stddef.h>
#include <stdint.h>

/* Exit codes */
#define HLMPI_EXIT_OK        0
#define HLMPI_EXIT_FAIL      1  /* data mismatch or MPI/device error */
#define HLMPI_EXIT_USAGE     2
#define HLMPI_EXIT_REFUSED   3  /* operation refused on device memory */

typedef enum {
    HLMPI_MEM_HOST,
    HLMPI_MEM_DEVICE
} hlmpi_mem_t;

typedef struct {
    const char  *cmd;
    int         device;        /* -d habana given */
    hlmpi_mem_t mem[2];        /* placement per rank role (pt2pt: rank 0, 1;
                                  collectives: mem[0] for every rank) */
    size_t      min_size;
    size_t      max_size;
    int         iters;
    int         warmup;
    int         iters_large;
    int         warmup_large;
    size_t      large_size;    /* sizes above this use the *_large counts */
    int         window;        /* bw/bibw window */
    int         verify_rounds; /* untimed rounds, pattern per round */
    int         stage;         /* reductions: stage through host memory */
    int         force;         /* reductions: call MPI on device pointers */
    int         in_place;      /* allgather/alltoall: MPI_IN_PLACE */
    int         accel;         /* -A: the MPI library copies device memory
                                  through an accelerator component */
    int         rank;
    int         nprocs;
} hlmpi_opts_t;

extern hlmpi_opts_t hlmpi_opts;

/* A buffer in host or device memory */
typedef struct {
    hlmpi_mem_t mem;
    size_t      size;
    void        *ptr;
} hlmpi_buf_t;

int  hlmpi_buf_alloc(hlmpi_buf_t *buf, hlmpi_mem_t mem, size_t size);
void hlmpi_buf_free(hlmpi_buf_t *buf);

/* Pattern of (seed) into buf[off, off+len); the CPU never touches a device
 * buffer: device buffers are written with hlmem_copy_to_device */
int hlmpi_fill(hlmpi_buf_t *buf, size_t off, size_t len, uint32_t seed);
int hlmpi_clear(hlmpi_buf_t *buf, size_t off, size_t len);

/* Check buf[off, off+len) holds the pattern of seed; returns the number of
 * mismatching bytes (first one reported on stderr), -1 on device error */
long hlmpi_check(const hlmpi_buf_t *buf, size_t off, size_t len,
                 uint32_t seed, const char *what);

/* Read/write whole buffers to/from host arrays (either memory type) */
int hlmpi_load(void *host, const hlmpi_buf_t *buf, size_t off, size_t len);
int hlmpi_store(hlmpi_buf_t *buf, size_t off, const void *host, size_t len);

uint32_t hlmpi_seed(int rank, int size_idx, int round);

int  hlmpi_iters(size_t size);
int  hlmpi_warmup(size_t size);

void hlmpi_header(const char *title, const char *columns);
void hlmpi_row(size_t size, double value, int ok);
void hlmpi_row_coll(size_t size, double avg, double min, double max, int ok,
                    int iters);

const char *hlmpi_mem_name(hlmpi_mem_t mem);

/* Logs on rank 0 / every rank */
void hlmpi_die(int code, const char *fmt, ...)
        __attribute__((format(printf, 2, 3), noreturn));

/* Subcommands; return an exit code, identical on every rank */
int hlmpi_cmd_latency(void);
int hlmpi_cmd_bw(void);
int hlmpi_cmd_bibw(void);
int hlmpi_cmd_bcast(void);
int hlmpi_cmd_allgather(void);
int hlmpi_cmd_alltoall(void);
int hlmpi_cmd_reduce(void);
int hlmpi_cmd_allreduce(void);
/* hlmpi_red.c: reductions etc. called on the buffers as they are */
int hlmpi_cmd_reductions(void);
int hlmpi_cmd_mixed(void);
int hlmpi_cmd_collectives(void);
int hlmpi_cmd_persistent(void);
int hlmpi_cmd_allreduce_dh(void);

/* Logical AND of ok over all ranks */
int hlmpi_all_ok(int ok);

#endif
