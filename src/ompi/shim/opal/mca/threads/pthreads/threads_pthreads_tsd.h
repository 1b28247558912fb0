/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * Shim (see src/ompi/shim/README): thread-specific data keys are pthread
 * keys.
 */
#ifndef HABANA_SHIM_THREADS_PTHREADS_TSD_H
#define HABANA_SHIM_THREADS_PTHREADS_TSD_H

#include <pthread.h>

typedef pthread_key_t opal_tsd_key_t;

static inline int opal_tsd_key_delete(opal_tsd_key_t key)
{
    return pthread_key_delete(key) ? OPAL_ERROR : OPAL_SUCCESS;
}

static inline int opal_tsd_setspecific(opal_tsd_key_t key, void *value)
{
    return pthread_setspecific(key, value) ? OPAL_ERROR : OPAL_SUCCESS;
}

static inline int opal_tsd_getspecific(opal_tsd_key_t key, void **valuep)
{
    *valuep = pthread_getspecific(key);
    return OPAL_SUCCESS;
}

static inline int opal_tsd_get(opal_tsd_key_t key, void **valuep)
{
    return opal_tsd_getspecific(key, valuep);
}

#endif
