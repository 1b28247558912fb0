/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * libucm_habana: device allocations made through the habanalabs memory
 * ioctl are tracked, so the memory domain knows their exact extent and
 * handle, and frees reach UCX before the driver.  The runner loads the
 * real module for this suite (and no tracker double is enabled).
 */
#include "copy_fixture.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <drm/habanalabs_accel.h>
#include <sys/ioctl.h>
#include <ucm/api/ucm.h>
#include <ucs/memory/memtype_cache.h>
#include <src/uct/habana/base/habana_uct_int.h> /* the v2 mem_query API */
#include <src/ucm/habana/ucm_habana.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/stat.h>
#include <unistd.h>

static const size_t PAGE = 64 * 1024;
/* the double's device page is 64 KiB, hlsim's 4 KiB */
static const size_t PAGE_ROUND = 4096;

/* dma-bufs are files: one export, one inode (the kernel's and the
 * double's exporters alike) */
static ino_t inode_of(int fd)
{
    struct stat st;
    return (fstat(fd, &st) == 0) ? st.st_ino : 0;
}

class habana_ucm : public habana_md {
protected:
    void SetUp() override
    {
        habana_md::SetUp();
        if (env_int("HL_DOUBLE_DEVICES", 1) == 0) {
            GTEST_SKIP() << "no device in this configuration";
        }
        /* opening the MD subscribes to UCM events, which loads the module */
        open_md("try");
        ASSERT_NE(nullptr, dlopen("libucm_habana.so.0", RTLD_LAZY |
                                  RTLD_NOLOAD))
                << "libucm_habana was not loaded by UCM";
    }

    uct_md_mem_attr_t query(const void *addr, size_t len,
                            ucs_status_t *status)
    {
        uct_md_mem_attr_t attr = {};
        attr.field_mask = UCT_MD_MEM_ATTR_FIELD_MEM_TYPE |
                          UCT_MD_MEM_ATTR_FIELD_BASE_ADDRESS |
                          UCT_MD_MEM_ATTR_FIELD_ALLOC_LENGTH |
                          UCT_MD_MEM_ATTR_FIELD_DMABUF_FD |
                          UCT_MD_MEM_ATTR_FIELD_DMABUF_OFFSET;
        *status = uct_md_mem_query(m_md, addr, len, &attr);
        return attr;
    }
};

TEST_F(habana_ucm, mapping_extent_is_exact)
{
    dev_buffer buf;
    ucs_status_t status;

    ASSERT_TRUE(dev_buffer_alloc(0, 3 * PAGE, &buf)) << strerror(errno);
    unsigned long before = have_double() ? double_export_count() : 0;

    uct_md_mem_attr_t a = query((char*)buf.va + PAGE + 5, 10, &status);
    ASSERT_EQ(UCS_OK, status);
    EXPECT_EQ(buf.va, a.base_address);
    EXPECT_EQ(3 * PAGE, a.alloc_length);
    EXPECT_EQ(PAGE + 5, a.dmabuf_offset);
    ASSERT_GE(a.dmabuf_fd, 0);     /* works for both uapis: handle known */

    uct_md_mem_attr_t b = query(buf.va, 3 * PAGE, &status);
    ASSERT_EQ(UCS_OK, status);
    ASSERT_GE(b.dmabuf_fd, 0);
    EXPECT_NE(a.dmabuf_fd, b.dmabuf_fd);
    EXPECT_EQ(inode_of(a.dmabuf_fd), inode_of(b.dmabuf_fd))
            << "export not cached";
    close(a.dmabuf_fd);
    close(b.dmabuf_fd);
    if (have_double()) {
        EXPECT_EQ(before + 1, double_export_count()) << "export not cached";
    }

    /* the unmap succeeds although our cached dma-buf was alive: the FREE
     * event reached the MD before the driver saw the unmap (the driver
     * refuses to unmap exported memory) */
    EXPECT_EQ(0, dev_buffer_free(&buf)) << strerror(errno);
    if (have_double()) {
        EXPECT_EQ(0u, double_live_exports());
    }
}

TEST_F(habana_ucm, reallocation_at_same_address_is_not_stale)
{
    dev_buffer first, second;
    ucs_status_t status;

    ASSERT_TRUE(dev_buffer_alloc(0, 2 * PAGE, &first));
    uct_md_mem_attr_t a = query(first.va, PAGE, &status);
    ASSERT_EQ(UCS_OK, status);
    ASSERT_GE(a.dmabuf_fd, 0);
    ino_t first_export = inode_of(a.dmabuf_fd);
    close(a.dmabuf_fd);
    void *va = first.va;
    ASSERT_EQ(0, dev_buffer_free(&first)) << strerror(errno);

    /* a new mapping of the same size at the freed VA (map hint) */
    ASSERT_TRUE(dev_buffer_alloc(0, 2 * PAGE, &second, va));
    uct_md_mem_attr_t b = query(second.va, PAGE, &status);
    ASSERT_EQ(UCS_OK, status);
    EXPECT_EQ(2 * PAGE, b.alloc_length);
    ASSERT_GE(b.dmabuf_fd, 0);
    EXPECT_NE(first_export, inode_of(b.dmabuf_fd)) << "stale export reused";
    if (!have_double()) {
        close(b.dmabuf_fd);
        EXPECT_EQ(0, dev_buffer_free(&second)) << strerror(errno);
        return;
    }

    auto info = (int (*)(int, uint64_t*, uint64_t*))dlsym(
            RTLD_DEFAULT, "hl_double_dmabuf_info");
    ASSERT_NE(nullptr, info);
    uint64_t exp_va, exp_size;
    ASSERT_EQ(0, info(b.dmabuf_fd, &exp_va, &exp_size));
    EXPECT_EQ(2 * PAGE, exp_size);
    EXPECT_EQ((uintptr_t)second.va, exp_va);
    ASSERT_EQ(va, second.va) << "the map hint was not honoured";
    close(b.dmabuf_fd);
    EXPECT_EQ(0, dev_buffer_free(&second)) << strerror(errno);
}

TEST_F(habana_ucm, unknown_pointer_in_device_range_is_still_detected)
{
    ucs_memory_type_t type;

    /* nothing is mapped there, but only device memory lives in the range */
    ASSERT_EQ(UCS_OK, uct_md_detect_memory_type(
                              m_md, (void*)0x1500000000000000ull, 64, &type));
    EXPECT_EQ(UCS_MEMORY_TYPE_GAUDI, type);
}

/* Issue 14 item 3: UCP looks a pointer up in the memory-type cache and
 * queries the MDs on every operation when the entry lacks the system device
 * and the flags (the allocation event knows neither).  One query must store
 * them for the mapping, and the free must take them away again. */
TEST_F(habana_ucm, query_fills_the_memtype_cache)
{
    /* UCX 1.23 creates the cache with the first UCP context, 1.22 with the
     * first lookup (UCP's first memory-type detection) */
    auto create = (void (*)())dlsym(RTLD_DEFAULT,
                                    "ucs_memtype_cache_global_create");
    ucs_memory_info_t info;
    if (create != nullptr) {
        create();
    } else {
        ucs_memtype_cache_lookup(&info, sizeof(info), &info);
    }
    ASSERT_NE(nullptr, ucs_memtype_cache_global_instance);

    dev_buffer buf;
    ASSERT_TRUE(dev_buffer_alloc(0, 2 * PAGE, &buf)) << strerror(errno);
    char *p = (char*)buf.va + 100;
    ASSERT_EQ(UCS_OK, ucs_memtype_cache_lookup(p, 64, &info));
    EXPECT_EQ(UCS_MEMORY_TYPE_GAUDI, info.type);
    bool slow_before = (info.sys_dev == UCS_SYS_DEVICE_ID_UNKNOWN) &&
                       (info.mem_flags == 0);
    EXPECT_TRUE(slow_before) << "the allocation event knew more than expected";

    uct_md_mem_attr_v2_t attr = {};
    attr.field_mask = UCT_MD_MEM_ATTR_V2_FIELD_MEM_TYPE |
                      UCT_MD_MEM_ATTR_V2_FIELD_SYS_DEV |
                      UCT_MD_MEM_ATTR_V2_FIELD_BASE_ADDRESS |
                      UCT_MD_MEM_ATTR_V2_FIELD_ALLOC_LENGTH |
                      UCT_MD_MEM_ATTR_V2_FIELD_MEM_FLAGS;
    ASSERT_EQ(UCS_OK, uct_md_mem_query_v2(m_md, p, 64, &attr));
    /* what UCP needs to answer later operations from the cache: a device
     * off PCI (hlsim) gets a system device of its own */
    ASSERT_FALSE((attr.sys_dev == UCS_SYS_DEVICE_ID_UNKNOWN) &&
                 (attr.mem_flags == 0))
            << "no system device and no flags: UCP queries every operation";

    /* anywhere in the mapping, not only at the queried pointer (the cache
     * merges it with neighbours of the same type and flags) */
    ASSERT_EQ(UCS_OK, ucs_memtype_cache_lookup((char*)buf.va + PAGE, 8,
                                               &info));
    EXPECT_EQ(UCS_MEMORY_TYPE_GAUDI, info.type);
    EXPECT_EQ(attr.sys_dev, info.sys_dev);
    EXPECT_EQ(attr.mem_flags, info.mem_flags);

    ASSERT_EQ(0, dev_buffer_free(&buf)) << strerror(errno);
    ucs_status_t status = ucs_memtype_cache_lookup(p, 64, &info);
    EXPECT_TRUE((status != UCS_OK) ||
                ((info.sys_dev == UCS_SYS_DEVICE_ID_UNKNOWN) &&
                 (info.mem_flags == 0)))
            << "the freed mapping is still answered from the cache";
}

/* What UCP_MEM_MAP_ALLOCATE (ucx_perftest -m gaudi) uses: the MD allocates
 * device memory; its own ioctls are tracked like the application's */
TEST_F(habana_ucm, md_allocates_device_memory)
{
    uct_allocated_memory_t mem;
    ucs_memory_type_t type;
    ucs_status_t status;

    ASSERT_EQ(UCS_OK, md_alloc(m_md, 100000, &mem));
    EXPECT_EQ(m_md, mem.md);
    EXPECT_EQ(UCS_MEMORY_TYPE_GAUDI, mem.mem_type);
    EXPECT_GE(mem.length, 100000u);
    EXPECT_EQ(0u, mem.length % PAGE_ROUND);

    ASSERT_EQ(UCS_OK, uct_md_detect_memory_type(m_md, mem.address, 8, &type));
    EXPECT_EQ(UCS_MEMORY_TYPE_GAUDI, type);
    uct_md_mem_attr_t a = query((char*)mem.address + 4096, 16, &status);
    ASSERT_EQ(UCS_OK, status);
    EXPECT_EQ(mem.address, a.base_address);
    EXPECT_EQ(mem.length, a.alloc_length);
    EXPECT_EQ(4096u, a.dmabuf_offset);
    ASSERT_GE(a.dmabuf_fd, 0);
    close(a.dmabuf_fd);

    /* the cached export must not block the free */
    EXPECT_EQ(UCS_OK, uct_mem_free(&mem));
}

/* Issue 15 item 3: the application closes its compute descriptor (its
 * context and memory end) and opens the device again; the new context
 * hands out the same VA.  The memory domain must not answer with the dma-buf
 * it exported for the old context's mapping (silent corruption), nor keep
 * that context alive with it (the driver refuses a new open while it
 * lives). */
TEST_F(habana_ucm, reopened_context_gets_no_stale_dmabuf)
{
    dev_buffer first, second;
    ucs_status_t status;

    ASSERT_TRUE(dev_buffer_alloc(0, 2 * PAGE, &first)) << strerror(errno);
    uct_md_mem_attr_t a = query(first.va, PAGE, &status);
    ASSERT_EQ(UCS_OK, status);
    ASSERT_GE(a.dmabuf_fd, 0);
    ino_t first_export = inode_of(a.dmabuf_fd);
    close(a.dmabuf_fd);

    void *va = first.va;
    dev_compute_close(0); /* no unmap: the context goes, and its memory */
    ASSERT_TRUE(dev_buffer_alloc(0, 2 * PAGE, &second, va))
            << "reopening the device failed: " << strerror(errno);
    uct_md_mem_attr_t b = query(second.va, PAGE, &status);
    ASSERT_EQ(UCS_OK, status);
    ASSERT_GE(b.dmabuf_fd, 0);
    EXPECT_NE(first_export, inode_of(b.dmabuf_fd))
            << "the old context's dma-buf was returned";
    if (have_double()) {
        auto info = (int (*)(int, uint64_t*, uint64_t*))dlsym(
                RTLD_DEFAULT, "hl_double_dmabuf_info");
        uint64_t exp_va, exp_size;
        ASSERT_NE(nullptr, info);
        ASSERT_EQ(0, info(b.dmabuf_fd, &exp_va, &exp_size));
        EXPECT_EQ((uintptr_t)second.va, exp_va);
    }
    close(b.dmabuf_fd);
    EXPECT_EQ(0, dev_buffer_free(&second)) << strerror(errno);
}

/* UCM memory-type events seen for one address */
struct event_count {
    void     *address;
    unsigned allocs, frees;
};

static void count_events(ucm_event_type_t type, ucm_event_t *event,
                         void *arg)
{
    event_count *count = (event_count*)arg;

    if (event->mem_type.address != count->address) {
        return;
    }
    if (type == UCM_EVENT_MEM_TYPE_ALLOC) {
        ++count->allocs;
    } else if (type == UCM_EVENT_MEM_TYPE_FREE) {
        ++count->frees;
    }
}

/* Issue 15 item 10: the free is reported before the driver sees the
 * unmap; when the unmap then fails (not because of a live export), the
 * memory still exists and is reported again, and stays tracked */
TEST_F(habana_ucm, failed_unmap_reports_the_mapping_again)
{
    dev_buffer buf;
    ucs_status_t status;
    event_count count = {};

    if (!have_double()) {
        GTEST_SKIP() << "needs hl_double's fault injection";
    }

    ASSERT_TRUE(dev_buffer_alloc(0, 2 * PAGE, &buf)) << strerror(errno);
    count.address = buf.va;
    ASSERT_EQ(UCS_OK, ucm_set_event_handler(UCM_EVENT_MEM_TYPE_ALLOC |
                                            UCM_EVENT_MEM_TYPE_FREE, 0,
                                            count_events, &count));
    count.allocs = 0; /* existing allocations are reported at subscribe */

    ASSERT_EQ(0, double_set("HL_DOUBLE_UNMAP_ERRNO", EIO));
    union hl_mem_args args = {};
    args.in.op                     = HL_MEM_OP_UNMAP;
    args.in.unmap.device_virt_addr = (uintptr_t)buf.va;
    int ret = ioctl(buf.fd, (env_str("HL_DOUBLE_ABI", "accel") == "misc") ?
                    _IOWR('H', 0x05, union hl_mem_args) : DRM_IOCTL_HL_MEMORY,
                    &args);
    int err = errno;
    double_set("HL_DOUBLE_UNMAP_ERRNO", 0);
    ucm_unset_event_handler(UCM_EVENT_MEM_TYPE_ALLOC | UCM_EVENT_MEM_TYPE_FREE,
                            count_events, &count);
    EXPECT_EQ(-1, ret);
    EXPECT_EQ(EIO, err);
    EXPECT_EQ(1u, count.frees);
    EXPECT_EQ(1u, count.allocs) << "the surviving mapping was not reported";

    /* still tracked: an interior pointer resolves to the whole mapping */
    uct_md_mem_attr_t a = query((char*)buf.va + PAGE, 8, &status);
    ASSERT_EQ(UCS_OK, status);
    EXPECT_EQ(buf.va, a.base_address);
    EXPECT_EQ(2 * PAGE, a.alloc_length);
    if (a.dmabuf_fd >= 0) {
        close(a.dmabuf_fd);
    }
    EXPECT_EQ(0, dev_buffer_free(&buf)) << strerror(errno);
}

/* Two pages of device memory, and its FREE events counted in @count
 * (the caller unsets the handler) */
static void alloc_counting_frees(dev_buffer *buf, event_count *count)
{
    ASSERT_TRUE(dev_buffer_alloc(0, 2 * PAGE, buf)) << strerror(errno);
    count->address = buf->va;
    ASSERT_EQ(UCS_OK, ucm_set_event_handler(UCM_EVENT_MEM_TYPE_FREE, 0,
                                            count_events, count));
}

/* A dup2/dup3 that does not end the compute descriptor's file (a bad
 * source: EBADF; another descriptor of the same open file) must leave its
 * mappings tracked and unreported */
TEST_F(habana_ucm, dup_that_keeps_the_descriptor_keeps_its_mappings)
{
    dev_buffer buf;
    ucs_status_t status;
    event_count count = {};

    ASSERT_NO_FATAL_FAILURE(alloc_counting_frees(&buf, &count));

    errno = 0;
    EXPECT_EQ(-1, dup2(-1, buf.fd));
    EXPECT_EQ(EBADF, errno);
    errno = 0;
    EXPECT_EQ(-1, dup3(-1, buf.fd, O_CLOEXEC));
    EXPECT_EQ(EBADF, errno);
    int other = dup(buf.fd);
    ASSERT_GE(other, 0) << strerror(errno);
    EXPECT_EQ(buf.fd, dup2(other, buf.fd)) << strerror(errno);
    EXPECT_EQ(buf.fd, dup3(other, buf.fd, 0)) << strerror(errno);
    close(other);
    ucm_unset_event_handler(UCM_EVENT_MEM_TYPE_FREE, count_events, &count);
    EXPECT_EQ(0u, count.frees) << "a live mapping was reported freed";

    uct_md_mem_attr_t a = query((char*)buf.va + PAGE, 8, &status);
    ASSERT_EQ(UCS_OK, status);
    EXPECT_EQ(buf.va, a.base_address) << "the mapping was forgotten";
    EXPECT_EQ(2 * PAGE, a.alloc_length);
    if (a.dmabuf_fd >= 0) {
        close(a.dmabuf_fd);
    }
    EXPECT_EQ(0, dev_buffer_free(&buf)) << strerror(errno);
}

/* Closing one of two descriptors of a compute context (a dup, then a close
 * of the original) does not end the context: its mappings stay tracked,
 * under the descriptor that stays, and are not reported freed */
TEST_F(habana_ucm, closing_one_of_two_descriptors_keeps_the_mappings)
{
    dev_buffer buf;
    ucs_status_t status;
    event_count count = {};

    ASSERT_NO_FATAL_FAILURE(alloc_counting_frees(&buf, &count));

    int old_fd = buf.fd;
    buf.fd     = dev_compute_move(0);
    ASSERT_GE(buf.fd, 0) << strerror(errno);
    ASSERT_NE(old_fd, buf.fd);
    EXPECT_EQ(0u, count.frees) << "a live mapping was reported freed";

    uct_md_mem_attr_t a = query((char*)buf.va + PAGE, 8, &status);
    EXPECT_EQ(UCS_OK, status) << "the mapping was forgotten";
    EXPECT_EQ(buf.va, a.base_address);
    EXPECT_EQ(2 * PAGE, a.alloc_length);
    if ((status == UCS_OK) && (a.dmabuf_fd >= 0)) {
        close(a.dmabuf_fd);
    }

    ucm_unset_event_handler(UCM_EVENT_MEM_TYPE_FREE, count_events, &count);

    /* tracked under the descriptor that stays */
    void *ucm  = dlopen("libucm_habana.so.0", RTLD_LAZY | RTLD_NOLOAD);
    auto find  = (ucm != nullptr) ? (ucm_habana_mapping_find_func_t)dlsym(
                                            ucm, UCM_HABANA_MAPPING_FIND_SYM) :
                                    nullptr;
    ucm_habana_mapping_t mapping = {};
    ASSERT_NE(nullptr, find) << "libucm_habana is not loaded";
    EXPECT_EQ(1, find((char*)buf.va + PAGE, &mapping));
    EXPECT_EQ(buf.fd, mapping.fd);
    dlclose(ucm);
    EXPECT_EQ(0, dev_buffer_free(&buf)) << strerror(errno);
}

/* The memory ioctl of the uapi under test */
static int memory_ioctl(int fd, union hl_mem_args *args)
{
    return ioctl(fd, (env_str("HL_DOUBLE_ABI", "accel") == "misc") ?
                 _IOWR('H', 0x05, union hl_mem_args) : DRM_IOCTL_HL_MEMORY,
                 args);
}

typedef void (*after_memory_op_func_t)(uint32_t op, void (*fn)(void *arg),
                                       void *arg);

static after_memory_op_func_t after_memory_op()
{
    return (after_memory_op_func_t)dlsym(RTLD_DEFAULT,
                                         "hl_double_after_memory_op");
}

struct remap {
    dev_buffer buf;
    void       *hint;
    bool       done;
};

static void map_at_hint(void *arg)
{
    remap *r = (remap*)arg;

    r->done = dev_buffer_alloc(0, 2 * PAGE, &r->buf, r->hint);
}

static int tracked_at(void *addr, ucm_habana_mapping_t *mapping)
{
    void *ucm = dlopen("libucm_habana.so.0", RTLD_LAZY | RTLD_NOLOAD);
    auto find = (ucm != nullptr) ? (ucm_habana_mapping_find_func_t)dlsym(
                                           ucm, UCM_HABANA_MAPPING_FIND_SYM) :
                                   nullptr;
    int found = (find != nullptr) ? find(addr, mapping) : -2;

    if (ucm != nullptr) {
        dlclose(ucm);
    }
    return found;
}

/* A buffer, and hl_double's hook that runs a function between a memory
 * ioctl and its return, as another thread could */
class habana_ucm_race : public habana_ucm {
protected:
    void SetUp() override
    {
        habana_ucm::SetUp();
        if (IsSkipped()) {
            return;
        }
        m_after = after_memory_op();
        if (m_after == nullptr) {
            GTEST_SKIP() << "needs hl_double's hook between driver and caller";
        }
        ASSERT_TRUE(dev_buffer_alloc(0, 2 * PAGE, &m_first)) << strerror(errno);
    }

    after_memory_op_func_t m_after = nullptr;
    dev_buffer             m_first = {};
    ucm_habana_mapping_t   m_mapping = {};
};

/* Another thread maps memory between the driver's unmap of a buffer and
 * the unmapping thread's return: the driver may give it the same VA, on
 * the same descriptor.  The new mapping stays tracked */
TEST_F(habana_ucm_race, a_mapping_made_during_an_unmap_stays_tracked)
{
    remap second = {{}, m_first.va, false};

    m_after(HL_MEM_OP_UNMAP, map_at_hint, &second);
    EXPECT_EQ(0, dev_buffer_free(&m_first)) << strerror(errno);
    ASSERT_TRUE(second.done) << strerror(errno);
    ASSERT_EQ(m_first.va, second.buf.va) << "the VA was not reused";

    EXPECT_EQ(1, tracked_at((char*)second.buf.va + PAGE, &m_mapping))
            << "the new mapping was forgotten with the old one";
    EXPECT_EQ(second.buf.handle, m_mapping.handle);
    EXPECT_EQ(0, dev_buffer_free(&second.buf)) << strerror(errno);
}

struct realloc_handle {
    int      fd;
    uint64_t handle;
    bool     done;
};

static void alloc_raw(void *arg)
{
    realloc_handle *r = (realloc_handle*)arg;
    union hl_mem_args args = {};

    args.in.op             = HL_MEM_OP_ALLOC;
    args.in.alloc.mem_size = 2 * PAGE;
    r->done   = (memory_ioctl(r->fd, &args) == 0);
    r->handle = args.out.handle;
}

/* Likewise an allocation made between the driver's free of a handle and
 * the freeing thread's return gets the same handle: it stays known, so
 * mapping it is tracked */
TEST_F(habana_ucm_race, an_allocation_made_during_a_free_stays_tracked)
{
    realloc_handle second = {m_first.fd, 0, false};

    m_after(HL_MEM_OP_FREE, alloc_raw, &second);
    EXPECT_EQ(0, dev_buffer_free(&m_first)) << strerror(errno);
    ASSERT_TRUE(second.done) << strerror(errno);
    ASSERT_EQ(m_first.handle, second.handle) << "the handle was not reused";

    union hl_mem_args args = {};
    args.in.op                = HL_MEM_OP_MAP;
    args.in.map_device.handle = second.handle;
    ASSERT_EQ(0, memory_ioctl(m_first.fd, &args)) << strerror(errno);
    dev_buffer mapped = {(void*)(uintptr_t)args.out.device_virt_addr,
                         2 * PAGE, second.handle, m_first.fd};
    EXPECT_EQ(1, tracked_at((char*)mapped.va + PAGE, &m_mapping))
            << "the new allocation was forgotten with the old one";
    EXPECT_EQ(0, dev_buffer_free(&mapped)) << strerror(errno);
}

typedef uint64_t (*fd_epoch_func_t)(int fd);

static fd_epoch_func_t fd_epoch_func()
{
    void *ucm  = dlopen("libucm_habana.so.0", RTLD_LAZY | RTLD_NOLOAD);
    void *func = (ucm != nullptr) ? dlsym(ucm, UCM_HABANA_FD_EPOCH_SYM) :
                                    nullptr;

    if (ucm != nullptr) {
        dlclose(ucm);
    }
    return (fd_epoch_func_t)func;
}

/* close_range() closes descriptors without close(): the compute
 * descriptor's mappings are reported freed and forgotten, and its number's
 * epoch advances (users of the number check it again).  With
 * CLOSE_RANGE_CLOEXEC nothing is closed, nothing changes. */
TEST_F(habana_ucm, close_range_ends_the_context)
{
    fd_epoch_func_t epoch        = fd_epoch_func();
    ucm_habana_mapping_t mapping = {};
    event_count count            = {};
    dev_buffer buf;

    ASSERT_NE(nullptr, epoch) << "libucm_habana is not loaded";
    ASSERT_NO_FATAL_FAILURE(alloc_counting_frees(&buf, &count));
    uint64_t before = epoch(buf.fd);
    ASSERT_EQ(0, close_range(buf.fd, buf.fd, CLOSE_RANGE_CLOEXEC))
            << strerror(errno);
    EXPECT_EQ(0u, count.frees) << "close-on-exec reported the memory freed";
    EXPECT_EQ(before, epoch(buf.fd));

    ASSERT_EQ(0, close_range(buf.fd, buf.fd, 0)) << strerror(errno);
    ucm_unset_event_handler(UCM_EVENT_MEM_TYPE_FREE, count_events, &count);
    EXPECT_EQ(1u, count.frees) << "the context's mappings were not reported";
    EXPECT_NE(before, epoch(buf.fd)) << "the epoch did not advance";
    EXPECT_EQ(0, tracked_at(buf.va, &mapping)) << "still tracked";
}

/* The same for closefrom(), here of the one descriptor above 900 (the
 * context moved there: a dup, then a close of the original) */
TEST_F(habana_ucm, closefrom_ends_the_context)
{
    const int high               = 900;
    fd_epoch_func_t epoch        = fd_epoch_func();
    ucm_habana_mapping_t mapping = {};
    event_count count            = {};
    dev_buffer buf;

    ASSERT_NE(nullptr, epoch) << "libucm_habana is not loaded";
    for (int fd = high; fd < high + 16; ++fd) {
        ASSERT_EQ(-1, fcntl(fd, F_GETFD)) << "descriptor " << fd << " is open";
    }
    ASSERT_NO_FATAL_FAILURE(alloc_counting_frees(&buf, &count));
    ASSERT_EQ(high, dup2(buf.fd, high)) << strerror(errno);
    dev_compute_close(0);
    buf.fd = high;
    ASSERT_EQ(1, tracked_at(buf.va, &mapping));
    ASSERT_EQ(high, mapping.fd);
    EXPECT_EQ(0u, count.frees);

    uint64_t before = epoch(high);
    closefrom(high);
    ucm_unset_event_handler(UCM_EVENT_MEM_TYPE_FREE, count_events, &count);
    EXPECT_EQ(1u, count.frees) << "the context's mappings were not reported";
    EXPECT_NE(before, epoch(high)) << "the epoch did not advance";
    EXPECT_EQ(0, tracked_at(buf.va, &mapping)) << "still tracked";
    EXPECT_EQ(-1, fcntl(high, F_GETFD));
}

/* UCM memory-type events at one address, counted */
static std::atomic<int> allocs_at_addr(0);
static void *counted_addr = NULL;

static void count_alloc_event(ucm_event_type_t type, ucm_event_t *event,
                              void *arg)
{
    if (event->mem_type.address == counted_addr) {
        ++allocs_at_addr;
    }
}

/*
 * Issue 15 item 4: each device's context has a VA space of its own, so two
 * devices of one process map the same VAs (hlsim and habanalabs always;
 * hl_double by default).  While both live, the address is
 * ambiguous: no dma-buf of either (it could be the wrong device's memory).
 * After one is freed, the other is reported to UCX again and is the
 * answer.
 */
TEST_F(habana_ucm, same_va_on_two_devices)
{
    dev_buffer buf0, buf1;
    ucs_status_t status;

    if (env_int("HL_DOUBLE_DEVICES", 1) < 2) {
        GTEST_SKIP() << "needs two devices";
    }
    void *hint = (void*)(0x1001000000000000ull + (1ull << 30));
    ASSERT_TRUE(dev_buffer_alloc(0, 2 * PAGE, &buf0, hint));
    ASSERT_TRUE(dev_buffer_alloc(1, 2 * PAGE, &buf1, hint));
    ASSERT_EQ(buf0.va, buf1.va) << "the devices do not share VAs";

    uct_md_mem_attr_t a = query(buf0.va, PAGE, &status);
    EXPECT_EQ(UCS_OK, status);
    EXPECT_EQ(UCS_MEMORY_TYPE_GAUDI, a.mem_type);
    EXPECT_EQ(UCT_DMABUF_FD_INVALID, a.dmabuf_fd)
            << "a dma-buf of one of two devices' memory at one address";
    if (a.dmabuf_fd >= 0) {
        close(a.dmabuf_fd);
    }

    counted_addr = buf0.va;
    ASSERT_EQ(UCS_OK, ucm_set_event_handler(UCM_EVENT_MEM_TYPE_ALLOC, 0,
                                            count_alloc_event, NULL));
    allocs_at_addr = 0;
    EXPECT_EQ(0, dev_buffer_free(&buf0)) << strerror(errno);
    ucm_unset_event_handler(UCM_EVENT_MEM_TYPE_ALLOC, count_alloc_event,
                            NULL);
    EXPECT_EQ(1, allocs_at_addr.load())
            << "device 1's mapping was not reported again";

    a = query(buf1.va, PAGE, &status);
    EXPECT_EQ(UCS_OK, status);
    EXPECT_GE(a.dmabuf_fd, 0) << "device 1's memory has a dma-buf again";
    if (a.dmabuf_fd >= 0) {
        close(a.dmabuf_fd);
    }
    EXPECT_EQ(0, dev_buffer_free(&buf1)) << strerror(errno);
}

/* Copies with libucm_habana loaded: it tells the transport when a
 * descriptor number was closed */
class habana_ucm_copy : public habana_copy_iface_test {
protected:
    void put_and_check(const dev_buffer &buf, unsigned seed)
    {
        std::vector<char> data = pattern(4096, seed);
        ucs_status_t status    = put(buf.va, data.data(), data.size(), NULL);
        ASSERT_TRUE((status == UCS_OK) || (status == UCS_INPROGRESS))
                << ucs_status_string(status);
        iface_flush();
        std::vector<char> back(data.size());
        ASSERT_EQ(0, dev_copy_d2h(back.data(), buf, 0, back.size()));
        EXPECT_EQ(data, back) << "copy " << seed << " did not arrive";
    }
};

/*
 * The application dup()s its compute descriptor and closes the original:
 * the context lives on, and so do the copy engine and what it mapped.  (A
 * new engine would map everything again, and the old one's mappings would
 * stay pinned in the context.)
 */
TEST_F(habana_ucm_copy, engine_follows_a_context_that_moves_to_a_dup)
{
    const size_t size = 256 * 1024; /* above the bounce size: mapped */
    auto userptr_maps = (unsigned long (*)(void))dlsym(
            RTLD_DEFAULT, "hl_double_userptr_maps");
    std::vector<char> host(size), back(size);
    uct_mem_h memh;
    dev_buffer buf;

    if (userptr_maps == nullptr) {
        GTEST_SKIP() << "counts hl_double's USERPTR mappings";
    }
    open_iface();
    ASSERT_TRUE(dev_buffer_alloc(0, size, &buf)) << strerror(errno);
    ASSERT_EQ(UCS_OK, uct_md_mem_reg(m_md, host.data(), host.size(),
                                     UCT_MD_MEM_ACCESS_ALL, &memh));
    unsigned long before = 0;
    for (unsigned seed = 1; seed <= 2; ++seed) {
        if (seed == 2) {
            before = userptr_maps();
            buf.fd = dev_compute_move(0);
            ASSERT_GE(buf.fd, 0) << strerror(errno);
        }
        std::vector<char> data = pattern(size, seed);
        std::copy(data.begin(), data.end(), host.begin());
        ucs_status_t status = put(buf.va, host.data(), size, NULL, memh);
        ASSERT_TRUE((status == UCS_OK) || (status == UCS_INPROGRESS))
                << ucs_status_string(status);
        iface_flush();
        ASSERT_EQ(0, dev_copy_d2h(back.data(), buf, 0, size));
        EXPECT_EQ(data, back) << "copy " << seed << " did not arrive";
    }
    EXPECT_EQ(0u, userptr_maps() - before)
            << "the copy engine was opened again and mapped anew";
    EXPECT_EQ(UCS_OK, uct_md_mem_dereg(m_md, memh));
    EXPECT_EQ(0, dev_buffer_free(&buf)) << strerror(errno);
}

/* The application closes its compute descriptor and opens the device
 * again, under the same number: a new context.  The copy engine made in
 * the old one (its command buffer and host mappings belong to that
 * context) must not serve the new one. */
TEST_F(habana_ucm_copy, engine_follows_a_reopened_descriptor)
{
    void *ucm = dlopen("libucm_habana.so.0", RTLD_LAZY | RTLD_NOLOAD);
    if ((ucm == nullptr) || (dlsym(ucm, "ucm_habana_fd_epoch") == nullptr)) {
        GTEST_SKIP() << "libucm_habana with descriptor epochs not loaded";
    }
    dlclose(ucm);

    open_iface();
    dev_buffer first, second;
    ASSERT_TRUE(dev_buffer_alloc(0, CHUNK, &first)) << strerror(errno);
    put_and_check(first, 1);

    int fd = first.fd;
    ASSERT_EQ(0, dev_buffer_free(&first)) << strerror(errno);
    dev_compute_close(0);
    ASSERT_TRUE(dev_buffer_alloc(0, CHUNK, &second)) << strerror(errno);
    if (second.fd != fd) {
        dev_buffer_free(&second);
        GTEST_SKIP() << "the descriptor number was not reused";
    }

    put_and_check(second, 2);
    EXPECT_EQ(0, dev_buffer_free(&second)) << strerror(errno);
}
