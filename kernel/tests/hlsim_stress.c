// SPDX-License-Identifier: GPL-2.0
/*
 * Stress test of hlsim.ko (TAP output).
 *
 *   hlsim_stress [-n OPS] [-t THREADS]
 *
 * 1. THREADS threads (default 8) on the first two devices (half on each,
 *    sharing the device's compute file) make OPS (default 100000)
 *    alloc/map/export/unmap/free calls; every export is kept open for a
 *    while (and some are held by the test importer) before its dma-buf fd
 *    is closed and the memory unmapped and freed.  Every call must succeed.
 * 2. A child process with live mappings, exports (open fds and one held by
 *    the importer) is killed with SIGKILL in the middle of a DMA copy.
 * Afterwards DRAM_USAGE must show all device memory free on a fresh open.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "hlsim_tap.h"

#define PAGE		4096ULL
#define MB		(1024ULL * 1024)
#define HELD		16	/* exports a thread keeps open at once */

struct dev {
	int accel;
	int fd;
	u64 dram_size;
};

struct item {
	u64 h, va;
	int dmabuf;
	int held;		/* importer holds it */
};

struct worker {
	pthread_t tid;
	struct dev *dev;
	unsigned int seed;
	long quota;		/* calls to make */
	long calls, errors;
	int imp;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int check(struct worker *w, int ret, const char *what)
{
	w->calls++;
	if (ret < 0) {
		if (w->errors++ < 5)
			printf("# %s: error %d\n", what, ret);
	}
	return ret;
}

/* close the export of @it (dropping the importer's hold), unmap, free */
static void retire(struct worker *w, struct item *it)
{
	if (it->held) {
		check(w, xioctl(w->imp, HLSIM_IMPORT_DROP, NULL), "DROP");
		it->held = 0;
	}
	if (it->dmabuf >= 0)
		close(it->dmabuf);
	it->dmabuf = -1;
	if (it->va)
		check(w, hl_unmap(w->dev->fd, it->va), "UNMAP");
	if (it->h)
		check(w, hl_free(w->dev->fd, it->h), "FREE");
	it->va = 0;
	it->h = 0;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct item ring[HELD];
	struct hlsim_import_check chk;
	unsigned int i, next = 0, holding = 0;
	u64 size;

	for (i = 0; i < HELD; i++)
		ring[i] = (struct item){ .dmabuf = -1 };
	while (w->calls < w->quota) {
		struct item *it = &ring[next];

		next = (next + 1) % HELD;
		if (it->held)
			holding = HELD;	/* its hold is dropped now */
		retire(w, it);
		size = (1 + rand_r(&w->seed) % 16) * PAGE;
		if (check(w, hl_alloc(w->dev->fd, size, 0, 0, &it->h), "ALLOC")) {
			it->h = 0;
			continue;
		}
		if (check(w, hl_map(w->dev->fd, it->h, 0, 0, &it->va), "MAP")) {
			it->va = 0;
			continue;
		}
		it->dmabuf = check(w, hl_export(w->dev->fd, it->va, size, 0,
						O_CLOEXEC), "EXPORT");
		/* one export per thread is also held by the importer */
		if (it->dmabuf >= 0 && holding == HELD && w->imp >= 0 &&
		    !check(w, import_check(w->imp, it->dmabuf,
					   HLSIM_IMPORT_HOLD, &chk), "HOLD")) {
			it->held = 1;
			holding = it - ring;
		}
	}
	for (i = 0; i < HELD; i++)
		retire(w, &ring[i]);
	return NULL;
}

static int dram_full(int accel, u64 dram_size, u64 *free_mem)
{
	int ctl = hlsim_open_control(accel), ret;

	ret = hl_dram_usage(ctl, free_mem, NULL);
	close(ctl);
	return !ret && *free_mem == dram_size;
}

/* the child: live mappings and exports, then DMA copies until killed */
static void child(int accel, int ready)
{
	static unsigned char buf[4 * 1024 * 1024];
	struct hlsim_import_check chk;
	int fd = hlsim_open_compute(accel);
	int imp = open("/dev/hlsim_import_test", O_RDWR);
	u64 h[8], va[8];
	int i, d;

	for (i = 0; i < 8; i++) {
		if (hl_alloc(fd, 4 * MB, 0, 0, &h[i]) ||
		    hl_map(fd, h[i], 0, 0, &va[i]))
			_exit(2);
		d = hl_export(fd, va[i], 4 * MB, 0, 0);
		if (d < 0)
			_exit(3);
		if (i == 0 && import_check(imp, d, HLSIM_IMPORT_HOLD, &chk))
			_exit(4);
		if (i & 1)
			hl_unmap(fd, va[i]);	/* EINVAL: exported */
	}
	if (write(ready, "r", 1) != 1)
		_exit(5);
	for (;;)
		hl_copy(fd, va[1], (uintptr_t)buf, sizeof(buf),
			HLSIM_COPY_HOST_TO_DEVICE);
}

int main(int argc, char **argv)
{
	long ops = 100000, total = 0, errors = 0;
	int nthreads = 8, i, ndev = 0, p[2], status;
	struct worker *w;
	struct dev devs[2];
	u64 free_mem = 0;
	double t0, secs;
	pid_t pid;
	char c;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			ops = atol(argv[++i]);
		else if (!strcmp(argv[i], "-t") && i + 1 < argc)
			nthreads = atoi(argv[++i]);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < 2; i++) {
		struct hl_info_hw_ip_info hw = {};
		int ctl;

		devs[i].accel = hlsim_accel_index(i);
		if (devs[i].accel < 0)
			break;
		ctl = hlsim_open_control(devs[i].accel);
		hl_info(ctl, HL_INFO_HW_IP_INFO, &hw, sizeof(hw));
		close(ctl);
		devs[i].dram_size = hw.dram_size;
		devs[i].fd = hlsim_open_compute(devs[i].accel);
		if (devs[i].fd < 0)
			break;
		ndev++;
	}
	if (!tap_ok(ndev == 2 && nthreads > 0, "two hlsim devices open"))
		return tap_done();

	w = calloc(nthreads, sizeof(*w));
	t0 = now_s();
	for (i = 0; i < nthreads; i++) {
		w[i].dev = &devs[i % 2];
		w[i].seed = 1234 + i;
		w[i].quota = ops / nthreads + (i < ops % nthreads);
		w[i].imp = open("/dev/hlsim_import_test", O_RDWR | O_CLOEXEC);
		pthread_create(&w[i].tid, NULL, work, &w[i]);
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].tid, NULL);
		total += w[i].calls;
		errors += w[i].errors;
		close(w[i].imp);
	}
	secs = now_s() - t0;
	printf("stress: %ld ops in %.2f s, %.0f ops/s (%d threads, 2 devices)\n",
	       total, secs, total / secs, nthreads);
	tap_ok(total >= ops && !errors, "%ld calls, %ld errors", total, errors);
	for (i = 0; i < 2; i++) {
		u64 ctx_mem = 1;
		int ret = hl_dram_usage(devs[i].fd, &free_mem, &ctx_mem);

		tap_ok(!ret && free_mem == devs[i].dram_size && !ctx_mem,
		       "device %d: DRAM_USAGE full after the threads (%llu)", i,
		       (unsigned long long)free_mem);
		close(devs[i].fd);
	}

	/* SIGKILL in the middle of a copy, with live exports and a hold */
	if (pipe(p))
		return tap_done();
	pid = fork();
	if (!pid) {
		close(p[0]);
		child(devs[0].accel, p[1]);
	}
	close(p[1]);
	tap_ok(read(p[0], &c, 1) == 1, "child has mappings, exports, a hold");
	usleep(200 * 1000);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	       "child killed with SIGKILL mid-copy");
	for (i = 0; i < 200; i++) {
		if (dram_full(devs[0].accel, devs[0].dram_size, &free_mem))
			break;
		usleep(10 * 1000);
	}
	tap_ok(free_mem == devs[0].dram_size,
	       "DRAM_USAGE back to full after the kill (%llu of %llu free)",
	       (unsigned long long)free_mem,
	       (unsigned long long)devs[0].dram_size);
	{
		int fd = hlsim_open_compute(devs[0].accel);
		u64 ctx_mem = 1;
		int ret = fd < 0 ? -EBADF : hl_dram_usage(fd, &free_mem, &ctx_mem);

		tap_ok(!ret && free_mem == devs[0].dram_size && !ctx_mem,
		       "fresh open: DRAM_USAGE full, context empty");
		printf("stress: DRAM free after kill: %llu of %llu bytes\n",
		       (unsigned long long)free_mem,
		       (unsigned long long)devs[0].dram_size);
		close(fd);
	}
	free(w);
	return tap_done();
}
