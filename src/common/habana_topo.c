/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_topo.h"

#include <hwloc.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct habana_topo {
    hwloc_topology_t topology;
};

static const char *habana_topo_path_names[] = {
    [HABANA_TOPO_PATH_DEVICE]      = "same PCI device",
    [HABANA_TOPO_PATH_SWITCH]      = "same PCIe switch",
    [HABANA_TOPO_PATH_HOST_BRIDGE] = "same host bridge",
    [HABANA_TOPO_PATH_PACKAGE]     = "same socket",
    [HABANA_TOPO_PATH_SYSTEM]      = "across sockets",
    [HABANA_TOPO_PATH_UNKNOWN]     = "unknown"
};

int habana_topo_open(const char *xml, habana_topo_t **topo_p, char *why,
                     size_t max)
{
    habana_topo_t *topo;
    const char *call;

    topo = calloc(1, sizeof(*topo));
    if (topo == NULL) {
        snprintf(why, max, "out of memory");
        return -1;
    }

    call = "hwloc_topology_init";
    if (hwloc_topology_init(&topo->topology) != 0) {
        goto err_free;
    }

    /* Bridges, PCI devices and OS devices that matter (NICs, GPUs,
     * accelerators); caches are not needed */
    hwloc_topology_set_io_types_filter(topo->topology,
                                       HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
    hwloc_topology_set_cache_types_filter(topo->topology,
                                          HWLOC_TYPE_FILTER_KEEP_NONE);
    call = "hwloc_topology_set_xml";
    if ((xml != NULL) && (hwloc_topology_set_xml(topo->topology, xml) != 0)) {
        goto err_destroy;
    }

    call = "hwloc_topology_load";
    if (hwloc_topology_load(topo->topology) != 0) {
        goto err_destroy;
    }

    *topo_p = topo;
    return 0;

err_destroy:
    hwloc_topology_destroy(topo->topology);
err_free:
    snprintf(why, max, "%s(%s) failed: %m", call, (xml != NULL) ? xml : "");
    free(topo);
    return -1;
}

void habana_topo_close(habana_topo_t *topo)
{
    hwloc_topology_destroy(topo->topology);
    free(topo);
}

habana_topo_obj_t habana_topo_find_pci(habana_topo_t *topo,
                                       const char *bus_id)
{
    if ((bus_id == NULL) || (*bus_id == '\0')) {
        return NULL;
    }

    return hwloc_get_pcidev_by_busidstring(topo->topology, bus_id);
}

static int habana_topo_is_rdma(hwloc_obj_t osdev)
{
#if HWLOC_API_VERSION >= 0x00030000
    return !!(osdev->attr->osdev.types & HWLOC_OBJ_OSDEV_OPENFABRICS);
#else
    return osdev->attr->osdev.type == HWLOC_OBJ_OSDEV_OPENFABRICS;
#endif
}

/* The PCI device an OS device belongs to */
static hwloc_obj_t habana_topo_pci_parent(hwloc_obj_t obj)
{
    while ((obj != NULL) && (obj->type == HWLOC_OBJ_OS_DEVICE)) {
        obj = obj->parent;
    }

    return ((obj != NULL) && (obj->type == HWLOC_OBJ_PCI_DEVICE)) ? obj :
                                                                     NULL;
}

/* The PCI address the sysfs device link of @sysfs_path names, or NULL */
static habana_topo_obj_t habana_topo_find_by_sysfs(habana_topo_t *topo,
                                                   const char *sysfs_path)
{
    char link[PATH_MAX], target[PATH_MAX];
    const char *base;
    ssize_t len;

    if ((sysfs_path == NULL) || (*sysfs_path == '\0')) {
        return NULL;
    }

    snprintf(link, sizeof(link), "%s/device", sysfs_path);
    len = readlink(link, target, sizeof(target) - 1);
    if (len <= 0) {
        return NULL;
    }

    target[len] = '\0';
    base        = strrchr(target, '/');
    return habana_topo_find_pci(topo, (base != NULL) ? base + 1 : target);
}

habana_topo_obj_t habana_topo_find_rdma(habana_topo_t *topo,
                                        const char *name,
                                        const char *sysfs_path)
{
    hwloc_obj_t osdev = NULL, pci;

    while ((osdev = hwloc_get_next_osdev(topo->topology, osdev)) != NULL) {
        if ((osdev->name != NULL) && !strcmp(osdev->name, name) &&
            habana_topo_is_rdma(osdev) &&
            ((pci = habana_topo_pci_parent(osdev)) != NULL)) {
            return pci;
        }
    }

    return habana_topo_find_by_sysfs(topo, sysfs_path);
}

const char *habana_topo_next_rdma(habana_topo_t *topo,
                                  habana_topo_obj_t *iter)
{
    hwloc_obj_t osdev = (hwloc_obj_t)*iter;

    while ((osdev = hwloc_get_next_osdev(topo->topology, osdev)) != NULL) {
        if ((osdev->name != NULL) && habana_topo_is_rdma(osdev)) {
            *iter = osdev;
            return osdev->name;
        }
    }

    *iter = NULL;
    return NULL;
}

/*
 * The nearest object above both (hwloc_get_common_ancestor_obj() compares
 * depths, which I/O objects do not have in the normal sense)
 */
static hwloc_obj_t habana_topo_common_ancestor(hwloc_obj_t a, hwloc_obj_t b)
{
    hwloc_obj_t x, y;

    for (x = a; x != NULL; x = x->parent) {
        for (y = b; y != NULL; y = y->parent) {
            if (x == y) {
                return x;
            }
        }
    }

    return NULL;
}

habana_topo_path_t habana_topo_classify(habana_topo_t *topo,
                                        habana_topo_obj_t a,
                                        habana_topo_obj_t b)
{
    hwloc_obj_t common, local_a, local_b, pkg_a, pkg_b;

    if ((a == NULL) || (b == NULL)) {
        return HABANA_TOPO_PATH_UNKNOWN;
    }

    common = habana_topo_common_ancestor((hwloc_obj_t)a, (hwloc_obj_t)b);
    if (common == NULL) {
        return HABANA_TOPO_PATH_UNKNOWN;
    }

    switch (common->type) {
    case HWLOC_OBJ_PCI_DEVICE:
    case HWLOC_OBJ_OS_DEVICE:
        return HABANA_TOPO_PATH_DEVICE;
    case HWLOC_OBJ_BRIDGE:
        return (common->attr->bridge.upstream_type == HWLOC_OBJ_BRIDGE_PCI) ?
               HABANA_TOPO_PATH_SWITCH : HABANA_TOPO_PATH_HOST_BRIDGE;
    default:
        break;
    }

    /* Different host bridges: same socket if both hang below one package.
     * I/O attached above the packages (to the machine) is local to all of
     * them: one socket only if there is only one. */
    local_a = hwloc_get_non_io_ancestor_obj(topo->topology, (hwloc_obj_t)a);
    local_b = hwloc_get_non_io_ancestor_obj(topo->topology, (hwloc_obj_t)b);
    pkg_a   = hwloc_get_ancestor_obj_by_type(topo->topology,
                                             HWLOC_OBJ_PACKAGE, local_a);
    pkg_b   = hwloc_get_ancestor_obj_by_type(topo->topology,
                                             HWLOC_OBJ_PACKAGE, local_b);
    if ((local_a != NULL) && (local_a->type == HWLOC_OBJ_PACKAGE)) {
        pkg_a = local_a;
    }
    if ((local_b != NULL) && (local_b->type == HWLOC_OBJ_PACKAGE)) {
        pkg_b = local_b;
    }

    if ((pkg_a != NULL) && (pkg_a == pkg_b)) {
        return HABANA_TOPO_PATH_PACKAGE;
    }

    if (((pkg_a == NULL) || (pkg_b == NULL)) &&
        (hwloc_get_nbobjs_by_type(topo->topology, HWLOC_OBJ_PACKAGE) <= 1)) {
        return HABANA_TOPO_PATH_PACKAGE;
    }

    return HABANA_TOPO_PATH_SYSTEM;
}

int habana_topo_nearest(habana_topo_t *topo, habana_topo_obj_t obj,
                        const habana_topo_obj_t *objs, unsigned count,
                        habana_topo_path_t *path_p)
{
    habana_topo_path_t best = HABANA_TOPO_PATH_UNKNOWN, path;
    int nearest             = -1;
    unsigned i;

    for (i = 0; i < count; ++i) {
        path = habana_topo_classify(topo, obj, objs[i]);
        if (path < best) {
            best    = path;
            nearest = i;
        }
    }

    *path_p = best;
    return nearest;
}

const char *habana_topo_path_name(habana_topo_path_t path)
{
    return (path < HABANA_TOPO_PATH_LAST) ? habana_topo_path_names[path] :
                                            "unknown";
}

int habana_topo_numa(habana_topo_t *topo, habana_topo_obj_t obj, char *buf,
                     size_t max)
{
    hwloc_obj_t local;

    snprintf(buf, max, "?");
    if (obj == NULL) {
        return -1;
    }

    local = hwloc_get_non_io_ancestor_obj(topo->topology, (hwloc_obj_t)obj);
    if ((local == NULL) || (local->nodeset == NULL) ||
        hwloc_bitmap_iszero(local->nodeset)) {
        return -1;
    }

    hwloc_bitmap_list_snprintf(buf, max, local->nodeset);
    return hwloc_bitmap_first(local->nodeset);
}

void habana_topo_bus_id(habana_topo_obj_t obj, char *buf, size_t max)
{
    if ((obj == NULL) || (obj->type != HWLOC_OBJ_PCI_DEVICE)) {
        snprintf(buf, max, "?");
        return;
    }

    snprintf(buf, max, "%04x:%02x:%02x.%x", obj->attr->pcidev.domain,
             obj->attr->pcidev.bus, obj->attr->pcidev.dev,
             obj->attr->pcidev.func);
}
