/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * hlmpi: options, buffers in host or Habana device memory, data patterns,
 * OSU-style output, main().
 */
#include "hlmpi.h"

#include "src/tools/hlmem/hlmem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HLMPI_FIELD_WIDTH 18

hlmpi_opts_t hlmpi_opts;

/* HLMPI_TEST_CORRUPT=1: flip one received byte before checking (tests that
 * a mismatch is detected and reported) */
static int hlmpi_corrupt;

static const struct {
    const char *name;
    int        (*run)(void);
    const char *help;
} hlmpi_cmds[] = {
    {"latency",   hlmpi_cmd_latency,   "ping-pong latency (2 ranks)"},
    {"bw",        hlmpi_cmd_bw,        "uni-directional bandwidth (2 ranks)"},
    {"bibw",      hlmpi_cmd_bibw,      "bi-directional bandwidth (2 ranks)"},
    {"bcast",     hlmpi_cmd_bcast,     "MPI_Bcast latency"},
    {"allgather", hlmpi_cmd_allgather, "MPI_Allgather latency"},
    {"alltoall",  hlmpi_cmd_alltoall,  "MPI_Alltoall latency"},
    {"reduce",    hlmpi_cmd_reduce,    "MPI_Reduce (refused on device memory)"},
    {"allreduce", hlmpi_cmd_allreduce, "MPI_Allreduce (refused on device memory)"},
    {"reductions", hlmpi_cmd_reductions, "every reduction, type, op, in place, verified"},
    {"mixed",     hlmpi_cmd_mixed,     "reductions mixing host and device buffers"},
    {"collectives", hlmpi_cmd_collectives, "the other collectives, bytes verified"},
    {"persistent", hlmpi_cmd_persistent, "MPI_Allreduce_init: refused on device memory"},
    {"allreduce_dh", hlmpi_cmd_allreduce_dh, "allreduce latency, D vs H, 8 B to 16 MiB"},
};

/* Host scratch for patterns, grown on demand */
static unsigned char *hlmpi_scratch;
static size_t hlmpi_scratch_size;

static unsigned char *scratch(size_t len)
{
    unsigned char *p;

    if (len <= hlmpi_scratch_size) {
        return hlmpi_scratch;
    }
    p = realloc(hlmpi_scratch, len);
    if (p == NULL) {
        hlmpi_die(HLMPI_EXIT_FAIL, "out of host memory (%zu bytes)", len);
    }
    hlmpi_scratch      = p;
    hlmpi_scratch_size = len;
    return p;
}

void hlmpi_die(int code, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "hlmpi %s [rank %d]: ", hlmpi_opts.cmd ? hlmpi_opts.cmd : "",
            hlmpi_opts.rank);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

const char *hlmpi_mem_name(hlmpi_mem_t mem)
{
    return (mem == HLMPI_MEM_DEVICE) ? "DEVICE (D)" : "HOST (H)";
}

int hlmpi_buf_alloc(hlmpi_buf_t *buf, hlmpi_mem_t mem, size_t size)
{
    buf->mem  = mem;
    buf->size = size ? size : 1;
    if (mem == HLMPI_MEM_DEVICE) {
        buf->ptr = hlmem_alloc(buf->size);
        if (buf->ptr == NULL) {
            hlmpi_die(HLMPI_EXIT_FAIL, "hlmem_alloc(%zu): %s", buf->size,
                      strerror(errno));
        }
    } else {
        buf->ptr = malloc(buf->size);
        if (buf->ptr == NULL) {
            hlmpi_die(HLMPI_EXIT_FAIL, "malloc(%zu) failed", buf->size);
        }
        memset(buf->ptr, 0, buf->size);
    }
    return 0;
}

void hlmpi_buf_free(hlmpi_buf_t *buf)
{
    int ret;

    if (buf->ptr == NULL) {
        return;
    }
    if (buf->mem == HLMPI_MEM_DEVICE) {
        ret = hlmem_free(buf->ptr);
        if (ret != 0) {
            hlmpi_die(HLMPI_EXIT_FAIL, "hlmem_free(%p): %s", buf->ptr,
                      strerror(-ret));
        }
    } else {
        free(buf->ptr);
    }
    buf->ptr = NULL;
}

int hlmpi_store(hlmpi_buf_t *buf, size_t off, const void *host, size_t len)
{
    int ret;

    if (len == 0) {
        return 0;
    }
    if (buf->mem == HLMPI_MEM_HOST) {
        memcpy((char*)buf->ptr + off, host, len);
        return 0;
    }
    ret = hlmem_copy_to_device((char*)buf->ptr + off, host, len);
    if (ret != 0) {
        hlmpi_die(HLMPI_EXIT_FAIL, "hlmem_copy_to_device(%p+%zu, %zu): %s",
                  buf->ptr, off, len, strerror(-ret));
    }
    return 0;
}

int hlmpi_load(void *host, const hlmpi_buf_t *buf, size_t off, size_t len)
{
    int ret;

    if (len == 0) {
        return 0;
    }
    if (buf->mem == HLMPI_MEM_HOST) {
        memcpy(host, (const char*)buf->ptr + off, len);
        return 0;
    }
    ret = hlmem_copy_from_device(host, (const char*)buf->ptr + off, len);
    if (ret != 0) {
        hlmpi_die(HLMPI_EXIT_FAIL, "hlmem_copy_from_device(%p+%zu, %zu): %s",
                  buf->ptr, off, len, strerror(-ret));
    }
    return 0;
}

uint32_t hlmpi_seed(int rank, int size_idx, int round)
{
    return 0x9e3779b9u * (uint32_t)(rank + 1) ^
           0x85ebca6bu * (uint32_t)(size_idx + 1) ^
           0xc2b2ae35u * (uint32_t)(round + 1);
}

static inline unsigned char pattern(size_t i, uint32_t seed)
{
    uint32_t x = ((uint32_t)i + seed) * 2654435761u;

    return (unsigned char)((x >> 24) ^ (uint32_t)(i >> 16));
}

int hlmpi_fill(hlmpi_buf_t *buf, size_t off, size_t len, uint32_t seed)
{
    unsigned char *p = scratch(len);
    size_t i;

    for (i = 0; i < len; ++i) {
        p[i] = pattern(i, seed);
    }
    return hlmpi_store(buf, off, p, len);
}

int hlmpi_clear(hlmpi_buf_t *buf, size_t off, size_t len)
{
    int ret;

    if (len == 0) {
        return 0;
    }
    if (buf->mem == HLMPI_MEM_HOST) {
        memset((char*)buf->ptr + off, 0xee, len);
        return 0;
    }
    ret = hlmem_memset((char*)buf->ptr + off, 0xee, len);
    if (ret != 0) {
        hlmpi_die(HLMPI_EXIT_FAIL, "hlmem_memset(%p+%zu, %zu): %s", buf->ptr,
                  off, len, strerror(-ret));
    }
    return 0;
}

long hlmpi_check(const hlmpi_buf_t *buf, size_t off, size_t len,
                 uint32_t seed, const char *what)
{
    unsigned char *p = scratch(len);
    long bad         = 0;
    size_t i;

    hlmpi_load(p, buf, off, len);
    if (hlmpi_corrupt && len > 0) {
        p[len / 2] ^= 0x40;
    }
    for (i = 0; i < len; ++i) {
        if (p[i] != pattern(i, seed)) {
            if (bad == 0) {
                fprintf(stderr,
                        "hlmpi %s [rank %d]: MISMATCH in %s (%s buffer, "
                        "%zu bytes at offset %zu): byte %zu is 0x%02x, "
                        "expected 0x%02x\n",
                        hlmpi_opts.cmd, hlmpi_opts.rank, what,
                        hlmpi_mem_name(buf->mem), len, off, i, p[i],
                        pattern(i, seed));
            }
            ++bad;
        }
    }
    return bad;
}

int hlmpi_all_ok(int ok)
{
    int all = 0;

    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    return all;
}

int hlmpi_iters(size_t size)
{
    return (size > hlmpi_opts.large_size) ? hlmpi_opts.iters_large :
                                            hlmpi_opts.iters;
}

int hlmpi_warmup(size_t size)
{
    return (size > hlmpi_opts.large_size) ? hlmpi_opts.warmup_large :
                                            hlmpi_opts.warmup;
}

void hlmpi_header(const char *title, const char *columns)
{
    if (hlmpi_opts.rank != 0) {
        return;
    }
    printf("# hlmpi %s Test (OSU style, data verified)\n", title);
    if (!strcmp(columns, "pt2pt")) {
        printf("# Send Buffer on %s and Receive Buffer on %s\n",
               hlmpi_mem_name(hlmpi_opts.mem[0]),
               hlmpi_mem_name(hlmpi_opts.mem[1]));
    } else {
        printf("# Buffers on %s, %d ranks\n", hlmpi_mem_name(hlmpi_opts.mem[0]),
               hlmpi_opts.nprocs);
    }
    fflush(stdout);
}

void hlmpi_row(size_t size, double value, int ok)
{
    if (hlmpi_opts.rank != 0) {
        return;
    }
    printf("%-10zu%*.2f%*s\n", size, HLMPI_FIELD_WIDTH, value,
           HLMPI_FIELD_WIDTH, ok ? "Pass" : "Fail");
    fflush(stdout);
}

void hlmpi_row_coll(size_t size, double avg, double min, double max, int ok,
                    int iters)
{
    if (hlmpi_opts.rank != 0) {
        return;
    }
    printf("%-10zu%*.2f%*.2f%*.2f%*d%*s\n", size, HLMPI_FIELD_WIDTH, avg,
           HLMPI_FIELD_WIDTH, min, HLMPI_FIELD_WIDTH, max, 12, iters,
           HLMPI_FIELD_WIDTH, ok ? "Pass" : "Fail");
    fflush(stdout);
}

static void usage(FILE *f)
{
    size_t i;

    fprintf(f,
            "usage: hlmpi_test COMMAND [-d habana|host] [-m [MIN:]MAX] [-i ITERS]\n"
            "                  [-x WARMUP] [-W WINDOW] [-r ROUNDS] [-S] [-F] [-I] [-A] [D|H [D|H]]\n"
            "commands:\n");
    for (i = 0; i < sizeof(hlmpi_cmds) / sizeof(hlmpi_cmds[0]); ++i) {
        fprintf(f, "  %-10s %s\n", hlmpi_cmds[i].name, hlmpi_cmds[i].help);
    }
    fprintf(f,
            "options:\n"
            "  -d habana|host  memory of the buffers: Habana device memory\n"
            "                  (libhlmem) or host; with habana, D|H arguments\n"
            "                  place each rank's buffer (default D D)\n"
            "  -m [MIN:]MAX    message sizes (default 1:1048576)\n"
            "  -i ITERS        timed iterations (default 100; 1/5 above 64 KiB)\n"
            "  -x WARMUP       warm-up iterations (default 10; 1/5 above 64 KiB)\n"
            "  -W WINDOW       bw/bibw window (default 32)\n"
            "  -r ROUNDS       untimed verification rounds per size, each with\n"
            "                  its own data pattern (default 2)\n"
            "  -S              reductions: stage device buffers through host memory\n"
            "  -F              reductions: pass device pointers to MPI anyway\n"
            "                  (demonstrates the crash; never in tests)\n"
            "  -I              allgather/alltoall: MPI_IN_PLACE\n"
            "  -A              the MPI library has a Habana accelerator component\n"
            "                  (Open MPI: mca_accelerator_habana): allgather and\n"
            "                  alltoall on device memory are called, not refused;\n"
            "                  also detected from the memory kind habana:device\n"
            "exit: 0 ok, 1 data mismatch or error, 2 usage, 3 refused\n");
}

static size_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 0);

    if (end == s || *end != '\0') {
        fprintf(stderr, "hlmpi: bad size '%s'\n", s);
        exit(HLMPI_EXIT_USAGE);
    }
    return (size_t)v;
}

static int parse_int(const char *s)
{
    char *end;
    long v = strtol(s, &end, 0);

    if (end == s || *end != '\0' || v < 0 || v > 100000000) {
        fprintf(stderr, "hlmpi: bad number '%s'\n", s);
        exit(HLMPI_EXIT_USAGE);
    }
    return (int)v;
}

static hlmpi_mem_t parse_placement(const char *s)
{
    if (!strcmp(s, "D") || !strcmp(s, "d")) {
        return HLMPI_MEM_DEVICE;
    } else if (!strcmp(s, "H") || !strcmp(s, "h")) {
        return HLMPI_MEM_HOST;
    }
    fprintf(stderr, "hlmpi: buffer placement must be D or H, not '%s'\n", s);
    exit(HLMPI_EXIT_USAGE);
}

static int parse_args(int argc, char **argv)
{
    hlmpi_opts_t *o = &hlmpi_opts;
    int iters_set = 0, warmup_set = 0, nplace = 0;
    int c, i, cmd = -1;
    char *colon;

    o->min_size      = 1;
    o->max_size      = 1 << 20;
    o->iters         = 100;
    o->warmup        = 10;
    o->large_size    = 64 * 1024;
    o->window        = 32;
    o->verify_rounds = 2;
    o->mem[0] = o->mem[1] = HLMPI_MEM_HOST;

    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        exit(argc < 2 ? HLMPI_EXIT_USAGE : 0);
    }
    for (i = 0; i < (int)(sizeof(hlmpi_cmds) / sizeof(hlmpi_cmds[0])); ++i) {
        if (!strcmp(argv[1], hlmpi_cmds[i].name)) {
            cmd = i;
        }
    }
    if (cmd < 0) {
        fprintf(stderr, "hlmpi: unknown command '%s'\n", argv[1]);
        usage(stderr);
        exit(HLMPI_EXIT_USAGE);
    }
    o->cmd = hlmpi_cmds[cmd].name;

    optind = 2;
    while ((c = getopt(argc, argv, "d:m:i:x:W:r:SFIAh")) != -1) {
        switch (c) {
        case 'd':
            if (!strcmp(optarg, "habana")) {
                o->device = 1;
                o->mem[0] = o->mem[1] = HLMPI_MEM_DEVICE;
            } else if (!strcmp(optarg, "host")) {
                o->device = 0;
                o->mem[0] = o->mem[1] = HLMPI_MEM_HOST;
            } else {
                fprintf(stderr, "hlmpi: -d takes habana or host\n");
                exit(HLMPI_EXIT_USAGE);
            }
            break;
        case 'm':
            colon = strchr(optarg, ':');
            if (colon != NULL) {
                *colon      = '\0';
                o->min_size = parse_size(optarg);
                o->max_size = parse_size(colon + 1);
            } else {
                o->max_size = parse_size(optarg);
            }
            break;
        case 'i':
            o->iters  = parse_int(optarg);
            iters_set = 1;
            break;
        case 'x':
            o->warmup  = parse_int(optarg);
            warmup_set = 1;
            break;
        case 'W':
            o->window = parse_int(optarg);
            break;
        case 'r':
            o->verify_rounds = parse_int(optarg);
            break;
        case 'S':
            o->stage = 1;
            break;
        case 'F':
            o->force = 1;
            break;
        case 'I':
            o->in_place = 1;
            break;
        case 'A':
            o->accel = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(HLMPI_EXIT_USAGE);
        }
    }
    for (i = optind; i < argc; ++i) {
        if (nplace == 2) {
            fprintf(stderr, "hlmpi: too many arguments\n");
            exit(HLMPI_EXIT_USAGE);
        }
        o->mem[nplace++] = parse_placement(argv[i]);
    }
    if (nplace == 1) {
        o->mem[1] = o->mem[0];
    }
    if (nplace > 0 && !o->device &&
        (o->mem[0] == HLMPI_MEM_DEVICE || o->mem[1] == HLMPI_MEM_DEVICE)) {
        fprintf(stderr, "hlmpi: D needs -d habana\n");
        exit(HLMPI_EXIT_USAGE);
    }
    if (o->min_size > o->max_size || o->window < 1 || o->iters < 1) {
        fprintf(stderr, "hlmpi: bad sizes, window or iterations\n");
        exit(HLMPI_EXIT_USAGE);
    }
    o->iters_large  = iters_set ? o->iters : (o->iters + 4) / 5;
    o->warmup_large = warmup_set ? o->warmup : (o->warmup + 4) / 5;
    return cmd;
}

int main(int argc, char **argv)
{
    int cmd, ret, code, dev;

    cmd           = parse_args(argc, argv);
    hlmpi_corrupt = getenv("HLMPI_TEST_CORRUPT") != NULL;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &hlmpi_opts.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &hlmpi_opts.nprocs);

    if (hlmpi_opts.device) {
        /* the device hlmem_alloc() uses: HLMEM_DEVICE (default 0), so that
         * ranks sharing a host can each take their own device's single
         * compute open (e.g. hlsim num_devices=2, test/vm/mpi-two-node.sh) */
        dev = (getenv("HLMEM_DEVICE") != NULL) ?
              atoi(getenv("HLMEM_DEVICE")) : 0;
        ret = hlmem_init(dev);
        if (ret != 0) {
            hlmpi_die(HLMPI_EXIT_FAIL,
                      "no Habana device %d (hlmem_init: %s); is the driver "
                      "loaded or the hl_double test double preloaded?",
                      dev, strerror(-ret));
        }
    }

    code = hlmpi_cmds[cmd].run();

    /* every rank returns the same code: take the largest */
    MPI_Allreduce(MPI_IN_PLACE, &code, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    free(hlmpi_scratch);
    MPI_Finalize();
    return code;
}
