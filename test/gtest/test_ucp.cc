/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * UCP transfers between every pair of host and Habana device memory, on
 * the transports the runner selects (UCX_TLS, e.g. tcp,habana or
 * sm,habana): tag, stream and RMA, 1 byte to 16 MiB, data verified.  The
 * network transport cannot reach device memory, so UCP must stage through
 * host memory with the habana copy transport.
 */
#include "habana_fixture.h"

#include <ucp/api/ucp.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>

namespace {

/* A buffer of either memory type */
class test_buffer {
public:
    test_buffer(ucs_memory_type_t type, size_t size) :
        m_type(type), m_size(size)
    {
        if (type == UCS_MEMORY_TYPE_GAUDI) {
            EXPECT_TRUE(dev_buffer_alloc(0, round_up(size), &m_dev))
                    << strerror(errno);
            m_ptr = m_dev.va;
        } else {
            m_host.resize(size);
            m_ptr = m_host.data();
        }
    }

    ~test_buffer()
    {
        if (m_type == UCS_MEMORY_TYPE_GAUDI) {
            EXPECT_EQ(0, dev_buffer_free(&m_dev)) << strerror(errno);
        }
    }

    void fill(unsigned seed)
    {
        std::vector<char> pattern(m_size);
        for (size_t i = 0; i < m_size; ++i) {
            pattern[i] = (char)(i * 31 + seed);
        }
        store(pattern);
    }

    std::vector<char> load() const
    {
        std::vector<char> data(m_size);
        if (m_type == UCS_MEMORY_TYPE_GAUDI) {
            EXPECT_EQ(0, dev_copy_d2h(data.data(), m_dev, 0, m_size));
        } else {
            memcpy(data.data(), m_ptr, m_size);
        }
        return data;
    }

    void store(const std::vector<char> &data)
    {
        if (m_type == UCS_MEMORY_TYPE_GAUDI) {
            EXPECT_EQ(0, dev_copy_h2d(m_dev, 0, data.data(), m_size));
        } else {
            memcpy(m_ptr, data.data(), m_size);
        }
    }

    void *ptr() const { return m_ptr; }

private:
    static size_t round_up(size_t size)
    {
        const size_t page = 64 * 1024;
        return (size + page - 1) / page * page;
    }

    ucs_memory_type_t m_type;
    size_t            m_size;
    void              *m_ptr = NULL;
    dev_buffer        m_dev  = {};
    std::vector<char> m_host;
};

struct peer {
    ucp_context_h context = NULL;
    ucp_worker_h  worker  = NULL;
    ucp_ep_h      ep      = NULL;
};

} // namespace

class habana_ucp : public ::testing::TestWithParam<
                           std::tuple<ucs_memory_type_t, ucs_memory_type_t>> {
protected:
    void SetUp() override
    {
        if (env_int("HL_DOUBLE_DEVICES", 1) == 0) {
            GTEST_SKIP() << "no device in this configuration";
        }
        ASSERT_NO_FATAL_FAILURE(init_peer(&m_sender));
        ASSERT_NO_FATAL_FAILURE(init_peer(&m_receiver));
        ASSERT_NO_FATAL_FAILURE(connect(&m_sender, &m_receiver));
        ASSERT_NO_FATAL_FAILURE(connect(&m_receiver, &m_sender));
    }

    void TearDown() override
    {
        close_peer(&m_sender);
        close_peer(&m_receiver);
    }

    void init_peer(peer *p)
    {
        ucp_params_t params = {};
        params.field_mask   = UCP_PARAM_FIELD_FEATURES;
        params.features     = UCP_FEATURE_TAG | UCP_FEATURE_STREAM |
                              UCP_FEATURE_RMA;
        ASSERT_EQ(UCS_OK, ucp_init(&params, NULL, &p->context));

        ucp_worker_params_t wparams = {};
        wparams.field_mask  = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
        wparams.thread_mode = UCS_THREAD_MODE_SINGLE;
        ASSERT_EQ(UCS_OK, ucp_worker_create(p->context, &wparams,
                                            &p->worker));
    }

    void connect(peer *from, peer *to)
    {
        ucp_address_t *address;
        size_t length;

        ASSERT_EQ(UCS_OK, ucp_worker_get_address(to->worker, &address,
                                                 &length));
        ucp_ep_params_t params = {};
        params.field_mask      = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS;
        params.address         = address;
        ASSERT_EQ(UCS_OK, ucp_ep_create(from->worker, &params, &from->ep));
        ucp_worker_release_address(to->worker, address);
    }

    void close_peer(peer *p)
    {
        if (p->ep != NULL) {
            ucp_request_param_t param = {};
            param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
            param.flags        = UCP_EP_CLOSE_FLAG_FORCE;
            wait(ucp_ep_close_nbx(p->ep, &param));
        }
        if (p->worker != NULL) {
            ucp_worker_destroy(p->worker);
        }
        if (p->context != NULL) {
            ucp_cleanup(p->context);
        }
        *p = peer();
    }

    void progress()
    {
        ucp_worker_progress(m_sender.worker);
        ucp_worker_progress(m_receiver.worker);
    }

    ucs_status_t wait(ucs_status_ptr_t request)
    {
        if (request == NULL) {
            return UCS_OK;
        }
        if (UCS_PTR_IS_ERR(request)) {
            return UCS_PTR_STATUS(request);
        }

        ucs_status_t status;
        while ((status = ucp_request_check_status(request)) ==
               UCS_INPROGRESS) {
            progress();
        }
        ucp_request_free(request);
        return status;
    }

    ucs_status_t flush(peer *p)
    {
        ucp_request_param_t param = {};
        return wait(ucp_ep_flush_nbx(p->ep, &param));
    }

    /* Send @size bytes from a buffer of one type to one of the other type
     * with @transfer, and check the receiver got them */
    void check_transfer(size_t size,
                        std::function<void(test_buffer&, test_buffer&,
                                           size_t)> transfer)
    {
        auto types = GetParam();
        test_buffer src(std::get<0>(types), size);
        test_buffer dst(std::get<1>(types), size);

        src.fill((unsigned)size);
        dst.store(std::vector<char>(size, 0));
        transfer(src, dst, size);
        std::vector<char> got = dst.load(), expected = src.load();
        ASSERT_TRUE(got == expected) << "data mismatch at size " << size;
    }

    static std::vector<size_t> sizes()
    {
        return {1, 8, 100, 4096, 65536, 300000, 1 << 20, 16 << 20};
    }

    peer m_sender, m_receiver;
};

TEST_P(habana_ucp, tag)
{
    for (size_t size : sizes()) {
        check_transfer(size, [this](test_buffer &src, test_buffer &dst,
                                    size_t len) {
            ucp_request_param_t rparam = {}, sparam = {};
            ucs_status_ptr_t rreq = ucp_tag_recv_nbx(m_receiver.worker,
                                                     dst.ptr(), len, 0x1337,
                                                     (ucp_tag_t)-1, &rparam);
            ucs_status_ptr_t sreq = ucp_tag_send_nbx(m_sender.ep, src.ptr(),
                                                     len, 0x1337, &sparam);
            ASSERT_EQ(UCS_OK, wait(sreq)) << "send of " << len;
            ASSERT_EQ(UCS_OK, wait(rreq)) << "recv of " << len;
        });
    }
}

TEST_P(habana_ucp, stream)
{
    for (size_t size : sizes()) {
        check_transfer(size, [this](test_buffer &src, test_buffer &dst,
                                    size_t len) {
            ucp_request_param_t sparam = {}, rparam = {};
            size_t received            = 0;

            rparam.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
            rparam.flags        = UCP_STREAM_RECV_FLAG_WAITALL;
            ucs_status_ptr_t sreq = ucp_stream_send_nbx(m_sender.ep,
                                                        src.ptr(), len,
                                                        &sparam);
            ucs_status_ptr_t rreq = ucp_stream_recv_nbx(m_receiver.ep,
                                                        dst.ptr(), len,
                                                        &received, &rparam);
            ASSERT_EQ(UCS_OK, wait(sreq)) << "send of " << len;
            ASSERT_EQ(UCS_OK, wait(rreq)) << "recv of " << len;
        });
    }
}

class habana_ucp_rma : public habana_ucp {
protected:
    /* Map @buf on the receiver and give the sender its rkey */
    ucp_rkey_h expose(test_buffer &buf, size_t len, ucp_mem_h *memh)
    {
        ucp_mem_map_params_t params = {};
        void *rkey_buffer;
        size_t rkey_size;
        ucp_rkey_h rkey = NULL;

        params.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS |
                            UCP_MEM_MAP_PARAM_FIELD_LENGTH;
        params.address    = buf.ptr();
        params.length     = len;
        EXPECT_EQ(UCS_OK, ucp_mem_map(m_receiver.context, &params, memh));
        EXPECT_EQ(UCS_OK, ucp_rkey_pack(m_receiver.context, *memh,
                                        &rkey_buffer, &rkey_size));
        EXPECT_EQ(UCS_OK, ucp_ep_rkey_unpack(m_sender.ep, rkey_buffer,
                                             &rkey));
        ucp_rkey_buffer_release(rkey_buffer);
        return rkey;
    }

    void done(ucp_rkey_h rkey, ucp_mem_h memh)
    {
        ucp_rkey_destroy(rkey);
        ucp_mem_unmap(m_receiver.context, memh);
    }
};

TEST_P(habana_ucp_rma, put)
{
    for (size_t size : sizes()) {
        check_transfer(size, [this](test_buffer &src, test_buffer &dst,
                                    size_t len) {
            ucp_request_param_t param = {};
            ucp_mem_h memh;
            ucp_rkey_h rkey = expose(dst, len, &memh);
            ASSERT_NE(nullptr, rkey);
            ASSERT_EQ(UCS_OK, wait(ucp_put_nbx(m_sender.ep, src.ptr(), len,
                                               (uintptr_t)dst.ptr(), rkey,
                                               &param)));
            ASSERT_EQ(UCS_OK, flush(&m_sender));
            done(rkey, memh);
        });
    }
}

TEST_P(habana_ucp_rma, get)
{
    for (size_t size : sizes()) {
        check_transfer(size, [this](test_buffer &src, test_buffer &dst,
                                    size_t len) {
            ucp_request_param_t param = {};
            ucp_mem_h memh;
            /* the sender reads the receiver-side source into dst */
            ucp_rkey_h rkey = expose(src, len, &memh);
            ASSERT_NE(nullptr, rkey);
            ASSERT_EQ(UCS_OK, wait(ucp_get_nbx(m_sender.ep, dst.ptr(), len,
                                               (uintptr_t)src.ptr(), rkey,
                                               &param)));
            ASSERT_EQ(UCS_OK, flush(&m_sender));
            done(rkey, memh);
        });
    }
}

static std::string mem_pair_name(
        const ::testing::TestParamInfo<habana_ucp::ParamType> &info)
{
    return std::string(ucs_memory_type_names[std::get<0>(info.param)]) +
           "_to_" + ucs_memory_type_names[std::get<1>(info.param)];
}

#define MEM_PAIRS \
    ::testing::Values( \
        std::make_tuple(UCS_MEMORY_TYPE_HOST, UCS_MEMORY_TYPE_GAUDI), \
        std::make_tuple(UCS_MEMORY_TYPE_GAUDI, UCS_MEMORY_TYPE_HOST), \
        std::make_tuple(UCS_MEMORY_TYPE_GAUDI, UCS_MEMORY_TYPE_GAUDI), \
        std::make_tuple(UCS_MEMORY_TYPE_HOST, UCS_MEMORY_TYPE_HOST))

INSTANTIATE_TEST_SUITE_P(mem, habana_ucp, MEM_PAIRS, mem_pair_name);
INSTANTIATE_TEST_SUITE_P(mem, habana_ucp_rma, MEM_PAIRS, mem_pair_name);

class habana_ucp_device : public habana_ucp {
protected:
    void send_recv(void *src, void *dst, size_t len)
    {
        ucp_request_param_t rparam = {}, sparam = {};
        ucs_status_ptr_t rreq = ucp_tag_recv_nbx(m_receiver.worker, dst, len,
                                                 7, (ucp_tag_t)-1, &rparam);
        ASSERT_EQ(UCS_OK, wait(ucp_tag_send_nbx(m_sender.ep, src, len, 7,
                                                &sparam)));
        ASSERT_EQ(UCS_OK, wait(rreq));
    }

    static std::vector<char> pattern(size_t len, char seed)
    {
        std::vector<char> data(len);
        for (size_t i = 0; i < len; ++i) {
            data[i] = (char)(seed + i);
        }
        return data;
    }
};

/* The memtype cache and every registration must follow the allocation:
 * a buffer freed and reallocated at the same VA sends its new contents */
TEST_P(habana_ucp_device, realloc_same_address_sends_new_data)
{
    const size_t len = 1 << 20;
    std::vector<char> got(len);
    dev_buffer first, second, dst;

    ASSERT_TRUE(dev_buffer_alloc(0, len, &dst));
    ASSERT_TRUE(dev_buffer_alloc(0, len, &first));
    ASSERT_EQ(0, dev_copy_h2d(first, 0, pattern(len, 1).data(), len));
    send_recv(first.va, dst.va, len);
    ASSERT_EQ(0, dev_copy_d2h(got.data(), dst, 0, len));
    ASSERT_TRUE(got == pattern(len, 1));

    void *va = first.va;
    ASSERT_EQ(0, dev_buffer_free(&first));
    ASSERT_TRUE(dev_buffer_alloc(0, len, &second, va));
    ASSERT_EQ(va, second.va) << "the map hint was not honoured";
    ASSERT_EQ(0, dev_copy_h2d(second, 0, pattern(len, 77).data(), len));
    send_recv(second.va, dst.va, len);
    ASSERT_EQ(0, dev_copy_d2h(got.data(), dst, 0, len));
    EXPECT_TRUE(got == pattern(len, 77)) << "stale data sent";

    EXPECT_EQ(0, dev_buffer_free(&second));
    EXPECT_EQ(0, dev_buffer_free(&dst));
}

INSTANTIATE_TEST_SUITE_P(mem, habana_ucp_device,
                         ::testing::Values(std::make_tuple(
                                 UCS_MEMORY_TYPE_GAUDI,
                                 UCS_MEMORY_TYPE_GAUDI)),
                         mem_pair_name);

/* Run alone in its process (the runner does): the buffer exists before
 * UCP and its UCM module are loaded, so nothing saw it being allocated */
class habana_ucp_preexisting : public habana_ucp_device {
protected:
    void SetUp() override
    {
        if (env_int("HL_DOUBLE_DEVICES", 1) == 0) {
            GTEST_SKIP() << "no device in this configuration";
        }
        ASSERT_TRUE(dev_buffer_alloc(0, m_len, &m_early));
        ASSERT_EQ(0, dev_copy_h2d(m_early, 0, pattern(m_len, 9).data(),
                                  m_len));
        ASSERT_NO_FATAL_FAILURE(habana_ucp_device::SetUp());
    }

    void TearDown() override
    {
        habana_ucp_device::TearDown();
        if (m_early.va != NULL) {
            EXPECT_EQ(0, dev_buffer_free(&m_early));
        }
    }

    const size_t m_len = 300000;
    dev_buffer   m_early = {};
};

TEST_P(habana_ucp_preexisting, allocated_before_ucp_init_is_detected)
{
    std::vector<char> got(m_len);
    dev_buffer dst;

    ASSERT_TRUE(dev_buffer_alloc(0, m_len, &dst));
    send_recv(m_early.va, dst.va, m_len);
    ASSERT_EQ(0, dev_copy_d2h(got.data(), dst, 0, m_len));
    EXPECT_TRUE(got == pattern(m_len, 9));
    EXPECT_EQ(0, dev_buffer_free(&dst));
}

INSTANTIATE_TEST_SUITE_P(mem, habana_ucp_preexisting,
                         ::testing::Values(std::make_tuple(
                                 UCS_MEMORY_TYPE_GAUDI,
                                 UCS_MEMORY_TYPE_GAUDI)),
                         mem_pair_name);
