/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * A habana iface with an endpoint to itself, device buffers and a worker
 * to progress, for the transport's gtests (test_copy_async.cc,
 * test_copy_conform.cc).
 */
#ifndef HABANA_COPY_FIXTURE_H_
#define HABANA_COPY_FIXTURE_H_

#include "habana_fixture.h"

#include <ucs/async/async_fwd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>
#include <vector>

namespace {

const size_t CHUNK = 64 * 1024;

/* A completion counting its calls and keeping the last status */
struct counted_comp {
    uct_completion_t uct;
    unsigned         calls  = 0;
    ucs_status_t     status = UCS_OK;
    unsigned         order  = 0; /* value of *sequence when called */
    unsigned         *sequence = NULL;

    explicit counted_comp(unsigned *seq = NULL) : sequence(seq)
    {
        uct.func   = callback;
        uct.count  = 1;
        uct.status = UCS_OK;
    }

    static void callback(uct_completion_t *self)
    {
        counted_comp *comp = ucs_container_of(self, counted_comp, uct);
        ++comp->calls;
        comp->status = self->status;
        if (comp->sequence != NULL) {
            comp->order = (*comp->sequence)++;
        }
    }
};

inline std::vector<char> pattern(size_t size, unsigned seed)
{
    std::vector<char> data(size);
    for (size_t i = 0; i < size; ++i) {
        data[i] = (char)(i * 31 + seed * 7 + (i >> 12));
    }
    return data;
}

} // namespace

class habana_copy_iface_test : public habana_md {
protected:
    void SetUp() override
    {
        habana_md::SetUp();
        if (env_int("HL_DOUBLE_DEVICES", 1) == 0) {
            GTEST_SKIP() << "no device in this configuration";
        }
        open_md("try");
        ASSERT_EQ(UCS_OK, ucs_async_context_create(
                                  UCS_ASYNC_MODE_THREAD_SPINLOCK, &m_async));
        ASSERT_EQ(UCS_OK, uct_worker_create(m_async, UCS_THREAD_MODE_SINGLE,
                                            &m_worker));
    }

    void TearDown() override
    {
        close_iface();
        for (dev_buffer &buf : m_bufs) {
            dev_buffer_free(&buf);
        }
        m_bufs.clear();
        if (m_worker != NULL) {
            uct_worker_destroy(m_worker);
        }
        if (m_async != NULL) {
            ucs_async_context_destroy(m_async);
        }
        habana_md::TearDown();
    }

    /* Open the habana iface and an ep to itself, with HABANA_COPY_* set */
    void open_iface(std::vector<std::pair<const char*, const char*>> opts =
                            {})
    {
        uct_iface_config_t *config;
        ASSERT_EQ(UCS_OK, uct_md_iface_config_read(m_md, "habana", NULL, NULL,
                                                   &config));
        /* Defaults may change with measurements: the tests choose */
        opts.insert(opts.begin(), {{"HABANA_COPY_ASYNC_THRESH", "64k"},
                                   {"HABANA_COPY_MAX_OUTSTANDING", "64"}});
        for (auto &opt : opts) {
            ASSERT_EQ(UCS_OK, uct_config_modify(config, opt.first,
                                                opt.second))
                    << opt.first;
        }

        ucs_status_t status = iface_open(config, &m_iface);
        uct_config_release(config);
        ASSERT_EQ(UCS_OK, status);
        uct_iface_progress_enable(m_iface,
                                  UCT_PROGRESS_SEND | UCT_PROGRESS_RECV);

        ASSERT_EQ(UCS_OK, uct_iface_query(m_iface, &m_attr));
        m_dev_addr.resize(m_attr.device_addr_len + 1);
        m_iface_addr.resize(m_attr.iface_addr_len + 1);
        ASSERT_EQ(UCS_OK, uct_iface_get_device_address(
                                  m_iface,
                                  (uct_device_addr_t*)m_dev_addr.data()));
        ASSERT_EQ(UCS_OK, uct_iface_get_address(
                                  m_iface,
                                  (uct_iface_addr_t*)m_iface_addr.data()));

        ASSERT_EQ(UCS_OK, create_ep(&m_ep));
    }

    /* The habana0 iface of the MD, with @config */
    ucs_status_t iface_open(const uct_iface_config_t *config,
                            uct_iface_h *iface_p)
    {
        uct_iface_params_t params = {};
        params.field_mask           = UCT_IFACE_PARAM_FIELD_OPEN_MODE |
                                      UCT_IFACE_PARAM_FIELD_DEVICE;
        params.open_mode            = UCT_IFACE_OPEN_MODE_DEVICE;
        params.mode.device.tl_name  = "habana";
        params.mode.device.dev_name = "habana0";
        return uct_iface_open(m_md, m_worker, &params, config, iface_p);
    }

    /* An endpoint of the iface to itself */
    ucs_status_t create_ep(uct_ep_h *ep_p)
    {
        uct_ep_params_t ep_params = {};
        ep_params.field_mask = UCT_EP_PARAM_FIELD_IFACE |
                               UCT_EP_PARAM_FIELD_DEV_ADDR |
                               UCT_EP_PARAM_FIELD_IFACE_ADDR;
        ep_params.iface      = m_iface;
        ep_params.dev_addr   = (const uct_device_addr_t*)m_dev_addr.data();
        ep_params.iface_addr = (const uct_iface_addr_t*)m_iface_addr.data();
        return uct_ep_create(&ep_params, ep_p);
    }

    void close_iface()
    {
        if (m_ep != NULL) {
            uct_ep_pending_purge(m_ep, NULL, NULL);
            uct_ep_destroy(m_ep);
            m_ep = NULL;
        }
        if (m_iface != NULL) {
            uct_iface_close(m_iface);
            m_iface = NULL;
        }
    }

    void *dev_alloc(size_t size)
    {
        dev_buffer buf;
        EXPECT_TRUE(dev_buffer_alloc(0, size, &buf)) << strerror(errno);
        m_bufs.push_back(buf);
        return buf.va;
    }

    const dev_buffer &dev_buf(void *va)
    {
        for (const dev_buffer &buf : m_bufs) {
            if (buf.va == va) {
                return buf;
            }
        }
        ADD_FAILURE() << "unknown device buffer " << va;
        return m_bufs.front();
    }

    std::vector<char> dev_read(void *va, size_t size)
    {
        std::vector<char> data(size);
        EXPECT_EQ(0, dev_copy_d2h(data.data(), dev_buf(va), 0, size));
        return data;
    }

    ucs_status_t put(void *dst, const void *src, size_t length,
                     counted_comp *comp, uct_mem_h memh = UCT_MEM_HANDLE_NULL)
    {
        uct_iov_t iov = {};
        iov.buffer    = const_cast<void*>(src);
        iov.length    = length;
        iov.memh      = memh;
        iov.count     = 1;
        return uct_ep_put_zcopy(m_ep, &iov, 1, (uintptr_t)dst,
                                UCT_INVALID_RKEY,
                                (comp != NULL) ? &comp->uct : NULL);
    }

    ucs_status_t get(void *dst, const void *src, size_t length,
                     counted_comp *comp, uct_mem_h memh = UCT_MEM_HANDLE_NULL)
    {
        uct_iov_t iov = {};
        iov.buffer    = dst;
        iov.length    = length;
        iov.memh      = memh;
        iov.count     = 1;
        return uct_ep_get_zcopy(m_ep, &iov, 1, (uintptr_t)src,
                                UCT_INVALID_RKEY,
                                (comp != NULL) ? &comp->uct : NULL);
    }

    /* Progress the worker until @done or @seconds passed */
    template <typename F> bool progress_until(F done, int seconds = 10)
    {
        auto end = std::chrono::steady_clock::now() +
                   std::chrono::seconds(seconds);
        while (!done()) {
            if (std::chrono::steady_clock::now() > end) {
                return false;
            }
            uct_worker_progress(m_worker);
        }
        return true;
    }

    void iface_flush()
    {
        ucs_status_t status;
        ASSERT_TRUE(progress_until([&]() {
            status = uct_iface_flush(m_iface, 0, NULL);
            return status != UCS_INPROGRESS;
        }));
        ASSERT_EQ(UCS_OK, status);
    }

    ucs_async_context_t     *m_async  = NULL;
    uct_worker_h            m_worker  = NULL;
    uct_iface_h             m_iface   = NULL;
    uct_ep_h                m_ep      = NULL;
    uct_iface_attr_t        m_attr    = {};
    std::vector<char>       m_dev_addr;
    std::vector<char>       m_iface_addr;
    std::vector<dev_buffer> m_bufs;
};

#endif
