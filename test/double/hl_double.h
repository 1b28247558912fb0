/*
 * hl_double: a user-space test double of the habanalabs kernel driver.
 *
 * Built as an LD_PRELOAD library (libhl_double.so) it emulates device nodes,
 * sysfs entries and the INFO / MEMORY / hlsim DMA-copy ioctls, so product
 * code that uses plain libc calls sees a Habana device without hardware.
 * See test/double/README.md for the environment variables and the exact
 * behaviour.
 *
 * This header declares the helpers test programs may call.  They are only
 * available when the library is loaded (LD_PRELOAD or linked); tests that
 * must also run without it can look them up with dlsym(RTLD_DEFAULT, ...).
 */
#ifndef HL_DOUBLE_H_
#define HL_DOUBLE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Run @fn(@arg) once, after the next memory ioctl of op @op (HL_MEM_OP_*)
 * that succeeds, before its caller sees the result: what another thread
 * could do between the driver's work and the caller's next step.
 */
void hl_double_after_memory_op(uint32_t op, void (*fn)(void *arg), void *arg);

/* Number of successful HL_MEM_OP_EXPORT_DMABUF_FD calls since load/reset */
unsigned long hl_double_export_count(void);

/*
 * Number of exported dma-bufs still referenced by a descriptor of this
 * process.  Releases (and unpins) exports whose descriptors are all closed.
 */
unsigned long hl_double_live_exports(void);

/* Zero the counters (export count).  Live objects are not touched. */
void hl_double_reset_counters(void);

/*
 * A descriptor of this process open on the compute node of device @dev
 * (the one the double handed out if it is still open, otherwise a dup of
 * it), or -1 (errno ENOENT) when the process has no compute open.
 */
int hl_double_compute_fd(int dev);

/*
 * Device memory for tests, without knowing the uapi.  hl_double_alloc()
 * reuses the process's compute descriptor of @dev or opens the compute
 * node through the intercepted open() (that descriptor then stays open,
 * like a runtime's), allocates @size bytes (rounded up to the page size)
 * and maps them.  Returns the device virtual address, or NULL with errno.
 * The address is NOT dereferenceable by the CPU.
 */
void *hl_double_alloc(int dev, size_t size);

/* Unmap and free memory from hl_double_alloc(); 0 or -1 with errno */
int hl_double_free(void *dev_va);

/* Synchronous copies through the hlsim DMA-copy ioctl; 0 or -1 with errno */
int hl_double_memcpy_h2d(void *dev_dst, const void *host_src, size_t size);
int hl_double_memcpy_d2h(void *host_dst, const void *dev_src, size_t size);
int hl_double_memcpy_d2d(void *dev_dst, const void *dev_src, size_t size);

/*
 * What an exported dma-buf descriptor describes: the device VA it starts
 * at (accel: addr + offset; misc: the allocation's first mapping, or 0
 * when unmapped) and its size.  0, or -1 with errno EBADF if @fd is not a
 * live export of the double.
 */
int hl_double_dmabuf_info(int fd, uint64_t *dev_va, uint64_t *size);

/*
 * Change a fault-injection knob at run time; @name is one of
 * "HL_DOUBLE_BUSY", "HL_DOUBLE_NO_EXPORT", "HL_DOUBLE_EXPORT_ERRNO",
 * "HL_DOUBLE_UNMAP_ERRNO", "HL_DOUBLE_SHARED_VA", "HL_DOUBLE_COPY_EAGAIN"
 * (the next @value DMA copies fail with EAGAIN; run time only), and the
 * command-submission faults "HL_DOUBLE_CS_DISABLE", "HL_DOUBLE_CS_HANG",
 * "HL_DOUBLE_CS_ABORT" (the next @value CSs) and "HL_DOUBLE_CS_TIMEOUT_MS";
 * @value is the numeric value.  0, or -1 with errno EINVAL.
 */
int hl_double_set(const char *name, long value);

#ifdef __cplusplus
}
#endif

#endif /* HL_DOUBLE_H_ */
