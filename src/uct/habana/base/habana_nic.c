/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_nic.h"

#include <ucs/debug/log_def.h>
#include <ucs/sys/string.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_IBV_DMABUF
#include <infiniband/verbs.h>

#define UCT_HABANA_NIC_ACCESS (IBV_ACCESS_LOCAL_WRITE | \
                               IBV_ACCESS_REMOTE_READ | \
                               IBV_ACCESS_REMOTE_WRITE)

/*
 * Does UCX_NET_DEVICES let UCX use RDMA device @name?  Entries are
 * "dev:port" or "dev"; "all" (the default) allows every device, a leading
 * '^' turns the list into an exclusion list.
 */
static int uct_habana_nic_allowed(const char *name)
{
    const char *list = getenv("UCX_NET_DEVICES");
    int negate, listed = 0;
    char *copy, *entry, *save, *colon;

    if ((list == NULL) || (*list == '\0') || !strcmp(list, "all")) {
        return 1;
    }

    negate = (list[0] == '^');
    copy   = strdup(list + negate);
    if (copy == NULL) {
        return 1;
    }

    for (entry = strtok_r(copy, ",", &save); (entry != NULL) && !listed;
         entry = strtok_r(NULL, ",", &save)) {
        colon = strchr(entry, ':');
        if (colon != NULL) {
            *colon = '\0';
        }
        listed = !strcmp(entry, name) || !strcmp(entry, "all");
    }

    free(copy);
    return negate ? !listed : listed;
}

static int uct_habana_nic_port_active(struct ibv_context *ctx)
{
    struct ibv_device_attr dev_attr;
    struct ibv_port_attr port_attr;
    unsigned port;

    if (ibv_query_device(ctx, &dev_attr) != 0) {
        ucs_debug("habana: ibv_query_device(%s) failed: %m",
                  ibv_get_device_name(ctx->device));
        return 0;
    }

    for (port = 1; port <= dev_attr.phys_port_cnt; ++port) {
        if ((ibv_query_port(ctx, port, &port_attr) == 0) &&
            (port_attr.state == IBV_PORT_ACTIVE)) {
            return 1;
        }
    }

    return 0;
}

static int uct_habana_nic_usable(struct ibv_device *device)
{
    struct ibv_context *ctx;
    int usable;

    if (!uct_habana_nic_allowed(ibv_get_device_name(device))) {
        return 0;
    }

    ctx = ibv_open_device(device);
    if (ctx == NULL) {
        ucs_debug("habana: ibv_open_device(%s) failed: %m",
                  ibv_get_device_name(device));
        return 0;
    }

    usable = uct_habana_nic_port_active(ctx);
    ibv_close_device(ctx);
    return usable;
}

static void uct_habana_nic_append(char *names, size_t max, const char *name)
{
    size_t len = strlen(names);

    snprintf(names + len, max - len, "%s%s", (len > 0) ? "," : "", name);
}

int uct_habana_nic_try_import(struct ibv_device *device, int dmabuf_fd,
                              size_t offset, size_t length, uint64_t iova)
{
    struct ibv_context *ctx;
    struct ibv_pd *pd;
    struct ibv_mr *mr;
    int err = 0;

    ctx = ibv_open_device(device);
    if (ctx == NULL) {
        return errno ? errno : ENODEV;
    }

    pd = ibv_alloc_pd(ctx);
    if (pd == NULL) {
        err = errno ? errno : ENOMEM;
        ucs_debug("habana: ibv_alloc_pd(%s) failed: %s",
                  ibv_get_device_name(device), strerror(err));
        goto out_close;
    }

    errno = 0;
    mr    = ibv_reg_dmabuf_mr(pd, offset, length, iova, dmabuf_fd,
                              UCT_HABANA_NIC_ACCESS);
    if (mr == NULL) {
        err = errno ? errno : EOPNOTSUPP;
    } else {
        ibv_dereg_mr(mr);
    }

    ibv_dealloc_pd(pd);
out_close:
    ibv_close_device(ctx);
    return err;
}

unsigned uct_habana_nic_count_usable(char *names, size_t max)
{
    struct ibv_device **devices;
    int i, num_devices;
    unsigned count = 0;

    names[0] = '\0';
    devices  = ibv_get_device_list(&num_devices);
    if (devices == NULL) {
        ucs_debug("habana: ibv_get_device_list() failed: %m");
        return 0;
    }

    for (i = 0; i < num_devices; ++i) {
        if (uct_habana_nic_usable(devices[i])) {
            uct_habana_nic_append(names, max, ibv_get_device_name(devices[i]));
            ++count;
        }
    }

    ibv_free_device_list(devices);
    return count;
}

void uct_habana_nic_probe(int dmabuf_fd, size_t length, uint64_t iova,
                          uct_habana_nic_verdict_t *verdict)
{
    struct ibv_device **devices;
    const char *name;
    int i, num_devices, err;

    memset(verdict, 0, sizeof(*verdict));
    devices = ibv_get_device_list(&num_devices);
    if (devices == NULL) {
        ucs_debug("habana: ibv_get_device_list() failed: %m");
        return;
    }

    for (i = 0; i < num_devices; ++i) {
        if (!uct_habana_nic_usable(devices[i])) {
            continue;
        }

        name = ibv_get_device_name(devices[i]);
        uct_habana_nic_append(verdict->nics, sizeof(verdict->nics), name);
        ++verdict->num_nics;
        err = uct_habana_nic_try_import(devices[i], dmabuf_fd, 0, length,
                                        iova);
        if (err == 0) {
            ++verdict->num_importing;
        } else if (verdict->failed_nic[0] == '\0') {
            ucs_strncpy_zero(verdict->failed_nic, name,
                             sizeof(verdict->failed_nic));
            verdict->failed_errno = err;
        }
        ucs_debug("habana: %s %s dma-buf fd %d: %s", name,
                  err ? "cannot import" : "imports", dmabuf_fd,
                  err ? strerror(err) : "ok");
    }

    ibv_free_device_list(devices);
}

#else /* no dma-buf registration in this build's rdma-core */

unsigned uct_habana_nic_count_usable(char *names, size_t max)
{
    names[0] = '\0';
    return 0;
}

void uct_habana_nic_probe(int dmabuf_fd, size_t length, uint64_t iova,
                          uct_habana_nic_verdict_t *verdict)
{
    memset(verdict, 0, sizeof(*verdict));
}

#endif
