/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * The few internal UCT structures this plugin needs.  UCX has no plugin
 * SDK: libucx-dev installs the public uct/api headers but not uct/base/ nor
 * uct/api/v2/.  The declarations below were written from the UCX 1.22 and
 * 1.23 sources and hold for every release of that range and every build
 * configuration of it, except where noted:
 *
 * - uct_iface_internal_ops_t differs between releases (slots were added
 *   in the middle): it is declared as an array of slots, filled at run time
 *   through the layout row of the running UCX (habana_base.c), which is
 *   chosen by release number and confirmed by observing libuct's own
 *   dispatchers;
 * - ENABLE_STATS builds end uct_base_iface_t and uct_base_ep_t with a
 *   statistics node and take two more arguments to initialize the base
 *   iface: both are declared, and the base class sizes UCX exports tell
 *   which build runs;
 * - symbols that not every release exports are looked up with dlsym().
 *
 * Another release registers nothing (habana_base.c).
 */
#ifndef UCT_HABANA_UCT_INT_H_
#define UCT_HABANA_UCT_INT_H_

#include <uct/api/uct.h>
#include <uct/api/version.h>
#include <ucs/config/parser.h>
#include <ucs/datastruct/linear_func.h>
#include <ucs/datastruct/list.h>
#include <ucs/debug/log_def.h>
#include <ucs/memory/memory_type.h>
#include <ucs/sys/stubs.h>
#include <ucs/type/class.h>
#include <ucs/type/cpu_set.h>
#include <stddef.h>

BEGIN_C_DECLS

/* The UCX releases whose layouts are known (habana_base.c has a row each) */
#define UCT_HABANA_UCX_MIN_MAJOR 1
#define UCT_HABANA_UCX_MIN_MINOR 22
#define UCT_HABANA_UCX_MAX_MAJOR 1
#define UCT_HABANA_UCX_MAX_MINOR 23

#if UCT_API < UCT_VERSION(UCT_HABANA_UCX_MIN_MAJOR, UCT_HABANA_UCX_MIN_MINOR)
#error "habana_uct_int.h needs the headers of UCX 1.22 or newer"
#endif


/* ---- uct/api/v2/uct_v2.h (not installed) ---- */

typedef enum {
    UCT_MD_ATTR_FIELD_MAX_ALLOC                 = UCS_BIT(0),
    UCT_MD_ATTR_FIELD_MAX_REG                   = UCS_BIT(1),
    UCT_MD_ATTR_FIELD_FLAGS                     = UCS_BIT(2),
    UCT_MD_ATTR_FIELD_REG_MEM_TYPES             = UCS_BIT(3),
    UCT_MD_ATTR_FIELD_REG_NONBLOCK_MEM_TYPES    = UCS_BIT(4),
    UCT_MD_ATTR_FIELD_CACHE_MEM_TYPES           = UCS_BIT(5),
    UCT_MD_ATTR_FIELD_DETECT_MEM_TYPES          = UCS_BIT(6),
    UCT_MD_ATTR_FIELD_ALLOC_MEM_TYPES           = UCS_BIT(7),
    UCT_MD_ATTR_FIELD_ACCESS_MEM_TYPES          = UCS_BIT(8),
    UCT_MD_ATTR_FIELD_DMABUF_MEM_TYPES          = UCS_BIT(9)
} uct_md_attr_v2_field_t;

typedef struct {
    uint64_t          field_mask;
    uint64_t          max_alloc;
    size_t            max_reg;
    uint64_t          flags;
    uint64_t          reg_mem_types;
    uint64_t          reg_nonblock_mem_types;
    uint64_t          cache_mem_types;
    uint64_t          gva_mem_types;
    uint64_t          detect_mem_types;
    uint64_t          alloc_mem_types;
    uint64_t          access_mem_types;
    uint64_t          dmabuf_mem_types;
    ucs_linear_func_t reg_cost;
    char              component_name[UCT_COMPONENT_NAME_MAX];
    size_t            rkey_packed_size;
    ucs_cpu_set_t     local_cpus;
    size_t            exported_mkey_packed_size;
    char              global_id[UCT_MD_GLOBAL_ID_MAX];
    size_t            reg_alignment;
    uint8_t           required_mem_flags;
} uct_md_attr_v2_t;

typedef enum {
    UCT_MD_MEM_ATTR_V2_FIELD_MEM_TYPE      = UCS_BIT(0),
    UCT_MD_MEM_ATTR_V2_FIELD_SYS_DEV       = UCS_BIT(1),
    UCT_MD_MEM_ATTR_V2_FIELD_BASE_ADDRESS  = UCS_BIT(2),
    UCT_MD_MEM_ATTR_V2_FIELD_ALLOC_LENGTH  = UCS_BIT(3),
    UCT_MD_MEM_ATTR_V2_FIELD_DMABUF_FD     = UCS_BIT(4),
    UCT_MD_MEM_ATTR_V2_FIELD_DMABUF_OFFSET = UCS_BIT(5),
    UCT_MD_MEM_ATTR_V2_FIELD_MEM_FLAGS     = UCS_BIT(6)
} uct_md_mem_attr_v2_field_t;

typedef struct {
    uint64_t          field_mask;
    ucs_memory_type_t mem_type;
    ucs_sys_device_t  sys_dev;
    void              *base_address;
    size_t            alloc_length;
    int               dmabuf_fd;
    size_t            dmabuf_offset;
    uint8_t           mem_flags;
} uct_md_mem_attr_v2_t;

/* uct_v2.h (exported by libuct, header not installed) */
ucs_status_t uct_md_mem_query_v2(uct_md_h md, const void *address,
                                 size_t length, uct_md_mem_attr_v2_t *mem_attr);

typedef enum {
    UCT_EP_OP_AM_SHORT,
    UCT_EP_OP_AM_BCOPY,
    UCT_EP_OP_AM_ZCOPY,
    UCT_EP_OP_PUT_SHORT,
    UCT_EP_OP_PUT_BCOPY,
    UCT_EP_OP_PUT_ZCOPY,
    UCT_EP_OP_GET_SHORT,
    UCT_EP_OP_GET_BCOPY,
    UCT_EP_OP_GET_ZCOPY,
    UCT_EP_OP_EAGER_SHORT,
    UCT_EP_OP_EAGER_BCOPY,
    UCT_EP_OP_EAGER_ZCOPY,
    UCT_EP_OP_RNDV_ZCOPY,
    UCT_EP_OP_ATOMIC_POST,
    UCT_EP_OP_ATOMIC_FETCH,
    UCT_EP_OP_FLUSH,        /* since 1.23; the values before: every release */
    UCT_EP_OP_LAST
} uct_ep_operation_t;

enum {
    UCT_PERF_ATTR_FIELD_OPERATION          = UCS_BIT(0),
    UCT_PERF_ATTR_FIELD_LOCAL_MEMORY_TYPE  = UCS_BIT(1),
    UCT_PERF_ATTR_FIELD_REMOTE_MEMORY_TYPE = UCS_BIT(2),
    UCT_PERF_ATTR_FIELD_LOCAL_SYS_DEVICE   = UCS_BIT(3),
    UCT_PERF_ATTR_FIELD_REMOTE_SYS_DEVICE  = UCS_BIT(4),
    UCT_PERF_ATTR_FIELD_SEND_PRE_OVERHEAD  = UCS_BIT(5),
    UCT_PERF_ATTR_FIELD_SEND_POST_OVERHEAD = UCS_BIT(6),
    UCT_PERF_ATTR_FIELD_RECV_OVERHEAD      = UCS_BIT(7),
    UCT_PERF_ATTR_FIELD_BANDWIDTH          = UCS_BIT(8),
    UCT_PERF_ATTR_FIELD_PATH_BANDWIDTH     = UCS_BIT(9),
    UCT_PERF_ATTR_FIELD_LATENCY            = UCS_BIT(10),
    UCT_PERF_ATTR_FIELD_MAX_INFLIGHT_EPS   = UCS_BIT(11),
    UCT_PERF_ATTR_FIELD_FLAGS              = UCS_BIT(12)
};

typedef struct {
    uint64_t            field_mask;
    uct_ep_operation_t  operation;
    ucs_memory_type_t   local_memory_type;
    ucs_memory_type_t   remote_memory_type;
    ucs_sys_device_t    local_sys_device;
    ucs_sys_device_t    remote_sys_device;
    double              send_pre_overhead;
    double              send_post_overhead;
    double              recv_overhead;
    uct_ppn_bandwidth_t bandwidth;
    uct_ppn_bandwidth_t path_bandwidth;
    ucs_linear_func_t   latency;
    size_t              max_inflight_eps;
    uint64_t            flags;
} uct_perf_attr_t;

typedef enum {
    UCT_IFACE_REACHABILITY_SCOPE_DEVICE,
    UCT_IFACE_REACHABILITY_SCOPE_NETWORK
} uct_iface_reachability_scope_t;

typedef enum {
    UCT_IFACE_IS_REACHABLE_FIELD_DEVICE_ADDR        = UCS_BIT(0),
    UCT_IFACE_IS_REACHABLE_FIELD_IFACE_ADDR         = UCS_BIT(1),
    UCT_IFACE_IS_REACHABLE_FIELD_INFO_STRING        = UCS_BIT(2),
    UCT_IFACE_IS_REACHABLE_FIELD_INFO_STRING_LENGTH = UCS_BIT(3),
    UCT_IFACE_IS_REACHABLE_FIELD_SCOPE              = UCS_BIT(4)
} uct_iface_is_reachable_field_t;

typedef struct {
    uint64_t                       field_mask;
    const uct_device_addr_t        *device_addr;
    const uct_iface_addr_t         *iface_addr;
    char                           *info_string;
    size_t                         info_string_length;
    uct_iface_reachability_scope_t scope;
    size_t                         device_addr_length;
    size_t                         iface_addr_length;
} uct_iface_is_reachable_params_t;


/* uct_v2.h (not installed by every distribution), UCX 1.13 .. 1.23 */
enum {
    UCT_MD_MEM_DEREG_FIELD_MEMH       = UCS_BIT(0),
    UCT_MD_MEM_DEREG_FIELD_FLAGS      = UCS_BIT(1),
    UCT_MD_MEM_DEREG_FIELD_COMPLETION = UCS_BIT(2)
};

enum {
    UCT_MD_MEM_DEREG_FLAG_INVALIDATE = UCS_BIT(0)
};

typedef struct uct_md_mem_dereg_params {
    uint64_t         field_mask;
    unsigned         flags;
    uct_mem_h        memh;
    uct_completion_t *comp;
} uct_md_mem_dereg_params_t;

/* Parameter structures the plugin passes through without reading */
typedef struct uct_rkey_unpack_params   uct_rkey_unpack_params_t;
typedef struct uct_rkey_compare_params  uct_rkey_compare_params_t;
typedef struct uct_md_mem_reg_params    uct_md_mem_reg_params_t;
typedef struct uct_md_mkey_pack_params  uct_md_mkey_pack_params_t;
typedef struct uct_md_mem_attach_params uct_md_mem_attach_params_t;
typedef struct uct_tl_device_resource   uct_tl_device_resource_t;

typedef void (*uct_habana_get_version_func_t)(unsigned *major_version,
                                              unsigned *minor_version,
                                              unsigned *release_number);


/* ---- uct/base/uct_component.h ---- */

typedef struct uct_component uct_component_t;

struct uct_component {
    const char                     name[UCT_COMPONENT_NAME_MAX];
    ucs_status_t                   (*query_md_resources)(
            uct_component_t *component, uct_md_resource_desc_t **resources_p,
            unsigned *num_resources_p);
    ucs_status_t                   (*md_open)(uct_component_t *component,
                                              const char *md_name,
                                              const uct_md_config_t *config,
                                              uct_md_h *md_p);
    ucs_status_t                   (*cm_open)(uct_component_t *component,
                                              uct_worker_h worker,
                                              const uct_cm_config_t *config,
                                              uct_cm_h *cm_p);
    ucs_status_t                   (*rkey_unpack)(
            uct_component_t *component, const void *rkey_buffer,
            const uct_rkey_unpack_params_t *params, uct_rkey_t *rkey_p,
            void **handle_p);
    ucs_status_t                   (*rkey_ptr)(uct_component_t *component,
                                               uct_rkey_t rkey, void *handle,
                                               uint64_t remote_addr,
                                               void **local_addr_p);
    ucs_status_t                   (*rkey_release)(uct_component_t *component,
                                                   uct_rkey_t rkey,
                                                   void *handle);
    ucs_status_t                   (*rkey_compare)(
            uct_component_t *component, uct_rkey_t rkey1, uct_rkey_t rkey2,
            const uct_rkey_compare_params_t *params, int *result);
    ucs_config_global_list_entry_t md_config;
    ucs_config_global_list_entry_t cm_config;
    ucs_list_link_t                tl_list;
    ucs_list_link_t                list;
    uint64_t                       flags;
    void                           (*md_vfs_init)(uct_md_h md);
};

void uct_component_register(uct_component_t *component);


/* ---- uct/base/uct_md.h ---- */

struct uct_md_config {
    char __dummy;
};

typedef struct uct_md_ops {
    void         (*close)(uct_md_h md);
    ucs_status_t (*query)(uct_md_h md, uct_md_attr_v2_t *md_attr);
    ucs_status_t (*mem_alloc)(uct_md_h md, size_t *length_p, void **address_p,
                              ucs_memory_type_t mem_type,
                              ucs_sys_device_t sys_dev, unsigned flags,
                              const char *alloc_name, uct_mem_h *memh_p);
    ucs_status_t (*mem_free)(uct_md_h md, uct_mem_h memh);
    ucs_status_t (*mem_advise)(uct_md_h md, uct_mem_h memh, void *addr,
                               size_t length, unsigned advice);
    ucs_status_t (*mem_reg)(uct_md_h md, void *address, size_t length,
                            const uct_md_mem_reg_params_t *params,
                            uct_mem_h *memh_p);
    ucs_status_t (*mem_dereg)(uct_md_h md,
                              const uct_md_mem_dereg_params_t *params);
    ucs_status_t (*mem_query)(uct_md_h md, const void *address, size_t length,
                              uct_md_mem_attr_v2_t *mem_attr);
    ucs_status_t (*mkey_pack)(uct_md_h md, uct_mem_h memh, void *address,
                              size_t length,
                              const uct_md_mkey_pack_params_t *params,
                              void *buffer);
    ucs_status_t (*mem_attach)(uct_md_h md, const void *mkey_buffer,
                               uct_md_mem_attach_params_t *params,
                               uct_mem_h *memh_p);
    ucs_status_t (*detect_memory_type)(uct_md_h md, const void *addr,
                                       size_t length,
                                       ucs_memory_type_t *mem_type_p);
    void         *mem_elem_pack;    /* device API, unused */
    void         *mem_elem_release; /* since 1.23 (past the end in 1.22) */
} uct_md_ops_t;

struct uct_md {
    uct_md_ops_t    *ops;
    uct_component_t *component;
};

extern ucs_config_field_t uct_md_config_table[];

ucs_status_t uct_md_query_single_md_resource(
        uct_component_t *component, uct_md_resource_desc_t **resources_p,
        unsigned *num_resources_p);
void uct_md_base_md_query(uct_md_attr_v2_t *md_attr);
ucs_status_t uct_md_dummy_mem_reg(uct_md_h md, void *address, size_t length,
                                  const uct_md_mem_reg_params_t *params,
                                  uct_mem_h *memh_p);
ucs_status_t uct_md_dummy_mem_dereg(uct_md_h md,
                                    const uct_md_mem_dereg_params_t *params);


/* ---- uct/base/uct_worker.h, uct/base/uct_iface.h ---- */

typedef struct uct_priv_worker uct_priv_worker_t;

typedef struct {
    uct_worker_cb_id_t id;
    uint32_t           refcount;
} uct_worker_progress_t;

typedef struct {
    uct_am_callback_t cb;
    void              *arg;
    uint32_t          flags;
} uct_am_handler_t;

/* Generic pointer stands for ops this plugin leaves to UCX defaults */
typedef void (*uct_habana_any_func_t)(void);

/*
 * The internal operations of an iface, by name.  UCX's
 * uct_iface_internal_ops_t holds them in an order that depends on the
 * release; uct_habana_iface_internal_ops_build() lays them out for the
 * running UCX.  A NULL iface_query_v2 stands for UCX's own
 * uct_iface_base_query_v2 (found with dlsym), a NULL entry elsewhere for
 * "unsupported".
 */
typedef struct {
    uct_habana_any_func_t iface_query_v2;
    ucs_status_t          (*iface_estimate_perf)(uct_iface_h iface,
                                                 uct_perf_attr_t *perf_attr);
    void                  (*iface_vfs_refresh)(uct_iface_h iface);
    uct_habana_any_func_t ep_query;
    uct_habana_any_func_t ep_invalidate;
    uct_habana_any_func_t ep_connect_to_ep_v2;
    int                   (*iface_is_reachable_v2)(
            const uct_iface_h iface,
            const uct_iface_is_reachable_params_t *params);
    uct_habana_any_func_t ep_is_connected;
    uct_habana_any_func_t ep_get_device_ep;
    uct_habana_any_func_t ep_put_sgl_zcopy;
    uct_habana_any_func_t ep_get_sgl_zcopy;
    uct_habana_any_func_t ep_outstanding_purge;
} uct_habana_iface_internal_ops_t;

/* The operations above, as indexes of the layout rows */
typedef enum {
    UCT_HABANA_IOP_IFACE_QUERY_V2,
    UCT_HABANA_IOP_IFACE_ESTIMATE_PERF,
    UCT_HABANA_IOP_IFACE_VFS_REFRESH,
    UCT_HABANA_IOP_EP_QUERY,
    UCT_HABANA_IOP_EP_INVALIDATE,
    UCT_HABANA_IOP_EP_CONNECT_TO_EP_V2,
    UCT_HABANA_IOP_IFACE_IS_REACHABLE_V2,
    UCT_HABANA_IOP_EP_IS_CONNECTED,
    UCT_HABANA_IOP_EP_GET_DEVICE_EP,
    UCT_HABANA_IOP_EP_PUT_SGL_ZCOPY,
    UCT_HABANA_IOP_EP_GET_SGL_ZCOPY,
    UCT_HABANA_IOP_EP_OUTSTANDING_PURGE,
    UCT_HABANA_IOP_LAST
} uct_habana_iface_internal_op_t;

/* UCX's uct_iface_internal_ops_t: function pointers in the order of the
 * running release (room for slots future rows may add) */
#define UCT_HABANA_IFACE_INTERNAL_SLOTS_MAX 24

typedef struct uct_iface_internal_ops {
    uct_habana_any_func_t slot[UCT_HABANA_IFACE_INTERNAL_SLOTS_MAX];
} uct_iface_internal_ops_t;

/* Fills @slots with @ops in the running UCX's order; returns @slots */
uct_iface_internal_ops_t *
uct_habana_iface_internal_ops_build(const uct_habana_iface_internal_ops_t *ops,
                                    uct_iface_internal_ops_t *slots);

typedef struct {
    uct_iface_t              super;
    uct_iface_internal_ops_t *internal_ops;
    uct_md_h                 md;
    uct_priv_worker_t        *worker;
    uct_am_handler_t         am[UCT_AM_ID_MAX];
    uct_am_tracer_t          am_tracer;
    void                     *am_tracer_arg;
    uct_error_handler_t      err_handler;
    void                     *err_handler_arg;
    uint32_t                 err_handler_flags;
    uct_worker_progress_t    prog;
    unsigned                 progress_flags;
    struct {
        unsigned             num_alloc_methods;
        uct_alloc_method_t   alloc_methods[UCT_ALLOC_METHOD_LAST];
        ucs_log_level_t      failure_level;
        size_t               max_num_eps;
    } config;
    void                     *stats;   /* ENABLE_STATS builds only */
} uct_base_iface_t;

typedef struct {
    uct_ep_t super;
    void     *stats;                   /* ENABLE_STATS builds only */
} uct_base_ep_t;

/* The base class sizes without statistics (see uct_habana_ucx_stats()) */
#define UCT_HABANA_BASE_IFACE_SIZE_NO_STATS offsetof(uct_base_iface_t, stats)
#define UCT_HABANA_BASE_EP_SIZE_NO_STATS    offsetof(uct_base_ep_t, stats)

struct uct_iface_config {
    struct {
        uct_alloc_method_t *methods;
        unsigned           count;
    } alloc_methods;
    int                    failure;
    size_t                 max_num_eps;
};

typedef struct {
    char                           name[UCT_TL_NAME_MAX];
    ucs_status_t                   (*query_devices)(
            uct_md_h md, uct_tl_device_resource_t **tl_devices_p,
            unsigned *num_tl_devices_p);
    ucs_status_t                   (*iface_open)(
            uct_md_h md, uct_worker_h worker,
            const uct_iface_params_t *params,
            const uct_iface_config_t *config, uct_iface_h *iface_p);
    ucs_config_global_list_entry_t config;
    ucs_list_link_t                list;
} uct_tl_t;

extern ucs_config_field_t uct_iface_config_table[];

void uct_tl_register(uct_component_t *component, uct_tl_t *tl);
void uct_base_iface_query(uct_base_iface_t *iface,
                          uct_iface_attr_t *iface_attr);
ucs_status_t uct_base_iface_flush(uct_iface_h tl_iface, unsigned flags,
                                  uct_completion_t *comp);
ucs_status_t uct_base_iface_fence(uct_iface_h tl_iface, unsigned flags);
void uct_base_iface_progress_enable(uct_iface_h tl_iface, unsigned flags);
void uct_base_iface_progress_disable(uct_iface_h tl_iface, unsigned flags);
int uct_base_iface_is_reachable(const uct_iface_h tl_iface,
                                const uct_device_addr_t *dev_addr,
                                const uct_iface_addr_t *iface_addr);
int uct_iface_scope_is_reachable(const uct_iface_h iface,
                                 const uct_iface_is_reachable_params_t *params);
int uct_base_ep_is_connected(const uct_ep_h tl_ep, const void *params);
ucs_status_t uct_base_ep_flush(uct_ep_h tl_ep, unsigned flags,
                               uct_completion_t *comp);
ucs_status_t uct_base_ep_fence(uct_ep_h tl_ep, unsigned flags);
ucs_status_t uct_single_device_resource(uct_md_h md, const char *dev_name,
                                        uct_device_type_t dev_type,
                                        ucs_sys_device_t sys_device,
                                        uct_tl_device_resource_t **tl_devices_p,
                                        unsigned *num_tl_devices_p);

/*
 * A stats build takes the parent statistics node and the node's name after
 * the config; other builds ignore those two arguments, so they are always
 * passed (UCT_HABANA_BASE_IFACE_STATS_ARGS).
 */
UCS_CLASS_DECLARE(uct_base_iface_t, uct_iface_ops_t*,
                  uct_iface_internal_ops_t*, uct_md_h, uct_worker_h,
                  const uct_iface_params_t*, const uct_iface_config_t*,
                  void*, const char*);

/* 1 when the running UCX was built with ENABLE_STATS (from its class
 * sizes); its statistics root then, else NULL */
int uct_habana_ucx_stats(void);
void *uct_habana_stats_parent(const uct_iface_params_t *params);

#define UCT_HABANA_BASE_IFACE_STATS_ARGS(_params, _name) \
    uct_habana_stats_parent(_params), (_name)
UCS_CLASS_DECLARE(uct_base_ep_t, uct_base_iface_t*);

END_C_DECLS

#endif
