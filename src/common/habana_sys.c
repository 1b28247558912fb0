/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_sys.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int habana_sys_find_open_fd(dev_t rdev)
{
    struct dirent *entry;
    struct stat st;
    DIR *dir;
    int fd, found = -1;

    dir = opendir("/proc/self/fd");
    if (dir == NULL) {
        return -1;
    }

    while ((found < 0) && ((entry = readdir(dir)) != NULL)) {
        fd = atoi(entry->d_name);
        if ((entry->d_name[0] == '.') || (fd == dirfd(dir))) {
            continue;
        }

        if ((fstat(fd, &st) == 0) && S_ISCHR(st.st_mode) &&
            (st.st_rdev == rdev)) {
            found = fd;
        }
    }

    closedir(dir);
    return found;
}
