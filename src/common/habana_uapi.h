/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * The habanalabs uapi facts every part of the project uses, in one place
 * (internal, never installed): the device VA range, the ioctl numbers of
 * both generations, the node and sysfs paths, and the Gaudi2 command
 * buffer format (packets, queues, the host VA range).  The structures come
 * from <drm/habanalabs_accel.h>.  hlsim (kernel/) has its own copy of the
 * Gaudi2 facts: it checks this one.
 */
#ifndef HABANA_UAPI_H_
#define HABANA_UAPI_H_

#include <drm/habanalabs_accel.h>
#include <stdint.h>
#include <sys/ioctl.h>

/*
 * Device virtual addresses of Gaudi2 and later: non-canonical on x86-64,
 * so they never alias host memory (Gaudi1's physical addresses did; it is
 * not supported)
 */
#define HABANA_VA_START          0x1001000000000000ull
#define HABANA_VA_END            0x2000000000000000ull

/* Host memory mapped for the device (HL_MEM_USERPTR): Gaudi2's PMMU range
 * (VA_HOST_SPACE_PAGE_START .. _END) */
#define HABANA_HOST_VA_START     0xFFF0000000000000ull
#define HABANA_HOST_VA_END       0xFFF0800000000000ull

/* Gaudi2 queues a user command buffer may go to (gaudi2.c) */
#define HABANA_QUEUE_PDMA_0_0    0   /* host -> device */
#define HABANA_QUEUE_PDMA_1_0    4   /* device -> host */
#define HABANA_QUEUE_EDMA_0_0    8   /* device <-> device, dcore 0 */

/* Gaudi2 packets (gaudi2_packets.h): the opcode in ctl bits 24-28, the
 * engine, register and message barriers in 29-31 */
#define HABANA_PKT_OPCODE_SHIFT  24
#define HABANA_PKT_OPCODE(ctl)   (((ctl) >> HABANA_PKT_OPCODE_SHIFT) & 0x1fu)
#define HABANA_PKT_CTL(op)       ((uint32_t)(op) << HABANA_PKT_OPCODE_SHIFT)
#define HABANA_PKT_LIN_DMA       0x9u
#define HABANA_PKT_NOP           0xAu
#define HABANA_PKT_WRCOMP        (1u << 0)    /* LIN_DMA: write completion */
#define HABANA_PKT_MEMSET        (1u << 4)    /* LIN_DMA: src is the value */
#define HABANA_PKT_EB            (1u << 29)
#define HABANA_PKT_RB            (1u << 30)
#define HABANA_PKT_MB            (1u << 31)

struct habana_pkt_lin_dma {
    uint32_t tsize;
    uint32_t ctl;
    uint64_t src;
    uint64_t dst;
};

struct habana_pkt_nop {
    uint32_t reserved;
    uint32_t ctl;
};

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
