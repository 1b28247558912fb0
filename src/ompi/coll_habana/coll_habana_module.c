/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * mca_coll_habana: the module.  At enable it saves the communicator's
 * reduction functions (from tuned, han, ucc, libnbc, ...) and installs its
 * own in front of them; at disable it puts them back.
 *
 * Each function looks at the buffers that are significant on this rank.
 * None in device memory: the saved function is called with the caller's
 * arguments.  Otherwise the device ones are replaced by pooled host
 * buffers: send data (and, for MPI_IN_PLACE or a datatype with holes, the
 * receive buffer) is copied device -> host first, the saved function runs
 * on host memory, the result is copied host -> device.
 *
 *  - blocking allreduce, reduce, scan, exscan, reduce_local: in chunks of
 *    coll_habana_chunk_size (elementwise operations, so chunk k of the
 *    result only needs chunk k of the inputs), on every rank and for host
 *    buffers too, so ranks that mix host and device buffers in one call
 *    still call the same sequence of collectives;
 *  - blocking reduce_scatter, reduce_scatter_block: in one piece;
 *  - non-blocking (iallreduce, ireduce, ireduce_scatter(_block), iscan,
 *    iexscan): staged in one piece; the result is copied to the device by
 *    a completion callback on the request of the next component (chained
 *    in front of the callback that component may have set), so it is in
 *    place when MPI_Wait/MPI_Test returns;
 *  - persistent (MPI_Allreduce_init, ...): refused on device buffers with
 *    one line and MPI_ERR_BUFFER (the error handler reports it).
 *
 * On intercommunicators only allreduce, reduce and their non-blocking and
 * persistent forms are installed (reduce_local as well).
 */
#include "coll_habana.h"

#include "opal/util/output.h"

#include <stdlib.h>
#include <string.h>

OBJ_CLASS_INSTANCE(mca_coll_habana_module_t, mca_coll_base_module_t, NULL, NULL);

#define HABANA_NEXT(_m, _api) ((mca_coll_habana_module_t *)(_m))->next.coll_##_api
#define HABANA_NEXT_MODULE(_m, _api) \
    ((mca_coll_habana_module_t *)(_m))->next.coll_##_api##_module

/* ---- staging ------------------------------------------------------------- */

/* One buffer's host copy: device range [dev + gap, + len) */
typedef struct {
    char     *host;   /* pool buffer, NULL: not staged */
    size_t    cap;
    ptrdiff_t gap;
    size_t    len;
} habana_stage_t;

/* The staging of one call */
typedef struct {
    habana_stage_t s, r;
    const void    *sarg;      /* what the next component gets */
    void          *rarg;
    void          *rbuf;      /* device receive buffer, for the copy back */
    ptrdiff_t      out_gap;   /* result range in rbuf */
    size_t         out_len;
    int            staged;
    /* non-blocking: the callback of the next component's request */
    ompi_request_complete_fn_t prev_cb;
    void                      *prev_data;
} habana_staging_t;

enum {
    HABANA_R_COPY_IN = 1,     /* the receive buffer is also an input */
    HABANA_R_NO_OUT  = 2      /* the result is undefined (exscan, rank 0) */
};

static void habana_stage_release(habana_stage_t *st)
{
    if (st->host != NULL) {
        mca_coll_habana_pool_put(st->host, st->cap);
        st->host = NULL;
    }
}

static int habana_stage_get(habana_stage_t *st, const void *buf, size_t count,
                            ompi_datatype_t *dtype, int copy_in)
{
    st->len  = (size_t)opal_datatype_span(&dtype->super, count, &st->gap);
    st->host = mca_coll_habana_pool_get(st->len, &st->cap);
    if (st->host == NULL) {
        opal_output(0, "coll/habana: no host memory for staging %zu bytes", st->len);
        return OMPI_ERR_OUT_OF_RESOURCE;
    }
    if (!copy_in) {
        return OMPI_SUCCESS;
    }
    return mca_coll_habana_copy(st->host, (const char *)buf + st->gap, st->len, 0);
}

/*
 * Stage the significant buffers of one call:
 *   sbuf, scount   send buffer (ignored if !s_sig or MPI_IN_PLACE)
 *   rbuf           receive buffer (ignored if !r_sig): with MPI_IN_PLACE
 *                  it holds rin_count input elements, the result is
 *                  rout_count elements at its start
 * Nothing in device memory: x->staged 0, the arguments unchanged.
 */
static int habana_staging_begin(habana_staging_t *x, const void *sbuf,
                                size_t scount, void *rbuf, size_t rin_count,
                                size_t rout_count, ompi_datatype_t *dtype,
                                int s_sig, int r_sig, int flags)
{
    int in_place = (sbuf == MPI_IN_PLACE);
    int s_dev    = s_sig && !in_place && (scount > 0) && mca_coll_habana_is_dev(sbuf);
    int r_dev    = r_sig && mca_coll_habana_is_dev(rbuf) &&
                   ((in_place ? rin_count : rout_count) > 0);
    size_t rcount;
    int ret;

    memset(x, 0, sizeof(*x));
    x->sarg = sbuf;
    x->rarg = rbuf;
    if (!s_dev && !r_dev) {
        return OMPI_SUCCESS;
    }
    x->staged = 1;
    __atomic_fetch_add(&mca_coll_habana_component.staged_calls, 1, __ATOMIC_RELAXED);

    if (s_dev) {
        ret = habana_stage_get(&x->s, sbuf, scount, dtype, 1);
        if (ret != OMPI_SUCCESS) {
            goto err;
        }
        x->sarg = x->s.host - x->s.gap;
    }
    if (r_dev) {
        rcount = in_place ? rin_count : rout_count;
        ret    = habana_stage_get(&x->r, rbuf, rcount, dtype,
                                  in_place || (flags & HABANA_R_COPY_IN) ||
                                  !ompi_datatype_is_contiguous_memory_layout(dtype, rcount));
        if (ret != OMPI_SUCCESS) {
            goto err;
        }
        x->rarg = x->r.host - x->r.gap;
        if (!(flags & HABANA_R_NO_OUT) && (rout_count > 0)) {
            x->rbuf    = rbuf;
            x->out_len = (size_t)opal_datatype_span(&dtype->super, rout_count,
                                                    &x->out_gap);
        }
    }
    return OMPI_SUCCESS;

err:
    habana_stage_release(&x->s);
    habana_stage_release(&x->r);
    return ret;
}

/* Copy the result back (if rc is success) and release the host buffers */
static int habana_staging_end(habana_staging_t *x, int rc)
{
    if ((rc == OMPI_SUCCESS) && (x->rbuf != NULL)) {
        rc = mca_coll_habana_copy((char *)x->rbuf + x->out_gap,
                                  (char *)x->rarg + x->out_gap, x->out_len, 1);
    }
    habana_stage_release(&x->s);
    habana_stage_release(&x->r);
    return rc;
}

/* ---- blocking elementwise reductions, in chunks ---------------------------- */

typedef enum {
    HABANA_ALLREDUCE,
    HABANA_REDUCE,
    HABANA_SCAN,
    HABANA_EXSCAN,
    HABANA_REDUCE_LOCAL
} habana_kind_t;

static int habana_call_chunk(habana_kind_t kind, const void *s, void *r,
                             size_t n, ompi_datatype_t *dtype, ompi_op_t *op,
                             int root, ompi_communicator_t *comm,
                             mca_coll_base_module_t *m)
{
    switch (kind) {
    case HABANA_ALLREDUCE:
        return HABANA_NEXT(m, allreduce)(s, r, n, dtype, op, comm,
                                         HABANA_NEXT_MODULE(m, allreduce));
    case HABANA_REDUCE:
        return HABANA_NEXT(m, reduce)(s, r, n, dtype, op, root, comm,
                                      HABANA_NEXT_MODULE(m, reduce));
    case HABANA_SCAN:
        return HABANA_NEXT(m, scan)(s, r, n, dtype, op, comm,
                                    HABANA_NEXT_MODULE(m, scan));
    case HABANA_EXSCAN:
        return HABANA_NEXT(m, exscan)(s, r, n, dtype, op, comm,
                                      HABANA_NEXT_MODULE(m, exscan));
    case HABANA_REDUCE_LOCAL:
        return HABANA_NEXT(m, reduce_local)(s, r, n, dtype, op,
                                            HABANA_NEXT_MODULE(m, reduce_local));
    }
    return OMPI_ERR_BAD_PARAM;
}

static int habana_elementwise(habana_kind_t kind, const void *sbuf, void *rbuf,
                              size_t count, ompi_datatype_t *dtype,
                              ompi_op_t *op, int root,
                              ompi_communicator_t *comm,
                              mca_coll_base_module_t *m)
{
    const size_t chunk = mca_coll_habana_component.chunk;
    int inter = (comm != NULL) && OMPI_COMM_IS_INTER(comm);
    int rank  = (comm != NULL) ? ompi_comm_rank(comm) : 0;
    int s_sig = 1, r_sig = 1, flags = 0, ret = OMPI_SUCCESS;
    ptrdiff_t lb, extent;
    size_t per, off, n;
    habana_staging_t x;

    ompi_datatype_get_extent(dtype, &lb, &extent);
    per = ((chunk > 0) && (extent > 0) && ((size_t)extent <= chunk)) ?
          (chunk / (size_t)extent) : count;
    if (per == 0) {
        per = 1;
    }

    /* host buffers that fit in one chunk: straight to the next component */
    if ((count <= per) && !mca_coll_habana_is_dev(sbuf) &&
        !mca_coll_habana_is_dev(rbuf)) {
        return habana_call_chunk(kind, sbuf, rbuf, count, dtype, op, root,
                                 comm, m);
    }

    switch (kind) {
    case HABANA_REDUCE:
        if (inter) {
            r_sig = (root == MPI_ROOT);
            s_sig = (root >= 0);
        } else {
            r_sig = (rank == root);
        }
        break;
    case HABANA_EXSCAN:
        if (rank == 0) {
            flags |= HABANA_R_NO_OUT;
        }
        break;
    case HABANA_REDUCE_LOCAL:
        flags |= HABANA_R_COPY_IN;
        break;
    default:
        break;
    }

    for (off = 0; (off < count) && (ret == OMPI_SUCCESS); off += n) {
        const void *s = (sbuf == MPI_IN_PLACE || !s_sig) ? sbuf :
                        (const char *)sbuf + off * (size_t)extent;
        void *r = r_sig ? (char *)rbuf + off * (size_t)extent : rbuf;

        n   = ((count - off) < per) ? (count - off) : per;
        ret = habana_staging_begin(&x, s, n, r, n, n, dtype, s_sig, r_sig, flags);
        if (ret != OMPI_SUCCESS) {
            break;
        }
        if (x.staged) {
            __atomic_fetch_add(&mca_coll_habana_component.staged_chunks, 1,
                               __ATOMIC_RELAXED);
        }
        ret = habana_call_chunk(kind, x.sarg, x.rarg, n, dtype, op, root, comm, m);
        ret = habana_staging_end(&x, ret);
    }
    return ret;
}

static int mca_coll_habana_allreduce(const void *sbuf, void *rbuf, size_t count,
                                     ompi_datatype_t *dtype, ompi_op_t *op,
                                     ompi_communicator_t *comm,
                                     mca_coll_base_module_t *module)
{
    return habana_elementwise(HABANA_ALLREDUCE, sbuf, rbuf, count, dtype, op,
                              -1, comm, module);
}

static int mca_coll_habana_reduce(const void *sbuf, void *rbuf, size_t count,
                                  ompi_datatype_t *dtype, ompi_op_t *op,
                                  int root, ompi_communicator_t *comm,
                                  mca_coll_base_module_t *module)
{
    return habana_elementwise(HABANA_REDUCE, sbuf, rbuf, count, dtype, op,
                              root, comm, module);
}

static int mca_coll_habana_scan(const void *sbuf, void *rbuf, size_t count,
                                ompi_datatype_t *dtype, ompi_op_t *op,
                                ompi_communicator_t *comm,
                                mca_coll_base_module_t *module)
{
    return habana_elementwise(HABANA_SCAN, sbuf, rbuf, count, dtype, op, -1,
                              comm, module);
}

static int mca_coll_habana_exscan(const void *sbuf, void *rbuf, size_t count,
                                  ompi_datatype_t *dtype, ompi_op_t *op,
                                  ompi_communicator_t *comm,
                                  mca_coll_base_module_t *module)
{
    return habana_elementwise(HABANA_EXSCAN, sbuf, rbuf, count, dtype, op, -1,
                              comm, module);
}

static int mca_coll_habana_reduce_local(const void *inbuf, void *inoutbuf,
                                        size_t count, ompi_datatype_t *dtype,
                                        ompi_op_t *op,
                                        mca_coll_base_module_t *module)
{
    return habana_elementwise(HABANA_REDUCE_LOCAL, inbuf, inoutbuf, count,
                              dtype, op, -1, NULL, module);
}

/* ---- blocking reduce_scatter(_block): in one piece ------------------------- */

static size_t habana_sum_counts(ompi_count_array_t rcounts, int n)
{
    size_t total = 0;
    int i;

    for (i = 0; i < n; ++i) {
        total += ompi_count_array_get(rcounts, i);
    }
    return total;
}

static int mca_coll_habana_reduce_scatter(const void *sbuf, void *rbuf,
                                          ompi_count_array_t rcounts,
                                          ompi_datatype_t *dtype, ompi_op_t *op,
                                          ompi_communicator_t *comm,
                                          mca_coll_base_module_t *module)
{
    int size = ompi_comm_size(comm), rank = ompi_comm_rank(comm), ret;
    habana_staging_t x;
    size_t total;

    if (!mca_coll_habana_is_dev(sbuf) && !mca_coll_habana_is_dev(rbuf)) {
        return HABANA_NEXT(module, reduce_scatter)(sbuf, rbuf, rcounts, dtype,
                    op, comm, HABANA_NEXT_MODULE(module, reduce_scatter));
    }
    total = habana_sum_counts(rcounts, size);
    ret   = habana_staging_begin(&x, sbuf, total, rbuf, total,
                                 ompi_count_array_get(rcounts, rank), dtype,
                                 1, 1, 0);
    if (ret != OMPI_SUCCESS) {
        return ret;
    }
    ret = HABANA_NEXT(module, reduce_scatter)(x.sarg, x.rarg, rcounts, dtype, op,
                comm, HABANA_NEXT_MODULE(module, reduce_scatter));
    return habana_staging_end(&x, ret);
}

static int mca_coll_habana_reduce_scatter_block(const void *sbuf, void *rbuf,
                                                size_t rcount,
                                                ompi_datatype_t *dtype,
                                                ompi_op_t *op,
                                                ompi_communicator_t *comm,
                                                mca_coll_base_module_t *module)
{
    size_t total = rcount * (size_t)ompi_comm_size(comm);
    habana_staging_t x;
    int ret;

    if (!mca_coll_habana_is_dev(sbuf) && !mca_coll_habana_is_dev(rbuf)) {
        return HABANA_NEXT(module, reduce_scatter_block)(sbuf, rbuf, rcount,
                    dtype, op, comm, HABANA_NEXT_MODULE(module, reduce_scatter_block));
    }
    ret = habana_staging_begin(&x, sbuf, total, rbuf, total, rcount, dtype,
                               1, 1, 0);
    if (ret != OMPI_SUCCESS) {
        return ret;
    }
    ret = HABANA_NEXT(module, reduce_scatter_block)(x.sarg, x.rarg, rcount,
                dtype, op, comm, HABANA_NEXT_MODULE(module, reduce_scatter_block));
    return habana_staging_end(&x, ret);
}

/* ---- non-blocking: the result is copied at completion ---------------------- */

static int habana_nb_complete(ompi_request_t *req)
{
    habana_staging_t *x = req->req_complete_cb_data;
    ompi_request_complete_fn_t prev = x->prev_cb;
    int rc = (req->req_status.MPI_ERROR == MPI_SUCCESS) ? OMPI_SUCCESS : OMPI_ERROR;

    if ((habana_staging_end(x, rc) != OMPI_SUCCESS) && (rc == OMPI_SUCCESS)) {
        req->req_status.MPI_ERROR = MPI_ERR_OTHER;
    }
    req->req_complete_cb_data = x->prev_data;
    free(x);
    return (prev != NULL) ? prev(req) : 0;
}

/* After the next component's call: hand x to its request, or clean up */
static int habana_nb_started(habana_staging_t *x, int ret, ompi_request_t **request)
{
    if ((ret != OMPI_SUCCESS) || (*request == NULL) ||
        (*request == &ompi_request_empty)) {
        ret = habana_staging_end(x, ret);
        free(x);
        return ret;
    }
    x->prev_cb   = (*request)->req_complete_cb;
    x->prev_data = (*request)->req_complete_cb_data;
    /* runs the callback at once if the request already completed */
    (void)ompi_request_set_callback(*request, habana_nb_complete, x);
    return OMPI_SUCCESS;
}

/* Allocates *px and stages; *px NULL: nothing on the device */
static int habana_nb_begin(habana_staging_t **px, const void *sbuf,
                           size_t scount, void *rbuf, size_t rin_count,
                           size_t rout_count, ompi_datatype_t *dtype,
                           int s_sig, int r_sig, int flags)
{
    habana_staging_t *x;
    int ret;

    *px = NULL;
    if (!(s_sig && mca_coll_habana_is_dev(sbuf)) &&
        !(r_sig && mca_coll_habana_is_dev(rbuf))) {
        return OMPI_SUCCESS;
    }
    x = malloc(sizeof(*x));
    if (x == NULL) {
        return OMPI_ERR_OUT_OF_RESOURCE;
    }
    ret = habana_staging_begin(x, sbuf, scount, rbuf, rin_count, rout_count,
                               dtype, s_sig, r_sig, flags);
    if ((ret != OMPI_SUCCESS) || !x->staged) {
        free(x);
        return ret;
    }
    *px = x;
    return OMPI_SUCCESS;
}

static int mca_coll_habana_iallreduce(const void *sbuf, void *rbuf, size_t count,
                                      ompi_datatype_t *dtype, ompi_op_t *op,
                                      ompi_communicator_t *comm,
                                      ompi_request_t **request,
                                      mca_coll_base_module_t *module)
{
    habana_staging_t *x;
    int ret;

    ret = habana_nb_begin(&x, sbuf, count, rbuf, count, count, dtype, 1, 1, 0);
    if ((ret != OMPI_SUCCESS) || (x == NULL)) {
        return (ret != OMPI_SUCCESS) ? ret :
               HABANA_NEXT(module, iallreduce)(sbuf, rbuf, count, dtype, op,
                        comm, request, HABANA_NEXT_MODULE(module, iallreduce));
    }
    ret = HABANA_NEXT(module, iallreduce)(x->sarg, x->rarg, count, dtype, op,
                comm, request, HABANA_NEXT_MODULE(module, iallreduce));
    return habana_nb_started(x, ret, request);
}

static int mca_coll_habana_ireduce(const void *sbuf, void *rbuf, size_t count,
                                   ompi_datatype_t *dtype, ompi_op_t *op,
                                   int root, ompi_communicator_t *comm,
                                   ompi_request_t **request,
                                   mca_coll_base_module_t *module)
{
    int inter = OMPI_COMM_IS_INTER(comm), s_sig = 1, r_sig, ret;
    habana_staging_t *x;

    if (inter) {
        r_sig = (root == MPI_ROOT);
        s_sig = (root >= 0);
    } else {
        r_sig = (ompi_comm_rank(comm) == root);
    }
    ret = habana_nb_begin(&x, sbuf, count, rbuf, count, count, dtype, s_sig,
                          r_sig, 0);
    if ((ret != OMPI_SUCCESS) || (x == NULL)) {
        return (ret != OMPI_SUCCESS) ? ret :
               HABANA_NEXT(module, ireduce)(sbuf, rbuf, count, dtype, op, root,
                        comm, request, HABANA_NEXT_MODULE(module, ireduce));
    }
    ret = HABANA_NEXT(module, ireduce)(x->sarg, x->rarg, count, dtype, op, root,
                comm, request, HABANA_NEXT_MODULE(module, ireduce));
    return habana_nb_started(x, ret, request);
}

static int mca_coll_habana_ireduce_scatter(const void *sbuf, void *rbuf,
                                           ompi_count_array_t rcounts,
                                           ompi_datatype_t *dtype, ompi_op_t *op,
                                           ompi_communicator_t *comm,
                                           ompi_request_t **request,
                                           mca_coll_base_module_t *module)
{
    size_t total = habana_sum_counts(rcounts, ompi_comm_size(comm));
    habana_staging_t *x;
    int ret;

    ret = habana_nb_begin(&x, sbuf, total, rbuf, total,
                          ompi_count_array_get(rcounts, ompi_comm_rank(comm)),
                          dtype, 1, 1, 0);
    if ((ret != OMPI_SUCCESS) || (x == NULL)) {
        return (ret != OMPI_SUCCESS) ? ret :
               HABANA_NEXT(module, ireduce_scatter)(sbuf, rbuf, rcounts, dtype,
                        op, comm, request, HABANA_NEXT_MODULE(module, ireduce_scatter));
    }
    ret = HABANA_NEXT(module, ireduce_scatter)(x->sarg, x->rarg, rcounts, dtype,
                op, comm, request, HABANA_NEXT_MODULE(module, ireduce_scatter));
    return habana_nb_started(x, ret, request);
}

static int mca_coll_habana_ireduce_scatter_block(const void *sbuf, void *rbuf,
                                                 size_t rcount,
                                                 ompi_datatype_t *dtype,
                                                 ompi_op_t *op,
                                                 ompi_communicator_t *comm,
                                                 ompi_request_t **request,
                                                 mca_coll_base_module_t *module)
{
    size_t total = rcount * (size_t)ompi_comm_size(comm);
    habana_staging_t *x;
    int ret;

    ret = habana_nb_begin(&x, sbuf, total, rbuf, total, rcount, dtype, 1, 1, 0);
    if ((ret != OMPI_SUCCESS) || (x == NULL)) {
        return (ret != OMPI_SUCCESS) ? ret :
               HABANA_NEXT(module, ireduce_scatter_block)(sbuf, rbuf, rcount,
                        dtype, op, comm, request,
                        HABANA_NEXT_MODULE(module, ireduce_scatter_block));
    }
    ret = HABANA_NEXT(module, ireduce_scatter_block)(x->sarg, x->rarg, rcount,
                dtype, op, comm, request,
                HABANA_NEXT_MODULE(module, ireduce_scatter_block));
    return habana_nb_started(x, ret, request);
}

static int mca_coll_habana_iscan(const void *sbuf, void *rbuf, size_t count,
                                 ompi_datatype_t *dtype, ompi_op_t *op,
                                 ompi_communicator_t *comm,
                                 ompi_request_t **request,
                                 mca_coll_base_module_t *module)
{
    habana_staging_t *x;
    int ret;

    ret = habana_nb_begin(&x, sbuf, count, rbuf, count, count, dtype, 1, 1, 0);
    if ((ret != OMPI_SUCCESS) || (x == NULL)) {
        return (ret != OMPI_SUCCESS) ? ret :
               HABANA_NEXT(module, iscan)(sbuf, rbuf, count, dtype, op, comm,
                        request, HABANA_NEXT_MODULE(module, iscan));
    }
    ret = HABANA_NEXT(module, iscan)(x->sarg, x->rarg, count, dtype, op, comm,
                request, HABANA_NEXT_MODULE(module, iscan));
    return habana_nb_started(x, ret, request);
}

static int mca_coll_habana_iexscan(const void *sbuf, void *rbuf, size_t count,
                                   ompi_datatype_t *dtype, ompi_op_t *op,
                                   ompi_communicator_t *comm,
                                   ompi_request_t **request,
                                   mca_coll_base_module_t *module)
{
    habana_staging_t *x;
    int ret;

    ret = habana_nb_begin(&x, sbuf, count, rbuf, count, count, dtype, 1, 1,
                          (ompi_comm_rank(comm) == 0) ? HABANA_R_NO_OUT : 0);
    if ((ret != OMPI_SUCCESS) || (x == NULL)) {
        return (ret != OMPI_SUCCESS) ? ret :
               HABANA_NEXT(module, iexscan)(sbuf, rbuf, count, dtype, op, comm,
                        request, HABANA_NEXT_MODULE(module, iexscan));
    }
    ret = HABANA_NEXT(module, iexscan)(x->sarg, x->rarg, count, dtype, op, comm,
                request, HABANA_NEXT_MODULE(module, iexscan));
    return habana_nb_started(x, ret, request);
}

/* ---- persistent: refused on device buffers -------------------------------- */

static int habana_refuse(const char *call, const void *sbuf, const void *rbuf)
{
    if (!mca_coll_habana_is_dev(sbuf) && !mca_coll_habana_is_dev(rbuf)) {
        return 0;
    }
    __atomic_fetch_add(&mca_coll_habana_component.refused, 1, __ATOMIC_RELAXED);
    opal_output(0, "coll/habana: %s on Habana device memory is not supported "
                "(persistent reductions are not staged): use the blocking or "
                "non-blocking call, or host buffers", call);
    return 1;
}

#define HABANA_PERSISTENT(_api, _name, _params, _args) \
    static int mca_coll_habana_##_api _params \
    { \
        if (habana_refuse(_name, sbuf, rbuf)) { \
            return MPI_ERR_BUFFER; \
        } \
        return HABANA_NEXT(module, _api) _args; \
    }

HABANA_PERSISTENT(allreduce_init, "MPI_Allreduce_init",
    (const void *sbuf, void *rbuf, size_t count, ompi_datatype_t *dtype,
     ompi_op_t *op, ompi_communicator_t *comm, ompi_info_t *info,
     ompi_request_t **request, mca_coll_base_module_t *module),
    (sbuf, rbuf, count, dtype, op, comm, info, request,
     HABANA_NEXT_MODULE(module, allreduce_init)))
HABANA_PERSISTENT(reduce_init, "MPI_Reduce_init",
    (const void *sbuf, void *rbuf, size_t count, ompi_datatype_t *dtype,
     ompi_op_t *op, int root, ompi_communicator_t *comm, ompi_info_t *info,
     ompi_request_t **request, mca_coll_base_module_t *module),
    (sbuf, rbuf, count, dtype, op, root, comm, info, request,
     HABANA_NEXT_MODULE(module, reduce_init)))
HABANA_PERSISTENT(reduce_scatter_init, "MPI_Reduce_scatter_init",
    (const void *sbuf, void *rbuf, ompi_count_array_t rcounts,
     ompi_datatype_t *dtype, ompi_op_t *op, ompi_communicator_t *comm,
     ompi_info_t *info, ompi_request_t **request, mca_coll_base_module_t *module),
    (sbuf, rbuf, rcounts, dtype, op, comm, info, request,
     HABANA_NEXT_MODULE(module, reduce_scatter_init)))
HABANA_PERSISTENT(reduce_scatter_block_init, "MPI_Reduce_scatter_block_init",
    (const void *sbuf, void *rbuf, size_t rcount, ompi_datatype_t *dtype,
     ompi_op_t *op, ompi_communicator_t *comm, ompi_info_t *info,
     ompi_request_t **request, mca_coll_base_module_t *module),
    (sbuf, rbuf, rcount, dtype, op, comm, info, request,
     HABANA_NEXT_MODULE(module, reduce_scatter_block_init)))
HABANA_PERSISTENT(scan_init, "MPI_Scan_init",
    (const void *sbuf, void *rbuf, size_t count, ompi_datatype_t *dtype,
     ompi_op_t *op, ompi_communicator_t *comm, ompi_info_t *info,
     ompi_request_t **request, mca_coll_base_module_t *module),
    (sbuf, rbuf, count, dtype, op, comm, info, request,
     HABANA_NEXT_MODULE(module, scan_init)))
HABANA_PERSISTENT(exscan_init, "MPI_Exscan_init",
    (const void *sbuf, void *rbuf, size_t count, ompi_datatype_t *dtype,
     ompi_op_t *op, ompi_communicator_t *comm, ompi_info_t *info,
     ompi_request_t **request, mca_coll_base_module_t *module),
    (sbuf, rbuf, count, dtype, op, comm, info, request,
     HABANA_NEXT_MODULE(module, exscan_init)))

/* ---- module -------------------------------------------------------------- */

/* MPI defines no scan/exscan and this module stages no reduce_scatter on
 * intercommunicators */
static int habana_api_on_inter(const char *api)
{
    return !strstr(api, "scan") && !strstr(api, "scatter");
}

#define HABANA_INSTALL(_api) \
    if (((_comm)->c_coll->coll_##_api != NULL) && \
        (!OMPI_COMM_IS_INTER(_comm) || habana_api_on_inter(#_api))) { \
        MCA_COLL_SAVE_API(_comm, _api, _m->next.coll_##_api, \
                          _m->next.coll_##_api##_module, "habana"); \
        MCA_COLL_INSTALL_API(_comm, _api, mca_coll_habana_##_api, &_m->super, \
                             "habana"); \
    }

#define HABANA_UNINSTALL(_api) \
    if ((_comm)->c_coll->coll_##_api##_module == &_m->super) { \
        MCA_COLL_INSTALL_API(_comm, _api, _m->next.coll_##_api, \
                             _m->next.coll_##_api##_module, "habana"); \
        _m->next.coll_##_api        = NULL; \
        _m->next.coll_##_api##_module = NULL; \
    }

static int habana_module_enable(mca_coll_base_module_t *module,
                                ompi_communicator_t *_comm)
{
    mca_coll_habana_module_t *_m = (mca_coll_habana_module_t *)module;

    HABANA_COLL_APIS(HABANA_INSTALL)
    return OMPI_SUCCESS;
}

static int habana_module_disable(mca_coll_base_module_t *module,
                                 ompi_communicator_t *_comm)
{
    mca_coll_habana_module_t *_m = (mca_coll_habana_module_t *)module;

    HABANA_COLL_APIS(HABANA_UNINSTALL)
    return OMPI_SUCCESS;
}

int mca_coll_habana_init_query(bool enable_progress_threads,
                               bool enable_mpi_threads)
{
    return OMPI_SUCCESS;
}

/* Only with an accelerator component that knows device memory */
mca_coll_base_module_t *mca_coll_habana_comm_query(ompi_communicator_t *comm,
                                                   int *priority)
{
    const char *acc = opal_accelerator_base_selected_component.base_version.mca_component_name;
    mca_coll_habana_module_t *m;

    if ((mca_coll_habana_component.priority < 0) || !strcmp(acc, "null")) {
        opal_output_verbose(2, mca_coll_habana_component.output,
                            "coll/habana: not used on %s (accelerator %s)",
                            comm->c_name, acc);
        return NULL;
    }
    m = OBJ_NEW(mca_coll_habana_module_t);
    if (m == NULL) {
        return NULL;
    }
    memset(&m->next, 0, sizeof(m->next));
    m->super.coll_module_enable  = habana_module_enable;
    m->super.coll_module_disable = habana_module_disable;
    *priority = mca_coll_habana_component.priority;
    opal_output_verbose(2, mca_coll_habana_component.output,
                        "coll/habana: in front of the reductions of %s (accelerator %s)",
                        comm->c_name, acc);
    return &m->super;
}
