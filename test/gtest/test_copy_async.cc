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
#include "copy_fixture.h"

#include <ucs/async/async_fwd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <poll.h>
#include <unistd.h>
#include <utility>
#include <vector>


class habana_md_copy_async : public habana_copy_iface_test {
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
