/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * The two generations of the habanalabs uapi, as a small table each:
 *  - accel: Linux >= 6.3 and Intel's out-of-tree driver; /dev/accel/accelN,
 *           DRM-style ioctl numbers (6.6+, 'H' numbers on 6.3-6.5), export
 *           of a mapping by device address + offset;
 *  - misc:  Linux 5.16-6.2; /dev/hlN, 'H' ioctl numbers, export by handle.
 */
#ifndef UCT_HABANA_ABI_H_
#define UCT_HABANA_ABI_H_

#include <src/common/habana_uapi.h>
#include <ucs/config/types.h>
#include <ucs/type/status.h>
#include <stddef.h>
#include <stdint.h>

/* The generations' tables live in libhabana_common (habana_uapi.h) */
typedef habana_uapi_gen_t uct_habana_abi_t;

/* Device properties read through HL_INFO_HW_IP_INFO */
typedef struct uct_habana_hw_info {
    uint32_t device_id;
    uint64_t dram_base;
    uint64_t dram_size;
    uint64_t dram_page_size;
} uct_habana_hw_info_t;

/* What an export needs to name one mapping */
typedef struct uct_habana_mapping {
    uint64_t va;       /* device VA returned by HL_MEM_OP_MAP */
    size_t   size;     /* mapping length */
    uint64_t handle;   /* allocation handle, UCT_HABANA_HANDLE_UNKNOWN */
} uct_habana_mapping_t;

#define UCT_HABANA_HANDLE_UNKNOWN UINT64_MAX

ucs_status_t uct_habana_abi_hw_info(const uct_habana_abi_t *abi, int fd,
                                    int *legacy_numbers_p,
                                    uct_habana_hw_info_t *info);

/* Device memory the context of @fd holds (HL_INFO_DRAM_USAGE) */
ucs_status_t uct_habana_abi_ctx_dram(const uct_habana_abi_t *abi, int fd,
                                     int legacy_numbers, uint64_t *bytes_p);

ucs_status_t uct_habana_abi_export(const uct_habana_abi_t *abi, int fd,
                                   int legacy_numbers,
                                   const uct_habana_mapping_t *mapping,
                                   size_t offset, size_t length,
                                   ucs_log_level_t level, int *dmabuf_fd_p);

/* Allocate @length bytes of device memory (a multiple of the DRAM page
 * size) and map them; frees the handle again if the mapping fails */
ucs_status_t uct_habana_abi_alloc(const uct_habana_abi_t *abi, int fd,
                                  int legacy_numbers, size_t length,
                                  uct_habana_mapping_t *mapping);

/* Unmap and free memory from uct_habana_abi_alloc() */
ucs_status_t uct_habana_abi_free(const uct_habana_abi_t *abi, int fd,
                                 int legacy_numbers,
                                 const uct_habana_mapping_t *mapping);

#endif
