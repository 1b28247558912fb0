/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_nearest.h"

#include <ucs/debug/log_def.h>
#include <stdio.h>
#include <string.h>

#ifdef HAVE_HWLOC
#include <src/common/habana_topo.h>

#ifdef HAVE_IBV_DMABUF
#include <infiniband/verbs.h>
#endif

#define UCT_HABANA_NEAREST_MAX_NICS 64

typedef struct {
    unsigned          count;
    char              name[UCT_HABANA_NEAREST_MAX_NICS][64];
    habana_topo_obj_t obj[UCT_HABANA_NEAREST_MAX_NICS];
} uct_habana_nearest_nics_t;

/* The RDMA devices UCX sees (libibverbs), else those of the topology */
static void uct_habana_nearest_nics(habana_topo_t *topo,
                                    uct_habana_nearest_nics_t *nics)
{
    habana_topo_obj_t iter = NULL;
    const char *name;
#ifdef HAVE_IBV_DMABUF
    struct ibv_device **devices;
    int i, num_devices;

    devices = ibv_get_device_list(&num_devices);
    if (devices != NULL) {
        for (i = 0; (i < num_devices) &&
                    (nics->count < UCT_HABANA_NEAREST_MAX_NICS); ++i) {
            name = ibv_get_device_name(devices[i]);
            snprintf(nics->name[nics->count], sizeof(nics->name[0]), "%s",
                     name);
            nics->obj[nics->count++] = habana_topo_find_rdma(topo, name,
                                                  devices[i]->ibdev_path);
        }
        ibv_free_device_list(devices);
        return;
    }
#endif

    while (((name = habana_topo_next_rdma(topo, &iter)) != NULL) &&
           (nics->count < UCT_HABANA_NEAREST_MAX_NICS)) {
        snprintf(nics->name[nics->count], sizeof(nics->name[0]), "%s", name);
        nics->obj[nics->count++] = habana_topo_find_rdma(topo, name, NULL);
    }
}

void uct_habana_dev_list_report_nearest(const uct_habana_dev_list_t *list)
{
    uct_habana_nearest_nics_t nics = {0};
    const uct_habana_dev_t *dev;
    habana_topo_path_t path;
    habana_topo_obj_t obj;
    habana_topo_t *topo;
    char why[256], numa[32];
    int nearest;

    if (!ucs_log_is_enabled(UCS_LOG_LEVEL_DEBUG) || (list->count == 0)) {
        return;
    }

    if (habana_topo_open(NULL, &topo, why, sizeof(why)) != 0) {
        ucs_debug("habana: no PCI topology (%s): nearest NICs unknown", why);
        return;
    }

    uct_habana_nearest_nics(topo, &nics);
    for (dev = list->dev; dev < list->dev + list->count; ++dev) {
        obj = habana_topo_find_pci(topo, dev->bus_id);
        if (obj == NULL) {
            ucs_debug("habana: %s (%s): not in the PCI topology", dev->name,
                      (dev->bus_id[0] != '\0') ? dev->bus_id : "not on PCI");
            continue;
        }

        habana_topo_numa(topo, obj, numa, sizeof(numa));
        nearest = habana_topo_nearest(topo, obj, nics.obj, nics.count, &path);
        if (nearest < 0) {
            ucs_debug("habana: %s (%s): numa %s, no RDMA device in the PCI "
                      "topology", dev->name, dev->bus_id, numa);
        } else {
            ucs_debug("habana: %s (%s): nearest RDMA device %s (%s), numa %s",
                      dev->name, dev->bus_id, nics.name[nearest],
                      habana_topo_path_name(path), numa);
        }
    }

    habana_topo_close(topo);
}

#else /* no hwloc in this build */

void uct_habana_dev_list_report_nearest(const uct_habana_dev_list_t *list)
{
    if (list->count > 0) {
        ucs_debug("habana: built without hwloc: nearest NICs unknown");
    }
}

#endif
