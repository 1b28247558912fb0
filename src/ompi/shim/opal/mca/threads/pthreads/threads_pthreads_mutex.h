/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * Shim (see src/ompi/shim/README): opal's mutexes and conditions are
 * pthread objects in Open MPI's pthreads threads component.
 */
#ifndef HABANA_SHIM_THREADS_PTHREADS_MUTEX_H
#define HABANA_SHIM_THREADS_PTHREADS_MUTEX_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

typedef pthread_mutex_t opal_thread_internal_mutex_t;
typedef pthread_cond_t  opal_thread_internal_cond_t;

#define OPAL_THREAD_INTERNAL_MUTEX_INITIALIZER PTHREAD_MUTEX_INITIALIZER
#define OPAL_THREAD_INTERNAL_RECURSIVE_MUTEX_INITIALIZER \
    PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP
#define OPAL_THREAD_INTERNAL_COND_INITIALIZER PTHREAD_COND_INITIALIZER

static inline int opal_thread_internal_mutex_init(opal_thread_internal_mutex_t *m,
                                                  bool recursive)
{
    pthread_mutexattr_t attr;
    int ret;

    if (!recursive) {
        return pthread_mutex_init(m, NULL) ? -1 : 0;
    }
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    ret = pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
    return ret ? -1 : 0;
}

static inline void opal_thread_internal_mutex_lock(opal_thread_internal_mutex_t *m)
{
    if (pthread_mutex_lock(m) != 0) {
        abort();
    }
}

static inline int opal_thread_internal_mutex_trylock(opal_thread_internal_mutex_t *m)
{
    int ret = pthread_mutex_trylock(m);

    if ((ret != 0) && (ret != EBUSY)) {
        abort();
    }
    return (ret == 0) ? 0 : 1;
}

static inline void opal_thread_internal_mutex_unlock(opal_thread_internal_mutex_t *m)
{
    if (pthread_mutex_unlock(m) != 0) {
        abort();
    }
}

static inline void opal_thread_internal_mutex_destroy(opal_thread_internal_mutex_t *m)
{
    pthread_mutex_destroy(m);
}

static inline int opal_thread_internal_cond_init(opal_thread_internal_cond_t *c)
{
    return pthread_cond_init(c, NULL) ? -1 : 0;
}

static inline void opal_thread_internal_cond_wait(opal_thread_internal_cond_t *c,
                                                  opal_thread_internal_mutex_t *m)
{
    pthread_cond_wait(c, m);
}

static inline void opal_thread_internal_cond_signal(opal_thread_internal_cond_t *c)
{
    pthread_cond_signal(c);
}

static inline void opal_thread_internal_cond_broadcast(opal_thread_internal_cond_t *c)
{
    pthread_cond_broadcast(c);
}

static inline void opal_thread_internal_cond_destroy(opal_thread_internal_cond_t *c)
{
    pthread_cond_destroy(c);
}

#endif
