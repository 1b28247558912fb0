/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * Shim (see src/ompi/shim/README): conversions between MPI_Fint and C int,
 * for an Open MPI whose Fortran INTEGER is a C int (configure checks).
 */
#ifndef HABANA_SHIM_FINT_2_INT_H
#define HABANA_SHIM_FINT_2_INT_H

#define OMPI_INT_2_FINT(a)   ((MPI_Fint)(a))
#define OMPI_FINT_2_INT(a)   ((int)(a))
#define OMPI_PFINT_2_PINT(a) ((int *)(a))
#define OMPI_ARRAY_NAME_DECL(a)
#define OMPI_2_DIM_ARRAY_NAME_DECL(a, dim2)
#define OMPI_SINGLE_NAME_DECL(a)
#define OMPI_ARRAY_NAME_CONVERT(a) a
#define OMPI_SINGLE_NAME_CONVERT(a) a
#define OMPI_INT_2_LOGICAL(a) a
#define OMPI_LOGICAL_2_INT(a) a

#endif
