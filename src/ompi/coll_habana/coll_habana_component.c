/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * mca_coll_habana: the component (parameters, counters) and the pool of
 * host staging buffers.
 *
 * Open MPI's reductions run ompi_op_reduce on the CPU, which cannot touch
 * Habana device memory.  This component sits above tuned, han, ucc and the
 * others (priority 85) and, for device buffers only, stages the data
 * through host memory around the next component's function: device ->
 * host copies through the accelerator framework (mca_accelerator_habana),
 * the next component on host buffers, host -> device copies of the
 * result.  Host buffers go to the next component directly (two address
 * compares).  It needs a non-null accelerator component (--mca accelerator
 * habana) and disqualifies itself otherwise.
 *
 * Parameters (ompi_info --param coll habana --level 9):
 *   coll_habana_priority     85
 *   coll_habana_chunk_size   blocking elementwise reductions (allreduce,
 *                            reduce, scan, exscan, reduce_local) larger than
 *                            this run in chunks of it, on every rank and
 *                            for any buffer (so ranks mixing host and
 *                            device buffers call the same sequence); 0: never
 *   coll_habana_pool_max     host buffers kept for reuse
 *   coll_habana_verbose      1: counters at MPI_Finalize, 2: every staging
 */
#include "coll_habana.h"

#include "opal/util/output.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HABANA_COLL_EXPORT __attribute__((visibility("default")))

/* Pool buffers are page aligned and a multiple of this */
#define HABANA_POOL_ALIGN   4096
#define HABANA_POOL_QUANTUM (64u << 10)

static struct {
    pthread_mutex_t lock;
    int             num;
    struct habana_pool_buf {
        void   *ptr;
        size_t cap;
    } bufs[HABANA_COLL_POOL_MAX];
} habana_pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Smallest free buffer of at least size, else a new one (replacing the
 * smallest free one when the pool is full) */
void *mca_coll_habana_pool_get(size_t size, size_t *cap)
{
    int i, best = -1;
    void *ptr;

    pthread_mutex_lock(&habana_pool.lock);
    for (i = 0; i < habana_pool.num; ++i) {
        if ((habana_pool.bufs[i].cap >= size) &&
            ((best < 0) || (habana_pool.bufs[i].cap < habana_pool.bufs[best].cap))) {
            best = i;
        }
    }
    if (best >= 0) {
        ptr  = habana_pool.bufs[best].ptr;
        *cap = habana_pool.bufs[best].cap;
        habana_pool.bufs[best] = habana_pool.bufs[--habana_pool.num];
        mca_coll_habana_component.pool_hits++;
        pthread_mutex_unlock(&habana_pool.lock);
        return ptr;
    }
    mca_coll_habana_component.pool_allocs++;
    pthread_mutex_unlock(&habana_pool.lock);

    *cap = (size + HABANA_POOL_QUANTUM - 1) & ~((size_t)HABANA_POOL_QUANTUM - 1);
    if (*cap == 0) {
        *cap = HABANA_POOL_QUANTUM;
    }
    if (posix_memalign(&ptr, HABANA_POOL_ALIGN, *cap) != 0) {
        return NULL;
    }
    return ptr;
}

/* Kept unless the pool is full or the buffer is larger than two chunks
 * (a one-off non-blocking reduction of a huge buffer) */
void mca_coll_habana_pool_put(void *ptr, size_t cap)
{
    const mca_coll_habana_component_t *c = &mca_coll_habana_component;
    size_t keep_max = (c->chunk > 0) ? (2 * c->chunk) : SIZE_MAX;
    int i, smallest = -1;

    if (ptr == NULL) {
        return;
    }
    pthread_mutex_lock(&habana_pool.lock);
    if (cap <= keep_max) {
        if (habana_pool.num < c->pool_max) {
            habana_pool.bufs[habana_pool.num].ptr   = ptr;
            habana_pool.bufs[habana_pool.num++].cap = cap;
            ptr = NULL;
        } else {
            /* full: keep the larger one */
            for (i = 0; i < habana_pool.num; ++i) {
                if ((smallest < 0) ||
                    (habana_pool.bufs[i].cap < habana_pool.bufs[smallest].cap)) {
                    smallest = i;
                }
            }
            if ((smallest >= 0) && (habana_pool.bufs[smallest].cap < cap)) {
                void *old = habana_pool.bufs[smallest].ptr;

                habana_pool.bufs[smallest].ptr = ptr;
                habana_pool.bufs[smallest].cap = cap;
                ptr = old;
            }
        }
    }
    pthread_mutex_unlock(&habana_pool.lock);
    free(ptr);
}

void mca_coll_habana_pool_fini(void)
{
    pthread_mutex_lock(&habana_pool.lock);
    while (habana_pool.num > 0) {
        free(habana_pool.bufs[--habana_pool.num].ptr);
    }
    pthread_mutex_unlock(&habana_pool.lock);
}

int mca_coll_habana_copy(void *dst, const void *src, size_t len, int to_dev)
{
    int ret;

    if (len == 0) {
        return OMPI_SUCCESS;
    }
    ret = opal_accelerator.mem_copy(to_dev ? 0 : MCA_ACCELERATOR_NO_DEVICE_ID,
                                    to_dev ? MCA_ACCELERATOR_NO_DEVICE_ID : 0,
                                    dst, src, len,
                                    to_dev ? MCA_ACCELERATOR_TRANSFER_HTOD :
                                             MCA_ACCELERATOR_TRANSFER_DTOH);
    if (ret != OPAL_SUCCESS) {
        opal_output(0, "coll/habana: staging copy %s %p <- %p (%zu bytes) failed (%d)",
                    to_dev ? "host->device" : "device->host", dst, src, len, ret);
        return OMPI_ERROR;
    }
    __atomic_fetch_add(to_dev ? &mca_coll_habana_component.bytes_h2d :
                                &mca_coll_habana_component.bytes_d2h,
                       len, __ATOMIC_RELAXED);
    return OMPI_SUCCESS;
}

/* ---- component ---------------------------------------------------------- */

static int habana_coll_register(void)
{
    mca_coll_habana_component_t *c = &mca_coll_habana_component;
    mca_base_component_t *v        = &c->super.collm_version;

    c->priority = HABANA_COLL_PRIORITY;
    (void)mca_base_component_var_register(v, "priority",
            "Priority of coll habana (it stages reductions on Habana device "
            "buffers; keep it above every component that could see them: "
            "tuned 30, han 35, ucc 10 by default)",
            MCA_BASE_VAR_TYPE_INT, NULL, 0, 0, OPAL_INFO_LVL_6,
            MCA_BASE_VAR_SCOPE_READONLY, &c->priority);
    c->chunk = HABANA_COLL_CHUNK;
    (void)mca_base_component_var_register(v, "chunk_size",
            "Blocking allreduce/reduce/scan/exscan/reduce_local larger than "
            "this many bytes run in chunks of it (on every rank, host buffers "
            "too, so that ranks mixing host and device buffers agree; must be "
            "the same on all ranks); bounds the staging memory; 0: never",
            MCA_BASE_VAR_TYPE_SIZE_T, NULL, 0, 0, OPAL_INFO_LVL_6,
            MCA_BASE_VAR_SCOPE_READONLY, &c->chunk);
    c->pool_max = 4;
    (void)mca_base_component_var_register(v, "pool_max",
            "Host staging buffers kept for reuse (at most 8)",
            MCA_BASE_VAR_TYPE_INT, NULL, 0, 0, OPAL_INFO_LVL_9,
            MCA_BASE_VAR_SCOPE_READONLY, &c->pool_max);
    c->verbose = 0;
    (void)mca_base_component_var_register(v, "verbose",
            "1: staging counters at MPI_Finalize; 2: also every refusal and "
            "comm selection",
            MCA_BASE_VAR_TYPE_INT, NULL, 0, 0, OPAL_INFO_LVL_9,
            MCA_BASE_VAR_SCOPE_READONLY, &c->verbose);
    if (c->pool_max < 0) {
        c->pool_max = 0;
    } else if (c->pool_max > HABANA_COLL_POOL_MAX) {
        c->pool_max = HABANA_COLL_POOL_MAX;
    }
    return OMPI_SUCCESS;
}

static int habana_coll_open(void)
{
    mca_coll_habana_component_t *c = &mca_coll_habana_component;

    c->output = opal_output_open(NULL);
    opal_output_set_verbosity(c->output, c->verbose);
    return OMPI_SUCCESS;
}

static int habana_coll_close(void)
{
    mca_coll_habana_component_t *c = &mca_coll_habana_component;

    if (c->staged_calls || c->refused) {
        opal_output_verbose(1, c->output,
                "coll/habana: pid %d: staged_calls=%lu chunks=%lu "
                "pool_allocs=%lu pool_hits=%lu d2h_bytes=%lu h2d_bytes=%lu "
                "refused=%lu", (int)getpid(), c->staged_calls,
                c->staged_chunks, c->pool_allocs, c->pool_hits, c->bytes_d2h,
                c->bytes_h2d, c->refused);
    }
    mca_coll_habana_pool_fini();
    opal_output_close(c->output);
    return OMPI_SUCCESS;
}

HABANA_COLL_EXPORT mca_coll_habana_component_t mca_coll_habana_component = {
    .super = {
        .collm_version = {
            MCA_COLL_BASE_VERSION_3_0_0,
            .mca_component_name            = "habana",
            /* this project's version, not Open MPI's */
            MCA_BASE_MAKE_VERSION(component, 0, 1, 0),
            .mca_open_component            = habana_coll_open,
            .mca_close_component           = habana_coll_close,
            .mca_register_component_params = habana_coll_register,
        },
        .collm_data = {
            MCA_BASE_METADATA_PARAM_CHECKPOINT
        },
        .collm_init_query = mca_coll_habana_init_query,
        .collm_comm_query = mca_coll_habana_comm_query,
    },
    .priority = HABANA_COLL_PRIORITY,
    .chunk    = HABANA_COLL_CHUNK,
    .pool_max = 4,
    .output   = -1,
};
