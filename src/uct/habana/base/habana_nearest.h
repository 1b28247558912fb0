/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifndef UCT_HABANA_NEAREST_H_
#define UCT_HABANA_NEAREST_H_

#include "habana_dev.h"

/*
 * At debug level: for each device of @list, the RDMA device nearest to it
 * on PCI and how they are connected (hwloc's topology; HWLOC_XMLFILE
 * replaces the machine's).  Does nothing unless debug logging is on or
 * without hwloc in the build.
 */
void uct_habana_dev_list_report_nearest(const uct_habana_dev_list_t *list);

#endif
