/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * Zero copy, decided honestly: device memory is registrable (UCX then
 * hands its dma-buf to the NICs) only when every usable NIC imports it;
 * memory a NIC still holds can be freed; allocations land on the
 * application's device.  The runner preloads hl_double and the
 * verbs_double NICs and loads the real libucm_habana.
 */
#include "habana_fixture.h"

extern "C" {
#include <src/uct/habana/base/habana_uct_int.h> /* the v2 mem_query API */
}

#include <drm/habanalabs_accel.h>
#include <infiniband/verbs.h>

#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const size_t PAGE = 64 * 1024;

#define LEGACY_INFO _IOWR('H', 0x01, struct hl_info_args)

static int verbs_double_live_mrs_or(int dflt)
{
    auto f = (int (*)(void))dlsym(RTLD_DEFAULT, "verbs_double_live_mrs");
    return (f != NULL) ? f() : dflt;
}

class habana_zcopy : public habana_md {
protected:
    void SetUp() override
    {
        habana_md::SetUp();
        if (env_int("HL_DOUBLE_DEVICES", 1) == 0) {
            GTEST_SKIP() << "no device in this configuration";
        }
        if (dlsym(RTLD_DEFAULT, "verbs_double_live_mrs") == NULL) {
            GTEST_SKIP() << "needs the verbs_double preload";
        }
        unsetenv("UCX_NET_DEVICES");
    }

    void TearDown() override
    {
        if (m_buf.va != NULL) {
            dev_buffer_free(&m_buf);
        }
        habana_md::TearDown();
        unsetenv("VERBS_DOUBLE_NICS");
        unsetenv("UCX_NET_DEVICES");
    }

    /* Open the MD with these NICs and allocate a tracked buffer */
    void start(const char *nics, const char *dmabuf_mode, size_t size = PAGE)
    {
        setenv("VERBS_DOUBLE_NICS", nics, 1);
        open_md(dmabuf_mode);
        ASSERT_TRUE(dev_buffer_alloc(0, size, &m_buf)) << strerror(errno);
    }

    uint8_t mem_flags(const void *addr, size_t len)
    {
        uct_md_mem_attr_v2_t attr = {};

        attr.field_mask = UCT_MD_MEM_ATTR_V2_FIELD_MEM_TYPE |
                          UCT_MD_MEM_ATTR_V2_FIELD_MEM_FLAGS;
        EXPECT_EQ(UCS_OK, uct_md_mem_query_v2(m_md, addr, len, &attr));
        EXPECT_EQ(UCS_MEMORY_TYPE_GAUDI, attr.mem_type);
        return attr.mem_flags;
    }

    int dmabuf_fd(const void *addr, size_t len, size_t *offset = NULL)
    {
        uct_md_mem_attr_t attr = {};

        attr.field_mask = UCT_MD_MEM_ATTR_FIELD_DMABUF_FD |
                          UCT_MD_MEM_ATTR_FIELD_DMABUF_OFFSET;
        EXPECT_EQ(UCS_OK, uct_md_mem_query(m_md, addr, len, &attr));
        if (offset != NULL) {
            *offset = attr.dmabuf_offset;
        }
        return attr.dmabuf_fd;
    }

    static uint64_t dram_free(int fd)
    {
        struct hl_info_dram_usage usage = {};
        struct hl_info_args args        = {};
        bool misc = (env_str("HL_DOUBLE_ABI", "accel") == "misc");

        args.op                 = HL_INFO_DRAM_USAGE;
        args.return_pointer     = (uintptr_t)&usage;
        args.return_size        = sizeof(usage);
        EXPECT_EQ(0, ioctl(fd, misc ? LEGACY_INFO : DRM_IOCTL_HL_INFO, &args))
                << strerror(errno);
        return usage.dram_free_mem;
    }

    dev_buffer m_buf = {};
};

/* the double's NIC: register as UCX's IB MD would, with the fd */
struct nic_registration {
    struct ibv_device  **list    = NULL;
    struct ibv_context *ctx      = NULL;
    struct ibv_pd      *pd       = NULL;
    struct ibv_mr      *mr       = NULL;

    bool reg(int fd, size_t offset, size_t len, const void *iova)
    {
        int num;

        list = ibv_get_device_list(&num);
        if ((list == NULL) || (num == 0)) {
            return false;
        }
        ctx = ibv_open_device(list[0]);
        pd  = ibv_alloc_pd(ctx);
        mr  = ibv_reg_dmabuf_mr(pd, offset, len, (uintptr_t)iova, fd,
                                IBV_ACCESS_LOCAL_WRITE);
        return mr != NULL;
    }

    void dereg()
    {
        if (mr != NULL) {
            ibv_dereg_mr(mr);
            mr = NULL;
        }
        if (pd != NULL) {
            ibv_dealloc_pd(pd);
            ibv_close_device(ctx);
            ibv_free_device_list(list);
            pd = NULL;
        }
    }

    ~nic_registration() { dereg(); }
};

TEST_F(habana_zcopy, registrable_when_the_nic_imports)
{
    start("nic0:import", "try");
    unsigned long before = double_export_count();
    EXPECT_EQ(UCS_MEM_FLAG_REGISTRABLE, mem_flags(m_buf.va, m_buf.size));
    /* probe and registration share the one cached export */
    EXPECT_EQ(before + 1, double_export_count());
    EXPECT_EQ(UCS_MEM_FLAG_REGISTRABLE, mem_flags(m_buf.va, m_buf.size));
    EXPECT_EQ(before + 1, double_export_count());
    EXPECT_EQ(0, verbs_double_live_mrs_or(-1));
}

TEST_F(habana_zcopy, staged_when_the_nic_cannot_import)
{
    start("nic0:eopnotsupp", "try");
    EXPECT_EQ(0, mem_flags(m_buf.va, m_buf.size));
    /* the dma-buf is still there for whoever asks (UCX will not) */
    int fd = dmabuf_fd(m_buf.va, m_buf.size);
    EXPECT_GE(fd, 0);
    close(fd);
}

TEST_F(habana_zcopy, dmabuf_yes_offers_memory_even_without_import)
{
    start("nic0:eopnotsupp", "yes");
    EXPECT_EQ(UCS_MEM_FLAG_REGISTRABLE, mem_flags(m_buf.va, m_buf.size));
}

TEST_F(habana_zcopy, dmabuf_no_never_exports)
{
    start("nic0:import", "no");
    unsigned long before = double_export_count();
    EXPECT_EQ(0, mem_flags(m_buf.va, m_buf.size));
    EXPECT_EQ(before, double_export_count());
}

TEST_F(habana_zcopy, mixed_nics_stage_unless_restricted)
{
    start("nic0:import,nic1:eopnotsupp", "try");
    EXPECT_EQ(0, mem_flags(m_buf.va, m_buf.size));

    close_md();
    setenv("UCX_NET_DEVICES", "nic0:1", 1);
    open_md("try");
    EXPECT_EQ(UCS_MEM_FLAG_REGISTRABLE, mem_flags(m_buf.va, m_buf.size));

    close_md();
    setenv("UCX_NET_DEVICES", "^nic1", 1);
    open_md("try");
    EXPECT_EQ(UCS_MEM_FLAG_REGISTRABLE, mem_flags(m_buf.va, m_buf.size));
}

TEST_F(habana_zcopy, no_active_nic_no_probe_no_export)
{
    start("nic0:down", "try");
    unsigned long before = double_export_count();
    EXPECT_EQ(0, mem_flags(m_buf.va, m_buf.size));
    EXPECT_EQ(before, double_export_count());
}

TEST_F(habana_zcopy, unaligned_size_exports_whole_pages)
{
    size_t size = 3 * PAGE + 100;

    start("nic0:import", "try", size);
    EXPECT_EQ(UCS_MEM_FLAG_REGISTRABLE, mem_flags(m_buf.va, size));
    size_t offset;
    int fd = dmabuf_fd((char*)m_buf.va + PAGE + 8, 64, &offset);
    ASSERT_GE(fd, 0) << "a tracked buffer of " << size << " bytes must export";
    EXPECT_EQ(PAGE + 8, offset);
    EXPECT_EQ((off_t)(4 * PAGE), lseek(fd, 0, SEEK_END));
    close(fd);
}

/* A NIC registers the whole buffer's dma-buf, then the application frees
 * the buffer while the registration lives on, as in UCX's registration
 * cache */
class habana_zcopy_free : public habana_zcopy {
protected:
    /* The device's free DRAM once everything is released */
    uint64_t free_while_registered()
    {
        start("nic0:import", "try");
        uint64_t full = dram_free(m_buf.fd) + m_buf.size;
        int fd = dmabuf_fd(m_buf.va, m_buf.size);
        EXPECT_GE(fd, 0);
        EXPECT_TRUE(m_nic.reg(fd, 0, m_buf.size, m_buf.va))
                << strerror(errno);
        close(fd); /* UCP closes its dup after registering */
        EXPECT_EQ(0, dev_buffer_free(&m_buf)) << strerror(errno);
        m_buf.va = NULL;
        return full;
    }

    nic_registration m_nic;
};

TEST_F(habana_zcopy_free, free_while_a_nic_holds_the_dmabuf)
{
    uint64_t full = free_while_registered();
    ASSERT_FALSE(HasFailure());
    EXPECT_LT(dram_free(m_buf.fd), full) << "released too early";

    /* the NIC lets go; the deferred unmap and free complete */
    m_nic.dereg();
    close_md(); /* flushes the deferred unmaps */
    EXPECT_EQ(full, dram_free(m_buf.fd));
}

TEST_F(habana_zcopy_free, later_ioctls_retry_deferred_frees)
{
    uint64_t full = free_while_registered();
    ASSERT_FALSE(HasFailure());
    m_nic.dereg();

    /* no flush: the application's next memory ioctls retry (after 1 ms) */
    dev_buffer other = {};
    for (int i = 0; (i < 200) && (dram_free(m_buf.fd) < full); ++i) {
        usleep(2000);
        ASSERT_TRUE(dev_buffer_alloc(0, PAGE, &other));
        ASSERT_EQ(0, dev_buffer_free(&other));
    }
    EXPECT_EQ(full, dram_free(m_buf.fd));
}

TEST_F(habana_zcopy, allocation_on_the_device_the_process_holds)
{
    dev_buffer held = {};

    if (env_int("HL_DOUBLE_DEVICES", 1) < 2) {
        GTEST_SKIP() << "needs two devices";
    }

    /* this process works on device 1 only */
    dev_compute_close(0);
    setenv("VERBS_DOUBLE_NICS", "", 1);
    open_md("try");
    ASSERT_TRUE(dev_buffer_alloc(1, PAGE, &held));

    uct_allocated_memory_t mem;
    ASSERT_EQ(UCS_OK, md_alloc(m_md, PAGE, &mem));

    /* device 1's context knows the mapping: it exports it */
    union hl_mem_args args = {};
    args.in.op                        = HL_MEM_OP_EXPORT_DMABUF_FD;
    args.in.flags                     = O_RDWR | O_CLOEXEC;
    args.in.export_dmabuf_fd.addr     = (uintptr_t)mem.address;
    args.in.export_dmabuf_fd.mem_size = mem.length;
    if (env_str("HL_DOUBLE_ABI", "accel") == "accel") {
        EXPECT_EQ(0, ioctl(held.fd, DRM_IOCTL_HL_MEMORY, &args))
                << "allocated on another device than the process's: "
                << strerror(errno);
        if (args.out.fd > 0) {
            close(args.out.fd);
        }
    }

    uct_mem_free(&mem);
    EXPECT_EQ(0, dev_buffer_free(&held));
}
