/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * libucx_perftest_habana, the ucx_perftest allocator, loaded as
 * ucx_perftest loads it and given perftest contexts of both layouts: the
 * UCT part of the context starts with a ucs_async_context_t of 104 bytes
 * when UCX was built with assertions (Debian) and of 80 bytes without
 * (contrib/configure-release), on x86-64.  The module must register its
 * buffers with the context's memory domain in either, and in another size
 * it was not told about.
 */
#include "habana_fixture.h"

extern "C" {
#include <src/tools/perf/habana_perf_int.h>
}

#include <dlfcn.h>
#include <unistd.h>

#include <cstring>

/* ucs_async_context_t with and without UCX assertions, x86-64 */
static const size_t async_size_assert  = 104;
static const size_t async_size_release = 80;

/* Defined by ucx_perftest; the module fills the gaudi slot */
extern "C" {
const ucx_perf_allocator_t *ucx_perf_mem_type_allocators[UCS_MEMORY_TYPE_LAST];
}

static unsigned fake_group_index(void *rte_group)
{
    return 0;
}

class habana_perftest : public habana_md {
protected:
    void SetUp() override
    {
        habana_md::SetUp();
        if (env_int("HL_DOUBLE_DEVICES", 1) == 0) {
            GTEST_SKIP() << "no device in this configuration";
        }
        load_module();
        if (m_module == NULL) {
            GTEST_SKIP() << "libucx_perftest_habana not in UCX_PLUGIN_PATH";
        }

        m_rte.group_index = fake_group_index;
        init_params(&m_perf);
        ASSERT_EQ(UCS_OK, m_alloc->init(&m_perf));
        open_md("try");
        open_decoy_md();
    }

    void TearDown() override
    {
        if (m_decoy != NULL) {
            uct_md_close(m_decoy);
        }
        habana_md::TearDown();
        if (m_module != NULL) {
            dlclose(m_module);
        }
    }

    void load_module()
    {
        std::string path = env_str("UCX_PLUGIN_PATH", "");
        path = path.substr(0, path.find(':')) + "/libucx_perftest_habana.so.0";
        if (access(path.c_str(), R_OK) != 0) {
            return;
        }

        m_module = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        ASSERT_NE(nullptr, m_module) << dlerror();
        auto init = reinterpret_cast<ucs_status_t (*)()>(
                dlsym(m_module, "ucs_module_global_init"));
        ASSERT_NE(nullptr, init) << dlerror();
        ASSERT_EQ(UCS_OK, init());
        m_alloc = ucx_perf_mem_type_allocators[UCS_MEMORY_TYPE_GAUDI];
        ASSERT_NE(nullptr, m_alloc);
    }

    /* Another MD, which the module must not pick */
    void open_decoy_md()
    {
        uct_component_h *components;
        uct_md_config_t *config;
        unsigned count;

        ASSERT_EQ(UCS_OK, uct_query_components(&components, &count));
        for (unsigned i = 0; (i < count) && (m_decoy == NULL); ++i) {
            uct_component_attr_t attr = {};
            attr.field_mask = UCT_COMPONENT_ATTR_FIELD_NAME;
            ASSERT_EQ(UCS_OK, uct_component_query(components[i], &attr));
            if (std::string(attr.name) == "self") {
                ASSERT_EQ(UCS_OK, uct_md_config_read(components[i], NULL,
                                                     NULL, &config));
                EXPECT_EQ(UCS_OK, uct_md_open(components[i], "self", config,
                                              &m_decoy));
                uct_config_release(config);
            }
        }
        uct_release_component_list(components);
        ASSERT_NE(nullptr, m_decoy) << "no self memory domain";
    }

    void init_params(ucx_perf_context_t *perf)
    {
        memset(perf, 0, sizeof(*perf));
        perf->params.send_mem_type         = UCS_MEMORY_TYPE_GAUDI;
        perf->params.recv_mem_type         = UCS_MEMORY_TYPE_GAUDI;
        perf->params.send_device.device_id = UCX_PERF_HABANA_MEM_DEV_DEFAULT;
        perf->params.recv_device.device_id = UCX_PERF_HABANA_MEM_DEV_DEFAULT;
        perf->params.rte                   = &m_rte;
        perf->send_allocator               = m_alloc;
        perf->recv_allocator               = m_alloc;
    }

    /* A context as ucx_perftest fills it for a UCT test, the async context
     * being @async_size bytes; every other pointer-sized slot of the UCT
     * part names the decoy MD */
    void make_context(ucx_perf_context_t *perf, size_t async_size)
    {
        uint8_t *uct = reinterpret_cast<uint8_t*>(&perf->ucp);
        uint8_t *end = reinterpret_cast<uint8_t*>(perf + 1);
        uct_md_h *slot;

        init_params(perf);
        for (size_t offset = 0; uct + offset < end;
             offset += sizeof(uct_md_h)) {
            slot  = reinterpret_cast<uct_md_h*>(uct + offset);
            *slot = m_decoy;
        }

        auto members = reinterpret_cast<ucx_perf_habana_uct_t*>(uct +
                                                                async_size);
        members->cmpt   = m_component;
        members->md     = m_md;
        members->worker = NULL;
        members->iface  = NULL;
    }

    void check_alloc(size_t async_size)
    {
        uct_allocated_memory_t mem = {};

        make_context(&m_perf, async_size);
        ASSERT_EQ(UCS_OK, m_alloc->uct_alloc(&m_perf, 65536,
                                             UCT_MD_MEM_ACCESS_ALL, &mem));
        EXPECT_EQ(m_md, mem.md) << "registered with another memory domain";
        EXPECT_EQ(UCS_MEMORY_TYPE_GAUDI, mem.mem_type);
        EXPECT_EQ(65536u, mem.length);
        m_alloc->uct_free(&m_perf, &mem);
    }

    void                       *m_module = NULL;
    const ucx_perf_allocator_t *m_alloc  = NULL;
    uct_md_h                   m_decoy   = NULL;
    ucx_perf_rte_t             m_rte     = {};
    ucx_perf_context_t         m_perf;
};

TEST_F(habana_perftest, uct_alloc_with_assertions_layout)
{
    check_alloc(async_size_assert);
}

TEST_F(habana_perftest, uct_alloc_with_release_layout)
{
    check_alloc(async_size_release);
}

/* Found by observation, not from a list of sizes */
TEST_F(habana_perftest, uct_alloc_with_another_async_size)
{
    check_alloc(async_size_release + 3 * sizeof(void*));
}

/* The component handle alone is not enough: the MD must be one of it */
TEST_F(habana_perftest, uct_alloc_refuses_md_of_another_component)
{
    uct_allocated_memory_t mem = {};

    make_context(&m_perf, async_size_release);
    reinterpret_cast<ucx_perf_habana_uct_t*>(
            reinterpret_cast<uint8_t*>(&m_perf.ucp) +
            async_size_release)->md = m_decoy;
    EXPECT_NE(UCS_OK, m_alloc->uct_alloc(&m_perf, 65536, UCT_MD_MEM_ACCESS_ALL,
                                         &mem));
}

/* Neither layout: an error, no registration with a wrong MD */
TEST_F(habana_perftest, uct_alloc_refuses_unknown_layout)
{
    uct_allocated_memory_t mem = {};

    make_context(&m_perf, async_size_release);
    reinterpret_cast<ucx_perf_habana_uct_t*>(
            reinterpret_cast<uint8_t*>(&m_perf.ucp) +
            async_size_release)->cmpt = NULL;
    EXPECT_NE(UCS_OK, m_alloc->uct_alloc(&m_perf, 65536, UCT_MD_MEM_ACCESS_ALL,
                                         &mem));
}
