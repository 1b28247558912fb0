/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * The habana copy transport's asynchronous zero copy, through UCX's public
 * UCT API: copies posted to the iface's copy thread, completions from
 * iface progress, flush, ring-full back pressure with pending requests,
 * the event fd, fences and closing with copies outstanding.  Named
 * habana_md_* so that the runner runs it in every hl_double configuration.
 */
#include "habana_fixture.h"

#include <ucs/async/async_fwd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <poll.h>
#include <unistd.h>
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

std::vector<char> pattern(size_t size, unsigned seed)
{
    std::vector<char> data(size);
    for (size_t i = 0; i < size; ++i) {
        data[i] = (char)(i * 31 + seed * 7 + (i >> 12));
    }
    return data;
}

} // namespace

class habana_md_copy_async : public habana_md {
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

        uct_iface_params_t params = {};
        params.field_mask           = UCT_IFACE_PARAM_FIELD_OPEN_MODE |
                                      UCT_IFACE_PARAM_FIELD_DEVICE;
        params.open_mode            = UCT_IFACE_OPEN_MODE_DEVICE;
        params.mode.device.tl_name  = "habana";
        params.mode.device.dev_name = "habana0";
        ucs_status_t status = uct_iface_open(m_md, m_worker, &params, config,
                                             &m_iface);
        uct_config_release(config);
        ASSERT_EQ(UCS_OK, status);
        uct_iface_progress_enable(m_iface,
                                  UCT_PROGRESS_SEND | UCT_PROGRESS_RECV);

        ASSERT_EQ(UCS_OK, uct_iface_query(m_iface, &m_attr));
        m_addr.resize(m_attr.iface_addr_len + m_attr.device_addr_len + 1);
        ASSERT_EQ(UCS_OK, uct_iface_get_address(
                                  m_iface, (uct_iface_addr_t*)m_addr.data()));

        uct_ep_params_t ep_params = {};
        ep_params.field_mask = UCT_EP_PARAM_FIELD_IFACE |
                               UCT_EP_PARAM_FIELD_DEV_ADDR |
                               UCT_EP_PARAM_FIELD_IFACE_ADDR;
        ep_params.iface      = m_iface;
        ep_params.dev_addr   = (const uct_device_addr_t*)m_addr.data();
        ep_params.iface_addr = (const uct_iface_addr_t*)m_addr.data();
        ASSERT_EQ(UCS_OK, uct_ep_create(&ep_params, &m_ep));
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
                     counted_comp *comp)
    {
        uct_iov_t iov = {};
        iov.buffer    = const_cast<void*>(src);
        iov.length    = length;
        iov.count     = 1;
        return uct_ep_put_zcopy(m_ep, &iov, 1, (uintptr_t)dst,
                                UCT_INVALID_RKEY,
                                (comp != NULL) ? &comp->uct : NULL);
    }

    ucs_status_t get(void *dst, const void *src, size_t length,
                     counted_comp *comp)
    {
        uct_iov_t iov = {};
        iov.buffer    = dst;
        iov.length    = length;
        iov.count     = 1;
        return uct_ep_get_zcopy(m_ep, &iov, 1, (uintptr_t)src,
                                UCT_INVALID_RKEY,
                                (comp != NULL) ? &comp->uct : NULL);
    }

    /* Progress the worker until @done or 10 seconds passed */
    template <typename F> bool progress_until(F done)
    {
        auto end = std::chrono::steady_clock::now() +
                   std::chrono::seconds(10);
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
    std::vector<char>       m_addr;
    std::vector<dev_buffer> m_bufs;
};

TEST_F(habana_md_copy_async, advertises_events_and_pending)
{
    ASSERT_NO_FATAL_FAILURE(open_iface());
    EXPECT_TRUE(m_attr.cap.event_flags & UCT_IFACE_FLAG_EVENT_SEND_COMP);
    EXPECT_TRUE(m_attr.cap.event_flags & UCT_IFACE_FLAG_EVENT_FD);
    EXPECT_TRUE(m_attr.cap.flags & UCT_IFACE_FLAG_PENDING);
    EXPECT_TRUE(m_attr.cap.flags & UCT_IFACE_FLAG_PUT_ZCOPY);
    EXPECT_TRUE(m_attr.cap.flags & UCT_IFACE_FLAG_GET_ZCOPY);

    /* Idle: flushes are complete at once */
    EXPECT_EQ(UCS_OK, uct_iface_flush(m_iface, 0, NULL));
    EXPECT_EQ(UCS_OK, uct_ep_flush(m_ep, 0, NULL));
}

/* Many copies in flight in every direction, each with its completion */
TEST_F(habana_md_copy_async, many_outstanding_put_get)
{
    const unsigned n = 32; /* 2 * n fill the ring of 64 */
    ASSERT_NO_FATAL_FAILURE(open_iface());
    char *dev_a = (char*)dev_alloc(n * CHUNK);
    char *dev_b = (char*)dev_alloc(n * CHUNK);
    std::vector<char> in = pattern(n * CHUNK, 1), out(n * CHUNK, 0),
                      host(n * CHUNK, 0);

    /* host -> device A */
    std::vector<counted_comp> comps(n);
    for (unsigned i = 0; i < n; ++i) {
        ASSERT_EQ(UCS_INPROGRESS, put(dev_a + i * CHUNK, &in[i * CHUNK],
                                      CHUNK, &comps[i]));
    }
    ASSERT_TRUE(progress_until([&]() {
        for (auto &c : comps) {
            if (c.calls == 0) {
                return false;
            }
        }
        return true;
    }));
    for (auto &c : comps) {
        EXPECT_EQ(1u, c.calls);
        EXPECT_EQ(UCS_OK, c.status);
    }
    EXPECT_TRUE(dev_read(dev_a, n * CHUNK) == in);

    /* device A -> device B (put) and device B -> host (get), in flight
     * together: the ring executes in order */
    std::vector<counted_comp> d2d(n), d2h(n);
    for (unsigned i = 0; i < n; ++i) {
        ASSERT_EQ(UCS_INPROGRESS, put(dev_b + i * CHUNK, dev_a + i * CHUNK,
                                      CHUNK, &d2d[i]));
    }
    ASSERT_EQ(UCS_OK, uct_ep_fence(m_ep, 0));
    for (unsigned i = 0; i < n; ++i) {
        ASSERT_EQ(UCS_INPROGRESS, get(&out[i * CHUNK], dev_b + i * CHUNK,
                                      CHUNK, &d2h[i]));
    }
    ASSERT_NO_FATAL_FAILURE(iface_flush());
    for (unsigned i = 0; i < n; ++i) {
        EXPECT_EQ(1u, d2d[i].calls);
        EXPECT_EQ(UCS_OK, d2d[i].status);
        EXPECT_EQ(1u, d2h[i].calls);
        EXPECT_EQ(UCS_OK, d2h[i].status);
    }
    EXPECT_TRUE(out == in);

    /* host -> host: memcpy on the copy thread */
    counted_comp hh;
    ASSERT_EQ(UCS_INPROGRESS, put(host.data(), in.data(), n * CHUNK, &hh));
    ASSERT_TRUE(progress_until([&]() { return hh.calls != 0; }));
    EXPECT_EQ(UCS_OK, hh.status);
    EXPECT_TRUE(host == in);
}

/* Below the threshold, copies are done by the caller */
TEST_F(habana_md_copy_async, small_copies_inline)
{
    ASSERT_NO_FATAL_FAILURE(open_iface());
    char *dev = (char*)dev_alloc(CHUNK);
    std::vector<char> in = pattern(CHUNK - 1, 2), out(CHUNK - 1, 0);
    counted_comp comp;

    EXPECT_EQ(UCS_OK, put(dev, in.data(), in.size(), &comp));
    EXPECT_EQ(UCS_OK, get(out.data(), dev, out.size(), &comp));
    EXPECT_EQ(0u, comp.calls);
    EXPECT_TRUE(out == in);
    EXPECT_EQ(UCS_OK, uct_iface_flush(m_iface, 0, NULL));
}

/* A failing copy ioctl becomes the completion's status */
TEST_F(habana_md_copy_async, error_is_completion_status)
{
    ASSERT_NO_FATAL_FAILURE(open_iface());
    std::vector<char> in = pattern(CHUNK, 3);
    /* a device address nothing is mapped at */
    void *unmapped = (void*)(uintptr_t)0x1f00000000000000ull;
    counted_comp comp;

    ucs_status_t status = put(unmapped, in.data(), CHUNK, &comp);
    ASSERT_EQ(UCS_INPROGRESS, status);
    ASSERT_TRUE(progress_until([&]() { return comp.calls != 0; }));
    EXPECT_EQ(1u, comp.calls);
    EXPECT_NE(UCS_OK, comp.status);
    EXPECT_EQ(UCS_OK, uct_iface_flush(m_iface, 0, NULL));
}

/* ep flush completes after every copy posted before it */
TEST_F(habana_md_copy_async, flush_waits)
{
    const unsigned n = 32;
    ASSERT_NO_FATAL_FAILURE(open_iface());
    char *dev = (char*)dev_alloc(n * 4 * CHUNK);
    std::vector<char> in = pattern(n * 4 * CHUNK, 4);
    unsigned sequence = 0;
    std::vector<counted_comp> comps(n, counted_comp(&sequence));

    for (unsigned i = 0; i < n; ++i) {
        /* every other one without a completion */
        ASSERT_EQ(UCS_INPROGRESS,
                  put(dev + i * 4 * CHUNK, &in[i * 4 * CHUNK], 4 * CHUNK,
                      (i % 2) ? &comps[i] : NULL));
    }

    counted_comp flush(&sequence);
    ASSERT_EQ(UCS_INPROGRESS, uct_ep_flush(m_ep, 0, &flush.uct));
    EXPECT_EQ(UCS_INPROGRESS, uct_iface_flush(m_iface, 0, NULL));
    ASSERT_TRUE(progress_until([&]() { return flush.calls != 0; }));
    EXPECT_EQ(1u, flush.calls);
    EXPECT_EQ(UCS_OK, flush.status);
    for (unsigned i = 1; i < n; i += 2) {
        EXPECT_EQ(1u, comps[i].calls);
        EXPECT_LT(comps[i].order, flush.order);
    }

    /* all done: flushes complete at once, data is there */
    EXPECT_EQ(UCS_OK, uct_iface_flush(m_iface, 0, NULL));
    EXPECT_EQ(UCS_OK, uct_ep_flush(m_ep, 0, NULL));
    EXPECT_TRUE(dev_read(dev, n * 4 * CHUNK) == in);
}

namespace {

/* A pending request that posts one put when dispatched */
struct pending_put {
    uct_pending_req_t             uct;
    std::function<ucs_status_t()> post;
    unsigned                      calls = 0;

    static ucs_status_t callback(uct_pending_req_t *self)
    {
        pending_put *req = ucs_container_of(self, pending_put, uct);
        ucs_status_t status;

        ++req->calls;
        status = req->post();
        return (status == UCS_INPROGRESS) ? UCS_OK : status;
    }
};

void purge_count(uct_pending_req_t *self, void *arg)
{
    ++*(unsigned*)arg;
}

} // namespace

/* RING_FULL=no_resource: a full ring refuses, pending requests run when
 * completions free space */
TEST_F(habana_md_copy_async, ring_full_pending_dispatch)
{
    const unsigned ring = 4, extra = 6;
    ASSERT_NO_FATAL_FAILURE(open_iface({{"HABANA_COPY_MAX_OUTSTANDING", "4"},
                                        {"HABANA_COPY_RING_FULL",
                                         "no_resource"}}));
    char *dev = (char*)dev_alloc((ring + extra) * CHUNK);
    std::vector<char> in = pattern((ring + extra) * CHUNK, 5);
    std::vector<counted_comp> comps(ring + extra);

    /* a pending request while the ring has space is refused */
    pending_put early;
    early.uct.func = pending_put::callback;
    EXPECT_EQ(UCS_ERR_BUSY, uct_ep_pending_add(m_ep, &early.uct, 0));

    for (unsigned i = 0; i < ring; ++i) {
        ASSERT_EQ(UCS_INPROGRESS, put(dev + i * CHUNK, &in[i * CHUNK], CHUNK,
                                      &comps[i]));
    }
    /* no progress yet: the ring stays full, whatever the thread did */
    ASSERT_EQ(UCS_ERR_NO_RESOURCE,
              put(dev + ring * CHUNK, &in[ring * CHUNK], CHUNK,
                  &comps[ring]));

    std::vector<pending_put> pending(extra);
    for (unsigned i = 0; i < extra; ++i) {
        unsigned k      = ring + i;
        pending[i].uct.func = pending_put::callback;
        pending[i].post = [this, dev, &in, &comps, k]() {
            return put(dev + k * CHUNK, &in[k * CHUNK], CHUNK, &comps[k]);
        };
        ASSERT_EQ(UCS_OK, uct_ep_pending_add(m_ep, &pending[i].uct, 0));
    }
    /* requests are pending: the ep cannot be flushed yet */
    EXPECT_EQ(UCS_ERR_NO_RESOURCE, uct_ep_flush(m_ep, 0, NULL));

    ASSERT_TRUE(progress_until([&]() {
        for (auto &c : comps) {
            if (c.calls == 0) {
                return false;
            }
        }
        return true;
    }));
    for (unsigned i = 0; i < extra; ++i) {
        EXPECT_EQ(1u, pending[i].calls) << i;
    }
    for (auto &c : comps) {
        EXPECT_EQ(1u, c.calls);
        EXPECT_EQ(UCS_OK, c.status);
    }
    ASSERT_NO_FATAL_FAILURE(iface_flush());
    EXPECT_TRUE(dev_read(dev, (ring + extra) * CHUNK) == in);

    /* purge hands back what is still pending */
    std::vector<counted_comp> more(ring);
    for (unsigned i = 0; i < ring; ++i) {
        ASSERT_EQ(UCS_INPROGRESS, put(dev + i * CHUNK, &in[i * CHUNK], CHUNK,
                                      &more[i]));
    }
    pending_put left;
    left.uct.func = pending_put::callback;
    ASSERT_EQ(UCS_OK, uct_ep_pending_add(m_ep, &left.uct, 0));
    unsigned purged = 0;
    uct_ep_pending_purge(m_ep, purge_count, &purged);
    EXPECT_EQ(1u, purged);
    ASSERT_NO_FATAL_FAILURE(iface_flush());
    EXPECT_EQ(0u, left.calls);
}

/* RING_FULL=copy (the default): a full ring makes the caller copy */
TEST_F(habana_md_copy_async, ring_full_copies_inline)
{
    ASSERT_NO_FATAL_FAILURE(open_iface({{"HABANA_COPY_MAX_OUTSTANDING",
                                         "2"}}));
    char *dev = (char*)dev_alloc(4 * CHUNK);
    std::vector<char> in = pattern(4 * CHUNK, 6);
    std::vector<counted_comp> comps(4);

    EXPECT_EQ(UCS_INPROGRESS, put(dev, &in[0], CHUNK, &comps[0]));
    EXPECT_EQ(UCS_INPROGRESS, put(dev + CHUNK, &in[CHUNK], CHUNK,
                                  &comps[1]));
    EXPECT_EQ(UCS_OK, put(dev + 2 * CHUNK, &in[2 * CHUNK], CHUNK,
                          &comps[2]));
    EXPECT_EQ(UCS_OK, put(dev + 3 * CHUNK, &in[3 * CHUNK], CHUNK,
                          &comps[3]));
    /* the ring never refuses, so there is nothing to wait for */
    pending_put req;
    req.uct.func = pending_put::callback;
    EXPECT_EQ(UCS_ERR_BUSY, uct_ep_pending_add(m_ep, &req.uct, 0)) <<
            "the ring is full, but RING_FULL=copy never refuses";
    ASSERT_NO_FATAL_FAILURE(iface_flush());
    EXPECT_EQ(1u, comps[0].calls);
    EXPECT_EQ(1u, comps[1].calls);
    EXPECT_EQ(0u, comps[2].calls);
    EXPECT_EQ(0u, comps[3].calls);
    EXPECT_TRUE(dev_read(dev, 4 * CHUNK) == in);
}

/* The event fd becomes readable when a copy completes */
TEST_F(habana_md_copy_async, event_fd_on_completion)
{
    ASSERT_NO_FATAL_FAILURE(open_iface());
    char *dev = (char*)dev_alloc(16 * CHUNK);
    std::vector<char> in = pattern(16 * CHUNK, 7);
    int fd;

    ASSERT_EQ(UCS_OK, uct_iface_event_fd_get(m_iface, &fd));
    ASSERT_GE(fd, 0);
    struct pollfd pfd = {fd, POLLIN, 0};

    for (int round = 0; round < 20; ++round) {
        ASSERT_EQ(UCS_OK, uct_iface_event_arm(m_iface, UCT_EVENT_SEND_COMP));
        EXPECT_EQ(0, poll(&pfd, 1, 0)) << "readable while idle";

        counted_comp comp;
        ASSERT_EQ(UCS_INPROGRESS, put(dev, in.data(), 16 * CHUNK, &comp));
        ASSERT_EQ(1, poll(&pfd, 1, 10000)) << "no event, round " << round;
        EXPECT_TRUE(pfd.revents & POLLIN);
        EXPECT_EQ(0u, comp.calls) << "completed without progress";

        /* a completion waits to be reported: arming refuses */
        EXPECT_EQ(UCS_ERR_BUSY,
                  uct_iface_event_arm(m_iface, UCT_EVENT_SEND_COMP));
        ASSERT_TRUE(progress_until([&]() { return comp.calls != 0; }));
        EXPECT_EQ(UCS_OK, comp.status);
    }
    EXPECT_TRUE(dev_read(dev, 16 * CHUNK) == in);
}

/* After a fence, a copy done by the caller waits for earlier ones */
TEST_F(habana_md_copy_async, fence_orders_inline_after_async)
{
    const size_t big = 64 * CHUNK;
    ASSERT_NO_FATAL_FAILURE(open_iface());
    char *dev = (char*)dev_alloc(big);
    std::vector<char> first = pattern(big, 8), second = pattern(4096, 9);
    counted_comp comp;

    for (int round = 0; round < 10; ++round) {
        ASSERT_EQ(UCS_INPROGRESS, put(dev, first.data(), big, &comp));
        ASSERT_EQ(UCS_OK, uct_ep_fence(m_ep, 0));
        ASSERT_EQ(UCS_OK, uct_ep_put_short(m_ep, second.data(), 4096,
                                           (uintptr_t)dev, UCT_INVALID_RKEY));
        ASSERT_NO_FATAL_FAILURE(iface_flush());
        std::vector<char> got = dev_read(dev, 4096);
        ASSERT_TRUE(got == second) << "round " << round;
        comp = counted_comp();
    }
}

/* Closing with copies in flight: no completion afterwards, no crash */
TEST_F(habana_md_copy_async, close_with_outstanding)
{
    const unsigned n = 64;
    for (int round = 0; round < 5; ++round) {
        ASSERT_NO_FATAL_FAILURE(open_iface());
        if (round == 0) {
            dev_alloc(n * 4 * CHUNK);
        }
        char *dev = (char*)m_bufs.front().va;
        std::vector<char> in = pattern(n * 4 * CHUNK, 10);
        std::vector<counted_comp> comps(n);
        unsigned posted = 0;

        for (unsigned i = 0; i < n; ++i) {
            ucs_status_t status = put(dev + i * 4 * CHUNK, &in[i * 4 * CHUNK],
                                      4 * CHUNK, &comps[i]);
            ASSERT_TRUE((status == UCS_INPROGRESS) || (status == UCS_OK));
            posted += (status == UCS_INPROGRESS);
        }
        EXPECT_GT(posted, 0u);
        counted_comp flush;
        if (round % 2) {
            EXPECT_EQ(UCS_INPROGRESS, uct_ep_flush(m_ep, 0, &flush.uct));
        }
        close_iface();
        for (auto &c : comps) {
            EXPECT_EQ(0u, c.calls);
        }
        EXPECT_EQ(0u, flush.calls);
    }
}
