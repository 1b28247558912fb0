/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * Test double: preloaded, it makes the running UCX report another release,
 * to check that libuct_habana then refuses to register.
 */
#include <stdlib.h>

__attribute__((visibility("default"))) void
ucp_get_version(unsigned *major, unsigned *minor, unsigned *release)
{
    const char *minor_env = getenv("FAKE_UCX_MINOR");

    *major   = 1;
    *minor   = (minor_env != NULL) ? (unsigned)atoi(minor_env) : 99;
    *release = 0;
}
