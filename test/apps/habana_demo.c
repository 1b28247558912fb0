/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * The main job of the quick start: through UCX's public UCT API only,
 *  1. find the habana memory domain and open it;
 *  2. allocate two device buffers through the habanalabs uapi;
 *  3. ask the MD what they are: memory type, base, and a dma-buf fd + offset
 *     (what UCX's IB MD hands to ibv_reg_dmabuf_mr for zero copy);
 *  4. move data host -> device A -> device B -> host with the habana
 *     transport and verify it.
 * Exit status 0 only if every step worked and the data arrived intact.
 */
#include <uct/api/uct.h>
#include <drm/habanalabs_accel.h>
#include <kernel/include/uapi/hlsim.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define BUF_SIZE (1024 * 1024)

#define CHECK(_cond, _what) \
    do { \
        if (!(_cond)) { \
            fprintf(stderr, "habana_demo: %s failed\n", _what); \
            exit(1); \
        } \
    } while (0)

static void *dev_alloc(int fd, size_t size)
{
    union hl_mem_args args;

    memset(&args, 0, sizeof(args));
    args.in.op             = HL_MEM_OP_ALLOC;
    args.in.alloc.mem_size = size;
    CHECK(ioctl(fd, DRM_IOCTL_HL_MEMORY, &args) == 0, "HL_MEM_OP_ALLOC");

    uint64_t handle = args.out.handle;
    memset(&args, 0, sizeof(args));
    args.in.op                = HL_MEM_OP_MAP;
    args.in.map_device.handle = handle;
    CHECK(ioctl(fd, DRM_IOCTL_HL_MEMORY, &args) == 0, "HL_MEM_OP_MAP");
    return (void*)(uintptr_t)args.out.device_virt_addr;
}

static uct_component_h find_habana(uct_component_h *components,
                                   unsigned count)
{
    uct_component_attr_t attr;
    unsigned i;

    for (i = 0; i < count; ++i) {
        attr.field_mask = UCT_COMPONENT_ATTR_FIELD_NAME;
        uct_component_query(components[i], &attr);
        if (!strcmp(attr.name, "habana")) {
            return components[i];
        }
    }
    return NULL;
}

static uct_md_h open_md(uct_component_h component)
{
    uct_md_config_t *config;
    uct_md_h md;

    CHECK(uct_md_config_read(component, NULL, NULL, &config) == UCS_OK,
          "uct_md_config_read");
    CHECK(uct_md_open(component, "habana", config, &md) == UCS_OK,
          "uct_md_open(habana)");
    uct_config_release(config);
    return md;
}

static void show_buffer(uct_md_h md, const char *name, void *ptr)
{
    uct_md_mem_attr_t attr;
    ucs_memory_type_t type;

    CHECK(uct_md_detect_memory_type(md, ptr, BUF_SIZE, &type) == UCS_OK,
          "uct_md_detect_memory_type");
    attr.field_mask = UCT_MD_MEM_ATTR_FIELD_MEM_TYPE |
                      UCT_MD_MEM_ATTR_FIELD_DMABUF_FD |
                      UCT_MD_MEM_ATTR_FIELD_DMABUF_OFFSET;
    CHECK(uct_md_mem_query(md, ptr, BUF_SIZE, &attr) == UCS_OK,
          "uct_md_mem_query");
    printf("%s: %p detected as '%s', dma-buf fd %d offset %zu\n", name, ptr,
           ucs_memory_type_names[type], attr.dmabuf_fd, attr.dmabuf_offset);
    CHECK(attr.dmabuf_fd >= 0, "dma-buf export");
    close(attr.dmabuf_fd);
}

/* A zero-copy operation either completed (UCS_OK) or is in progress:
 * flush the interface */
static void wait_done(uct_iface_h iface, ucs_status_t status,
                      const char *what)
{
    CHECK((status == UCS_OK) || (status == UCS_INPROGRESS), what);
    while ((status = uct_iface_flush(iface, 0, NULL)) == UCS_INPROGRESS) {
        uct_iface_progress(iface);
    }
    CHECK(status == UCS_OK, what);
}

int main(int argc, char **argv)
{
    const char *node = (argc > 1) ? argv[1] : "/dev/accel/accel0";
    uct_iface_params_t iface_params = {0};
    uct_ep_params_t ep_params       = {0};
    uct_component_h *components;
    uct_iface_config_t *config;
    ucs_async_context_t *async;
    uct_iface_addr_t *addr;
    uct_worker_h worker;
    uct_iface_h iface;
    uct_component_h habana;
    unsigned count;
    uct_md_h md;
    uct_ep_h ep;
    uct_iov_t iov;
    char *in, *out;
    void *dev_a, *dev_b;
    int fd;

    CHECK(uct_query_components(&components, &count) == UCS_OK,
          "uct_query_components");
    habana = find_habana(components, count);
    CHECK(habana != NULL, "finding the habana component (UCX_PLUGIN_PATH?)");
    md = open_md(habana);

    /* The application's runtime owns the compute fd; UCX reuses it */
    fd = open(node, O_RDWR | O_CLOEXEC);
    CHECK(fd >= 0, "opening the compute node");
    dev_a = dev_alloc(fd, BUF_SIZE);
    dev_b = dev_alloc(fd, BUF_SIZE);
    show_buffer(md, "device buffer A", dev_a);
    show_buffer(md, "device buffer B", dev_b);

    CHECK(ucs_async_context_create(UCS_ASYNC_MODE_THREAD_SPINLOCK, &async) ==
          UCS_OK, "ucs_async_context_create");
    CHECK(uct_worker_create(async, UCS_THREAD_MODE_SINGLE, &worker) == UCS_OK,
          "uct_worker_create");
    CHECK(uct_md_iface_config_read(md, "habana", NULL, NULL, &config) ==
          UCS_OK, "uct_md_iface_config_read");
    iface_params.field_mask           = UCT_IFACE_PARAM_FIELD_OPEN_MODE |
                                        UCT_IFACE_PARAM_FIELD_DEVICE;
    iface_params.open_mode            = UCT_IFACE_OPEN_MODE_DEVICE;
    iface_params.mode.device.tl_name  = "habana";
    iface_params.mode.device.dev_name = "habana0";
    CHECK(uct_iface_open(md, worker, &iface_params, config, &iface) == UCS_OK,
          "uct_iface_open(habana)");
    uct_config_release(config);

    addr = calloc(1, 64);
    CHECK(uct_iface_get_address(iface, addr) == UCS_OK, "get_address");
    ep_params.field_mask = UCT_EP_PARAM_FIELD_IFACE |
                           UCT_EP_PARAM_FIELD_DEV_ADDR |
                           UCT_EP_PARAM_FIELD_IFACE_ADDR;
    ep_params.iface      = iface;
    ep_params.dev_addr   = (const uct_device_addr_t*)addr;
    ep_params.iface_addr = addr;
    CHECK(uct_ep_create(&ep_params, &ep) == UCS_OK, "uct_ep_create");

    in  = malloc(BUF_SIZE);
    out = calloc(1, BUF_SIZE);
    for (size_t i = 0; i < BUF_SIZE; ++i) {
        in[i] = (char)(i * 7 + 3);
    }

    iov = (uct_iov_t){.buffer = dev_a, .length = BUF_SIZE, .count = 1};
    CHECK(uct_ep_put_short(ep, in, 4096, (uintptr_t)dev_a, 0) == UCS_OK,
          "put_short host->device");
    /* Large copies run on the transport's copy thread (UCS_INPROGRESS);
     * each step waits for the previous one */
    wait_done(iface,
              uct_ep_put_zcopy(ep, &(uct_iov_t){.buffer = in + 4096,
                                                .length = BUF_SIZE - 4096,
                                                .count  = 1}, 1,
                               (uintptr_t)dev_a + 4096, 0, NULL),
              "put_zcopy host->device");
    wait_done(iface,
              uct_ep_put_zcopy(ep, &iov, 1, (uintptr_t)dev_b, 0, NULL),
              "put_zcopy device->device");
    iov = (uct_iov_t){.buffer = out, .length = BUF_SIZE, .count = 1};
    wait_done(iface,
              uct_ep_get_zcopy(ep, &iov, 1, (uintptr_t)dev_b, 0, NULL),
              "get_zcopy device->host");
    CHECK(memcmp(in, out, BUF_SIZE) == 0, "data verification");
    printf("habana transport: host -> A -> B -> host, %d bytes verified\n",
           BUF_SIZE);

    uct_ep_destroy(ep);
    uct_iface_close(iface);
    uct_worker_destroy(worker);
    ucs_async_context_destroy(async);
    uct_md_close(md);
    uct_release_component_list(components);
    free(addr);
    free(in);
    free(out);
    close(fd);
    printf("habana_demo: OK\n");
    return 0;
}
