/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * libhabana_common: the few system lookups every part of the project needs
 * (internal convenience library, never installed).
 */
#ifndef HABANA_SYS_H_
#define HABANA_SYS_H_

#include <stddef.h>
#include <sys/types.h>

/* The last path component of the symlink @path into @name, or "" */
void habana_sys_link_name(const char *path, char *name, size_t max);

/*
 * Is the class device at @device_link (sysfs) a Habana device: driven by
 * habanalabs or hlsim, or one of hlsim's faux devices (no driver)?  Fills
 * @driver with the driver's name ("" without one).
 */
int habana_sys_is_habana(const char *device_link, char *driver, size_t max);

/* ioctl() retried on EINTR: 0, or -errno */
int habana_sys_ioctl(int fd, unsigned long cmd, void *arg);

/* A descriptor of this process open on the character device @rdev, or -1 */
int habana_sys_find_open_fd(dev_t rdev);

/* Do @fd1 and @fd2 refer to one open file (kcmp; 0 where it is unknown)? */
int habana_sys_same_file(int fd1, int fd2);

/* A descriptor of @fd's open file (a dup of it) that is not in
 * [@first, @last] (those about to be closed; @fd among them), or -1 */
int habana_sys_find_fd_sharing(int fd, int first, int last);

#endif
