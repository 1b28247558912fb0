/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * The few ucx_perftest structures an allocator module uses.  UCX installs
 * no perftest headers (tools/perf/api/libperf.h, lib/libperf_int.h), so
 * they are declared here, written from the UCX 1.22 and 1.23 sources.  Only
 * the members the module reads are named; the rest are kept for the layout.
 *
 * Up to the union of the context the layout is the same in 1.22 and 1.23
 * and in every build configuration (1.23 added ucp.err_mode into what was
 * padding), checked against the machine code of Debian's ucx_perftest
 * 1.23.0~rc1 (the offsets asserted at the end).  habana_alloc.c also
 * checks at run time that the context it is given points back at its own
 * allocator, and refuses releases outside the range.
 *
 * The UCT members of the union follow a ucs_async_context_t, whose size
 * depends on how UCX was configured (104 bytes with assertions, 80 without,
 * on x86-64): they are not declared at any offset, habana_alloc.c finds them
 * at run time.
 */
#ifndef UCX_PERF_HABANA_INT_H_
#define UCX_PERF_HABANA_INT_H_

#include <ucp/api/ucp.h>
#include <uct/api/uct.h>
#include <ucs/async/async_fwd.h>
#include <ucs/datastruct/list.h>
#include <ucs/sys/device_code.h>
#include <ucs/type/thread_mode.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The UCX releases whose layout this header describes */
#define UCX_PERF_HABANA_UCX_MAJOR     1
#define UCX_PERF_HABANA_UCX_MIN_MINOR 22
#define UCX_PERF_HABANA_UCX_MAX_MINOR 23

#define UCX_PERF_HABANA_MEM_DEV_DEFAULT   -1   /* UCX_PERF_MEM_DEV_DEFAULT */
#define UCX_PERF_HABANA_TIMING_QUEUE_SIZE 2048 /* TIMING_QUEUE_SIZE */
#define UCX_PERF_HABANA_EXTRA_INFO_SIZE   256  /* EXTRA_INFO_SIZE */

typedef uint64_t ucx_perf_counter_t;
typedef struct ucx_perf_context ucx_perf_context_t;

/* libperf.h: ucx_perf_accel_dev_t */
typedef struct {
    ucs_memory_type_t mem_type;
    int               device_id;
} ucx_perf_accel_dev_t;

/* libperf.h: ucx_perf_rte_t (only group_index is called) */
typedef struct ucx_perf_rte {
    void     *setup;
    void     *cleanup;
    void     *group_size;
    unsigned (*group_index)(void *rte_group);
    void     *barrier;
    void     *post_vec;
    void     *recv;
    void     *exchange_vec;
    ucs_list_link_t list;
} ucx_perf_rte_t;

/* libperf.h: ucx_perf_params_t; the enums are int-sized */
typedef struct ucx_perf_params {
    int                  api;
    int                  command;
    int                  test_type;
    ucs_thread_mode_t    thread_mode;
    unsigned             thread_count;
    ucs_async_mode_t     async_mode;
    int                  wait_mode;
    ucs_memory_type_t    send_mem_type;
    ucs_memory_type_t    recv_mem_type;
    ucx_perf_accel_dev_t send_device;
    ucx_perf_accel_dev_t recv_device;
    ucs_device_level_t   device_level;
    unsigned             flags;
    size_t               *msg_size_list;
    size_t               msg_size_cnt;
    size_t               iov_stride;
    size_t               alignment;
    unsigned             max_outstanding;
    ucx_perf_counter_t   warmup_iter;
    double               warmup_time;
    ucx_perf_counter_t   max_iter;
    double               max_time;
    double               report_interval;
    double               percentile_rank;
    int                  device_channel_mode;
    unsigned long long   channel_rand_seed;
    unsigned             device_thread_count;
    unsigned             device_block_count;
    unsigned             device_fc_window;
    void                 *rte_group;
    ucx_perf_rte_t       *rte;
    void                 *report_func;
    void                 *report_arg;
    struct {
        char             dev_name[UCT_DEVICE_NAME_MAX];
        char             tl_name[UCT_TL_NAME_MAX];
        char             md_name[UCT_MD_NAME_MAX];
        int              data_layout;
        unsigned         fc_window;
        size_t           am_hdr_size;
    } uct;
    struct {
        int                     send_datatype;
        int                     recv_datatype;
        size_t                  am_hdr_size;
        ucp_err_handling_mode_t err_mode;
        int                     is_daemon_mode;
        struct sockaddr_storage dmn_local_addr;
        struct sockaddr_storage dmn_remote_addr;
    } ucp;
} ucx_perf_params_t;

/* libperf_int.h: the allocator of one memory type */
typedef ucs_status_t (*ucx_perf_init_func_t)(ucx_perf_context_t *perf);

typedef ucs_status_t (*ucx_perf_uct_alloc_func_t)(
        const ucx_perf_context_t *perf, size_t length, unsigned flags,
        uct_allocated_memory_t *alloc_mem);

typedef void (*ucx_perf_uct_free_func_t)(const ucx_perf_context_t *perf,
                                         uct_allocated_memory_t *alloc_mem);

typedef void (*ucx_perf_memcpy_func_t)(void *dst,
                                       ucs_memory_type_t dst_mem_type,
                                       const void *src,
                                       ucs_memory_type_t src_mem_type,
                                       size_t count);

typedef void *(*ucx_perf_memset_func_t)(void *dst, int value, size_t count);

typedef struct ucx_perf_allocator {
    ucs_memory_type_t         mem_type;
    ucx_perf_init_func_t      init;
    ucx_perf_uct_alloc_func_t uct_alloc;
    ucx_perf_uct_free_func_t  uct_free;
    ucx_perf_memcpy_func_t    memcpy;
    ucx_perf_memset_func_t    memset;
} ucx_perf_allocator_t;

/* libperf_int.h: ucx_perf_context_t, up to the UCT part of its union */
typedef struct {
    ucx_perf_counter_t msgs;
    ucx_perf_counter_t bytes;
    ucx_perf_counter_t iters;
    uint64_t           time;
    double             time_acc;
} ucx_perf_habana_counters_t;

/* The UCT members follow a ucs_async_context_t (not installed; at least 64
 * bytes in any configuration): searched for at the pointer-aligned offsets
 * of the union from UCX_PERF_HABANA_UCT_SEARCH_MIN to _MAX, all within the
 * UCT part of the union */
#define UCX_PERF_HABANA_UCT_SEARCH_MIN 64
#define UCX_PERF_HABANA_UCT_SEARCH_MAX 192

/* uct/base/uct_md.h: the head of every memory domain (all releases) */
typedef struct {
    void            *ops;
    uct_component_h component;
} ucx_perf_habana_md_t;

/* libperf_int.h: the members of the context's uct part after its async
 * context */
typedef struct {
    uct_component_h cmpt;
    uct_md_h        md;
    uct_worker_h    worker;
    uct_iface_h     iface;
} ucx_perf_habana_uct_t;

struct ucx_perf_context {
    ucx_perf_params_t          params;
    void                       *send_buffer;
    void                       *recv_buffer;
    double                     start_time_acc;
    uint64_t                   end_time;
    uint64_t                   prev_time;
    uint64_t                   report_interval;
    ucx_perf_counter_t         max_iter;
    ucx_perf_habana_counters_t current, prev;
    uint64_t                   timing_queue[UCX_PERF_HABANA_TIMING_QUEUE_SIZE];
    unsigned                   timing_queue_head;
    const ucx_perf_allocator_t *send_allocator;
    const ucx_perf_allocator_t *recv_allocator;
    char                       extra_info[UCX_PERF_HABANA_EXTRA_INFO_SIZE];
    union {
        /* struct { ucs_async_context_t async; ucx_perf_habana_uct_t; ... } */
        uint8_t                uct[UCX_PERF_HABANA_UCT_SEARCH_MAX +
                                   sizeof(ucx_perf_habana_uct_t)];
        struct {
            ucp_context_h      context;
        } ucp;
    };
};

/* Defined by ucx_perftest (libperf.c), indexed by memory type */
extern const ucx_perf_allocator_t *ucx_perf_mem_type_allocators[];

/* ucx_perftest 1.22 and 1.23, any configuration, x86-64 (read from
 * Debian's 1.23.0~rc1) */
#if defined(__x86_64__) && !defined(__cplusplus)
_Static_assert(offsetof(ucx_perf_params_t, send_mem_type) == 0x1c,
               "ucx_perf_params_t.send_mem_type");
_Static_assert(offsetof(ucx_perf_params_t, flags) == 0x38,
               "ucx_perf_params_t.flags");
_Static_assert(offsetof(ucx_perf_params_t, rte_group) == 0xb8,
               "ucx_perf_params_t.rte_group");
_Static_assert(offsetof(ucx_perf_params_t, rte) == 0xc0,
               "ucx_perf_params_t.rte");
_Static_assert(offsetof(ucx_perf_rte_t, group_index) == 0x18,
               "ucx_perf_rte_t.group_index");
_Static_assert(offsetof(ucx_perf_context_t, send_allocator) == 0x42d0,
               "ucx_perf_context_t.send_allocator");
_Static_assert(offsetof(ucx_perf_context_t, recv_allocator) == 0x42d8,
               "ucx_perf_context_t.recv_allocator");
_Static_assert(offsetof(ucx_perf_context_t, ucp.context) == 0x43e0,
               "ucx_perf_context_t.ucp.context");
#endif

#endif
