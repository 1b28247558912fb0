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

ucs_status_t __attribute__((visibility("default"))) ucs_module_global_init(void)
{
    unsigned major, minor, release;

    uct_get_version(&major, &minor, &release);
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
