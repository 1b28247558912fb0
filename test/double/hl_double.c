/*
 * hl_double: libc interposition layer.
 *
 * Configuration, the emulated path namespace (device nodes and sysfs) and
 * the libc entry points product code reaches the "driver" through.  The
 * device model behind the nodes is in hl_double_dev.c.
 *
 * Every wrapper forwards to the next definition (dlsym(RTLD_NEXT)) for
 * anything that is not ours.  While the library initialises itself, calls
 * made by the dynamic linker on this thread go straight to the kernel
 * (raw syscalls), so initialisation cannot recurse into itself.
 */
#define _GNU_SOURCE
#include "hl_double_priv.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

_Static_assert(sizeof(struct stat) == sizeof(struct stat64),
	       "the 64-bit stat variants share struct stat's layout (LP64)");

struct hld_config hld_cfg;

/* The next definitions of what we interpose; NULL until resolved */
static struct {
	int (*openat)(int, const char *, int, ...);
	int (*fstatat)(int, const char *, struct stat *, int);
	int (*fstat)(int, struct stat *);
	int (*statx)(int, const char *, int, unsigned, struct statx *);
	int (*faccessat)(int, const char *, int, int);
	ssize_t (*readlinkat)(int, const char *, char *, size_t);
	int (*close)(int);
	int (*ioctl)(int, unsigned long, ...);
	FILE *(*fopen)(const char *, const char *);
} next;

static pthread_once_t hld_once = PTHREAD_ONCE_INIT;
static atomic_int hld_ready;
static __thread int hld_in_init __attribute__((tls_model("initial-exec")));

/* ---- configuration ---------------------------------------------------- */

static long env_long(const char *name, long def, long min, long max)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return def;
	errno = 0;
	v = strtol(s, &end, 0);
	if (errno != 0 || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "hl_double: %s=%s is not in [%ld, %ld]\n",
			name, s, min, max);
		abort();
	}
	return v;
}

static enum hld_abi env_abi(void)
{
	const char *s = getenv("HL_DOUBLE_ABI");

	if (s == NULL || *s == '\0' || strcmp(s, "accel") == 0)
		return HLD_ABI_ACCEL;
	if (strcmp(s, "misc") == 0)
		return HLD_ABI_MISC;
	fprintf(stderr, "hl_double: HL_DOUBLE_ABI=%s: use accel or misc\n", s);
	abort();
}

static void read_config(void)
{
	long page = env_long("HL_DOUBLE_PAGE_SIZE", 64 * 1024, 4096, 1L << 30);
	long hbm_mb = env_long("HL_DOUBLE_HBM_MB", 256, 1, 1L << 20);

	if (page & (page - 1)) {
		fprintf(stderr, "hl_double: HL_DOUBLE_PAGE_SIZE=%ld is not a "
			"power of two\n", page);
		abort();
	}
	hld_cfg.ndev = (unsigned)env_long("HL_DOUBLE_DEVICES", 1, 0,
					  HLD_MAX_DEVICES);
	hld_cfg.abi = env_abi();
	hld_cfg.page_size = (uint64_t)page;
	hld_cfg.hbm_size = ((uint64_t)hbm_mb << 20) & ~(uint64_t)(page - 1);
	hld_cfg.numa = (int)env_long("HL_DOUBLE_NUMA", 0, -1, 1023);
	hld_cfg.busy = (int)env_long("HL_DOUBLE_BUSY", 0, 0, 1);
	hld_cfg.no_export = (int)env_long("HL_DOUBLE_NO_EXPORT", 0, 0, 1);
	hld_cfg.export_errno = (int)env_long("HL_DOUBLE_EXPORT_ERRNO", 0, 0,
					     4095);
	hld_cfg.unmap_errno = (int)env_long("HL_DOUBLE_UNMAP_ERRNO", 0, 0,
					    4095);
	hld_cfg.shared_va = (int)env_long("HL_DOUBLE_SHARED_VA", 1, 0, 1);
	hld_cfg.cs_disable = (int)env_long("HL_DOUBLE_CS_DISABLE", 0, 0,
					   1L << 30);
	hld_cfg.cs_hang = (int)env_long("HL_DOUBLE_CS_HANG", 0, 0, 1L << 30);
	hld_cfg.cs_abort = (int)env_long("HL_DOUBLE_CS_ABORT", 0, 0, 1L << 30);
	hld_cfg.cs_timeout_ms = (int)env_long("HL_DOUBLE_CS_TIMEOUT_MS", 30000,
					      1, 1L << 30);
	hld_cfg.loaded = 1;
}

static void resolve_next(void)
{
	*(void **)&next.openat = dlsym(RTLD_NEXT, "openat");
	*(void **)&next.fstatat = dlsym(RTLD_NEXT, "fstatat");
	*(void **)&next.fstat = dlsym(RTLD_NEXT, "fstat");
	*(void **)&next.statx = dlsym(RTLD_NEXT, "statx");
	*(void **)&next.faccessat = dlsym(RTLD_NEXT, "faccessat");
	*(void **)&next.readlinkat = dlsym(RTLD_NEXT, "readlinkat");
	*(void **)&next.close = dlsym(RTLD_NEXT, "close");
	*(void **)&next.ioctl = dlsym(RTLD_NEXT, "ioctl");
	*(void **)&next.fopen = dlsym(RTLD_NEXT, "fopen");
}

static void init_once(void)
{
	resolve_next();
	read_config();
}

void hld_init(void)
{
	if (atomic_load_explicit(&hld_ready, memory_order_acquire) ||
	    hld_in_init)
		return;
	hld_in_init = 1;
	pthread_once(&hld_once, init_once);
	hld_in_init = 0;
	atomic_store_explicit(&hld_ready, 1, memory_order_release);
}

__attribute__((constructor)) static void hld_ctor(void)
{
	hld_init();
}

/* ---- kernel fallbacks (used before resolution and internally) --------- */

int hld_sys_fstat(int fd, struct stat *st)
{
	return (int)syscall(SYS_fstat, fd, st);
}

int hld_sys_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

static int call_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	if (next.openat != NULL)
		return next.openat(dirfd, path, flags, mode);
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

static int call_fstatat(int dirfd, const char *path, struct stat *st,
			int flags)
{
	if (next.fstatat != NULL)
		return next.fstatat(dirfd, path, st, flags);
	return (int)syscall(SYS_newfstatat, dirfd, path, st, flags);
}

static int call_fstat(int fd, struct stat *st)
{
	return next.fstat != NULL ? next.fstat(fd, st) : hld_sys_fstat(fd, st);
}

static int call_statx(int dirfd, const char *path, int flags, unsigned mask,
		      struct statx *stx)
{
	if (next.statx != NULL)
		return next.statx(dirfd, path, flags, mask, stx);
	return (int)syscall(SYS_statx, dirfd, path, flags, mask, stx);
}

static int call_faccessat(int dirfd, const char *path, int mode, int flags)
{
	if (next.faccessat != NULL)
		return next.faccessat(dirfd, path, mode, flags);
	return (int)syscall(SYS_faccessat, dirfd, path, mode);
}

static ssize_t call_readlinkat(int dirfd, const char *path, char *buf,
			       size_t len)
{
	if (next.readlinkat != NULL)
		return next.readlinkat(dirfd, path, buf, len);
	return syscall(SYS_readlinkat, dirfd, path, buf, len);
}

static int call_close(int fd)
{
	return next.close != NULL ? next.close(fd) : hld_sys_close(fd);
}

static int call_ioctl(int fd, unsigned long request, void *arg)
{
	if (next.ioctl != NULL)
		return next.ioctl(fd, request, arg);
	return (int)syscall(SYS_ioctl, fd, request, arg);
}

/* ---- the emulated namespace ------------------------------------------- */

struct hld_names {
	const char *dev_dir;		/* NULL: none of its own */
	const char *compute;		/* + index */
	const char *control;		/* + index */
	const char *class_dir;
	const char *class_entry;	/* + index [+ /device[/...]] */
};

static const struct hld_names hld_names[] = {
	[HLD_ABI_ACCEL] = { "/dev/accel", "/dev/accel/accel",
			    "/dev/accel/accel_controlD", "/sys/class/accel",
			    "/sys/class/accel/accel" },
	[HLD_ABI_MISC] = { NULL, "/dev/hl", "/dev/hl_controlD",
			   "/sys/class/habanalabs", "/sys/class/habanalabs/hl" },
};

/* sysfs attributes of the PCI device (content: attr_content()) */
static const char *const hld_attrs[] = { "numa_node", "vendor", "device" };

static const char *skip_prefix(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* A decimal index without leading zeros; returns the rest or NULL */
static const char *parse_index(const char *s, unsigned *idx)
{
	unsigned v = 0;
	const char *p = s;

	if (s == NULL || *s < '0' || *s > '9' || (s[0] == '0' &&
	    s[1] >= '0' && s[1] <= '9'))
		return NULL;
	for (; *p >= '0' && *p <= '9' && p - s < 4; p++)
		v = v * 10 + (unsigned)(*p - '0');
	*idx = v;
	return p;
}

static int attr_index(const char *name)
{
	for (size_t i = 0; i < sizeof(hld_attrs) / sizeof(hld_attrs[0]); i++)
		if (strcmp(name, hld_attrs[i]) == 0)
			return (int)i;
	return -1;
}

static enum hld_node classify_entry(const char *rest, int *attr)
{
	const char *sub;

	if (*rest == '\0')
		return HLD_NODE_DIR;
	sub = skip_prefix(rest, "/device");
	if (sub == NULL)
		return HLD_NODE_ENOENT;
	if (*sub == '\0')
		return HLD_NODE_DEVICE_LINK;
	if (strcmp(sub, "/driver") == 0)
		return HLD_NODE_DRIVER_LINK;
	if (*sub == '/' && (*attr = attr_index(sub + 1)) >= 0)
		return HLD_NODE_ATTR;
	return HLD_NODE_ENOENT;
}

static int is_top_dir(const struct hld_names *n, const char *path)
{
	return (n->dev_dir != NULL && strcmp(path, n->dev_dir) == 0) ||
	       strcmp(path, n->class_dir) == 0;
}

static enum hld_node classify_abi(const struct hld_names *n, const char *path,
				  unsigned *dev, int *attr)
{
	const char *rest;

	rest = parse_index(skip_prefix(path, n->control), dev);
	if (rest != NULL)
		return *rest == '\0' ? HLD_NODE_CONTROL : HLD_NODE_ENOENT;
	rest = parse_index(skip_prefix(path, n->compute), dev);
	if (rest != NULL)
		return *rest == '\0' ? HLD_NODE_COMPUTE : HLD_NODE_ENOENT;
	rest = parse_index(skip_prefix(path, n->class_entry), dev);
	if (rest != NULL)
		return classify_entry(rest, attr);
	return HLD_NODE_NONE;
}

/*
 * Classify an absolute path.  Both generations' names belong to the
 * double: the other generation's nodes and indexes >= HL_DOUBLE_DEVICES
 * are absent (ENOENT), so a real device on the host never leaks into a
 * test.  Only the other generation's top directories (/dev/accel,
 * /sys/class/...) are passed through.  Paths are compared literally:
 * relative paths, "//" or "/./" are not recognised.
 */
static enum hld_node classify(const char *path, unsigned *dev, int *attr)
{
	hld_init();
	if (!hld_cfg.loaded || path == NULL || path[0] != '/')
		return HLD_NODE_NONE;
	for (int abi = HLD_ABI_ACCEL; abi <= HLD_ABI_MISC; abi++) {
		const struct hld_names *n = &hld_names[abi];
		int ours = abi == (int)hld_cfg.abi;
		enum hld_node node;

		if (is_top_dir(n, path))
			return ours ? HLD_NODE_DIR : HLD_NODE_NONE;
		*dev = 0;
		node = classify_abi(n, path, dev, attr);
		if (node == HLD_NODE_NONE)
			continue;
		return ours && *dev < hld_cfg.ndev ? node : HLD_NODE_ENOENT;
	}
	return HLD_NODE_NONE;
}

dev_t hld_node_rdev(enum hld_node node, unsigned dev)
{
	int control = node == HLD_NODE_CONTROL;

	if (hld_cfg.abi == HLD_ABI_ACCEL)
		return makedev(HLD_ACCEL_MAJOR,
			       dev + (control ? HLD_ACCEL_CTL_MINOR : 0));
	return makedev(HLD_MISC_MAJOR, 2 * dev + (unsigned)control);
}

int hld_node_path(enum hld_node node, unsigned dev, char *buf, size_t len)
{
	const struct hld_names *n = &hld_names[hld_cfg.abi];
	const char *base = node == HLD_NODE_CONTROL ? n->control : n->compute;

	return snprintf(buf, len, "%s%u", base, dev);
}

/* ---- emulated files ---------------------------------------------------- */

static int attr_content(int attr, unsigned dev, char *buf, size_t len)
{
	(void)dev;
	switch (attr) {
	case 0:
		return snprintf(buf, len, "%d\n", hld_cfg.numa);
	case 1:
		return snprintf(buf, len, "0x%04x\n", HLD_PCI_VENDOR);
	default:
		return snprintf(buf, len, "0x%04x\n", HLD_DEVICE_ID);
	}
}

static int open_attr(int attr, unsigned dev, int flags)
{
	char text[32];
	int len = attr_content(attr, dev, text, sizeof(text));
	int fd;

	if ((flags & O_ACCMODE) != O_RDONLY) {
		errno = EACCES;
		return -1;
	}
	fd = memfd_create("hl_double_sysfs",
			  (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
	if (fd < 0)
		return -1;
	if (write(fd, text, (size_t)len) != len ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		hld_sys_close(fd);
		errno = EIO;
		return -1;
	}
	return fd;
}

static int open_node(enum hld_node node, unsigned dev, int attr, int flags)
{
	switch (node) {
	case HLD_NODE_COMPUTE:
	case HLD_NODE_CONTROL:
		return hld_dev_open(node, dev, flags);
	case HLD_NODE_ATTR:
		return open_attr(attr, dev, flags);
	case HLD_NODE_ENOENT:
		errno = ENOENT;
		return -1;
	default:	/* directories and links: not needed, not emulated */
		errno = EACCES;
		return -1;
	}
}

static int fake_stat(enum hld_node node, unsigned dev, int follow,
		     struct stat *st)
{
	if (node == HLD_NODE_ENOENT) {
		errno = ENOENT;
		return -1;
	}
	memset(st, 0, sizeof(*st));
	st->st_dev = makedev(0, 0x48);
	st->st_ino = 0x4844000 + (ino_t)node * HLD_MAX_DEVICES + dev;
	st->st_nlink = 1;
	st->st_blksize = 4096;
	switch (node) {
	case HLD_NODE_COMPUTE:
	case HLD_NODE_CONTROL:
		st->st_mode = S_IFCHR | 0666;
		st->st_rdev = hld_node_rdev(node, dev);
		break;
	case HLD_NODE_ATTR:
		st->st_mode = S_IFREG | 0444;
		st->st_size = 4096;
		break;
	case HLD_NODE_DEVICE_LINK:
	case HLD_NODE_DRIVER_LINK:
		st->st_mode = follow ? S_IFDIR | 0755 : S_IFLNK | 0777;
		break;
	default:
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		break;
	}
	return 0;
}

static ssize_t copy_link(const char *target, char *buf, size_t len)
{
	size_t n = strlen(target);

	if (n > len)
		n = len;
	memcpy(buf, target, n);
	return (ssize_t)n;
}

static ssize_t fake_readlink(enum hld_node node, unsigned dev, char *buf,
			     size_t len)
{
	char target[64];

	switch (node) {
	case HLD_NODE_DEVICE_LINK:
		snprintf(target, sizeof(target), "../../../0000:%02x:00.0",
			 0x3a + dev);
		return copy_link(target, buf, len);
	case HLD_NODE_DRIVER_LINK:
		return copy_link("../../../../bus/pci/drivers/habanalabs",
				 buf, len);
	case HLD_NODE_ENOENT:
		errno = ENOENT;
		return -1;
	default:
		errno = EINVAL;
		return -1;
	}
}

/* "/proc/{self,thread-self,<our pid>}/fd/N" -> N, or -1 */
static int proc_fd_number(const char *path)
{
	const char *p = skip_prefix(path, "/proc/");
	char *end;
	long v;

	if (p == NULL)
		return -1;
	if (skip_prefix(p, "self/") != NULL)
		p += 5;
	else if (skip_prefix(p, "thread-self/") != NULL)
		p += 12;
	else if (strtol(p, &end, 10) == (long)getpid() && *end == '/')
		p = end + 1;
	else
		return -1;
	p = skip_prefix(p, "fd/");
	if (p == NULL || *p < '0' || *p > '9')
		return -1;
	errno = 0;
	v = strtol(p, &end, 10);
	return (errno == 0 && *end == '\0' && v <= INT_MAX) ? (int)v : -1;
}

/* readlink of a /proc fd link to one of our nodes names the node */
static ssize_t proc_fd_readlink(int fd, char *buf, size_t len)
{
	enum hld_node node;
	struct stat st;
	char target[64];
	unsigned dev;

	if (hld_sys_fstat(fd, &st) != 0)
		return -2;
	node = hld_dev_node_of(&st, &dev);
	if (node == HLD_NODE_NONE)
		return -2;
	hld_node_path(node, dev, target, sizeof(target));
	return copy_link(target, buf, len);
}

/* ---- open ------------------------------------------------------------- */

static int do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	unsigned dev;
	int attr = -1;
	enum hld_node node = classify(path, &dev, &attr);

	if (node == HLD_NODE_NONE)
		return call_openat(dirfd, path, flags, mode);
	return open_node(node, dev, attr, flags);
}

static mode_t va_mode(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

#define HLD_OPEN(name)							\
HLD_API int name(const char *path, int flags, ...)			\
{									\
	va_list ap;							\
	mode_t mode;							\
									\
	va_start(ap, flags);						\
	mode = va_mode(flags, ap);					\
	va_end(ap);							\
	return do_openat(AT_FDCWD, path, flags, mode);			\
}

#define HLD_OPENAT(name)						\
HLD_API int name(int dirfd, const char *path, int flags, ...)		\
{									\
	va_list ap;							\
	mode_t mode;							\
									\
	va_start(ap, flags);						\
	mode = va_mode(flags, ap);					\
	va_end(ap);							\
	return do_openat(dirfd, path, flags, mode);			\
}

HLD_OPEN(open)
HLD_OPEN(open64)
HLD_OPENAT(openat)
HLD_OPENAT(openat64)

HLD_API int __open_2(const char *path, int flags)
{
	return do_openat(AT_FDCWD, path, flags, 0);
}

HLD_API int __open64_2(const char *path, int flags)
{
	return do_openat(AT_FDCWD, path, flags, 0);
}

HLD_API int __openat_2(int dirfd, const char *path, int flags)
{
	return do_openat(dirfd, path, flags, 0);
}

HLD_API int __openat64_2(int dirfd, const char *path, int flags)
{
	return do_openat(dirfd, path, flags, 0);
}

/*
 * glibc's fopen() opens through an internal alias that no preload can
 * see, so it is interposed itself (for our paths only).
 */
static int fopen_flags(const char *mode)
{
	int flags = strchr(mode, '+') != NULL ? O_RDWR
		    : mode[0] == 'r' ? O_RDONLY : O_WRONLY;

	return flags | (strchr(mode, 'e') != NULL ? O_CLOEXEC : 0);
}

static FILE *do_fopen(const char *path, const char *mode)
{
	unsigned dev;
	int attr = -1, fd;
	enum hld_node node = classify(path, &dev, &attr);
	FILE *f;

	if (node == HLD_NODE_NONE && next.fopen != NULL)
		return next.fopen(path, mode);
	if (node == HLD_NODE_NONE)
		fd = call_openat(AT_FDCWD, path, fopen_flags(mode), 0666);
	else
		fd = open_node(node, dev, attr, fopen_flags(mode));
	if (fd < 0)
		return NULL;
	f = fdopen(fd, mode);
	if (f == NULL)
		hld_sys_close(fd);
	return f;
}

HLD_API FILE *fopen(const char *path, const char *mode)
{
	return do_fopen(path, mode);
}

HLD_API FILE *fopen64(const char *path, const char *mode)
{
	return do_fopen(path, mode);
}

/* ---- stat family -------------------------------------------------------- */

static int do_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	unsigned dev;
	int attr = -1;
	enum hld_node node = classify(path, &dev, &attr);
	int rc;

	if (node != HLD_NODE_NONE)
		return fake_stat(node, dev, !(flags & AT_SYMLINK_NOFOLLOW), st);
	rc = call_fstatat(dirfd, path, st, flags);
	if (rc == 0)
		hld_dev_patch_stat(st);
	return rc;
}

static int do_fstat(int fd, struct stat *st)
{
	int rc;

	hld_init();
	rc = call_fstat(fd, st);
	if (rc == 0)
		hld_dev_patch_stat(st);
	return rc;
}

HLD_API int stat(const char *path, struct stat *st)
{
	return do_fstatat(AT_FDCWD, path, st, 0);
}

HLD_API int stat64(const char *path, struct stat64 *st)
{
	return do_fstatat(AT_FDCWD, path, (struct stat *)st, 0);
}

HLD_API int lstat(const char *path, struct stat *st)
{
	return do_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

HLD_API int lstat64(const char *path, struct stat64 *st)
{
	return do_fstatat(AT_FDCWD, path, (struct stat *)st,
			  AT_SYMLINK_NOFOLLOW);
}

HLD_API int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	return do_fstatat(dirfd, path, st, flags);
}

HLD_API int fstatat64(int dirfd, const char *path, struct stat64 *st,
		      int flags)
{
	return do_fstatat(dirfd, path, (struct stat *)st, flags);
}

HLD_API int fstat(int fd, struct stat *st)
{
	return do_fstat(fd, st);
}

HLD_API int fstat64(int fd, struct stat64 *st)
{
	return do_fstat(fd, (struct stat *)st);
}

static void stat_to_statx(const struct stat *st, struct statx *stx)
{
	memset(stx, 0, sizeof(*stx));
	stx->stx_mask = STATX_BASIC_STATS;
	stx->stx_blksize = (uint32_t)st->st_blksize;
	stx->stx_nlink = (uint32_t)st->st_nlink;
	stx->stx_mode = (uint16_t)st->st_mode;
	stx->stx_ino = st->st_ino;
	stx->stx_size = (uint64_t)st->st_size;
	stx->stx_rdev_major = major(st->st_rdev);
	stx->stx_rdev_minor = minor(st->st_rdev);
	stx->stx_dev_major = major(st->st_dev);
	stx->stx_dev_minor = minor(st->st_dev);
}

static void patch_statx(struct statx *stx)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_dev = makedev(stx->stx_dev_major, stx->stx_dev_minor);
	st.st_ino = stx->stx_ino;
	st.st_mode = stx->stx_mode;
	st.st_nlink = stx->stx_nlink;
	if (!hld_dev_patch_stat(&st))
		return;
	stx->stx_mode = (uint16_t)st.st_mode;
	stx->stx_rdev_major = major(st.st_rdev);
	stx->stx_rdev_minor = minor(st.st_rdev);
}

HLD_API int statx(int dirfd, const char *path, int flags, unsigned mask,
		  struct statx *stx)
{
	unsigned dev;
	int attr = -1;
	enum hld_node node = classify(path, &dev, &attr);
	struct stat st;
	int rc;

	if (node != HLD_NODE_NONE) {
		rc = fake_stat(node, dev, !(flags & AT_SYMLINK_NOFOLLOW), &st);
		if (rc == 0)
			stat_to_statx(&st, stx);
		return rc;
	}
	rc = call_statx(dirfd, path, flags, mask, stx);
	if (rc == 0)
		patch_statx(stx);
	return rc;
}

/* ---- access ------------------------------------------------------------ */

static int node_access(enum hld_node node, int mode)
{
	int denied;

	switch (node) {
	case HLD_NODE_ENOENT:
		errno = ENOENT;
		return -1;
	case HLD_NODE_COMPUTE:
	case HLD_NODE_CONTROL:
		denied = mode & X_OK;
		break;
	case HLD_NODE_ATTR:
		denied = mode & (W_OK | X_OK);
		break;
	default:
		denied = mode & W_OK;
		break;
	}
	if (denied) {
		errno = EACCES;
		return -1;
	}
	return 0;
}

HLD_API int faccessat(int dirfd, const char *path, int mode, int flags)
{
	unsigned dev;
	int attr = -1;
	enum hld_node node = classify(path, &dev, &attr);

	if (node != HLD_NODE_NONE)
		return node_access(node, mode);
	return call_faccessat(dirfd, path, mode, flags);
}

HLD_API int access(const char *path, int mode)
{
	return faccessat(AT_FDCWD, path, mode, 0);
}

/* ---- readlink ---------------------------------------------------------- */

HLD_API ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t len)
{
	unsigned dev;
	int attr = -1;
	enum hld_node node = classify(path, &dev, &attr);
	ssize_t rc;
	int fd;

	if (node != HLD_NODE_NONE)
		return fake_readlink(node, dev, buf, len);
	fd = proc_fd_number(path);
	if (fd >= 0 && (rc = proc_fd_readlink(fd, buf, len)) != -2)
		return rc;
	return call_readlinkat(dirfd, path, buf, len);
}

HLD_API ssize_t readlink(const char *path, char *buf, size_t len)
{
	return readlinkat(AT_FDCWD, path, buf, len);
}

/* ---- close and ioctl --------------------------------------------------- */

HLD_API int close(int fd)
{
	struct stat st;
	int ours, rc;

	hld_init();
	ours = hld_dev_tracking() && hld_sys_fstat(fd, &st) == 0 &&
	       hld_dev_node_of(&st, NULL) == HLD_NODE_COMPUTE;
	rc = call_close(fd);
	if (rc == 0 && ours)
		hld_dev_after_close();
	return rc;
}

/* Only the habanalabs ('H') and DRM ('d') ioctl spaces can be ours */
static int maybe_ours(unsigned long request)
{
	unsigned type = _IOC_TYPE(request);

	return type == 'H' || type == 'd';
}

HLD_API int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	hld_init();
	if (hld_cfg.loaded && maybe_ours(request) &&
	    hld_dev_ioctl(fd, request, arg, &ret))
		return ret;
	return call_ioctl(fd, request, arg);
}
