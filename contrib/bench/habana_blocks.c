/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * habana_blocks: the building blocks of a staged transfer, measured
 * through the habana transport itself (UCT, an endpoint to its own iface)
 * on device memory the habana memory domain allocates:
 *   copy8   H2D D2H       microseconds per 8-byte put_short / get_short
 *   copybw  SIZE H2D D2H  MB/s of put_zcopy / get_zcopy of SIZE bytes
 * The host side of a bulk copy moves through a pool of buffers (up to 128,
 * 64 MiB in all), as a transfer's staging fragments do, so that the
 * figures are not those of one buffer in the CPU cache; and the pool is
 * registered with the habana memory domain as one piece, as UCP registers
 * its 64 MiB staging chunks.
 * and the cost of memory-type detection through UCP (a 0-byte tagged
 * send and receive on one worker; UCP detects the type of both buffers):
 *   detect  HOST DEV DEV_GIVEN HOST_GIVEN
 *                     nanoseconds per send + receive, on a host buffer and
 *                     on a device buffer, then on each with its memory
 *                     type given (no detection)
 * One "name value..." line each, for contrib/bench/run.sh.  Every copy's
 * data is checked once per size.
 *
 *   habana_blocks [SECONDS_PER_FIGURE]      default 0.3
 *   habana_blocks stream h2d|d2h SIZE SECONDS
 *       one direction only: "stream DIR SIZE MBps"; contrib/bench/run.sh
 *       runs one of each at once, as the two sides of a staged transfer
 *       copy at once (each on its core, sharing the memory)
 */
#include <ucp/api/ucp.h>
#include <uct/api/uct.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLOCKS_MAX_SIZE (64ul << 20)
#define BLOCKS_POOL_MAX 128

typedef struct {
    uct_component_h        component;
    uct_md_h               md;
    ucs_async_context_t    *async;
    uct_worker_h           worker;
    uct_iface_h            iface;
    uct_ep_h               ep;
    uct_allocated_memory_t dev;
    char                   *host;    /* the pool, then a verify buffer */
    uct_mem_h              memh[2];  /* of each half */
} blocks_uct_t;

static double blocks_seconds = 0.3;

static double blocks_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void blocks_check(ucs_status_t status, const char *what)
{
    if (status != UCS_OK) {
        fprintf(stderr, "habana_blocks: %s: %s\n", what,
                ucs_status_string(status));
        exit(1);
    }
}

static uct_component_h blocks_find_component(void)
{
    uct_component_attr_t attr = {.field_mask = UCT_COMPONENT_ATTR_FIELD_NAME};
    uct_component_h *components, found = NULL;
    unsigned i, count;

    blocks_check(uct_query_components(&components, &count),
                 "uct_query_components");
    for (i = 0; (i < count) && (found == NULL); ++i) {
        if ((uct_component_query(components[i], &attr) == UCS_OK) &&
            !strcmp(attr.name, "habana")) {
            found = components[i];
        }
    }
    uct_release_component_list(components);
    if (found == NULL) {
        fprintf(stderr, "habana_blocks: no habana component (plugin not "
                "on UCX_PLUGIN_PATH?)\n");
        exit(1);
    }
    return found;
}

static void blocks_open_iface(blocks_uct_t *b)
{
    uct_iface_params_t params = {
        .field_mask           = UCT_IFACE_PARAM_FIELD_OPEN_MODE |
                                UCT_IFACE_PARAM_FIELD_DEVICE,
        .open_mode            = UCT_IFACE_OPEN_MODE_DEVICE,
        .mode.device.tl_name  = "habana",
        .mode.device.dev_name = "habana0"
    };
    uct_ep_params_t ep_params = {
        .field_mask = UCT_EP_PARAM_FIELD_IFACE |
                      UCT_EP_PARAM_FIELD_DEV_ADDR |
                      UCT_EP_PARAM_FIELD_IFACE_ADDR
    };
    uct_iface_config_t *config;
    uct_iface_attr_t attr;
    char dev_addr[64], iface_addr[64];

    blocks_check(uct_md_iface_config_read(b->md, "habana", NULL, NULL,
                                          &config), "iface config");
    blocks_check(uct_iface_open(b->md, b->worker, &params, config, &b->iface),
                 "uct_iface_open(habana0)");
    uct_config_release(config);
    uct_iface_progress_enable(b->iface, UCT_PROGRESS_SEND | UCT_PROGRESS_RECV);

    blocks_check(uct_iface_query(b->iface, &attr), "uct_iface_query");
    if ((attr.device_addr_len > sizeof(dev_addr)) ||
        (attr.iface_addr_len > sizeof(iface_addr))) {
        fprintf(stderr, "habana_blocks: addresses too long\n");
        exit(1);
    }
    blocks_check(uct_iface_get_device_address(b->iface,
                                              (uct_device_addr_t*)dev_addr),
                 "device address");
    blocks_check(uct_iface_get_address(b->iface,
                                       (uct_iface_addr_t*)iface_addr),
                 "iface address");
    ep_params.iface      = b->iface;
    ep_params.dev_addr   = (const uct_device_addr_t*)dev_addr;
    ep_params.iface_addr = (const uct_iface_addr_t*)iface_addr;
    blocks_check(uct_ep_create(&ep_params, &b->ep), "uct_ep_create");
}

static void blocks_uct_open(blocks_uct_t *b)
{
    uct_alloc_method_t method     = UCT_ALLOC_METHOD_MD;
    uct_mem_alloc_params_t params = {
        .field_mask = UCT_MEM_ALLOC_PARAM_FIELD_FLAGS |
                      UCT_MEM_ALLOC_PARAM_FIELD_MEM_TYPE |
                      UCT_MEM_ALLOC_PARAM_FIELD_MDS |
                      UCT_MEM_ALLOC_PARAM_FIELD_NAME,
        .flags      = UCT_MD_MEM_ACCESS_ALL,
        .mem_type   = UCS_MEMORY_TYPE_GAUDI,
        .mds.count  = 1,
        .name       = "habana_blocks"
    };
    uct_md_config_t *config;

    b->component = blocks_find_component();
    blocks_check(uct_md_config_read(b->component, NULL, NULL, &config),
                 "md config");
    blocks_check(uct_md_open(b->component, "habana", config, &b->md),
                 "uct_md_open(habana)");
    uct_config_release(config);
    blocks_check(ucs_async_context_create(UCS_ASYNC_MODE_THREAD_SPINLOCK,
                                          &b->async), "async context");
    blocks_check(uct_worker_create(b->async, UCS_THREAD_MODE_SINGLE,
                                   &b->worker), "uct_worker_create");
    blocks_open_iface(b);

    params.mds.mds = &b->md;
    blocks_check(uct_mem_alloc(BLOCKS_MAX_SIZE, &method, 1, &params, &b->dev),
                 "device memory");
    b->host = malloc(2 * BLOCKS_MAX_SIZE);
    if (b->host == NULL) {
        fprintf(stderr, "habana_blocks: no host memory\n");
        exit(1);
    }
    memset(b->host, 0x5a, 2 * BLOCKS_MAX_SIZE);
    blocks_check(uct_md_mem_reg(b->md, b->host, BLOCKS_MAX_SIZE,
                                UCT_MD_MEM_ACCESS_ALL, &b->memh[0]),
                 "registering the host pool");
    blocks_check(uct_md_mem_reg(b->md, b->host + BLOCKS_MAX_SIZE,
                                BLOCKS_MAX_SIZE, UCT_MD_MEM_ACCESS_ALL,
                                &b->memh[1]), "registering the host pool");
}

static void blocks_uct_close(blocks_uct_t *b)
{
    uct_md_mem_dereg(b->md, b->memh[0]);
    uct_md_mem_dereg(b->md, b->memh[1]);
    free(b->host);
    uct_mem_free(&b->dev);
    uct_ep_destroy(b->ep);
    uct_iface_close(b->iface);
    uct_worker_destroy(b->worker);
    ucs_async_context_destroy(b->async);
    uct_md_close(b->md);
}

typedef struct {
    uct_completion_t uct;
    ucs_status_t     status;
} blocks_comp_t;

static void blocks_comp_done(uct_completion_t *self)
{
    blocks_comp_t *comp = (blocks_comp_t*)self;

    comp->status = self->status;
}

/* One zcopy, waited for: @put H2D (host -> device), else D2H */
static void blocks_zcopy(blocks_uct_t *b, int put, char *host, size_t size)
{
    blocks_comp_t comp = {.uct = {.func = blocks_comp_done, .count = 1},
                          .status = UCS_INPROGRESS};
    uct_iov_t iov      = {.buffer = host, .length = size, .count = 1,
                          .memh   = b->memh[host >= b->host + BLOCKS_MAX_SIZE]};
    uint64_t dev       = (uintptr_t)b->dev.address;
    ucs_status_t status;

    do {
        status = put ? uct_ep_put_zcopy(b->ep, &iov, 1, dev, UCT_INVALID_RKEY,
                                        &comp.uct) :
                       uct_ep_get_zcopy(b->ep, &iov, 1, dev, UCT_INVALID_RKEY,
                                        &comp.uct);
        if (status == UCS_ERR_NO_RESOURCE) {
            uct_worker_progress(b->worker);
        }
    } while (status == UCS_ERR_NO_RESOURCE);

    if (status == UCS_INPROGRESS) {
        while (comp.status == UCS_INPROGRESS) {
            uct_worker_progress(b->worker);
        }
        status = comp.status;
    }
    blocks_check(status, put ? "put_zcopy" : "get_zcopy");
}

static void blocks_short(blocks_uct_t *b, int put, char *host, size_t size)
{
    uint64_t dev = (uintptr_t)b->dev.address;

    blocks_check(put ? uct_ep_put_short(b->ep, host, size, dev,
                                        UCT_INVALID_RKEY) :
                       uct_ep_get_short(b->ep, host, size, dev,
                                        UCT_INVALID_RKEY),
                 put ? "put_short" : "get_short");
}

typedef void (*blocks_copy_fn)(blocks_uct_t *b, int put, char *host,
                               size_t size);

/* Host buffers of @size that one copy after another goes through */
static unsigned blocks_pool_count(size_t size)
{
    size_t count = BLOCKS_MAX_SIZE / size;

    return (count < 2) ? 2 :
           (count > BLOCKS_POOL_MAX) ? BLOCKS_POOL_MAX : (unsigned)count;
}

/* Seconds per copy, over about blocks_seconds */
static double blocks_time(blocks_uct_t *b, blocks_copy_fn copy, int put,
                          size_t size)
{
    unsigned pool = blocks_pool_count(size), i;
    double start, elapsed;
    unsigned long n = 0;

    for (i = 0; i < pool; ++i) { /* warm-up: mappings */
        copy(b, put, b->host + (i * size), size);
    }
    start = blocks_now();
    do {
        copy(b, put, b->host + ((n % pool) * size), size);
        ++n;
        elapsed = blocks_now() - start;
    } while (elapsed < blocks_seconds);

    return elapsed / n;
}

/* Device content round trip: what went in comes back */
static void blocks_verify(blocks_uct_t *b, blocks_copy_fn copy, size_t size)
{
    char *in = b->host, *out = b->host + BLOCKS_MAX_SIZE;
    size_t i;

    for (i = 0; i < size; ++i) {
        in[i] = (char)(i * 13 + size);
    }
    memset(out, 0, size);
    copy(b, 1, in, size);
    copy(b, 0, out, size);
    if (memcmp(in, out, size)) {
        fprintf(stderr, "habana_blocks: %zu bytes came back different\n",
                size);
        exit(1);
    }
}

static void blocks_copies(void)
{
    static const size_t sizes[] = {4096, 16384, 65536, 262144, 1048576,
                                   4194304, 16777216, 67108864};
    blocks_uct_t b;
    unsigned i;

    blocks_uct_open(&b);
    blocks_verify(&b, blocks_short, 8);
    printf("copy8 %.3f %.3f\n", 1e6 * blocks_time(&b, blocks_short, 1, 8),
           1e6 * blocks_time(&b, blocks_short, 0, 8));
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
        blocks_verify(&b, blocks_zcopy, sizes[i]);
        printf("copybw %zu %.1f %.1f\n", sizes[i],
               sizes[i] / blocks_time(&b, blocks_zcopy, 1, sizes[i]) / 1e6,
               sizes[i] / blocks_time(&b, blocks_zcopy, 0, sizes[i]) / 1e6);
        fflush(stdout);
    }
    blocks_uct_close(&b);
}

/* ---- memory-type detection through UCP ---- */

typedef struct {
    ucp_context_h context;
    ucp_worker_h  worker;
    ucp_ep_h      ep;
    ucp_mem_h     memh;
    void          *dev;
    char          host[64];
} blocks_ucp_t;

static void blocks_ucp_open(blocks_ucp_t *u)
{
    ucp_params_t params = {.field_mask = UCP_PARAM_FIELD_FEATURES,
                           .features   = UCP_FEATURE_TAG};
    ucp_worker_params_t wparams = {0};
    ucp_mem_map_params_t mparams = {
        .field_mask  = UCP_MEM_MAP_PARAM_FIELD_LENGTH |
                       UCP_MEM_MAP_PARAM_FIELD_FLAGS |
                       UCP_MEM_MAP_PARAM_FIELD_MEMORY_TYPE,
        .length      = 65536,
        .flags       = UCP_MEM_MAP_ALLOCATE,
        .memory_type = UCS_MEMORY_TYPE_GAUDI
    };
    ucp_mem_attr_t mattr = {.field_mask = UCP_MEM_ATTR_FIELD_ADDRESS};
    ucp_ep_params_t ep_params = {.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS};
    ucp_address_t *address;
    size_t address_len;

    blocks_check(ucp_init(&params, NULL, &u->context), "ucp_init");
    blocks_check(ucp_worker_create(u->context, &wparams, &u->worker),
                 "ucp_worker_create");
    blocks_check(ucp_worker_get_address(u->worker, &address, &address_len),
                 "worker address");
    ep_params.address = address;
    blocks_check(ucp_ep_create(u->worker, &ep_params, &u->ep),
                 "ucp_ep_create (self)");
    ucp_worker_release_address(u->worker, address);
    blocks_check(ucp_mem_map(u->context, &mparams, &u->memh),
                 "ucp_mem_map(gaudi)");
    blocks_check(ucp_mem_query(u->memh, &mattr), "ucp_mem_query");
    u->dev = mattr.address;
}

static void blocks_ucp_wait(blocks_ucp_t *u, void *request)
{
    if (UCS_PTR_IS_ERR(request)) {
        blocks_check(UCS_PTR_STATUS(request), "tag operation");
    }
    if (request == NULL) {
        return;
    }
    while (ucp_request_check_status(request) == UCS_INPROGRESS) {
        ucp_worker_progress(u->worker);
    }
    blocks_check(ucp_request_check_status(request), "tag operation");
    ucp_request_free(request);
}

/* Nanoseconds per 0-byte receive + send of @buffer */
static double blocks_detect_time(blocks_ucp_t *u, void *buffer,
                                 int type_given)
{
    ucp_request_param_t param = {0};
    double start, elapsed;
    unsigned long n = 0;

    if (type_given) {
        param.op_attr_mask = UCP_OP_ATTR_FIELD_MEMORY_TYPE;
        param.memory_type  = (buffer == u->dev) ? UCS_MEMORY_TYPE_GAUDI :
                                                  UCS_MEMORY_TYPE_HOST;
    }

    start = blocks_now();
    do {
        void *recv = ucp_tag_recv_nbx(u->worker, buffer, 0, 1, (ucp_tag_t)-1,
                                      &param);
        blocks_ucp_wait(u, ucp_tag_send_nbx(u->ep, buffer, 0, 1, &param));
        blocks_ucp_wait(u, recv);
        ++n;
        elapsed = blocks_now() - start;
    } while (elapsed < blocks_seconds);

    return 1e9 * elapsed / n;
}

static void blocks_ucp_close(blocks_ucp_t *u)
{
    ucp_request_param_t param = {0};
    void *request;

    ucp_mem_unmap(u->context, u->memh);
    request = ucp_ep_close_nbx(u->ep, &param);
    if ((request != NULL) && !UCS_PTR_IS_ERR(request)) {
        blocks_ucp_wait(u, request);
    }
    ucp_worker_destroy(u->worker);
    ucp_cleanup(u->context);
}

/* Best of 5 rounds of the four cases, interleaved so that load on the
 * machine slows all of them alike */
static void blocks_detection(void)
{
    double best[4] = {1e30, 1e30, 1e30, 1e30}, t;
    blocks_ucp_t u;
    int round, i;

    blocks_ucp_open(&u);
    blocks_detect_time(&u, u.host, 0); /* warm-up: protocols selected */
    blocks_detect_time(&u, u.dev, 0);
    for (round = 0; round < 5; ++round) {
        for (i = 0; i < 4; ++i) {
            t       = blocks_detect_time(&u, (i & 1) ? u.dev : u.host, i >> 1);
            best[i] = (t < best[i]) ? t : best[i];
        }
    }
    printf("detect %.1f %.1f %.1f %.1f\n", best[0], best[1], best[3], best[2]);
    blocks_ucp_close(&u);
}

static int blocks_stream(int argc, char **argv)
{
    int put     = (argc > 2) && !strcmp(argv[2], "h2d");
    size_t size = (argc > 3) ? strtoul(argv[3], NULL, 0) : 0;
    blocks_uct_t b;

    if ((argc != 5) || (!put && strcmp(argv[2], "d2h")) || (size == 0) ||
        (size > BLOCKS_MAX_SIZE)) {
        fprintf(stderr, "usage: habana_blocks stream h2d|d2h SIZE SECONDS "
                "(SIZE <= %lu)\n", BLOCKS_MAX_SIZE);
        return 2;
    }

    blocks_seconds = atof(argv[4]);
    blocks_uct_open(&b);
    printf("stream %s %zu %.1f\n", argv[2], size,
           size / blocks_time(&b, blocks_zcopy, put, size) / 1e6);
    blocks_uct_close(&b);
    return 0;
}

int main(int argc, char **argv)
{
    if ((argc > 1) && !strcmp(argv[1], "stream")) {
        return blocks_stream(argc, argv);
    }
    if (argc > 1) {
        blocks_seconds = atof(argv[1]);
    }

    setvbuf(stdout, NULL, _IOLBF, 0);
    blocks_copies();
    blocks_detection();
    return 0;
}
