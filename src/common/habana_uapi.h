/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * The habanalabs uapi facts every part of the project uses, in one place
 * (internal, never installed): the device VA range, the ioctl numbers of
 * both generations, the node and sysfs paths.  The structures come from
 * <drm/habanalabs_accel.h>.
 */
#ifndef HABANA_UAPI_H_
#define HABANA_UAPI_H_

#include <drm/habanalabs_accel.h>
#include <sys/ioctl.h>

/*
 * Device virtual addresses of Gaudi2 and later: non-canonical on x86-64,
 * so they never alias host memory (Gaudi1's physical addresses did; it is
 * not supported)
 */
#define HABANA_VA_START          0x1001000000000000ull
#define HABANA_VA_END            0x2000000000000000ull

/* Linux 5.16-6.5: the 'H' ioctl numbers (misc nodes, and accel on 6.3-6.5) */
#define HABANA_LEGACY_INFO       _IOWR('H', 0x01, struct hl_info_args)
#define HABANA_LEGACY_CS         _IOWR('H', 0x03, union hl_cs_args)
#define HABANA_LEGACY_WAIT_CS    _IOWR('H', 0x04, union hl_wait_cs_args)
#define HABANA_LEGACY_MEMORY     _IOWR('H', 0x05, union hl_mem_args)

/* Linux >= 6.3: DRM accel nodes */
#define HABANA_ACCEL_COMPUTE_FMT "/dev/accel/accel%d"
#define HABANA_ACCEL_CONTROL_FMT "/dev/accel/accel_controlD%d"
#define HABANA_ACCEL_SYSFS_FMT   "/sys/class/accel/accel%d/device"

/* Linux 5.16-6.2: misc nodes */
#define HABANA_MISC_COMPUTE_FMT  "/dev/hl%d"
#define HABANA_MISC_CONTROL_FMT  "/dev/hl_controlD%d"
#define HABANA_MISC_SYSFS_FMT    "/sys/class/habanalabs/hl%d/device"

#define HABANA_MAX_DEVICES       16

/* One generation of the uapi: its nodes and ioctl numbers */
typedef struct habana_uapi_gen {
    const char    *name;
    const char    *compute_fmt;     /* compute node, %d = device index */
    const char    *control_fmt;     /* control node (INFO only) */
    const char    *sysfs_fmt;       /* class device directory */
    unsigned long info_cmd;
    unsigned long memory_cmd;
    unsigned long cs_cmd;           /* command submission */
    unsigned long wait_cs_cmd;
    unsigned long legacy_info_cmd;  /* 'H' numbers on the same node, or 0 */
    int           export_by_handle; /* {handle, mem_size}, else {addr, ...} */
    int           check_driver;     /* node names shared with other drivers */
} habana_uapi_gen_t;

/* libhabana_common: accel (Linux >= 6.3), misc (5.16-6.2) */
extern const habana_uapi_gen_t habana_uapi_accel;
extern const habana_uapi_gen_t habana_uapi_misc;
/* both, newest first, NULL-terminated */
extern const habana_uapi_gen_t *const habana_uapi_gens[];

static inline int habana_va_in_range(unsigned long long va)
{
    return (va >= HABANA_VA_START) && (va < HABANA_VA_END);
}

#endif
