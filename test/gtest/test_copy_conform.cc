/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * The habana copy transport against what UCT users and UCX's own test
 * suite expect of a transport, through the UCT API: pending requests that
 * made progress without finishing, reachability reasons, data tracing,
 * transient driver errors.  Named habana_md_* so that the runner runs it in
 * every hl_double configuration.
 */
#include "copy_fixture.h"

extern "C" {
#include <src/uct/habana/base/habana_uct_int.h> /* is_reachable_v2 params */
}

#include <ucs/async/async_fwd.h>
#include <ucs/config/global_opts.h>
#include <ucs/debug/log_def.h>

#include <cerrno>
#include <dlfcn.h>
#include <sys/mman.h>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <chrono>
#include <cstring>
#include <functional>
#include <utility>
#include <vector>

namespace {


/* A pending request running @func on each dispatch */
struct conform_pending {
    uct_pending_req_t             uct;
    std::function<ucs_status_t()> func;
    unsigned                      calls = 0;

    conform_pending()
    {
        uct.func = callback;
    }

    static ucs_status_t callback(uct_pending_req_t *self)
    {
        conform_pending *req = ucs_container_of(self, conform_pending, uct);
        ++req->calls;
        return req->func();
    }
};

/* UCX's public v2 call (uct_v2.h is not installed) */
extern "C" int uct_iface_is_reachable_v2(
        uct_iface_h iface, const uct_iface_is_reachable_params_t *params);

/* The lines of one log level logged while one is alive (not printed) */
class log_capture {
public:
    explicit log_capture(ucs_log_level_t captured = UCS_LOG_LEVEL_TRACE_DATA)
    {
        s_lines.clear();
        s_captured = captured;
        m_level    = ucs_global_opts.log_component.log_level;
        s_level    = m_level;
        ucs_log_push_handler(handler);
        if (captured > m_level) {
            ucs_global_opts.log_component.log_level = captured;
        }
    }

    ~log_capture()
    {
        ucs_global_opts.log_component.log_level = m_level;
        ucs_log_pop_handler();
    }

    /* Lines logged since the last call that contain @word */
    unsigned take(const char *word)
    {
        unsigned count = 0;
        for (const std::string &line : s_lines) {
            count += (line.find(word) != std::string::npos);
        }
        s_lines.clear();
        return count;
    }

    const std::vector<std::string> &lines() const
    {
        return s_lines;
    }

    std::string all() const
    {
        std::string text;
        for (const std::string &line : s_lines) {
            text += line + "\n";
        }
        return text;
    }

private:
    static ucs_log_func_rc_t
    handler(const char *file, unsigned line, const char *function,
            ucs_log_level_t level, const ucs_log_component_config_t *comp,
            const char *format, va_list ap)
    {
        if (level == s_captured) {
            char buf[1024];
            va_list copy;
            va_copy(copy, ap);
            vsnprintf(buf, sizeof(buf), format, copy);
            va_end(copy);
            s_lines.push_back(buf);
            return UCS_LOG_FUNC_RC_STOP;
        }
        return (level <= s_level) ? UCS_LOG_FUNC_RC_CONTINUE :
                                    UCS_LOG_FUNC_RC_STOP;
    }

    ucs_log_level_t                 m_level;
    static ucs_log_level_t          s_level;
    static ucs_log_level_t          s_captured;
    static std::vector<std::string> s_lines;
};

ucs_log_level_t log_capture::s_level;
ucs_log_level_t log_capture::s_captured;
std::vector<std::string> log_capture::s_lines;

} // namespace

class habana_md_copy_conform : public habana_copy_iface_test {
protected:
    /* put @len bytes of @src to @dev, then get them into @dst, waiting for
     * each to complete; @src and @dst in the registration @memh */
    void put_then_get(void *dev, const void *src, void *dst, size_t len,
                      uct_mem_h memh = UCT_MEM_HANDLE_NULL)
    {
        counted_comp put_comp, get_comp;
        ucs_status_t status = put(dev, src, len, &put_comp, memh);
        ASSERT_TRUE((status == UCS_OK) || (status == UCS_INPROGRESS));
        ASSERT_TRUE(progress_until([&]() {
            return (status == UCS_OK) || (put_comp.calls == 1);
        }));
        status = get(dst, dev, len, &get_comp, memh);
        ASSERT_TRUE((status == UCS_OK) || (status == UCS_INPROGRESS));
        ASSERT_TRUE(progress_until([&]() {
            return (status == UCS_OK) || (get_comp.calls == 1);
        }));
    }
};

/*
 * A pending request that returns UCS_INPROGRESS ("some progress, not
 * done") without posting keeps its place and is dispatched again, and
 * event_arm does not report busy once nothing is left to do.
 */
TEST_F(habana_md_copy_conform, pending_inprogress_redispatched)
{
    ASSERT_NO_FATAL_FAILURE(open_iface({{"HABANA_COPY_MAX_OUTSTANDING", "1"},
                                        {"HABANA_COPY_RING_FULL",
                                         "no_resource"}}));
    char *dev = (char*)dev_alloc(2 * CHUNK);
    std::vector<char> in = pattern(2 * CHUNK, 1);
    counted_comp first, second;

    ASSERT_EQ(UCS_INPROGRESS, put(dev, in.data(), CHUNK, &first));
    ASSERT_EQ(UCS_ERR_NO_RESOURCE,
              put(dev + CHUNK, &in[CHUNK], CHUNK, &second));

    /* first dispatch: progress without posting; then post */
    conform_pending req;
    req.func = [&]() -> ucs_status_t {
        if (req.calls == 1) {
            return UCS_INPROGRESS;
        }
        ucs_status_t status = put(dev + CHUNK, &in[CHUNK], CHUNK, &second);
        return (status == UCS_INPROGRESS) ? UCS_OK : status;
    };
    ASSERT_EQ(UCS_OK, uct_ep_pending_add(m_ep, &req.uct, 0));

    EXPECT_TRUE(progress_until([&]() { return second.calls != 0; }))
            << "pending request dispatched " << req.calls << " times";
    EXPECT_EQ(2u, req.calls);
    EXPECT_EQ(1u, first.calls);
    EXPECT_EQ(UCS_OK, first.status);
    EXPECT_EQ(UCS_OK, second.status);

    /* nothing left: arming succeeds (no busy forever) */
    ucs_status_t status;
    EXPECT_TRUE(progress_until([&]() {
        status = uct_iface_event_arm(m_iface, UCT_EVENT_SEND_COMP);
        return status != UCS_ERR_BUSY;
    }, 5));
    EXPECT_EQ(UCS_OK, status);
    EXPECT_EQ(UCS_OK, uct_ep_flush(m_ep, 0, NULL));
    if (second.calls != 0) {
        EXPECT_TRUE(dev_read(dev, 2 * CHUNK) == in);
    }
}

/* Requests of another ep still run while one ep's request is only
 * making progress; the first ep's later requests wait their turn */
TEST_F(habana_md_copy_conform, pending_inprogress_keeps_ep_order)
{
    ASSERT_NO_FATAL_FAILURE(open_iface({{"HABANA_COPY_MAX_OUTSTANDING", "1"},
                                        {"HABANA_COPY_RING_FULL",
                                         "no_resource"}}));
    char *dev = (char*)dev_alloc(CHUNK);
    std::vector<char> in = pattern(CHUNK, 2);
    counted_comp first;

    uct_ep_h ep2;
    ASSERT_EQ(UCS_OK, create_ep(&ep2));

    ASSERT_EQ(UCS_INPROGRESS, put(dev, in.data(), CHUNK, &first));

    std::vector<int> order;
    conform_pending a1, a2, b1;
    unsigned a1_rounds = 3;
    a1.func = [&]() -> ucs_status_t {
        order.push_back(1);
        return (a1.calls < a1_rounds) ? UCS_INPROGRESS : UCS_OK;
    };
    a2.func = [&]() -> ucs_status_t { order.push_back(2); return UCS_OK; };
    b1.func = [&]() -> ucs_status_t { order.push_back(3); return UCS_OK; };
    ASSERT_EQ(UCS_OK, uct_ep_pending_add(m_ep, &a1.uct, 0));
    ASSERT_EQ(UCS_OK, uct_ep_pending_add(m_ep, &a2.uct, 0));
    ASSERT_EQ(UCS_OK, uct_ep_pending_add(ep2, &b1.uct, 0));

    EXPECT_TRUE(progress_until([&]() { return a2.calls != 0; }));
    EXPECT_EQ(a1_rounds, a1.calls);
    EXPECT_EQ(1u, a2.calls);
    EXPECT_EQ(1u, b1.calls);
    /* b1 ran in the first round, a2 only after a1 was done */
    ASSERT_GE(order.size(), 5u);
    EXPECT_EQ(1, order[0]);
    EXPECT_EQ(3, order[1]);
    EXPECT_EQ(2, order.back());
    EXPECT_EQ(UCS_OK, uct_ep_flush(m_ep, 0, NULL));
    EXPECT_EQ(UCS_OK, uct_ep_flush(ep2, 0, NULL));

    uct_ep_pending_purge(ep2, NULL, NULL);
    uct_ep_destroy(ep2);
}

/* Unreachable: the reason is in the info string, as UCX's transports do
 * (uct_iface_fill_info_str_buf); reachable: it stays empty */
TEST_F(habana_md_copy_conform, is_reachable_v2_reason)
{
    ASSERT_NO_FATAL_FAILURE(open_iface());
    char info[128];
    uct_iface_is_reachable_params_t params = {};

    auto reachable = [&](const void *iface_addr) {
        memset(info, 'x', sizeof(info));
        info[sizeof(info) - 1] = '\0';
        params.field_mask         = UCT_IFACE_IS_REACHABLE_FIELD_DEVICE_ADDR |
                                    UCT_IFACE_IS_REACHABLE_FIELD_INFO_STRING |
                                    UCT_IFACE_IS_REACHABLE_FIELD_INFO_STRING_LENGTH;
        params.device_addr        = (const uct_device_addr_t*)
                                            m_dev_addr.data();
        params.info_string        = info;
        params.info_string_length = sizeof(info);
        if (iface_addr != NULL) {
            params.field_mask |= UCT_IFACE_IS_REACHABLE_FIELD_IFACE_ADDR;
            params.iface_addr  = (const uct_iface_addr_t*)iface_addr;
        }
        return uct_iface_is_reachable_v2(m_iface, &params);
    };

    /* another iface (another process's, or another of ours) */
    std::vector<char> other(m_iface_addr);
    other[0] ^= 0x5a;
    EXPECT_EQ(0, reachable(other.data()));
    EXPECT_NE(0u, strlen(info)) << "no reason given";
    EXPECT_EQ(std::string::npos, std::string(info).find("xxx")) << info;

    /* no iface address */
    EXPECT_EQ(0, reachable(NULL));
    EXPECT_NE(0u, strlen(info)) << "no reason given";
    EXPECT_EQ(std::string::npos, std::string(info).find("xxx")) << info;

    /* a short buffer is never overrun */
    char tiny[4] = {'a', 'b', 'c', 'd'};
    params.info_string        = tiny;
    params.info_string_length = 2;
    params.iface_addr         = (const uct_iface_addr_t*)other.data();
    params.field_mask        |= UCT_IFACE_IS_REACHABLE_FIELD_IFACE_ADDR;
    EXPECT_EQ(0, uct_iface_is_reachable_v2(m_iface, &params));
    EXPECT_EQ('\0', tiny[1]);
    EXPECT_EQ('c', tiny[2]);

    /* ourselves */
    EXPECT_NE(0, reachable(m_iface_addr.data()));
    EXPECT_STREQ("", info);
}

/* One trace_data line per put and get, as UCX's copy transports log and
 * UCX's uct_p2p_rma_test expects */
TEST_F(habana_md_copy_conform, trace_data_per_put_get)
{
    ASSERT_NO_FATAL_FAILURE(open_iface());
    char *dev = (char*)dev_alloc(2 * CHUNK);
    std::vector<char> in = pattern(2 * CHUNK, 3),
                      out(2 * CHUNK, 0);
    counted_comp comp;
    uct_iov_t iov = {};
    iov.count     = 1;

    log_capture capture;
    if (!ucs_log_is_enabled(UCS_LOG_LEVEL_TRACE_DATA)) {
        GTEST_SKIP() << "built without trace_data logging";
    }

    ASSERT_EQ(UCS_OK, uct_ep_put_short(m_ep, in.data(), 64, (uintptr_t)dev,
                                       UCT_INVALID_RKEY));
    EXPECT_EQ(1u, capture.take("PUT_SHORT"));
    ASSERT_EQ(UCS_OK, uct_ep_get_short(m_ep, out.data(), 64, (uintptr_t)dev,
                                       UCT_INVALID_RKEY));
    EXPECT_EQ(1u, capture.take("GET_SHORT"));

    /* below ASYNC_THRESH: copied inline */
    iov.buffer = in.data();
    iov.length = 4096;
    ASSERT_EQ(UCS_OK, uct_ep_put_zcopy(m_ep, &iov, 1, (uintptr_t)dev,
                                       UCT_INVALID_RKEY, &comp.uct));
    EXPECT_EQ(1u, capture.take("PUT_ZCOPY"));
    iov.buffer = out.data();
    ASSERT_EQ(UCS_OK, uct_ep_get_zcopy(m_ep, &iov, 1, (uintptr_t)dev,
                                       UCT_INVALID_RKEY, &comp.uct));
    EXPECT_EQ(1u, capture.take("GET_ZCOPY"));

    /* on the copy thread */
    iov.buffer = in.data();
    iov.length = 2 * CHUNK;
    ASSERT_EQ(UCS_INPROGRESS, uct_ep_put_zcopy(m_ep, &iov, 1, (uintptr_t)dev,
                                               UCT_INVALID_RKEY, &comp.uct));
    EXPECT_EQ(1u, capture.take("PUT_ZCOPY"));
    ASSERT_TRUE(progress_until([&]() { return comp.calls == 1; }));
    comp       = counted_comp();
    iov.buffer = out.data();
    ASSERT_EQ(UCS_INPROGRESS, uct_ep_get_zcopy(m_ep, &iov, 1, (uintptr_t)dev,
                                               UCT_INVALID_RKEY, &comp.uct));
    EXPECT_EQ(1u, capture.take("GET_ZCOPY"));
    ASSERT_TRUE(progress_until([&]() { return comp.calls == 1; }));
    EXPECT_TRUE(out == in);
}

/*
 * The DMA engine's failures (issue 10): a CS the driver refuses (a disabled
 * queue), one that ends aborted and one that never ends (the driver's CS
 * timeout) each fail that one copy with an error, soon, and the device
 * copies again afterwards.  hl_double's knobs are hlsim's fault injection.
 */
TEST_F(habana_md_copy_conform, dma_failures_are_reported_and_bounded)
{
    static const struct {
        const char   *knob;
        ucs_status_t expected;
    } faults[] = {
        {"HL_DOUBLE_CS_DISABLE", UCS_ERR_IO_ERROR},
        {"HL_DOUBLE_CS_ABORT",   UCS_ERR_IO_ERROR},
        {"HL_DOUBLE_CS_HANG",    UCS_ERR_TIMED_OUT}
    };

    if (!have_double()) {
        GTEST_SKIP() << "needs the hl_double device (fault injection)";
    }
    ASSERT_NO_FATAL_FAILURE(open_iface());
    char *dev = (char*)dev_alloc(CHUNK);
    std::vector<char> in = pattern(4096, 4), out(4096, 0);
    ASSERT_EQ(0, double_set("HL_DOUBLE_CS_TIMEOUT_MS", 300));
    /* the engine opens (and probes the queue) at the first copy */
    ASSERT_EQ(UCS_OK, uct_ep_put_short(m_ep, in.data(), in.size(),
                                       (uintptr_t)dev, UCT_INVALID_RKEY));

    for (const auto &fault : faults) {
        ASSERT_EQ(0, double_set(fault.knob, 1));
        auto start          = std::chrono::steady_clock::now();
        ucs_status_t status = uct_ep_put_short(m_ep, in.data(), in.size(),
                                               (uintptr_t)dev,
                                               UCT_INVALID_RKEY);
        auto elapsed        = std::chrono::steady_clock::now() - start;
        double_set(fault.knob, 0);
        EXPECT_EQ(fault.expected, status) << fault.knob << ": "
                                          << ucs_status_string(status);
        EXPECT_LT(elapsed, std::chrono::seconds(2)) << fault.knob;

        /* and the device works again afterwards */
        std::fill(out.begin(), out.end(), 0);
        EXPECT_EQ(UCS_OK, uct_ep_put_short(m_ep, in.data(), in.size(),
                                           (uintptr_t)dev, UCT_INVALID_RKEY))
                << "after " << fault.knob;
        EXPECT_EQ(UCS_OK, uct_ep_get_short(m_ep, out.data(), out.size(),
                                           (uintptr_t)dev, UCT_INVALID_RKEY));
        EXPECT_TRUE(out == in) << "after " << fault.knob;
    }
    double_set("HL_DOUBLE_CS_TIMEOUT_MS", 30000);
}

/*
 * The engine keeps host pages it mapped for the device (pinned) for the
 * next copy from the same buffer.  Host memory unmapped and mapped again at
 * the same address has other pages: the copy must move the new contents,
 * not the pinned old pages (UCM's VM_UNMAPPED drops the mapping).  hlsim
 * pins; the hl_double reads the process's memory, so only hlsim can fail.
 */
TEST_F(habana_md_copy_conform, remapped_host_memory_is_copied_fresh)
{
    const size_t len = 512 * 1024; /* above the bounce threshold */
    std::vector<char> out(len, 0);

    ASSERT_NO_FATAL_FAILURE(open_iface());
    char *dev  = (char*)dev_alloc(len);
    char *host = (char*)mmap(NULL, len, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(MAP_FAILED, (void*)host);

    for (char fill : {'A', 'B'}) {
        if (fill == 'B') {
            ASSERT_EQ(0, munmap(host, len));
            ASSERT_EQ((void*)host,
                      mmap(host, len, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
        }
        memset(host, fill, len);
        ASSERT_NO_FATAL_FAILURE(put_then_get(dev, host, out.data(), len));
        EXPECT_EQ(std::vector<char>(len, fill), out)
                << "copied the old pages of a remapped buffer";
    }
    munmap(host, len);
}

/*
 * UCX registers its staging pools with the memory domain in pieces of
 * 64 MiB and copies fragments of them.  The engine maps a registered piece
 * to the device whole at the first fragment, so the next fragments hit
 * that one mapping; unregistered memory is mapped fragment by fragment.
 * (The count is hl_double's: hlsim pins without a counter.)
 */
TEST_F(habana_md_copy_conform, registered_host_memory_is_mapped_once)
{
    const size_t frag = 256 * 1024, frags = 8; /* above the bounce size */
    std::vector<char> pool(frags * frag), loose(frags * frag), out(frag);
    auto userptr_maps = (unsigned long (*)(void))dlsym(
            RTLD_DEFAULT, "hl_double_userptr_maps");
    uct_mem_h memh;

    if (userptr_maps == NULL) {
        GTEST_SKIP() << "counts hl_double's USERPTR mappings";
    }
    ASSERT_NO_FATAL_FAILURE(open_iface());
    char *dev = (char*)dev_alloc(frag);
    ASSERT_EQ(UCS_OK, uct_md_mem_reg(m_md, pool.data(), pool.size(),
                                     UCT_MD_MEM_ACCESS_ALL, &memh));
    /* the engine, its bounce buffer and @out mapped before counting */
    ASSERT_NO_FATAL_FAILURE(put_then_get(dev, out.data(), out.data(), frag));

    for (std::vector<char> *host : {&pool, &loose}) {
        unsigned long before = userptr_maps();
        for (size_t i = 0; i < frags; ++i) {
            char *src = host->data() + i * frag;
            memset(src, 'a' + i, frag);
            ASSERT_NO_FATAL_FAILURE(put_then_get(
                    dev, src, out.data(), frag,
                    (host == &pool) ? memh : UCT_MEM_HANDLE_NULL));
            EXPECT_EQ(std::vector<char>(frag, 'a' + i), out) << "fragment "
                                                             << i;
        }
        EXPECT_EQ((host == &pool) ? 1u : frags, userptr_maps() - before)
                << ((host == &pool) ? "registered" : "unregistered")
                << " host memory";
    }
    EXPECT_EQ(UCS_OK, uct_md_mem_dereg(m_md, memh));
}

/*
 * UCX_HABANA_DMA_BACKEND=synapse (Gaudi3): staged copies through SynapseAI,
 * here its test double test/double/synapse (LD_LIBRARY_PATH); with a real
 * libSynapse.so this test is skipped.  Small copies go through the bounce
 * buffer, large ones map the caller's memory with synHostMap; everything
 * is unmapped when the engine closes with the memory domain.
 */
TEST_F(habana_md_copy_conform, copies_through_the_synapse_backend)
{
    void *lib = dlopen("libSynapse.so", RTLD_NOW | RTLD_LOCAL);
    auto copies = (lib != NULL) ? (unsigned long (*)(void))dlsym(
                                          lib, "synapse_double_copies") :
                                  NULL;
    auto maps   = (lib != NULL) ? (unsigned (*)(void))dlsym(
                                          lib, "synapse_double_host_maps") :
                                  NULL;

    if ((copies == NULL) || (maps == NULL)) {
        if (lib != NULL) {
            dlclose(lib);
        }
        /* the suite's runner sets this where it provides the double */
        ASSERT_EQ(0, env_int("HABANA_TEST_SYNAPSE_DOUBLE", 0))
                << "test/double/synapse is not loadable";
        GTEST_SKIP() << "needs test/double/synapse on LD_LIBRARY_PATH";
    }

    close_md();
    setenv("UCX_HABANA_DMA_BACKEND", "synapse", 1);
    open_md("try");
    unsetenv("UCX_HABANA_DMA_BACKEND");
    ASSERT_NO_FATAL_FAILURE(open_iface());

    unsigned long before = copies();
    for (size_t len : {(size_t)4096, (size_t)(512 * 1024)}) {
        char *dev = (char*)dev_alloc(len);
        std::vector<char> in = pattern(len, 9), out(len, 0);
        ASSERT_NO_FATAL_FAILURE(put_then_get(dev, in.data(), out.data(), len));
        EXPECT_TRUE(in == out) << len << " bytes";
    }
    EXPECT_EQ(before + 4, copies()) << "not copied by the synapse backend";
    EXPECT_LT(0u, maps()) << "no bounce buffer or cached host mapping";

    close_iface();
    for (dev_buffer &buf : m_bufs) {
        dev_buffer_free(&buf);
    }
    m_bufs.clear();
    close_md();
    EXPECT_EQ(0u, maps()) << "host memory left mapped at close";
    dlclose(lib);
}

/*
 * Neither backend can copy (the device refuses CSs, as a Gaudi3 would, and
 * there is no SynapseAI): each staged copy fails, soon, and one error line
 * says what each backend lacks.
 */
TEST_F(habana_md_copy_conform, no_dma_backend_is_one_clear_error)
{
    void *lib = dlopen("libSynapse.so", RTLD_NOW | RTLD_LOCAL);

    if (lib != NULL) {
        dlclose(lib);
        GTEST_SKIP() << "a libSynapse.so is loadable here";
    }
    if (!have_double()) {
        GTEST_SKIP() << "needs the hl_double device (fault injection)";
    }

    char *dev = (char*)dev_alloc(CHUNK);
    std::vector<char> in = pattern(4096, 5);
    ASSERT_EQ(0, double_set("HL_DOUBLE_CS_DISABLE", 1000));
    std::vector<std::string> errors;
    ucs_status_t first, second;
    {
        /* the iface measures the engine of the device held: it is opened
         * (and fails) there already */
        log_capture capture(UCS_LOG_LEVEL_ERROR);
        open_iface();
        first  = uct_ep_put_short(m_ep, in.data(), in.size(), (uintptr_t)dev,
                                  UCT_INVALID_RKEY);
        second = uct_ep_put_short(m_ep, in.data(), in.size(), (uintptr_t)dev,
                                  UCT_INVALID_RKEY);
        errors = capture.lines();
    }
    double_set("HL_DOUBLE_CS_DISABLE", 0);

    EXPECT_EQ(UCS_ERR_UNSUPPORTED, first);
    EXPECT_EQ(UCS_ERR_UNSUPPORTED, second);
    ASSERT_EQ(1u, errors.size());
    const std::string &line = errors.front();
    EXPECT_NE(std::string::npos, line.find("cs: ")) << line;
    EXPECT_NE(std::string::npos, line.find("synapse: ")) << line;
    EXPECT_NE(std::string::npos, line.find("zero copy is unaffected"))
            << line;
}

/*
 * Issue 14 item 2: the copy latency the transport reports to UCX is the
 * engine's, measured, once the application holds the device (before that
 * the transport must not open the device itself); a time given by the
 * user is taken as it is, and a wrong value is refused.
 */
TEST_F(habana_md_copy_conform, copy_latency_is_measured_from_the_engine)
{
    const double fallback = 8e-6;

    /* a process that holds no device yet */
    close_md();
    dev_compute_close(0);
    open_md("try");
    ASSERT_NO_FATAL_FAILURE(open_iface());
    EXPECT_DOUBLE_EQ(fallback, m_attr.latency.c)
            << "measured without a device the application holds";
    close_iface();

    dev_alloc(CHUNK); /* the application holds the device now */
    ASSERT_NO_FATAL_FAILURE(open_iface());
    double measured = m_attr.latency.c;
    EXPECT_GT(measured, 0.0);
    EXPECT_NE(fallback, measured) << "not measured";
    EXPECT_LT(measured, 0.1) << "an empty submission took " << measured
                             << " s";
    close_iface();

    ASSERT_NO_FATAL_FAILURE(open_iface({{"HABANA_COPY_LAT", "3us"}}));
    EXPECT_DOUBLE_EQ(3e-6, m_attr.latency.c);
    close_iface();

    uct_iface_config_t *config;
    ASSERT_EQ(UCS_OK, uct_md_iface_config_read(m_md, "habana", NULL, NULL,
                                               &config));
    ASSERT_EQ(UCS_OK, uct_config_modify(config, "HABANA_COPY_LAT", "soon"));
    uct_iface_h iface = NULL;
    {
        log_capture capture(UCS_LOG_LEVEL_ERROR);
        EXPECT_EQ(UCS_ERR_INVALID_PARAM, iface_open(config, &iface));
        EXPECT_EQ(1u, capture.lines().size());
    }
    uct_config_release(config);
}
