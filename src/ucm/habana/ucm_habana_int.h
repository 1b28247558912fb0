/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * The internal libucm interfaces a UCM module uses (UCX 1.23; libucm
 * exports them, its headers are not installed): event dispatch and
 * installers (ucm/event/event.h) and relocation patching
 * (ucm/util/reloc.h).
 */
#ifndef UCM_HABANA_INT_H_
#define UCM_HABANA_INT_H_

#include <ucm/api/ucm.h>
#include <ucs/datastruct/list.h>
#include <ucs/sys/compiler_def.h>
#include <ucs/sys/preprocessor.h>

typedef struct ucm_event_handler {
    ucs_list_link_t      list;
    int                  events;
    int                  priority;
    ucm_event_callback_t cb;
    void                 *arg;
} ucm_event_handler_t;

typedef struct ucm_event_installer {
    ucs_status_t    (*install)(int events);
    void            (*get_existing_alloc)(ucm_event_handler_t *handler);
    ucs_list_link_t list;
} ucm_event_installer_t;

typedef struct ucm_reloc_patch {
    const char      *symbol;
    void            *value;
    void            *prev_value;
    ucs_list_link_t list;
    char            **blacklist;
} ucm_reloc_patch_t;

extern ucs_list_link_t ucm_event_installer_list;

void ucm_event_dispatch(ucm_event_type_t event_type, ucm_event_t *event);
void ucm_event_enter(void);
void ucm_event_leave(void);
ucs_status_t ucm_reloc_modify(ucm_reloc_patch_t *patch);

#endif
