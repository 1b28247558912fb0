/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * Module entry: called by the UCX module loader after dlopen.  The plugin
 * declares internal UCX structures (habana_uct_int.h), so it registers
 * only with the UCX version it was built for.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "habana_uct_int.h"

#include <src/uct/habana/copy/habana_copy_iface.h>
#include <src/uct/habana/copy/habana_copy_ep.h>
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* Layouts the running UCX can confirm */
static int uct_habana_layout_matches(void)
{
    if ((uct_base_iface_t_class.size == sizeof(uct_base_iface_t)) &&
        (uct_base_ep_t_class.size == sizeof(uct_base_ep_t))) {
        return 1;
    }

    ucs_warn("habana: UCX base class sizes differ from this build "
             "(iface %zu/%zu, ep %zu/%zu): not registering",
             uct_base_iface_t_class.size, sizeof(uct_base_iface_t),
             uct_base_ep_t_class.size, sizeof(uct_base_ep_t));
    return 0;
}

static int uct_habana_version_matches(unsigned major, unsigned minor)
{
    return (major == UCT_HABANA_UCX_MAJOR) && (minor == UCT_HABANA_UCX_MINOR);
}

/*
 * libuct and libucs export no version query; libucp's ucp_get_version()
 * reports the release, and the libucp beside the running libuct belongs
 * to the same build.
 */
static uct_habana_get_version_func_t uct_habana_find_get_version(void)
{
    uct_habana_get_version_func_t func;
    char path[PATH_MAX];
    Dl_info info;
    void *handle;

    func = (uct_habana_get_version_func_t)dlsym(RTLD_DEFAULT,
                                                "ucp_get_version");
    if (func != NULL) {
        return func;
    }

    if ((dladdr((void*)uct_component_register, &info) == 0) ||
        (info.dli_fname == NULL) ||
        (strlen(info.dli_fname) >= sizeof(path))) {
        return NULL;
    }

    strcpy(path, info.dli_fname);
    snprintf(path + strlen(dirname(path)), sizeof(path) - strlen(path),
             "/libucp.so.0");
    handle = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    if (handle == NULL) {
        ucs_debug("habana: dlopen(%s) failed: %s", path, dlerror());
        return NULL;
    }

    /* Kept open: the symbol is used right away, and libucp stays loaded
     * in every process that uses UCP anyway */
    return (uct_habana_get_version_func_t)dlsym(handle, "ucp_get_version");
}

ucs_status_t __attribute__((visibility("default"))) ucs_module_global_init(void)
{
    uct_habana_get_version_func_t get_version;
    unsigned major, minor, release;

    get_version = uct_habana_find_get_version();
    if (get_version == NULL) {
        ucs_warn("habana: cannot tell the UCX version (no ucp_get_version): "
                 "not registering the habana component");
        return UCS_OK;
    }

    get_version(&major, &minor, &release);
    if (!uct_habana_version_matches(major, minor)) {
        ucs_warn("habana: libuct_habana was built for UCX %d.%d but runs "
                 "with UCX %u.%u.%u: not registering the habana component; "
                 "rebuild the plugin against this UCX", UCT_HABANA_UCX_MAJOR,
                 UCT_HABANA_UCX_MINOR, major, minor, release);
        return UCS_OK;
    }

    if (!uct_habana_layout_matches()) {
        return UCS_OK;
    }

    uct_tl_register(&uct_habana_component, &uct_habana_copy_tl);
    uct_component_register(&uct_habana_component);
    return UCS_OK;
}
