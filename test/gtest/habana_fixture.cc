/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 */
#include "habana_fixture.h"

#include <src/ucm/habana/ucm_habana.h>
#include <kernel/include/uapi/hlsim.h>
#include <drm/habanalabs_accel.h>

#include <dlfcn.h>
#include <ucm/api/ucm.h>
#include <fcntl.h>
#include <mutex>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

extern "C" void ucm_event_dispatch(ucm_event_type_t type, ucm_event_t *event);

#define LEGACY_MEMORY _IOWR('H', 0x05, union hl_mem_args)

static bool abi_is_misc()
{
    return env_str("HL_DOUBLE_ABI", "accel") == "misc";
}

static std::string compute_path(int dev)
{
    return (abi_is_misc() ? "/dev/hl" : "/dev/accel/accel") +
           std::to_string(dev);
}

static int compute_fds[8] = {-1, -1, -1, -1, -1, -1, -1, -1};

/* A descriptor of this process already open on @path, or -1 */
static int find_open_fd(const std::string &path)
{
    struct stat node, st;

    if (stat(path.c_str(), &node) != 0) {
        return -1;
    }
    for (int fd = 0; fd < 1024; ++fd) {
        if ((fstat(fd, &st) == 0) && S_ISCHR(st.st_mode) &&
            (st.st_rdev == node.st_rdev)) {
            return fd;
        }
    }
    return -1;
}

/* The application's compute descriptor of @dev: the one another part of
 * the process (libhlmem, UCX) holds, else opened on first use */
static int compute_fd(int dev)
{
    struct stat st;

    if ((compute_fds[dev] >= 0) && (fstat(compute_fds[dev], &st) != 0)) {
        compute_fds[dev] = -1; /* a test closed it */
    }
    if (compute_fds[dev] < 0) {
        compute_fds[dev] = open(compute_path(dev).c_str(),
                                O_RDWR | O_CLOEXEC);
    }
    if ((compute_fds[dev] < 0) && (errno == EBUSY)) {
        compute_fds[dev] = find_open_fd(compute_path(dev));
    }
    return compute_fds[dev];
}

void dev_compute_close(int dev)
{
    if (compute_fds[dev] >= 0) {
        close(compute_fds[dev]);
        compute_fds[dev] = -1;
    }
}

int dev_compute_move(int dev)
{
    int fd = compute_fd(dev), moved;

    if (fd < 0) {
        return -1;
    }
    moved = dup(fd);
    if (moved >= 0) {
        close(fd);
        compute_fds[dev] = moved;
    }
    return moved;
}

/*
 * Every test starts as a process that uses one device: a test that opened
 * another device leaves it closed.  (Untracked device VAs belong to the one
 * device a process holds; with two held their owner is unknown.)
 */
class close_other_devices : public ::testing::EmptyTestEventListener {
    void OnTestEnd(const ::testing::TestInfo &) override
    {
        for (int dev = 1; dev < 8; ++dev) {
            dev_compute_close(dev);
        }
    }
};

static bool close_other_devices_registered = []() {
    ::testing::UnitTest::GetInstance()->listeners().Append(
            new close_other_devices);
    return true;
}();

ucs_status_t md_alloc(uct_md_h md, size_t length, uct_allocated_memory_t *mem)
{
    uct_mem_alloc_params_t params = {};
    uct_alloc_method_t method     = UCT_ALLOC_METHOD_MD;

    params.field_mask = UCT_MEM_ALLOC_PARAM_FIELD_FLAGS |
                        UCT_MEM_ALLOC_PARAM_FIELD_MEM_TYPE |
                        UCT_MEM_ALLOC_PARAM_FIELD_MDS |
                        UCT_MEM_ALLOC_PARAM_FIELD_NAME;
    params.flags      = UCT_MD_MEM_ACCESS_ALL;
    params.mem_type   = UCS_MEMORY_TYPE_GAUDI;
    params.mds.mds    = &md;
    params.mds.count  = 1;
    params.name       = "gtest";
    return uct_mem_alloc(length, &method, 1, &params, mem);
}

static int mem_ioctl(int fd, union hl_mem_args *args)
{
    return ioctl(fd, abi_is_misc() ? LEGACY_MEMORY : DRM_IOCTL_HL_MEMORY,
                 args);
}

bool dev_buffer_alloc(int dev, size_t size, dev_buffer *buf, void *hint)
{
    union hl_mem_args args = {};

    buf->fd = compute_fd(dev);
    if (buf->fd < 0) {
        return false;
    }

    args.in.op             = HL_MEM_OP_ALLOC;
    args.in.alloc.mem_size = size;
    if (mem_ioctl(buf->fd, &args) < 0) {
        return false;
    }

    buf->handle                  = args.out.handle;
    buf->size                    = size;
    args                         = {};
    args.in.op                   = HL_MEM_OP_MAP;
    args.in.map_device.handle    = buf->handle;
    args.in.map_device.hint_addr = (uintptr_t)hint;
    if (mem_ioctl(buf->fd, &args) < 0) {
        return false;
    }

    buf->va = (void*)(uintptr_t)args.out.device_virt_addr;
    return true;
}

int dev_buffer_free(dev_buffer *buf)
{
    union hl_mem_args args = {};

    tracker_double_remove(*buf);
    args.in.op                    = HL_MEM_OP_UNMAP;
    args.in.unmap.device_virt_addr = (uintptr_t)buf->va;
    if (mem_ioctl(buf->fd, &args) < 0) {
        return -1;
    }

    args             = {};
    args.in.op       = HL_MEM_OP_FREE;
    args.in.free.handle = buf->handle;
    return mem_ioctl(buf->fd, &args);
}

static int dev_copy(const dev_buffer &buf, void *dst, const void *src,
                    size_t len, uint32_t dir)
{
    struct hlsim_dma_copy args = {};

    args.dst  = (uintptr_t)dst;
    args.src  = (uintptr_t)src;
    args.size = len;
    args.dir  = dir;
    return ioctl(buf.fd, abi_is_misc() ? HLSIM_IOCTL_DMA_COPY_LEGACY :
                                         HLSIM_IOCTL_DMA_COPY, &args);
}

int dev_copy_h2d(const dev_buffer &buf, size_t offset, const void *src,
                 size_t len)
{
    return dev_copy(buf, (char*)buf.va + offset, src, len,
                    HLSIM_COPY_HOST_TO_DEVICE);
}

int dev_copy_d2h(void *dst, const dev_buffer &buf, size_t offset, size_t len)
{
    return dev_copy(buf, dst, (char*)buf.va + offset, len,
                    HLSIM_COPY_DEVICE_TO_HOST);
}

/* ---- libucm_habana tracker double ---- */

static std::mutex tracker_lock;
/* each added buffer gets a mapping id never reused, as libucm_habana's */
struct tracked_buffer {
    dev_buffer buf;
    uint64_t   id;
};
static std::vector<tracked_buffer> tracker_buffers;
static uint64_t tracker_last_id = 0;
static bool tracker_enabled = false;

void tracker_double_enable(bool enable)
{
    std::lock_guard<std::mutex> guard(tracker_lock);
    tracker_enabled = enable;
}

void tracker_double_add(const dev_buffer &buf)
{
    std::lock_guard<std::mutex> guard(tracker_lock);
    tracker_buffers.push_back({buf, ++tracker_last_id});
}

void tracker_double_remove(const dev_buffer &buf)
{
    {
        std::lock_guard<std::mutex> guard(tracker_lock);
        for (auto it = tracker_buffers.begin(); it != tracker_buffers.end();
             ++it) {
            if (it->buf.va == buf.va) {
                tracker_buffers.erase(it);
                break;
            }
        }
    }

    /* What libucm_habana does before the driver sees the unmap */
    ucm_event_t event = {};
    event.mem_type.address  = buf.va;
    event.mem_type.size     = buf.size;
    event.mem_type.mem_type = UCS_MEMORY_TYPE_GAUDI;
    ucm_event_dispatch(UCM_EVENT_MEM_TYPE_FREE, &event);
}

extern "C" __attribute__((visibility("default"))) int
ucm_habana_mapping_find(const void *addr, ucm_habana_mapping_t *mapping)
{
    std::lock_guard<std::mutex> guard(tracker_lock);
    uintptr_t p = (uintptr_t)addr;

    if (!tracker_enabled) {
        return 0;
    }

    for (const tracked_buffer &t : tracker_buffers) {
        const dev_buffer &buf = t.buf;
        if ((p >= (uintptr_t)buf.va) && (p < (uintptr_t)buf.va + buf.size)) {
            mapping->va     = (uintptr_t)buf.va;
            mapping->size   = buf.size;
            mapping->handle = buf.handle;
            mapping->fd     = buf.fd;
            mapping->id     = t.id;
            return 1;
        }
    }
    return 0;
}

/* ---- hl_double helpers ---- */

template <typename F> static F double_sym(const char *name)
{
    void *sym = dlsym(RTLD_DEFAULT, name);
    EXPECT_NE(nullptr, sym) << name << ": is libhl_double preloaded?";
    return (F)sym;
}

bool have_double()
{
    return dlsym(RTLD_DEFAULT, "hl_double_export_count") != NULL;
}

unsigned long double_export_count()
{
    auto f = double_sym<unsigned long (*)(void)>("hl_double_export_count");
    return (f != NULL) ? f() : 0;
}

unsigned long double_live_exports()
{
    auto f = double_sym<unsigned long (*)(void)>("hl_double_live_exports");
    return (f != NULL) ? f() : 0;
}

int double_set(const char *knob, long value)
{
    auto f = double_sym<int (*)(const char*, long)>("hl_double_set");
    return (f != NULL) ? f(knob, value) : -1;
}

/* ---- fixture ---- */

void habana_md::SetUp()
{
    uct_component_h *components;
    unsigned count;

    ASSERT_EQ(UCS_OK, uct_query_components(&components, &count));
    for (unsigned i = 0; i < count; ++i) {
        uct_component_attr_t attr = {};
        attr.field_mask = UCT_COMPONENT_ATTR_FIELD_NAME |
                          UCT_COMPONENT_ATTR_FIELD_MD_RESOURCE_COUNT;
        ASSERT_EQ(UCS_OK, uct_component_query(components[i], &attr));
        if (std::string(attr.name) == "habana") {
            m_component = components[i];
            m_num_mds   = attr.md_resource_count;
        }
    }
    uct_release_component_list(components);
    tracker_double_enable(false);
}

void habana_md::TearDown()
{
    close_md();
}

void habana_md::open_md(const char *dmabuf_mode)
{
    uct_md_config_t *config;

    ASSERT_NE(nullptr, m_component) << "habana component not loaded";
    ASSERT_EQ(UCS_OK, uct_md_config_read(m_component, NULL, NULL, &config));
    ASSERT_EQ(UCS_OK, uct_config_modify(config, "HABANA_DMABUF", dmabuf_mode));
    ucs_status_t status = uct_md_open(m_component, "habana", config, &m_md);
    uct_config_release(config);
    ASSERT_EQ(UCS_OK, status);
}

void habana_md::close_md()
{
    if (m_md != NULL) {
        uct_md_close(m_md);
        m_md = NULL;
    }
}
