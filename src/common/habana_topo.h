/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * libhabana_topo: how an accelerator and an RDMA device are connected,
 * from hwloc's topology of the machine (or of an XML file: HWLOC_XMLFILE,
 * or habana_topo_open(path)).  Internal convenience library, never
 * installed; built only when configure finds hwloc (HAVE_HWLOC), so
 * libhabana_common and libhlmem do not depend on it.
 */
#ifndef HABANA_TOPO_H_
#define HABANA_TOPO_H_

#include <stddef.h>

/* The PCI path between two devices, nearest first */
typedef enum habana_topo_path {
    HABANA_TOPO_PATH_DEVICE,      /* one PCI device (the accelerator's NIC) */
    HABANA_TOPO_PATH_SWITCH,      /* below one PCIe switch (PCI-PCI bridge) */
    HABANA_TOPO_PATH_HOST_BRIDGE, /* below one host bridge */
    HABANA_TOPO_PATH_PACKAGE,     /* different host bridges, one socket */
    HABANA_TOPO_PATH_SYSTEM,      /* across sockets */
    HABANA_TOPO_PATH_UNKNOWN,     /* one of them is not in the topology */
    HABANA_TOPO_PATH_LAST
} habana_topo_path_t;

typedef struct habana_topo habana_topo_t;

/* A PCI device in the topology; NULL: not found */
typedef const struct hwloc_obj *habana_topo_obj_t;


/*
 * Load the topology with its PCI devices: of the XML file @xml, or with
 * @xml NULL of this machine (hwloc honors HWLOC_XMLFILE).  0, or -1 with
 * the reason in @why.
 */
int habana_topo_open(const char *xml, habana_topo_t **topo_p, char *why,
                     size_t max);

void habana_topo_close(habana_topo_t *topo);

/* The PCI device at @bus_id ("DDDD:BB:DD.F" or "BB:DD.F") */
habana_topo_obj_t habana_topo_find_pci(habana_topo_t *topo,
                                       const char *bus_id);

/*
 * The PCI device of RDMA device @name: its OpenFabrics OS device in the
 * topology, else the PCI address behind @sysfs_path (ibv_device's
 * ibdev_path, may be NULL or "")
 */
habana_topo_obj_t habana_topo_find_rdma(habana_topo_t *topo,
                                        const char *name,
                                        const char *sysfs_path);

/*
 * The name of the next RDMA (OpenFabrics) device of the topology; *@iter
 * NULL starts, NULL after the last
 */
const char *habana_topo_next_rdma(habana_topo_t *topo,
                                  habana_topo_obj_t *iter);

habana_topo_path_t habana_topo_classify(habana_topo_t *topo,
                                        habana_topo_obj_t a,
                                        habana_topo_obj_t b);

/*
 * Of the @count devices @objs, the index of the nearest to @obj (the first
 * of equals), or -1 if no path is known; the path into *@path_p
 */
int habana_topo_nearest(habana_topo_t *topo, habana_topo_obj_t obj,
                        const habana_topo_obj_t *objs, unsigned count,
                        habana_topo_path_t *path_p);

/* "same PCIe switch", "same host bridge", "same socket", "across
 * sockets", "same PCI device", "unknown" */
const char *habana_topo_path_name(habana_topo_path_t path);

/*
 * The NUMA nodes nearest to @obj as a list ("0", "0-1") into @buf ("?"
 * when unknown); returns the first of them, or -1
 */
int habana_topo_numa(habana_topo_t *topo, habana_topo_obj_t obj, char *buf,
                     size_t max);

/* The PCI address of @obj ("DDDD:BB:DD.F") into @buf */
void habana_topo_bus_id(habana_topo_obj_t obj, char *buf, size_t max);

#endif
