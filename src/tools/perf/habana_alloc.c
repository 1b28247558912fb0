/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * libucx_perftest_habana: the ucx_perftest allocator of Habana device
 * memory (memory type "gaudi": ucx_perftest -m gaudi,gaudi), on libhlmem.
 *
 * ucx_perftest finds it by the same directory scan as UCT modules (its
 * module directory and UCX_PLUGIN_PATH) and calls ucs_module_global_init(),
 * which fills ucx_perf_mem_type_allocators[UCS_MEMORY_TYPE_GAUDI].
 *
 * UCT tests allocate through uct_alloc() below (libhlmem, then registered
 * with the test's MD).  UCP tests allocate with ucp_mem_map(ALLOCATE), that
 * is through the habana memory domain; init() picks the device either way.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_perf_int.h"

#include <src/tools/hlmem/hlmem.h>
#include <ucs/debug/log_def.h>
#include <errno.h>
#include <string.h>

/* The device of this process, chosen by init() */
static int ucx_perf_habana_device = 0;

static const ucx_perf_allocator_t ucx_perf_habana_allocator;

/* The perftest context layout is declared, not included: check that the
 * context really is what habana_perf_int.h describes */
static int ucx_perf_habana_context_ok(const ucx_perf_context_t *perf)
{
    const ucx_perf_params_t *params = &perf->params;

    if (((perf->send_allocator == &ucx_perf_habana_allocator) &&
         (params->send_mem_type == UCS_MEMORY_TYPE_GAUDI)) ||
        ((perf->recv_allocator == &ucx_perf_habana_allocator) &&
         (params->recv_mem_type == UCS_MEMORY_TYPE_GAUDI))) {
        return 1;
    }

    ucs_error("habana: the ucx_perftest context does not match the UCX "
              "%d.%d-%d.%d layout of libucx_perftest_habana",
              UCX_PERF_HABANA_UCX_MAJOR, UCX_PERF_HABANA_UCX_MIN_MINOR,
              UCX_PERF_HABANA_UCX_MAJOR, UCX_PERF_HABANA_UCX_MAX_MINOR);
    return 0;
}

/* The UCT members of the context follow a ucs_async_context_t whose size
 * depends on UCX's configuration.  ucx_perftest sets uct.cmpt to one of the
 * handles uct_query_components() returns and uct.md to an MD of that
 * component, and no member of the async context can hold such a pointer:
 * the offset where both are found is the layout. */
static const ucx_perf_habana_uct_t *
ucx_perf_habana_uct(const ucx_perf_context_t *perf)
{
    const ucx_perf_habana_uct_t *candidate, *found;
    const ucx_perf_habana_md_t *md;
    uct_component_h *components;
    unsigned i, count;
    ucs_status_t status;
    size_t offset;

    status = uct_query_components(&components, &count);
    if (status != UCS_OK) {
        ucs_error("habana: uct_query_components() failed: %s",
                  ucs_status_string(status));
        return NULL;
    }

    found = NULL;
    for (offset = UCX_PERF_HABANA_UCT_SEARCH_MIN;
         (offset <= UCX_PERF_HABANA_UCT_SEARCH_MAX) && (found == NULL);
         offset += sizeof(void*)) {
        candidate = (const ucx_perf_habana_uct_t*)(perf->uct + offset);
        md        = (const ucx_perf_habana_md_t*)candidate->md;
        for (i = 0; (i < count) && (found == NULL); ++i) {
            if ((candidate->cmpt == components[i]) && (md != NULL) &&
                (md->component == components[i])) {
                ucs_debug("habana: ucx_perftest's UCT context follows an "
                          "async context of %zu bytes", offset);
                found = candidate;
            }
        }
    }

    uct_release_component_list(components);
    if (found == NULL) {
        ucs_error("habana: no UCT component and memory domain found in the "
                  "ucx_perftest context after an async context of %d to %d "
                  "bytes: this ucx_perftest's layout is unknown to "
                  "libucx_perftest_habana", UCX_PERF_HABANA_UCT_SEARCH_MIN,
                  UCX_PERF_HABANA_UCT_SEARCH_MAX);
    }

    return found;
}

static ucs_status_t ucx_perf_habana_init(ucx_perf_context_t *perf)
{
    const ucx_perf_params_t *params = &perf->params;
    unsigned group_index;
    int num_devices, device, ret;

    if (!ucx_perf_habana_context_ok(perf)) {
        return UCS_ERR_UNSUPPORTED;
    }

    num_devices = hlmem_device_count();
    if (num_devices == 0) {
        ucs_error("habana: no Habana device available");
        return UCS_ERR_NO_DEVICE;
    }

    /* As the other accelerators: the server (group index 0) receives */
    group_index = params->rte->group_index(params->rte_group);
    device      = (group_index == 0) ? params->recv_device.device_id :
                                       params->send_device.device_id;
    if (device == UCX_PERF_HABANA_MEM_DEV_DEFAULT) {
        device = group_index % num_devices;
    } else if (device >= num_devices) {
        ucs_error("habana: illegal device %d, number of devices %d", device,
                  num_devices);
        return UCS_ERR_NO_DEVICE;
    }

    /* Opens the compute descriptor for the life of the process, before any
     * memory domain borrows it */
    ret = hlmem_init(device);
    if (ret < 0) {
        ucs_error("habana: hlmem_init(%d) failed: %s", device, strerror(-ret));
        return (ret == -EBUSY) ? UCS_ERR_BUSY : UCS_ERR_NO_DEVICE;
    }

    ucx_perf_habana_device = device;
    return UCS_OK;
}

static ucs_status_t ucx_perf_habana_uct_alloc(const ucx_perf_context_t *perf,
                                              size_t length, unsigned flags,
                                              uct_allocated_memory_t *alloc_mem)
{
    const ucx_perf_habana_uct_t *uct = ucx_perf_habana_uct(perf);
    ucs_status_t status;
    uct_mem_h memh;
    void *address;

    if (uct == NULL) {
        return UCS_ERR_UNSUPPORTED;
    }

    address = hlmem_alloc_on(ucx_perf_habana_device, length);
    if (address == NULL) {
        ucs_error("habana: hlmem_alloc_on(%d, %zu) failed: %m",
                  ucx_perf_habana_device, length);
        return UCS_ERR_NO_MEMORY;
    }

    status = uct_md_mem_reg(uct->md, address, length, flags, &memh);
    if (status != UCS_OK) {
        ucs_error("habana: uct_md_mem_reg(%p, %zu) failed: %s", address,
                  length, ucs_status_string(status));
        hlmem_free(address);
        return status;
    }

    alloc_mem->address    = address;
    alloc_mem->length     = length;
    alloc_mem->method     = UCT_ALLOC_METHOD_LAST;
    alloc_mem->mem_type   = UCS_MEMORY_TYPE_GAUDI;
    alloc_mem->md         = uct->md;
    alloc_mem->memh       = memh;
    alloc_mem->sys_device = UCS_SYS_DEVICE_ID_UNKNOWN;
    return UCS_OK;
}

static void ucx_perf_habana_uct_free(const ucx_perf_context_t *perf,
                                     uct_allocated_memory_t *alloc_mem)
{
    ucs_status_t status;
    int ret;

    status = uct_md_mem_dereg(alloc_mem->md, alloc_mem->memh);
    if (status != UCS_OK) {
        ucs_error("habana: uct_md_mem_dereg(%p) failed: %s",
                  alloc_mem->address, ucs_status_string(status));
    }

    ret = hlmem_free(alloc_mem->address);
    if (ret < 0) {
        ucs_error("habana: hlmem_free(%p) failed: %s", alloc_mem->address,
                  strerror(-ret));
    }
}

static void ucx_perf_habana_memcpy(void *dst, ucs_memory_type_t dst_mem_type,
                                   const void *src,
                                   ucs_memory_type_t src_mem_type, size_t count)
{
    int ret = hlmem_copy(dst, src, count);

    if (ret < 0) {
        ucs_error("habana: hlmem_copy(%p, %p, %zu) failed: %s", dst, src,
                  count, strerror(-ret));
    }
}

static void *ucx_perf_habana_memset(void *dst, int value, size_t count)
{
    int ret = hlmem_memset(dst, value, count);

    if (ret < 0) {
        ucs_error("habana: hlmem_memset(%p, %d, %zu) failed: %s", dst, value,
                  count, strerror(-ret));
    }

    return dst;
}

static const ucx_perf_allocator_t ucx_perf_habana_allocator = {
    .mem_type  = UCS_MEMORY_TYPE_GAUDI,
    .init      = ucx_perf_habana_init,
    .uct_alloc = ucx_perf_habana_uct_alloc,
    .uct_free  = ucx_perf_habana_uct_free,
    .memcpy    = ucx_perf_habana_memcpy,
    .memset    = ucx_perf_habana_memset
};

/* Called by the UCX module loader after dlopen; an error unloads us */
ucs_status_t __attribute__((visibility("default")))
ucs_module_global_init(void)
{
    unsigned major, minor, release;

    ucp_get_version(&major, &minor, &release);
    if ((major != UCX_PERF_HABANA_UCX_MAJOR) ||
        (minor < UCX_PERF_HABANA_UCX_MIN_MINOR) ||
        (minor > UCX_PERF_HABANA_UCX_MAX_MINOR)) {
        ucs_warn("habana: UCX %u.%u.%u is not supported by "
                 "libucx_perftest_habana (supported: UCX %d.%d to %d.%d): "
                 "memory type gaudi is not available; use a UCX of that "
                 "range, or rebuild ucx-habana from a version that lists "
                 "UCX %u.%u", major, minor, release,
                 UCX_PERF_HABANA_UCX_MAJOR, UCX_PERF_HABANA_UCX_MIN_MINOR,
                 UCX_PERF_HABANA_UCX_MAJOR, UCX_PERF_HABANA_UCX_MAX_MINOR,
                 major, minor);
        return UCS_ERR_UNSUPPORTED;
    }

    ucx_perf_mem_type_allocators[UCS_MEMORY_TYPE_GAUDI] =
            &ucx_perf_habana_allocator;
    return UCS_OK;
}

static void __attribute__((destructor)) ucx_perf_habana_cleanup(void)
{
    if (ucx_perf_mem_type_allocators[UCS_MEMORY_TYPE_GAUDI] ==
        &ucx_perf_habana_allocator) {
        ucx_perf_mem_type_allocators[UCS_MEMORY_TYPE_GAUDI] = NULL;
    }
}
