/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * libucm_habana's own state, shared by its files: the tracked allocations
 * and mappings (ucm_habana.c) and the deferred unmaps and frees
 * (ucm_habana_defer.c).  All of it under ucm_habana.lock.
 */
#ifndef UCM_HABANA_PRIV_H_
#define UCM_HABANA_PRIV_H_

#include "ucm_habana.h"

#include <ucm/api/ucm.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

typedef int (*ucm_habana_ioctl_func_t)(int fd, unsigned long request, ...);
typedef int (*ucm_habana_close_func_t)(int fd);

/* An allocation: handle -> size, per compute descriptor */
typedef struct {
    int      fd;
    uint64_t handle;
    size_t   size;
    int      exported; /* a dma-buf of it (or of a mapping) was exported */
    uint64_t id;       /* never reused (the driver reuses handles) */
} ucm_habana_alloc_t;

typedef struct {
    ucm_habana_mapping_t mapping;
    dev_t                rdev;     /* device of fd when mapped */
    int                  exported; /* a dma-buf of it was exported */
} ucm_habana_entry_t;

/* First retry of a refused unmap after 1 ms, then twice as late, up to 1 s:
 * the driver logs every refusal */
#define UCM_HABANA_RETRY_MIN_NS 1000000ull
#define UCM_HABANA_RETRY_MAX_NS 1000000000ull

/* An unmap or free the driver refused while a dma-buf was alive */
typedef struct {
    int           fd;
    dev_t         rdev;
    unsigned long request;      /* the application's memory ioctl number */
    uint64_t      va;
    uint64_t      handle;
    int           unmap_pending;
    int           free_pending; /* the application freed the handle */
    uint64_t      next_try_ns;
    uint64_t      delay_ns;
} ucm_habana_deferred_t;

typedef struct ucm_habana_state {
    pthread_mutex_t         lock;
    ucm_habana_ioctl_func_t orig_ioctl;
    ucm_habana_close_func_t orig_close;
    uint64_t                last_id;  /* of the newest mapping */
    ucm_habana_alloc_t      *allocs;
    unsigned                num_allocs, max_allocs;
    ucm_habana_entry_t      *maps;
    unsigned                num_maps, max_maps;
    ucm_habana_deferred_t   *deferred;
    unsigned                num_deferred, max_deferred;
    uint64_t                total_deferred;
} ucm_habana_state_t;

extern ucm_habana_state_t ucm_habana;

int ucm_habana_grow(void **array, unsigned *max, size_t elem_size);
void ucm_habana_dispatch(ucm_event_type_t type, uint64_t va, size_t size);
int ucm_habana_tracking(void);
/* Lock held.  Forget what was made on @fd; its mappings in *gone_p */
unsigned ucm_habana_forget_fd(int fd, ucm_habana_mapping_t **gone_p);
/* Lock held.  Up to @max distinct descriptors in [@first, @last] that
 * anything tracked was made on, in @fds; returns how many */
unsigned ucm_habana_tracked_fds(int first, int last, int *fds, unsigned max);
/* Lock held.  What was made on @fd now belongs to descriptor @to (another
 * descriptor of the same open file: the context lives on) */
void ucm_habana_move_fd(int fd, int to);

/* ucm_habana_fd.c: the close/dup2/dup3 hooks */
void ucm_habana_install_fd_hooks(void);
int ucm_habana_fd_hooked(void);
dev_t ucm_habana_fd_rdev(int fd);
ucm_habana_alloc_t *ucm_habana_alloc_find(int fd, uint64_t handle);

/* ucm_habana_defer.c; lock held: remember an unmap (then the free, once
 * the application frees the handle) or, without @unmap_pending, a free
 * the driver refused; 0 or -1 if it cannot be recorded */
int ucm_habana_deferred_add(int fd, dev_t rdev, unsigned long request,
                            uint64_t va, uint64_t handle, int unmap_pending);
unsigned ucm_habana_deferred_retry(int force);
int ucm_habana_defer_refused_free(int fd, unsigned long request,
                                  uint64_t handle);
int ucm_habana_defer_free(int fd, uint64_t handle);

#endif
