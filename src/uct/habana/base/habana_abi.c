/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_abi.h"

#include <src/common/habana_uapi.h>

#include <ucs/debug/log_def.h>
#include <ucs/sys/math.h>
#include <drm/habanalabs_accel.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/*
 * The misc generation uses the same structures for every field read or
 * written here (same sizes, same offsets); only the ioctl numbers differ.
 */
#define UCT_HABANA_LEGACY_INFO   HABANA_LEGACY_INFO
#define UCT_HABANA_LEGACY_MEMORY HABANA_LEGACY_MEMORY

/*
 * EAGAIN: the driver is momentarily out of a resource.  Retried with a
 * pause doubling from 1 us to 1 ms, at most this many times (about 10 ms
 * in all), then returned to the caller (UCS_ERR_BUSY).
 */
#define UCT_HABANA_ABI_EAGAIN_RETRIES     16
#define UCT_HABANA_ABI_EAGAIN_MAX_PAUSE   1000 /* usec */

/* ioctl() retried on EINTR and, a bounded number of times, on EAGAIN;
 * errno is the last call's on failure */
static int uct_habana_abi_ioctl(int fd, unsigned long cmd, void *arg)
{
    unsigned retries = 0;
    unsigned pause   = 1;
    int ret, err;

    for (;;) {
        ret = ioctl(fd, cmd, arg);
        if (ret >= 0) {
            return ret;
        }

        err = errno;
        if (err == EINTR) {
            continue;
        }

        if ((err != EAGAIN) || (retries++ == UCT_HABANA_ABI_EAGAIN_RETRIES)) {
            break;
        }

        usleep(pause);
        pause = ucs_min(pause * 2, UCT_HABANA_ABI_EAGAIN_MAX_PAUSE);
    }

    if (err == EAGAIN) {
        ucs_debug("habana: ioctl 0x%lx still EAGAIN after %u retries", cmd,
                  UCT_HABANA_ABI_EAGAIN_RETRIES);
    }

    errno = err;
    return ret;
}

static int uct_habana_abi_query_hw_ip(int fd, unsigned long cmd,
                                      struct hl_info_hw_ip_info *hw_ip)
{
    struct hl_info_args args;

    memset(&args, 0, sizeof(args));
    memset(hw_ip, 0, sizeof(*hw_ip));
    args.op             = HL_INFO_HW_IP_INFO;
    args.return_pointer = (uintptr_t)hw_ip;
    args.return_size    = sizeof(*hw_ip);
    return uct_habana_abi_ioctl(fd, cmd, &args);
}

ucs_status_t uct_habana_abi_hw_info(const uct_habana_abi_t *abi, int fd,
                                    int *legacy_numbers_p,
                                    uct_habana_hw_info_t *info)
{
    struct hl_info_hw_ip_info hw_ip;
    int ret;

    *legacy_numbers_p = 0;
    ret = uct_habana_abi_query_hw_ip(fd, abi->info_cmd, &hw_ip);
    if ((ret < 0) && (errno == ENOTTY) && (abi->legacy_info_cmd != 0)) {
        /* Linux 6.3-6.5: accel node, but the old 'H' ioctl numbers */
        ret = uct_habana_abi_query_hw_ip(fd, abi->legacy_info_cmd, &hw_ip);
        *legacy_numbers_p = (ret == 0);
    }
    if (ret < 0) {
        ucs_debug("habana: HL_INFO_HW_IP_INFO (%s uapi) failed: %s",
                  abi->name, strerror(errno));
        return UCS_ERR_NO_DEVICE;
    }

    info->device_id      = hw_ip.device_id;
    info->dram_base      = hw_ip.dram_base_address;
    info->dram_size      = hw_ip.dram_size;
    info->dram_page_size = hw_ip.dram_page_size;
    return UCS_OK;
}

ucs_status_t uct_habana_abi_ctx_dram(const uct_habana_abi_t *abi, int fd,
                                     int legacy_numbers, uint64_t *bytes_p)
{
    struct hl_info_dram_usage usage;
    struct hl_info_args args;

    memset(&args, 0, sizeof(args));
    memset(&usage, 0, sizeof(usage));
    args.op             = HL_INFO_DRAM_USAGE;
    args.return_pointer = (uintptr_t)&usage;
    args.return_size    = sizeof(usage);
    if (uct_habana_abi_ioctl(fd, legacy_numbers ? UCT_HABANA_LEGACY_INFO :
                                                  abi->info_cmd, &args) < 0) {
        ucs_debug("habana: HL_INFO_DRAM_USAGE failed: %s", strerror(errno));
        return UCS_ERR_IO_ERROR;
    }

    *bytes_p = usage.ctx_dram_mem;
    return UCS_OK;
}

static unsigned long uct_habana_abi_memory_cmd(const uct_habana_abi_t *abi,
                                               int legacy_numbers)
{
    return legacy_numbers ? UCT_HABANA_LEGACY_MEMORY : abi->memory_cmd;
}

static ucs_status_t uct_habana_abi_export_error(const uct_habana_abi_t *abi,
                                                uint64_t va, int err,
                                                ucs_log_level_t level)
{
    switch (err) {
    case ENOTTY:
    case ENOSYS:
        ucs_log(level, "habana: the driver has no dma-buf export "
                  "(HL_MEM_OP_EXPORT_DMABUF_FD needs Linux >= 5.16 or the "
                  "habanalabs out-of-tree driver)");
        return UCS_ERR_UNSUPPORTED;
    case EOPNOTSUPP:
    case EPERM:
    case EREMOTEIO:
        ucs_log(level, "habana: the driver refused to export 0x%" PRIx64 " as "
                  "dma-buf (%s): PCIe peer-to-peer is not available; check "
                  "ACS/IOMMU settings (e.g. iommu=pt) and that the NIC and "
                  "the device share a PCIe switch", va, strerror(err));
        return UCS_ERR_UNSUPPORTED;
    case EINVAL:
    case EFAULT:
    case ENOENT:
        ucs_log(level, "habana: HL_MEM_OP_EXPORT_DMABUF_FD (%s uapi) rejected "
                  "0x%" PRIx64 ": %s (not a live device mapping, or the "
                  "driver has no dma-buf export)", abi->name, va,
                  strerror(err));
        return UCS_ERR_INVALID_ADDR;
    case EBUSY:
    case EAGAIN:
        return UCS_ERR_BUSY;
    case ENOMEM:
    case EMFILE:
    case ENFILE:
        ucs_log(level, "habana: dma-buf export of 0x%" PRIx64 " failed: %s", va,
                  strerror(err));
        return UCS_ERR_NO_MEMORY;
    default:
        ucs_log(level, "habana: dma-buf export of 0x%" PRIx64 " failed: %s", va,
                  strerror(err));
        return UCS_ERR_IO_ERROR;
    }
}

ucs_status_t uct_habana_abi_export(const uct_habana_abi_t *abi, int fd,
                                   int legacy_numbers,
                                   const uct_habana_mapping_t *mapping,
                                   size_t offset, size_t length,
                                   ucs_log_level_t level, int *dmabuf_fd_p)
{
    union hl_mem_args args;

    memset(&args, 0, sizeof(args));
    args.in.op    = HL_MEM_OP_EXPORT_DMABUF_FD;
    args.in.flags = O_RDWR | O_CLOEXEC;
    if (abi->export_by_handle) {
        if (mapping->handle == UCT_HABANA_HANDLE_UNKNOWN) {
            ucs_log(level, "habana: cannot export 0x%" PRIx64 " with the %s uapi: "
                      "its allocation handle is unknown (allocated before "
                      "libucm_habana was loaded?)", mapping->va, abi->name);
            return UCS_ERR_UNSUPPORTED;
        }
        /* The old uapi names the allocation by handle, in the field the
         * new one calls addr, and has no offset: the dma-buf covers the
         * whole allocation */
        args.in.export_dmabuf_fd.addr     = mapping->handle;
        args.in.export_dmabuf_fd.mem_size = mapping->size;
    } else {
        args.in.export_dmabuf_fd.addr     = mapping->va;
        args.in.export_dmabuf_fd.mem_size = length;
        args.in.export_dmabuf_fd.offset   = offset;
    }

    if (uct_habana_abi_ioctl(fd, uct_habana_abi_memory_cmd(abi, legacy_numbers),
                             &args) < 0) {
        return uct_habana_abi_export_error(abi, mapping->va, errno, level);
    }

    *dmabuf_fd_p = args.out.fd;
    ucs_debug("habana: exported va 0x%" PRIx64 " len %zu as dma-buf fd %d",
              mapping->va, mapping->size, *dmabuf_fd_p);
    return UCS_OK;
}

static ucs_status_t uct_habana_abi_mem_status(int err)
{
    switch (err) {
    case ENOMEM:
        return UCS_ERR_NO_MEMORY;
    case EAGAIN:
    case EBUSY:
        return UCS_ERR_BUSY;
    default:
        return UCS_ERR_IO_ERROR;
    }
}

ucs_status_t uct_habana_abi_alloc(const uct_habana_abi_t *abi, int fd,
                                  int legacy_numbers, size_t length,
                                  uct_habana_mapping_t *mapping)
{
    unsigned long cmd = uct_habana_abi_memory_cmd(abi, legacy_numbers);
    union hl_mem_args args;
    ucs_status_t status;
    uint64_t handle;
    int err;

    memset(&args, 0, sizeof(args));
    args.in.op             = HL_MEM_OP_ALLOC;
    args.in.alloc.mem_size = length;
    if (uct_habana_abi_ioctl(fd, cmd, &args) < 0) {
        err = errno; /* logging may change errno */
        ucs_error("habana: HL_MEM_OP_ALLOC of %zu bytes (%s uapi) failed: %s",
                  length, abi->name, strerror(err));
        return uct_habana_abi_mem_status(err);
    }

    handle = args.out.handle;
    memset(&args, 0, sizeof(args));
    args.in.op                = HL_MEM_OP_MAP;
    args.in.map_device.handle = handle;
    if (uct_habana_abi_ioctl(fd, cmd, &args) < 0) {
        err    = errno;
        status = uct_habana_abi_mem_status(err);
        ucs_error("habana: HL_MEM_OP_MAP of handle %" PRIu64 " (%s uapi) "
                  "failed: %s", handle, abi->name, strerror(err));
        memset(&args, 0, sizeof(args));
        args.in.op          = HL_MEM_OP_FREE;
        args.in.free.handle = handle;
        uct_habana_abi_ioctl(fd, cmd, &args);
        return status;
    }

    mapping->va     = args.out.device_virt_addr;
    mapping->size   = length;
    mapping->handle = handle;
    return UCS_OK;
}

ucs_status_t uct_habana_abi_free(const uct_habana_abi_t *abi, int fd,
                                 int legacy_numbers,
                                 const uct_habana_mapping_t *mapping)
{
    unsigned long cmd = uct_habana_abi_memory_cmd(abi, legacy_numbers);
    union hl_mem_args args;

    memset(&args, 0, sizeof(args));
    args.in.op                     = HL_MEM_OP_UNMAP;
    args.in.unmap.device_virt_addr = mapping->va;
    if (uct_habana_abi_ioctl(fd, cmd, &args) < 0) {
        ucs_error("habana: HL_MEM_OP_UNMAP of 0x%" PRIx64 " (%s uapi) "
                  "failed: %s", mapping->va, abi->name, strerror(errno));
        return UCS_ERR_IO_ERROR;
    }

    memset(&args, 0, sizeof(args));
    args.in.op          = HL_MEM_OP_FREE;
    args.in.free.handle = mapping->handle;
    if (uct_habana_abi_ioctl(fd, cmd, &args) < 0) {
        ucs_error("habana: HL_MEM_OP_FREE of handle %" PRIu64 " (%s uapi) "
                  "failed: %s", mapping->handle, abi->name, strerror(errno));
        return UCS_ERR_IO_ERROR;
    }

    return UCS_OK;
}
