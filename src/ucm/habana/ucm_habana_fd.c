/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * Descriptor hooks of libucm_habana: close, dup2, dup3, and the range
 * closes close_range and closefrom (glibc >= 2.34), which do not call
 * close().
 *
 * Closing a compute descriptor (or making it a copy of another one) ends
 * its context and the context's memory: the descriptor's mappings are
 * reported freed and forgotten first.  Unless another descriptor of the
 * same open file stays (the application dup()ed it): the context lives on,
 * its mappings move to that descriptor, and ucm_habana_fd_successor() says
 * where they went, so users of the closed one follow.  Every close of a
 * descriptor number
 * also advances that number's epoch, so users of a descriptor (the habana
 * memory domain, its copy engine) can tell "still the file I checked"
 * from "closed, maybe reopened under the same number" without an fstat()
 * per operation.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "ucm_habana.h"
#include "ucm_habana_priv.h"
#include "ucm_habana_int.h"

#include <src/common/habana_sys.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Descriptor numbers past this have no epoch (they are always checked) */
#define UCM_HABANA_FD_EPOCHS 4096

typedef int (*ucm_habana_dup2_func_t)(int oldfd, int newfd);
typedef int (*ucm_habana_dup3_func_t)(int oldfd, int newfd, int flags);
typedef int (*ucm_habana_close_range_func_t)(unsigned first, unsigned last,
                                             int flags);
typedef void (*ucm_habana_closefrom_func_t)(int lowfd);

/* close_range() flag: mark close-on-exec, close nothing (linux/close_range.h) */
#define UCM_HABANA_CLOSE_RANGE_CLOEXEC (1u << 2)

/* Tracked descriptors a range close releases per pass */
#define UCM_HABANA_RANGE_BATCH 16

/* Where the open file of a descriptor number went when it was closed */
typedef struct {
    uint64_t epoch;     /* of the number before that close; 0: nowhere */
    int      to;        /* the descriptor that holds the file since */
    uint64_t to_epoch;  /* and its epoch then */
} ucm_habana_fd_successor_t;

static struct {
    ucm_habana_dup2_func_t    orig_dup2;
    ucm_habana_dup3_func_t    orig_dup3;
    ucm_habana_close_range_func_t orig_close_range;
    ucm_habana_closefrom_func_t   orig_closefrom;
    int                       hooked;   /* every hook below is installed */
    uint32_t                  epoch[UCM_HABANA_FD_EPOCHS];
    ucm_habana_fd_successor_t successor[UCM_HABANA_FD_EPOCHS]; /* lock */
} ucm_habana_fd;

int ucm_habana_fd_hooked(void)
{
    return __atomic_load_n(&ucm_habana_fd.hooked, __ATOMIC_ACQUIRE);
}

uint64_t ucm_habana_fd_epoch(int fd)
{
    if (!ucm_habana_fd_hooked() || (fd < 0) || (fd >= UCM_HABANA_FD_EPOCHS)) {
        return 0;
    }

    return 1 + (uint64_t)__atomic_load_n(&ucm_habana_fd.epoch[fd],
                                         __ATOMIC_ACQUIRE);
}

/* After the descriptor is gone: a check that read the old epoch before
 * this was made while the old file was still there */
static void ucm_habana_fd_advance(int fd)
{
    if ((fd >= 0) && (fd < UCM_HABANA_FD_EPOCHS)) {
        __atomic_add_fetch(&ucm_habana_fd.epoch[fd], 1, __ATOMIC_RELEASE);
    }
}

int ucm_habana_fd_successor(int fd, uint64_t epoch, uint64_t *epoch_p)
{
    ucm_habana_fd_successor_t *successor;
    int to = -1;

    if ((fd < 0) || (fd >= UCM_HABANA_FD_EPOCHS) || (epoch == 0)) {
        return -1;
    }

    pthread_mutex_lock(&ucm_habana.lock);
    successor = &ucm_habana_fd.successor[fd];
    if (successor->epoch == epoch) {
        to       = successor->to;
        *epoch_p = successor->to_epoch;
    }
    pthread_mutex_unlock(&ucm_habana.lock);
    return to;
}

/* Lock held.  @fd's open file stays with @to */
static void ucm_habana_fd_moved(int fd, int to)
{
    ucm_habana_move_fd(fd, to);
    if ((fd >= 0) && (fd < UCM_HABANA_FD_EPOCHS)) {
        ucm_habana_fd.successor[fd].epoch    = ucm_habana_fd_epoch(fd);
        ucm_habana_fd.successor[fd].to       = to;
        ucm_habana_fd.successor[fd].to_epoch = ucm_habana_fd_epoch(to);
    }
}

/*
 * @fd, among descriptors [@first, @last], is about to be closed.  If no
 * other descriptor of its open file stays, the context ends: report its
 * mappings freed, so UCX drops what refers to them (our cached dma-bufs
 * among them, which would keep the context alive).  Else they move to the
 * descriptor that stays.
 */
static void ucm_habana_fd_release(int fd, int first, int last)
{
    ucm_habana_mapping_t *gone = NULL;
    unsigned i, count = 0, tracked;
    int seen, to;

    if (!ucm_habana_tracking()) {
        return;
    }

    pthread_mutex_lock(&ucm_habana.lock);
    tracked = ucm_habana_tracked_fds(fd, fd, &seen, 1);
    pthread_mutex_unlock(&ucm_habana.lock);
    if (!tracked) {
        return;
    }

    /* Not under the lock: it reads /proc */
    to = habana_sys_find_fd_sharing(fd, first, last);

    pthread_mutex_lock(&ucm_habana.lock);
    if (to >= 0) {
        ucm_habana_fd_moved(fd, to);
    } else {
        count = ucm_habana_forget_fd(fd, &gone);
    }
    pthread_mutex_unlock(&ucm_habana.lock);

    for (i = 0; i < count; ++i) {
        ucm_habana_dispatch(UCM_EVENT_MEM_TYPE_FREE, gone[i].va,
                            gone[i].size);
    }
    free(gone);
}

static int ucm_habana_close(int fd)
{
    int ret;

    ucm_habana_fd_release(fd, fd, fd);
    ret = ucm_habana.orig_close(fd);
    ucm_habana_fd_advance(fd);
    return ret;
}

/* Descriptors [@first, @last] are about to be closed: release the tracked
 * ones (their mappings move only to descriptors outside the range) */
static void ucm_habana_fd_release_range(int first, int last)
{
    int fds[UCM_HABANA_RANGE_BATCH];
    unsigned i, count;

    if (!ucm_habana_tracking()) {
        return;
    }

    do {
        pthread_mutex_lock(&ucm_habana.lock);
        count = ucm_habana_tracked_fds(first, last, fds,
                                       UCM_HABANA_RANGE_BATCH);
        pthread_mutex_unlock(&ucm_habana.lock);
        for (i = 0; i < count; ++i) {
            ucm_habana_fd_release(fds[i], first, last);
        }
    } while (count == UCM_HABANA_RANGE_BATCH);
}

static void ucm_habana_fd_advance_range(int first, int last)
{
    int fd;

    for (fd = first; (fd <= last) && (fd < UCM_HABANA_FD_EPOCHS); ++fd) {
        ucm_habana_fd_advance(fd);
    }
}

static int ucm_habana_range_end(unsigned last)
{
    return (last > INT_MAX) ? INT_MAX : (int)last;
}

static int ucm_habana_close_range(unsigned first, unsigned last, int flags)
{
    int closes = !(flags & UCM_HABANA_CLOSE_RANGE_CLOEXEC) &&
                 (first <= INT_MAX) && (first <= last);
    int ret;

    if (closes) {
        ucm_habana_fd_release_range(first, ucm_habana_range_end(last));
    }
    ret = ucm_habana_fd.orig_close_range(first, last, flags);
    if (closes) {
        ucm_habana_fd_advance_range(first, ucm_habana_range_end(last));
    }
    return ret;
}

static void ucm_habana_closefrom(int lowfd)
{
    int first = (lowfd < 0) ? 0 : lowfd;

    ucm_habana_fd_release_range(first, INT_MAX);
    ucm_habana_fd.orig_closefrom(lowfd);
    ucm_habana_fd_advance_range(first, INT_MAX);
}

/*
 * Whether dup2/dup3(@oldfd, @newfd) will end @newfd's file: only when the
 * call can succeed (a bad @oldfd fails with EBADF and leaves @newfd as it
 * was) and @newfd is not another descriptor of @oldfd's open file (then the
 * context lives on).  Without kcmp() the second cannot be told: assume it
 * ends, as two descriptors of one compute context are rare.
 */
static int ucm_habana_fd_dup_ends(int oldfd, int newfd)
{
    if ((oldfd == newfd) || (fcntl(oldfd, F_GETFD) == -1)) {
        return 0;
    }

    return !habana_sys_same_file(oldfd, newfd);
}

/* Before dup2/dup3(@oldfd, @newfd): whether it ends @newfd's file */
static int ucm_habana_fd_dup_begin(int oldfd, int newfd)
{
    int ends = ucm_habana_fd_dup_ends(oldfd, newfd);

    if (ends) {
        ucm_habana_fd_release(newfd, newfd, newfd);
    }
    return ends;
}

static int ucm_habana_fd_dup_end(int newfd, int ends, int ret)
{
    if (ends) {
        ucm_habana_fd_advance(newfd);
    }
    return ret;
}

static int ucm_habana_dup2(int oldfd, int newfd)
{
    int ends = ucm_habana_fd_dup_begin(oldfd, newfd);

    return ucm_habana_fd_dup_end(newfd, ends,
                                 ucm_habana_fd.orig_dup2(oldfd, newfd));
}

static int ucm_habana_dup3(int oldfd, int newfd, int flags)
{
    int ends = ucm_habana_fd_dup_begin(oldfd, newfd);

    return ucm_habana_fd_dup_end(newfd, ends,
                                 ucm_habana_fd.orig_dup3(oldfd, newfd,
                                                         flags));
}

static ucm_reloc_patch_t ucm_habana_fd_patches[] = {
    {.symbol = "close", .value = (void*)ucm_habana_close},
    {.symbol = "dup2",  .value = (void*)ucm_habana_dup2},
    {.symbol = "dup3",  .value = (void*)ucm_habana_dup3}
};

static ucm_reloc_patch_t ucm_habana_range_patches[] = {
    {.symbol = "close_range", .value = (void*)ucm_habana_close_range},
    {.symbol = "closefrom",   .value = (void*)ucm_habana_closefrom}
};

/* The range closes, where the C library has them (an application cannot
 * call them through it otherwise) */
static ucs_status_t ucm_habana_install_range_hooks(void)
{
    void **origs[] = {(void**)&ucm_habana_fd.orig_close_range,
                      (void**)&ucm_habana_fd.orig_closefrom};
    ucs_status_t status = UCS_OK;
    unsigned i;

    for (i = 0; (status == UCS_OK) && (i < 2); ++i) {
        *origs[i] = dlsym(RTLD_DEFAULT, ucm_habana_range_patches[i].symbol);
        if (*origs[i] != NULL) {
            status = ucm_reloc_modify(&ucm_habana_range_patches[i]);
        }
    }
    return status;
}

/* Without the hooks, stale entries are still dropped when the descriptor
 * number maps again (ucm_habana_drop_stale), and descriptors are checked
 * with fstat() on each use */
void ucm_habana_install_fd_hooks(void)
{
    ucs_status_t status = UCS_OK;
    unsigned i;

    ucm_habana.orig_close  = (ucm_habana_close_func_t)dlsym(RTLD_DEFAULT,
                                                            "close");
    ucm_habana_fd.orig_dup2 = (ucm_habana_dup2_func_t)dlsym(RTLD_DEFAULT,
                                                            "dup2");
    ucm_habana_fd.orig_dup3 = (ucm_habana_dup3_func_t)dlsym(RTLD_DEFAULT,
                                                            "dup3");
    if ((ucm_habana.orig_close == NULL) || (ucm_habana_fd.orig_dup2 == NULL) ||
        (ucm_habana_fd.orig_dup3 == NULL)) {
        status = UCS_ERR_UNSUPPORTED;
    }

    for (i = 0; (status == UCS_OK) &&
                (i < sizeof(ucm_habana_fd_patches) /
                     sizeof(ucm_habana_fd_patches[0])); ++i) {
        status = ucm_reloc_modify(&ucm_habana_fd_patches[i]);
    }

    if (status == UCS_OK) {
        status = ucm_habana_install_range_hooks();
    }

    if (status != UCS_OK) {
        fprintf(stderr, "ucm_habana: cannot hook close/dup2/dup3/close_range/"
                "closefrom: %s\n", ucs_status_string(status));
        return;
    }

    __atomic_store_n(&ucm_habana_fd.hooked, 1, __ATOMIC_RELEASE);
}
