/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * Open MPI's internal headers for the accelerator component.
 *
 * Open MPI 6.0's accelerator.h includes ompi/info/info_memkind.h for the
 * ompi_memkind_t of get_memkind().  That header pulls in opal's thread
 * headers, whose implementation header
 * (opal/mca/threads/pthreads/threads_pthreads_mutex.h, named by
 * opal_config.h) Debian's libopenmpi-dev does not install.  When configure
 * found that (HABANA_OMPI_MEMKIND_SHIM), this declares ompi_memkind_t
 * itself, with Open MPI 6.0's layout, and skips info_memkind.h.  The
 * component writes only the leading members and restrictor 0, which do
 * not depend on the array length.
 */
#ifndef ACCELERATOR_HABANA_OMPI_H_
#define ACCELERATOR_HABANA_OMPI_H_

#include "opal_config.h"

#ifdef HABANA_OMPI_MEMKIND_SHIM
#  include <stdbool.h>
#  define OMPI_INFO_MEMKIND_H
#  ifndef OMPI_MAX_NUM_MEMKIND_RESTRICTORS
#    define OMPI_MAX_NUM_MEMKIND_RESTRICTORS 3
#  endif
typedef struct ompi_memkind_t {
    char *im_name;
    bool  im_no_restrictors;
    int   im_num_restrictors;
    char *im_restrictors[OMPI_MAX_NUM_MEMKIND_RESTRICTORS];
} ompi_memkind_t;
#endif

#include "opal/constants.h"
#include "opal/mca/mca.h"
#include "opal/mca/accelerator/accelerator.h"

#endif
