/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * Module entry: called by the UCX module loader after dlopen.  The plugin
 * declares internal UCX structures (habana_uct_int.h), so it registers only
 * with a UCX whose layout it knows: a release of the supported range, whose
 * internal ops order (one row of uct_habana_ucx_layouts[]) is confirmed by
 * calling libuct's own dispatchers on a probe iface, and whose base class
 * sizes are those of a build with or without statistics.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_uct_int.h"

#include <src/uct/habana/copy/habana_copy_iface.h>
#include <src/uct/habana/copy/habana_copy_ep.h>
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define UCT_HABANA_SUPPORTED_RANGE "1.22 to 1.23"

/* The order of uct_iface_internal_ops_t in one (range of) UCX release(s):
 * slot[op] is the op's index, -1 where the release has no such op */
typedef struct {
    const char *name;
    unsigned   major;
    unsigned   minor;
    int8_t     slot[UCT_HABANA_IOP_LAST];
} uct_habana_ucx_layout_t;

#define UCT_HABANA_SLOTS_COMMON 0, 1, 2, 3, 4, 5, 6, 7, 8, 9

/* Within 1.23.0 development ep_outstanding_purge was appended first and
 * ep_get_sgl_zcopy later inserted before it: the same release number has
 * three layouts, told apart by observation (uct_habana_layout_observe()) */
static const uct_habana_ucx_layout_t uct_habana_ucx_layouts[] = {
    {"1.22",                          1, 22,
     {UCT_HABANA_SLOTS_COMMON, -1, -1}},
    {"1.23",                          1, 23,
     {UCT_HABANA_SLOTS_COMMON, 10, 11}},
    {"1.23 (development, before ep_get_sgl_zcopy)", 1, 23,
     {UCT_HABANA_SLOTS_COMMON, -1, 10}},
    {"1.23 (early development)",      1, 23,
     {UCT_HABANA_SLOTS_COMMON, -1, -1}}
};

/* The libuct dispatcher of each op (NULL: none, the op is not observed) */
static const char *uct_habana_iop_dispatchers[UCT_HABANA_IOP_LAST] = {
    [UCT_HABANA_IOP_IFACE_QUERY_V2]        = "uct_iface_query_v2",
    [UCT_HABANA_IOP_IFACE_ESTIMATE_PERF]   = "uct_iface_estimate_perf",
    [UCT_HABANA_IOP_IFACE_VFS_REFRESH]     = NULL, /* called through VFS */
    [UCT_HABANA_IOP_EP_QUERY]              = "uct_ep_query",
    [UCT_HABANA_IOP_EP_INVALIDATE]         = "uct_ep_invalidate",
    [UCT_HABANA_IOP_EP_CONNECT_TO_EP_V2]   = "uct_ep_connect_to_ep_v2",
    [UCT_HABANA_IOP_IFACE_IS_REACHABLE_V2] = "uct_iface_is_reachable_v2",
    [UCT_HABANA_IOP_EP_IS_CONNECTED]       = "uct_ep_is_connected",
    [UCT_HABANA_IOP_EP_GET_DEVICE_EP]      = "uct_ep_get_device_ep",
    [UCT_HABANA_IOP_EP_PUT_SGL_ZCOPY]      = "uct_ep_put_sgl_zcopy",
    [UCT_HABANA_IOP_EP_GET_SGL_ZCOPY]      = "uct_ep_get_sgl_zcopy",
    [UCT_HABANA_IOP_EP_OUTSTANDING_PURGE]  = "uct_ep_outstanding_purge"
};

/* Dispatchers whose first argument is an ep (the others take an iface) */
#define UCT_HABANA_IOP_IFACE_MASK \
    (UCS_BIT(UCT_HABANA_IOP_IFACE_QUERY_V2) | \
     UCS_BIT(UCT_HABANA_IOP_IFACE_ESTIMATE_PERF) | \
     UCS_BIT(UCT_HABANA_IOP_IFACE_IS_REACHABLE_V2))

static const uct_habana_ucx_layout_t *uct_habana_layout = NULL;
static uct_habana_any_func_t uct_habana_base_query_v2  = NULL;
static void *(*uct_habana_stats_get_root)(void)         = NULL;
static int uct_habana_stats_build                       = 0;


/* ---- observing the running libuct ---- */

/* Probe slots: each records its index when a dispatcher calls it */
static volatile int uct_habana_probe_hit;

#define UCT_HABANA_PROBE(_n) \
    static long uct_habana_probe_##_n(void) \
    { \
        uct_habana_probe_hit = _n; \
        return 0; \
    }

UCT_HABANA_PROBE(0)  UCT_HABANA_PROBE(1)  UCT_HABANA_PROBE(2)
UCT_HABANA_PROBE(3)  UCT_HABANA_PROBE(4)  UCT_HABANA_PROBE(5)
UCT_HABANA_PROBE(6)  UCT_HABANA_PROBE(7)  UCT_HABANA_PROBE(8)
UCT_HABANA_PROBE(9)  UCT_HABANA_PROBE(10) UCT_HABANA_PROBE(11)
UCT_HABANA_PROBE(12) UCT_HABANA_PROBE(13) UCT_HABANA_PROBE(14)
UCT_HABANA_PROBE(15) UCT_HABANA_PROBE(16) UCT_HABANA_PROBE(17)
UCT_HABANA_PROBE(18) UCT_HABANA_PROBE(19) UCT_HABANA_PROBE(20)
UCT_HABANA_PROBE(21) UCT_HABANA_PROBE(22) UCT_HABANA_PROBE(23)

_Static_assert(UCT_HABANA_IFACE_INTERNAL_SLOTS_MAX == 24, "one probe a slot");

static const uct_iface_internal_ops_t uct_habana_probe_ops = {{
    (uct_habana_any_func_t)uct_habana_probe_0,
    (uct_habana_any_func_t)uct_habana_probe_1,
    (uct_habana_any_func_t)uct_habana_probe_2,
    (uct_habana_any_func_t)uct_habana_probe_3,
    (uct_habana_any_func_t)uct_habana_probe_4,
    (uct_habana_any_func_t)uct_habana_probe_5,
    (uct_habana_any_func_t)uct_habana_probe_6,
    (uct_habana_any_func_t)uct_habana_probe_7,
    (uct_habana_any_func_t)uct_habana_probe_8,
    (uct_habana_any_func_t)uct_habana_probe_9,
    (uct_habana_any_func_t)uct_habana_probe_10,
    (uct_habana_any_func_t)uct_habana_probe_11,
    (uct_habana_any_func_t)uct_habana_probe_12,
    (uct_habana_any_func_t)uct_habana_probe_13,
    (uct_habana_any_func_t)uct_habana_probe_14,
    (uct_habana_any_func_t)uct_habana_probe_15,
    (uct_habana_any_func_t)uct_habana_probe_16,
    (uct_habana_any_func_t)uct_habana_probe_17,
    (uct_habana_any_func_t)uct_habana_probe_18,
    (uct_habana_any_func_t)uct_habana_probe_19,
    (uct_habana_any_func_t)uct_habana_probe_20,
    (uct_habana_any_func_t)uct_habana_probe_21,
    (uct_habana_any_func_t)uct_habana_probe_22,
    (uct_habana_any_func_t)uct_habana_probe_23
}};

/* Every dispatcher takes an iface or an ep and up to 9 more arguments,
 * pointers or sizes; the probes read none of them */
typedef long (*uct_habana_dispatcher_t)(void*, void*, void*, void*, void*,
                                        void*, void*, void*, void*, void*);

/* The handle of the running libuct (the one this module is linked to) */
static void *uct_habana_libuct_handle(void)
{
    Dl_info info;

    if ((dladdr((void*)uct_component_register, &info) == 0) ||
        (info.dli_fname == NULL)) {
        return NULL;
    }

    return dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
}

/*
 * Which slot of uct_iface_internal_ops_t libuct's dispatcher of each op
 * calls: a probe iface whose every word points to a table of probes goes
 * through each dispatcher; observed[op] is -1 when libuct has none.
 */
static void uct_habana_layout_observe(void *libuct,
                                      int observed[UCT_HABANA_IOP_LAST])
{
    union {
        uct_base_iface_t iface;
        const void       *word[sizeof(uct_base_iface_t) / sizeof(void*)];
    } probe_iface;
    uint64_t zeros[64] = {0};  /* every other argument: all fields unset */
    uct_habana_dispatcher_t dispatcher;
    uct_ep_t probe_ep;
    void *first;
    size_t i;
    int op;

    for (i = 0; i < ucs_static_array_size(probe_iface.word); ++i) {
        probe_iface.word[i] = &uct_habana_probe_ops;
    }
    probe_ep.iface = &probe_iface.iface.super;

    for (op = 0; op < UCT_HABANA_IOP_LAST; ++op) {
        observed[op] = -1;
        if (uct_habana_iop_dispatchers[op] == NULL) {
            continue;
        }

        dispatcher = (uct_habana_dispatcher_t)dlsym(
                libuct, uct_habana_iop_dispatchers[op]);
        if (dispatcher == NULL) {
            continue;
        }

        first = (UCS_BIT(op) & UCT_HABANA_IOP_IFACE_MASK) ?
                (void*)&probe_iface.iface : (void*)&probe_ep;
        uct_habana_probe_hit = -1;
        dispatcher(first, zeros, zeros, zeros, zeros, zeros, zeros, zeros,
                   zeros, zeros);
        observed[op] = uct_habana_probe_hit;
    }
}

/* A row agrees with what libuct does: every op it has is dispatched to its
 * slot, and libuct dispatches no op the row lacks */
static int uct_habana_layout_agrees(const uct_habana_ucx_layout_t *layout,
                                    const int observed[UCT_HABANA_IOP_LAST])
{
    int op;

    for (op = 0; op < UCT_HABANA_IOP_LAST; ++op) {
        if ((uct_habana_iop_dispatchers[op] != NULL) &&
            (observed[op] != layout->slot[op])) {
            return 0;
        }
    }

    return 1;
}

static void uct_habana_layout_describe(const int observed[UCT_HABANA_IOP_LAST],
                                       char *buf, size_t max)
{
    size_t len = 0;
    int op;

    buf[0] = '\0';
    for (op = 0; (op < UCT_HABANA_IOP_LAST) && (len < max); ++op) {
        if (uct_habana_iop_dispatchers[op] != NULL) {
            len += snprintf(buf + len, max - len, "%s%s=%d",
                            (len == 0) ? "" : " ",
                            uct_habana_iop_dispatchers[op] + 4, observed[op]);
        }
    }
}

/* The row for major.minor that the running libuct confirms, or NULL with
 * one warning */
static const uct_habana_ucx_layout_t *
uct_habana_layout_select(void *libuct, unsigned major, unsigned minor,
                         unsigned release)
{
    int observed[UCT_HABANA_IOP_LAST];
    const uct_habana_ucx_layout_t *layout;
    int known = 0;
    char desc[512];
    size_t i;

    /* Only a known release is probed: its dispatchers are known to do
     * nothing but call the slot */
    for (i = 0; i < ucs_static_array_size(uct_habana_ucx_layouts); ++i) {
        layout = &uct_habana_ucx_layouts[i];
        if ((layout->major != major) || (layout->minor != minor)) {
            continue;
        }

        if (!known) {
            uct_habana_layout_observe(libuct, observed);
            known = 1;
        }

        if (uct_habana_layout_agrees(layout, observed)) {
            return layout;
        }
    }

    if (!known) {
        ucs_warn("habana: UCX %u.%u.%u is not supported by libuct_habana "
                 "(supported: UCX " UCT_HABANA_SUPPORTED_RANGE "): not "
                 "registering the habana component; use a UCX of that range, "
                 "or rebuild ucx-habana from a version that lists UCX %u.%u "
                 "(./configure --with-ucx=PREFIX && make install)",
                 major, minor, release, major, minor);
        return NULL;
    }

    uct_habana_layout_describe(observed, desc, sizeof(desc));
    ucs_warn("habana: UCX %u.%u.%u dispatches its internal iface ops in an "
             "order libuct_habana does not know (%s): not registering the "
             "habana component; rebuild ucx-habana from a version that "
             "knows this UCX", major, minor, release, desc);
    return NULL;
}

/* Stats builds end the base classes with a statistics node */
static int uct_habana_layout_sizes(void)
{
    size_t iface_size = uct_base_iface_t_class.size;
    size_t ep_size    = uct_base_ep_t_class.size;

    if ((iface_size == UCT_HABANA_BASE_IFACE_SIZE_NO_STATS) &&
        (ep_size == UCT_HABANA_BASE_EP_SIZE_NO_STATS)) {
        uct_habana_stats_build = 0;
        return 1;
    }

    if ((iface_size == sizeof(uct_base_iface_t)) &&
        (ep_size == sizeof(uct_base_ep_t))) {
        uct_habana_stats_build = 1;
        return 1;
    }

    ucs_warn("habana: UCX base class sizes are unknown to libuct_habana "
             "(iface %zu, ep %zu; known: %zu/%zu, with statistics %zu/%zu): "
             "not registering the habana component", iface_size, ep_size,
             UCT_HABANA_BASE_IFACE_SIZE_NO_STATS,
             UCT_HABANA_BASE_EP_SIZE_NO_STATS, sizeof(uct_base_iface_t),
             sizeof(uct_base_ep_t));
    return 0;
}

int uct_habana_ucx_stats(void)
{
    return uct_habana_stats_build;
}

void *uct_habana_stats_parent(const uct_iface_params_t *params)
{
    if (!uct_habana_stats_build) {
        return NULL;
    }

    if ((params->field_mask & UCT_IFACE_PARAM_FIELD_STATS_ROOT) &&
        (params->stats_root != NULL)) {
        return params->stats_root;
    }

    return (uct_habana_stats_get_root != NULL) ? uct_habana_stats_get_root() :
                                                 NULL;
}

uct_iface_internal_ops_t *
uct_habana_iface_internal_ops_build(const uct_habana_iface_internal_ops_t *ops,
                                    uct_iface_internal_ops_t *slots)
{
    const uct_habana_any_func_t *named = (const uct_habana_any_func_t*)ops;
    uct_habana_any_func_t func;
    int op, slot;

    UCS_STATIC_ASSERT(sizeof(*ops) ==
                      UCT_HABANA_IOP_LAST * sizeof(uct_habana_any_func_t));

    for (slot = 0; slot < UCT_HABANA_IFACE_INTERNAL_SLOTS_MAX; ++slot) {
        slots->slot[slot] =
                (uct_habana_any_func_t)ucs_empty_function_return_unsupported;
    }

    for (op = 0; op < UCT_HABANA_IOP_LAST; ++op) {
        slot = uct_habana_layout->slot[op];
        if (slot < 0) {
            continue;
        }

        func = named[op];
        if ((func == NULL) && (op == UCT_HABANA_IOP_IFACE_QUERY_V2) &&
            (uct_habana_base_query_v2 != NULL)) {
            func = uct_habana_base_query_v2;
        }

        if (func != NULL) {
            slots->slot[slot] = func;
        }
    }

    return slots;
}


/* ---- UCX's own gaudi module ---- */

/*
 * UCX built with its gaudi module (libuct_gaudi, component gaudi_gdr,
 * needs hl-thunk) has an MD that detects Gaudi memory and exports it for
 * NICs.  It is registered before plugins, and UCP takes the first MD that
 * detects a type and the first that exports it: gaudi_gdr would answer for
 * Gaudi memory (one dma-buf of the whole HBM pool, reported registrable
 * whatever the NICs can import), and the habana MD only allocate and stage.
 * So when gaudi_gdr has a device, habana offers no memory domain and says
 * so once; with UCX_MODULES=^gaudi the habana MD serves everything.
 */
static ucs_status_t (*uct_habana_query_md_resources_orig)(
        uct_component_t *component, uct_md_resource_desc_t **resources_p,
        unsigned *num_resources_p);

static int uct_habana_gaudi_gdr_has_devices(void)
{
    uct_component_attr_t attr = {};
    uct_component_h *components;
    unsigned i, count;
    int found = 0;

    if (uct_query_components(&components, &count) != UCS_OK) {
        return 0;
    }

    /* The name first: counting resources asks the component for them */
    for (i = 0; (i < count) && !found; ++i) {
        attr.field_mask = UCT_COMPONENT_ATTR_FIELD_NAME;
        if ((uct_component_query(components[i], &attr) != UCS_OK) ||
            strcmp(attr.name, "gaudi_gdr")) {
            continue;
        }

        attr.field_mask = UCT_COMPONENT_ATTR_FIELD_MD_RESOURCE_COUNT;
        found = (uct_component_query(components[i], &attr) == UCS_OK) &&
                (attr.md_resource_count > 0);
    }

    uct_release_component_list(components);
    return found;
}

static ucs_status_t
uct_habana_query_md_resources(uct_component_t *component,
                              uct_md_resource_desc_t **resources_p,
                              unsigned *num_resources_p)
{
    static int warned = 0;

    if (uct_habana_gaudi_gdr_has_devices()) {
        if (!warned) {
            warned = 1;
            ucs_warn("habana: UCX's own gaudi module (gaudi_gdr) serves "
                     "Gaudi memory in this process (detection and dma-buf "
                     "export, ahead of plugins): the habana memory domain "
                     "and transport are not offered; run with "
                     "UCX_MODULES=^gaudi to use habana instead");
        }

        *resources_p     = NULL;
        *num_resources_p = 0;
        return UCS_OK;
    }

    return uct_habana_query_md_resources_orig(component, resources_p,
                                              num_resources_p);
}


/* ---- module entry ---- */

/*
 * libuct and libucs export no version query; libucp's ucp_get_version()
 * reports the release, and the libucp beside the running libuct belongs
 * to the same build.
 */
static uct_habana_get_version_func_t uct_habana_find_get_version(void)
{
    uct_habana_get_version_func_t func;
    char path[PATH_MAX];
    Dl_info info;
    void *handle;

    func = (uct_habana_get_version_func_t)dlsym(RTLD_DEFAULT,
                                                "ucp_get_version");
    if (func != NULL) {
        return func;
    }

    if ((dladdr((void*)uct_component_register, &info) == 0) ||
        (info.dli_fname == NULL) ||
        (strlen(info.dli_fname) >= sizeof(path))) {
        return NULL;
    }

    strcpy(path, info.dli_fname);
    snprintf(path + strlen(dirname(path)), sizeof(path) - strlen(path),
             "/libucp.so.0");
    handle = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    if (handle == NULL) {
        ucs_debug("habana: dlopen(%s) failed: %s", path, dlerror());
        return NULL;
    }

    /* Kept open: the symbol is used right away, and libucp stays loaded
     * in every process that uses UCP anyway */
    return (uct_habana_get_version_func_t)dlsym(handle, "ucp_get_version");
}

ucs_status_t __attribute__((visibility("default"))) ucs_module_global_init(void)
{
    uct_habana_get_version_func_t get_version;
    unsigned major, minor, release;
    void *libuct;

    get_version = uct_habana_find_get_version();
    if (get_version == NULL) {
        ucs_warn("habana: cannot tell the UCX version (no ucp_get_version): "
                 "not registering the habana component");
        return UCS_OK;
    }

    libuct = uct_habana_libuct_handle();
    if (libuct == NULL) {
        ucs_warn("habana: cannot find the running libuct: not registering "
                 "the habana component");
        return UCS_OK;
    }

    get_version(&major, &minor, &release);
    uct_habana_layout = uct_habana_layout_select(libuct, major, minor,
                                                 release);
    if ((uct_habana_layout == NULL) || !uct_habana_layout_sizes()) {
        uct_habana_layout = NULL;
        return UCS_OK;
    }

    /* Optional symbols: not every release exports them */
    uct_habana_base_query_v2  = (uct_habana_any_func_t)dlsym(
            libuct, "uct_iface_base_query_v2");
    uct_habana_stats_get_root = (void *(*)(void))dlsym(RTLD_DEFAULT,
                                                       "ucs_stats_get_root");
    ucs_debug("habana: UCX %u.%u.%u, layout %s%s, uct_iface_base_query_v2 "
              "%s", major, minor, release, uct_habana_layout->name,
              uct_habana_stats_build ? ", statistics build" : "",
              (uct_habana_base_query_v2 != NULL) ? "found" : "absent");

    uct_habana_iface_internal_ops_build(&uct_habana_copy_iface_internal_ops,
                                        &uct_habana_copy_iface_internal_slots);
    uct_habana_query_md_resources_orig =
            uct_habana_component.query_md_resources;
    uct_habana_component.query_md_resources = uct_habana_query_md_resources;

    uct_tl_register(&uct_habana_component, &uct_habana_copy_tl);
    uct_component_register(&uct_habana_component);
    return UCS_OK;
}
