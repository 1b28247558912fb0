/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * Test stand-in for UCX's own gaudi module (libuct_gaudi, component
 * gaudi_gdr, which needs hl-thunk and is not in Debian's build): installed
 * as libuct_gaudi.so.0 in a UCX_PLUGIN_PATH directory it registers a
 * component of that name with one memory domain resource, which cannot be
 * opened.  The check is that libuct_habana then steps aside with one line,
 * and serves again with UCX_MODULES=^gaudi.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <src/uct/habana/base/habana_uct_int.h>

static ucs_config_field_t fake_gaudi_gdr_md_config_table[] = {
    {"", "", NULL, 0, UCS_CONFIG_TYPE_TABLE(uct_md_config_table)},
    {NULL}
};

static ucs_status_t fake_gaudi_gdr_md_open(uct_component_t *component,
                                           const char *md_name,
                                           const uct_md_config_t *config,
                                           uct_md_h *md_p)
{
    return UCS_ERR_NO_DEVICE;
}

static uct_component_t fake_gaudi_gdr_component = {
    .name               = "gaudi_gdr",
    .query_md_resources = uct_md_query_single_md_resource,
    .md_open            = fake_gaudi_gdr_md_open,
    .cm_open            = (void*)ucs_empty_function_return_unsupported,
    .rkey_unpack        = (void*)ucs_empty_function_return_unsupported,
    .rkey_ptr           = (void*)ucs_empty_function_return_unsupported,
    .rkey_release       = (void*)ucs_empty_function_return_success,
    .rkey_compare       = (void*)ucs_empty_function_return_unsupported,
    .md_config          = {
        .name           = "fake gaudi-gdr memory domain",
        .prefix         = "GAUDI_GDR_",
        .table          = fake_gaudi_gdr_md_config_table,
        .size           = sizeof(uct_md_config_t)
    },
    .cm_config          = UCS_CONFIG_EMPTY_GLOBAL_LIST_ENTRY,
    .tl_list            = {&fake_gaudi_gdr_component.tl_list,
                           &fake_gaudi_gdr_component.tl_list},
    .flags              = 0,
    .md_vfs_init        = (void*)ucs_empty_function
};

ucs_status_t __attribute__((visibility("default"))) ucs_module_global_init(void)
{
    uct_component_register(&fake_gaudi_gdr_component);
    return UCS_OK;
}
