/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * Can the NICs UCX will use import Habana dma-bufs?  UCX's IB memory
 * domain claims Habana memory whenever a Habana device node exists and has
 * no fallback when the import fails, so the habana MD reports device memory
 * as registrable only when every usable NIC imported a real dma-buf of the
 * device.  "Usable": an RDMA device with an active port that
 * UCX_NET_DEVICES does not exclude.
 */
#ifndef UCT_HABANA_NIC_H_
#define UCT_HABANA_NIC_H_

#include <stddef.h>
#include <stdint.h>

#define UCT_HABANA_NIC_NAME_MAX 64

typedef struct uct_habana_nic_verdict {
    unsigned num_nics;        /* usable RDMA devices */
    unsigned num_importing;   /* of which imported the probe dma-buf */
    char     failed_nic[UCT_HABANA_NIC_NAME_MAX]; /* first one that did not */
    int      failed_errno;
    char     nics[256];       /* names of the usable ones, comma separated */
} uct_habana_nic_verdict_t;

struct ibv_device;

/*
 * Register [offset, offset + length) of dma-buf @dmabuf_fd at @iova with
 * @device and deregister it: 0, or the errno of the failing verbs call
 */
int uct_habana_nic_try_import(struct ibv_device *device, int dmabuf_fd,
                              size_t offset, size_t length, uint64_t iova);

/* Number of usable RDMA devices; names (comma separated) into @names */
unsigned uct_habana_nic_count_usable(char *names, size_t max);

/*
 * Register the first @length bytes of dma-buf @dmabuf_fd (device VA @iova)
 * with each usable NIC and deregister it again.
 */
void uct_habana_nic_probe(int dmabuf_fd, size_t length, uint64_t iova,
                          uct_habana_nic_verdict_t *verdict);

static inline int
uct_habana_nic_all_import(const uct_habana_nic_verdict_t *verdict)
{
    return (verdict->num_nics > 0) &&
           (verdict->num_importing == verdict->num_nics);
}

#endif
