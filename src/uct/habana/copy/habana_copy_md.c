/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_copy_md.h"

#include <src/uct/habana/base/habana_nearest.h>
#include <src/uct/habana/base/habana_mem.h>
#include <src/uct/habana/base/habana_stats.h>
#include <ucs/memory/memtype_cache.h>
#include <ucs/sys/math.h>
#include <ucs/sys/string.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ucs_config_field_t uct_habana_md_config_table[] = {
    {"", "", NULL, ucs_offsetof(uct_habana_md_config_t, super),
     UCS_CONFIG_TYPE_TABLE(uct_md_config_table)},

    {"DMABUF", "try",
     "Zero copy of Habana device memory: export it as dma-buf, so that NICs\n"
     "register it (ibv_reg_dmabuf_mr) and move it without host copies.\n"
     " try - zero copy when the device exports and every RDMA device UCX may\n"
     "       use (active port, allowed by UCX_NET_DEVICES) imported a probe\n"
     "       dma-buf of it; otherwise device buffers are staged through host\n"
     "       memory, with one line saying why\n"
     " yes - always offer device memory to the NICs: where zero copy is\n"
     "       impossible, registrations and transfers fail with an error\n"
     " no  - never export; device buffers are always staged",
     ucs_offsetof(uct_habana_md_config_t, dmabuf), UCS_CONFIG_TYPE_TERNARY},

    {"DMA_BACKEND", "auto",
     "How host<->device copies (staging) reach the device's DMA engines:\n"
     " cs      - the habanalabs uapi: pinned host memory (HL_MEM_USERPTR)\n"
     "           and LIN_DMA command buffers (HL_IOCTL_CS); Gaudi2\n"
     " synapse - SynapseAI (libSynapse.so, loaded at run time); for Gaudi3,\n"
     "           whose driver has no user-submittable queue\n"
     " auto    - cs if the device takes it, else synapse",
     ucs_offsetof(uct_habana_md_config_t, dma_backend),
     UCS_CONFIG_TYPE_STRING},

    {"SUMMARY", "n",
     "Print this process's zero-copy and staging counters when the memory\n"
     "domain closes (also in UCX's VFS, ucx_vfs: uct/component/habana/\n"
     "memory_domain/habana/stats)",
     ucs_offsetof(uct_habana_md_config_t, summary), UCS_CONFIG_TYPE_BOOL},

    {NULL}
};

static ucs_status_t uct_habana_md_query(uct_md_h tl_md, uct_md_attr_v2_t *attr)
{
    uct_habana_md_t *md   = ucs_derived_of(tl_md, uct_habana_md_t);
    uint64_t gaudi        = UCS_BIT(UCS_MEMORY_TYPE_GAUDI);
    uint64_t host         = UCS_BIT(UCS_MEMORY_TYPE_HOST);

    uct_md_base_md_query(attr);
    attr->flags            = UCT_MD_FLAG_REG | UCT_MD_FLAG_ALLOC;
    attr->alloc_mem_types  = gaudi;
    attr->max_alloc        = md->devs.dev[0].hw.dram_size;
    attr->reg_mem_types    = host | gaudi;
    attr->access_mem_types = host | gaudi;
    attr->detect_mem_types = gaudi;
    attr->dmabuf_mem_types = (md->dmabuf != UCS_NO) ? gaudi : 0;
    attr->max_reg          = SIZE_MAX;
    return UCS_OK;
}

static ucs_status_t
uct_habana_md_detect_memory_type(uct_md_h tl_md, const void *addr,
                                 size_t length, ucs_memory_type_t *mem_type_p)
{
    uct_habana_md_t *md = ucs_derived_of(tl_md, uct_habana_md_t);
    uct_habana_mem_info_t info;
    ucs_status_t status;

    status = uct_habana_mem_resolve(&md->devs, addr, length, &info);
    if (status != UCS_OK) {
        return status;
    }

    *mem_type_p = UCS_MEMORY_TYPE_GAUDI;
    return UCS_OK;
}

/* Zero copy is an optimisation: with "try", its absence is reported once
 * (the first failure at WARN, later ones at DEBUG) */
static int uct_habana_md_fallback_reported = 0;

static ucs_log_level_t uct_habana_md_export_log_level(uct_habana_md_t *md)
{
    if (md->dmabuf == UCS_YES) {
        return UCS_LOG_LEVEL_ERROR;
    }

    return uct_habana_md_fallback_reported ? UCS_LOG_LEVEL_DEBUG :
                                             UCS_LOG_LEVEL_WARN;
}

static ucs_status_t uct_habana_md_query_dmabuf(uct_habana_md_t *md,
                                               const void *addr,
                                               const uct_habana_mem_info_t *info,
                                               uct_md_mem_attr_v2_t *attr)
{
    ucs_status_t status;

    attr->dmabuf_fd = UCT_DMABUF_FD_INVALID;
    if (md->dmabuf == UCS_NO) {
        return UCS_OK;
    }

    /* Memory no tracker saw: the driver exports whole mappings, so it
     * refuses a pointer that starts none; that says nothing about zero
     * copy (no warning) */
    status = uct_habana_mem_export(info, info->tracked ?
                                   uct_habana_md_export_log_level(md) :
                                   UCS_LOG_LEVEL_DEBUG, &attr->dmabuf_fd);
    if (status == UCS_OK) {
        uct_habana_stat_add(UCT_HABANA_STAT_DMABUF_FDS, 1);
        return UCS_OK;
    }

    attr->dmabuf_fd = UCT_DMABUF_FD_INVALID;
    if (!info->tracked && (status == UCS_ERR_INVALID_ADDR)) {
        ucs_debug("habana: %p starts no device mapping: no dma-buf", addr);
        return UCS_OK;
    }

    if (md->dmabuf == UCS_YES) {
        return status;
    }

    if (!uct_habana_md_fallback_reported) {
        uct_habana_md_fallback_reported = 1;
        ucs_warn("habana: no zero copy for device memory at %p; device "
                 "buffers will be staged through host memory (further "
                 "failures are logged at debug level; UCX_HABANA_DMABUF=no "
                 "skips the export)", addr);
    }

    return UCS_OK;
}

/* One line per process says why device memory is staged although NICs
 * are there */
static int uct_habana_md_staging_reported = 0;

static void uct_habana_md_report_verdict(const uct_habana_md_t *md,
                                         const uct_habana_dev_t *dev,
                                         const uct_habana_md_zcopy_t *zc)
{
    const uct_habana_nic_verdict_t *v = &zc->verdict;

    if (uct_habana_nic_all_import(v)) {
        ucs_info("habana: zero copy for %s memory: every usable NIC (%s) "
                 "imports its dma-bufs", dev->name, v->nics);
        return;
    }

    if (md->dmabuf == UCS_YES) {
        ucs_error("habana: UCX_HABANA_DMABUF=yes, but %s cannot import "
                  "dma-bufs of %s (ibv_reg_dmabuf_mr: %s): registrations "
                  "of device memory will fail", v->failed_nic, dev->name,
                  strerror(v->failed_errno));
        return;
    }

    if (uct_habana_md_staging_reported++) {
        return;
    }

    ucs_warn("habana: %s memory is staged through host memory: %s cannot "
             "import its dma-bufs (ibv_reg_dmabuf_mr: %s); usable NICs: %s. "
             "Zero copy needs every NIC UCX uses to import: restrict "
             "UCX_NET_DEVICES to those that do, or set UCX_HABANA_DMABUF=no "
             "to skip the probe", dev->name, v->failed_nic,
             strerror(v->failed_errno), v->nics);
}

/* Export the buffer (cached for tracked memory) and hand the fd to
 * @probe_fd_p, or close it; returns 0 when the export failed */
static int uct_habana_md_export_ok(const uct_habana_mem_info_t *info,
                                   int *probe_fd_p)
{
    int fd;

    if (uct_habana_mem_export(info, UCS_LOG_LEVEL_DEBUG, &fd) != UCS_OK) {
        return 0;
    }

    if (probe_fd_p != NULL) {
        *probe_fd_p = fd;
    } else {
        close(fd);
    }
    return 1;
}

/* The first exported buffer of a device decides for the device */
static void uct_habana_md_zcopy_probe(uct_habana_md_t *md,
                                      const uct_habana_mem_info_t *info,
                                      uct_habana_md_zcopy_t *zc)
{
    size_t length = ucs_min(info->mapping.size,
                            uct_habana_mem_page_align(info->dev, 1));
    int fd;

    if (!uct_habana_md_export_ok(info, &fd)) {
        if (info->tracked) {
            /* A whole mapping that does not export: the driver cannot */
            zc->probed = 1;
            ucs_strncpy_zero(zc->verdict.failed_nic, "(no export)",
                             sizeof(zc->verdict.failed_nic));
            zc->verdict.failed_errno = EOPNOTSUPP;
            ucs_debug("habana: %s exports no dma-buf: device memory is "
                      "staged", info->dev->name);
        }
        return;
    }

    uct_habana_nic_probe(fd, length, info->mapping.va, &zc->verdict);
    close(fd);
    zc->probed = 1;
    uct_habana_md_report_verdict(md, info->dev, zc);
}

/*
 * UCX registers memory with NIC memory domains, and offers them as
 * rendezvous lanes, only if it is UCS_MEM_FLAG_REGISTRABLE; UCX's IB MD has
 * no fallback when that fails, so the flag is set only where zero copy
 * works (see UCX_HABANA_DMABUF).
 */
static uint8_t uct_habana_md_mem_flags(uct_habana_md_t *md,
                                       const uct_habana_mem_info_t *info)
{
    uct_habana_md_zcopy_t *zc = &md->zcopy[info->dev - md->devs.dev];
    int zcopy;

    if (md->dmabuf == UCS_NO) {
        return 0;
    }

    if (md->num_nics == 0) {
        return (md->dmabuf == UCS_YES) ? UCS_MEM_FLAG_REGISTRABLE : 0;
    }

    pthread_mutex_lock(&md->lock);
    if (!zc->probed) {
        uct_habana_md_zcopy_probe(md, info, zc);
    }
    zcopy = zc->probed && uct_habana_nic_all_import(&zc->verdict);
    pthread_mutex_unlock(&md->lock);

    if (md->dmabuf == UCS_YES) {
        return UCS_MEM_FLAG_REGISTRABLE;
    }

    if (!zcopy || !uct_habana_md_export_ok(info, NULL)) {
        uct_habana_stat_add(UCT_HABANA_STAT_STAGED_BUFFERS, 1);
        return 0;
    }

    uct_habana_stat_add(UCT_HABANA_STAT_REG_BUFFERS, 1);
    return UCS_MEM_FLAG_REGISTRABLE;
}

/*
 * UCP asks the memory-type cache first and queries the MDs only when the
 * cache lacks the system device and the flags, which the allocation event
 * cannot know: store them for the mapping, so the next operation on it
 * takes UCP's fast path.  Only tracked mappings: their free event removes
 * the entry again (memory no tracker saw has none).
 */
static void uct_habana_md_cache_mem_info(const uct_habana_mem_info_t *info,
                                         uint8_t mem_flags)
{
    if (!info->tracked || info->ambiguous) {
        return;
    }

    ucs_memtype_cache_update((void*)(uintptr_t)info->mapping.va,
                             info->tracked_size, UCS_MEMORY_TYPE_GAUDI,
                             info->dev->sys_dev, mem_flags);
}

static ucs_status_t uct_habana_md_mem_query(uct_md_h tl_md, const void *addr,
                                            size_t length,
                                            uct_md_mem_attr_v2_t *attr)
{
    uct_habana_md_t *md = ucs_derived_of(tl_md, uct_habana_md_t);
    uct_habana_mem_info_t info;
    ucs_status_t status;

    status = uct_habana_mem_resolve(&md->devs, addr, length, &info);
    if (status != UCS_OK) {
        return status;
    }

    if (attr->field_mask & UCT_MD_MEM_ATTR_V2_FIELD_MEM_TYPE) {
        attr->mem_type = UCS_MEMORY_TYPE_GAUDI;
    }
    if (attr->field_mask & UCT_MD_MEM_ATTR_V2_FIELD_SYS_DEV) {
        attr->sys_dev = info.ambiguous ? UCS_SYS_DEVICE_ID_UNKNOWN :
                        info.dev->sys_dev;
    }
    if (attr->field_mask & UCT_MD_MEM_ATTR_V2_FIELD_BASE_ADDRESS) {
        attr->base_address = (void*)(uintptr_t)info.mapping.va;
    }
    if (attr->field_mask & UCT_MD_MEM_ATTR_V2_FIELD_ALLOC_LENGTH) {
        attr->alloc_length = info.mapping.size;
    }
    if (attr->field_mask & UCT_MD_MEM_ATTR_V2_FIELD_MEM_FLAGS) {
        attr->mem_flags = info.ambiguous ? 0 :
                          uct_habana_md_mem_flags(md, &info);
        uct_habana_md_cache_mem_info(&info, attr->mem_flags);
    }
    if (attr->field_mask & UCT_MD_MEM_ATTR_V2_FIELD_DMABUF_OFFSET) {
        attr->dmabuf_offset = (uintptr_t)addr - info.mapping.va;
    }
    if (attr->field_mask & UCT_MD_MEM_ATTR_V2_FIELD_DMABUF_FD) {
        if (info.ambiguous) {
            attr->dmabuf_fd = UCT_DMABUF_FD_INVALID; /* which device's? */
            return UCS_OK;
        }
        return uct_habana_md_query_dmabuf(md, addr, &info, attr);
    }

    return UCS_OK;
}

/* Device memory that the MD allocated (UCP_MEM_MAP_ALLOCATE of GAUDI) */
typedef struct uct_habana_md_alloc {
    uct_habana_memh_t    super;
    uct_habana_dev_t     *dev;
    uct_habana_mapping_t mapping;
} uct_habana_md_alloc_t;

static ucs_status_t
uct_habana_md_mem_alloc(uct_md_h tl_md, size_t *length_p, void **address_p,
                        ucs_memory_type_t mem_type, ucs_sys_device_t sys_dev,
                        unsigned flags, const char *alloc_name,
                        uct_mem_h *memh_p)
{
    uct_habana_md_t *md = ucs_derived_of(tl_md, uct_habana_md_t);
    uct_habana_md_alloc_t *alloc;
    uct_habana_dev_t *dev;
    ucs_status_t status;
    size_t page_size, length;
    int fd;

    if ((mem_type != UCS_MEMORY_TYPE_GAUDI) ||
        (flags & UCT_MD_MEM_FLAG_FIXED)) {
        return UCS_ERR_UNSUPPORTED;
    }

    dev = uct_habana_dev_list_select(&md->devs, sys_dev);
    if (dev == NULL) {
        ucs_error("habana: no device can be opened for %s: every one is "
                  "busy or inaccessible", alloc_name);
        return UCS_ERR_BUSY;
    }

    status = uct_habana_dev_compute_fd(dev, &fd);
    if (status != UCS_OK) {
        return status;
    }

    alloc = calloc(1, sizeof(*alloc));
    if (alloc == NULL) {
        ucs_error("habana: failed to allocate a memory handle for %s",
                  alloc_name);
        return UCS_ERR_NO_MEMORY;
    }

    /* The driver rounds up to its page size (not always a power of 2) */
    page_size = (dev->hw.dram_page_size != 0) ? dev->hw.dram_page_size :
                                                4096;
    length    = ((ucs_max(*length_p, 1) + page_size - 1) / page_size) *
                page_size;
    status    = uct_habana_abi_alloc(dev->abi, fd, dev->legacy_numbers,
                                     length, &alloc->mapping);
    if (status != UCS_OK) {
        free(alloc);
        return status;
    }

    alloc->dev           = dev;
    alloc->super.address = (void*)(uintptr_t)alloc->mapping.va;
    alloc->super.length  = alloc->mapping.size;
    *length_p            = alloc->mapping.size;
    *address_p           = alloc->super.address;
    *memh_p              = alloc;
    ucs_debug("habana: allocated %zu bytes at %p on %s for %s", *length_p,
              *address_p, dev->name, alloc_name);
    return UCS_OK;
}

/* Nothing is mapped here: a copy maps what it needs (see uct_habana_memh) */
static ucs_status_t
uct_habana_md_mem_reg(uct_md_h tl_md, void *address, size_t length,
                      const uct_md_mem_reg_params_t *params, uct_mem_h *memh_p)
{
    uct_habana_memh_t *memh;

    memh = malloc(sizeof(*memh));
    if (memh == NULL) {
        ucs_error("habana: failed to allocate a memory handle for %p "
                  "(%zu bytes)", address, length);
        return UCS_ERR_NO_MEMORY;
    }

    memh->address = address;
    memh->length  = length;
    *memh_p       = memh;
    return UCS_OK;
}

static ucs_status_t
uct_habana_md_mem_dereg(uct_md_h tl_md,
                        const uct_md_mem_dereg_params_t *params)
{
    if (!(params->field_mask & UCT_MD_MEM_DEREG_FIELD_MEMH) ||
        (params->memh == NULL)) {
        return UCS_ERR_INVALID_PARAM;
    }

    if ((params->field_mask & UCT_MD_MEM_DEREG_FIELD_FLAGS) &&
        (params->flags & UCT_MD_MEM_DEREG_FLAG_INVALIDATE)) {
        return UCS_ERR_UNSUPPORTED;
    }

    free(params->memh);
    return UCS_OK;
}

static ucs_status_t uct_habana_md_mem_free(uct_md_h tl_md, uct_mem_h memh)
{
    uct_habana_md_alloc_t *alloc = memh;
    ucs_status_t status;
    int fd;

    /* The driver refuses to unmap memory with a live dma-buf */
    uct_habana_mem_forget((void*)(uintptr_t)alloc->mapping.va,
                          alloc->mapping.size);

    status = uct_habana_dev_compute_fd(alloc->dev, &fd);
    if (status == UCS_OK) {
        status = uct_habana_abi_free(alloc->dev->abi, fd,
                                     alloc->dev->legacy_numbers,
                                     &alloc->mapping);
    }

    free(alloc);
    return status;
}

/* Per device: the device memory this process still holds, and its copy
 * engine's host mappings and bounced copies */
static void uct_habana_md_format_devs(uct_habana_md_t *md,
                                      ucs_string_buffer_t *strb)
{
    uct_habana_dev_t *dev;
    uint64_t bytes;
    int fd;

    for (dev = md->devs.dev; dev < md->devs.dev + md->devs.count; ++dev) {
        if (uct_habana_dev_is_held(dev) &&
            (uct_habana_dev_compute_fd(dev, &fd) == UCS_OK) &&
            (uct_habana_abi_ctx_dram(dev->abi, fd, dev->legacy_numbers,
                                     &bytes) == UCS_OK)) {
            ucs_string_buffer_appendf(strb, " %s_ctx_dram_bytes=%" PRIu64,
                                      dev->name, bytes);
        }
        uct_habana_dev_dma_format(dev, strb);
    }
}

static void uct_habana_md_print_summary(uct_habana_md_t *md)
{
    ucs_string_buffer_t strb = UCS_STRING_BUFFER_INITIALIZER;

    uct_habana_stats_format(&strb);
    uct_habana_md_format_devs(md, &strb);
    fprintf(stderr, "habana: summary pid %d: %s\n", (int)getpid(),
            ucs_string_buffer_cstr(&strb));
    ucs_string_buffer_cleanup(&strb);
}

static void uct_habana_md_close(uct_md_h tl_md)
{
    uct_habana_md_t *md = ucs_derived_of(tl_md, uct_habana_md_t);

    /* UCX may have released NIC registrations by now */
    uct_habana_mem_deferred_flush();
    if (md->summary) {
        uct_habana_md_print_summary(md);
    }

    uct_habana_mem_cleanup();
    uct_habana_dev_list_cleanup(&md->devs);
    pthread_mutex_destroy(&md->lock);
    free(md);
}

static uct_md_ops_t uct_habana_md_ops = {
    .close              = uct_habana_md_close,
    .query              = uct_habana_md_query,
    .mem_alloc          = uct_habana_md_mem_alloc,
    .mem_free           = uct_habana_md_mem_free,
    .mem_advise         = (void*)ucs_empty_function_return_unsupported,
    .mem_reg            = uct_habana_md_mem_reg,
    .mem_dereg          = uct_habana_md_mem_dereg,
    .mem_query          = uct_habana_md_mem_query,
    .mkey_pack          = (void*)ucs_empty_function_return_success,
    .mem_attach         = (void*)ucs_empty_function_return_unsupported,
    .detect_memory_type = uct_habana_md_detect_memory_type,
    .mem_elem_pack      = (void*)ucs_empty_function_return_unsupported,
    .mem_elem_release   = (void*)ucs_empty_function
};

static ucs_status_t uct_habana_md_open(uct_component_t *component,
                                       const char *md_name,
                                       const uct_md_config_t *tl_config,
                                       uct_md_h *md_p)
{
    const uct_habana_md_config_t *config =
            ucs_derived_of(tl_config, uct_habana_md_config_t);
    uct_habana_md_t *md;

    md = calloc(1, sizeof(*md));
    if (md == NULL) {
        ucs_error("habana: failed to allocate the memory domain");
        return UCS_ERR_NO_MEMORY;
    }

    if (strcmp(config->dma_backend, "auto") &&
        strcmp(config->dma_backend, "cs") &&
        strcmp(config->dma_backend, "synapse")) {
        ucs_error("habana: UCX_HABANA_DMA_BACKEND=%s: expected auto, cs or "
                  "synapse", config->dma_backend);
        free(md);
        return UCS_ERR_INVALID_PARAM;
    }

    uct_habana_dev_dma_backend_set(config->dma_backend);
    uct_habana_dev_list_discover(&md->devs);
    if (md->devs.count == 0) {
        free(md);
        return UCS_ERR_NO_DEVICE;
    }

    md->super.ops       = &uct_habana_md_ops;
    md->super.component = &uct_habana_component;
    md->dmabuf          = config->dmabuf;
    md->summary         = config->summary;
    md->num_nics        = (md->dmabuf == UCS_NO) ? 0 :
                          uct_habana_nic_count_usable(md->nics,
                                                      sizeof(md->nics));
    pthread_mutex_init(&md->lock, NULL);
    ucs_debug("habana: %u usable NIC(s) for zero copy: %s", md->num_nics,
              md->nics);
    uct_habana_dev_list_report_nearest(&md->devs);
    uct_habana_mem_init();
    *md_p = &md->super;
    return UCS_OK;
}

static ucs_status_t
uct_habana_md_query_resources(uct_component_t *component,
                              uct_md_resource_desc_t **resources_p,
                              unsigned *num_resources_p)
{
    uct_habana_dev_list_t devs;

    uct_habana_dev_list_discover(&devs);
    if (devs.count == 0) {
        *resources_p     = NULL;
        *num_resources_p = 0;
        return UCS_OK;
    }

    uct_habana_dev_list_cleanup(&devs);
    return uct_md_query_single_md_resource(component, resources_p,
                                           num_resources_p);
}

static ucs_status_t
uct_habana_rkey_unpack(uct_component_t *component, const void *rkey_buffer,
                       const uct_rkey_unpack_params_t *params,
                       uct_rkey_t *rkey_p, void **handle_p)
{
    /* habana_copy reaches only memory of its own process */
    *rkey_p   = 0;
    *handle_p = NULL;
    return UCS_OK;
}

static ucs_status_t
uct_habana_rkey_compare(uct_component_t *component, uct_rkey_t rkey1,
                        uct_rkey_t rkey2,
                        const uct_rkey_compare_params_t *params, int *result)
{
    *result = (rkey1 > rkey2) ? 1 : (rkey1 < rkey2) ? -1 : 0;
    return UCS_OK;
}

static void uct_habana_md_vfs_init(uct_md_h md)
{
    uct_habana_stats_vfs_init(md);
}

uct_component_t uct_habana_component = {
    .name               = UCT_HABANA_COMPONENT_NAME,
    .query_md_resources = uct_habana_md_query_resources,
    .md_open            = uct_habana_md_open,
    .cm_open            = (void*)ucs_empty_function_return_unsupported,
    .rkey_unpack        = uct_habana_rkey_unpack,
    .rkey_ptr           = (void*)ucs_empty_function_return_unsupported,
    .rkey_release       = (void*)ucs_empty_function_return_success,
    .rkey_compare       = uct_habana_rkey_compare,
    .md_config          = {
        .name           = "Habana memory domain",
        .prefix         = "HABANA_",
        .table          = uct_habana_md_config_table,
        .size           = sizeof(uct_habana_md_config_t)
    },
    .cm_config          = UCS_CONFIG_EMPTY_GLOBAL_LIST_ENTRY,
    .tl_list            = {&uct_habana_component.tl_list,
                           &uct_habana_component.tl_list},
    .flags              = 0,
    .md_vfs_init        = uct_habana_md_vfs_init
};
