/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * Shim (see src/ompi/shim/README): opal_thread_t holds a pthread_t.
 */
#ifndef HABANA_SHIM_THREADS_PTHREADS_THREADS_H
#define HABANA_SHIM_THREADS_PTHREADS_THREADS_H

#include <pthread.h>
#include <sched.h>
#include <signal.h>

static inline void opal_thread_yield(void)
{
    sched_yield();
}

#endif
