/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * verbs_double: a TEST DOUBLE of RDMA devices for the host test suite,
 * where there is no RDMA hardware and no kernel module can be loaded.
 * Preloaded (LD_PRELOAD) next to hl_double, it replaces the few libibverbs
 * calls the habana memory domain's import probe makes.  The devices come
 * from VERBS_DOUBLE_NICS, read at every ibv_get_device_list():
 *
 *   VERBS_DOUBLE_NICS="nic0:import,nic1:eopnotsupp,nic2:down"
 *     import     ibv_reg_dmabuf_mr succeeds; the MR holds a reference to
 *                the dma-buf (a dup of its fd) until ibv_dereg_mr, as a
 *                NIC's import does
 *     eopnotsupp ibv_reg_dmabuf_mr fails with EOPNOTSUPP (rxe, siw, or a
 *                NIC without PCI peer-to-peer to the device)
 *     down       the port is not active, so UCX would not use the device
 *
 * Never preload it into a UCX that has the IB transport.
 */
#define _GNU_SOURCE
#include <infiniband/verbs.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VD_API __attribute__((visibility("default")))
#define VD_MAX_NICS 8

enum vd_mode { VD_IMPORT, VD_EOPNOTSUPP, VD_DOWN };

struct vd_device {
	struct ibv_device dev;	/* first: handed out as struct ibv_device */
	enum vd_mode mode;
};

struct vd_mr {
	struct ibv_mr mr;	/* first */
	int dmabuf_fd;		/* the "NIC's" reference */
};

static int vd_live_mrs;

static int vd_parse_mode(const char *mode, enum vd_mode *out)
{
	if (!strcmp(mode, "import"))
		*out = VD_IMPORT;
	else if (!strcmp(mode, "eopnotsupp"))
		*out = VD_EOPNOTSUPP;
	else if (!strcmp(mode, "down"))
		*out = VD_DOWN;
	else
		return -1;
	return 0;
}

VD_API struct ibv_device **ibv_get_device_list(int *num_devices)
{
	const char *env = getenv("VERBS_DOUBLE_NICS");
	struct ibv_device **list;
	struct vd_device *vd;
	char *copy, *entry, *save, *colon;
	int n = 0;

	list = calloc(VD_MAX_NICS + 1, sizeof(*list));
	copy = strdup(env ? env : "");
	if (list == NULL || copy == NULL) {
		free(list);
		free(copy);
		errno = ENOMEM;
		return NULL;
	}
	for (entry = strtok_r(copy, ",", &save); entry && n < VD_MAX_NICS;
	     entry = strtok_r(NULL, ",", &save)) {
		colon = strchr(entry, ':');
		vd = calloc(1, sizeof(*vd));
		if (vd == NULL || colon == NULL ||
		    vd_parse_mode(colon + 1, &vd->mode) != 0) {
			fprintf(stderr, "verbs_double: bad entry '%s'\n", entry);
			free(vd);
			continue;
		}
		*colon = '\0';
		snprintf(vd->dev.name, sizeof(vd->dev.name), "%s", entry);
		vd->dev.node_type = IBV_NODE_CA;
		vd->dev.transport_type = IBV_TRANSPORT_IB;
		list[n++] = &vd->dev;
	}
	free(copy);
	if (num_devices != NULL)
		*num_devices = n;
	return list;
}

VD_API void ibv_free_device_list(struct ibv_device **list)
{
	struct ibv_device **dev;

	for (dev = list; dev != NULL && *dev != NULL; ++dev)
		free(*dev);
	free(list);
}

VD_API const char *ibv_get_device_name(struct ibv_device *device)
{
	return device->name;
}

VD_API struct ibv_context *ibv_open_device(struct ibv_device *device)
{
	struct ibv_context *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	ctx->device = device;	/* abi_compat NULL: no extended context */
	return ctx;
}

VD_API int ibv_close_device(struct ibv_context *context)
{
	free(context);
	return 0;
}

VD_API int ibv_query_device(struct ibv_context *context,
			    struct ibv_device_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->phys_port_cnt = 1;
	return 0;
}

/* What the inline ibv_query_port() calls for a non-extended context */
#undef ibv_query_port
VD_API int ibv_query_port(struct ibv_context *context, uint8_t port_num,
			  struct _compat_ibv_port_attr *port_attr)
{
	struct vd_device *vd = (struct vd_device *)context->device;
	struct ibv_port_attr *attr = (struct ibv_port_attr *)port_attr;

	if (port_num != 1)
		return EINVAL;
	attr->state = (vd->mode == VD_DOWN) ? IBV_PORT_DOWN : IBV_PORT_ACTIVE;
	return 0;
}

VD_API struct ibv_pd *ibv_alloc_pd(struct ibv_context *context)
{
	struct ibv_pd *pd = calloc(1, sizeof(*pd));

	if (pd == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	pd->context = context;
	return pd;
}

VD_API int ibv_dealloc_pd(struct ibv_pd *pd)
{
	free(pd);
	return 0;
}

VD_API struct ibv_mr *ibv_reg_dmabuf_mr(struct ibv_pd *pd, uint64_t offset,
					size_t length, uint64_t iova, int fd,
					int access)
{
	struct vd_device *vd = (struct vd_device *)pd->context->device;
	struct vd_mr *mr;
	struct stat st;

	if (vd->mode != VD_IMPORT) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	if (fd < 0 || fstat(fd, &st) != 0) {
		errno = EBADF;
		return NULL;
	}
	if ((uint64_t)st.st_size < offset || st.st_size - offset < length) {
		errno = EINVAL;
		return NULL;
	}
	mr = calloc(1, sizeof(*mr));
	if (mr == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	mr->dmabuf_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (mr->dmabuf_fd < 0) {
		free(mr);
		return NULL;
	}
	mr->mr.context = pd->context;
	mr->mr.pd = pd;
	mr->mr.addr = (void *)(uintptr_t)iova;
	mr->mr.length = length;
	__atomic_fetch_add(&vd_live_mrs, 1, __ATOMIC_RELAXED);
	return &mr->mr;
}

VD_API int ibv_dereg_mr(struct ibv_mr *ibv_mr)
{
	struct vd_mr *mr = (struct vd_mr *)ibv_mr;

	close(mr->dmabuf_fd);
	free(mr);
	__atomic_fetch_sub(&vd_live_mrs, 1, __ATOMIC_RELAXED);
	return 0;
}

/* For the tests: MRs registered and not yet deregistered */
VD_API int verbs_double_live_mrs(void)
{
	return __atomic_load_n(&vd_live_mrs, __ATOMIC_RELAXED);
}
