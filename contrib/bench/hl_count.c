/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * hl_count: an LD_PRELOAD library for the benchmark (contrib/bench/run.sh),
 * placed before the hl_double test double.  It counts the bytes that the
 * hlsim DMA-copy ioctl moves, by direction (what UCX stages between host
 * and device memory), and at exit appends one line to $HL_COUNT_OUT:
 *
 *   pid=<pid> exports=<n> h2d=<bytes> d2h=<bytes> d2d=<bytes> copies=<n>
 *
 * exports is the double's hl_double_export_count() (dma-buf exports).
 * The process is not otherwise changed: every ioctl goes on to the next
 * definition (the double's, or libc's).
 */
#include <kernel/include/uapi/hlsim.h>

#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

typedef int (*hl_count_ioctl_func_t)(int fd, unsigned long request, ...);

static hl_count_ioctl_func_t hl_count_next_ioctl;
static unsigned long hl_count_bytes[3];
static unsigned long hl_count_copies;

__attribute__((visibility("default")))
int ioctl(int fd, unsigned long request, ...)
{
    struct hlsim_dma_copy *copy;
    va_list ap;
    void *arg;
    int ret;

    va_start(ap, request);
    arg = va_arg(ap, void*);
    va_end(ap);

    if (hl_count_next_ioctl == NULL) {
        hl_count_next_ioctl = (hl_count_ioctl_func_t)dlsym(RTLD_NEXT, "ioctl");
        if (hl_count_next_ioctl == NULL) {
            fprintf(stderr, "hl_count: dlsym(RTLD_NEXT, ioctl) failed\n");
            abort();
        }
    }

    ret = hl_count_next_ioctl(fd, request, arg);
    if ((ret == 0) && ((request == HLSIM_IOCTL_DMA_COPY) ||
                       (request == HLSIM_IOCTL_DMA_COPY_LEGACY))) {
        copy = arg;
        if (copy->dir <= HLSIM_COPY_DEVICE_TO_DEVICE) {
            __atomic_fetch_add(&hl_count_bytes[copy->dir], copy->size,
                               __ATOMIC_RELAXED);
            __atomic_fetch_add(&hl_count_copies, 1, __ATOMIC_RELAXED);
        }
    }

    return ret;
}

static void __attribute__((destructor)) hl_count_report(void)
{
    unsigned long (*export_count)(void);
    const char *path = getenv("HL_COUNT_OUT");
    unsigned long exports;
    FILE *out;

    if (path == NULL) {
        return;
    }

    export_count = (unsigned long (*)(void))dlsym(RTLD_DEFAULT,
                                                  "hl_double_export_count");
    exports      = (export_count != NULL) ? export_count() : 0;
    out          = fopen(path, "a");
    if (out == NULL) {
        return;
    }

    fprintf(out, "pid=%d exports=%lu h2d=%lu d2h=%lu d2d=%lu copies=%lu\n",
            (int)getpid(), exports,
            hl_count_bytes[HLSIM_COPY_HOST_TO_DEVICE],
            hl_count_bytes[HLSIM_COPY_DEVICE_TO_HOST],
            hl_count_bytes[HLSIM_COPY_DEVICE_TO_DEVICE], hl_count_copies);
    fclose(out);
}
