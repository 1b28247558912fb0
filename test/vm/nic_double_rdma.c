/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * nic_double_rdma: RDMA to and from Habana device memory registered with
 * ibv_reg_dmabuf_mr, over a loopback RC connection (two QPs of one RDMA
 * device connected to each other).  Made for the VM suite: soft RoCE
 * (rxe) with the NIC test double preloaded (test/double/
 * nic_dmabuf_double.c) and hlsim loaded with test_dmabuf_mmap=1.
 *
 *   nic_double_rdma [-d RDMA_DEVICE] [-s SIZE]      the transfers (exit 0)
 *   nic_double_rdma -r [-d RDMA_DEVICE]             expect the registration
 *                                                   to be refused with
 *                                                   EOPNOTSUPP (exit 0)
 *
 * The device buffer is registered with iova = its device virtual address,
 * as UCX does, and every work request addresses it by that address:
 *   1. RDMA WRITE host -> device at an unaligned offset (remote key);
 *   2. RDMA READ device -> host (remote key);
 *   3. RDMA WRITE device -> host (the device buffer as the local SGE);
 * each checked through libhlmem (the hlsim DMA copy), never by the CPU
 * touching device memory, including that the bytes around the target
 * range did not change.  Exit status 1 on any failure, 2 on usage errors.
 */
#include <src/tools/hlmem/hlmem.h>

#include <infiniband/verbs.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PORT		1
#define TIMEOUT_US	(20 * 1000 * 1000)

static int failures;

static void check(int ok, const char *what)
{
    printf("%s - %s\n", ok ? "ok" : "not ok", what);
    fflush(stdout);
    if (!ok) {
        failures++;
    }
}

static void die(const char *what, int err)
{
    fprintf(stderr, "nic_double_rdma: %s: %s\n", what, strerror(err));
    exit(1);
}

static void pattern(unsigned char *p, size_t n, unsigned seed)
{
    size_t i;

    for (i = 0; i < n; ++i) {
        p[i] = (unsigned char)(seed + i * 13 + (i >> 10));
    }
}

/* A RoCE v2 GID with an IPv4 address (rxe has one per address), else 0 */
static int pick_gid(struct ibv_context *ctx, union ibv_gid *gid)
{
    struct ibv_port_attr port;
    struct ibv_gid_entry entry;
    int i;

    if (ibv_query_port(ctx, PORT, &port)) {
        die("ibv_query_port", errno);
    }
    for (i = 0; i < port.gid_tbl_len; ++i) {
        if (ibv_query_gid_ex(ctx, PORT, i, &entry, 0)) {
            continue;
        }
        if ((entry.gid_type == IBV_GID_TYPE_ROCE_V2) &&
            (entry.gid.raw[10] == 0xff) && (entry.gid.raw[11] == 0xff)) {
            *gid = entry.gid;
            return i;
        }
    }
    if (ibv_query_gid(ctx, PORT, 0, gid)) {
        die("ibv_query_gid", errno);
    }
    return 0;
}

static void qp_connect(struct ibv_qp *qp, uint32_t dest_qpn, int gid_index,
                       const union ibv_gid *gid)
{
    struct ibv_qp_attr attr;
    int ret;

    memset(&attr, 0, sizeof(attr));
    attr.qp_state        = IBV_QPS_INIT;
    attr.pkey_index      = 0;
    attr.port_num        = PORT;
    attr.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |
                           IBV_ACCESS_REMOTE_WRITE;
    ret = ibv_modify_qp(qp, &attr, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
                        IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
    if (ret) {
        die("modify_qp INIT", ret);
    }

    memset(&attr, 0, sizeof(attr));
    attr.qp_state              = IBV_QPS_RTR;
    attr.path_mtu              = IBV_MTU_1024;
    attr.dest_qp_num           = dest_qpn;
    attr.rq_psn                = 0;
    attr.max_dest_rd_atomic    = 1;
    attr.min_rnr_timer         = 12;
    attr.ah_attr.is_global     = 1;
    attr.ah_attr.grh.dgid      = *gid;
    attr.ah_attr.grh.sgid_index = (uint8_t)gid_index;
    attr.ah_attr.grh.hop_limit = 1;
    attr.ah_attr.port_num      = PORT;
    ret = ibv_modify_qp(qp, &attr, IBV_QP_STATE | IBV_QP_AV |
                        IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                        IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER);
    if (ret) {
        die("modify_qp RTR", ret);
    }

    memset(&attr, 0, sizeof(attr));
    attr.qp_state      = IBV_QPS_RTS;
    attr.timeout       = 14;
    attr.retry_cnt     = 7;
    attr.rnr_retry     = 7;
    attr.sq_psn        = 0;
    attr.max_rd_atomic = 1;
    ret = ibv_modify_qp(qp, &attr, IBV_QP_STATE | IBV_QP_TIMEOUT |
                        IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
                        IBV_QP_MAX_QP_RD_ATOMIC);
    if (ret) {
        die("modify_qp RTS", ret);
    }
}

/* Post one signaled RDMA WRITE or READ on @qp and wait for it */
static int rdma(struct ibv_qp *qp, struct ibv_cq *cq, enum ibv_wr_opcode op,
                uint64_t local, uint32_t lkey, uint64_t remote, uint32_t rkey,
                uint32_t len)
{
    struct ibv_sge sge = { .addr = local, .length = len, .lkey = lkey };
    struct ibv_send_wr wr, *bad;
    struct ibv_wc wc;
    long waited;
    int n;

    memset(&wr, 0, sizeof(wr));
    wr.wr_id               = 1;
    wr.sg_list             = &sge;
    wr.num_sge             = 1;
    wr.opcode              = op;
    wr.send_flags          = IBV_SEND_SIGNALED;
    wr.wr.rdma.remote_addr = remote;
    wr.wr.rdma.rkey        = rkey;
    if (ibv_post_send(qp, &wr, &bad)) {
        fprintf(stderr, "nic_double_rdma: ibv_post_send failed\n");
        return -1;
    }
    for (waited = 0; waited < TIMEOUT_US; waited += 100) {
        n = ibv_poll_cq(cq, 1, &wc);
        if (n < 0) {
            return -1;
        }
        if (n == 1) {
            if (wc.status != IBV_WC_SUCCESS) {
                fprintf(stderr, "nic_double_rdma: completion: %s\n",
                        ibv_wc_status_str(wc.status));
                return -1;
            }
            return 0;
        }
        usleep(100);
    }
    fprintf(stderr, "nic_double_rdma: no completion\n");
    return -1;
}

static struct ibv_device *find_device(struct ibv_device **list, int n,
                                      const char *name)
{
    int i;

    for (i = 0; i < n; ++i) {
        if ((name == NULL) || !strcmp(ibv_get_device_name(list[i]), name)) {
            return list[i];
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |
                       IBV_ACCESS_REMOTE_WRITE;
    size_t size = 1024 * 1024, offset, xfer, at;
    unsigned char *host, *check_buf, *expect;
    struct ibv_mr *dev_mr, *host_mr;
    struct ibv_qp_init_attr init;
    const char *name = NULL;
    struct ibv_device **list;
    struct ibv_context *ctx;
    struct ibv_qp *qp_a, *qp_b;
    int opt, n, fd, gid_index, ret, expect_refusal = 0;
    union ibv_gid gid;
    struct ibv_cq *cq;
    struct ibv_pd *pd;
    uint64_t dva;
    void *dev;

    while ((opt = getopt(argc, argv, "d:s:rh")) != -1) {
        switch (opt) {
        case 'd':
            name = optarg;
            break;
        case 's':
            size = strtoull(optarg, NULL, 0);
            break;
        case 'r':
            expect_refusal = 1;
            break;
        default:
            fprintf(stderr, "usage: %s [-d rdma_device] [-s size] [-r]\n",
                    argv[0]);
            return 2;
        }
    }
    if (size < 8192) {
        fprintf(stderr, "nic_double_rdma: size must be at least 8192\n");
        return 2;
    }

    list = ibv_get_device_list(&n);
    if ((list == NULL) || (find_device(list, n, name) == NULL)) {
        fprintf(stderr, "nic_double_rdma: no RDMA device %s\n",
                name ? name : "");
        return 1;
    }
    ctx = ibv_open_device(find_device(list, n, name));
    if (ctx == NULL) {
        die("ibv_open_device", errno);
    }
    pd = ibv_alloc_pd(ctx);
    if (pd == NULL) {
        die("ibv_alloc_pd", errno);
    }

    dev = hlmem_alloc(size);
    if (dev == NULL) {
        die("hlmem_alloc", errno);
    }
    dva = (uintptr_t)dev;
    ret = hlmem_export_dmabuf(dev, &fd, &offset);
    if (ret < 0) {
        die("hlmem_export_dmabuf", -ret);
    }

    errno  = 0;
    dev_mr = ibv_reg_dmabuf_mr(pd, offset, size, dva, fd, access);
    if (expect_refusal) {
        check((dev_mr == NULL) && (errno == EOPNOTSUPP),
              "ibv_reg_dmabuf_mr refused with EOPNOTSUPP");
        if (dev_mr != NULL) {
            ibv_dereg_mr(dev_mr);
        }
        goto out_dev;
    }
    if (dev_mr == NULL) {
        die("ibv_reg_dmabuf_mr", errno);
    }
    printf("device buffer %#llx + %zu: dma-buf fd %d offset %zu, "
           "lkey %#x rkey %#x\n", (unsigned long long)dva, size, fd, offset,
           dev_mr->lkey, dev_mr->rkey);

    host      = malloc(size);
    check_buf = malloc(size);
    expect    = malloc(size);
    if (!host || !check_buf || !expect) {
        die("malloc", ENOMEM);
    }
    host_mr = ibv_reg_mr(pd, host, size, access);
    if (host_mr == NULL) {
        die("ibv_reg_mr", errno);
    }

    cq = ibv_create_cq(ctx, 16, NULL, NULL, 0);
    if (cq == NULL) {
        die("ibv_create_cq", errno);
    }
    memset(&init, 0, sizeof(init));
    init.send_cq          = cq;
    init.recv_cq          = cq;
    init.qp_type          = IBV_QPT_RC;
    init.cap.max_send_wr  = 4;
    init.cap.max_recv_wr  = 4;
    init.cap.max_send_sge = 1;
    init.cap.max_recv_sge = 1;
    qp_a = ibv_create_qp(pd, &init);
    qp_b  = ibv_create_qp(pd, &init);
    if ((qp_a == NULL) || (qp_b == NULL)) {
        die("ibv_create_qp", errno);
    }
    gid_index = pick_gid(ctx, &gid);
    qp_connect(qp_a, qp_b->qp_num, gid_index, &gid);
    qp_connect(qp_b, qp_a->qp_num, gid_index, &gid);
    printf("loopback RC: qp %u <-> qp %u, gid index %d\n", qp_a->qp_num,
           qp_b->qp_num, gid_index);

    /* 1. host -> device, remote key, unaligned device offset */
    at   = 1000;
    xfer = size / 2 + 123;
    pattern(expect, size, 7);
    check(hlmem_copy_to_device(dev, expect, size) == 0,
          "device buffer filled (DMA copy)");
    pattern(host, size, 99);
    memcpy(expect + at, host, xfer);
    check(rdma(qp_a, cq, IBV_WR_RDMA_WRITE, (uintptr_t)host, host_mr->lkey,
               dva + at, dev_mr->rkey, (uint32_t)xfer) == 0,
          "RDMA WRITE host -> device VA + 1000 (rkey)");
    memset(check_buf, 0, size);
    check((hlmem_copy_from_device(check_buf, dev, size) == 0) &&
          !memcmp(check_buf, expect, size),
          "device memory holds the written bytes, the rest unchanged");

    /* 2. device -> host, RDMA READ through the remote key */
    memset(host, 0, size);
    at   = 4096 + 8;
    xfer = size - at - 16;
    check(rdma(qp_a, cq, IBV_WR_RDMA_READ, (uintptr_t)host, host_mr->lkey,
               dva + at, dev_mr->rkey, (uint32_t)xfer) == 0,
          "RDMA READ device VA + 4104 -> host (rkey)");
    check(!memcmp(host, expect + at, xfer) && (host[xfer] == 0),
          "host holds the device bytes read");

    /* 3. the device buffer as the local SGE (lkey, device VA) */
    memset(host, 0, size);
    check(rdma(qp_b, cq, IBV_WR_RDMA_WRITE, dva + 3, dev_mr->lkey,
               (uintptr_t)host + 5, host_mr->rkey, (uint32_t)(size - 8)) == 0,
          "RDMA WRITE from device VA + 3 (lkey) -> host");
    check(!memcmp(host + 5, expect + 3, size - 8) && (host[4] == 0),
          "host holds the device bytes written");

    ibv_destroy_qp(qp_a);
    ibv_destroy_qp(qp_b);
    ibv_destroy_cq(cq);
    ibv_dereg_mr(host_mr);
    check(ibv_dereg_mr(dev_mr) == 0, "ibv_dereg_mr of the dma-buf MR");
    free(host);
    free(check_buf);
    free(expect);

out_dev:
    close(fd);
    check(hlmem_free(dev) == 0, "device memory unmapped and freed");
    ibv_dealloc_pd(pd);
    ibv_close_device(ctx);
    ibv_free_device_list(list);
    printf("nic_double_rdma: %s\n", failures ? "FAILED" : "OK");
    return failures ? 1 : 0;
}
