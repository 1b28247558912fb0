/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * mca_coll_habana: Open MPI (6.0) collective component that stages
 * reductions on Habana device buffers through host memory.  Shared
 * declarations of the component, the module and the staging pool.
 */
#ifndef MCA_COLL_HABANA_H_
#define MCA_COLL_HABANA_H_

#include "ompi_config.h"

#include "mpi.h"
#include "ompi/constants.h"
#include "ompi/communicator/communicator.h"
#include "ompi/datatype/ompi_datatype.h"
#include "ompi/op/op.h"
#include "ompi/request/request.h"
#include "ompi/mca/coll/coll.h"
#include "ompi/mca/coll/base/base.h"
#include "opal/mca/accelerator/accelerator.h"
#include "opal/mca/accelerator/base/base.h"

#include <stddef.h>

BEGIN_C_DECLS

/* Default priority: above tuned (30), han (35), sync (50), self (75);
 * coll/ucc defaults to 10 */
#define HABANA_COLL_PRIORITY       85
/* Default chunk of the blocking elementwise reductions (bytes) */
#define HABANA_COLL_CHUNK          (4u << 20)
/* Host buffers kept by the pool */
#define HABANA_COLL_POOL_MAX       8

typedef struct {
    mca_coll_base_component_t super;
    int    priority;
    int    verbose;
    size_t chunk;          /* coll_habana_chunk_size */
    int    pool_max;       /* coll_habana_pool_max */
    int    output;         /* opal_output stream */
    /* counters, printed at close with coll_habana_verbose >= 1 */
    unsigned long staged_calls;
    unsigned long staged_chunks;
    unsigned long pool_allocs;
    unsigned long pool_hits;
    unsigned long bytes_d2h;
    unsigned long bytes_h2d;
    unsigned long refused;
} mca_coll_habana_component_t;

OMPI_DECLSPEC extern mca_coll_habana_component_t mca_coll_habana_component;

/* The functions this module stands in front of, and who provided them */
#define HABANA_COLL_APIS(_) \
    _(allreduce) _(reduce) _(reduce_scatter) _(reduce_scatter_block) \
    _(scan) _(exscan) _(reduce_local) \
    _(iallreduce) _(ireduce) _(ireduce_scatter) _(ireduce_scatter_block) \
    _(iscan) _(iexscan) \
    _(allreduce_init) _(reduce_init) _(reduce_scatter_init) \
    _(reduce_scatter_block_init) _(scan_init) _(exscan_init)

typedef struct {
    mca_coll_base_module_t super;
    struct {
#define HABANA_COLL_SAVED(_api) \
        mca_coll_base_module_##_api##_fn_t coll_##_api; \
        mca_coll_base_module_t *coll_##_api##_module;
        HABANA_COLL_APIS(HABANA_COLL_SAVED)
#undef HABANA_COLL_SAVED
    } next;
} mca_coll_habana_module_t;

OBJ_CLASS_DECLARATION(mca_coll_habana_module_t);

int mca_coll_habana_init_query(bool enable_progress_threads,
                               bool enable_mpi_threads);
mca_coll_base_module_t *mca_coll_habana_comm_query(struct ompi_communicator_t *comm,
                                                   int *priority);

/* Staging pool (coll_habana_pool.c) */
void *mca_coll_habana_pool_get(size_t size, size_t *cap);
void  mca_coll_habana_pool_put(void *ptr, size_t cap);
void  mca_coll_habana_pool_fini(void);

/* Is addr Habana device memory (the accelerator framework's check_addr)? */
static inline int mca_coll_habana_is_dev(const void *addr)
{
    uint64_t flags;
    int dev_id;

    if ((addr == NULL) || (addr == MPI_IN_PLACE)) {
        return 0;
    }
    return opal_accelerator.check_addr(addr, &dev_id, &flags) > 0;
}

/* Copies between host and device memory through the accelerator
 * framework (counted); OMPI_SUCCESS or an error */
int mca_coll_habana_copy(void *dst, const void *src, size_t len, int to_dev);

END_C_DECLS

#endif
