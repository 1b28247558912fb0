/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * dma_bench: host<->device copy figures of the project's DMA engine
 * (src/common/habana_dma.c: USERPTR + LIN_DMA command submission, as on a
 * Gaudi2), side by side with hlsim's private DMA-copy ioctl (the path the
 * transport used before; never used by product code) and with memcpy()
 * between host buffers, in one run:
 *   - bandwidth H2D and D2H at 4 KiB, 64 KiB, 1 MiB and 16 MiB, and the
 *     engine/ioctl and engine/memcpy ratios;
 *   - the cost of one 8-byte copy (launch + completion), in microseconds;
 *   - a copy whose host pages the engine has mapped, with that mapping
 *     alone in its cache and with the cache full (it is the newest of
 *     them): what finding it costs.
 * Every copy's data is checked once.  Accel uapi only.
 *
 *   dma_bench [DEVICE [SECONDS_PER_FIGURE]]    default /dev/accel/accel0, 0.3
 */
#include <src/common/habana_dma.h>
#include <kernel/include/uapi/hlsim.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_SIZE (16ul << 20)

typedef int (*bench_copy_fn)(void *dst, const void *src, size_t size,
                             habana_dma_dir_t dir);

static int bench_fd;
static habana_dma_t *bench_dma;
static double bench_seconds = 0.3;

static double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int bench_engine(void *dst, const void *src, size_t size,
                        habana_dma_dir_t dir)
{
    return habana_dma_copy(bench_dma, dst, src, size, dir);
}

static int bench_ioctl(void *dst, const void *src, size_t size,
                       habana_dma_dir_t dir)
{
    struct hlsim_dma_copy args = {
        .dst  = (uintptr_t)dst,
        .src  = (uintptr_t)src,
        .size = size,
        .dir  = (dir == HABANA_DMA_H2D) ? HLSIM_COPY_HOST_TO_DEVICE :
                                          HLSIM_COPY_DEVICE_TO_HOST
    };

    return ioctl(bench_fd, HLSIM_IOCTL_DMA_COPY, &args) ? -errno : 0;
}

static int bench_memcpy(void *dst, const void *src, size_t size,
                        habana_dma_dir_t dir)
{
    memcpy(dst, src, size);
    return 0;
}

/* Seconds per copy, the best of a few rounds of bench_seconds */
static double bench_time(bench_copy_fn fn, void *dst, const void *src,
                         size_t size, habana_dma_dir_t dir)
{
    double best = 1e9, start, elapsed;
    unsigned round, n, iters;

    for (round = 0; round < 3; ++round) {
        iters = 0;
        start = bench_now();
        do {
            for (n = 0; n < 8; ++n, ++iters) {
                if (fn(dst, src, size, dir) != 0) {
                    fprintf(stderr, "dma_bench: copy of %zu failed: %s\n",
                            size, habana_dma_error(bench_dma));
                    exit(1);
                }
            }
            elapsed = bench_now() - start;
        } while (elapsed < bench_seconds / 3);
        if (elapsed / iters < best) {
            best = elapsed / iters;
        }
    }
    return best;
}

static void *bench_dev_alloc(size_t size)
{
    union hl_mem_args args;

    memset(&args, 0, sizeof(args));
    args.in.op             = HL_MEM_OP_ALLOC;
    args.in.alloc.mem_size = size;
    if (ioctl(bench_fd, DRM_IOCTL_HL_MEMORY, &args) != 0) {
        return NULL;
    }

    args.in.op                = HL_MEM_OP_MAP;
    args.in.map_device.handle = args.out.handle;
    if (ioctl(bench_fd, DRM_IOCTL_HL_MEMORY, &args) != 0) {
        return NULL;
    }
    return (void*)(uintptr_t)args.out.device_virt_addr;
}

/* Both paths must move the right bytes */
static int bench_verify(char *dev, char *in, char *out)
{
    static const bench_copy_fn fns[] = {bench_engine, bench_ioctl};
    size_t size = 3 * 65536 + 123;
    unsigned i, j;

    for (i = 0; i < 2; ++i) {
        for (j = 0; j < size; ++j) {
            in[j] = (char)(j * 7 + i);
        }
        memset(out, 0, size);
        if (fns[i](dev, in, size, HABANA_DMA_H2D) ||
            fns[1 - i](out, dev, size, HABANA_DMA_D2H) ||
            memcmp(in, out, size)) {
            fprintf(stderr, "dma_bench: data mismatch (%s wrote)\n",
                    i ? "ioctl" : "engine");
            return -1;
        }
    }
    return 0;
}

static void bench_bandwidth(char *dev, char *host, char *host2)
{
    static const size_t sizes[] = {4096, 65536, 1 << 20, 16 << 20};
    static const char *dirs[]   = {"H2D", "D2H"};
    double engine, ioctl_s, mem;
    unsigned i, d;

    printf("dma_bench: %-4s %9s %12s %12s %12s %10s %10s\n", "dir", "size",
           "engine MB/s", "ioctl MB/s", "memcpy MB/s", "eng/ioctl",
           "eng/memcpy");
    for (d = 0; d < 2; ++d) {
        for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
            void *dst       = d ? (void*)host : (void*)dev;
            const void *src = d ? (void*)dev : (void*)host;

            engine  = bench_time(bench_engine, dst, src, sizes[i], d);
            ioctl_s = bench_time(bench_ioctl, dst, src, sizes[i], d);
            mem     = bench_time(bench_memcpy, host2, host, sizes[i], d);
            printf("dma_bench: %-4s %9zu %12.0f %12.0f %12.0f %10.2f "
                   "%10.2f\n", dirs[d], sizes[i], sizes[i] / engine / 1e6,
                   sizes[i] / ioctl_s / 1e6, sizes[i] / mem / 1e6,
                   ioctl_s / engine, mem / engine);
        }
    }
}

/* Seconds per copy of @host, newest in a fresh engine's cache of @others
 * and itself */
static double bench_cached_copy(const habana_dma_params_t *params, char *dev,
                                char *pool, size_t size, unsigned others,
                                char *host)
{
    habana_dma_t *engine = bench_dma;
    double seconds;
    char why[512];
    unsigned i;

    if (habana_dma_open(params, &bench_dma, why, sizeof(why)) != 0) {
        fprintf(stderr, "dma_bench: no DMA engine: %s\n", why);
        exit(2);
    }
    for (i = 0; i < others; ++i) {
        bench_engine(dev, pool + i * size, size, HABANA_DMA_H2D);
    }
    seconds = bench_time(bench_engine, dev, host, size, HABANA_DMA_H2D);
    habana_dma_close(bench_dma);
    bench_dma = engine;
    return seconds;
}

static void bench_cache_lookup(const habana_dma_params_t *params, char *dev)
{
    const size_t size = 68 * 1024; /* above what the engine bounces */
    habana_dma_usage_t usage;
    double alone, full;
    unsigned others;
    char *pool;

    habana_dma_usage(bench_dma, &usage);
    others = usage.capacity - 1;
    pool   = aligned_alloc(4096, (others + 1) * size);
    if (pool == NULL) {
        fprintf(stderr, "dma_bench: out of memory\n");
        exit(2);
    }
    memset(pool, 1, (others + 1) * size);
    alone = bench_cached_copy(params, dev, pool, size, 0,
                              pool + others * size);
    full  = bench_cached_copy(params, dev, pool, size, others,
                              pool + others * size);
    printf("dma_bench: cached %zu-byte H2D copy: %.2f us with 1 mapping "
           "cached, %.2f us with %u (full/one %.2f)\n", size, alone * 1e6,
           full * 1e6, others + 1, full / alone);
    free(pool);
}

int main(int argc, char **argv)
{
    const char *path = (argc > 1) ? argv[1] : "/dev/accel/accel0";
    habana_dma_params_t params = {
        .gen        = &habana_uapi_accel,
        .cache_host = 1,
        .backend    = "cs"
    };
    char *dev, *host, *host2, why[512];
    double engine, ioctl_s;

    if (argc > 2) {
        bench_seconds = atof(argv[2]);
    }

    bench_fd = open(path, O_RDWR | O_CLOEXEC);
    if (bench_fd < 0) {
        fprintf(stderr, "dma_bench: open(%s): %m\n", path);
        return 2;
    }

    params.fd = bench_fd;
    if (habana_dma_open(&params, &bench_dma, why, sizeof(why)) != 0) {
        fprintf(stderr, "dma_bench: no DMA engine: %s\n", why);
        return 2;
    }

    dev   = bench_dev_alloc(BENCH_MAX_SIZE);
    host  = aligned_alloc(4096, BENCH_MAX_SIZE);
    host2 = aligned_alloc(4096, BENCH_MAX_SIZE);
    if ((dev == NULL) || (host == NULL) || (host2 == NULL)) {
        fprintf(stderr, "dma_bench: out of memory\n");
        return 2;
    }
    memset(host2, 0, BENCH_MAX_SIZE);
    if (bench_verify(dev, host, host2) != 0) {
        return 1;
    }

    printf("dma_bench: %s, backend %s\n", path,
           habana_dma_backend_name(bench_dma));
    bench_bandwidth(dev, host, host2);
    engine  = bench_time(bench_engine, dev, host, 8, HABANA_DMA_H2D);
    ioctl_s = bench_time(bench_ioctl, dev, host, 8, HABANA_DMA_H2D);
    printf("dma_bench: 8-byte H2D copy: engine %.2f us (CS + WAIT_CS), "
           "ioctl %.2f us\n", engine * 1e6, ioctl_s * 1e6);
    bench_cache_lookup(&params, dev);
    habana_dma_close(bench_dma);
    return 0;
}
