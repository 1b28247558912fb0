/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_sys.h"
#include "habana_uapi.h"

#include <kernel/include/uapi/hlsim.h> /* HLSIM_DRIVER_NAME */

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

const habana_uapi_gen_t habana_uapi_accel = {
    .name             = "accel",
    .compute_fmt      = HABANA_ACCEL_COMPUTE_FMT,
    .control_fmt      = HABANA_ACCEL_CONTROL_FMT,
    .sysfs_fmt        = HABANA_ACCEL_SYSFS_FMT,
    .info_cmd         = DRM_IOCTL_HL_INFO,
    .memory_cmd       = DRM_IOCTL_HL_MEMORY,
    .cs_cmd           = DRM_IOCTL_HL_CS,
    .wait_cs_cmd      = DRM_IOCTL_HL_WAIT_CS,
    .legacy_info_cmd  = HABANA_LEGACY_INFO,
    .export_by_handle = 0,
    .check_driver     = 1
};

const habana_uapi_gen_t habana_uapi_misc = {
    .name             = "misc",
    .compute_fmt      = HABANA_MISC_COMPUTE_FMT,
    .control_fmt      = HABANA_MISC_CONTROL_FMT,
    .sysfs_fmt        = HABANA_MISC_SYSFS_FMT,
    .info_cmd         = HABANA_LEGACY_INFO,
    .memory_cmd       = HABANA_LEGACY_MEMORY,
    .cs_cmd           = HABANA_LEGACY_CS,
    .wait_cs_cmd      = HABANA_LEGACY_WAIT_CS,
    .legacy_info_cmd  = 0,
    .export_by_handle = 1,
    .check_driver     = 0
};

const habana_uapi_gen_t *const habana_uapi_gens[] = {
    &habana_uapi_accel,
    &habana_uapi_misc,
    NULL
};

void habana_sys_link_name(const char *path, char *name, size_t max)
{
    char target[PATH_MAX];
    const char *base;
    ssize_t len;

    name[0] = '\0';
    len     = readlink(path, target, sizeof(target) - 1);
    if (len <= 0) {
        return;
    }

    target[len] = '\0';
    base        = strrchr(target, '/');
    base        = (base != NULL) ? base + 1 : target;
    if (strlen(base) < max) {
        memcpy(name, base, strlen(base) + 1);
    }
}

int habana_sys_is_habana(const char *device_link, char *driver, size_t max)
{
    static const char *known[] = {"habanalabs", HLSIM_DRIVER_NAME, NULL};
    char path[PATH_MAX + 8], device[NAME_MAX + 1];
    const char **name;

    snprintf(path, sizeof(path), "%.*s/driver", PATH_MAX - 1, device_link);
    habana_sys_link_name(path, driver, max);
    for (name = known; *name != NULL; ++name) {
        if (!strcmp(driver, *name)) {
            return 1;
        }
    }

    habana_sys_link_name(device_link, device, sizeof(device));
    return !strncmp(device, HLSIM_DRIVER_NAME, strlen(HLSIM_DRIVER_NAME));
}

/* The first descriptor of this process that @match accepts, or -1 */
static int habana_sys_find_fd(int (*match)(int fd, const void *arg),
                              const void *arg)
{
    struct dirent *entry;
    DIR *dir;
    int fd, found = -1;

    dir = opendir("/proc/self/fd");
    if (dir == NULL) {
        return -1;
    }

    while ((found < 0) && ((entry = readdir(dir)) != NULL)) {
        fd = atoi(entry->d_name);
        if ((entry->d_name[0] != '.') && (fd != dirfd(dir)) &&
            match(fd, arg)) {
            found = fd;
        }
    }

    closedir(dir);
    return found;
}

static int habana_sys_fd_is_rdev(int fd, const void *arg)
{
    struct stat st;

    return (fstat(fd, &st) == 0) && S_ISCHR(st.st_mode) &&
           (st.st_rdev == *(const dev_t*)arg);
}

int habana_sys_find_open_fd(dev_t rdev)
{
    return habana_sys_find_fd(habana_sys_fd_is_rdev, &rdev);
}

/* kcmp() type: the two descriptors refer to one open file (linux/kcmp.h) */
#define HABANA_SYS_KCMP_FILE 0

int habana_sys_same_file(int fd1, int fd2)
{
    pid_t pid = getpid();

    return syscall(SYS_kcmp, pid, pid, HABANA_SYS_KCMP_FILE, fd1, fd2) == 0;
}

/* A descriptor of @arg[0]'s open file outside [@arg[1], @arg[2]] */
static int habana_sys_fd_shares(int fd, const void *arg)
{
    const int *fds = arg;

    return ((fd < fds[1]) || (fd > fds[2])) &&
           habana_sys_same_file(fds[0], fd);
}

int habana_sys_find_fd_sharing(int fd, int first, int last)
{
    int fds[3] = {fd, first, last};

    return habana_sys_find_fd(habana_sys_fd_shares, fds);
}

int habana_sys_ioctl(int fd, unsigned long cmd, void *arg)
{
    int ret;

    do {
        ret = ioctl(fd, cmd, arg);
    } while ((ret < 0) && (errno == EINTR));

    return (ret < 0) ? -errno : 0;
}
